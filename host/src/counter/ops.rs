//! The counter's operations on a resident's card (窓口業務), end to end: host-side checks, the
//! card step through the typed card API, the registry and the audit trail.
//!
//! Every operation runs on a logged-in [`Session`] and follows the same steps:
//!
//! 1. **Host checks, before the card is touched**: the counter credential is within its validity
//!    on the session's today ([`crate::date::today`]); the card's state (life cycle status byte of
//!    the FCI) allows the operation; the card is not expired (住基 EF 0004: the card has no clock;
//!    only termination is possible on an expired card); the registry agrees with the card and
//!    would accept the change (a *dry run* of the registry change, rolled back). A refusal here
//!    is audited (`refused`) and nothing changes.
//! 2. [`super::journal::Journal::begin`] commits a pending row.
//! 3. **The card step**, inside one exclusive card transaction that first checks that the card
//!    on the reader is still the one inspected in step 1 ([`JukiCard::expect_serial`]). If the
//!    card refuses (a status word) the operation is completed as `refused`, any other failure of
//!    the card as `failed`, and the registry is unchanged. If the card's answer is lost (reader or
//!    transport error) the operation stays *pending*: the card may or may not have done it, and a
//!    clerk checks the card and closes it (`juki counter pending resolve`).
//! 4. **One database transaction**: the registry change and
//!    [`super::journal::Journal::complete`] (the audit record). If the process dies between 3
//!    and 4, the pending row is reported at the next start.

use super::audit::{AuditEntry, AuditRecord};
use super::journal::{JournalEntry, PendingId, PendingOperation};
use super::registry::{CardRecord, CardState, Change, NewCard, TerminateReason, Transition};
use super::session::Session;
use super::{CounterError, Operation, Outcome, Tx};
use crate::authority::CounterCredential;
use crate::card::{lifecycle_text, IssuedKeys, JukiCard, Lifecycle, Personalisation};
use crate::date::{self, Date};
use crate::error::{Error, Result};
use crate::pin::PinKind;
use crate::pin_input::PinPrompter;
use crate::resident::{self, CardInfo, ChangeInfo, FourInfo, ResidentRecord, Sex};
use crate::resident_code::ResidentCode;
use crate::transport::Transport;

/// Below this age (at issue) a card is issued through a legal representative (法定代理人).
pub const REPRESENTATIVE_BELOW_AGE: u32 = 15;

/// What [`Session::issue`] needs besides the PINs (asked through the [`PinPrompter`]).
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// 氏名.
    pub name: String,
    /// 住所.
    pub address: String,
    /// 生年月日.
    pub birth: Date,
    /// 性別.
    pub sex: Sex,
    /// 顔写真付き.
    pub photo: bool,
    /// Card serial (default: generated).
    pub serial: Option<String>,
    /// Legal representative (法定代理人): required under [`REPRESENTATIVE_BELOW_AGE`].
    pub representative: Option<String>,
    /// End of the period of stay (在留期間の満了日) of a foreign resident: the card expires then
    /// if that is earlier than ten years.
    pub stay_until: Option<Date>,
    /// A registered resident's 住民票コード (a new card after a change of code, a loss, or
    /// termination); default: a new resident with a new random code.
    pub resident_code: Option<ResidentCode>,
}

/// What is about to be issued (shown to the clerk before the resident enters the PINs).
#[derive(Debug, Clone)]
pub struct IssuePreview {
    /// The 住民票コード to write (generated, or the registered resident's).
    pub code: ResidentCode,
    /// Whether the code is new (a new resident).
    pub new_resident: bool,
    /// The 4 info.
    pub info: FourInfo,
    /// The card information (serial, municipality, dates, photo).
    pub card: CardInfo,
    /// The legal representative, if any.
    pub representative: Option<String>,
}

/// A card issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// What was written.
    pub preview: IssuePreview,
    /// The public keys generated on the card.
    pub keys: IssuedKeys,
    /// The audit record.
    pub record: AuditRecord,
}

/// A resident identified with the card (本人確認).
#[derive(Debug, Clone)]
pub struct Identified {
    /// The card information.
    pub card: CardInfo,
    /// What the 住基 PIN opened.
    pub resident: ResidentRecord,
    /// The card in this counter's registry, if it is there.
    pub registry: Option<CardRecord>,
    /// The audit record.
    pub record: AuditRecord,
}

