//! The JPKI certification authority (認証局): two CA key pairs, one for signing certificates
//! and one for authentication certificates, the certificates it issued in its database, their
//! revocation and the CRLs it publishes.
//!
//! Its directory (`juki jpki ca init --dir DIR`, mode 0700):
//!
//! | file | what |
//! |---|---|
//! | `sign-ca.key`, `auth-ca.key` | the CA private keys, PKCS#8 PEM, mode 0600 |
//! | `sign-ca.pem`, `auth-ca.pem` | the self-signed CA certificates (the agencies' trust anchors) |
//! | `ca.db` | SQLite, mode 0600: every certificate issued, its card and its revocation |
//!
//! A card's certificates are issued at the counter (`juki counter jpki-issue`) for public keys
//! generated on the card and read back through the counter's authenticated session; issuing a
//! new pair revokes the card's previous one (superseded).

use std::fs;
use std::path::{Path, PathBuf};

use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::{OsRng, RngCore};
use rusqlite::{params, Connection, OptionalExtension};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::BitString;
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::der::{DecodePem, Encode, EncodePem};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlReason, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::AsExtension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;
use x509_cert::{Certificate, Version};

use super::time::{self as jtime, DAY};
use super::{migrate, profile, CertKind, JpkiError};
use crate::Result;
use juki_host::date::{self, Date};
use juki_host::resident::FourInfo;
use juki_host::Error;

/// File name of the CA database.
pub const DB_FILE: &str = "ca.db";
/// Days between a CRL's thisUpdate and nextUpdate.
pub const CRL_VALID_DAYS: i64 = 7;

/// The forward migrations of `ca.db` ([`crate::migrate`]): entry *i* takes the schema from
/// version *i* to *i* + 1.
pub const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2];

/// The schema version of `ca.db` this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 2: the subscriber's 住民票コード beside each certificate (as the real CA keeps the
/// link between a certificate and its subscriber): what lets the national server answer a
/// resident who authenticates with the authentication certificate (開示請求), which itself
/// carries no personal data. Certificates issued before have none.
const SCHEMA_V2: &str = r#"
ALTER TABLE certificates ADD COLUMN resident TEXT
    CHECK (resident IS NULL OR (length(resident) = 11 AND resident NOT GLOB '*[^0-9]*'));
CREATE INDEX certificates_by_resident ON certificates(resident);
"#;

/// Version 1: the certificates issued and the CRL numbers.
const SCHEMA_V1: &str = r#"
CREATE TABLE certificates (
    serial            TEXT PRIMARY KEY CHECK (length(serial) = 16),
    kind              TEXT NOT NULL CHECK (kind IN ('sign', 'auth')),
    card_serial       TEXT NOT NULL,
    subject           TEXT NOT NULL,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    issued_at         INTEGER NOT NULL,
    der               BLOB NOT NULL,
    revoked_at        INTEGER,
    revocation_reason TEXT,
    CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
) STRICT;
CREATE INDEX certificates_by_card ON certificates(card_serial);
CREATE TABLE crl_numbers (
    kind TEXT PRIMARY KEY CHECK (kind IN ('sign', 'auth')),
    last INTEGER NOT NULL
) STRICT;
"#;

/// Why a certificate was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    /// 基本4情報の変更: the name or address on the card changed (自動失効).
    FourInfoChanged,
    /// 住民票コードの変更: the card stops working.
    CodeChanged,
    /// The card was suspended at the counter (lost, stolen).
    Suspended,
    /// The card was returned or terminated.
    Terminated,
    /// A new pair of certificates was issued for the card.
    Reissued,
    /// The holder asked for it (失効申請).
    Requested,
}

