use super::super::testutil::Fixture;
use super::*;

const PASSWORD: &str = "correct horse 42";

fn with_operator() -> Fixture {
    let f = Fixture::new();
    f.db.operators()
        .add(
            &Actor {
                municipality: &f.chiyoda,
                operator: "setup",
            },
            "suzuki",
            PASSWORD,
        )
        .unwrap();
    f
}

fn login(f: &Fixture, password: &str) -> Result<LoggedIn> {
    f.db.operators().login(&f.chiyoda, "suzuki", password)
}

fn login_records(f: &Fixture) -> Vec<(String, Outcome)> {
    f.db.audit()
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "login")
        .map(|r| (r.operator, r.outcome))
        .collect()
}

#[test]
fn stores_an_argon2id_hash_and_never_the_password() {
    let f = with_operator();
    let hash: String = f
        .raw()
        .query_row(
            "SELECT password_hash FROM operators WHERE name = 'suzuki'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
    let ok = login(&f, PASSWORD).unwrap();
    assert_eq!(ok.operator, "suzuki");
    assert!(login(&f, "wrong password").is_err());

    // Close the database (checkpointing the WAL into the file), then search every byte.
    let f = f.reopen();
    let dir = f.dir.path().to_path_buf();
    drop(f.db);
    let mut searched = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        searched += bytes.len();
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "the password is in the database files"
        );
    }
    assert!(searched > 4096);
}

#[test]
fn add_validates_and_audits() {
    let f = with_operator();
    let by = Actor {
        municipality: &f.chiyoda,
        operator: "suzuki",
    };
    let ops = f.db.operators();
    assert!(matches!(
        ops.add(&by, "suzuki", PASSWORD),
        Err(CounterError::DuplicateOperator(_))
    ));
    for bad in ["", " tanaka", "tanaka\n", &"x".repeat(65)] {
        assert!(matches!(
            ops.add(&by, bad, PASSWORD),
            Err(CounterError::InvalidInput(_))
        ));
    }
    assert!(matches!(
        ops.add(&by, "tanaka", "short"),
        Err(CounterError::InvalidInput(_))
    ));
    ops.add(&by, "田中", "パスワード八文字").unwrap();
    let names: Vec<_> = ops.list().unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(names, ["suzuki", "田中"]);
    let adds: Vec<_> =
        f.db.audit()
            .records()
            .unwrap()
            .into_iter()
            .filter(|r| r.operation == "operator-add")
            .map(|r| (r.operator, r.detail))
            .collect();
    assert_eq!(
        adds,
        [
            ("setup".into(), "operator suzuki registered".into()),
            ("suzuki".into(), "operator 田中 registered".into())
        ]
    );
}

#[test]
fn five_wrong_passwords_lock_out_for_15_minutes() {
    let f = with_operator();
    for n in 1..MAX_FAILURES {
        assert!(
            matches!(login(&f, "guess"), Err(CounterError::WrongCredentials)),
            "attempt {n}"
        );
        assert_eq!(
            f.db.operators()
                .get("suzuki")
                .unwrap()
                .unwrap()
                .failed_attempts,
            n
        );
    }
    match login(&f, "guess") {
        Err(CounterError::LockedOut { operator, until }) => {
            assert_eq!(operator, "suzuki");
            assert_eq!(until, "2026-04-01T00:15:00Z");
        }
        other => panic!("{other:?}"),
    }
    // Locked: even the right password is refused, without being checked.
    f.clock.advance(LOCKOUT_SECS - 1);
    assert!(matches!(
        login(&f, PASSWORD),
        Err(CounterError::LockedOut { .. })
    ));
    // The lockout ends after 15 minutes.
    f.clock.advance(1);
    assert_eq!(
        login(&f, PASSWORD).unwrap().at.rfc3339(),
        "2026-04-01T00:15:00Z"
    );
    let info = f.db.operators().get("suzuki").unwrap().unwrap();
    assert_eq!(info.failed_attempts, 0);
    assert_eq!(info.last_login_at.as_deref(), Some("2026-04-01T00:15:00Z"));

    // Every attempt is in the audit trail, in order.
    let records = login_records(&f);
    assert_eq!(records.len(), 7);
    assert!(records.iter().all(|(op, _)| op == "suzuki"));
    let kinds: Vec<_> = records.iter().map(|(_, o)| o.kind()).collect();
    assert_eq!(
        kinds,
        ["failed", "failed", "failed", "failed", "failed", "refused", "ok"]
    );
    assert!(matches!(&records[5].1, Outcome::Refused(r) if r.contains("locked out until")));
    let fifth = &f.db.audit().records().unwrap()[5];
    assert!(
        fifth.detail.contains("5 wrong passwords in a row"),
        "{fifth}"
    );
    assert!(f.db.audit().verify().unwrap().is_intact());
}

