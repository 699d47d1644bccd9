//! The CA, the profile, CMS and the checks, without a card: a software P-256 key stands in for
//! the card's key (the card's own path is tested in tests/jpki_*.rs).

use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use rand_core::OsRng;
use x509_cert::der::Encode;

use super::ca::{CertRequest, JpkiCa, RevocationReason};
use super::cms::{self, SignOptions};
use super::time::{start_of_day, DAY};
use super::{auth, profile, validate, CertKind, JpkiError};
use juki_host::date::Date;
use juki_host::resident::{FourInfo, Sex};
use juki_host::Error;

const NOW: i64 = 1_796_050_800 + 10 * 3600; // 2026-12-01 10:00 JST

fn info() -> FourInfo {
    FourInfo::new(
        "住基 花子",
        "東京都千代田区千代田1-1",
        Date::from_ymd(1985, 4, 15).unwrap(),
        Sex::Female,
    )
    .unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    ca: JpkiCa,
    key: SigningKey,
    cert: Vec<u8>,
}

fn setup(card_expires: Date) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = JpkiCa::init(&dir.path().join("ca"), NOW).unwrap();
    let key = SigningKey::random(&mut OsRng);
    let info = info();
    let (_, cert) = ca
        .issue(
            &CertRequest {
                kind: CertKind::Sign,
                card_serial: "JK0000000001",
                resident: None,
                public_key: key.verifying_key(),
                four_info: &info,
                municipality: "千代田区",
                card_expires,
            },
            NOW,
        )
        .unwrap();
    Setup {
        _dir: dir,
        ca,
        key,
        cert: cert.to_der().unwrap(),
    }
}

fn far() -> Date {
    Date::from_ymd(2036, 11, 30).unwrap()
}

fn sign(s: &Setup, content: &[u8], attached: bool) -> Vec<u8> {
    let ca = s.ca.ca_certificate(CertKind::Sign).to_der().unwrap();
    cms::sign(
        content,
        &s.cert,
        &ca,
        SignOptions {
            attached,
            signing_time: NOW,
        },
        |hash| {
            let sig: Signature = s.key.sign_prehash(hash).unwrap();
            Ok(sig)
        },
    )
    .unwrap()
}

#[test]
fn certificate_profile() {
    let s = setup(far());
    let cert = validate::load_certificate(&s.cert).unwrap();
    assert_eq!(profile::four_info_of(&cert).unwrap(), Some(info()));
    let v = &cert.tbs_certificate.validity;
    assert_eq!(
        super::time::from_x509(&v.not_before),
        start_of_day(super::time::day_of(NOW).unwrap())
    );
    // Three years, to the day before the anniversary, 23:59:59 JST.
    assert_eq!(
        super::time::from_x509(&v.not_after),
        super::time::end_of_day(Date::from_ymd(2029, 11, 30).unwrap())
    );
    validate::check_kind(&cert, CertKind::Sign).unwrap();
    assert!(matches!(
        validate::check_kind(&cert, CertKind::Auth),
        Err(JpkiError::WrongKind(_))
    ));
    let record = &s.ca.certificates_of("JK0000000001").unwrap()[0];
    assert_eq!(record.serial, validate::serial(&cert));
    assert_eq!(record.der, s.cert);
    assert!(record.revoked.is_none());
}

#[test]
fn validity_ends_with_the_card() {
    let expires = Date::from_ymd(2028, 3, 31).unwrap();
    let s = setup(expires);
    let cert = validate::load_certificate(&s.cert).unwrap();
    assert_eq!(
        super::time::from_x509(&cert.tbs_certificate.validity.not_after),
        super::time::end_of_day(expires)
    );
}

