//! 住基ネット with the card in the virtual reader: the real PC/SC stack (pcscd + vpcd, the card
//! served by `juki_reader_sim`), a real PostgreSQL and the national server over mutual TLS 1.3
//! (`juki_net::local::LocalNetwork`), and only the `juki` binary at the counters.
//!
//! A card issued at 千代田区 reaches the network (`juki counter net sync`); at 大阪市北区 the
//! resident gets a 住民票の写し by 広域交付 (`juki counter copy`: card, 住基 PIN, the network's
//! 本人確認情報, the municipality's 電子公印 from `juki net cert seal`); the copy is checked by
//! `juki verify` and by OpenSSL, which nobody here wrote. Refused: a wrong PIN (before the
//! network is asked: no provision recorded), a suspended card, a rewritten copy, a revoked seal.
//!
//! Skipped without pcscd like the other PC/SC tests (failing instead with `JUKI_PCSC=1`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use juki_host::resident::MunicipalityCode;
use juki_host::resident_code::ResidentCode;
use juki_net::local::LocalNetwork;
use juki_net::pki::Role;

mod common;

use common::network::agrees;

use common::counter::{authority, blank_card, counter, juki_on, Counter, ISSUE_DAY, PINS};
use common::pcsc::lock_or_skip;
use common::{fails, juki, ok, path_str as s, run};

const PIN: &str = "2580";

/// `juki counter --counter-dir DIR net sync --node NODE --server ADDR`.
fn sync(c: &Counter, node: &Path, server: &str) -> String {
    ok(juki_on(
        ISSUE_DAY,
        &[
            "counter",
            "--counter-dir",
            s(&c.dir),
            "net",
            "sync",
            "--node",
            s(node),
            "--server",
            server,
        ],
        "",
    ))
}

/// `juki counter copy` at counter `c` for the card in the reader, writing `out`.
fn copy(c: &Counter, node: &Path, server: &str, out: &Path, stdin: &str) -> Output {
    c.run(
        ISSUE_DAY,
        "copy",
        &[
            "--operator",
            "tanaka",
            "--node",
            s(node),
            "--server",
            server,
            "--out",
            s(out),
        ],
        stdin,
    )
}

/// `juki verify --ca-cert CA --crl CRL P7S`.
fn verify(ca: &Path, crl: &Path, p7s: &Path) -> Output {
    juki(&["verify", "--ca-cert", s(ca), "--crl", s(crl), s(p7s)], "")
}

/// `openssl cms -verify` of a DER copy against the network CA: the document on success.
/// `-purpose any`: OpenSSL 3.0 has no purpose for RFC 9336's documentSigning (docs/network.md).
fn openssl_verify(ca: &Path, p7s: &Path) -> Output {
    run(
        Command::new("openssl").args([
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            s(p7s),
            "-CAfile",
            s(ca),
            "-purpose",
            "any",
        ]),
        "",
    )
}

fn provisions(net: &LocalNetwork, code: &ResidentCode) -> usize {
    net.block_on(net.register().provisions_of(code))
        .unwrap()
        .len()
}

