//! The counter operations (`juki_counter::ops`) on an in-process simulated card and the outbox
//! of 住基ネット updates: each operation that changes 本人確認情報 queues its update with its
//! registry change and audit record, a failed one queues nothing, and `juki counter net status`
//! shows what is waiting. The network is an in-process fake here (the queue's logic only).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use juki_cli::pin_input::Pin;
use juki_counter::network::{self, Delivered, Delivery, Event, SyncEnd, Unreachable, Update};
use juki_counter::registry::TerminateReason;
use juki_counter::{CounterDb, IssueRequest, Session, UpdateRequest};
use juki_host::authority::RootAuthority;
use juki_host::card::JukiCard;
use juki_host::clock::Timestamp;
use juki_host::date::Date;
use juki_host::resident::{FourInfo, MunicipalityCode, Sex};
use juki_host::resident_code::ResidentCode;
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;

mod common;

use common::world::{lines, today, world, World};

/// A transport that "kills the process" (panics) right after the card answered the command with
/// instruction `ins`: the card step is done, the records are not.
struct DiesAfter<T> {
    inner: T,
    ins: u8,
}

impl<T: Transport> Transport for DiesAfter<T> {
    fn transmit(&mut self, apdu: &[u8]) -> juki_host::Result<Vec<u8>> {
        let response = self.inner.transmit(apdu)?;
        assert!(apdu.get(1) != Some(&self.ins), "the process dies here");
        Ok(response)
    }
    fn supports_extended_length(&self) -> bool {
        self.inner.supports_extended_length()
    }
    fn exclusive(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Transport) -> juki_host::Result<()>,
    ) -> juki_host::Result<()> {
        f(self)
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

fn chiyoda() -> MunicipalityCode {
    MunicipalityCode::parse("131016").unwrap()
}

fn kita() -> MunicipalityCode {
    MunicipalityCode::parse("271276").unwrap()
}

fn queued(data: &Path) -> Vec<Update> {
    CounterDb::open(data)
        .unwrap()
        .outbox()
        .waiting(1000)
        .unwrap()
        .into_iter()
        .map(|q| q.update)
        .collect()
}

fn holder(w: &World, serial: &str) -> ResidentCode {
    CounterDb::open(&w.data)
        .unwrap()
        .registry()
        .card(serial)
        .unwrap()
        .unwrap()
        .resident_code
}

fn ichiro(address: &str) -> FourInfo {
    FourInfo::new(
        "住基 一郎",
        address,
        Date::from_ymd(1980, 1, 2).unwrap(),
        Sex::Male,
    )
    .unwrap()
}

fn move_request(address: Option<&str>, name: Option<&str>, reason: &str) -> UpdateRequest {
    UpdateRequest {
        address: address.map(str::to_string),
        name: name.map(str::to_string),
        reason: reason.into(),
        date: None,
    }
}

/// The last audit record's detail.
fn last_detail(data: &Path) -> String {
    let db = CounterDb::open(data).unwrap();
    db.audit().records().unwrap().pop().unwrap().detail
}

#[test]
fn each_change_of_residence_data_is_queued_with_its_record() {
    let w = world();
    let code = holder(&w, "JK-0009");
    // 交付 to a new resident: 新規, with the 4 info written on the card.
    let q = queued(&w.data);
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].seq, &q[0].municipality, q[0].date),
        (1, &chiyoda(), today())
    );
    assert_eq!(
        q[0].event,
        Event::New {
            code: code.clone(),
            info: ichiro("東京都千代田区千代田1-1"),
        }
    );
    assert!(
        last_detail(&w.data).contains("住基ネット update 1 (new) queued"),
        "the audit record names it"
    );

    // 一時停止 and its lifting change no 本人確認情報.
    let mut s = w.session();
    s.suspend(&mut w.card(), &w.cred, Some("紛失")).unwrap();
    s.resume(&mut w.card(), &w.cred).unwrap();
    drop(s);
    assert_eq!(queued(&w.data).len(), 1);

    // 転居: the new address.
    w.session()
        .update(
            &mut w.card(),
            &w.cred,
            &move_request(Some("東京都千代田区丸の内一丁目9番1号"), None, "転居"),
            &mut lines("2580\n"),
        )
        .unwrap();
    let q = queued(&w.data);
    assert_eq!(
        q[1].event,
        Event::MoveWithin {
            code: code.clone(),
            address: "東京都千代田区丸の内一丁目9番1号".into(),
        }
    );
    // 記載事項変更 (a new name): the 4 info as they now are.
    w.session()
        .update(
            &mut w.card(),
            &w.cred,
            &move_request(None, Some("住基 一朗"), "氏名変更"),
            &mut lines("2580\n"),
        )
        .unwrap();
    let q = queued(&w.data);
    let mut renamed = ichiro("東京都千代田区丸の内一丁目9番1号");
    renamed.name = "住基 一朗".into();
    assert_eq!(
        q[2].event,
        Event::Amend {
            code: code.clone(),
            info: renamed.clone(),
        }
    );

    // 住民票コードの変更.
    let changed = w.session().change_code(&mut w.card(), &w.cred).unwrap();
    let q = queued(&w.data);
    assert_eq!(
        q[3].event,
        Event::CodeChange {
            old: code.clone(),
            new: changed.new_code.clone(),
        }
    );

    // A new card for the registered resident, with the same 4 info: nothing for the network.
    let image = w._dir.path().join("second.img");
    let mut card = JukiCard::new(SimTransport::create(&image).unwrap());
    w.root.manufacture(&mut card, "JK-0010", today()).unwrap();
    let req = IssueRequest {
        name: renamed.name.clone(),
        address: renamed.address.clone(),
        birth: renamed.birth,
        sex: renamed.sex,
        photo: false,
        serial: Some("JK-0010".into()),
        representative: None,
        stay_until: None,
        resident_code: Some(changed.new_code.clone()),
    };
    w.session()
        .issue(
            &mut card,
            &w.cred,
            &req,
            &mut lines("2580\n1357\nJUKI2026\n"),
            &mut |_| Ok(true),
        )
        .unwrap();
    assert_eq!(queued(&w.data).len(), 4);

    // 返納 ends a card, not a registration; the holder's death is the record's 消除.
    let mut s = w.session();
    s.terminate(&mut card, &w.cred, TerminateReason::Death)
        .unwrap();
    drop(s);
    let q = queued(&w.data);
    assert_eq!(q.len(), 5);
    assert_eq!(
        q[4].event,
        Event::Remove {
            code: changed.new_code.clone(),
        }
    );
    assert_eq!(q.iter().map(|u| u.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert!(q.iter().all(|u| u.municipality == chiyoda()));
    let db = CounterDb::open(&w.data).unwrap();
    assert!(db.audit().verify().unwrap().is_intact());
}

#[test]
fn a_returned_card_queues_nothing() {
    let w = world();
    w.session()
        .terminate(&mut w.card(), &w.cred, TerminateReason::Returned)
        .unwrap();
    assert_eq!(queued(&w.data).len(), 1, "only the issue's 新規");
}

#[test]
fn a_failed_operation_queues_nothing() {
    let w = world();
    let code = holder(&w, "JK-0009");
    // Refused before the card: nothing to change.
    let err = w
        .session()
        .update(
            &mut w.card(),
            &w.cred,
            &move_request(None, None, "転居"),
            &mut lines("2580\n"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("nothing to change"), "{err}");
    // Refused by the card: a counter certified by another root.
    let other = RootAuthority::generate()
        .issue_counter_credential(&chiyoda(), "千代田区", today(), 5)
        .unwrap();
    w.session()
        .update(
            &mut w.card(),
            &other,
            &move_request(Some("東京都千代田区丸の内1-1"), None, "転居"),
            &mut lines("2580\n"),
        )
        .unwrap_err();
    // A wrong 住基 PIN.
    w.session()
        .update(
            &mut w.card(),
            &w.cred,
            &move_request(Some("東京都千代田区丸の内1-1"), None, "転居"),
            &mut lines("9999\n"),
        )
        .unwrap_err();
    assert_eq!(queued(&w.data).len(), 1, "only the issue's 新規");

    // The process dies between the card and the records of a change of code: no record, no
    // update for the network…
    {
        let mut s = w.session();
        let mut card = JukiCard::new(DiesAfter {
            inner: SimTransport::open(&w.image).unwrap(),
            ins: 0xFE,
        });
        let died = catch_unwind(AssertUnwindSafe(|| s.change_code(&mut card, &w.cred)));
        assert!(died.is_err(), "the process died");
    }
    assert_eq!(queued(&w.data).len(), 1);
    // …until a clerk resolves it from the card: then the change, its record and its update.
    let mut s = w.session();
    let open = s.db().journal().unfinished().unwrap();
    assert_eq!(open.len(), 1);
    s.resolve(
        open[0].id,
        "card reads as terminated",
        Some((&mut w.card(), &w.cred)),
    )
    .unwrap();
    let new_code = s
        .db()
        .registry()
        .card("JK-0009")
        .unwrap()
        .unwrap()
        .resident_code;
    drop(s);
    let q = queued(&w.data);
    assert_eq!(q.len(), 2);
    assert_eq!(
        q[1].event,
        Event::CodeChange {
            old: code,
            new: new_code,
        }
    );
}

#[test]
fn a_resident_moving_in_with_the_card_is_a_move_in_at_the_new_counter() {
    let w = world();
    let code = holder(&w, "JK-0009");
    let (kita_data, kita_cred) = w.other_counter(&kita(), "大阪市北区");
    let db = CounterDb::open(&kita_data).unwrap();
    let mut s = Session::login(db, &kita(), "yamada", &Pin::from("yamada-pw1"), today()).unwrap();
    let updated = s
        .update(
            &mut w.card(),
            &kita_cred,
            &move_request(Some("大阪府大阪市北区中之島1-3-20"), None, "転入"),
            &mut lines("2580\n"),
        )
        .unwrap();
    assert!(
        updated.registered_here,
        "継続利用: the card was issued elsewhere"
    );
    drop(s);
    let q = queued(&kita_data);
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].seq, &q[0].municipality), (1, &kita()));
    assert_eq!(
        q[0].event,
        Event::MoveIn {
            code: code.clone(),
            info: ichiro("大阪府大阪市北区中之島1-3-20"),
        }
    );
    // 千代田区's counter records no 転出 (it has no such operation): its queue is unchanged.
    assert_eq!(queued(&w.data).len(), 1);

    // What each counter holds, and the checker against the network's view once 大阪市北区's
    // 転入 is applied there: 北区 agrees; 千代田区 still holds the resident, which the checker
    // names (until the network tells 千代田区 of the 転入: 転入転出の特例).
    let kita_held =
        juki_counter::consistency::snapshot(&CounterDb::open(&kita_data).unwrap()).unwrap();
    assert_eq!(kita_held.municipality, kita());
    assert_eq!(kita_held.waiting, 1);
    assert_eq!(kita_held.residents.len(), 1);
    assert_eq!(kita_held.residents[0].code, code);
    assert_eq!(
        kita_held.residents[0].info,
        ichiro("大阪府大阪市北区中之島1-3-20")
    );
    let national = juki_net::register::Resident {
        code: code.clone(),
        info: ichiro("大阪府大阪市北区中之島1-3-20"),
        municipality: kita(),
        status: juki_net::register::Status::Registered,
        version: 2,
        changed_on: today(),
    };
    use juki_counter::consistency::{compare, snapshot, Mismatch};
    assert!(compare(&kita_held.residents, std::slice::from_ref(&national)).is_empty());
    let chiyoda_held = snapshot(&CounterDb::open(&w.data).unwrap()).unwrap();
    assert!(chiyoda_held.residents.iter().any(|h| h.code == code));
    assert_eq!(
        compare(&chiyoda_held.residents, &[]),
        [Mismatch::OnlyAtCounter(code)]
    );
}

