//! The national server's HTTP/JSON API end to end: a real PostgreSQL (the throwaway cluster of
//! this test binary, a database per test), the real server over mutual TLS on loopback, the
//! crate's own blocking client ([`NetClient`]). No mocks. (`juki net serve` as a process,
//! with curl, is host/cli/tests/net_serve.rs.)

mod common;

use std::ops::{Deref, DerefMut};

use common::*;
use hyper::Method;
use juki_net::api;
use juki_net::client::{ClientError, NetClient};
use juki_net::delivery::{Delivered, Delivery};
use juki_net::local::LocalNetwork;
use juki_net::pg_cluster::PgCluster;
use juki_net::pki::Role;
use juki_net::register::{Event, MunicipalityCode, QueryKind, Search, Status};

/// The crate's [`LocalNetwork`] (the network CA, the server's node, a register on a new database
/// of this test binary's cluster, the server on loopback, a runtime of its own: the client under
/// test is blocking) in a temporary directory, with the clients the tests use.
struct Net {
    local: LocalNetwork,
    // Removed after the network has stopped.
    _dir: tempfile::TempDir,
}

impl Deref for Net {
    type Target = LocalNetwork;
    fn deref(&self) -> &LocalNetwork {
        &self.local
    }
}

impl DerefMut for Net {
    fn deref_mut(&mut self) -> &mut LocalNetwork {
        &mut self.local
    }
}

impl Net {
    /// A network on the shared cluster, its server not started.
    fn new() -> Net {
        Net::on(cluster())
    }

    /// A network on a new database of `cluster`, its server not started.
    fn on(cluster: &PgCluster) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalNetwork::on_cluster(dir.path(), cluster).unwrap();
        Net { local, _dir: dir }
    }

    /// A network with its server running.
    fn start() -> Net {
        let mut net = Net::new();
        net.start_server().unwrap();
        net
    }

    fn client(&self, name: &str, role: &Role) -> NetClient {
        NetClient::from_dir(&self.node(name, role).unwrap(), &self.address()).unwrap()
    }

    fn municipality(&self, m: &MunicipalityCode) -> NetClient {
        self.client(m.as_str(), &Role::Municipality(m.clone()))
    }

    fn pension(&self) -> NetClient {
        self.client(
            "pension",
            &Role::Agency {
                name: "日本年金機構".into(),
                purposes: vec![PURPOSE.into(), "年金の裁定".into()],
            },
        )
    }
}

fn new_resident(m: &MunicipalityCode, seq: u64, n: u64) -> juki_net::register::Update {
    update(
        m,
        seq,
        Event::New {
            code: code(n),
            info: info(&format!("住基 花子{n}"), "東京都千代田区千代田1-1"),
        },
    )
}

fn applied(seqs: std::ops::RangeInclusive<u64>) -> Vec<Delivered> {
    seqs.map(|seq| Delivered::Applied { seq }).collect()
}

fn refused(results: &[Delivered]) -> (u64, &str, bool) {
    match results.last() {
        Some(Delivered::Refused {
            seq,
            reason,
            transient,
        }) => (*seq, reason.as_str(), *transient),
        other => panic!("expected a refusal last, got {other:?}"),
    }
}

