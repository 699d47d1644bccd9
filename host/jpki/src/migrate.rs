//! Schema migrations of the host's SQLite databases (`ca.db` here, the counter's `counter.db`),
//! one mechanism for both.
//!
//! The model is `rusqlite_migration`'s: `PRAGMA user_version` counts the migrations applied;
//! version *n* has had the first *n* steps run. Opening a file runs the missing steps, each in
//! its own write transaction together with its version bump (a power cut leaves the file at a
//! version, never between two), and refuses a file from a newer juki. That crate itself is not
//! used: no release of it supports rusqlite 0.43 (2.6.0, the newest, needs rusqlite 0.40, and
//! two rusqlite versions cannot be linked: both bundle SQLite, `links = "sqlite3"`). When one
//! does, these step lists become its `Migrations` unchanged (same numbering, same
//! `user_version`).

use rusqlite::{Connection, TransactionBehavior};

/// Why a database could not be brought to the schema this build writes.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The file was written by a newer juki.
    #[error(
        "schema version {found}, newer than this juki understands ({supported}); use a newer juki"
    )]
    TooNew {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// `PRAGMA user_version` is negative: not a version juki wrote.
    #[error("schema version {0}, which no juki writes")]
    Invalid(i64),
    /// SQLite failed (a step, or the file).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// The schema version after every step of `steps`.
pub fn latest(steps: &[&str]) -> i64 {
    i64::try_from(steps.len()).unwrap_or(i64::MAX)
}

/// `PRAGMA user_version` of the open file.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings `conn` to version [`latest`]`(steps)`: step *i* takes the schema from version *i* to
/// *i* + 1. Returns the version the file had.
pub fn to_latest(conn: &mut Connection, steps: &[&str]) -> Result<i64, MigrationError> {
    let supported = latest(steps);
    let mut first = None;
    loop {
        // The version is read inside the write transaction: two processes opening the same old
        // file migrate it once.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = version(&tx)?;
        first.get_or_insert(found);
        if found > supported {
            return Err(MigrationError::TooNew { found, supported });
        }
        let index = usize::try_from(found).map_err(|_| MigrationError::Invalid(found))?;
        let Some(step) = steps.get(index) else {
            return Ok(first.unwrap_or(found)); // up to date
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[&str] = &[
        "CREATE TABLE t (a INTEGER);",
        "ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 2;",
    ];

    #[test]
    fn runs_the_missing_steps_once_and_refuses_newer_files() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(to_latest(&mut conn, &STEPS[..1]).unwrap(), 0);
        conn.execute("INSERT INTO t (a) VALUES (1)", []).unwrap();
        assert_eq!(version(&conn).unwrap(), 1);
        assert_eq!(to_latest(&mut conn, STEPS).unwrap(), 1);
        assert_eq!(
            to_latest(&mut conn, STEPS).unwrap(),
            2,
            "nothing left to run"
        );
        let b: i64 = conn.query_row("SELECT b FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(b, 2);
        match to_latest(&mut conn, &STEPS[..1]) {
            Err(MigrationError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (2, 1));
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
        conn.pragma_update(None, "user_version", -1).unwrap();
        assert!(matches!(
            to_latest(&mut conn, STEPS),
            Err(MigrationError::Invalid(-1))
        ));
    }

    #[test]
    fn a_failing_step_leaves_the_version_before_it() {
        let mut conn = Connection::open_in_memory().unwrap();
        let steps = [STEPS[0], "CREATE TABLE u (x); SELECT no_such_function();"];
        assert!(to_latest(&mut conn, &steps).is_err());
        assert_eq!(version(&conn).unwrap(), 1);
        let u: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'u'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(u, 0, "the failed step is rolled back whole");
    }
}
