//! Typed commands, parsed from a complete [`CommandApdu`] before anything runs.
//!
//! Parsing checks everything the APDU alone decides: class, instruction, P1-P2 and lengths.
//! What depends on the card's state (lifecycle, security status, current EF) is checked later,
//! by [`crate::gate`] and the handlers.

use crate::apdu::CommandApdu;
use crate::status::Error;

/// What GENERATE ASYMMETRIC KEY PAIR does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPairMode {
    /// P1 `80`: generate a new pair (counter).
    Generate,
    /// P1 `81`: read the existing public key.
    ReadPublic,
}

/// A command of the card, borrowing its data from the APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// SELECT by AID (`00 A4 04 0C` / `00 A4 04 00`).
    SelectApp {
        /// The AID.
        aid: &'a [u8],
        /// P2 `00`: answer the FCI.
        fci: bool,
    },
    /// SELECT by file ID (`00 A4 02 0C`).
    SelectFile {
        /// The file ID.
        fid: u16,
    },
    /// READ BINARY (`00 B0`): of the current EF (offset in P1-P2), or of the EF with the
    /// short identifier in P1 (`P1 = 80|SFI`, offset in P2), which becomes current.
    ReadBinary {
        /// Short EF identifier from P1, if any.
        sfi: Option<u8>,
        /// Offset from P1-P2 (or P2).
        offset: u16,
        /// Ne.
        ne: usize,
    },
    /// UPDATE BINARY (`00 D6`): P1-P2 as READ BINARY.
    UpdateBinary {
        /// Short EF identifier from P1, if any.
        sfi: Option<u8>,
        /// Offset from P1-P2 (or P2).
        offset: u16,
        /// The bytes to write.
        data: &'a [u8],
    },
    /// VERIFY (`00 20 00 80`, or `00 20 00 80|SFI`); `None` asks for the tries left.
    Verify {
        /// The PIN EF's short identifier from P2, if any (`80`: the current EF).
        sfi: Option<u8>,
        /// The PIN tried, if any.
        pin: Option<&'a [u8]>,
    },
    /// CHANGE REFERENCE DATA (`00 24 01 80`, or `00 24 01 80|SFI`).
    ChangeReferenceData {
        /// The PIN EF's short identifier from P2, if any.
        sfi: Option<u8>,
        /// The new PIN.
        new_pin: &'a [u8],
    },
    /// RESET RETRY COUNTER (`00 2C 02 80`, or `00 2C 02 80|SFI`).
    ResetRetryCounter {
        /// The PIN EF's short identifier from P2, if any.
        sfi: Option<u8>,
        /// The new PIN.
        new_pin: &'a [u8],
    },
    /// GENERATE ASYMMETRIC KEY PAIR (`00 46 80|81 00`, or P2 `80|SFI`).
    GenerateKeyPair {
        /// The key EF's short identifier from P2, if any (`00`: the current EF).
        sfi: Option<u8>,
        /// Generate or read.
        mode: KeyPairMode,
    },
    /// COMPUTE DIGITAL SIGNATURE (`80 2A 00 80`).
    ComputeSignature {
        /// The 32-byte SHA-256 hash.
        hash: &'a [u8; 32],
    },
    /// GET CHALLENGE (`00 84 00 00 10`).
    GetChallenge,
    /// EXTERNAL AUTHENTICATE (`00 82 00 00`).
    ExternalAuthenticate {
        /// Counter certificate and challenge signature.
        data: &'a [u8],
    },
    /// PUT DATA, initialise (`00 DA 00 C1`): the national root public key in; the card
    /// generates its own authentication key and answers its public key `7F49 { 86 04‖X‖Y }`.
    Initialise {
        /// The national root public key.
        root_key: &'a [u8],
        /// Le present: answer the card's public key (without Le, only the status word).
        answer_key: bool,
    },
    /// PUT DATA, the card's certificate (`00 DA 00 C2`): once, on an initialised card; taken
    /// only if the root signed it and it certifies the card's own key.
    InstallCertificate {
        /// The certificate (`7F21`, [`crate::cvc`]).
        cert: &'a [u8],
    },
    /// ACTIVATE FILE (`00 44 00 00`): issue (initialised → issued) or resume (suspended →
    /// issued).
    Activate,
    /// DEACTIVATE FILE (`00 04 00 00`, ISO/IEC 7816-9): suspend (issued → suspended).
    Deactivate,
    /// TERMINATE CARD USAGE (`00 FE 00 00`, ISO/IEC 7816-9): terminate, irreversibly.
    Terminate,
}