/// What [`Session::update`] writes.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The new address (転入, 転居).
    pub address: Option<String>,
    /// The new name (氏名変更).
    pub name: Option<String>,
    /// The reason (転入, 転居, 婚姻, …).
    pub reason: String,
    /// The date of the change (default: today).
    pub date: Option<Date>,
}

/// A card updated.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The card information.
    pub card: CardInfo,
    /// The 4 info now on the card.
    pub info: FourInfo,
    /// The change information now on the card.
    pub changes: ChangeInfo,
    /// The card was issued elsewhere and was registered here from its data.
    pub registered_here: bool,
    /// The audit record.
    pub record: AuditRecord,
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
}

/// A resident code changed.
#[derive(Debug, Clone)]
pub struct CodeChanged {
    /// The old card (now terminated).
    pub card: CardInfo,
    /// The old code.
    pub old_code: ResidentCode,
    /// The new code.
    pub new_code: ResidentCode,
    /// The audit record.
    pub record: AuditRecord,
}

/// How an unfinished operation was closed.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The operation as it was found.
    pub entry: JournalEntry,
    /// What was recorded.
    pub outcome: Outcome,
    /// The audit record.
    pub record: AuditRecord,
}

/// The card as inspected before an operation.
struct Inspected {
    info: CardInfo,
    record: Option<CardRecord>,
}

/// How a failure is recorded: `None` when the card's answer was lost (reader or transport), so
/// nobody knows whether the card did it.
fn outcome_of(e: &Error) -> Option<Outcome> {
    if e.status_word().is_some() {
        return Some(Outcome::Refused(e.to_string()));
    }
    match e {
        Error::InvalidInput(_)
        | Error::CardExpired { .. }
        | Error::WrongCardState { .. }
        | Error::CredentialNotValid { .. }
        | Error::Counter(_) => Some(Outcome::Refused(e.to_string())),
        Error::Pcsc(_)
        | Error::Sim(_)
        | Error::NoCard { .. }
        | Error::NoCardInAnyReader { .. }
        | Error::NoReader
        | Error::ReaderNotFound { .. }
        | Error::Io { .. } => None,
        _ => Some(Outcome::Failed(e.to_string())),
    }
}

/// What a registry state means on the card.
fn lifecycle_of(state: CardState) -> Lifecycle {
    match state {
        CardState::Initialised => Lifecycle::Initialised,
        CardState::Issued => Lifecycle::Issued,
        CardState::Suspended => Lifecycle::Suspended,
        CardState::Terminated => Lifecycle::Terminated,
    }
}

/// Marker error of a registry dry run (rolled back on purpose).
enum DryRun {
    RolledBack,
    Refused(Error),
}

