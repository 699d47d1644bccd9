//! The role encoding both ways, malformed node certificates refused, the CA's store.

use std::os::unix::fs::PermissionsExt;

use std::fs;
use std::path::Path;

use const_oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use const_oid::ObjectIdentifier;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use rand_core::OsRng;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::crl::CertificateList;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::name::{Name, RdnSequence};
use x509_cert::time::Validity;
use x509_cert::Certificate;

use juki_host::resident::MunicipalityCode;

use super::ca::spki_of;
use super::node_cert::{decode_purposes, Purposes};
use super::*;

const NOW: i64 = 1_796_050_800; // 2026-12-01

fn ca() -> (tempfile::TempDir, NetworkCa) {
    let dir = tempfile::tempdir().unwrap();
    let ca = NetworkCa::init(&dir.path().join("ca"), NOW).unwrap();
    (dir, ca)
}

fn agency() -> Role {
    Role::Agency {
        name: "日本年金機構".into(),
        purposes: vec!["年金・恩給の現況確認".into(), "年金の裁定".into()],
    }
}

fn server() -> Role {
    Role::Server {
        name: "national-center".into(),
        dns_names: vec!["localhost".into()],
        ip_addresses: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
    }
}

fn roles() -> Vec<Role> {
    vec![
        Role::Municipality(MunicipalityCode::parse("131016").unwrap()),
        agency(),
        Role::Administrator {
            name: "運用管理者 山田".into(),
        },
        server(),
    ]
}

fn key() -> SigningKey {
    SigningKey::random(&mut OsRng)
}

#[test]
fn every_role_round_trips_through_its_certificate() {
    let (_d, ca) = ca();
    for role in roles() {
        let (record, cert) = ca.issue(&role, key().verifying_key(), 30, NOW).unwrap();
        let der = cert.to_der().unwrap();
        let node = NodeCertificate::from_der(&der).unwrap();
        assert_eq!(node.role, role);
        assert_eq!(node.serial, record.serial);
        assert_eq!(node.not_before, NOW);
        assert_eq!(node.not_after, NOW + 30 * DAY);
        assert_eq!(record.role, role.kind());
        assert_eq!(record.identity, role.identity());
        assert_eq!(record.purposes, role.purposes());
        // The subject as the profile says.
        let subject = cert.tbs_certificate.subject.to_string();
        assert!(
            subject.contains(&format!("OU={}", role.kind())),
            "{subject}"
        );
        assert!(subject.contains("O=住基ネット"), "{subject}");
    }
    assert_eq!(ca.records().unwrap().len(), 4);
}

#[test]
fn the_purposes_extension_is_a_non_critical_sequence_of_utf8_strings() {
    let (_d, ca) = ca();
    let (_, cert) = ca.issue(&agency(), key().verifying_key(), 30, NOW).unwrap();
    let ext = cert
        .tbs_certificate
        .extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == OID_PURPOSES)
        .unwrap();
    assert!(!ext.critical);
    let bytes = ext.extn_value.as_bytes();
    assert_eq!(bytes[0], 0x30, "SEQUENCE");
    assert_eq!(bytes[2], 0x0C, "of UTF8String");
    assert_eq!(
        decode_purposes(bytes).unwrap(),
        vec!["年金・恩給の現況確認", "年金の裁定"]
    );
    assert_eq!(OID_PURPOSES.to_string(), "1.3.6.1.4.1.32473.4649.1");
}

/// A certificate signed by the CA with any subject and extensions, as a faulty or hostile
/// issuer could make one.
fn forged(
    ca: &NetworkCa,
    subject: Name,
    eku: ObjectIdentifier,
    purposes: Option<&[String]>,
) -> Vec<u8> {
    let (_, serial) = random_serial().unwrap();
    let validity = Validity {
        not_before: x509_time(NOW).unwrap(),
        not_after: x509_time(NOW + DAY).unwrap(),
    };
    let mut b = CertificateBuilder::new(
        Profile::Manual {
            issuer: Some(ca.cert.tbs_certificate.subject.clone()),
        },
        serial,
        validity,
        subject,
        spki_of(key().verifying_key()).unwrap(),
        &ca.key,
    )
    .unwrap();
    b.add_extension(&ExtendedKeyUsage(vec![eku])).unwrap();
    if let Some(p) = purposes {
        b.add_extension(&Purposes(p)).unwrap();
    }
    b.build::<DerSignature>().unwrap().to_der().unwrap()
}

fn name_of(parts: &[(ObjectIdentifier, &str)]) -> Name {
    RdnSequence(parts.iter().map(|(o, v)| rdn(*o, v).unwrap()).collect())
}

/// A forged certificate to refuse: (case, subject, extended key usage, purposes, what the refusal
/// says: "" for any).
type Forged<'a> = (
    &'a str,
    Vec<(ObjectIdentifier, &'a str)>,
    ObjectIdentifier,
    Option<&'a [String]>,
    &'a str,
);

