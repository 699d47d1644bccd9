//! The counter's SQLite database, `counter.db` in the counter's data directory.
//!
//! - The directory is made private ([`juki_host::private_dir::create`]: created with mode 0700, or
//!   tightened to 0700 if it exists open to the group or others); `counter.db` is created with
//!   mode 0600 before SQLite opens it, or tightened to 0600 if it exists with wider permissions
//!   ([`juki_host::private_dir::open_or_create`], never through a symlink). SQLite gives its
//!   `-wal` and `-shm` files the main file's permissions.
//! - Journal mode WAL, `synchronous = FULL` (a committed audit record survives a power cut),
//!   foreign keys enforced, a 5-second busy timeout for a second process on the same file.
//! - The schema is versioned with `PRAGMA user_version`: version *n* has had the first *n*
//!   entries of [`MIGRATIONS`] applied, each in its own transaction together with the version
//!   bump ([`juki_jpki::migrate`], the mechanism `ca.db` uses too). Opening a file migrates it
//!   forward; a file from a newer juki is refused. A released migration is never edited: files
//!   in the field were made by it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use juki_jpki::migrate::{self, MigrationError};
use rusqlite::{Connection, TransactionBehavior};

use super::audit::Audit;
use super::clock::{Clock, SystemClock};
use super::error::{CounterError, Result};
use super::journal::Journal;
use super::network::Outbox;
use super::operators::Operators;
use super::registry::Registry;

/// File name of the counter database inside the counter's data directory.
pub const DB_FILE: &str = "counter.db";

/// The forward migrations: entry *i* takes the schema from version *i* to *i* + 1.
pub const MIGRATIONS: &[&str] = &[
    SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6, SCHEMA_V7,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 7: operators' roles and operator cards ([`super::roles`], [`super::session`]):
/// `operators.role` (`clerk`, `supervisor`, `auditor`; the supervisors of an older counter keep
/// their role, everyone else becomes a clerk; `supervisor` is kept equal to `role =
/// 'supervisor'`), and the operator's own juki card registered as their operator card: its
/// serial and public key as the card proved them, and the municipality's signature binding
/// them to the operator's name and role (`card_signer`: the counter certificate whose key
/// signed, `card_signature`: `r‖s`).
const SCHEMA_V7: &str = r#"
ALTER TABLE operators ADD COLUMN role TEXT NOT NULL DEFAULT 'clerk'
    CHECK (role IN ('clerk', 'supervisor', 'auditor'));
UPDATE operators SET role = 'supervisor' WHERE supervisor = 1;
ALTER TABLE operators ADD COLUMN card_serial TEXT
    CHECK (card_serial IS NULL OR length(card_serial) BETWEEN 1 AND 16);
ALTER TABLE operators ADD COLUMN card_key BLOB
    CHECK (card_key IS NULL OR length(card_key) = 65);
ALTER TABLE operators ADD COLUMN card_signer BLOB;
ALTER TABLE operators ADD COLUMN card_signature BLOB
    CHECK (card_signature IS NULL OR length(card_signature) = 64);
"#;

/// Version 6: the counter as a monitor of 住基ネット's provision log ([`super::log_watch`]):
/// `log_monitor`, one row once the first head was accepted: the last accepted signed tree head
/// (its text), its size, the frontier of the tree at that size (the concatenated 32-byte
/// hashes, one per set bit of the size: what checking the next leaves needs) and when the log
/// was last checked (unix seconds); `log_anchors`, one row per head of this counter's audit
/// trail anchored in the log: the server's anchor number, the record count and head hash
/// anchored, and when (unix seconds).
const SCHEMA_V6: &str = r#"
CREATE TABLE log_monitor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    head       TEXT NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    frontier   BLOB NOT NULL CHECK (length(frontier) % 32 = 0 AND length(frontier) <= 2048),
    checked_at INTEGER NOT NULL
) STRICT;

CREATE TABLE log_anchors (
    id          INTEGER PRIMARY KEY,
    records     INTEGER NOT NULL CHECK (records >= 1),
    head        TEXT NOT NULL CHECK (length(head) = 64),
    anchored_at INTEGER NOT NULL
) STRICT;
"#;

