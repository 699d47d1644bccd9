//! The crate's one error type.

/// What can go wrong: malformed encodings, impossible tree sizes, proofs or signatures that do
/// not verify, a monitor's refusals, and the store's failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// An encoding could not be decoded (what, and why).
    #[error("malformed {what}: {why}")]
    Malformed {
        /// The encoding (a provision record, a leaf, a tree head…).
        what: &'static str,
        /// Why it is refused.
        why: String,
    },
    /// A field of a record is not acceptable (e.g. a resident code that is not 11 digits).
    #[error("invalid {field}: {why}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// Why.
        why: String,
    },
    /// A leaf index or tree size beyond the tree (or an old size above the new one).
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// A node hash the algorithms need is not in the store.
    #[error("node (level {level}, index {index}) missing from the store")]
    MissingNode {
        /// Its level (0 = leaves).
        level: u8,
        /// Its index within the level.
        index: u64,
    },
    /// An inclusion proof that does not lead to the root.
    #[error("inclusion proof does not verify: {0}")]
    BadInclusionProof(String),
    /// A consistency proof that does not lead to both roots.
    #[error("consistency proof does not verify: {0}")]
    BadConsistencyProof(String),
    /// A tree head whose signature is not the log key's.
    #[error("tree head signature does not verify with the log key")]
    BadSignature,
    /// A tree head smaller than one already seen: the log cannot shrink.
    #[error("tree head of size {got} is older than the size {seen} already seen")]
    OlderSize {
        /// The size already verified.
        seen: u64,
        /// The size offered.
        got: u64,
    },
    /// Two signed heads of the same size with different roots: the log has forked (shown
    /// different trees to different parties), and the two heads are the evidence.
    #[error("fork: two signed tree heads of size {size} with different roots")]
    Fork {
        /// The size of both heads.
        size: u64,
    },
    /// A newer (larger) head whose timestamp is earlier than the one already seen.
    #[error("tree head time goes backwards: {got} ms after {seen} ms")]
    TimeBackwards {
        /// The timestamp already seen (ms since the epoch).
        seen: u64,
        /// The timestamp offered.
        got: u64,
    },
    /// The node store failed (e.g. the database).
    #[error("store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Short for `Result<T, LogError>`.
pub type Result<T> = std::result::Result<T, LogError>;

pub(crate) fn malformed(what: &'static str, why: impl Into<String>) -> LogError {
    LogError::Malformed {
        what,
        why: why.into(),
    }
}

pub(crate) fn invalid(field: &'static str, why: impl Into<String>) -> LogError {
    LogError::InvalidField {
        field,
        why: why.into(),
    }
}
