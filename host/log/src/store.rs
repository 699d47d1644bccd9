//! Where the tree's node hashes live.
//!
//! Only the hashes of *perfect* subtrees are stored, keyed by (level, index): node (l, i) is the
//! root of leaves `[i·2ˡ, (i+1)·2ˡ)`, level 0 being the leaf hashes. Such a node, once its
//! last leaf is appended, never changes, so a store is insert-only (a PostgreSQL table with
//! primary key (level, index) and no updates), and it serves proofs for every tree size up to
//! the current one: any subtree of an older tree is either one of these nodes or a right edge
//! made of them.

use std::collections::HashMap;

use crate::error::{LogError, Result};
use crate::hash::Hash;

/// The position of a perfect subtree's root: its level (0 = leaves) and its index in the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// The height above the leaves: the subtree has 2^level leaves.
    pub level: u8,
    /// The position in the level: the subtree starts at leaf `index << level`.
    pub index: u64,
}

impl NodeId {
    /// The node at `level` and `index`.
    pub fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }
}

/// A node store: the leaf count and the perfect subtrees' hashes.
pub trait Store {
    /// The number of leaves.
    fn size(&self) -> Result<u64>;

    /// A node's hash; [`LogError::MissingNode`] if it is not stored.
    fn node(&self, id: NodeId) -> Result<Hash>;

    /// Adds new nodes and sets the new leaf count, together (one transaction in a database),
    /// so that a reader never sees a size whose nodes are missing.
    fn extend(&mut self, nodes: &[(NodeId, Hash)], new_size: u64) -> Result<()>;
}

fn store_error(why: String) -> LogError {
    LogError::Store(why.into())
}

/// Every node in memory, one vector per level (level l holds ⌊size / 2ˡ⌋ hashes: 2·size
/// hashes in all, 64 bytes a leaf).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    size: u64,
    levels: Vec<Vec<Hash>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of stored hashes (for sizing).
    pub fn node_count(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }
}

impl Store for MemoryStore {
    fn size(&self) -> Result<u64> {
        Ok(self.size)
    }

    fn node(&self, id: NodeId) -> Result<Hash> {
        usize::try_from(id.index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(id.level))?.get(i))
            .copied()
            .ok_or(LogError::MissingNode {
                level: id.level,
                index: id.index,
            })
    }

    fn extend(&mut self, nodes: &[(NodeId, Hash)], new_size: u64) -> Result<()> {
        if new_size < self.size {
            return Err(store_error(format!(
                "size {new_size} below the stored {}",
                self.size
            )));
        }
        // Check before changing anything, so that a refused batch leaves the store as it was.
        let mut next: Vec<usize> = self.levels.iter().map(Vec::len).collect();
        for (id, _) in nodes {
            let level = usize::from(id.level);
            if next.len() <= level {
                next.resize(level + 1, 0);
            }
            if usize::try_from(id.index).ok() != Some(next[level]) {
                return Err(store_error(format!(
                    "node ({}, {}) out of order: next at that level is {}",
                    id.level, id.index, next[level]
                )));
            }
            next[level] += 1;
        }
        for (id, hash) in nodes {
            let level = usize::from(id.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            self.levels[level].push(*hash);
        }
        self.size = new_size;
        Ok(())
    }
}

/// Nodes fetched ahead for one computation (e.g. by a server that asked PostgreSQL for exactly
/// the ids of [`crate::tree::nodes_for_inclusion`]); read-only.
#[derive(Debug, Clone, Default)]
pub struct NodeMap {
    /// The tree size the nodes were fetched for.
    pub size: u64,
    /// The nodes.
    pub nodes: HashMap<NodeId, Hash>,
}

impl Store for NodeMap {
    fn size(&self) -> Result<u64> {
        Ok(self.size)
    }

    fn node(&self, id: NodeId) -> Result<Hash> {
        self.nodes.get(&id).copied().ok_or(LogError::MissingNode {
            level: id.level,
            index: id.index,
        })
    }

    fn extend(&mut self, _: &[(NodeId, Hash)], _: u64) -> Result<()> {
        Err(store_error("a node map is read-only".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_refuses_gaps_without_changing() {
        let mut s = MemoryStore::new();
        s.extend(&[(NodeId::new(0, 0), [1; 32])], 1).unwrap();
        let gap = [(NodeId::new(0, 1), [2; 32]), (NodeId::new(0, 3), [3; 32])];
        assert!(matches!(s.extend(&gap, 4), Err(LogError::Store(_))));
        assert_eq!(s.size().unwrap(), 1);
        assert_eq!(s.node_count(), 1);
        assert!(matches!(
            s.node(NodeId::new(0, 1)),
            Err(LogError::MissingNode { level: 0, index: 1 })
        ));
        assert!(s.node(NodeId::new(9, 0)).is_err());
        assert!(s.extend(&[], 0).is_err());
    }
}
