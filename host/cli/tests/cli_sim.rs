//! The `juki` binary on an in-process simulated card (`--reader sim:PATH`): no pcscd needed.
//! PINs go in on standard input, one per line; they never appear in argv or in the output.

mod common;

use common::{fails, juki, ok, path_str as s};

#[test]
fn demo_exits_zero() {
    let out = ok(juki(&["demo"], ""));
    assert!(out.contains("all 23 steps behaved as expected"), "{out}");
}

/// `juki demo` speaks Japanese under a Japanese locale and English otherwise, with no mixture.
#[test]
fn demo_speaks_the_locale() {
    let japanese = |c: char| matches!(c, '\u{3040}'..='\u{30ff}');
    let demo = |vars: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_juki"));
        cmd.arg("demo")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        ok(common::run(&mut cmd, ""))
    };
    let ja = demo(&[("LANG", "ja_JP.UTF-8")]);
    for phrase in [
        "暗証番号が違います。あと2回間違えるとロックされます。",
        "暗証番号がロックされています。市区町村の窓口で再設定してください。",
        "一時停止",
        "全23手順が期待どおりに動作しました",
    ] {
        assert!(ja.contains(phrase), "{phrase:?} not in:\n{ja}");
    }
    assert!(!ja.contains("wrong PIN"), "{ja}");
    // LC_ALL wins over LANG.
    let ja = demo(&[("LANG", "C.UTF-8"), ("LC_ALL", "ja_JP.UTF-8")]);
    assert!(ja.contains("デモ終了"), "{ja}");
    let en = demo(&[("LANG", "C.UTF-8")]);
    for phrase in [
        "wrong PIN or password: 2 tries left before it is locked",
        "this card is suspended",
        "all 23 steps behaved as expected",
    ] {
        assert!(en.contains(phrase), "{phrase:?} not in:\n{en}");
    }
    // Japanese only in the sample data (names, addresses, municipalities) and in the 住民票の写し
    // shown as issued (a Japanese document, its lines marked │).
    for line in en
        .lines()
        .filter(|l| l.chars().any(japanese) && !l.trim_start().starts_with('│'))
    {
        assert!(
            ["住基 花子", "千代田", "大阪", "基本4情報"]
                .iter()
                .any(|d| line.contains(d)),
            "Japanese in the English demo: {line}"
        );
    }
}

#[test]
fn issue_read_and_block_on_a_sim_card() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let counter = dir.path().join("counter");
    let reader = format!("sim:{}", dir.path().join("card.img").display());
    ok(juki(&["authority", "init", "--dir", s(&root)], ""));
    fails(
        juki(&["authority", "init", "--dir", s(&root)], ""),
        1,
        "refusing to overwrite",
    );
    ok(juki(
        &[
            "authority",
            "certify",
            "--root",
            s(&root),
            "--municipality",
            "271004",
            "--name",
            "大阪市",
            "--out",
            s(&counter),
        ],
        "",
    ));
    let data = dir.path().join("counter-data");
    ok(juki(
        &[
            "counter",
            "--counter-dir",
            s(&data),
            "operator",
            "add",
            "--name",
            "tanaka",
            "--credential",
            s(&counter),
        ],
        "tanaka-pw1\n",
    ));
    // No image yet: only `card init` creates one.
    fails(juki(&["--reader", &reader, "status"], ""), 1, "card image");
    ok(juki(
        &[
            "--reader",
            &reader,
            "card",
            "init",
            "--root",
            s(&root),
            "--serial",
            "OSAKA-0001",
        ],
        "",
    ));
    // Issuing a card before it is initialised or twice is refused; the resident data is
    // unreadable before issue.
    fails(
        juki(&["--reader", &reader, "info"], "2580\n"),
        6,
        "conditions of use",
    );
    let issue = |pins: &str| {
        juki(
            &[
                "--reader",
                &reader,
                "counter",
                "--counter-dir",
                s(&data),
                "issue",
                "--operator",
                "tanaka",
                "--credential",
                s(&counter),
                "--name",
                "住基 次郎",
                "--address",
                "大阪府大阪市北区中之島1-3-20",
                "--birth",
                "19990101",
                "--sex",
                "1",
                "--serial",
                "OSAKA-0001",
            ],
            &format!("tanaka-pw1\n{pins}"),
        )
    };
    fails(issue("2580\n1357\n"), 1, "standard input ended");
    fails(issue("2580\n1357\nabcdef\n"), 1, "signing password");
    ok(issue("2580\n1357\nOSAKA2026\n"));
    fails(
        issue("2580\n1357\nOSAKA2026\n"),
        6,
        "only an initialised card",
    );
    let status = ok(juki(&["--reader", &reader, "status"], ""));
    assert!(
        status.contains("OSAKA-0001") && status.contains("271004"),
        "{status}"
    );
    let info = ok(juki(&["--reader", &reader, "info"], "2580\n"));
    assert!(
        info.contains("住基 次郎") && info.contains("1999-01-01"),
        "{info}"
    );
    // The auth PIN can be changed and blocked independently.
    ok(juki(
        &["--reader", &reader, "pin", "change", "--pin", "auth"],
        "1357\n2468\n",
    ));
    fails(
        juki(
            &["--reader", &reader, "pin", "change", "--pin", "auth"],
            "1357\n1470\n",
        ),
        3,
        "2 tries left",
    );
    let status = ok(juki(&["--reader", &reader, "pin", "status"], ""));
    assert!(
        status.contains("authentication PIN") && status.contains("2 tries left"),
        "{status}"
    );
    // Empty or missing PIN input is an error, not a try.
    fails(
        juki(&["--reader", &reader, "info"], ""),
        1,
        "standard input ended",
    );
    let status = ok(juki(&["--reader", &reader, "pin", "status"], ""));
    assert!(
        status.contains("resident card PIN") && status.contains("3 tries left"),
        "{status}"
    );
}

