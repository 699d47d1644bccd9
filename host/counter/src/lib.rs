//! The municipal counter's records: its SQLite database (`counter.db`) with the card registry,
//! the counter's operators, the pending-operation journal and the hash-chained audit trail.
//!
//! The data layer ([`db`], [`registry`], [`operators`], [`audit`], [`journal`]) never talks to a
//! card; the counter operations ([`ops`]: issue,
//! suspend, …) drive it in this order, so that a card step and its record never disagree:
//!
//! 1. [`journal::Journal::begin`] commits a *pending* row before the card is touched;
//! 2. the card step runs;
//! 3. one [`CounterDb::transaction`] updates the [`registry`], and
//!    [`journal::Journal::complete`] appends the [`audit`] record and closes the pending row.
//!
//! If the process dies between 2 and 3, [`journal::Journal::unfinished`] lists the operation at
//! the next start; a clerk checks the card and closes it with [`journal::Journal::resolve`].
//!
//! ```
//! use juki_counter::{journal::PendingOperation, Actor, CounterDb, Operation, Outcome};
//! use juki_counter::registry::Transition;
//! use juki_host::resident::MunicipalityCode;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let chiyoda = MunicipalityCode::parse("131016")?;
//! let mut db = CounterDb::open(dir.path())?;
//! # let code = juki_host::resident_code::ResidentCode::parse("12345678903")?;
//! # let issued = juki_host::date::Date::from_ymd(2026, 4, 1).ok_or("date")?;
//! # let expires = juki_host::date::Date::from_ymd(2036, 3, 31).ok_or("date")?;
//! # db.registry().register_card(&juki_counter::registry::NewCard {
//! #     serial: "JK-0001", resident_code: &code, resident_name: "住基 花子",
//! #     issuing_municipality: &chiyoda, issued, expires, legal_representative: None,
//! # }, juki_counter::registry::CardState::Issued)?;
//! let clerk = Actor { municipality: &chiyoda, operator: "suzuki" };
//! let id = db.journal().begin(&PendingOperation {
//!     actor: clerk,
//!     card_serial: Some("JK-0001"),
//!     operation: Operation::Suspend,
//!     detail: "reported lost",
//! })?;
//! // … suspend the card through the card API here; on failure, complete with Outcome::Failed …
//! db.transaction(|tx| {
//!     tx.registry().change_state("JK-0001", Transition::Suspend, "reported lost")?;
//!     tx.journal().complete(id, &Outcome::Ok, "")?;
//!     Ok::<_, juki_counter::CounterError>(())
//! })?;
//! assert!(db.journal().unfinished()?.is_empty());
//! assert!(db.audit().verify()?.is_intact());
//! # Ok(())
//! # }
//! ```
//!
//! - [`db`]: opening the database (file modes, WAL, foreign keys, schema migrations).
//! - [`registry`]: residents (by 住民票コード), cards and their state history.
//! - [`operators`]: operators (操作者) with Argon2id password hashes and lockout.
//! - [`audit`]: the append-only, hash-chained audit trail and its verification.
//! - [`journal`]: pending operations (begin → card step → complete).
//! - [`network`]: the outbox of updates for 住基ネット, queued in the transaction of their
//!   change, and their delivery in order ([`network::sync`]).
//! - [`log_watch`]: the counter as a monitor of 住基ネット's provision log, and its audit
//!   trail's heads anchored there.
//! - [`clock`]: the host's one clock, [`juki_host::clock`] (re-exported; injectable for tests:
//!   [`ManualClock`]).
//! - [`session`]: a logged-in operator at a counter bound to one municipality.
//! - [`ops`]: the counter's operations on a card, end to end (host checks, journal, card step,
//!   registry and audit record).

pub mod audit;
pub mod consistency;
pub mod db;
pub mod error;
pub mod journal;
pub mod log_watch;
pub mod network;
pub mod operators;
pub mod ops;
pub mod registry;
pub mod roles;
pub mod session;

mod sql;

pub use db::{CounterDb, Tx};
pub use error::{CounterError, Result};
pub use juki_host::clock;
pub use juki_host::clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use ops::{IssueRequest, UpdateRequest};
pub use roles::Role;
pub use session::Session;

use juki_host::resident::MunicipalityCode;
use std::fmt;

/// Who performs a counter operation: the counter's municipality and the logged-in operator.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The municipality of the counter (from its counter credential).
    pub municipality: &'a MunicipalityCode,
    /// The operator's name, as registered in [`operators`].
    pub operator: &'a str,
}

