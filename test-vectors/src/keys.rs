//! Deterministic test credentials: the national root, a municipality counter certified by it,
//! and the bad ones the card must refuse (foreign root, expired, wrong key).
//!
//! These keys are public test data. Never use them outside tests.

use juki_card::cvc::{self, CertificateFields, Date, Role};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};

fn key(seed: u8) -> SigningKey {
    // A scalar of 32 equal bytes in 0x01..=0x7F is below the curve order: always valid.
    SigningKey::from_slice(&[seed; 32]).unwrap_or_else(|_| unreachable!("valid test scalar"))
}

/// The national root key of the tests.
pub fn root() -> SigningKey {
    key(0x11)
}

/// A root that is not the card's.
pub fn foreign_root() -> SigningKey {
    key(0x33)
}

/// The test municipality counter's key.
pub fn counter() -> SigningKey {
    key(0x22)
}

/// Another key, not the one certified.
pub fn wrong_counter() -> SigningKey {
    key(0x44)
}

/// SEC1 uncompressed encoding of a key's public point.
pub fn public_point(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec()
}

/// `r‖s` signature of a prehashed digest.
pub fn sign_digest(key: &SigningKey, digest: &[u8; 32]) -> Vec<u8> {
    let signature: Signature = key
        .sign_prehash(digest)
        .unwrap_or_else(|_| unreachable!("P-256 signing of a 32-byte digest"));
    signature.to_bytes().to_vec()
}

fn date(text: &[u8; 8]) -> Date {
    Date::from_ascii(text).unwrap_or_else(|| unreachable!("valid test date"))
}

/// A certificate for `key` signed by `root`: a counter's (holder: municipality code) or a
/// card's (holder: serial).
pub fn certificate_for(
    root: &SigningKey,
    role: Role,
    public_key: &[u8],
    holder: &str,
    name: &str,
    validity: (&[u8; 8], &[u8; 8]),
    date_accurate: bool,
) -> Vec<u8> {
    let body = cvc::encode_body(&CertificateFields {
        role,
        holder: holder.as_bytes(),
        name,
        public_key,
        effective: date(validity.0),
        expiry: date(validity.1),
        date_accurate,
    })
    .unwrap_or_else(|e| unreachable!("test certificate fields: {e:?}"));
    let signature = sign_digest(root, &cvc::body_digest(&body));
    cvc::encode_certificate(&body, &signature)
        .unwrap_or_else(|e| unreachable!("test certificate: {e:?}"))
        .to_vec()
}

/// A date-accurate counter certificate for `counter` signed by `root`.
pub fn certificate(
    root: &SigningKey,
    counter: &SigningKey,
    code: &str,
    name: &str,
    effective: &[u8; 8],
    expiry: &[u8; 8],
) -> Vec<u8> {
    certificate_for(
        root,
        Role::Counter,
        &public_point(counter),
        code,
        name,
        (effective, expiry),
        true,
    )
}

/// The test counter's certificate: 千代田区 (131016), valid 2026-04-01 to 2031-03-31.
pub fn counter_certificate() -> Vec<u8> {
    certificate(
        &root(),
        &counter(),
        "131016",
        "千代田区",
        b"20260401",
        b"20310331",
    )
}

/// The same counter key certified by a foreign root.
pub fn foreign_certificate() -> Vec<u8> {
    certificate(
        &foreign_root(),
        &counter(),
        "131016",
        "千代田区",
        b"20260401",
        b"20310331",
    )
}

/// A certificate by the right root that expired on 2025-12-31.
pub fn expired_certificate() -> Vec<u8> {
    certificate(
        &root(),
        &counter(),
        "131016",
        "千代田区",
        b"20210401",
        b"20251231",
    )
}

/// A counter certificate issued in advance: effective 2031-04-01, after the current one
/// expires, and so not date-accurate (what a stolen pre-issued certificate looks like).
pub fn pre_issued_certificate() -> Vec<u8> {
    certificate_for(
        &root(),
        Role::Counter,
        &public_point(&counter()),
        "131016",
        "千代田区",
        (b"20310401", b"20360331"),
        false,
    )
}

/// The test card certificate's validity.
pub const CARD_VALIDITY: (&[u8; 8], &[u8; 8]) = (b"20260401", b"20460331");

/// The name in the test cards' certificates.
pub const CARD_NAME: &str = "住民基本台帳カード";

/// EXTERNAL AUTHENTICATE data answering `challenge` with `cert` and `key`, offering the
/// ephemeral key `ephemeral` (SEC1 uncompressed) for the secure-messaging session.
pub fn auth_data(cert: &[u8], key: &SigningKey, challenge: &[u8], ephemeral: &[u8]) -> Vec<u8> {
    let signature = sign_digest(key, &cvc::auth_digest(challenge, ephemeral));
    cvc::encode_auth_data(cert, ephemeral, &signature)
        .unwrap_or_else(|e| unreachable!("auth data: {e:?}"))
        .to_vec()
}