/// The network's side for this test: per municipality, in order, once.
#[derive(Default)]
struct FakeNet {
    applied: Vec<Update>,
    down: bool,
}

impl Delivery for FakeNet {
    fn deliver(&mut self, batch: &[Update]) -> Result<Vec<Delivered>, Unreachable> {
        if self.down {
            return Err(Unreachable("connection refused".into()));
        }
        let mut answers = Vec::new();
        for u in batch {
            let last = self
                .applied
                .iter()
                .filter(|a| a.municipality == u.municipality)
                .map(|a| a.seq)
                .max()
                .unwrap_or(0);
            if u.seq > last + 1 {
                answers.push(Delivered::Refused {
                    seq: u.seq,
                    reason: "gap".into(),
                    transient: false,
                });
                break;
            }
            if u.seq == last + 1 {
                self.applied.push(u.clone());
            }
            answers.push(Delivered::Applied { seq: u.seq });
        }
        Ok(answers)
    }
}

#[test]
fn the_counter_works_while_the_network_is_down_and_catches_up() {
    let w = world();
    let mut net = FakeNet {
        down: true,
        ..FakeNet::default()
    };
    let t = Timestamp::from_unix(1_775_001_600);
    let mut db = CounterDb::open(&w.data).unwrap();
    let report = network::sync(&mut db, &mut net, t).unwrap();
    assert!(matches!(report.end, SyncEnd::Unreachable { .. }));
    drop(db);
    // Operations go on while it is down.
    w.session()
        .update(
            &mut w.card(),
            &w.cred,
            &move_request(Some("東京都千代田区丸の内1-1"), None, "転居"),
            &mut lines("2580\n"),
        )
        .unwrap();
    let mut db = CounterDb::open(&w.data).unwrap();
    let status = network::status(&db).unwrap();
    assert_eq!((status.waiting, status.failures), (2, 1));
    net.down = false;
    let report = network::sync(&mut db, &mut net, t.plus_secs(30)).unwrap();
    assert_eq!(report.end, SyncEnd::UpToDate);
    assert_eq!(report.delivered, [1, 2]);
    assert_eq!(net.applied.len(), 2);
    assert!(matches!(net.applied[1].event, Event::MoveWithin { .. }));
    drop(db);

    // `juki counter net status` says the queue is empty and when it was last delivered.
    let out = common::juki(
        &[
            "counter",
            "--counter-dir",
            common::path_str(&w.data),
            "net",
            "status",
        ],
        "",
    );
    let stdout = common::ok(out);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("waiting:") && l.ends_with(" 0")),
        "{stdout}"
    );
    assert!(stdout.contains("Nothing is waiting."), "{stdout}");
}