#[test]
fn wide_area_copy_through_pcsc() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let net = LocalNetwork::start(&tmp.path().join("net")).unwrap();
    let server = net.address();
    let ca_dir = tmp.path().join("net").join("ca");
    let ca_pem = ca_dir.join("ca.pem");
    let root = authority(&tmp.path().join("root"));
    let chiyoda = counter(tmp.path(), &root, "131016", "千代田区");
    let kita = counter(tmp.path(), &root, "271276", "大阪市北区");
    let chiyoda_node = net
        .node(
            "chiyoda",
            &Role::Municipality(MunicipalityCode::parse("131016").unwrap()),
        )
        .unwrap();
    let kita_node = net
        .node(
            "kita",
            &Role::Municipality(MunicipalityCode::parse("271276").unwrap()),
        )
        .unwrap();

    // The card, issued at 千代田区 through PC/SC, and its registration delivered.
    let _served = blank_card(&tmp.path().join("card.img"), &root, "JK-0201");
    let issued = ok(chiyoda.op(
        "issue",
        &[
            "--name",
            "住基 花子",
            "--address",
            "東京都千代田区霞が関2-1-2",
            "--birth",
            "1990-06-15",
            "--sex",
            "2",
            "--serial",
            "JK-0201",
        ],
        &format!("tanaka-pw1\n{PINS}"),
    ));
    let code: ResidentCode = issued
        .lines()
        .find(|l| l.starts_with("resident code"))
        .and_then(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .find(|t| t.len() == 11)
        })
        .and_then(|c| ResidentCode::parse(c).ok())
        .unwrap_or_else(|| panic!("no resident code in: {issued}"));
    let synced = sync(&chiyoda, &chiyoda_node, &server);
    assert!(synced.contains("Delivered to 住基ネット: 1;"), "{synced}");

    // 大阪市北区's 電子公印, issued by the network CA's command; without it no copy is made
    // and the card is not touched.
    let out = tmp.path().join("copy.p7s");
    let err = fails(
        copy(&kita, &kita_node, &server, &out, "tanaka-pw1\n"),
        1,
        "seal.key",
    );
    assert!(!out.exists(), "{err}");
    let sealed = ok(juki(
        &[
            "net",
            "cert",
            "seal",
            "--ca",
            s(&ca_dir),
            "--code",
            "271276",
            "--name",
            "大阪市北区",
            "--out",
            s(&kita_node),
        ],
        "",
    ));
    assert!(sealed.contains("seal.key"), "{sealed}");

    // A wrong 住基 PIN: refused by the card before the network is asked.
    fails(
        copy(&kita, &kita_node, &server, &out, "tanaka-pw1\n0000\n"),
        3,
        "2 tries left",
    );
    assert!(!out.exists());
    assert_eq!(
        provisions(&net, &code),
        0,
        "nothing provided without the PIN"
    );

    // 広域交付.
    let shown = ok(copy(
        &kita,
        &kita_node,
        &server,
        &out,
        &format!("tanaka-pw1\n{PIN}\n"),
    ));
    assert!(shown.contains("住民票の写し issued"), "{shown}");
    for text in [
        "氏名: 住基 花子",
        "住所: 東京都千代田区霞が関2-1-2",
        "住所地の市区町村: 131016",
        &format!("住民票コード: {code}"),
        "大阪市北区長（271276）",
    ] {
        assert!(shown.contains(text), "{text} not in {shown}");
    }
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy holds personal data");
    assert_eq!(provisions(&net, &code), 1, "the provision is recorded");
    let audit = kita.db().audit().records().unwrap();
    let copies: Vec<_> = audit
        .iter()
        .filter(|r| r.operation == "wide-area-copy")
        .collect();
    assert_eq!(copies.len(), 2, "the refusal and the copy: {copies:?}");
    assert!(!copies[0].outcome.is_ok() && copies[1].outcome.is_ok());
    assert!(
        !format!("{copies:?}").contains("住基 花子"),
        "the audit trail names the copy's number, not the resident's data"
    );
    // Never overwritten.
    fails(
        copy(&kita, &kita_node, &server, &out, "tanaka-pw1\n"),
        1,
        "exists already",
    );

    // Anyone checks it: juki verify with the network CA and its CRL, and OpenSSL.
    let crl = tmp.path().join("net.crl");
    ok(juki(
        &["net", "crl", "--ca", s(&ca_dir), "--out", s(&crl)],
        "",
    ));
    let verdict = ok(verify(&ca_pem, &crl, &out));
    assert!(verdict.contains("VALID: the seal"), "{verdict}");
    assert!(verdict.contains("大阪市北区"), "{verdict}");
    let document = ok(openssl_verify(&ca_pem, &out));
    assert!(
        document.starts_with("住民票の写し（広域交付）\n") && document.contains("氏名: 住基 花子"),
        "{document}"
    );

    // One character of the address rewritten in the file: both refuse it.
    let mut bytes = std::fs::read(&out).unwrap();
    let needle = "霞が関2-1-2".as_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at + needle.len() - 1] = b'3';
    let forged = tmp.path().join("forged.p7s");
    std::fs::write(&forged, &bytes).unwrap();
    fails(verify(&ca_pem, &crl, &forged), 9, "REJECTED");
    assert!(!openssl_verify(&ca_pem, &forged).status.success());

    // 転入転出の特例 with the card in the reader: the 転出 recorded at 千代田区 (it came by
    // post), the 転入 at 大阪市北区 with the card and the 住基 PIN, both delivered; 千代田区
    // learns its 転出 is completed; both registries agree with the national register.
    ok(juki_on(
        ISSUE_DAY,
        &[
            "counter",
            "--counter-dir",
            s(&chiyoda.dir),
            "move-out",
            "--resident-code",
            code.as_str(),
            "--to",
            "271276",
            "--operator",
            "tanaka",
        ],
        "tanaka-pw1\n",
    ));
    sync(&chiyoda, &chiyoda_node, &server);
    ok(kita.op(
        "update",
        &[
            "--address",
            "大阪府大阪市北区中之島1-3-20",
            "--reason",
            "転入",
        ],
        &format!("tanaka-pw1\n{PIN}\n"),
    ));
    let delivered = sync(&kita, &kita_node, &server);
    assert!(
        delivered.contains("Delivered to 住基ネット: 1;"),
        "{delivered}"
    );
    let read = sync(&chiyoda, &chiyoda_node, &server);
    assert!(read.contains("recorded as gone: 1"), "{read}");
    for counter in [&chiyoda, &kita] {
        agrees(&net, &counter.dir);
    }
    let national = net
        .block_on(net.register().resident(&code))
        .unwrap()
        .unwrap();
    assert_eq!(national.municipality.as_str(), "271276");
    assert_eq!(national.info.address, "大阪府大阪市北区中之島1-3-20");

    // A suspended card gets no copy, and the network is not asked.
    ok(kita.op("suspend", &["--reason", "紛失"], "tanaka-pw1\n"));
    let out2 = tmp.path().join("copy2.p7s");
    fails(
        copy(
            &kita,
            &kita_node,
            &server,
            &out2,
            &format!("tanaka-pw1\n{PIN}\n"),
        ),
        6,
        "suspended",
    );
    assert!(!out2.exists());
    assert_eq!(provisions(&net, &code), 1);

    // The seal revoked (a leaked key): its copies are refused once the CRL says so.
    let list = ok(juki(&["net", "cert", "list", "--ca", s(&ca_dir)], ""));
    let serial = list
        .lines()
        .find(|l| l.contains("seal"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no seal in {list}"))
        .to_string();
    ok(juki(
        &["net", "cert", "revoke", "--ca", s(&ca_dir), &serial],
        "",
    ));
    let crl2 = tmp.path().join("net2.crl");
    ok(juki(
        &["net", "crl", "--ca", s(&ca_dir), "--out", s(&crl2)],
        "",
    ));
    fails(verify(&ca_pem, &crl2, &out), 9, "revoked");
}

/// `juki counter --counter-dir D --ca CA SUB --credential C --operator tanaka EXTRA`.
fn with_ca(c: &Counter, ca: &Path, sub: &str, extra: &[&str], stdin: &str) -> Output {
    let mut args = vec![
        "counter",
        "--counter-dir",
        s(&c.dir),
        "--ca",
        s(ca),
        sub,
        "--credential",
        s(&c.cred),
        "--operator",
        "tanaka",
    ];
    args.extend_from_slice(extra);
    juki_on(ISSUE_DAY, &args, stdin)
}

/// A card issued at `c` with its JPKI certificates, in the reader; its 住民票コード.
fn card_with_jpki(
    tmp: &Path,
    root: &Path,
    c: &Counter,
    jpki: &Path,
    serial: &str,
    name: &str,
) -> (common::pcsc::Served, ResidentCode) {
    let served = blank_card(&tmp.join(format!("{serial}.img")), root, serial);
    let issued = ok(c.op(
        "issue",
        &[
            "--name",
            name,
            "--address",
            "東京都千代田区霞が関2-1-2",
            "--birth",
            "1980-01-01",
            "--sex",
            "1",
            "--serial",
            serial,
        ],
        &format!("tanaka-pw1\n{PINS}"),
    ));
    let code = issued
        .lines()
        .find(|l| l.starts_with("resident code"))
        .and_then(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .find(|t| t.len() == 11)
        })
        .and_then(|c| ResidentCode::parse(c).ok())
        .unwrap();
    ok(with_ca(
        c,
        jpki,
        "jpki-issue",
        &[],
        &format!("tanaka-pw1\n{PIN}\n"),
    ));
    (served, code)
}