impl RevocationReason {
    /// Every reason.
    pub const ALL: [RevocationReason; 6] = [
        RevocationReason::FourInfoChanged,
        RevocationReason::CodeChanged,
        RevocationReason::Suspended,
        RevocationReason::Terminated,
        RevocationReason::Reissued,
        RevocationReason::Requested,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::FourInfoChanged => "4info-changed",
            RevocationReason::CodeChanged => "code-changed",
            RevocationReason::Suspended => "card-suspended",
            RevocationReason::Terminated => "card-terminated",
            RevocationReason::Reissued => "reissued",
            RevocationReason::Requested => "requested",
        }
    }

    /// The reason stored as `text`.
    pub fn parse(text: &str) -> Option<RevocationReason> {
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
    }

    /// In Japanese, as the agency's verdict shows it.
    pub fn japanese(self) -> &'static str {
        match self {
            RevocationReason::FourInfoChanged => "基本4情報（氏名・住所等）の変更",
            RevocationReason::CodeChanged => "住民票コードの変更",
            RevocationReason::Suspended => "カードの一時停止（紛失・盗難等）",
            RevocationReason::Terminated => "カードの返納・廃止",
            RevocationReason::Reissued => "電子証明書の再発行",
            RevocationReason::Requested => "本人からの失効申請",
        }
    }

    /// The certificates it revokes: a change of name or address revokes the signing certificate
    /// only (the authentication certificate carries no 4 info and stays valid, as on the real
    /// service); every other reason revokes both.
    pub fn revokes(self, kind: CertKind) -> bool {
        match self {
            RevocationReason::FourInfoChanged => kind == CertKind::Sign,
            _ => true,
        }
    }

    /// The RFC 5280 reason code in the CRL.
    pub fn crl_reason(self) -> CrlReason {
        match self {
            RevocationReason::FourInfoChanged => CrlReason::AffiliationChanged,
            RevocationReason::CodeChanged | RevocationReason::Reissued => CrlReason::Superseded,
            RevocationReason::Suspended => CrlReason::KeyCompromise,
            RevocationReason::Terminated => CrlReason::CessationOfOperation,
            RevocationReason::Requested => CrlReason::Unspecified,
        }
    }
}

/// The text of an RFC 5280 reason code, with the juki reason it stands for.
pub fn crl_reason_text(reason: Option<CrlReason>) -> String {
    let juki = RevocationReason::ALL
        .into_iter()
        .filter(|r| Some(r.crl_reason()) == reason)
        .map(RevocationReason::japanese)
        .collect::<Vec<_>>()
        .join(" / ");
    let code = match reason {
        None => "no reason code",
        Some(CrlReason::AffiliationChanged) => "affiliationChanged",
        Some(CrlReason::Superseded) => "superseded",
        Some(CrlReason::KeyCompromise) => "keyCompromise",
        Some(CrlReason::CessationOfOperation) => "cessationOfOperation",
        Some(CrlReason::Unspecified) => "unspecified",
        Some(_) => "other reason code",
    };
    if juki.is_empty() {
        code.to_string()
    } else {
        format!("{code} ({juki})")
    }
}

/// One certificate in the CA's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    /// Serial number, 16 upper-case hex digits.
    pub serial: String,
    /// Which certificate.
    pub kind: CertKind,
    /// The card it was issued for.
    pub card_serial: String,
    /// The subscriber's 住民票コード, when the counter gave it (schema 2 on).
    pub resident: Option<String>,
    /// Subject (RFC 4514).
    pub subject: String,
    /// notBefore, unix time.
    pub not_before: i64,
    /// notAfter, unix time.
    pub not_after: i64,
    /// When it was issued, unix time.
    pub issued_at: i64,
    /// When and why it was revoked.
    pub revoked: Option<(i64, RevocationReason)>,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// What a card certificate is issued for.
#[derive(Debug, Clone)]
pub struct CertRequest<'a> {
    /// Signing or authentication.
    pub kind: CertKind,
    /// The card (住基 EF 0004 serial).
    pub card_serial: &'a str,
    /// The subscriber's 住民票コード, read from the card under the counter's session; recorded
    /// with the certificate, never put in it.
    pub resident: Option<&'a str>,
    /// The public key read back from the card.
    pub public_key: &'a VerifyingKey,
    /// The 4 info (the signing certificate's subjectAltName).
    pub four_info: &'a FourInfo,
    /// The issuing municipality's name (the signing certificate's locality).
    pub municipality: &'a str,
    /// The card's expiry: no certificate outlives its card.
    pub card_expires: Date,
}

