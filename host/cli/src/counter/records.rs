//! The counter's own records: its operators (`juki counter operator …`), the audit trail
//! (`audit …`) and the unfinished operations (`pending …`).

use std::path::Path;

use juki_counter::journal::PendingId;
use juki_counter::log_watch::{self, LogCheck};
use juki_counter::{session, CounterDb, CounterError, Operation, Role};
use juki_host::authority::CounterCredential;
use juki_host::date;

use super::{card_state, connect_ca, login, print_jpki, registry_line, Desk};
use crate::args::AuditCommand;
use crate::card_access::open_card;
use crate::failure::{Failure, Result};
use crate::output::field;
use crate::{out, t};

/// `juki counter operator add`: the first operator (the supervisor, 監督者) of a new counter
/// with the municipality's credential, later ones by a logged-in operator.
pub(super) fn operator_add(
    desk: Desk<'_>,
    name: &str,
    operator: Option<&str>,
    credential: Option<&Path>,
    role: Role,
) -> Result<()> {
    let Desk {
        db,
        mut pins,
        operator_reader,
        ..
    } = desk;
    let first = db.operators().list()?.is_empty();
    let cred = credential.map(CounterCredential::load).transpose()?;
    let cred_municipality = cred.as_ref().map(|c| c.municipality.clone());
    if first {
        if operator.is_some() {
            return Err(Failure::Cli(t!("counter-first-operator-alone")));
        }
        let municipality = match (cred_municipality, session::municipality(&db)?) {
            (Some(m), _) | (None, Some(m)) => m,
            (None, None) => return Err(Failure::Cli(t!("counter-first-operator-credential"))),
        };
        let password = pins.ask_new_secret(&t!("counter-new-operator-password", name = name))?;
        session::add_first_operator(&db, &municipality, name, &password)?;
        out!(
            "{}",
            t!(
                "counter-first-operator-added",
                name = name,
                municipality = municipality.to_string()
            )
        );
        return Ok(());
    }
    let Some(operator) = operator else {
        return Err(Failure::Cli(t!("counter-operator-needs-login")));
    };
    let municipality = match cred_municipality {
        Some(m) => m,
        None => session::bound_municipality(&db)?,
    };
    let s = login(
        db,
        &municipality,
        operator,
        &mut pins,
        cred.as_ref(),
        operator_reader,
    )?;
    // The role first: a refused operator is not asked the new one's password.
    s.authorize(Operation::OperatorAdd)?;
    let password = pins.ask_new_secret(&t!("counter-new-operator-password", name = name))?;
    s.add_operator_as(name, &password, role)?;
    out!(
        "{}",
        match role {
            Role::Supervisor => t!("counter-supervisor-added", name = name, operator = operator),
            Role::Clerk => t!("counter-operator-added", name = name, operator = operator),
            Role::Auditor => t!("counter-auditor-added", name = name, operator = operator),
        }
    );
    Ok(())
}

/// `juki counter operator card` (操作者カード): a logged-in supervisor registers the card in the
/// desk reader as `name`'s operator card, or with `remove` removes `name`'s lost or returned
/// one.
pub(super) fn operator_card(
    desk: Desk<'_>,
    name: &str,
    operator: &str,
    credential: Option<&Path>,
    remove: bool,
) -> Result<()> {
    let reader = desk.reader;
    let cred = credential.map(CounterCredential::load).transpose()?;
    if cred.is_none() && !remove {
        return Err(Failure::Cli(t!("counter-operator-card-needs-credential")));
    }
    let (s, _) = desk.login_bound(operator, credential)?;
    let done = match cred {
        Some(cred) if !remove => {
            s.authorize(Operation::OperatorCard)?;
            let mut card = open_card(reader, false)?;
            let serial = s.register_operator_card(&cred, name, &mut card)?.serial;
            t!(
                "counter-operator-card-registered",
                name = name,
                serial = serial,
                operator = operator
            )
        }
        _ => {
            let serial = s.remove_operator_card(name)?.serial;
            t!(
                "counter-operator-card-removed",
                name = name,
                serial = serial,
                operator = operator
            )
        }
    };
    out!("{done}");
    Ok(())
}

/// `juki counter operator role` (役割の変更), by a logged-in supervisor; an operator card's
/// binding is signed again with the credential.
pub(super) fn operator_role(
    desk: Desk<'_>,
    name: &str,
    role: Role,
    operator: &str,
    credential: Option<&Path>,
) -> Result<()> {
    let cred = credential.map(CounterCredential::load).transpose()?;
    let (s, _) = desk.login_bound(operator, credential)?;
    let before = s.db().operators().get(name)?.map(|o| o.role);
    let (now, binding) = s.change_operator_role(name, role, cred.as_ref())?;
    out!(
        "{}",
        t!(
            "counter-operator-role-changed",
            name = name,
            from = before.map_or_else(String::new, super::role_label),
            to = super::role_label(now.role),
            operator = operator
        )
    );
    if let Some(b) = binding {
        out!(
            "{}",
            t!(
                "counter-operator-card-signed-again",
                serial = b.serial.as_str()
            )
        );
    }
    Ok(())
}

/// `juki counter operator unlock` (ロック解除), by a logged-in supervisor.
pub(super) fn operator_unlock(
    desk: Desk<'_>,
    name: &str,
    operator: &str,
    credential: Option<&Path>,
) -> Result<()> {
    let (s, _) = desk.login_bound(operator, credential)?;
    s.unlock_operator(name)?;
    out!(
        "{}",
        t!(
            "counter-operator-unlocked",
            name = name,
            operator = operator
        )
    );
    Ok(())
}