#[test]
fn signed_document_verifies_and_tampering_is_caught() {
    let s = setup(far());
    let doc = "電子申請書: 転出届\n".as_bytes();
    let ca = s.ca.ca_certificate(CertKind::Sign).clone();
    let crl = s.ca.crl(CertKind::Sign, NOW).unwrap();
    for attached in [false, true] {
        let p7s = sign(&s, doc, attached);
        let detached = (!attached).then_some(doc);
        let v = cms::verify(
            &p7s,
            detached,
            &ca,
            Some(std::slice::from_ref(&crl)),
            NOW + 60,
        )
        .unwrap();
        assert_eq!(v.four_info, info());
        assert_eq!(v.content, doc);
        assert_eq!(v.attached, attached);
        assert_eq!(v.signing_time, Some(NOW));
        let mut other = doc.to_vec();
        other[0] ^= 1;
        assert!(matches!(
            cms::verify(
                &p7s,
                Some(&other),
                &ca,
                Some(std::slice::from_ref(&crl)),
                NOW
            ),
            Err(JpkiError::Tampered)
        ));
    }
    // A detached signature without its document is refused, not accepted.
    let p7s = sign(&s, doc, false);
    assert!(matches!(
        cms::verify(&p7s, None, &ca, None, NOW),
        Err(JpkiError::Malformed { .. })
    ));
    // A flipped byte in the signature value.
    let mut bad = p7s.clone();
    let at = bad.len() - 10;
    bad[at] ^= 0x01;
    assert!(matches!(
        cms::verify(&bad, Some(doc), &ca, None, NOW),
        Err(JpkiError::BadSignature | JpkiError::Malformed { .. })
    ));
    // Garbage.
    assert!(matches!(
        cms::verify(b"not a signature", Some(doc), &ca, None, NOW),
        Err(JpkiError::Malformed { .. })
    ));
}

#[test]
fn revoked_expired_and_foreign_are_rejected() {
    let s = setup(far());
    let doc = b"application";
    let p7s = sign(&s, doc, false);
    let ca = s.ca.ca_certificate(CertKind::Sign).clone();

    // No CRL given: refused unless the check is skipped knowingly.
    assert!(matches!(
        cms::verify(&p7s, Some(doc), &ca, Some(&[]), NOW),
        Err(JpkiError::NoCrl(_))
    ));
    assert!(cms::verify(&p7s, Some(doc), &ca, None, NOW).is_ok());

    // The auth CA's CRL is not the signing CA's.
    let auth_crl = s.ca.crl(CertKind::Auth, NOW).unwrap();
    assert!(matches!(
        cms::verify(&p7s, Some(doc), &ca, Some(&[auth_crl]), NOW),
        Err(JpkiError::NoCrl(_))
    ));

    // A CRL past its next update is not current.
    let old = s.ca.crl(CertKind::Sign, NOW).unwrap();
    assert!(matches!(
        cms::verify(&p7s, Some(doc), &ca, Some(&[old]), NOW + 8 * DAY),
        Err(JpkiError::CrlNotCurrent(_))
    ));

    // Revoked (an address change at the counter).
    let cert = validate::load_certificate(&s.cert).unwrap();
    assert!(s
        .ca
        .revoke(
            &validate::serial(&cert),
            RevocationReason::FourInfoChanged,
            NOW + 30
        )
        .unwrap());
    assert!(!s
        .ca
        .revoke(
            &validate::serial(&cert),
            RevocationReason::Requested,
            NOW + 40
        )
        .unwrap());
    let crl = s.ca.crl(CertKind::Sign, NOW + 60).unwrap();
    match cms::verify(&p7s, Some(doc), &ca, Some(&[crl]), NOW + 120) {
        Err(JpkiError::Revoked { reason, serial, .. }) => {
            assert!(reason.contains("affiliationChanged"), "{reason}");
            assert_eq!(serial, validate::serial(&cert));
        }
        other => panic!("expected revoked, got {other:?}"),
    }
    // Not yet valid / expired.
    assert!(matches!(
        cms::verify(&p7s, Some(doc), &ca, None, NOW - 2 * DAY),
        Err(JpkiError::NotYetValid { .. })
    ));
    assert!(matches!(
        cms::verify(&p7s, Some(doc), &ca, None, NOW + 4 * 365 * DAY),
        Err(JpkiError::Expired { .. })
    ));

    // A foreign CA of the same name.
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign = JpkiCa::init(foreign_dir.path(), NOW).unwrap();
    assert!(matches!(
        cms::verify(
            &p7s,
            Some(doc),
            foreign.ca_certificate(CertKind::Sign),
            None,
            NOW
        ),
        Err(JpkiError::WrongCa(_))
    ));
    // The other CA of the same authority.
    assert!(matches!(
        cms::verify(
            &p7s,
            Some(doc),
            s.ca.ca_certificate(CertKind::Auth),
            None,
            NOW
        ),
        Err(JpkiError::WrongCa(_))
    ));
    // A CRL signed by the foreign CA is refused.
    let forged = foreign.crl(CertKind::Sign, NOW).unwrap();
    assert!(matches!(
        validate::check_crl(&forged, &ca, NOW),
        Err(JpkiError::BadCrl(_))
    ));
}

