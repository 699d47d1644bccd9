use super::super::registry::{CardState, NewCard, Transition};
use super::super::testutil::{code, date, Fixture};
use super::*;

fn with_card() -> Fixture {
    let f = Fixture::new();
    let hanako = code("12345678903");
    f.db.registry()
        .register_card(
            &NewCard {
                serial: "JK-0001",
                resident_code: &hanako,
                resident_name: "住基 花子",
                issuing_municipality: &f.chiyoda,
                issued: date(2026, 4, 1),
                expires: date(2036, 3, 31),
                legal_representative: None,
            },
            CardState::Issued,
        )
        .unwrap();
    f
}

fn suspend_op<'a>(f: &'a Fixture) -> PendingOperation<'a> {
    PendingOperation {
        actor: f.actor(),
        card_serial: Some("JK-0001"),
        operation: Operation::Suspend,
        detail: "紛失届",
    }
}

#[test]
fn a_successful_operation_is_recorded_once_with_its_registry_change() {
    let mut f = with_card();
    let id = f.db.journal().begin(&suspend_op(&f)).unwrap();
    assert_eq!(f.db.journal().unfinished().unwrap().len(), 1);
    // … the card step succeeds …
    f.clock.advance(5);
    let record =
        f.db.transaction(|tx| {
            tx.registry()
                .change_state("JK-0001", Transition::Suspend, "紛失届")?;
            tx.journal()
                .complete(id, &Outcome::Ok, "card answered 9000")
        })
        .unwrap();
    assert_eq!(record.operation, "suspend");
    assert_eq!(record.operator, "suzuki");
    assert_eq!(record.municipality, "131016");
    assert_eq!(record.card_serial.as_deref(), Some("JK-0001"));
    assert_eq!(record.outcome, Outcome::Ok);
    assert_eq!(record.detail, "紛失届; card answered 9000");
    assert_eq!(record.time, "2026-04-01T00:00:05Z");

    assert!(f.db.journal().unfinished().unwrap().is_empty());
    let e = f.db.journal().entry(id).unwrap().unwrap();
    assert_eq!(e.state, JournalState::Completed);
    assert_eq!(e.audit_seq, Some(record.seq));
    assert_eq!(e.started_at, "2026-04-01T00:00:00Z");
    assert_eq!(
        f.db.registry().card("JK-0001").unwrap().unwrap().state,
        CardState::Suspended
    );
    assert_eq!(f.db.audit().show("JK-0001").unwrap(), [record]);

    // Closed once only.
    assert!(matches!(
        f.db.journal().complete(id, &Outcome::Ok, ""),
        Err(CounterError::NotPending { .. })
    ));
    assert!(matches!(
        f.db.journal()
            .resolve(id, &f.actor(), &Outcome::Ok, "checked"),
        Err(CounterError::NotPending { .. })
    ));
    assert!(matches!(
        f.db.journal()
            .complete(PendingId::from_value(99), &Outcome::Ok, ""),
        Err(CounterError::UnknownPending(99))
    ));
    assert_eq!(f.db.audit().head().unwrap().seq, 1);
}

#[test]
fn a_failed_card_step_records_nothing_as_done() {
    let mut f = with_card();
    let id = f.db.journal().begin(&suspend_op(&f)).unwrap();
    // … the card step fails: no registry change, the failure is audited …
    let record =
        f.db.transaction(|tx| {
            tx.journal()
                .complete(id, &Outcome::Failed("card removed (6F00)".into()), "")
        })
        .unwrap();
    assert_eq!(record.outcome.kind(), "failed");
    assert_eq!(
        f.db.registry().card("JK-0001").unwrap().unwrap().state,
        CardState::Issued
    );
    assert!(f.db.journal().unfinished().unwrap().is_empty());
}

