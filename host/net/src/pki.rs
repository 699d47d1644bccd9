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

use std::fs::{self, File};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use const_oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use const_oid::db::rfc5912::{
    ID_CE_BASIC_CONSTRAINTS, ID_CE_EXT_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME,
};
use const_oid::{AssociatedOid, ObjectIdentifier};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::{
    BitString, GeneralizedTime, Ia5String, OctetString, UtcTime, Utf8StringRef,
};
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::der::{Any, DateTime, Decode, DecodePem, Encode, EncodePem, Tag, Tagged};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, Version};

use juki_host::resident::MunicipalityCode;

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

/// The four roles of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleKind {
    /// A municipality's communication server (市町村CS).
    Municipality,
    /// An agency that may ask for 本人確認情報 for its legal purposes.
    Agency,
    /// An administrator of the network.
    Administrator,
    /// The national center's server (指定情報処理機関).
    Server,
}

impl RoleKind {
    /// Every role.
    pub const ALL: [RoleKind; 4] = [
        RoleKind::Municipality,
        RoleKind::Agency,
        RoleKind::Administrator,
        RoleKind::Server,
    ];

    /// As written in the subject's `OU` (and on the command line).
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Municipality => "municipality",
            RoleKind::Agency => "agency",
            RoleKind::Administrator => "administrator",
            RoleKind::Server => "server",
        }
    }

    /// The role written `text`.
    pub fn parse(text: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether the role is the TLS server's (`serverAuth`) rather than a client's.
    pub fn is_server(self) -> bool {
        self == RoleKind::Server
    }
}

impl std::fmt::Display for RoleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's role with its identity: what its certificate says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A municipality, by its 地方公共団体コード.
    Municipality(MunicipalityCode),
    /// An agency, by name, with the legal purposes it may ask for.
    Agency {
        /// The agency's name.
        name: String,
        /// Its legal purposes (at least one, no duplicates).
        purposes: Vec<String>,
    },
    /// An administrator, by name.
    Administrator {
        /// The administrator's name.
        name: String,
    },
    /// The national center's server, by name, with the names it answers to.
    Server {
        /// The server's name.
        name: String,
        /// DNS names in subjectAltName.
        dns_names: Vec<String>,
        /// IP addresses in subjectAltName.
        ip_addresses: Vec<IpAddr>,
    },
}

impl Role {
    /// Which role.
    pub fn kind(&self) -> RoleKind {
        match self {
            Role::Municipality(_) => RoleKind::Municipality,
            Role::Agency { .. } => RoleKind::Agency,
            Role::Administrator { .. } => RoleKind::Administrator,
            Role::Server { .. } => RoleKind::Server,
        }
    }

    /// The identity in the subject's `CN`: the code or the name.
    pub fn identity(&self) -> &str {
        match self {
            Role::Municipality(code) => code.as_str(),
            Role::Agency { name, .. }
            | Role::Administrator { name }
            | Role::Server { name, .. } => name,
        }
    }

    /// An agency's purposes; empty for every other role.
    pub fn purposes(&self) -> &[String] {
        match self {
            Role::Agency { purposes, .. } => purposes,
            _ => &[],
        }
    }

    /// The role of kind `kind` for `identity` (a code or a name), with an agency's `purposes`
    /// and a server's names, checked as [`Role::check`] does. For the command line.
    pub fn from_parts(
        kind: RoleKind,
        identity: &str,
        purposes: Vec<String>,
        dns_names: Vec<String>,
        ip_addresses: Vec<IpAddr>,
    ) -> Result<Role> {
        if kind != RoleKind::Agency && !purposes.is_empty() {
            return Err(PkiError::InvalidInput(format!(
                "only an agency's certificate carries purposes, not a {kind}'s"
            )));
        }
        if kind != RoleKind::Server && !(dns_names.is_empty() && ip_addresses.is_empty()) {
            return Err(PkiError::InvalidInput(format!(
                "only the server's certificate carries DNS names and IP addresses, not a {kind}'s"
            )));
        }
        let role = match kind {
            RoleKind::Municipality => Role::Municipality(
                MunicipalityCode::parse(identity)
                    .map_err(|e| PkiError::InvalidInput(e.to_string()))?,
            ),
            RoleKind::Agency => Role::Agency {
                name: identity.to_string(),
                purposes,
            },
            RoleKind::Administrator => Role::Administrator {
                name: identity.to_string(),
            },
            RoleKind::Server => Role::Server {
                name: identity.to_string(),
                dns_names,
                ip_addresses,
            },
        };
        role.check()?;
        Ok(role)
    }

