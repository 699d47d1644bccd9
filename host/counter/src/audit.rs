//! The counter's audit trail: one append-only table, `audit_log`, whose records are chained by
//! SHA-256 so that an altered, deleted, moved or cut-off record is found by [`Audit::verify`]
//! (`juki counter audit verify`).
//!
//! # A record
//!
//! `seq` (1, 2, 3, … with no gaps), `time` (UTC RFC 3339, `YYYY-MM-DDTHH:MM:SSZ`, from the
//! counter's clock), `municipality` (6-digit code of the counter), `operator`, `card_serial`
//! (optional), `operation` ([`Operation::as_str`]), `outcome` (`ok`, `refused` or `failed`) with
//! its `reason` (absent for `ok`), `detail` (free text, never a PIN or password), `prev_hash`
//! and `hash` (lower-case hex).
//!
//! # The hash
//!
//! `hash = SHA-256(canonical encoding)`, where the canonical encoding is the concatenation of
//!
//! 1. the 13 ASCII bytes `juki-audit-v1` followed by one `0x00` byte (domain separation),
//! 2. `prev_hash`, 32 raw bytes (the previous record's `hash`; 32 zero bytes for `seq` 1),
//! 3. `seq` as an 8-byte big-endian unsigned integer,
//! 4. the text fields in this order, each as a 4-byte big-endian byte length followed by its
//!    UTF-8 bytes exactly as stored: `time`, `municipality`, `operator`;
//! 5. `card_serial` as one byte `0x00` when absent, or `0x01` followed by the field encoding;
//! 6. `operation`, `outcome` (field encoding);
//! 7. `reason` as `0x00` when absent, or `0x01` followed by the field encoding;
//! 8. `detail` (field encoding).
//!
//! The length prefixes make the encoding unambiguous (no two records encode alike), and hashing
//! `seq` and `prev_hash` ties each record to its place.
//!
//! # The head pointer
//!
//! The table `meta` holds `audit_head_seq` and `audit_head_hash`, the last record's sequence
//! number and hash, updated in the same transaction as each append. It lets
//! [`Audit::verify`] notice a cut-off tail (the last records deleted), which the chain alone
//! cannot show. New records chain from the head pointer, not from the last row, so a deleted
//! tail stays visible as a gap after later appends.
//!
//! # What this can and cannot detect
//!
//! The chain and the head pointer live in the same file. They detect a record changed, deleted,
//! inserted or moved by someone who edits the file without recomputing the hashes, and a tail
//! deleted without also rewinding the head pointer. An attacker with write access to the file
//! who recomputes every hash after the change and rewrites the head pointer is **not** detected
//! by the file alone. Against that, write down or export the head ([`AuditHead`], printed by
//! `juki counter audit verify`) to somewhere the attacker cannot reach (paper, another system);
//! [`Audit::verify_anchor`] then proves that the trail up to that head is unchanged.
//!
//! SQLite triggers refuse `UPDATE` and `DELETE` on `audit_log`, and this API has neither; the
//! triggers stop mistakes and casual edits, not someone who can drop them.

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};

use super::clock::Clock;
use super::error::{CounterError, Result};
use super::sql::savepoint;
use super::{Actor, Operation, Outcome};

/// `prev_hash` of the first record.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Domain-separation prefix of the canonical encoding.
const DOMAIN: &[u8] = b"juki-audit-v1\0";

const HEAD_SEQ: &str = "audit_head_seq";
const HEAD_HASH: &str = "audit_head_hash";

/// A record to append.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Municipality and operator.
    pub actor: Actor<'a>,
    /// The card concerned, if any.
    pub card_serial: Option<&'a str>,
    /// What was done.
    pub operation: Operation,
    /// How it ended.
    pub outcome: Outcome,
    /// Free text (never a PIN or password).
    pub detail: &'a str,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Sequence number, from 1.
    pub seq: u64,
    /// UTC RFC 3339.
    pub time: String,
    /// Municipality code of the counter.
    pub municipality: String,
    /// Operator name.
    pub operator: String,
    /// Card serial, if a card was concerned.
    pub card_serial: Option<String>,
    /// Operation name ([`Operation::as_str`]).
    pub operation: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Free text.
    pub detail: String,
    /// Hash of the previous record.
    pub prev_hash: [u8; 32],
    /// Hash of this record.
    pub hash: [u8; 32],
}

