//! What the log's watchers check: a witness (each municipal counter) that follows the log head
//! by head, an auditor that compares any two heads, and a resident's receipt.
//!
//! A log can cheat only by showing different trees to different parties (a fork) or by
//! rewriting history; both are caught by signed heads that cannot be joined by a consistency
//! proof, and the two signed heads are the evidence.

use p256::ecdsa::VerifyingKey;

use crate::error::{LogError, Result};
use crate::head::SignedTreeHead;
use crate::leaf::Opening;
use crate::proof::{ConsistencyProof, InclusionProof};

/// What a witness did with a new head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The first head seen: trusted on first use (nothing to be consistent with).
    First,
    /// The same tree (perhaps re-signed later).
    Same,
    /// A larger tree, proven to extend the previous one.
    Advanced {
        /// The previous size.
        from: u64,
        /// The new size.
        to: u64,
    },
}

/// A witness's state: the log key and the latest head it verified.
#[derive(Debug, Clone)]
pub struct Witness {
    key: VerifyingKey,
    latest: Option<SignedTreeHead>,
}

/// Checks that `new` may follow `old` (both verified): no shrinking, no fork, no time going
/// backwards, and the consistency proof between them.
fn check_successor(
    old: &SignedTreeHead,
    new: &SignedTreeHead,
    proof: Option<&ConsistencyProof>,
) -> Result<Observed> {
    let (o, n) = (&old.head, &new.head);
    if n.size < o.size {
        return Err(LogError::OlderSize {
            seen: o.size,
            got: n.size,
        });
    }
    if n.size == o.size && n.root != o.root {
        return Err(LogError::Fork { size: n.size });
    }
    if n.timestamp < o.timestamp {
        return Err(LogError::TimeBackwards {
            seen: o.timestamp,
            got: n.timestamp,
        });
    }
    if n.size == o.size {
        return Ok(Observed::Same);
    }
    let proof = proof.ok_or_else(|| {
        LogError::BadConsistencyProof(format!("no proof from size {} to {}", o.size, n.size))
    })?;
    if proof.old_size != o.size || proof.new_size != n.size {
        return Err(LogError::BadConsistencyProof(format!(
            "proof is from {} to {}, heads are {} and {}",
            proof.old_size, proof.new_size, o.size, n.size
        )));
    }
    // From the empty tree every tree is consistent, and verify_consistency refuses size 0.
    if o.size > 0 {
        proof.verify(&o.root, &n.root)?;
    }
    Ok(Observed::Advanced {
        from: o.size,
        to: n.size,
    })
}

impl Witness {
    /// A witness that has seen no head yet.
    pub fn new(key: VerifyingKey) -> Self {
        Witness { key, latest: None }
    }

    /// A witness resuming from a head it kept (checked again: the file may have changed).
    pub fn resume(key: VerifyingKey, latest: SignedTreeHead) -> Result<Self> {
        latest.verify(&key)?;
        Ok(Witness {
            key,
            latest: Some(latest),
        })
    }

    /// The log key it checks heads with.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The latest verified head, to keep.
    pub fn latest(&self) -> Option<&SignedTreeHead> {
        self.latest.as_ref()
    }

    /// Checks a new head (and the consistency proof from the latest head's size to its size,
    /// needed when it is larger); advances only if every check passes.
    pub fn observe(
        &mut self,
        new: &SignedTreeHead,
        proof: Option<&ConsistencyProof>,
    ) -> Result<Observed> {
        new.verify(&self.key)?;
        let observed = match &self.latest {
            None => Observed::First,
            Some(old) => check_successor(old, new, proof)?,
        };
        self.latest = Some(new.clone());
        Ok(observed)
    }
}

/// An auditor's check of any two heads, in either order: both signed by the log key, and the
/// smaller one a prefix of the larger by `proof` (not needed for equal sizes).
pub fn audit(
    key: &VerifyingKey,
    a: &SignedTreeHead,
    b: &SignedTreeHead,
    proof: Option<&ConsistencyProof>,
) -> Result<()> {
    a.verify(key)?;
    b.verify(key)?;
    let (old, new) = if a.head.size <= b.head.size {
        (a, b)
    } else {
        (b, a)
    };
    check_successor(old, new, proof).map(|_| ())
}

/// What a resident receives for one provision: the record and its salt, the leaf's place, the
/// inclusion proof and the signed head it is proven against.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The record and the salt that open the leaf.
    pub opening: Opening,
    /// The inclusion proof (its index is the leaf's).
    pub proof: InclusionProof,
    /// The signed head the proof is for.
    pub head: SignedTreeHead,
}

impl Receipt {
    /// Checks the head's signature, that the proof is for that head, and that the record's
    /// commitment is the leaf the proof includes.
    pub fn verify(&self, key: &VerifyingKey) -> Result<()> {
        self.head.verify(key)?;
        if self.proof.size != self.head.head.size {
            return Err(LogError::BadInclusionProof(format!(
                "proof for size {}, head of size {}",
                self.proof.size, self.head.head.size
            )));
        }
        let leaf = self.opening.leaf()?.hash();
        self.proof.verify(&leaf, &self.head.head.root)
    }
}
