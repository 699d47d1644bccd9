use super::super::testutil::{code, date, Fixture};
use super::*;

const HANAKO: &str = "12345678903";

fn new_card<'a>(
    f: &'a Fixture,
    serial: &'a str,
    resident: &'a ResidentCode,
    name: &'a str,
) -> NewCard<'a> {
    NewCard {
        serial,
        resident_code: resident,
        resident_name: name,
        issuing_municipality: &f.chiyoda,
        issued: date(2026, 4, 1),
        expires: date(2036, 3, 31),
        legal_representative: None,
    }
}

#[test]
fn registers_and_looks_up_cards_and_residents() {
    let f = Fixture::new();
    let hanako = code(HANAKO);
    let reg = f.db.registry();
    let card = reg
        .register_card(
            &new_card(&f, "JK-0001", &hanako, "住基 花子"),
            CardState::Issued,
        )
        .unwrap();
    assert_eq!(card.serial, "JK-0001");
    assert_eq!(card.state, CardState::Issued);
    assert_eq!(card.resident_code, hanako);
    assert_eq!(card.code_on_card, hanako);
    assert_eq!(card.issuing_municipality, "131016");
    assert_eq!(card.issued, date(2026, 4, 1));
    assert_eq!(card.expires, date(2036, 3, 31));
    assert_eq!(card.terminate_reason, None);
    assert!(!card.jpki_revocation_needed);
    assert!(!card.code_superseded());
    assert!(!card.is_expired(date(2036, 3, 31)));
    assert!(card.is_expired(date(2036, 4, 1)));
    assert_eq!(card.registered_at, "2026-04-01T00:00:00Z");

    assert_eq!(reg.card("JK-0001").unwrap(), Some(card.clone()));
    assert_eq!(reg.card("JK-9999").unwrap(), None);
    assert_eq!(
        reg.cards_of_resident(&hanako).unwrap(),
        std::slice::from_ref(&card)
    );
    let r = reg.resident(&hanako).unwrap().unwrap();
    assert_eq!(r.name, "住基 花子");
    assert_eq!(r.needs_new_card, None);

    // A child's card, issued through a legal representative.
    let taro = code("00000000060");
    let mut child = new_card(&f, "JK-0002", &taro, "住基 太郎");
    child.legal_representative = Some("住基 花子");
    let c = reg.register_card(&child, CardState::Initialised).unwrap();
    assert_eq!(c.legal_representative.as_deref(), Some("住基 花子"));
    assert_eq!(c.state, CardState::Initialised);

    assert_eq!(reg.cards(None).unwrap().len(), 2);
    assert_eq!(reg.cards(Some(CardState::Issued)).unwrap(), [card]);
    assert_eq!(reg.residents().unwrap().len(), 2);
    assert_eq!(
        reg.state_history("JK-0002").unwrap(),
        [StateChange {
            from: None,
            to: CardState::Initialised,
            reason: "registered".into(),
            at: "2026-04-01T00:00:00Z".into(),
        }]
    );

    // Persisted.
    let f = f.reopen();
    assert_eq!(f.db.registry().cards(None).unwrap().len(), 2);
}

#[test]
fn refuses_bad_registrations() {
    let f = Fixture::new();
    let hanako = code(HANAKO);
    let reg = f.db.registry();
    let ok = new_card(&f, "JK-0001", &hanako, "住基 花子");
    let bad = [
        NewCard {
            serial: "jk-0001",
            ..ok.clone()
        },
        NewCard {
            serial: "",
            ..ok.clone()
        },
        NewCard {
            serial: "JK-00000000000001",
            ..ok.clone()
        },
        NewCard {
            resident_name: " ",
            ..ok.clone()
        },
        NewCard {
            expires: date(2026, 4, 1),
            ..ok.clone()
        },
        NewCard {
            legal_representative: Some(""),
            ..ok.clone()
        },
    ];
    for card in &bad {
        assert!(
            matches!(
                reg.register_card(card, CardState::Issued),
                Err(CounterError::InvalidInput(_))
            ),
            "{card:?}"
        );
    }
    assert!(matches!(
        reg.register_card(&ok, CardState::Suspended),
        Err(CounterError::InvalidInput(_))
    ));
    assert!(reg.cards(None).unwrap().is_empty());
    assert!(reg.residents().unwrap().is_empty());

    reg.register_card(&ok, CardState::Issued).unwrap();
    assert!(matches!(
        reg.register_card(&ok, CardState::Issued),
        Err(CounterError::DuplicateCard(s)) if s == "JK-0001"
    ));
    // One card per resident that is not terminated.
    match reg.register_card(
        &new_card(&f, "JK-0002", &hanako, "住基 花子"),
        CardState::Issued,
    ) {
        Err(CounterError::CardAlreadyHeld { serial, state, .. }) => {
            assert_eq!(serial, "JK-0001");
            assert_eq!(state, "issued");
        }
        other => panic!("{other:?}"),
    }
    // The name must match the registered resident.
    reg.change_state(
        "JK-0001",
        Transition::Terminate(TerminateReason::Returned),
        "返納",
    )
    .unwrap();
    assert!(matches!(
        reg.register_card(&new_card(&f, "JK-0002", &hanako, "別人"), CardState::Issued),
        Err(CounterError::NameMismatch { .. })
    ));
    // After termination, a new card (再交付) is accepted.
    reg.register_card(
        &new_card(&f, "JK-0002", &hanako, "住基 花子"),
        CardState::Issued,
    )
    .unwrap();
}

