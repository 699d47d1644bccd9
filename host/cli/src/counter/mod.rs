//! The municipal counter's commands (`juki counter …`), on top of [`juki_counter`]: one function
//! per subcommand, in `card_ops` (the operations on a resident's card) and `records`
//! (operators, the audit trail, unfinished operations). This module holds what they share: the
//! counter's desk (its records, the reader, the CA) and the operator's login.

mod card_ops;
mod net;
mod records;

use std::path::{Path, PathBuf};

use juki_counter::audit::AuditRecord;
use juki_counter::ops::{Done, JpkiRevocation};
use juki_counter::registry::{CardRecord, CardState, TerminateReason};
use juki_counter::{session, CounterDb, Operation, Outcome, Role, Session};
use juki_host::authority::CounterCredential;
use juki_host::date;
use juki_host::resident::MunicipalityCode;
use juki_jpki::ca::JpkiCa;

use crate::args::{
    Clerk, CounterCommand, CounterNetCommand, OperatorCommand, PendingCommand, RoleArg,
    TerminateArg,
};
use crate::card_access::{open_card, Card, HeldCard};
use crate::failure::{Failure, Result};
use crate::output::{cert_name, field};
use crate::pin_input::PinPrompter;
use crate::{note, out, t};

impl From<TerminateArg> for TerminateReason {
    fn from(r: TerminateArg) -> TerminateReason {
        match r {
            TerminateArg::Returned => TerminateReason::Returned,
            TerminateArg::Death => TerminateReason::Death,
            TerminateArg::Expired => TerminateReason::Expired,
        }
    }
}

/// The options of `juki counter` itself, before the subcommand.
pub struct CounterOptions<'a> {
    /// `--reader`.
    pub reader: Option<&'a str>,
    /// `--counter-dir`.
    pub dir: Option<PathBuf>,
    /// `--ca`.
    pub ca: Option<PathBuf>,
    /// `--card`: the serial of the card the clerk is serving.
    pub card: Option<&'a str>,
    /// `--operator-reader`: where the operator's own card stays.
    pub operator_reader: &'a str,
}

/// The counter's desk before anyone logs in: its records, the reader, the CA, the card being
/// served, and the PIN pad.
struct Desk<'a> {
    reader: Option<&'a str>,
    operator_reader: &'a str,
    ca: Option<&'a Path>,
    serving: Option<&'a str>,
    db: CounterDb,
    pins: PinPrompter,
}

/// An operator logged in with the municipality's counter credential, ready to work on a card.
struct Clerked<'a> {
    session: Session,
    cred: CounterCredential,
    pins: PinPrompter,
    reader: Option<&'a str>,
}

