//! The network CA: its directory (init, open), its index, issuing and revoking certificates, its
//! CRLs; and the files of a node's directory.

use std::fs::{self, File};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use const_oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use const_oid::ObjectIdentifier;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::{BitString, Ia5String, OctetString};
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::der::{DecodePem, Encode, EncodePem};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::AsExtension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;
use x509_cert::{Certificate, Version};

use super::node_cert::Purposes;
use super::role::{Role, RoleKind};
use super::{
    builder_err, cert_pem, crypto, network_name, random_serial, read_text, unix_of, write_new,
    x509_time, PkiError, Result, CA_CERT_FILE, CA_COMMON_NAME, CA_KEY_FILE, CA_UNIT, CA_VALID_DAYS,
    CRL_VALID_DAYS, DAY, INDEX_FILE, LOCK_FILE, NODE_CERT_FILE, NODE_KEY_FILE,
};

fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
        parameters: None,
    }
}

pub(super) fn spki_of(key: &VerifyingKey) -> Result<SubjectPublicKeyInfoOwned> {
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
    /// A municipality's 電子公印 (seal) certificate, not a node certificate ([`seal`](super::seal)).
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
pub(super) struct Issued {
    serial: String,
    not_before: i64,
    not_after: i64,
    pub(super) cert: Certificate,
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
    pub(super) key: SigningKey,
    pub(super) cert: Certificate,
}

impl std::fmt::Debug for NetworkCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkCa").field("dir", &self.dir).finish()
    }
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
    pub(super) fn remember(
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
    pub(super) fn certify(
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