#[test]
fn ca_refuses_to_overwrite_and_revokes_by_card() {
    let s = setup(far());
    use std::os::unix::fs::PermissionsExt;
    let mode = |name: &str| {
        std::fs::metadata(s.ca.dir().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("sign-ca.key"), 0o600);
    assert_eq!(mode("auth-ca.key"), 0o600);
    assert_eq!(mode("ca.db"), 0o600);
    assert_eq!(mode(""), 0o700);
    let err = JpkiCa::init(s.ca.dir(), NOW).unwrap_err();
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    let revoked =
        s.ca.revoke_card("JK0000000001", RevocationReason::Suspended, NOW)
            .unwrap();
    assert_eq!(revoked.len(), 1);
    assert!(s
        .ca
        .revoke_card("JK0000000001", RevocationReason::Suspended, NOW)
        .unwrap()
        .is_empty());
    assert!(matches!(
        s.ca.revoke("0123456789ABCDEF", RevocationReason::Requested, NOW),
        Err(JpkiError::Host(Error::InvalidInput(_)))
    ));
    let reopened = JpkiCa::open(s.ca.dir()).unwrap();
    assert_eq!(reopened.certificates().unwrap().len(), 1);
    // CRL numbers rise.
    let n1 = s.ca.crl(CertKind::Sign, NOW).unwrap();
    let n2 = s.ca.crl(CertKind::Sign, NOW).unwrap();
    assert_ne!(
        n1.tbs_cert_list.crl_extensions,
        n2.tbs_cert_list.crl_extensions
    );
    assert!(JpkiCa::open(&s.ca.dir().join("nothing")).is_err());
}

#[test]
fn auth_answers() {
    let dir = tempfile::tempdir().unwrap();
    let ca = JpkiCa::init(dir.path(), NOW).unwrap();
    let key = SigningKey::random(&mut OsRng);
    let (_, cert) = ca
        .issue(
            &CertRequest {
                kind: CertKind::Auth,
                card_serial: "JK0000000002",
                resident: None,
                public_key: key.verifying_key(),
                four_info: &info(),
                municipality: "千代田区",
                card_expires: far(),
            },
            NOW,
        )
        .unwrap();
    assert_eq!(
        profile::four_info_of(&cert).unwrap(),
        None,
        "no personal data"
    );
    let challenge = auth::new_challenge();
    let signature: Signature = key.sign_prehash(&auth::digest(&challenge)).unwrap();
    let answer = auth::Answer {
        signature,
        certificate: cert,
    };
    let text = answer.to_pem().unwrap();
    let back = auth::Answer::from_pem(text.as_bytes()).unwrap();
    let crl = ca.crl(CertKind::Auth, NOW).unwrap();
    let ca_cert = ca.ca_certificate(CertKind::Auth);
    auth::verify(
        &back,
        &challenge,
        ca_cert,
        Some(std::slice::from_ref(&crl)),
        NOW,
    )
    .unwrap();
    let other = auth::new_challenge();
    assert!(matches!(
        auth::verify(&back, &other, ca_cert, None, NOW),
        Err(JpkiError::ChallengeMismatch)
    ));
    assert!(matches!(
        auth::verify(
            &back,
            &challenge,
            ca.ca_certificate(CertKind::Sign),
            None,
            NOW
        ),
        Err(JpkiError::WrongCa(_))
    ));
    assert!(matches!(
        auth::verify(&back, &challenge[..8], ca_cert, None, NOW),
        Err(JpkiError::Malformed { .. })
    ));
    assert!(auth::Answer::from_pem(b"garbage").is_err());
    // The check of a certificate the caller found in the CA's records: the same answer holds,
    // another challenge does not, nor the certificate out of its validity or the CA's.
    auth::verify_recorded(&back, &challenge, ca_cert, NOW).unwrap();
    assert!(matches!(
        auth::verify_recorded(&back, &other, ca_cert, NOW),
        Err(JpkiError::ChallengeMismatch)
    ));
    assert!(auth::verify_recorded(&back, &challenge, ca_cert, NOW + 4 * 365 * DAY).is_err());
    assert!(auth::verify_recorded(&back, &challenge, ca_cert, NOW - 2 * DAY).is_err());
}

#[test]
fn a_signing_time_outside_the_certificate_is_rejected() {
    let s = setup(far());
    let ca_der = s.ca.ca_certificate(CertKind::Sign).to_der().unwrap();
    let p7s = cms::sign(
        b"doc",
        &s.cert,
        &ca_der,
        SignOptions {
            attached: false,
            signing_time: NOW - 2 * DAY,
        },
        |hash| Ok(s.key.sign_prehash(hash).unwrap()),
    )
    .unwrap();
    let ca = s.ca.ca_certificate(CertKind::Sign);
    assert!(matches!(
        cms::verify(&p7s, Some(b"doc"), ca, None, NOW),
        Err(JpkiError::SigningTimeOutside(_))
    ));
}

#[test]
fn a_card_answer_that_does_not_match_the_certificate_is_not_written() {
    let s = setup(far());
    let ca_der = s.ca.ca_certificate(CertKind::Sign).to_der().unwrap();
    let other = SigningKey::random(&mut OsRng);
    let r = cms::sign(
        b"doc",
        &s.cert,
        &ca_der,
        SignOptions {
            attached: false,
            signing_time: NOW,
        },
        |hash| Ok(other.sign_prehash(hash).unwrap()),
    );
    assert!(matches!(r, Err(JpkiError::Host(Error::Crypto(_)))), "{r:?}");
}

#[test]
fn a_truncated_pem_certificate_is_an_error_not_a_hang() {
    // Found by fuzzing (fuzz/regressions/host_certificates): the PEM body ends inside a length.
    let pem = b"-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        validate::load_certificate(pem),
        Err(JpkiError::Malformed { .. })
    ));
    let crl = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    assert!(validate::load_crl(crl).is_err());
}