impl From<CounterError> for DryRun {
    fn from(e: CounterError) -> DryRun {
        DryRun::Refused(e.into())
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
    fn refuse(&self, op: Operation, serial: Option<&str>, e: Error) -> Error {
        let outcome = outcome_of(&e).unwrap_or_else(|| Outcome::Failed(e.to_string()));
        match self.db.audit().append(&AuditEntry {
            actor: self.actor(),
            card_serial: serial,
            operation: op,
            outcome,
            detail: "",
        }) {
            Ok(_) => e,
            Err(audit) => Error::Counter(audit),
        }
    }

    /// Runs a step before the card step; a failure is audited.
    fn pre<R>(&self, op: Operation, serial: Option<&str>, r: Result<R>) -> Result<R> {
        r.map_err(|e| self.refuse(op, serial, e))
    }

    /// The credential must be this counter's and valid today.
    fn check_credential(&self, cred: &CounterCredential) -> Result<()> {
        if cred.municipality != self.municipality {
            return Err(Error::InvalidInput(format!(
                "the credential is for municipality {} but this counter belongs to {}",
                cred.municipality, self.municipality
            )));
        }
        let when = if self.today > cred.expiry {
            format!("expired on {}", date::display(cred.expiry))
        } else if self.today < cred.effective {
            format!("is valid only from {}", date::display(cred.effective))
        } else {
            return Ok(());
        };
        Err(Error::CredentialNotValid {
            municipality: cred.municipality.to_string(),
            name: cred.name.clone(),
            when,
        })
    }

    /// Reads the card's state and card information and checks them against the operation.
    fn inspect<T: Transport>(
        &self,
        card: &mut JukiCard<T>,
        op: Operation,
        allowed: &[Lifecycle],
        allow_expired: bool,
    ) -> Result<Inspected> {
        let state = self.pre(op, None, card.lifecycle())?;
        // The card information is readable in every state but blank (and is empty before issue).
        let info = match state {
            Lifecycle::Blank | Lifecycle::Initialised => None,
            _ => Some(self.pre(op, None, card.card_info())?),
        };
        let serial = info.as_ref().map(|i| i.serial.clone());
        let serial = serial.as_deref();
        let check = || -> Result<Inspected> {
            if !allowed.contains(&state) {
                return Err(match (state, op) {
                    (Lifecycle::Terminated, _) => Error::CardTerminated,
                    (Lifecycle::Blank | Lifecycle::Initialised, _) => Error::WrongCardState {
                        state: lifecycle_text(state).into(),
                        operation: op.as_str(),
                        hint: "the card was never issued",
                    },
                    (Lifecycle::Issued, Operation::Resume) => Error::WrongCardState {
                        state: lifecycle_text(state).into(),
                        operation: op.as_str(),
                        hint: "only a suspended card can be resumed",
                    },
                    (Lifecycle::Suspended, Operation::Suspend) => Error::WrongCardState {
                        state: lifecycle_text(state).into(),
                        operation: op.as_str(),
                        hint: "it is already suspended",
                    },
                    _ => Error::WrongCardState {
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
                });
            }
            let record = self.db.registry().card(&info.serial)?;
            if let Some(r) = &record {
                if lifecycle_of(r.state) != state {
                    return Err(Error::InvalidInput(format!(
                        "the registry says card {} is {}, but the card is {}: an \
                         operation on it was not finished; see juki counter pending",
                        r.serial,
                        r.state,
                        lifecycle_text(state)
                    )));
                }
            }
            Ok(Inspected { info, record })
        };
        self.pre(op, serial, check())
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
    fn journaled<R>(
        &mut self,
        op: Operation,
        serial: &str,
        detail: &str,
        change: &RegistryChange<'_>,
        card_step: impl FnOnce() -> Result<R>,
    ) -> Result<(R, AuditRecord)> {
        if let Err(e) = self.dry_run(change) {
            return Err(self.refuse(op, Some(serial), e));
        }
        let id = self.db.journal().begin(&PendingOperation {
            actor: self.actor(),
            card_serial: Some(serial),
            operation: op,
            detail,
        })?;
        let value = match card_step() {
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
        let record = self
            .db
            .transaction(|tx| -> Result<AuditRecord> {
                let extra = change(tx)?;
                Ok(tx.journal().complete(id, &Outcome::Ok, &extra)?)
            })
            .map_err(|e| {
                Error::InvalidInput(format!(
                    "the card step was done, but its record could not be written ({e}); \
                     operation {id} stays unfinished: see juki counter pending"
                ))
            })?;
        Ok((value, record))
    }

    /// 交付: personalises an initialised card and registers it. The resident enters the 住基
    /// PIN, the auth PIN and the sign password through `pins` (after `confirm` accepted the
    /// preview).
    pub fn issue<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        req: &IssueRequest,
        pins: &mut PinPrompter,
        confirm: &mut dyn FnMut(&IssuePreview) -> Result<bool>,
    ) -> Result<Issued> {
        let op = Operation::Issue;
        self.pre(op, None, self.check_credential(cred))?;
        let state = self.pre(op, req.serial.as_deref(), card.lifecycle())?;
        if state != Lifecycle::Initialised {
            let e = match state {
                Lifecycle::Terminated => Error::CardTerminated,
                _ => Error::WrongCardState {
                    state: lifecycle_text(state).into(),
                    operation: op.as_str(),
                    hint: "only an initialised card can be issued",
                },
            };
            return Err(self.refuse(op, req.serial.as_deref(), e));
        }
        let preview = self.pre(op, req.serial.as_deref(), self.issue_preview(req))?;
        let serial = preview.card.serial.clone();
        if !self.pre(op, Some(&serial), confirm(&preview))? {
            return Err(self.refuse(
                op,
                Some(&serial),
                Error::InvalidInput("cancelled; nothing was written".into()),
            ));
        }
        let birth = preview.info.birth_mmdd();
        let asked = (|| -> Result<_> {
            let juki = pins.ask_new(PinKind::Juki, Some(&birth))?;
            let auth = pins.ask_new(PinKind::Auth, Some(&birth))?;
            let sign = pins.ask_new(PinKind::Sign, None)?;
            Ok((juki, auth, sign))
        })();
        let (juki_pin, auth_pin, sign_pin) = self.pre(op, Some(&serial), asked)?;
        let p = Personalisation {
            code: preview.code.clone(),
            info: preview.info.clone(),
            changes: ChangeInfo::default(),
            card: preview.card.clone(),
            juki_pin,
            auth_pin,
            sign_pin,
        };
        let mut detail = format!(
            "{} resident; valid until {}",
            if preview.new_resident {
                "new"
            } else {
                "registered"
            },
            date::display(preview.card.expires)
        );
        if let Some(rep) = &preview.representative {
            detail.push_str(&format!("; legal representative (法定代理人): {rep}"));
        }
        let municipality = self.municipality.clone();
        let change = |tx: &Tx<'_>| -> Result<String> {
            tx.registry().register_card(
                &NewCard {
                    serial: &serial,
                    resident_code: &preview.code,
                    resident_name: &preview.info.name,
                    issuing_municipality: &municipality,
                    issued: preview.card.issued,
                    expires: preview.card.expires,
                    legal_representative: preview.representative.as_deref(),
                },
                CardState::Issued,
            )?;
            Ok(String::new())
        };
        let (keys, record) =
            self.journaled(op, &serial, &detail, &change, || card.personalise(cred, &p))?;
        Ok(Issued {
            preview,
            keys,
            record,
        })
    }

    /// Checks an issue request against the rules and the registry and says what would be
    /// written.
    fn issue_preview(&self, req: &IssueRequest) -> Result<IssuePreview> {
        let info = FourInfo::new(&req.name, &req.address, req.birth, req.sex)?;
        if req.birth > self.today {
            return Err(Error::InvalidInput(format!(
                "the date of birth {} is after today ({})",
                date::display(req.birth),
                date::display(self.today)
            )));
        }
        let representative = match req.representative.as_deref().map(str::trim) {
            Some("") => {
                return Err(Error::InvalidInput(
                    "the legal representative's name is empty".into(),
                ))
            }
            other => other.map(str::to_string),
        };
        let age = date::age_on(req.birth, self.today);
        if age < REPRESENTATIVE_BELOW_AGE && representative.is_none() {
            return Err(Error::InvalidInput(format!(
                "the resident is {age}, under {REPRESENTATIVE_BELOW_AGE} (15歳未満): the card is \
                 applied for and received through a legal representative (法定代理人); give \
                 --representative NAME"
            )));
        }
        let registry = self.db.registry();
        let serial = match &req.serial {
            Some(s) => {
                if registry.card(s)?.is_some() {
                    return Err(CounterError::DuplicateCard(s.clone()).into());
                }
                s.clone()
            }
            None => loop {
                let s = format!("JK{}", &ResidentCode::generate().as_str()[..10]);
                if registry.card(&s)?.is_none() {
                    break s;
                }
            },
        };
        let mut card = CardInfo::new(&serial, self.municipality.clone(), self.today, req.photo)?;
        if let Some(stay) = req.stay_until {
            if stay <= self.today {
                return Err(Error::InvalidInput(format!(
                    "the period of stay ends on {}, not after today ({}): no card can be issued",
                    date::display(stay),
                    date::display(self.today)
                )));
            }
            card.expires = card.expires.min(stay);
        }
        let (code, new_resident) = match &req.resident_code {
            Some(code) => {
                let resident = registry
                    .resident(code)?
                    .ok_or_else(|| CounterError::UnknownResident(code.to_string()))?;
                if resident.name != info.name {
                    return Err(CounterError::NameMismatch {
                        code: code.to_string(),
                    }
                    .into());
                }
                (code.clone(), false)
            }
            None => loop {
                let code = ResidentCode::generate();
                if registry.current_code(&code)?.is_none() {
                    break (code, true);
                }
            },
        };
        Ok(IssuePreview {
            code,
            new_resident,
            info,
            card,
            representative,
        })
    }

    /// 本人確認: the resident enters the 住基 PIN; answers the 4 info, the code and the card
    /// information. No counter credential is needed (the PIN opens the files).
    pub fn identify<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        pins: &mut PinPrompter,
    ) -> Result<Identified> {
        let op = Operation::Identify;
        let ins = self.inspect(card, op, &[Lifecycle::Issued], false)?;
        let serial = ins.info.serial.clone();
        let pin = self.pre(op, Some(&serial), pins.ask(PinKind::Juki))?;
        let no_change = |_: &Tx<'_>| Ok(String::new());
        let (resident, record) = self.journaled(
            op,
            &serial,
            "本人確認 with the 住基 PIN",
            &no_change,
            || {
                card.exclusive(|c| {
                    c.expect_serial(&serial)?;
                    c.read_resident(&pin)
                })
            },
        )?;
        Ok(Identified {
            card: ins.info,
            resident,
            registry: ins.record,
            record,
        })
    }

    /// パスワード再設定: a new PIN with full tries, locked or not (issued or suspended card).
    pub fn reset_pin<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        kind: PinKind,
        pins: &mut PinPrompter,
    ) -> Result<Done> {
        let op = Operation::ResetPin;
        self.pre(op, None, self.check_credential(cred))?;
        let allowed = [Lifecycle::Issued, Lifecycle::Suspended];
        let ins = self.inspect(card, op, &allowed, false)?;
        let serial = ins.info.serial.clone();
        let new = self.pre(op, Some(&serial), pins.ask_new(kind, None))?;
        let known = ins.record.is_some();
        let note = |_: &Tx<'_>| Ok(if known { "" } else { NOT_REGISTERED }.to_string());
        let detail = format!("{} reset with full tries", kind.cli_name());
        let ((), record) = self.journaled(op, &serial, &detail, &note, || {
            card.exclusive(|c| {
                c.expect_serial(&serial)?;
                c.reset_pin(cred, kind, &new)
            })
        })?;
        Ok(Done {
            registry: self.db.registry().card(&serial)?,
            card: ins.info,
            record,
        })
    }

