//! The module through the REAL stack with consumers nobody here wrote: OpenSC's `pkcs11-tool`
//! loads `libjuki_pkcs11.so`, which talks to pcscd, vpcd and the simulated card
//! (`juki_reader_sim::VpcdServer` in "Virtual PCD 00 00"); `openssl` verifies the signatures,
//! and `juki verify` the CMS signature made through libp11.
//!
//! Skipped without pcscd + vpcd unless `JUKI_PCSC=1` (scripts/test.sh), which makes them fail;
//! so is each part whose consumer is not installed (`common::skip_without`).

use std::path::Path;
use std::process::Command;

use juki_jpki::ca::crl_pem;
use juki_jpki::time as jtime;
use juki_jpki::CertKind;
use sha2::{Digest, Sha256};

mod common;

use common::world::{lines, world, World};
use common::{juki, lock_or_skip, module, nss_db, run, skip_without, Served};

const AUTH_PIN: &str = "1357";
const SIGN_PASSWORD: &str = "JUKI2026";
const AUTH_SLOT: &str = "Virtual PCD 00 00 (JPKI auth)";
const SIGN_SLOT: &str = "Virtual PCD 00 00 (JPKI sign)";

/// `pkcs11-tool --module libjuki_pkcs11.so ARGS` (package opensc): success and combined output.
fn tool(args: &[&str]) -> (bool, String) {
    run(Command::new("pkcs11-tool")
        .arg("--module")
        .arg(module())
        .args(args))
}

#[track_caller]
fn tool_ok(args: &[&str]) -> String {
    let (ok, text) = tool(args);
    assert!(ok, "pkcs11-tool {args:?} failed:\n{text}");
    text
}

fn openssl(args: &[&str]) -> (bool, String) {
    run(Command::new("openssl").args(args))
}

/// libp11's OpenSSL engine (package libengine-pkcs11-openssl).
const ENGINE: &str = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so";

/// `text` percent-encoded for a PKCS#11 URI (RFC 7512): unreserved characters kept.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// `p11tool --provider libjuki_pkcs11.so ARGS` (GnuTLS, package gnutls-bin): its output, or
/// `None` (that part skipped, with a notice) where it is not installed.
fn p11tool(args: &[&str]) -> Option<String> {
    let out = match Command::new("p11tool")
        .arg("--provider")
        .arg(module())
        .args(args)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            skip_without("no p11tool (package gnutls-bin)");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "p11tool {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text)
}

/// The first `URL: pkcs11:…` line of p11tool's output that contains `part`.
fn url_with(listing: &str, part: &str) -> String {
    listing
        .lines()
        .filter_map(|l| l.trim().strip_prefix("URL: "))
        .find(|u| u.contains(part))
        .unwrap_or_else(|| panic!("no URL with {part} in:\n{listing}"))
        .to_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Signs `data` on `slot` with the key `id` and mechanism `mech` (the input as `pkcs11-tool`
/// gets it), and verifies it with `openssl dgst` of `data` (SHA-256, or the mechanism's hash)
/// under the certificate's key.
fn sign_and_verify(dir: &Path, slot: &str, pin: &str, id: &str, mech: &str, data: &[u8]) {
    let doc = dir.join("doc.txt");
    std::fs::write(&doc, data).unwrap();
    let md = match mech {
        "ECDSA-SHA384" => "-sha384",
        "ECDSA-SHA512" => "-sha512",
        _ => "-sha256",
    };
    let input = dir.join("input.bin");
    if mech == "ECDSA" {
        std::fs::write(&input, Sha256::digest(data)).unwrap();
    } else {
        std::fs::write(&input, data).unwrap();
    }
    let sig = dir.join(format!("{id}-{mech}.sig"));
    tool_ok(&[
        "--slot-description",
        slot,
        "--login",
        "--pin",
        pin,
        "--sign",
        "--mechanism",
        mech,
        "--id",
        id,
        "--signature-format",
        "openssl",
        "-i",
        s(&input),
        "-o",
        s(&sig),
    ]);
    let cert = dir.join(format!("{id}.der"));
    tool_ok(&[
        "--slot-description",
        slot,
        "--login",
        "--pin",
        pin,
        "--read-object",
        "--type",
        "cert",
        "--id",
        id,
        "-o",
        s(&cert),
    ]);
    let pubkey = dir.join(format!("{id}.pem"));
    let (ok, text) = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        s(&cert),
        "-pubkey",
        "-noout",
        "-out",
        s(&pubkey),
    ]);
    assert!(ok, "{text}");
    let (ok, text) = openssl(&[
        "dgst",
        md,
        "-verify",
        s(&pubkey),
        "-signature",
        s(&sig),
        s(&doc),
    ]);
    assert!(
        ok && text.contains("Verified OK"),
        "{mech} with {id}: {text}"
    );
    // Another document does not verify under that signature.
    std::fs::write(&doc, b"tampered").unwrap();
    let (ok, _) = openssl(&[
        "dgst",
        md,
        "-verify",
        s(&pubkey),
        "-signature",
        s(&sig),
        s(&doc),
    ]);
    assert!(!ok, "a tampered document verified");
}

