//! 公的個人認証 (JPKI) end to end through the REAL PC/SC stack (pcscd + vpcd, the card served by
//! `juki_reader_sim::VpcdServer`), with OpenSSL as the independent verifier:
//!
//! CA → certificates issued at the counter for keys generated on the card → `juki sign` → the
//! agency's `juki verify` and `openssl cms -verify` (CA file given, CRL checked) → tampered file,
//! foreign CA, revocation by an address change, by a suspension → `juki auth` / `verify-auth`.
//!
//! These tests run on the real clock (no `JUKI_TODAY`): OpenSSL checks certificate and CRL times
//! against the system time. Like tests/pcsc.rs, `JUKI_PCSC=1` makes a missing pcscd FAIL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use juki_jpki::ca::JpkiCa;

mod common;

use common::pcsc::{juki_card_command, lock_or_skip, Served};
use common::{fails, ok, path_str as s, root_and_chiyoda, run, text};

/// `juki --reader "Virtual PCD 00 00" ARGS` on the real clock.
fn juki(args: &[&str], stdin: &str) -> Output {
    let mut cmd = juki_card_command(args);
    cmd.env_remove("JUKI_TODAY")
        .env_remove("JUKI_COUNTER_DIR")
        .env_remove("JUKI_CA_DIR");
    run(&mut cmd, stdin)
}

/// `openssl ARGS`: its success and its combined output.
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed (scripts/test.sh installs it)");
    let (o, e) = text(&out);
    (out.status.success(), format!("{o}{e}"))
}

/// `openssl cms -verify` of a detached signature, trusting `trust` (CA certificate and CRL in
/// one PEM file) with CRL checking.
fn openssl_verify(doc: &Path, p7s: &Path, trust: &Path) -> (bool, String) {
    openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        s(p7s),
        "-content",
        s(doc),
        "-CAfile",
        s(trust),
        "-crl_check",
        "-out",
        "/dev/null",
    ])
}

struct World {
    tmp: tempfile::TempDir,
}

impl World {
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `juki counter --counter-dir D --ca CA SUB [--credential C] --operator tanaka EXTRA`.
    fn counter(&self, ca: &str, sub: &str, extra: &[&str], stdin: &str) -> Output {
        let data = self.path("counter-data");
        let ca = self.path(ca);
        let cred = self.path("cred");
        let mut args = vec!["counter", "--counter-dir", s(&data), "--ca", s(&ca), sub];
        if sub != "jpki-revoke" {
            args.extend(["--credential", s(&cred)]);
        }
        args.extend(["--operator", "tanaka"]);
        args.extend_from_slice(extra);
        juki(&args, stdin)
    }

    /// Publishes the CA's CRLs into `out` and returns the PEM file OpenSSL trusts for signatures
    /// (signing CA certificate followed by its CRL).
    fn publish(&self, out: &str) -> PathBuf {
        let dir = self.path(out);
        ok(juki(
            &["jpki", "crl", "--ca", s(&self.path("ca")), "--out", s(&dir)],
            "",
        ));
        let trust = dir.join("trust.pem");
        let mut pem = std::fs::read(self.path("ca").join("sign-ca.pem")).unwrap();
        pem.extend(std::fs::read(dir.join("sign.crl")).unwrap());
        std::fs::write(&trust, pem).unwrap();
        trust
    }

    fn verify(&self, doc: &Path, p7s: &Path, crl_dir: &str) -> Output {
        let ca_cert = self.path("ca").join("sign-ca.pem");
        let crl = self.path(crl_dir).join("sign.crl");
        juki(
            &[
                "verify",
                s(doc),
                s(p7s),
                "--ca-cert",
                s(&ca_cert),
                "--crl",
                s(&crl),
            ],
            "",
        )
    }
}

const SIGN_PW: &str = "JUKI2026\n";

