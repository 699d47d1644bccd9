//! The national register against a real PostgreSQL (Debian's server, a throwaway cluster shared
//! by this test binary, a database per test).

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use juki_net::register::{
    Applied, Event, Kind, QueryKind, Register, RegisterError, Search, Sex, Status, PROVIDED_FIELDS,
};

async fn new_resident(reg: &Register, m: &juki_net::register::MunicipalityCode, seq: u64, n: u64) {
    reg.apply(&update(
        m,
        seq,
        Event::New {
            code: code(n),
            info: info(&format!("住基 花子{n}"), "東京都千代田区千代田1-1"),
        },
    ))
    .await
    .unwrap();
}

async fn provision_count(reg: &Register) -> i64 {
    let client = reg.db().client().await.unwrap();
    client
        .query_one("SELECT count(*) FROM provision", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_resident_is_confirmed_and_the_provision_recorded() {
    let reg = register().await;
    let a = chiyoda();
    let hanako = info("住基 花子", "東京都千代田区千代田1-1");
    let applied = reg
        .apply(&update(
            &a,
            1,
            Event::New {
                code: code(1),
                info: hanako.clone(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        applied,
        Applied {
            municipality: a.clone(),
            seq: 1,
            kind: Kind::New,
            resident: code(1),
            version: 1,
        }
    );
    assert_eq!(reg.last_seq(&a).await.unwrap(), 1);
    assert_eq!(provision_count(&reg).await, 0, "applying provides nothing");

    let c = reg.confirm(&code(1), PURPOSE, &pension()).await.unwrap();
    assert_eq!(c.resident.code, code(1));
    assert_eq!(c.resident.info, hanako);
    assert_eq!(c.resident.municipality, a);
    assert_eq!(c.resident.status, Status::Registered);
    assert_eq!(c.resident.version, 1);
    assert_eq!(c.resident.changed_on, date(2026, 12, 1));

    let provisions = reg.provisions_of(&code(1)).await.unwrap();
    assert_eq!(provisions.len(), 1);
    let p = &provisions[0];
    assert_eq!(p.id, c.provision);
    assert_eq!(p.resident, code(1));
    assert_eq!(p.agency, "日本年金機構");
    assert_eq!(p.requester, pension().identity);
    assert_eq!(p.purpose, PURPOSE);
    assert_eq!(p.query, QueryKind::Code);
    assert_eq!(p.fields, PROVIDED_FIELDS.map(String::from).to_vec());
    let age = std::time::SystemTime::now()
        .duration_since(p.at)
        .expect("provision time not in the future");
    assert!(age.as_secs() < 60, "provision time is now: {age:?}");

    let history = reg.history(&code(1)).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, Kind::New);
    assert_eq!(history[0].old, None);
    assert_eq!(history[0].new, hanako);
    assert_eq!((history[0].municipality.clone(), history[0].seq), (a, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provision_only_for_information_provided() {
    let reg = register().await;
    let a = chiyoda();
    new_resident(&reg, &a, 1, 1).await;
    // Unknown code: refused, nothing recorded.
    let e = reg
        .confirm(&code(2), PURPOSE, &pension())
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegisterError::UnknownResident(ref c) if *c == code(2)),
        "{e}"
    );
    // No purpose or no requester: refused before anything is read.
    let e = reg.confirm(&code(1), "  ", &pension()).await.unwrap_err();
    assert!(matches!(e, RegisterError::Invalid(_)), "{e}");
    let mut nobody = pension();
    nobody.identity = String::new();
    assert!(reg.confirm(&code(1), PURPOSE, &nobody).await.is_err());
    // A search without a match.
    let none = reg
        .search(
            &Search {
                name: "誰 でもない".into(),
                birth: date(1980, 4, 1),
                sex: None,
                address: None,
            },
            PURPOSE,
            &pension(),
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    // History and the municipality's own reads provide nothing to an agency.
    reg.history(&code(1)).await.unwrap();
    reg.resident(&code(1)).await.unwrap().unwrap();
    assert_eq!(provision_count(&reg).await, 0);
    // Three confirmations, three provisions, in order.
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            reg.confirm(&code(1), PURPOSE, &pension())
                .await
                .unwrap()
                .provision,
        );
    }
    let recorded: Vec<i64> = reg
        .provisions_of(&code(1))
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(recorded, ids);
    assert_eq!(provision_count(&reg).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_name_and_birth_or_the_four_info() {
    let reg = register().await;
    let a = chiyoda();
    let b = kita();
    let same_a = info("山田 太郎", "東京都千代田区永田町1-7-1");
    let mut same_b = info("山田 太郎", "大阪府大阪市北区中之島1-3-20");
    same_b.sex = Sex::Male;
    reg.apply(&update(
        &a,
        1,
        Event::New {
            code: code(10),
            info: same_a.clone(),
        },
    ))
    .await
    .unwrap();
    reg.apply(&update(
        &b,
        1,
        Event::New {
            code: code(11),
            info: same_b.clone(),
        },
    ))
    .await
    .unwrap();
    new_resident(&reg, &a, 2, 12).await;

    let by_name = Search {
        name: "山田 太郎".into(),
        birth: date(1980, 4, 1),
        sex: None,
        address: None,
    };
    let found = reg.search(&by_name, PURPOSE, &pension()).await.unwrap();
    let codes: Vec<_> = found.iter().map(|c| c.resident.code.clone()).collect();
    assert_eq!(codes, vec![code(10), code(11)]);

    let four = reg
        .search(&Search::from(&same_b), PURPOSE, &pension())
        .await
        .unwrap();
    assert_eq!(four.len(), 1);
    assert_eq!(four[0].resident.code, code(11));
    assert_eq!(four[0].resident.info, same_b);

    let other_birth = Search {
        birth: date(1980, 4, 2),
        ..by_name.clone()
    };
    assert!(reg
        .search(&other_birth, PURPOSE, &pension())
        .await
        .unwrap()
        .is_empty());

    // One provision per resident returned, recorded as a 4-info query.
    let p10 = reg.provisions_of(&code(10)).await.unwrap();
    let p11 = reg.provisions_of(&code(11)).await.unwrap();
    assert_eq!(p10.len(), 1);
    assert_eq!(p11.len(), 2);
    assert!(p11.iter().all(|p| p.query == QueryKind::FourInfo));
    assert_eq!(reg.provisions_of(&code(12)).await.unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_batch_twice_is_applied_once() {
    let reg = register().await;
    let a = chiyoda();
    let batch = vec![
        update(
            &a,
            1,
            Event::New {
                code: code(1),
                info: info("住基 一郎", "東京都千代田区1"),
            },
        ),
        update(
            &a,
            2,
            Event::MoveWithin {
                code: code(1),
                address: "東京都千代田区2".into(),
            },
        ),
        update(
            &a,
            3,
            Event::Amend {
                code: code(1),
                info: info("住基 一朗", "東京都千代田区2"),
            },
        ),
        update(
            &a,
            4,
            Event::New {
                code: code(2),
                info: info("住基 二郎", "東京都千代田区3"),
            },
        ),
    ];
    let mut first = Vec::new();
    for u in &batch {
        first.push(reg.apply(u).await.unwrap());
    }
    let history = reg.history(&code(1)).await.unwrap();
    let mut second = Vec::new();
    for u in &batch {
        second.push(reg.apply(u).await.unwrap());
    }
    assert_eq!(first, second, "the same outcome for the same numbers");
    assert_eq!(
        reg.history(&code(1)).await.unwrap(),
        history,
        "nothing applied twice"
    );
    assert_eq!(history.len(), 3);
    assert_eq!(
        history.iter().map(|h| h.kind).collect::<Vec<_>>(),
        vec![Kind::New, Kind::MoveWithin, Kind::Amend]
    );
    assert_eq!(history[1].old.as_ref().unwrap().address, "東京都千代田区1");
    assert_eq!(history[1].new.address, "東京都千代田区2");
    assert_eq!(reg.last_seq(&a).await.unwrap(), 4);
    let r = reg.resident(&code(1)).await.unwrap().unwrap();
    assert_eq!(r.version, 3);
    assert_eq!(r.info.name, "住基 一朗");

    // The same number with other content is refused, and changes nothing.
    let mut other = batch[1].clone();
    other.event = Event::MoveWithin {
        code: code(1),
        address: "東京都千代田区9".into(),
    };
    let e = reg.apply(&other).await.unwrap_err();
    assert!(
        matches!(e, RegisterError::SequenceReused { seq: 2, .. }),
        "{e}"
    );
    assert_eq!(reg.resident(&code(1)).await.unwrap().unwrap(), r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_refused() {
    let reg = register().await;
    let a = chiyoda();
    let e = reg
        .apply(&update(
            &a,
            2,
            Event::New {
                code: code(1),
                info: info("住基 花子", "東京都1"),
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            RegisterError::SequenceGap {
                expected: 1,
                got: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("an update is missing"), "{e}");
    assert!(reg.resident(&code(1)).await.unwrap().is_none());
    let e = reg
        .apply(&update(&a, 0, Event::Remove { code: code(1) }))
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::Invalid(_)), "{e}");
    new_resident(&reg, &a, 1, 1).await;
    let e = reg
        .apply(&update(&a, 3, Event::Remove { code: code(1) }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            RegisterError::SequenceGap {
                expected: 2,
                got: 3,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(reg.last_seq(&a).await.unwrap(), 1);
    reg.apply(&update(&a, 2, Event::Remove { code: code(1) }))
        .await
        .unwrap();
    reg.apply(&update(
        &a,
        3,
        Event::New {
            code: code(2),
            info: info("住基 二郎", "東京都2"),
        },
    ))
    .await
    .unwrap();
    assert_eq!(reg.last_seq(&a).await.unwrap(), 3);
    // Each municipality has its own numbers.
    assert_eq!(reg.last_seq(&kita()).await.unwrap(), 0);
    new_resident(&reg, &kita(), 1, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_municipality_s_resident_is_refused() {
    let reg = register().await;
    let (a, b) = (chiyoda(), kita());
    new_resident(&reg, &a, 1, 1).await;
    let before = reg.resident(&code(1)).await.unwrap().unwrap();
    for event in [
        Event::Amend {
            code: code(1),
            info: info("乗っ取り", "大阪府1"),
        },
        Event::MoveWithin {
            code: code(1),
            address: "大阪府2".into(),
        },
        Event::MoveOut {
            code: code(1),
            to: sapporo(),
        },
        Event::Remove { code: code(1) },
        Event::CodeChange {
            old: code(1),
            new: code(5),
        },
    ] {
        let e = reg.apply(&update(&b, 1, event)).await.unwrap_err();
        match &e {
            RegisterError::NotYours {
                resident,
                holder,
                municipality,
            } => {
                assert_eq!((resident, holder, municipality), (&code(1), &a, &b));
            }
            other => panic!("expected NotYours, got {other}"),
        }
    }
    // A 転入 without a 転出 at the holder: refused, and worth retrying later.
    let e = reg
        .apply(&update(
            &b,
            1,
            Event::MoveIn {
                code: code(1),
                info: info("住基 花子1", "大阪府3"),
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegisterError::NoPendingMoveOut { ref holder, .. } if *holder == a),
        "{e}"
    );
    assert!(e.is_transient());
    // Nothing changed, and the refused updates did not use B's number 1.
    assert_eq!(reg.resident(&code(1)).await.unwrap().unwrap(), before);
    assert_eq!(reg.history(&code(1)).await.unwrap().len(), 1);
    assert_eq!(reg.last_seq(&b).await.unwrap(), 0);
    // A new code already in use.
    let e = reg
        .apply(&update(
            &b,
            1,
            Event::New {
                code: code(1),
                info: info("別人", "大阪府4"),
            },
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::CodeInUse(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_in_at_b_completes_the_move_out_at_a() {
    let reg = register().await;
    let (a, b) = (chiyoda(), kita());
    new_resident(&reg, &a, 1, 1).await;
    reg.apply(&update(
        &a,
        2,
        Event::MoveOut {
            code: code(1),
            to: b.clone(),
        },
    ))
    .await
    .unwrap();
    let pending = reg.resident(&code(1)).await.unwrap().unwrap();
    assert_eq!(pending.status, Status::MovingOut { to: b.clone() });
    assert_eq!(pending.municipality, a, "still A's until the 転入");
    // The holder may still record changes while the 転出 is pending.
    reg.apply(&update(
        &a,
        3,
        Event::Amend {
            code: code(1),
            info: info("住基 花子1", "東京都千代田区千代田1-1"),
        },
    ))
    .await
    .unwrap();
    assert_eq!(
        reg.resident(&code(1)).await.unwrap().unwrap().status,
        Status::MovingOut { to: b.clone() }
    );

    let moved = info("住基 花子1", "大阪府大阪市北区中之島1-3-20");
    let applied = reg
        .apply(&update(
            &b,
            1,
            Event::MoveIn {
                code: code(1),
                info: moved.clone(),
            },
        ))
        .await
        .unwrap();
    assert_eq!((applied.kind, applied.version), (Kind::MoveIn, 4));
    let r = reg.resident(&code(1)).await.unwrap().unwrap();
    assert_eq!(r.municipality, b);
    assert_eq!(r.status, Status::Registered);
    assert_eq!(r.info, moved);
    assert!(
        reg.residents_of(&a).await.unwrap().is_empty(),
        "A's 転出 completed"
    );
    assert_eq!(reg.residents_of(&b).await.unwrap(), vec![r]);

    // 転入転出の特例: A learns that its 転出 is completed, once, in order; B has left nobody.
    let d = reg.departures(&a, 0, 100).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!((&d[0].resident, &d[0].to, d[0].version), (&code(1), &b, 4));
    assert_eq!(d[0].date, date(2026, 12, 1));
    assert!(reg.departures(&a, d[0].id, 100).await.unwrap().is_empty());
    assert!(reg.departures(&b, 0, 100).await.unwrap().is_empty());

    let history = reg.history(&code(1)).await.unwrap();
    let kinds: Vec<_> = history
        .iter()
        .map(|h| (h.kind, h.municipality.clone(), h.other_municipality.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::New, a.clone(), None),
            (Kind::MoveOut, a.clone(), Some(b.clone())),
            (Kind::Amend, a.clone(), None),
            (Kind::MoveIn, b.clone(), Some(a.clone())),
        ]
    );
    assert_eq!(
        history.iter().map(|h| h.version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    // A no longer holds the resident; B does.
    let e = reg
        .apply(&update(&a, 4, Event::Remove { code: code(1) }))
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::NotYours { .. }), "{e}");
    let e = reg
        .apply(&update(
            &b,
            2,
            Event::MoveIn {
                code: code(1),
                info: moved.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::AlreadyHere { .. }), "{e}");
    reg.apply(&update(
        &b,
        2,
        Event::MoveWithin {
            code: code(1),
            address: "大阪府大阪市北区2".into(),
        },
    ))
    .await
    .unwrap();
    // A 転入 of a code the register has never seen registers it.
    let fresh = reg
        .apply(&update(
            &b,
            3,
            Event::MoveIn {
                code: code(7),
                info: info("新 住民", "大阪府大阪市北区3"),
            },
        ))
        .await
        .unwrap();
    assert_eq!((fresh.kind, fresh.version), (Kind::MoveIn, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_change_links_old_and_new_and_the_old_one_stops() {
    let reg = register().await;
    let (a, b) = (chiyoda(), kita());
    new_resident(&reg, &a, 1, 1).await;
    new_resident(&reg, &a, 2, 2).await;
    let before = reg.resident(&code(1)).await.unwrap().unwrap();
    let e = reg
        .apply(&update(
            &a,
            3,
            Event::CodeChange {
                old: code(1),
                new: code(2),
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegisterError::CodeInUse(ref c) if *c == code(2)),
        "{e}"
    );
    let applied = reg
        .apply(&update(
            &a,
            3,
            Event::CodeChange {
                old: code(1),
                new: code(9),
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        (applied.kind, applied.resident.clone(), applied.version),
        (Kind::CodeChange, code(9), 1)
    );

    let old = reg.resident(&code(1)).await.unwrap().unwrap();
    assert_eq!(old.status, Status::CodeReplaced { by: code(9) });
    let new = reg.resident(&code(9)).await.unwrap().unwrap();
    assert_eq!(new.status, Status::Registered);
    assert_eq!(
        (new.info.clone(), new.municipality.clone()),
        (before.info.clone(), a.clone())
    );

    let old_history = reg.history(&code(1)).await.unwrap();
    let last = old_history.last().unwrap();
    assert_eq!(
        (last.kind, last.other_code.clone()),
        (Kind::CodeChange, Some(code(9)))
    );
    let new_history = reg.history(&code(9)).await.unwrap();
    assert_eq!(new_history.len(), 1);
    assert_eq!(
        (new_history[0].kind, new_history[0].other_code.clone()),
        (Kind::CodeChange, Some(code(1)))
    );

    // The old code stops: no change, no 転入 with it; an agency asking by it learns the new one.
    let e = reg
        .apply(&update(
            &a,
            4,
            Event::MoveWithin {
                code: code(1),
                address: "東京都2".into(),
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegisterError::CodeReplaced { ref by, .. } if *by == code(9)),
        "{e}"
    );
    let e = reg
        .apply(&update(
            &b,
            1,
            Event::MoveIn {
                code: code(1),
                info: info("住基 花子1", "大阪府1"),
            },
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::CodeReplaced { .. }), "{e}");
    let c = reg.confirm(&code(1), PURPOSE, &pension()).await.unwrap();
    assert_eq!(c.resident.status, Status::CodeReplaced { by: code(9) });
    // A 4-info search finds the new code only.
    let found = reg
        .search(&Search::from(&before.info), PURPOSE, &pension())
        .await
        .unwrap();
    assert_eq!(
        found
            .iter()
            .map(|c| c.resident.code.clone())
            .collect::<Vec<_>>(),
        vec![code(9)]
    );
    // The new code works.
    reg.apply(&update(
        &a,
        4,
        Event::MoveWithin {
            code: code(9),
            address: "東京都2".into(),
        },
    ))
    .await
    .unwrap();
    assert_eq!(
        reg.residents_of(&a)
            .await
            .unwrap()
            .iter()
            .map(|r| r.code.clone())
            .collect::<Vec<_>>(),
        vec![code(2), code(9)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_stops_changes_until_a_move_in() {
    let reg = register().await;
    let (a, b) = (chiyoda(), kita());
    new_resident(&reg, &a, 1, 1).await;
    reg.apply(&update(&a, 2, Event::Remove { code: code(1) }))
        .await
        .unwrap();
    let e = reg
        .apply(&update(
            &a,
            3,
            Event::MoveWithin {
                code: code(1),
                address: "東京都2".into(),
            },
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::Removed(_)), "{e}");
    assert!(reg.residents_of(&a).await.unwrap().is_empty());
    // Confirmed as removed (an agency needs to know).
    let c = reg.confirm(&code(1), PURPOSE, &pension()).await.unwrap();
    assert_eq!(c.resident.status, Status::Removed);
    // Back from abroad: a 転入 elsewhere registers the same code again.
    reg.apply(&update(
        &b,
        1,
        Event::MoveIn {
            code: code(1),
            info: info("住基 花子1", "大阪府1"),
        },
    ))
    .await
    .unwrap();
    let r = reg.resident(&code(1)).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.municipality, r.version),
        (Status::Registered, b, 3)
    );
    // Nobody's 転出 was completed: A removed the record itself.
    assert!(reg.departures(&a, 0, 100).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_municipalities_racing_on_one_resident_cannot_both_win() {
    let reg = Arc::new(register().await);
    let a = chiyoda();
    let contenders = [kita(), sapporo()];
    const RESIDENTS: u64 = 12;
    for n in 1..=RESIDENTS {
        new_resident(&reg, &a, 2 * n - 1, n).await;
        reg.apply(&update(
            &a,
            2 * n,
            Event::MoveOut {
                code: code(n),
                to: kita(),
            },
        ))
        .await
        .unwrap();
    }
    let mut wins = [0u64; 2];
    let mut next_seq = [1u64; 2];
    for n in 1..=RESIDENTS {
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for (i, m) in contenders.iter().enumerate() {
            let (reg, barrier, m) = (reg.clone(), barrier.clone(), m.clone());
            let u = update(
                &m,
                next_seq[i],
                Event::MoveIn {
                    code: code(n),
                    info: info(&format!("住基 花子{n}"), &format!("{m} 1-1")),
                },
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                reg.apply(&u).await
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let winners: Vec<usize> = (0..2).filter(|&i| outcomes[i].is_ok()).collect();
        assert_eq!(winners.len(), 1, "exactly one 転入 wins: {outcomes:?}");
        let w = winners[0];
        let loser = &outcomes[1 - w];
        assert!(
            matches!(loser, Err(RegisterError::NoPendingMoveOut { holder, .. }) if *holder == contenders[w]),
            "{loser:?}"
        );
        wins[w] += 1;
        next_seq[w] += 1;
        let r = reg.resident(&code(n)).await.unwrap().unwrap();
        assert_eq!(
            (r.municipality.clone(), r.status.clone(), r.version),
            (contenders[w].clone(), Status::Registered, 3)
        );
        let history = reg.history(&code(n)).await.unwrap();
        let move_ins: Vec<_> = history.iter().filter(|h| h.kind == Kind::MoveIn).collect();
        assert_eq!(move_ins.len(), 1);
        assert_eq!(move_ins[0].municipality, contenders[w]);
        assert_eq!(
            history.iter().map(|h| h.version).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }
    // Each winner's numbers were used once, the losers' not at all.
    for (i, m) in contenders.iter().enumerate() {
        assert_eq!(reg.last_seq(m).await.unwrap(), wins[i]);
        assert_eq!(reg.residents_of(m).await.unwrap().len() as u64, wins[i]);
    }
    println!("wins: {wins:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_new_code_from_two_municipalities_is_registered_once() {
    let reg = Arc::new(register().await);
    let ms = [chiyoda(), kita(), sapporo()];
    const CODES: u64 = 10;
    let mut holders = HashSet::new();
    for n in 1..=CODES {
        let barrier = Arc::new(tokio::sync::Barrier::new(ms.len()));
        let mut tasks = Vec::new();
        for m in &ms {
            let seq = reg.last_seq(m).await.unwrap() + 1;
            let u = update(
                m,
                seq,
                Event::New {
                    code: code(100 + n),
                    info: info("同時 太郎", &format!("{m} 2-2")),
                },
            );
            let (reg, barrier) = (reg.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                reg.apply(&u).await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(a) => {
                    ok += 1;
                    holders.insert(a.municipality.to_string());
                }
                Err(RegisterError::CodeInUse(c)) => assert_eq!(c, code(100 + n)),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(reg.history(&code(100 + n)).await.unwrap().len(), 1);
    }
    let total: u64 = {
        let mut t = 0;
        for m in &ms {
            t += reg.last_seq(m).await.unwrap();
        }
        t
    };
    assert_eq!(total, CODES, "one delivery number used per registration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_update_delivered_twice_at_once_is_applied_once() {
    let reg = Arc::new(register().await);
    let a = chiyoda();
    for seq in 1..=20u64 {
        let u = update(
            &a,
            seq,
            Event::New {
                code: code(seq),
                info: info("二重 送信", "東京都1"),
            },
        );
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (reg, barrier, u) = (reg.clone(), barrier.clone(), u.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                reg.apply(&u).await
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap().unwrap());
        }
        assert!(outcomes.iter().all(|o| *o == outcomes[0]), "{outcomes:?}");
        assert_eq!(reg.history(&code(seq)).await.unwrap().len(), 1);
    }
    assert_eq!(reg.last_seq(&a).await.unwrap(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_within_racing_a_move_in_one_of_them_wins() {
    // A 転居 at A cancels the pending 転出; a 転入 at B completes it: never both.
    let reg = Arc::new(register().await);
    let (a, b) = (chiyoda(), kita());
    let mut a_seq = 0;
    let mut b_seq = 0;
    let mut wins = (0, 0);
    for n in 1..=12u64 {
        new_resident(&reg, &a, a_seq + 1, n).await;
        reg.apply(&update(
            &a,
            a_seq + 2,
            Event::MoveOut {
                code: code(n),
                to: b.clone(),
            },
        ))
        .await
        .unwrap();
        a_seq += 2;
        let stay = update(
            &a,
            a_seq + 1,
            Event::MoveWithin {
                code: code(n),
                address: "東京都 残留".into(),
            },
        );
        let go = update(
            &b,
            b_seq + 1,
            Event::MoveIn {
                code: code(n),
                info: info(&format!("住基 花子{n}"), "大阪府 転入"),
            },
        );
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let t1 = {
            let (reg, barrier) = (reg.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                reg.apply(&stay).await
            })
        };
        let t2 = {
            let (reg, barrier) = (reg.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                reg.apply(&go).await
            })
        };
        let (r1, r2) = (t1.await.unwrap(), t2.await.unwrap());
        let r = reg.resident(&code(n)).await.unwrap().unwrap();
        let kinds: Vec<Kind> = reg
            .history(&code(n))
            .await
            .unwrap()
            .iter()
            .map(|h| h.kind)
            .collect();
        match (&r1, &r2) {
            (Ok(_), Err(RegisterError::NoPendingMoveOut { .. })) => {
                a_seq += 1;
                wins.0 += 1;
                assert_eq!(
                    (r.municipality.clone(), r.info.address.as_str()),
                    (a.clone(), "東京都 残留")
                );
                assert_eq!(kinds, vec![Kind::New, Kind::MoveOut, Kind::MoveWithin]);
            }
            (Err(RegisterError::NotYours { .. }), Ok(_)) => {
                b_seq += 1;
                wins.1 += 1;
                assert_eq!(
                    (r.municipality.clone(), r.info.address.as_str()),
                    (b.clone(), "大阪府 転入")
                );
                assert_eq!(kinds, vec![Kind::New, Kind::MoveOut, Kind::MoveIn]);
            }
            other => panic!("exactly one must win: {other:?}"),
        }
        assert_eq!(r.status, Status::Registered);
        assert_eq!(r.version, 3);
    }
    assert_eq!(reg.last_seq(&a).await.unwrap(), a_seq);
    assert_eq!(reg.last_seq(&b).await.unwrap(), b_seq);
    println!("転居 won {}, 転入 won {}", wins.0, wins.1);
}