/// The class each instruction is used with: `00` interindustry, `80` proprietary.
fn class_of(ins: u8) -> Option<u8> {
    match ins {
        0xA4 | 0xB0 | 0xD6 | 0x20 | 0x24 | 0x2C | 0x46 | 0x84 | 0x82 | 0xDA | 0x44 | 0x04
        | 0xFE => Some(0x00),
        0x2A => Some(0x80),
        _ => None,
    }
}

fn p1p2(apdu: &CommandApdu<'_>, expected: u16) -> Result<(), Error> {
    if apdu.p1p2() == expected {
        Ok(())
    } else {
        Err(Error::WrongP1P2)
    }
}

fn no_data(apdu: &CommandApdu<'_>) -> Result<(), Error> {
    if apdu.data.is_empty() {
        Ok(())
    } else {
        Err(Error::WrongLength)
    }
}

fn no_le(apdu: &CommandApdu<'_>) -> Result<(), Error> {
    if apdu.ne == 0 {
        Ok(())
    } else {
        Err(Error::WrongLength)
    }
}

fn some_data<'a>(apdu: &CommandApdu<'a>) -> Result<&'a [u8], Error> {
    if apdu.data.is_empty() {
        Err(Error::WrongLength)
    } else {
        Ok(apdu.data)
    }
}

/// The largest short EF identifier (ISO/IEC 7816-4 §7.2.2: 1–30; 0 and 31 are reserved).
pub const MAX_SFI: u8 = 30;

fn sfi(value: u8) -> Result<u8, Error> {
    if (1..=MAX_SFI).contains(&value) {
        Ok(value)
    } else {
        Err(Error::WrongP1P2)
    }
}

/// READ/UPDATE BINARY P1-P2: `0xxxxxxx xxxxxxxx` a 15-bit offset into the current EF;
/// `100sssss oooooooo` the EF with short identifier `sssss` and an 8-bit offset.
fn binary_target(apdu: &CommandApdu<'_>) -> Result<(Option<u8>, u16), Error> {
    if apdu.p1 & 0x80 == 0 {
        return Ok((None, apdu.p1p2()));
    }
    if apdu.p1 & 0x60 != 0 {
        return Err(Error::WrongP1P2);
    }
    Ok((Some(sfi(apdu.p1 & 0x1F)?), u16::from(apdu.p2)))
}

/// An EF named in P2: `current` for the current EF, `80|SFI` for the EF with that short
/// identifier in the current application.
fn ef_reference(p2: u8, current: u8) -> Result<Option<u8>, Error> {
    match p2 {
        p2 if p2 == current => Ok(None),
        p2 if p2 & 0xE0 == 0x80 => Ok(Some(sfi(p2 & 0x1F)?)),
        _ => Err(Error::WrongP1P2),
    }
}

/// VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER: P1 as given, P2 `80` (the current PIN
/// EF) or `80|SFI`.
fn pin_reference(apdu: &CommandApdu<'_>, p1: u8) -> Result<Option<u8>, Error> {
    if apdu.p1 != p1 {
        return Err(Error::WrongP1P2);
    }
    ef_reference(apdu.p2, 0x80)
}

