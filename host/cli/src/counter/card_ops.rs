//! The counter's operations on a resident's card: one function per `juki counter` subcommand.

use std::io::IsTerminal;

use sha2::{Digest, Sha256};

use juki_counter::ops::{IssuePreview, IssueRequest, JpkiRevocation, UpdateRequest};
use juki_counter::registry::TerminateReason;
use juki_host::authority;
use juki_host::date;
use juki_host::pin::PinKind;
use juki_host::resident::Sex;
use juki_host::resident_code::ResidentCode;
use juki_host::Error;
use juki_jpki::ca::RevocationReason;
use juki_jpki::time as jpki_time;

use super::{connect_ca, print_done, print_jpki, registry_line, Clerked, Desk};
use crate::args::{IssueArgs, UpdateArgs};
use crate::failure::Result;
use crate::out;
use crate::output::{print_card_info, print_four_info};
use crate::pin_input::confirm;

/// `juki counter identify` (本人確認).
pub(super) fn identify(mut c: Clerked<'_>) -> Result<()> {
    let id = c.on_card(|s, card, cred, pins| s.identify(card, cred, pins))?;
    out!("本人確認できました (identified with the 住基 PIN)");
    out!("住民票コード (resident code):  {}", id.resident.code);
    print_four_info(&id.resident.info);
    print_card_info(&id.card);
    out!(
        "有効性 (validity):             valid until {} (有効)",
        date::display(id.card.expires)
    );
    out!(
        "台帳 (registry):               {}",
        registry_line(id.registry.as_ref())
    );
    Ok(())
}

/// `juki counter issue` (交付).
pub(super) fn issue(mut c: Clerked<'_>, a: IssueArgs) -> Result<()> {
    let req = IssueRequest {
        name: a.name,
        address: a.address,
        birth: date::parse_user_date(&a.birth)?,
        sex: Sex::parse(&a.sex)?,
        photo: a.photo,
        serial: a.serial,
        representative: a.representative,
        stay_until: a
            .stay_until
            .as_deref()
            .map(date::parse_user_date)
            .transpose()?,
        resident_code: a
            .resident_code
            .as_deref()
            .map(|c| {
                ResidentCode::parse(c)
                    .map_err(|e| Error::InvalidInput(format!("--resident-code {c}: {e}")))
            })
            .transpose()?,
    };
    let interactive = c.pins.is_terminal() && std::io::stderr().is_terminal();
    let mut confirm_preview = |p: &IssuePreview| -> juki_counter::Result<bool> {
        print_preview(p);
        if interactive {
            Ok(confirm("Issue this card?")?)
        } else {
            Ok(true)
        }
    };
    let issued =
        c.on_card(|s, card, cred, pins| s.issue(card, cred, &req, pins, &mut confirm_preview))?;
    out!(
        "card {} issued by {} {} (交付しました); signing key fingerprint {}; audit record #{}",
        issued.preview.card.serial,
        c.cred.municipality,
        c.cred.name,
        hex::encode(&Sha256::digest(authority::sec1_uncompressed(&issued.keys.sign))[..8]),
        issued.record.seq
    );
    Ok(())
}

/// What the card will hold, shown before it is issued.
fn print_preview(p: &IssuePreview) {
    out!(
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
        out!("法定代理人 (legal representative): {rep}");
    }
}

/// `juki counter jpki-issue` (電子証明書の発行).
pub(super) fn jpki_issue(mut c: Clerked<'_>) -> Result<()> {
    let j = c.on_card(|s, card, cred, pins| s.jpki_issue(card, cred, pins))?;
    for r in [&j.sign, &j.auth] {
        out!(
            "{}: serial {}, valid {} – {}",
            r.kind,
            r.serial,
            jpki_time::display(r.not_before),
            jpki_time::display(r.not_after)
        );
    }
    for r in &j.superseded {
        out!(
            "earlier {} {} revoked (superseded)",
            r.kind.as_str(),
            r.serial
        );
    }
    out!(
        "card {}: JPKI certificates issued and written to the card (電子証明書を発行しました); \
         keys generated on the card; audit record #{}",
        j.card.serial,
        j.record.seq
    );
    Ok(())
}

