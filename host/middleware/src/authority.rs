//! Issuer credentials: the national root key pair and a municipality's counter credential.
//!
//! - `juki authority init --dir D` makes the national root: `D/root.key` (PKCS#8 PEM, mode 0600)
//!   and `D/root.pub` (SubjectPublicKeyInfo PEM). The public key is what `juki card init` writes
//!   into every blank card.
//! - `juki authority certify --root D --municipality 131016 --name 千代田区 --out D2` gives a
//!   municipality's counter its own P-256 key, `D2/counter.key` (0600), the card-verifiable
//!   certificate the root signs over it, `D2/counter.cvc` (format: [`juki_card::cvc`]), and a
//!   copy of the root public key, `D2/root.pub`, against which the counter checks every card.
//! - `juki card init --root D` (manufacture): the card generates its own key; the root
//!   certifies it with the card's serial ([`RootAuthority::certify_card`]), and the card takes
//!   the certificate only for its own key.
//!
//! The counter and the card prove themselves to each other in one exchange (see
//! [`crate::card::JukiCard::counter_authenticate`]); no secret is shared with the card.

use std::fs;
use std::path::{Path, PathBuf};

use juki_card::cvc::{self, Role};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rand_core::OsRng;

use crate::date::{self, Date};
use crate::error::{Error, Result};
use crate::resident::MunicipalityCode;

/// File name of the root private key.
pub const ROOT_KEY: &str = "root.key";
/// File name of the root public key.
pub const ROOT_PUB: &str = "root.pub";
/// File name of the counter's private key.
pub const COUNTER_KEY: &str = "counter.key";
/// File name of the counter's certificate.
pub const COUNTER_CERT: &str = "counter.cvc";
/// How long a card's certificate is valid: longer than any card (10 years from its issue).
pub const CARD_CERT_YEARS: u32 = 20;
/// The name in every card's certificate.
pub const CARD_CERT_NAME: &str = "住民基本台帳カード";

fn crypto(what: &str) -> impl Fn(p256::pkcs8::Error) -> Error + '_ {
    move |e| Error::Crypto(format!("{what}: {e}"))
}

/// Writes a new file readable by its owner only; refuses to overwrite.
fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    crate::private_dir::write_new(path, contents)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Writes a new public file; refuses to overwrite.
fn write_public(path: &Path, contents: &[u8]) -> Result<()> {
    crate::private_dir::write_new_public(path, contents)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

fn sign_digest(key: &SigningKey, digest: &[u8; 32]) -> Result<[u8; 64]> {
    let sig: Signature = key
        .sign_prehash(digest)
        .map_err(|e| Error::Crypto(format!("signing: {e}")))?;
    Ok(sig.to_bytes().into())
}

/// A P-256 public key as SEC1 uncompressed bytes (`04‖X‖Y`, 65 bytes).
pub fn sec1_uncompressed(key: &VerifyingKey) -> Vec<u8> {
    key.to_encoded_point(false).as_bytes().to_vec()
}

/// Reads a public key from a SubjectPublicKeyInfo PEM file.
pub fn read_public_key_pem(path: &Path) -> Result<VerifyingKey> {
    VerifyingKey::from_public_key_pem(&read_text(path)?)
        .map_err(|e| Error::Crypto(format!("{}: not a P-256 public key: {e}", path.display())))
}

/// A public key as SubjectPublicKeyInfo PEM.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| Error::Crypto(format!("encoding a public key: {e}")))
}

/// The national root (国の認証局の鍵): signs municipality counter certificates.
pub struct RootAuthority {
    key: SigningKey,
}

impl RootAuthority {
    /// A new root key pair from the OS CSPRNG.
    pub fn generate() -> RootAuthority {
        RootAuthority {
            key: SigningKey::random(&mut OsRng),
        }
    }

