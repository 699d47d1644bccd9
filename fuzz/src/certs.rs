//! Target `host_certificates`: what the agency and the citizen's PC parse and check —
//! certificates, CRLs, CMS signatures (`.p7s`) and login answers — against fixed, genuine
//! artefacts of juki's own CA and card (`fuzz/fixtures/`, written by `src/bin/seeds.rs`).
//!
//! The whole input goes to every parser (`validate::load_certificate`, `validate::load_crl`,
//! `cms::parse`, `auth::Answer::from_pem`, DER or PEM); what parses is checked further.
//!
//! Invariants: no panic; nothing forged is accepted: a certificate that passes
//! `check_certificate` against a fixture CA has the to-be-signed part of a genuine fixture
//! certificate, and only the genuine CA certificate certifies a genuine certificate; a CRL that
//! passes `check_crl` is a genuine fixture CRL; a `.p7s` that passes `cms::verify` signs the
//! fixture document with the genuine signing certificate and yields the sample resident's 4
//! info, and no `.p7s` verifies for another document; a login answer that passes `auth::verify`
//! carries the genuine authentication certificate.

use std::sync::OnceLock;

use juki_host::resident::FourInfo;
use juki_jpki::{auth, cms, profile, validate, CertKind};
use x509_cert::crl::CertificateList;
use x509_cert::der::Encode;
use x509_cert::Certificate;

/// The time the fixtures were made (the CA's `now`; the CMS signing time): 2026-12-01 10:00 JST.
pub const NOW: i64 = 1_796_050_800 + 10 * 3600;
/// The time of the checks: one hour later (the fixture CRLs are current then, for 7 days).
pub const CHECK_AT: i64 = NOW + 3600;
/// The document the fixture `.p7s` sign.
pub const DOCUMENT: &[u8] = "電子申請: 転出届 (juki fuzz fixture)\n".as_bytes();
/// The challenge the fixture login answer answers.
pub const CHALLENGE: &[u8] = b"juki fuzz fixture login challenge 0123456789";

/// The genuine artefacts.
pub struct Fixtures {
    /// Signing certificate (DER).
    pub sign_der: Vec<u8>,
    /// Signing CA certificate (DER).
    pub sign_ca_der: Vec<u8>,
    /// Authentication certificate (DER).
    pub auth_der: Vec<u8>,
    /// Authentication CA certificate (DER).
    pub auth_ca_der: Vec<u8>,
    /// Signing certificate.
    pub sign: Certificate,
    /// Signing CA certificate.
    pub sign_ca: Certificate,
    /// Authentication certificate.
    pub auth: Certificate,
    /// Authentication CA certificate.
    pub auth_ca: Certificate,
    /// The current CRLs of both CAs, nothing revoked.
    pub crls: Vec<CertificateList>,
    /// To-be-signed DER of the two card certificates.
    pub cert_tbs: Vec<Vec<u8>>,
    /// To-be-signed DER of the genuine CRLs: the current ones and a later signing CRL that
    /// revokes the signing certificate.
    pub crl_tbs: Vec<Vec<u8>>,
    /// The 4 info in the signing certificate.
    pub info: FourInfo,
}

/// Fixture file names, as `src/bin/seeds.rs` writes them.
pub const FIXTURE_FILES: [&str; 7] = [
    "sign.der",
    "sign_ca.der",
    "auth.der",
    "auth_ca.der",
    "crl_sign.der",
    "crl_auth.der",
    "crl_sign_revoked.der",
];

const SIGN_DER: &[u8] = include_bytes!("../fixtures/sign.der");
const SIGN_CA_DER: &[u8] = include_bytes!("../fixtures/sign_ca.der");
const AUTH_DER: &[u8] = include_bytes!("../fixtures/auth.der");
const AUTH_CA_DER: &[u8] = include_bytes!("../fixtures/auth_ca.der");
const CRL_SIGN_DER: &[u8] = include_bytes!("../fixtures/crl_sign.der");
const CRL_AUTH_DER: &[u8] = include_bytes!("../fixtures/crl_auth.der");
const CRL_SIGN_REVOKED_DER: &[u8] = include_bytes!("../fixtures/crl_sign_revoked.der");

/// The fixture certificates, DER as stored: signing, signing CA, authentication, its CA.
pub const CERT_FILES: [&[u8]; 4] = [SIGN_DER, SIGN_CA_DER, AUTH_DER, AUTH_CA_DER];

fn cert(name: &str, der: &[u8]) -> Certificate {
    validate::load_certificate(der).unwrap_or_else(|e| {
        panic!(
            "fuzz/fixtures/{name}: {e}; regenerate with `cargo run --manifest-path \
             fuzz/Cargo.toml --no-default-features --features seeds --bin seeds`"
        )
    })
}

fn crl(name: &str, der: &[u8]) -> CertificateList {
    validate::load_crl(der)
        .unwrap_or_else(|e| panic!("fuzz/fixtures/{name}: {e}; regenerate with the seeds binary"))
}

