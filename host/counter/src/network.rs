//! Keeping 住基ネット current: the counter's outbox of numbered updates and their delivery.
//!
//! **The outbox.** Every counter operation that changes a resident's 本人確認情報 queues one
//! [`Update`] (新規, 記載事項変更, 転居, 転入, 住民票コードの変更, 消除) with
//! [`Outbox::enqueue`], **inside the database transaction that changes the registry and appends
//! the audit record**: the three land together or not at all. The updates are numbered 1, 2, 3,
//! … per counter database (the municipality's delivery numbers, [`Update::seq`]), and stored as
//! JSON (`outbox.update_json`, [`encode`]/[`decode`]: a stable text form of our own, since the
//! network's types carry no serde).
//!
//! **Delivery.** [`sync`] hands the queued updates, lowest number first, in batches of
//! [`BATCH`], to a [`Delivery`] (the network client), and acts on its answers:
//!
//! - `Applied`: the update leaves the queue (its content is no longer kept: the network holds
//!   it now); the next batch follows;
//! - a transient `Refused`, or [`Unreachable`]: everything stays queued; the next attempt waits
//!   ([`backoff`]: 30 s, 1 min, 2 min, … up to 1 h), and [`status`] says why;
//! - a permanent `Refused`: the update **needs a person** ([`QueueStatus::refused`]); the queue
//!   stops there, since later numbers may depend on it, until [`retry_refused`] after the cause
//!   was dealt with.
//!
//! The queue only moves on the network's answers, so an answer that was lost (the batch was
//! applied but the connection broke) sends the same batch again, which the network answers
//! with the recorded outcome: exactly once in effect. Each call to the network is audited
//! ([`Operation::NetSync`], by [`NETWORK_OPERATOR`]) in the same transaction as its effect on
//! the queue; the audit record names numbers and kinds of change, never a resident's data.
//!
//! The counter's operations never call the network: the counter keeps working while it is
//! down, and the queue catches up at the next [`sync`].

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::audit::{Audit, AuditEntry};
use super::clock::{Clock, Timestamp};
use super::error::{CounterError, Result};
use super::log_watch::{self, Anchoring, LogCheck};
use super::sql::{date_text, parse_code, parse_date, savepoint};
use super::{Actor, CounterDb, Operation, Outcome};
use juki_host::resident::{FourInfo, MunicipalityCode, Sex};
pub use juki_net::delivery::{Delivered, Delivery, Departure, DepartureSource, Unreachable};
pub use juki_net::register::{Event, Kind, Update};

/// Most updates handed to the network in one call.
pub const BATCH: usize = 100;

/// The operator named in the audit records of deliveries (no operator logs in for them).
pub const NETWORK_OPERATOR: &str = "(network)";

/// The first wait after a failed attempt, in seconds; doubled after each further one.
pub const BACKOFF_BASE_SECS: i64 = 30;

/// The longest wait between attempts, in seconds.
pub const BACKOFF_MAX_SECS: i64 = 3600;

/// Version of the stored JSON form.
const FORMAT: u64 = 1;

/// The wait before the next attempt after `failures` failed attempts in a row (1 → 30 s, 2 →
/// 1 min, 3 → 2 min, …, at most [`BACKOFF_MAX_SECS`]).
pub fn backoff(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(1).min(20);
    (BACKOFF_BASE_SECS << doublings).min(BACKOFF_MAX_SECS)
}

fn info_json(info: &FourInfo) -> Value {
    json!({
        "name": info.name,
        "address": info.address,
        "birth": date_text(info.birth),
        "sex": info.sex.code(),
    })
}

/// The stored text of an update: one JSON object, fields in a fixed order.
pub fn encode(update: &Update) -> String {
    let event = match &update.event {
        Event::New { code, info } | Event::Amend { code, info } | Event::MoveIn { code, info } => {
            json!({"code": code.as_str(), "info": info_json(info)})
        }
        Event::MoveWithin { code, address } => json!({"code": code.as_str(), "address": address}),
        Event::MoveOut { code, to } => json!({"code": code.as_str(), "to": to.as_str()}),
        Event::CodeChange { old, new } => json!({"old": old.as_str(), "new": new.as_str()}),
        Event::Remove { code } => json!({"code": code.as_str()}),
    };
    json!({
        "format": FORMAT,
        "municipality": update.municipality.as_str(),
        "seq": update.seq,
        "date": date_text(update.date),
        "kind": update.event.kind().as_str(),
        "event": event,
    })
    .to_string()
}