/// A national root, the 千代田区 counter (operator tanaka, password `tanaka-pw1`), the JPKI CA
/// `ca`, and a card issued at the counter to a resident (PINs 2580, 1357, JUKI2026), in the
/// virtual reader.
fn setup(name: &str, birth: &str, sex: &str, serial: &str) -> (World, Served) {
    let w = World {
        tmp: tempfile::tempdir().unwrap(),
    };
    let root = w.path("root");
    root_and_chiyoda(w.tmp.path(), juki);
    let out = ok(juki(&["jpki", "ca", "init", "--dir", s(&w.path("ca"))], ""));
    assert!(
        out.contains("sign-ca.pem") && out.contains("auth-ca.pem"),
        "{out}"
    );
    ok(juki(
        &[
            "counter",
            "--counter-dir",
            s(&w.path("counter-data")),
            "operator",
            "add",
            "--name",
            "tanaka",
            "--credential",
            s(&w.path("cred")),
        ],
        "tanaka-pw1\n",
    ));
    let image = w.path("card.img");
    juki_reader_sim::SimCard::create(&image).unwrap();
    let served = Served::start(&image);
    ok(juki(
        &["card", "init", "--root", s(&root), "--serial", serial],
        "",
    ));
    ok(w.counter(
        "ca",
        "issue",
        &[
            "--name",
            name,
            "--address",
            "東京都千代田区千代田1-1",
            "--birth",
            birth,
            "--sex",
            sex,
            "--serial",
            serial,
        ],
        "tanaka-pw1\n2580\n1357\nJUKI2026\n",
    ));
    (w, served)
}