/// A counter operation, as named in the audit trail and the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// An operator login attempt.
    Login,
    /// A new operator registered.
    OperatorAdd,
    /// A locked operator unlocked by a supervisor.
    OperatorUnlock,
    /// 交付: a card issued.
    Issue,
    /// 本人確認: the resident identified with the card.
    Identify,
    /// パスワード再設定: a PIN reset.
    ResetPin,
    /// 継続利用 / 記載事項変更: address or name written to the card.
    Update,
    /// 住民票コードの変更.
    ChangeCode,
    /// 一時停止.
    Suspend,
    /// 一時停止の解除.
    Resume,
    /// 廃止 (返納, 死亡, 有効期限切れ).
    Terminate,
    /// 電子証明書の発行: JPKI certificates issued for keys generated on the card.
    JpkiIssue,
    /// 電子証明書の失効: a card's JPKI certificates revoked at the CA.
    JpkiRevoke,
    /// 転出: a resident moving to another municipality (no card step: the card is used at the
    /// 転入 there).
    MoveOut,
    /// 住基ネットへの送信: queued updates delivered to the network (one record per call to it),
    /// or a refused update released for another delivery.
    NetSync,
    /// 広域交付: a 住民票の写し issued from the network's 本人確認情報, sealed by this
    /// municipality.
    WideAreaCopy,
    /// An operator's own juki card registered as their operator card (操作者カード), or
    /// removed (lost or returned).
    OperatorCard,
    /// An operator's role changed by a supervisor (役割の変更).
    OperatorRole,
    /// Reading the audit trail (audit show, audit verify): recorded when refused.
    AuditRead,
    /// Closing an unfinished operation (the closing itself is recorded under the operation
    /// closed; this names a refusal).
    PendingResolve,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Operation; 20] = [
        Operation::Login,
        Operation::OperatorAdd,
        Operation::OperatorUnlock,
        Operation::Issue,
        Operation::Identify,
        Operation::ResetPin,
        Operation::Update,
        Operation::ChangeCode,
        Operation::Suspend,
        Operation::Resume,
        Operation::Terminate,
        Operation::JpkiIssue,
        Operation::JpkiRevoke,
        Operation::MoveOut,
        Operation::NetSync,
        Operation::WideAreaCopy,
        Operation::OperatorCard,
        Operation::OperatorRole,
        Operation::AuditRead,
        Operation::PendingResolve,
    ];

    /// The name stored in the database (stable: it is part of hashed audit records).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Login => "login",
            Operation::OperatorAdd => "operator-add",
            Operation::OperatorUnlock => "operator-unlock",
            Operation::Issue => "issue",
            Operation::Identify => "identify",
            Operation::ResetPin => "reset-pin",
            Operation::Update => "update",
            Operation::ChangeCode => "change-code",
            Operation::Suspend => "suspend",
            Operation::Resume => "resume",
            Operation::Terminate => "terminate",
            Operation::JpkiIssue => "jpki-issue",
            Operation::JpkiRevoke => "jpki-revoke",
            Operation::MoveOut => "move-out",
            Operation::NetSync => "net-sync",
            Operation::WideAreaCopy => "wide-area-copy",
            Operation::OperatorCard => "operator-card",
            Operation::OperatorRole => "operator-role",
            Operation::AuditRead => "audit-read",
            Operation::PendingResolve => "pending-resolve",
        }
    }

    /// The operation stored as `text`.
    pub fn parse(text: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_str() == text)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused before anything changed (wrong password, wrong state, expired card, …): why.
    Refused(String),
    /// Attempted and failed (card error, …): why.
    Failed(String),
}

impl Outcome {
    /// `ok`, `refused` or `failed`, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused(_) => "refused",
            Outcome::Failed(_) => "failed",
        }
    }

    /// The reason of a refusal or failure.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::Refused(r) | Outcome::Failed(r) => Some(r),
        }
    }

    /// `true` for [`Outcome::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// The outcome stored as `kind` and `reason`.
    pub(crate) fn from_parts(kind: &str, reason: Option<String>) -> Option<Outcome> {
        match (kind, reason) {
            ("ok", None) => Some(Outcome::Ok),
            ("refused", Some(r)) => Some(Outcome::Refused(r)),
            ("failed", Some(r)) => Some(Outcome::Failed(r)),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Refused(r) => write!(f, "refused: {r}"),
            Outcome::Failed(r) => write!(f, "failed: {r}"),
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Shared test fixtures.
    use super::*;
    use juki_host::date::Date;
    use juki_host::resident_code::ResidentCode;
    use std::sync::Arc;

    /// A fresh database in a temporary directory, with a manual clock at 2026-04-01T00:00:00Z.
    pub struct Fixture {
        pub dir: tempfile::TempDir,
        pub clock: Arc<ManualClock>,
        pub db: CounterDb,
        pub chiyoda: MunicipalityCode,
    }

    pub const T0: i64 = 1_775_001_600; // 2026-04-01T00:00:00Z

    impl Fixture {
        pub fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let clock = Arc::new(ManualClock::new(Timestamp::from_unix(T0)));
            let db = CounterDb::open_with_clock(dir.path(), clock.clone()).unwrap();
            Fixture {
                dir,
                clock,
                db,
                chiyoda: MunicipalityCode::parse("131016").unwrap(),
            }
        }

        pub fn reopen(self) -> Fixture {
            let Fixture {
                dir,
                clock,
                db,
                chiyoda,
            } = self;
            drop(db);
            let db = CounterDb::open_with_clock(dir.path(), clock.clone()).unwrap();
            Fixture {
                dir,
                clock,
                db,
                chiyoda,
            }
        }

        pub fn actor(&self) -> Actor<'_> {
            Actor {
                municipality: &self.chiyoda,
                operator: "suzuki",
            }
        }

        /// A raw connection to the same file (an "attacker" with file access).
        pub fn raw(&self) -> rusqlite::Connection {
            rusqlite::Connection::open(self.db.path()).unwrap()
        }
    }

    pub fn code(text: &str) -> ResidentCode {
        ResidentCode::parse(text).unwrap()
    }

    pub fn date(y: u32, m: u32, d: u32) -> Date {
        Date::from_ymd(y, m, d).unwrap()
    }
}