/// Refuses update `seq` for good.
struct Refuses(u64);

impl Delivery for Refuses {
    fn deliver(&mut self, batch: &[Update]) -> Result<Vec<Delivered>, Unreachable> {
        let mut answers = Vec::new();
        for u in batch {
            if u.seq == self.0 {
                answers.push(Delivered::Refused {
                    seq: u.seq,
                    reason: format!("resident {} is registered at 271276", u.event.code()),
                    transient: false,
                });
                break;
            }
            answers.push(Delivered::Applied { seq: u.seq });
        }
        Ok(answers)
    }
}

fn net_cmd(data: &Path, args: &[&str], lang: &str, stdin: &str) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_juki"));
    cmd.args(["counter", "--counter-dir", common::path_str(data), "net"])
        .args(args)
        .env("LANG", lang);
    common::run(&mut cmd, stdin)
}

#[test]
fn net_status_shows_a_refused_update_and_retry_releases_it() {
    let w = world();
    w.session()
        .update(
            &mut w.card(),
            &w.cred,
            &move_request(Some("東京都千代田区丸の内1-1"), None, "転居"),
            &mut lines("2580\n"),
        )
        .unwrap();
    let mut db = CounterDb::open(&w.data).unwrap();
    let t = Timestamp::from_unix(1_775_001_600);
    let report = network::sync(&mut db, &mut Refuses(2), t).unwrap();
    assert!(matches!(report.end, SyncEnd::NeedsPerson(_)), "{report:?}");
    drop(db);

    let en = common::ok(net_cmd(&w.data, &["status"], "C", ""));
    assert!(
        en.lines()
            .any(|l| l.starts_with("waiting:") && l.ends_with(" 1")),
        "{en}"
    );
    assert!(en.contains("update 2 (転居 (move_within))"), "{en}");
    assert!(en.contains("住基ネット refused update 2"), "{en}");
    assert!(en.contains("is registered at 271276"), "{en}");
    assert!(en.contains("juki counter net retry"), "{en}");
    assert!(
        !en.contains("丸の内"),
        "no personal data of the update is shown: {en}"
    );
    let ja = common::ok(net_cmd(&w.data, &["status"], "ja_JP.UTF-8", ""));
    assert!(ja.contains("送信待ち"), "{ja}");
    assert!(
        ja.contains("住基ネットが更新 2（転居 (move_within)）を受け付けませんでした"),
        "{ja}"
    );

    // A wrong password releases nothing.
    let out = net_cmd(
        &w.data,
        &[
            "retry",
            "--note",
            "大阪市北区に確認",
            "--operator",
            "tanaka",
        ],
        "C",
        "wrong-password\n",
    );
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let out = net_cmd(
        &w.data,
        &[
            "retry",
            "--note",
            "大阪市北区に確認",
            "--operator",
            "tanaka",
        ],
        "C",
        "tanaka-pw1\n",
    );
    let released = common::ok(out);
    assert!(
        released.contains("Update 2 (転居 (move_within)) will be delivered again"),
        "{released}"
    );
    let db = CounterDb::open(&w.data).unwrap();
    let last = db.audit().records().unwrap().pop().unwrap();
    assert_eq!(
        (last.operation.as_str(), last.operator.as_str()),
        ("net-sync", "tanaka")
    );
    assert!(last.detail.contains("大阪市北区に確認"), "{}", last.detail);
    let status = network::status(&db).unwrap();
    assert!(status.refused.is_none());
    assert_eq!(status.waiting, 1, "still queued, for the next sync");
    drop(db);
    let en = common::ok(net_cmd(&w.data, &["status"], "C", ""));
    assert!(!en.contains("refused"), "{en}");
}

