use super::super::testutil::Fixture;
use super::*;

fn entry<'a>(f: &'a Fixture, card: Option<&'a str>, op: Operation) -> AuditEntry<'a> {
    AuditEntry {
        actor: f.actor(),
        card_serial: card,
        operation: op,
        outcome: Outcome::Ok,
        detail: "",
    }
}

/// Five records: cards A, B, A, -, B.
fn five() -> Fixture {
    let f = Fixture::new();
    for (card, op) in [
        (Some("JK-A"), Operation::Issue),
        (Some("JK-B"), Operation::Issue),
        (Some("JK-A"), Operation::Suspend),
        (None, Operation::Login),
        (Some("JK-B"), Operation::Terminate),
    ] {
        f.db.audit().append(&entry(&f, card, op)).unwrap();
        f.clock.advance(60);
    }
    f
}

fn fault(f: &Fixture) -> Option<ChainFault> {
    f.db.audit().verify().unwrap().fault
}

fn drop_triggers(raw: &Connection) {
    raw.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
}

#[test]
fn canonical_encoding_known_answers() {
    // Computed independently (Python hashlib) from the encoding in the module docs.
    let f = Fixture::new();
    let r1 =
        f.db.audit()
            .append(&entry(&f, None, Operation::Login))
            .unwrap();
    assert_eq!(r1.time, "2026-04-01T00:00:00Z");
    assert_eq!(
        hex::encode(r1.hash),
        "ae10574c876c30bc0a14e2fe5b908957ed50083e429453520e83d1986dff34f9"
    );
    let r2 =
        f.db.audit()
            .append(&AuditEntry {
                outcome: Outcome::Refused("card is terminated".into()),
                detail: "紛失届",
                ..entry(&f, Some("JK-0001"), Operation::Suspend)
            })
            .unwrap();
    assert_eq!(r2.prev_hash, r1.hash);
    assert_eq!(
        hex::encode(r2.hash),
        "b4886c7d47e7af7a7cf6d547b5471ce82b6f91b6f479bdce6dc358aae259f739"
    );
    assert_eq!(r2.compute_hash(), r2.hash);
    assert_eq!(f.db.audit().record(2).unwrap(), Some(r2));
}

#[test]
fn an_intact_chain_verifies_and_shows_a_cards_history() {
    let f = Fixture::new();
    let empty = f.db.audit().verify().unwrap();
    assert!(empty.is_intact());
    assert_eq!(empty.head.seq, 0);
    assert_eq!(empty.head.hash, GENESIS_HASH);

    let f = five();
    let report = f.db.audit().verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 5);
    let head = f.db.audit().head().unwrap();
    assert_eq!(report.head, head);
    assert_eq!(head.seq, 5);
    assert_eq!(f.db.audit().record(5).unwrap().unwrap().hash, head.hash);
    assert_eq!(AuditHead::parse(&head.to_string()).unwrap(), head);
    assert!(AuditHead::parse("5:abc").is_err());

    let a = f.db.audit().show("JK-A").unwrap();
    assert_eq!(
        a.iter()
            .map(|r| (r.seq, r.operation.as_str()))
            .collect::<Vec<_>>(),
        [(1, "issue"), (3, "suspend")]
    );
    assert_eq!(a[1].time, "2026-04-01T00:02:00Z");
    assert!(f.db.audit().show("JK-C").unwrap().is_empty());
    assert_eq!(f.db.audit().records().unwrap().len(), 5);

    // Survives reopening.
    let f = f.reopen();
    assert!(f.db.audit().verify().unwrap().is_intact());
    assert_eq!(f.db.audit().head().unwrap(), head);
}