    /// Checks what a certificate can carry: names of 1 to [`MAX_IDENTITY_CHARS`] characters
    /// without control characters; an agency's 1 to [`MAX_PURPOSES`] distinct purposes of at
    /// most [`MAX_PURPOSE_CHARS`] characters; at least one DNS name or IP address for the server.
    pub fn check(&self) -> Result<()> {
        check_text("the identity", self.identity(), MAX_IDENTITY_CHARS)?;
        match self {
            Role::Agency { purposes, .. } => {
                if purposes.is_empty() || purposes.len() > MAX_PURPOSES {
                    return Err(PkiError::InvalidInput(format!(
                        "an agency's certificate names 1 to {MAX_PURPOSES} legal purposes \
                         (e.g. 年金・恩給の現況確認), not {}",
                        purposes.len()
                    )));
                }
                for (i, p) in purposes.iter().enumerate() {
                    check_text("a purpose", p, MAX_PURPOSE_CHARS)?;
                    if purposes[..i].contains(p) {
                        return Err(PkiError::InvalidInput(format!(
                            "the purpose \"{p}\" is given twice"
                        )));
                    }
                }
            }
            Role::Server {
                dns_names,
                ip_addresses,
                ..
            } => {
                if dns_names.is_empty() && ip_addresses.is_empty() {
                    return Err(PkiError::InvalidInput(
                        "the server's certificate needs at least one DNS name or IP address \
                         (e.g. localhost, 127.0.0.1)"
                            .into(),
                    ));
                }
                for dns in dns_names {
                    if dns.is_empty()
                        || dns.len() > 253
                        || !dns
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                    {
                        return Err(PkiError::InvalidInput(format!(
                            "\"{dns}\" is not a DNS name"
                        )));
                    }
                }
            }
            Role::Municipality(_) | Role::Administrator { .. } => {}
        }
        Ok(())
    }
}

/// A name that goes into a certificate: 1 to `max` characters, no control characters, no
/// space at either end.
fn check_text(what: &str, value: &str, max: usize) -> Result<()> {
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(PkiError::InvalidInput(format!(
            "{what} must be 1 to {max} characters long, not {chars}: \"{value}\""
        )));
    }
    if value.chars().any(char::is_control) || value.trim() != value {
        return Err(PkiError::InvalidInput(format!(
            "{what} must not contain control characters or begin or end with a space: \
                 {value:?}"
        )));
    }
    Ok(())
}

/// A node certificate read back: the role it names and its serial number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCertificate {
    /// The role and identity.
    pub role: Role,
    /// The serial number, upper-case hex of its bytes.
    pub serial: String,
    /// notBefore, unix time.
    pub not_before: i64,
    /// notAfter, unix time.
    pub not_after: i64,
}

impl NodeCertificate {
    /// Reads the role and identity of a DER certificate, refusing anything that is not exactly
    /// a node certificate of the profile (module documentation). It does not verify the
    /// signature or the validity: that is the TLS stack's job before this is asked.
    pub fn from_der(der: &[u8]) -> Result<NodeCertificate> {
        let cert = Certificate::from_der(der)
            .map_err(|e| profile_err(format!("not an X.509 certificate: {e}")))?;
        NodeCertificate::from_certificate(&cert)
    }

