//! The outbox and its delivery, on a real counter database, against an in-process fake of the
//! network that keeps the server's side of the contract (apply in order, the same number with
//! the same digest answered again, a gap or another update under a used number refused) and
//! can go down, lose its answers and refuse.

use std::collections::BTreeMap;

use super::*;
use crate::testutil::{code, date, Fixture, T0};
use crate::Tx;
use juki_host::resident::Sex;

/// The network's side, for the queue's logic only.
#[derive(Default)]
struct FakeNet {
    /// Applied updates in order, with their digests by number.
    applied: Vec<Update>,
    digests: BTreeMap<u64, [u8; 32]>,
    /// Every batch received.
    batches: Vec<Vec<u64>>,
    /// Down: every call fails.
    down: bool,
    /// Apply the next batch, then lose the answer.
    lose_next_answer: bool,
    /// Refuse this number (reason, transient) until cleared.
    refuse: Option<(u64, String, bool)>,
}

impl FakeNet {
    fn last(&self) -> u64 {
        self.digests.keys().next_back().copied().unwrap_or(0)
    }

    fn applied_seqs(&self) -> Vec<u64> {
        self.applied.iter().map(|u| u.seq).collect()
    }
}

impl Delivery for FakeNet {
    fn deliver(&mut self, batch: &[Update]) -> std::result::Result<Vec<Delivered>, Unreachable> {
        self.batches.push(batch.iter().map(|u| u.seq).collect());
        if self.down {
            return Err(Unreachable("connection refused".into()));
        }
        let mut answers = Vec::new();
        for u in batch {
            let seq = u.seq;
            if let Some(d) = self.digests.get(&seq) {
                if *d == u.digest() {
                    answers.push(Delivered::Applied { seq });
                    continue;
                }
                answers.push(Delivered::Refused {
                    seq,
                    reason: "number reused for another update".into(),
                    transient: false,
                });
                break;
            }
            if seq != self.last() + 1 {
                answers.push(Delivered::Refused {
                    seq,
                    reason: format!("gap: expected {}", self.last() + 1),
                    transient: false,
                });
                break;
            }
            if let Some((r, reason, transient)) = self.refuse.clone() {
                if r == seq {
                    answers.push(Delivered::Refused {
                        seq,
                        reason,
                        transient,
                    });
                    break;
                }
            }
            self.digests.insert(seq, u.digest());
            self.applied.push(u.clone());
            answers.push(Delivered::Applied { seq });
        }
        if std::mem::take(&mut self.lose_next_answer) {
            return Err(Unreachable(
                "connection reset while reading the answer".into(),
            ));
        }
        Ok(answers)
    }
}

fn info(n: u32) -> FourInfo {
    FourInfo::new(
        &format!("住基 {n}子"),
        &format!("東京都千代田区霞が関{n}丁目"),
        date(1985, 6, 15),
        Sex::Female,
    )
    .unwrap()
}

/// A resident code for `n` (valid check digit).
fn resident(n: u64) -> juki_host::resident_code::ResidentCode {
    let ten = format!("{:010}", 1_000_000_000 + n);
    let mut digits = [0u8; 10];
    for (d, c) in digits.iter_mut().zip(ten.bytes()) {
        *d = c - b'0';
    }
    let check = juki_host::resident_code::check_digit(&digits);
    code(&format!("{ten}{}", char::from(b'0' + check)))
}

/// Queues `n` new residents, each in its own transaction.
fn queue_new(f: &mut Fixture, n: u64) {
    let m = f.chiyoda.clone();
    for i in 0..n {
        let k = f.db.outbox().status().unwrap().last_queued + 1;
        f.db.transaction(|tx: &Tx<'_>| {
            tx.outbox().enqueue(
                &m,
                date(2026, 4, 1),
                Event::New {
                    code: resident(k),
                    info: info(u32::try_from(i % 9 + 1).unwrap()),
                },
            )
        })
        .unwrap();
    }
}

/// The fixture's clock (2026-04-01T00:00:00Z).
fn t0() -> Timestamp {
    Timestamp::from_unix(T0)
}

fn net_sync_records(f: &Fixture) -> Vec<crate::audit::AuditRecord> {
    f.db.audit()
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "net-sync")
        .collect()
}