#[test]
fn the_count_restarts_after_a_lockout() {
    let f = with_operator();
    for _ in 0..MAX_FAILURES {
        let _ = login(&f, "guess");
    }
    f.clock.advance(LOCKOUT_SECS);
    // One wrong password after the lockout is not a new lockout.
    assert!(matches!(
        login(&f, "guess"),
        Err(CounterError::WrongCredentials)
    ));
    assert!(login(&f, PASSWORD).is_ok());
}

#[test]
fn a_success_resets_the_count() {
    let f = with_operator();
    for _ in 0..MAX_FAILURES - 1 {
        assert!(login(&f, "guess").is_err());
    }
    assert!(login(&f, PASSWORD).is_ok());
    for _ in 0..MAX_FAILURES - 1 {
        assert!(matches!(
            login(&f, "guess"),
            Err(CounterError::WrongCredentials)
        ));
    }
    assert!(login(&f, PASSWORD).is_ok(), "4 + 4 failures must not lock");
}

#[test]
fn unknown_operators_fail_like_wrong_passwords_and_are_audited() {
    let f = with_operator();
    let err =
        f.db.operators()
            .login(&f.chiyoda, "tanaka", PASSWORD)
            .unwrap_err();
    assert!(matches!(err, CounterError::WrongCredentials));
    assert_eq!(err.to_string(), "wrong operator name or password");
    assert!(!err.to_string().contains(PASSWORD));
    let _ =
        f.db.operators()
            .login(&f.chiyoda, "bad\nname", PASSWORD)
            .unwrap_err();
    assert_eq!(
        login_records(&f),
        [
            (
                "tanaka".to_string(),
                Outcome::Failed("unknown operator".into())
            ),
            (
                "(invalid name)".to_string(),
                Outcome::Failed("unknown operator".into())
            )
        ]
    );
    for r in f.db.audit().records().unwrap() {
        assert!(!r.detail.contains(PASSWORD));
    }
}

#[test]
fn lockout_survives_reopening() {
    let f = with_operator();
    for _ in 0..MAX_FAILURES {
        let _ = login(&f, "guess");
    }
    let f = f.reopen();
    assert!(matches!(
        login(&f, PASSWORD),
        Err(CounterError::LockedOut { .. })
    ));
}

/// Five wrong passwords: one lockout.
fn five_wrong(f: &Fixture) -> CounterError {
    for _ in 1..MAX_FAILURES {
        assert!(matches!(
            login(f, "guess"),
            Err(CounterError::WrongCredentials)
        ));
    }
    login(f, "guess").unwrap_err()
}

fn add_supervisor(f: &Fixture, name: &str) {
    f.db.operators()
        .add_with_role(
            &Actor {
                municipality: &f.chiyoda,
                operator: "setup",
            },
            name,
            PASSWORD,
            true,
        )
        .unwrap();
}

fn unlock_records(f: &Fixture) -> Vec<(String, Outcome, String)> {
    f.db.audit()
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "operator-unlock")
        .map(|r| (r.operator, r.outcome, r.detail))
        .collect()
}

