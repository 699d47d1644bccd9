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
//! - [`migrate`]: schema migrations of the host's SQLite databases (`ca.db`, `counter.db`).
//! - [`time`]: certificate times from the host's calendar (`JUKI_TODAY` honoured).

pub mod auth;
pub mod ca;
pub mod citizen;
pub mod cms;
mod error;
pub mod migrate;
pub mod profile;
pub mod time;
pub mod validate;

pub use error::JpkiError;

pub use juki_host::jpki_files::{CertKind, ALL_PRESENT};

/// Result of the JPKI layer.
pub type Result<T, E = JpkiError> = std::result::Result<T, E>;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests;