/// `juki counter jpki-revoke` (電子証明書の失効): decided on the serial the clerk names (the card
/// need not be present), never on a plain read of whatever card a reader presents.
pub(super) fn jpki_revoke(desk: Desk<'_>, operator: &str) -> Result<()> {
    let serial = desk.serving.map(str::to_string).ok_or_else(|| {
        Error::InvalidInput(
            "give the card's serial with --card SERIAL (the card need not be present)".into(),
        )
    })?;
    let ca = desk.ca;
    let (s, _) = desk.login_bound(operator)?;
    let mut s = connect_ca(s, ca)?;
    let revoked = s.jpki_revoke(&serial, RevocationReason::Requested)?;
    print_jpki(Some(&JpkiRevocation::Revoked(revoked)));
    out!("card {serial}: 電子証明書の失効 recorded in the audit trail");
    Ok(())
}

/// `juki counter reset-pin` (パスワード再設定).
pub(super) fn reset_pin(mut c: Clerked<'_>, kind: PinKind) -> Result<()> {
    let done = c.on_card(|s, card, cred, pins| s.reset_pin(card, cred, kind, pins))?;
    out!(
        "{kind}: reset with full tries (パスワードを再設定しました); card {}; audit record #{}",
        done.card.serial,
        done.record.seq
    );
    Ok(())
}

/// `juki counter update` (記載事項変更・継続利用).
pub(super) fn update(mut c: Clerked<'_>, a: UpdateArgs) -> Result<()> {
    let req = UpdateRequest {
        address: a.address,
        name: a.name,
        reason: a.reason,
        date: a.date.as_deref().map(date::parse_user_date).transpose()?,
    };
    let u = c.on_card(|s, card, cred, pins| s.update(card, cred, &req, pins))?;
    if u.registered_here {
        out!(
            "card {} issued by {} registered in this counter's registry (他市区町村交付のカード)",
            u.card.serial,
            u.card.municipality
        );
    }
    print_four_info(&u.info);
    for (label, change) in [
        ("氏名の変更 (name changed)", &u.changes.name),
        ("住所の変更 (address changed)", &u.changes.address),
    ] {
        if let Some(c) = change {
            out!("{label}: {} {}", date::display(c.date), c.reason);
        }
    }
    out!(
        "card {} updated (記載事項を変更しました); audit record #{}",
        u.card.serial,
        u.record.seq
    );
    print_jpki(Some(&u.jpki));
    Ok(())
}

/// `juki counter change-code` (住民票コードの変更).
pub(super) fn change_code(mut c: Clerked<'_>) -> Result<()> {
    let done = c.on_card(|s, card, cred, _| s.change_code(card, cred))?;
    out!("住民票コードを変更しました (resident code changed)");
    out!("new resident code (新しい住民票コード): {}", done.new_code);
    out!(
        "card {} terminated (code-changed): it carries the old code. A new card is \
         needed: juki counter issue --resident-code {} … (audit record #{})",
        done.card.serial,
        done.new_code,
        done.record.seq
    );
    print_jpki(Some(&done.jpki));
    Ok(())
}

/// `juki counter suspend` (一時停止).
pub(super) fn suspend(mut c: Clerked<'_>, reason: Option<&str>) -> Result<()> {
    let d = c.on_card(|s, card, cred, _| s.suspend(card, cred, reason))?;
    print_done(&d, "suspended (一時停止しました)");
    Ok(())
}

/// `juki counter resume` (一時停止の解除).
pub(super) fn resume(mut c: Clerked<'_>) -> Result<()> {
    let d = c.on_card(|s, card, cred, _| s.resume(card, cred))?;
    print_done(&d, "resumed (一時停止を解除しました)");
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
            "terminated in the registry without the card (カードなしで廃止を記録しました): \
             the card itself was not changed",
        );
        return Ok(());
    }
    let d = c.on_card(|s, card, cred, _| s.terminate(card, cred, reason))?;
    print_done(
        &d,
        "terminated (廃止しました): keys, PINs and personal data erased",
    );
    Ok(())
}
