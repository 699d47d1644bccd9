//! The counter's operations on a resident's card (窓口業務), end to end: host-side checks, the
//! card step through the typed card API, the registry and the audit trail.
//!
//! Every operation runs on a logged-in [`Session`] and follows the same steps:
//!
//! 1. **Host checks, before the card is touched**: the counter credential is within its validity
//!    on the session's today ([`juki_host::date::today`]); the card proves itself in the mutual
//!    authentication ([`JukiCard::inspect_at_counter`]): its serial (in its certificate, and it
//!    must be the card the clerk serves, [`Session::serving`]) and its state come under its
//!    signature, its card information protected — nothing a reader could forge decides; the
//!    state allows the operation; the card is not expired (住基 EF 0004: the card has no clock;
//!    only termination is possible on an expired card); the registry agrees with the card and
//!    would accept the change (a *dry run* of the registry change, rolled back). A refusal here
//!    is audited (`refused`) and nothing changes. Only a blank card, which has no key to prove
//!    itself with, is refused on its plain answer.
//! 2. [`super::journal::Journal::begin`] commits a pending row.
//! 3. **The card step**, inside one exclusive card transaction that authenticates the card
//!    again and requires it to be the card inspected in step 1 ([`juki_host::Error::CardChanged`]
//!    otherwise), every command and answer protected. If the card refuses (a status word inside
//!    its protected answer) the operation is completed as `refused`, any other failure of the
//!    card as `failed`, and the registry is unchanged. If the card's answer is lost (reader or
//!    transport error) or comes without valid protection ([`juki_host::Error::OutcomeUnknown`]: a
//!    reader may have answered in its place) the operation stays *pending*: the card may or may
//!    not have done it, and a clerk closes it from the card's own signed state (`juki counter
//!    pending resolve --credential`).
//! 4. **One database transaction**: the registry change and
//!    [`super::journal::Journal::complete`] (the audit record). If the process dies between 3
//!    and 4, the pending row is reported at the next start.
//!
//! This module holds those shared steps ([`Session`]'s host checks, inspection, dry run and
//! journaled card step); each operation family is in its own file:
//!
//! - `issue.rs`: 交付 ([`Session::issue`]);
//! - `identify.rs`: 本人確認 ([`Session::identify`]);
//! - `reset_pin.rs`: パスワード再設定 ([`Session::reset_pin`]);
//! - `update.rs`: 記載事項変更・継続利用 ([`Session::update`]);
//! - `change_code.rs`: 住民票コードの変更 ([`Session::change_code`]);
//! - `lifecycle.rs`: 一時停止, 解除, 返納・廃止 ([`Session::suspend`], [`Session::resume`],
//!   [`Session::terminate`]);
//! - `jpki.rs`: 電子証明書の発行 and revocation ([`Session::jpki_issue`],
//!   [`Session::jpki_revoke`], automatic revocation after the operations that need it);
//! - `move_out.rs`: 転出 ([`Session::move_out`]; no card step);
//! - `resolve.rs`: closing an unfinished operation ([`Session::resolve`]).

mod change_code;
mod identify;
mod issue;
mod jpki;
mod lifecycle;
mod move_out;
mod reset_pin;
mod resolve;
mod update;
mod wide_copy;

pub use change_code::CodeChanged;
pub use identify::Identified;
pub use issue::{IssuePreview, IssueRequest, Issued, REPRESENTATIVE_BELOW_AGE};
pub use jpki::{JpkiIssued, JpkiRevocation};
pub use move_out::MovedOut;
pub use resolve::Resolved;
pub use update::{UpdateRequest, Updated};
pub use wide_copy::IssuedCopy;