#[test]
fn pkcs11_tool_lists_logs_in_and_signs() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    let _served = Served::start(&w.image);
    let dir = tempfile::tempdir().unwrap();

    // Slots and tokens: two per card, told apart by label and slot description.
    let out = tool_ok(&["-L"]);
    assert!(out.contains(AUTH_SLOT) && out.contains(SIGN_SLOT), "{out}");
    assert!(
        out.contains("JPKI 利用者証明用") && out.contains("JPKI 署名用"),
        "{out}"
    );
    assert!(out.contains("login required"), "{out}");
    assert!(!out.contains("count low"), "{out}");
    let out = tool_ok(&["-M", "--slot-description", AUTH_SLOT]);
    assert!(
        ["ECDSA,", "ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512"]
            .iter()
            .all(|m| out.contains(m)),
        "{out}"
    );

    // Before login: the authentication certificate, its CA and key are public; the signing
    // token shows its public key only (the certificate carries the 4 info).
    let out = tool_ok(&["-O", "--slot-description", AUTH_SLOT]);
    assert!(out.contains("Certificate Object"), "{out}");
    // CKA_SUBJECT (from the certificate), what NSS and others search by.
    assert!(out.contains("subject:") && out.contains("DN:"), "{out}");
    assert!(out.contains("Public Key Object; EC"), "{out}");
    assert!(!out.contains("Private Key Object"), "{out}");
    let out = tool_ok(&["-O", "--slot-description", SIGN_SLOT]);
    assert!(!out.contains("Certificate Object"), "{out}");
    assert!(out.contains("Public Key Object; EC"), "{out}");

    // After login: the private keys, and on the signing token its certificates.
    let out = objects_after_login_ok(AUTH_PIN);
    assert!(out.contains("Private Key Object; EC"), "{out}");
    let out = tool_ok(&[
        "-O",
        "--slot-description",
        SIGN_SLOT,
        "--login",
        "--pin",
        SIGN_PASSWORD,
    ]);
    assert!(out.contains("Private Key Object; EC"), "{out}");
    assert!(out.contains("Certificate Object"), "{out}");

    // Signatures with each key and mechanism, verified by OpenSSL.
    let doc = "電子申請書: 転出届\n".as_bytes();
    for mech in ["ECDSA", "ECDSA-SHA256", "ECDSA-SHA384", "ECDSA-SHA512"] {
        sign_and_verify(dir.path(), AUTH_SLOT, AUTH_PIN, "01", mech, doc);
        sign_and_verify(dir.path(), SIGN_SLOT, SIGN_PASSWORD, "02", mech, doc);
    }

    // OpenSSL through libp11's engine: a CMS signature of an e-application, checked by
    // OpenSSL and by `juki verify`.
    if Path::new(ENGINE).exists() {
        libp11_cms_signature(dir.path(), &w, doc);
    } else {
        skip_without(&format!("no {ENGINE} (package libengine-pkcs11-openssl)"));
    }

    // pkcs11-tool's own self-test on each token, logged in.
    for (slot, pin) in [(AUTH_SLOT, AUTH_PIN), (SIGN_SLOT, SIGN_PASSWORD)] {
        let out = tool_ok(&[
            "--test",
            "--slot-description",
            slot,
            "--login",
            "--pin",
            pin,
        ]);
        assert!(out.contains("No errors"), "{slot}: {out}");
    }

    // GnuTLS p11tool: the tokens, then the authentication certificate listed and exported,
    // the same certificate pkcs11-tool read.
    if let Some(out) = p11tool(&["--list-tokens"]) {
        assert!(
            out.contains("JPKI 利用者証明用") && out.contains("JPKI 署名用"),
            "{out}"
        );
        let token = url_with(&out, "serial=JK-0009-A;");
        let certs = p11tool(&["--list-all-certs", &token]).unwrap();
        let cert = url_with(&certs, "id=%01");
        let pem = p11tool(&["--export", &cert]).unwrap();
        let exported = dir.path().join("p11tool.pem");
        std::fs::write(&exported, pem).unwrap();
        let (ok, text) = openssl(&[
            "x509",
            "-in",
            s(&exported),
            "-outform",
            "DER",
            "-out",
            s(&dir.path().join("p11tool.der")),
        ]);
        assert!(ok, "{text}");
        assert_eq!(
            std::fs::read(dir.path().join("p11tool.der")).unwrap(),
            std::fs::read(dir.path().join("01.der")).unwrap()
        );
    }

    // NSS: the module added to a database with modutil; certutil lists the authentication
    // certificate and its CA on the card (the signing certificate waits for a login).
    if let Some(db) = nss_db(dir.path()) {
        let (ok, out) = run(Command::new("certutil").args(["-d", &db, "-L", "-h", "all"]));
        assert!(ok, "{out}");
        assert!(out.contains("JPKI 利用者証明用 (auth):"), "{out}");
    }

    // OpenSSH: ssh-keygen -D lists the authentication key (the one in the certificate), as a
    // line for authorized_keys.
    let out = Command::new("ssh-keygen")
        .arg("-D")
        .arg(module())
        .output()
        .expect("ssh-keygen (openssh-client)");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{listed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert_key = Command::new("ssh-keygen")
        .args(["-i", "-m", "PKCS8", "-f"])
        .arg(dir.path().join("01.pem"))
        .output()
        .unwrap();
    let cert_key = String::from_utf8_lossy(&cert_key.stdout).into_owned();
    let cert_key = cert_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(cert_key.starts_with("ecdsa-sha2-nistp256 "), "{cert_key}");
    assert!(listed.contains(&cert_key), "{cert_key} not in:\n{listed}");

    // A wrong PIN: refused, and the token flags count down; the right one still works and
    // restores the count.
    let (ok, out) = objects_after_login("9999");
    assert!(!ok && out.contains("CKR_PIN_INCORRECT"), "{out}");
    let out = tool_ok(&["-T"]);
    assert!(out.contains("user PIN count low"), "{out}");
    let (ok, out) = objects_after_login("9999");
    assert!(!ok && out.contains("CKR_PIN_INCORRECT"), "{out}");
    let out = tool_ok(&["-T"]);
    assert!(out.contains("final user PIN try"), "{out}");
    objects_after_login_ok(AUTH_PIN);
    let out = tool_ok(&["-T"]);
    assert!(!out.contains("count low"), "{out}");

    // Three wrong PINs lock the authentication PIN: the token says so, and the right PIN is
    // refused with CKR_PIN_LOCKED. The signing token is not affected.
    for _ in 0..3 {
        let (ok, out) = objects_after_login("9999");
        assert!(!ok && out.contains("CKR_PIN_INCORRECT"), "{out}");
    }
    let out = tool_ok(&["-T"]);
    assert!(out.contains("user PIN locked"), "{out}");
    let (ok, out) = objects_after_login(AUTH_PIN);
    assert!(!ok && out.contains("CKR_PIN_LOCKED"), "{out}");
    sign_and_verify(
        dir.path(),
        SIGN_SLOT,
        SIGN_PASSWORD,
        "02",
        "ECDSA-SHA256",
        doc,
    );
}

