//! The counter and 住基ネット's provision log (docs/log.md, "Monitors at the counters",
//! "Anchors"): every counter is a **monitor** of the log, and **anchors** its own audit trail
//! in it.
//!
//! **Monitoring** ([`check_log`]). At each sync the counter resumes a
//! [`juki_net::monitor::Monitor`] from the state it keeps in `counter.db` (`log_monitor`: the
//! last accepted signed head and the frontier of the tree at its size) and asks the server for
//! its latest head. The head is accepted only if the log key signed it, the server's entries for
//! the leaves added since — recomputed by the server from its records — fold into the signed
//! root, and it extends the last accepted head (no fork, no shrinking, a consistency proof).
//! Accepted: the new state is kept. Refused: the old state stays (the evidence: the head that
//! was accepted before), an audit record says why (`net-sync`, failed; sizes and indices, never
//! a resident's data), and the caller reports it. A successful check writes no audit record:
//! the kept state is its record, and an audit record per check would make every sync grow the
//! trail and need a new anchor, whose leaf the next check would see, for ever.
//!
//! **Anchoring** ([`anchor`]). After the sync's own audit records, if the trail grew since the
//! last anchor, its head (record count and hash) is posted to the server, which logs it as an
//! `AuditAnchor` leaf; the counter remembers the anchor in `log_anchors`. Anchoring writes no
//! audit record of its own, so the head anchored is the trail's last record and an anchor never
//! calls for another. The trail is verified before its head is anchored (a damaged trail is not
//! vouched for).
//!
//! **Checking the trail against its anchors** ([`verify_anchors`]). The server's list of this
//! municipality's anchors is checked against the local trail — the record `records` must have
//! exactly the anchored hash — which catches a trail rewritten past an anchored head even when
//! every hash in the file was recomputed; and each logged anchor is checked to be in the log
//! (a [`juki_log::Receipt`] against the head the counter's monitor accepted).

use juki_log::{AuditAnchor, Hash, Opening, Receipt, Record, Salt, SignedTreeHead};
use juki_net::client::{ClientError, NetClient};
use juki_net::monitor::{Monitor, MonitorError};
use p256::ecdsa::VerifyingKey;
use rusqlite::{params, OptionalExtension};

pub use juki_net::monitor::Observed;

use super::audit::{AuditEntry, AuditHead};
use super::clock::Timestamp;
use super::error::{CounterError, Result};
use super::network::{short, NETWORK_OPERATOR};
use super::{Actor, CounterDb, Operation, Outcome};

/// The monitor's state as kept in `counter.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptHead {
    /// The last accepted signed tree head, as text.
    pub head: String,
    /// Its size.
    pub size: u64,
    /// When the log was last checked.
    pub checked_at: Timestamp,
}

/// What checking the log did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogCheck {
    /// No log key was given (`log.pub` missing from the node directory): the log was not
    /// checked.
    NotConfigured,
    /// The log has no head yet (nothing logged).
    Empty,
    /// The head was accepted and kept.
    Accepted {
        /// First head, same tree, or advanced.
        observed: Observed,
        /// The size accepted.
        size: u64,
        /// Leaves whose records were checked now.
        entries: u64,
    },
    /// The server could not be asked; the kept state is unchanged.
    NotChecked(String),
    /// The log was refused — a fork, a bad proof or signature, a record missing or altered —
    /// and the old state kept.
    Refused {
        /// Why (no personal data).
        reason: String,
        /// The audit record that says so (`None` if the counter has no municipality yet).
        audit_seq: Option<u64>,
    },
}

impl LogCheck {
    /// `true` when the log was refused.
    pub fn is_refused(&self) -> bool {
        matches!(self, LogCheck::Refused { .. })
    }
}

/// What anchoring did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchoring {
    /// The trail has not grown since the last anchor (or is empty).
    NothingNew {
        /// Records in the trail.
        records: u64,
    },
    /// The head was anchored.
    Anchored {
        /// The server's anchor number.
        id: i64,
        /// Records anchored.
        records: u64,
    },
    /// The server could not take it; the next sync tries again.
    NotAnchored(String),
    /// The trail is damaged: its head is not anchored (`juki counter audit verify`).
    TrailDamaged(String),
}

