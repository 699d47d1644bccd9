//! The journal of pending counter operations, so that a card step and its record never
//! disagree.
//!
//! The flow of a counter operation:
//!
//! 1. [`Journal::begin`] commits a `pending` row **before** the card is touched (it refuses to
//!    run inside a transaction, where the row would not be committed yet);
//! 2. the card step;
//! 3. in one [`super::CounterDb::transaction`]: the registry update (only when the card step
//!    succeeded) and [`Journal::complete`], which appends the audit record built from the
//!    pending row and the outcome, and closes the row.
//!
//! If the card step fails, step 3 completes with [`Outcome::Failed`] or [`Outcome::Refused`]
//! and no registry change: nothing is recorded as done. If the process dies between 1 and 3,
//! the row stays `pending`: [`Journal::unfinished`] lists it at the next start, and after a
//! clerk has checked the card, [`Journal::resolve`] closes it with an audit record saying what
//! the clerk found (together with any registry correction, in one transaction).

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::audit::{Audit, AuditEntry, AuditRecord};
use super::clock::Clock;
use super::error::{CounterError, Result};
use super::sql::savepoint;
use super::{Actor, Operation, Outcome};
use juki_host::resident::MunicipalityCode;

/// An operation about to touch a card.
#[derive(Debug, Clone)]
pub struct PendingOperation<'a> {
    /// Municipality and operator.
    pub actor: Actor<'a>,
    /// The card, when known before the card step.
    pub card_serial: Option<&'a str>,
    /// What is about to be done.
    pub operation: Operation,
    /// Free text for the audit record (never a PIN or password).
    pub detail: &'a str,
}

/// Identifies a journal row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PendingId(i64);

impl PendingId {
    /// The row id.
    pub fn value(self) -> i64 {
        self.0
    }

    /// The id `value` (as printed, e.g. typed by a clerk).
    pub fn from_value(value: i64) -> PendingId {
        PendingId(value)
    }
}

impl fmt::Display for PendingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a journal row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalState {
    /// Begun, not finished: the card may or may not have been changed.
    Pending,
    /// Finished normally.
    Completed,
    /// Found unfinished and closed by a clerk.
    Resolved,
}

impl JournalState {
    fn parse(text: &str) -> Result<JournalState> {
        match text {
            "pending" => Ok(JournalState::Pending),
            "completed" => Ok(JournalState::Completed),
            "resolved" => Ok(JournalState::Resolved),
            other => Err(CounterError::Corrupt(format!("journal state \"{other}\""))),
        }
    }
}

/// A journal row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Id.
    pub id: PendingId,
    /// When begun (UTC RFC 3339).
    pub started_at: String,
    /// Municipality code.
    pub municipality: String,
    /// Operator who began it.
    pub operator: String,
    /// Card serial.
    pub card_serial: Option<String>,
    /// Operation.
    pub operation: Operation,
    /// Detail given at begin.
    pub detail: String,
    /// State.
    pub state: JournalState,
    /// When completed or resolved.
    pub finished_at: Option<String>,
    /// The audit record that closed it.
    pub audit_seq: Option<u64>,
    /// The clerk's note when resolved.
    pub resolution_note: Option<String>,
}

impl fmt::Display for JournalEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} started {} by {} (card {})",
            self.id,
            self.operation,
            self.started_at,
            self.operator,
            self.card_serial.as_deref().unwrap_or("-")
        )?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

const COLUMNS: &str = "id, started_at, municipality, operator, card_serial, operation, detail, \
                       state, finished_at, audit_seq, resolution_note";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(JournalEntryRaw, String, String)> {
    Ok((
        JournalEntryRaw {
            id: r.get(0)?,
            started_at: r.get(1)?,
            municipality: r.get(2)?,
            operator: r.get(3)?,
            card_serial: r.get(4)?,
            detail: r.get(6)?,
            finished_at: r.get(8)?,
            audit_seq: r.get(9)?,
            resolution_note: r.get(10)?,
        },
        r.get(5)?,
        r.get(7)?,
    ))
}

struct JournalEntryRaw {
    id: i64,
    started_at: String,
    municipality: String,
    operator: String,
    card_serial: Option<String>,
    detail: String,
    finished_at: Option<String>,
    audit_seq: Option<i64>,
    resolution_note: Option<String>,
}

fn into_entry((raw, operation, state): (JournalEntryRaw, String, String)) -> Result<JournalEntry> {
    Ok(JournalEntry {
        id: PendingId(raw.id),
        started_at: raw.started_at,
        municipality: raw.municipality,
        operator: raw.operator,
        card_serial: raw.card_serial,
        operation: Operation::parse(&operation)
            .ok_or_else(|| CounterError::Corrupt(format!("journal operation \"{operation}\"")))?,
        detail: raw.detail,
        state: JournalState::parse(&state)?,
        finished_at: raw.finished_at,
        audit_seq: raw.audit_seq.and_then(|s| u64::try_from(s).ok()),
        resolution_note: raw.resolution_note,
    })
}

/// The journal, on a connection (see [`super::CounterDb::journal`]).
pub struct Journal<'c> {
    conn: &'c Connection,
    clock: &'c dyn Clock,
}