#[test]
fn pins_are_not_command_line_arguments() {
    let help = ok(juki(&["counter", "issue", "--help"], ""));
    assert!(!help.contains("--pin "), "{help}");
    let out = juki(&["info", "--pin", "2580"], "");
    assert_eq!(out.status.code(), Some(2), "clap refuses unknown arguments");
}

#[test]
fn missing_reader_is_a_clear_error() {
    let out = juki(&["--reader", "No Such Reader 99", "status"], "");
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("No Such Reader 99") || stderr.contains("no smart card reader"),
        "{stderr}"
    );
}

#[test]
fn a_supervisor_unlocks_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("cred");
    common::root_and_counter(dir.path(), "271004", "大阪市", juki);
    let data = dir.path().join("counter-data");
    let counter_cmd = |args: &[&str], stdin: &str| {
        juki(
            &[&["counter", "--counter-dir", s(&data)][..], args].concat(),
            stdin,
        )
    };
    let out = ok(counter_cmd(
        &[
            "operator",
            "add",
            "--name",
            "boss",
            "--credential",
            s(&counter),
        ],
        "boss-pw-01\n",
    ));
    assert!(out.contains("supervisor"), "{out}");
    ok(counter_cmd(
        &["operator", "add", "--name", "tanaka", "--operator", "boss"],
        "boss-pw-01\ntanaka-pw1\n",
    ));
    // Only a supervisor registers a supervisor.
    fails(
        counter_cmd(
            &[
                "operator",
                "add",
                "--name",
                "mallory",
                "--operator",
                "tanaka",
                "--supervisor",
            ],
            "tanaka-pw1\nmallory-pw\n",
        ),
        6,
        "not a supervisor",
    );
    // Five wrong passwords lock tanaka out.
    let tanaka_unlocks_boss = |pw: &str| {
        counter_cmd(
            &["operator", "unlock", "boss", "--operator", "tanaka"],
            &format!("{pw}\n"),
        )
    };
    for _ in 1..5 {
        fails(tanaka_unlocks_boss("guess-123"), 7, "wrong operator name");
    }
    fails(tanaka_unlocks_boss("guess-123"), 7, "locked out");
    fails(tanaka_unlocks_boss("tanaka-pw1"), 7, "locked out");
    // The supervisor unlocks tanaka; tanaka may log in again, but unlocks nobody.
    let out = ok(counter_cmd(
        &["operator", "unlock", "tanaka", "--operator", "boss"],
        "boss-pw-01\n",
    ));
    assert!(out.contains("unlocked"), "{out}");
    fails(tanaka_unlocks_boss("tanaka-pw1"), 6, "not a supervisor");
    fails(
        counter_cmd(
            &["operator", "unlock", "boss", "--operator", "boss"],
            "boss-pw-01\n",
        ),
        6,
        "themself",
    );
    let verified = ok(counter_cmd(&["audit", "verify"], ""));
    assert!(verified.contains("intact"), "{verified}");
}

/// Output to a closed pipe (`juki … | head`) ends quietly: no panic, the command's own exit code.
#[test]
fn closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for args in [
        vec!["demo"],
        vec!["authority", "init", "--dir", s(&root)],
        vec!["--help"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_juki"))
            .args(&args)
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "juki {args:?}: {stderr}");
        assert!(
            out.status.success(),
            "juki {args:?}: {:?} {stderr}",
            out.status
        );
    }
}

/// Typed arguments: a bad birth date, sex, resident code or municipality code is refused by the
/// command line (exit 2) before anything runs: no counter data is created.
#[test]
fn bad_values_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("counter-data");
    let issue = |extra: &[&str]| {
        let mut args = vec![
            "counter",
            "--counter-dir",
            s(&data),
            "issue",
            "--credential",
            "cred",
            "--operator",
            "tanaka",
            "--name",
            "住基 花子",
            "--address",
            "東京都千代田区千代田1-1",
        ];
        args.extend_from_slice(extra);
        juki(&args, "")
    };
    fails(
        issue(&["--birth", "19850230", "--sex", "2"]),
        2,
        "is not a date",
    );
    fails(
        issue(&["--birth", "19850415", "--sex", "3"]),
        2,
        "not \"3\"",
    );
    fails(
        issue(&[
            "--birth",
            "19850415",
            "--sex",
            "2",
            "--resident-code",
            "12345678901",
        ]),
        2,
        "check digit",
    );
    fails(
        issue(&[
            "--birth",
            "19850415",
            "--sex",
            "2",
            "--stay-until",
            "2030-13-01",
        ]),
        2,
        "2030-13-01",
    );
    assert!(!data.exists(), "the counter's data was created");
    fails(
        juki(
            &[
                "authority",
                "certify",
                "--root",
                "root",
                "--municipality",
                "131017",
                "--name",
                "千代田区",
                "--out",
                "cred",
            ],
            "",
        ),
        2,
        "local government code",
    );
    // In Japanese under a Japanese locale.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_juki"));
    cmd.args(["counter", "--counter-dir", s(&data), "issue"])
        .args(["--credential", "c", "--operator", "o", "--name", "n"])
        .args(["--address", "a", "--birth", "19850230", "--sex", "2"])
        .env("LANG", "ja_JP.UTF-8");
    fails(common::run(&mut cmd, ""), 2, "日付ではありません");
}