    /// 記載事項変更 / 継続利用: writes a new address and/or name and the change information to
    /// the card (the resident enters the 住基 PIN so that the rest of the 4 info can be kept),
    /// records the change and that the JPKI certificates must be revoked. A card unknown to this
    /// registry (issued by another municipality) is registered from its data first, in the same
    /// record.
    pub fn update<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        req: &UpdateRequest,
        pins: &mut PinPrompter,
    ) -> Result<Updated> {
        let op = Operation::Update;
        self.pre(op, None, self.check_credential(cred))?;
        let checked = (|| -> Result<Date> {
            if req.address.is_none() && req.name.is_none() {
                return Err(Error::InvalidInput(
                    "nothing to change: give --address and/or --name".into(),
                ));
            }
            if req.reason.trim().is_empty() {
                return Err(Error::InvalidInput(
                    "give the reason of the change (--reason 転入, 転居, 婚姻, …)".into(),
                ));
            }
            let when = req.date.unwrap_or(self.today);
            if when > self.today {
                return Err(Error::InvalidInput(format!(
                    "the change date {} is after today",
                    date::display(when)
                )));
            }
            Ok(when)
        })();
        let when = self.pre(op, None, checked)?;
        let ins = self.inspect(card, op, &[Lifecycle::Issued], false)?;
        let serial = ins.info.serial.clone();
        let pin = self.pre(op, Some(&serial), pins.ask(PinKind::Juki))?;
        let current = self.pre(
            op,
            Some(&serial),
            card.exclusive(|c| {
                c.expect_serial(&serial)?;
                c.read_resident(&pin)
            }),
        )?;
        drop(pin);
        let built = (|| -> Result<(FourInfo, ChangeInfo)> {
            let info = FourInfo::new(
                req.name.as_deref().unwrap_or(&current.info.name),
                req.address.as_deref().unwrap_or(&current.info.address),
                current.info.birth,
                current.info.sex,
            )?;
            let mut changes = current.changes.clone();
            let change = resident::Change {
                date: when,
                reason: req.reason.trim().to_string(),
            };
            if req.address.is_some() {
                changes.address = Some(change.clone());
            }
            if req.name.is_some() {
                changes.name = Some(change);
            }
            changes.encode()?;
            info.encode()?;
            Ok((info, changes))
        })();
        let (info, changes) = self.pre(op, Some(&serial), built)?;

        let registered_here = ins.record.is_none();
        let municipality = self.municipality.clone();
        let card_info = ins.info.clone();
        let reason = req.reason.trim().to_string();
        let new_name = req.name.clone();
        let has_address = req.address.is_some();
        let change = |tx: &Tx<'_>| -> Result<String> {
            let mut extra = Vec::new();
            if registered_here {
                tx.registry().register_card(
                    &NewCard {
                        serial: &card_info.serial,
                        resident_code: &current.code,
                        resident_name: &current.info.name,
                        issuing_municipality: &card_info.municipality,
                        issued: card_info.issued,
                        expires: card_info.expires,
                        legal_representative: None,
                    },
                    CardState::Issued,
                )?;
                extra.push(format!(
                    "card issued by {} on {} registered here from its card data",
                    card_info.municipality,
                    date::display(card_info.issued)
                ));
            }
            if has_address {
                tx.registry().record_update(
                    &card_info.serial,
                    Change::Address,
                    when,
                    &reason,
                    &municipality,
                )?;
            }
            if let Some(name) = &new_name {
                tx.registry().record_update(
                    &card_info.serial,
                    Change::Name { new_name: name },
                    when,
                    &reason,
                    &municipality,
                )?;
            }
            extra.push("JPKI certificates to be revoked".into());
            Ok(extra.join("; "))
        };
        let what = match (has_address, new_name.is_some()) {
            (true, true) => "address and name",
            (true, false) => "address",
            _ => "name",
        };
        let detail = format!("{what} change ({reason}) dated {}", date::display(when));
        let ((), record) = self.journaled(op, &serial, &detail, &change, || {
            card.exclusive(|c| {
                c.expect_serial(&serial)?;
                c.update_resident(cred, &info, &changes)
            })
        })?;
        Ok(Updated {
            card: ins.info,
            info,
            changes,
            registered_here,
            record,
        })
    }

    /// 住民票コードの変更: a new random code for the card's holder; the card (carrying the old
    /// code) is terminated with reason `code-changed`, and the registry shows that the resident
    /// needs a new card.
    pub fn change_code<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
    ) -> Result<CodeChanged> {
        let op = Operation::ChangeCode;
        self.pre(op, None, self.check_credential(cred))?;
        let allowed = [Lifecycle::Issued, Lifecycle::Suspended];
        let ins = self.inspect(card, op, &allowed, false)?;
        let serial = ins.info.serial.clone();
        let found = ins.record.clone().ok_or_else(|| {
            Error::InvalidInput(format!(
                "card {serial} (issued by {}) is not in this counter's registry: a resident who \
                 moved in is registered by juki counter update (転入) first",
                ins.info.municipality
            ))
        });
        let record = self.pre(op, Some(&serial), found)?;
        let old_code = record.resident_code.clone();
        let new_code = loop {
            let code = ResidentCode::generate();
            if self.db.registry().current_code(&code)?.is_none() {
                break code;
            }
        };
        let change = |tx: &Tx<'_>| -> Result<String> {
            tx.registry()
                .change_resident_code(&old_code, &new_code, "住民票コードの変更")?;
            tx.registry().change_state(
                &serial,
                Transition::Terminate(TerminateReason::CodeChanged),
                "住民票コードの変更: the card carries the old code",
            )?;
            Ok("card terminated (code-changed); a new card is needed".into())
        };
        // The new code goes into the journal, so that a clerk can finish the change if the
        // process dies after the card was terminated ([`Session::resolve`]).
        let detail = format!("住民票コードの変更 at the resident's request; {NEW_CODE}{new_code}");
        let ((), record) = self.journaled(op, &serial, &detail, &change, || {
            card.exclusive(|c| {
                c.expect_serial(&serial)?;
                c.terminate(cred)
            })
        })?;
        Ok(CodeChanged {
            card: ins.info,
            old_code,
            new_code,
            record,
        })
    }

    /// One of the lifecycle operations: suspend, resume, terminate.
    fn lifecycle_op<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        op: Operation,
        transition: Transition,
        reason: &str,
    ) -> Result<Done> {
        self.pre(op, None, self.check_credential(cred))?;
        let (allowed, allow_expired): (&[Lifecycle], bool) = match transition {
            Transition::Suspend => (&[Lifecycle::Issued], false),
            Transition::Resume => (&[Lifecycle::Suspended], false),
            Transition::Terminate(_) => (&[Lifecycle::Issued, Lifecycle::Suspended], true),
            Transition::Issue => (&[Lifecycle::Initialised], false),
        };
        let ins = self.inspect(card, op, allowed, allow_expired)?;
        let serial = ins.info.serial.clone();
        let known = ins.record.is_some();
        let change = |tx: &Tx<'_>| -> Result<String> {
            if known {
                tx.registry().change_state(&serial, transition, reason)?;
                Ok(String::new())
            } else {
                Ok(NOT_REGISTERED.into())
            }
        };
        let ((), record) = self.journaled(op, &serial, reason, &change, || {
            card.exclusive(|c| {
                c.expect_serial(&serial)?;
                match transition {
                    Transition::Suspend => c.suspend(cred),
                    Transition::Resume => c.resume(cred),
                    _ => c.terminate(cred),
                }
            })
        })?;
        Ok(Done {
            registry: self.db.registry().card(&serial)?,
            card: ins.info,
            record,
        })
    }

    /// 一時停止 (e.g. reported lost or stolen).
    pub fn suspend<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        reason: Option<&str>,
    ) -> Result<Done> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        self.lifecycle_op(
            card,
            cred,
            Operation::Suspend,
            Transition::Suspend,
            reason.unwrap_or("一時停止"),
        )
    }

    /// 一時停止の解除.
    pub fn resume<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
    ) -> Result<Done> {
        self.lifecycle_op(
            card,
            cred,
            Operation::Resume,
            Transition::Resume,
            "一時停止の解除",
        )
    }

    /// 返納・廃止 (returned, death, expired): irreversible. Possible on an expired card.
    pub fn terminate<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        reason: TerminateReason,
    ) -> Result<Done> {
        if reason == TerminateReason::CodeChanged {
            return Err(Error::InvalidInput(
                "a card is terminated for a change of resident code by juki counter change-code"
                    .into(),
            ));
        }
        let text = format!("{} ({})", reason.as_str(), reason.japanese());
        self.lifecycle_op(
            card,
            cred,
            Operation::Terminate,
            Transition::Terminate(reason),
            &text,
        )
    }

    /// Closes an unfinished operation after a clerk checked the card, with the clerk's `note`.
    ///
    /// When `card` is given and is the operation's card, and the operation changes the card's
    /// state (suspend, resume, terminate, change-code), the card's state decides: reached → `ok`
    /// and the registry is brought in line (for a change of code, with the new code noted in the
    /// journal); not reached → `failed`. Otherwise juki cannot tell, and the
    /// operation is closed as `failed` (not confirmed) with the note: redo it if it is needed.
    pub fn resolve<T: Transport>(
        &mut self,
        id: PendingId,
        note: &str,
        card: Option<&mut JukiCard<T>>,
    ) -> Result<Resolved> {
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
        if let (Some(card), Some(serial), Some(_)) =
            (card, entry.card_serial.as_deref(), transition)
        {
            if card.card_info().ok().is_some_and(|i| i.serial == serial) {
                seen = card.lifecycle().ok();
            }
        }
        let (outcome, correction) = match (transition, seen) {
            (Some(t), Some(state)) if state == lifecycle_of(t.target()) => (Outcome::Ok, Some(t)),
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
        let record = self.db.transaction(|tx| -> Result<AuditRecord> {
            if let (Some(t), Some(serial)) = (correction, serial.as_deref()) {
                if let Some(r) = tx.registry().card(serial)? {
                    if let Some(new) = &new_code {
                        if r.resident_code != *new {
                            tx.registry().change_resident_code(
                                &r.resident_code,
                                new,
                                "住民票コードの変更",
                            )?;
                        }
                    }
                    if r.state != t.target() && t.allowed_from(r.state) {
                        tx.registry()
                            .change_state(serial, t, &format!("resolved: {note}"))?;
                    }
                }
            }
            Ok(tx.journal().resolve(
                id,
                &super::Actor {
                    municipality: &actor_municipality,
                    operator: &operator,
                },
                &outcome,
                note,
            )?)
        })?;
        Ok(Resolved {
            entry,
            outcome,
            record,
        })
    }
}
