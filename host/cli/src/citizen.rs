//! The citizen's commands, at home with a card reader: `juki readers`, `status`, `info`,
//! `pin …`, `sign`, `auth` and `jpki status` (自己の電子証明書の有効性確認); and the checks of the
//! agency or online service that receives what the card made: `verify` and `verify-auth`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use juki_host::card::{lifecycle_text, Lifecycle};
use juki_host::date;
use juki_host::pcsc_transport;
use juki_host::pin::PinKind;
use juki_host::Error;
use juki_jpki::cms::SignOptions;
use juki_jpki::validate::{self, Checked, Revocation};
use juki_jpki::{auth, citizen, cms, profile, time as jtime, CertKind, JpkiError};

use crate::args::TrustArgs;
use crate::card_access::{open_card, refuse_unusable, Card};
use crate::failure::Result;
use crate::files::{read_file, with_suffix, write_file};
use crate::out;
use crate::output::{print_card_info, print_four_info};
use crate::pin_input::PinPrompter;

/// `juki readers`: the PC/SC readers and whether each holds a card.
pub fn readers() -> Result<()> {
    let readers = pcsc_transport::list_readers()?;
    if readers.is_empty() {
        return Err(Error::NoReader.into());
    }
    for r in readers {
        match r.atr {
            Some(atr) => out!("{}\tcard present (ATR {})", r.name, hex::encode_upper(atr)),
            None => out!("{}\tno card", r.name),
        }
    }
    Ok(())
}

/// `juki status`: the card information and the PIN tries left (no PIN needed).
pub fn status(card: &mut Card) -> Result<()> {
    out!("reader:                        {}", card.transport().name());
    let state = card.lifecycle()?;
    out!("カードの状態 (card state):     {}", lifecycle_text(state));
    if matches!(state, Lifecycle::Blank | Lifecycle::Initialised) {
        return Ok(());
    }
    let info = card.card_info()?;
    print_card_info(&info);
    if date::today()? > info.expires {
        out!("有効期限切れ (EXPIRED):        this card can no longer be used");
    }
    if state != Lifecycle::Issued {
        return Ok(());
    }
    for kind in PinKind::ALL {
        out!("{}: {}", kind, card.pin_status(kind)?);
    }
    Ok(())
}

/// `juki info`: the resident code, the 4 info and the change information (asks the 住基 PIN).
pub fn info(card: &mut Card) -> Result<()> {
    refuse_unusable(card)?;
    let mut pins = PinPrompter::from_stdin();
    let pin = pins.ask(PinKind::Juki)?;
    let record = card.read_resident(&pin)?;
    drop(pin);
    out!("住民票コード (resident code):  {}", record.code);
    print_four_info(&record.info);
    let changes = &record.changes;
    if changes.is_empty() {
        out!("変更情報 (changes):            なし (none)");
    } else {
        for (label, change) in [
            ("氏名の変更 (name changed)", &changes.name),
            ("住所の変更 (address changed)", &changes.address),
            ("生年月日の変更 (birth changed)", &changes.birth),
            ("性別の変更 (sex changed)", &changes.sex),
        ] {
            if let Some(c) = change {
                out!("{label}: {} {}", date::display(c.date), c.reason);
            }
        }
    }
    Ok(())
}

/// `juki pin status`: the tries left of each PIN (uses no try).
pub fn pin_status(card: &mut Card) -> Result<()> {
    for kind in PinKind::ALL {
        out!("{}: {}", kind, card.pin_status(kind)?);
    }
    Ok(())
}

/// `juki pin change`: asks the current PIN, then the new one.
pub fn pin_change(card: &mut Card, kind: PinKind) -> Result<()> {
    refuse_unusable(card)?;
    let mut pins = PinPrompter::from_stdin();
    let current = pins.ask(kind)?;
    let new = pins.ask_new(kind, None)?;
    card.change_pin(kind, &current, &new)?;
    out!("{kind}: changed (変更しました)");
    Ok(())
}

