//! What a resident's client has seen of the log, kept between disclosures: the newest head it
//! verified and, for each resident whose disclosure it showed, the newest leaf of their chain.
//! With it a later answer must be the same tree grown (a fork or a rollback is caught) and must
//! still hold what was shown (a provision deleted at the chain's end is caught). Heads that
//! others saw — a counter's (`juki counter net head`), another client's — are added as
//! witnesses for one request. The file names residents' codes: 0600 in a 0700 directory.

use std::collections::BTreeMap;
use std::path::Path;

use juki_log::SignedTreeHead;
use serde::{Deserialize, Serialize};

use super::Disclosure;

/// The state file's version.
pub const SEEN_VERSION: u32 = 1;

/// Heads seen (already verified with the log key) and each resident's newest leaf shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    heads: Vec<SignedTreeHead>,
    last_leaf: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeenFile {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    head: Option<String>,
    #[serde(default)]
    residents: BTreeMap<String, u64>,
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SeenError {
    /// Reading or writing it.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Its contents.
    #[error("not a disclosure state file (version {SEEN_VERSION}): {0}")]
    Format(String),
}

impl Seen {
    /// Nothing seen yet.
    pub fn new() -> Seen {
        Seen::default()
    }

    /// The state kept at `path` (nothing seen when there is no file yet).
    pub fn load(path: &Path) -> Result<Seen, SeenError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Seen::new()),
            Err(e) => return Err(e.into()),
        };
        let file: SeenFile =
            serde_json::from_str(&text).map_err(|e| SeenError::Format(e.to_string()))?;
        if file.version != SEEN_VERSION {
            return Err(SeenError::Format(format!("version {}", file.version)));
        }
        let heads = file
            .head
            .map(|h| SignedTreeHead::from_text(&h))
            .transpose()
            .map_err(|e| SeenError::Format(e.to_string()))?
            .into_iter()
            .collect();
        Ok(Seen {
            heads,
            last_leaf: file.residents,
        })
    }

    /// Writes the state to `path` (its directory made private), atomically.
    pub fn save(&self, path: &Path) -> Result<(), SeenError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            juki_host::private_dir::create(dir)?;
        }
        let file = SeenFile {
            version: SEEN_VERSION,
            head: self
                .heads
                .iter()
                .max_by_key(|h| h.head.size)
                .map(SignedTreeHead::to_text),
            residents: self.last_leaf.clone(),
        };
        let text =
            serde_json::to_string_pretty(&file).map_err(|e| SeenError::Format(e.to_string()))?;
        juki_host::private_dir::replace(path, text.as_bytes())?;
        Ok(())
    }

    /// Adds a head someone else saw (verify it with the log key first).
    pub fn witness(&mut self, head: SignedTreeHead) {
        self.heads.push(head);
    }

    /// The heads the next answer must be consistent with.
    pub fn heads(&self) -> &[SignedTreeHead] {
        &self.heads
    }

    /// The sizes to ask consistency proofs from.
    pub fn sizes(&self) -> Vec<u64> {
        let mut sizes: Vec<u64> = self.heads.iter().map(|h| h.head.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }

    /// The newest leaf of `resident`'s chain shown before.
    pub fn last_leaf(&self, resident: &str) -> Option<u64> {
        self.last_leaf.get(resident).copied()
    }

    /// Keeps what a verified disclosure showed: its head (consistent with every head kept, so
    /// it replaces them) and the resident's newest leaf.
    pub fn remember(&mut self, d: &Disclosure) {
        if let Some(head) = &d.head {
            self.heads = vec![head.clone()];
        }
        if let Some(last) = d.provisions.last() {
            self.last_leaf.insert(
                d.resident.code.as_str().to_string(),
                last.receipt.proof.index,
            );
        }
    }
}