fn corrupt(what: &str) -> CounterError {
    CounterError::Corrupt(format!("provision log monitor state ({what})"))
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| corrupt("number"))
}

/// The kept state, if a head was accepted.
pub fn kept_head(db: &CounterDb) -> Result<Option<KeptHead>> {
    let row: Option<(String, i64, i64)> = db
        .conn()
        .query_row(
            "SELECT head, size, checked_at FROM log_monitor WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(head, size, at)| {
        Ok(KeptHead {
            head,
            size: u64::try_from(size).map_err(|_| corrupt("size"))?,
            checked_at: Timestamp::from_unix(at),
        })
    })
    .transpose()
}

/// The monitor resumed from the kept state (a new one before the first accepted head).
/// `Err(MonitorError::State)` when the kept head and frontier do not hold together.
fn resume(db: &CounterDb, key: VerifyingKey) -> Result<std::result::Result<Monitor, MonitorError>> {
    let row: Option<(String, Vec<u8>)> = db
        .conn()
        .query_row(
            "SELECT head, frontier FROM log_monitor WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((head, frontier)) = row else {
        return Ok(Ok(Monitor::new(key)));
    };
    let hashes: Vec<Hash> = frontier
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect();
    Ok(Monitor::resume(key, &head, hashes))
}

fn keep(db: &CounterDb, monitor: &Monitor, now: Timestamp) -> Result<()> {
    let Some(head) = monitor.head() else {
        return Ok(());
    };
    let frontier: Vec<u8> = monitor.frontier().concat();
    db.conn().execute(
        "INSERT INTO log_monitor (id, head, size, frontier, checked_at) VALUES (1, ?1, ?2, ?3, ?4) \
         ON CONFLICT (id) DO UPDATE SET head = excluded.head, size = excluded.size, \
         frontier = excluded.frontier, checked_at = excluded.checked_at",
        params![
            head.to_text(),
            to_i64(head.head.size)?,
            frontier,
            now.unix()
        ],
    )?;
    Ok(())
}

/// Whether a monitor's error is the log's fault (refused) or the way to it (not checked). A
/// server that answers with a proof or entry that does not even decode is refused too: a
/// correct server never does.
fn refusal(e: &MonitorError) -> Option<String> {
    match e {
        MonitorError::Client(ClientError::BadAnswer(why)) => {
            Some(format!("the server's answer does not hold: {why}"))
        }
        MonitorError::Client(_) => None,
        other => Some(other.to_string()),
    }
}

/// Writes the audit record of a refused log.
fn record_refusal(db: &mut CounterDb, reason: &str, kept: Option<u64>) -> Result<Option<u64>> {
    let Some(municipality) = super::session::municipality(db)? else {
        return Ok(None);
    };
    let detail = match kept {
        Some(size) => {
            format!("provision log check; the head of size {size} accepted before is kept")
        }
        None => "provision log check; no head accepted before".to_string(),
    };
    let record = db.transaction(|tx| {
        tx.audit().append(&AuditEntry {
            actor: Actor {
                municipality: &municipality,
                operator: NETWORK_OPERATOR,
            },
            card_serial: None,
            operation: Operation::NetSync,
            outcome: Outcome::Failed(format!(
                "住基ネットの提供記録の改ざん・分岐を検知 (the provision log was refused): {reason}"
            )),
            detail: &detail,
        })
    })?;
    Ok(Some(record.seq))
}