/// Version 5: 転入転出の特例 — a recorded 転出 completed by the 転入 at the destination, as
/// 住基ネット tells it (`residents.moved_out_completed_on`), and how far this counter has read
/// the network's departures (`outbox_state.departures_after`, the last id seen).
const SCHEMA_V5: &str = r#"
ALTER TABLE residents ADD COLUMN moved_out_completed_on TEXT;
ALTER TABLE outbox_state ADD COLUMN departures_after INTEGER NOT NULL DEFAULT 0
    CHECK (departures_after >= 0);
"#;

/// Version 4: the outbox of updates for 住基ネット ([`super::network`]): `outbox`, one row per
/// update waiting to be delivered (its number, kind, the update as JSON, when queued; a row
/// leaves when the network applied it), and `outbox_state`, one row: the last number given and
/// the last applied, the failed attempts in a row with the next attempt's time (unix seconds),
/// the last error, and the update refused for good with the network's reason. A resident's
/// 転出 (`moved_out_to`, `moved_out_on`): recorded at this counter, completed by the 転入 at
/// the destination.
const SCHEMA_V4: &str = r#"
ALTER TABLE residents ADD COLUMN moved_out_to TEXT CHECK (length(moved_out_to) = 6);
ALTER TABLE residents ADD COLUMN moved_out_on TEXT;
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY CHECK (seq >= 1),
    kind        TEXT NOT NULL CHECK (kind IN ('new', 'amend', 'move_within', 'move_out',
                                              'move_in', 'code_change', 'remove')),
    update_json TEXT NOT NULL,
    queued_at   TEXT NOT NULL
) STRICT;

CREATE TABLE outbox_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    last_queued     INTEGER NOT NULL DEFAULT 0 CHECK (last_queued >= 0),
    last_delivered  INTEGER NOT NULL DEFAULT 0
                    CHECK (last_delivered >= 0 AND last_delivered <= last_queued),
    failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    next_attempt_at INTEGER,
    last_attempt_at INTEGER,
    last_error      TEXT,
    refused_seq     INTEGER,
    refused_reason  TEXT,
    CHECK ((refused_seq IS NULL) = (refused_reason IS NULL))
) STRICT;
INSERT INTO outbox_state (id) VALUES (1);
"#;

/// Version 3: the resident's 4 info as the registry knows it (`four_info`: the card's encoding,
/// 住基 EF 0002), written at issue and at every 記載事項変更; the JPKI certificates carry it.
/// Residents registered by an older juki have none until their next change is recorded.
const SCHEMA_V3: &str = r#"
ALTER TABLE residents ADD COLUMN four_info BLOB;
"#;

/// Version 2: operators' escalating lockouts (`lockouts`: lockouts in a row without a successful
/// login) and the supervisor role (`supervisor`: may unlock others). The first operator of an
/// existing counter (the one registered at its setup) becomes its supervisor, so that someone
/// can unlock the others.
const SCHEMA_V2: &str = r#"
ALTER TABLE operators ADD COLUMN lockouts INTEGER NOT NULL DEFAULT 0 CHECK (lockouts >= 0);
ALTER TABLE operators ADD COLUMN supervisor INTEGER NOT NULL DEFAULT 0
    CHECK (supervisor IN (0, 1));
UPDATE operators SET supervisor = 1 WHERE rowid = (SELECT min(rowid) FROM operators);
"#;

/// Version 1: registry, operators, audit trail, journal.
const SCHEMA_V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE residents (
    code                  TEXT PRIMARY KEY
                          CHECK (length(code) = 11 AND code NOT GLOB '*[^0-9]*'),
    name                  TEXT NOT NULL CHECK (length(name) > 0),
    needs_new_card        INTEGER NOT NULL DEFAULT 0 CHECK (needs_new_card IN (0, 1)),
    needs_new_card_reason TEXT,
    registered_at         TEXT NOT NULL,
    CHECK ((needs_new_card = 1) = (needs_new_card_reason IS NOT NULL))
) STRICT;

CREATE TABLE resident_code_changes (
    id            INTEGER PRIMARY KEY,
    resident_code TEXT NOT NULL REFERENCES residents(code) ON UPDATE CASCADE,
    old_code      TEXT NOT NULL UNIQUE,
    new_code      TEXT NOT NULL UNIQUE,
    reason        TEXT NOT NULL,
    changed_at    TEXT NOT NULL
) STRICT;

