//! juki's provision log: every provision of 本人確認情報, and every municipal counter's
//! audit-trail head, as a leaf of an append-only Merkle tree (RFC 9162 §2.1), with tree heads
//! signed by the national server's log key.
//!
//! This crate is the pure part shared by the server and its clients: the records and their
//! salted commitments ([`record`], [`leaf`]), the tree over a node store ([`store`],
//! [`frontier`], [`tree`]), proofs and their verification ([`proof`]), signed tree heads
//! ([`head`]) and what monitors and auditors check ([`monitor`]). Storage (PostgreSQL) and
//! transport are elsewhere. See docs/log.md.

#![forbid(unsafe_code)]

mod codec;
pub mod error;
pub mod frontier;
pub mod hash;
pub mod head;
pub mod leaf;
pub mod monitor;
pub mod proof;
pub mod record;
pub mod store;
pub mod tree;

pub use error::{LogError, Result};
pub use frontier::Frontier;
pub use hash::{empty_root, leaf_hash, node_hash, Hash};
pub use head::{LogKey, SignedTreeHead, TreeHead};
pub use leaf::{commitment, Leaf, Opening, Salt};
pub use monitor::{audit, Receipt, Witness};
pub use proof::{verify_consistency, verify_inclusion, ConsistencyProof, InclusionProof};
pub use record::{AuditAnchor, FieldSet, LeafKind, ProvisionRecord, QueryKind, Record};
pub use store::{MemoryStore, NodeId, NodeMap, Store};
pub use tree::{nodes_for_consistency, nodes_for_inclusion, nodes_for_root, Tree};