    /// The root public key (written into blank cards).
    pub fn public_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }

    /// Writes `dir/root.key` (0600) and `dir/root.pub`, creating `dir`; never overwrites.
    pub fn save(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        crate::private_dir::create(dir)
            .map_err(|e| Error::io(format!("creating {} (0700)", dir.display()), e))?;
        let key_path = dir.join(ROOT_KEY);
        let pub_path = dir.join(ROOT_PUB);
        if key_path.exists() || pub_path.exists() {
            return Err(Error::InvalidInput(format!(
                "{} already holds a root key; refusing to overwrite it",
                dir.display()
            )));
        }
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(crypto("encoding the root key"))?;
        write_private(&key_path, pem.as_bytes())?;
        write_public(&pub_path, public_key_pem(&self.public_key())?.as_bytes())?;
        Ok((key_path, pub_path))
    }

    /// Loads `dir/root.key`.
    pub fn load(dir: &Path) -> Result<RootAuthority> {
        let path = dir.join(ROOT_KEY);
        let pem = zeroize::Zeroizing::new(read_text(&path)?);
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            Error::Crypto(format!("{}: not a P-256 private key: {e}", path.display()))
        })?;
        Ok(RootAuthority { key })
    }

    /// Certifies a municipality's counter key for `[effective, expiry]`. A certificate
    /// issued on its effective date is *date-accurate* and may advance a card's last-known
    /// date; one issued in advance (`effective` after today) may not ([`juki_card::cvc`]).
    pub fn certify(
        &self,
        municipality: &MunicipalityCode,
        name: &str,
        counter_key: &VerifyingKey,
        effective: Date,
        expiry: Date,
    ) -> Result<Vec<u8>> {
        let point = sec1_uncompressed(counter_key);
        let date_accurate = date::today().is_ok_and(|today| today == effective);
        let body = cvc::encode_body(&cvc::CertificateFields {
            role: Role::Counter,
            holder: municipality.as_str().as_bytes(),
            name,
            public_key: &point,
            effective,
            expiry,
            date_accurate,
        })
        .map_err(|e| {
            Error::InvalidInput(format!(
                "cannot certify this counter ({e:?}): the name must be 1 to {} bytes and the \
                 validity must not end before it starts",
                cvc::MAX_NAME
            ))
        })?;
        self.sign_body(&body)
    }

    fn sign_body(&self, body: &[u8]) -> Result<Vec<u8>> {
        let signature = sign_digest(&self.key, &cvc::body_digest(body))?;
        let cert = cvc::encode_certificate(body, &signature)
            .map_err(|e| Error::Crypto(format!("encoding the certificate: {e:?}")))?;
        Ok(cert.to_vec())
    }

    /// Manufactures a blank card as card `serial`: writes the root public key, certifies the key
    /// the card generates, and installs the certificate ([`crate::card::JukiCard::initialise`]).
    /// Returns the card's public key.
    pub fn manufacture<T: crate::transport::Transport>(
        &self,
        card: &mut crate::card::JukiCard<T>,
        serial: &str,
        today: Date,
    ) -> Result<VerifyingKey> {
        card.initialise(&self.public_key(), |key| {
            self.certify_card(serial, key, today)
        })
    }

    /// Certifies a card's own key (answered by PUT DATA `C1` at manufacture) for the card
    /// `serial`, valid [`CARD_CERT_YEARS`] years from `effective`.
    pub fn certify_card(
        &self,
        serial: &str,
        card_key: &VerifyingKey,
        effective: Date,
    ) -> Result<Vec<u8>> {
        let expiry = date::add_years(effective, CARD_CERT_YEARS)
            .and_then(date::day_before)
            .ok_or_else(|| Error::InvalidInput("validity out of range".into()))?;
        let point = sec1_uncompressed(card_key);
        let body = cvc::encode_body(&cvc::CertificateFields {
            role: Role::Card,
            holder: serial.as_bytes(),
            name: CARD_CERT_NAME,
            public_key: &point,
            effective,
            expiry,
            date_accurate: false,
        })
        .map_err(|_| {
            Error::InvalidInput(format!(
                "cannot certify card {serial:?}: a serial is 1 to {} characters of A-Z, 0-9 or '-'",
                cvc::MAX_SERIAL
            ))
        })?;
        self.sign_body(&body)
    }

    /// A new counter credential for a municipality, valid from `effective` for `years` years
    /// (until the day before the anniversary).
    pub fn issue_counter_credential(
        &self,
        municipality: &MunicipalityCode,
        name: &str,
        effective: Date,
        years: u32,
    ) -> Result<CounterCredential> {
        let expiry = date::add_years(effective, years)
            .and_then(date::day_before)
            .ok_or_else(|| Error::InvalidInput("validity out of range".into()))?;
        let key = SigningKey::random(&mut OsRng);
        let cert = self.certify(municipality, name, key.verifying_key(), effective, expiry)?;
        CounterCredential::new(key, cert, self.public_key())
    }
}

