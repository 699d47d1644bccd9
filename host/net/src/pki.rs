//! The network's own PKI: the 住基ネット certification authority (not a public CA, and not the
//! JPKI CA of `juki-jpki`), the node certificates it issues, their revocation and its CRLs.
//!
//! # A node certificate
//!
//! Every node of the network — a municipality's communication server, an agency, an
//! administrator, the national center's server — holds a P-256 key and a certificate of the
//! network CA that names its **role** and its **identity**, one way only:
//!
//! | field | value |
//! |---|---|
//! | subject | `O=住基ネット, OU=<role>, CN=<identity>`, each one RDN of one UTF8String, nothing else |
//! | role (`OU`) | `municipality`, `agency`, `administrator` or `server` ([`RoleKind`]) |
//! | identity (`CN`) | a municipality's 6-digit 地方公共団体コード (check digit verified); an agency's, an administrator's or the server's name |
//! | [`OID_PURPOSES`] | agencies only, non-critical: `SEQUENCE OF UTF8String`, the legal purposes it may ask for (e.g. `年金・恩給の現況確認`), at least one |
//! | extendedKeyUsage | `clientAuth` for municipalities, agencies, administrators; `serverAuth` for the server |
//! | subjectAltName | the server only: its DNS names and IP addresses (e.g. `localhost`, `127.0.0.1`) |
//! | keyUsage | `digitalSignature` (critical); basicConstraints `cA=FALSE` |
//!
//! A certificate that does not follow this exactly (no role, two roles, an unknown role, a bad
//! municipality code, purposes on a node that is not an agency, an agency without purposes, an
//! extended key usage that does not fit the role) is not a node certificate:
//! [`NodeCertificate::from_der`] refuses it.
//!
//! # OIDs
//!
//! The project has no registered Private Enterprise Number. Its private arc is taken under
//! RFC 5612's documentation enterprise number, `1.3.6.1.4.1.32473` ("Example Enterprise Number
//! for Documentation Use"), so that it can never collide with a real assignment; a deployment
//! would move it to its own arc. (`2.25.<UUID>` would need arcs beyond 32 bits, which the
//! `const-oid` in use cannot hold.)
//!
//! | OID | what |
//! |---|---|
//! | `1.3.6.1.4.1.32473.4649` ([`OID_ARC`]) | juki's 住基ネット arc |
//! | `1.3.6.1.4.1.32473.4649.1` ([`OID_PURPOSES`]) | extension: an agency's legal purposes, `SEQUENCE OF UTF8String` |
//!
//! # The CA's directory
//!
//! | file | what |
//! |---|---|
//! | `ca.key` | the CA's private key, PKCS#8 PEM, mode 0600 (the directory 0700) |
//! | `ca.pem` | the self-signed CA certificate: every node's one trust anchor |
//! | `index.json` | every certificate issued (serial, role, identity, validity, revocation) and the last CRL number; rewritten whole (a new file renamed over it) under an exclusive lock of `index.lock` |
//!
//! # A node's directory
//!
//! [`NetworkCa::issue_node`] generates the node's key and writes what a client or server loads
//! ([`NodeFiles`]): `node.key` (PKCS#8 PEM, 0600), `node.pem` (its certificate), `ca.pem` (the
//! network CA's certificate).

use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

use const_oid::ObjectIdentifier;
use p256::pkcs8::LineEnding;
use rand_core::{OsRng, RngCore};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::crl::CertificateList;
use x509_cert::der::asn1::{GeneralizedTime, UtcTime, Utf8StringRef};
use x509_cert::der::{Any, DateTime, Encode, EncodePem};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;
use x509_cert::Certificate;

/// juki's private arc for 住基ネット (see the module documentation: RFC 5612's documentation
/// enterprise number).
pub const OID_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.4649");
/// Extension (non-critical): an agency's legal purposes, `SEQUENCE OF UTF8String`.
pub const OID_PURPOSES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.4649.1");

const OID_ORG: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_ORG_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// The organisation of every name in the network (subject `O`).
pub const NETWORK_ORG: &str = "住基ネット";
/// The CA's organisational unit (never a node's role).
pub const CA_UNIT: &str = "ca";
/// The CA's common name.
pub const CA_COMMON_NAME: &str = "住基ネット認証局";

/// File names in the CA's directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// The CA certificate (in the CA's directory and in every node's).
pub const CA_CERT_FILE: &str = "ca.pem";
/// The index of certificates issued.
pub const INDEX_FILE: &str = "index.json";
const LOCK_FILE: &str = "index.lock";
/// A node's private key in its directory.
pub const NODE_KEY_FILE: &str = "node.key";
/// A node's certificate in its directory.
pub const NODE_CERT_FILE: &str = "node.pem";