/// The text fields of a record, as hashed.
struct Fields<'a> {
    time: &'a str,
    municipality: &'a str,
    operator: &'a str,
    card_serial: Option<&'a str>,
    operation: &'a str,
    outcome: &'a str,
    reason: Option<&'a str>,
    detail: &'a str,
}

impl Fields<'_> {
    /// `SHA-256(canonical encoding)`: see the module documentation.
    fn hash(&self, prev_hash: &[u8; 32], seq: u64) -> [u8; 32] {
        fn field(h: &mut Sha256, text: &str) {
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
            h.update(len.to_be_bytes());
            h.update(text.as_bytes());
        }
        fn optional(h: &mut Sha256, text: Option<&str>) {
            match text {
                None => h.update([0u8]),
                Some(t) => {
                    h.update([1u8]);
                    field(h, t);
                }
            }
        }
        let mut h = Sha256::new();
        h.update(DOMAIN);
        h.update(prev_hash);
        h.update(seq.to_be_bytes());
        field(&mut h, self.time);
        field(&mut h, self.municipality);
        field(&mut h, self.operator);
        optional(&mut h, self.card_serial);
        field(&mut h, self.operation);
        field(&mut h, self.outcome);
        optional(&mut h, self.reason);
        field(&mut h, self.detail);
        h.finalize().into()
    }
}

impl AuditRecord {
    /// The hash this record's contents call for (equal to [`AuditRecord::hash`] when intact).
    pub fn compute_hash(&self) -> [u8; 32] {
        Fields {
            time: &self.time,
            municipality: &self.municipality,
            operator: &self.operator,
            card_serial: self.card_serial.as_deref(),
            operation: &self.operation,
            outcome: self.outcome.kind(),
            reason: self.outcome.reason(),
            detail: &self.detail,
        }
        .hash(&self.prev_hash, self.seq)
    }
}

impl fmt::Display for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} {} {} {} card={} {}",
            self.seq,
            self.time,
            self.municipality,
            self.operator,
            self.operation,
            self.card_serial.as_deref().unwrap_or("-"),
            self.outcome,
        )?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// The last record of the trail: its sequence number and hash (`0` and [`GENESIS_HASH`] for
/// an empty trail). Written `SEQ:HEX`, e.g. to be noted down and checked later with
/// [`Audit::verify_anchor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHead {
    /// Sequence number of the last record.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

impl AuditHead {
    /// Parses `SEQ:HEX` (as printed by [`AuditHead`]'s `Display`).
    pub fn parse(text: &str) -> Result<AuditHead> {
        let bad = || {
            CounterError::InvalidInput(format!(
                "\"{text}\" is not an audit head; it looks like 42:<64 hex digits>"
            ))
        };
        let (seq, hash) = text.trim().split_once(':').ok_or_else(bad)?;
        Ok(AuditHead {
            seq: seq.parse().map_err(|_| bad())?,
            hash: parse_hash(hash).ok_or_else(bad)?,
        })
    }
}

impl fmt::Display for AuditHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, hex::encode(self.hash))
    }
}