/// `juki sign FILE`.
pub fn sign(card: &mut Card, file: &Path, out: Option<PathBuf>, attached: bool) -> Result<()> {
    refuse_unusable(card)?;
    let content = read_file(file)?;
    let out = out.unwrap_or_else(|| with_suffix(file, if attached { ".p7m" } else { ".p7s" }));
    let signing_time = jtime::now()?;
    citizen::require_present(card, CertKind::Sign)?;
    let mut pins = PinPrompter::from_stdin();
    let password = pins.ask(PinKind::Sign)?;
    let p7s = citizen::sign_document(
        card,
        &password,
        &content,
        SignOptions {
            attached,
            signing_time,
        },
    )?;
    drop(password);
    write_file(&out, &p7s)?;
    out!("文書 (document):               {}", file.display());
    out!(
        "SHA-256:                       {}",
        hex::encode(Sha256::digest(&content))
    );
    out!(
        "署名 (signature):              {} (CMS SignedData, DER, {})",
        out.display(),
        if attached {
            "document inside"
        } else {
            "detached: send it with the document"
        }
    );
    out!(
        "署名日時 (signing time):       {}",
        jtime::display(signing_time)
    );
    out!("電子署名しました (signed with the card's signing key and certificate)");
    Ok(())
}

/// The trusted CA certificate and the CRLs (`None`: the check is skipped knowingly).
fn load_trust(trust: &TrustArgs) -> Result<(Certificate, Option<Vec<CertificateList>>)> {
    let ca = validate::load_certificate(&read_file(&trust.ca_cert)?)?;
    Ok((ca, load_crls(&trust.crl, trust.no_revocation_check)?))
}

/// The CRLs given, or `None` when the check is skipped knowingly.
fn load_crls(paths: &[PathBuf], skip: bool) -> Result<Option<Vec<CertificateList>>> {
    if skip {
        return Ok(None);
    }
    let mut crls = Vec::new();
    for p in paths {
        let crl = validate::load_crl(&read_file(p)?).map_err(|e| match e {
            JpkiError::Malformed { what, detail } => JpkiError::Malformed {
                what,
                detail: format!("{}: {detail}", p.display()),
            },
            other => other,
        })?;
        crls.push(crl);
    }
    Ok(Some(crls))
}

fn print_certificate(checked: &Checked, kind: CertKind) {
    out!(
        "電子証明書 (certificate):      {}, serial {}",
        kind.japanese(),
        checked.serial
    );
    out!("発行者 (issuer):               {}", checked.issuer);
    out!(
        "有効期間 (validity):           {} – {}",
        jtime::display(checked.not_before),
        jtime::display(checked.not_after)
    );
    match checked.revocation {
        Revocation::NotRevoked(info) => out!(
            "失効確認 (revocation):         not revoked (失効していません); CRL of {}, next update {}",
            jtime::display(info.this_update),
            info.next_update
                .map(jtime::display)
                .unwrap_or_else(|| "-".into())
        ),
        Revocation::NotChecked => out!(
            "失効確認 (revocation):         NOT CHECKED (--no-revocation-check): 失効確認をしていません"
        ),
    }
}

/// `juki verify [FILE] SIG`.
pub fn verify(paths: &[PathBuf], trust: &TrustArgs, out: Option<PathBuf>) -> Result<()> {
    let (file, sig) = match paths {
        [sig] => (None, sig),
        [file, sig] => (Some(file), sig),
        _ => return Err(Error::InvalidInput("give FILE SIG, or SIG alone".into()).into()),
    };
    let p7s = read_file(sig)?;
    let content = file.map(|f| read_file(f)).transpose()?;
    let (ca, crls) = load_trust(trust)?;
    let at = jtime::now()?;
    let v = cms::verify(&p7s, content.as_deref(), &ca, crls.as_deref(), at)?;
    out!("署名検証結果 (verdict):        VALID — 署名は有効です (the signature is valid)");
    out!("署名者 (signer), as certified by the JPKI CA:");
    print_four_info(&v.four_info);
    print_certificate(&v.certificate, CertKind::Sign);
    if let Some(t) = v.signing_time {
        out!(
            "署名日時 (signing time):       {} (as claimed by the signer)",
            jtime::display(t)
        );
    }
    out!(
        "文書 (document):               {} ({} bytes, SHA-256 {})",
        match file {
            Some(f) => f.display().to_string(),
            None => "inside the signature".into(),
        },
        v.content.len(),
        hex::encode(Sha256::digest(&v.content))
    );
    out!("検証時刻 (checked at):         {}", jtime::display(at));
    if let Some(out) = out {
        if !v.attached {
            return Err(Error::InvalidInput(
                "--out: this signature is detached; the document is the FILE given".into(),
            )
            .into());
        }
        write_file(&out, &v.content)?;
        out!("the signed document was written to {}", out.display());
    }
    Ok(())
}

