//! A municipality's 電子公印 (official electronic seal): the key with which it certifies the
//! documents it issues — the 住民票の写し of a 広域交付 ([`crate::copy`]) — and its certificate
//! from the network CA.
//!
//! It is a key of its own, not the municipality's node (TLS) key: a document's signature never
//! rests on a key that also answers TLS handshakes, and neither certificate is accepted for the
//! other's use (the extended key usage differs; [`SealCertificate::from_certificate`] and
//! [`super::NodeCertificate::from_certificate`] each refuse the other).
//!
//! | field | value |
//! |---|---|
//! | subject | `O=住基ネット, OU=seal, L=<the municipality's name>, CN=<地方公共団体コード>`, each one RDN of one UTF8String |
//! | keyUsage | `digitalSignature`, `nonRepudiation` (critical) |
//! | extendedKeyUsage | `id-kp-documentSigning` (RFC 9336) alone |
//! | basicConstraints | `cA=FALSE` |
//!
//! In the municipality's node directory: `seal.key` (PKCS#8 PEM, 0600) and `seal.pem`, beside
//! `node.key`, `node.pem` and `ca.pem`.

use std::path::Path;

use const_oid::db::rfc5912::{ID_CE_BASIC_CONSTRAINTS, ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE};
use const_oid::ObjectIdentifier;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::OsRng;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::name::RdnSequence;
use x509_cert::Certificate;

use super::{
    cert_pem, check_text, profile_err, rdn, read_text, serial_text, subject_attributes, unix_of,
    write_new, NetworkCa, NodeRecord, PkiError, Result, RoleKind, CA_CERT_FILE, MAX_IDENTITY_CHARS,
    NETWORK_ORG, OID_COMMON_NAME, OID_ORG, OID_ORG_UNIT,
};
use juki_host::resident::MunicipalityCode;

/// `id-kp-documentSigning` (RFC 9336).
pub const OID_KP_DOCUMENT_SIGNING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.36");
/// The subject's `OU` of a seal certificate.
pub const SEAL_UNIT: &str = "seal";
/// The seal's private key in a municipality's node directory.
pub const SEAL_KEY_FILE: &str = "seal.key";
/// The seal's certificate in a municipality's node directory.
pub const SEAL_CERT_FILE: &str = "seal.pem";

const OID_LOCALITY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");

/// A seal certificate read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealCertificate {
    /// The municipality whose seal it is.
    pub municipality: MunicipalityCode,
    /// Its name, as the certificate gives it (e.g. `大阪市北区`).
    pub name: String,
    /// The serial number, upper-case hex.
    pub serial: String,
    /// notBefore, unix time.
    pub not_before: i64,
    /// notAfter, unix time.
    pub not_after: i64,
}

impl SealCertificate {
    /// Reads a seal certificate, refusing anything that does not follow the profile (module
    /// documentation) exactly — a node certificate among them. It does not verify the
    /// signature, the validity or revocation: `juki_jpki::validate::check_chain` does.
    pub fn from_certificate(cert: &Certificate) -> Result<SealCertificate> {
        let tbs = &cert.tbs_certificate;
        let values = subject_attributes(
            &tbs.subject,
            &[OID_ORG, OID_ORG_UNIT, OID_LOCALITY, OID_COMMON_NAME],
        )?;
        let [Some(org), Some(unit), Some(name), Some(code)] = values.as_slice() else {
            return Err(profile_err(
                "a seal certificate's subject is O, OU, L and CN, each once",
            ));
        };
        if org != NETWORK_ORG || unit != SEAL_UNIT {
            return Err(profile_err(format!(
                "the subject is O={org}, OU={unit}: not a seal (O={NETWORK_ORG}, OU={SEAL_UNIT})"
            )));
        }
        let municipality = MunicipalityCode::parse(code).map_err(|e| profile_err(e.to_string()))?;
        check_text("the municipality's name", name, MAX_IDENTITY_CHARS)
            .map_err(|e| profile_err(e.to_string()))?;
        let exts = tbs.extensions.as_deref().unwrap_or(&[]);
        let only = |oid: ObjectIdentifier| {
            let mut found = exts.iter().filter(|e| e.extn_id == oid);
            match (found.next(), found.next()) {
                (Some(e), None) => Ok(e),
                (None, _) => Err(profile_err(format!("no extension {oid}"))),
                (Some(_), Some(_)) => Err(profile_err(format!("the extension {oid} twice"))),
            }
        };
        let eku = ExtendedKeyUsage::from_der(only(ID_CE_EXT_KEY_USAGE)?.extn_value.as_bytes())
            .map_err(|e| profile_err(format!("extended key usage: {e}")))?;
        if eku.0 != [OID_KP_DOCUMENT_SIGNING] {
            return Err(profile_err(
                "a seal's extended key usage must be documentSigning alone",
            ));
        }
        let usage = KeyUsage::from_der(only(ID_CE_KEY_USAGE)?.extn_value.as_bytes())
            .map_err(|e| profile_err(format!("key usage: {e}")))?;
        if !(usage.0.contains(KeyUsages::DigitalSignature)
            && usage.0.contains(KeyUsages::NonRepudiation))
        {
            return Err(profile_err(
                "a seal's key usage must include digitalSignature and nonRepudiation",
            ));
        }
        let bc = BasicConstraints::from_der(only(ID_CE_BASIC_CONSTRAINTS)?.extn_value.as_bytes())
            .map_err(|e| profile_err(format!("basic constraints: {e}")))?;
        if bc.ca {
            return Err(profile_err("a CA certificate is not a seal"));
        }
        Ok(SealCertificate {
            municipality,
            name: name.clone(),
            serial: serial_text(&tbs.serial_number),
            not_before: unix_of(&tbs.validity.not_before),
            not_after: unix_of(&tbs.validity.not_after),
        })
    }
}

