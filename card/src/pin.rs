//! PIN records, formats, weak-PIN rules and the constant-time comparison.

use subtle::ConstantTimeEq;

use crate::files::PinId;

/// Longest PIN (the signing password).
pub const MAX_PIN_LEN: usize = 16;

/// A PIN as stored in the core record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinRecord {
    /// The PIN, zero-padded.
    pub value: [u8; MAX_PIN_LEN],
    /// Its length; 0 = not set.
    pub len: u8,
    /// Tries left.
    pub tries: u8,
}

impl PinRecord {
    /// True when the counter has set the PIN.
    pub fn is_set(&self) -> bool {
        self.len != 0
    }

    /// A PIN `pin` (already checked against its format) with full tries.
    pub fn new(id: PinId, pin: &[u8]) -> Option<Self> {
        let mut value = [0u8; MAX_PIN_LEN];
        value.get_mut(..pin.len())?.copy_from_slice(pin);
        Some(PinRecord {
            value,
            len: u8::try_from(pin.len()).ok()?,
            tries: max_tries(id),
        })
    }

    /// Compares `attempt` with the PIN in constant time (for attempts of at most 16 bytes; the
    /// time depends on nothing but the fixed buffer size). Any length or content mismatch is
    /// false.
    pub fn matches(&self, attempt: &[u8]) -> bool {
        let mut padded = [0u8; MAX_PIN_LEN];
        let length_ok = match padded.get_mut(..attempt.len()) {
            Some(dst) => {
                dst.copy_from_slice(attempt);
                u8::try_from(attempt.len())
                    .map(|l| l.ct_eq(&self.len))
                    .unwrap_or(0.into())
            }
            None => 0.into(),
        };
        let set = (!self.len.ct_eq(&0)) & length_ok;
        (self.value.ct_eq(&padded) & set).into()
    }
}

/// Tries of a fresh PIN.
pub fn max_tries(id: PinId) -> u8 {
    match id {
        PinId::Juki | PinId::Auth => 3,
        PinId::Sign => 5,
    }
}

/// True when `pin` has the format of PIN `id`: 4 ASCII digits, or for the signing password 6–16
/// of `A–Z 0–9` with at least one letter and one digit.
pub fn format_ok(id: PinId, pin: &[u8]) -> bool {
    match id {
        PinId::Juki | PinId::Auth => pin.len() == 4 && pin.iter().all(u8::is_ascii_digit),
        PinId::Sign => {
            (6..=16).contains(&pin.len())
                && pin
                    .iter()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
                && pin.iter().any(u8::is_ascii_digit)
                && pin.iter().any(u8::is_ascii_uppercase)
        }
    }
}

/// True when a 4-digit PIN is weak:
/// - all four digits the same (`0000`, `7777`);
/// - each digit one more than the one before, modulo 10 (`0123` … `6789`, `7890`, `8901`, `9012`);
/// - each digit one less than the one before, modulo 10 (`9876` … `3210`, `2109`, `1098`, `0987`);
/// - the holder's birth month and day `MMDD`, when `birth_mmdd` is known.
///
/// PINs of another length are never weak by this rule.
pub fn is_weak(pin: &[u8], birth_mmdd: Option<[u8; 4]>) -> bool {
    let Ok(digits) = <[u8; 4]>::try_from(pin) else {
        return false;
    };
    let step = |d: i8| {
        digits
            .windows(2)
            .all(|w| matches!(w, [a, b] if (i16::from(*a) - i16::from(*b) + i16::from(d)).rem_euclid(10) == 0))
    };
    let same = step(0);
    let up = step(1);
    let down = step(-1);
    let birthday = birth_mmdd.is_some_and(|mmdd| mmdd == digits);
    same || up || down || birthday
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(format_ok(PinId::Juki, b"1357"));
        assert!(!format_ok(PinId::Juki, b"135"));
        assert!(!format_ok(PinId::Auth, b"13579"));
        assert!(!format_ok(PinId::Auth, b"13a7"));
        assert!(format_ok(PinId::Sign, b"ABC123"));
        assert!(format_ok(PinId::Sign, b"A23456789012345B"));
        assert!(!format_ok(PinId::Sign, b"A23456789012345BC"));
        assert!(!format_ok(PinId::Sign, b"AB123"));
        assert!(!format_ok(PinId::Sign, b"abc123"));
        assert!(!format_ok(PinId::Sign, b"ABCDEF"));
        assert!(!format_ok(PinId::Sign, b"123456"));
    }

    #[test]
    fn weak_pins() {
        for weak in [
            &b"0000"[..],
            b"7777",
            b"1234",
            b"4321",
            b"0123",
            b"6789",
            b"7890",
            b"8901",
            b"9012",
            b"9876",
            b"3210",
            b"2109",
            b"1098",
            b"0987",
        ] {
            assert!(is_weak(weak, None), "{weak:?}");
        }
        for ok in [&b"1357"[..], b"1243", b"9988", b"0102", b"1235", b"5432 "] {
            assert!(!is_weak(ok, None), "{ok:?}");
        }
        assert!(is_weak(b"0415", Some(*b"0415")));
        assert!(!is_weak(b"0416", Some(*b"0415")));
    }

    #[test]
    fn constant_time_match() {
        let rec = PinRecord::new(PinId::Juki, b"1357").unwrap_or_default();
        assert!(rec.matches(b"1357"));
        assert!(!rec.matches(b"1358"));
        assert!(!rec.matches(b"135"));
        assert!(!rec.matches(b"1357\0"));
        assert!(!rec.matches(&[b'1'; 40]));
        assert!(!PinRecord::default().matches(b""));
        assert_eq!(rec.tries, 3);
    }
}