/// Runs `juki counter …`.
pub fn run(options: CounterOptions<'_>, command: CounterCommand) -> Result<()> {
    // Most counter commands authenticate to the card: the generator table is built on the
    // other core meanwhile (database, operator's password).
    let dir = session::counter_dir(options.dir.as_deref());
    let db = CounterDb::open(&dir)?;
    report_unfinished(&db)?;
    let desk = Desk {
        reader: options.reader,
        operator_reader: options.operator_reader,
        ca: options.ca.as_deref(),
        serving: options.card,
        db,
        pins: PinPrompter::from_stdin(),
    };
    match command {
        CounterCommand::Audit {
            command,
            operator,
            credential,
        } => {
            let db = desk.gate(
                Operation::AuditRead,
                operator.as_deref(),
                credential.as_deref(),
            )?;
            records::audit(db, command)
        }
        CounterCommand::Pending { command: None } => records::pending_list(&desk.db),
        CounterCommand::MoveOut {
            resident_code,
            to,
            date,
            operator,
            credential,
        } => net::move_out(
            desk,
            &resident_code,
            &to,
            date,
            &operator,
            credential.as_deref(),
        ),
        CounterCommand::Net {
            command: CounterNetCommand::Status,
        } => net::status(&desk.db),
        CounterCommand::Net {
            command: CounterNetCommand::Head,
        } => net::head(&desk.db),
        CounterCommand::Net {
            command:
                CounterNetCommand::Retry {
                    note,
                    operator,
                    credential,
                },
        } => net::retry(desk, &note, &operator, credential.as_deref()),
        CounterCommand::Net {
            command:
                CounterNetCommand::Sync {
                    node,
                    server,
                    operator,
                    credential,
                },
        } => {
            let db = desk.gate(
                Operation::NetSync,
                operator.as_deref(),
                credential.as_deref(),
            )?;
            net::sync(db, &node, &server)
        }
        CounterCommand::Pending {
            command:
                Some(PendingCommand::Resolve {
                    id,
                    note,
                    credential,
                    operator,
                }),
        } => records::pending_resolve(desk, id, &note, credential.as_deref(), &operator),
        CounterCommand::Operator {
            command:
                OperatorCommand::Add {
                    name,
                    operator,
                    credential,
                    supervisor,
                    role,
                },
        } => records::operator_add(
            desk,
            &name,
            operator.as_deref(),
            credential.as_deref(),
            match (role, supervisor) {
                (Some(r), _) => r.into(),
                (None, true) => Role::Supervisor,
                (None, false) => Role::Clerk,
            },
        ),
        CounterCommand::Operator {
            command:
                OperatorCommand::Unlock {
                    name,
                    operator,
                    credential,
                },
        } => records::operator_unlock(desk, &name, &operator, credential.as_deref()),
        CounterCommand::Operator {
            command:
                OperatorCommand::Card {
                    name,
                    operator,
                    credential,
                    remove,
                },
        } => records::operator_card(desk, &name, &operator, credential.as_deref(), remove),
        CounterCommand::Operator {
            command:
                OperatorCommand::Role {
                    name,
                    role,
                    operator,
                    credential,
                },
        } => records::operator_role(desk, &name, role.into(), &operator, credential.as_deref()),
        CounterCommand::Identify(clerk) => card_ops::identify(desk.clerk(&clerk, false)?),
        CounterCommand::Copy {
            clerk,
            node,
            server,
            out,
        } => net::wide_area_copy(desk.clerk(&clerk, false)?, &node, &server, &out),
        CounterCommand::Issue(a) => card_ops::issue(desk.clerk(&a.clerk, true)?, a),
        CounterCommand::JpkiIssue(clerk) => card_ops::jpki_issue(desk.clerk(&clerk, true)?),
        CounterCommand::JpkiRevoke {
            operator,
            credential,
        } => card_ops::jpki_revoke(desk, &operator, credential.as_deref()),
        CounterCommand::ResetPin { clerk, pin } => {
            card_ops::reset_pin(desk.clerk(&clerk, true)?, pin.into())
        }
        CounterCommand::Update(a) => card_ops::update(desk.clerk(&a.clerk, true)?, a),
        CounterCommand::ChangeCode(clerk) => card_ops::change_code(desk.clerk(&clerk, true)?),
        CounterCommand::Suspend { clerk, reason } => {
            card_ops::suspend(desk.clerk(&clerk, true)?, reason.as_deref())
        }
        CounterCommand::Resume(clerk) => card_ops::resume(desk.clerk(&clerk, true)?),
        CounterCommand::Terminate {
            clerk,
            reason,
            without_card,
        } => card_ops::terminate(
            desk.clerk(&clerk, true)?,
            reason.into(),
            without_card.as_deref(),
        ),
    }
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Clerk => Role::Clerk,
            RoleArg::Supervisor => Role::Supervisor,
            RoleArg::Auditor => Role::Auditor,
        }
    }
}

/// Asks the operator's password (the first secret) and logs in at `municipality`; for an
/// operator with an operator card, then connects to the card in `operator_reader` (it stays
/// connected for the whole command) and asks its PIN ([`Session::login_with_card`]).
fn login(
    db: CounterDb,
    municipality: &MunicipalityCode,
    operator: &str,
    pins: &mut PinPrompter,
    cred: Option<&CounterCredential>,
    operator_reader: &str,
) -> Result<Session> {
    let today = date::today()?;
    let password = pins.ask_secret(&t!("counter-operator-password", operator = operator))?;
    let mut connect = || -> juki_host::Result<Box<dyn session::OperatorCard>> {
        Ok(Box::new(HeldCard::open(operator_reader)?))
    };
    let mut pin = || {
        pins.ask_secret(&t!(
            "counter-operator-card-pin",
            operator = operator,
            reader = operator_reader
        ))
    };
    Ok(Session::login_with_card(
        db,
        municipality,
        operator,
        &password,
        today,
        Some(session::CardLogin {
            cred,
            connect: &mut connect,
            pin: &mut pin,
        }),
    )?)
}

