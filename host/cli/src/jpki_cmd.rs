//! `juki sign`, `juki verify`, `juki auth`, `juki verify-auth` and `juki jpki …`: the JPKI
//! commands of the citizen, the agency (relying party) and the certification authority.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use crate::pin_input::PinPrompter;
use juki_host::date;
use juki_host::pin::PinId;
use juki_host::Error;
use juki_jpki::ca::{self, JpkiCa};
use juki_jpki::cms::SignOptions;
use juki_jpki::validate::{self, Checked, Revocation};
use juki_jpki::{auth, citizen, cms, profile, time as jtime, CertKind, JpkiError};

use crate::failure::Result;

use crate::cli::{CaCommand, JpkiCommand, TrustArgs};
use crate::commands::{print_four_info, read_file, refuse_unusable, with_suffix, write_file, Card};

/// `juki sign FILE`.
pub fn sign(card: &mut Card, file: &Path, out: Option<PathBuf>, attached: bool) -> Result<()> {
    refuse_unusable(card)?;
    let content = read_file(file)?;
    let out = out.unwrap_or_else(|| with_suffix(file, if attached { ".p7m" } else { ".p7s" }));
    let signing_time = jtime::now()?;
    citizen::require_present(card, CertKind::Sign)?;
    let mut pins = PinPrompter::from_stdin();
    let password = pins.ask(PinId::Sign)?;
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
    println!("文書 (document):               {}", file.display());
    println!(
        "SHA-256:                       {}",
        hex::encode(Sha256::digest(&content))
    );
    println!(
        "署名 (signature):              {} (CMS SignedData, DER, {})",
        out.display(),
        if attached {
            "document inside"
        } else {
            "detached: send it with the document"
        }
    );
    println!(
        "署名日時 (signing time):       {}",
        jtime::display(signing_time)
    );
    println!("電子署名しました (signed with the card's signing key and certificate)");
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
    println!(
        "電子証明書 (certificate):      {}, serial {}",
        kind.japanese(),
        checked.serial
    );
    println!("発行者 (issuer):               {}", checked.issuer);
    println!(
        "有効期間 (validity):           {} – {}",
        jtime::display(checked.not_before),
        jtime::display(checked.not_after)
    );
    match checked.revocation {
        Revocation::NotRevoked(info) => println!(
            "失効確認 (revocation):         not revoked (失効していません); CRL of {}, next update {}",
            jtime::display(info.this_update),
            info.next_update
                .map(jtime::display)
                .unwrap_or_else(|| "-".into())
        ),
        Revocation::NotChecked => println!(
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
    println!("署名検証結果 (verdict):        VALID — 署名は有効です (the signature is valid)");
    println!("署名者 (signer), as certified by the JPKI CA:");
    print_four_info(&v.four_info);
    print_certificate(&v.certificate, CertKind::Sign);
    if let Some(t) = v.signing_time {
        println!(
            "署名日時 (signing time):       {} (as claimed by the signer)",
            jtime::display(t)
        );
    }
    println!(
        "文書 (document):               {} ({} bytes, SHA-256 {})",
        match file {
            Some(f) => f.display().to_string(),
            None => "inside the signature".into(),
        },
        v.content.len(),
        hex::encode(Sha256::digest(&v.content))
    );
    println!("検証時刻 (checked at):         {}", jtime::display(at));
    if let Some(out) = out {
        if !v.attached {
            return Err(Error::InvalidInput(
                "--out: this signature is detached; the document is the FILE given".into(),
            )
            .into());
        }
        write_file(&out, &v.content)?;
        println!("the signed document was written to {}", out.display());
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
    println!(
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
    println!("利用者証明 (authentication):   VALID — 本人であることを確認しました");
    println!(
        "利用者 (user):                 {} (the certificate carries no personal data)",
        answer.certificate.tbs_certificate.subject
    );
    print_certificate(&checked, CertKind::Auth);
    Ok(())
}

/// `juki jpki …`.
pub fn run(reader: Option<&str>, command: JpkiCommand) -> Result<()> {
    match command {
        JpkiCommand::Ca {
            command: CaCommand::Init { dir },
        } => {
            let ca = JpkiCa::init(&dir, jtime::now()?)?;
            for kind in CertKind::ALL {
                let cert = ca.ca_certificate(kind);
                println!(
                    "{} CA: {} (\"{}\", valid until {})",
                    kind.as_str(),
                    dir.join(ca::cert_file(kind)).display(),
                    cert.tbs_certificate.subject,
                    jtime::display(jtime::from_x509(&cert.tbs_certificate.validity.not_after))
                );
            }
            println!(
                "CA keys in {} (mode 0600; keep them offline), records in {}",
                dir.display(),
                dir.join(ca::DB_FILE).display()
            );
            Ok(())
        }
        JpkiCommand::Ca {
            command: CaCommand::List { dir, card },
        } => {
            let ca = JpkiCa::open(&dir)?;
            let records = match &card {
                Some(c) => ca.certificates_of(c)?,
                None => ca.certificates()?,
            };
            if records.is_empty() {
                println!("no certificates issued");
            }
            for r in records {
                let state = match r.revoked {
                    None => "valid".to_string(),
                    Some((at, reason)) => format!(
                        "REVOKED {} ({}, {})",
                        jtime::display(at),
                        reason.as_str(),
                        reason.japanese()
                    ),
                };
                println!(
                    "{} {} card {} until {}: {state}",
                    r.serial,
                    r.kind.as_str(),
                    r.card_serial,
                    jtime::display(r.not_after)
                );
            }
            Ok(())
        }
        JpkiCommand::Crl { ca, out } => {
            let ca = JpkiCa::open(&ca)?;
            std::fs::create_dir_all(&out)
                .map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
            let now = jtime::now()?;
            for kind in CertKind::ALL {
                let crl = ca.crl(kind, now)?;
                let path = out.join(format!("{}.crl", kind.as_str()));
                write_file(&path, ca::crl_pem(&crl)?.as_bytes())?;
                let n = crl
                    .tbs_cert_list
                    .revoked_certificates
                    .as_ref()
                    .map_or(0, Vec::len);
                println!(
                    "{}: {} ({n} revoked; next update {})",
                    kind.as_str(),
                    path.display(),
                    jtime::display(now + ca::CRL_VALID_DAYS * jtime::DAY)
                );
            }
            Ok(())
        }
        JpkiCommand::Challenge { out } => {
            write_file(&out, &auth::new_challenge())?;
            println!(
                "challenge (チャレンジ): {} ({} random bytes)",
                out.display(),
                auth::CHALLENGE_LEN
            );
            Ok(())
        }
        JpkiCommand::Status {
            ca_cert,
            crl,
            no_sign,
        } => {
            // The trust anchors first: a missing file is told before the card is touched.
            let trusted = ca_cert
                .iter()
                .map(|p| Ok(validate::load_certificate(&read_file(p)?)?))
                .collect::<Result<Vec<_>>>()?;
            status(
                &mut crate::commands::open_card(reader, false)?,
                &trusted,
                &crl,
                no_sign,
            )
        }
    }
}

/// `juki jpki status`: 自己の電子証明書の有効性確認.
fn status(card: &mut Card, trusted: &[Certificate], crl: &[PathBuf], no_sign: bool) -> Result<()> {
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
        println!("== {} ==", kind);
        match citizen::check_card_certificates(&certs, kind, trusted, crls.as_deref(), at) {
            Ok(checked) => {
                print_certificate(&checked, kind);
                println!("状態 (state):                  有効 (valid)");
            }
            Err(e) => {
                println!("状態 (state):                  無効 (NOT valid): {e}");
                failed.get_or_insert(e);
            }
        }
        if let Some(info) = profile::four_info_of(&certs.cert)? {
            println!("記録事項 (recorded in it):");
            print_four_info(&info);
        }
    }
    if crls.is_none() {
        println!(
            "失効確認 (revocation) was not checked: give the CA's CRLs with --crl (juki jpki crl)"
        );
    }
    println!(
        "確認日 (checked on):           {}",
        date::display(date::today()?)
    );
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
