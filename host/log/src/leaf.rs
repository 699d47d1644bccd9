//! Leaves: salted commitments to records, in a small versioned encoding.
//!
//! `commitment = SHA-256("juki-log/v1 commitment\0" ‖ salt ‖ record)`, with a fresh 32-byte
//! random salt per record. The tree's leaf input is `LEAF_VERSION ‖ kind ‖ commitment`
//! (34 bytes), hashed as RFC 9162 leaves (`SHA-256(0x00 ‖ input)`). Without the salt a
//! commitment says nothing about the record: guessing a resident code (10¹¹ values) and a
//! purpose would otherwise be a small dictionary attack; with 2²⁵⁶ salts it is not.

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::codec::Reader;
use crate::error::{malformed, Result};
use crate::hash::{leaf_hash, Hash};
use crate::record::{LeafKind, Record};

/// The version of the leaf encoding.
pub const LEAF_VERSION: u8 = 1;
/// The length of a leaf input.
pub const LEAF_LEN: usize = 34;
/// Separates these commitments from any other SHA-256 use of the same bytes.
const COMMITMENT_DOMAIN: &[u8] = b"juki-log/v1 commitment\0";

/// A commitment's secret randomness: 32 bytes from the operating system.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Salt(pub [u8; 32]);

impl Salt {
    /// A fresh salt.
    pub fn random() -> Self {
        let mut s = [0u8; 32];
        OsRng.fill_bytes(&mut s);
        Salt(s)
    }
}

impl std::fmt::Debug for Salt {
    // A salt opens a commitment; keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(…)")
    }
}

/// `SHA-256(domain ‖ salt ‖ canonical record)`.
pub fn commitment(salt: &Salt, record_bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(COMMITMENT_DOMAIN);
    h.update(salt.0);
    h.update(record_bytes);
    h.finalize().into()
}

/// What the tree holds for one record: its kind and its commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Leaf {
    /// What the commitment is to.
    pub kind: LeafKind,
    /// The salted commitment.
    pub commitment: Hash,
}

impl Leaf {
    /// The leaf input: `LEAF_VERSION ‖ kind ‖ commitment`.
    pub fn encode(&self) -> [u8; LEAF_LEN] {
        let mut out = [0u8; LEAF_LEN];
        out[0] = LEAF_VERSION;
        out[1] = self.kind as u8;
        out[2..].copy_from_slice(&self.commitment);
        out
    }

    /// Decodes a leaf input.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "leaf";
        let mut r = Reader::new(WHAT, bytes);
        let version = r.u8()?;
        if version != LEAF_VERSION {
            return Err(malformed(WHAT, format!("unknown version {version}")));
        }
        let kind = LeafKind::from_byte(r.u8()?, WHAT)?;
        let commitment = r.array()?;
        r.finish()?;
        Ok(Leaf { kind, commitment })
    }

    /// The RFC 9162 leaf hash the tree is built from.
    pub fn hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

/// A record with its salt: what opens a leaf. The server keeps it beside the record in
/// PostgreSQL; the resident receives it with the inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The record.
    pub record: Record,
    /// Its salt.
    pub salt: Salt,
}

impl Opening {
    /// Salts a record with a fresh salt.
    pub fn new(record: impl Into<Record>) -> Self {
        Opening {
            record: record.into(),
            salt: Salt::random(),
        }
    }

    /// The leaf this opening opens; refuses a record that does not encode.
    pub fn leaf(&self) -> Result<Leaf> {
        Ok(Leaf {
            kind: self.record.kind(),
            commitment: commitment(&self.salt, &self.record.encode()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{anchor, provision};

    #[test]
    fn leaf_round_trips_and_refuses_other_forms() {
        let leaf = Opening::new(provision(3)).leaf().unwrap();
        let bytes = leaf.encode();
        assert_eq!(Leaf::decode(&bytes).unwrap(), leaf);
        assert!(Leaf::decode(&bytes[..33]).is_err());
        let mut bad = bytes;
        bad[0] = 2;
        assert!(Leaf::decode(&bad).is_err());
        let mut bad = bytes;
        bad[1] = 0;
        assert!(Leaf::decode(&bad).is_err());
    }

    #[test]
    fn salts_make_equal_records_unlinkable() {
        let (a, b) = (Opening::new(provision(3)), Opening::new(provision(3)));
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.leaf().unwrap(), b.leaf().unwrap());
    }

    #[test]
    fn a_commitment_binds_every_byte_of_the_record_and_salt() {
        let opening = Opening::new(anchor());
        let leaf = opening.leaf().unwrap();
        let bytes = opening.record.encode().unwrap();
        for i in 0..bytes.len() {
            let mut other = bytes.clone();
            other[i] ^= 1;
            assert_ne!(commitment(&opening.salt, &other), leaf.commitment);
        }
        let mut salt = opening.salt.clone();
        salt.0[31] ^= 0x80;
        assert_ne!(commitment(&salt, &bytes), leaf.commitment);
        assert_eq!(format!("{:?}", opening.salt), "Salt(…)");
    }

    #[test]
    fn kinds_are_in_the_leaf() {
        let p = Opening::new(provision(1)).leaf().unwrap();
        let a = Opening::new(anchor()).leaf().unwrap();
        assert_eq!(p.encode()[1], 1);
        assert_eq!(a.encode()[1], 2);
    }
}
