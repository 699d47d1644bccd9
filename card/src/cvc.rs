//! Card-verifiable certificates (CVC) of the counter and of the card, and the digests of the
//! mutual authentication.
//!
//! Nothing is a shared secret. Every card holds one national root public key, written when the
//! blank card is initialised. Two kinds of holder carry a P-256 key certified by that root in
//! this compact certificate: a municipality's **counter** (holder: its 地方公共団体コード) and
//! each **card** (holder: the card's serial; its key is generated on the card at
//! initialisation and never leaves it). The counter proves itself to the card, the card to the
//! counter, in one exchange (docs/apdu.md, "Mutual authentication").
//!
//! ```text
//! 7F21 {                                   certificate
//!   7F4E {                                 body (signed)
//!     5F29 02                              format version
//!     5F4C 01|02                           role: 01 counter, 02 card
//!     5F20 "131016" | "JK0000000001"       holder: 地方公共団体コード (6 digits) or card serial
//!     5F21 "千代田区"                       holder's name, UTF-8, at most 64 bytes
//!     7F49 { 86 04‖X‖Y }                   public key, SEC1 uncompressed
//!     5F25 "20260401"                      effective date
//!     5F24 "20310331"                      expiry date
//!     5F2E 00|01                           date accurate: issued on its effective date
//!   }
//!   5F37 r‖s                               ECDSA P-256 by the root over SHA-256(body TLV)
//! }
//! ```
//!
//! **Counter → card** (EXTERNAL AUTHENTICATE data): the counter's certificate, its ephemeral key
//! for the secure-messaging session (`7F49 { 86 04‖X‖Y }`, [`crate::sm`]), then `5F37 r‖s`: the
//! counter key's signature over [`auth_digest`] of the card's challenge and that ephemeral key.
//!
//! **Card → counter** (the answer): the card's certificate, its own ephemeral key, `8A` its life
//! cycle status byte, and `5F37 r‖s`: the card key's signature over [`card_auth_digest`] of the
//! challenge, the whole counter message, and everything before the signature in the answer. Both
//! ephemeral keys, the challenge, the counter's certificate and the card's serial (in its
//! certificate) are under the card's signature; the session keys derive from that digest too.
//!
//! **Dates** (as BSI TR-03110's rule for the chip's current date): the card has no clock; it
//! refuses certificates that expired before its last-known date, and advances that date only to
//! the effective date of a *date-accurate* counter certificate, one the root issued on its
//! effective date. A certificate issued in advance (effective later) is accepted while valid but
//! moves no date: a stolen pre-issued certificate cannot lock the current counters out.
//!
//! Both sides use this module, so the format has one definition.

use heapless::Vec;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::tlv::{self, Reader};

/// Format version of the certificate (2: role and date-accuracy fields).
pub const VERSION: u8 = 2;
/// Domain separation of the counter's signature over the card's challenge.
pub const AUTH_CONTEXT: &[u8] = b"juki counter auth v2";
/// Domain separation of the card's signature over the authentication transcript.
pub const CARD_AUTH_CONTEXT: &[u8] = b"juki card auth v1";
/// Length of the card's challenge (GET CHALLENGE).
pub const CHALLENGE_LEN: usize = 16;
/// Longest holder name, in bytes of UTF-8.
pub const MAX_NAME: usize = 64;
/// Longest card serial (the card's certificate's holder).
pub const MAX_SERIAL: usize = 16;
/// Largest encoded body.
pub const MAX_BODY: usize = 256;
/// Largest encoded certificate.
pub const MAX_CERT: usize = MAX_BODY + 80;
/// Largest EXTERNAL AUTHENTICATE data field.
pub const MAX_AUTH_DATA: usize = MAX_CERT + 80 + 70;
/// Largest answer of the card to EXTERNAL AUTHENTICATE.
pub const MAX_CARD_ANSWER: usize = MAX_CERT + 70 + 3 + 70;

/// SEC1 uncompressed P-256 public key length.
pub const PUBLIC_KEY_LEN: usize = 65;
/// Raw `r‖s` P-256 signature length.
pub const SIGNATURE_LEN: usize = 64;

const TAG_CERT: u16 = 0x7F21;
const TAG_BODY: u16 = 0x7F4E;
const TAG_VERSION: u16 = 0x5F29;
const TAG_ROLE: u16 = 0x5F4C;
const TAG_HOLDER: u16 = 0x5F20;
const TAG_NAME: u16 = 0x5F21;
const TAG_PUBKEY: u16 = 0x7F49;
const TAG_POINT: u16 = 0x86;
const TAG_EFFECTIVE: u16 = 0x5F25;
const TAG_EXPIRY: u16 = 0x5F24;
const TAG_ACCURATE: u16 = 0x5F2E;
const TAG_SIGNATURE: u16 = 0x5F37;
const TAG_LCS: u16 = 0x8A;

/// Who holds a certified key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A municipality's counter: authenticates to cards.
    Counter = 1,
    /// A card: authenticates to counters.
    Card = 2,
}