struct CaKey {
    key: SigningKey,
    cert: Certificate,
}

/// The certification authority, opened on its directory.
pub struct JpkiCa {
    dir: PathBuf,
    db: Connection,
    sign: CaKey,
    auth: CaKey,
}

impl std::fmt::Debug for JpkiCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JpkiCa").field("dir", &self.dir).finish()
    }
}

fn ca_err(what: impl std::fmt::Display) -> JpkiError {
    JpkiError::Ca(what.to_string())
}

fn key_file(kind: CertKind) -> String {
    format!("{}-ca.key", kind.as_str())
}

/// File name of a CA certificate in the CA directory.
pub fn cert_file(kind: CertKind) -> String {
    format!("{}-ca.pem", kind.as_str())
}

/// Writes a new file (private: 0600, else 0644) through [`juki_host::private_dir`]; refuses to
/// overwrite.
fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<()> {
    if private {
        juki_host::private_dir::write_new(path, contents)
    } else {
        juki_host::private_dir::write_new_public(path, contents)
    }
    .map_err(|e| Error::io(format!("writing {}", path.display()), e).into())
}

fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
        parameters: None,
    }
}

fn x509_err(e: impl std::fmt::Display) -> JpkiError {
    ca_err(format!("building a certificate: {e}"))
}

fn spki_of(key: &VerifyingKey) -> Result<SubjectPublicKeyInfoOwned> {
    SubjectPublicKeyInfoOwned::from_key(*key).map_err(x509_err)
}

fn random_serial() -> (String, SerialNumber) {
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    // Positive, and always 8 bytes long (no leading zero byte to drop).
    bytes[0] = (bytes[0] & 0x7F) | 0x40;
    let serial = SerialNumber::new(&bytes).unwrap_or_else(|_| SerialNumber::from(1u32));
    (hex::encode_upper(bytes), serial)
}

/// A serial number as the records write it: upper-case hex of its bytes.
pub fn serial_text(serial: &SerialNumber) -> String {
    hex::encode_upper(serial.as_bytes())
}

