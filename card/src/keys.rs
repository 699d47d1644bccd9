//! P-256 key generation and hedged ECDSA signing.
//!
//! Signing is RFC 6979 with fresh randomness mixed in, exactly as ecdsa 0.16's
//! `RandomizedPrehashSigner::sign_prehash_with_rng` (the same RNG output gives the same
//! signature): a weak RNG alone, or a fault alone, does not reveal the key. It works on the
//! stored scalar directly: no `SigningKey`, whose construction computes the public key (a whole
//! scalar multiplication) for nothing.
//!
//! Every product with the generator (`k·G` of a signature, the public key of a scalar) uses the
//! precomputed [`BasepointTable`] when the caller has one, the generic multiplication otherwise;
//! both are constant time and give the same point.

use p256::ecdsa::Signature;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::elliptic_curve::{Curve, Field, FieldBytesEncoding, PrimeField};
use p256::{AffinePoint, FieldBytes, NistP256, NonZeroScalar, ProjectivePoint, Scalar, U256};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::basepoint::BasepointTable;
use crate::state::PublicKeyBytes;
use crate::status::Error;

/// `k·G` in affine coordinates, with the table when there is one.
fn mul_generator(k: &Scalar, table: Option<&BasepointTable>) -> AffinePoint {
    match table {
        Some(table) => table.mul_affine(k),
        None => (ProjectivePoint::GENERATOR * k).to_affine(),
    }
}

/// The low 128 bits of `n − 2` (the exponent of Fermat's inversion modulo the group order `n`);
/// its high 128 bits are `FFFFFFFF 00000000 FFFFFFFF FFFFFFFF`.
const N_MINUS_2_LOW: u128 = 0xBCE6_FAAD_A717_9E84_F3B9_CAC2_FC63_254F;

/// `a^(2^n)`: `n` squarings.
fn square_n(mut a: Scalar, n: u32) -> Scalar {
    for _ in 0..n {
        a = a.square();
    }
    a
}

/// `k⁻¹ mod n` for `k ≠ 0`, as `k^(n−2)` (what p256's `Scalar::invert` computes) with an
/// addition chain instead of square-and-multiply: 256 squarings and 52 multiplications instead
/// of about 420 operations, a quarter faster. The sequence of operations depends only on the
/// public exponent: constant time.
fn invert(k: &Scalar) -> Scalar {
    // x_m = k^(2^m − 1): m ones.
    let x2 = k.square() * k;
    let x4 = square_n(x2, 2) * x2;
    let x8 = square_n(x4, 4) * x4;
    let x16 = square_n(x8, 8) * x8;
    let x32 = Zeroizing::new(square_n(x16, 16) * x16);
    // FFFFFFFF 00000000 FFFFFFFF FFFFFFFF.
    let mut acc = square_n(*x32, 64) * *x32;
    acc = square_n(acc, 32) * *x32;
    // The low 128 bits by fixed 4-bit windows: k^0 … k^15.
    let mut powers = Zeroizing::new([Scalar::ONE; 16]);
    let mut power = Scalar::ONE;
    for entry in powers.iter_mut() {
        *entry = power;
        power *= k;
    }
    power.zeroize();
    for shift in (0..32).rev() {
        acc = square_n(acc, 4);
        let nibble = (N_MINUS_2_LOW >> (4 * shift)) & 0xF;
        if let Some(p) = powers.get(nibble as usize).filter(|_| nibble != 0) {
            acc *= p;
        }
    }
    acc
}

/// The stored scalar as a field element: `6985` unless `0 < d < n`.
fn secret_scalar(scalar: &[u8; 32]) -> Result<Zeroizing<NonZeroScalar>, Error> {
    let bytes: &FieldBytes = scalar.into();
    Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(*bytes))
        .map(Zeroizing::new)
        .ok_or(Error::ConditionsNotSatisfied)
}

/// Generates a new private key; returns its scalar (the caller's core state wipes its copy).
///
/// Draws from `rng` exactly as `SigningKey::random` did (rejection sampling of a non-zero
/// scalar), without computing the public key.
pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> [u8; 32] {
    let key = Zeroizing::new(NonZeroScalar::random(rng));
    let mut bytes = key.to_repr();
    let scalar: [u8; 32] = bytes.into();
    bytes.zeroize();
    scalar
}

