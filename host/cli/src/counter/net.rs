//! 住基ネット at the counter (`juki counter net …`): what is waiting to be delivered, and
//! releasing an update the network refused; and the 転出 (`juki counter move-out`), which has
//! no card step and exists for the network.

use juki_counter::log_watch::{self, Anchoring, LogCheck, Observed};
use juki_counter::network::{self, Kind, QueueStatus, SyncEnd};
use juki_counter::{CounterDb, CounterError};
use juki_host::date::{self, Date};
use juki_host::resident::MunicipalityCode;
use juki_host::resident_code::ResidentCode;
use juki_net::provision_log::LOG_PUB_FILE;

use super::Desk;
use crate::failure::{Failure, Result};
use crate::output::field;
use crate::{out, t};

/// A kind of change, in words (the Japanese term and the network's name).
fn kind_text(kind: Kind) -> String {
    format!("{} ({})", kind.japanese(), kind.as_str())
}

/// `juki counter net status`: what is waiting (no login; no personal data shown).
/// `juki counter net head`: the kept head's text alone, to be saved and handed over.
pub(super) fn head(db: &CounterDb) -> Result<()> {
    match log_watch::kept_head(db)? {
        Some(kept) => {
            out!("{}", kept.head);
            Ok(())
        }
        None => Err(Failure::Cli(t!("counter-net-no-head"))),
    }
}

pub(super) fn status(db: &CounterDb) -> Result<()> {
    let s: QueueStatus = network::status(db)?;
    out!("{}", t!("counter-net-title"));
    field(&t!("label-net-waiting"), s.waiting);
    if let Some(oldest) = &s.oldest {
        field(
            &t!("label-net-oldest"),
            t!(
                "counter-net-update",
                seq = oldest.update.seq,
                kind = kind_text(oldest.update.event.kind()),
                queued = oldest.queued_at.as_str()
            ),
        );
    }
    field(
        &t!("label-net-numbers"),
        t!(
            "counter-net-numbers",
            queued = s.last_queued,
            delivered = s.last_delivered
        ),
    );
    if let Some(at) = s.last_attempt {
        field(&t!("label-net-last-attempt"), at.rfc3339());
    }
    if s.failures > 0 {
        field(&t!("label-net-failures"), s.failures);
    }
    if let Some(at) = s.next_attempt {
        field(&t!("label-net-next-attempt"), at.rfc3339());
    }
    if let Some(e) = &s.last_error {
        field(&t!("label-net-last-error"), e);
    }
    // The provision log as this counter last accepted it, and its last anchor.
    match log_watch::kept_head(db)? {
        Some(k) => field(
            &t!("label-log-checked"),
            t!(
                "counter-log-kept",
                size = k.size,
                at = k.checked_at.rfc3339()
            ),
        ),
        None => field(&t!("label-log-checked"), t!("counter-log-never")),
    }
    if let Some((id, head)) = log_watch::last_anchor(db)? {
        field(
            &t!("label-log-anchor"),
            t!("counter-log-last-anchor", id = id, head = head.to_string()),
        );
    }
    match &s.refused {
        Some(r) => out!(
            "{}",
            t!(
                "counter-net-refused",
                seq = r.seq,
                kind = kind_text(r.kind),
                reason = r.reason.as_str()
            )
        ),
        None if s.waiting == 0 => out!("{}", t!("counter-net-up-to-date")),
        None => {}
    }
    Ok(())
}

/// `juki counter net sync`: delivers what is waiting, reads the departures, checks the
/// provision log with the key `NODE/log.pub` and anchors the audit trail's head; prints what
/// happened. The network being down is not a failure of the command: the updates wait (exit
/// 0, with the next attempt shown); a node that cannot connect at all is, and so is a refused
/// provision log (exit 10, after everything else was printed: what was delivered stays
/// delivered).
pub(super) fn sync(mut db: CounterDb, node: &std::path::Path, server: &str) -> Result<()> {
    let mut client = juki_net::client::NetClient::from_dir(node, server)?;
    let key = log_key(node)?;
    let now = juki_host::clock::now()?;
    let full = network::sync_with_log(&mut db, &mut client, key.as_ref(), now)?;
    let report = &full.delivery;
    out!(
        "{}",
        t!(
            "counter-net-synced",
            delivered = report.delivered.len(),
            waiting = report.waiting
        )
    );
    match &report.end {
        SyncEnd::UpToDate => out!("{}", t!("counter-net-up-to-date")),
        SyncEnd::NotDue { next_attempt } => out!(
            "{}",
            t!("counter-net-not-due", next = next_attempt.rfc3339())
        ),
        SyncEnd::Unreachable {
            reason,
            next_attempt,
        } => out!(
            "{}",
            t!(
                "counter-net-unreachable",
                reason = reason.as_str(),
                next = next_attempt.rfc3339()
            )
        ),
        SyncEnd::Deferred {
            seq,
            reason,
            next_attempt,
        } => out!(
            "{}",
            t!(
                "counter-net-deferred",
                seq = *seq,
                reason = reason.as_str(),
                next = next_attempt.rfc3339()
            )
        ),
        SyncEnd::NeedsPerson(r) => out!(
            "{}",
            t!(
                "counter-net-refused",
                seq = r.seq,
                kind = kind_text(r.kind),
                reason = r.reason.as_str()
            )
        ),
    }
    let departures = &full.departures;
    out!(
        "{}",
        t!(
            "counter-net-departures",
            read = departures.read,
            completed = departures.completed
        )
    );
    if let Some(reason) = &departures.unreachable {
        out!(
            "{}",
            t!(
                "counter-net-departures-unreachable",
                reason = reason.as_str()
            )
        );
    }
    match &full.anchoring {
        Some(Anchoring::Anchored { id, records }) => out!(
            "{}",
            t!("counter-log-anchored", id = *id, records = *records)
        ),
        Some(Anchoring::NothingNew { records }) => {
            out!("{}", t!("counter-log-anchor-current", records = *records))
        }
        Some(Anchoring::NotAnchored(reason)) => out!(
            "{}",
            t!("counter-log-not-anchored", reason = reason.as_str())
        ),
        Some(Anchoring::TrailDamaged(_)) | None => {}
    }
    match full.log {
        LogCheck::NotConfigured => out!(
            "{}",
            t!(
                "counter-log-not-configured",
                file = node.join(LOG_PUB_FILE).display().to_string()
            )
        ),
        LogCheck::Empty => out!("{}", t!("counter-log-empty")),
        LogCheck::Accepted {
            observed,
            size,
            entries,
        } => out!(
            "{}",
            match observed {
                Observed::First => t!("counter-log-first", size = size, entries = entries),
                Observed::Same => t!("counter-log-same", size = size),
                Observed::Advanced { from, to } => t!(
                    "counter-log-advanced",
                    from = from,
                    to = to,
                    entries = entries
                ),
            }
        ),
        LogCheck::NotChecked(reason) => out!(
            "{}",
            t!("counter-log-not-checked", reason = reason.as_str())
        ),
        LogCheck::Refused { reason, audit_seq } => {
            if let Some(seq) = audit_seq {
                field(&t!("label-audit-record"), format_args!("#{seq}"));
            }
            return Err(CounterError::ProvisionLog(reason).into());
        }
    }
    if let Some(Anchoring::TrailDamaged(fault)) = full.anchoring {
        return Err(CounterError::AuditTrail(fault).into());
    }
    Ok(())
}