impl JpkiCa {
    /// Makes a new CA in `dir` (created with mode 0700; refused if it already holds a CA): two
    /// P-256 keys and their self-signed certificates, valid [`profile::CA_VALID_YEARS`] from
    /// `now`, and an empty database.
    pub fn init(dir: &Path, now: i64) -> Result<JpkiCa> {
        juki_host::private_dir::create(dir)
            .map_err(|e| Error::io(format!("creating {} (0700)", dir.display()), e))?;
        for file in [
            key_file(CertKind::Sign),
            key_file(CertKind::Auth),
            DB_FILE.to_string(),
        ] {
            if dir.join(&file).exists() {
                return Err(Error::InvalidInput(format!(
                    "{} already holds a certification authority ({file}); refusing to overwrite it",
                    dir.display()
                ))
                .into());
            }
        }
        for kind in CertKind::ALL {
            let key = SigningKey::random(&mut OsRng);
            let cert = self_signed(kind, &key, now)?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| ca_err(format!("encoding the CA key: {e}")))?;
            write_new(&dir.join(key_file(kind)), pem.as_bytes(), true)?;
            let pem = cert.to_pem(LineEnding::LF).map_err(x509_err)?;
            write_new(&dir.join(cert_file(kind)), pem.as_bytes(), false)?;
        }
        // Created empty (version 0, private); opening it runs the migrations.
        write_new(&dir.join(DB_FILE), b"", true)?;
        JpkiCa::open(dir)
    }

    /// Opens the CA in `dir`.
    pub fn open(dir: &Path) -> Result<JpkiCa> {
        let db_path = dir.join(DB_FILE);
        if !db_path.exists() {
            return Err(Error::InvalidInput(format!(
                "{} is not a JPKI certification authority (no {DB_FILE}); make one with \
                 juki jpki ca init --dir {}",
                dir.display(),
                dir.display()
            ))
            .into());
        }
        let mut db = Connection::open(&db_path).map_err(JpkiError::from)?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(JpkiError::from)?;
        migrate::to_latest(&mut db, MIGRATIONS)
            .map_err(|e| ca_err(format!("{}: {e}", db_path.display())))?;
        let load = |kind: CertKind| -> Result<CaKey> {
            let key_path = dir.join(key_file(kind));
            let pem = zeroize::Zeroizing::new(
                fs::read_to_string(&key_path)
                    .map_err(|e| Error::io(format!("reading {}", key_path.display()), e))?,
            );
            let key = SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| ca_err(format!("{}: {e}", key_path.display())))?;
            let cert_path = dir.join(cert_file(kind));
            let text = fs::read_to_string(&cert_path)
                .map_err(|e| Error::io(format!("reading {}", cert_path.display()), e))?;
            let cert = Certificate::from_pem(text.as_bytes())
                .map_err(|e| ca_err(format!("{}: {e}", cert_path.display())))?;
            let spki = spki_of(key.verifying_key())?;
            if cert.tbs_certificate.subject_public_key_info != spki {
                return Err(ca_err(format!(
                    "{} does not certify the key in {}",
                    cert_path.display(),
                    key_path.display()
                )));
            }
            Ok(CaKey { key, cert })
        };
        Ok(JpkiCa {
            dir: dir.to_path_buf(),
            db,
            sign: load(CertKind::Sign)?,
            auth: load(CertKind::Auth)?,
        })
    }

    /// The CA's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ca(&self, kind: CertKind) -> &CaKey {
        match kind {
            CertKind::Sign => &self.sign,
            CertKind::Auth => &self.auth,
        }
    }

    /// The CA certificate for `kind`.
    pub fn ca_certificate(&self, kind: CertKind) -> &Certificate {
        &self.ca(kind).cert
    }

    /// Issues a card certificate and records it. Valid from 00:00 JST of the day of `now` for
    /// [`profile::CERT_VALID_YEARS`], or until the card (or the CA certificate) expires if that
    /// is earlier.
    pub fn issue(&self, req: &CertRequest<'_>, now: i64) -> Result<(CertRecord, Certificate)> {
        let ca = self.ca(req.kind);
        let today = jtime::day_of(now).ok_or_else(|| ca_err("the clock is out of range"))?;
        let three_years = date::add_years(today, profile::CERT_VALID_YEARS)
            .and_then(date::day_before)
            .ok_or_else(|| ca_err("date out of range"))?;
        let last_day = three_years.min(req.card_expires);
        if last_day < today {
            return Err(Error::InvalidInput(format!(
                "the card expired on {}: no certificate can be issued for it",
                date::display(req.card_expires)
            ))
            .into());
        }
        let not_before = jtime::start_of_day(today);
        let ca_not_after = jtime::from_x509(&ca.cert.tbs_certificate.validity.not_after);
        let not_after = jtime::end_of_day(last_day).min(ca_not_after);
        let validity = Validity {
            not_before: jtime::to_x509(not_before)?,
            not_after: jtime::to_x509(not_after)?,
        };
        let subject = profile::subject(req.kind, req.card_serial, req.municipality)?;
        let subject_text = profile::display_name(&subject);
        let (serial_hex, serial) = random_serial();
        let spki = spki_of(req.public_key)?;
        let issuer_spki = spki_of(ca.key.verifying_key())?;
        let mut builder = CertificateBuilder::new(
            Profile::Manual {
                issuer: Some(ca.cert.tbs_certificate.subject.clone()),
            },
            serial,
            validity,
            subject,
            spki.clone(),
            &ca.key,
        )
        .map_err(x509_err)?;
        builder
            .add_extension(&BasicConstraints {
                ca: false,
                path_len_constraint: None,
            })
            .map_err(x509_err)?;
        builder
            .add_extension(&profile::key_usage(req.kind))
            .map_err(x509_err)?;
        builder
            .add_extension(&SubjectKeyIdentifier::try_from(spki.owned_to_ref()).map_err(x509_err)?)
            .map_err(x509_err)?;
        builder
            .add_extension(
                &AuthorityKeyIdentifier::try_from(issuer_spki.owned_to_ref()).map_err(x509_err)?,
            )
            .map_err(x509_err)?;
        if req.kind == CertKind::Sign {
            builder
                .add_extension(&profile::four_info_alt_name(req.four_info)?)
                .map_err(x509_err)?;
        }
        let cert = builder.build::<DerSignature>().map_err(x509_err)?;
        let der = cert.to_der().map_err(x509_err)?;
        let record = CertRecord {
            serial: serial_hex,
            kind: req.kind,
            card_serial: req.card_serial.to_string(),
            resident: req.resident.map(str::to_string),
            subject: subject_text,
            not_before,
            not_after,
            issued_at: now,
            revoked: None,
            der,
        };
        self.db
            .execute(
                "INSERT INTO certificates (serial, kind, card_serial, subject, not_before, \
                 not_after, issued_at, der, resident) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    record.serial,
                    record.kind.as_str(),
                    record.card_serial,
                    record.subject,
                    record.not_before,
                    record.not_after,
                    record.issued_at,
                    record.der,
                    record.resident
                ],
            )
            .map_err(JpkiError::from)?;
        Ok((record, cert))
    }

    /// Revokes one certificate; `false` if it was already revoked. Unknown serial: an error.
    pub fn revoke(&self, serial: &str, reason: RevocationReason, at: i64) -> Result<bool> {
        let serial = serial.trim().to_ascii_uppercase();
        let known: Option<Option<i64>> = self
            .db
            .query_row(
                "SELECT revoked_at FROM certificates WHERE serial = ?1",
                [&serial],
                |r| r.get(0),
            )
            .optional()
            .map_err(JpkiError::from)?;
        match known {
            None => Err(Error::InvalidInput(format!(
                "no certificate with serial {serial} was issued by this CA"
            ))
            .into()),
            Some(Some(_)) => Ok(false),
            Some(None) => {
                self.db
                    .execute(
                        "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3 \
                         WHERE serial = ?1 AND revoked_at IS NULL",
                        params![serial, at, reason.as_str()],
                    )
                    .map_err(JpkiError::from)?;
                Ok(true)
            }
        }
    }

    /// Revokes every certificate of a card that is not revoked yet and that `reason` revokes
    /// ([`RevocationReason::revokes`]); returns those revoked now.
    pub fn revoke_card(
        &self,
        card_serial: &str,
        reason: RevocationReason,
        at: i64,
    ) -> Result<Vec<CertRecord>> {
        let mut revoked = Vec::new();
        for mut record in self.certificates_of(card_serial)? {
            if record.revoked.is_none()
                && reason.revokes(record.kind)
                && self.revoke(&record.serial, reason, at)?
            {
                record.revoked = Some((at, reason));
                revoked.push(record);
            }
        }
        Ok(revoked)
    }

    /// The certificates issued for a card, oldest first.
    pub fn certificates_of(&self, card_serial: &str) -> Result<Vec<CertRecord>> {
        self.query("WHERE card_serial = ?1", &[&card_serial])
    }

    /// Every certificate issued, oldest first.
    pub fn certificates(&self) -> Result<Vec<CertRecord>> {
        self.query("", &[])
    }

    /// One certificate by serial.
    pub fn certificate(&self, serial: &str) -> Result<Option<CertRecord>> {
        let serial = serial.trim().to_ascii_uppercase();
        Ok(self
            .query("WHERE serial = ?1", &[&serial])?
            .into_iter()
            .next())
    }

    fn query(&self, filter: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<CertRecord>> {
        query_records(&self.db, filter, args)
    }

    /// Issues the CRL of the `kind` CA: every revoked certificate of that kind with its date and
    /// reason code, `thisUpdate` = `now`, `nextUpdate` = [`CRL_VALID_DAYS`] later, a CRL number
    /// one above the last one, signed with the CA key.
    pub fn crl(&self, kind: CertKind, now: i64) -> Result<CertificateList> {
        let ca = self.ca(kind);
        let number: i64 = self
            .db
            .query_row(
                "INSERT INTO crl_numbers (kind, last) VALUES (?1, 1) \
                 ON CONFLICT (kind) DO UPDATE SET last = last + 1 RETURNING last",
                [kind.as_str()],
                |r| r.get(0),
            )
            .map_err(JpkiError::from)?;
        let issuer = ca.cert.tbs_certificate.subject.clone();
        let mut revoked = Vec::new();
        for record in self.certificates()? {
            let (Some((at, reason)), true) = (record.revoked, record.kind == kind) else {
                continue;
            };
            let serial = SerialNumber::new(
                &hex::decode(&record.serial).map_err(|_| ca_err("bad serial in ca.db"))?,
            )
            .map_err(x509_err)?;
            revoked.push(RevokedCert {
                serial_number: serial,
                revocation_date: jtime::to_x509(at)?,
                crl_entry_extensions: Some(vec![reason
                    .crl_reason()
                    .to_extension(&issuer, &[])
                    .map_err(x509_err)?]),
            });
        }
        let issuer_spki = spki_of(ca.key.verifying_key())?;
        let extensions = vec![
            CrlNumber(x509_cert::der::asn1::Uint::new(&number.to_be_bytes()).map_err(x509_err)?)
                .to_extension(&issuer, &[])
                .map_err(x509_err)?,
            AuthorityKeyIdentifier::try_from(issuer_spki.owned_to_ref())
                .map_err(x509_err)?
                .to_extension(&issuer, &[])
                .map_err(x509_err)?,
        ];
        let tbs = TbsCertList {
            version: Version::V2,
            signature: ecdsa_sha256(),
            issuer,
            this_update: jtime::to_x509(now)?,
            next_update: Some(jtime::to_x509(now + CRL_VALID_DAYS * DAY)?),
            revoked_certificates: (!revoked.is_empty()).then_some(revoked),
            crl_extensions: Some(extensions),
        };
        let tbs_der = tbs.to_der().map_err(x509_err)?;
        let signature: DerSignature = p256::ecdsa::signature::Signer::sign(&ca.key, &tbs_der);
        Ok(CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: ecdsa_sha256(),
            signature: BitString::from_bytes(signature.as_bytes()).map_err(x509_err)?,
        })
    }
}