/// `openssl cms -sign` through libp11's engine with the card's signing key (the certificate
/// `dir/02.der` read from the card): a detached CMS signature of the e-application `doc`. The
/// agency's two verifiers accept it under the JPKI signing CA: `openssl cms -verify`, and the
/// project's own `juki verify` (with the CA's current CRL), which names the signer; both refuse
/// the document altered by one byte.
fn libp11_cms_signature(dir: &Path, w: &World, doc: &[u8]) {
    let doc_path = dir.join("application.txt");
    std::fs::write(&doc_path, doc).unwrap();
    let signer = dir.join("02.pem");
    let (ok, text) = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        s(&dir.join("02.der")),
        "-out",
        s(&signer),
    ]);
    assert!(ok, "{text}");
    let p7s = dir.join("application.p7s");
    let key = format!(
        "pkcs11:token={};id=%02;type=private;pin-value={SIGN_PASSWORD}",
        percent("JPKI 署名用 (sign)")
    );
    let (ok, text) = run(Command::new("openssl")
        .env("PKCS11_MODULE_PATH", module())
        .args([
            "cms", "-sign", "-binary", "-md", "sha256", "-engine", "pkcs11",
        ])
        .args(["-keyform", "engine", "-inkey", &key, "-signer", s(&signer)])
        .args(["-in", s(&doc_path), "-outform", "DER", "-out", s(&p7s)]));
    assert!(ok, "openssl cms -sign: {text}");

    let ca = w.ca_dir.join("sign-ca.pem");
    let openssl_verify = |content: &Path| {
        openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            s(&p7s),
            "-content",
            s(content),
            "-CAfile",
            s(&ca),
            "-out",
            "/dev/null",
        ])
    };
    let (ok, text) = openssl_verify(&doc_path);
    assert!(ok && text.contains("Verification successful"), "{text}");

    let crl = dir.join("sign.crl");
    let ca_now = w.ca().crl(CertKind::Sign, jtime::now().unwrap()).unwrap();
    std::fs::write(&crl, crl_pem(&ca_now).unwrap()).unwrap();
    let juki_verify = |content: &Path| {
        let args = ["verify", s(content), s(&p7s), "--ca-cert", s(&ca)];
        juki(&[&args[..], &["--crl", s(&crl)]].concat())
    };
    let out = juki_verify(&doc_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "juki verify: {stdout}{stderr}");
    assert!(
        stdout.contains("VALID: the signature is valid")
            && stdout.contains("住基 一郎")
            && stdout.contains("東京都千代田区千代田1-1")
            && stdout.contains("not revoked"),
        "{stdout}"
    );

    // One byte of the document changed: refused by both, `juki verify` with its verdict for a
    // tampered document (exit 9, docs/jpki.md).
    let mut altered = doc.to_vec();
    altered[0] ^= 0x01;
    let altered_path = dir.join("application-altered.txt");
    std::fs::write(&altered_path, altered).unwrap();
    let (ok, text) = openssl_verify(&altered_path);
    assert!(!ok, "openssl accepted an altered document: {text}");
    let out = juki_verify(&altered_path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert!(
        stderr.contains("REJECTED: the document does not match the signature"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("VALID"));
}

/// `pkcs11-tool -O` on the authentication token, logged in with `pin`: (success, output).
fn objects_after_login(pin: &str) -> (bool, String) {
    tool(&[
        "-O",
        "--slot-description",
        AUTH_SLOT,
        "--login",
        "--pin",
        pin,
    ])
}

/// [`objects_after_login`], which must succeed: its output.
fn objects_after_login_ok(pin: &str) -> String {
    tool_ok(&[
        "-O",
        "--slot-description",
        AUTH_SLOT,
        "--login",
        "--pin",
        pin,
    ])
}