/// The first problem [`Audit::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainFault {
    /// Records are missing before `found` (deleted): `expected` was next.
    Gap {
        /// The sequence number that should have come next.
        expected: u64,
        /// The one that came.
        found: u64,
    },
    /// The record's `prev_hash` is not the previous record's hash: a record before it was
    /// replaced, or records were moved.
    BrokenLink {
        /// The record.
        seq: u64,
    },
    /// The record's contents do not match its hash: it was altered (or moved).
    Altered {
        /// The record.
        seq: u64,
    },
    /// The trail ends before the head pointer: its last records were deleted.
    Truncated {
        /// Last record according to the head pointer.
        head_seq: u64,
        /// Last record present.
        last_seq: u64,
    },
    /// There are records after the head pointer: they were added outside juki.
    BeyondHead {
        /// Last record according to the head pointer.
        head_seq: u64,
        /// Last record present.
        last_seq: u64,
    },
    /// The last record is not the one the head pointer names: it was replaced.
    HeadMismatch {
        /// The last record.
        seq: u64,
    },
    /// The head pointer itself is unreadable.
    BadHead,
    /// The anchor given to [`Audit::verify_anchor`] is beyond the end of the trail.
    AnchorMissing {
        /// The anchor's sequence number.
        seq: u64,
    },
    /// The record at the anchor's sequence number has another hash: the trail up to it was
    /// rewritten since the anchor was noted.
    AnchorMismatch {
        /// The anchor's sequence number.
        seq: u64,
    },
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainFault::Gap { expected, found } => write!(
                f,
                "record {expected} is missing (the next one is {found}): records were deleted"
            ),
            ChainFault::BrokenLink { seq } => write!(
                f,
                "record {seq} does not follow the record before it: a record was replaced, \
                 inserted or moved"
            ),
            ChainFault::Altered { seq } => {
                write!(
                    f,
                    "record {seq} does not match its hash: it was altered or moved"
                )
            }
            ChainFault::Truncated { head_seq, last_seq } => write!(
                f,
                "the trail ends at record {last_seq} but its head pointer says {head_seq}: \
                 the last records were deleted"
            ),
            ChainFault::BeyondHead { head_seq, last_seq } => write!(
                f,
                "records {}..={last_seq} come after the head pointer ({head_seq}): they were \
                 added outside juki",
                head_seq + 1
            ),
            ChainFault::HeadMismatch { seq } => write!(
                f,
                "record {seq} is not the last record the head pointer names: it was replaced"
            ),
            ChainFault::BadHead => f.write_str("the head pointer of the trail is damaged"),
            ChainFault::AnchorMissing { seq } => write!(
                f,
                "the noted head names record {seq}, which is not in the trail: records were \
                 deleted"
            ),
            ChainFault::AnchorMismatch { seq } => write!(
                f,
                "record {seq} differs from the noted head: the trail was rewritten up to it"
            ),
        }
    }
}

/// What [`Audit::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records checked before the first problem (all of them when intact).
    pub checked: u64,
    /// The head pointer (print it so it can be noted down).
    pub head: AuditHead,
    /// The first problem, if any.
    pub fault: Option<ChainFault>,
}

impl ChainReport {
    /// No problem found.
    pub fn is_intact(&self) -> bool {
        self.fault.is_none()
    }
}

/// The audit trail, on a connection (see [`super::CounterDb::audit`]).
pub struct Audit<'c> {
    conn: &'c Connection,
    clock: &'c dyn Clock,
}

/// A row as stored, before any interpretation.
struct RawRecord {
    seq: i64,
    time: String,
    municipality: String,
    operator: String,
    card_serial: Option<String>,
    operation: String,
    outcome: String,
    reason: Option<String>,
    detail: String,
    prev_hash: String,
    hash: String,
}

const COLUMNS: &str = "seq, time, municipality, operator, card_serial, operation, outcome, \
                       reason, detail, prev_hash, hash";

impl RawRecord {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawRecord> {
        Ok(RawRecord {
            seq: r.get(0)?,
            time: r.get(1)?,
            municipality: r.get(2)?,
            operator: r.get(3)?,
            card_serial: r.get(4)?,
            operation: r.get(5)?,
            outcome: r.get(6)?,
            reason: r.get(7)?,
            detail: r.get(8)?,
            prev_hash: r.get(9)?,
            hash: r.get(10)?,
        })
    }