/// A self-signed CA certificate for `kind`.
fn self_signed(kind: CertKind, key: &SigningKey, now: i64) -> Result<Certificate> {
    let today = jtime::day_of(now).ok_or_else(|| ca_err("the clock is out of range"))?;
    let last = date::add_years(today, profile::CA_VALID_YEARS)
        .ok_or_else(|| ca_err("date out of range"))?;
    let validity = Validity {
        not_before: jtime::to_x509(jtime::start_of_day(today))?,
        not_after: jtime::to_x509(jtime::end_of_day(last))?,
    };
    let spki = spki_of(key.verifying_key())?;
    let (_, serial) = random_serial();
    let mut builder = CertificateBuilder::new(
        Profile::Manual { issuer: None },
        serial,
        validity,
        profile::ca_name(kind)?,
        spki.clone(),
        key,
    )
    .map_err(x509_err)?;
    builder
        .add_extension(&BasicConstraints {
            ca: true,
            path_len_constraint: Some(0),
        })
        .map_err(x509_err)?;
    builder
        .add_extension(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))
        .map_err(x509_err)?;
    builder
        .add_extension(&SubjectKeyIdentifier::try_from(spki.owned_to_ref()).map_err(x509_err)?)
        .map_err(x509_err)?;
    builder.build::<DerSignature>().map_err(x509_err)
}