impl Role {
    fn from_byte(byte: u8) -> Option<Role> {
        match byte {
            1 => Some(Role::Counter),
            2 => Some(Role::Card),
            _ => None,
        }
    }
}

/// Why a certificate or an authentication was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvcError {
    /// Not the TLV structure above, or a field of the wrong size or content.
    Malformed,
    /// A format version this card does not know.
    UnsupportedVersion,
    /// A signature (root over the body, or counter over the challenge) does not verify.
    BadSignature,
    /// The certificate expired before the card's last-known date.
    Expired,
    /// A certificate of the other role (a card's where a counter's is due, or the reverse).
    WrongRole,
    /// Does not fit the buffer (encoding only).
    TooLong,
}

impl From<tlv::TlvError> for CvcError {
    fn from(_: tlv::TlvError) -> Self {
        CvcError::Malformed
    }
}

/// A calendar date, `YYYYMMDD` as a number so that dates compare in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(u32);

impl Date {
    /// The date `year`-`month`-`day`, if it is a real date of years 1900–9999.
    pub fn from_ymd(year: u32, month: u32, day: u32) -> Option<Date> {
        if !(1900..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day > days {
            return None;
        }
        Some(Date(year * 10_000 + month * 100 + day))
    }

    /// Parses 8 ASCII digits `YYYYMMDD`.
    pub fn from_ascii(text: &[u8]) -> Option<Date> {
        if text.len() != 8 {
            return None;
        }
        let mut value = 0u32;
        for &c in text {
            if !c.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(c - b'0');
        }
        Date::from_ymd(value / 10_000, value / 100 % 100, value % 100)
    }

    /// The date as `YYYYMMDD` in ASCII.
    pub fn to_ascii(self) -> [u8; 8] {
        let mut out = [b'0'; 8];
        let mut value = self.0;
        for c in out.iter_mut().rev() {
            // value % 10 < 10, so the cast cannot truncate.
            *c = b'0' + (value % 10) as u8;
            value /= 10;
        }
        out
    }

    /// The date as the number `YYYYMMDD`.
    pub fn value(self) -> u32 {
        self.0
    }

    /// Year, month and day.
    pub fn ymd(self) -> (u32, u32, u32) {
        (self.0 / 10_000, self.0 / 100 % 100, self.0 % 100)
    }
}

/// A parsed certificate; every field borrows from the encoded certificate.
#[derive(Debug, Clone, Copy)]
pub struct Certificate<'a> {
    /// Counter or card.
    pub role: Role,
    /// 地方公共団体コード (counter, 6 ASCII digits) or card serial (card, `A–Z 0–9 -`).
    pub holder: &'a [u8],
    /// The holder's name, UTF-8.
    pub name: &'a str,
    /// The holder's public key, SEC1 uncompressed.
    pub public_key: &'a [u8],
    /// First day of validity.
    pub effective: Date,
    /// Last day of validity.
    pub expiry: Date,
    /// Issued on its effective date: may advance the card's last-known date.
    pub date_accurate: bool,
    body: &'a [u8],
    signature: &'a [u8],
}

/// The fields of a certificate to encode.
#[derive(Debug, Clone, Copy)]
pub struct CertificateFields<'a> {
    /// Counter or card.
    pub role: Role,
    /// 地方公共団体コード (6 ASCII digits) or card serial (1–16 of `A–Z 0–9 -`).
    pub holder: &'a [u8],
    /// The holder's name, UTF-8, at most [`MAX_NAME`] bytes.
    pub name: &'a str,
    /// The public key, SEC1 uncompressed (65 bytes).
    pub public_key: &'a [u8],
    /// First day of validity.
    pub effective: Date,
    /// Last day of validity.
    pub expiry: Date,
    /// Issued on its effective date (the issuer's clock said so).
    pub date_accurate: bool,
}

/// Parses a whole certificate (`7F21` TLV, nothing after it).
pub fn parse(cert: &[u8]) -> Result<Certificate<'_>, CvcError> {
    let inner = tlv::single(cert, TAG_CERT)?;
    let mut outer = Reader::new(inner);
    let before_body = outer.remaining();
    outer.expect(TAG_BODY)?;
    let body_len = before_body.len() - outer.remaining().len();
    let body = before_body.get(..body_len).ok_or(CvcError::Malformed)?;
    let signature = outer.expect(TAG_SIGNATURE)?;
    if !outer.is_empty() || signature.len() != SIGNATURE_LEN {
        return Err(CvcError::Malformed);
    }

    let mut fields = Reader::new(tlv::single(body, TAG_BODY)?);
    if fields.expect(TAG_VERSION)? != [VERSION] {
        return Err(CvcError::UnsupportedVersion);
    }
    let role = match fields.expect(TAG_ROLE)? {
        [byte] => Role::from_byte(*byte).ok_or(CvcError::Malformed)?,
        _ => return Err(CvcError::Malformed),
    };
    let holder = fields.expect(TAG_HOLDER)?;
    let name = fields.expect(TAG_NAME)?;
    let public_key = tlv::single(fields.expect(TAG_PUBKEY)?, TAG_POINT)?;
    let effective = Date::from_ascii(fields.expect(TAG_EFFECTIVE)?).ok_or(CvcError::Malformed)?;
    let expiry = Date::from_ascii(fields.expect(TAG_EXPIRY)?).ok_or(CvcError::Malformed)?;
    let date_accurate = match fields.expect(TAG_ACCURATE)? {
        [0] => false,
        [1] => true,
        _ => return Err(CvcError::Malformed),
    };
    if !fields.is_empty() {
        return Err(CvcError::Malformed);
    }
    let fields = CertificateFields {
        role,
        holder,
        name: core::str::from_utf8(name).map_err(|_| CvcError::Malformed)?,
        public_key,
        effective,
        expiry,
        date_accurate,
    };
    check_fields(&fields)?;
    Ok(Certificate {
        role,
        holder: fields.holder,
        name: fields.name,
        public_key: fields.public_key,
        effective,
        expiry,
        date_accurate,
        body,
        signature,
    })
}

