//! The RFC 9162 §2.1 algorithms over stored perfect subtrees: MTH (§2.1.1), PATH (§2.1.3.1)
//! and PROOF/SUBPROOF (§2.1.4.1), for any tree size up to the current one, and the append-only
//! [`Tree`].
//!
//! The algorithms read nodes through a lookup function, so the same code runs over a
//! [`Store`], over nodes a server fetched ahead from PostgreSQL ([`crate::store::NodeMap`]), or
//! over a recorder that lists which nodes a proof needs ([`nodes_for_inclusion`]).
//! Each proof reads O(log n) nodes: once PATH or SUBPROOF descends into a left half, that half
//! is perfect and every sibling below it is a stored node; only one right-edge subtree per
//! proof is not stored, and it is composed from O(log n) stored nodes.

use std::collections::BTreeSet;

use crate::error::{LogError, Result};
use crate::frontier::Frontier;
use crate::hash::{empty_root, node_hash, Hash};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::store::{NodeId, Store};

/// The largest power of two strictly below `n` (n ≥ 2): where MTH splits.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[start:end]) for a subtree of some tree (start aligned as RFC 9162's recursion aligns
/// it): a stored node if perfect, else the largest perfect left part and the rest.
fn subtree_hash<F>(get: &mut F, start: u64, end: u64) -> Result<Hash>
where
    F: FnMut(NodeId) -> Result<Hash> + ?Sized,
{
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros() as u8;
        return get(NodeId::new(level, start >> level));
    }
    let k = split(n);
    let left = subtree_hash(get, start, start + k)?;
    let right = subtree_hash(get, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// `MTH(D[0:size])`.
pub fn root_with<F>(get: &mut F, size: u64) -> Result<Hash>
where
    F: FnMut(NodeId) -> Result<Hash> + ?Sized,
{
    if size == 0 {
        Ok(empty_root())
    } else {
        subtree_hash(get, 0, size)
    }
}

/// PATH(index, D[start:end]), deepest sibling first.
fn path<F>(get: &mut F, index: u64, start: u64, end: u64, out: &mut Vec<Hash>) -> Result<()>
where
    F: FnMut(NodeId) -> Result<Hash> + ?Sized,
{
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let mid = start + split(n);
    if index < mid {
        path(get, index, start, mid, out)?;
        out.push(subtree_hash(get, mid, end)?);
    } else {
        path(get, index, mid, end, out)?;
        out.push(subtree_hash(get, start, mid)?);
    }
    Ok(())
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof_with<F>(get: &mut F, index: u64, size: u64) -> Result<InclusionProof>
where
    F: FnMut(NodeId) -> Result<Hash> + ?Sized,
{
    if index >= size {
        return Err(LogError::OutOfRange(format!(
            "leaf {index} is not in a tree of {size}"
        )));
    }
    let mut out = Vec::with_capacity(64 - size.leading_zeros() as usize);
    path(get, index, 0, size, &mut out)?;
    Ok(InclusionProof {
        index,
        size,
        path: out,
    })
}

/// SUBPROOF(old - start, D[start:end], whole) with absolute indices.
fn subproof<F>(
    get: &mut F,
    old: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<()>
where
    F: FnMut(NodeId) -> Result<Hash> + ?Sized,
{
    if old == end {
        // The old tree is this subtree: the verifier knows its hash only if it is the whole
        // old tree.
        if !whole {
            out.push(subtree_hash(get, start, end)?);
        }
        return Ok(());
    }
    let mid = start + split(end - start);
    if old <= mid {
        subproof(get, old, start, mid, whole, out)?;
        out.push(subtree_hash(get, mid, end)?);
    } else {
        subproof(get, old, mid, end, false, out)?;
        out.push(subtree_hash(get, start, mid)?);
    }
    Ok(())
}

/// The consistency proof from the tree of `old` leaves to the tree of `new`: empty when the
/// sizes are equal; `old` must be at least 1 (from the empty tree there is nothing to prove).
pub fn consistency_proof_with<F>(get: &mut F, old: u64, new: u64) -> Result<ConsistencyProof>
where
    F: FnMut(NodeId) -> Result<Hash> + ?Sized,
{
    if old == 0 || old > new {
        return Err(LogError::OutOfRange(format!(
            "no consistency proof from {old} leaves to {new}"
        )));
    }
    let mut out = Vec::with_capacity(2 * (64 - new.leading_zeros() as usize));
    if old < new {
        subproof(get, old, 0, new, true, &mut out)?;
    }
    Ok(ConsistencyProof {
        old_size: old,
        new_size: new,
        path: out,
    })
}

/// Runs `f` with a lookup that records the ids asked for.
fn record_ids<T>(
    f: impl FnOnce(&mut dyn FnMut(NodeId) -> Result<Hash>) -> Result<T>,
) -> Result<Vec<NodeId>> {
    let mut ids = BTreeSet::new();
    let mut recorder = |id: NodeId| -> Result<Hash> {
        ids.insert(id);
        Ok([0; 32])
    };
    f(&mut recorder)?;
    Ok(ids.into_iter().collect())
}

/// The nodes [`inclusion_proof_with`] reads: a server fetches exactly these (one query), then
/// builds the proof over a [`crate::store::NodeMap`].
pub fn nodes_for_inclusion(index: u64, size: u64) -> Result<Vec<NodeId>> {
    record_ids(|get| inclusion_proof_with(get, index, size))
}

/// The nodes [`consistency_proof_with`] reads.
pub fn nodes_for_consistency(old: u64, new: u64) -> Result<Vec<NodeId>> {
    record_ids(|get| consistency_proof_with(get, old, new))
}

/// The nodes [`root_with`] reads.
pub fn nodes_for_root(size: u64) -> Result<Vec<NodeId>> {
    record_ids(|get| root_with(get, size))
}

/// An append-only Merkle tree over a node store, with its frontier cached so that appending
/// reads nothing.
#[derive(Debug)]
pub struct Tree<S> {
    store: S,
    frontier: Frontier,
}

impl<S: Store> Tree<S> {
    /// Opens the tree a store holds (reads the O(log n) frontier nodes).
    pub fn open(store: S) -> Result<Self> {
        let size = store.size()?;
        let hashes = Frontier::node_ids(size)
            .into_iter()
            .map(|id| store.node(id))
            .collect::<Result<Vec<_>>>()?;
        let frontier = Frontier::from_hashes(size, hashes)?;
        Ok(Tree { store, frontier })
    }

    /// Appends one leaf hash; returns its index.
    pub fn append(&mut self, leaf: Hash) -> Result<u64> {
        self.append_batch(&[leaf])
    }

    /// Appends leaf hashes in one store write; returns the index of the first.
    pub fn append_batch(&mut self, leaves: &[Hash]) -> Result<u64> {
        let first = self.frontier.size();
        let mut frontier = self.frontier.clone();
        let mut nodes = Vec::with_capacity(2 * leaves.len() + 64);
        for leaf in leaves {
            frontier.append(*leaf, &mut nodes)?;
        }
        self.store.extend(&nodes, frontier.size())?;
        // Only once the store has them: a failed write leaves the tree as it was.
        self.frontier = frontier;
        Ok(first)
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The root of the tree when it had `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        self.check_size(size)?;
        root_with(&mut |id| self.store.node(id), size)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof> {
        self.check_size(size)?;
        inclusion_proof_with(&mut |id| self.store.node(id), index, size)
    }

    /// The consistency proof from the tree of `old` leaves to the tree of `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof> {
        self.check_size(new)?;
        consistency_proof_with(&mut |id| self.store.node(id), old, new)
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn check_size(&self, size: u64) -> Result<()> {
        if size > self.size() {
            return Err(LogError::OutOfRange(format!(
                "size {size} beyond the tree's {}",
                self.size()
            )));
        }
        Ok(())
    }
}