/// The network's side with the register's rules that matter for a move: a resident is held by
/// one municipality; a 転入 takes one whose 転出 is pending (else: refused for now).
#[derive(Default)]
struct MovingNet {
    last: std::collections::BTreeMap<String, u64>,
    /// code → (holder, 転出 pending)
    residents: std::collections::BTreeMap<String, (String, bool)>,
}

impl Delivery for MovingNet {
    fn deliver(&mut self, batch: &[Update]) -> Result<Vec<Delivered>, Unreachable> {
        let mut answers = Vec::new();
        for u in batch {
            let m = u.municipality.to_string();
            let last = self.last.get(&m).copied().unwrap_or(0);
            if u.seq <= last {
                answers.push(Delivered::Applied { seq: u.seq });
                continue;
            }
            let code = u.event.code().to_string();
            let held = self.residents.get(&code).cloned();
            let refusal = match (&u.event, held) {
                (Event::New { .. }, None) => {
                    self.residents.insert(code, (m.clone(), false));
                    None
                }
                (Event::MoveIn { .. }, Some((_, true))) | (Event::MoveIn { .. }, None) => {
                    self.residents.insert(code, (m.clone(), false));
                    None
                }
                (Event::MoveIn { .. }, Some(_)) => Some(("no move-out yet", true)),
                (Event::MoveOut { .. }, Some((holder, _))) if holder == m => {
                    self.residents.insert(code, (m.clone(), true));
                    None
                }
                (_, Some((holder, _))) if holder == m => None,
                _ => Some(("not yours", false)),
            };
            if let Some((reason, transient)) = refusal {
                answers.push(Delivered::Refused {
                    seq: u.seq,
                    reason: reason.into(),
                    transient,
                });
                break;
            }
            self.last.insert(m, u.seq);
            answers.push(Delivered::Applied { seq: u.seq });
        }
        Ok(answers)
    }
}

