//! The citizen's commands, at home with a card reader: `juki readers`, `status`, `info`,
//! `pin …`, `sign`, `auth` and `jpki status` (自己の電子証明書の有効性確認); and the checks of the
//! agency or online service that receives what the card made: `verify` and `verify-auth`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use juki_host::card::Lifecycle;
use juki_host::date;
use juki_host::pcsc_transport;
use juki_host::pin::PinId;
use juki_host::Error;
use juki_jpki::cms::SignOptions;
use juki_jpki::validate::{self, Checked, Revocation};
use juki_jpki::{auth, citizen, cms, profile, time as jtime, CertKind, JpkiError};

use crate::args::TrustArgs;
use crate::card_access::{open_card, refuse_unusable, Card};
use crate::failure::{self, Failure, Result};
use crate::files::{read_file, with_suffix, write_file};
use crate::output::{
    cert_name, field, lifecycle, pin_name, pin_state, print_card_info, print_changes,
    print_four_info,
};
use crate::pin_input::PinPrompter;
use crate::{out, t};

/// `juki readers`: the PC/SC readers and whether each holds a card.
pub fn readers() -> Result<()> {
    let readers = pcsc_transport::list_readers()?;
    if readers.is_empty() {
        return Err(Error::NoReader.into());
    }
    for r in readers {
        match r.atr {
            Some(atr) => out!(
                "{}\t{}",
                r.name,
                t!("citizen-reader-card", atr = hex::encode_upper(atr))
            ),
            None => out!("{}\t{}", r.name, t!("citizen-reader-empty")),
        }
    }
    Ok(())
}

/// `juki status`: the card information and the PIN tries left (no PIN needed).
pub fn status(card: &mut Card) -> Result<()> {
    field(&t!("label-reader"), card.transport().name());
    let state = card.lifecycle()?;
    field(&t!("label-card-state"), lifecycle(state));
    if matches!(state, Lifecycle::Blank | Lifecycle::Initialised) {
        return Ok(());
    }
    let info = card.card_info()?;
    print_card_info(&info);
    if date::today()? > info.expires {
        field(&t!("label-expired"), t!("citizen-expired"));
    }
    if state != Lifecycle::Issued {
        return Ok(());
    }
    print_pin_status(card)
}

/// The tries left of each PIN.
fn print_pin_status(card: &mut Card) -> Result<()> {
    for kind in PinId::ALL {
        field(&pin_name(kind), pin_state(card.pin_status(kind)?));
    }
    Ok(())
}

/// `juki info`: the resident code, the 4 info and the change information (asks the 住基 PIN).
pub fn info(card: &mut Card) -> Result<()> {
    refuse_unusable(card)?;
    let mut pins = PinPrompter::from_stdin();
    let pin = pins.ask(PinId::Juki)?;
    let record = card.read_resident(&pin)?;
    drop(pin);
    field(&t!("label-resident-code"), &record.code);
    print_four_info(&record.info);
    let changes = &record.changes;
    if changes.is_empty() {
        field(&t!("label-changes"), t!("citizen-no-changes"));
    } else {
        print_changes(changes);
    }
    Ok(())
}

/// `juki pin status`: the tries left of each PIN (uses no try).
pub fn pin_status(card: &mut Card) -> Result<()> {
    print_pin_status(card)
}

/// `juki pin change`: asks the current PIN, then the new one.
pub fn pin_change(card: &mut Card, kind: PinId) -> Result<()> {
    refuse_unusable(card)?;
    let mut pins = PinPrompter::from_stdin();
    let current = pins.ask(kind)?;
    let new = pins.ask_new(kind, None)?;
    card.change_pin(kind, &current, &new)?;
    out!("{}", t!("citizen-pin-changed", pin = pin_name(kind)));
    Ok(())
}

