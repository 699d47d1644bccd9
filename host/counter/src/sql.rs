//! Small SQLite helpers shared by the counter modules.

use rusqlite::Connection;

use super::error::{CounterError, Result};
use juki_host::date::{self, Date};
use juki_host::resident_code::ResidentCode;

/// Runs `f` inside a SQLite savepoint: all of its writes land, or none do.
///
/// Works both on its own (then it is a transaction of its own) and inside a
/// [`super::CounterDb::transaction`] (then it nests, and the outer transaction decides).
pub(crate) fn savepoint<T, E: From<CounterError>>(
    conn: &Connection,
    f: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    conn.execute_batch("SAVEPOINT juki_sp")
        .map_err(|e| E::from(CounterError::from(e)))?;
    match f() {
        Ok(value) => {
            conn.execute_batch("RELEASE juki_sp")
                .map_err(|e| E::from(CounterError::from(e)))?;
            Ok(value)
        }
        Err(err) => {
            // The original error is what matters; a failing rollback leaves the outer
            // transaction (if any) to roll back, or SQLite discards the savepoint on close.
            let _ = conn.execute_batch("ROLLBACK TO juki_sp; RELEASE juki_sp");
            Err(err)
        }
    }
}

/// A date as stored: `YYYY-MM-DD`.
pub(crate) fn date_text(d: Date) -> String {
    date::display(d)
}

/// A stored `YYYY-MM-DD` date.
pub(crate) fn parse_date(text: &str) -> Result<Date> {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    Date::from_ascii(digits.as_bytes())
        .filter(|_| text.len() == 10)
        .ok_or_else(|| CounterError::Corrupt(format!("date \"{text}\"")))
}

/// A stored 住民票コード.
pub(crate) fn parse_code(text: &str) -> Result<ResidentCode> {
    ResidentCode::parse(text)
        .map_err(|_| CounterError::Corrupt(format!("resident code \"{text}\"")))
}
