//! The national register's operations: a municipality's numbered updates ([`Register::apply`]),
//! 本人確認情報の提供 ([`Register::confirm`], [`Register::search`]) and what a resident may see
//! ([`Register::history`], [`Register::provisions_of`]).
//!
//! **Delivery.** Each municipality numbers its updates 1, 2, 3, … A number already applied is
//! answered with the outcome recorded the first time (nothing is applied twice); the same number
//! with other content is refused ([`RegisterError::SequenceReused`]); a number past the next one
//! is refused ([`RegisterError::SequenceGap`]). A refused update does not use its number: the
//! municipality sends it again (a 転入 that arrived before the 転出 it completes succeeds once
//! the 転出 is in) or an operator resolves it.
//!
//! **Ownership.** A municipality changes only the residents it holds; a 転入 is the one update
//! that takes a resident from another municipality, and only one whose 転出 is pending (or who
//! was removed, e.g. after leaving the country): the pending 転出 is then completed.
//!
//! **Isolation.** Every update is one READ COMMITTED transaction that locks, in this order, its
//! municipality's delivery row (`FOR NO KEY UPDATE`, so that foreign-key checks against it, such
//! as a 転入's departure row naming the municipality left, do not wait) and then the resident's
//! row (`SELECT … FOR UPDATE`); a new code is claimed with `INSERT … ON CONFLICT DO NOTHING`.
//! Two municipalities racing on one resident queue on the row lock, and the second one decides
//! on the row as the first one left it, so both cannot win. No transaction locks two
//! municipality rows, and the only one that touches two residents (a code change) locks one and
//! creates the other, so the lock order has no cycle.

mod apply;
mod queries;
mod rows;
mod types;

pub use juki_host::date::Date;
pub use juki_host::resident::{FourInfo, MunicipalityCode, Sex};
pub use juki_host::resident_code::ResidentCode;

pub use types::{
    Applied, Confirmation, Departure, Event, HistoryEntry, Kind, Provision, QueryKind,
    RegisterError, Requester, Resident, Result, Search, Status, Update, MAX_SEARCH_RESULTS,
    PROVIDED_FIELDS,
};

use crate::db::Db;

/// The national register, on a [`Db`].
#[derive(Debug, Clone)]
pub struct Register {
    db: Db,
}

impl Register {
    /// The register on `db` (migrated: see [`Db::migrate`]).
    pub fn new(db: Db) -> Register {
        Register { db }
    }

    /// The database underneath.
    pub fn db(&self) -> &Db {
        &self.db
    }
}
