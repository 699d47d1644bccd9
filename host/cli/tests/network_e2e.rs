//! Two municipal counters and an agency on a whole 住基ネット: a real PostgreSQL, the national
//! server over mutual TLS 1.3 on loopback (`juki_net::local::LocalNetwork`), the counters'
//! queues delivered by `juki counter net sync` (the binary, through the network client), a
//! resident moving from 千代田区 to 大阪市北区 with the card (転入転出の特例), an agency's
//! confirmation and a 広域交付, the network down for a while, and the consistency checker at
//! the end: every counter agrees with the national register.

use std::path::Path;

use juki_cli::pin_input::Pin;
use juki_counter::network::{self, SyncEnd};
use juki_counter::{CounterDb, Session, UpdateRequest};
use juki_host::clock::Timestamp;
use juki_host::resident::MunicipalityCode;
use juki_net::client::NetClient;
use juki_net::local::LocalNetwork;
use juki_net::pki::Role;
use juki_net::register::Status;

mod common;

use common::network::{agrees, pension, PURPOSE};

use common::world::{lines, today, world};
use common::{juki, path_str};

fn chiyoda() -> MunicipalityCode {
    MunicipalityCode::parse("131016").unwrap()
}

fn kita() -> MunicipalityCode {
    MunicipalityCode::parse("271276").unwrap()
}

/// `juki counter --counter-dir DATA net sync --node NODE --server ADDR`: its standard output.
fn sync(data: &Path, node: &Path, server: &str) -> String {
    let out = juki(
        &[
            "counter",
            "--counter-dir",
            path_str(data),
            "net",
            "sync",
            "--node",
            path_str(node),
            "--server",
            server,
        ],
        "",
    );
    common::ok(out)
}

#[test]
fn a_move_with_the_card_through_the_network_and_the_registers_agree() {
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
    let chiyoda_node = net.node("chiyoda", &Role::Municipality(chiyoda())).unwrap();
    let kita_node = net.node("kita", &Role::Municipality(kita())).unwrap();

    // 千代田区 delivers its 新規; the network knows the resident.
    let out = sync(&w.data, &chiyoda_node, &server);
    assert!(
        out.contains("Delivered to 住基ネット: 1; still waiting: 0."),
        "{out}"
    );
    let r = net
        .block_on(net.register().resident(&code))
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.municipality.clone(), r.status),
        (chiyoda(), Status::Registered)
    );
    agrees(&net, &w.data);

    // The 転出届 arrives by post at 千代田区; then the network is down for a while: the counter
    // goes on, the update waits and is delivered once the network is back.
    let out = juki(
        &[
            "counter",
            "--counter-dir",
            path_str(&w.data),
            "move-out",
            "--resident-code",
            code.as_str(),
            "--to",
            kita().as_str(),
            "--operator",
            "tanaka",
        ],
        "tanaka-pw1\n",
    );
    common::ok(out);
    let mut net = net;
    net.stop_server();
    let mut db = CounterDb::open(&w.data).unwrap();
    let mut client = NetClient::from_dir(&chiyoda_node, &server).unwrap();
    let t = juki_host::clock::now().unwrap();
    let report = network::sync(&mut db, &mut client, t).unwrap();
    assert!(
        matches!(report.end, SyncEnd::Unreachable { .. }),
        "{report:?}"
    );
    assert_eq!(report.waiting, 1);
    net.start_server().unwrap();
    // After the backoff (30 s: the clock is given, not waited for).
    let later = Timestamp::from_unix(t.unix() + 31);
    let report = network::sync(&mut db, &mut client, later).unwrap();
    assert_eq!((report.delivered.len(), report.end), (1, SyncEnd::UpToDate));
    drop(db);
    let r = net
        .block_on(net.register().resident(&code))
        .unwrap()
        .unwrap();
    assert_eq!(r.status, Status::MovingOut { to: kita() });

    // 転入 at 大阪市北区 with the card (継続利用): 北区 delivers its 転入; 千代田区 learns that
    // its 転出 is completed at its next sync.
    let (kita_data, kita_cred) = w.other_counter(&kita(), "大阪市北区");
    let db = CounterDb::open(&kita_data).unwrap();
    let mut s = Session::login(db, &kita(), "yamada", &Pin::from("yamada-pw1"), today()).unwrap();
    let updated = s
        .update(
            &mut w.card(),
            &kita_cred,
            &UpdateRequest {
                address: Some("大阪府大阪市北区中之島1-3-20".into()),
                name: None,
                reason: "転入".into(),
                date: None,
            },
            &mut lines("2580\n"),
        )
        .unwrap();
    assert!(updated.registered_here);
    drop(s);
    let out = sync(&kita_data, &kita_node, &server);
    assert!(
        out.contains("Delivered to 住基ネット: 1; still waiting: 0."),
        "{out}"
    );
    let out = sync(&w.data, &chiyoda_node, &server);
    assert!(
        out.contains("read: 1; residents of this counter recorded as gone: 1."),
        "{out}"
    );
    let r = net
        .block_on(net.register().resident(&code))
        .unwrap()
        .unwrap();
    assert_eq!((r.municipality, r.status), (kita(), Status::Registered));
    assert_eq!(r.info.address, "大阪府大阪市北区中之島1-3-20");

    // Every counter agrees with the national register.
    agrees(&net, &w.data);
    agrees(&net, &kita_data);

    // An agency confirms the resident for a purpose its certificate names, and gets the new
    // address; 広域交付 at 千代田区's counter reads the same; both are recorded.
    let pension = pension(&net);
    let mut agency = NetClient::from_dir(&pension, &server).unwrap();
    let c = agency.confirm(&code, PURPOSE).unwrap();
    assert_eq!(c.resident.info.address, "大阪府大阪市北区中之島1-3-20");
    let mut chiyoda_client = NetClient::from_dir(&chiyoda_node, &server).unwrap();
    let copy = chiyoda_client.copy(&code).unwrap();
    assert_eq!(copy.resident.info, c.resident.info);
    let provisions = net.block_on(net.register().provisions_of(&code)).unwrap();
    let purposes: Vec<_> = provisions.iter().map(|p| p.purpose.as_str()).collect();
    assert_eq!(purposes, [PURPOSE, "住民票の写しの広域交付"]);

    // The agency's command: `juki net confirm`; a purpose its certificate does not name is
    // refused by the server (403) and nothing is recorded.
    let confirm = |purpose: &str| {
        juki(
            &[
                "net",
                "confirm",
                "--node",
                path_str(&pension),
                "--server",
                &server,
                "--purpose",
                purpose,
                code.as_str(),
            ],
            "",
        )
    };
    let out = common::ok(confirm(PURPOSE));
    assert!(out.contains("大阪府大阪市北区中之島1-3-20"), "{out}");
    assert!(out.contains("271276"), "{out}");
    let refused = confirm("旅券の発給");
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("refused the request (403"), "{err}");
    let provisions = net.block_on(net.register().provisions_of(&code)).unwrap();
    assert_eq!(provisions.len(), 3, "the refused request recorded nothing");
}