#[test]
fn every_event_is_stored_and_read_back_unchanged() {
    let m = MunicipalityCode::parse("131016").unwrap();
    let osaka = MunicipalityCode::parse("271276").unwrap();
    let events = [
        Event::New {
            code: resident(1),
            info: info(1),
        },
        Event::Amend {
            code: resident(1),
            info: info(2),
        },
        Event::MoveWithin {
            code: resident(1),
            address: "東京都千代田区丸の内一丁目9番1号 \"A\" \\ 棟".into(),
        },
        Event::MoveOut {
            code: resident(1),
            to: osaka,
        },
        Event::MoveIn {
            code: resident(1),
            info: info(3),
        },
        Event::CodeChange {
            old: resident(1),
            new: resident(2),
        },
        Event::Remove { code: resident(2) },
    ];
    for (seq, event) in (1..).zip(events) {
        let u = Update {
            municipality: m.clone(),
            seq,
            date: date(2026, 4, 1),
            event,
        };
        let text = encode(&u);
        assert_eq!(decode(&text).unwrap(), u, "{text}");
        assert_eq!(decode(&text).unwrap().digest(), u.digest());
    }
    for bad in [
        "",
        "{}",
        r#"{"format":2,"municipality":"131016","seq":1,"date":"2026-04-01","kind":"remove","event":{"code":"12345678903"}}"#,
        r#"{"format":1,"municipality":"131016","seq":1,"date":"2026-04-01","kind":"lost","event":{"code":"12345678903"}}"#,
        r#"{"format":1,"municipality":"131016","seq":1,"date":"2026-04-01","kind":"remove","event":{"code":"12345678900"}}"#,
    ] {
        assert!(
            matches!(decode(bad), Err(CounterError::Corrupt(_))),
            "{bad}"
        );
    }
}

#[test]
fn an_update_is_queued_only_with_its_transaction() {
    let mut f = Fixture::new();
    let m = f.chiyoda.clone();
    // Not outside a transaction: it could be committed without its change.
    let alone =
        f.db.outbox()
            .enqueue(&m, date(2026, 4, 1), Event::Remove { code: resident(1) });
    assert!(matches!(alone, Err(CounterError::InvalidInput(_))));
    // A transaction that fails after queueing leaves nothing, and its number is not used.
    let failed: Result<()> = f.db.transaction(|tx| {
        let seq = tx
            .outbox()
            .enqueue(&m, date(2026, 4, 1), Event::Remove { code: resident(1) })?;
        assert_eq!(seq, 1);
        Err(CounterError::InvalidInput("the registry refused".into()))
    });
    assert!(failed.is_err());
    let status = f.db.outbox().status().unwrap();
    assert_eq!((status.waiting, status.last_queued), (0, 0));
    queue_new(&mut f, 2);
    let waiting = f.db.outbox().waiting(10).unwrap();
    let seqs: Vec<u64> = waiting.iter().map(|q| q.update.seq).collect();
    assert_eq!(seqs, [1, 2]);
    assert!(waiting.iter().all(|q| q.update.municipality == m));
}

#[test]
fn delivers_in_order_in_batches_and_empties_the_queue() {
    let mut f = Fixture::new();
    queue_new(&mut f, 250);
    let mut net = FakeNet::default();
    let report = sync(&mut f.db, &mut net, t0()).unwrap();
    assert_eq!(report.end, SyncEnd::UpToDate);
    assert_eq!(report.delivered, (1..=250).collect::<Vec<_>>());
    assert_eq!(report.waiting, 0);
    assert_eq!(net.applied_seqs(), (1..=250).collect::<Vec<_>>());
    let sizes: Vec<usize> = net.batches.iter().map(Vec::len).collect();
    assert_eq!(sizes, [BATCH, BATCH, 50]);
    let status = f.db.outbox().status().unwrap();
    assert_eq!(status.waiting, 0);
    assert_eq!((status.last_queued, status.last_delivered), (250, 250));
    assert!(status.oldest.is_none());
    // One audit record per call to the network.
    let records = net_sync_records(&f);
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.outcome == Outcome::Ok));
    assert!(
        records[0].detail.contains("sent updates 1–100"),
        "{records:?}"
    );
    assert!(records[2].detail.contains("applied 201–250"));
    // Nothing more to do: the network is not called.
    let again = sync(&mut f.db, &mut net, t0()).unwrap();
    assert_eq!(again.end, SyncEnd::UpToDate);
    assert_eq!(net.batches.len(), 3);
    // A later update continues the numbering.
    queue_new(&mut f, 1);
    sync(&mut f.db, &mut net, t0()).unwrap();
    assert_eq!(net.applied.last().unwrap().seq, 251);
}