#[test]
fn a_move_out_here_and_a_move_in_there_reach_the_network_in_either_order() {
    let w = world();
    let code = holder(&w, "JK-0009");
    let (kita_data, kita_cred) = w.other_counter(&kita(), "大阪市北区");
    let mut net = MovingNet::default();
    let t = Timestamp::from_unix(1_775_001_600);
    network::sync(&mut CounterDb::open(&w.data).unwrap(), &mut net, t).unwrap();

    // Refused 転出: to itself, an unknown resident. Nothing is queued.
    let mut s = w.session();
    let err = s.move_out(&code, &chiyoda(), None).unwrap_err();
    assert!(err.to_string().contains("another municipality"), "{err}");
    let stranger = ResidentCode::parse("12345678903").unwrap();
    s.move_out(&stranger, &kita(), None).unwrap_err();
    // The 転出届 at 千代田区 (by the binary).
    drop(s);
    let out = common::juki(
        &[
            "counter",
            "--counter-dir",
            common::path_str(&w.data),
            "move-out",
            "--resident-code",
            code.as_str(),
            "--to",
            "271276",
            "--operator",
            "tanaka",
        ],
        "tanaka-pw1\n",
    );
    let stdout = common::ok(out);
    assert!(stdout.contains("update 2 queued"), "{stdout}");
    // Not twice.
    w.session().move_out(&code, &kita(), None).unwrap_err();
    let q = queued(&w.data);
    assert_eq!(q.len(), 1);
    assert_eq!(
        q[0].event,
        Event::MoveOut {
            code: code.clone(),
            to: kita(),
        }
    );
    let db = CounterDb::open(&w.data).unwrap();
    let records = db.audit().records().unwrap();
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r.operation == "move-out" && r.outcome.kind() == "refused")
        .collect();
    assert_eq!(refused.len(), 3, "every refusal is audited");
    drop(db);

    // The 転入 at 大阪市北区 with the card (継続利用) is queued there…
    let db = CounterDb::open(&kita_data).unwrap();
    let mut s = Session::login(db, &kita(), "yamada", &Pin::from("yamada-pw1"), today()).unwrap();
    s.update(
        &mut w.card(),
        &kita_cred,
        &move_request(Some("大阪府大阪市北区中之島1-3-20"), None, "転入"),
        &mut lines("2580\n"),
    )
    .unwrap();
    drop(s);
    // …and reaches the network first: refused for now, retried after the backoff.
    let mut kita_db = CounterDb::open(&kita_data).unwrap();
    let report = network::sync(&mut kita_db, &mut net, t).unwrap();
    assert!(
        matches!(&report.end, SyncEnd::Deferred { seq: 1, .. }),
        "{report:?}"
    );
    // 千代田区's 転出 arrives.
    let report = network::sync(&mut CounterDb::open(&w.data).unwrap(), &mut net, t).unwrap();
    assert_eq!(report.delivered, [2]);
    // Too early for 大阪市北区's next attempt; after the backoff it goes through.
    let report = network::sync(&mut kita_db, &mut net, t.plus_secs(10)).unwrap();
    assert!(matches!(report.end, SyncEnd::NotDue { .. }));
    let report = network::sync(&mut kita_db, &mut net, t.plus_secs(30)).unwrap();
    assert_eq!(report.end, SyncEnd::UpToDate);
    assert_eq!(report.delivered, [1]);
    assert_eq!(
        net.residents.get(code.as_str()),
        Some(&("271276".to_string(), false)),
        "the resident is 大阪市北区's"
    );
}