use super::audit::{AuditEntry, AuditRecord};
use super::journal::PendingOperation;
use super::network::Event;
use super::registry::CardRecord;
use super::session::Session;
use super::{CounterError, Operation, Outcome, Tx};
use crate::Result;
use juki_host::authority::CounterCredential;
use juki_host::card::{lifecycle_text, JukiCard, Lifecycle};
use juki_host::date;
use juki_host::pin::PinId;
use juki_host::pin::PinSource;
use juki_host::resident::{CardInfo, ResidentRecord};
use juki_host::transport::Transport;
use juki_host::Error;
/// The update for 住基ネット that a change of a registered resident's 4 info makes: none when
/// nothing changed; 転居 ([`Event::MoveWithin`]) when only the address did; otherwise
/// 記載事項変更 ([`Event::Amend`]) with the 4 info as they now are (also when the registry held
/// no 4 info before: a resident registered by an older juki).
pub(crate) fn change_event(
    code: &juki_host::resident_code::ResidentCode,
    before: Option<&juki_host::resident::FourInfo>,
    after: &juki_host::resident::FourInfo,
) -> Option<Event> {
    match before {
        Some(b) if b == after => None,
        Some(b) if b.name == after.name && b.birth == after.birth && b.sex == after.sex => {
            Some(Event::MoveWithin {
                code: code.clone(),
                address: after.address.clone(),
            })
        }
        _ => Some(Event::Amend {
            code: code.clone(),
            info: after.clone(),
        }),
    }
}

/// A card operation done (suspend, resume, terminate, reset-pin).
#[derive(Debug, Clone)]
pub struct Done {
    /// The card information.
    pub card: CardInfo,
    /// The card in the registry afterwards (`None`: not in this counter's registry).
    pub registry: Option<CardRecord>,
    /// The audit record.
    pub record: AuditRecord,
    /// The JPKI certificates, after a suspension or termination (revoked, or pending).
    pub jpki: Option<JpkiRevocation>,
}

/// The card as inspected before an operation.
struct Inspected {
    info: CardInfo,
    record: Option<CardRecord>,
}

/// How a failure is recorded: `None` when the card's answer was lost (reader or transport), so
/// nobody knows whether the card did it.
fn outcome_of(e: &CounterError) -> Option<Outcome> {
    let h = match e {
        CounterError::Host(h) => h,
        CounterError::Jpki(_) | CounterError::Network(_) => {
            return Some(Outcome::Failed(e.to_string()))
        }
        _ => return Some(Outcome::Refused(e.to_string())),
    };
    if h.status_word().is_some() {
        return Some(Outcome::Refused(e.to_string()));
    }
    match h {
        Error::InvalidInput(_)
        | Error::CardNotAuthenticated(_)
        | Error::CardWithoutKey
        | Error::CardChanged { .. } => Some(Outcome::Refused(e.to_string())),
        Error::Pcsc(_)
        | Error::Sim(_)
        | Error::NoCard { .. }
        | Error::CardRemoved { .. }
        | Error::ReaderLost { .. }
        | Error::CardReset { .. }
        | Error::NoCardInAnyReader { .. }
        | Error::NoReader
        | Error::ReaderNotFound { .. }
        | Error::OutcomeUnknown(_)
        | Error::Io { .. } => None,
        _ => Some(Outcome::Failed(e.to_string())),
    }
}

/// Marker error of a registry dry run (rolled back on purpose).
enum DryRun {
    RolledBack,
    Refused(CounterError),
}

impl From<CounterError> for DryRun {
    fn from(e: CounterError) -> DryRun {
        DryRun::Refused(e)
    }
}

/// A registry change, run once as a dry run before the card step and once for real after it.
/// Returns the text added to the audit record's detail.
type RegistryChange<'a> = dyn Fn(&Tx<'_>) -> Result<String> + 'a;

/// How the new code is noted in a change-code's journal detail.
const NEW_CODE: &str = "new code ";

const NOT_REGISTERED: &str = "card not in this counter's registry: registry unchanged";

