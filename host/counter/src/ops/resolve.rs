//! Closing an unfinished (pending) operation after a clerk checked the card.

use super::NEW_CODE;
use crate::audit::AuditRecord;
use crate::journal::{JournalEntry, PendingId};
use crate::network::Event;
use crate::registry::{TerminateReason, Transition};
use crate::Result;
use crate::{Actor, CounterError, Operation, Outcome, Session};
use juki_host::authority::CounterCredential;
use juki_host::card::{lifecycle_text, JukiCard};
use juki_host::resident_code::ResidentCode;
use juki_host::transport::Transport;
use juki_jpki::ca::RevocationReason;

/// How an unfinished operation was closed.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The operation as it was found.
    pub entry: JournalEntry,
    /// What was recorded.
    pub outcome: Outcome,
    /// The audit record.
    pub record: AuditRecord,
    /// The card's JPKI certificates, when the operation found done revokes them.
    pub jpki: Option<super::JpkiRevocation>,
}

impl Session {
    /// Closes an unfinished operation after a clerk checked the card, with the clerk's `note`.
    ///
    /// When `card` is given with the counter's credential, proves to be the operation's card in
    /// the mutual authentication, and the operation changes the card's state (suspend, resume,
    /// terminate, change-code), the state the card signed decides: reached → `ok` and the
    /// registry is brought in line (for a change of code, with the new code noted in the
    /// journal); not reached → `failed`. Otherwise juki cannot tell (no card, another card, or
    /// one that does not prove itself), and the operation is closed as `failed` (not confirmed)
    /// with the note: redo it if it is needed. Nothing a reader could forge moves the registry.
    pub fn resolve<T: Transport>(
        &mut self,
        id: PendingId,
        note: &str,
        card: Option<(&mut JukiCard<T>, &CounterCredential)>,
    ) -> Result<Resolved> {
        self.authorize(Operation::PendingResolve)?;
        let entry = self
            .db
            .journal()
            .entry(id)?
            .ok_or(CounterError::UnknownPending(id.value()))?;
        let transition = match entry.operation {
            Operation::Suspend => Some(Transition::Suspend),
            Operation::Resume => Some(Transition::Resume),
            Operation::ChangeCode => Some(Transition::Terminate(TerminateReason::CodeChanged)),
            Operation::Terminate => Some(Transition::Terminate(
                entry
                    .detail
                    .split_whitespace()
                    .next()
                    .and_then(TerminateReason::parse)
                    .unwrap_or(TerminateReason::Returned),
            )),
            _ => None,
        };
        let mut seen = None;
        if let (Some((card, cred)), Some(serial), Some(_)) =
            (card, entry.card_serial.as_deref(), transition)
        {
            seen = card
                .inspect_at_counter(cred)
                .ok()
                .filter(|(identity, _)| identity.serial == serial)
                .map(|(identity, _)| identity.lifecycle);
        }
        let (outcome, correction) = match (transition, seen) {
            (Some(t), Some(state)) if state == t.target().lifecycle() => (Outcome::Ok, Some(t)),
            (Some(_), Some(state)) => (
                Outcome::Failed(format!("not done: the card is {}", lifecycle_text(state))),
                None,
            ),
            _ => (
                Outcome::Failed("not confirmed on the card; see the clerk's note".into()),
                None,
            ),
        };
        let actor_municipality = self.municipality.clone();
        let operator = self.operator.clone();
        let serial = entry.card_serial.clone();
        let new_code = match entry.operation {
            Operation::ChangeCode => entry
                .detail
                .split_once(NEW_CODE)
                .and_then(|(_, code)| ResidentCode::parse(code.trim()).ok()),
            _ => None,
        };
        let today = self.today;
        let record = self.db.transaction(|tx| -> Result<AuditRecord> {
            if let (Some(t), Some(serial)) = (correction, serial.as_deref()) {
                if let Some(r) = tx.registry().card(serial)? {
                    let mut holder = r.resident_code.clone();
                    if let Some(new) = &new_code {
                        if r.resident_code != *new {
                            tx.registry().change_resident_code(
                                &r.resident_code,
                                new,
                                "住民票コードの変更",
                            )?;
                            // The change of code the operation would have queued.
                            tx.outbox().enqueue(
                                &actor_municipality,
                                today,
                                Event::CodeChange {
                                    old: r.resident_code.clone(),
                                    new: new.clone(),
                                },
                            )?;
                            holder = new.clone();
                        }
                    }
                    if r.state != t.target() && t.allowed_from(r.state) {
                        tx.registry()
                            .change_state(serial, t, &format!("resolved: {note}"))?;
                        // A termination for death: the 消除 it would have queued.
                        super::lifecycle::removal(tx, &actor_municipality, today, t, &holder)?;
                    }
                }
            }
            tx.journal().resolve(
                id,
                &Actor {
                    municipality: &actor_municipality,
                    operator: &operator,
                },
                &outcome,
                note,
            )
        })?;
        // A suspension, termination or change of code that did happen revokes the card's JPKI
        // certificates, as the finished operation would have.
        let reason = match entry.operation {
            Operation::Suspend => Some(RevocationReason::Suspended),
            Operation::Terminate => Some(RevocationReason::Terminated),
            Operation::ChangeCode => Some(RevocationReason::CodeChanged),
            _ => None,
        };
        let jpki = match (reason, correction, serial.as_deref()) {
            (Some(reason), Some(_), Some(serial)) => Some(self.revoke_jpki(serial, reason)),
            _ => None,
        };
        Ok(Resolved {
            entry,
            outcome,
            record,
            jpki,
        })
    }
}