/// Checks the server's latest head with the monitor kept in `db` (see the module
/// documentation), keeps the new state when it is accepted, and records a refusal. Returns the
/// outcome and, when accepted, the head now kept (what [`verify_anchors`] proves against).
pub fn check_log(
    db: &mut CounterDb,
    client: &mut NetClient,
    key: Option<&VerifyingKey>,
    now: Timestamp,
) -> Result<(LogCheck, Option<SignedTreeHead>)> {
    let Some(key) = key else {
        return Ok((LogCheck::NotConfigured, None));
    };
    let kept = kept_head(db)?.map(|k| k.size);
    let outcome = match resume(db, *key)? {
        Ok(mut monitor) => match monitor.check(client) {
            Ok(checked) => match checked.observed {
                None => Ok((LogCheck::Empty, monitor)),
                Some(observed) => Ok((
                    LogCheck::Accepted {
                        observed,
                        size: checked.size,
                        entries: checked.entries,
                    },
                    monitor,
                )),
            },
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match outcome {
        Ok((check, monitor)) => {
            keep(db, &monitor, now)?;
            Ok((check, monitor.head().cloned()))
        }
        Err(e) => match refusal(&e) {
            None => Ok((LogCheck::NotChecked(short(&e.to_string())), None)),
            Some(reason) => {
                let reason = short(&reason);
                let audit_seq = record_refusal(db, &reason, kept)?;
                Ok((LogCheck::Refused { reason, audit_seq }, None))
            }
        },
    }
}

/// The last anchor this counter made: (number, records, head).
pub fn last_anchor(db: &CounterDb) -> Result<Option<(i64, AuditHead)>> {
    let row: Option<(i64, i64, String)> = db
        .conn()
        .query_row(
            "SELECT id, records, head FROM log_anchors ORDER BY records DESC, id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(id, records, head)| {
        let head = AuditHead::parse(&format!("{records}:{head}"))
            .map_err(|_| CounterError::Corrupt("anchored audit head".into()))?;
        Ok((id, head))
    })
    .transpose()
}

/// Anchors the audit trail's head in the log if the trail grew since the last anchor (see the
/// module documentation). Call it after the sync's own audit records.
pub fn anchor(db: &mut CounterDb, client: &mut NetClient, now: Timestamp) -> Result<Anchoring> {
    let last = last_anchor(db)?;
    // The trail must be intact, and still hold the head anchored last, before its new head is
    // vouched for.
    let report = match &last {
        Some((_, head)) => db.audit().verify_anchor(head)?,
        None => db.audit().verify()?,
    };
    if let Some(fault) = report.fault {
        return Ok(Anchoring::TrailDamaged(fault.to_string()));
    }
    let head = report.head;
    let anchored = last.as_ref().map_or(0, |(_, h)| h.seq);
    if head.seq == 0 || head.seq <= anchored {
        return Ok(Anchoring::NothingNew { records: head.seq });
    }
    let id = match client.anchor(&head.hash, head.seq) {
        Ok(id) => id,
        Err(e) => return Ok(Anchoring::NotAnchored(short(&e.to_string()))),
    };
    db.conn().execute(
        "INSERT INTO log_anchors (id, records, head, anchored_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, to_i64(head.seq)?, hex::encode(head.hash), now.unix()],
    )?;
    Ok(Anchoring::Anchored {
        id,
        records: head.seq,
    })
}

/// What [`verify_anchors`] found wrong first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorFault {
    /// The trail differs from an anchored head: rewritten up to it (the counter's fault).
    Rewritten {
        /// The anchor.
        id: i64,
        /// Records it anchored.
        records: u64,
    },
    /// The trail is shorter than an anchored head: records were deleted.
    Missing {
        /// The anchor.
        id: i64,
        /// Records it anchored.
        records: u64,
    },
    /// An anchor the server lists is not in the log as signed, or the server lost one this
    /// counter made (the log's fault).
    NotInLog {
        /// The anchor.
        id: i64,
        /// Why.
        reason: String,
    },
}

impl AnchorFault {
    /// `true` when the counter's trail is at fault (not the log).
    pub fn is_trail(&self) -> bool {
        !matches!(self, AnchorFault::NotInLog { .. })
    }
}