#[test]
fn a_resident_who_moved_out_and_comes_back_moves_in_again() {
    let w = world();
    let code = holder(&w, "JK-0009");
    w.session().move_out(&code, &kita(), None).unwrap();
    w.session()
        .update(
            &mut w.card(),
            &w.cred,
            &move_request(Some("東京都千代田区永田町1-7-1"), None, "転入"),
            &mut lines("2580\n"),
        )
        .unwrap();
    let q = queued(&w.data);
    assert_eq!(q.len(), 3);
    assert_eq!(
        q[2].event,
        Event::MoveIn {
            code: code.clone(),
            info: ichiro("東京都千代田区永田町1-7-1"),
        }
    );
    let db = CounterDb::open(&w.data).unwrap();
    assert_eq!(db.registry().moved_out(&code).unwrap(), None);
}

#[test]
fn a_new_card_with_other_4_info_reports_the_change() {
    let w = world();
    // The old card is returned; a new one is issued with a new address (転居 at the same time).
    let code = holder(&w, "JK-0009");
    w.session()
        .terminate(&mut w.card(), &w.cred, TerminateReason::Returned)
        .unwrap();
    let image = w._dir.path().join("second.img");
    let mut card = JukiCard::new(SimTransport::create(&image).unwrap());
    w.root.manufacture(&mut card, "JK-0010", today()).unwrap();
    let req = IssueRequest {
        name: "住基 一郎".into(),
        address: "東京都千代田区永田町1-7-1".into(),
        birth: Date::from_ymd(1980, 1, 2).unwrap(),
        sex: Sex::Male,
        photo: false,
        serial: Some("JK-0010".into()),
        representative: None,
        stay_until: None,
        resident_code: Some(code.clone()),
    };
    let issued = w
        .session()
        .issue(
            &mut card,
            &w.cred,
            &req,
            &mut lines("2580\n1357\nJUKI2026\n"),
            &mut |_| Ok(true),
        )
        .unwrap();
    assert!(!issued.preview.new_resident);
    let q = queued(&w.data);
    assert_eq!(q.len(), 2);
    assert_eq!(
        q[1].event,
        Event::MoveWithin {
            code,
            address: "東京都千代田区永田町1-7-1".into(),
        }
    );
}

