//! The JPKI certification authority's commands (`juki jpki ca …`, `crl`) and the relying
//! party's challenge (`juki jpki challenge`).

use std::path::Path;

use juki_host::Error;
use juki_jpki::ca::{self, JpkiCa};
use juki_jpki::{auth, time as jtime, CertKind};

use crate::failure::Result;
use crate::files::write_file;
use crate::out;

/// `juki jpki ca init`.
pub fn ca_init(dir: &Path) -> Result<()> {
    let ca = JpkiCa::init(dir, jtime::now()?)?;
    for kind in CertKind::ALL {
        let cert = ca.ca_certificate(kind);
        out!(
            "{} CA: {} (\"{}\", valid until {})",
            kind.as_str(),
            dir.join(ca::cert_file(kind)).display(),
            cert.tbs_certificate.subject,
            jtime::display(jtime::from_x509(&cert.tbs_certificate.validity.not_after))
        );
    }
    out!(
        "CA keys in {} (mode 0600; keep them offline), records in {}",
        dir.display(),
        dir.join(ca::DB_FILE).display()
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
        out!("no certificates issued");
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
        out!(
            "{} {} card {} until {}: {state}",
            r.serial,
            r.kind.as_str(),
            r.card_serial,
            jtime::display(r.not_after)
        );
    }
    Ok(())
}

/// `juki jpki crl`.
pub fn crl(ca_dir: &Path, out: &Path) -> Result<()> {
    let ca = JpkiCa::open(ca_dir)?;
    std::fs::create_dir_all(out)
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
        out!(
            "{}: {} ({n} revoked; next update {})",
            kind.as_str(),
            path.display(),
            jtime::display(now + ca::CRL_VALID_DAYS * jtime::DAY)
        );
    }
    Ok(())
}

/// `juki jpki challenge`.
pub fn challenge(out: &Path) -> Result<()> {
    write_file(out, &auth::new_challenge())?;
    out!(
        "challenge (チャレンジ): {} ({} random bytes)",
        out.display(),
        auth::CHALLENGE_LEN
    );
    Ok(())
}