#[test]
fn the_same_batch_delivered_twice_is_applied_once() {
    let mut f = Fixture::new();
    queue_new(&mut f, 3);
    let batch: Vec<Update> =
        f.db.outbox()
            .waiting(BATCH)
            .unwrap()
            .into_iter()
            .map(|q| q.update)
            .collect();
    let mut net = FakeNet::default();
    let first = net.deliver(&batch).unwrap();
    let second = net.deliver(&batch).unwrap();
    assert_eq!(first, second);
    assert_eq!(net.applied_seqs(), [1, 2, 3]);
    // The counter, which never heard the first answers, sends them again: harmless.
    let report = sync(&mut f.db, &mut net, t0()).unwrap();
    assert_eq!(report.delivered, [1, 2, 3]);
    assert_eq!(net.applied_seqs(), [1, 2, 3]);
}

#[test]
fn a_lost_answer_sends_the_batch_again_without_applying_twice() {
    let mut f = Fixture::new();
    queue_new(&mut f, 5);
    let mut net = FakeNet {
        lose_next_answer: true,
        ..FakeNet::default()
    };
    let t = t0();
    let report = sync(&mut f.db, &mut net, t).unwrap();
    assert!(
        matches!(&report.end, SyncEnd::Unreachable { next_attempt, .. } if *next_attempt == t.plus_secs(30)),
        "{report:?}"
    );
    assert!(report.delivered.is_empty());
    assert_eq!(report.waiting, 5, "nothing is known to be applied");
    assert_eq!(
        net.applied_seqs(),
        [1, 2, 3, 4, 5],
        "but the network has them"
    );
    let report = sync(&mut f.db, &mut net, t.plus_secs(30)).unwrap();
    assert_eq!(report.end, SyncEnd::UpToDate);
    assert_eq!(report.delivered, [1, 2, 3, 4, 5]);
    assert_eq!(net.applied_seqs(), [1, 2, 3, 4, 5], "applied once");
    assert_eq!(net.batches, [vec![1, 2, 3, 4, 5], vec![1, 2, 3, 4, 5]]);
}

#[test]
fn while_the_network_is_down_the_backoff_grows_then_the_queue_catches_up() {
    let mut f = Fixture::new();
    queue_new(&mut f, 3);
    let mut net = FakeNet {
        down: true,
        ..FakeNet::default()
    };
    let mut t = Timestamp::from_unix(T0);
    let mut waits = Vec::new();
    for _ in 0..9 {
        let report = sync(&mut f.db, &mut net, t).unwrap();
        let SyncEnd::Unreachable {
            next_attempt,
            reason,
        } = report.end
        else {
            panic!("{report:?}");
        };
        assert_eq!(reason, "connection refused");
        waits.push(next_attempt.unix() - t.unix());
        // Too early: the network is not called.
        let calls = net.batches.len();
        let early = sync(&mut f.db, &mut net, next_attempt.plus_secs(-1)).unwrap();
        assert_eq!(early.end, SyncEnd::NotDue { next_attempt });
        assert_eq!(net.batches.len(), calls);
        // The counter keeps working meanwhile: more updates are queued.
        queue_new(&mut f, 1);
        t = next_attempt;
    }
    assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    let status = f.db.outbox().status().unwrap();
    assert_eq!(status.failures, 9);
    assert_eq!(status.waiting, 12);
    assert_eq!(status.last_error.as_deref(), Some("connection refused"));
    assert_eq!(status.next_attempt, Some(t));
    assert_eq!(status.oldest.as_ref().unwrap().update.seq, 1);

    net.down = false;
    let report = sync(&mut f.db, &mut net, t).unwrap();
    assert_eq!(report.end, SyncEnd::UpToDate);
    assert_eq!(report.delivered, (1..=12).collect::<Vec<_>>());
    assert_eq!(net.applied_seqs(), (1..=12).collect::<Vec<_>>());
    let status = f.db.outbox().status().unwrap();
    assert_eq!(
        (status.failures, status.next_attempt, status.last_error),
        (0, None, None)
    );
    let records = net_sync_records(&f);
    assert_eq!(
        records.len(),
        10,
        "nine failed calls and the one that worked"
    );
    assert!(records[..9]
        .iter()
        .all(|r| matches!(&r.outcome, Outcome::Failed(why) if why.contains("connection refused"))));
    assert_eq!(records[9].outcome, Outcome::Ok);
}