/// The SEC1 uncompressed public key of `scalar`.
pub fn public_key(
    scalar: &[u8; 32],
    table: Option<&BasepointTable>,
) -> Result<PublicKeyBytes, Error> {
    let d = secret_scalar(scalar)?;
    let point = mul_generator(d.as_ref(), table).to_encoded_point(false);
    PublicKeyBytes::try_from(point.as_bytes()).map_err(|_| Error::ConditionsNotSatisfied)
}

/// Signs `hash` (hedged ECDSA): SHA-256 (32 bytes), or SHA-384/512 (48, 64) of which ECDSA
/// takes the leftmost 256 bits; returns `r‖s`.
///
/// As ecdsa 0.16: `z = bits2field(hash)`, 32 bytes of additional data from `rng`,
/// `k = RFC6979(d, n, z, ad)` with HMAC-SHA-256, `r = x(k·G) mod n`, `s = k⁻¹·(z + r·d)`
/// (no low-s normalisation for P-256).
pub fn sign<R: RngCore + CryptoRng>(
    scalar: &[u8; 32],
    hash: &[u8],
    rng: &mut R,
    table: Option<&BasepointTable>,
) -> Result<[u8; 64], Error> {
    // SHA-256, or SHA-384/512 from a DigestInfo: ECDSA takes the leftmost 256 bits
    // (`bits2field`).
    if !matches!(hash.len(), 32 | 48 | 64) {
        return Err(Error::WrongLength);
    }
    let d = secret_scalar(scalar)?;
    let z_bytes = ecdsa::hazmat::bits2field::<NistP256>(hash).map_err(|_| Error::WrongData)?;
    let mut ad = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut *ad);

    // The ephemeral scalar. `scalar` is the canonical encoding of `d` (`from_repr` accepted it).
    let order = FieldBytesEncoding::<NistP256>::encode_field_bytes(&NistP256::ORDER);
    let mut k_bytes = rfc6979::generate_k::<Sha256, _>(scalar.into(), &order, &z_bytes, &ad[..]);
    let k = Option::<Scalar>::from(Scalar::from_repr(k_bytes)).map(Zeroizing::new);
    k_bytes.zeroize();
    let k = k.ok_or(Error::WrongData)?;
    if bool::from(k.is_zero()) {
        return Err(Error::WrongData);
    }
    let k_inv = Zeroizing::new(invert(&k));

    let z = <Scalar as Reduce<U256>>::reduce_bytes(&z_bytes);
    let big_r = mul_generator(&k, table);
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
    let d: &Scalar = d.as_ref();
    let s = *k_inv * (z + r * d);
    // Refuses r = 0 or s = 0, as ecdsa does.
    let signature = Signature::from_scalars(r, s).map_err(|_| Error::WrongData)?;
    Ok(signature.to_bytes().into())
}

