//! The contract between a municipality's counter and the national server for keeping the
//! network current: the counter queues its numbered [`Update`]s and hands them, in order, to a
//! [`Delivery`]; the server applies them in order and answers one [`Delivered`] per update it
//! looked at, stopping at the first it did not apply. The counter's side (queue, order,
//! retries with backoff) is in juki-counter; the HTTP/mTLS implementation of [`Delivery`] is
//! the network client of this crate.
//!
//! Exactly once in effect: the server records every number it applied with the update's
//! digest, so a batch sent twice (a lost answer, a retry) gets the same answers and changes
//! nothing the second time; a number reused for another update is refused.

use crate::register::Update;

/// What the server did with one update of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Applied (now or by an earlier delivery of the same number): the counter may drop it
    /// from its queue.
    Applied {
        /// The update's number.
        seq: u64,
    },
    /// Not applied. `transient`: the same update may succeed later (e.g. a 転入 that arrived
    /// before the 転出 it completes), keep it and retry with backoff; otherwise it needs a
    /// person (the counter shows it, the queue stops there: later numbers depend on it).
    Refused {
        /// The update's number.
        seq: u64,
        /// Why, as the server says it.
        reason: String,
        /// Whether retrying later may succeed.
        transient: bool,
    },
}

/// The network could not take a batch at all (unreachable, TLS refused, server error): nothing
/// is known to be applied; the counter keeps everything and retries with backoff.
#[derive(Debug, thiserror::Error)]
#[error("the network is not reachable: {0}")]
pub struct Unreachable(pub String);

/// Hands a batch of numbered updates, in order, to the national server.
pub trait Delivery {
    /// Delivers `batch` (consecutive numbers, lowest first). The answer has one entry per
    /// update the server looked at, in order: all `Applied`, possibly ended by one `Refused`.
    fn deliver(&mut self, batch: &[Update]) -> Result<Vec<Delivered>, Unreachable>;
}

pub use crate::register::Departure;

/// Reads, for the municipality of the caller, the 転出 that a 転入 elsewhere completed
/// (転入転出の特例): every [`Departure`] after the id `after`, in order, a batch at a time.
pub trait DepartureSource {
    /// The next departures after `after` (empty: none yet).
    fn departures(&mut self, after: i64) -> Result<Vec<Departure>, Unreachable>;
}
