//! `juki counter …`: the municipal counter's commands, on top of [`juki_counter`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::pin_input::PinPrompter;
use juki_counter::audit::AuditHead;
use juki_counter::journal::PendingId;
use juki_counter::ops::{Done, IssuePreview, IssueRequest, JpkiRevocation, UpdateRequest};
use juki_counter::registry::{CardRecord, TerminateReason};
use juki_counter::{session, CounterDb, Session};
use juki_host::authority::{self, CounterCredential};
use juki_host::date;
use juki_host::pin::PinId;
use juki_host::pin::PinRules;
use juki_host::resident::{MunicipalityCode, Sex};
use juki_host::resident_code::ResidentCode;
use juki_host::Error;
use juki_jpki::ca::{JpkiCa, RevocationReason};
use juki_jpki::time as jpki_time;

use crate::failure::{Failure, Result};
use juki_counter::CounterError;

use crate::cli::{
    AuditCommand, CounterCommand, OperatorCommand, PendingCommand, PinArg, TerminateArg,
};
use crate::commands::{confirm, open_card, print_card_info, print_four_info, Card};

impl From<TerminateArg> for TerminateReason {
    fn from(r: TerminateArg) -> TerminateReason {
        match r {
            TerminateArg::Returned => TerminateReason::Returned,
            TerminateArg::Death => TerminateReason::Death,
            TerminateArg::Expired => TerminateReason::Expired,
        }
    }
}

/// Lists the unfinished operations on standard error.
fn report_unfinished(db: &CounterDb) -> Result<()> {
    for e in db.journal().unfinished()? {
        eprintln!(
            "juki: UNFINISHED operation {e} (未完了の処理): check the card (juki status), then \
             close it: juki counter pending resolve {} --note \"…\" --operator OP",
            e.id.value()
        );
    }
    Ok(())
}

/// Asks the operator's password (the first secret) and logs in.
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

/// Logs in at the municipality this counter's records belong to.
fn login_bound(db: CounterDb, operator: &str, pins: &mut PinPrompter) -> Result<Session> {
    let municipality = session::bound_municipality(&db)?;
    login(db, &municipality, operator, pins)
}

/// Loads the credential and logs in at its municipality.
fn login_with(
    db: CounterDb,
    credential: &Path,
    operator: &str,
    ca: Option<&Path>,
    pins: &mut PinPrompter,
    serving: Option<&str>,
) -> Result<(Session, CounterCredential)> {
    let cred = CounterCredential::load(credential)?;
    let session = connect_ca(login(db, &cred.municipality, operator, pins)?, ca)?.serving(serving);
    Ok((session, cred))
}

/// Connects the session to the JPKI CA in `ca`, if given.
fn connect_ca(session: Session, ca: Option<&Path>) -> Result<Session> {
    Ok(match ca {
        Some(dir) => session.with_ca(JpkiCa::open(dir)?),
        None => session,
    })
}

/// Tells the clerk what became of the card's JPKI certificates.
fn print_jpki(jpki: Option<&JpkiRevocation>) {
    match jpki {
        Some(j @ JpkiRevocation::Pending(_)) => eprintln!("juki: WARNING: {}", j.describe()),
        Some(j) => println!("{}", j.describe()),
        None => {}
    }
}

/// Opens the card in `reader` and runs `op` on it; after a failed operation, says which
/// operations are left unfinished.
fn on_card<R, E: Into<Failure>>(
    session: &mut Session,
    reader: Option<&str>,
    op: impl FnOnce(&mut Session, &mut Card) -> std::result::Result<R, E>,
) -> Result<R> {
    let mut card = open_card(reader, false)?;
    let r = op(session, &mut card).map_err(Into::into);
    if r.is_err() {
        let _ = report_unfinished(session.db());
    }
    r
}