/// `juki auth --challenge FILE`.
pub fn auth(card: &mut Card, challenge: &Path, out: Option<PathBuf>) -> Result<()> {
    refuse_unusable(card)?;
    let challenge_bytes = read_file(challenge)?;
    auth::check_challenge(&challenge_bytes)?;
    let out = out.unwrap_or_else(|| with_suffix(challenge, ".answer"));
    citizen::require_present(card, CertKind::Auth)?;
    let mut pins = PinPrompter::from_stdin();
    let pin = pins.ask(PinKind::Auth)?;
    let answer = citizen::answer_challenge(card, &pin, &challenge_bytes)?;
    drop(pin);
    write_file(&out, answer.to_pem()?.as_bytes())?;
    out!(
        "answer (応答): {} — send it to the relying party (利用者証明用電子証明書, serial {})",
        out.display(),
        validate::serial(&answer.certificate)
    );
    Ok(())
}

/// `juki verify-auth`.
pub fn verify_auth(challenge: &Path, answer: &Path, trust: &TrustArgs) -> Result<()> {
    let challenge = read_file(challenge)?;
    let answer = auth::Answer::from_pem(&read_file(answer)?)?;
    let (ca, crls) = load_trust(trust)?;
    let at = jtime::now()?;
    let checked = auth::verify(&answer, &challenge, &ca, crls.as_deref(), at)?;
    out!("利用者証明 (authentication):   VALID — 本人であることを確認しました");
    out!(
        "利用者 (user):                 {} (the certificate carries no personal data)",
        answer.certificate.tbs_certificate.subject
    );
    print_certificate(&checked, CertKind::Auth);
    Ok(())
}

/// `juki jpki status`: 自己の電子証明書の有効性確認. The trust anchors are read first: a missing
/// file is told before the card is touched.
pub fn jpki_status(
    reader: Option<&str>,
    ca_cert: &[PathBuf],
    crl: &[PathBuf],
    no_sign: bool,
) -> Result<()> {
    let trusted = ca_cert
        .iter()
        .map(|p| Ok(validate::load_certificate(&read_file(p)?)?))
        .collect::<Result<Vec<_>>>()?;
    let card = &mut open_card(reader, false)?;
    refuse_unusable(card)?;
    let crls = load_crls(crl, crl.is_empty())?;
    let at = jtime::now()?;
    let mut pairs = vec![(CertKind::Auth, citizen::auth_certificates(card)?)];
    if !no_sign {
        let mut pins = PinPrompter::from_stdin();
        let password = pins.ask(PinKind::Sign)?;
        pairs.push((CertKind::Sign, citizen::sign_certificates(card, &password)?));
    }
    let mut failed = None;
    for (kind, certs) in pairs {
        out!("== {} ==", kind);
        match citizen::check_card_certificates(&certs, kind, &trusted, crls.as_deref(), at) {
            Ok(checked) => {
                print_certificate(&checked, kind);
                out!("状態 (state):                  有効 (valid)");
            }
            Err(e) => {
                out!("状態 (state):                  無効 (NOT valid): {e}");
                failed.get_or_insert(e);
            }
        }
        if let Some(info) = profile::four_info_of(&certs.cert)? {
            out!("記録事項 (recorded in it):");
            print_four_info(&info);
        }
    }
    if crls.is_none() {
        out!(
            "失効確認 (revocation) was not checked: give the CA's CRLs with --crl (juki jpki crl)"
        );
    }
    out!(
        "確認日 (checked on):           {}",
        date::display(date::today()?)
    );
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