impl<'c> Journal<'c> {
    pub(crate) fn new(conn: &'c Connection, clock: &'c dyn Clock) -> Journal<'c> {
        Journal { conn, clock }
    }

    /// Commits a pending row for `op`, to be called **before** the card step and outside any
    /// transaction.
    pub fn begin(&self, op: &PendingOperation<'_>) -> Result<PendingId> {
        if !self.conn.is_autocommit() {
            return Err(CounterError::InvalidInput(
                "a pending operation must be committed before the card step: begin it outside \
                 a transaction"
                    .into(),
            ));
        }
        if op.actor.operator.is_empty() {
            return Err(CounterError::InvalidInput(
                "a counter operation needs an operator".into(),
            ));
        }
        self.conn.execute(
            "INSERT INTO pending_operations \
             (started_at, municipality, operator, card_serial, operation, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                self.clock.now().rfc3339(),
                op.actor.municipality.as_str(),
                op.actor.operator,
                op.card_serial,
                op.operation.as_str(),
                op.detail,
            ],
        )?;
        Ok(PendingId(self.conn.last_insert_rowid()))
    }

    /// One journal row.
    pub fn entry(&self, id: PendingId) -> Result<Option<JournalEntry>> {
        let raw = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM pending_operations WHERE id = ?1"),
                [id.0],
                from_row,
            )
            .optional()?;
        raw.map(into_entry).transpose()
    }

    fn pending(&self, id: PendingId) -> Result<JournalEntry> {
        let entry = self.entry(id)?.ok_or(CounterError::UnknownPending(id.0))?;
        if entry.state != JournalState::Pending {
            return Err(CounterError::NotPending {
                id: id.0,
                state: match entry.state {
                    JournalState::Completed => "completed",
                    _ => "resolved",
                }
                .into(),
            });
        }
        Ok(entry)
    }

    fn close(
        &self,
        id: PendingId,
        state: &str,
        record: &AuditRecord,
        note: Option<&str>,
    ) -> Result<()> {
        let seq = i64::try_from(record.seq)
            .map_err(|_| CounterError::Corrupt("audit sequence number".into()))?;
        self.conn.execute(
            "UPDATE pending_operations SET state = ?2, finished_at = ?3, audit_seq = ?4, \
             resolution_note = ?5 WHERE id = ?1 AND state = 'pending'",
            params![id.0, state, record.time, seq, note],
        )?;
        Ok(())
    }

    /// Finishes a pending operation: appends its audit record (municipality, operator, card,
    /// operation and detail from [`Journal::begin`], `extra_detail` appended, and `outcome`)
    /// and closes the row, atomically. Call it in the same transaction as the registry update.
    pub fn complete(
        &self,
        id: PendingId,
        outcome: &Outcome,
        extra_detail: &str,
    ) -> Result<AuditRecord> {
        savepoint(self.conn, || {
            let entry = self.pending(id)?;
            let municipality = MunicipalityCode::parse(&entry.municipality)
                .map_err(|_| CounterError::Corrupt("journal municipality code".into()))?;
            let detail = match (entry.detail.is_empty(), extra_detail.is_empty()) {
                (_, true) => entry.detail.clone(),
                (true, false) => extra_detail.to_string(),
                (false, false) => format!("{}; {extra_detail}", entry.detail),
            };
            let record = Audit::new(self.conn, self.clock).append(&AuditEntry {
                actor: Actor {
                    municipality: &municipality,
                    operator: &entry.operator,
                },
                card_serial: entry.card_serial.as_deref(),
                operation: entry.operation,
                outcome: outcome.clone(),
                detail: &detail,
            })?;
            self.close(id, "completed", &record, None)?;
            Ok(record)
        })
    }

    /// The operations begun and never finished (the process died between card and database),
    /// oldest first: report them at start-up.
    pub fn unfinished(&self) -> Result<Vec<JournalEntry>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM pending_operations WHERE state = 'pending' ORDER BY id"
        ))?;
        let raws = stmt
            .query_map([], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(into_entry).collect()
    }

    /// Closes an unfinished operation after `by` checked the card: `outcome` says what the
    /// clerk found (`Ok`: the card step had happened; `Failed`: it had not), `note` what was
    /// checked. Appends an audit record by `by` for the operation, atomically with closing the
    /// row; put any registry correction in the same transaction.
    pub fn resolve(
        &self,
        id: PendingId,
        by: &Actor<'_>,
        outcome: &Outcome,
        note: &str,
    ) -> Result<AuditRecord> {
        if note.trim().is_empty() {
            return Err(CounterError::InvalidInput(
                "say what was checked on the card when resolving an unfinished operation".into(),
            ));
        }
        savepoint(self.conn, || {
            let entry = self.pending(id)?;
            let detail = format!(
                "unfinished operation {} (begun {} by {}{}{}) resolved after checking the card: \
                 {note}",
                entry.id,
                entry.started_at,
                entry.operator,
                if entry.detail.is_empty() { "" } else { ": " },
                entry.detail,
            );
            let record = Audit::new(self.conn, self.clock).append(&AuditEntry {
                actor: *by,
                card_serial: entry.card_serial.as_deref(),
                operation: entry.operation,
                outcome: outcome.clone(),
                detail: &detail,
            })?;
            self.close(id, "resolved", &record, Some(note))?;
            Ok(record)
        })
    }
}

#[cfg(test)]
mod tests;