impl Session {
    /// Appends a `refused` (or `failed`) record for an operation that did not reach its card
    /// step, and hands the error back (or the audit error, if even that failed).
    fn refuse(
        &self,
        op: Operation,
        serial: Option<&str>,
        e: impl Into<CounterError>,
    ) -> CounterError {
        let e = e.into();
        let outcome = outcome_of(&e).unwrap_or_else(|| Outcome::Failed(e.to_string()));
        match self.db.audit().append(&AuditEntry {
            actor: self.actor(),
            card_serial: serial,
            operation: op,
            outcome,
            detail: "",
        }) {
            Ok(_) => e,
            Err(audit) => audit,
        }
    }

    /// Runs a step before the card step; a failure is audited.
    fn pre<R, E: Into<CounterError>>(
        &self,
        op: Operation,
        serial: Option<&str>,
        r: std::result::Result<R, E>,
    ) -> Result<R> {
        r.map_err(|e| self.refuse(op, serial, e.into()))
    }

    /// The credential must be this counter's and valid today.
    fn check_credential(&self, cred: &CounterCredential) -> Result<()> {
        if cred.municipality != self.municipality {
            return Err(Error::InvalidInput(format!(
                "the credential is for municipality {} but this counter belongs to {}",
                cred.municipality, self.municipality
            ))
            .into());
        }
        let when = if self.today > cred.expiry {
            format!("expired on {}", date::display(cred.expiry))
        } else if self.today < cred.effective {
            format!("is valid only from {}", date::display(cred.effective))
        } else {
            return Ok(());
        };
        Err(CounterError::CredentialNotValid {
            municipality: cred.municipality.to_string(),
            name: cred.name.clone(),
            when,
        })
    }

    /// The card's identity (its serial and state, proved in the mutual authentication) and
    /// card information (read under the counter's session), checked against the operation.
    /// Only a blank card, which has nothing to prove itself with, is refused on its plain
    /// answer (a refusal changes nothing).
    fn inspect<T: Transport>(
        &self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        op: Operation,
        allowed: &[Lifecycle],
        allow_expired: bool,
    ) -> Result<Inspected> {
        self.operator_card_present(op, None)?;
        if self.pre(op, None, card.lifecycle())? == Lifecycle::Blank {
            let e = CounterError::WrongCardState {
                state: lifecycle_text(Lifecycle::Blank).into(),
                operation: op.as_str(),
                hint: "the card was never issued",
            };
            return Err(self.refuse(op, None, e));
        }
        let (identity, info) = self.pre(op, None, card.inspect_at_counter(cred))?;
        if let Some(expected) = self.serving.clone().filter(|s| *s != identity.serial) {
            let e = Error::CardChanged {
                expected: expected.clone(),
                found: identity.serial,
            };
            return Err(self.refuse(op, Some(&expected), e));
        }
        let state = identity.lifecycle;
        let serial = Some(identity.serial.as_str());
        let check = || -> Result<Inspected> {
            if !allowed.contains(&state) {
                return Err(match (state, op) {
                    (Lifecycle::Terminated, _) => Error::CardTerminated.into(),
                    (Lifecycle::Blank | Lifecycle::Initialised, _) => {
                        CounterError::WrongCardState {
                            state: lifecycle_text(state).into(),
                            operation: op.as_str(),
                            hint: "the card was never issued",
                        }
                    }
                    (Lifecycle::Issued, Operation::Resume) => CounterError::WrongCardState {
                        state: lifecycle_text(state).into(),
                        operation: op.as_str(),
                        hint: "only a suspended card can be resumed",
                    },
                    (Lifecycle::Suspended, Operation::Suspend) => CounterError::WrongCardState {
                        state: lifecycle_text(state).into(),
                        operation: op.as_str(),
                        hint: "it is already suspended",
                    },
                    _ => CounterError::WrongCardState {
                        state: lifecycle_text(state).into(),
                        operation: op.as_str(),
                        hint: "lift the suspension first (juki counter resume)",
                    },
                });
            }
            let info = info.clone().ok_or_else(|| {
                Error::Protocol("the card has no card information (EF 0004)".into())
            })?;
            if !allow_expired && self.today > info.expires {
                return Err(Error::CardExpired {
                    expires: date::display(info.expires),
                    what: "only its termination is possible at the counter (juki counter \
                           terminate --reason expired)",
                }
                .into());
            }
            let record = self.db.registry().card(&info.serial)?;
            if let Some(r) = &record {
                if r.state.lifecycle() != state {
                    return Err(Error::InvalidInput(format!(
                        "the registry says card {} is {}, but the card is {}: an \
                         operation on it was not finished; see juki counter pending",
                        r.serial,
                        r.state,
                        lifecycle_text(state)
                    ))
                    .into());
                }
            }
            Ok(Inspected { info, record })
        };
        self.pre(op, serial, check())
    }