/// `card SERIAL WHAT; registry: …; audit record #N`, after a lifecycle operation.
fn print_done(d: &Done, what: &str) {
    println!(
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

/// Runs `juki counter …`.
pub fn run(
    reader: Option<&str>,
    dir: Option<PathBuf>,
    ca: Option<PathBuf>,
    card: Option<&str>,
    command: CounterCommand,
) -> Result<()> {
    // Most counter commands authenticate to the card: the generator table is built on the
    // other core meanwhile (database, operator's password).
    juki_host::generator::warm_up();
    let dir = session::counter_dir(dir.as_deref());
    let ca = ca.as_deref();
    let db = CounterDb::open(&dir)?;
    report_unfinished(&db)?;
    let mut pins = PinPrompter::from_stdin();
    match command {
        CounterCommand::Audit { command } => audit(&db, command),
        CounterCommand::Pending { command: None } => {
            let open_ops = db.journal().unfinished()?;
            if open_ops.is_empty() {
                println!("no unfinished operations (未完了の処理はありません)");
            }
            for e in open_ops {
                println!("{e}");
            }
            Ok(())
        }
        CounterCommand::Pending {
            command:
                Some(PendingCommand::Resolve {
                    id,
                    note,
                    credential,
                    operator,
                }),
        } => {
            let s = login_bound(db, &operator, &mut pins)?;
            let cred = credential
                .as_deref()
                .map(CounterCredential::load)
                .transpose()?;
            let mut card = match &cred {
                Some(_) => open_card(reader, false).ok(),
                None => None,
            };
            let mut s = connect_ca(s, ca)?;
            let check = card.as_mut().zip(cred.as_ref());
            let resolved = s.resolve(PendingId::from_value(id), &note, check)?;
            println!(
                "operation {} ({}) closed: {} (audit record #{})",
                resolved.entry.id, resolved.entry.operation, resolved.outcome, resolved.record.seq
            );
            print_jpki(resolved.jpki.as_ref());
            Ok(())
        }
        CounterCommand::Operator {
            command:
                OperatorCommand::Add {
                    name,
                    operator,
                    credential,
                    supervisor,
                },
        } => operator_add(
            db,
            &name,
            operator.as_deref(),
            credential.as_deref(),
            supervisor,
            &mut pins,
        ),
        CounterCommand::Operator {
            command: OperatorCommand::Unlock { name, operator },
        } => {
            let s = login_bound(db, &operator, &mut pins)?;
            s.unlock_operator(&name)?;
            println!("operator {name} unlocked by {operator} (操作者のロックを解除しました)");
            Ok(())
        }
        CounterCommand::Identify {
            credential,
            operator,
        } => {
            let (mut s, cred) = login_with(db, &credential, &operator, None, &mut pins, card)?;
            let id = on_card(&mut s, reader, |s, card| s.identify(card, &cred, &mut pins))?;
            println!("本人確認できました (identified with the 住基 PIN)");
            println!("住民票コード (resident code):  {}", id.resident.code);
            print_four_info(&id.resident.info);
            print_card_info(&id.card);
            println!(
                "有効性 (validity):             valid until {} (有効)",
                date::display(id.card.expires)
            );
            println!(
                "台帳 (registry):               {}",
                registry_line(id.registry.as_ref())
            );
            Ok(())
        }
        CounterCommand::Issue {
            credential,
            operator,
            name,
            address,
            birth,
            sex,
            photo,
            serial,
            representative,
            stay_until,
            resident_code,
        } => {
            let req = IssueRequest {
                name,
                address,
                birth: date::parse_user_date(&birth)?,
                sex: Sex::parse(&sex)?,
                photo,
                serial,
                representative,
                stay_until: stay_until
                    .as_deref()
                    .map(date::parse_user_date)
                    .transpose()?,
                resident_code: resident_code
                    .as_deref()
                    .map(|c| {
                        ResidentCode::parse(c)
                            .map_err(|e| Error::InvalidInput(format!("--resident-code {c}: {e}")))
                    })
                    .transpose()?,
            };
            let (mut s, cred) = login_with(db, &credential, &operator, ca, &mut pins, card)?;
            let interactive = pins.is_terminal() && std::io::stderr().is_terminal();
            let mut confirm_preview = |p: &IssuePreview| -> juki_counter::Result<bool> {
                print_preview(p);
                if interactive {
                    Ok(confirm("Issue this card?")?)
                } else {
                    Ok(true)
                }
            };
            let issued = on_card(&mut s, reader, |s, card| {
                s.issue(card, &cred, &req, &mut pins, &mut confirm_preview)
            })?;
            println!(
                "card {} issued by {} {} (交付しました); signing key fingerprint {}; audit record #{}",
                issued.preview.card.serial,
                cred.municipality,
                cred.name,
                hex::encode(
                    &Sha256::digest(authority::sec1_uncompressed(&issued.keys.sign))[..8]
                ),
                issued.record.seq
            );
            Ok(())
        }
        CounterCommand::JpkiIssue {
            credential,
            operator,
        } => {
            let (mut s, cred) = login_with(db, &credential, &operator, ca, &mut pins, card)?;
            let j = on_card(&mut s, reader, |s, card| {
                s.jpki_issue(card, &cred, &mut pins)
            })?;
            for r in [&j.sign, &j.auth] {
                println!(
                    "{}: serial {}, valid {} – {}",
                    r.kind,
                    r.serial,
                    jpki_time::display(r.not_before),
                    jpki_time::display(r.not_after)
                );
            }
            for r in &j.superseded {
                println!(
                    "earlier {} {} revoked (superseded)",
                    r.kind.as_str(),
                    r.serial
                );
            }
            println!(
                "card {}: JPKI certificates issued and written to the card (電子証明書を発行しました); \
                 keys generated on the card; audit record #{}",
                j.card.serial, j.record.seq
            );
            Ok(())
        }
        CounterCommand::JpkiRevoke { operator } => {
            // Decided on the serial the clerk names (the card need not be present), never on a
            // plain read of whatever card a reader presents.
            let serial = card.map(str::to_string).ok_or_else(|| {
                Error::InvalidInput(
                    "give the card's serial with --card SERIAL (the card need not be present)"
                        .into(),
                )
            })?;
            let mut s = connect_ca(login_bound(db, &operator, &mut pins)?, ca)?;
            let revoked = s.jpki_revoke(&serial, RevocationReason::Requested)?;
            print_jpki(Some(&JpkiRevocation::Revoked(revoked)));
            println!("card {serial}: 電子証明書の失効 recorded in the audit trail");
            Ok(())
        }
        CounterCommand::ResetPin {
            credential,
            operator,
            pin,
        } => {
            let (mut s, cred) = login_with(db, &credential, &operator, ca, &mut pins, card)?;
            let kind: PinId = PinArg::into(pin);
            let done = on_card(&mut s, reader, |s, card| {
                s.reset_pin(card, &cred, kind, &mut pins)
            })?;
            println!(
                "{}: reset with full tries (パスワードを再設定しました); card {}; audit record #{}",
                kind.label(),
                done.card.serial,
                done.record.seq
            );
            Ok(())
        }
        CounterCommand::Update {
            credential,
            operator,
            address,
            name,
            reason,
            date: when,
        } => {
            let req = UpdateRequest {
                address,
                name,
                reason,
                date: when.as_deref().map(date::parse_user_date).transpose()?,
            };
            let (mut s, cred) = login_with(db, &credential, &operator, ca, &mut pins, card)?;
            let u = on_card(&mut s, reader, |s, card| {
                s.update(card, &cred, &req, &mut pins)
            })?;
            if u.registered_here {
                println!(
                    "card {} issued by {} registered in this counter's registry (他市区町村交付のカード)",
                    u.card.serial, u.card.municipality
                );
            }
            print_four_info(&u.info);
            for (label, change) in [
                ("氏名の変更 (name changed)", &u.changes.name),
                ("住所の変更 (address changed)", &u.changes.address),
            ] {
                if let Some(c) = change {
                    println!("{label}: {} {}", date::display(c.date), c.reason);
                }
            }
            println!(
                "card {} updated (記載事項を変更しました); audit record #{}",
                u.card.serial, u.record.seq
            );
            print_jpki(Some(&u.jpki));
            Ok(())
        }
        CounterCommand::ChangeCode {
            credential,
            operator,
        } => {
            let (mut s, cred) = login_with(db, &credential, &operator, ca, &mut pins, card)?;
            let c = on_card(&mut s, reader, |s, card| s.change_code(card, &cred))?;
            println!("住民票コードを変更しました (resident code changed)");
            println!("new resident code (新しい住民票コード): {}", c.new_code);
            println!(
                "card {} terminated (code-changed): it carries the old code. A new card is \
                 needed: juki counter issue --resident-code {} … (audit record #{})",
                c.card.serial, c.new_code, c.record.seq
            );
            print_jpki(Some(&c.jpki));
            Ok(())
        }
        CounterCommand::Suspend {
            credential,
            operator,
            reason,
        } => {
            let (mut s, cred) = login_with(db, &credential, &operator, ca, &mut pins, card)?;
            let d = on_card(&mut s, reader, |s, card| {
                s.suspend(card, &cred, reason.as_deref())
            })?;
            print_done(&d, "suspended (一時停止しました)");
            Ok(())
        }
        CounterCommand::Resume {
            credential,
            operator,
        } => {
            let (mut s, cred) = login_with(db, &credential, &operator, ca, &mut pins, card)?;
            let d = on_card(&mut s, reader, |s, card| s.resume(card, &cred))?;
            print_done(&d, "resumed (一時停止を解除しました)");
            Ok(())
        }
        CounterCommand::Terminate {
            credential,
            operator,
            reason,
            without_card,
        } => {
            let (mut s, cred) = login_with(db, &credential, &operator, ca, &mut pins, card)?;
            if let Some(serial) = without_card {
                let d = s.terminate_without_card(&serial, reason.into())?;
                print_done(
                    &d,
                    "terminated in the registry without the card (カードなしで廃止を記録しました): \
                     the card itself was not changed",
                );
                return Ok(());
            }
            let d = on_card(&mut s, reader, |s, card| {
                s.terminate(card, &cred, reason.into())
            })?;
            print_done(
                &d,
                "terminated (廃止しました): keys, PINs and personal data erased",
            );
            Ok(())
        }
    }
}

fn print_preview(p: &IssuePreview) {
    println!(
        "住民票コード (resident code, {}): {}",
        if p.new_resident {
            "generated"
        } else {
            "registered resident"
        },
        p.code
    );
    print_four_info(&p.info);
    print_card_info(&p.card);
    if let Some(rep) = &p.representative {
        println!("法定代理人 (legal representative): {rep}");
    }
    let _ = std::io::stdout().flush();
}

fn operator_add(
    db: CounterDb,
    name: &str,
    operator: Option<&str>,
    credential: Option<&Path>,
    supervisor: bool,
    pins: &mut PinPrompter,
) -> Result<()> {
    let first = db.operators().list()?.is_empty();
    let cred_municipality = credential
        .map(|c| CounterCredential::load(c).map(|cred| cred.municipality))
        .transpose()?;
    if first {
        if operator.is_some() {
            return Err(Error::InvalidInput(
                "this counter has no operators yet: the first one is added without --operator"
                    .into(),
            )
            .into());
        }
        let municipality = match (cred_municipality, session::municipality(&db)?) {
            (Some(m), _) | (None, Some(m)) => m,
            (None, None) => {
                return Err(Error::InvalidInput(
                    "a new counter: give the municipality's counter credential (--credential \
                     DIR) with its first operator"
                        .into(),
                )
                .into())
            }
        };
        let password = pins.ask_new_secret(&format!(
            "New password of operator {name} (新しい操作者パスワード): "
        ))?;
        session::add_first_operator(&db, &municipality, name, &password)?;
        println!(
            "operator {name} registered as the first operator and supervisor (監督者) of the \
             counter of {municipality} (操作者を登録しました)"
        );
        return Ok(());
    }
    let Some(operator) = operator else {
        return Err(Error::InvalidInput(
            "a new operator is added by a logged-in operator: give --operator OP".into(),
        )
        .into());
    };
    let municipality = match cred_municipality {
        Some(m) => m,
        None => session::bound_municipality(&db)?,
    };
    let s = login(db, &municipality, operator, pins)?;
    let password = pins.ask_new_secret(&format!(
        "New password of operator {name} (新しい操作者パスワード): "
    ))?;
    s.add_operator_with_role(name, &password, supervisor)?;
    println!(
        "operator {name} registered{} by {operator} (操作者を登録しました)",
        if supervisor {
            " as a supervisor (監督者)"
        } else {
            ""
        }
    );
    Ok(())
}

fn audit(db: &CounterDb, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify { head } => {
            let report = match head {
                Some(h) => db.audit().verify_anchor(&AuditHead::parse(&h)?)?,
                None => db.audit().verify()?,
            };
            println!("head: {}", report.head);
            match report.fault {
                None => {
                    println!(
                        "{} records checked: the audit trail is intact (監査記録に異常はありません)",
                        report.checked
                    );
                    Ok(())
                }
                Some(fault) => Err(CounterError::AuditTrail(format!(
                    "{fault} ({} records checked before it)",
                    report.checked
                ))
                .into()),
            }
        }
        AuditCommand::Show { card } => {
            match db.registry().card(&card)? {
                Some(r) => {
                    println!(
                        "card {} of resident {}, issued by {} on {}, valid until {}: {}",
                        r.serial,
                        r.resident_code,
                        r.issuing_municipality,
                        date::display(r.issued),
                        date::display(r.expires),
                        registry_line(Some(&r))
                    );
                    for h in db.registry().state_history(&card)? {
                        println!(
                            "  {} {} → {}: {}",
                            h.at,
                            h.from.map(|s| s.as_str()).unwrap_or("-"),
                            h.to,
                            h.reason
                        );
                    }
                }
                None => println!("card {card}: {}", registry_line(None)),
            }
            let records = db.audit().show(&card)?;
            if records.is_empty() {
                println!("no audit records for card {card}");
            }
            for r in records {
                println!("{r}");
            }
            Ok(())
        }
    }
}