/// PEM of a CRL (`X509 CRL`), the form `openssl … -CRLfile` reads.
pub fn crl_pem(crl: &CertificateList) -> Result<String> {
    let der = crl.to_der().map_err(x509_err)?;
    x509_cert::der::pem::encode_string(CRL_PEM_LABEL, LineEnding::LF, &der).map_err(x509_err)
}

/// PEM label of a CRL (RFC 7468).
pub const CRL_PEM_LABEL: &str = "X509 CRL";

/// PEM of a certificate.
pub fn cert_pem(cert: &Certificate) -> Result<String> {
    cert.to_pem(LineEnding::LF).map_err(x509_err)
}

/// The certificates of `db` matching `filter` (an SQL `WHERE …`), oldest first.
fn query_records(
    db: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<CertRecord>> {
    let sql = format!(
        "SELECT serial, kind, card_serial, subject, not_before, not_after, issued_at, der, \
         revoked_at, revocation_reason, resident FROM certificates {filter} \
         ORDER BY issued_at, rowid"
    );
    let mut stmt = db.prepare(&sql).map_err(JpkiError::from)?;
    let rows = stmt
        .query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Vec<u8>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
            ))
        })
        .map_err(JpkiError::from)?;
    let mut out = Vec::new();
    for row in rows {
        let (serial, kind, card, subject, nb, na, issued, der, rat, reason, resident) =
            row.map_err(JpkiError::from)?;
        let kind = CertKind::parse(&kind).ok_or_else(|| ca_err("unknown kind in ca.db"))?;
        let revoked = match (rat, reason) {
            (Some(at), Some(reason)) => Some((
                at,
                RevocationReason::parse(&reason)
                    .ok_or_else(|| ca_err("unknown revocation reason in ca.db"))?,
            )),
            _ => None,
        };
        out.push(CertRecord {
            serial,
            kind,
            card_serial: card,
            resident,
            subject,
            not_before: nb,
            not_after: na,
            issued_at: issued,
            revoked,
            der,
        });
    }
    Ok(out)
}