/// `juki counter pending`: the unfinished operations.
pub(super) fn pending_list(db: &CounterDb) -> Result<()> {
    let open_ops = db.journal().unfinished()?;
    if open_ops.is_empty() {
        out!("{}", t!("counter-no-unfinished"));
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
    let (s, _) = desk.login_bound(operator, credential)?;
    let cred = credential.map(CounterCredential::load).transpose()?;
    let mut card = match &cred {
        Some(_) => open_card(reader, false).ok(),
        None => None,
    };
    let mut s = connect_ca(s, ca)?;
    let check = card.as_mut().zip(cred.as_ref());
    let resolved = s.resolve(PendingId::from_value(id), note, check)?;
    out!(
        "{}",
        t!(
            "counter-pending-closed",
            id = resolved.entry.id.to_string(),
            operation = resolved.entry.operation.to_string(),
            outcome = resolved.outcome.to_string()
        )
    );
    field(
        &t!("label-audit-record"),
        format_args!("#{}", resolved.record.seq),
    );
    print_jpki(resolved.jpki.as_ref());
    Ok(())
}

/// `juki counter audit verify` and `audit show`.
pub(super) fn audit(mut db: CounterDb, command: AuditCommand) -> Result<()> {
    let db = &mut db;
    match command {
        AuditCommand::Verify { head, node, server } => {
            let report = match head {
                Some(h) => db.audit().verify_anchor(&h)?,
                None => db.audit().verify()?,
            };
            out!(
                "{}",
                t!("counter-audit-head", head = report.head.to_string())
            );
            if let Some(fault) = report.fault {
                return Err(CounterError::AuditTrail(t!(
                    "counter-audit-fault",
                    fault = fault.to_string(),
                    checked = report.checked
                ))
                .into());
            }
            out!("{}", t!("counter-audit-intact", checked = report.checked));
            match (node, server) {
                (Some(node), Some(server)) => audit_anchors(db, &node, &server),
                _ => Ok(()),
            }
        }
        AuditCommand::Show {
            card: None,
            of_operator: Some(name),
        } => {
            let records = db.audit().by_operator(&name)?;
            if records.is_empty() {
                out!(
                    "{}",
                    t!("counter-audit-none-operator", operator = name.as_str())
                );
            }
            for r in records {
                out!("{}", super::audit_line(&r));
            }
            Ok(())
        }
        AuditCommand::Show { card, .. } => {
            let card = card.unwrap_or_default();
            match db.registry().card(&card)? {
                Some(r) => {
                    out!(
                        "{}",
                        t!(
                            "counter-audit-card",
                            serial = r.serial.as_str(),
                            code = r.resident_code.to_string(),
                            municipality = r.issuing_municipality.to_string(),
                            issued = date::display(r.issued),
                            expires = date::display(r.expires),
                            state = registry_line(Some(&r))
                        )
                    );
                    for h in db.registry().state_history(&card)? {
                        out!(
                            "  {} {} → {}: {}",
                            h.at,
                            h.from.map_or_else(|| "-".to_string(), card_state),
                            card_state(h.to),
                            h.reason
                        );
                    }
                }
                None => out!("{card}: {}", registry_line(None)),
            }
            let records = db.audit().show(&card)?;
            if records.is_empty() {
                out!("{}", t!("counter-audit-none", serial = card.as_str()));
            }
            for r in records {
                out!("{}", super::audit_line(&r));
            }
            Ok(())
        }
    }
}

/// `juki counter audit verify --node --server`: the trail against the heads this counter
/// anchored in 住基ネット's provision log. The counter's monitor checks the log first (and keeps
/// what it accepts, as at a sync); the anchors' inclusion is proven against the head it
/// accepted, never against one the server merely offers.
fn audit_anchors(db: &mut CounterDb, node: &Path, server: &str) -> Result<()> {
    let mut client = juki_net::client::NetClient::from_dir(node, server)?;
    let key = super::net::log_key(node)?;
    let now = juki_host::clock::now()?;
    let (check, head) = log_watch::check_log(db, &mut client, key.as_ref(), now)?;
    match check {
        LogCheck::Refused { reason, audit_seq } => {
            if let Some(seq) = audit_seq {
                field(&t!("label-audit-record"), format_args!("#{seq}"));
            }
            return Err(CounterError::ProvisionLog(reason).into());
        }
        LogCheck::NotChecked(reason) => {
            return Err(Failure::Cli(t!(
                "counter-log-not-checked",
                reason = reason.as_str()
            )))
        }
        LogCheck::NotConfigured => out!(
            "{}",
            t!(
                "counter-log-not-configured",
                file = node
                    .join(juki_net::provision_log::LOG_PUB_FILE)
                    .display()
                    .to_string()
            )
        ),
        LogCheck::Empty | LogCheck::Accepted { .. } => {}
    }
    let report = log_watch::verify_anchors(db, &mut client, key.as_ref(), head.as_ref())?;
    if let Some(fault) = report.fault {
        let text = fault.to_string();
        return Err(if fault.is_trail() {
            CounterError::AuditTrail(text)
        } else {
            CounterError::ProvisionLog(text)
        }
        .into());
    }
    out!(
        "{}",
        t!(
            "counter-audit-anchors",
            anchors = report.anchors,
            included = report.included,
            pending = report.pending,
            size = head.map_or(0, |h| h.head.size)
        )
    );
    Ok(())
}