/// The provision log's key, `NODE/log.pub`; `None` when the node directory has none (the sync
/// then says that the log is not monitored). A file that is there but unreadable is an error.
pub(super) fn log_key(node: &std::path::Path) -> Result<Option<p256::ecdsa::VerifyingKey>> {
    let path = node.join(LOG_PUB_FILE);
    match juki_net::provision_log::load_public_key(&path) {
        Ok(key) => Ok(Some(key)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(juki_host::Error::io(format!("reading {}", path.display()), e).into()),
    }
}

/// `juki counter net retry`: releases the refused update for another delivery, by a logged-in
/// operator, with a note (audited).
pub(super) fn retry(
    desk: Desk<'_>,
    note: &str,
    operator: &str,
    credential: Option<&std::path::Path>,
) -> Result<()> {
    let (s, _) = desk.login_bound(operator, credential)?;
    s.authorize(juki_counter::Operation::NetSync)?;
    match network::retry_refused(s.db(), &s.actor(), note)? {
        Some(r) => out!(
            "{}",
            t!(
                "counter-net-released",
                seq = r.seq,
                kind = kind_text(r.kind)
            )
        ),
        None => out!("{}", t!("counter-net-nothing-refused")),
    }
    Ok(())
}

/// `juki counter move-out` (転出), by a logged-in operator.
pub(super) fn move_out(
    desk: Desk<'_>,
    code: &ResidentCode,
    to: &MunicipalityCode,
    when: Option<Date>,
    operator: &str,
    credential: Option<&std::path::Path>,
) -> Result<()> {
    let (mut s, _) = desk.login_bound(operator, credential)?;
    let done = s.move_out(code, to, when)?;
    out!(
        "{}",
        t!(
            "counter-moved-out",
            code = done.code.to_string(),
            to = done.to.to_string(),
            date = date::display(done.date),
            seq = done.seq
        )
    );
    field(
        &t!("label-audit-record"),
        format_args!("#{}", done.record.seq),
    );
    Ok(())
}

/// `juki counter copy` (広域交付): the resident's card and 住基 PIN, the network's 本人確認情報,
/// this municipality's seal; the sealed copy is written to `out` (0600: personal data).
pub(super) fn wide_area_copy(
    mut c: super::Clerked<'_>,
    node: &std::path::Path,
    server: &str,
    out: &std::path::Path,
) -> Result<()> {
    // Everything that can fail without the resident is checked before the card is touched.
    let seal = juki_net::pki::seal::Seal::load(node)?;
    let mut client = juki_net::client::NetClient::from_dir(node, server)?;
    if out.exists() {
        return Err(juki_host::Error::InvalidInput(format!(
            "{} exists already: a copy is never overwritten",
            out.display()
        ))
        .into());
    }
    // The network's clock (its certificates and the seal's), not JUKI_TODAY's.
    let now = juki_net::pki::now();
    let issued = c.on_card(|s, card, cred, pins| {
        s.wide_area_copy(card, cred, pins, &seal, now, |code| client.copy(code))
    })?;
    juki_host::private_dir::write_new(out, &issued.p7s)
        .map_err(|e| juki_host::Error::io(format!("writing {}", out.display()), e))?;
    out!(
        "{}",
        t!(
            "counter-copy-issued",
            number = issued.copy.number_text(),
            file = out.display().to_string()
        )
    );
    out!("{}", issued.copy.to_text()?);
    if !issued.card_agrees {
        out!("{}", t!("counter-copy-card-differs"));
    }
    Ok(())
}
