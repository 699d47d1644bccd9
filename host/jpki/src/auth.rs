//! The authentication key's login (利用者証明): a relying party sends a random challenge, the
//! card signs it after the auth PIN, and the relying party checks the answer against the
//! challenge and the authentication certificate.
//!
//! What the card signs is SHA-256(`"juki jpki auth v1\0"` ‖ challenge): the fixed prefix keeps
//! an answer from ever being a signature over anything else. The answer file is text, two PEM
//! blocks: `JPKI AUTH SIGNATURE` (the DER ECDSA signature) and `CERTIFICATE` (the card's
//! authentication certificate).

use p256::ecdsa::Signature;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use x509_cert::crl::CertificateList;
use x509_cert::der::pem::{self, LineEnding};
use x509_cert::Certificate;

use super::validate::{self, Checked};
use super::{ca::cert_pem, CertKind, JpkiError};
use crate::Result;

/// The prefix of what the authentication key signs.
pub const CONTEXT: &[u8] = b"juki jpki auth v1\0";
/// Length of a challenge made by [`new_challenge`].
pub const CHALLENGE_LEN: usize = 32;
/// Shortest challenge accepted.
pub const MIN_CHALLENGE: usize = 16;
/// Longest challenge accepted.
pub const MAX_CHALLENGE: usize = 1024;
/// PEM label of the signature block.
pub const SIGNATURE_LABEL: &str = "JPKI AUTH SIGNATURE";

/// A fresh random challenge (the relying party's).
pub fn new_challenge() -> Vec<u8> {
    let mut c = vec![0u8; CHALLENGE_LEN];
    OsRng.fill_bytes(&mut c);
    c
}

/// Checks a challenge's length.
pub fn check_challenge(challenge: &[u8]) -> std::result::Result<(), JpkiError> {
    if (MIN_CHALLENGE..=MAX_CHALLENGE).contains(&challenge.len()) {
        Ok(())
    } else {
        Err(JpkiError::malformed(
            "challenge",
            format!(
                "{} bytes; {MIN_CHALLENGE} to {MAX_CHALLENGE} expected",
                challenge.len()
            ),
        ))
    }
}

/// The hash the card signs for `challenge`.
pub fn digest(challenge: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CONTEXT);
    h.update(challenge);
    h.finalize().into()
}

/// An answer to a challenge.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The card's signature of [`digest`] of the challenge.
    pub signature: Signature,
    /// The authentication certificate.
    pub certificate: Certificate,
}

impl Answer {
    /// The answer file's text.
    pub fn to_pem(&self) -> Result<String> {
        let sig = pem::encode_string(
            SIGNATURE_LABEL,
            LineEnding::LF,
            self.signature.to_der().as_bytes(),
        )
        .map_err(|e| JpkiError::malformed("answer", e))?;
        Ok(format!("{sig}{}", cert_pem(&self.certificate)?))
    }

    /// Reads an answer file.
    pub fn from_pem(text: &[u8]) -> std::result::Result<Answer, JpkiError> {
        let bad = |e: &dyn std::fmt::Display| JpkiError::malformed("authentication answer", e);
        let text = std::str::from_utf8(text).map_err(|e| bad(&e))?;
        let mut signature = None;
        let mut certificate = None;
        let starts: Vec<usize> = text.match_indices("-----BEGIN ").map(|(i, _)| i).collect();
        for (n, &start) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(text.len());
            let block = text.get(start..end).unwrap_or_default().trim();
            let (label, der) = pem::decode_vec(block.as_bytes()).map_err(|e| bad(&e))?;
            match label {
                SIGNATURE_LABEL => {
                    signature = Some(Signature::from_der(&der).map_err(|e| bad(&e))?);
                }
                "CERTIFICATE" => certificate = Some(validate::load_certificate(&der)?),
                other => return Err(bad(&format!("unexpected PEM block {other}"))),
            }
        }
        Ok(Answer {
            signature: signature.ok_or_else(|| bad(&"no JPKI AUTH SIGNATURE block"))?,
            certificate: certificate.ok_or_else(|| bad(&"no CERTIFICATE block"))?,
        })
    }
}

/// The answer signs `challenge` with its certificate's key.
fn signed(answer: &Answer, challenge: &[u8]) -> std::result::Result<(), JpkiError> {
    check_challenge(challenge)?;
    let public = validate::public_key(&answer.certificate)?;
    // The card signed digest(challenge) = SHA-256(CONTEXT ‖ challenge): the same as a
    // signature over CONTEXT ‖ challenge, which is what ring verifies.
    let mut message = CONTEXT.to_vec();
    message.extend_from_slice(challenge);
    if validate::ecdsa_p256_sha256(&public, &message, answer.signature.to_der().as_bytes()) {
        Ok(())
    } else {
        Err(JpkiError::ChallengeMismatch)
    }
}

/// The relying party's check: the answer signs this `challenge` with the key of its
/// certificate, and the certificate is an authentication certificate of the trusted `ca`,
/// valid and not revoked at `at`.
pub fn verify(
    answer: &Answer,
    challenge: &[u8],
    ca: &Certificate,
    crls: Option<&[CertificateList]>,
    at: i64,
) -> std::result::Result<Checked, JpkiError> {
    signed(answer, challenge)?;
    validate::check_certificate(&answer.certificate, CertKind::Auth, ca, crls, at)
}

/// The check of an answer whose certificate the caller holds as **issued**: found, byte for
/// byte, in the CA's own records of what it issued (`ca::CaDirectory`, which the caller also
/// asks for revocation and for the subscriber). The answer signs this `challenge` with the
/// certificate's key, the certificate has the authentication profile and is within its
/// validity, and so is `ca`. The CA's signature on the certificate is not verified again: the
/// CA's record of issuance says more than its signature does, and whoever could add a record
/// could as well link a genuine certificate to another subscriber — the records are trusted
/// for that anyway. One signature verification instead of two.
pub fn verify_recorded(
    answer: &Answer,
    challenge: &[u8],
    ca: &Certificate,
    at: i64,
) -> std::result::Result<(), JpkiError> {
    signed(answer, challenge)?;
    validate::check_kind(&answer.certificate, CertKind::Auth)?;
    validate::check_validity(ca, "CA certificate", at)?;
    validate::check_validity(&answer.certificate, CertKind::Auth.japanese(), at)
}
