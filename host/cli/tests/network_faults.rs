//! Faults of the whole 住基ネット that network_e2e.rs does not cover (it covers PostgreSQL
//! restarted under the server, the network down for a while and an answer lost after the
//! server applied a batch):
//!
//! - the national server *process* (`juki net serve`) SIGKILLed in the middle of a counter's
//!   delivery (`juki counter net sync`), then started again on the same database: nothing lost,
//!   nothing applied twice (the re-sent part of the batch is answered from the records);
//! - two municipalities racing on the same resident through the real server over mTLS: 50
//!   residents, each a 転居 at 千代田区 against a 転入 at 大阪市北区 sent at the same moment from
//!   two threads (NetClient deliveries: the register decides exactly one winner per resident);
//!   then the same race between two *counters* (大阪市北区 and 札幌市中央区 each recording the 転入
//!   of one resident and syncing at once), where the loser's counter shows the refusal and the
//!   checker shows its resident as the one difference.
//!
//! Every test ends with the checker: each counter's registry against the national register.
//! The same batch sent twice through the API is host/net/tests/api.rs
//! (`a_batch_is_applied_once_in_order`); here the restarted server answers a batch whose first
//! part it had applied before it was killed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use juki_cli::pin_input::Pin;
use juki_counter::consistency::{compare, snapshot, Mismatch};
use juki_counter::network::{self, SyncEnd};
use juki_counter::{CounterDb, Session, UpdateRequest};
use juki_host::resident::{FourInfo, MunicipalityCode, Sex};
use juki_host::resident_code::ResidentCode;
use juki_net::client::NetClient;
use juki_net::delivery::{Delivered, Delivery, Unreachable};
use juki_net::local::LocalNetwork;
use juki_net::pki::Role;
use juki_net::register::{Date, Event, Kind, Status, Update};

mod common;

use common::network::agrees;
use common::server_process::ServerProcess;

use common::world::{lines, today, world};
use common::{juki, path_str};

fn chiyoda() -> MunicipalityCode {
    MunicipalityCode::parse("131016").unwrap()
}

fn kita() -> MunicipalityCode {
    MunicipalityCode::parse("271276").unwrap()
}

fn sapporo() -> MunicipalityCode {
    MunicipalityCode::parse("011011").unwrap()
}

/// Within this, whatever is polled for must have happened.
const DEADLINE: Duration = Duration::from_secs(30);