CREATE TABLE cards (
    serial                 TEXT PRIMARY KEY CHECK (length(serial) BETWEEN 1 AND 16),
    resident_code          TEXT NOT NULL REFERENCES residents(code) ON UPDATE CASCADE,
    code_on_card           TEXT NOT NULL CHECK (length(code_on_card) = 11),
    issuing_municipality   TEXT NOT NULL CHECK (length(issuing_municipality) = 6),
    issued                 TEXT NOT NULL,
    expires                TEXT NOT NULL,
    state                  TEXT NOT NULL
                           CHECK (state IN ('initialised', 'issued', 'suspended', 'terminated')),
    terminate_reason       TEXT
                           CHECK (terminate_reason IN ('returned', 'death', 'expired', 'code-changed')),
    legal_representative   TEXT CHECK (legal_representative IS NULL OR length(legal_representative) > 0),
    jpki_revocation_needed INTEGER NOT NULL DEFAULT 0 CHECK (jpki_revocation_needed IN (0, 1)),
    registered_at          TEXT NOT NULL,
    state_changed_at       TEXT NOT NULL,
    CHECK ((state = 'terminated') = (terminate_reason IS NOT NULL)),
    CHECK (expires > issued)
) STRICT;
CREATE INDEX cards_by_resident ON cards(resident_code);

CREATE TABLE card_state_history (
    id         INTEGER PRIMARY KEY,
    serial     TEXT NOT NULL REFERENCES cards(serial),
    from_state TEXT,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at         TEXT NOT NULL
) STRICT;
CREATE INDEX card_state_history_by_serial ON card_state_history(serial);

CREATE TABLE card_updates (
    id           INTEGER PRIMARY KEY,
    serial       TEXT NOT NULL REFERENCES cards(serial),
    kind         TEXT NOT NULL CHECK (kind IN ('address', 'name')),
    change_date  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    municipality TEXT NOT NULL CHECK (length(municipality) = 6),
    recorded_at  TEXT NOT NULL
) STRICT;
CREATE INDEX card_updates_by_serial ON card_updates(serial);

CREATE TABLE operators (
    name            TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    password_hash   TEXT NOT NULL CHECK (password_hash GLOB '$argon2id$*'),
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    INTEGER,
    created_at      TEXT NOT NULL,
    last_login_at   TEXT
) STRICT;

CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY CHECK (seq >= 1),
    time          TEXT NOT NULL,
    municipality  TEXT NOT NULL,
    operator      TEXT NOT NULL,
    card_serial   TEXT,
    operation     TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    reason        TEXT,
    detail        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash          TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT;
CREATE INDEX audit_log_by_card ON audit_log(card_serial) WHERE card_serial IS NOT NULL;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only: records cannot be changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only: records cannot be deleted');
END;

CREATE TABLE pending_operations (
    id              INTEGER PRIMARY KEY,
    started_at      TEXT NOT NULL,
    municipality    TEXT NOT NULL,
    operator        TEXT NOT NULL,
    card_serial     TEXT,
    operation       TEXT NOT NULL,
    detail          TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'completed', 'resolved')),
    finished_at     TEXT,
    audit_seq       INTEGER REFERENCES audit_log(seq),
    resolution_note TEXT
) STRICT;
CREATE INDEX pending_operations_open ON pending_operations(state) WHERE state = 'pending';
"#;

/// The counter database, open.
pub struct CounterDb {
    conn: Connection,
    path: PathBuf,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CounterDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterDb")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CounterDb {
    /// Opens (creating and migrating as needed) `dir/counter.db`, with the system clock as the
    /// environment sets it ([`SystemClock::from_env`]: on the date of `JUKI_TODAY` when set).
    pub fn open(dir: &Path) -> Result<CounterDb> {
        Self::open_with_clock(dir, Arc::new(SystemClock::from_env()?))
    }