#[test]
fn a_permanent_refusal_stops_the_queue_until_a_person_releases_it() {
    let mut f = Fixture::new();
    queue_new(&mut f, 5);
    let mut net = FakeNet {
        refuse: Some((
            3,
            "resident 10000000030 is registered at 271276".into(),
            false,
        )),
        ..FakeNet::default()
    };
    let t = t0();
    let report = sync(&mut f.db, &mut net, t).unwrap();
    let SyncEnd::NeedsPerson(refusal) = &report.end else {
        panic!("{report:?}");
    };
    assert_eq!(refusal.seq, 3);
    assert_eq!(refusal.kind, Kind::New);
    assert!(refusal.reason.contains("271276"));
    assert_eq!(report.delivered, [1, 2], "what came before is delivered");
    assert_eq!(report.waiting, 3);
    assert_eq!(net.applied_seqs(), [1, 2], "4 and 5 wait behind 3");

    let status = f.db.outbox().status().unwrap();
    assert_eq!(status.refused.as_ref(), Some(refusal));
    assert_eq!(status.oldest.as_ref().unwrap().update.seq, 3);
    assert_eq!(status.last_delivered, 2);

    // Not sent again, however late: it needs a person.
    let later = sync(&mut f.db, &mut net, t.plus_secs(86_400)).unwrap();
    assert!(matches!(later.end, SyncEnd::NeedsPerson(_)));
    assert_eq!(net.batches.len(), 1);

    // The audit record says which update, not what it holds.
    let records = net_sync_records(&f);
    assert_eq!(records.len(), 1);
    assert!(
        matches!(&records[0].outcome, Outcome::Refused(why) if why.contains("update 3 (new)")),
        "{records:?}"
    );

    // The network's side is put right; a supervisor releases the update.
    net.refuse = None;
    let chiyoda = f.chiyoda.clone();
    let actor = Actor {
        municipality: &chiyoda,
        operator: "suzuki",
    };
    let released =
        f.db.outbox()
            .retry_refused(&actor, "checked with 大阪市北区: record corrected")
            .unwrap();
    assert_eq!(released.as_ref(), Some(refusal));
    assert!(f.db.outbox().status().unwrap().refused.is_none());
    let report = sync(&mut f.db, &mut net, t).unwrap();
    assert_eq!(report.end, SyncEnd::UpToDate);
    assert_eq!(report.delivered, [3, 4, 5]);
    assert_eq!(net.applied_seqs(), [1, 2, 3, 4, 5]);
    // Nothing to release any more.
    assert!(f.db.outbox().retry_refused(&actor, "x").unwrap().is_none());
    assert!(f.db.audit().verify().unwrap().is_intact());
}

#[test]
fn a_transient_refusal_is_tried_again_after_the_backoff() {
    let mut f = Fixture::new();
    queue_new(&mut f, 3);
    let mut net = FakeNet {
        refuse: Some((2, "move-in refused: no move-out yet".into(), true)),
        ..FakeNet::default()
    };
    let t = t0();
    let report = sync(&mut f.db, &mut net, t).unwrap();
    assert_eq!(
        report.end,
        SyncEnd::Deferred {
            seq: 2,
            reason: "move-in refused: no move-out yet".into(),
            next_attempt: t.plus_secs(30),
        }
    );
    assert_eq!(report.delivered, [1]);
    let status = f.db.outbox().status().unwrap();
    assert!(status.refused.is_none(), "not a person's matter");
    assert_eq!(status.failures, 1);
    assert_eq!(
        status.last_error.as_deref(),
        Some("move-in refused: no move-out yet")
    );
    // Still refused at the next attempt: the wait doubles.
    let report = sync(&mut f.db, &mut net, t.plus_secs(30)).unwrap();
    assert!(
        matches!(report.end, SyncEnd::Deferred { next_attempt, .. } if next_attempt == t.plus_secs(90))
    );
    net.refuse = None;
    let report = sync(&mut f.db, &mut net, t.plus_secs(90)).unwrap();
    assert_eq!(report.end, SyncEnd::UpToDate);
    assert_eq!(report.delivered, [2, 3]);
    assert_eq!(net.applied_seqs(), [1, 2, 3]);
}