/// A new card serial for manufacture: `JK` and 10 random digits.
pub fn new_card_serial() -> String {
    let code = crate::resident_code::ResidentCode::generate();
    format!("JK{}", &code.as_str()[..10])
}

fn statement_digest(domain: &str, message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(domain.as_bytes())
        .chain_update([0u8])
        .chain_update(message)
        .finalize()
        .into()
}

/// Checks a statement signed with [`CounterCredential::sign_statement`] by the counter whose
/// certificate is `cert`: the certificate must be a counter certificate signed by `root`, for
/// municipality `municipality`; its key must have signed `domain` and `message`. (The
/// certificate's validity dates are not checked: a statement stays valid when the credential
/// that signed it is renewed.)
pub fn verify_statement(
    root: &VerifyingKey,
    cert: &[u8],
    municipality: &MunicipalityCode,
    domain: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    let parsed = cvc::parse(cert)
        .map_err(|e| Error::Crypto(format!("malformed counter certificate: {e:?}")))?;
    if parsed.role != Role::Counter || parsed.holder != municipality.as_str().as_bytes() {
        return Err(Error::Crypto(format!(
            "not a counter certificate of municipality {municipality}"
        )));
    }
    parsed.verify_signature(root).map_err(|_| {
        Error::Crypto("the counter certificate is not signed by the national root".into())
    })?;
    let key = VerifyingKey::from_sec1_bytes(parsed.public_key)
        .map_err(|_| Error::Crypto("the counter certificate's key is not a point".into()))?;
    let signature = Signature::from_slice(signature)
        .map_err(|_| Error::Crypto("malformed statement signature".into()))?;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    key.verify_prehash(&statement_digest(domain, message), &signature)
        .map_err(|_| Error::Crypto("the statement's signature does not verify".into()))
}

/// A municipality counter's credential: its private key, the root's certificate over it, and
/// the root public key that cards must chain to.
pub struct CounterCredential {
    key: SigningKey,
    cert: Vec<u8>,
    root: VerifyingKey,
    /// 地方公共団体コード of the municipality.
    pub municipality: MunicipalityCode,
    /// Municipality name.
    pub name: String,
    /// First day of validity.
    pub effective: Date,
    /// Last day of validity.
    pub expiry: Date,
}

impl CounterCredential {
    /// Pairs a key with its certificate and the root, checking that they belong together: a
    /// counter certificate of this key, signed by this root.
    pub fn new(key: SigningKey, cert: Vec<u8>, root: VerifyingKey) -> Result<CounterCredential> {
        let parsed = cvc::parse(&cert)
            .map_err(|e| Error::Crypto(format!("malformed counter certificate: {e:?}")))?;
        if parsed.role != Role::Counter {
            return Err(Error::Crypto("not a counter certificate".into()));
        }
        if parsed.public_key != sec1_uncompressed(key.verifying_key()).as_slice() {
            return Err(Error::Crypto(
                "the counter key does not match its certificate".into(),
            ));
        }
        parsed.verify_signature(&root).map_err(|_| {
            Error::Crypto("the counter certificate is not signed by this root".into())
        })?;
        let code = std::str::from_utf8(parsed.holder).unwrap_or("");
        Ok(CounterCredential {
            municipality: MunicipalityCode::parse(code)?,
            name: parsed.name.to_string(),
            effective: parsed.effective,
            expiry: parsed.expiry,
            key,
            cert,
            root,
        })
    }

    /// The national root public key the cards this counter serves must chain to.
    pub fn root(&self) -> &VerifyingKey {
        &self.root
    }