    fn fields(&self) -> Fields<'_> {
        Fields {
            time: &self.time,
            municipality: &self.municipality,
            operator: &self.operator,
            card_serial: self.card_serial.as_deref(),
            operation: &self.operation,
            outcome: &self.outcome,
            reason: self.reason.as_deref(),
            detail: &self.detail,
        }
    }

    fn into_record(self) -> Result<AuditRecord> {
        let corrupt =
            |what: &str| CounterError::Corrupt(format!("audit record {} ({what})", self.seq));
        let seq = u64::try_from(self.seq).map_err(|_| corrupt("sequence number"))?;
        let prev_hash = parse_hash(&self.prev_hash).ok_or_else(|| corrupt("prev_hash"))?;
        let hash = parse_hash(&self.hash).ok_or_else(|| corrupt("hash"))?;
        let outcome =
            Outcome::from_parts(&self.outcome, self.reason).ok_or_else(|| corrupt("outcome"))?;
        Ok(AuditRecord {
            seq,
            time: self.time,
            municipality: self.municipality,
            operator: self.operator,
            card_serial: self.card_serial,
            operation: self.operation,
            outcome,
            detail: self.detail,
            prev_hash,
            hash,
        })
    }
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

impl<'c> Audit<'c> {
    pub(crate) fn new(conn: &'c Connection, clock: &'c dyn Clock) -> Audit<'c> {
        Audit { conn, clock }
    }

    /// Appends a record, chained to the head, and moves the head to it, atomically.
    pub fn append(&self, entry: &AuditEntry<'_>) -> Result<AuditRecord> {
        if entry.actor.operator.is_empty() {
            return Err(CounterError::InvalidInput(
                "an audit record needs an operator name".into(),
            ));
        }
        savepoint(self.conn, || {
            let head = self.stored_head()?.ok_or_else(|| {
                CounterError::Corrupt("audit head pointer (run juki counter audit verify)".into())
            })?;
            let seq = head.seq + 1;
            let time = self.clock.now().rfc3339();
            let outcome = entry.outcome.kind();
            let reason = entry.outcome.reason();
            let hash = Fields {
                time: &time,
                municipality: entry.actor.municipality.as_str(),
                operator: entry.actor.operator,
                card_serial: entry.card_serial,
                operation: entry.operation.as_str(),
                outcome,
                reason,
                detail: entry.detail,
            }
            .hash(&head.hash, seq);
            let seq_sql = i64::try_from(seq)
                .map_err(|_| CounterError::Corrupt("audit sequence number".into()))?;
            self.conn.execute(
                &format!("INSERT INTO audit_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    seq_sql,
                    time,
                    entry.actor.municipality.as_str(),
                    entry.actor.operator,
                    entry.card_serial,
                    entry.operation.as_str(),
                    outcome,
                    reason,
                    entry.detail,
                    hex::encode(head.hash),
                    hex::encode(hash),
                ],
            )?;
            let upsert = "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                          ON CONFLICT (key) DO UPDATE SET value = excluded.value";
            self.conn
                .execute(upsert, params![HEAD_SEQ, seq.to_string()])?;
            self.conn
                .execute(upsert, params![HEAD_HASH, hex::encode(hash)])?;
            Ok(AuditRecord {
                seq,
                time,
                municipality: entry.actor.municipality.as_str().to_string(),
                operator: entry.actor.operator.to_string(),
                card_serial: entry.card_serial.map(str::to_string),
                operation: entry.operation.as_str().to_string(),
                outcome: entry.outcome.clone(),
                detail: entry.detail.to_string(),
                prev_hash: head.hash,
                hash,
            })
        })
    }

    /// The head pointer: `None` when it is damaged; genesis when the trail is empty.
    fn stored_head(&self) -> Result<Option<AuditHead>> {
        let get = |key: &str| -> Result<Option<String>> {
            Ok(self
                .conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?)
        };
        Ok(match (get(HEAD_SEQ)?, get(HEAD_HASH)?) {
            (None, None) => Some(AuditHead {
                seq: 0,
                hash: GENESIS_HASH,
            }),
            (Some(seq), Some(hash)) => match (seq.parse::<u64>(), parse_hash(&hash)) {
                (Ok(seq), Some(hash)) => Some(AuditHead { seq, hash }),
                _ => None,
            },
            _ => None,
        })
    }

    /// The head pointer (last sequence number and hash), to print or note down.
    pub fn head(&self) -> Result<AuditHead> {
        self.stored_head()?
            .ok_or_else(|| CounterError::Corrupt("audit head pointer".into()))
    }

    /// Walks the whole chain from record 1 and reports the first problem (see the module
    /// documentation for what can and cannot be detected).
    pub fn verify(&self) -> Result<ChainReport> {
        // One read transaction: the head and the rows from the same snapshot.
        savepoint(self.conn, || self.verify_snapshot())
    }

    fn verify_snapshot(&self) -> Result<ChainReport> {
        let stored = self.stored_head()?;
        let head = stored.unwrap_or(AuditHead {
            seq: 0,
            hash: GENESIS_HASH,
        });
        let report = |checked, fault| {
            Ok(ChainReport {
                checked,
                head,
                fault,
            })
        };
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        let mut prev = GENESIS_HASH;
        let mut checked: u64 = 0;
        while let Some(row) = rows.next()? {
            let raw = RawRecord::from_row(row)?;
            let expected = checked + 1;
            let seq = u64::try_from(raw.seq).unwrap_or(0);
            if seq != expected {
                return report(
                    checked,
                    Some(ChainFault::Gap {
                        expected,
                        found: seq,
                    }),
                );
            }
            if parse_hash(&raw.prev_hash) != Some(prev) {
                return report(checked, Some(ChainFault::BrokenLink { seq }));
            }
            let computed = raw.fields().hash(&prev, seq);
            if parse_hash(&raw.hash) != Some(computed) {
                return report(checked, Some(ChainFault::Altered { seq }));
            }
            prev = computed;
            checked = seq;
        }
        if stored.is_none() {
            return report(checked, Some(ChainFault::BadHead));
        }
        let fault = if checked < head.seq {
            Some(ChainFault::Truncated {
                head_seq: head.seq,
                last_seq: checked,
            })
        } else if checked > head.seq {
            Some(ChainFault::BeyondHead {
                head_seq: head.seq,
                last_seq: checked,
            })
        } else if prev != head.hash {
            Some(ChainFault::HeadMismatch { seq: checked })
        } else {
            None
        };
        report(checked, fault)
    }

    /// [`Audit::verify`], and also checks that the record at `anchor.seq` still has
    /// `anchor.hash`: a head noted down earlier (kept away from this file) proves that
    /// nothing up to it was rewritten, even by someone who recomputed all hashes.
    pub fn verify_anchor(&self, anchor: &AuditHead) -> Result<ChainReport> {
        let mut report = self.verify()?;
        if report.fault.is_some() || anchor.seq == 0 {
            return Ok(report);
        }
        let seq = i64::try_from(anchor.seq).unwrap_or(i64::MAX);
        let hash: Option<String> = self
            .conn
            .query_row("SELECT hash FROM audit_log WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .optional()?;
        report.fault = match hash {
            None => Some(ChainFault::AnchorMissing { seq: anchor.seq }),
            Some(h) if parse_hash(&h) != Some(anchor.hash) => {
                Some(ChainFault::AnchorMismatch { seq: anchor.seq })
            }
            Some(_) => None,
        };
        Ok(report)
    }

    /// A card's records in order (for a resident's disclosure request, 開示請求).
    pub fn show(&self, card_serial: &str) -> Result<Vec<AuditRecord>> {
        self.query(
            &format!("SELECT {COLUMNS} FROM audit_log WHERE card_serial = ?1 ORDER BY seq"),
            [card_serial],
        )
    }

    /// The records of what `operator` did or was refused, in order.
    pub fn by_operator(&self, operator: &str) -> Result<Vec<AuditRecord>> {
        self.query(
            &format!("SELECT {COLUMNS} FROM audit_log WHERE operator = ?1 ORDER BY seq"),
            [operator],
        )
    }

    /// Every record in order (export).
    pub fn records(&self) -> Result<Vec<AuditRecord>> {
        self.query(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"), [])
    }

    /// One record.
    pub fn record(&self, seq: u64) -> Result<Option<AuditRecord>> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        Ok(self
            .query(
                &format!("SELECT {COLUMNS} FROM audit_log WHERE seq = ?1"),
                [seq],
            )?
            .into_iter()
            .next())
    }

    fn query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<AuditRecord>> {
        let mut stmt = self.conn.prepare(sql)?;
        let raws = stmt
            .query_map(p, RawRecord::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawRecord::into_record).collect()
    }
}

#[cfg(test)]
mod tests;
