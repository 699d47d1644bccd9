//! The RFC 9162 §2.1 hashes: SHA-256 with a one-byte domain prefix, 0x00 for leaves and 0x01
//! for interior nodes, so that a leaf can never be passed off as a node (second-preimage
//! attacks on the tree).

use sha2::{Digest, Sha256};

/// A SHA-256 output: a leaf hash, a node hash or a root.
pub type Hash = [u8; 32];

/// The number of bytes of a [`Hash`](type@Hash).
pub const HASH_LEN: usize = 32;

/// The root of the empty tree: `SHA-256()` (RFC 9162 §2.1.1, `MTH({}) = HASH()`).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hash of a leaf: `SHA-256(0x00 ‖ leaf input)`.
pub fn leaf_hash(input: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(input);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_separate_leaves_from_nodes() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut joined = a.to_vec();
        joined.extend_from_slice(&b);
        // The same 64 bytes hashed as a leaf and as a node differ only by the prefix.
        assert_ne!(leaf_hash(&joined), node_hash(&a, &b));
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
