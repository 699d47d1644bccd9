//! What the citizen's PC does with the JPKI AP: read the certificates, sign an e-application,
//! answer a login challenge. Each runs in one exclusive card transaction, so nothing slips
//! between the VERIFY and the commands it unlocks.

use juki_card::files::EfId;
use juki_card::files::CERT_CAPACITY;
use x509_cert::crl::CertificateList;
use x509_cert::der::Encode;
use x509_cert::Certificate;

use super::auth::{self, Answer};
use super::cms::{self, SignOptions};
use super::time;
use super::validate::Checked;
use super::{validate, CertKind, JpkiError};
use crate::Result;
use juki_host::card::{JukiCard, KeyId};
use juki_host::pin::Pin;
use juki_host::pin::PinId;
use juki_host::transport::Transport;
use juki_host::Error;

const CAPACITY: usize = CERT_CAPACITY as usize;

/// A certificate and the CA certificate stored beside it on the card.
#[derive(Debug, Clone)]
pub struct CardCertificates {
    /// The card's certificate.
    pub cert: Certificate,
    /// Its CA certificate as stored on the card.
    pub ca: Certificate,
    /// DER of the card's certificate.
    pub cert_der: Vec<u8>,
    /// DER of the CA certificate.
    pub ca_der: Vec<u8>,
}

/// Reads a certificate EF of the current (JPKI) application: one READ BINARY by short
/// identifier (extended length where the reader takes it).
fn read_certificate(card: &mut JukiCard<&mut dyn Transport>, ef: EfId) -> Result<Vec<u8>> {
    let der = card.read_file(ef, CAPACITY)?;
    if der.is_empty() {
        return Err(JpkiError::NoCertificate);
    }
    Ok(der)
}

/// Reads `kind`'s certificate and CA certificate from the current (JPKI) application; the
/// signing certificate needs the sign password verified in this session.
fn read_pair(card: &mut JukiCard<&mut dyn Transport>, kind: CertKind) -> Result<CardCertificates> {
    let cert_der = read_certificate(card, kind.cert_ef())?;
    let ca_der = read_certificate(card, kind.ca_ef())?;
    Ok(CardCertificates {
        cert: validate::load_certificate(&cert_der)?,
        ca: validate::load_certificate(&ca_der)?,
        cert_der,
        ca_der,
    })
}

fn check_present(present: u8, kind: CertKind) -> Result<()> {
    if present & kind.present_bits() != kind.present_bits() {
        return Err(JpkiError::NoCertificate);
    }
    Ok(())
}

/// Selects the JPKI AP and refuses with [`JpkiError::NoCertificate`] unless its EF 0008 says
/// `kind` is on the card (the operations below check it first in their transaction, before
/// any PIN is tried).
pub fn require_present<T: Transport>(card: &mut JukiCard<T>, kind: CertKind) -> Result<()> {
    check_present(card.jpki_present()?, kind)
}

/// The authentication certificate and its CA (free to read).
pub fn auth_certificates<T: Transport>(card: &mut JukiCard<T>) -> Result<CardCertificates> {
    card.exclusive(|c| {
        require_present(c, CertKind::Auth)?;
        read_pair(c, CertKind::Auth)
    })
}

