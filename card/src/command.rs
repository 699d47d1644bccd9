//! Typed commands, parsed from a complete [`CommandApdu`] before anything runs, and encoded back
//! into one ([`Command::encode`]) by a host: the card's own reading of every command, in both
//! directions.
//!
//! Parsing checks everything the APDU alone decides: class, instruction, P1-P2 and lengths.
//! What depends on the card's state (lifecycle, security status, current EF) is checked later,
//! by [`crate::gate`] and the handlers. What the counter's session means for a command (whether
//! it is a counter command, whether it goes under secure messaging, whether it ends the session)
//! is said here too, once, for the card and the host.

use core::ops::Deref;

use crate::apdu::CommandApdu;
use crate::lifecycle::{Lifecycle, Transition};
use crate::status::{Error, Status};

/// The instructions the card knows (docs/apdu.md), with their INS bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ins {
    /// `04` DEACTIVATE FILE (ISO/IEC 7816-9).
    DeactivateFile = 0x04,
    /// `20` VERIFY.
    Verify = 0x20,
    /// `24` CHANGE REFERENCE DATA.
    ChangeReferenceData = 0x24,
    /// `2A` PERFORM SECURITY OPERATION: COMPUTE DIGITAL SIGNATURE (class `80`).
    ComputeDigitalSignature = 0x2A,
    /// `2C` RESET RETRY COUNTER.
    ResetRetryCounter = 0x2C,
    /// `44` ACTIVATE FILE (ISO/IEC 7816-9).
    ActivateFile = 0x44,
    /// `46` GENERATE ASYMMETRIC KEY PAIR.
    GenerateAsymmetricKeyPair = 0x46,
    /// `82` EXTERNAL AUTHENTICATE.
    ExternalAuthenticate = 0x82,
    /// `84` GET CHALLENGE.
    GetChallenge = 0x84,
    /// `A4` SELECT.
    Select = 0xA4,
    /// `B0` READ BINARY.
    ReadBinary = 0xB0,
    /// `C0` GET RESPONSE: answered by the framing ([`crate::framing`]), never a
    /// [`Command`] of its own ([`Command::parse`] answers `6D00`).
    GetResponse = 0xC0,
    /// `D6` UPDATE BINARY.
    UpdateBinary = 0xD6,
    /// `DA` PUT DATA.
    PutData = 0xDA,
    /// `FE` TERMINATE CARD USAGE (ISO/IEC 7816-9).
    TerminateCardUsage = 0xFE,
}

impl Ins {
    /// Every instruction.
    pub const ALL: [Ins; 15] = [
        Ins::DeactivateFile,
        Ins::Verify,
        Ins::ChangeReferenceData,
        Ins::ComputeDigitalSignature,
        Ins::ResetRetryCounter,
        Ins::ActivateFile,
        Ins::GenerateAsymmetricKeyPair,
        Ins::ExternalAuthenticate,
        Ins::GetChallenge,
        Ins::Select,
        Ins::ReadBinary,
        Ins::GetResponse,
        Ins::UpdateBinary,
        Ins::PutData,
        Ins::TerminateCardUsage,
    ];

    /// The INS byte.
    pub const fn byte(self) -> u8 {
        self as u8
    }

    /// The instruction with INS byte `ins`.
    pub fn from_byte(ins: u8) -> Option<Ins> {
        Ins::ALL.into_iter().find(|i| i.byte() == ins)
    }

    /// The class it is used with (chaining and secure-messaging bits clear): `80` proprietary
    /// for COMPUTE DIGITAL SIGNATURE, `00` interindustry for the others.
    pub const fn cla(self) -> u8 {
        match self {
            Ins::ComputeDigitalSignature => 0x80,
            _ => 0x00,
        }
    }
}

impl From<Ins> for u8 {
    fn from(ins: Ins) -> u8 {
        ins.byte()
    }
}

impl TryFrom<u8> for Ins {
    type Error = Error;

    /// [`Ins::from_byte`]; `6D00` for an instruction the card does not know.
    fn try_from(ins: u8) -> Result<Ins, Error> {
        Ins::from_byte(ins).ok_or(Error::InsNotSupported)
    }
}

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
        /// A 32-byte SHA-256 hash, or a `DigestInfo` of SHA-256/384/512
        /// ([`crate::digest_info::hash_to_sign`], checked by the parser).
        data: &'a [u8],
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

