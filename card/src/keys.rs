//! P-256 key generation and hedged ECDSA signing.
//!
//! Signing is RFC 6979 with fresh randomness mixed in (`RandomizedPrehashSigner`): a weak RNG
//! alone, or a fault alone, does not reveal the key.

use p256::ecdsa::signature::hazmat::RandomizedPrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use crate::state::PublicKeyBytes;
use crate::status::Error;

/// Generates a new private key; returns its scalar (the `SigningKey` itself wipes its copy when
/// dropped, and so does the caller's core state).
pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> [u8; 32] {
    let key = SigningKey::random(rng);
    let mut bytes = key.to_bytes();
    let scalar: [u8; 32] = bytes.into();
    bytes.zeroize();
    scalar
}

fn signing_key(scalar: &[u8; 32]) -> Result<SigningKey, Error> {
    SigningKey::from_bytes(scalar.into()).map_err(|_| Error::ConditionsNotSatisfied)
}

/// The SEC1 uncompressed public key of `scalar`.
pub fn public_key(scalar: &[u8; 32]) -> Result<PublicKeyBytes, Error> {
    let key = signing_key(scalar)?;
    let point = key.verifying_key().to_encoded_point(false);
    PublicKeyBytes::try_from(point.as_bytes()).map_err(|_| Error::ConditionsNotSatisfied)
}

/// Signs the 32-byte `hash` (hedged ECDSA); returns `r‖s`.
pub fn sign<R: RngCore + CryptoRng>(
    scalar: &[u8; 32],
    hash: &[u8],
    rng: &mut R,
) -> Result<[u8; 64], Error> {
    if hash.len() != 32 {
        return Err(Error::WrongLength);
    }
    let key = signing_key(scalar)?;
    let signature: Signature = key
        .sign_prehash_with_rng(rng, hash)
        .map_err(|_| Error::WrongData)?;
    Ok(signature.to_bytes().into())
}

/// True when `bytes` is a valid SEC1 uncompressed P-256 point.
pub fn valid_public_key(bytes: &[u8]) -> bool {
    bytes.len() == 65
        && bytes.first() == Some(&0x04)
        && p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).is_ok()
}