/// Delivers through the real client, but the answer to the first call is lost after the server
/// applied the batch (as if the server was killed before it answered).
struct AnswerLost {
    client: NetClient,
    lose: bool,
}

impl juki_net::delivery::Delivery for AnswerLost {
    fn deliver(
        &mut self,
        batch: &[juki_net::register::Update],
    ) -> Result<Vec<juki_net::delivery::Delivered>, juki_net::delivery::Unreachable> {
        let answer = self.client.deliver(batch);
        if std::mem::take(&mut self.lose) {
            return Err(juki_net::delivery::Unreachable(
                "connection reset by peer".into(),
            ));
        }
        answer
    }
}

#[test]
fn lost_answers_a_database_restart_and_a_downtime_lose_nothing_and_apply_nothing_twice() {
    let w = world();
    // Three more residents at 千代田区: four 新規 waiting.
    for (i, name) in ["住基 二郎", "住基 三郎", "住基 四郎"].iter().enumerate() {
        let image = w._dir.path().join(format!("card{i}.img"));
        w.issue_card(
            &image,
            &format!("JK-010{i}"),
            name,
            "東京都千代田区永田町1-1",
        );
    }
    let net = LocalNetwork::start(&w._dir.path().join("net")).unwrap();
    let node = net.node("chiyoda", &Role::Municipality(chiyoda())).unwrap();
    let mut db = CounterDb::open(&w.data).unwrap();
    assert_eq!(network::status(&db).unwrap().waiting, 4);
    let t = juki_host::clock::now().unwrap();

    // The answer is lost after the server applied the batch: the counter keeps the updates.
    let mut lossy = AnswerLost {
        client: NetClient::from_dir(&node, &net.address()).unwrap(),
        lose: true,
    };
    let report = network::sync(&mut db, &mut lossy, t).unwrap();
    assert!(
        matches!(report.end, SyncEnd::Unreachable { .. }),
        "{report:?}"
    );
    assert_eq!(report.waiting, 4);
    let applied = net.block_on(net.register().last_seq(&chiyoda())).unwrap();
    assert_eq!(applied, 4, "the server had applied them");

    // PostgreSQL restarts under the server; then the same batch again: answered from the
    // records, applied once.
    net.restart_database().unwrap();
    let report = network::sync(&mut db, &mut lossy, t.plus_secs(31)).unwrap();
    assert_eq!((report.delivered.len(), report.end), (4, SyncEnd::UpToDate));
    for r in net
        .block_on(net.register().residents_of(&chiyoda()))
        .unwrap()
    {
        let history = net.block_on(net.register().history(&r.code)).unwrap();
        assert_eq!(history.len(), 1, "one 新規 each, never two: {history:?}");
    }
    drop(db);
    agrees(&net, &w.data);
}