/// `juki disclosure` with the card in the reader and the auth PIN, the client's state kept in
/// `net_dir/../disclosure.json`, and `extra` arguments.
fn disclosure(public: &str, net_dir: &Path, auth_pin: &str, extra: &[&str]) -> Output {
    let state = net_dir.with_file_name("disclosure.json");
    let (ca, log_key) = (
        net_dir.join("ca").join("ca.pem"),
        net_dir.join("server").join("log.pub"),
    );
    let mut args = vec![
        "disclosure",
        "--server",
        public,
        "--ca-cert",
        s(&ca),
        "--log-key",
        s(&log_key),
        "--state",
        s(&state),
    ];
    args.extend_from_slice(extra);
    juki_on(ISSUE_DAY, &args, &format!("{auth_pin}\n"))
}

/// `juki counter --counter-dir DIR net head`: the head the counter last accepted.
fn counter_head(c: &Counter) -> String {
    ok(juki_on(
        ISSUE_DAY,
        &["counter", "--counter-dir", s(&c.dir), "net", "head"],
        "",
    ))
}

#[test]
fn disclosure_with_the_card_through_pcsc() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let net_dir = tmp.path().join("net");
    let mut net = LocalNetwork::start(&net_dir).unwrap();
    let jpki = tmp.path().join("jpki");
    ok(juki(&["jpki", "ca", "init", "--dir", s(&jpki)], ""));
    let public = net.serve_residents(&jpki).unwrap();
    let root = authority(&tmp.path().join("root"));
    let chiyoda = counter(tmp.path(), &root, "131016", "千代田区");
    let node = net
        .node(
            "chiyoda",
            &Role::Municipality(MunicipalityCode::parse("131016").unwrap()),
        )
        .unwrap();
    let mut pension = juki_net::client::NetClient::from_dir(
        &net.node(
            "pension",
            &Role::Agency {
                name: "日本年金機構".into(),
                purposes: vec!["年金・恩給の現況確認".into()],
            },
        )
        .unwrap(),
        &net.address(),
    )
    .unwrap();

    // Two residents with cards and certificates; the network learns of both.
    let (mut first, one) =
        card_with_jpki(tmp.path(), &root, &chiyoda, &jpki, "JK-0301", "住基 一郎");
    first.stop();
    let (mut second, two) =
        card_with_jpki(tmp.path(), &root, &chiyoda, &jpki, "JK-0302", "住基 二郎");
    sync(&chiyoda, &node, &net.address());
    for code in [&one, &one, &two] {
        pension.confirm(code, "年金・恩給の現況確認").unwrap();
    }
    net.append_log().unwrap();
    // The counter checks the log at its sync and hands its head out (a witness).
    fails(
        juki_on(
            ISSUE_DAY,
            &["counter", "--counter-dir", s(&chiyoda.dir), "net", "head"],
            "",
        ),
        1,
        "not checked the provision log",
    );
    sync(&chiyoda, &node, &net.address());
    let witness = tmp.path().join("chiyoda-head.txt");
    std::fs::write(&witness, counter_head(&chiyoda)).unwrap();

    // The second card: its own record and its one provision, proven; nobody else's; the log
    // the counter saw is the log the resident is shown.
    let out = ok(disclosure(
        &public,
        &net_dir,
        "1357",
        &["--witness-head", s(&witness)],
    ));
    assert!(
        out.contains(two.as_str()) && !out.contains(one.as_str()),
        "{out}"
    );
    assert!(out.contains("agrees with the heads seen before"), "{out}");
    let state = tmp.path().join("disclosure.json");
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the client's state names residents");
    assert!(out.contains("Provisions: 1"), "{out}");
    assert!(
        out.contains("日本年金機構") && out.contains("proven"),
        "{out}"
    );
    // A wrong auth PIN: the card's refusal, nothing asked of the server in its name.
    fails(disclosure(&public, &net_dir, "0000", &[]), 3, "tries left");
    second.stop();

    // The first card: two provisions.
    let mut first = common::pcsc::Served::start(&tmp.path().join("JK-0301.img"));
    let out = ok(disclosure(&public, &net_dir, "1357", &[]));
    assert!(
        out.contains(one.as_str()) && out.contains("Provisions: 2"),
        "{out}"
    );
    // Someone with the database rewrites a provision's purpose: its proof fails (9); put back,
    // the answer verifies again.
    let rewrite = |purpose: &str| {
        net.sql(&format!(
            "UPDATE provision SET purpose = '{purpose}' WHERE id = \
             (SELECT min(id) FROM provision WHERE resident = '{}')",
            one.as_str()
        ))
        .unwrap()
    };
    rewrite("恩給の裁定");
    fails(
        disclosure(&public, &net_dir, "1357", &[]),
        9,
        "does not match the signed provision log",
    );
    rewrite("年金・恩給の現況確認");
    ok(disclosure(&public, &net_dir, "1357", &[]));
    // Someone with the database deletes the newest provision of the first resident: this
    // client was shown it and refuses the log (10), as an auditor from scratch does.
    net.sql(&format!(
        "DELETE FROM provision WHERE id = \
         (SELECT max(id) FROM provision WHERE resident = '{}')",
        one.as_str()
    ))
    .unwrap();
    fails(
        disclosure(&public, &net_dir, "1357", &[]),
        10,
        "not the one seen before",
    );
    fails(
        juki_on(
            ISSUE_DAY,
            &[
                "net",
                "log",
                "audit",
                "--node",
                s(&node),
                "--server",
                &net.address(),
            ],
            "",
        ),
        10,
        "has no record",
    );
    // Suspended at the counter: the card itself refuses to answer; its certificates are
    // revoked at the CA too, which the server checks (host/net/tests/disclosure.rs).
    ok(with_ca(
        &chiyoda,
        &jpki,
        "suspend",
        &["--reason", "紛失"],
        "tanaka-pw1\n",
    ));
    fails(disclosure(&public, &net_dir, "1357", &[]), 6, "suspended");
    let ca = juki_jpki::ca::CaDirectory::open(&jpki).unwrap();
    let records = juki_jpki::ca::JpkiCa::open(&jpki)
        .unwrap()
        .certificates_of("JK-0301")
        .unwrap();
    assert!(records.iter().all(|r| r.revoked.is_some()
        && r.resident.as_deref() == Some(one.as_str())
        && ca.certificate(&r.serial).unwrap().is_some()));
    first.stop();
}