#[test]
fn state_changes_follow_the_lifecycle_and_keep_history() {
    let f = Fixture::new();
    let hanako = code(HANAKO);
    let reg = f.db.registry();
    reg.register_card(
        &new_card(&f, "JK-0001", &hanako, "住基 花子"),
        CardState::Initialised,
    )
    .unwrap();
    // Not issued yet: cannot be suspended.
    assert!(matches!(
        reg.change_state("JK-0001", Transition::Suspend, "lost"),
        Err(CounterError::Transition {
            from: "initialised",
            to: "suspended",
            ..
        })
    ));
    f.clock.advance(60);
    reg.change_state("JK-0001", Transition::Issue, "交付")
        .unwrap();
    f.clock.advance(60);
    let c = reg
        .change_state("JK-0001", Transition::Suspend, "紛失届")
        .unwrap();
    assert_eq!(c.state, CardState::Suspended);
    assert_eq!(c.state_changed_at, "2026-04-01T00:02:00Z");
    assert!(matches!(
        reg.change_state("JK-0001", Transition::Suspend, "again"),
        Err(CounterError::Transition { .. })
    ));
    // A suspended card cannot be updated.
    assert!(matches!(
        reg.record_update(
            "JK-0001",
            Change::Address,
            date(2026, 5, 1),
            "転居",
            &f.chiyoda
        ),
        Err(CounterError::WrongState {
            state: "suspended",
            ..
        })
    ));
    f.clock.advance(60);
    reg.change_state("JK-0001", Transition::Resume, "発見")
        .unwrap();
    assert!(matches!(
        reg.change_state("JK-0001", Transition::Resume, "again"),
        Err(CounterError::Transition { .. })
    ));
    f.clock.advance(60);
    let t = reg
        .change_state(
            "JK-0001",
            Transition::Terminate(TerminateReason::Death),
            "死亡届",
        )
        .unwrap();
    assert_eq!(t.state, CardState::Terminated);
    assert_eq!(t.terminate_reason, Some(TerminateReason::Death));
    // Irreversible.
    for tr in [
        Transition::Issue,
        Transition::Suspend,
        Transition::Resume,
        Transition::Terminate(TerminateReason::Returned),
    ] {
        assert!(matches!(
            reg.change_state("JK-0001", tr, "x"),
            Err(CounterError::Transition {
                from: "terminated",
                ..
            })
        ));
    }
    assert!(matches!(
        reg.change_state("JK-9999", Transition::Suspend, "x"),
        Err(CounterError::UnknownCard(_))
    ));
    assert!(matches!(
        reg.change_state("JK-0001", Transition::Suspend, ""),
        Err(CounterError::InvalidInput(_))
    ));

    let h = reg.state_history("JK-0001").unwrap();
    let steps: Vec<_> = h
        .iter()
        .map(|s| (s.from, s.to, s.reason.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (None, CardState::Initialised, "registered"),
            (Some(CardState::Initialised), CardState::Issued, "交付"),
            (Some(CardState::Issued), CardState::Suspended, "紛失届"),
            (Some(CardState::Suspended), CardState::Issued, "発見"),
            (Some(CardState::Issued), CardState::Terminated, "死亡届"),
        ]
    );
    assert_eq!(h[4].at, "2026-04-01T00:04:00Z");
}

#[test]
fn updates_mark_jpki_revocation_and_rename() {
    let f = Fixture::new();
    let hanako = code(HANAKO);
    let reg = f.db.registry();
    reg.register_card(
        &new_card(&f, "JK-0001", &hanako, "住基 花子"),
        CardState::Issued,
    )
    .unwrap();
    // Served by another municipality's counter after a move (転入).
    let sapporo = MunicipalityCode::parse("011002").unwrap();
    let c = reg
        .record_update(
            "JK-0001",
            Change::Address,
            date(2026, 5, 1),
            "転入",
            &sapporo,
        )
        .unwrap();
    assert!(c.jpki_revocation_needed);
    let c = reg
        .record_update(
            "JK-0001",
            Change::Name {
                new_name: "札幌 花子",
            },
            date(2026, 6, 1),
            "婚姻",
            &sapporo,
        )
        .unwrap();
    assert!(c.jpki_revocation_needed);
    assert_eq!(reg.resident(&hanako).unwrap().unwrap().name, "札幌 花子");
    let u = reg.updates("JK-0001").unwrap();
    assert_eq!(u.len(), 2);
    assert_eq!(u[0].kind, ChangeKind::Address);
    assert_eq!(u[0].change_date, date(2026, 5, 1));
    assert_eq!(u[0].municipality, "011002");
    assert_eq!(u[1].kind, ChangeKind::Name);
    assert_eq!(u[1].reason, "婚姻");
    reg.clear_jpki_revocation("JK-0001").unwrap();
    assert!(!reg.card("JK-0001").unwrap().unwrap().jpki_revocation_needed);
    assert!(matches!(
        reg.clear_jpki_revocation("JK-9999"),
        Err(CounterError::UnknownCard(_))
    ));
    assert!(matches!(
        reg.record_update(
            "JK-9999",
            Change::Address,
            date(2026, 5, 1),
            "転入",
            &sapporo
        ),
        Err(CounterError::UnknownCard(_))
    ));
}