fn corrupt(what: &str) -> CounterError {
    CounterError::Corrupt(format!("queued update ({what})"))
}

fn text<'v>(v: &'v Value, key: &str) -> Result<&'v str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| corrupt(key))
}

fn code_of(v: &Value, key: &str) -> Result<juki_host::resident_code::ResidentCode> {
    parse_code(text(v, key)?)
}

fn info_of(v: &Value) -> Result<FourInfo> {
    let i = v.get("info").ok_or_else(|| corrupt("info"))?;
    let sex = i
        .get("sex")
        .and_then(Value::as_u64)
        .and_then(|s| u8::try_from(s).ok())
        .and_then(Sex::from_code)
        .ok_or_else(|| corrupt("sex"))?;
    FourInfo::new(
        text(i, "name")?,
        text(i, "address")?,
        parse_date(text(i, "birth")?)?,
        sex,
    )
    .map_err(|_| corrupt("4 info"))
}

/// An update from its stored text ([`encode`]).
pub fn decode(stored: &str) -> Result<Update> {
    let v: Value = serde_json::from_str(stored).map_err(|_| corrupt("not JSON"))?;
    if v.get("format").and_then(Value::as_u64) != Some(FORMAT) {
        return Err(corrupt("format"));
    }
    let municipality =
        MunicipalityCode::parse(text(&v, "municipality")?).map_err(|_| corrupt("municipality"))?;
    let seq = v
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or_else(|| corrupt("seq"))?;
    let date = parse_date(text(&v, "date")?)?;
    let e = v.get("event").ok_or_else(|| corrupt("event"))?;
    let kind = Kind::from_db(text(&v, "kind")?).ok_or_else(|| corrupt("kind"))?;
    let event = match kind {
        Kind::New => Event::New {
            code: code_of(e, "code")?,
            info: info_of(e)?,
        },
        Kind::Amend => Event::Amend {
            code: code_of(e, "code")?,
            info: info_of(e)?,
        },
        Kind::MoveIn => Event::MoveIn {
            code: code_of(e, "code")?,
            info: info_of(e)?,
        },
        Kind::MoveWithin => Event::MoveWithin {
            code: code_of(e, "code")?,
            address: text(e, "address")?.to_string(),
        },
        Kind::MoveOut => Event::MoveOut {
            code: code_of(e, "code")?,
            to: MunicipalityCode::parse(text(e, "to")?).map_err(|_| corrupt("to"))?,
        },
        Kind::CodeChange => Event::CodeChange {
            old: code_of(e, "old")?,
            new: code_of(e, "new")?,
        },
        Kind::Remove => Event::Remove {
            code: code_of(e, "code")?,
        },
    };
    Ok(Update {
        municipality,
        seq,
        date,
        event,
    })
}

/// One update waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The update (its number is [`Update::seq`]).
    pub update: Update,
    /// When it was queued (UTC RFC 3339).
    pub queued_at: String,
}

/// An update the network refused for good: a person must look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Its number.
    pub seq: u64,
    /// Its kind of change.
    pub kind: Kind,
    /// Why, as the network said it.
    pub reason: String,
}

/// What is waiting to be delivered ([`status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    /// Updates waiting.
    pub waiting: u64,
    /// The oldest waiting (the next to be delivered).
    pub oldest: Option<Queued>,
    /// The last number given to an update (0: none yet).
    pub last_queued: u64,
    /// The last number the network applied (0: none yet).
    pub last_delivered: u64,
    /// Failed attempts in a row (0 after a successful one).
    pub failures: u32,
    /// When the next attempt is due (`None`: at the next sync).
    pub next_attempt: Option<Timestamp>,
    /// When the network was last called.
    pub last_attempt: Option<Timestamp>,
    /// Why the last attempt failed (the network unreachable, or a transient refusal).
    pub last_error: Option<String>,
    /// The update refused for good, which stops the queue.
    pub refused: Option<Refusal>,
}