#[test]
fn a_batch_is_applied_once_in_order() {
    let net = Net::start();
    let mut chiyoda_net = net.municipality(&chiyoda());
    let batch = vec![
        new_resident(&chiyoda(), 1, 1),
        update(
            &chiyoda(),
            2,
            Event::MoveWithin {
                code: code(1),
                address: "東京都千代田区永田町1-7-1".into(),
            },
        ),
    ];
    assert_eq!(chiyoda_net.deliver(&batch).unwrap(), applied(1..=2));
    // The same batch again (a lost answer): the same results, nothing applied twice.
    assert_eq!(chiyoda_net.deliver(&batch).unwrap(), applied(1..=2));
    let history = net.block_on(net.register().history(&code(1))).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        net.block_on(net.register().last_seq(&chiyoda())).unwrap(),
        2
    );
    let status = chiyoda_net.status().unwrap();
    assert_eq!(
        (status.municipality.as_str(), status.last_seq),
        ("131016", 2)
    );

    // A gap stops the batch there: 3 applied, 5 refused (4 is missing), 6 not looked at.
    let gap = vec![
        new_resident(&chiyoda(), 3, 2),
        update(&chiyoda(), 5, Event::Remove { code: code(2) }),
        update(&chiyoda(), 6, Event::Remove { code: code(1) }),
    ];
    let results = chiyoda_net.deliver(&gap).unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0], Delivered::Applied { seq: 3 });
    let (seq, reason, transient) = refused(&results);
    assert_eq!(seq, 5);
    assert!(reason.contains("missing"), "{reason}");
    assert!(!transient);
    assert_eq!(chiyoda_net.status().unwrap().last_seq, 3);

    // A number reused for another update is refused.
    let reused = chiyoda_net
        .deliver(&[update(&chiyoda(), 1, Event::Remove { code: code(1) })])
        .unwrap();
    assert_eq!(refused(&reused).0, 1);
    assert!(refused(&reused).1.contains("different update"));

    // Another municipality cannot write 千代田区's resident (no 転入).
    let mut kita_net = net.municipality(&kita());
    let results = kita_net
        .deliver(&[update(
            &kita(),
            1,
            Event::Amend {
                code: code(1),
                info: info("書き換え 太郎", "大阪府大阪市北区中之島1-3-20"),
            },
        )])
        .unwrap();
    let (seq, reason, transient) = refused(&results);
    assert_eq!(seq, 1);
    assert!(
        reason.contains("131016") && reason.contains("271276"),
        "{reason}"
    );
    assert!(!transient);
    let resident = net
        .block_on(net.register().resident(&code(1)))
        .unwrap()
        .unwrap();
    assert_eq!(resident.municipality, chiyoda());
    assert_eq!(resident.info.name, "住基 花子1");
    assert_eq!(kita_net.status().unwrap().last_seq, 0);

    // A 転入 before the 転出 is transient; after it, applied, and the resident is 北区's.
    let move_in = update(
        &kita(),
        1,
        Event::MoveIn {
            code: code(1),
            info: info("住基 花子1", "大阪府大阪市北区中之島1-3-20"),
        },
    );
    let results = kita_net.deliver(std::slice::from_ref(&move_in)).unwrap();
    assert!(
        refused(&results).2,
        "a 転入 waiting for its 転出 is transient"
    );
    let move_out = update(
        &chiyoda(),
        4,
        Event::MoveOut {
            code: code(1),
            to: kita(),
        },
    );
    assert_eq!(chiyoda_net.deliver(&[move_out]).unwrap(), applied(4..=4));
    assert_eq!(kita_net.deliver(&[move_in]).unwrap(), applied(1..=1));
    let resident = net
        .block_on(net.register().resident(&code(1)))
        .unwrap()
        .unwrap();
    assert_eq!(resident.municipality, kita());
    assert_eq!(resident.status, Status::Registered);

    // 転入転出の特例: 千代田区 reads that its 転出 was completed at 北区; 北区 has none.
    use juki_net::delivery::DepartureSource;
    let departures = chiyoda_net.departures(0).unwrap();
    assert_eq!(departures.len(), 1, "{departures:?}");
    assert_eq!(
        (&departures[0].resident, &departures[0].to),
        (&code(1), &kita())
    );
    assert!(chiyoda_net.departures(departures[0].id).unwrap().is_empty());
    assert!(kita_net.departures(0).unwrap().is_empty());
    let mut pension = net.pension();
    assert_eq!(pension.departures_after(0).unwrap_err().status(), Some(403));
    let (status, _) = chiyoda_net
        .call(
            Method::GET,
            "/v1/municipalities/self/departures?after=-1",
            None,
        )
        .unwrap();
    assert_eq!(status.as_u16(), 400);
}

