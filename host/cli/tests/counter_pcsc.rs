//! The municipal counter (`juki counter …`) end to end through the REAL PC/SC stack: pcscd with
//! vsmartcard's vpcd, the card served by `juki_reader_sim::VpcdServer` into "Virtual PCD 00 00",
//! and the `juki` binary with the operator's password and the resident's PINs on standard input.
//!
//! Like tests/pcsc.rs (the harness is tests/common/pcsc.rs): with `JUKI_PCSC=1` a missing pcscd or
//! reader FAILS; without it these tests are skipped with a notice. The tests share the vpcd port,
//! so they take one mutex. Every
//! command runs with `JUKI_TODAY` (the counter's "today", for training and tests).

use juki_host::authority::RootAuthority;
use juki_host::date::Date;
use juki_host::resident::MunicipalityCode;

mod common;

use common::counter::{authority, blank_card, certify, counter, juki_on, Counter, ISSUE_DAY, PINS};
use common::pcsc::lock_or_skip;
use common::{fails, ok, path_str as s};

#[test]
fn counter_operations_through_pcsc() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = authority(&tmp.path().join("root"));
    let chiyoda = counter(tmp.path(), &root, "131016", "千代田区");
    let osaka = counter(tmp.path(), &root, "271004", "大阪市");

    // Operators: a second one is added by a logged-in one (its password first, then the new
    // one); a wrong password is refused and audited; five in a row lock the operator out.
    fails(
        chiyoda.run(ISSUE_DAY, "operator", &["add", "--name", "suzuki"], "x\n"),
        1,
        "--operator",
    );
    ok(chiyoda.op(
        "operator",
        &["add", "--name", "suzuki"],
        "tanaka-pw1\nsuzuki-pw1\n",
    ));
    let suzuki = |stdin: &str| {
        chiyoda.run(
            ISSUE_DAY,
            "pending",
            &["resolve", "1", "--note", "n", "--operator", "suzuki"],
            stdin,
        )
    };
    for _ in 0..4 {
        fails(suzuki("wrong-pw\n"), 7, "wrong operator name or password");
    }
    fails(suzuki("wrong-pw\n"), 7, "locked out");
    let err = fails(suzuki("suzuki-pw1\n"), 7, "locked out");
    assert!(
        err.contains("until 20"),
        "the lockout says until when: {err}"
    );
    let logins: Vec<_> = chiyoda
        .db()
        .audit()
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "login" && r.operator == "suzuki")
        .collect();
    assert_eq!(logins.len(), 6, "every attempt is audited");
    assert!(logins.iter().all(|r| !r.outcome.is_ok()));
    assert!(
        !format!("{logins:?}").contains("wrong-pw"),
        "no password in the trail"
    );
    // Wrong password for a card operation: refused before any PIN is read.
    fails(
        chiyoda.op("identify", &[], "nope-nope\n2580\n"),
        7,
        "wrong operator",
    );

    // ---- card 1: issued by Chiyoda to a child ----
    let image1 = tmp.path().join("card1.img");
    let served = blank_card(&image1, &root, "JK-0001");
    let issue = [
        "--name",
        "住基 花子",
        "--address",
        "東京都千代田区霞が関2-1-2",
        "--birth",
        "2015-06-15",
        "--sex",
        "2",
        "--serial",
        "JK-0001",
    ];
    fails(chiyoda.op("issue", &issue, "tanaka-pw1\n"), 1, "法定代理人");
    let mut with_rep = issue.to_vec();
    with_rep.extend(["--representative", "住基 太郎"]);
    let out = ok(chiyoda.op("issue", &with_rep, &format!("tanaka-pw1\n{PINS}")));
    assert!(
        out.contains("issued by") && out.contains("2036-04-01"),
        "{out}"
    );
    let code = out
        .lines()
        .find(|l| l.starts_with("resident code"))
        .and_then(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .find(|t| t.len() == 11)
        })
        .unwrap()
        .to_string();
    let shown = ok(chiyoda.run(ISSUE_DAY, "audit", &["show", "--card", "JK-0001"], ""));
    assert!(
        shown.contains("legal representative") && shown.contains("住基 太郎"),
        "{shown}"
    );

    // 本人確認.
    let out = ok(chiyoda.op("identify", &[], "tanaka-pw1\n2580\n"));
    assert!(out.contains(&code) && out.contains("住基 花子"), "{out}");
    assert!(out.contains("valid until 2036-04-01"), "{out}");
    fails(
        chiyoda.op("identify", &[], "tanaka-pw1\n9999\n"),
        3,
        "2 tries left",
    );

    // パスワード再設定.
    ok(chiyoda.op("reset-pin", &["--pin", "juki"], "tanaka-pw1\n4826\n"));
    ok(juki_on(ISSUE_DAY, &["info"], "4826\n"));

    // 一時停止: the citizen is refused; wrong states; resume.
    fails(
        chiyoda.op("resume", &[], "tanaka-pw1\n"),
        6,
        "only a suspended card",
    );
    ok(chiyoda.op("suspend", &["--reason", "紛失"], "tanaka-pw1\n"));
    // Refused before any PIN is asked: no standard input at all.
    let refused = fails(juki_on(ISSUE_DAY, &["info"], ""), 6, "suspended");
    assert!(!refused.contains("Enter the"), "a PIN was asked: {refused}");
    fails(
        chiyoda.op("suspend", &[], "tanaka-pw1\n"),
        6,
        "already suspended",
    );
    ok(chiyoda.op("resume", &[], "tanaka-pw1\n"));
    ok(juki_on(ISSUE_DAY, &["info"], "4826\n"));

    // Credentials: another national root's (same municipality) is refused by the card; an
    // expired one by the host, before the card.
    let root2 = tmp.path().join("root2");
    authority(&root2);
    let foreign = tmp.path().join("foreign");
    certify(&root2, "131016", "千代田区", &foreign);
    let foreign_counter = Counter {
        dir: chiyoda.dir.clone(),
        cred: foreign,
    };
    fails(
        foreign_counter.op("suspend", &[], "tanaka-pw1\n"),
        6,
        "does not accept the counter credential",
    );
    let expired = tmp.path().join("expired");
    RootAuthority::load(&root)
        .unwrap()
        .issue_counter_credential(
            &MunicipalityCode::parse("131016").unwrap(),
            "千代田区",
            Date::from_ymd(2015, 4, 1).unwrap(),
            5,
        )
        .unwrap()
        .save(&expired)
        .unwrap();
    let expired_counter = Counter {
        dir: chiyoda.dir.clone(),
        cred: expired,
    };
    fails(
        expired_counter.op("suspend", &[], "tanaka-pw1\n"),
        6,
        "expired on 2020-03-31",
    );
    // Osaka's credential with Chiyoda's records is refused.
    let mixed = Counter {
        dir: chiyoda.dir.clone(),
        cred: osaka.cred.clone(),
    };
    fails(
        mixed.op("suspend", &[], "tanaka-pw1\n"),
        1,
        "belongs to municipality 131016",
    );
    let status = ok(juki_on(ISSUE_DAY, &["status"], ""));
    assert!(status.contains("issued"), "nothing changed: {status}");

    // 転入: Osaka's counter serves the card issued by Chiyoda and registers it.
    let out = ok(osaka.op(
        "update",
        &[
            "--address",
            "大阪府大阪市北区中之島1-3-20",
            "--reason",
            "転入",
            "--date",
            "2026-03-28",
        ],
        "tanaka-pw1\n4826\n",
    ));
    assert!(
        out.contains("registered in this counter's registry"),
        "{out}"
    );
    let info = ok(juki_on(ISSUE_DAY, &["info"], "4826\n"));
    assert!(info.contains("大阪府大阪市北区中之島1-3-20"), "{info}");
    assert!(info.contains("2026-03-28 転入"), "{info}");
    let shown = ok(osaka.run(ISSUE_DAY, "audit", &["show", "--card", "JK-0001"], ""));
    assert!(shown.contains("issued by 131016"), "{shown}");
    assert!(shown.contains("JPKI certificates to be revoked"), "{shown}");

    // 住民票コードの変更 at Osaka: the card is terminated; only status works.
    let out = ok(osaka.op("change-code", &[], "tanaka-pw1\n"));
    let new_code = out
        .lines()
        .find(|l| l.starts_with("new resident code"))
        .and_then(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .find(|t| t.len() == 11)
        })
        .unwrap()
        .to_string();
    assert_ne!(new_code, code);
    let status = ok(juki_on(ISSUE_DAY, &["status"], ""));
    assert!(
        status.contains("terminated") && status.contains("JK-0001"),
        "{status}"
    );
    fails(
        juki_on(ISSUE_DAY, &["info"], "4826\n"),
        6,
        "no longer valid",
    );
    fails(
        osaka.op("suspend", &[], "tanaka-pw1\n"),
        6,
        "no longer valid",
    );
    drop(served);

    // ---- card 2: the new card for the new code, with a period of stay ----
    let image2 = tmp.path().join("card2.img");
    let _served = blank_card(&image2, &root, "OS-0002");
    let mut reissue = issue.to_vec();
    reissue[9] = "OS-0002";
    reissue.extend([
        "--representative",
        "住基 太郎",
        "--resident-code",
        &new_code,
        "--stay-until",
        "2027-03-31",
    ]);
    let out = ok(osaka.op("issue", &reissue, &format!("tanaka-pw1\n{PINS}")));
    assert!(
        out.contains("2027-03-31") && out.contains(&new_code),
        "{out}"
    );

    // Expired (JUKI_TODAY after the end of the stay): citizen and counter refused, but termination.
    let later = "2027-04-01";
    fails(juki_on(later, &["info"], "2580\n"), 6, "expired on");
    fails(
        juki_on(later, &["sign", s(&image2)], "JUKI2026\n"),
        6,
        "expired on",
    );
    let status = ok(juki_on(later, &["status"], ""));
    assert!(status.contains("EXPIRED"), "{status}");
    let op_later = |sub: &str, extra: &[&str]| {
        let mut extra = extra.to_vec();
        extra.extend(["--operator", "tanaka"]);
        osaka.run(later, sub, &extra, "tanaka-pw1\n")
    };
    fails(op_later("suspend", &[]), 6, "expired on");
    ok(op_later("terminate", &["--reason", "expired"]));
    let status = ok(juki_on(later, &["status"], ""));
    assert!(status.contains("terminated"), "{status}");

    // The trails are intact, and a forged record is found.
    for c in [&chiyoda, &osaka] {
        let out = ok(c.run(ISSUE_DAY, "audit", &["verify"], ""));
        assert!(out.contains("head: ") && out.contains("intact"), "{out}");
    }
    let forged_seq: i64 = {
        let conn = rusqlite::Connection::open(chiyoda.dir.join("counter.db")).unwrap();
        conn.execute_batch("DROP TRIGGER audit_log_no_update")
            .unwrap();
        let seq: i64 = conn
            .query_row(
                "SELECT seq FROM audit_log WHERE operation = 'suspend' AND outcome = 'ok'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        conn.execute(
            "UPDATE audit_log SET detail = 'nothing happened' WHERE seq = ?1",
            [seq],
        )
        .unwrap();
        seq
    };
    let out = chiyoda.run(ISSUE_DAY, "audit", &["verify"], "");
    let err = fails(
        out.clone(),
        8,
        &format!("record {forged_seq} does not match its hash"),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("head: "),
        "{err}"
    );
}
