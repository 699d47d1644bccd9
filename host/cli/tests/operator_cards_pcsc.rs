//! Operator cards (操作者カード) and roles through the REAL PC/SC stack with vpcd's two readers:
//! the resident's card in "Virtual PCD 00 00" (the desk reader), the operator's own card in
//! "Virtual PCD 00 01" (the operator reader), the `juki` binary with the operator's password, the
//! operator card's PIN and the resident's PIN on standard input.
//!
//! Like tests/counter_pcsc.rs: with `JUKI_PCSC=1` a missing pcscd or reader FAILS; without it
//! these tests are skipped with a notice.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::counter::{authority, blank_card, counter, Counter, ISSUE_DAY, PINS};
use common::pcsc::{juki_card_command, lock_or_skip, Served};
use common::{fails, ok, path_str as s};

/// Issues the blank card `image` (in the desk reader) as card `serial` to an adult `name`, by
/// tanaka before any operator card is registered. The card's 住基 PIN is 2580.
fn issued_card(c: &Counter, root: &Path, image: &Path, serial: &str, name: &str) {
    let _served = blank_card(image, root, serial);
    ok(c.op(
        "issue",
        &[
            "--name",
            name,
            "--address",
            "東京都千代田区霞が関2-1-2",
            "--birth",
            "1980-01-15",
            "--sex",
            "1",
            "--serial",
            serial,
        ],
        &format!("tanaka-pw1\n{PINS}"),
    ));
}

/// `juki counter … SUB EXTRA --operator OP` (with the credential where the harness adds it).
fn as_op(c: &Counter, op: &str, sub: &str, extra: &[&str], stdin: &str) -> std::process::Output {
    let mut extra = extra.to_vec();
    extra.extend(["--operator", op]);
    c.run(ISSUE_DAY, sub, &extra, stdin)
}

/// The audit records of `operation` as (operator, outcome, detail) text.
fn records(c: &Counter, operation: &str) -> Vec<String> {
    c.db()
        .audit()
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == operation)
        .map(|r| format!("{} {} {}", r.operator, r.outcome, r.detail))
        .collect()
}

