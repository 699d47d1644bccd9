//! The sealed 住民票の写し: its canonical text both ways, the seal, and every way a forged or
//! altered copy is refused.

use x509_cert::der::Encode;

use super::*;
use crate::pki::seal::{SEAL_CERT_FILE, SEAL_KEY_FILE};
use crate::pki::{NetworkCa, NodeCertificate, Role, NODE_CERT_FILE, NODE_KEY_FILE};

const NOW: i64 = 1_796_050_800; // 2026-12-01 00:00 JST
const DAY: i64 = 86_400;

fn kita() -> MunicipalityCode {
    MunicipalityCode::parse("271276").unwrap()
}

fn chiyoda() -> MunicipalityCode {
    MunicipalityCode::parse("131016").unwrap()
}

fn resident(status: Status) -> Resident {
    Resident {
        code: (0..10)
            .find_map(|d| ResidentCode::parse(&format!("1234567890{d}")).ok())
            .unwrap(),
        info: FourInfo {
            name: "山田 花子".into(),
            address: "大阪府大阪市北区中之島1-3-20".into(),
            birth: date::parse_user_date("1990-04-01").unwrap(),
            sex: Sex::Female,
        },
        municipality: kita(),
        status,
        version: 3,
        changed_on: date::parse_user_date("2026-11-30").unwrap(),
    }
}

fn copy() -> ResidentCopy {
    ResidentCopy::new(
        resident(Status::Registered),
        42,
        NOW + 3600 + 61,
        kita(),
        "大阪市北区",
    )
    .unwrap()
}

struct Net {
    _dir: tempfile::TempDir,
    ca: NetworkCa,
    kita: Seal,
}

fn net() -> Net {
    let dir = tempfile::tempdir().unwrap();
    let ca = NetworkCa::init(&dir.path().join("ca"), NOW - DAY).unwrap();
    let node = dir.path().join("kita");
    ca.issue_node(&Role::Municipality(kita()), 365, NOW - DAY, &node)
        .unwrap();
    ca.issue_seal(&kita(), "大阪市北区", 365, NOW - DAY, &node)
        .unwrap();
    let kita = Seal::load(&node).unwrap();
    Net {
        _dir: dir,
        ca,
        kita,
    }
}

fn crl(ca: &NetworkCa, at: i64) -> Vec<CertificateList> {
    vec![ca.crl(at).unwrap()]
}

#[test]
fn the_text_reads_back_and_only_its_canonical_form() {
    let c = copy();
    let text = c.to_text().unwrap();
    assert!(text.starts_with("住民票の写し（広域交付）\n様式: juki-copy/1\n"));
    assert!(text.contains("交付番号: 271276-42\n"));
    assert!(text.contains("交付日時: 2026-12-01 01:01:01 JST\n"));
    assert!(text.contains("本籍・筆頭者: 省略（広域交付）\n"));
    assert!(text.ends_with("大阪市北区長（271276）\n"));
    assert_eq!(ResidentCopy::parse(&text).unwrap(), c);
    let moving = ResidentCopy {
        resident: resident(Status::MovingOut { to: chiyoda() }),
        ..c.clone()
    };
    let t = moving.to_text().unwrap();
    assert!(t.contains("状態: 転出予定（転出先 131016）\n"));
    assert_eq!(ResidentCopy::parse(&t).unwrap(), moving);
    for altered in [
        text.replace("氏名: ", "氏名:"),
        text.replace("氏名: 山田 花子", "氏名: "),
        text.replace("\n\n", "\n"),
        format!("{text}追記\n"),
        text.replace("様式: juki-copy/1", "様式: juki-copy/2"),
        text.replace("性別: 女", "性別: 2"),
        text.replace("交付番号: 271276-42", "交付番号: 131016-42"),
        text.replace("01:01:01 JST", "01:01:61 JST"),
        text.replace('\n', "\r\n"),
    ] {
        assert!(
            matches!(ResidentCopy::parse(&altered), Err(CopyError::Document(_))),
            "accepted: {altered}"
        );
    }
}