#[test]
fn answers_that_break_the_contract_move_nothing() {
    struct Liar(Vec<Delivered>);
    impl Delivery for Liar {
        fn deliver(&mut self, _: &[Update]) -> std::result::Result<Vec<Delivered>, Unreachable> {
            Ok(self.0.clone())
        }
    }
    for answers in [
        vec![],
        vec![Delivered::Applied { seq: 2 }],
        vec![
            Delivered::Refused {
                seq: 1,
                reason: "no".into(),
                transient: true,
            },
            Delivered::Applied { seq: 2 },
        ],
        (1..=3).map(|seq| Delivered::Applied { seq }).collect(),
    ] {
        let mut f = Fixture::new();
        queue_new(&mut f, 2);
        let report = sync(&mut f.db, &mut Liar(answers.clone()), t0()).unwrap();
        assert!(
            matches!(report.end, SyncEnd::Unreachable { .. }),
            "{answers:?}: {report:?}"
        );
        assert_eq!(f.db.outbox().status().unwrap().waiting, 2, "{answers:?}");
    }
}

#[test]
fn the_queue_survives_a_restart() {
    let mut f = Fixture::new();
    queue_new(&mut f, 4);
    let mut net = FakeNet {
        refuse: Some((3, "unknown resident".into(), false)),
        ..FakeNet::default()
    };
    sync(&mut f.db, &mut net, t0()).unwrap();
    let before = f.db.outbox().status().unwrap();
    let f = f.reopen();
    let after = f.db.outbox().status().unwrap();
    assert_eq!(before, after);
    assert_eq!(after.waiting, 2);
    assert_eq!(after.refused.as_ref().map(|r| r.seq), Some(3));
    let queued: Vec<Update> =
        f.db.outbox()
            .waiting(BATCH)
            .unwrap()
            .into_iter()
            .map(|q| q.update)
            .collect();
    assert_eq!(queued.iter().map(|u| u.seq).collect::<Vec<_>>(), [3, 4]);
    // The reopened queue continues its numbering.
    let mut f = f;
    queue_new(&mut f, 1);
    assert_eq!(f.db.outbox().status().unwrap().last_queued, 5);
}

#[test]
fn the_audit_trail_holds_no_personal_data_of_the_updates() {
    let mut f = Fixture::new();
    queue_new(&mut f, 3);
    let mut net = FakeNet {
        down: true,
        ..FakeNet::default()
    };
    sync(&mut f.db, &mut net, t0()).unwrap();
    net.down = false;
    net.refuse = Some((2, "resident 10000000020 住基 2子 refused".into(), false));
    sync(&mut f.db, &mut net, t0().plus_secs(60)).unwrap();
    let records = net_sync_records(&f);
    assert_eq!(records.len(), 2);
    for r in &records {
        let all = format!("{} {:?} {}", r.operator, r.outcome, r.detail);
        assert_eq!(r.operator, NETWORK_OPERATOR);
        assert_eq!(r.card_serial, None);
        for q in f.db.outbox().waiting(10).unwrap() {
            if let Event::New { code, info } = &q.update.event {
                assert!(!all.contains(code.as_str()), "{all}");
                assert!(
                    !all.contains(&info.name) && !all.contains(&info.address),
                    "{all}"
                );
            }
        }
        assert!(!all.contains("霞が関") && !all.contains("子"), "{all}");
    }
    assert!(f.db.audit().verify().unwrap().is_intact());
}

/// The network's departures for this counter, for [`receive_departures`].
#[derive(Default)]
struct FakeDepartures {
    all: Vec<Departure>,
    /// Most returned per call.
    batch: usize,
    down: bool,
    calls: usize,
}

impl DepartureSource for FakeDepartures {
    fn departures(&mut self, after: i64) -> std::result::Result<Vec<Departure>, Unreachable> {
        self.calls += 1;
        if self.down {
            return Err(Unreachable("connection refused".into()));
        }
        Ok(self
            .all
            .iter()
            .filter(|d| d.id > after)
            .take(self.batch.max(1))
            .cloned()
            .collect())
    }
}