/// The queue in the counter database (see [`CounterDb::outbox`], [`super::Tx::outbox`]).
pub struct Outbox<'c> {
    conn: &'c Connection,
    clock: &'c dyn Clock,
}

/// The state row of the queue.
struct State {
    last_queued: u64,
    last_delivered: u64,
    failures: u32,
    next_attempt: Option<i64>,
    last_attempt: Option<i64>,
    last_error: Option<String>,
    refused_seq: Option<u64>,
    refused_reason: Option<String>,
}

fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| CounterError::Corrupt(format!("outbox {what}")))
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| CounterError::Corrupt("outbox number".into()))
}

impl<'c> Outbox<'c> {
    pub(crate) fn new(conn: &'c Connection, clock: &'c dyn Clock) -> Outbox<'c> {
        Outbox { conn, clock }
    }

    fn state(&self) -> Result<State> {
        let raw = self.conn.query_row(
            "SELECT last_queued, last_delivered, failures, next_attempt_at, last_attempt_at, \
             last_error, refused_seq, refused_reason FROM outbox_state WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            },
        )?;
        Ok(State {
            last_queued: to_u64(raw.0, "last number")?,
            last_delivered: to_u64(raw.1, "last delivered number")?,
            failures: u32::try_from(raw.2).map_err(|_| corrupt("failures"))?,
            next_attempt: raw.3,
            last_attempt: raw.4,
            last_error: raw.5,
            refused_seq: raw.6.map(|s| to_u64(s, "refused number")).transpose()?,
            refused_reason: raw.7,
        })
    }

    /// Queues the change `event` of `municipality` (the counter's), dated `date`, under the next
    /// number, and returns it. Call it in the transaction that makes the change
    /// ([`super::Tx::outbox`]); it refuses to run outside one, where the update could be
    /// committed without its change.
    pub fn enqueue(
        &self,
        municipality: &MunicipalityCode,
        date: juki_host::date::Date,
        event: Event,
    ) -> Result<u64> {
        if self.conn.is_autocommit() {
            return Err(CounterError::InvalidInput(
                "an update for the network is queued in the transaction of its change".into(),
            ));
        }
        savepoint(self.conn, || {
            let state = self.state()?;
            let seq = state.last_queued + 1;
            let update = Update {
                municipality: municipality.clone(),
                seq,
                date,
                event,
            };
            let stored = encode(&update);
            // What is stored must read back as the same update.
            if decode(&stored)? != update {
                return Err(CounterError::InvalidInput(
                    "the update cannot be stored faithfully".into(),
                ));
            }
            self.conn.execute(
                "INSERT INTO outbox (seq, kind, update_json, queued_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    to_i64(seq)?,
                    update.event.kind().as_str(),
                    stored,
                    self.clock.now().rfc3339()
                ],
            )?;
            self.conn.execute(
                "UPDATE outbox_state SET last_queued = ?1 WHERE id = 1",
                [to_i64(seq)?],
            )?;
            Ok(seq)
        })
    }

    /// The waiting updates, lowest number first, at most `limit`.
    pub fn waiting(&self, limit: usize) -> Result<Vec<Queued>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, update_json, queued_at FROM outbox ORDER BY seq LIMIT ?1")?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(seq, stored, queued_at)| {
                let update = decode(&stored)?;
                if to_i64(update.seq)? != seq {
                    return Err(corrupt("number"));
                }
                Ok(Queued { update, queued_at })
            })
            .collect()
    }

    /// How far the network's departures were read: the last id seen (0: none yet).
    pub fn departures_after(&self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT departures_after FROM outbox_state WHERE id = 1",
            [],
            |r| r.get(0),
        )?)
    }

    /// Moves the departures cursor on to `id` (never back).
    fn read_departures_to(&self, id: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox_state SET departures_after = max(departures_after, ?1) WHERE id = 1",
            [id],
        )?;
        Ok(())
    }

    /// What is waiting, and how delivery stands.
    pub fn status(&self) -> Result<QueueStatus> {
        let state = self.state()?;
        let waiting: i64 = self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        let oldest = self.waiting(1)?.into_iter().next();
        let refused = match (state.refused_seq, state.refused_reason) {
            (Some(seq), Some(reason)) => {
                let kind: Option<String> = self
                    .conn
                    .query_row(
                        "SELECT kind FROM outbox WHERE seq = ?1",
                        [to_i64(seq)?],
                        |r| r.get(0),
                    )
                    .optional()?;
                let kind = kind
                    .as_deref()
                    .and_then(Kind::from_db)
                    .ok_or_else(|| corrupt("refused update"))?;
                Some(Refusal { seq, kind, reason })
            }
            _ => None,
        };
        Ok(QueueStatus {
            waiting: to_u64(waiting, "count")?,
            oldest,
            last_queued: state.last_queued,
            last_delivered: state.last_delivered,
            failures: state.failures,
            next_attempt: state.next_attempt.map(Timestamp::from_unix),
            last_attempt: state.last_attempt.map(Timestamp::from_unix),
            last_error: state.last_error,
            refused,
        })
    }

    /// After a person dealt with a refused update's cause: the queue is tried again at the next
    /// sync (the same update under the same number: the network never used the number).
    /// Returns the refusal that was cleared (`None`: nothing was refused).
    pub fn retry_refused(&self, actor: &Actor<'_>, note: &str) -> Result<Option<Refusal>> {
        if note.trim().is_empty() {
            return Err(CounterError::InvalidInput(
                "say what was done about the refused update".into(),
            ));
        }
        savepoint(self.conn, || {
            let Some(refused) = self.status()?.refused else {
                return Ok(None);
            };
            self.conn.execute(
                "UPDATE outbox_state SET refused_seq = NULL, refused_reason = NULL, \
                 failures = 0, next_attempt_at = NULL, last_error = NULL WHERE id = 1",
                [],
            )?;
            Audit::new(self.conn, self.clock).append(&AuditEntry {
                actor: *actor,
                card_serial: None,
                operation: Operation::NetSync,
                outcome: Outcome::Ok,
                detail: &format!(
                    "update {} ({}) refused by the network released for another delivery: {note}",
                    refused.seq,
                    refused.kind.as_str()
                ),
            })?;
            Ok(Some(refused))
        })
    }
}