/// `juki sign FILE`.
pub fn sign(card: &mut Card, file: &Path, out: Option<PathBuf>, attached: bool) -> Result<()> {
    let content = read_file(file)?;
    let out = out.unwrap_or_else(|| with_suffix(file, if attached { ".p7m" } else { ".p7s" }));
    let signing_time = jtime::now()?;
    let mut pins = PinPrompter::from_stdin();
    // At a terminal, tell a card without certificates before asking the password (SELECT and
    // EF 0008, a transaction of its own: none is held while a person types). The signature
    // itself is one transaction of seven APDUs that checks the card again — its state, its
    // certificate and the certificate's validity (which ends with the card's at the latest).
    // When it fails, an unusable card (suspended, terminated, expired) is the better
    // explanation: asked only then, so a signature costs no APDU for it.
    let explain = |card: &mut Card, e: juki_jpki::JpkiError| -> Failure {
        match refuse_unusable(card) {
            Err(unusable) => unusable,
            Ok(()) => e.into(),
        }
    };
    if pins.is_terminal() {
        if let Err(e) = citizen::require_present(card, CertKind::Sign) {
            return Err(explain(card, e));
        }
    }
    let password = pins.ask(PinId::Sign)?;
    let signed = citizen::sign_document(
        card,
        &password,
        &content,
        SignOptions {
            attached,
            signing_time,
        },
    );
    let p7s = signed.map_err(|e| explain(card, e))?;
    drop(password);
    write_file(&out, &p7s)?;
    field(&t!("label-document"), file.display());
    field("SHA-256", hex::encode(Sha256::digest(&content)));
    field(
        &t!("label-signature"),
        if attached {
            t!(
                "citizen-signature-attached",
                file = out.display().to_string()
            )
        } else {
            t!(
                "citizen-signature-detached",
                file = out.display().to_string()
            )
        },
    );
    field(&t!("label-signing-time"), jtime::display(signing_time));
    out!("{}", t!("citizen-signed"));
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

/// Prints a checked certificate: its kind and serial, issuer, validity and revocation check.
fn print_certificate(checked: &Checked, kind: CertKind) {
    print_checked(checked, cert_name(kind));
}

/// Prints a checked certificate named `kind`.
fn print_checked(checked: &Checked, kind: String) {
    field(
        &t!("label-certificate"),
        t!(
            "citizen-certificate",
            kind = kind,
            serial = checked.serial.as_str()
        ),
    );
    field(&t!("label-issuer"), &checked.issuer);
    field(
        &t!("label-validity"),
        format_args!(
            "{} – {}",
            jtime::display(checked.not_before),
            jtime::display(checked.not_after)
        ),
    );
    match checked.revocation {
        Revocation::NotRevoked(info) => field(
            &t!("label-revocation"),
            t!(
                "citizen-not-revoked",
                crl_date = jtime::display(info.this_update),
                next_update = info
                    .next_update
                    .map(jtime::display)
                    .unwrap_or_else(|| "-".into())
            ),
        ),
        Revocation::NotChecked => field(&t!("label-revocation"), t!("citizen-revocation-skipped")),
    }
}

/// `juki verify [FILE] SIG`.
pub fn verify(paths: &[PathBuf], trust: &TrustArgs, out: Option<PathBuf>) -> Result<()> {
    let (file, sig) = match paths {
        [sig] => (None, sig),
        [file, sig] => (Some(file), sig),
        _ => return Err(Failure::Cli(t!("citizen-verify-usage"))),
    };
    let p7s = read_file(sig)?;
    if juki_net::copy::is_sealed(&p7s) {
        if file.is_some() {
            return Err(Failure::Cli(t!("citizen-verify-copy-detached")));
        }
        return verify_copy(&p7s, trust, out);
    }
    let content = file.map(|f| read_file(f)).transpose()?;
    let (ca, crls) = load_trust(trust)?;
    let at = jtime::now()?;
    let v = cms::verify(&p7s, content.as_deref(), &ca, crls.as_deref(), at)?;
    field(&t!("label-verdict"), t!("citizen-signature-valid"));
    out!("{}", t!("citizen-signer"));
    print_four_info(&v.four_info);
    print_certificate(&v.certificate, CertKind::Sign);
    if let Some(time) = v.signing_time {
        field(
            &t!("label-signing-time"),
            t!("citizen-claimed-time", time = jtime::display(time)),
        );
    }
    let document = match file {
        Some(f) => f.display().to_string(),
        None => t!("citizen-document-inside"),
    };
    field(
        &t!("label-document"),
        t!(
            "citizen-document",
            document = document,
            bytes = v.content.len(),
            sha256 = hex::encode(Sha256::digest(&v.content))
        ),
    );
    field(&t!("label-checked-at"), jtime::display(at));
    if let Some(out) = out {
        if !v.attached {
            return Err(Failure::Cli(t!("citizen-verify-out-detached")));
        }
        write_file(&out, &v.content)?;
        out!(
            "{}",
            t!("citizen-document-written", file = out.display().to_string())
        );
    }
    Ok(())
}

/// `juki verify COPY.p7s` for a 住民票の写し sealed by a municipality: trusted is the
/// 住基ネット CA given as `--ca-cert`, with its CRL.
fn verify_copy(p7s: &[u8], trust: &TrustArgs, out: Option<PathBuf>) -> Result<()> {
    let (ca, crls) = load_trust(trust)?;
    let at = jtime::now()?;
    let v = juki_net::copy::verify(p7s, &ca, crls.as_deref(), at)?;
    field(&t!("label-verdict"), t!("citizen-copy-valid"));
    field(
        &t!("label-copy-issuer"),
        t!(
            "citizen-copy-issuer",
            name = v.seal.name.as_str(),
            code = v.seal.municipality.as_str(),
            number = v.copy.number_text()
        ),
    );
    print_checked(&v.certificate, t!("citizen-seal-certificate"));
    field(&t!("label-checked-at"), jtime::display(at));
    out!("{}", t!("citizen-copy-text"));
    out!("{}", v.text);
    if let Some(out) = out {
        juki_host::private_dir::write_new(&out, v.text.as_bytes())
            .map_err(|e| juki_host::Error::io(format!("writing {}", out.display()), e))?;
        out!(
            "{}",
            t!("citizen-document-written", file = out.display().to_string())
        );
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
    let pin = pins.ask(PinId::Auth)?;
    let answer = citizen::answer_challenge(card, &pin, &challenge_bytes)?;
    drop(pin);
    write_file(&out, answer.to_pem()?.as_bytes())?;
    out!(
        "{}",
        t!(
            "citizen-answer-written",
            file = out.display().to_string(),
            serial = validate::serial(&answer.certificate)
        )
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
    field(&t!("label-authentication"), t!("citizen-auth-valid"));
    field(
        &t!("label-user"),
        t!(
            "citizen-auth-user",
            subject = answer.certificate.tbs_certificate.subject.to_string()
        ),
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
        let password = pins.ask(PinId::Sign)?;
        pairs.push((CertKind::Sign, citizen::sign_certificates(card, &password)?));
    }
    let mut failed = None;
    for (kind, certs) in pairs {
        out!("== {} ==", cert_name(kind));
        match citizen::check_card_certificates(&certs, kind, &trusted, crls.as_deref(), at) {
            Ok(checked) => {
                print_certificate(&checked, kind);
                field(&t!("label-state"), t!("citizen-cert-valid"));
            }
            Err(e) => {
                let why = failure::jpki_message(&e);
                field(&t!("label-state"), t!("citizen-cert-invalid", why = why));
                failed.get_or_insert(e);
            }
        }
        if let Some(info) = profile::four_info_of(&certs.cert)? {
            out!("{}", t!("citizen-recorded-in-cert"));
            print_four_info(&info);
        }
    }
    if crls.is_none() {
        out!("{}", t!("citizen-revocation-not-checked"));
    }
    field(&t!("label-checked-on"), date::display(date::today()?));
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
