//! The card's three PINs and their rules, checked on the host before anything reaches the card.
//! The rules themselves are the card's (`juki_card::pin`): one definition, so the host can never
//! accept a PIN the card refuses, or the other way round.

use juki_card::pin as card_pin;

use crate::error::{Error, Result};

/// The card's three PINs and two applications: the card core's own identifiers.
pub use juki_card::files::{App, PinId};

/// What the host adds to a PIN of the card: its rules for a new value (the card's own, checked
/// before anything is sent), its tries, and its names.
pub trait PinRules {
    /// Tries before it locks (住基 PIN and auth PIN 3, sign password 5).
    fn max_tries(self) -> u8;
    /// Its name with the municipal pages' term, e.g. `住基 PIN (住基カードのパスワード)`.
    fn label(self) -> &'static str;
    /// Its name on the command line (`juki`, `auth`, `sign`).
    fn cli_name(self) -> &'static str;
    /// Checks a new value against the card's rules (format, weak 4-digit PINs, the birth
    /// `MMDD` when known).
    fn check_new(self, pin: &[u8], birth_mmdd: Option<&[u8; 4]>) -> Result<()>;
}

impl PinRules for PinId {
    fn max_tries(self) -> u8 {
        card_pin::max_tries(self)
    }

    fn label(self) -> &'static str {
        match self {
            PinId::Juki => "住基 PIN (住基カードのパスワード, 4 digits)",
            PinId::Auth => "auth PIN (利用者証明用パスワード, 4 digits)",
            PinId::Sign => "sign password (署名用パスワード, 6-16 of A-Z 0-9)",
        }
    }

    fn cli_name(self) -> &'static str {
        match self {
            PinId::Juki => "juki",
            PinId::Auth => "auth",
            PinId::Sign => "sign",
        }
    }

    fn check_new(self, pin: &[u8], birth_mmdd: Option<&[u8; 4]>) -> Result<()> {
        match self {
            PinId::Juki | PinId::Auth => check_four_digit(pin, birth_mmdd),
            PinId::Sign => check_sign_password(pin),
        }
    }
}

/// A 4-digit PIN: exactly four ASCII digits, not all the same (7777), not a run up or down
/// including wrapping runs (1234, 4321, 8901, 1098), not the holder's birth `MMDD`.
pub fn check_four_digit(pin: &[u8], birth_mmdd: Option<&[u8; 4]>) -> Result<()> {
    if !card_pin::format_ok(PinId::Juki, pin) {
        return Err(Error::InvalidInput(
            "the PIN must be exactly 4 digits (数字4桁)".into(),
        ));
    }
    if is_weak_four_digit(pin, birth_mmdd) {
        return Err(Error::InvalidInput(
            "this PIN is too easy to guess (all the same digit, a run like 1234 or 4321, or your \
             birthday); choose another (容易に推測されるパスワードは設定できません)"
                .into(),
        ));
    }
    Ok(())
}

/// Whether four ASCII digits are weak: all the same, a run up or down (wrapping 9→0), or the
/// birth `MMDD`.
pub fn is_weak_four_digit(pin: &[u8], birth_mmdd: Option<&[u8; 4]>) -> bool {
    card_pin::is_weak(pin, birth_mmdd.copied())
}

/// The signing password: 6–16 characters of `A–Z 0–9`, at least one letter and one digit.
pub fn check_sign_password(pin: &[u8]) -> Result<()> {
    if card_pin::format_ok(PinId::Sign, pin) {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "the signing password must be 6 to 16 characters of capital letters A-Z and digits \
             0-9, with at least one letter and one digit (英大文字と数字6〜16桁)"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_digit_format() {
        assert!(check_four_digit(b"2580", None).is_ok());
        assert!(check_four_digit(b"258", None).is_err());
        assert!(check_four_digit(b"25801", None).is_err());
        assert!(check_four_digit(b"25a0", None).is_err());
        assert!(check_four_digit(b"", None).is_err());
        assert!(check_four_digit("２５８０".as_bytes(), None).is_err());
    }

    #[test]
    fn weak_four_digit_pins() {
        for weak in [
            "0000", "7777", "9999", "1234", "0123", "6789", "4321", "9876", "3210", "8901", "9012",
            "7890", "1098", "0987", "2109",
        ] {
            assert!(
                check_four_digit(weak.as_bytes(), None).is_err(),
                "{weak} should be weak"
            );
        }
        for ok in ["2580", "1357", "1235", "1123", "0912", "5061"] {
            assert!(check_four_digit(ok.as_bytes(), None).is_ok(), "{ok}");
        }
        assert!(check_four_digit(b"0415", Some(b"0415")).is_err());
        assert!(check_four_digit(b"0415", Some(b"1231")).is_ok());
    }

    #[test]
    fn sign_password_rules() {
        assert!(check_sign_password(b"ABC123").is_ok());
        assert!(check_sign_password(b"A1B2C3D4E5F6G7H8").is_ok());
        assert!(check_sign_password(b"AB12C").is_err(), "too short");
        assert!(
            check_sign_password(b"A1B2C3D4E5F6G7H8I").is_err(),
            "too long"
        );
        assert!(check_sign_password(b"ABCDEF").is_err(), "no digit");
        assert!(check_sign_password(b"123456").is_err(), "no letter");
        assert!(check_sign_password(b"abc123").is_err(), "lower case");
        assert!(check_sign_password(b"ABC 123").is_err(), "space");
        assert!(PinId::Sign.check_new(b"JUKI2026", None).is_ok());
        assert!(PinId::Juki.check_new(b"JUKI2026", None).is_err());
        assert!(PinId::Auth.check_new(b"1234", None).is_err());
    }

    #[test]
    fn files_and_tries() {
        assert_eq!(PinId::Juki.ef().fid(), 0x001C);
        assert_eq!(PinId::Auth.ef().fid(), 0x0018);
        assert_eq!(PinId::Sign.ef().fid(), 0x001B);
        assert_eq!(PinId::Juki.max_tries(), 3);
        assert_eq!(PinId::Sign.max_tries(), 5);
        assert_eq!(PinId::Juki.app(), App::Juki);
        assert_eq!(PinId::Sign.app(), App::Jpki);
    }
}

/// A PIN or password, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(zeroize::Zeroizing<Vec<u8>>);

impl Pin {
    /// Wraps bytes (taking ownership, so no copy is left behind).
    pub fn new(bytes: Vec<u8>) -> Pin {
        Pin(zeroize::Zeroizing::new(bytes))
    }

    /// The PIN's bytes, to send to the card.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for Pin {
    fn from(s: &str) -> Pin {
        Pin::new(s.as_bytes().to_vec())
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// Where a library operation gets the PINs it needs: the caller decides how (a prompt at the
/// counter's terminal, lines of a script, a PIN pad). Libraries never prompt themselves.
pub trait PinSource {
    /// The current PIN `kind`, as entered by its holder.
    fn pin(&mut self, kind: PinId) -> Result<Pin>;
    /// A new PIN `kind`, already checked against [`PinId::check_new`] (weak PINs refused, the
    /// birth `MMDD` when known).
    fn new_pin(&mut self, kind: PinId, birth_mmdd: Option<&[u8; 4]>) -> Result<Pin>;
}
