//! The counter's operations on a resident's card: one function per `juki counter` subcommand.

use std::io::IsTerminal;

use sha2::{Digest, Sha256};

use juki_counter::ops::{IssuePreview, IssueRequest, JpkiRevocation, UpdateRequest};
use juki_counter::registry::TerminateReason;
use juki_host::authority;
use juki_host::date;
use juki_host::pin::PinId;
use juki_jpki::ca::RevocationReason;
use juki_jpki::time as jpki_time;

use super::{connect_ca, print_done, print_jpki, registry_line, Clerked, Desk};
use crate::args::{IssueArgs, UpdateArgs};
use crate::failure::{Failure, Result};
use crate::output::{cert_name, field, pin_name, print_card_info, print_changes, print_four_info};
use crate::pin_input::confirm;
use crate::{out, t};

/// `juki counter identify` (本人確認).
pub(super) fn identify(mut c: Clerked<'_>) -> Result<()> {
    let id = c.on_card(|s, card, cred, pins| s.identify(card, cred, pins))?;
    out!("{}", t!("counter-identified"));
    field(&t!("label-resident-code"), &id.resident.code);
    print_four_info(&id.resident.info);
    print_card_info(&id.card);
    field(
        &t!("label-validity"),
        t!("counter-valid-until", date = date::display(id.card.expires)),
    );
    field(&t!("label-registry"), registry_line(id.registry.as_ref()));
    Ok(())
}

/// `juki counter issue` (交付).
pub(super) fn issue(mut c: Clerked<'_>, a: IssueArgs) -> Result<()> {
    let req = IssueRequest {
        name: a.name,
        address: a.address,
        birth: a.birth,
        sex: a.sex,
        photo: a.photo,
        serial: a.serial,
        representative: a.representative,
        stay_until: a.stay_until,
        resident_code: a.resident_code,
    };
    let interactive = c.pins.is_terminal() && std::io::stderr().is_terminal();
    let mut confirm_preview = |p: &IssuePreview| -> juki_counter::Result<bool> {
        print_preview(p);
        if interactive {
            Ok(confirm(&t!("counter-issue-confirm"))?)
        } else {
            Ok(true)
        }
    };
    let issued =
        c.on_card(|s, card, cred, pins| s.issue(card, cred, &req, pins, &mut confirm_preview))?;
    out!(
        "{}",
        t!(
            "counter-issued",
            serial = issued.preview.card.serial.as_str(),
            municipality = c.cred.municipality.to_string(),
            name = c.cred.name.as_str()
        )
    );
    field(
        &t!("label-sign-key-fingerprint"),
        hex::encode(&Sha256::digest(authority::sec1_uncompressed(&issued.keys.sign))[..8]),
    );
    field(
        &t!("label-audit-record"),
        format_args!("#{}", issued.record.seq),
    );
    Ok(())
}

/// What the card will hold, shown before it is issued.
fn print_preview(p: &IssuePreview) {
    field(
        &t!("label-resident-code"),
        if p.new_resident {
            t!("counter-code-generated", code = p.code.to_string())
        } else {
            t!("counter-code-registered", code = p.code.to_string())
        },
    );
    print_four_info(&p.info);
    print_card_info(&p.card);
    if let Some(rep) = &p.representative {
        field(&t!("label-representative"), rep);
    }
}

/// `juki counter jpki-issue` (電子証明書の発行).
pub(super) fn jpki_issue(mut c: Clerked<'_>) -> Result<()> {
    let j = c.on_card(|s, card, cred, pins| s.jpki_issue(card, cred, pins))?;
    for r in [&j.sign, &j.auth] {
        field(
            &cert_name(r.kind),
            t!(
                "counter-cert-issued",
                serial = r.serial.as_str(),
                from = jpki_time::display(r.not_before),
                until = jpki_time::display(r.not_after)
            ),
        );
    }
    for r in &j.superseded {
        out!(
            "{}",
            t!(
                "counter-cert-superseded",
                kind = cert_name(r.kind),
                serial = r.serial.as_str()
            )
        );
    }
    out!(
        "{}",
        t!("counter-jpki-issued", serial = j.card.serial.as_str())
    );
    field(&t!("label-audit-record"), format_args!("#{}", j.record.seq));
    Ok(())
}

