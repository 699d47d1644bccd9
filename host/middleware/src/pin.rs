//! The card's three PINs and their rules, checked on the host before anything reaches the card.
//! The rules themselves are the card's (`juki_card::pin`): one definition, so the host can never
//! accept a PIN the card refuses, or the other way round.

use juki_card::files::PinId;
use juki_card::pin as card_pin;

use std::fmt;

use crate::error::{Error, Result};

/// One of the card's PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinKind {
    /// 住基 PIN (住基カードのパスワード): 4 digits, 3 tries; guards the resident data.
    Juki,
    /// JPKI authentication PIN (利用者証明用パスワード): 4 digits, 3 tries.
    Auth,
    /// JPKI signing password (署名用パスワード): 6–16 of `A–Z 0–9`, a letter and a digit, 5 tries.
    Sign,
}

/// Application a PIN lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// 住基AP.
    Juki,
    /// JPKI AP.
    Jpki,
}

impl App {
    /// Its AID.
    pub fn aid(self) -> &'static [u8; 10] {
        match self {
            App::Juki => &juki_card::files::JUKI_AID,
            App::Jpki => &juki_card::files::JPKI_AID,
        }
    }
}

impl PinKind {
    /// All three, in the order the counter sets them.
    pub const ALL: [PinKind; 3] = [PinKind::Juki, PinKind::Auth, PinKind::Sign];

    /// The application holding the PIN.
    pub fn app(self) -> App {
        match self {
            PinKind::Juki => App::Juki,
            PinKind::Auth | PinKind::Sign => App::Jpki,
        }
    }

    /// The PIN's file ID.
    pub fn fid(self) -> u16 {
        match self {
            PinKind::Juki => 0x001C,
            PinKind::Auth => 0x0018,
            PinKind::Sign => 0x001B,
        }
    }

    /// The card's identifier of this PIN.
    fn id(self) -> PinId {
        match self {
            PinKind::Juki => PinId::Juki,
            PinKind::Auth => PinId::Auth,
            PinKind::Sign => PinId::Sign,
        }
    }

    /// Tries before the PIN locks.
    pub fn max_tries(self) -> u8 {
        card_pin::max_tries(self.id())
    }

    /// Short English + Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            PinKind::Juki => "住基 PIN (住基カードのパスワード, 4 digits)",
            PinKind::Auth => "auth PIN (利用者証明用パスワード, 4 digits)",
            PinKind::Sign => "sign password (署名用パスワード, 6-16 of A-Z 0-9)",
        }
    }

    /// The name used on the command line (`juki`, `auth`, `sign`).
    pub fn cli_name(self) -> &'static str {
        match self {
            PinKind::Juki => "juki",
            PinKind::Auth => "auth",
            PinKind::Sign => "sign",
        }
    }

    /// Checks a new PIN against the format and the weak-PIN rules. `birth_mmdd` is the holder's
    /// birthday as 4 ASCII digits, when known (the card knows it from 住基 0002 and checks it
    /// too).
    pub fn check_new(self, pin: &[u8], birth_mmdd: Option<&[u8; 4]>) -> Result<()> {
        match self {
            PinKind::Juki | PinKind::Auth => check_four_digit(pin, birth_mmdd),
            PinKind::Sign => check_sign_password(pin),
        }
    }
}

impl fmt::Display for PinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
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
        assert!(PinKind::Sign.check_new(b"JUKI2026", None).is_ok());
        assert!(PinKind::Juki.check_new(b"JUKI2026", None).is_err());
        assert!(PinKind::Auth.check_new(b"1234", None).is_err());
    }

    #[test]
    fn files_and_tries() {
        assert_eq!(PinKind::Juki.fid(), 0x001C);
        assert_eq!(PinKind::Auth.fid(), 0x0018);
        assert_eq!(PinKind::Sign.fid(), 0x001B);
        assert_eq!(PinKind::Juki.max_tries(), 3);
        assert_eq!(PinKind::Sign.max_tries(), 5);
        assert_eq!(PinKind::Juki.app(), App::Juki);
        assert_eq!(PinKind::Sign.app(), App::Jpki);
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
    fn pin(&mut self, kind: PinKind) -> Result<Pin>;
    /// A new PIN `kind`, already checked against [`PinKind::check_new`] (weak PINs refused, the
    /// birth `MMDD` when known).
    fn new_pin(&mut self, kind: PinKind, birth_mmdd: Option<&[u8; 4]>) -> Result<Pin>;
}