#[test]
fn a_code_change_keeps_history_and_asks_for_a_new_card() {
    let f = Fixture::new();
    let old = code(HANAKO);
    let new = code("99999999995");
    let reg = f.db.registry();
    reg.register_card(
        &new_card(&f, "JK-0001", &old, "住基 花子"),
        CardState::Issued,
    )
    .unwrap();
    f.clock.advance(3600);
    let r = reg.change_resident_code(&old, &new, "本人の請求").unwrap();
    assert_eq!(r.code, new);
    let why = r.needs_new_card.unwrap();
    assert!(why.contains("old code no longer work"), "{why}");
    assert_eq!(reg.resident(&old).unwrap(), None);
    assert_eq!(reg.current_code(&old).unwrap(), Some(new.clone()));
    assert_eq!(reg.current_code(&new).unwrap(), Some(new.clone()));
    assert_eq!(reg.current_code(&code("00000000000")).unwrap(), None);
    assert_eq!(reg.residents_needing_new_card().unwrap().len(), 1);

    // The card follows its holder; the code on it is superseded.
    let card = reg.card("JK-0001").unwrap().unwrap();
    assert_eq!(card.resident_code, new);
    assert_eq!(card.code_on_card, old);
    assert!(card.code_superseded());
    assert_eq!(reg.cards_of_resident(&new).unwrap().len(), 1);

    let h = reg.code_history(&new).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].old_code, old);
    assert_eq!(h[0].new_code, new);
    assert_eq!(h[0].reason, "本人の請求");
    assert_eq!(h[0].at, "2026-04-01T01:00:00Z");

    // Codes are never reused: neither the old one nor one in use.
    assert!(matches!(
        reg.register_card(&new_card(&f, "JK-0009", &old, "誰か"), CardState::Issued),
        Err(CounterError::CodeInUse(_))
    ));
    let third = code("00000000060");
    reg.register_card(
        &new_card(&f, "JK-0003", &third, "住基 次郎"),
        CardState::Issued,
    )
    .unwrap();
    assert!(matches!(
        reg.change_resident_code(&third, &old, "x"),
        Err(CounterError::CodeInUse(_))
    ));
    assert!(matches!(
        reg.change_resident_code(&third, &new, "x"),
        Err(CounterError::CodeInUse(_))
    ));
    assert!(matches!(
        reg.change_resident_code(&old, &code("00000000000"), "x"),
        Err(CounterError::UnknownResident(_))
    ));

    // A second change keeps both entries.
    let newest = code("00000000000");
    reg.change_resident_code(&new, &newest, "再変更").unwrap();
    let h = reg.code_history(&newest).unwrap();
    assert_eq!(
        h.iter()
            .map(|c| (
                c.old_code.as_str().to_string(),
                c.new_code.as_str().to_string()
            ))
            .collect::<Vec<_>>(),
        [
            (HANAKO.to_string(), "99999999995".to_string()),
            ("99999999995".to_string(), "00000000000".to_string())
        ]
    );
    assert_eq!(reg.current_code(&old).unwrap(), Some(newest.clone()));

    // The old card is terminated and a new one issued: the flag clears.
    reg.change_state(
        "JK-0001",
        Transition::Terminate(TerminateReason::CodeChanged),
        "住民票コード変更",
    )
    .unwrap();
    reg.register_card(
        &new_card(&f, "JK-0004", &newest, "住基 花子"),
        CardState::Issued,
    )
    .unwrap();
    assert_eq!(reg.resident(&newest).unwrap().unwrap().needs_new_card, None);

    // Survives reopening.
    let f = f.reopen();
    assert_eq!(f.db.registry().code_history(&newest).unwrap().len(), 2);
}

#[test]
fn foreign_keys_are_enforced() {
    let f = Fixture::new();
    let err =
        f.db.registry()
            .conn
            .execute(
                "INSERT INTO card_state_history (serial, to_state, reason, at) \
             VALUES ('NOPE', 'issued', 'x', 'y')",
                [],
            )
            .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
}