/// True when `bytes` is a valid SEC1 uncompressed P-256 point.
pub fn valid_public_key(bytes: &[u8]) -> bool {
    bytes.len() == 65
        && bytes.first() == Some(&0x04)
        && p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
    use p256::ecdsa::{SigningKey, VerifyingKey};
    use rand_core::{impls, OsRng};
    use sha2::Digest;
    use std::boxed::Box;

    /// A deterministic "CSPRNG" for the tests: SHA-256 in counter mode over a seed. Cloned, it
    /// gives both sides of a comparison the same output.
    #[derive(Clone)]
    struct TestRng {
        seed: [u8; 32],
        counter: u64,
    }

    impl TestRng {
        fn new(seed: u8) -> Self {
            TestRng {
                seed: [seed; 32],
                counter: 0,
            }
        }
    }

    impl RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(32) {
                let block = Sha256::new()
                    .chain_update(self.seed)
                    .chain_update(self.counter.to_be_bytes())
                    .finalize();
                self.counter += 1;
                chunk.copy_from_slice(&block[..chunk.len()]);
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl CryptoRng for TestRng {}

    fn table() -> Box<BasepointTable> {
        Box::new(BasepointTable::new())
    }

    #[test]
    fn signatures_are_those_of_ecdsa_with_and_without_the_table() {
        let table = table();
        for seed in 0..20u8 {
            let mut rng = TestRng::new(seed);
            let scalar = generate(&mut rng);
            let key = SigningKey::from_bytes((&scalar).into()).unwrap();
            let hash: [u8; 32] = Sha256::digest([seed]).into();
            let expected: Signature = key.sign_prehash_with_rng(&mut rng.clone(), &hash).unwrap();
            let expected: [u8; 64] = expected.to_bytes().into();
            for t in [None, Some(&*table)] {
                let mut ours = rng.clone();
                let signature = sign(&scalar, &hash, &mut ours, t).unwrap();
                assert_eq!(signature, expected, "seed {seed}, table {}", t.is_some());
                // The same RNG consumption: 32 bytes.
                let mut theirs = rng.clone();
                let _: Signature = key.sign_prehash_with_rng(&mut theirs, &hash).unwrap();
                assert_eq!(ours.next_u64(), theirs.next_u64());
                VerifyingKey::from(&key)
                    .verify_prehash(&hash, &Signature::from_slice(&signature).unwrap())
                    .unwrap();
            }
        }
    }

    #[test]
    fn inversion_is_p256s() {
        let n_minus_1 = -Scalar::ONE;
        let mut scalars = std::vec![
            Scalar::ONE,
            Scalar::from(2u64),
            n_minus_1,
            n_minus_1.double()
        ];
        scalars.extend((0..50).map(|_| Scalar::random(&mut OsRng)));
        for k in scalars {
            assert_eq!(invert(&k), k.invert().unwrap(), "k = {:?}", k.to_repr());
            assert_eq!(invert(&k) * k, Scalar::ONE);
        }
    }

    #[test]
    fn hedged_signatures_differ_and_verify() {
        let table = table();
        let scalar = generate(&mut OsRng);
        let key = *SigningKey::from_bytes((&scalar).into())
            .unwrap()
            .verifying_key();
        let hash = [0xA5; 32];
        let a = sign(&scalar, &hash, &mut OsRng, Some(&table)).unwrap();
        let b = sign(&scalar, &hash, &mut OsRng, None).unwrap();
        assert_ne!(a, b);
        for s in [a, b] {
            key.verify_prehash(&hash, &Signature::from_slice(&s).unwrap())
                .unwrap();
        }
    }

    #[test]
    fn wrong_hash_length_and_bad_scalars_are_refused_as_before() {
        let table = table();
        let scalar = generate(&mut OsRng);
        for t in [None, Some(&*table)] {
            for len in [0, 16, 31, 33, 47, 63, 65] {
                let hash = std::vec![1u8; len];
                assert_eq!(sign(&scalar, &hash, &mut OsRng, t), Err(Error::WrongLength));
            }
            // SHA-384 and SHA-512: ECDSA's leftmost 256 bits, as p256 verifies them.
            let key = VerifyingKey::from_sec1_bytes(&public_key(&scalar, t).unwrap()).unwrap();
            for len in [48, 64] {
                let hash: std::vec::Vec<u8> = (0..len as u8).collect();
                let s = sign(&scalar, &hash, &mut OsRng, t).unwrap();
                key.verify_prehash(&hash, &Signature::from_slice(&s).unwrap())
                    .unwrap();
            }
            // Zero and n are not keys (SigningKey::from_bytes refused them too).
            let n: [u8; 32] =
                FieldBytesEncoding::<NistP256>::encode_field_bytes(&NistP256::ORDER).into();
            for bad in [[0u8; 32], n, [0xFF; 32]] {
                assert_eq!(
                    sign(&bad, &[0; 32], &mut OsRng, t),
                    Err(Error::ConditionsNotSatisfied)
                );
                assert_eq!(public_key(&bad, t), Err(Error::ConditionsNotSatisfied));
            }
        }
    }

    #[test]
    fn public_keys_are_those_of_signing_key() {
        let table = table();
        let mut rng = TestRng::new(99);
        for _ in 0..20 {
            let before = rng.clone();
            let scalar = generate(&mut rng);
            // The same draws as SigningKey::random.
            let key = SigningKey::random(&mut before.clone());
            assert_eq!(<[u8; 32]>::from(key.to_bytes()), scalar);
            let expected = key.verifying_key().to_encoded_point(false);
            for t in [None, Some(&*table)] {
                assert_eq!(public_key(&scalar, t).unwrap(), expected.as_bytes());
            }
        }
        let mut one = [0u8; 32];
        one[31] = 1;
        let g = ProjectivePoint::GENERATOR
            .to_affine()
            .to_encoded_point(false);
        assert_eq!(public_key(&one, Some(&table)).unwrap(), g.as_bytes());
    }
}