#[test]
fn agencies_confirm_for_their_purposes_only() {
    let net = Net::start();
    net.block_on(net.register().apply(&new_resident(&chiyoda(), 1, 1)))
        .unwrap();
    let provisions = || {
        net.block_on(net.register().provisions_of(&code(1)))
            .unwrap()
    };
    let mut pension = net.pension();

    // By code, for a purpose of its certificate: the 本人確認情報, and the provision recorded.
    let found = pension.confirm(&code(1), PURPOSE).unwrap();
    assert_eq!(found.resident.code, code(1));
    assert_eq!(
        found.resident.info,
        info("住基 花子1", "東京都千代田区千代田1-1")
    );
    assert_eq!(found.resident.municipality, chiyoda());
    assert_eq!(found.resident.status, Status::Registered);
    let recorded = provisions();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].id, found.provision);
    assert_eq!(recorded[0].agency, "日本年金機構");
    assert_eq!(recorded[0].purpose, PURPOSE);
    assert_eq!(recorded[0].query, QueryKind::Code);
    assert!(recorded[0].requester.contains("日本年金機構"));

    // A purpose its certificate does not name: 403, nothing recorded.
    let e = pension.confirm(&code(1), "税務調査").unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(matches!(&e, ClientError::Refused { error, .. } if error == "purpose_not_allowed"));
    assert_eq!(provisions().len(), 1);
    let search = Search::from(&info("住基 花子1", "東京都千代田区千代田1-1"));
    assert_eq!(
        pension.search(&search, "税務調査").unwrap_err().status(),
        Some(403)
    );
    assert_eq!(provisions().len(), 1);

    // An unknown code: 404, nothing recorded.
    assert_eq!(
        pension.confirm(&code(9), PURPOSE).unwrap_err().status(),
        Some(404)
    );

    // By the 4 info.
    let found = pension.search(&search, "年金の裁定").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].resident.code, code(1));
    let recorded = provisions();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].query, QueryKind::FourInfo);
    assert_eq!(recorded[1].purpose, "年金の裁定");
    let nobody = Search::from(&info("住基 誰か", "東京都千代田区千代田1-1"));
    assert!(pension.search(&nobody, PURPOSE).unwrap().is_empty());

    // Roles: a municipality on the agencies' endpoints, an agency on the municipalities'.
    let mut chiyoda_net = net.municipality(&chiyoda());
    let e = chiyoda_net.confirm(&code(1), PURPOSE).unwrap_err();
    assert!(
        matches!(&e, ClientError::Refused { status: 403, error, .. } if error == "forbidden"),
        "{e}"
    );
    assert_eq!(
        chiyoda_net.search(&search, PURPOSE).unwrap_err().status(),
        Some(403)
    );
    assert_eq!(pension.status().unwrap_err().status(), Some(403));
    assert_eq!(pension.copy(&code(1)).unwrap_err().status(), Some(403));
    let e = pension
        .send_updates(&[new_resident(&chiyoda(), 1, 2)])
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let mut admin = net.client(
        "admin",
        &Role::Administrator {
            name: "運用管理者".into(),
        },
    );
    assert_eq!(admin.status().unwrap_err().status(), Some(403));
    assert_eq!(
        admin.confirm(&code(1), PURPOSE).unwrap_err().status(),
        Some(403)
    );
    assert_eq!(provisions().len(), 2);
    assert!(net
        .block_on(net.register().resident(&code(2)))
        .unwrap()
        .is_none());

    // 広域交付 at another municipality: the copy, recorded as a provision to it.
    let mut kita_net = net.municipality(&kita());
    let copy = kita_net.copy(&code(1)).unwrap();
    assert_eq!(copy.resident.info.name, "住基 花子1");
    let recorded = provisions();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[2].id, copy.provision);
    assert_eq!(recorded[2].agency, "271276");
    assert_eq!(recorded[2].purpose, api::COPY_PURPOSE);
    assert_eq!(kita_net.copy(&code(9)).unwrap_err().status(), Some(404));
}

/// A JSON answer's status and body.
fn call(
    client: &mut NetClient,
    method: Method,
    path: &str,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let body = (!body.is_empty() || method == Method::POST).then(|| body.to_vec());
    let (status, answer) = client.call(method, path, body).unwrap();
    let json = serde_json::from_slice(&answer).unwrap_or_else(|e| {
        panic!(
            "{status}: not JSON ({e}): {}",
            String::from_utf8_lossy(&answer)
        )
    });
    (status.as_u16(), json)
}