/// Days a node certificate is valid unless the caller says otherwise.
pub const DEFAULT_NODE_DAYS: u32 = 365;
/// Days the CA certificate is valid.
pub const CA_VALID_DAYS: u32 = 20 * 365;
/// Days between a CRL's thisUpdate and nextUpdate.
pub const CRL_VALID_DAYS: u32 = 7;
/// Longest identity (RFC 5280's upper bound of a common name).
pub const MAX_IDENTITY_CHARS: usize = 64;
/// Longest purpose.
pub const MAX_PURPOSE_CHARS: usize = 128;
/// Most purposes in one certificate.
pub const MAX_PURPOSES: usize = 32;

const DAY: i64 = 86_400;

/// What went wrong in the network PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file or directory could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The system's error.
        source: io::Error,
    },
    /// The caller's input is not acceptable (an identity, a purpose, a serial, a directory).
    #[error("{0}")]
    InvalidInput(String),
    /// A certificate is not a node certificate of this network (its profile).
    #[error("not a 住基ネット node certificate: {0}")]
    NotANodeCertificate(String),
    /// Encoding or decoding a key, certificate or CRL failed, or the CA's files disagree.
    #[error("{0}")]
    Crypto(String),
}

impl PkiError {
    fn io(what: impl Into<String>, source: io::Error) -> PkiError {
        PkiError::Io {
            what: what.into(),
            source,
        }
    }
}

fn crypto(what: &str) -> impl Fn(x509_cert::der::Error) -> PkiError + '_ {
    move |e| PkiError::Crypto(format!("{what}: {e}"))
}

fn builder_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Crypto(format!("building a certificate: {e}"))
}

fn profile_err(what: impl Into<String>) -> PkiError {
    PkiError::NotANodeCertificate(what.into())
}

/// The result of this module.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;

/// A serial number as the index writes it: upper-case hex of its bytes.
pub fn serial_text(serial: &SerialNumber) -> String {
    hex::encode_upper(serial.as_bytes())
}

fn random_serial() -> Result<(String, SerialNumber)> {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    // Positive and always 16 bytes (no leading zero byte to drop).
    bytes[0] = (bytes[0] & 0x7F) | 0x40;
    let serial = SerialNumber::new(&bytes).map_err(crypto("a serial number"))?;
    Ok((hex::encode_upper(bytes), serial))
}

/// An X.509 time for unix time `secs`: UTCTime up to 2049, GeneralizedTime from 2050.
pub fn x509_time(secs: i64) -> Result<Time> {
    let unix = u64::try_from(secs)
        .map(Duration::from_secs)
        .map_err(|_| PkiError::InvalidInput("a time before 1970".into()))?;
    let dt = DateTime::from_unix_duration(unix).map_err(crypto("a time"))?;
    Ok(if dt.year() < 2050 {
        Time::UtcTime(UtcTime::from_date_time(dt).map_err(crypto("a time"))?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_date_time(dt))
    })
}

fn unix_of(time: &Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Now, unix time.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn rdn(oid: ObjectIdentifier, value: &str) -> Result<RelativeDistinguishedName> {
    let value = Any::encode_from(&Utf8StringRef::new(value).map_err(crypto("a name"))?)
        .map_err(crypto("a name"))?;
    RelativeDistinguishedName::try_from(vec![AttributeTypeAndValue { oid, value }])
        .map_err(crypto("a name"))
}

/// A name `O=住基ネット, OU=<unit>, CN=<cn>`, most significant first.
pub fn network_name(unit: &str, cn: &str) -> Result<Name> {
    Ok(RdnSequence(vec![
        rdn(OID_ORG, NETWORK_ORG)?,
        rdn(OID_ORG_UNIT, unit)?,
        rdn(OID_COMMON_NAME, cn)?,
    ]))
}

fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<()> {
    if private {
        juki_host::private_dir::write_new(path, contents)
    } else {
        juki_host::private_dir::write_new_public(path, contents)
    }
    .map_err(|e| PkiError::io(format!("writing {}", path.display()), e))
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| PkiError::io(format!("reading {}", path.display()), e))
}

/// PEM label of a CRL (RFC 7468).
pub const CRL_PEM_LABEL: &str = "X509 CRL";

/// PEM of a CRL (`X509 CRL`).
pub fn crl_pem(crl: &CertificateList) -> Result<String> {
    let der = crl.to_der().map_err(crypto("the CRL"))?;
    x509_cert::der::pem::encode_string(CRL_PEM_LABEL, LineEnding::LF, &der)
        .map_err(|e| PkiError::Crypto(format!("the CRL: {e}")))
}

/// PEM of a certificate.
pub fn cert_pem(cert: &Certificate) -> Result<String> {
    cert.to_pem(LineEnding::LF).map_err(crypto("a certificate"))
}

mod ca;
mod node_cert;
mod role;
pub mod seal;

pub use ca::{NetworkCa, NodeFiles, NodeRecord};
use node_cert::subject_attributes;
pub use node_cert::NodeCertificate;
use role::check_text;
pub use role::{Role, RoleKind};

#[cfg(test)]
mod tests;