impl Certificate<'_> {
    /// Checks the root's signature over the body.
    pub fn verify_signature(&self, root: &VerifyingKey) -> Result<(), CvcError> {
        verify_prehash(root, &sha256(&[self.body]), self.signature)
    }

    /// Checks the role, the root's signature and that the certificate had not expired on
    /// `today` (the card's last-known date, or the counter's clock).
    pub fn verify(&self, role: Role, root: &VerifyingKey, today: Date) -> Result<(), CvcError> {
        if self.role != role {
            return Err(CvcError::WrongRole);
        }
        self.verify_signature(root)?;
        if self.expiry < today {
            return Err(CvcError::Expired);
        }
        Ok(())
    }

    /// The holder's public key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, CvcError> {
        VerifyingKey::from_sec1_bytes(self.public_key).map_err(|_| CvcError::Malformed)
    }

    /// The encoded body (`7F4E` TLV), the part the root signs.
    pub fn body(&self) -> &[u8] {
        self.body
    }
}

/// Encodes the body (`7F4E` TLV) of a certificate; its SHA-256 is what the root signs.
pub fn encode_body(fields: &CertificateFields<'_>) -> Result<Vec<u8, MAX_BODY>, CvcError> {
    check_fields(fields)?;
    let mut inner: Vec<u8, MAX_BODY> = Vec::new();
    tlv::encode_into(&mut inner, TAG_VERSION, &[VERSION]).map_err(too_long)?;
    tlv::encode_into(&mut inner, TAG_ROLE, &[fields.role as u8]).map_err(too_long)?;
    tlv::encode_into(&mut inner, TAG_HOLDER, fields.holder).map_err(too_long)?;
    tlv::encode_into(&mut inner, TAG_NAME, fields.name.as_bytes()).map_err(too_long)?;
    let mut key: Vec<u8, 80> = Vec::new();
    tlv::encode_into(&mut key, TAG_POINT, fields.public_key).map_err(too_long)?;
    tlv::encode_into(&mut inner, TAG_PUBKEY, &key).map_err(too_long)?;
    tlv::encode_into(&mut inner, TAG_EFFECTIVE, &fields.effective.to_ascii()).map_err(too_long)?;
    tlv::encode_into(&mut inner, TAG_EXPIRY, &fields.expiry.to_ascii()).map_err(too_long)?;
    tlv::encode_into(&mut inner, TAG_ACCURATE, &[u8::from(fields.date_accurate)])
        .map_err(too_long)?;
    let mut body = Vec::new();
    tlv::encode_into(&mut body, TAG_BODY, &inner).map_err(too_long)?;
    Ok(body)
}

/// SHA-256 of an encoded body: the digest the root signs.
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    sha256(&[body])
}

/// Joins a body and the root's `r‖s` signature into a certificate (`7F21` TLV).
pub fn encode_certificate(body: &[u8], signature: &[u8]) -> Result<Vec<u8, MAX_CERT>, CvcError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(CvcError::Malformed);
    }
    let mut inner: Vec<u8, MAX_CERT> = Vec::new();
    inner
        .extend_from_slice(body)
        .map_err(|_| CvcError::TooLong)?;
    tlv::encode_into(&mut inner, TAG_SIGNATURE, signature).map_err(too_long)?;
    let mut cert = Vec::new();
    tlv::encode_into(&mut cert, TAG_CERT, &inner).map_err(too_long)?;
    Ok(cert)
}

/// The digest the counter signs to answer the card's challenge: SHA-256 of
/// [`AUTH_CONTEXT`] ‖ challenge ‖ the counter's ephemeral key (SEC1 uncompressed).
pub fn auth_digest(challenge: &[u8], ephemeral: &[u8]) -> [u8; 32] {
    sha256(&[AUTH_CONTEXT, challenge, ephemeral])
}

