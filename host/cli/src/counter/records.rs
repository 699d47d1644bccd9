//! The counter's own records: its operators (`juki counter operator …`), the audit trail
//! (`audit …`) and the unfinished operations (`pending …`).

use std::path::Path;

use juki_counter::audit::AuditHead;
use juki_counter::journal::PendingId;
use juki_counter::{session, CounterDb, CounterError};
use juki_host::authority::CounterCredential;
use juki_host::date;
use juki_host::Error;

use super::{connect_ca, login, print_jpki, registry_line, Desk};
use crate::args::AuditCommand;
use crate::card_access::open_card;
use crate::failure::Result;
use crate::out;

/// `juki counter operator add`: the first operator (the supervisor, 監督者) of a new counter
/// with the municipality's credential, later ones by a logged-in operator.
pub(super) fn operator_add(
    desk: Desk<'_>,
    name: &str,
    operator: Option<&str>,
    credential: Option<&Path>,
    supervisor: bool,
) -> Result<()> {
    let Desk { db, mut pins, .. } = desk;
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
        out!(
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
    let s = login(db, &municipality, operator, &mut pins)?;
    let password = pins.ask_new_secret(&format!(
        "New password of operator {name} (新しい操作者パスワード): "
    ))?;
    s.add_operator_with_role(name, &password, supervisor)?;
    out!(
        "operator {name} registered{} by {operator} (操作者を登録しました)",
        if supervisor {
            " as a supervisor (監督者)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `juki counter operator unlock` (ロック解除), by a logged-in supervisor.
pub(super) fn operator_unlock(desk: Desk<'_>, name: &str, operator: &str) -> Result<()> {
    let (s, _) = desk.login_bound(operator)?;
    s.unlock_operator(name)?;
    out!("operator {name} unlocked by {operator} (操作者のロックを解除しました)");
    Ok(())
}

/// `juki counter pending`: the unfinished operations.
pub(super) fn pending_list(db: &CounterDb) -> Result<()> {
    let open_ops = db.journal().unfinished()?;
    if open_ops.is_empty() {
        out!("no unfinished operations (未完了の処理はありません)");
    }
    for e in open_ops {
        out!("{e}");
    }
    Ok(())
}

/// `juki counter pending resolve`: closes an unfinished operation, after asking the card in the
/// reader when the credential is given.
pub(super) fn pending_resolve(
    desk: Desk<'_>,
    id: i64,
    note: &str,
    credential: Option<&Path>,
    operator: &str,
) -> Result<()> {
    let (reader, ca) = (desk.reader, desk.ca);
    let (s, _) = desk.login_bound(operator)?;
    let cred = credential.map(CounterCredential::load).transpose()?;
    let mut card = match &cred {
        Some(_) => open_card(reader, false).ok(),
        None => None,
    };
    let mut s = connect_ca(s, ca)?;
    let check = card.as_mut().zip(cred.as_ref());
    let resolved = s.resolve(PendingId::from_value(id), note, check)?;
    out!(
        "operation {} ({}) closed: {} (audit record #{})",
        resolved.entry.id,
        resolved.entry.operation,
        resolved.outcome,
        resolved.record.seq
    );
    print_jpki(resolved.jpki.as_ref());
    Ok(())
}

/// `juki counter audit verify` and `audit show`.
pub(super) fn audit(db: &CounterDb, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify { head } => {
            let report = match head {
                Some(h) => db.audit().verify_anchor(&AuditHead::parse(&h)?)?,
                None => db.audit().verify()?,
            };
            out!("head: {}", report.head);
            match report.fault {
                None => {
                    out!(
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
                    out!(
                        "card {} of resident {}, issued by {} on {}, valid until {}: {}",
                        r.serial,
                        r.resident_code,
                        r.issuing_municipality,
                        date::display(r.issued),
                        date::display(r.expires),
                        registry_line(Some(&r))
                    );
                    for h in db.registry().state_history(&card)? {
                        out!(
                            "  {} {} → {}: {}",
                            h.at,
                            h.from.map(|s| s.as_str()).unwrap_or("-"),
                            h.to,
                            h.reason
                        );
                    }
                }
                None => out!("card {card}: {}", registry_line(None)),
            }
            let records = db.audit().show(&card)?;
            if records.is_empty() {
                out!("no audit records for card {card}");
            }
            for r in records {
                out!("{r}");
            }
            Ok(())
        }
    }
}
