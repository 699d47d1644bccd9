//! A node certificate read back: its profile checked, its subject and extensions parsed; the
//! purposes extension both ways.

use std::net::IpAddr;

use const_oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use const_oid::db::rfc5912::{
    ID_CE_BASIC_CONSTRAINTS, ID_CE_EXT_KEY_USAGE, ID_CE_SUBJECT_ALT_NAME,
};
use const_oid::{AssociatedOid, ObjectIdentifier};
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::der::{Decode, Encode, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::Certificate;

use juki_host::resident::MunicipalityCode;

use super::role::{Role, RoleKind};
use super::{
    profile_err, serial_text, unix_of, Result, NETWORK_ORG, OID_COMMON_NAME, OID_ORG, OID_ORG_UNIT,
    OID_PURPOSES,
};

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
pub(super) fn subject_attributes(
    name: &Name,
    allowed: &[ObjectIdentifier],
) -> Result<Vec<Option<String>>> {
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

pub(super) fn decode_purposes(der: &[u8]) -> Result<Vec<String>> {
    let list = Vec::<String>::from_der(der)
        .map_err(|e| profile_err(format!("the purposes extension: {e}")))?;
    Ok(list)
}

pub(super) fn alt_names(e: &Extension) -> Result<(Vec<String>, Vec<IpAddr>)> {
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

/// The purposes extension's value (DER `SEQUENCE OF UTF8String`).
pub(super) struct Purposes<'a>(pub(super) &'a [String]);

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