impl std::fmt::Display for AnchorFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnchorFault::Rewritten { id, records } => write!(
                f,
                "record {records} differs from the head anchored in 住基ネット (anchor {id}): \
                 the trail was rewritten up to it"
            ),
            AnchorFault::Missing { id, records } => write!(
                f,
                "the trail ends before record {records}, anchored in 住基ネット (anchor {id}): \
                 records were deleted"
            ),
            AnchorFault::NotInLog { id, reason } => {
                write!(f, "anchor {id} is not in the provision log: {reason}")
            }
        }
    }
}

/// What [`verify_anchors`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorReport {
    /// Anchors the server listed, all checked against the trail.
    pub anchors: usize,
    /// Of those, proven included in the head the monitor accepted.
    pub included: usize,
    /// Of those, not (yet) logged within that head: only the trail was checked.
    pub pending: usize,
    /// The first fault.
    pub fault: Option<AnchorFault>,
}

/// Checks this municipality's anchors (from the server) against the local trail, and each
/// logged anchor's inclusion in `head` (the head the counter's monitor accepted; `None`: only
/// the trail is checked). Call it after the trail itself was verified intact.
pub fn verify_anchors(
    db: &CounterDb,
    client: &mut NetClient,
    key: Option<&VerifyingKey>,
    head: Option<&SignedTreeHead>,
) -> Result<AnchorReport> {
    let anchors = client.anchors(None)?;
    let mut report = AnchorReport {
        anchors: anchors.len(),
        included: 0,
        pending: 0,
        fault: None,
    };
    let not_in_log = |id: i64, reason: String| Some(AnchorFault::NotInLog { id, reason });
    // Every anchor this counter made must still be listed by the server, as made.
    let mut stmt = db
        .conn()
        .prepare("SELECT id, records, head FROM log_anchors ORDER BY id")?;
    let mine = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (id, records, head_hex) in mine {
        let listed = anchors.iter().any(|a| {
            a.id == id && i64::try_from(a.records).ok() == Some(records) && a.head == head_hex
        });
        if !listed {
            report.fault = not_in_log(id, "the server no longer lists it as it was made".into());
            return Ok(report);
        }
    }
    for a in &anchors {
        let hash: Option<[u8; 32]> = hex::decode(&a.head).ok().and_then(|h| h.try_into().ok());
        let Some(hash) = hash else {
            report.fault = not_in_log(a.id, "the server lists a malformed head".into());
            return Ok(report);
        };
        match db.audit().record(a.records)? {
            None => {
                report.fault = Some(AnchorFault::Missing {
                    id: a.id,
                    records: a.records,
                });
                return Ok(report);
            }
            Some(r) if r.hash != hash => {
                report.fault = Some(AnchorFault::Rewritten {
                    id: a.id,
                    records: a.records,
                });
                return Ok(report);
            }
            Some(_) => {}
        }
        let (Some(key), Some(head)) = (key, head) else {
            report.pending += 1;
            continue;
        };
        let (Some(index), Some(salt)) = (a.leaf_index, a.salt.as_deref()) else {
            report.pending += 1;
            continue;
        };
        if index >= head.head.size {
            report.pending += 1;
            continue;
        }
        let salt: Option<[u8; 32]> = hex::decode(salt).ok().and_then(|s| s.try_into().ok());
        let Some(salt) = salt else {
            report.fault = not_in_log(a.id, "the server lists a malformed salt".into());
            return Ok(report);
        };
        let proof = match client.log_inclusion(index, head.head.size) {
            Ok(p) => p,
            Err(ClientError::BadAnswer(why)) => {
                report.fault = not_in_log(a.id, why);
                return Ok(report);
            }
            Err(e) => return Err(e.into()),
        };
        let receipt = Receipt {
            opening: Opening {
                record: Record::AuditAnchor(AuditAnchor {
                    municipality: a.municipality.clone(),
                    head: hash,
                    count: a.records,
                    at: a.at,
                }),
                salt: Salt(salt),
            },
            proof,
            head: head.clone(),
        };
        if let Err(e) = receipt.verify(key) {
            report.fault = not_in_log(a.id, e.to_string());
            return Ok(report);
        }
        report.included += 1;
    }
    Ok(report)
}