/// `juki counter jpki-revoke` (電子証明書の失効): decided on the serial the clerk names (the card
/// need not be present), never on a plain read of whatever card a reader presents.
pub(super) fn jpki_revoke(
    desk: Desk<'_>,
    operator: &str,
    credential: Option<&std::path::Path>,
) -> Result<()> {
    let serial = desk
        .serving
        .map(str::to_string)
        .ok_or_else(|| Failure::Cli(t!("counter-revoke-needs-card")))?;
    let ca = desk.ca;
    let (s, _) = desk.login_bound(operator, credential)?;
    let mut s = connect_ca(s, ca)?;
    let revoked = s.jpki_revoke(&serial, RevocationReason::Requested)?;
    print_jpki(Some(&JpkiRevocation::Revoked(revoked)));
    out!(
        "{}",
        t!("counter-revoke-recorded", serial = serial.as_str())
    );
    Ok(())
}

/// `juki counter reset-pin` (パスワード再設定).
pub(super) fn reset_pin(mut c: Clerked<'_>, kind: PinId) -> Result<()> {
    let done = c.on_card(|s, card, cred, pins| s.reset_pin(card, cred, kind, pins))?;
    out!(
        "{}",
        t!(
            "counter-pin-reset",
            pin = pin_name(kind),
            serial = done.card.serial.as_str()
        )
    );
    field(
        &t!("label-audit-record"),
        format_args!("#{}", done.record.seq),
    );
    Ok(())
}

/// `juki counter update` (記載事項変更・継続利用).
pub(super) fn update(mut c: Clerked<'_>, a: UpdateArgs) -> Result<()> {
    let req = UpdateRequest {
        address: a.address,
        name: a.name,
        reason: a.reason,
        date: a.date,
    };
    let u = c.on_card(|s, card, cred, pins| s.update(card, cred, &req, pins))?;
    if u.registered_here {
        out!(
            "{}",
            t!(
                "counter-registered-here",
                serial = u.card.serial.as_str(),
                municipality = u.card.municipality.to_string()
            )
        );
    }
    print_four_info(&u.info);
    print_changes(&u.changes);
    out!("{}", t!("counter-updated", serial = u.card.serial.as_str()));
    field(&t!("label-audit-record"), format_args!("#{}", u.record.seq));
    print_jpki(Some(&u.jpki));
    Ok(())
}

/// `juki counter change-code` (住民票コードの変更).
pub(super) fn change_code(mut c: Clerked<'_>) -> Result<()> {
    let done = c.on_card(|s, card, cred, _| s.change_code(card, cred))?;
    out!("{}", t!("counter-code-changed"));
    field(&t!("label-new-resident-code"), &done.new_code);
    out!(
        "{}",
        t!(
            "counter-code-changed-card",
            serial = done.card.serial.as_str(),
            code = done.new_code.to_string()
        )
    );
    field(
        &t!("label-audit-record"),
        format_args!("#{}", done.record.seq),
    );
    print_jpki(Some(&done.jpki));
    Ok(())
}

/// `juki counter suspend` (一時停止).
pub(super) fn suspend(mut c: Clerked<'_>, reason: Option<&str>) -> Result<()> {
    let d = c.on_card(|s, card, cred, _| s.suspend(card, cred, reason))?;
    print_done(&d, t!("counter-suspended", serial = d.card.serial.as_str()));
    Ok(())
}

/// `juki counter resume` (一時停止の解除).
pub(super) fn resume(mut c: Clerked<'_>) -> Result<()> {
    let d = c.on_card(|s, card, cred, _| s.resume(card, cred))?;
    print_done(&d, t!("counter-resumed", serial = d.card.serial.as_str()));
    Ok(())
}

/// `juki counter terminate` (返納・廃止), with the card or, for a card that cannot take part,
/// in the registry only.
pub(super) fn terminate(
    mut c: Clerked<'_>,
    reason: TerminateReason,
    without_card: Option<&str>,
) -> Result<()> {
    if let Some(serial) = without_card {
        let d = c.session.terminate_without_card(serial, reason)?;
        print_done(
            &d,
            t!(
                "counter-terminated-without-card",
                serial = d.card.serial.as_str()
            ),
        );
        return Ok(());
    }
    let d = c.on_card(|s, card, cred, _| s.terminate(card, cred, reason))?;
    print_done(
        &d,
        t!("counter-terminated", serial = d.card.serial.as_str()),
    );
    Ok(())
}