/// The digest the card signs in its answer: SHA-256 of [`CARD_AUTH_CONTEXT`] ‖ challenge ‖
/// SHA-256(the counter's whole EXTERNAL AUTHENTICATE data) ‖ the answer before its signature
/// (the card's certificate, its ephemeral key, its life cycle status). The secure-messaging keys
/// derive from it too ([`crate::sm::SecureChannel::derive`]).
pub fn card_auth_digest(challenge: &[u8], counter_data: &[u8], answer_body: &[u8]) -> [u8; 32] {
    let counter = sha256(&[counter_data]);
    sha256(&[CARD_AUTH_CONTEXT, challenge, &counter, answer_body])
}
// (`CardAnswerParts::verify_with` checks the same message, part by part.)

/// EXTERNAL AUTHENTICATE data: the certificate, `7F49 { 86 ephemeral }`, then the counter's
/// signature of [`auth_digest`].
pub fn encode_auth_data(
    cert: &[u8],
    ephemeral: &[u8],
    signature: &[u8],
) -> Result<Vec<u8, MAX_AUTH_DATA>, CvcError> {
    if signature.len() != SIGNATURE_LEN || ephemeral.len() != PUBLIC_KEY_LEN {
        return Err(CvcError::Malformed);
    }
    let mut out: Vec<u8, MAX_AUTH_DATA> = Vec::new();
    out.extend_from_slice(cert).map_err(|_| CvcError::TooLong)?;
    encode_point(&mut out, ephemeral)?;
    tlv::encode_into(&mut out, TAG_SIGNATURE, signature).map_err(too_long)?;
    Ok(out)
}

/// Appends `7F49 { 86 point }`.
pub fn encode_point<const N: usize>(out: &mut Vec<u8, N>, point: &[u8]) -> Result<(), CvcError> {
    let mut key: Vec<u8, 70> = Vec::new();
    tlv::encode_into(&mut key, TAG_POINT, point).map_err(too_long)?;
    tlv::encode_into(out, TAG_PUBKEY, &key).map_err(too_long)
}

/// Appends the life cycle status `8A 01 lcs` of the card's answer.
pub fn encode_lcs<const N: usize>(out: &mut Vec<u8, N>, lcs: u8) -> Result<(), CvcError> {
    tlv::encode_into(out, TAG_LCS, &[lcs]).map_err(too_long)
}

/// Appends the signature `5F37 r‖s`.
pub fn encode_signature<const N: usize>(
    out: &mut Vec<u8, N>,
    signature: &[u8],
) -> Result<(), CvcError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(CvcError::Malformed);
    }
    tlv::encode_into(out, TAG_SIGNATURE, signature).map_err(too_long)
}

/// The parts of EXTERNAL AUTHENTICATE data.
#[derive(Debug, Clone, Copy)]
pub struct AuthData<'a> {
    /// The counter's certificate.
    pub cert: Certificate<'a>,
    /// The counter's ephemeral key for the session, SEC1 uncompressed (not yet checked).
    pub ephemeral: &'a [u8],
    /// The counter's signature of [`auth_digest`].
    pub signature: &'a [u8],
}

/// The opening of both messages of the mutual authentication: (certificate, its encoding, the
/// ephemeral key, the reader at what follows).
type Opening<'a> = (Certificate<'a>, &'a [u8], &'a [u8], Reader<'a>);

/// Reads the certificate and the ephemeral key that open both messages.
fn cert_and_key(data: &[u8]) -> Result<Opening<'_>, CvcError> {
    let mut reader = Reader::new(data);
    reader.expect(TAG_CERT)?;
    let cert_len = data.len() - reader.remaining().len();
    let cert_bytes = data.get(..cert_len).ok_or(CvcError::Malformed)?;
    let cert = parse(cert_bytes)?;
    let ephemeral = tlv::single(reader.expect(TAG_PUBKEY)?, TAG_POINT)?;
    if ephemeral.len() != PUBLIC_KEY_LEN {
        return Err(CvcError::Malformed);
    }
    Ok((cert, cert_bytes, ephemeral, reader))
}

/// The signature that closes a message; nothing may follow it.
fn final_signature<'a>(reader: &mut Reader<'a>) -> Result<&'a [u8], CvcError> {
    let signature = reader.expect(TAG_SIGNATURE)?;
    if !reader.is_empty() || signature.len() != SIGNATURE_LEN {
        return Err(CvcError::Malformed);
    }
    Ok(signature)
}

/// Splits EXTERNAL AUTHENTICATE data into the certificate, the ephemeral key and the signature.
pub fn parse_auth_data(data: &[u8]) -> Result<AuthData<'_>, CvcError> {
    let (cert, _, ephemeral, mut reader) = cert_and_key(data)?;
    let signature = final_signature(&mut reader)?;
    Ok(AuthData {
        cert,
        ephemeral,
        signature,
    })
}

/// Verifies the counter's answer to `challenge`: a counter certificate that chains to `root`,
/// has not expired on `today`, and whose key signed [`auth_digest`] of the challenge and the
/// ephemeral key. Returns the parts.
pub fn verify_auth<'a>(
    data: &'a [u8],
    root: &VerifyingKey,
    today: Date,
    challenge: &[u8],
) -> Result<AuthData<'a>, CvcError> {
    let auth = parse_auth_data(data)?;
    auth.cert.verify(Role::Counter, root, today)?;
    verify_prehash(
        &auth.cert.verifying_key()?,
        &auth_digest(challenge, auth.ephemeral),
        auth.signature,
    )?;
    Ok(auth)
}