#[test]
fn jpki_through_pcsc_and_openssl() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let (w, served) = setup("住基 花子", "1985-04-15", "2", "JK-0001");
    // A rogue CA with the same names.
    ok(juki(
        &["jpki", "ca", "init", "--dir", s(&w.path("rogue"))],
        "",
    ));
    let doc = w.path("application.txt");
    std::fs::write(&doc, "電子申請書: 転出届\n").unwrap();

    // Before the certificates are issued the card cannot make a CMS signature.
    fails(juki(&["sign", s(&doc)], SIGN_PW), 6, "no JPKI certificates");

    // 電子証明書の発行 at the counter: the 住基 PIN to read the 4 info.
    fails(
        w.counter("ca", "jpki-issue", &[], "tanaka-pw1\n9999\n"),
        3,
        "2 tries left",
    );
    let out = ok(w.counter("ca", "jpki-issue", &[], "tanaka-pw1\n2580\n"));
    assert!(
        out.contains("signing certificate") && out.contains("authentication certificate"),
        "{out}"
    );
    let records = JpkiCa::open(&w.path("ca"))
        .unwrap()
        .certificates_of("JK-0001")
        .unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.revoked.is_none()));

    // The citizen checks the certificates (自己の電子証明書の有効性確認).
    let crl0 = w.publish("crl0");
    let (sign_ca, auth_ca) = (
        w.path("ca").join("sign-ca.pem"),
        w.path("ca").join("auth-ca.pem"),
    );
    let trusted = ["--ca-cert", s(&sign_ca), "--ca-cert", s(&auth_ca)];
    let status = ok(juki(
        &[
            &["jpki", "status"][..],
            &trusted,
            &[
                "--crl",
                s(&w.path("crl0").join("sign.crl")),
                "--crl",
                s(&w.path("crl0").join("auth.crl")),
            ],
        ]
        .concat(),
        SIGN_PW,
    ));
    let valid = status
        .lines()
        .filter(|l| l.starts_with("state:") && l.ends_with(" valid"))
        .count();
    assert_eq!(valid, 2, "{status}");
    assert!(status.contains("住基 花子"), "{status}");
    // The signing certificate is read only after the sign password.
    fails(
        juki(&[&["jpki", "status"][..], &trusted].concat(), "WRONG999\n"),
        3,
        "4 tries left",
    );
    ok(juki(
        &[&["jpki", "status", "--no-sign"][..], &trusted].concat(),
        "",
    ));
    // The trust anchor is the host's: against a foreign CA's certificates the card's own
    // (genuine) CA certificates do not make it valid.
    let (rogue_sign, rogue_auth) = (
        w.path("rogue").join("sign-ca.pem"),
        w.path("rogue").join("auth-ca.pem"),
    );
    let rogue = ["--ca-cert", s(&rogue_sign), "--ca-cert", s(&rogue_auth)];
    let out = juki(&[&["jpki", "status", "--no-sign"][..], &rogue].concat(), "");
    assert!(text(&out).0.contains("NOT valid"), "{out:?}");
    fails(out, 9, "trusted JPKI certification authority");
    // Without a trust anchor it does not run.
    fails(juki(&["jpki", "status", "--no-sign"], ""), 2, "--ca-cert");

    // 電子署名, then the agency: juki verify and openssl cms -verify. As the card served it:
    // seven APDUs (SELECT, EF 0008, VERIFY, certificate, CA certificate, SELECT key, signature),
    // the password given on standard input.
    let before = served.card_stats();
    let out = ok(juki(&["sign", s(&doc)], SIGN_PW));
    assert_eq!(
        (served.card_stats() - before).apdus,
        7,
        "APDUs of juki sign"
    );
    assert!(out.contains("Signed with the card's signing key"), "{out}");
    let p7s = w.path("application.txt.p7s");
    let verdict = ok(w.verify(&doc, &p7s, "crl0"));
    assert!(verdict.contains("VALID"), "{verdict}");
    assert!(verdict.contains("住基 花子") && verdict.contains("東京都千代田区千代田1-1"));
    assert!(
        verdict.contains("1985-04-15") && verdict.contains("not revoked"),
        "{verdict}"
    );
    let (good, said) = openssl_verify(&doc, &p7s, &crl0);
    assert!(good, "openssl rejected a good signature: {said}");
    // Without a CRL openssl's CRL check fails, and juki refuses to skip it silently.
    let (good, _) = openssl_verify(&doc, &p7s, &w.path("ca").join("sign-ca.pem"));
    assert!(!good, "openssl -crl_check without a CRL must fail");
    fails(
        juki(
            &[
                "verify",
                s(&doc),
                s(&p7s),
                "--ca-cert",
                s(&w.path("ca").join("sign-ca.pem")),
            ],
            "",
        ),
        2,
        "--crl",
    );
    // The auth CA's CRL is not the signing CA's: no CRL of the issuer.
    fails(
        juki(
            &[
                "verify",
                s(&doc),
                s(&p7s),
                "--ca-cert",
                s(&w.path("ca").join("sign-ca.pem")),
                "--crl",
                s(&w.path("crl0").join("auth.crl")),
            ],
            "",
        ),
        1,
        "no CRL of",
    );

    // Attached: openssl gives the document back.
    let p7m = w.path("application.p7m");
    ok(juki(
        &["sign", s(&doc), "--attached", "--out", s(&p7m)],
        SIGN_PW,
    ));
    let (good, said) = openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        s(&p7m),
        "-CAfile",
        s(&crl0),
        "-crl_check",
    ]);
    assert!(good && said.contains("電子申請書: 転出届"), "{said}");
    let extracted = w.path("extracted.txt");
    let verdict = ok(juki(
        &[
            "verify",
            s(&p7m),
            "--ca-cert",
            s(&w.path("ca").join("sign-ca.pem")),
            "--crl",
            s(&w.path("crl0").join("sign.crl")),
            "--out",
            s(&extracted),
        ],
        "",
    ));
    assert!(verdict.contains("VALID"), "{verdict}");
    assert_eq!(
        std::fs::read(&extracted).unwrap(),
        std::fs::read(&doc).unwrap()
    );

    // A wrong sign password: no signature, tries counted.
    fails(juki(&["sign", s(&doc)], "WRONG999\n"), 3, "4 tries left");
    ok(juki(
        &["sign", s(&doc), "--out", s(&w.path("again.p7s"))],
        SIGN_PW,
    ));

    // Tampered document: both reject.
    let forged = w.path("forged.txt");
    std::fs::write(&forged, "電子申請書: 転入届\n").unwrap();
    let err = fails(w.verify(&forged, &p7s, "crl0"), 9, "REJECTED");
    assert!(err.contains("REJECTED"), "{err}");
    let (good, _) = openssl_verify(&forged, &p7s, &crl0);
    assert!(!good, "openssl accepted a tampered document");
    // A corrupted signature file.
    let mut bytes = std::fs::read(&p7s).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x40;
    let broken = w.path("broken.p7s");
    std::fs::write(&broken, bytes).unwrap();
    let out = w.verify(&doc, &broken, "crl0");
    assert!(!out.status.success());
    let (good, _) = openssl_verify(&doc, &broken, &crl0);
    assert!(!good);

    // 利用者証明: challenge, answer with the auth PIN, check.
    let challenge = w.path("challenge.bin");
    ok(juki(&["jpki", "challenge", "--out", s(&challenge)], ""));
    fails(
        juki(&["auth", "--challenge", s(&challenge)], "9999\n"),
        3,
        "2 tries left",
    );
    ok(juki(&["auth", "--challenge", s(&challenge)], "1357\n"));
    let answer = w.path("challenge.bin.answer");
    let verify_auth = |challenge: &Path, crl_dir: &str, ca: &str| {
        juki(
            &[
                "verify-auth",
                "--challenge",
                s(challenge),
                "--answer",
                s(&answer),
                "--ca-cert",
                s(&w.path(ca).join("auth-ca.pem")),
                "--crl",
                s(&w.path(crl_dir).join("auth.crl")),
            ],
            "",
        )
    };
    let out = ok(verify_auth(&challenge, "crl0", "ca"));
    assert!(out.contains("VALID") && !out.contains("住基 花子"), "{out}");
    let other = w.path("other.bin");
    ok(juki(&["jpki", "challenge", "--out", s(&other)], ""));
    fails(
        verify_auth(&other, "crl0", "ca"),
        9,
        "not made for this challenge",
    );
    // The signing CA does not vouch for an authentication certificate.
    fails(
        juki(
            &[
                "verify-auth",
                "--challenge",
                s(&challenge),
                "--answer",
                s(&answer),
                "--ca-cert",
                s(&w.path("ca").join("sign-ca.pem")),
                "--no-revocation-check",
            ],
            "",
        ),
        9,
        "trusted JPKI certification authority",
    );

    // A signature from a foreign CA: a rogue CA's certificates on the same card.
    ok(w.counter("rogue", "jpki-issue", &[], "tanaka-pw1\n2580\n"));
    let rogue_p7s = w.path("rogue.p7s");
    ok(juki(&["sign", s(&doc), "--out", s(&rogue_p7s)], SIGN_PW));
    let err = fails(
        w.verify(&doc, &rogue_p7s, "crl0"),
        9,
        "trusted JPKI certification authority",
    );
    assert!(err.contains("REJECTED"), "{err}");
    let (good, said) = openssl_verify(&doc, &rogue_p7s, &crl0);
    assert!(!good, "openssl accepted a foreign CA's signature: {said}");
    // Back to the real CA: its earlier pair is revoked as superseded.
    let out = ok(w.counter("ca", "jpki-issue", &[], "tanaka-pw1\n2580\n"));
    assert!(out.contains("superseded"), "{out}");
    let crl1 = w.publish("crl1");
    let (good, said) = openssl_verify(&doc, &p7s, &crl1);
    assert!(
        !good && said.contains("revoked"),
        "superseded signature accepted: {said}"
    );
    let p7s = w.path("new.p7s");
    ok(juki(&["sign", s(&doc), "--out", s(&p7s)], SIGN_PW));
    ok(w.verify(&doc, &p7s, "crl1"));
    let (good, said) = openssl_verify(&doc, &p7s, &crl1);
    assert!(good, "{said}");
    ok(juki(&["auth", "--challenge", s(&challenge)], "1357\n"));

    // 転居 at the counter: the signing certificate is revoked automatically.
    let out = ok(w.counter(
        "ca",
        "update",
        &["--address", "東京都千代田区永田町1-7-1", "--reason", "転居"],
        "tanaka-pw1\n2580\n",
    ));
    assert!(out.contains("revoked") && out.contains("sign"), "{out}");
    // The signature made before the move still verifies against the old CRL …
    ok(w.verify(&doc, &p7s, "crl1"));
    // … and is rejected by both once the CA publishes the new one.
    let crl2 = w.publish("crl2");
    let err = fails(w.verify(&doc, &p7s, "crl2"), 9, "revoked");
    assert!(err.contains("affiliationChanged"), "{err}");
    let (good, said) = openssl_verify(&doc, &p7s, &crl2);
    assert!(!good && said.contains("revoked"), "{said}");
    // A new signature under the revoked certificate is rejected too.
    let after = w.path("after-move.p7s");
    ok(juki(&["sign", s(&doc), "--out", s(&after)], SIGN_PW));
    fails(w.verify(&doc, &after, "crl2"), 9, "revoked");
    let (good, _) = openssl_verify(&doc, &after, &crl2);
    assert!(!good);
    // The citizen sees it: the signing certificate is no longer valid.
    let err = fails(
        juki(
            &[
                &["jpki", "status"][..],
                &trusted,
                &[
                    "--crl",
                    s(&w.path("crl2").join("sign.crl")),
                    "--crl",
                    s(&w.path("crl2").join("auth.crl")),
                ],
            ]
            .concat(),
            SIGN_PW,
        ),
        9,
        "revoked",
    );
    assert!(err.contains("signing certificate"), "{err}");
    // The authentication certificate carries no address: it stays valid after a move.
    ok(verify_auth(&challenge, "crl2", "ca"));

    // Re-issue after the move: the new signing certificate has the new address.
    ok(w.counter("ca", "jpki-issue", &[], "tanaka-pw1\n2580\n"));
    let moved = w.path("moved.p7s");
    ok(juki(&["sign", s(&doc), "--out", s(&moved)], SIGN_PW));
    let crl3 = w.publish("crl3");
    let verdict = ok(w.verify(&doc, &moved, "crl3"));
    assert!(verdict.contains("永田町"), "{verdict}");
    assert!(openssl_verify(&doc, &moved, &crl3).0);

    // 一時停止 (lost card): both certificates revoked.
    ok(juki(&["auth", "--challenge", s(&challenge)], "1357\n"));
    let out = ok(w.counter("ca", "suspend", &["--reason", "紛失"], "tanaka-pw1\n"));
    assert!(out.contains("revoked") && out.contains("auth"), "{out}");
    w.publish("crl4");
    fails(verify_auth(&challenge, "crl4", "ca"), 9, "revoked");
    fails(w.verify(&doc, &moved, "crl4"), 9, "keyCompromise");
    // A suspended card signs nothing.
    fails(juki(&["sign", s(&doc)], SIGN_PW), 6, "suspended");

    // The audit trail tells it, and is intact.
    let history = ok(juki(
        &[
            "counter",
            "--counter-dir",
            s(&w.path("counter-data")),
            "audit",
            "show",
            "--card",
            "JK-0001",
        ],
        "",
    ));
    assert!(
        history.contains("jpki-issue") && history.contains("jpki-revoke"),
        "{history}"
    );
    ok(juki(
        &[
            "counter",
            "--counter-dir",
            s(&w.path("counter-data")),
            "audit",
            "verify",
        ],
        "",
    ));
    let list = ok(juki(&["jpki", "ca", "list", "--dir", s(&w.path("ca"))], ""));
    assert!(
        list.contains("REVOKED") && !list.contains(": valid"),
        "{list}"
    );
}