/// A command's data field: borrowed from the command, or the two bytes of SELECT's file ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataField<'a> {
    /// Bytes of the command.
    Borrowed(&'a [u8]),
    /// A file ID, big-endian.
    FileId([u8; 2]),
}

impl DataField<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            DataField::Borrowed(data) => data,
            DataField::FileId(fid) => fid,
        }
    }
}

impl Deref for DataField<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// The response length a command asks for (its Le field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// No Le: the command answers no data.
    Nothing,
    /// Ne = this many bytes (READ BINARY, GET CHALLENGE).
    UpTo(usize),
    /// Everything the card answers: Le `00` in a short APDU (256), `00 00` in an extended one
    /// (65536). The card cuts its answer to what fits and keeps the rest for GET RESPONSE.
    All,
}

impl Expect {
    /// Ne in a short or `extended` APDU (0: no Le).
    pub fn ne(self, extended: bool) -> usize {
        match self {
            Expect::Nothing => 0,
            Expect::UpTo(ne) => ne,
            Expect::All if extended => MAX_EXTENDED_NE,
            Expect::All => MAX_SHORT_NE,
        }
    }
}

/// Largest data field of a short APDU.
pub const MAX_SHORT_DATA: usize = 255;
/// Largest Ne of a short APDU (Le `00`).
pub const MAX_SHORT_NE: usize = 256;
/// Largest Ne of an extended APDU (Le `00 00`).
pub const MAX_EXTENDED_NE: usize = 65_536;

/// What a command did to the counter's session (secure messaging, [`crate::sm`]), by its status
/// word: [`Command::counter_session_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionChange {
    /// Whatever session was up still is (none if none was).
    Kept,
    /// No session is up any more: the card forgot the counter's authentication and the keys.
    Ended,
    /// A new session replaces any earlier one: its keys come from the card's answer to
    /// EXTERNAL AUTHENTICATE.
    Started,
}