#[test]
fn triggers_refuse_update_and_delete() {
    let f = five();
    let raw = f.raw();
    let err = raw
        .execute(
            "UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 3",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = raw
        .execute("DELETE FROM audit_log WHERE seq = 5", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = raw.execute("DELETE FROM audit_log", []).unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(f.db.audit().verify().unwrap().is_intact());
}

#[test]
fn an_altered_field_is_detected() {
    let f = five();
    let raw = f.raw();
    drop_triggers(&raw);
    raw.execute(
        "UPDATE audit_log SET outcome = 'refused', reason = 'x' WHERE seq = 3",
        [],
    )
    .unwrap();
    assert_eq!(fault(&f), Some(ChainFault::Altered { seq: 3 }));
    let report = f.db.audit().verify().unwrap();
    assert_eq!(report.checked, 2);
    assert!(report.fault.unwrap().to_string().contains("record 3"));
}

#[test]
fn an_altered_operator_or_time_is_detected() {
    for sql in [
        "UPDATE audit_log SET operator = 'tanaka' WHERE seq = 1",
        "UPDATE audit_log SET time = '2026-04-01T00:00:01Z' WHERE seq = 1",
        "UPDATE audit_log SET card_serial = NULL WHERE seq = 1",
        "UPDATE audit_log SET hash = prev_hash WHERE seq = 1",
    ] {
        let f = five();
        let raw = f.raw();
        drop_triggers(&raw);
        raw.execute(sql, []).unwrap();
        assert_eq!(fault(&f), Some(ChainFault::Altered { seq: 1 }), "{sql}");
    }
}

#[test]
fn a_deleted_middle_record_is_detected() {
    let f = five();
    let raw = f.raw();
    drop_triggers(&raw);
    raw.execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    assert_eq!(
        fault(&f),
        Some(ChainFault::Gap {
            expected: 3,
            found: 4
        })
    );
}

#[test]
fn a_renumbered_deletion_is_detected() {
    // Delete record 3 and renumber 4 and 5 to close the gap: the links break.
    let f = five();
    let raw = f.raw();
    drop_triggers(&raw);
    raw.execute_batch(
        "DELETE FROM audit_log WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = 5;
         UPDATE meta SET value = '4' WHERE key = 'audit_head_seq';",
    )
    .unwrap();
    assert_eq!(fault(&f), Some(ChainFault::BrokenLink { seq: 3 }));
}

#[test]
fn a_deleted_last_record_is_detected_and_stays_visible() {
    let f = five();
    let raw = f.raw();
    drop_triggers(&raw);
    raw.execute("DELETE FROM audit_log WHERE seq = 5", [])
        .unwrap();
    assert_eq!(
        fault(&f),
        Some(ChainFault::Truncated {
            head_seq: 5,
            last_seq: 4
        })
    );
    // Later appends chain from the head pointer: the hole stays visible.
    f.db.audit()
        .append(&entry(&f, None, Operation::Login))
        .unwrap();
    assert_eq!(
        fault(&f),
        Some(ChainFault::Gap {
            expected: 5,
            found: 6
        })
    );
}

#[test]
fn swapped_records_are_detected() {
    let f = five();
    let raw = f.raw();
    drop_triggers(&raw);
    raw.execute_batch(
        "UPDATE audit_log SET seq = 1000 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = 1000;",
    )
    .unwrap();
    assert_eq!(fault(&f), Some(ChainFault::BrokenLink { seq: 2 }));
}

#[test]
fn records_after_the_head_and_a_replaced_tail_are_detected() {
    let f = five();
    let raw = f.raw();
    // Rewinding the head pointer (no trigger on meta) leaves records beyond it.
    raw.execute(
        "UPDATE meta SET value = '4' WHERE key = 'audit_head_seq'",
        [],
    )
    .unwrap();
    assert_eq!(
        fault(&f),
        Some(ChainFault::BeyondHead {
            head_seq: 4,
            last_seq: 5
        })
    );
    raw.execute(
        "UPDATE meta SET value = '5' WHERE key = 'audit_head_seq'",
        [],
    )
    .unwrap();
    raw.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'audit_head_hash'",
        [hex::encode([7u8; 32])],
    )
    .unwrap();
    assert_eq!(fault(&f), Some(ChainFault::HeadMismatch { seq: 5 }));
    raw.execute("DELETE FROM meta WHERE key = 'audit_head_hash'", [])
        .unwrap();
    assert_eq!(fault(&f), Some(ChainFault::BadHead));
    // Appending refuses to guess where the chain ends.
    assert!(matches!(
        f.db.audit().append(&entry(&f, None, Operation::Login)),
        Err(CounterError::Corrupt(_))
    ));
}

/// The limit, made explicit: a consistent rewrite of the chain and its head pointer passes
/// `verify`; only a head noted down elsewhere catches it.
#[test]
fn a_consistent_rewrite_passes_verify_but_not_a_noted_anchor() {
    let f = five();
    let noted = f.db.audit().head().unwrap();
    assert!(f.db.audit().verify_anchor(&noted).unwrap().is_intact());

    let raw = f.raw();
    drop_triggers(&raw);
    raw.execute("UPDATE audit_log SET operator = 'tanaka' WHERE seq = 2", [])
        .unwrap();
    // The attacker recomputes every hash from record 2 on, and the head pointer.
    let mut prev = f.db.audit().record(1).unwrap().unwrap().hash;
    for seq in 2..=5u64 {
        let mut r = f.db.audit().record(seq).unwrap().unwrap();
        r.prev_hash = prev;
        r.hash = r.compute_hash();
        raw.execute(
            "UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
            params![seq as i64, hex::encode(r.prev_hash), hex::encode(r.hash)],
        )
        .unwrap();
        prev = r.hash;
    }
    raw.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'audit_head_hash'",
        [hex::encode(prev)],
    )
    .unwrap();
    assert!(f.db.audit().verify().unwrap().is_intact());
    assert_eq!(
        f.db.audit().verify_anchor(&noted).unwrap().fault,
        Some(ChainFault::AnchorMismatch { seq: 5 })
    );
    let beyond = AuditHead {
        seq: 9,
        hash: noted.hash,
    };
    assert_eq!(
        f.db.audit().verify_anchor(&beyond).unwrap().fault,
        Some(ChainFault::AnchorMissing { seq: 9 })
    );
}

#[test]
fn appends_need_an_operator() {
    let f = Fixture::new();
    let e = AuditEntry {
        actor: Actor {
            municipality: &f.chiyoda,
            operator: "",
        },
        ..entry(&f, None, Operation::Login)
    };
    assert!(matches!(
        f.db.audit().append(&e),
        Err(CounterError::InvalidInput(_))
    ));
    assert_eq!(f.db.audit().head().unwrap().seq, 0);
}