/// 自己の電子証明書の有効性確認: checks the card's certificate of `kind` against the CA
/// certificates the host trusts (`trusted`, configured on the host), never against the CA
/// certificate stored on the card, which a fake card chooses along with its certificate.
///
/// The certificate must verify under a trusted CA certificate of its issuer's name
/// ([`validate::check_certificate`]: kind, validity, CRL), and the CA certificate stored on the
/// card must be that trusted certificate byte for byte (a card carrying another CA certificate
/// would hand it to every agency in its signatures).
pub fn check_card_certificates(
    certs: &CardCertificates,
    kind: CertKind,
    trusted: &[Certificate],
    crls: Option<&[CertificateList]>,
    at: i64,
) -> std::result::Result<Checked, JpkiError> {
    let issuer = &certs.cert.tbs_certificate.issuer;
    let mut candidates = trusted
        .iter()
        .filter(|ca| &ca.tbs_certificate.subject == issuer)
        .peekable();
    if candidates.peek().is_none() {
        return Err(JpkiError::WrongCa(format!(
            "issued by \"{issuer}\", which is none of the trusted CA certificates given \
             (--ca-cert)"
        )));
    }
    // Two trusted CA certificates of one name (a renewed CA): the one whose key signed it.
    let mut refused = None;
    let mut ca = None;
    for candidate in candidates {
        match validate::verify_issued_by(&certs.cert, candidate) {
            Ok(()) => {
                ca = Some(candidate);
                break;
            }
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    let ca = match (ca, refused) {
        (Some(ca), _) => ca,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(JpkiError::WrongCa(format!("issued by \"{issuer}\""))),
    };
    let checked = validate::check_certificate(&certs.cert, kind, ca, crls, at)?;
    let trusted_der = ca
        .to_der()
        .map_err(|e| JpkiError::malformed("CA certificate", e))?;
    if certs.ca_der != trusted_der {
        return Err(JpkiError::WrongCa(format!(
            "the CA certificate stored on the card (\"{}\") is not the trusted one \
             (カードの認証局証明書が信頼する証明書と異なります)",
            certs.ca.tbs_certificate.subject
        )));
    }
    Ok(checked)
}

/// The signing certificate and its CA: the sign password first, as on the real card.
pub fn sign_certificates<T: Transport>(
    card: &mut JukiCard<T>,
    password: &Pin,
) -> Result<CardCertificates> {
    card.exclusive(|c| {
        require_present(c, CertKind::Sign)?;
        c.verify_selected(PinId::Sign, password)?;
        read_pair(c, CertKind::Sign)
    })
}

/// Signs `content` as a CMS SignedData (detached unless `options.attached`) in one
/// transaction of seven APDUs: SELECT of the JPKI AP, EF 0008 (no certificate: refused before
/// any password try), VERIFY of the sign password, the signing certificate and its CA, SELECT
/// of the key and COMPUTE DIGITAL SIGNATURE of the SHA-256 of the signed attributes. A
/// certificate past its validity at `options.signing_time` signs nothing
/// ([`JpkiError::OwnCertificateExpired`]; a certificate never outlives its card, so this is
/// also how an expired card is refused). Returns the `.p7s` (DER).
pub fn sign_document<T: Transport>(
    card: &mut JukiCard<T>,
    password: &Pin,
    content: &[u8],
    options: SignOptions,
) -> Result<Vec<u8>> {
    card.exclusive(|c| {
        require_present(c, CertKind::Sign)?;
        c.verify_selected(PinId::Sign, password)?;
        let certs = read_pair(c, CertKind::Sign)?;
        let not_after = time::from_x509(&certs.cert.tbs_certificate.validity.not_after);
        if options.signing_time > not_after {
            return Err(JpkiError::OwnCertificateExpired {
                kind: CertKind::Sign.japanese(),
                date: time::display(not_after),
            });
        }
        cms::sign(content, &certs.cert_der, &certs.ca_der, options, |hash| {
            Ok(c.compute_signature(KeyId::Sign, hash)?)
        })
    })
}

/// Answers a relying party's `challenge` with the authentication key, after the auth PIN.
pub fn answer_challenge<T: Transport>(
    card: &mut JukiCard<T>,
    pin: &Pin,
    challenge: &[u8],
) -> Result<Answer> {
    auth::check_challenge(challenge)?;
    card.exclusive(|c| {
        require_present(c, CertKind::Auth)?;
        c.verify_selected(PinId::Auth, pin)?;
        // The answer carries the certificate only: its CA is not read.
        let certificate =
            validate::load_certificate(&read_certificate(c, CertKind::Auth.cert_ef())?)?;
        let digest = auth::digest(challenge);
        let signature = c.compute_signature(KeyId::Auth, &digest)?;
        let public = validate::public_key(&certificate)?;
        p256::ecdsa::signature::hazmat::PrehashVerifier::verify_prehash(
            &public, &digest, &signature,
        )
        .map_err(|_| {
            Error::Crypto(
                "the card's answer does not verify with its authentication certificate".into(),
            )
        })?;
        Ok(Answer {
            signature,
            certificate,
        })
    })
}