/// How a [`sync`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEnd {
    /// Nothing is waiting any more.
    UpToDate,
    /// The last attempt failed less than its backoff ago: the network was not called.
    NotDue {
        /// When the next attempt is due.
        next_attempt: Timestamp,
    },
    /// The network could not be reached; everything not delivered stays queued.
    Unreachable {
        /// Why.
        reason: String,
        /// When the next attempt is due.
        next_attempt: Timestamp,
    },
    /// The network refused an update for now (it may succeed later); it and the later ones
    /// stay queued.
    Deferred {
        /// The update.
        seq: u64,
        /// Why.
        reason: String,
        /// When the next attempt is due.
        next_attempt: Timestamp,
    },
    /// An update is refused for good and needs a person ([`Outbox::retry_refused`]); the queue
    /// waits behind it.
    NeedsPerson(Refusal),
}

/// What a [`sync`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The numbers applied by the network in this sync, in order.
    pub delivered: Vec<u64>,
    /// Updates still waiting.
    pub waiting: u64,
    /// How it ended.
    pub end: SyncEnd,
}

/// Checks the network's answers against the batch: one per update looked at, in order, all
/// `Applied` except possibly the last.
fn check_answers(batch: &[Queued], answers: &[Delivered]) -> std::result::Result<(), String> {
    if answers.len() > batch.len() {
        return Err(format!(
            "the network answered {} updates for a batch of {}",
            answers.len(),
            batch.len()
        ));
    }
    for (i, (q, a)) in batch.iter().zip(answers).enumerate() {
        let (seq, refused) = match a {
            Delivered::Applied { seq } => (*seq, false),
            Delivered::Refused { seq, .. } => (*seq, true),
        };
        if seq != q.update.seq {
            return Err(format!(
                "the network answered for update {seq} where update {} was expected",
                q.update.seq
            ));
        }
        if refused && i + 1 != answers.len() {
            return Err("the network went on after a refusal".into());
        }
    }
    Ok(())
}