/// The parts of the card's answer to EXTERNAL AUTHENTICATE.
#[derive(Debug, Clone, Copy)]
pub struct CardAnswer<'a> {
    /// The card's certificate.
    pub cert: Certificate<'a>,
    /// The card's ephemeral key, SEC1 uncompressed (not yet checked).
    pub ephemeral: &'a [u8],
    /// The card's life cycle status byte (ISO/IEC 7816-4 `8A`).
    pub lcs: u8,
    /// [`card_auth_digest`], which the card signed and the session keys derive from.
    pub digest: [u8; 32],
}

/// Verifies the card's answer (the counter's half): a card certificate that chains to `root`
/// and has not expired on `today`, and the card key's signature over [`card_auth_digest`] of
/// `challenge`, the counter's own `counter_data` and the answer.
pub fn verify_card_answer<'a>(
    answer: &'a [u8],
    root: &VerifyingKey,
    today: Date,
    challenge: &[u8],
    counter_data: &[u8],
) -> Result<CardAnswer<'a>, CvcError> {
    parse_card_answer(answer)?.verify(Some(root), today, challenge, counter_data)
}

/// The card's answer split into its parts, nothing verified yet ([`CardAnswerParts::verify`]).
#[derive(Debug, Clone, Copy)]
pub struct CardAnswerParts<'a> {
    /// The card's certificate.
    pub cert: Certificate<'a>,
    /// Its encoding (`7F21` TLV).
    pub cert_bytes: &'a [u8],
    ephemeral: &'a [u8],
    lcs: u8,
    body: &'a [u8],
    signature: &'a [u8],
}

/// Splits the card's answer to EXTERNAL AUTHENTICATE.
pub fn parse_card_answer(answer: &[u8]) -> Result<CardAnswerParts<'_>, CvcError> {
    let (cert, cert_bytes, ephemeral, mut reader) = cert_and_key(answer)?;
    let lcs = match reader.expect(TAG_LCS)? {
        [lcs] => *lcs,
        _ => return Err(CvcError::Malformed),
    };
    let body_len = answer.len() - reader.remaining().len();
    let signature = final_signature(&mut reader)?;
    Ok(CardAnswerParts {
        cert,
        cert_bytes,
        ephemeral,
        lcs,
        body: answer.get(..body_len).ok_or(CvcError::Malformed)?,
        signature,
    })
}

/// Checks an ECDSA P-256 signature `r‖s` by the SEC1 public key over SHA-256 of the
/// concatenated message parts: the p256 crate's by default ([`p256_check`]); a host may bring a
/// faster implementation of the same check.
pub type SignatureCheck<'f> = &'f dyn Fn(&[u8], &[&[u8]], &[u8]) -> bool;

/// [`SignatureCheck`] with the p256 crate.
pub fn p256_check(key: &[u8], parts: &[&[u8]], signature: &[u8]) -> bool {
    VerifyingKey::from_sec1_bytes(key)
        .ok()
        .is_some_and(|key| verify_prehash(&key, &sha256(parts), signature).is_ok())
}

impl<'a> CardAnswerParts<'a> {
    /// The card's ephemeral key as answered (SEC1, not yet checked: trust nothing derived from
    /// it before [`Self::verify`]).
    pub fn ephemeral(&self) -> &'a [u8] {
        self.ephemeral
    }

    /// Verifies the answer: the card certificate's role and expiry on `today`, the root's
    /// signature on it (`root`; `None` when the caller verified this very certificate against
    /// the same root before), and the card key's signature over [`card_auth_digest`].
    pub fn verify(
        self,
        root: Option<&VerifyingKey>,
        today: Date,
        challenge: &[u8],
        counter_data: &[u8],
    ) -> Result<CardAnswer<'a>, CvcError> {
        let root = root.map(|r| r.to_encoded_point(false));
        let root = root.as_ref().map(|r| r.as_bytes());
        self.verify_with(root, today, challenge, counter_data, &p256_check)
    }

    /// [`Self::verify`] with the root as SEC1 bytes and the signatures checked by `check`.
    pub fn verify_with(
        self,
        root: Option<&[u8]>,
        today: Date,
        challenge: &[u8],
        counter_data: &[u8],
        check: SignatureCheck<'_>,
    ) -> Result<CardAnswer<'a>, CvcError> {
        if self.cert.role != Role::Card {
            return Err(CvcError::WrongRole);
        }
        if let Some(root) = root {
            if !check(root, &[self.cert.body], self.cert.signature) {
                return Err(CvcError::BadSignature);
            }
        }
        if self.cert.expiry < today {
            return Err(CvcError::Expired);
        }
        let counter = sha256(&[counter_data]);
        let message = [CARD_AUTH_CONTEXT, challenge, &counter, self.body];
        if !check(self.cert.public_key, &message, self.signature) {
            return Err(CvcError::BadSignature);
        }
        let digest = sha256(&message);
        Ok(CardAnswer {
            cert: self.cert,
            ephemeral: self.ephemeral,
            lcs: self.lcs,
            digest,
        })
    }
}