    /// As [`NodeCertificate::from_der`], for a decoded certificate.
    pub fn from_certificate(cert: &Certificate) -> Result<NodeCertificate> {
        let tbs = &cert.tbs_certificate;
        let (org, unit, cn) = subject_parts(&tbs.subject)?;
        if org != NETWORK_ORG {
            return Err(profile_err(format!(
                "the subject's organisation is \"{org}\", not \"{NETWORK_ORG}\""
            )));
        }
        let kind = RoleKind::parse(&unit)
            .ok_or_else(|| profile_err(format!("unknown role \"{unit}\"")))?;
        let exts = tbs.extensions.as_deref().unwrap_or(&[]);
        for (i, e) in exts.iter().enumerate() {
            if exts[..i].iter().any(|o| o.extn_id == e.extn_id) {
                return Err(profile_err(format!("the extension {} twice", e.extn_id)));
            }
        }
        let find = |oid: ObjectIdentifier| exts.iter().find(|e| e.extn_id == oid);

        // The extended key usage must fit the role.
        let eku = find(ID_CE_EXT_KEY_USAGE)
            .ok_or_else(|| profile_err("no extended key usage"))
            .and_then(|e| {
                ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
                    .map_err(|e| profile_err(format!("extended key usage: {e}")))
            })?;
        let wanted = if kind.is_server() {
            ID_KP_SERVER_AUTH
        } else {
            ID_KP_CLIENT_AUTH
        };
        if eku.0 != [wanted] {
            return Err(profile_err(format!(
                "a {kind}'s extended key usage must be {} alone",
                if kind.is_server() {
                    "serverAuth"
                } else {
                    "clientAuth"
                }
            )));
        }
        if let Some(bc) = find(ID_CE_BASIC_CONSTRAINTS) {
            let bc = BasicConstraints::from_der(bc.extn_value.as_bytes())
                .map_err(|e| profile_err(format!("basic constraints: {e}")))?;
            if bc.ca {
                return Err(profile_err("a CA certificate is not a node's"));
            }
        }

        let purposes = match find(OID_PURPOSES) {
            None => None,
            Some(e) => {
                if e.critical {
                    return Err(profile_err("the purposes extension must not be critical"));
                }
                Some(decode_purposes(e.extn_value.as_bytes())?)
            }
        };
        if kind != RoleKind::Agency && purposes.is_some() {
            return Err(profile_err(format!(
                "a {kind}'s certificate carries purposes"
            )));
        }
        let role = match kind {
            RoleKind::Municipality => Role::Municipality(
                MunicipalityCode::parse(&cn).map_err(|e| profile_err(e.to_string()))?,
            ),
            RoleKind::Agency => Role::Agency {
                name: cn,
                purposes: purposes
                    .ok_or_else(|| profile_err("an agency's certificate names no purposes"))?,
            },
            RoleKind::Administrator => Role::Administrator { name: cn },
            RoleKind::Server => {
                let (dns_names, ip_addresses) = match find(ID_CE_SUBJECT_ALT_NAME) {
                    Some(e) => alt_names(e)?,
                    None => (Vec::new(), Vec::new()),
                };
                Role::Server {
                    name: cn,
                    dns_names,
                    ip_addresses,
                }
            }
        };
        role.check().map_err(|e| profile_err(e.to_string()))?;
        Ok(NodeCertificate {
            role,
            serial: serial_text(&tbs.serial_number),
            not_before: unix_of(&tbs.validity.not_before),
            not_after: unix_of(&tbs.validity.not_after),
        })
    }
}

/// The subject's `O`, `OU` and `CN`: exactly one each, each alone in its RDN, as UTF8String,
/// and nothing else.
fn subject_parts(name: &Name) -> Result<(String, String, String)> {
    match subject_attributes(name, &[OID_ORG, OID_ORG_UNIT, OID_COMMON_NAME])?.as_slice() {
        [Some(o), Some(u), Some(c)] => Ok((o.clone(), u.clone(), c.clone())),
        [_, None, _] => Err(profile_err("no role (OU) in the subject")),
        [None, _, _] => Err(profile_err("no organisation (O) in the subject")),
        _ => Err(profile_err("no identity (CN) in the subject")),
    }
}