/// Shortens a reason for the records (one line, bounded).
pub(crate) fn short(reason: &str) -> String {
    const MAX: usize = 300;
    let one_line: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        one_line.chars().take(MAX).collect::<String>() + "…"
    }
}

/// Numbers as a range for the records: `4`, `4–9`.
fn range(seqs: &[u64]) -> String {
    match (seqs.first(), seqs.last()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => "none".into(),
    }
}

/// Delivers the waiting updates to the network in order (see the module documentation), and
/// records every call to the network in the audit trail. `now` decides whether a failed
/// attempt's backoff is over. The municipality named in the audit records is the one the
/// queued updates were made by.
pub fn sync(db: &mut CounterDb, delivery: &mut dyn Delivery, now: Timestamp) -> Result<SyncReport> {
    let mut delivered = Vec::new();
    loop {
        let outbox = db.outbox();
        let status = outbox.status()?;
        if let Some(refused) = status.refused {
            return Ok(SyncReport {
                delivered,
                waiting: status.waiting,
                end: SyncEnd::NeedsPerson(refused),
            });
        }
        let batch = outbox.waiting(BATCH)?;
        if batch.is_empty() {
            return Ok(SyncReport {
                delivered,
                waiting: 0,
                end: SyncEnd::UpToDate,
            });
        }
        if let Some(next) = status.next_attempt.filter(|t| *t > now) {
            return Ok(SyncReport {
                delivered,
                waiting: status.waiting,
                end: SyncEnd::NotDue { next_attempt: next },
            });
        }
        let updates: Vec<Update> = batch.iter().map(|q| q.update.clone()).collect();
        let municipality = updates[0].municipality.clone();
        let answer = delivery.deliver(&updates);
        let answers = match answer {
            Ok(answers) => match check_answers(&batch, &answers) {
                Ok(()) if answers.is_empty() => {
                    Err("the network answered for none of the updates".to_string())
                }
                Ok(()) => Ok(answers),
                Err(e) => Err(e),
            },
            Err(Unreachable(reason)) => Err(reason),
        };
        let step = db.transaction(|tx| -> Result<Step> {
            let outbox = tx.outbox();
            let audit = tx.audit();
            let actor = Actor {
                municipality: &municipality,
                operator: NETWORK_OPERATOR,
            };
            let record = |outcome: Outcome, detail: &str| {
                audit.append(&AuditEntry {
                    actor,
                    card_serial: None,
                    operation: Operation::NetSync,
                    outcome,
                    detail,
                })
            };
            let sent = format!(
                "sent updates {} ({} waiting)",
                range(&updates.iter().map(|u| u.seq).collect::<Vec<_>>()),
                status.waiting
            );
            let answers = match answers {
                Ok(a) => a,
                Err(reason) => {
                    let reason = short(&reason);
                    let next = outbox.failed(now, &reason)?;
                    record(
                        Outcome::Failed(format!("the network is not reachable: {reason}")),
                        &format!(
                            "{sent}; nothing applied; next attempt at {}",
                            next.rfc3339()
                        ),
                    )?;
                    return Ok(Step {
                        applied: Vec::new(),
                        end: Some(SyncEnd::Unreachable {
                            reason,
                            next_attempt: next,
                        }),
                    });
                }
            };
            let mut applied = Vec::new();
            let mut end = None;
            for a in &answers {
                if let Delivered::Applied { seq } = a {
                    outbox.applied(*seq)?;
                    applied.push(*seq);
                }
            }
            if !applied.is_empty() {
                // The queue moved: the backoff starts afresh (before a refusal that ends it).
                outbox.succeeded(now)?;
            }
            for a in &answers {
                match a {
                    Delivered::Applied { .. } => {}
                    Delivered::Refused {
                        seq,
                        reason,
                        transient,
                    } => {
                        let reason = short(reason);
                        let kind = batch
                            .iter()
                            .find(|q| q.update.seq == *seq)
                            .map(|q| q.update.event.kind())
                            .unwrap_or(Kind::New);
                        if *transient {
                            let next = outbox.failed(now, &reason)?;
                            end = Some((
                                Outcome::Refused(format!(
                                    "update {seq} ({}) refused for now; it is sent again later",
                                    kind.as_str()
                                )),
                                SyncEnd::Deferred {
                                    seq: *seq,
                                    reason,
                                    next_attempt: next,
                                },
                            ));
                        } else {
                            outbox.refused(*seq, &reason)?;
                            end = Some((
                                Outcome::Refused(format!(
                                    "update {seq} ({}) refused: it needs a person (juki counter \
                                     net status)",
                                    kind.as_str()
                                )),
                                SyncEnd::NeedsPerson(Refusal {
                                    seq: *seq,
                                    kind,
                                    reason,
                                }),
                            ));
                        }
                    }
                }
            }
            let detail = format!("{sent}; applied {}", range(&applied));
            match end {
                Some((outcome, end)) => {
                    if let SyncEnd::NeedsPerson(_) = end {
                        outbox.touch(now)?;
                    }
                    record(outcome, &detail)?;
                    Ok(Step {
                        applied,
                        end: Some(end),
                    })
                }
                None => {
                    record(Outcome::Ok, &detail)?;
                    Ok(Step { applied, end: None })
                }
            }
        })?;
        delivered.extend(step.applied);
        if let Some(end) = step.end {
            return Ok(SyncReport {
                delivered,
                waiting: db.outbox().status()?.waiting,
                end,
            });
        }
    }
}