/// A resident of this counter, with a recorded 転出 to 大阪市北区 when `moving`.
fn holds(f: &Fixture, n: u64, moving: bool) -> juki_host::resident_code::ResidentCode {
    let code = resident(n);
    let kita = MunicipalityCode::parse("271276").unwrap();
    let serial = format!("JK-{n:04}");
    f.db.registry()
        .register_card(
            &crate::registry::NewCard {
                serial: &serial,
                resident_code: &code,
                resident_name: "住基 花子",
                issuing_municipality: &f.chiyoda,
                issued: date(2026, 4, 1),
                expires: date(2036, 4, 1),
                legal_representative: None,
            },
            crate::registry::CardState::Issued,
        )
        .unwrap();
    f.db.registry()
        .set_four_info(&code, &info(n as u32))
        .unwrap();
    if moving {
        f.db.registry()
            .record_move_out(&code, &kita, date(2026, 11, 30))
            .unwrap();
    }
    code
}

fn departure(id: i64, code: &juki_host::resident_code::ResidentCode) -> Departure {
    Departure {
        id,
        resident: code.clone(),
        to: MunicipalityCode::parse("271276").unwrap(),
        version: 3,
        date: date(2026, 12, 1),
    }
}

#[test]
fn departures_complete_the_recorded_move_outs_once_and_in_order() {
    let mut f = Fixture::new();
    crate::session::bind_municipality(&f.db, &f.chiyoda.clone()).unwrap();
    let (a, b, c) = (holds(&f, 1, true), holds(&f, 2, true), holds(&f, 3, false));
    let stranger = resident(99);
    let mut net = FakeDepartures {
        all: vec![departure(4, &a), departure(7, &stranger), departure(9, &b)],
        batch: 2,
        ..FakeDepartures::default()
    };
    let report = receive_departures(&mut f.db, &mut net).unwrap();
    assert_eq!(
        report,
        DeparturesReport {
            read: 3,
            completed: 2,
            unreachable: None
        }
    );
    let registry = f.db.registry();
    assert_eq!(
        registry.move_out_completed(&a).unwrap(),
        Some(date(2026, 12, 1))
    );
    assert_eq!(
        registry.move_out_completed(&b).unwrap(),
        Some(date(2026, 12, 1))
    );
    assert_eq!(registry.move_out_completed(&c).unwrap(), None);
    assert_eq!(f.db.outbox().departures_after().unwrap(), 9);
    // Read again: nothing new, nothing recorded twice; one audit record per batch, no names.
    let report = receive_departures(&mut f.db, &mut net).unwrap();
    assert_eq!((report.read, report.completed), (0, 0));
    let records = net_sync_records(&f);
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.iter().all(|r| !r.detail.contains("住基")));
    // The counter no longer holds them for the checker.
    let held = crate::consistency::snapshot(&f.db).unwrap();
    let codes: Vec<_> = held.residents.iter().map(|h| h.code.clone()).collect();
    assert_eq!(codes, [c]);
}

#[test]
fn departures_out_of_order_or_unreachable_record_nothing() {
    let mut f = Fixture::new();
    crate::session::bind_municipality(&f.db, &f.chiyoda.clone()).unwrap();
    let a = holds(&f, 1, true);
    let mut down = FakeDepartures {
        all: vec![departure(1, &a)],
        down: true,
        ..FakeDepartures::default()
    };
    let report = receive_departures(&mut f.db, &mut down).unwrap();
    assert_eq!(report.read, 0);
    assert!(report.unreachable.unwrap().contains("connection refused"));
    // A source that answers ids at or before the cursor breaks the contract.
    let mut backwards = FakeDepartures {
        all: vec![departure(5, &a), departure(3, &a)],
        batch: 2,
        ..FakeDepartures::default()
    };
    let report = receive_departures(&mut f.db, &mut backwards).unwrap();
    assert_eq!(report.read, 0);
    assert!(report.unreachable.unwrap().contains("not in order"));
    assert_eq!(f.db.registry().move_out_completed(&a).unwrap(), None);
    assert_eq!(f.db.outbox().departures_after().unwrap(), 0);
}
