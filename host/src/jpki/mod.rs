//! 公的個人認証サービス (JPKI) on the host: the certification authority, the certificate
//! profile, signed e-applications (CMS), the login answer of the authentication key, and their
//! verification at the receiving agency. docs/jpki.md is the guide.
//!
//! - [`ca`]: the certification authority (`juki jpki ca init`): two CA keys (signing,
//!   authentication), the certificates it issued in its SQLite database, revocation and CRLs.
//! - [`profile`]: what the certificates hold (the 4 info of the signing certificate in
//!   `subjectAltName`, with the OIDs of the real JPKI profile) and how it is read back.
//! - [`validate`]: chain, validity period and CRL checks, shared by every verifier.
//! - [`cms`]: CMS SignedData (RFC 5652) made with the card's signing key, and its verification.
//! - [`auth`]: the authentication key's answer to a relying party's challenge.
//! - [`citizen`]: what the citizen's PC does with the card (sign, answer, read certificates).
//! - [`time`]: certificate times from the host's calendar (`JUKI_TODAY` honoured).

pub mod auth;
pub mod ca;
pub mod citizen;
pub mod cms;
mod error;
pub mod profile;
pub mod time;
pub mod validate;

pub use error::JpkiError;

use crate::card::KeyKind;

/// The two certificates of a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertKind {
    /// 署名用電子証明書: e-applications; carries the 4 info; read after the sign password.
    Sign,
    /// 利用者証明用電子証明書: login; no personal data beyond a serial; free to read.
    Auth,
}

impl CertKind {
    /// Both kinds.
    pub const ALL: [CertKind; 2] = [CertKind::Sign, CertKind::Auth];

    /// `sign` or `auth`, as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::Sign => "sign",
            CertKind::Auth => "auth",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<CertKind> {
        CertKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Its name on municipal pages.
    pub fn japanese(self) -> &'static str {
        match self {
            CertKind::Sign => "署名用電子証明書",
            CertKind::Auth => "利用者証明用電子証明書",
        }
    }

    /// The card key it certifies.
    pub fn key(self) -> KeyKind {
        match self {
            CertKind::Sign => KeyKind::Sign,
            CertKind::Auth => KeyKind::Auth,
        }
    }

    /// The JPKI AP EF holding the certificate.
    pub fn cert_fid(self) -> u16 {
        match self {
            CertKind::Sign => 0x0001,
            CertKind::Auth => 0x000A,
        }
    }

    /// The JPKI AP EF holding its CA certificate.
    pub fn ca_fid(self) -> u16 {
        match self {
            CertKind::Sign => 0x0002,
            CertKind::Auth => 0x000B,
        }
    }

    /// Its bits (certificate and CA certificate) in JPKI EF 0008 (docs/apdu.md).
    pub fn present_bits(self) -> u8 {
        match self {
            CertKind::Auth => 0b0011,
            CertKind::Sign => 0b1100,
        }
    }
}

impl std::fmt::Display for CertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.japanese(), self.as_str())
    }
}

/// JPKI EF 0008 when both certificates and both CA certificates are on the card.
pub const ALL_PRESENT: u8 = 0b1111;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests;