/// What a whole sync with 住基ネット did ([`sync_with_log`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSyncReport {
    /// The delivery of the waiting updates.
    pub delivery: SyncReport,
    /// The departures read.
    pub departures: DeparturesReport,
    /// The check of the provision log.
    pub log: LogCheck,
    /// The anchoring of the audit trail's head (`None`: not tried, the log was refused).
    pub anchoring: Option<Anchoring>,
}

/// A whole sync with the national server, in this order: the waiting updates delivered
/// ([`sync`]), the departures read ([`receive_departures`]), the provision log checked by this
/// counter's monitor with the log key `key` ([`log_watch::check_log`]; `None`: not configured,
/// said in the report), and last the audit trail's head anchored in the log
/// ([`log_watch::anchor`]), so that the head anchored includes the records of this sync. What
/// was delivered stays delivered whatever the log check finds; a refused log is not anchored
/// in (it is reported, and recorded in the trail).
pub fn sync_with_log(
    db: &mut CounterDb,
    client: &mut juki_net::client::NetClient,
    key: Option<&p256::ecdsa::VerifyingKey>,
    now: Timestamp,
) -> Result<NetSyncReport> {
    let delivery = sync(db, client, now)?;
    let departures = receive_departures(db, client)?;
    let (log, _) = log_watch::check_log(db, client, key, now)?;
    let anchoring = if log.is_refused() {
        None
    } else {
        Some(log_watch::anchor(db, client, now)?)
    };
    Ok(NetSyncReport {
        delivery,
        departures,
        log,
        anchoring,
    })
}

/// What one call to the network did: the numbers applied, and how the sync ends (`None`: it
/// goes on with the next batch).
struct Step {
    applied: Vec<u64>,
    end: Option<SyncEnd>,
}