/// The fixtures, parsed once.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let sign = cert("sign.der", SIGN_DER);
        let auth = cert("auth.der", AUTH_DER);
        let crls = vec![
            crl("crl_sign.der", CRL_SIGN_DER),
            crl("crl_auth.der", CRL_AUTH_DER),
        ];
        let cert_tbs = [&sign, &auth]
            .iter()
            .map(|c| c.tbs_certificate.to_der().expect("tbs DER"))
            .collect();
        let revoked = crl("crl_sign_revoked.der", CRL_SIGN_REVOKED_DER);
        let crl_tbs = crls
            .iter()
            .chain([&revoked])
            .map(|c| c.tbs_cert_list.to_der().expect("tbs DER"))
            .collect();
        let info = profile::four_info_of(&sign)
            .ok()
            .flatten()
            .expect("the fixture signing certificate carries the 4 info");
        Fixtures {
            sign_der: SIGN_DER.to_vec(),
            sign_ca_der: SIGN_CA_DER.to_vec(),
            auth_der: AUTH_DER.to_vec(),
            auth_ca_der: AUTH_CA_DER.to_vec(),
            sign_ca: cert("sign_ca.der", SIGN_CA_DER),
            auth_ca: cert("auth_ca.der", AUTH_CA_DER),
            sign,
            auth,
            crls,
            cert_tbs,
            crl_tbs,
            info,
        }
    })
}

fn tbs_of(cert: &Certificate) -> Vec<u8> {
    cert.tbs_certificate.to_der().unwrap_or_default()
}

fn check_certificate(f: &Fixtures, cert: &Certificate) {
    let _ = validate::serial(cert);
    let _ = validate::public_key(cert);
    let _ = profile::four_info_of(cert);
    for kind in CertKind::ALL {
        let _ = validate::check_kind(cert, kind);
    }
    for (kind, ca, card_cert) in [
        (CertKind::Sign, &f.sign_ca, &f.sign),
        (CertKind::Auth, &f.auth_ca, &f.auth),
    ] {
        if validate::check_certificate(cert, kind, ca, Some(&f.crls), CHECK_AT).is_ok() {
            assert!(
                f.cert_tbs.contains(&tbs_of(cert)),
                "a certificate the CA never issued passes check_certificate as a {kind}"
            );
        }
        // The input as the trusted CA certificate.
        if validate::verify_issued_by(card_cert, cert).is_ok() {
            assert!(
                cert.tbs_certificate.subject == ca.tbs_certificate.subject
                    && cert.tbs_certificate.subject_public_key_info
                        == ca.tbs_certificate.subject_public_key_info,
                "another CA certificate certifies the genuine {kind} certificate"
            );
        }
    }
}

fn check_crl(f: &Fixtures, crl: &CertificateList) {
    for ca in [&f.sign_ca, &f.auth_ca] {
        if validate::check_crl(crl, ca, CHECK_AT).is_ok() {
            let tbs = crl.tbs_cert_list.to_der().unwrap_or_default();
            assert!(
                f.crl_tbs.contains(&tbs),
                "a CRL the CA never signed passes check_crl"
            );
        }
    }
    let _ = validate::revocation_of(crl, &f.sign);
    let _ = validate::revocation_of(crl, &f.auth);
}

fn check_cms(f: &Fixtures, p7s: &[u8]) {
    for detached in [Some(DOCUMENT), None] {
        if let Ok(v) = cms::verify(p7s, detached, &f.sign_ca, Some(&f.crls), CHECK_AT) {
            assert_eq!(v.content, DOCUMENT, "a .p7s verifies for another content");
            assert_eq!(v.four_info, f.info, "a verified .p7s tells other 4 info");
            assert!(
                f.cert_tbs.contains(&tbs_of(&v.signer)),
                "a .p7s verifies with a signer certificate the CA never issued"
            );
        }
    }
    assert!(
        cms::verify(
            p7s,
            Some(b"another document"),
            &f.sign_ca,
            Some(&f.crls),
            CHECK_AT
        )
        .is_err(),
        "a .p7s verifies for a document it does not sign"
    );
}

fn check_answer(f: &Fixtures, answer: &auth::Answer) {
    if let Ok(checked) = auth::verify(answer, CHALLENGE, &f.auth_ca, Some(&f.crls), CHECK_AT) {
        assert!(
            f.cert_tbs.contains(&tbs_of(&answer.certificate)),
            "a login answer verifies with a certificate the CA never issued"
        );
        assert_eq!(checked.serial, validate::serial(&f.auth));
    }
    let _ = answer.to_pem();
}

/// Target `host_certificates` (see the module documentation).
pub fn host_certificates(data: &[u8]) {
    let f = fixtures();
    if let Ok(cert) = validate::load_certificate(data) {
        check_certificate(f, &cert);
    }
    if let Ok(crl) = validate::load_crl(data) {
        check_crl(f, &crl);
    }
    if cms::parse(data).is_ok() {
        check_cms(f, data);
    }
    if let Ok(answer) = auth::Answer::from_pem(data) {
        check_answer(f, &answer);
    }
    check_copy(data);
}

/// A 住民票の写し's text is accepted only in its canonical form (what is read renders back to
/// the same bytes), and the JPKI CA, which never issued a seal, certifies no copy.
fn check_copy(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(copy) = juki_net::copy::ResidentCopy::parse(text) {
            assert_eq!(
                copy.to_text().ok().as_deref(),
                Some(text),
                "a non-canonical copy was accepted"
            );
        }
    }
    let f = fixtures();
    assert!(
        juki_net::copy::verify(data, &f.sign_ca, Some(&f.crls), CHECK_AT).is_err(),
        "a copy verifies with a CA that never issued a seal"
    );
}