#[test]
fn operator_cards_and_roles_through_pcsc() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = authority(&tmp.path().join("root"));
    let chiyoda = counter(tmp.path(), &root, "131016", "千代田区");
    let cred = s(&chiyoda.cred).to_string();

    // Operators with roles decided by the municipality: suzuki a clerk, kato an auditor.
    ok(chiyoda.op(
        "operator",
        &["add", "--name", "suzuki"],
        "tanaka-pw1\nsuzuki-pw1\n",
    ));
    ok(chiyoda.op(
        "operator",
        &["add", "--name", "kato", "--role", "auditor"],
        "tanaka-pw1\nkato-pw-01\n",
    ));

    // The cards: tanaka's and suzuki's own, a stranger's (never registered), a resident's.
    let img = |n: &str| tmp.path().join(format!("{n}.img"));
    issued_card(&chiyoda, &root, &img("tanaka"), "OP-TANAKA", "田中 一郎");
    issued_card(&chiyoda, &root, &img("suzuki"), "OP-SUZUKI", "鈴木 次郎");
    issued_card(&chiyoda, &root, &img("other"), "OP-OTHER", "他人 三郎");
    issued_card(&chiyoda, &root, &img("resident"), "JK-0001", "住基 花子");
    eprintln!("cards issued after {:?}", started.elapsed());

    // An auditor may not issue: refused before the card is touched, audited, exit 6.
    let mut desk = Served::start_on(&img("resident"), 0);
    let err = fails(
        as_op(&chiyoda, "kato", "identify", &[], "kato-pw-01\n"),
        6,
        "may not identify",
    );
    assert!(err.contains("権限がありません"), "Japanese first: {err}");
    assert!(records(&chiyoda, "identify")
        .iter()
        .any(|r| r.starts_with("kato refused: role auditor may not identify")));
    // … but reads the audit trail.
    ok(as_op(
        &chiyoda,
        "kato",
        "audit",
        &["show", "--card", "JK-0001"],
        "kato-pw-01\n",
    ));
    // A clerk may not read it.
    fails(
        as_op(&chiyoda, "suzuki", "audit", &["verify"], "suzuki-pw1\n"),
        6,
        "may not audit-read",
    );
    desk.stop();

    // tanaka (the supervisor) registers their own card (in the desk reader): from now on the
    // counter requires operator cards.
    let mut desk = Served::start_on(&img("tanaka"), 0);
    let out = ok(chiyoda.op(
        "operator",
        &["card", "--name", "tanaka", "--credential", &cred],
        "tanaka-pw1\n",
    ));
    assert!(out.contains("OP-TANAKA"), "{out}");
    desk.stop();
    // Then suzuki's: tanaka logs in with their card in the operator reader.
    let mut operator = Served::start_on(&img("tanaka"), 1);
    let mut desk = Served::start_on(&img("suzuki"), 0);
    ok(chiyoda.op(
        "operator",
        &["card", "--name", "suzuki", "--credential", &cred],
        "tanaka-pw1\n2580\n",
    ));
    desk.stop();

    // Password + operator card + its PIN: the operation works.
    let mut desk = Served::start_on(&img("resident"), 0);
    let t = Instant::now();
    let out = ok(chiyoda.op("identify", &[], "tanaka-pw1\n2580\n2580\n"));
    assert!(out.contains("住基 花子"), "{out}");
    eprintln!("identify with an operator card: {:?}", t.elapsed());
    let logins = records(&chiyoda, "login");
    assert!(
        logins
            .iter()
            .any(|r| r.starts_with("tanaka ok operator card OP-TANAKA")),
        "{logins:?}"
    );

    // The wrong password: refused before the card is asked.
    fails(
        chiyoda.op("identify", &[], "wrong-pw-1\n"),
        7,
        "wrong operator name or password",
    );
    // The right card with the wrong PIN: refused by the card.
    let err = fails(
        chiyoda.op("identify", &[], "tanaka-pw1\n1111\n"),
        7,
        "wrong operator card PIN",
    );
    assert!(err.contains("操作者カード"), "{err}");
    // Audit trails never hold a secret.
    let all = format!("{:?}", chiyoda.db().audit().records().unwrap());
    assert!(!all.contains("1111") && !all.contains("wrong-pw-1"));

    // Another (unregistered) card in the operator reader.
    operator.stop();
    let mut operator = Served::start_on(&img("other"), 1);
    fails(
        chiyoda.op("identify", &[], "tanaka-pw1\n2580\n"),
        7,
        "(OP-OTHER) is not tanaka's operator card",
    );
    // No card in the operator reader.
    operator.stop();
    fails(
        chiyoda.op("identify", &[], "tanaka-pw1\n2580\n"),
        7,
        "no operator card in the operator reader",
    );
    // A password-only operator (no card registered) is refused at a counter that requires
    // operator cards.
    fails(
        as_op(
            &chiyoda,
            "kato",
            "audit",
            &["verify", "--credential", &cred],
            "kato-pw-01\n",
        ),
        7,
        "none is registered for kato",
    );
    // … and the records cannot be read without a login any more.
    fails(
        chiyoda.run(ISSUE_DAY, "audit", &["verify"], ""),
        1,
        "requires operator cards",
    );

    // A clerk with their card: identify works; terminate and operator add are refused.
    let mut operator = Served::start_on(&img("suzuki"), 1);
    ok(as_op(
        &chiyoda,
        "suzuki",
        "identify",
        &[],
        "suzuki-pw1\n2580\n2580\n",
    ));
    let err = fails(
        as_op(
            &chiyoda,
            "suzuki",
            "terminate",
            &["--reason", "returned"],
            "suzuki-pw1\n2580\n",
        ),
        6,
        "may not terminate",
    );
    assert!(err.contains("not a supervisor"), "{err}");
    fails(
        as_op(
            &chiyoda,
            "suzuki",
            "operator",
            &["add", "--name", "mallory", "--credential", &cred],
            "suzuki-pw1\n2580\nmallory-pw\n",
        ),
        6,
        "may not operator-add",
    );
    assert!(chiyoda.db().operators().get("mallory").unwrap().is_none());
    let refusals: Vec<_> = records(&chiyoda, "terminate")
        .into_iter()
        .chain(records(&chiyoda, "operator-add"))
        .filter(|r| r.starts_with("suzuki refused: role clerk may not"))
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    operator.stop();

    // The operator card pulled while the command waits for the resident's PIN: the operation
    // stops, nothing is done, the refusal is audited.
    let mut operator = Served::start_on(&img("tanaka"), 1);
    let identified_before = records(&chiyoda, "identify")
        .iter()
        .filter(|r| r.contains(" ok "))
        .count();
    let mut cmd = juki_card_command(&[
        "counter",
        "--counter-dir",
        s(&chiyoda.dir),
        "identify",
        "--credential",
        &cred,
        "--operator",
        "tanaka",
    ]);
    cmd.env("JUKI_TODAY", ISSUE_DAY)
        .env_remove("JUKI_COUNTER_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"tanaka-pw1\n2580\n").unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let mut all = Vec::new();
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&all).into_owned());
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    // The resident's PIN prompt ("Enter the …") comes after the login and the inspection.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the command asks the resident's PIN");
        if seen.contains("Enter the") {
            break;
        }
    }
    operator.stop();
    stdin.write_all(b"2580\n").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(7), "{err}");
    assert!(err.contains("操作者カードが取り外されました"), "{err}");
    let identify = records(&chiyoda, "identify");
    assert_eq!(
        identify.iter().filter(|r| r.contains(" ok ")).count(),
        identified_before,
        "not identified: {identify:?}"
    );
    assert!(
        identify
            .iter()
            .any(|r| r.starts_with("tanaka refused: operator card removed")),
        "{identify:?}"
    );
    assert!(chiyoda.db().journal().unfinished().unwrap().is_empty());

    // suzuki's card is lost: tanaka (their own card in the operator reader) removes it. From
    // then on suzuki cannot log in, and the card is refused even with its binding put back.
    let lost = chiyoda
        .db()
        .operators()
        .card_binding("suzuki")
        .unwrap()
        .unwrap();
    let mut operator = Served::start_on(&img("tanaka"), 1);
    let out = ok(chiyoda.op(
        "operator",
        &[
            "card",
            "--name",
            "suzuki",
            "--remove",
            "--credential",
            &cred,
        ],
        "tanaka-pw1\n2580\n",
    ));
    assert!(out.contains("OP-SUZUKI removed"), "{out}");
    operator.stop();
    let mut operator = Served::start_on(&img("suzuki"), 1);
    fails(
        as_op(&chiyoda, "suzuki", "identify", &[], "suzuki-pw1\n2580\n"),
        7,
        "none is registered for suzuki",
    );
    let conn = rusqlite::Connection::open(chiyoda.dir.join("counter.db")).unwrap();
    conn.execute(
        "UPDATE operators SET card_serial = ?2, card_key = ?3, card_signer = ?4, \
         card_signature = ?5 WHERE name = ?1",
        rusqlite::params!["suzuki", lost.serial, lost.key, lost.signer, lost.signature],
    )
    .unwrap();
    drop(conn);
    fails(
        as_op(&chiyoda, "suzuki", "identify", &[], "suzuki-pw1\n2580\n"),
        7,
        "OP-SUZUKI was removed",
    );
    operator.stop();

    // A database edit rebinding tanaka to the stranger's card (without the municipality's key)
    // is refused at login.
    let mut operator = Served::start_on(&img("other"), 1);
    let conn = rusqlite::Connection::open(chiyoda.dir.join("counter.db")).unwrap();
    conn.execute(
        "UPDATE operators SET card_serial = 'OP-OTHER' WHERE name = 'tanaka'",
        [],
    )
    .unwrap();
    drop(conn);
    fails(
        chiyoda.op("identify", &[], "tanaka-pw1\n2580\n"),
        7,
        "does not verify",
    );
    operator.stop();
    desk.stop();

    // Every refusal of the card step is in the trail.
    let logins = records(&chiyoda, "login");
    for why in [
        "wrong operator card PIN",
        "is not tanaka's operator card",
        "no operator card in the operator reader",
        "none is registered for kato",
        "none is registered for suzuki",
        "OP-SUZUKI was removed",
        "does not verify",
    ] {
        assert!(
            logins
                .iter()
                .any(|r| r.contains("refused") && r.contains(why)),
            "{why}: {logins:?}"
        );
    }
    assert!(chiyoda.db().audit().verify().unwrap().is_intact());
    eprintln!("operator cards test: {:?}", started.elapsed());
}
