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
