//! `juki net …`: the network CA, node certificates and the CRL through the binary, in English
//! and Japanese; what it writes is what the TLS server and clients load.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{fails, ok, run};
use juki_net::pki::{NodeCertificate, Role, RoleKind};
use juki_net::tls::{self, NodeCredentials, PeerIdentity};

fn juki_in(lang: &str, args: &[&str]) -> Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_juki"))
            .env("LANG", lang)
            .args(args),
        "",
    )
}

fn juki(args: &[&str]) -> Output {
    juki_in("C", args)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A `net cert issue` refused: (role, identity, more arguments, node directory, exit code,
/// message).
type Refusal<'a> = (&'a str, &'a str, &'a [&'a str], &'a Path, i32, &'a str);

/// `net cert issue --ca CA --role ROLE --id ID [EXTRA…] --out OUT`.
fn issue<'a>(
    ca: &'a str,
    role: &'a str,
    id: &'a str,
    extra: &[&'a str],
    out: &'a str,
) -> Vec<&'a str> {
    let mut args = vec![
        "net", "cert", "issue", "--ca", ca, "--role", role, "--id", id,
    ];
    args.extend_from_slice(extra);
    args.extend(["--out", out]);
    args
}

#[test]
fn the_network_ca_issues_revokes_and_publishes() {
    let d = tempfile::tempdir().unwrap();
    let ca = d.path().join("ca");
    let out = ok(juki(&["net", "ca", "init", "--dir", p(&ca)]));
    assert!(out.contains("O=住基ネット"), "{out}");
    assert_eq!(mode(&ca.join("ca.key")), 0o600);
    fails(
        juki(&["net", "ca", "init", "--dir", p(&ca)]),
        1,
        "refusing to overwrite",
    );

    // A municipality, in Japanese.
    let chiyoda = d.path().join("chiyoda");
    let out = ok(juki_in(
        "ja_JP.UTF-8",
        &issue(p(&ca), "municipality", "131016", &[], p(&chiyoda)),
    ));
    assert!(out.contains("市区町村") && out.contains("131016"), "{out}");
    assert!(out.contains("ノードのファイル"), "{out}");
    assert_eq!(mode(&chiyoda.join("node.key")), 0o600);
    let node = NodeCredentials::load(&chiyoda).unwrap();
    assert_eq!(node.node.role.kind(), RoleKind::Municipality);
    assert_eq!(node.node.role.identity(), "131016");
    assert!(node.node.not_after - node.node.not_before == 365 * 86_400);

    // An agency with two purposes, 30 days.
    let pension = d.path().join("pension");
    let purposes = [
        "--purpose",
        "年金・恩給の現況確認",
        "--purpose",
        "年金の裁定",
    ];
    let extra = [&purposes[..], &["--days", "30"]].concat();
    let out = ok(juki(&issue(
        p(&ca),
        "agency",
        "日本年金機構",
        &extra,
        p(&pension),
    )));
    assert!(
        out.contains("Purpose") && out.contains("年金の裁定"),
        "{out}"
    );
    let agency = PeerIdentity::from_der(&NodeCredentials::load(&pension).unwrap().cert).unwrap();
    assert!(agency.may_ask_for("年金・恩給の現況確認"));
    assert!(!agency.may_ask_for("税務"));

    // The server, with the default names.
    let server = d.path().join("server");
    let out = ok(juki(&issue(
        p(&ca),
        "server",
        "national-center",
        &[],
        p(&server),
    )));
    assert!(out.contains("localhost, 127.0.0.1"), "{out}");
    let server_node = NodeCredentials::load(&server).unwrap();
    match &server_node.node.role {
        Role::Server { ip_addresses, .. } => assert_eq!(ip_addresses[0].to_string(), "127.0.0.1"),
        other => panic!("{other:?}"),
    }

    // Refusals: a wrong check digit, an agency without purposes, purposes on a municipality,
    // a node directory already in use, an unknown role (clap: 2).
    let bad = d.path().join("bad");
    let refusals: [Refusal; 5] = [
        ("municipality", "131017", &[], &bad, 1, "check digit"),
        ("agency", "機構", &[], &bad, 1, "legal purposes"),
        (
            "municipality",
            "131016",
            &["--purpose", "x"],
            &bad,
            1,
            "only an agency",
        ),
        (
            "administrator",
            "x",
            &[],
            &chiyoda,
            1,
            "already holds a node",
        ),
        ("prefecture", "x", &[], &bad, 2, "prefecture"),
    ];
    for (role, id, extra, out, code, message) in refusals {
        fails(juki(&issue(p(&ca), role, id, extra, p(out))), code, message);
    }
    assert!(
        !bad.join("node.key").exists(),
        "nothing written for a refused request"
    );

    // Revoke the municipality; the CRL lists it and the server loads it.
    let serial = node.node.serial.clone();
    let out = ok(juki(&[
        "net",
        "cert",
        "revoke",
        "--ca",
        p(&ca),
        &serial.to_lowercase(),
    ]));
    assert!(out.contains(&serial) && out.contains("revoked"), "{out}");
    let out = ok(juki(&["net", "cert", "revoke", "--ca", p(&ca), &serial]));
    assert!(out.contains("already"), "{out}");
    fails(
        juki(&["net", "cert", "revoke", "--ca", p(&ca), "00"]),
        1,
        "no certificate with serial",
    );
    let list = ok(juki(&["net", "cert", "list", "--ca", p(&ca)]));
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with(&serial) && l.contains("REVOKED")),
        "{list}"
    );
    assert!(
        list.contains("[年金・恩給の現況確認, 年金の裁定]"),
        "{list}"
    );

    let crl = d.path().join("network.crl");
    let out = ok(juki_in(
        "ja_JP.UTF-8",
        &["net", "crl", "--ca", p(&ca), "--out", p(&crl)],
    ));
    assert!(out.contains("失効 1件"), "{out}");
    let crl = tls::load_crl(&crl).unwrap();
    let parsed =
        <x509_cert::crl::CertificateList as x509_cert::der::Decode>::from_der(&crl).unwrap();
    let listed = parsed.tbs_cert_list.revoked_certificates.unwrap();
    assert_eq!(
        hex::encode_upper(listed[0].serial_number.as_bytes()),
        serial
    );
    assert!(tls::server_config(&server_node, vec![crl]).is_ok());
    assert!(
        NodeCertificate::from_der(&server_node.ca).is_err(),
        "the CA is no node"
    );

    // Not a CA.
    fails(
        juki(&[
            "net",
            "crl",
            "--ca",
            p(&chiyoda),
            "--out",
            p(&d.path().join("x")),
        ]),
        1,
        "not a network CA",
    );
}