impl<'a> Command<'a> {
    /// The EF the command names by its short identifier, if any: it is selected before the
    /// command runs, as by SELECT (ISO/IEC 7816-4 §7.2.2), and stays current.
    pub fn short_ef(&self) -> Option<u8> {
        match *self {
            Command::ReadBinary { sfi, .. }
            | Command::UpdateBinary { sfi, .. }
            | Command::Verify { sfi, .. }
            | Command::ChangeReferenceData { sfi, .. }
            | Command::ResetRetryCounter { sfi, .. }
            | Command::GenerateKeyPair { sfi, .. } => sfi,
            _ => None,
        }
    }

    /// Parses a complete command (class chaining bit already cleared by the transport).
    ///
    /// Unknown INS `6D00`; known INS with the other class `6E00`; P1-P2 not as documented
    /// `6A86`; Lc/Le not as documented `6700` (an Le on a command that answers no data
    /// included).
    pub fn parse(apdu: &CommandApdu<'a>) -> Result<Self, Error> {
        let class = class_of(apdu.ins).ok_or(Error::InsNotSupported)?;
        if apdu.cla != class {
            return Err(Error::ClaNotSupported);
        }
        match apdu.ins {
            0xA4 => match (apdu.p1, apdu.p2) {
                (0x04, 0x0C) | (0x04, 0x00) => {
                    let aid = some_data(apdu)?;
                    if apdu.p2 == 0x0C {
                        no_le(apdu)?;
                    }
                    if aid.len() > 16 {
                        return Err(Error::WrongLength);
                    }
                    Ok(Command::SelectApp {
                        aid,
                        fci: apdu.p2 == 0x00,
                    })
                }
                (0x02, 0x0C) => match apdu.data {
                    [high, low] if apdu.ne == 0 => Ok(Command::SelectFile {
                        fid: u16::from_be_bytes([*high, *low]),
                    }),
                    _ => Err(Error::WrongLength),
                },
                _ => Err(Error::WrongP1P2),
            },
            0xB0 => {
                let (sfi, offset) = binary_target(apdu)?;
                no_data(apdu)?;
                if apdu.ne == 0 {
                    return Err(Error::WrongLength);
                }
                Ok(Command::ReadBinary {
                    sfi,
                    offset,
                    ne: apdu.ne,
                })
            }
            0xD6 => {
                let (sfi, offset) = binary_target(apdu)?;
                no_le(apdu)?;
                Ok(Command::UpdateBinary {
                    sfi,
                    offset,
                    data: some_data(apdu)?,
                })
            }
            0x20 => {
                let sfi = pin_reference(apdu, 0x00)?;
                no_le(apdu)?;
                Ok(Command::Verify {
                    sfi,
                    pin: (!apdu.data.is_empty()).then_some(apdu.data),
                })
            }
            0x24 => {
                let sfi = pin_reference(apdu, 0x01)?;
                no_le(apdu)?;
                Ok(Command::ChangeReferenceData {
                    sfi,
                    new_pin: some_data(apdu)?,
                })
            }
            0x2C => {
                let sfi = pin_reference(apdu, 0x02)?;
                no_le(apdu)?;
                Ok(Command::ResetRetryCounter {
                    sfi,
                    new_pin: some_data(apdu)?,
                })
            }
            0x46 => {
                let mode = match apdu.p1 {
                    0x80 => KeyPairMode::Generate,
                    0x81 => KeyPairMode::ReadPublic,
                    _ => return Err(Error::WrongP1P2),
                };
                let sfi = ef_reference(apdu.p2, 0x00)?;
                no_data(apdu)?;
                Ok(Command::GenerateKeyPair { sfi, mode })
            }
            0x2A => {
                p1p2(apdu, 0x0080)?;
                let hash = <&[u8; 32]>::try_from(apdu.data).map_err(|_| Error::WrongLength)?;
                Ok(Command::ComputeSignature { hash })
            }
            0x84 => {
                p1p2(apdu, 0x0000)?;
                no_data(apdu)?;
                if apdu.ne != crate::cvc::CHALLENGE_LEN {
                    return Err(Error::WrongLength);
                }
                Ok(Command::GetChallenge)
            }
            0x82 => {
                // Answers the card's ephemeral key: Le allowed (and needed to get it at once).
                p1p2(apdu, 0x0000)?;
                Ok(Command::ExternalAuthenticate {
                    data: some_data(apdu)?,
                })
            }
            0xDA => match apdu.p1p2() {
                // Answers the card's public key: Le allowed.
                0x00C1 => Ok(Command::Initialise {
                    root_key: some_data(apdu)?,
                    answer_key: apdu.ne > 0,
                }),
                0x00C2 => {
                    no_le(apdu)?;
                    Ok(Command::InstallCertificate {
                        cert: some_data(apdu)?,
                    })
                }
                _ => Err(Error::WrongP1P2),
            },
            0x44 | 0x04 | 0xFE => {
                p1p2(apdu, 0x0000)?;
                no_le(apdu)?;
                no_data(apdu)?;
                Ok(match apdu.ins {
                    0x44 => Command::Activate,
                    0x04 => Command::Deactivate,
                    _ => Command::Terminate,
                })
            }
            _ => Err(Error::InsNotSupported),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Command<'_>, Error> {
        let apdu = CommandApdu::parse(raw)?;
        Command::parse(&apdu)
    }

    #[test]
    fn negative_cases() {
        assert_eq!(parse(&[0, 0x12, 0, 0]), Err(Error::InsNotSupported));
        assert_eq!(parse(&[0, 0xC0, 0, 0, 0]), Err(Error::InsNotSupported));
        assert_eq!(parse(&[0x80, 0xB0, 0, 0, 0]), Err(Error::ClaNotSupported));
        assert_eq!(
            parse(&[0x00, 0x2A, 0, 0x80, 1, 0]),
            Err(Error::ClaNotSupported)
        );
        assert_eq!(parse(&[0, 0xA4, 0x01, 0x0C, 1, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0xA4, 0x04, 0x04, 1, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0xA4, 0x04, 0x0C]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0xA4, 0x02, 0x0C, 1, 0]), Err(Error::WrongLength));
        assert_eq!(
            parse(&[0, 0xA4, 0x02, 0x0C, 3, 0, 0, 1]),
            Err(Error::WrongLength)
        );
        assert_eq!(parse(&[0, 0xB0, 0x80, 0, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0xB0, 0, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0xB0, 0, 0, 1, 1, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0xD6, 0, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x20, 0, 0x9F]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x20, 0, 0xA1]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x20, 0, 0x01]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x24, 1, 0x9F, 1, 1]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x2C, 2, 0xC1, 1, 1]), Err(Error::WrongP1P2));
        // Short EF identifiers: 0 and 31 are reserved; P1 100sssss only.
        assert_eq!(parse(&[0, 0xB0, 0x9F, 0, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0xB0, 0xA1, 0, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0xB0, 0xC1, 0, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0xD6, 0xE2, 0, 1, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x46, 0x80, 0x9F]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x46, 0x80, 0x1A]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x20, 1, 0x80]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x24, 0, 0x80, 1, 1]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x24, 1, 0x80]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x2C, 2, 0x80]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x2C, 3, 0x80, 1, 1]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x46, 0x82, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0x80, 0x2A, 0, 0x80, 1, 0]), Err(Error::WrongLength));
        assert_eq!(
            parse(&[0x80, 0x2A, 0x9E, 0x9A, 1, 0]),
            Err(Error::WrongP1P2)
        );
        assert_eq!(parse(&[0, 0x84, 0, 0, 8]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x84, 0, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x84, 0, 1, 0x10]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0x82, 0, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0xDA, 0, 0xC3, 1, 4]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0, 0xDA, 0, 0xC2, 1, 4, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0xDA, 0, 0xC2]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x44, 0, 0, 1, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x04, 0, 0, 1, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x04, 0, 0, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0x04, 0, 1]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0x80, 0x04, 0, 0]), Err(Error::ClaNotSupported));
        assert_eq!(parse(&[0, 0xFE, 0, 0, 0]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0xFE, 1, 0]), Err(Error::WrongP1P2));
        assert_eq!(parse(&[0x80, 0xFE, 0, 0]), Err(Error::ClaNotSupported));
        // Le on commands that answer no data.
        assert_eq!(parse(&[0, 0x44, 0, 0, 0]), Err(Error::WrongLength));
        assert_eq!(
            parse(&[0, 0x20, 0, 0x80, 1, 0x31, 0]),
            Err(Error::WrongLength)
        );
        assert_eq!(parse(&[0, 0x20, 0, 0x80, 0]), Err(Error::WrongLength));
        assert_eq!(
            parse(&[0, 0xA4, 4, 0x0C, 1, 0xD3, 1]),
            Err(Error::WrongLength)
        );
        assert_eq!(
            parse(&[0, 0xA4, 2, 0x0C, 2, 0, 1, 0]),
            Err(Error::WrongLength)
        );
        assert_eq!(parse(&[0, 0xD6, 0, 0, 1, 0, 0]), Err(Error::WrongLength));
    }

    #[test]
    fn positive_cases() {
        assert_eq!(
            parse(&[0, 0xA4, 4, 0, 2, 0xD3, 0x92, 0]),
            Ok(Command::SelectApp {
                aid: &[0xD3, 0x92],
                fci: true
            })
        );
        assert_eq!(
            parse(&[0, 0xA4, 2, 0x0C, 2, 0, 0x1C]),
            Ok(Command::SelectFile { fid: 0x1C })
        );
        assert_eq!(
            parse(&[0, 0xB0, 0x01, 0x02, 0]),
            Ok(Command::ReadBinary {
                sfi: None,
                offset: 0x0102,
                ne: 256
            })
        );
        assert_eq!(
            parse(&[0, 0xB0, 0x81, 0x10, 0, 0, 0]),
            Ok(Command::ReadBinary {
                sfi: Some(1),
                offset: 0x10,
                ne: 65536
            })
        );
        assert_eq!(
            parse(&[0, 0xD6, 0x9E, 0x00, 1, 0xAA]),
            Ok(Command::UpdateBinary {
                sfi: Some(30),
                offset: 0,
                data: &[0xAA]
            })
        );
        assert_eq!(
            parse(&[0, 0x20, 0, 0x9B, 1, 0x41]),
            Ok(Command::Verify {
                sfi: Some(0x1B),
                pin: Some(&[0x41])
            })
        );
        assert_eq!(
            parse(&[0, 0x2C, 2, 0x9C, 1, 0x31]),
            Ok(Command::ResetRetryCounter {
                sfi: Some(0x1C),
                new_pin: &[0x31]
            })
        );
        assert_eq!(
            parse(&[0, 0x46, 0x80, 0x9A]),
            Ok(Command::GenerateKeyPair {
                sfi: Some(0x1A),
                mode: KeyPairMode::Generate
            })
        );
        assert_eq!(
            parse(&[0, 0x20, 0, 0x80]),
            Ok(Command::Verify {
                sfi: None,
                pin: None
            })
        );
        assert_eq!(
            parse(&[0, 0x46, 0x81, 0, 0]),
            Ok(Command::GenerateKeyPair {
                sfi: None,
                mode: KeyPairMode::ReadPublic
            })
        );
        assert_eq!(parse(&[0, 0x84, 0, 0, 0x10]), Ok(Command::GetChallenge));
        assert_eq!(parse(&[0, 0x44, 0, 0]), Ok(Command::Activate));
        assert_eq!(parse(&[0, 0x04, 0, 0]), Ok(Command::Deactivate));
        assert_eq!(parse(&[0, 0xFE, 0, 0]), Ok(Command::Terminate));
        let mut sign = [0u8; 5 + 32 + 1];
        sign[..5].copy_from_slice(&[0x80, 0x2A, 0, 0x80, 32]);
        assert!(matches!(parse(&sign), Ok(Command::ComputeSignature { .. })));
    }
}