/// A municipality's seal, loaded from its node directory: the key that signs and the
/// certificates that go into each signature.
pub struct Seal {
    key: SigningKey,
    cert_der: Vec<u8>,
    ca_der: Vec<u8>,
    info: SealCertificate,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seal").field("info", &self.info).finish()
    }
}

impl Seal {
    /// Loads `seal.key`, `seal.pem` and `ca.pem` from the node directory `dir`; the key must be
    /// the certificate's and the certificate a seal's.
    pub fn load(dir: &Path) -> Result<Seal> {
        let key_pem = zeroize::Zeroizing::new(read_text(&dir.join(SEAL_KEY_FILE))?);
        let key = SigningKey::from_pkcs8_pem(&key_pem)
            .map_err(|e| PkiError::Crypto(format!("{}: {e}", dir.join(SEAL_KEY_FILE).display())))?;
        let pem = |file: &str| -> Result<Certificate> {
            let path = dir.join(file);
            Certificate::from_pem(read_text(&path)?.as_bytes())
                .map_err(|e| PkiError::Crypto(format!("{}: {e}", path.display())))
        };
        let cert = pem(SEAL_CERT_FILE)?;
        let ca = pem(CA_CERT_FILE)?;
        let info = SealCertificate::from_certificate(&cert)?;
        let public = key.verifying_key().to_encoded_point(false);
        if cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
            != public.as_bytes()
        {
            return Err(PkiError::Crypto(format!(
                "{}: the key is not the one of {SEAL_CERT_FILE}",
                dir.display()
            )));
        }
        let der = |c: &Certificate| c.to_der().map_err(|e| PkiError::Crypto(e.to_string()));
        Ok(Seal {
            key,
            cert_der: der(&cert)?,
            ca_der: der(&ca)?,
            info,
        })
    }

    /// The seal certificate's municipality, name, serial and validity.
    pub fn certificate(&self) -> &SealCertificate {
        &self.info
    }

    /// The seal certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The network CA's certificate, DER.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// Signs a SHA-256 hash with the seal's key.
    pub fn sign_prehash(&self, hash: &[u8; 32]) -> Result<Signature> {
        self.key
            .sign_prehash(hash)
            .map_err(|e| PkiError::Crypto(format!("signing with the seal: {e}")))
    }
}

impl NetworkCa {
    /// Generates the 電子公印 key of the municipality `code` named `name` (e.g. `大阪市北区`),
    /// issues its seal certificate, valid from `now` for `days` days, and writes `seal.key`
    /// (0600) and `seal.pem` into its node directory `out` (created 0700 if missing; refused if
    /// it holds a seal already, or another municipality's node).
    pub fn issue_seal(
        &self,
        code: &MunicipalityCode,
        name: &str,
        days: u32,
        now: i64,
        out: &Path,
    ) -> Result<NodeRecord> {
        check_text("the municipality's name", name, MAX_IDENTITY_CHARS)?;
        juki_host::private_dir::create(out)
            .map_err(|e| PkiError::io(format!("creating {} (0700)", out.display()), e))?;
        for file in [SEAL_KEY_FILE, SEAL_CERT_FILE] {
            if out.join(file).exists() {
                return Err(PkiError::InvalidInput(format!(
                    "{} already holds a seal ({file}); refusing to overwrite it",
                    out.display()
                )));
            }
        }
        if let Ok(node) = crate::tls::NodeCredentials::load(out) {
            if node.node.role != super::Role::Municipality(code.clone()) {
                return Err(PkiError::InvalidInput(format!(
                    "{} is the node of {}, not of municipality {code}",
                    out.display(),
                    node.node.role.identity()
                )));
            }
        }
        let key = SigningKey::random(&mut OsRng);
        let key_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| PkiError::Crypto(format!("encoding the seal's key: {e}")))?;
        let subject = RdnSequence(vec![
            rdn(OID_ORG, NETWORK_ORG)?,
            rdn(OID_ORG_UNIT, SEAL_UNIT)?,
            rdn(OID_LOCALITY, name)?,
            rdn(OID_COMMON_NAME, code.as_str())?,
        ]);
        let usage = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
        let issued = self.certify(
            subject,
            key.verifying_key(),
            days,
            now,
            usage,
            OID_KP_DOCUMENT_SIGNING,
            |_| Ok(()),
        )?;
        let record = self.remember(
            &issued,
            RoleKind::Municipality,
            code.as_str(),
            &[],
            true,
            now,
        )?;
        write_new(&out.join(SEAL_KEY_FILE), key_pem.as_bytes(), true)?;
        write_new(
            &out.join(SEAL_CERT_FILE),
            cert_pem(&issued.cert)?.as_bytes(),
            false,
        )?;
        if !out.join(CA_CERT_FILE).exists() {
            write_new(
                &out.join(CA_CERT_FILE),
                self.certificate_pem()?.as_bytes(),
                false,
            )?;
        }
        Ok(record)
    }
}
