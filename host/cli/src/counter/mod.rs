//! The municipal counter's commands (`juki counter …`), on top of [`juki_counter`]: one function
//! per subcommand, in [`card_ops`] (the operations on a resident's card) and [`records`]
//! (operators, the audit trail, unfinished operations). This module holds what they share: the
//! counter's desk (its records, the reader, the CA) and the operator's login.

mod card_ops;
mod records;

use std::path::{Path, PathBuf};

use juki_counter::ops::{Done, JpkiRevocation};
use juki_counter::registry::{CardRecord, TerminateReason};
use juki_counter::{session, CounterDb, Session};
use juki_host::authority::CounterCredential;
use juki_host::date;
use juki_host::resident::MunicipalityCode;
use juki_jpki::ca::JpkiCa;

use crate::args::{Clerk, CounterCommand, OperatorCommand, PendingCommand, TerminateArg};
use crate::card_access::{open_card, Card};
use crate::failure::{Failure, Result};
use crate::pin_input::PinPrompter;
use crate::{note, out};

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
}

/// The counter's desk before anyone logs in: its records, the reader, the CA, the card being
/// served, and the PIN pad.
struct Desk<'a> {
    reader: Option<&'a str>,
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
    juki_host::generator::warm_up();
    let dir = session::counter_dir(options.dir.as_deref());
    let db = CounterDb::open(&dir)?;
    report_unfinished(&db)?;
    let desk = Desk {
        reader: options.reader,
        ca: options.ca.as_deref(),
        serving: options.card,
        db,
        pins: PinPrompter::from_stdin(),
    };
    match command {
        CounterCommand::Audit { command } => records::audit(&desk.db, command),
        CounterCommand::Pending { command: None } => records::pending_list(&desk.db),
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
                },
        } => records::operator_add(
            desk,
            &name,
            operator.as_deref(),
            credential.as_deref(),
            supervisor,
        ),
        CounterCommand::Operator {
            command: OperatorCommand::Unlock { name, operator },
        } => records::operator_unlock(desk, &name, &operator),
        CounterCommand::Identify(clerk) => card_ops::identify(desk.clerk(&clerk, false)?),
        CounterCommand::Issue(a) => card_ops::issue(desk.clerk(&a.clerk, true)?, a),
        CounterCommand::JpkiIssue(clerk) => card_ops::jpki_issue(desk.clerk(&clerk, true)?),
        CounterCommand::JpkiRevoke { operator } => card_ops::jpki_revoke(desk, &operator),
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

/// Asks the operator's password (the first secret) and logs in at `municipality`.
fn login(
    db: CounterDb,
    municipality: &MunicipalityCode,
    operator: &str,
    pins: &mut PinPrompter,
) -> Result<Session> {
    let today = date::today()?;
    let password = pins.ask_secret(&format!(
        "Password of operator {operator} (操作者のパスワード): "
    ))?;
    Ok(Session::login(
        db,
        municipality,
        operator,
        &password,
        today,
    )?)
}

impl<'a> Desk<'a> {
    /// Logs in at the municipality this counter's records belong to.
    fn login_bound(mut self, operator: &str) -> Result<(Session, PinPrompter)> {
        let municipality = session::bound_municipality(&self.db)?;
        let s = login(self.db, &municipality, operator, &mut self.pins)?;
        Ok((s, self.pins))
    }

    /// Loads the clerk's credential and logs in at its municipality, for the card being served;
    /// connected to the CA when `with_ca` and `--ca` is given.
    fn clerk(mut self, clerk: &Clerk, with_ca: bool) -> Result<Clerked<'a>> {
        let cred = CounterCredential::load(&clerk.credential)?;
        let session = login(self.db, &cred.municipality, &clerk.operator, &mut self.pins)?;
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
            "juki: UNFINISHED operation {e} (未完了の処理): check the card (juki status), then \
             close it: juki counter pending resolve {} --note \"…\" --operator OP",
            e.id.value()
        );
    }
    Ok(())
}

/// Tells the clerk what became of the card's JPKI certificates.
fn print_jpki(jpki: Option<&JpkiRevocation>) {
    match jpki {
        Some(j @ JpkiRevocation::Pending(_)) => note!("juki: WARNING: {}", j.describe()),
        Some(j) => out!("{}", j.describe()),
        None => {}
    }
}

/// `card SERIAL WHAT; registry: …; audit record #N`, after a lifecycle operation.
fn print_done(d: &Done, what: &str) {
    out!(
        "card {} {what}; registry: {}; audit record #{}",
        d.card.serial,
        registry_line(d.registry.as_ref()),
        d.record.seq
    );
    print_jpki(d.jpki.as_ref());
}
fn registry_line(record: Option<&CardRecord>) -> String {
    match record {
        None => "not in this counter's registry (この窓口の台帳にありません)".into(),
        Some(r) => {
            let mut line = format!("{}", r.state);
            if let Some(t) = r.terminate_reason {
                line.push_str(&format!(" ({} {})", t.as_str(), t.japanese()));
            }
            if r.jpki_revocation_needed {
                line.push_str("; JPKI certificates to be revoked (電子証明書の失効が必要)");
            }
            if let Some(rep) = &r.legal_representative {
                line.push_str(&format!("; legal representative (法定代理人) {rep}"));
            }
            line
        }
    }
}