impl<'a> Desk<'a> {
    /// Logs in at the municipality this counter's records belong to (with the credential
    /// `credential`, needed by an operator with an operator card).
    fn login_bound(
        mut self,
        operator: &str,
        credential: Option<&Path>,
    ) -> Result<(Session, PinPrompter)> {
        let municipality = session::bound_municipality(&self.db)?;
        let cred = credential.map(CounterCredential::load).transpose()?;
        let s = login(
            self.db,
            &municipality,
            operator,
            &mut self.pins,
            cred.as_ref(),
            self.operator_reader,
        )?;
        Ok((s, self.pins))
    }

    /// For the commands that read the records without a login (audit, net sync): once this
    /// counter requires operator cards, or when `--operator` is given, the operator logs in
    /// (password, card, PIN) and their role must allow `op`.
    fn gate(
        self,
        op: Operation,
        operator: Option<&str>,
        credential: Option<&Path>,
    ) -> Result<CounterDb> {
        let operator = match operator {
            Some(o) => o,
            None if session::operator_cards_required(&self.db)? => {
                return Err(Failure::Cli(t!("counter-login-required")))
            }
            None => return Ok(self.db),
        };
        let (s, _) = self.login_bound(operator, credential)?;
        s.authorize(op)?;
        Ok(s.into_db())
    }

    /// Loads the clerk's credential and logs in at its municipality, for the card being served;
    /// connected to the CA when `with_ca` and `--ca` is given.
    fn clerk(mut self, clerk: &Clerk, with_ca: bool) -> Result<Clerked<'a>> {
        let cred = CounterCredential::load(&clerk.credential)?;
        let session = login(
            self.db,
            &cred.municipality,
            &clerk.operator,
            &mut self.pins,
            Some(&cred),
            self.operator_reader,
        )?;
        let session = if with_ca {
            connect_ca(session, self.ca)?
        } else {
            session
        };
        Ok(Clerked {
            session: session.serving(self.serving),
            cred,
            pins: self.pins,
            reader: self.reader,
        })
    }
}

impl Clerked<'_> {
    /// Opens the card in the reader and runs `op` on it; after a failed operation, says which
    /// operations are left unfinished.
    fn on_card<R, E: Into<Failure>>(
        &mut self,
        op: impl FnOnce(
            &mut Session,
            &mut Card,
            &CounterCredential,
            &mut PinPrompter,
        ) -> std::result::Result<R, E>,
    ) -> Result<R> {
        let mut card = open_card(self.reader, false)?;
        let r = op(&mut self.session, &mut card, &self.cred, &mut self.pins).map_err(Into::into);
        if r.is_err() {
            let _ = report_unfinished(self.session.db());
        }
        r
    }
}

/// Connects the session to the JPKI CA in `ca`, if given.
fn connect_ca(session: Session, ca: Option<&Path>) -> Result<Session> {
    Ok(match ca {
        Some(dir) => session.with_ca(JpkiCa::open(dir)?),
        None => session,
    })
}

/// Lists the unfinished operations on standard error.
fn report_unfinished(db: &CounterDb) -> Result<()> {
    for e in db.journal().unfinished()? {
        note!(
            "juki: {}",
            t!(
                "counter-unfinished",
                entry = e.to_string(),
                id = e.id.value()
            )
        );
    }
    Ok(())
}

/// Tells the clerk what became of the card's JPKI certificates.
fn print_jpki(jpki: Option<&JpkiRevocation>) {
    match jpki {
        Some(j @ JpkiRevocation::Pending(_)) => {
            note!("juki: {}", t!("counter-warning", what = revocation_text(j)))
        }
        Some(j) => out!("{}", revocation_text(j)),
        None => {}
    }
}

/// What was done to the card, its registry state and the audit record, after a lifecycle
/// operation.
fn print_done(d: &Done, what: String) {
    out!("{what}");
    field(&t!("label-registry"), registry_line(d.registry.as_ref()));
    field(&t!("label-audit-record"), format_args!("#{}", d.record.seq));
    print_jpki(d.jpki.as_ref());
}
/// A card's state in the registry, with what is pending on it.
fn registry_line(record: Option<&CardRecord>) -> String {
    let Some(r) = record else {
        return t!("counter-registry-none");
    };
    let mut line = card_state(r.state);
    if let Some(reason) = r.terminate_reason {
        line.push_str(&t!(
            "counter-registry-reason",
            reason = terminate_reason(reason)
        ));
    }
    if r.jpki_revocation_needed {
        line.push_str(&t!("counter-registry-revocation-needed"));
    }
    if let Some(rep) = &r.legal_representative {
        line.push_str(&t!("counter-registry-representative", name = rep.as_str()));
    }
    line
}