/// What a card would hold: a certificate and the CA certificate stored beside it.
fn card_pair(cert: &[u8], ca: &x509_cert::Certificate) -> super::citizen::CardCertificates {
    super::citizen::CardCertificates {
        cert: validate::load_certificate(cert).unwrap(),
        ca: ca.clone(),
        cert_der: cert.to_vec(),
        ca_der: ca.to_der().unwrap(),
    }
}

#[test]
fn status_trusts_the_configured_ca_not_the_card() {
    use super::citizen::check_card_certificates;
    let genuine = setup(far());
    let trusted = [
        genuine.ca.ca_certificate(CertKind::Sign).clone(),
        genuine.ca.ca_certificate(CertKind::Auth).clone(),
    ];
    let good = card_pair(&genuine.cert, genuine.ca.ca_certificate(CertKind::Sign));
    let checked = check_card_certificates(&good, CertKind::Sign, &trusted, None, NOW).unwrap();
    assert_eq!(checked.serial, validate::serial(&good.cert));

    // A fake card: a certificate of a foreign CA (same names), with that CA's certificate on
    // the card. Checked against the card's own CA it passes: that is the attack.
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign = JpkiCa::init(&foreign_dir.path().join("ca"), NOW).unwrap();
    let key = SigningKey::random(&mut OsRng);
    let (_, forged) = foreign
        .issue(
            &CertRequest {
                kind: CertKind::Sign,
                card_serial: "JK0000000001",
                resident: None,
                public_key: key.verifying_key(),
                four_info: &info(),
                municipality: "千代田区",
                card_expires: far(),
            },
            NOW,
        )
        .unwrap();
    let fake = card_pair(
        &forged.to_der().unwrap(),
        foreign.ca_certificate(CertKind::Sign),
    );
    let own_ca = [foreign.ca_certificate(CertKind::Sign).clone()];
    assert!(check_card_certificates(&fake, CertKind::Sign, &own_ca, None, NOW).is_ok());
    let e = check_card_certificates(&fake, CertKind::Sign, &trusted, None, NOW).unwrap_err();
    assert!(matches!(e, JpkiError::WrongCa(_)), "{e:?}");
    assert!(e.to_string().contains("信頼する認証局"), "{e}");
    assert!(e.is_rejection());

    // A genuine certificate beside a foreign CA certificate on the card: not valid either.
    let swapped = card_pair(&genuine.cert, foreign.ca_certificate(CertKind::Sign));
    let e = check_card_certificates(&swapped, CertKind::Sign, &trusted, None, NOW).unwrap_err();
    assert!(
        matches!(&e, JpkiError::WrongCa(m) if m.contains("stored on the card")),
        "{e:?}"
    );

    // Only the authentication CA trusted: the signing certificate has no trusted issuer.
    let e = check_card_certificates(&good, CertKind::Sign, &trusted[1..], None, NOW).unwrap_err();
    assert!(
        matches!(&e, JpkiError::WrongCa(m) if m.contains("--ca-cert")),
        "{e:?}"
    );
}

