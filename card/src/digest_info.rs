//! What COMPUTE DIGITAL SIGNATURE signs: a SHA-256 hash of 32 bytes, as juki's host sends it,
//! or a DER `DigestInfo` (RFC 8017 §9.2) of SHA-256, SHA-384 or SHA-512, as real JPKI clients
//! send it (OpenSC's `pkcs15-crypt --sha-256`, jpki-cli, myna, PKCS#11 `CKM_ECDSA_SHA*`
//! through a module that wraps the hash).
//!
//! A `DigestInfo` is recognised only in its DER form with the algorithm's `NULL` parameters —
//! the form every client sends — by its fixed 19-byte prefix, as the PKCS#1 v1.5 table of RFC
//! 8017 lists it. The hash inside is signed by ECDSA's rule for hashes longer than the curve:
//! its leftmost 256 bits (`keys::sign`, `bits2field`).

use crate::status::Error;

/// The hash algorithms a `DigestInfo` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (OID 2.16.840.1.101.3.4.2.1), 32 bytes.
    Sha256,
    /// SHA-384 (OID 2.16.840.1.101.3.4.2.2), 48 bytes.
    Sha384,
    /// SHA-512 (OID 2.16.840.1.101.3.4.2.3), 64 bytes.
    Sha512,
}

/// Length of the DER prefix of a `DigestInfo` before the hash.
pub const PREFIX_LEN: usize = 19;

/// `30 L 30 0D 06 09 <OID> 05 00 04 H`: each algorithm's prefix and hash length.
pub const DIGEST_INFOS: [(HashAlg, [u8; PREFIX_LEN], usize); 3] = [
    (HashAlg::Sha256, prefix(0x31, 0x01, 32), 32),
    (HashAlg::Sha384, prefix(0x41, 0x02, 48), 48),
    (HashAlg::Sha512, prefix(0x51, 0x03, 64), 64),
];

const fn prefix(total: u8, oid_last: u8, hash_len: usize) -> [u8; PREFIX_LEN] {
    [
        0x30,
        total,
        0x30,
        0x0D,
        0x06,
        0x09,
        0x60,
        0x86,
        0x48,
        0x01,
        0x65,
        0x03,
        0x04,
        0x02,
        oid_last,
        0x05,
        0x00,
        0x04,
        hash_len as u8,
    ]
}

/// A raw SHA-256 hash's length.
pub const RAW_HASH_LEN: usize = 32;

/// The hash the card signs for the data of COMPUTE DIGITAL SIGNATURE: the data itself when it
/// is 32 bytes, the hash inside a `DigestInfo` of one of [`DIGEST_INFOS`]. `6A80` for a
/// `DigestInfo` (a DER `SEQUENCE`) of another algorithm or malformed, `6700` for any other
/// length.
pub fn hash_to_sign(data: &[u8]) -> Result<&[u8], Error> {
    if data.len() == RAW_HASH_LEN {
        return Ok(data);
    }
    for (_, prefix, len) in &DIGEST_INFOS {
        if let Some(hash) = data.strip_prefix(prefix.as_slice()) {
            return if hash.len() == *len {
                Ok(hash)
            } else {
                Err(Error::WrongData)
            };
        }
    }
    match data.first() {
        Some(0x30) => Err(Error::WrongData),
        _ => Err(Error::WrongLength),
    }
}

/// The algorithm of a `DigestInfo` (`None` for a raw hash or anything else).
pub fn algorithm(data: &[u8]) -> Option<HashAlg> {
    DIGEST_INFOS
        .iter()
        .find(|(_, prefix, len)| data.len() == PREFIX_LEN + len && data.starts_with(prefix))
        .map(|(alg, _, _)| *alg)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn digest_info(alg: HashAlg, hash: &[u8]) -> std::vec::Vec<u8> {
        let (_, prefix, _) = DIGEST_INFOS.iter().find(|(a, _, _)| *a == alg).unwrap();
        [prefix.as_slice(), hash].concat()
    }

    #[test]
    fn raw_hash_and_each_digest_info() {
        let h32 = [7u8; 32];
        assert_eq!(hash_to_sign(&h32), Ok(&h32[..]));
        for (alg, len) in [
            (HashAlg::Sha256, 32),
            (HashAlg::Sha384, 48),
            (HashAlg::Sha512, 64),
        ] {
            let hash = std::vec![0xA5; len];
            let di = digest_info(alg, &hash);
            // The DER lengths: the outer SEQUENCE covers all but its two header bytes.
            assert_eq!(usize::from(di[1]) + 2, di.len());
            assert_eq!(hash_to_sign(&di), Ok(&hash[..]));
            assert_eq!(algorithm(&di), Some(alg));
        }
    }

    #[test]
    fn the_sha256_prefix_is_the_standard_one() {
        // RFC 8017 §9.2, note 1: SHA-256 DigestInfo prefix.
        let der = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        assert_eq!(DIGEST_INFOS[0].1, der);
    }

    #[test]
    fn anything_else_is_refused() {
        // A hash of the wrong length inside a known prefix, another algorithm (SHA-1), a
        // truncated DigestInfo: wrong data. Any other length: wrong length.
        let mut short = digest_info(HashAlg::Sha384, &[1; 48]);
        short.pop();
        assert_eq!(hash_to_sign(&short), Err(Error::WrongData));
        let sha1 = [
            &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ][..],
            &[0u8; 20],
        ]
        .concat();
        assert_eq!(hash_to_sign(&sha1), Err(Error::WrongData));
        assert_eq!(hash_to_sign(&[0u8; 31]), Err(Error::WrongLength));
        assert_eq!(hash_to_sign(&[0u8; 48]), Err(Error::WrongLength));
        assert_eq!(hash_to_sign(&[]), Err(Error::WrongLength));
        assert_eq!(algorithm(&[0u8; 32]), None);
    }
}