/// The values of the attributes `allowed` in a subject, in that order: each at most once,
/// alone in its RDN, a UTF8String; any other attribute is refused.
fn subject_attributes(name: &Name, allowed: &[ObjectIdentifier]) -> Result<Vec<Option<String>>> {
    let mut values = vec![None; allowed.len()];
    for rdn in name.0.iter() {
        let attrs = rdn.0.as_slice();
        let [atv] = attrs else {
            return Err(profile_err("a multi-valued name component in the subject"));
        };
        let slot = allowed
            .iter()
            .position(|oid| *oid == atv.oid)
            .and_then(|i| values.get_mut(i))
            .ok_or_else(|| {
                profile_err(format!(
                    "an unexpected attribute {} in the subject",
                    atv.oid
                ))
            })?;
        if slot.is_some() {
            return Err(profile_err(format!(
                "the attribute {} twice in the subject (two roles or two identities)",
                atv.oid
            )));
        }
        if atv.value.tag() != Tag::Utf8String {
            return Err(profile_err(format!(
                "the attribute {} is not a UTF8String",
                atv.oid
            )));
        }
        let text = atv
            .value
            .decode_as::<Utf8StringRef<'_>>()
            .map_err(|e| profile_err(format!("the attribute {}: {e}", atv.oid)))?;
        *slot = Some(text.as_str().to_string());
    }
    Ok(values)
}

fn decode_purposes(der: &[u8]) -> Result<Vec<String>> {
    let list = Vec::<String>::from_der(der)
        .map_err(|e| profile_err(format!("the purposes extension: {e}")))?;
    Ok(list)
}

fn alt_names(e: &Extension) -> Result<(Vec<String>, Vec<IpAddr>)> {
    let san = SubjectAltName::from_der(e.extn_value.as_bytes())
        .map_err(|e| profile_err(format!("subjectAltName: {e}")))?;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in san.0 {
        match name {
            GeneralName::DnsName(d) => dns.push(d.to_string()),
            GeneralName::IpAddress(ip) => {
                let b = ip.as_bytes();
                let ip = match b.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(b).unwrap_or_default()),
                    16 => IpAddr::from(<[u8; 16]>::try_from(b).unwrap_or_default()),
                    n => return Err(profile_err(format!("an IP address of {n} bytes"))),
                };
                ips.push(ip);
            }
            _ => return Err(profile_err("a subjectAltName other than DNS or IP")),
        }
    }
    Ok((dns, ips))
}

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

/// The purposes extension's value (DER `SEQUENCE OF UTF8String`).
struct Purposes<'a>(&'a [String]);

impl AssociatedOid for Purposes<'_> {
    const OID: ObjectIdentifier = OID_PURPOSES;
}

impl Encode for Purposes<'_> {
    fn encoded_len(&self) -> x509_cert::der::Result<x509_cert::der::Length> {
        self.0.to_vec().encoded_len()
    }
    fn encode(&self, writer: &mut impl x509_cert::der::Writer) -> x509_cert::der::Result<()> {
        self.0.to_vec().encode(writer)
    }
}

impl AsExtension for Purposes<'_> {
    fn critical(&self, _subject: &Name, _extensions: &[Extension]) -> bool {
        // Non-critical: a TLS stack that does not know the OID must still accept the
        // certificate (webpki refuses unknown critical extensions).
        false
    }
}

fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
        parameters: None,
    }
}

fn spki_of(key: &VerifyingKey) -> Result<SubjectPublicKeyInfoOwned> {
    SubjectPublicKeyInfoOwned::from_key(*key).map_err(builder_err)
}

/// One certificate in the CA's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Serial number, upper-case hex.
    pub serial: String,
    /// The role.
    pub role: RoleKind,
    /// The identity (code or name).
    pub identity: String,
    /// An agency's purposes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purposes: Vec<String>,
    /// A municipality's 電子公印 (seal) certificate, not a node certificate ([`seal`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seal: bool,
    /// notBefore, unix time.
    pub not_before: i64,
    /// notAfter, unix time.
    pub not_after: i64,
    /// When it was issued, unix time.
    pub issued_at: i64,
    /// When it was revoked, unix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// A certificate just built by [`NetworkCa::certify`].
struct Issued {
    serial: String,
    not_before: i64,
    not_after: i64,
    cert: Certificate,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    /// The number of the last CRL issued (0: none yet).
    crl_number: u64,
    certificates: Vec<NodeRecord>,
}

/// The network CA, opened on its directory.
pub struct NetworkCa {
    dir: PathBuf,
    key: SigningKey,
    cert: Certificate,
}