/// `subject` with its common name replaced by `cn`.
fn with_cn<'a>(
    subject: &[(ObjectIdentifier, &'a str)],
    cn: &'a str,
) -> Vec<(ObjectIdentifier, &'a str)> {
    subject
        .iter()
        .map(|&(o, v)| (o, if o == OID_COMMON_NAME { cn } else { v }))
        .collect()
}

fn refused(der: &[u8]) -> String {
    match NodeCertificate::from_der(der) {
        Err(PkiError::NotANodeCertificate(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn malformed_node_certificates_are_refused() {
    let (_d, ca) = ca();
    let client = ID_KP_CLIENT_AUTH;
    let p: Vec<String> = vec!["年金・恩給の現況確認".into()];

    // The well-formed one passes, so each refusal below is for its one defect.
    let muni: &[(ObjectIdentifier, &str)] = &[
        (OID_ORG, NETWORK_ORG),
        (OID_ORG_UNIT, "municipality"),
        (OID_COMMON_NAME, "131016"),
    ];
    let good = forged(&ca, name_of(muni), client, None);
    assert!(NodeCertificate::from_der(&good).is_ok());

    let agency: &[(ObjectIdentifier, &str)] = &[
        (OID_ORG, NETWORK_ORG),
        (OID_ORG_UNIT, "agency"),
        (OID_COMMON_NAME, "日本年金機構"),
    ];
    let administrator = |org: &'static str| -> Vec<(ObjectIdentifier, &'static str)> {
        vec![
            (OID_ORG, org),
            (OID_ORG_UNIT, "administrator"),
            (OID_COMMON_NAME, "x"),
        ]
    };
    let none: &[String] = &[];
    let cases: Vec<Forged> = vec![
        (
            "no role",
            vec![(OID_ORG, NETWORK_ORG), (OID_COMMON_NAME, "131016")],
            client,
            None,
            "no role",
        ),
        (
            "two roles",
            vec![
                (OID_ORG, NETWORK_ORG),
                (OID_ORG_UNIT, "municipality"),
                (OID_ORG_UNIT, "administrator"),
                (OID_COMMON_NAME, "131016"),
            ],
            client,
            None,
            "twice",
        ),
        (
            "two identities",
            vec![
                (OID_ORG, NETWORK_ORG),
                (OID_ORG_UNIT, "municipality"),
                (OID_COMMON_NAME, "131016"),
                (OID_COMMON_NAME, "011002"),
            ],
            client,
            None,
            "twice",
        ),
        (
            "a wrong check digit",
            with_cn(muni, "131017"),
            client,
            None,
            "check digit",
        ),
        ("not digits", with_cn(muni, "千代田区"), client, None, ""),
        (
            "an unknown role",
            vec![
                (OID_ORG, NETWORK_ORG),
                (OID_ORG_UNIT, "prefecture"),
                (OID_COMMON_NAME, "東京都"),
            ],
            client,
            None,
            "unknown role",
        ),
        (
            "the CA's unit",
            vec![
                (OID_ORG, NETWORK_ORG),
                (OID_ORG_UNIT, CA_UNIT),
                (OID_COMMON_NAME, CA_COMMON_NAME),
            ],
            client,
            None,
            "",
        ),
        (
            "another organisation",
            administrator("JPKI"),
            client,
            None,
            "organisation",
        ),
        (
            "an agency without purposes",
            agency.to_vec(),
            client,
            None,
            "no purposes",
        ),
        (
            "an agency with empty purposes",
            agency.to_vec(),
            client,
            Some(none),
            "",
        ),
        (
            "a municipality with purposes",
            muni.to_vec(),
            client,
            Some(&p),
            "carries purposes",
        ),
        // A server certificate used as a client's, or a client's claiming to be the server.
        (
            "an administrator as the server",
            administrator(NETWORK_ORG),
            ID_KP_SERVER_AUTH,
            None,
            "clientAuth",
        ),
        // Extra attributes or a non-UTF8String value.
        (
            "an extra attribute",
            vec![
                (OID_ORG, NETWORK_ORG),
                (OID_ORG_UNIT, "administrator"),
                (ObjectIdentifier::new_unwrap("2.5.4.7"), "千代田区"),
                (OID_COMMON_NAME, "x"),
            ],
            client,
            None,
            "unexpected attribute",
        ),
    ];
    for (case, subject, eku, purposes, why) in cases {
        let refusal = refused(&forged(&ca, name_of(&subject), eku, purposes));
        assert!(refusal.contains(why), "{case}: {refusal}");
    }

    // The CA certificate itself is no node's, and garbage is no certificate.
    refused(&ca.certificate().to_der().unwrap());
    refused(b"\x30\x03\x02\x01\x01");
}

#[test]
fn roles_are_checked_before_issue() {
    let kinds = RoleKind::ALL;
    assert_eq!(kinds.map(|k| RoleKind::parse(k.as_str())), kinds.map(Some));
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // (case, kind, identity, purposes, DNS names): each refused.
    let refused = [
        (
            "a wrong check digit",
            RoleKind::Municipality,
            "131017".to_string(),
            vec![],
            vec![],
        ),
        (
            "a municipality with purposes",
            RoleKind::Municipality,
            "131016".into(),
            strings(&["x"]),
            vec![],
        ),
        (
            "an agency without purposes",
            RoleKind::Agency,
            "機構".into(),
            vec![],
            vec![],
        ),
        (
            "a purpose twice",
            RoleKind::Agency,
            "機構".into(),
            strings(&["a", "a"]),
            vec![],
        ),
        (
            "an empty name",
            RoleKind::Administrator,
            "".into(),
            vec![],
            vec![],
        ),
        (
            "a leading space",
            RoleKind::Administrator,
            " x".into(),
            vec![],
            vec![],
        ),
        (
            "a name too long",
            RoleKind::Administrator,
            "x".repeat(65),
            vec![],
            vec![],
        ),
        (
            "a server without names",
            RoleKind::Server,
            "center".into(),
            vec![],
            vec![],
        ),
        (
            "a bad DNS name",
            RoleKind::Server,
            "center".into(),
            vec![],
            strings(&["bad name"]),
        ),
        (
            "DNS names on an administrator",
            RoleKind::Administrator,
            "x".into(),
            vec![],
            strings(&["localhost"]),
        ),
    ];
    for (case, kind, identity, purposes, dns) in refused {
        assert!(
            Role::from_parts(kind, &identity, purposes, dns, vec![]).is_err(),
            "{case}"
        );
    }
    let ok = Role::from_parts(RoleKind::Agency, "機構", vec!["a".into()], vec![], vec![]).unwrap();
    assert_eq!(ok.purposes(), ["a"]);
}

#[test]
fn the_store_is_private_and_revocations_reach_the_crl() {
    let (d, ca) = ca();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(ca.dir()), 0o700);
    assert_eq!(mode(&ca.dir().join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode(&ca.dir().join(INDEX_FILE)), 0o600);
    assert!(NetworkCa::init(ca.dir(), NOW).is_err(), "never over a CA");

    let node_dir = d.path().join("node");
    let record = ca.issue_node(&roles()[0], 365, NOW, &node_dir).unwrap();
    let files = NodeFiles::in_dir(&node_dir);
    assert_eq!(mode(&node_dir), 0o700);
    assert_eq!(mode(&files.key), 0o600);
    let key = SigningKey::from_pkcs8_pem(&fs::read_to_string(&files.key).unwrap()).unwrap();
    let cert = Certificate::from_pem(fs::read(&files.cert).unwrap()).unwrap();
    assert_eq!(
        cert.tbs_certificate.subject_public_key_info,
        spki_of(key.verifying_key()).unwrap(),
        "the certificate is for the key written beside it"
    );
    assert_eq!(
        fs::read_to_string(&files.ca).unwrap(),
        ca.certificate_pem().unwrap()
    );
    assert!(
        ca.issue_node(&roles()[0], 365, NOW, &node_dir).is_err(),
        "never over a node"
    );

    // Reopened, the CA has the same key and index.
    let ca = NetworkCa::open(ca.dir()).unwrap();
    assert_eq!(ca.records().unwrap(), vec![record.clone()]);

    let empty = ca.crl(NOW).unwrap();
    assert!(empty.tbs_cert_list.revoked_certificates.is_none());
    assert!(ca.revoke(&record.serial.to_lowercase(), NOW + 5).unwrap());
    assert!(!ca.revoke(&record.serial, NOW + 6).unwrap(), "once");
    assert!(ca.revoke("00", NOW).is_err(), "unknown serial");
    let crl = ca.crl(NOW + 10).unwrap();
    let listed = crl.tbs_cert_list.revoked_certificates.as_ref().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(serial_text(&listed[0].serial_number), record.serial);
    assert_eq!(unix_of(&listed[0].revocation_date), NOW + 5);
    // CRL numbers go up; the signature verifies with the CA's key.
    let number = |crl: &CertificateList| {
        let e = crl.tbs_cert_list.crl_extensions.as_ref().unwrap();
        CrlNumber::from_der(e[0].extn_value.as_bytes()).unwrap().0
    };
    assert!(number(&crl).as_bytes() > number(&empty).as_bytes());
    let sig = p256::ecdsa::DerSignature::from_bytes(crl.signature.raw_bytes()).unwrap();
    p256::ecdsa::signature::Verifier::verify(
        ca.key.verifying_key(),
        &crl.tbs_cert_list.to_der().unwrap(),
        &sig,
    )
    .unwrap();
    assert!(crl_pem(&crl)
        .unwrap()
        .starts_with("-----BEGIN X509 CRL-----"));
    assert_eq!(
        ca.record(&record.serial).unwrap().unwrap().revoked_at,
        Some(NOW + 5)
    );
}

#[test]
fn validity_is_the_callers_and_never_beyond_the_ca() {
    let (_d, ca) = ca();
    let role = &roles()[2];
    let (r, _) = ca
        .issue(role, key().verifying_key(), 1, NOW - 400 * DAY)
        .unwrap();
    assert_eq!(r.not_after, NOW - 399 * DAY);
    let (r, _) = ca.issue(role, key().verifying_key(), 100_000, NOW).unwrap();
    assert_eq!(r.not_after, NOW + i64::from(CA_VALID_DAYS) * DAY);
    assert!(ca.issue(role, key().verifying_key(), 0, NOW).is_err());
}