    /// The resident enters the 住基 PIN and the card's resident data is read, on the card
    /// inspected as `serial` (a failure is audited). For operations that keep or certify the 4
    /// info as the card holds them.
    fn read_resident_with_pin<T: Transport>(
        &self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        op: Operation,
        serial: &str,
        pins: &mut dyn PinSource,
    ) -> Result<ResidentRecord> {
        let pin = self.pre(op, Some(serial), pins.pin(PinId::Juki))?;
        self.operator_card_present(op, Some(serial))?;
        self.pre(
            op,
            Some(serial),
            card.read_resident_at_counter(cred, serial, &pin),
        )
    }

    /// Runs `change` in a transaction and rolls it back: would the registry accept it?
    fn dry_run(&mut self, change: &RegistryChange<'_>) -> Result<()> {
        match self
            .db
            .transaction(|tx| -> std::result::Result<(), DryRun> {
                change(tx).map_err(DryRun::Refused)?;
                Err(DryRun::RolledBack)
            }) {
            Ok(()) | Err(DryRun::RolledBack) => Ok(()),
            Err(DryRun::Refused(e)) => Err(e),
        }
    }

    /// Steps 2–4 of the module documentation: dry run, journal, card step, registry and record.
    fn journaled<R, E: Into<CounterError>>(
        &mut self,
        op: Operation,
        serial: &str,
        detail: &str,
        change: &RegistryChange<'_>,
        card_step: impl FnOnce() -> std::result::Result<R, E>,
    ) -> Result<(R, AuditRecord)> {
        if let Err(e) = self.dry_run(change) {
            return Err(self.refuse(op, Some(serial), e));
        }
        // The operator's card must still be the one they logged in with, before the card step
        // (a refusal: nothing done) …
        self.operator_card_present(op, Some(serial))?;
        let id = self.db.journal().begin(&PendingOperation {
            actor: self.actor(),
            card_serial: Some(serial),
            operation: op,
            detail,
        })?;
        let value = match card_step().map_err(Into::into) {
            Ok(value) => value,
            Err(e) => {
                if let Some(outcome) = outcome_of(&e) {
                    // The card said no (or failed): nothing is recorded as done. If even this
                    // record cannot be written, the row stays pending and is reported.
                    let _ = self
                        .db
                        .transaction(|tx| tx.journal().complete(id, &outcome, ""));
                }
                return Err(e);
            }
        };
        // … and before the record: the card step was done, but an operator who left may not
        // complete it; the operation stays unfinished (pending), for a clerk to close.
        self.operator_card_present(op, Some(serial))?;
        let record = self
            .db
            .transaction(|tx| -> Result<AuditRecord> {
                let extra = change(tx)?;
                tx.journal().complete(id, &Outcome::Ok, &extra)
            })
            .map_err(|e| {
                Error::InvalidInput(format!(
                    "the card step was done, but its record could not be written ({e}); \
                     operation {id} stays unfinished: see juki counter pending"
                ))
            })?;
        Ok((value, record))
    }
}