#[test]
fn a_failing_registry_update_rolls_back_the_record_too() {
    let mut f = with_card();
    let id =
        f.db.journal()
            .begin(&PendingOperation {
                operation: Operation::Resume,
                ..suspend_op(&f)
            })
            .unwrap();
    let r = f.db.transaction(|tx| {
        tx.journal().complete(id, &Outcome::Ok, "")?;
        // An issued card cannot be resumed: the whole transaction is rolled back.
        tx.registry()
            .change_state("JK-0001", Transition::Resume, "発見")?;
        Ok::<_, CounterError>(())
    });
    assert!(matches!(r, Err(CounterError::Transition { .. })));
    assert_eq!(f.db.audit().head().unwrap().seq, 0);
    assert_eq!(f.db.journal().unfinished().unwrap().len(), 1);
}

#[test]
fn begin_must_commit_before_the_card_step() {
    let mut f = with_card();
    let chiyoda = f.chiyoda.clone();
    let op = PendingOperation {
        actor: Actor {
            municipality: &chiyoda,
            operator: "suzuki",
        },
        card_serial: None,
        operation: Operation::Identify,
        detail: "",
    };
    let r = f.db.transaction(|tx| tx.journal().begin(&op));
    assert!(matches!(r, Err(CounterError::InvalidInput(_))));
    let nobody = PendingOperation {
        actor: Actor {
            municipality: &chiyoda,
            operator: "",
        },
        ..op
    };
    assert!(matches!(
        f.db.journal().begin(&nobody),
        Err(CounterError::InvalidInput(_))
    ));
    assert!(f.db.journal().unfinished().unwrap().is_empty());
}

#[test]
fn unfinished_operations_survive_reopening_and_are_resolved_by_a_clerk() {
    let f = with_card();
    let id = f.db.journal().begin(&suspend_op(&f)).unwrap();
    let other =
        f.db.journal()
            .begin(&PendingOperation {
                card_serial: None,
                operation: Operation::Identify,
                detail: "",
                ..suspend_op(&f)
            })
            .unwrap();
    // The process dies here: no complete.
    let mut f = f.reopen();
    f.clock.advance(600);
    let open = f.db.journal().unfinished().unwrap();
    assert_eq!(open.iter().map(|e| e.id).collect::<Vec<_>>(), [id, other]);
    assert_eq!(open[0].operation, Operation::Suspend);
    assert_eq!(open[0].card_serial.as_deref(), Some("JK-0001"));
    assert_eq!(open[0].state, JournalState::Pending);
    let shown = open[0].to_string();
    assert!(
        shown.contains("suspend") && shown.contains("JK-0001"),
        "{shown}"
    );

    // A clerk reads the card: it is suspended, so the step had happened.
    let chiyoda = f.chiyoda.clone();
    let tanaka = Actor {
        municipality: &chiyoda,
        operator: "tanaka",
    };
    assert!(matches!(
        f.db.journal().resolve(id, &tanaka, &Outcome::Ok, " "),
        Err(CounterError::InvalidInput(_))
    ));
    let record =
        f.db.transaction(|tx| {
            tx.registry()
                .change_state("JK-0001", Transition::Suspend, "紛失届 (resolved)")?;
            tx.journal()
                .resolve(id, &tanaka, &Outcome::Ok, "card reads as suspended")
        })
        .unwrap();
    assert_eq!(record.operator, "tanaka");
    assert_eq!(record.operation, "suspend");
    assert!(
        record.detail.contains("unfinished operation #1"),
        "{}",
        record.detail
    );
    assert!(record.detail.contains("by suzuki"), "{}", record.detail);
    assert!(record.detail.contains("card reads as suspended"));
    let e = f.db.journal().entry(id).unwrap().unwrap();
    assert_eq!(e.state, JournalState::Resolved);
    assert_eq!(
        e.resolution_note.as_deref(),
        Some("card reads as suspended")
    );
    assert_eq!(e.finished_at.as_deref(), Some("2026-04-01T00:10:00Z"));

    let f = f.reopen();
    assert_eq!(
        f.db.journal()
            .unfinished()
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        [other]
    );
    assert!(f.db.audit().verify().unwrap().is_intact());
}