    /// Opens `dir/counter.db` with the given clock (tests, demos).
    pub fn open_with_clock(dir: &Path, clock: Arc<dyn Clock>) -> Result<CounterDb> {
        juki_host::private_dir::create(dir)
            .map_err(|e| CounterError::io(format!("creating {} (0700)", dir.display()), e))?;
        let path = dir.join(DB_FILE);
        // Create the file ourselves so that it is never, even briefly, readable by others.
        juki_host::private_dir::open_or_create(&path)
            .map_err(|e| CounterError::io(format!("creating {} (0600)", path.display()), e))?;

        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(CounterError::Corrupt(format!(
                "journal mode (SQLite kept \"{mode}\" instead of WAL)"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        migrate(&mut conn)?;
        Ok(CounterDb { conn, path, clock })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA user_version` of the open file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(migrate::version(&self.conn)?)
    }

    /// The connection, for the counter operations' own small tables (`meta`).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The clock the records are stamped with.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The card registry (each call its own transaction).
    pub fn registry(&self) -> Registry<'_> {
        Registry::new(&self.conn, &*self.clock)
    }

    /// The operators.
    pub fn operators(&self) -> Operators<'_> {
        Operators::new(&self.conn, &*self.clock)
    }

    /// The audit trail.
    pub fn audit(&self) -> Audit<'_> {
        Audit::new(&self.conn, &*self.clock)
    }

    /// The pending-operation journal.
    pub fn journal(&self) -> Journal<'_> {
        Journal::new(&self.conn, &*self.clock)
    }

    /// The outbox of updates for 住基ネット (reading it; updates are queued in a
    /// [`Tx::outbox`]).
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox::new(&self.conn, &*self.clock)
    }

    /// Runs `f` in one write transaction (taken at once, `BEGIN IMMEDIATE`): committed when `f`
    /// returns `Ok`, rolled back when it returns `Err`.
    pub fn transaction<T, E: From<CounterError>>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| E::from(e.into()))?;
        let view = Tx {
            tx,
            clock: &*self.clock,
        };
        let value = f(&view)?;
        view.tx.commit().map_err(|e| E::from(e.into()))?;
        Ok(value)
    }
}

/// One open transaction on the counter database (see [`CounterDb::transaction`]).
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    clock: &'a dyn Clock,
}

impl Tx<'_> {
    /// The card registry, inside this transaction.
    pub fn registry(&self) -> Registry<'_> {
        Registry::new(&self.tx, self.clock)
    }

    /// The operators, inside this transaction.
    pub fn operators(&self) -> Operators<'_> {
        Operators::new(&self.tx, self.clock)
    }

    /// The audit trail, inside this transaction.
    pub fn audit(&self) -> Audit<'_> {
        Audit::new(&self.tx, self.clock)
    }

    /// The journal, inside this transaction.
    pub fn journal(&self) -> Journal<'_> {
        Journal::new(&self.tx, self.clock)
    }

    /// The outbox of updates for 住基ネット, inside this transaction: an update queued here is
    /// committed with the change it reports, or not at all.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox::new(&self.tx, self.clock)
    }
}

/// Brings the schema up to [`SCHEMA_VERSION`].
fn migrate(conn: &mut Connection) -> Result<()> {
    match migrate::to_latest(conn, MIGRATIONS) {
        Ok(_) => Ok(()),
        Err(MigrationError::TooNew { found, supported }) => {
            Err(CounterError::SchemaTooNew { found, supported })
        }
        Err(MigrationError::Invalid(v)) => {
            Err(CounterError::Corrupt(format!("schema version {v}")))
        }
        Err(MigrationError::Sqlite(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::super::audit::AuditEntry;
    use super::super::testutil::Fixture;
    use super::super::{Actor, Operation, Outcome};
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn creates_schema_with_private_modes_and_reopens() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("counter-data");
        let db = CounterDb::open(&dir).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(db.path(), dir.join(DB_FILE));
        let dir_mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let file_mode = fs::metadata(db.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600);
        let names = tables(&db.conn);
        for t in [
            "audit_log",
            "card_state_history",
            "card_updates",
            "cards",
            "log_anchors",
            "log_monitor",
            "meta",
            "operators",
            "outbox",
            "outbox_state",
            "pending_operations",
            "resident_code_changes",
            "residents",
        ] {
            assert!(names.iter().any(|n| n == t), "missing table {t}: {names:?}");
        }
        let jm: String = db
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(jm, "wal");
        let fk: i64 = db
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        // SQLite gives the WAL the main file's mode.
        db.registry().residents().unwrap();
        db.conn
            .execute("INSERT INTO meta (key, value) VALUES ('probe', 'x')", [])
            .unwrap();
        let wal = dir.join(format!("{DB_FILE}-wal"));
        let wal_mode = fs::metadata(&wal).unwrap().permissions().mode() & 0o777;
        assert_eq!(wal_mode, 0o600);
        drop(db);

        // Reopening keeps the version and does not re-run migrations (they would fail on
        // existing tables).
        let db = CounterDb::open(&dir).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn migrates_from_version_1_making_the_first_operator_the_supervisor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            // A version-1 counter with two operators, one of them locked out.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO operators (name, password_hash, created_at) \
                     VALUES ('first', '$argon2id$x', '2026-04-01T00:00:00Z'); \
                 INSERT INTO operators (name, password_hash, failed_attempts, locked_until, \
                     created_at) VALUES ('second', '$argon2id$y', 0, 1775002500, \
                     '2026-04-01T00:01:00Z');",
            )
            .unwrap();
        }
        let db = CounterDb::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        let ops = db.operators().list().unwrap();
        let roles: Vec<(&str, bool, u32)> = ops
            .iter()
            .map(|o| (o.name.as_str(), o.supervisor, o.lockouts))
            .collect();
        assert_eq!(roles, [("first", true, 0), ("second", false, 0)]);
        assert!(ops[1].locked_until.is_some(), "a running lockout is kept");
    }

    #[test]
    fn migrates_from_version_0() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            // A version-0 file: what an older juki (or `sqlite3 counter.db`) leaves behind.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE unrelated (x INTEGER); INSERT INTO unrelated VALUES (7);",
            )
            .unwrap();
            let v: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, 0);
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let db = CounterDb::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        assert!(tables(&db.conn).iter().any(|t| t == "audit_log"));
        let x: i64 = db
            .conn
            .query_row("SELECT x FROM unrelated", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, 7, "migration keeps existing data");
        let file_mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600, "a too-open file is tightened");
    }

    #[test]
    fn opens_a_version_3_file_of_the_previous_juki() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            // What the hand-rolled migration of the previous juki left: each step with its
            // version bump in one transaction, up to version 3; then its records.
            let mut conn = Connection::open(&path).unwrap();
            for (v, step) in (1i64..).zip([SCHEMA_V1, SCHEMA_V2, SCHEMA_V3]) {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(step).unwrap();
                tx.pragma_update(None, "user_version", v).unwrap();
                tx.commit().unwrap();
            }
            conn.execute_batch(
                "INSERT INTO operators (name, password_hash, created_at, supervisor, lockouts) \
                     VALUES ('first', '$argon2id$x', '2026-04-01T00:00:00Z', 1, 2); \
                 INSERT INTO residents (code, name, registered_at, four_info) \
                     VALUES ('12345678903', '住基 花子', '2026-04-01T00:00:00Z', x'01');",
            )
            .unwrap();
        }
        let db = CounterDb::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        let ops = db.operators().list().unwrap();
        assert_eq!((ops[0].supervisor, ops[0].lockouts), (true, 2));
        let residents = db.registry().residents().unwrap();
        assert_eq!(residents.len(), 1);
        assert_eq!(residents[0].name, "住基 花子");
        // Version 4 gives it an empty outbox, numbered from 1.
        let status = db.outbox().status().unwrap();
        assert_eq!((status.waiting, status.last_queued), (0, 0));
    }

    #[test]
    fn opens_a_version_4_file_with_its_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            // A version-4 counter with two updates waiting and one delivered.
            let mut conn = Connection::open(&path).unwrap();
            for (v, step) in (1i64..).zip([SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4]) {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(step).unwrap();
                tx.pragma_update(None, "user_version", v).unwrap();
                tx.commit().unwrap();
            }
            for seq in [2, 3] {
                conn.execute(
                    "INSERT INTO outbox (seq, kind, update_json, queued_at) \
                     VALUES (?1, 'remove', ?2, '2026-04-01T00:00:00Z')",
                    rusqlite::params![
                        seq,
                        format!(
                            r#"{{"format":1,"municipality":"131016","seq":{seq},"date":"2026-04-01","kind":"remove","event":{{"code":"12345678903"}}}}"#
                        )
                    ],
                )
                .unwrap();
            }
            conn.execute_batch(
                "UPDATE outbox_state SET last_queued = 3, last_delivered = 1, failures = 2, \
                 next_attempt_at = 1775001660, last_error = 'connection refused'",
            )
            .unwrap();
        }
        let db = CounterDb::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        // Version 5: no departure read yet, no 転出 completed.
        assert_eq!(db.outbox().departures_after().unwrap(), 0);
        let status = db.outbox().status().unwrap();
        assert_eq!(status.waiting, 2);
        assert_eq!(status.oldest.unwrap().update.seq, 2);
        assert_eq!((status.last_queued, status.last_delivered), (3, 1));
        assert_eq!(status.failures, 2);
        assert_eq!(status.last_error.as_deref(), Some("connection refused"));
    }

    #[test]
    fn opens_a_version_5_file_with_its_trail_not_yet_anchored() {
        let dir = tempfile::tempdir().unwrap();
        let chiyoda = juki_host::resident::MunicipalityCode::parse("131016").unwrap();
        {
            let mut conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            migrate::to_latest(&mut conn, &MIGRATIONS[..5]).unwrap();
            let clock = SystemClock::real();
            let audit = Audit::new(&conn, &clock);
            for detail in ["one", "two"] {
                audit
                    .append(&AuditEntry {
                        actor: Actor {
                            municipality: &chiyoda,
                            operator: "suzuki",
                        },
                        card_serial: None,
                        operation: Operation::Identify,
                        outcome: Outcome::Ok,
                        detail,
                    })
                    .unwrap();
            }
        }
        let db = CounterDb::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        // Version 6: no head of the provision log accepted yet, nothing anchored; the trail is
        // as it was.
        assert_eq!(super::super::log_watch::kept_head(&db).unwrap(), None);
        assert_eq!(super::super::log_watch::last_anchor(&db).unwrap(), None);
        let report = db.audit().verify().unwrap();
        assert!(report.is_intact());
        assert_eq!(report.checked, 2);
        // The frontier column takes whole hashes only.
        assert!(db
            .conn
            .execute(
                "INSERT INTO log_monitor (id, head, size, frontier, checked_at) \
                 VALUES (1, 'x', 1, x'00', 0)",
                [],
            )
            .is_err());
    }

    #[test]
    fn migrates_from_version_6_keeping_supervisors_and_no_operator_cards() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            migrate::to_latest(&mut conn, &MIGRATIONS[..6]).unwrap();
            conn.execute_batch(
                "INSERT INTO operators (name, password_hash, created_at, supervisor) \
                     VALUES ('boss', '$argon2id$x', '2026-04-01T00:00:00Z', 1); \
                 INSERT INTO operators (name, password_hash, created_at) \
                     VALUES ('clerk', '$argon2id$y', '2026-04-01T00:01:00Z');",
            )
            .unwrap();
        }
        let db = CounterDb::open(dir.path()).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            SCHEMA_VERSION, 7,
            "a new version needs its own test from version 7"
        );
        // Version 7: the supervisor keeps the role, the other one is a clerk; no operator card.
        let ops = db.operators().list().unwrap();
        let roles: Vec<_> = ops
            .iter()
            .map(|o| (o.name.as_str(), o.role, o.card_serial.clone()))
            .collect();
        assert_eq!(
            roles,
            [
                ("boss", super::super::Role::Supervisor, None),
                ("clerk", super::super::Role::Clerk, None)
            ]
        );
        assert!(!super::super::session::operator_cards_required(&db).unwrap());
        // Roles are the three known ones, a card key a SEC1 point.
        assert!(db
            .conn
            .execute(
                "UPDATE operators SET role = 'root' WHERE name = 'clerk'",
                []
            )
            .is_err());
        assert!(db
            .conn
            .execute(
                "UPDATE operators SET card_key = x'00' WHERE name = 'clerk'",
                []
            )
            .is_err());
    }

    #[test]
    fn refuses_a_newer_schema() {
        let f = Fixture::new();
        f.raw()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let dir = f.dir.path().to_path_buf();
        drop(f.db);
        match CounterDb::open(&dir) {
            Err(e @ CounterError::SchemaTooNew { found, supported }) => {
                assert_eq!(found, SCHEMA_VERSION + 1);
                assert_eq!(supported, SCHEMA_VERSION);
                let text = e.to_string();
                assert!(text.contains("newer than this juki") && text.contains("use a newer juki"));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    #[test]
    fn a_failed_transaction_leaves_nothing() {
        let mut f = Fixture::new();
        let chiyoda = f.chiyoda.clone();
        let r: Result<()> = f.db.transaction(|tx| {
            tx.audit().append(&AuditEntry {
                actor: Actor {
                    municipality: &chiyoda,
                    operator: "suzuki",
                },
                card_serial: None,
                operation: Operation::Identify,
                outcome: Outcome::Ok,
                detail: "",
            })?;
            Err(CounterError::InvalidInput("card step failed".into()))
        });
        assert!(r.is_err());
        assert_eq!(f.db.audit().head().unwrap().seq, 0);
        assert!(f.db.audit().verify().unwrap().is_intact());
    }
}