/// A card's state in the registry, in words.
fn card_state(state: CardState) -> String {
    match state {
        CardState::Initialised => t!("lifecycle-initialised"),
        CardState::Issued => t!("lifecycle-issued"),
        CardState::Suspended => t!("lifecycle-suspended"),
        CardState::Terminated => t!("lifecycle-terminated"),
    }
}

/// A role, in words (the stored name in English; 窓口担当（clerk） in Japanese).
pub(crate) fn role_label(role: Role) -> String {
    match role {
        Role::Clerk => t!("role-clerk"),
        Role::Supervisor => t!("role-supervisor"),
        Role::Auditor => t!("role-auditor"),
    }
}

/// An operation by its stored name, in words (`counter-op-NAME`; the name itself if unknown).
pub(crate) fn operation_label(op: &str) -> String {
    let id = format!("counter-op-{op}");
    if crate::i18n::has(crate::i18n::lang(), &id) {
        crate::i18n::text(&id, None)
    } else {
        op.to_string()
    }
}

/// A refusal's or failure's stored reason, in words: a role refusal
/// ([`juki_counter::roles::parse_refusal`]) in the language in use, any other as stored.
fn reason_label(reason: &str) -> String {
    match juki_counter::roles::parse_refusal(reason) {
        Some((role, op)) => t!(
            "counter-audit-role-refused",
            role = role_label(role),
            operation = operation_label(op.as_str())
        ),
        None => reason.to_string(),
    }
}

/// One audit record as the counter's staff read it (`audit show`): the stored record, its
/// words in the language in use (in English exactly as [`AuditRecord`]'s `Display`).
pub(crate) fn audit_line(r: &AuditRecord) -> String {
    let outcome = match &r.outcome {
        Outcome::Ok => t!("counter-audit-ok"),
        Outcome::Refused(why) => t!("counter-audit-refused", reason = reason_label(why)),
        Outcome::Failed(why) => t!("counter-audit-failed", reason = reason_label(why)),
    };
    let line = t!(
        "counter-audit-record",
        seq = r.seq.to_string(),
        time = r.time.as_str(),
        municipality = r.municipality.as_str(),
        operator = r.operator.as_str(),
        operation = operation_label(&r.operation),
        card = r.card_serial.as_deref().unwrap_or("-"),
        outcome = outcome
    );
    if r.detail.is_empty() {
        line
    } else {
        format!("{line} ({})", r.detail)
    }
}

/// Why a card was terminated, in words.
fn terminate_reason(reason: TerminateReason) -> String {
    match reason {
        TerminateReason::Returned => t!("terminate-returned"),
        TerminateReason::Death => t!("terminate-death"),
        TerminateReason::Expired => t!("terminate-expired"),
        TerminateReason::CodeChanged => t!("terminate-code-changed"),
    }
}

/// What became of the card's JPKI certificates, in words.
fn revocation_text(jpki: &JpkiRevocation) -> String {
    match jpki {
        JpkiRevocation::Revoked(list) if list.is_empty() => t!("counter-jpki-none-to-revoke"),
        JpkiRevocation::Revoked(list) => t!(
            "counter-jpki-revoked",
            certificates = list
                .iter()
                .map(|r| format!("{} {}", cert_name(r.kind), r.serial))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        JpkiRevocation::Pending(why) => t!("counter-jpki-pending", why = why.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use crate::i18n::{has, text_in, Lang};

    /// Every operation and role has its words in both catalogs, the English ones the stored
    /// names (so that an English audit line reads as stored).
    #[test]
    fn every_operation_and_role_has_words() {
        for op in juki_counter::Operation::ALL {
            let id = format!("counter-op-{op}");
            assert!(has(Lang::Ja, &id) && has(Lang::En, &id), "{id}");
            assert_eq!(text_in(Lang::En, &id, None), op.as_str());
            assert!(text_in(Lang::Ja, &id, None).contains(op.as_str()));
        }
        for role in juki_counter::Role::ALL {
            let id = format!("role-{role}");
            assert_eq!(text_in(Lang::En, &id, None), role.as_str());
            assert!(text_in(Lang::Ja, &id, None).contains(role.as_str()));
        }
    }
}