/// True for the commands that set up or end the counter's session and are never sent under
/// secure messaging: SELECT by AID, GET CHALLENGE, EXTERNAL AUTHENTICATE. On the header alone,
/// so the card decides before it parses a protected command (`6985` inside it).
pub fn never_protected(ins: u8, p1: u8) -> bool {
    matches!(
        (Ins::from_byte(ins), p1),
        (Some(Ins::Select), SELECT_BY_AID)
            | (Some(Ins::GetChallenge | Ins::ExternalAuthenticate), _)
    )
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

/// [`binary_target`] inverted (an offset too large for the form comes back differently from
/// the parser: [`Command::encode`] refuses it).
fn binary_p1p2(sfi: Option<u8>, offset: u16) -> (u8, u8) {
    let [high, low] = offset.to_be_bytes();
    match sfi {
        None => (high, low),
        Some(sfi) => (0x80 | sfi, low),
    }
}

/// `80|SFI`: the byte naming the EF with short identifier `sfi` in P1 of READ/UPDATE BINARY or
/// P2 of VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, GENERATE ASYMMETRIC KEY PAIR.
pub const fn by_short_ef(sfi: u8) -> u8 {
    0x80 | sfi
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

/// [`ef_reference`] inverted.
fn reference_p2(sfi: Option<u8>, current: u8) -> u8 {
    sfi.map_or(current, by_short_ef)
}

/// The P2 of VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER for the current PIN EF.
const CURRENT_PIN: u8 = 0x80;
/// The P2 of GENERATE ASYMMETRIC KEY PAIR for the current key EF.
const CURRENT_KEY: u8 = 0x00;
/// SELECT P1: by AID, by file ID.
const SELECT_BY_AID: u8 = 0x04;
const SELECT_BY_FID: u8 = 0x02;
/// SELECT P2: answer the FCI, or nothing.
const FCI: u8 = 0x00;
const NO_FCI: u8 = 0x0C;
/// The longest AID (ISO/IEC 7816-4 §8.2.1.2).
const MAX_AID: usize = 16;
/// P1 of VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER (the last: new PIN, no PUK).
const P1_VERIFY: u8 = 0x00;
const P1_CHANGE: u8 = 0x01;
const P1_RESET: u8 = 0x02;
/// P1 of GENERATE ASYMMETRIC KEY PAIR.
const P1_GENERATE: u8 = 0x80;
const P1_READ_PUBLIC: u8 = 0x81;
/// P1-P2 of COMPUTE DIGITAL SIGNATURE and of the two PUT DATA objects.
const P1P2_SIGN: u16 = 0x0080;
const P1P2_ROOT_KEY: u16 = 0x00C1;
const P1P2_CARD_CERT: u16 = 0x00C2;

fn split(p1p2: u16) -> (u8, u8) {
    let [p1, p2] = p1p2.to_be_bytes();
    (p1, p2)
}

/// VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER: P1 as given, P2 `80` (the current PIN
/// EF) or `80|SFI`.
fn pin_reference(apdu: &CommandApdu<'_>, p1: u8) -> Result<Option<u8>, Error> {
    if apdu.p1 != p1 {
        return Err(Error::WrongP1P2);
    }
    ef_reference(apdu.p2, CURRENT_PIN)
}

/// A small cursor over a caller's buffer.
struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(Error::WrongLength)?;
        self.out
            .get_mut(self.len..end)
            .ok_or(Error::WrongLength)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl CommandApdu<'_> {
    /// Length of [`CommandApdu::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let nc = self.data.len();
        let lc = match (nc, self.extended) {
            (0, _) => 0,
            (_, false) => 1,
            (_, true) => 3,
        };
        let le = match (self.ne, self.extended, nc) {
            (0, _, _) => 0,
            (_, false, _) => 1,
            (_, true, 0) => 3,
            (_, true, _) => 2,
        };
        4 + lc + nc + le
    }

    /// Writes the APDU into `out` (ISO/IEC 7816-4 §5.1, the form `extended` says) and returns
    /// its length: [`CommandApdu::parse`] inverted, byte for byte. `6700` when the fields do not
    /// fit the form (a short APDU with more than 255 bytes of data or Ne above 256) or `out` is
    /// too small.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let nc = self.data.len();
        let (max_nc, max_ne) = if self.extended {
            (usize::from(u16::MAX), MAX_EXTENDED_NE)
        } else {
            (MAX_SHORT_DATA, MAX_SHORT_NE)
        };
        if nc > max_nc || self.ne > max_ne {
            return Err(Error::WrongLength);
        }
        let mut w = Writer { out, len: 0 };
        w.put(&[self.cla, self.ins, self.p1, self.p2])?;
        // Ne = the maximum encodes as 0 (`00`, `00 00`); both fit after the checks above.
        let ne = self.ne % max_ne;
        if self.extended {
            if nc > 0 {
                w.put(&[0])?;
                w.put(&(nc as u16).to_be_bytes())?;
                w.put(self.data)?;
            }
            if self.ne > 0 {
                if nc == 0 {
                    w.put(&[0])?;
                }
                w.put(&(ne as u16).to_be_bytes())?;
            }
        } else {
            if nc > 0 {
                w.put(&[nc as u8])?;
                w.put(self.data)?;
            }
            if self.ne > 0 {
                w.put(&[ne as u8])?;
            }
        }
        Ok(w.len)
    }
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

    /// Its instruction.
    pub fn ins(&self) -> Ins {
        match self {
            Command::SelectApp { .. } | Command::SelectFile { .. } => Ins::Select,
            Command::ReadBinary { .. } => Ins::ReadBinary,
            Command::UpdateBinary { .. } => Ins::UpdateBinary,
            Command::Verify { .. } => Ins::Verify,
            Command::ChangeReferenceData { .. } => Ins::ChangeReferenceData,
            Command::ResetRetryCounter { .. } => Ins::ResetRetryCounter,
            Command::GenerateKeyPair { .. } => Ins::GenerateAsymmetricKeyPair,
            Command::ComputeSignature { .. } => Ins::ComputeDigitalSignature,
            Command::GetChallenge => Ins::GetChallenge,
            Command::ExternalAuthenticate { .. } => Ins::ExternalAuthenticate,
            Command::Initialise { .. } | Command::InstallCertificate { .. } => Ins::PutData,
            Command::Activate => Ins::ActivateFile,
            Command::Deactivate => Ins::DeactivateFile,
            Command::Terminate => Ins::TerminateCardUsage,
        }
    }

    /// CLA INS P1 P2 (the plain class: no chaining, no secure messaging).
    pub fn header(&self) -> [u8; 4] {
        let ins = self.ins();
        let (p1, p2) = match *self {
            Command::SelectApp { fci, .. } => (SELECT_BY_AID, if fci { FCI } else { NO_FCI }),
            Command::SelectFile { .. } => (SELECT_BY_FID, NO_FCI),
            Command::ReadBinary { sfi, offset, .. } | Command::UpdateBinary { sfi, offset, .. } => {
                binary_p1p2(sfi, offset)
            }
            Command::Verify { sfi, .. } => (P1_VERIFY, reference_p2(sfi, CURRENT_PIN)),
            Command::ChangeReferenceData { sfi, .. } => (P1_CHANGE, reference_p2(sfi, CURRENT_PIN)),
            Command::ResetRetryCounter { sfi, .. } => (P1_RESET, reference_p2(sfi, CURRENT_PIN)),
            Command::GenerateKeyPair { sfi, mode } => (
                match mode {
                    KeyPairMode::Generate => P1_GENERATE,
                    KeyPairMode::ReadPublic => P1_READ_PUBLIC,
                },
                reference_p2(sfi, CURRENT_KEY),
            ),
            Command::ComputeSignature { .. } => split(P1P2_SIGN),
            Command::Initialise { .. } => split(P1P2_ROOT_KEY),
            Command::InstallCertificate { .. } => split(P1P2_CARD_CERT),
            Command::GetChallenge
            | Command::ExternalAuthenticate { .. }
            | Command::Activate
            | Command::Deactivate
            | Command::Terminate => (0x00, 0x00),
        };
        [ins.cla(), ins.byte(), p1, p2]
    }

    /// Its data field (empty for a command without).
    pub fn data(&self) -> DataField<'a> {
        DataField::Borrowed(match *self {
            Command::SelectFile { fid } => return DataField::FileId(fid.to_be_bytes()),
            Command::SelectApp { aid: data, .. }
            | Command::UpdateBinary { data, .. }
            | Command::Verify {
                pin: Some(data), ..
            }
            | Command::ChangeReferenceData { new_pin: data, .. }
            | Command::ResetRetryCounter { new_pin: data, .. }
            | Command::ExternalAuthenticate { data }
            | Command::Initialise { root_key: data, .. }
            | Command::InstallCertificate { cert: data } => data,
            Command::ComputeSignature { data } => data,
            Command::Verify { pin: None, .. }
            | Command::ReadBinary { .. }
            | Command::GenerateKeyPair { .. }
            | Command::GetChallenge
            | Command::Activate
            | Command::Deactivate
            | Command::Terminate => &[],
        })
    }

    /// The response length it asks for.
    pub fn expect(&self) -> Expect {
        match *self {
            Command::ReadBinary { ne, .. } => Expect::UpTo(ne),
            Command::GetChallenge => Expect::UpTo(crate::cvc::CHALLENGE_LEN),
            Command::SelectApp { fci: true, .. }
            | Command::Initialise {
                answer_key: true, ..
            }
            | Command::GenerateKeyPair { .. }
            | Command::ComputeSignature { .. }
            | Command::ExternalAuthenticate { .. } => Expect::All,
            _ => Expect::Nothing,
        }
    }

    /// True when the command needs the extended form to go in one APDU (more than 255 bytes of
    /// data, or Ne above 256); a short-only reader chains it and reads with GET RESPONSE.
    pub fn needs_extended(&self) -> bool {
        self.data().len() > MAX_SHORT_DATA
            || matches!(self.expect(), Expect::UpTo(ne) if ne > MAX_SHORT_NE)
    }

    /// Writes the command APDU into `out` and returns its length: short when it fits, extended
    /// otherwise ([`Command::needs_extended`]; [`Expect::All`] then is Le `00 00`).
    /// [`Command::parse`] inverted: what the card reads back is this very command, or this
    /// fails with the card's answer to what it would read (`6A86` for an offset, SFI or AID
    /// outside what the APDU can say, `6700` for lengths or an `out` too small).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let len = self.with_apdu(|apdu| apdu.encode(out))?;
        let written = out.get(..len).ok_or(Error::WrongLength)?;
        if Command::parse(&CommandApdu::parse(written)?)? != *self {
            return Err(Error::WrongP1P2);
        }
        Ok(len)
    }

    /// Length of [`Command::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        self.with_apdu(|apdu| apdu.encoded_len())
    }

    /// `f` of the APDU the command encodes to ([`Command::encode`]).
    fn with_apdu<R>(&self, f: impl FnOnce(&CommandApdu<'_>) -> R) -> R {
        let [cla, ins, p1, p2] = self.header();
        let data = self.data();
        let extended = self.needs_extended();
        f(&CommandApdu {
            cla,
            ins,
            p1,
            p2,
            data: &data,
            ne: self.expect().ne(extended),
            extended,
        })
    }

    /// True for the counter's (issuer's) commands: they need *counter authenticated*
    /// ([`crate::gate`], `6982`) and come only under secure messaging (`6987` in clear).
    pub fn is_counter_command(&self) -> bool {
        matches!(
            self,
            Command::UpdateBinary { .. }
                | Command::ResetRetryCounter { .. }
                | Command::GenerateKeyPair {
                    mode: KeyPairMode::Generate,
                    ..
                }
                | Command::Activate
                | Command::Deactivate
                | Command::Terminate
        )
    }

    /// True when the command goes under secure messaging while a counter session is up: every
    /// command but the three that set one up or end it ([`never_protected`]).
    pub fn protected_in_session(&self) -> bool {
        let [_, ins, p1, _] = self.header();
        !never_protected(ins, p1)
    }

    /// What the command did to the counter's session, given the status word it answered
    /// (inside the protection, for a protected command). The card ends the session by this
    /// rule ([`crate::dispatch`]); the host follows it to know whether its session keys still
    /// hold. A protected command the card could not unwrap (`6988`) ends the session too, and
    /// a host that cannot verify the card's answer must drop its session: neither is the
    /// command's doing.
    ///
    /// - SELECT by AID that selected an application ([`Status::application_selected`]):
    ///   ended (the security status is the new application's, empty).
    /// - EXTERNAL AUTHENTICATE: `9000` started, anything else ended.
    /// - TERMINATE CARD USAGE `9000`: ended (the card forgets every security status).
    /// - Anything else: kept (DEACTIVATE FILE too: the counter may resume or terminate next).
    pub fn counter_session_after(&self, status: Status) -> SessionChange {
        match self {
            Command::SelectApp { .. } if status.application_selected() => SessionChange::Ended,
            Command::ExternalAuthenticate { .. } if status == Status::Ok => SessionChange::Started,
            Command::ExternalAuthenticate { .. } => SessionChange::Ended,
            Command::Terminate if status == Status::Ok => SessionChange::Ended,
            _ => SessionChange::Kept,
        }
    }

    /// The lifecycle change the command makes on a card in state `from` ([`Transition`]),
    /// `None` for a command that changes no state or may not change this one
    /// ([`Lifecycle::allows`]). ACTIVATE FILE issues an initialised card and resumes a
    /// suspended one.
    pub fn transition(&self, from: Lifecycle) -> Option<Transition> {
        let candidates: &[Transition] = match self {
            Command::Initialise { .. } => &[Transition::Initialise],
            Command::Activate => &[Transition::Issue, Transition::Resume],
            Command::Deactivate => &[Transition::Suspend],
            Command::Terminate => &[Transition::Terminate],
            _ => &[],
        };
        candidates.iter().copied().find(|t| from.allows(*t))
    }

    /// Parses a complete command (class chaining bit already cleared by the framing).
    ///
    /// Unknown INS `6D00`; known INS with the other class `6E00`; P1-P2 not as documented
    /// `6A86`; Lc/Le not as documented `6700` (an Le on a command that answers no data
    /// included).
    pub fn parse(apdu: &CommandApdu<'a>) -> Result<Self, Error> {
        let ins = match Ins::try_from(apdu.ins)? {
            Ins::GetResponse => return Err(Error::InsNotSupported),
            ins => ins,
        };
        if apdu.cla != ins.cla() {
            return Err(Error::ClaNotSupported);
        }
        match ins {
            Ins::Select => match (apdu.p1, apdu.p2) {
                (SELECT_BY_AID, NO_FCI | FCI) => {
                    let aid = some_data(apdu)?;
                    if apdu.p2 == NO_FCI {
                        no_le(apdu)?;
                    }
                    if aid.len() > MAX_AID {
                        return Err(Error::WrongLength);
                    }
                    Ok(Command::SelectApp {
                        aid,
                        fci: apdu.p2 == FCI,
                    })
                }
                (SELECT_BY_FID, NO_FCI) => match apdu.data {
                    [high, low] if apdu.ne == 0 => Ok(Command::SelectFile {
                        fid: u16::from_be_bytes([*high, *low]),
                    }),
                    _ => Err(Error::WrongLength),
                },
                _ => Err(Error::WrongP1P2),
            },
            Ins::ReadBinary => {
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
            Ins::UpdateBinary => {
                let (sfi, offset) = binary_target(apdu)?;
                no_le(apdu)?;
                Ok(Command::UpdateBinary {
                    sfi,
                    offset,
                    data: some_data(apdu)?,
                })
            }
            Ins::Verify => {
                let sfi = pin_reference(apdu, P1_VERIFY)?;
                no_le(apdu)?;
                Ok(Command::Verify {
                    sfi,
                    pin: (!apdu.data.is_empty()).then_some(apdu.data),
                })
            }
            Ins::ChangeReferenceData => {
                let sfi = pin_reference(apdu, P1_CHANGE)?;
                no_le(apdu)?;
                Ok(Command::ChangeReferenceData {
                    sfi,
                    new_pin: some_data(apdu)?,
                })
            }
            Ins::ResetRetryCounter => {
                let sfi = pin_reference(apdu, P1_RESET)?;
                no_le(apdu)?;
                Ok(Command::ResetRetryCounter {
                    sfi,
                    new_pin: some_data(apdu)?,
                })
            }
            Ins::GenerateAsymmetricKeyPair => {
                let mode = match apdu.p1 {
                    P1_GENERATE => KeyPairMode::Generate,
                    P1_READ_PUBLIC => KeyPairMode::ReadPublic,
                    _ => return Err(Error::WrongP1P2),
                };
                let sfi = ef_reference(apdu.p2, CURRENT_KEY)?;
                no_data(apdu)?;
                Ok(Command::GenerateKeyPair { sfi, mode })
            }
            Ins::ComputeDigitalSignature => {
                p1p2(apdu, P1P2_SIGN)?;
                crate::digest_info::hash_to_sign(apdu.data)?;
                Ok(Command::ComputeSignature { data: apdu.data })
            }
            Ins::GetChallenge => {
                p1p2(apdu, 0x0000)?;
                no_data(apdu)?;
                if apdu.ne != crate::cvc::CHALLENGE_LEN {
                    return Err(Error::WrongLength);
                }
                Ok(Command::GetChallenge)
            }
            Ins::ExternalAuthenticate => {
                // Answers the card's ephemeral key: Le allowed (and needed to get it at once).
                p1p2(apdu, 0x0000)?;
                Ok(Command::ExternalAuthenticate {
                    data: some_data(apdu)?,
                })
            }
            Ins::PutData => match apdu.p1p2() {
                // Answers the card's public key: Le allowed.
                P1P2_ROOT_KEY => Ok(Command::Initialise {
                    root_key: some_data(apdu)?,
                    answer_key: apdu.ne > 0,
                }),
                P1P2_CARD_CERT => {
                    no_le(apdu)?;
                    Ok(Command::InstallCertificate {
                        cert: some_data(apdu)?,
                    })
                }
                _ => Err(Error::WrongP1P2),
            },
            Ins::ActivateFile | Ins::DeactivateFile | Ins::TerminateCardUsage => {
                p1p2(apdu, 0x0000)?;
                no_le(apdu)?;
                no_data(apdu)?;
                Ok(match ins {
                    Ins::ActivateFile => Command::Activate,
                    Ins::DeactivateFile => Command::Deactivate,
                    _ => Command::Terminate,
                })
            }
            Ins::GetResponse => Err(Error::InsNotSupported),
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
