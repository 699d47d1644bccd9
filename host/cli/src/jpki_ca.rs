//! The JPKI certification authority's commands (`juki jpki ca …`, `crl`) and the relying
//! party's challenge (`juki jpki challenge`).

use std::path::Path;

use juki_host::Error;
use juki_jpki::ca::{self, JpkiCa, RevocationReason};
use juki_jpki::{auth, time as jtime, CertKind};

use crate::failure::Result;
use crate::files::write_file;
use crate::output::{cert_name, field};
use crate::{out, t};

/// `juki jpki ca init`.
pub fn ca_init(dir: &Path) -> Result<()> {
    let ca = JpkiCa::init(dir, jtime::now()?)?;
    for kind in CertKind::ALL {
        let cert = ca.ca_certificate(kind);
        field(
            &t!("jpki-ca-of", kind = cert_name(kind)),
            t!(
                "jpki-ca-certificate",
                path = dir.join(ca::cert_file(kind)).display().to_string(),
                subject = cert.tbs_certificate.subject.to_string(),
                until = jtime::display(jtime::from_x509(&cert.tbs_certificate.validity.not_after))
            ),
        );
    }
    out!(
        "{}",
        t!(
            "jpki-ca-keys",
            dir = dir.display().to_string(),
            db = dir.join(ca::DB_FILE).display().to_string()
        )
    );
    Ok(())
}

/// `juki jpki ca list`.
pub fn ca_list(dir: &Path, card: Option<&str>) -> Result<()> {
    let ca = JpkiCa::open(dir)?;
    let records = match card {
        Some(c) => ca.certificates_of(c)?,
        None => ca.certificates()?,
    };
    if records.is_empty() {
        out!("{}", t!("jpki-ca-none-issued"));
    }
    for r in records {
        let state = match r.revoked {
            None => t!("jpki-ca-cert-valid"),
            Some((at, reason)) => t!(
                "jpki-ca-cert-revoked",
                date = jtime::display(at),
                reason = revocation_reason(reason)
            ),
        };
        out!(
            "{}",
            t!(
                "jpki-ca-cert",
                serial = r.serial.as_str(),
                kind = cert_name(r.kind),
                card = r.card_serial.as_str(),
                until = jtime::display(r.not_after),
                state = state
            )
        );
    }
    Ok(())
}

/// `juki jpki crl`.
pub fn crl(ca_dir: &Path, out: &Path) -> Result<()> {
    let ca = JpkiCa::open(ca_dir)?;
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(t!("jpki-creating", path = out.display().to_string()), e))?;
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
        field(
            &cert_name(kind),
            t!(
                "jpki-crl-written",
                path = path.display().to_string(),
                revoked = n,
                next_update = jtime::display(now + ca::CRL_VALID_DAYS * jtime::DAY)
            ),
        );
    }
    Ok(())
}

/// `juki jpki challenge`.
pub fn challenge(out: &Path) -> Result<()> {
    write_file(out, &auth::new_challenge())?;
    out!(
        "{}",
        t!(
            "jpki-challenge-written",
            path = out.display().to_string(),
            bytes = auth::CHALLENGE_LEN
        )
    );
    Ok(())
}

/// Why the CA revoked a certificate, in words.
fn revocation_reason(reason: RevocationReason) -> String {
    match reason {
        RevocationReason::FourInfoChanged => t!("revocation-four-info-changed"),
        RevocationReason::CodeChanged => t!("revocation-code-changed"),
        RevocationReason::Suspended => t!("revocation-suspended"),
        RevocationReason::Terminated => t!("revocation-terminated"),
        RevocationReason::Reissued => t!("revocation-reissued"),
        RevocationReason::Requested => t!("revocation-requested"),
    }
}