impl std::fmt::Debug for NetworkCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkCa").field("dir", &self.dir).finish()
    }
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

impl NetworkCa {
    /// Makes a new network CA in `dir` (created 0700; refused if it already holds one): a P-256
    /// key, its self-signed certificate valid [`CA_VALID_DAYS`] from `now`, an empty index.
    pub fn init(dir: &Path, now: i64) -> Result<NetworkCa> {
        juki_host::private_dir::create(dir)
            .map_err(|e| PkiError::io(format!("creating {} (0700)", dir.display()), e))?;
        for file in [CA_KEY_FILE, CA_CERT_FILE, INDEX_FILE] {
            if dir.join(file).exists() {
                return Err(PkiError::InvalidInput(format!(
                    "{} already holds a network CA ({file}); refusing to overwrite it",
                    dir.display()
                )));
            }
        }
        let key = SigningKey::random(&mut OsRng);
        let cert = self_signed(&key, now)?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| PkiError::Crypto(format!("encoding the CA key: {e}")))?;
        write_new(&dir.join(CA_KEY_FILE), pem.as_bytes(), true)?;
        let pem = cert
            .to_pem(LineEnding::LF)
            .map_err(crypto("the CA certificate"))?;
        write_new(&dir.join(CA_CERT_FILE), pem.as_bytes(), false)?;
        let index = serde_json::to_vec_pretty(&Index::default())
            .map_err(|e| PkiError::Crypto(format!("the index: {e}")))?;
        write_new(&dir.join(INDEX_FILE), &index, true)?;
        NetworkCa::open(dir)
    }

    /// Opens the network CA in `dir`: its key must be the one its certificate certifies.
    pub fn open(dir: &Path) -> Result<NetworkCa> {
        let key_path = dir.join(CA_KEY_FILE);
        if !key_path.exists() || !dir.join(INDEX_FILE).exists() {
            return Err(PkiError::InvalidInput(format!(
                "{} is not a network CA (no {CA_KEY_FILE} or {INDEX_FILE}); make one with \
                 juki net ca init --dir {}",
                dir.display(),
                dir.display()
            )));
        }
        let pem = zeroize::Zeroizing::new(read_text(&key_path)?);
        let key = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| PkiError::Crypto(format!("{}: {e}", key_path.display())))?;
        let cert_path = dir.join(CA_CERT_FILE);
        let cert = Certificate::from_pem(read_text(&cert_path)?.as_bytes())
            .map_err(|e| PkiError::Crypto(format!("{}: {e}", cert_path.display())))?;
        if cert.tbs_certificate.subject_public_key_info != spki_of(key.verifying_key())? {
            return Err(PkiError::Crypto(format!(
                "{} does not certify the key in {}",
                cert_path.display(),
                key_path.display()
            )));
        }
        Ok(NetworkCa {
            dir: dir.to_path_buf(),
            key,
            cert,
        })
    }

    /// The CA's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The CA certificate, PEM.
    pub fn certificate_pem(&self) -> Result<String> {
        cert_pem(&self.cert)
    }

    /// Runs `f` on the index under the CA's lock, writing it back if `f` says so.
    fn with_index<T>(&self, write: bool, f: impl FnOnce(&mut Index) -> Result<T>) -> Result<T> {
        let lock_path = self.dir.join(LOCK_FILE);
        let lock: File = juki_host::private_dir::open_or_create(&lock_path)
            .map_err(|e| PkiError::io(format!("opening {}", lock_path.display()), e))?;
        lock.lock()
            .map_err(|e| PkiError::io(format!("locking {}", lock_path.display()), e))?;
        let path = self.dir.join(INDEX_FILE);
        let mut index: Index = serde_json::from_str(&read_text(&path)?)
            .map_err(|e| PkiError::Crypto(format!("{}: {e}", path.display())))?;
        let out = f(&mut index)?;
        if write {
            let tmp = self.dir.join(format!("{INDEX_FILE}.new"));
            match fs::remove_file(&tmp) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(PkiError::io(format!("removing {}", tmp.display()), e)),
            }
            let json = serde_json::to_vec_pretty(&index)
                .map_err(|e| PkiError::Crypto(format!("the index: {e}")))?;
            write_new(&tmp, &json, true)?;
            fs::rename(&tmp, &path)
                .map_err(|e| PkiError::io(format!("replacing {}", path.display()), e))?;
        }
        Ok(out)
    }

    /// Every certificate issued, oldest first.
    pub fn records(&self) -> Result<Vec<NodeRecord>> {
        self.with_index(false, |index| Ok(index.certificates.clone()))
    }

    /// One certificate by serial (hex, any case).
    pub fn record(&self, serial: &str) -> Result<Option<NodeRecord>> {
        let serial = serial.trim().to_ascii_uppercase();
        Ok(self.records()?.into_iter().find(|r| r.serial == serial))
    }

    /// Issues a certificate for `role` and the node's `public_key`, valid from `now` for `days`
    /// days (never beyond the CA certificate), and records it.
    pub fn issue(
        &self,
        role: &Role,
        public_key: &VerifyingKey,
        days: u32,
        now: i64,
    ) -> Result<(NodeRecord, Certificate)> {
        role.check()?;
        let kind = role.kind();
        let subject = network_name(kind.as_str(), role.identity())?;
        let eku = if kind.is_server() {
            ID_KP_SERVER_AUTH
        } else {
            ID_KP_CLIENT_AUTH
        };
        let usage = KeyUsage(KeyUsages::DigitalSignature.into());
        let issued = self.certify(
            subject,
            public_key,
            days,
            now,
            usage,
            eku,
            |builder| match role {
                Role::Agency { purposes, .. } => builder
                    .add_extension(&Purposes(purposes))
                    .map_err(builder_err),
                Role::Server {
                    dns_names,
                    ip_addresses,
                    ..
                } => {
                    let mut names = Vec::new();
                    for d in dns_names {
                        names.push(GeneralName::DnsName(
                            Ia5String::new(d).map_err(crypto("a DNS name"))?,
                        ));
                    }
                    for ip in ip_addresses {
                        let bytes = match ip {
                            IpAddr::V4(v4) => v4.octets().to_vec(),
                            IpAddr::V6(v6) => v6.octets().to_vec(),
                        };
                        names.push(GeneralName::IpAddress(
                            OctetString::new(bytes).map_err(crypto("an IP address"))?,
                        ));
                    }
                    builder
                        .add_extension(&SubjectAltName(names))
                        .map_err(builder_err)
                }
                Role::Municipality(_) | Role::Administrator { .. } => Ok(()),
            },
        )?;
        let record = self.remember(&issued, kind, role.identity(), role.purposes(), false, now)?;
        Ok((record, issued.cert))
    }

    /// Records a certificate just issued in the index.
    fn remember(
        &self,
        issued: &Issued,
        role: RoleKind,
        identity: &str,
        purposes: &[String],
        seal: bool,
        now: i64,
    ) -> Result<NodeRecord> {
        let record = NodeRecord {
            serial: issued.serial.clone(),
            role,
            identity: identity.to_string(),
            purposes: purposes.to_vec(),
            seal,
            not_before: issued.not_before,
            not_after: issued.not_after,
            issued_at: now,
            revoked_at: None,
        };
        self.with_index(true, |index| {
            index.certificates.push(record.clone());
            Ok(())
        })?;
        Ok(record)
    }

    /// Builds and signs a certificate of `subject` for `public_key`, valid from `now` for
    /// `days` days (never beyond the CA certificate): basicConstraints `cA=FALSE`, `usage`,
    /// the one extended key usage `eku`, both key identifiers, and what `extra` adds.
    #[allow(clippy::too_many_arguments)]
    fn certify(
        &self,
        subject: Name,
        public_key: &VerifyingKey,
        days: u32,
        now: i64,
        usage: KeyUsage,
        eku: ObjectIdentifier,
        extra: impl FnOnce(&mut CertificateBuilder<'_, SigningKey>) -> Result<()>,
    ) -> Result<Issued> {
        if days == 0 {
            return Err(PkiError::InvalidInput(
                "a certificate is valid for at least one day".into(),
            ));
        }
        let ca_not_after = unix_of(&self.cert.tbs_certificate.validity.not_after);
        let not_before = now;
        let not_after = now.saturating_add(i64::from(days) * DAY).min(ca_not_after);
        if not_after <= not_before {
            return Err(PkiError::InvalidInput(
                "the network CA's certificate has expired: no certificate can be issued".into(),
            ));
        }
        let validity = Validity {
            not_before: x509_time(not_before)?,
            not_after: x509_time(not_after)?,
        };
        let (serial_hex, serial) = random_serial()?;
        let spki = spki_of(public_key)?;
        let issuer_spki = spki_of(self.key.verifying_key())?;
        let mut builder = CertificateBuilder::new(
            Profile::Manual {
                issuer: Some(self.cert.tbs_certificate.subject.clone()),
            },
            serial,
            validity,
            subject,
            spki.clone(),
            &self.key,
        )
        .map_err(builder_err)?;
        builder
            .add_extension(&BasicConstraints {
                ca: false,
                path_len_constraint: None,
            })
            .map_err(builder_err)?;
        builder.add_extension(&usage).map_err(builder_err)?;
        builder
            .add_extension(&ExtendedKeyUsage(vec![eku]))
            .map_err(builder_err)?;
        builder
            .add_extension(
                &SubjectKeyIdentifier::try_from(spki.owned_to_ref()).map_err(builder_err)?,
            )
            .map_err(builder_err)?;
        builder
            .add_extension(
                &AuthorityKeyIdentifier::try_from(issuer_spki.owned_to_ref())
                    .map_err(builder_err)?,
            )
            .map_err(builder_err)?;
        extra(&mut builder)?;
        let cert = builder.build::<DerSignature>().map_err(builder_err)?;
        Ok(Issued {
            serial: serial_hex,
            not_before,
            not_after,
            cert,
        })
    }

    /// Generates a P-256 key for a node, issues its certificate ([`NetworkCa::issue`]) and
    /// writes the node's directory `out` (created 0700; refused if it already holds a node):
    /// `node.key` (0600), `node.pem`, `ca.pem`.
    pub fn issue_node(&self, role: &Role, days: u32, now: i64, out: &Path) -> Result<NodeRecord> {
        role.check()?;
        juki_host::private_dir::create(out)
            .map_err(|e| PkiError::io(format!("creating {} (0700)", out.display()), e))?;
        for file in [NODE_KEY_FILE, NODE_CERT_FILE, CA_CERT_FILE] {
            if out.join(file).exists() {
                return Err(PkiError::InvalidInput(format!(
                    "{} already holds a node ({file}); refusing to overwrite it",
                    out.display()
                )));
            }
        }
        let key = SigningKey::random(&mut OsRng);
        let key_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| PkiError::Crypto(format!("encoding the node's key: {e}")))?;
        let (record, cert) = self.issue(role, key.verifying_key(), days, now)?;
        write_new(&out.join(NODE_KEY_FILE), key_pem.as_bytes(), true)?;
        write_new(
            &out.join(NODE_CERT_FILE),
            cert_pem(&cert)?.as_bytes(),
            false,
        )?;
        write_new(
            &out.join(CA_CERT_FILE),
            self.certificate_pem()?.as_bytes(),
            false,
        )?;
        Ok(record)
    }

    /// Revokes the certificate `serial` (hex, any case) at `at`; `false` if it was revoked
    /// already. An unknown serial is an error.
    pub fn revoke(&self, serial: &str, at: i64) -> Result<bool> {
        let serial = serial.trim().to_ascii_uppercase();
        self.with_index(true, |index| {
            let record = index
                .certificates
                .iter_mut()
                .find(|r| r.serial == serial)
                .ok_or_else(|| {
                    PkiError::InvalidInput(format!(
                        "no certificate with serial {serial} was issued by this network CA"
                    ))
                })?;
            if record.revoked_at.is_some() {
                return Ok(false);
            }
            record.revoked_at = Some(at);
            Ok(true)
        })
    }

    /// Issues the CRL: every revoked certificate with its date, `thisUpdate` = `now`,
    /// `nextUpdate` [`CRL_VALID_DAYS`] later, a CRL number one above the last, signed with the
    /// CA's key.
    pub fn crl(&self, now: i64) -> Result<CertificateList> {
        let (number, revoked_records) = self.with_index(true, |index| {
            index.crl_number += 1;
            let revoked: Vec<(String, i64)> = index
                .certificates
                .iter()
                .filter_map(|r| r.revoked_at.map(|at| (r.serial.clone(), at)))
                .collect();
            Ok((index.crl_number, revoked))
        })?;
        let issuer = self.cert.tbs_certificate.subject.clone();
        let mut revoked = Vec::new();
        for (serial, at) in revoked_records {
            let bytes = hex::decode(&serial)
                .map_err(|_| PkiError::Crypto(format!("a bad serial {serial} in the index")))?;
            revoked.push(RevokedCert {
                serial_number: SerialNumber::new(&bytes).map_err(crypto("a serial number"))?,
                revocation_date: x509_time(at)?,
                crl_entry_extensions: None,
            });
        }
        let issuer_spki = spki_of(self.key.verifying_key())?;
        let extensions = vec![
            CrlNumber(
                x509_cert::der::asn1::Uint::new(&number.to_be_bytes())
                    .map_err(crypto("the CRL number"))?,
            )
            .to_extension(&issuer, &[])
            .map_err(crypto("the CRL number"))?,
            AuthorityKeyIdentifier::try_from(issuer_spki.owned_to_ref())
                .map_err(builder_err)?
                .to_extension(&issuer, &[])
                .map_err(crypto("the authority key identifier"))?,
        ];
        let tbs = TbsCertList {
            version: Version::V2,
            signature: ecdsa_sha256(),
            issuer,
            this_update: x509_time(now)?,
            next_update: Some(x509_time(now + i64::from(CRL_VALID_DAYS) * DAY)?),
            revoked_certificates: (!revoked.is_empty()).then_some(revoked),
            crl_extensions: Some(extensions),
        };
        let tbs_der = tbs.to_der().map_err(crypto("the CRL"))?;
        let signature: DerSignature = p256::ecdsa::signature::Signer::sign(&self.key, &tbs_der);
        Ok(CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: ecdsa_sha256(),
            signature: BitString::from_bytes(signature.as_bytes())
                .map_err(crypto("the CRL signature"))?,
        })
    }
}