#[test]
fn the_newest_crl_wins_whatever_the_order() {
    let s = setup(far());
    let doc = b"application";
    let p7s = sign(&s, doc, false);
    let ca = s.ca.ca_certificate(CertKind::Sign).clone();
    let cert = validate::load_certificate(&s.cert).unwrap();
    // CRL 1, before the revocation (dated later than CRL 2: the number decides, not the date).
    let older = s.ca.crl(CertKind::Sign, NOW + 100).unwrap();
    assert!(s
        .ca
        .revoke(
            &validate::serial(&cert),
            RevocationReason::FourInfoChanged,
            NOW + 30
        )
        .unwrap());
    // CRL 2 lists the revocation.
    let listing = s.ca.crl(CertKind::Sign, NOW + 60).unwrap();
    // A forged CRL under the same name with a higher number (6) that lists nothing.
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign = JpkiCa::init(foreign_dir.path(), NOW).unwrap();
    for _ in 0..5 {
        foreign.crl(CertKind::Sign, NOW + 90).unwrap();
    }
    let forged = foreign.crl(CertKind::Sign, NOW + 90).unwrap();

    let verdict = |crls: &[x509_cert::crl::CertificateList]| {
        cms::verify(&p7s, Some(doc), &ca, Some(crls), NOW + 120)
    };
    assert!(
        verdict(std::slice::from_ref(&older)).is_ok(),
        "the old CRL does not list it"
    );
    for crls in [
        vec![older.clone(), listing.clone()],
        vec![listing.clone(), older.clone()],
        vec![older.clone(), forged.clone(), listing.clone()],
        vec![forged.clone(), older.clone(), listing.clone()],
    ] {
        match verdict(&crls) {
            Err(JpkiError::Revoked { serial, .. }) => {
                assert_eq!(serial, validate::serial(&cert))
            }
            other => panic!("the newest CRL must win: {other:?}"),
        }
        assert_eq!(validate::newest_crl(&crls, &ca).unwrap(), &listing);
    }
    // Only the forged one: refused, never taken as "not revoked".
    assert!(matches!(verdict(&[forged]), Err(JpkiError::BadCrl(_))));
}

/// Records in a `ca.db` of the previous juki: one revoked certificate, four CRLs published.
const CA_DB_V1_RECORDS: &str = r#"
INSERT INTO certificates VALUES ('40AA00000000000B', 'sign', 'JK0000000009', 'CN=old', 10, 20,
    10, x'3000', 15, 'card-suspended');
INSERT INTO crl_numbers VALUES ('sign', 4);
"#;

#[test]
fn ca_db_of_the_previous_juki_opens_and_a_newer_one_is_refused() {
    let s = setup(far());
    let dir = s.ca.dir().to_path_buf();
    let db_path = dir.join(super::ca::DB_FILE);
    drop(s.ca);
    std::fs::remove_file(&db_path).unwrap();
    {
        // `JpkiCa::init` of the previous juki: the schema (migration 1, unchanged since) and
        // its version in one batch.
        let conn = rusqlite::Connection::open(&db_path).unwrap();
        let schema = super::ca::MIGRATIONS[0];
        conn.execute_batch(&format!("BEGIN; {schema} PRAGMA user_version = 1; COMMIT;"))
            .unwrap();
        conn.execute_batch(CA_DB_V1_RECORDS).unwrap();
    }
    let ca = JpkiCa::open(&dir).unwrap();
    let old = ca.certificate("40AA00000000000B").unwrap().unwrap();
    assert_eq!(old.card_serial, "JK0000000009");
    assert_eq!(old.revoked, Some((15, RevocationReason::Suspended)));
    // The old revocation is listed.
    let crl = ca.crl(CertKind::Sign, NOW).unwrap();
    assert!(crl
        .tbs_cert_list
        .revoked_certificates
        .as_ref()
        .is_some_and(|r| r.len() == 1));
    drop(ca);

    let newer = super::ca::SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&db_path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let err = JpkiCa::open(&dir).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "schema version {newer}, newer than this juki understands"
        )) && err.contains("use a newer juki")
            && err.contains("ca.db"),
        "{err}"
    );
}