#[test]
fn removed_or_replaced_records_are_not_issued() {
    for status in [
        Status::Removed,
        Status::CodeReplaced {
            by: resident(Status::Registered).code,
        },
    ] {
        let r = ResidentCopy::new(resident(status), 1, NOW, kita(), "大阪市北区");
        assert!(matches!(r, Err(CopyError::NotIssuable(_))), "{r:?}");
    }
    let mut newline = resident(Status::Registered);
    newline.info.name = "山田\n花子".into();
    assert!(ResidentCopy::new(newline, 1, NOW, kita(), "大阪市北区").is_err());
}

#[test]
fn a_sealed_copy_verifies_with_the_network_ca_and_its_crl() {
    let n = net();
    let p7s = copy().seal(&n.kita).unwrap();
    assert!(is_sealed(&p7s));
    let at = NOW + 2 * 3600;
    let v = verify(&p7s, n.ca.certificate(), Some(&crl(&n.ca, at)), at).unwrap();
    assert_eq!(v.copy, copy());
    assert_eq!(v.seal.municipality, kita());
    assert_eq!(v.seal.name, "大阪市北区");
    assert_eq!(v.text, copy().to_text().unwrap());
    assert!(matches!(
        v.certificate.revocation,
        validate::Revocation::NotRevoked(_)
    ));
}

#[test]
fn an_altered_document_or_signature_is_refused() {
    let n = net();
    let p7s = copy().seal(&n.kita).unwrap();
    let at = NOW + 2 * 3600;
    let ca = n.ca.certificate();
    // The name inside, rewritten byte for byte (same length: the DER still parses).
    let needle = "山田 花子".as_bytes();
    let i = p7s.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut altered = p7s.clone();
    altered[i..i + needle.len()].copy_from_slice("山田 花男".as_bytes());
    assert!(matches!(
        verify(&altered, ca, None, at),
        Err(CopyError::Signature(JpkiError::Tampered))
    ));
    // The last byte of the signature value.
    let mut sig = p7s.clone();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    assert!(verify(&sig, ca, None, at).is_err());
}

#[test]
fn only_the_issuers_seal_of_this_network_certifies_a_copy() {
    let n = net();
    let at = NOW + 2 * 3600;
    // 千代田区's seal on a copy that says 大阪市北区 issued it: refused when sealing, and a
    // copy sealed by hand that way is refused by the verifier.
    let chiyoda_node = n._dir.path().join("chiyoda");
    n.ca.issue_seal(&chiyoda(), "千代田区", 365, NOW - DAY, &chiyoda_node)
        .unwrap();
    let chiyoda_seal = Seal::load(&chiyoda_node).unwrap();
    assert!(matches!(
        copy().seal(&chiyoda_seal),
        Err(CopyError::Mismatch(_))
    ));
    let forged = raw_seal(&copy(), &chiyoda_seal, copy().issued_at);
    assert!(matches!(
        verify(&forged, n.ca.certificate(), None, at),
        Err(CopyError::Mismatch(_))
    ));
    // Sealed at another time than the one written.
    let late = raw_seal(&copy(), &n.kita, copy().issued_at + 1);
    assert!(matches!(
        verify(&late, n.ca.certificate(), None, at),
        Err(CopyError::Mismatch(_))
    ));
    // The municipality's node (TLS) key in the seal's place: not a seal certificate.
    let node_dir = n._dir.path().join("kita");
    let as_seal = n._dir.path().join("node-as-seal");
    std::fs::create_dir(&as_seal).unwrap();
    for (from, to) in [
        (NODE_KEY_FILE, SEAL_KEY_FILE),
        (NODE_CERT_FILE, SEAL_CERT_FILE),
    ] {
        std::fs::copy(node_dir.join(from), as_seal.join(to)).unwrap();
    }
    std::fs::copy(node_dir.join("ca.pem"), as_seal.join("ca.pem")).unwrap();
    assert!(matches!(
        Seal::load(&as_seal),
        Err(PkiError::NotANodeCertificate(_))
    ));
    // Another network's CA with the same name and its own 大阪市北区 seal.
    let foreign = tempfile::tempdir().unwrap();
    let other = NetworkCa::init(&foreign.path().join("ca"), NOW - DAY).unwrap();
    other
        .issue_seal(
            &kita(),
            "大阪市北区",
            365,
            NOW - DAY,
            &foreign.path().join("kita"),
        )
        .unwrap();
    let foreign_seal = Seal::load(&foreign.path().join("kita")).unwrap();
    let p7s = copy().seal(&foreign_seal).unwrap();
    assert!(matches!(
        verify(&p7s, n.ca.certificate(), None, at),
        Err(CopyError::Signature(JpkiError::WrongCa(_)))
    ));
}