#[test]
fn malformed_requests_get_a_clear_4xx() {
    let net = Net::start();
    let mut m = net.municipality(&chiyoda());
    let c1 = code(1);
    let post = |m: &mut NetClient, body: &[u8]| call(m, Method::POST, "/v1/updates", body);
    let bad = |m: &mut NetClient, body: &[u8], mentions: &str| {
        let (status, json) = post(m, body);
        assert_eq!(status, 400, "{json}");
        assert_eq!(json["error"], "bad_request");
        let message = json["message"].as_str().unwrap();
        assert!(
            message.contains(mentions),
            "{message} should mention {mentions}"
        );
    };
    bad(&mut m, b"{", "not a valid updates request");
    bad(&mut m, b"", "not a valid updates request");
    bad(&mut m, b"[1,2]", "not a valid updates request");
    bad(&mut m, b"{\"updates\": 1}", "not a valid updates request");
    let remove = |seq: u64, date: &str, code: &str| {
        format!(
            r#"{{"seq": {seq}, "date": "{date}", "event": {{"kind": "remove", "code": "{code}"}}}}"#
        )
    };
    // The municipality is never a field of the request.
    bad(
        &mut m,
        format!(
            r#"{{"municipality": "271276", "updates": [{}]}}"#,
            remove(1, "2026-12-01", c1.as_str())
        )
        .as_bytes(),
        "unknown field",
    );
    bad(
        &mut m,
        format!(r#"{{"updates": [{{"seq": 1, "date": "2026-12-01", "event": {{"kind": "remove", "code": "{c1}", "by": "x"}}}}]}}"#).as_bytes(),
        "unknown field",
    );
    bad(
        &mut m,
        format!(
            r#"{{"updates": [{}]}}"#,
            remove(1, "2026-12-01", "12345678900")
        )
        .as_bytes(),
        "not a resident code",
    );
    bad(
        &mut m,
        format!(
            r#"{{"updates": [{}]}}"#,
            remove(1, "2026-13-01", c1.as_str())
        )
        .as_bytes(),
        "not a date",
    );
    bad(
        &mut m,
        format!(
            r#"{{"updates": [{}]}}"#,
            remove(1, "2026-12-01", c1.as_str())
        )
        .replace("remove", "vanish")
        .as_bytes(),
        "unknown variant",
    );
    bad(
        &mut m,
        format!(r#"{{"updates": [{{"seq": -1, "date": "2026-12-01", "event": {{"kind": "remove", "code": "{c1}"}}}}]}}"#).as_bytes(),
        "not a valid updates request",
    );
    // Too many updates, too large a body: 413.
    let many: Vec<String> = (1..=api::MAX_BATCH as u64 + 1)
        .map(|seq| remove(seq, "2026-12-01", c1.as_str()))
        .collect();
    let (status, json) = post(
        &mut m,
        format!(r#"{{"updates": [{}]}}"#, many.join(",")).as_bytes(),
    );
    assert_eq!(
        (status, json["error"].as_str()),
        (413, Some("too_large")),
        "{json}"
    );
    let huge = format!(
        r#"{{"updates": [], "padding": "{}"}}"#,
        "x".repeat(api::MAX_BODY + 1)
    );
    let mut fresh = net.municipality(&chiyoda());
    let (status, json) = post(&mut fresh, huge.as_bytes());
    assert_eq!(
        (status, json["error"].as_str()),
        (413, Some("too_large")),
        "{json}"
    );
    // Unknown endpoints, bad codes and missing purposes of the agencies' endpoints.
    let (status, json) = call(&mut m, Method::GET, "/v1/nowhere", b"");
    assert_eq!((status, json["error"].as_str()), (404, Some("not_found")));
    let mut pension = net.pension();
    let path = |code: &str, query: &str| format!("/v1/residents/{code}{query}");
    let allowed = format!(
        "?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("purpose", PURPOSE)
            .finish()
    );
    let (status, json) = call(
        &mut pension,
        Method::GET,
        &path("12345678900", &allowed),
        b"",
    );
    assert_eq!(status, 400, "{json}");
    let (status, json) = call(&mut pension, Method::GET, &path(c1.as_str(), ""), b"");
    assert_eq!(status, 400, "{json}");
    let (status, json) = call(
        &mut pension,
        Method::GET,
        &path(c1.as_str(), "?purpose=x&who=131016"),
        b"",
    );
    assert_eq!(status, 400, "{json}");
    let (status, json) = call(
        &mut pension,
        Method::POST,
        "/v1/residents/search",
        br#"{"name": "a", "birth": "1980-04-01", "purpose": "x", "agency": "y"}"#,
    );
    assert_eq!(status, 400, "{json}");
    // Nothing of all that reached the register; a good batch still goes through.
    assert_eq!(
        net.block_on(net.register().last_seq(&chiyoda())).unwrap(),
        0
    );
    let (status, json) = post(
        &mut m,
        format!(
            r#"{{"updates": [{{"seq": 1, "date": "2026-12-01", "event": {{"kind": "new", "code": "{c1}", "info": {{"name": "住基 花子", "address": "東京都千代田区千代田1-1", "birth": "1980-04-01", "sex": "female"}}}}}}]}}"#
        )
        .as_bytes(),
    );
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        json,
        serde_json::json!({"results": [{"seq": 1, "applied": true}]})
    );
}

#[test]
fn delivery_waits_for_the_server() {
    let mut net = Net::new();
    let mut m = net.municipality(&chiyoda());
    let batch = [new_resident(&chiyoda(), 1, 1)];
    // Nobody listening: unreachable, nothing applied.
    let e = m.deliver(&batch).unwrap_err();
    assert!(e.0.contains(&net.address()), "{e}");
    assert_eq!(
        net.block_on(net.register().last_seq(&chiyoda())).unwrap(),
        0
    );
    // The server starts: the same batch is applied.
    net.start_server().unwrap();
    assert_eq!(m.deliver(&batch).unwrap(), applied(1..=1));
    // Stopped and started again: the client's connection is gone; it makes a new one.
    net.stop_server();
    assert!(m.deliver(&[new_resident(&chiyoda(), 2, 2)]).is_err());
    net.start_server().unwrap();
    assert_eq!(
        m.deliver(&[new_resident(&chiyoda(), 2, 2)]).unwrap(),
        applied(2..=2)
    );
    // One connection carries many requests (keep-alive).
    for _ in 0..20 {
        assert_eq!(m.status().unwrap().last_seq, 2);
    }
    // The server closes the kept connection (a restart while the client is idle): the next
    // request goes on a new connection without an error.
    for _ in 0..3 {
        net.stop_server();
        net.start_server().unwrap();
        assert_eq!(m.status().unwrap().last_seq, 2);
    }
    net.stop_server();
}

#[test]
fn the_database_down_is_unreachable_not_a_refusal() {
    // A cluster of its own: this test stops it.
    let cluster = PgCluster::start().unwrap();
    let mut net = Net::on(&cluster);
    net.start_server().unwrap();
    let mut m = net.municipality(&chiyoda());
    let mut pension = net.pension();
    assert_eq!(
        m.deliver(&[new_resident(&chiyoda(), 1, 1)]).unwrap(),
        applied(1..=1)
    );

    cluster.stop().unwrap();
    // 503 from the server: the batch is not refused, the counter keeps it and tries again.
    let e = m.deliver(&[new_resident(&chiyoda(), 2, 2)]).unwrap_err();
    assert!(e.0.contains("503"), "{e}");
    let e = pension.confirm(&code(1), PURPOSE).unwrap_err();
    assert!(matches!(e, ClientError::Unreachable(_)), "{e}");
    assert!(matches!(
        m.status().unwrap_err(),
        ClientError::Unreachable(_)
    ));

    cluster.start_again().unwrap();
    assert_eq!(
        m.deliver(&[new_resident(&chiyoda(), 2, 2)]).unwrap(),
        applied(2..=2)
    );
    assert_eq!(
        pension.confirm(&code(1), PURPOSE).unwrap().resident.code,
        code(1)
    );
    assert_eq!(
        net.block_on(net.register().provisions_of(&code(1)))
            .unwrap()
            .len(),
        1
    );
    net.stop_server();
}