#[test]
fn counter_without_ca_flags_revocation() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let (w, served) = setup("住基 一郎", "1970-01-31", "1", "JK-0002");
    let data = w.path("counter-data");
    let audit_show = |card: &str| {
        juki(
            &[
                "counter",
                "--counter-dir",
                s(&data),
                "audit",
                "show",
                "--card",
                card,
            ],
            "",
        )
    };
    ok(w.counter("ca", "jpki-issue", &[], "tanaka-pw1\n2580\n"));
    // jpki-issue without a CA is refused.
    let no_ca = |sub: &str, extra: &[&str], stdin: &str| {
        let mut args = vec!["counter", "--counter-dir", s(&data), sub];
        let cred = w.path("cred");
        if sub != "jpki-revoke" {
            args.extend(["--credential", s(&cred)]);
        }
        args.extend(["--operator", "tanaka"]);
        args.extend_from_slice(extra);
        juki(&args, stdin)
    };
    fails(no_ca("jpki-issue", &[], "tanaka-pw1\n"), 1, "--ca");
    // An update without the CA: done on the card, revocation pending and said so.
    let out = no_ca(
        "update",
        &["--name", "住基 太郎", "--reason", "氏名変更"],
        "tanaka-pw1\n2580\n",
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("NOT revoked"), "{stderr}");
    let show = ok(audit_show("JK-0002"));
    let registry = show.lines().next().unwrap_or_default();
    assert!(
        registry.contains("JPKI certificates to be revoked"),
        "{show}"
    );
    let ca = JpkiCa::open(&w.path("ca")).unwrap();
    assert!(ca
        .certificates_of("JK-0002")
        .unwrap()
        .iter()
        .all(|r| r.revoked.is_none()));
    // The pending revocation, done later with the CA and without the card.
    drop(served);
    let out = ok(w.counter("ca", "jpki-revoke", &["--card", "JK-0002"], "tanaka-pw1\n"));
    assert!(out.contains("revoked"), "{out}");
    let records = ca.certificates_of("JK-0002").unwrap();
    assert!(records.iter().all(|r| r.revoked.is_some()), "{records:?}");
    let show = ok(audit_show("JK-0002"));
    let registry = show.lines().next().unwrap_or_default();
    assert!(
        !registry.contains("JPKI certificates to be revoked"),
        "{show}"
    );
    // An unknown card: nothing to revoke, and said so.
    let out = ok(w.counter("ca", "jpki-revoke", &["--card", "JK-9999"], "tanaka-pw1\n"));
    assert!(out.contains("no valid certificate"), "{out}");
}