#[test]
fn lockouts_double_then_only_a_supervisor_unlocks() {
    let f = with_operator();
    // Lockout 1: 15 minutes.
    match five_wrong(&f) {
        CounterError::LockedOut { until, .. } => assert_eq!(until, "2026-04-01T00:15:00Z"),
        other => panic!("{other:?}"),
    }
    f.clock.advance(LOCKOUT_SECS);
    // Lockout 2, with no successful login in between: 30 minutes.
    match five_wrong(&f) {
        CounterError::LockedOut { until, .. } => assert_eq!(until, "2026-04-01T00:45:00Z"),
        other => panic!("{other:?}"),
    }
    f.clock.advance(2 * LOCKOUT_SECS - 1);
    assert!(matches!(
        login(&f, PASSWORD),
        Err(CounterError::LockedOut { .. })
    ));
    f.clock.advance(1);
    // Lockout 3 (15 wrong passwords in all): locked until a supervisor unlocks.
    let e = five_wrong(&f);
    assert!(
        matches!(&e, CounterError::LockedUntilUnlocked { operator } if operator == "suzuki"),
        "{e:?}"
    );
    assert!(e.to_string().contains("監督者"), "{e}");
    let info = f.db.operators().get("suzuki").unwrap().unwrap();
    assert!(info.needs_unlock());
    assert_eq!(info.lockouts, MAX_LOCKOUTS);
    // Time does not help, nor the right password, nor reopening.
    f.clock.advance(365 * 24 * 3600);
    let f = f.reopen();
    assert!(matches!(
        login(&f, PASSWORD),
        Err(CounterError::LockedUntilUnlocked { .. })
    ));
    let records = login_records(&f);
    assert_eq!(records.len(), 5 * 3 + 2);
    assert!(matches!(
        &records.last().unwrap().1,
        Outcome::Refused(r) if r == "locked until a supervisor unlocks"
    ));
    let details: Vec<String> =
        f.db.audit()
            .records()
            .unwrap()
            .into_iter()
            .filter(|r| r.detail.contains("lockout"))
            .map(|r| r.detail)
            .collect();
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(details[0].contains("lockout 1 of 3: locked out for 15 minutes"));
    assert!(details[1].contains("lockout 2 of 3: locked out for 30 minutes"));
    assert!(details[2].contains("lockout 3 of 3: locked until a supervisor unlocks"));

    // The supervisor unlocks; the operator logs in again, with both counts back to 0.
    add_supervisor(&f, "boss");
    let boss = Actor {
        municipality: &f.chiyoda,
        operator: "boss",
    };
    let after = f.db.operators().unlock(&boss, "suzuki").unwrap();
    assert!(!after.needs_unlock() && after.failed_attempts == 0 && after.locked_until.is_none());
    assert!(login(&f, PASSWORD).is_ok());
    // The next lockout is a first one again: 15 minutes.
    let now = f.clock.now();
    match five_wrong(&f) {
        CounterError::LockedOut { until, .. } => {
            assert_eq!(until, now.plus_secs(LOCKOUT_SECS).rfc3339())
        }
        other => panic!("{other:?}"),
    }
    let unlocks = unlock_records(&f);
    assert_eq!(unlocks.len(), 1);
    assert_eq!(unlocks[0].0, "boss");
    assert_eq!(unlocks[0].1, Outcome::Ok);
    assert!(
        unlocks[0]
            .2
            .contains("operator suzuki unlocked (3 lockouts in a row"),
        "{}",
        unlocks[0].2
    );
    assert!(f.db.audit().verify().unwrap().is_intact());
}

#[test]
fn a_success_between_lockouts_restarts_the_escalation() {
    let f = with_operator();
    for _ in 0..4 {
        match five_wrong(&f) {
            CounterError::LockedOut { .. } => {}
            other => panic!("{other:?}"),
        }
        f.clock.advance(LOCKOUT_SECS);
        assert!(login(&f, PASSWORD).is_ok(), "every lockout is a first one");
    }
    assert_eq!(f.db.operators().get("suzuki").unwrap().unwrap().lockouts, 0);
}