#[test]
fn a_revoked_or_expired_seal_is_refused() {
    let n = net();
    let p7s = copy().seal(&n.kita).unwrap();
    let ca = n.ca.certificate();
    let at = NOW + 2 * 3600;
    // Past the seal's validity (and of the CRL: checked without it).
    assert!(matches!(
        verify(&p7s, ca, None, NOW + 400 * DAY),
        Err(CopyError::Signature(JpkiError::Expired { .. }))
    ));
    n.ca.revoke(&n.kita.certificate().serial, at).unwrap();
    assert!(matches!(
        verify(&p7s, ca, Some(&crl(&n.ca, at + 1)), at + 1),
        Err(CopyError::Signature(JpkiError::Revoked { .. }))
    ));
    // A stale CRL is no answer.
    let old = crl(&n.ca, NOW - DAY);
    assert!(verify(&p7s, ca, Some(&old), NOW + 30 * DAY).is_err());
}

#[test]
fn seal_and_node_certificates_are_not_interchangeable() {
    let n = net();
    let seal_pem = std::fs::read(n._dir.path().join("kita").join(SEAL_CERT_FILE)).unwrap();
    let seal_cert = <Certificate as x509_cert::der::DecodePem>::from_pem(&seal_pem).unwrap();
    assert!(NodeCertificate::from_der(&seal_cert.to_der().unwrap()).is_err());
    let record = n.ca.record(&n.kita.certificate().serial).unwrap().unwrap();
    assert!(record.seal);
    // A seal is issued once per directory, and only into the municipality's own node.
    assert!(n
        .ca
        .issue_seal(&kita(), "大阪市北区", 365, NOW, &n._dir.path().join("kita"))
        .is_err());
    let err =
        n.ca.issue_seal(
            &chiyoda(),
            "千代田区",
            365,
            NOW,
            &n._dir.path().join("kita2"),
        )
        .map(|_| ());
    assert!(err.is_ok());
    let wrong_node = n._dir.path().join("wrong");
    n.ca.issue_node(&Role::Municipality(kita()), 30, NOW, &wrong_node)
        .unwrap();
    assert!(n
        .ca
        .issue_seal(&chiyoda(), "千代田区", 365, NOW, &wrong_node)
        .is_err());
    for name in ["", " 大阪市北区", "大阪\n市北区"] {
        assert!(n
            .ca
            .issue_seal(&kita(), name, 365, NOW, &n._dir.path().join("bad-name"))
            .is_err());
    }
    let key_mode = std::fs::metadata(n._dir.path().join("kita").join(SEAL_KEY_FILE))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode) & 0o777,
        0o600
    );
}

/// A CMS signature over `copy`'s text by `seal`, at `time`, without [`ResidentCopy::seal`]'s
/// checks: what a forger could make with that seal.
fn raw_seal(copy: &ResidentCopy, seal: &Seal, time: i64) -> Vec<u8> {
    cms::sign(
        copy.to_text().unwrap().as_bytes(),
        seal.certificate_der(),
        seal.ca_der(),
        SignOptions {
            attached: true,
            signing_time: time,
        },
        |h| Ok(seal.sign_prehash(h).unwrap()),
    )
    .unwrap()
}
