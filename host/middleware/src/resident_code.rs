//! 住民票コード (resident registry code): 11 digits, ten random digits and a check digit.
//!
//! The code is assigned at random by the municipality; the resident never chooses it (they may
//! ask for a new one, again random). The official check-digit formula is fixed by a 総務省告示
//! that could not be found in public material, so juki adopts the modulus-11 weighted scheme of
//! the My Number (個人番号) check digit, applied to ten digits: see [`check_digit`], the only
//! place the formula lives. A real card's code would use the official formula instead.

use rand_core::{OsRng, RngCore};
use std::fmt;

/// Number of digits of a 住民票コード, check digit included.
pub const LEN: usize = 11;

/// A valid 住民票コード (eleven ASCII digits, the last one the check digit).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentCode([u8; LEN]);

/// Why a string is not a 住民票コード.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not exactly 11 characters.
    #[error("a resident code (住民票コード) has 11 digits")]
    Length,
    /// A character is not an ASCII digit.
    #[error("a resident code (住民票コード) has only digits 0-9")]
    NotDigits,
    /// The check digit does not match.
    #[error(
        "the check digit of the resident code (住民票コード) is wrong; check for a typing mistake"
    )]
    CheckDigit,
}

/// The check digit of ten digits (each 0–9): the My Number scheme applied to ten digits.
///
/// Weights 5, 4, 3, 2, 7, 6, 5, 4, 3, 2 from left to right; `r` = (Σ digit × weight) mod 11;
/// the check digit is 0 when `r` is 0 or 1, otherwise 11 − `r`. (For My Number the weights are
/// defined right to left as n+1 for n = 1..6 and n−5 for n = 7..11; the ten rightmost of those,
/// read left to right, are the weights above.) The official 住民票コード formula is not public;
/// this one is juki's documented substitute.
pub fn check_digit(digits: &[u8; 10]) -> u8 {
    const WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let r = sum % 11;
    if r <= 1 {
        0
    } else {
        (11 - r) as u8
    }
}

impl ResidentCode {
    /// A new code: ten digits from the OS CSPRNG (uniform, by rejection sampling) and the check
    /// digit.
    pub fn generate() -> ResidentCode {
        Self::generate_with(&mut OsRng)
    }

    /// A new code from the given RNG (the CLI uses [`ResidentCode::generate`]).
    pub fn generate_with(rng: &mut impl RngCore) -> ResidentCode {
        let mut digits = [0u8; 10];
        for d in digits.iter_mut() {
            *d = loop {
                let mut b = [0u8; 1];
                rng.fill_bytes(&mut b);
                // 250 = 25 × 10: below it every digit is equally likely.
                if b[0] < 250 {
                    break b[0] % 10;
                }
            };
        }
        let mut code = [0u8; LEN];
        for (c, d) in code.iter_mut().zip(digits) {
            *c = b'0' + d;
        }
        code[10] = b'0' + check_digit(&digits);
        ResidentCode(code)
    }

    /// Parses and validates 11 ASCII digits.
    pub fn parse(text: &str) -> Result<ResidentCode, CodeError> {
        Self::from_bytes(text.as_bytes())
    }

    /// Validates 11 ASCII digits (as stored in 住基 EF 0001).
    pub fn from_bytes(bytes: &[u8]) -> Result<ResidentCode, CodeError> {
        let code: [u8; LEN] = bytes.try_into().map_err(|_| CodeError::Length)?;
        if !code.iter().all(u8::is_ascii_digit) {
            return Err(CodeError::NotDigits);
        }
        let mut digits = [0u8; 10];
        for (d, c) in digits.iter_mut().zip(code) {
            *d = c - b'0';
        }
        if check_digit(&digits) != code[10] - b'0' {
            return Err(CodeError::CheckDigit);
        }
        Ok(ResidentCode(code))
    }

    /// The 11 ASCII digits.
    pub fn as_bytes(&self) -> &[u8; LEN] {
        &self.0
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for ResidentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ResidentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentCode({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_computed_by_hand() {
        // 1234567890: 1·5 + 2·4 + 3·3 + 4·2 + 5·7 + 6·6 + 7·5 + 8·4 + 9·3 + 0·2
        //           = 5 + 8 + 9 + 8 + 35 + 36 + 35 + 32 + 27 + 0 = 195; 195 mod 11 = 8; 11 − 8 = 3.
        assert_eq!(check_digit(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0]), 3);
        assert!(ResidentCode::parse("12345678903").is_ok());
        // 0000000000: sum 0, remainder 0 → 0.
        assert_eq!(check_digit(&[0; 10]), 0);
        assert!(ResidentCode::parse("00000000000").is_ok());
        // 1000000000: sum 5, remainder 5 → 6.
        assert_eq!(check_digit(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 6);
        // 0000000006: sum 12, remainder 1 → 0 (not 10).
        assert_eq!(check_digit(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 6]), 0);
        assert!(ResidentCode::parse("00000000060").is_ok());
        // 9999999999: 9·(5+4+3+2+7+6+5+4+3+2) = 9·41 = 369; 369 mod 11 = 6; 11 − 6 = 5.
        assert_eq!(check_digit(&[9; 10]), 5);
        assert!(ResidentCode::parse("99999999995").is_ok());
        // 0000000100: 1·4 = 4 → 7.
        assert_eq!(check_digit(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0]), 7);
    }

    #[test]
    fn invalid_codes_are_refused() {
        assert_eq!(
            ResidentCode::parse("12345678904"),
            Err(CodeError::CheckDigit)
        );
        assert_eq!(
            ResidentCode::parse("99999999990"),
            Err(CodeError::CheckDigit)
        );
        assert_eq!(ResidentCode::parse("1234567890"), Err(CodeError::Length));
        assert_eq!(ResidentCode::parse("123456789033"), Err(CodeError::Length));
        assert_eq!(ResidentCode::parse(""), Err(CodeError::Length));
        assert_eq!(
            ResidentCode::parse("1234567890A"),
            Err(CodeError::NotDigits)
        );
        assert_eq!(
            ResidentCode::parse("-2345678903"),
            Err(CodeError::NotDigits)
        );
        // Full-width digits are not ASCII digits (and not 11 bytes either).
        assert!(ResidentCode::parse("１２３４５６７８９０３").is_err());
    }

    #[test]
    fn swapped_neighbours_are_detected() {
        // The weighted scheme catches a transposition of two different neighbours with
        // different weights.
        assert!(ResidentCode::parse("21345678903").is_err());
    }

    #[test]
    fn generated_codes_are_valid_and_vary() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let code = ResidentCode::generate();
            assert!(ResidentCode::parse(code.as_str()).is_ok(), "{code}");
            seen.insert(code);
        }
        assert!(seen.len() > 190, "codes repeat too often");
    }

    #[test]
    fn generated_digits_cover_0_to_9() {
        let mut counts = [0u32; 10];
        for _ in 0..200 {
            for &c in &ResidentCode::generate().as_bytes()[..10] {
                counts[usize::from(c - b'0')] += 1;
            }
        }
        assert!(counts.iter().all(|&n| n > 100), "{counts:?}");
    }
}