fn check_fields(fields: &CertificateFields<'_>) -> Result<(), CvcError> {
    let holder_ok = match fields.role {
        Role::Counter => fields.holder.len() == 6 && fields.holder.iter().all(u8::is_ascii_digit),
        Role::Card => is_serial(fields.holder),
    };
    let name_ok = !fields.name.is_empty() && fields.name.len() <= MAX_NAME;
    let key_ok = fields.public_key.len() == PUBLIC_KEY_LEN
        && fields.public_key.first() == Some(&0x04)
        && VerifyingKey::from_sec1_bytes(fields.public_key).is_ok();
    if holder_ok && name_ok && key_ok && fields.effective <= fields.expiry {
        Ok(())
    } else {
        Err(CvcError::Malformed)
    }
}

/// True for a card serial: 1 to [`MAX_SERIAL`] of `A–Z 0–9 -`.
pub fn is_serial(serial: &[u8]) -> bool {
    (1..=MAX_SERIAL).contains(&serial.len())
        && serial
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'-')
}

fn verify_prehash(key: &VerifyingKey, digest: &[u8; 32], signature: &[u8]) -> Result<(), CvcError> {
    let signature = Signature::from_slice(signature).map_err(|_| CvcError::BadSignature)?;
    key.verify_prehash(digest, &signature)
        .map_err(|_| CvcError::BadSignature)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn too_long(_: tlv::TlvError) -> CvcError {
    CvcError::TooLong
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::SigningKey;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn point(key: &SigningKey) -> [u8; 65] {
        let encoded = key.verifying_key().to_encoded_point(false);
        encoded.as_bytes().try_into().unwrap()
    }

    fn sign(key: &SigningKey, digest: &[u8; 32]) -> [u8; 64] {
        let sig: Signature = key.sign_prehash(digest).unwrap();
        sig.to_bytes().into()
    }

    fn certificate(root: &SigningKey, counter: &SigningKey, expiry: Date) -> Vec<u8, MAX_CERT> {
        let pk = point(counter);
        let body = encode_body(&CertificateFields {
            role: Role::Counter,
            holder: b"131016",
            name: "千代田区",
            public_key: &pk,
            effective: Date::from_ymd(2026, 4, 1).unwrap(),
            expiry,
            date_accurate: true,
        })
        .unwrap();
        encode_certificate(&body, &sign(root, &body_digest(&body))).unwrap()
    }

    #[test]
    fn dates_parse_and_order() {
        assert_eq!(Date::from_ascii(b"20240229").unwrap().ymd(), (2024, 2, 29));
        assert!(Date::from_ascii(b"20230229").is_none());
        assert!(Date::from_ascii(b"19000229").is_none());
        assert!(Date::from_ascii(b"20000229").is_some());
        assert!(Date::from_ascii(b"20261301").is_none());
        assert!(Date::from_ascii(b"2026010").is_none());
        assert!(Date::from_ascii(b"2026-1-1").is_none());
        assert_eq!(
            &Date::from_ymd(2031, 3, 31).unwrap().to_ascii(),
            b"20310331"
        );
        assert!(Date::from_ymd(2026, 1, 2) > Date::from_ymd(2025, 12, 31));
    }

    #[test]
    fn certificate_round_trip_and_verification() {
        let (root, counter) = (key(1), key(2));
        let today = Date::from_ymd(2027, 1, 1).unwrap();
        let cert = certificate(&root, &counter, Date::from_ymd(2031, 3, 31).unwrap());
        let parsed = parse(&cert).unwrap();
        assert_eq!(parsed.role, Role::Counter);
        assert_eq!(parsed.holder, b"131016");
        assert_eq!(parsed.name, "千代田区");
        assert_eq!(parsed.public_key, &point(&counter));
        parsed
            .verify(Role::Counter, root.verifying_key(), today)
            .unwrap();
        assert_eq!(
            parsed.verify(Role::Counter, key(3).verifying_key(), today),
            Err(CvcError::BadSignature)
        );
        let later = Date::from_ymd(2031, 4, 1).unwrap();
        assert_eq!(
            parsed.verify(Role::Counter, root.verifying_key(), later),
            Err(CvcError::Expired)
        );
        // A counter certificate is no card certificate.
        assert_eq!(
            parsed.verify(Role::Card, root.verifying_key(), today),
            Err(CvcError::WrongRole)
        );
    }

    #[test]
    fn altered_certificate_is_refused() {
        let (root, counter) = (key(1), key(2));
        let cert = certificate(&root, &counter, Date::from_ymd(2031, 3, 31).unwrap());
        // Change one byte of the municipality code: still well-formed, signature broken.
        let pos = cert.windows(6).position(|w| w == b"131016").unwrap();
        let mut forged = cert.clone();
        forged[pos + 5] = b'7';
        let parsed = parse(&forged).unwrap();
        assert_eq!(
            parsed.verify_signature(root.verifying_key()),
            Err(CvcError::BadSignature)
        );
        // Truncation and trailing bytes are malformed.
        assert_eq!(
            parse(&cert[..cert.len() - 1]).err(),
            Some(CvcError::Malformed)
        );
        let mut trailing = cert.clone();
        trailing.push(0).unwrap();
        assert_eq!(parse(&trailing).err(), Some(CvcError::Malformed));
    }

    #[test]
    fn auth_data_checks_the_challenge_signature() {
        let (root, counter) = (key(1), key(2));
        let today = Date::from_ymd(2027, 1, 1).unwrap();
        let cert = certificate(&root, &counter, Date::from_ymd(2031, 3, 31).unwrap());
        let challenge = [7u8; CHALLENGE_LEN];
        let eph = crate::keys::public_key(&[3u8; 32], None).unwrap();
        let other_eph = crate::keys::public_key(&[4u8; 32], None).unwrap();
        let data =
            encode_auth_data(&cert, &eph, &sign(&counter, &auth_digest(&challenge, &eph))).unwrap();
        let ok = verify_auth(&data, root.verifying_key(), today, &challenge).unwrap();
        assert_eq!(ok.cert.holder, b"131016");
        assert_eq!(ok.ephemeral, &eph[..]);
        // Another challenge (a replay), or a signature by another key, is refused.
        assert_eq!(
            verify_auth(&data, root.verifying_key(), today, &[8u8; CHALLENGE_LEN]).err(),
            Some(CvcError::BadSignature)
        );
        let wrong =
            encode_auth_data(&cert, &eph, &sign(&root, &auth_digest(&challenge, &eph))).unwrap();
        assert_eq!(
            verify_auth(&wrong, root.verifying_key(), today, &challenge).err(),
            Some(CvcError::BadSignature)
        );
        // The ephemeral key is covered by the signature: another one is refused.
        let swapped = encode_auth_data(
            &cert,
            &other_eph,
            &sign(&counter, &auth_digest(&challenge, &eph)),
        )
        .unwrap();
        assert_eq!(
            verify_auth(&swapped, root.verifying_key(), today, &challenge).err(),
            Some(CvcError::BadSignature)
        );
        // A certificate from a foreign root is refused even with a good challenge signature.
        let foreign = certificate(&key(9), &counter, Date::from_ymd(2031, 3, 31).unwrap());
        let data = encode_auth_data(
            &foreign,
            &eph,
            &sign(&counter, &auth_digest(&challenge, &eph)),
        )
        .unwrap();
        assert_eq!(
            verify_auth(&data, root.verifying_key(), today, &challenge).err(),
            Some(CvcError::BadSignature)
        );
    }

    #[test]
    fn encoding_refuses_bad_fields() {
        let pk = point(&key(2));
        let good = CertificateFields {
            role: Role::Counter,
            holder: b"131016",
            name: "千代田区",
            public_key: &pk,
            effective: Date::from_ymd(2026, 4, 1).unwrap(),
            expiry: Date::from_ymd(2031, 3, 31).unwrap(),
            date_accurate: true,
        };
        assert!(encode_body(&good).is_ok());
        let bad_code = CertificateFields {
            holder: b"13101A",
            ..good
        };
        assert_eq!(encode_body(&bad_code).err(), Some(CvcError::Malformed));
        // A card's holder is its serial; a municipality code is no serial of the counter role.
        let card = CertificateFields {
            role: Role::Card,
            holder: b"JK0000000001",
            ..good
        };
        assert!(encode_body(&card).is_ok());
        for bad in [&b""[..], b"jk01", b"JK 01", b"JK00000000000000X"] {
            let bad_serial = CertificateFields {
                holder: bad,
                ..card
            };
            assert_eq!(encode_body(&bad_serial).err(), Some(CvcError::Malformed));
        }
        let serial_as_counter = CertificateFields {
            holder: b"JK0000000001",
            ..good
        };
        assert_eq!(
            encode_body(&serial_as_counter).err(),
            Some(CvcError::Malformed)
        );
        let bad_key = CertificateFields {
            public_key: &pk[..64],
            ..good
        };
        assert_eq!(encode_body(&bad_key).err(), Some(CvcError::Malformed));
        let backwards = CertificateFields {
            expiry: Date::from_ymd(2026, 3, 31).unwrap(),
            ..good
        };
        assert_eq!(encode_body(&backwards).err(), Some(CvcError::Malformed));
    }

    fn card_certificate(root: &SigningKey, card: &SigningKey) -> Vec<u8, MAX_CERT> {
        let pk = point(card);
        let body = encode_body(&CertificateFields {
            role: Role::Card,
            holder: b"JK0000000001",
            name: "住民基本台帳カード",
            public_key: &pk,
            effective: Date::from_ymd(2026, 4, 1).unwrap(),
            expiry: Date::from_ymd(2046, 3, 31).unwrap(),
            date_accurate: true,
        })
        .unwrap();
        encode_certificate(&body, &sign(root, &body_digest(&body))).unwrap()
    }

    /// The card's answer as the card builds it: certificate, ephemeral key, LCS, signature.
    fn answer(
        card: &SigningKey,
        cert: &[u8],
        eph: &[u8],
        challenge: &[u8],
        data: &[u8],
    ) -> Vec<u8, 600> {
        let mut out: Vec<u8, 600> = Vec::from_slice(cert).unwrap();
        encode_point(&mut out, eph).unwrap();
        encode_lcs(&mut out, 0x05).unwrap();
        let digest = card_auth_digest(challenge, data, &out);
        encode_signature(&mut out, &sign(card, &digest)).unwrap();
        out
    }

    #[test]
    fn card_answer_binds_the_card_the_challenge_and_the_counter() {
        let (root, card) = (key(1), key(5));
        let today = Date::from_ymd(2027, 1, 1).unwrap();
        let cert = card_certificate(&root, &card);
        let eph = crate::keys::public_key(&[3u8; 32], None).unwrap();
        let challenge = [7u8; CHALLENGE_LEN];
        let data = [0xAAu8; 40];
        let ok = answer(&card, &cert, &eph, &challenge, &data);
        let parsed =
            verify_card_answer(&ok, root.verifying_key(), today, &challenge, &data).unwrap();
        assert_eq!(parsed.cert.holder, b"JK0000000001");
        assert_eq!(parsed.lcs, 0x05);
        assert_eq!(parsed.ephemeral, &eph[..]);
        let verify = |answer: &[u8], challenge: &[u8], data: &[u8]| {
            verify_card_answer(answer, root.verifying_key(), today, challenge, data).err()
        };
        // Another challenge (a replay), another counter message (a relay to another counter).
        assert_eq!(verify(&ok, &[8u8; 16], &data), Some(CvcError::BadSignature));
        assert_eq!(
            verify(&ok, &challenge, &[0xAB; 40]),
            Some(CvcError::BadSignature)
        );
        // A substituted ephemeral key or life cycle byte.
        let other = crate::keys::public_key(&[4u8; 32], None).unwrap();
        let mut swapped = ok.clone();
        let at = swapped.windows(65).position(|w| w == eph).unwrap();
        swapped[at..at + 65].copy_from_slice(&other);
        assert_eq!(
            verify(&swapped, &challenge, &data),
            Some(CvcError::BadSignature)
        );
        let mut lcs = ok.clone();
        let at = cert.len() + 70 + 2;
        assert_eq!(lcs[at], 0x05);
        lcs[at] = 0x04;
        assert_eq!(
            verify(&lcs, &challenge, &data),
            Some(CvcError::BadSignature)
        );
        // Signed by a key the certificate does not hold; a certificate of another root; a
        // counter's certificate in the card's place.
        let forged = answer(&key(6), &cert, &eph, &challenge, &data);
        assert_eq!(
            verify(&forged, &challenge, &data),
            Some(CvcError::BadSignature)
        );
        let foreign = answer(
            &card,
            &card_certificate(&key(9), &card),
            &eph,
            &challenge,
            &data,
        );
        assert_eq!(
            verify(&foreign, &challenge, &data),
            Some(CvcError::BadSignature)
        );
        let counter_cert = certificate(&root, &card, Date::from_ymd(2031, 3, 31).unwrap());
        let role = answer(&card, &counter_cert, &eph, &challenge, &data);
        assert_eq!(verify(&role, &challenge, &data), Some(CvcError::WrongRole));
        // And a card certificate is no counter certificate.
        let auth =
            encode_auth_data(&cert, &eph, &sign(&card, &auth_digest(&challenge, &eph))).unwrap();
        assert_eq!(
            verify_auth(&auth, root.verifying_key(), today, &challenge).err(),
            Some(CvcError::WrongRole)
        );
        // The certificate's root signature checked before (`None`): role, expiry and the
        // card's signature over this exchange are still checked.
        fn parts(answer: &[u8]) -> CardAnswerParts<'_> {
            parse_card_answer(answer).unwrap()
        }
        let later = Date::from_ymd(2046, 4, 1).unwrap();
        assert!(parts(&ok).verify(None, today, &challenge, &data).is_ok());
        assert_eq!(
            parts(&ok).verify(None, later, &challenge, &data).err(),
            Some(CvcError::Expired)
        );
        assert_eq!(
            parts(&forged).verify(None, today, &challenge, &data).err(),
            Some(CvcError::BadSignature)
        );
        assert_eq!(
            parts(&ok).verify(None, today, &[8u8; 16], &data).err(),
            Some(CvcError::BadSignature)
        );
        assert_eq!(
            parts(&role).verify(None, today, &challenge, &data).err(),
            Some(CvcError::WrongRole)
        );
        // Truncated or with trailing bytes.
        assert!(verify(&ok[..ok.len() - 1], &challenge, &data).is_some());
        let mut long = ok.clone();
        long.push(0).unwrap();
        assert_eq!(verify(&long, &challenge, &data), Some(CvcError::Malformed));
    }
}