impl Outbox<'_> {
    /// The network applied `seq`: it leaves the queue.
    fn applied(&self, seq: u64) -> Result<()> {
        let n = self
            .conn
            .execute("DELETE FROM outbox WHERE seq = ?1", [to_i64(seq)?])?;
        if n != 1 {
            return Err(corrupt("applied update not queued"));
        }
        self.conn.execute(
            "UPDATE outbox_state SET last_delivered = ?1 WHERE id = 1",
            [to_i64(seq)?],
        )?;
        Ok(())
    }

    /// A call that moved the queue: the backoff starts afresh.
    fn succeeded(&self, now: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox_state SET failures = 0, next_attempt_at = NULL, last_error = NULL, \
             last_attempt_at = ?1 WHERE id = 1",
            [now.unix()],
        )?;
        Ok(())
    }

    fn touch(&self, now: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox_state SET last_attempt_at = ?1 WHERE id = 1",
            [now.unix()],
        )?;
        Ok(())
    }

    /// A failed attempt: one more failure, and the next attempt after the backoff.
    fn failed(&self, now: Timestamp, reason: &str) -> Result<Timestamp> {
        let failures = self.state()?.failures.saturating_add(1);
        let next = now.plus_secs(backoff(failures));
        self.conn.execute(
            "UPDATE outbox_state SET failures = ?1, next_attempt_at = ?2, last_attempt_at = ?3, \
             last_error = ?4 WHERE id = 1",
            params![failures, next.unix(), now.unix(), reason],
        )?;
        Ok(next)
    }

    /// `seq` refused for good.
    fn refused(&self, seq: u64, reason: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox_state SET refused_seq = ?1, refused_reason = ?2, failures = 0, \
             next_attempt_at = NULL, last_error = NULL WHERE id = 1",
            params![to_i64(seq)?, reason],
        )?;
        Ok(())
    }
}

/// What is waiting, and how delivery stands ([`Outbox::status`]).
pub fn status(db: &CounterDb) -> Result<QueueStatus> {
    db.outbox().status()
}

/// Releases an update refused for good for another delivery ([`Outbox::retry_refused`]).
pub fn retry_refused(db: &CounterDb, actor: &Actor<'_>, note: &str) -> Result<Option<Refusal>> {
    db.outbox().retry_refused(actor, note)
}

/// What [`receive_departures`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeparturesReport {
    /// Departures read from the network.
    pub read: usize,
    /// Of those, residents of this counter whose 転出 is now recorded as completed.
    pub completed: usize,
    /// The network could not be reached (after what was read before).
    pub unreachable: Option<String>,
}

/// 転入転出の特例, the municipality left: reads from `source` the 転出 that a 転入 elsewhere
/// completed, after the last one seen, and records each as completed in the registry — a batch
/// at a time, each batch in one transaction with the cursor and an audit record (numbers only,
/// no resident data), so a departure is recorded once even if the counter stops in between.
pub fn receive_departures(
    db: &mut CounterDb,
    source: &mut dyn DepartureSource,
) -> Result<DeparturesReport> {
    let municipality = super::session::municipality(db)?
        .ok_or_else(|| CounterError::InvalidInput("the counter has no municipality yet".into()))?;
    let mut report = DeparturesReport {
        read: 0,
        completed: 0,
        unreachable: None,
    };
    loop {
        let after = db.outbox().departures_after()?;
        let batch = match source.departures(after) {
            Ok(b) => b,
            Err(Unreachable(reason)) => {
                report.unreachable = Some(short(&reason));
                return Ok(report);
            }
        };
        let Some(last) = batch.last().map(|d| d.id) else {
            return Ok(report);
        };
        if batch.iter().any(|d| d.id <= after) || batch.windows(2).any(|w| w[0].id >= w[1].id) {
            // An answer that breaks the contract records nothing (like a delivery's).
            report.unreachable =
                Some("the network's departures are not in order after the last one read".into());
            return Ok(report);
        }
        let completed = db.transaction(|tx| -> Result<usize> {
            let registry = tx.registry();
            let mut n = 0;
            for d in &batch {
                if registry.complete_move_out(&d.resident, &d.to, d.date)? {
                    n += 1;
                }
            }
            tx.outbox().read_departures_to(last)?;
            tx.audit().append(&AuditEntry {
                actor: Actor {
                    municipality: &municipality,
                    operator: NETWORK_OPERATOR,
                },
                card_serial: None,
                operation: Operation::NetSync,
                outcome: Outcome::Ok,
                detail: &format!(
                    "departures {}..{} read: {n} 転出 of this counter completed elsewhere",
                    batch[0].id, last
                ),
            })?;
            Ok(n)
        })?;
        report.read += batch.len();
        report.completed += completed;
    }
}

#[cfg(test)]
mod tests;
