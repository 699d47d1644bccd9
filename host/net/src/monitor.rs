//! Watching the provision log from outside the server (docs/log.md, "What monitors check"):
//! a [`Monitor`] — every municipal counter runs one at each sync, an auditor runs one from the
//! empty tree — takes the server's latest signed head and accepts it only if
//!
//! 1. the log key signed it;
//! 2. the server's **entries** for the leaves added since the last accepted head — recomputed by
//!    the server from the records and salts in PostgreSQL, not read from its tree — are all
//!    there and, appended to the kept frontier, give exactly the head's root: a record altered
//!    or dropped in the database, or a leaf without a record, shows here;
//! 3. it extends the last accepted head (`juki_log::Witness`: no shrinking, no fork, no time
//!    going backwards, the consistency proof).
//!
//! The state kept between checks is the last head (its text) and the frontier (at most 64
//! hashes), both re-verified against each other when resumed.

use juki_log::{Frontier, Hash, LogError, SignedTreeHead, Witness};
use p256::ecdsa::VerifyingKey;

use crate::client::{ClientError, NetClient};
use crate::provision_log::MAX_ENTRIES;

pub use juki_log::monitor::Observed;

/// Why a head was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The server could not be asked.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The head or a proof failed: a bad signature, a fork, a rewritten history
    /// (`juki_log::LogError` names which).
    #[error("the provision log cannot be trusted: {0}")]
    Log(#[from] LogError),
    /// A leaf has no record behind it (the record was removed from the register).
    #[error("the provision log cannot be trusted: leaf {index} has no record (removed?)")]
    MissingEntry {
        /// The leaf's index.
        index: u64,
    },
    /// The records do not give the signed tree (a record was altered, or the tree was).
    #[error(
        "the provision log cannot be trusted: the records of leaves {from}..{to} do not give \
         the signed root"
    )]
    EntriesDisagree {
        /// First leaf checked.
        from: u64,
        /// End of the range checked.
        to: u64,
    },
    /// The kept state does not hold together (edited by hand?).
    #[error("the monitor's kept state is not valid: {0}")]
    State(String),
}

/// A monitor's state.
#[derive(Debug, Clone)]
pub struct Monitor {
    witness: Witness,
    frontier: Frontier,
}

/// What one check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// What the witness did with the head (`None`: the log is still empty).
    pub observed: Option<Observed>,
    /// The size accepted.
    pub size: u64,
    /// Leaves whose records were checked now.
    pub entries: u64,
}

impl Monitor {
    /// A monitor that has accepted nothing yet (it will check every leaf from the first).
    pub fn new(key: VerifyingKey) -> Monitor {
        Monitor {
            witness: Witness::new(key),
            frontier: Frontier::new(),
        }
    }

    /// A monitor resumed from its kept head (text) and frontier; refused if they disagree.
    pub fn resume(
        key: VerifyingKey,
        head: &str,
        frontier: Vec<Hash>,
    ) -> Result<Monitor, MonitorError> {
        let head = SignedTreeHead::from_text(head)?;
        let frontier = Frontier::from_hashes(head.head.size, frontier)?;
        if frontier.root() != head.head.root {
            return Err(MonitorError::State(
                "the kept frontier does not give the kept head's root".into(),
            ));
        }
        Ok(Monitor {
            witness: Witness::resume(key, head)?,
            frontier,
        })
    }

    /// The last accepted head, to keep (`None` before the first).
    pub fn head(&self) -> Option<&SignedTreeHead> {
        self.witness.latest()
    }

    /// The frontier, to keep with the head.
    pub fn frontier(&self) -> &[Hash] {
        self.frontier.hashes()
    }

    /// Checks the server's latest head as the module says; the state advances only if every
    /// check passes.
    pub fn check(&mut self, client: &mut NetClient) -> Result<Checked, MonitorError> {
        let Some(head) = client.log_head()? else {
            return Ok(Checked {
                observed: None,
                size: self.frontier.size(),
                entries: 0,
            });
        };
        self.accept(client, &head)
    }

    /// As [`Monitor::check`] for a given head (an auditor's, or one another party was shown).
    pub fn accept(
        &mut self,
        client: &mut NetClient,
        head: &SignedTreeHead,
    ) -> Result<Checked, MonitorError> {
        let key = *self.witness_key();
        head.verify(&key)?;
        let (from, to) = (self.frontier.size(), head.head.size);
        let mut frontier = self.frontier.clone();
        if to > from {
            let mut start = from;
            while start < to {
                let end = to.min(start + MAX_ENTRIES);
                let entries = client.log_entries(start, end)?;
                let mut expected = start;
                for (index, leaf) in entries {
                    if index != expected {
                        return Err(MonitorError::MissingEntry { index: expected });
                    }
                    let mut nodes = Vec::new();
                    frontier.append(leaf.hash(), &mut nodes)?;
                    expected += 1;
                }
                if expected != end {
                    return Err(MonitorError::MissingEntry { index: expected });
                }
                start = end;
            }
            if frontier.root() != head.head.root {
                return Err(MonitorError::EntriesDisagree { from, to });
            }
        }
        let proof = match self.witness.latest() {
            Some(old) if old.head.size > 0 && to > old.head.size => {
                Some(client.log_consistency(old.head.size, to)?)
            }
            _ => None,
        };
        let mut witness = self.witness.clone();
        let observed = witness.observe(head, proof.as_ref())?;
        if to < from {
            // The witness refused a smaller head above; a frontier never shrinks.
            return Err(MonitorError::State("a smaller head was accepted".into()));
        }
        self.witness = witness;
        self.frontier = frontier;
        Ok(Checked {
            observed: Some(observed),
            size: to,
            entries: to.saturating_sub(from),
        })
    }

    fn witness_key(&self) -> &VerifyingKey {
        self.witness.key()
    }
}