/// `juki counter --counter-dir DATA net sync --node NODE --server ADDR`, not waited for.
fn sync_command(data: &Path, node: &Path, server: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_juki"));
    cmd.args(["counter", "--counter-dir", path_str(data), "net", "sync"])
        .args(["--node", path_str(node), "--server", server])
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// "Delivered to 住基ネット: D; still waiting: W." of a sync's output.
fn delivered_and_waiting(out: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with("Delivered to 住基ネット: "))
        .unwrap_or_else(|| panic!("no summary in {out}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

/// `SELECT count(*) FROM table WHERE municipality = m` on the register's database.
fn count(net: &LocalNetwork, table: &str, m: &MunicipalityCode) -> i64 {
    net.block_on(async {
        let client = net.register().db().client().await.unwrap();
        client
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE municipality = $1"),
                &[&m.as_str()],
            )
            .await
            .unwrap()
            .get(0)
    })
}

/// Residents issued at 千代田区 by the test below (the world's own JK-0009 is one more).
const MORE_RESIDENTS: usize = 99;

#[test]
fn the_server_killed_in_the_middle_of_a_delivery_loses_nothing_and_applies_nothing_twice() {
    let w = world();
    // 100 residents issued at 千代田区's counter, each then moving out (転出) to 大阪市北区: 200
    // updates queued by the counter's own operations, two batches of network::BATCH.
    for i in 0..MORE_RESIDENTS {
        let image = w._dir.path().join(format!("card{i}.img"));
        w.issue_card(
            &image,
            &format!("JK-1{i:03}"),
            &format!("住基 {i}郎"),
            "東京都千代田区永田町1-1",
        );
    }
    let mut s = w.session();
    let codes: Vec<ResidentCode> = s
        .db()
        .registry()
        .residents()
        .unwrap()
        .into_iter()
        .map(|r| r.code)
        .collect();
    assert_eq!(codes.len(), MORE_RESIDENTS + 1);
    for code in &codes {
        s.move_out(code, &kita(), None).unwrap();
    }
    drop(s);
    let total = 2 * codes.len() as u64;
    assert!(total as usize > network::BATCH, "more than one batch");
    assert_eq!(
        network::status(&CounterDb::open(&w.data).unwrap())
            .unwrap()
            .waiting,
        total
    );

    let net = LocalNetwork::without_server(&w._dir.path().join("net")).unwrap();
    let crl = net.crl_file().unwrap();
    let node = net.node("chiyoda", &Role::Municipality(chiyoda())).unwrap();
    let server = ServerProcess::start(&net, &crl);

    // The counter delivers; once the register has applied the first batch and a part of the
    // second, the server process is killed: the counter has the answer for the first batch
    // only, the register has more.
    let batch = network::BATCH as u64;
    let sync = sync_command(&w.data, &node, &net.address())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let seen = loop {
        let applied = net.block_on(net.register().last_seq(&chiyoda())).unwrap();
        // Ten into the second batch: the re-sent batch starts with updates already applied.
        if applied > batch + 10 {
            break applied;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the second batch did not start ({applied} applied)"
        );
    };
    server.kill();
    let out = sync.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the network going away is not a failure of the command: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = net.block_on(net.register().last_seq(&chiyoda())).unwrap();
    assert!(
        seen < total && batch + 10 < before && before < total,
        "killed in the middle of the second batch: {seen} seen, {before} of {total} applied"
    );
    assert!(stdout.contains("住基ネット is not reachable"), "{stdout}");
    // The counter keeps everything the register did not answer for.
    let (delivered, waiting) = delivered_and_waiting(&stdout);
    assert_eq!((delivered, waiting), (batch, total - batch), "{stdout}");
    println!(
        "killed with {before} of {total} applied; the counter had the answers for {delivered}"
    );
    let status = network::status(&CounterDb::open(&w.data).unwrap()).unwrap();
    assert_eq!((status.waiting, status.failures), (waiting, 1));
    assert_eq!(status.last_delivered, delivered);

    // The server again on the same database; the counter's next sync (its backoff over: the
    // date of tomorrow) re-sends what it kept, the part already applied included.
    let server = ServerProcess::start(&net, &crl);
    let tomorrow = juki_host::date::from_days_since_epoch(
        juki_host::date::days_since_epoch(juki_host::clock::today_jst().unwrap()) + 1,
    )
    .unwrap();
    let out = sync_command(&w.data, &node, &net.address())
        .env(
            "JUKI_TODAY",
            String::from_utf8_lossy(&tomorrow.to_ascii()).as_ref(),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(delivered_and_waiting(&stdout), (waiting, 0), "{stdout}");
    assert!(stdout.contains("Nothing is waiting."), "{stdout}");
    let log = server.stop();
    assert!(
        log.iter().any(|l| l.contains("POST /v1/updates 200")),
        "{log:?}"
    );

    // Exactly once: every number applied once, one history row per update, each resident
    // 新規 then 転出.
    assert_eq!(
        net.block_on(net.register().last_seq(&chiyoda())).unwrap(),
        total
    );
    assert_eq!(count(&net, "delivery", &chiyoda()), total as i64);
    assert_eq!(count(&net, "resident_history", &chiyoda()), total as i64);
    for code in &codes {
        let history = net.block_on(net.register().history(code)).unwrap();
        let kinds: Vec<Kind> = history.iter().map(|h| h.kind).collect();
        assert_eq!(kinds, [Kind::New, Kind::MoveOut], "{code}");
        let r = net
            .block_on(net.register().resident(code))
            .unwrap()
            .unwrap();
        assert_eq!(r.status, Status::MovingOut { to: kita() });
    }
    agrees(&net, &w.data);
}

/// Updates of 50 residents, each a 転居 at 千代田区 against a 転入 at 大阪市北区.
const RACES: usize = 50;

fn four_info(name: &str, address: &str) -> FourInfo {
    FourInfo::new(
        name,
        address,
        Date::from_ymd(1980, 4, 1).unwrap(),
        Sex::Female,
    )
    .unwrap()
}

fn update(m: &MunicipalityCode, seq: u64, event: Event) -> Update {
    Update {
        municipality: m.clone(),
        seq,
        date: today(),
        event,
    }
}

#[test]
fn two_municipalities_racing_on_the_same_resident_through_the_server_never_both_win() {
    let dir = tempfile::tempdir().unwrap();
    let net = LocalNetwork::start(&dir.path().join("net")).unwrap();
    let client = |m: &MunicipalityCode| {
        let node = net
            .node(m.as_str(), &Role::Municipality(m.clone()))
            .unwrap();
        NetClient::from_dir(&node, &net.address()).unwrap()
    };
    // 50 residents of 千代田区, each with a 転出 to 大阪市北区 pending.
    let codes: Vec<ResidentCode> = (0..RACES).map(|_| ResidentCode::generate()).collect();
    let mut setup = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let seq = 2 * i as u64;
        setup.push(update(
            &chiyoda(),
            seq + 1,
            Event::New {
                code: code.clone(),
                info: four_info(&format!("競合 {i}"), "東京都千代田区千代田1-1"),
            },
        ));
        setup.push(update(
            &chiyoda(),
            seq + 2,
            Event::MoveOut {
                code: code.clone(),
                to: kita(),
            },
        ));
    }
    let mut chiyoda_client = client(&chiyoda());
    let answers = chiyoda_client.deliver(&setup).unwrap();
    assert!(answers
        .iter()
        .all(|a| matches!(a, Delivered::Applied { .. })));

    // Per resident, both at the same moment (a barrier), each on its own connection: 千代田区's
    // 転居 (which cancels the 転出) and 北区's 転入 (which completes it). A refused update does
    // not use its number: the next resident's update takes it.
    let barrier = Arc::new(Barrier::new(2));
    let racer = |mut client: NetClient,
                 first_seq: u64,
                 make: fn(&ResidentCode, usize) -> (MunicipalityCode, Event)| {
        let barrier = barrier.clone();
        let codes = codes.clone();
        std::thread::spawn(move || {
            let mut seq = first_seq;
            let mut outcomes = Vec::new();
            for (i, code) in codes.iter().enumerate() {
                let (m, event) = make(code, i);
                let u = update(&m, seq, event);
                barrier.wait();
                // No panic here: the other thread would wait at the barrier for ever.
                let answer = match client.deliver(std::slice::from_ref(&u)) {
                    Ok(answer) if answer.len() == 1 => answer.into_iter().next(),
                    _ => None,
                };
                if matches!(answer, Some(Delivered::Applied { .. })) {
                    seq += 1;
                }
                outcomes.push(answer);
            }
            outcomes
        })
    };
    let stay = racer(chiyoda_client, 2 * RACES as u64 + 1, |code, _| {
        (
            chiyoda(),
            Event::MoveWithin {
                code: code.clone(),
                address: "東京都千代田区永田町1-7-1".into(),
            },
        )
    });
    let go = racer(client(&kita()), 1, |code, i| {
        (
            kita(),
            Event::MoveIn {
                code: code.clone(),
                info: four_info(&format!("競合 {i}"), "大阪府大阪市北区中之島1-3-20"),
            },
        )
    });
    let (stay, go) = (stay.join().unwrap(), go.join().unwrap());

    // register.rs: both updates lock the resident's row; the second decides on the row as the
    // first left it. 転居 first: the resident stays, the 転入 finds no pending 転出
    // (NoPendingMoveOut: transient, "send it again once it has"). 転入 first: the resident is
    // 北区's, and 千代田区 may no longer change them (NotYours: permanent, a person must look).
    let mut wins = (0, 0);
    for (i, code) in codes.iter().enumerate() {
        let r = net
            .block_on(net.register().resident(code))
            .unwrap()
            .unwrap();
        let history = net.block_on(net.register().history(code)).unwrap();
        let kinds: Vec<Kind> = history.iter().map(|h| h.kind).collect();
        assert_eq!(
            history.iter().map(|h| h.version).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!((r.status.clone(), r.version), (Status::Registered, 3));
        match (&stay[i], &go[i]) {
            (
                Some(Delivered::Applied { .. }),
                Some(Delivered::Refused {
                    reason, transient, ..
                }),
            ) => {
                wins.0 += 1;
                assert!(*transient, "{reason}");
                assert!(
                    reason.contains("has not reported a move-out") && reason.contains("131016"),
                    "{reason}"
                );
                assert_eq!(r.municipality, chiyoda());
                assert_eq!(r.info.address, "東京都千代田区永田町1-7-1");
                assert_eq!(kinds, [Kind::New, Kind::MoveOut, Kind::MoveWithin]);
            }
            (
                Some(Delivered::Refused {
                    reason, transient, ..
                }),
                Some(Delivered::Applied { .. }),
            ) => {
                wins.1 += 1;
                assert!(!*transient, "{reason}");
                assert!(
                    reason.contains("is registered at 271276, not at 131016"),
                    "{reason}"
                );
                assert_eq!(r.municipality, kita());
                assert_eq!(r.info.address, "大阪府大阪市北区中之島1-3-20");
                assert_eq!(kinds, [Kind::New, Kind::MoveOut, Kind::MoveIn]);
            }
            other => panic!("resident {i}: exactly one must win: {other:?}"),
        }
    }
    println!(
        "転居 at 千代田区 won {}, 転入 at 北区 won {}",
        wins.0, wins.1
    );
    // Each winner used one number per win; nobody is held twice; 千代田区 learns of every 転入
    // that won (and of no other).
    assert_eq!(
        net.block_on(net.register().last_seq(&chiyoda())).unwrap(),
        2 * RACES as u64 + wins.0
    );
    assert_eq!(
        net.block_on(net.register().last_seq(&kita())).unwrap(),
        wins.1
    );
    let held = |m| net.block_on(net.register().residents_of(&m)).unwrap().len() as u64;
    assert_eq!((held(chiyoda()), held(kita())), (wins.0, wins.1));
    let departures = net
        .block_on(net.register().departures(&chiyoda(), 0, 1000))
        .unwrap();
    assert_eq!(departures.len() as u64, wins.1);
}

/// A delivery that waits at a barrier first: two counters' syncs call the network together.
struct Together {
    client: NetClient,
    barrier: Arc<Barrier>,
}

impl Delivery for Together {
    fn deliver(&mut self, batch: &[Update]) -> Result<Vec<Delivered>, Unreachable> {
        self.barrier.wait();
        self.client.deliver(batch)
    }
}

#[test]
fn two_counters_racing_on_one_resident_the_loser_shows_the_refusal_and_the_checker_sees_it() {
    let w = world();
    let code = CounterDb::open(&w.data)
        .unwrap()
        .registry()
        .card("JK-0009")
        .unwrap()
        .unwrap()
        .resident_code;
    let net = LocalNetwork::start(&w._dir.path().join("net")).unwrap();
    let server = net.address();
    // 千代田区 records the 転出 to 大阪市北区 and delivers it with the 新規.
    w.session().move_out(&code, &kita(), None).unwrap();
    let chiyoda_node = net.node("chiyoda", &Role::Municipality(chiyoda())).unwrap();
    let out = common::ok(juki(&sync_args(&w.data, &chiyoda_node, &server), ""));
    assert!(
        out.contains("Delivered to 住基ネット: 2; still waiting: 0."),
        "{out}"
    );

    // The resident shows the card at 大阪市北区 and at 札幌市中央区 (both counters record a 転入,
    // 継続利用); both counters sync at the same moment.
    let mut contenders = Vec::new();
    for (m, name, address) in [
        (kita(), "大阪市北区", "大阪府大阪市北区中之島1-3-20"),
        (sapporo(), "札幌市中央区", "北海道札幌市中央区北1条西2丁目"),
    ] {
        let (data, cred) = w.other_counter(&m, name);
        let db = CounterDb::open(&data).unwrap();
        let mut s = Session::login(db, &m, "yamada", &Pin::from("yamada-pw1"), today()).unwrap();
        let updated = s
            .update(
                &mut w.card(),
                &cred,
                &UpdateRequest {
                    address: Some(address.into()),
                    name: None,
                    reason: "転入".into(),
                    date: None,
                },
                &mut lines("2580\n"),
            )
            .unwrap();
        assert!(updated.registered_here);
        let node = net
            .node(m.as_str(), &Role::Municipality(m.clone()))
            .unwrap();
        contenders.push((m, data, node));
    }
    let barrier = Arc::new(Barrier::new(2));
    let now = juki_host::clock::now().unwrap();
    let syncs: Vec<_> = contenders
        .iter()
        .map(|(_, data, node)| {
            let mut delivery = Together {
                client: NetClient::from_dir(node, &server).unwrap(),
                barrier: barrier.clone(),
            };
            let data = data.clone();
            std::thread::spawn(move || {
                let mut db = CounterDb::open(&data).unwrap();
                network::sync(&mut db, &mut delivery, now).unwrap()
            })
        })
        .collect();
    let reports: Vec<_> = syncs.into_iter().map(|t| t.join().unwrap()).collect();

    // One 転入 wins; the other is refused by the rule for a 転入 without a pending 転出
    // (transient: the counter keeps it and sends it again later, and says why).
    let winner = reports
        .iter()
        .position(|r| r.end == SyncEnd::UpToDate)
        .unwrap_or_else(|| panic!("one must win: {reports:?}"));
    let loser = 1 - winner;
    let (win_m, win_data, _) = &contenders[winner];
    let (lose_m, lose_data, _) = &contenders[loser];
    assert_eq!(reports[winner].delivered, [1]);
    match &reports[loser].end {
        SyncEnd::Deferred { seq: 1, reason, .. } => assert!(
            reason.contains("has not reported a move-out") && reason.contains(win_m.as_str()),
            "{reason}"
        ),
        other => panic!("the loser's 転入 is deferred: {other:?}"),
    }
    assert_eq!(reports[loser].waiting, 1);
    let r = net
        .block_on(net.register().resident(&code))
        .unwrap()
        .unwrap();
    assert_eq!((&r.municipality, &r.status), (win_m, &Status::Registered));
    let history = net.block_on(net.register().history(&code)).unwrap();
    let move_ins: Vec<_> = history.iter().filter(|h| h.kind == Kind::MoveIn).collect();
    assert_eq!(move_ins.len(), 1, "{history:?}");
    assert_eq!(&move_ins[0].municipality, win_m);
    assert_eq!(net.block_on(net.register().last_seq(lose_m)).unwrap(), 0);

    // The loser's counter shows it: the update waiting, and why.
    let status = common::ok(juki(
        &[
            "counter",
            "--counter-dir",
            path_str(lose_data),
            "net",
            "status",
        ],
        "",
    ));
    assert!(status.contains("update 1 (転入 (move_in))"), "{status}");
    assert!(
        status.contains(&format!(
            "{} has not reported a move-out (転出)",
            win_m.as_str()
        )),
        "{status}"
    );

    // The checker: 千代田区 (which learns that its 転出 is completed) and the winner agree with
    // the national register; the loser is not comparable while its update waits, and what it
    // holds differs by exactly that resident.
    let out = common::ok(juki(&sync_args(&w.data, &chiyoda_node, &server), ""));
    assert!(
        out.contains("residents of this counter recorded as gone: 1."),
        "{out}"
    );
    agrees(&net, &w.data);
    agrees(&net, win_data);
    let held = snapshot(&CounterDb::open(lose_data).unwrap()).unwrap();
    assert_eq!(held.waiting, 1);
    let national = net.block_on(net.register().residents_of(lose_m)).unwrap();
    assert_eq!(
        compare(&held.residents, &national),
        [Mismatch::OnlyAtCounter(code.clone())]
    );
}

fn sync_args<'a>(data: &'a Path, node: &'a Path, server: &'a str) -> [&'a str; 9] {
    [
        "counter",
        "--counter-dir",
        path_str(data),
        "net",
        "sync",
        "--node",
        path_str(node),
        "--server",
        server,
    ]
}