/// The self-signed CA certificate: `O=住基ネット, OU=ca, CN=住基ネット認証局`.
fn self_signed(key: &SigningKey, now: i64) -> Result<Certificate> {
    let validity = Validity {
        not_before: x509_time(now)?,
        not_after: x509_time(now + i64::from(CA_VALID_DAYS) * DAY)?,
    };
    let spki = spki_of(key.verifying_key())?;
    let (_, serial) = random_serial()?;
    let mut builder = CertificateBuilder::new(
        Profile::Manual { issuer: None },
        serial,
        validity,
        network_name(CA_UNIT, CA_COMMON_NAME)?,
        spki.clone(),
        key,
    )
    .map_err(builder_err)?;
    builder
        .add_extension(&BasicConstraints {
            ca: true,
            path_len_constraint: Some(0),
        })
        .map_err(builder_err)?;
    builder
        .add_extension(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))
        .map_err(builder_err)?;
    builder
        .add_extension(&SubjectKeyIdentifier::try_from(spki.owned_to_ref()).map_err(builder_err)?)
        .map_err(builder_err)?;
    builder.build::<DerSignature>().map_err(builder_err)
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

/// The files of a node's directory, as [`NetworkCa::issue_node`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFiles {
    /// The node's private key, PKCS#8 PEM.
    pub key: PathBuf,
    /// The node's certificate, PEM.
    pub cert: PathBuf,
    /// The network CA's certificate, PEM.
    pub ca: PathBuf,
}

impl NodeFiles {
    /// The files in the node directory `dir`.
    pub fn in_dir(dir: &Path) -> NodeFiles {
        NodeFiles {
            key: dir.join(NODE_KEY_FILE),
            cert: dir.join(NODE_CERT_FILE),
            ca: dir.join(CA_CERT_FILE),
        }
    }
}

pub mod seal;

#[cfg(test)]
mod tests;