/// The CA as the national server reads it to answer a resident who authenticates with the
/// card (開示請求): the CA certificates and the records of the certificates issued — opened
/// read-only, without the keys (J-LIS keeps both the CA and the national server; the server
/// never needs to sign a certificate or a CRL).
#[derive(Debug, Clone)]
pub struct CaDirectory {
    db_path: PathBuf,
    sign: Certificate,
    auth: Certificate,
    /// One read-only connection, kept (opening one per lookup costs more than the lookup).
    db: std::sync::Arc<std::sync::Mutex<Connection>>,
}

impl CaDirectory {
    /// The CA in `dir`: `sign-ca.pem`, `auth-ca.pem`, `ca.db` (schema 2 or later: opened once
    /// by the CA since this build).
    pub fn open(dir: &Path) -> Result<CaDirectory> {
        let cert = |kind: CertKind| -> Result<Certificate> {
            let path = dir.join(cert_file(kind));
            let text = fs::read_to_string(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            Certificate::from_pem(text.as_bytes())
                .map_err(|e| ca_err(format!("{}: {e}", path.display())))
        };
        let db_path = dir.join(DB_FILE);
        let db = CaDirectory::connect(&db_path)?;
        let version: i64 = db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(JpkiError::from)?;
        if version < 2 {
            return Err(ca_err(format!(
                "{}: schema {version}; the CA must open it once (any juki jpki command) to \
                 record its subscribers",
                db_path.display()
            )));
        }
        Ok(CaDirectory {
            db_path,
            sign: cert(CertKind::Sign)?,
            auth: cert(CertKind::Auth)?,
            db: std::sync::Arc::new(std::sync::Mutex::new(db)),
        })
    }

    fn connect(db_path: &Path) -> Result<Connection> {
        let db = Connection::open_with_flags(
            db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(JpkiError::from)?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(JpkiError::from)?;
        Ok(db)
    }

    /// The CA certificate for `kind`.
    pub fn ca_certificate(&self, kind: CertKind) -> &Certificate {
        match kind {
            CertKind::Sign => &self.sign,
            CertKind::Auth => &self.auth,
        }
    }

    /// The record of the certificate `serial` (hex, any case), as it is now (revoked or not).
    pub fn certificate(&self, serial: &str) -> Result<Option<CertRecord>> {
        let serial = serial.trim().to_ascii_uppercase();
        let db = self
            .db
            .lock()
            .map_err(|_| ca_err(format!("{}: a lookup panicked", self.db_path.display())))?;
        Ok(query_records(&db, "WHERE serial = ?1", &[&serial])?
            .into_iter()
            .next())
    }
}