    /// The encoded certificate (`7F21 …`).
    pub fn certificate(&self) -> &[u8] {
        &self.cert
    }

    /// Checks the certificate against a root public key (host-side check before going to a
    /// card; the card checks it again).
    pub fn verify_with_root(&self, root: &VerifyingKey) -> Result<()> {
        let parsed = cvc::parse(&self.cert)
            .map_err(|e| Error::Crypto(format!("malformed counter certificate: {e:?}")))?;
        parsed
            .verify_signature(root)
            .map_err(|_| Error::Crypto("the counter certificate is not signed by this root".into()))
    }

    /// The EXTERNAL AUTHENTICATE data for a card challenge: certificate ‖ the counter's
    /// ephemeral key for the secure-messaging session ‖ `5F37` signature over
    /// [`cvc::auth_digest`] of the challenge and that key.
    pub fn authenticate(&self, challenge: &[u8], ephemeral: &[u8]) -> Result<Vec<u8>> {
        // Hedged ECDSA with the card core's generator table (in the binary): the counter signs a
        // challenge at every authentication.
        let scalar = zeroize::Zeroizing::new(<[u8; 32]>::from(self.key.to_bytes()));
        let digest = cvc::auth_digest(challenge, ephemeral);
        let signature = juki_card::keys::sign(
            &scalar,
            &digest,
            &mut rand_core::OsRng,
            Some(&juki_card::basepoint::GENERATOR_TABLE),
        )
        .map_err(|e| Error::Crypto(format!("signing the challenge: {e:?}")))?;
        let data = cvc::encode_auth_data(&self.cert, ephemeral, &signature)
            .map_err(|e| Error::Crypto(format!("encoding the authentication: {e:?}")))?;
        Ok(data.to_vec())
    }

    /// Signs a statement of the municipality (not a card challenge): ECDSA P-256 over SHA-256
    /// of `domain` (a fixed label naming what is signed), a NUL byte and `message`, so that a
    /// statement can never pass for the digest of a mutual authentication
    /// ([`cvc::auth_digest`]). Returns `r‖s` (64 bytes); [`verify_statement`] checks it.
    pub fn sign_statement(&self, domain: &str, message: &[u8]) -> Result<Vec<u8>> {
        let digest = statement_digest(domain, message);
        let signature: Signature = self
            .key
            .sign_prehash(&digest)
            .map_err(|e| Error::Crypto(format!("signing a statement: {e}")))?;
        Ok(signature.to_bytes().to_vec())
    }

    /// Writes `dir/counter.key` (0600), `dir/counter.cvc` and `dir/root.pub`, creating `dir`;
    /// never overwrites.
    pub fn save(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        crate::private_dir::create(dir)
            .map_err(|e| Error::io(format!("creating {} (0700)", dir.display()), e))?;
        let key_path = dir.join(COUNTER_KEY);
        let cert_path = dir.join(COUNTER_CERT);
        if key_path.exists() || cert_path.exists() || dir.join(ROOT_PUB).exists() {
            return Err(Error::InvalidInput(format!(
                "{} already holds a counter credential; refusing to overwrite it",
                dir.display()
            )));
        }
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(crypto("encoding the counter key"))?;
        write_private(&key_path, pem.as_bytes())?;
        write_public(&cert_path, &self.cert)?;
        write_public(&dir.join(ROOT_PUB), public_key_pem(&self.root)?.as_bytes())?;
        Ok((key_path, cert_path))
    }