/// 広域交付 against a hostile or stale network answer: the copy is refused, audited, and no file
/// is made — an answer for another resident (the counter asked for the card's code), a record
/// removed (消除) or replaced by a new code.
#[test]
fn a_wide_area_copy_is_refused_on_an_answer_it_must_not_certify() {
    use juki_net::register::{Confirmation, Resident, Status};
    let w = world();
    let net = tempfile::tempdir().unwrap();
    let ca = juki_net::pki::NetworkCa::init(&net.path().join("ca"), juki_net::pki::now()).unwrap();
    let node = net.path().join("chiyoda");
    let chiyoda = MunicipalityCode::parse("131016").unwrap();
    ca.issue_seal(&chiyoda, "千代田区", 30, juki_net::pki::now(), &node)
        .unwrap();
    let seal = juki_net::pki::seal::Seal::load(&node).unwrap();
    let record = w.card().read_resident(&Pin::from("2580")).unwrap();
    let answer = |code: ResidentCode, status: Status| Confirmation {
        resident: Resident {
            code,
            info: record.info.clone(),
            municipality: chiyoda.clone(),
            status,
            version: 1,
            changed_on: today(),
        },
        provision: 7,
    };
    let other = (0..10)
        .find_map(|d| ResidentCode::parse(&format!("1234567890{d}")).ok())
        .unwrap();
    let by = other.clone();
    for (reply, what) in [
        (answer(other, Status::Registered), "another resident"),
        (answer(record.code.clone(), Status::Removed), "消除"),
        (
            answer(record.code.clone(), Status::CodeReplaced { by }),
            "code replaced",
        ),
    ] {
        let mut s = w.session();
        let r = s.wide_area_copy(
            &mut w.card(),
            &w.cred,
            &mut lines("2580\n"),
            &seal,
            juki_net::pki::now(),
            |asked| {
                assert_eq!(*asked, record.code, "the card's own code is asked");
                Ok(reply.clone())
            },
        );
        assert!(r.is_err(), "{what}: a copy was made");
        let last = s.db().audit().records().unwrap().pop().unwrap();
        assert_eq!(last.operation, "wide-area-copy");
        assert!(!last.outcome.is_ok(), "{what}: {last:?}");
    }
    // The honest answer is certified.
    let mut s = w.session();
    let issued = s
        .wide_area_copy(
            &mut w.card(),
            &w.cred,
            &mut lines("2580\n"),
            &seal,
            juki_net::pki::now(),
            |_| Ok(answer(record.code.clone(), Status::Registered)),
        )
        .unwrap();
    assert!(issued.card_agrees);
    assert_eq!(issued.copy.number_text(), "131016-7");
}