#[test]
fn only_another_supervisor_unlocks() {
    let f = with_operator();
    add_supervisor(&f, "boss");
    let by = |name: &'static str| Actor {
        municipality: &f.chiyoda,
        operator: name,
    };
    f.db.operators()
        .add(&by("boss"), "tanaka", PASSWORD)
        .unwrap();
    for _ in 0..MAX_LOCKOUTS {
        five_wrong(&f);
        f.clock.advance(4 * LOCKOUT_SECS);
    }
    assert!(matches!(
        login(&f, PASSWORD),
        Err(CounterError::LockedUntilUnlocked { .. })
    ));
    // Not a supervisor.
    let e =
        f.db.operators()
            .unlock(&by("tanaka"), "suzuki")
            .unwrap_err();
    assert!(
        matches!(&e, CounterError::NotAllowed(m) if m.contains("not a supervisor")),
        "{e}"
    );
    // Themself.
    assert!(matches!(
        f.db.operators().unlock(&by("suzuki"), "suzuki"),
        Err(CounterError::NotAllowed(_))
    ));
    assert!(matches!(
        f.db.operators().unlock(&by("boss"), "boss"),
        Err(CounterError::NotAllowed(m)) if m.contains("themself")
    ));
    // No such operator.
    assert!(matches!(
        f.db.operators().unlock(&by("boss"), "nobody"),
        Err(CounterError::UnknownOperator(_))
    ));
    // Still locked after every refusal.
    assert!(matches!(
        login(&f, PASSWORD),
        Err(CounterError::LockedUntilUnlocked { .. })
    ));
    // Every refusal is in the audit trail, by whom and why.
    let unlocks = unlock_records(&f);
    let got: Vec<(&str, &str)> = unlocks
        .iter()
        .map(|(op, outcome, _)| (op.as_str(), outcome.kind()))
        .collect();
    assert_eq!(
        got,
        [
            ("tanaka", "refused"),
            ("suzuki", "refused"),
            ("boss", "refused"),
            ("boss", "refused")
        ]
    );
    assert!(unlocks.iter().all(|(_, _, d)| d.starts_with("operator ")));
    // The supervisor does it.
    f.db.operators().unlock(&by("boss"), "suzuki").unwrap();
    assert!(login(&f, PASSWORD).is_ok());
}

#[test]
fn the_first_operator_is_the_supervisor_and_only_supervisors_add_supervisors() {
    use crate::session::{add_first_operator, Session};
    use juki_host::pin::Pin;
    let f = Fixture::new();
    let pw = Pin::from(PASSWORD);
    add_first_operator(&f.db, &f.chiyoda, "boss", &pw).unwrap();
    let ops = f.db.operators();
    assert!(ops.get("boss").unwrap().unwrap().supervisor);
    let today = super::super::testutil::date(2026, 4, 1);
    let Fixture {
        dir: _dir,
        db,
        chiyoda,
        ..
    } = f;
    let s = Session::login(db, &chiyoda, "boss", &pw, today).unwrap();
    s.add_operator("suzuki", &pw).unwrap();
    s.add_operator_with_role("sato", &pw, true).unwrap();
    let ops = s.db().operators();
    assert!(!ops.get("suzuki").unwrap().unwrap().supervisor);
    assert!(ops.get("sato").unwrap().unwrap().supervisor);
    let db = s.into_db();
    let s = Session::login(db, &chiyoda, "suzuki", &pw, today).unwrap();
    let e = s.add_operator_with_role("mallory", &pw, true).unwrap_err();
    assert!(matches!(&e, CounterError::NotAllowed(_)), "{e}");
    assert!(s.db().operators().get("mallory").unwrap().is_none());
    // A non-supervisor session cannot unlock either.
    assert!(matches!(
        s.unlock_operator("sato"),
        Err(CounterError::NotAllowed(_))
    ));
}