    /// Loads `dir/counter.key`, `dir/counter.cvc` and `dir/root.pub`.
    pub fn load(dir: &Path) -> Result<CounterCredential> {
        let key_path = dir.join(COUNTER_KEY);
        let pem = zeroize::Zeroizing::new(read_text(&key_path)?);
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            Error::Crypto(format!(
                "{}: not a P-256 private key: {e}",
                key_path.display()
            ))
        })?;
        let cert_path = dir.join(COUNTER_CERT);
        let cert = fs::read(&cert_path)
            .map_err(|e| Error::io(format!("reading {}", cert_path.display()), e))?;
        let root_path = dir.join(ROOT_PUB);
        if !root_path.exists() {
            return Err(Error::InvalidInput(format!(
                "{} has no {ROOT_PUB}: a counter credential now carries the national root's \
                 public key, against which it checks every card; certify the counter again \
                 (juki authority certify)",
                dir.display()
            )));
        }
        CounterCredential::new(key, cert, read_public_key_pem(&root_path)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chiyoda() -> MunicipalityCode {
        MunicipalityCode::parse("131016").unwrap()
    }

    #[test]
    fn root_and_counter_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let root = RootAuthority::generate();
        let (key_path, pub_path) = root.save(&dir.path().join("root")).unwrap();
        let mode = fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(root.save(&dir.path().join("root")).is_err(), "no overwrite");
        let loaded = RootAuthority::load(&dir.path().join("root")).unwrap();
        assert_eq!(loaded.public_key(), root.public_key());
        assert_eq!(read_public_key_pem(&pub_path).unwrap(), root.public_key());

        let today = Date::from_ymd(2026, 4, 1).unwrap();
        let cred = root
            .issue_counter_credential(&chiyoda(), "千代田区", today, 5)
            .unwrap();
        assert_eq!(cred.expiry, Date::from_ymd(2031, 3, 31).unwrap());
        cred.verify_with_root(&root.public_key()).unwrap();
        let (ckey, _) = cred.save(&dir.path().join("counter")).unwrap();
        let mode = fs::metadata(&ckey).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = CounterCredential::load(&dir.path().join("counter")).unwrap();
        assert_eq!(back.municipality, chiyoda());
        assert_eq!(back.name, "千代田区");
        assert_eq!(back.certificate(), cred.certificate());
        // Another root does not vouch for it.
        assert!(back
            .verify_with_root(&RootAuthority::generate().public_key())
            .is_err());
    }

    #[test]
    fn authentication_verifies_as_the_card_would() {
        let root = RootAuthority::generate();
        let today = Date::from_ymd(2026, 4, 1).unwrap();
        let cred = root
            .issue_counter_credential(&chiyoda(), "千代田区", today, 5)
            .unwrap();
        let challenge = [7u8; 16];
        let eph = sec1_uncompressed(SigningKey::random(&mut OsRng).verifying_key());
        let data = cred.authenticate(&challenge, &eph).unwrap();
        let auth = cvc::verify_auth(&data, &root.public_key(), today, &challenge).unwrap();
        assert_eq!(auth.cert.role, Role::Counter);
        assert_eq!(auth.ephemeral, &eph[..]);
        assert!(cvc::verify_auth(&data, &root.public_key(), today, &[8u8; 16]).is_err());
        let later = Date::from_ymd(2031, 4, 1).unwrap();
        assert!(cvc::verify_auth(&data, &root.public_key(), later, &challenge).is_err());
    }

    #[test]
    fn mismatched_key_and_certificate_are_refused() {
        let root = RootAuthority::generate();
        let today = Date::from_ymd(2026, 4, 1).unwrap();
        let a = root
            .issue_counter_credential(&chiyoda(), "千代田区", today, 5)
            .unwrap();
        let other = SigningKey::random(&mut OsRng);
        let root_pub = root.public_key();
        assert!(CounterCredential::new(other, a.certificate().to_vec(), root_pub).is_err());
        assert!(CounterCredential::new(
            SigningKey::random(&mut OsRng),
            vec![0x7F, 0x21, 0x00],
            root_pub
        )
        .is_err());
        // Another root's credential, and a card's certificate in a counter's place.
        let foreign = RootAuthority::generate();
        let b = foreign
            .issue_counter_credential(&chiyoda(), "千代田区", today, 5)
            .unwrap();
        let key = SigningKey::from_pkcs8_pem(&b.key.to_pkcs8_pem(LineEnding::LF).unwrap()).unwrap();
        assert!(CounterCredential::new(key.clone(), b.certificate().to_vec(), root_pub).is_err());
        let card_cert = root
            .certify_card("JK0000000001", key.verifying_key(), today)
            .unwrap();
        assert!(CounterCredential::new(key, card_cert, root_pub).is_err());
    }
}
