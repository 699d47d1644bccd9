//! The right edge of the tree: what appending needs.
//!
//! A tree of `size` leaves is a row of perfect subtrees, one per set bit of `size`, largest
//! first (e.g. 13 = 8 + 4 + 1). Appending a leaf merges the trailing subtrees of equal height,
//! as a binary counter carries: amortised one node hash per leaf, at most log₂ n, and no store
//! reads. The root is the row folded from the right (RFC 9162 §2.1.1: MTH splits at the largest
//! power of two below n).

use crate::error::{LogError, Result};
use crate::hash::{empty_root, node_hash, Hash};
use crate::store::NodeId;

/// The roots of the perfect subtrees that make up a tree, largest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree's.
    pub fn new() -> Self {
        Self::default()
    }

    /// The ids of the nodes that make up a tree of `size` leaves, largest first.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        let mut ids = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                ids.push(NodeId::new(level, start >> level));
                start += 1 << level;
            }
        }
        ids
    }

    /// The frontier from the hashes of [`Frontier::node_ids`]`(size)`, in that order.
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self> {
        if hashes.len() != size.count_ones() as usize {
            return Err(LogError::OutOfRange(format!(
                "a tree of {size} leaves has {} frontier nodes, not {}",
                size.count_ones(),
                hashes.len()
            )));
        }
        Ok(Frontier { size, hashes })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier's hashes, largest subtree first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash; returns the nodes that became complete (the leaf itself first), for
    /// the store.
    pub fn append(&mut self, leaf: Hash, new_nodes: &mut Vec<(NodeId, Hash)>) -> Result<()> {
        let size = self.size;
        let next = size
            .checked_add(1)
            .filter(|n| *n < 1 << 63)
            .ok_or_else(|| LogError::OutOfRange("the tree is full".into()))?;
        new_nodes.push((NodeId::new(0, size), leaf));
        let mut carry = leaf;
        // Each trailing 1 bit of the old size is a subtree of that height to merge with.
        for level in 1..=size.trailing_ones() {
            let left = self
                .hashes
                .pop()
                .ok_or_else(|| LogError::OutOfRange("frontier shorter than its size".into()))?;
            carry = node_hash(&left, &carry);
            // The merged node ends at leaf `next`: its index is the last whole block.
            new_nodes.push((NodeId::new(level as u8, (next >> level) - 1), carry));
        }
        self.hashes.push(carry);
        self.size = next;
        Ok(())
    }

    /// The tree's root (MTH).
    pub fn root(&self) -> Hash {
        let mut rev = self.hashes.iter().rev();
        match rev.next() {
            None => empty_root(),
            Some(last) => rev.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn node_ids_cover_the_leaves_in_order() {
        for size in 0..300u64 {
            let mut next = 0u64;
            for id in Frontier::node_ids(size) {
                assert_eq!(id.index << id.level, next);
                next += 1 << id.level;
            }
            assert_eq!(next, size);
        }
    }

    #[test]
    fn appending_yields_every_perfect_node_once() {
        let mut f = Frontier::new();
        let mut nodes = Vec::new();
        for i in 0..100u64 {
            f.append(leaf_hash(&i.to_be_bytes()), &mut nodes).unwrap();
        }
        // 100 leaves have 50 + 25 + 12 + 6 + 3 + 1 nodes above them.
        let expected: u64 = (0..8).map(|l| 100u64 >> l).sum();
        assert_eq!(nodes.len() as u64, expected);
        let ids: Vec<NodeId> = Frontier::node_ids(100);
        for id in &ids {
            assert!(nodes.iter().any(|(n, _)| n == id));
        }
        assert!(Frontier::from_hashes(100, vec![[0; 32]; 2]).is_err());
    }
}
