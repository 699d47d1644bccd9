//! The verifiable provision log through the real server (mutual TLS, PostgreSQL): provisions
//! logged by the appender, signed heads that monitors follow, receipts that verify, and the
//! attacks that must be caught — a provision row altered or deleted in PostgreSQL, a tree
//! rebuilt by the server (a fork shown to a monitor that saw the old one), heads signed by
//! another key, anchors of another municipality.

mod common;

use std::time::{Duration, Instant};

use common::*;
use juki_log::{Receipt, Record};
use juki_net::client::{ClientError, NetClient};
use juki_net::local::LocalNetwork;
use juki_net::monitor::{Monitor, MonitorError, Observed};
use juki_net::pki::Role;
use juki_net::provision_log::{load_public_key, LOG_PUB_FILE};
use juki_net::register::Event;

struct World {
    net: LocalNetwork,
    _dir: tempfile::TempDir,
    chiyoda: NetClient,
    pension: NetClient,
    key: p256::ecdsa::VerifyingKey,
}

/// The network with `residents` residents of 千代田区 and the pension agency.
fn world(residents: u64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let net = LocalNetwork::start(dir.path()).unwrap();
    let node = |name: &str, role: Role| {
        NetClient::from_dir(&net.node(name, &role).unwrap(), &net.address()).unwrap()
    };
    let mut chiyoda = node("chiyoda", Role::Municipality(common::chiyoda()));
    let pension = node(
        "pension",
        Role::Agency {
            name: "日本年金機構".into(),
            purposes: vec![PURPOSE.into()],
        },
    );
    let updates: Vec<_> = (1..=residents)
        .map(|n| {
            update(
                &common::chiyoda(),
                n,
                Event::New {
                    code: code(n),
                    info: info(&format!("提供 {n}"), "東京都千代田区1"),
                },
            )
        })
        .collect();
    for batch in updates.chunks(100) {
        chiyoda.send_updates(batch).unwrap();
    }
    let key = load_public_key(&net.server_dir().join(LOG_PUB_FILE)).unwrap();
    World {
        net,
        _dir: dir,
        chiyoda,
        pension,
        key,
    }
}

/// Waits (at most 10 s) until the server's appender has logged `size` leaves.
fn logged(w: &mut World, size: u64) -> juki_log::SignedTreeHead {
    let start = Instant::now();
    loop {
        if let Some(head) = w.chiyoda.log_head().unwrap() {
            if head.head.size >= size {
                assert_eq!(head.head.size, size);
                return head;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10), "not logged");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn provisions_are_logged_and_monitors_follow_the_log() {
    let mut w = world(20);
    assert!(
        w.chiyoda.log_head().unwrap().is_none(),
        "an empty log has no head"
    );
    let mut monitor = Monitor::new(w.key);
    assert_eq!(monitor.check(&mut w.chiyoda).unwrap().observed, None);
    for n in 1..=5 {
        w.pension.confirm(&code(n), PURPOSE).unwrap();
    }
    let first = logged(&mut w, 5);
    let checked = monitor.check(&mut w.chiyoda).unwrap();
    assert_eq!(checked.observed, Some(Observed::First));
    assert_eq!((checked.size, checked.entries), (5, 5));
    // More provisions, an anchor: the monitor follows with a consistency proof.
    for n in 6..=12 {
        w.pension.confirm(&code(n), PURPOSE).unwrap();
    }
    let anchor = w.chiyoda.anchor(&[7; 32], 42).unwrap();
    let head = logged(&mut w, 13);
    let checked = monitor.check(&mut w.chiyoda).unwrap();
    assert_eq!(
        checked.observed,
        Some(Observed::Advanced { from: 5, to: 13 })
    );
    assert_eq!(checked.entries, 8);
    assert_eq!(
        monitor.check(&mut w.chiyoda).unwrap().observed,
        Some(Observed::Same)
    );
    // Resumed from its kept state, it goes on; an edited state is refused.
    let kept = monitor.head().unwrap().to_text();
    let frontier = monitor.frontier().to_vec();
    let mut resumed = Monitor::resume(w.key, &kept, frontier.clone()).unwrap();
    assert_eq!(
        resumed.check(&mut w.chiyoda).unwrap().observed,
        Some(Observed::Same)
    );
    let mut edited = frontier;
    edited[0][0] ^= 1;
    assert!(matches!(
        Monitor::resume(w.key, &kept, edited),
        Err(MonitorError::State(_))
    ));
    // An auditor checks the two heads against each other.
    let proof = w.chiyoda.log_consistency(5, 13).unwrap();
    juki_log::audit(&w.key, &first, &head, Some(&proof)).unwrap();
    assert_eq!(w.chiyoda.log_head_at(5).unwrap(), first);

    // Receipts: each provision of resident 3 verifies against the head; its record is the
    // provision the agency got.
    let logged3 = w
        .net
        .block_on(w.net.log().provisions_of(code(3).as_str()))
        .unwrap();
    assert_eq!(logged3.len(), 1);
    let Record::Provision(record) = &logged3[0].opening.record else {
        panic!("not a provision");
    };
    assert_eq!(record.agency, "日本年金機構");
    assert_eq!(record.purpose, PURPOSE);
    let receipt = Receipt {
        opening: logged3[0].opening.clone(),
        proof: w.chiyoda.log_inclusion(logged3[0].index, 13).unwrap(),
        head: head.clone(),
    };
    receipt.verify(&w.key).unwrap();
    // Another resident's record with this proof does not verify.
    let mut other = receipt.clone();
    if let Record::Provision(r) = &mut other.opening.record {
        r.resident = code(4).as_str().to_string();
    }
    assert!(other.verify(&w.key).is_err());

    // Anchors: the municipality reads its own, logged with a salt; another's is refused.
    let anchors = w.chiyoda.anchors(None).unwrap();
    assert_eq!(anchors.len(), 1);
    assert_eq!(anchors[0].id, anchor);
    assert_eq!(anchors[0].records, 42);
    assert!(anchors[0].leaf_index.is_some() && anchors[0].salt.is_some());
    let refused = w.chiyoda.anchors(Some(&kita())).unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    let refused = w.pension.anchor(&[1; 32], 1).unwrap_err();
    assert_eq!(
        refused.status(),
        Some(403),
        "an agency anchors nothing: {refused}"
    );
    // Malformed requests: 400, never a panic.
    for (from, to) in [(9, 3), (0, 20_000), (0, 99)] {
        let e = w.chiyoda.log_entries(from, to).unwrap_err();
        assert!(
            matches!(
                e,
                ClientError::Refused {
                    status: 400 | 404,
                    ..
                }
            ),
            "{e}"
        );
    }
    assert!(matches!(
        w.chiyoda.log_consistency(0, 13),
        Err(ClientError::Refused { status: 400, .. })
    ));
    assert!(matches!(
        w.chiyoda.log_inclusion(13, 13),
        Err(ClientError::Refused { status: 400, .. })
    ));
}

#[test]
fn a_provision_altered_or_deleted_in_postgresql_is_caught() {
    let mut w = world(6);
    for n in 1..=6 {
        w.pension.confirm(&code(n), PURPOSE).unwrap();
    }
    logged(&mut w, 6);
    let mut before = Monitor::new(w.key);
    before.check(&mut w.chiyoda).unwrap();

    // Altered: the purpose of one provision rewritten in the database.
    w.net
        .sql("UPDATE provision SET purpose = '恩給の裁定' WHERE leaf_index = 2")
        .unwrap();
    let mut auditor = Monitor::new(w.key);
    assert!(matches!(
        auditor.check(&mut w.chiyoda),
        Err(MonitorError::EntriesDisagree { from: 0, to: 6 })
    ));
    // Its resident's receipt no longer verifies.
    let rows = w
        .net
        .block_on(w.net.log().provisions_of(code(3).as_str()))
        .unwrap();
    let head = w.chiyoda.log_head().unwrap().unwrap();
    let receipt = Receipt {
        opening: rows[0].opening.clone(),
        proof: w.chiyoda.log_inclusion(rows[0].index, 6).unwrap(),
        head,
    };
    assert!(receipt.verify(&w.key).is_err());
    w.net
        .sql(&format!(
            "UPDATE provision SET purpose = '{PURPOSE}' WHERE leaf_index = 2"
        ))
        .unwrap();
    Monitor::new(w.key).check(&mut w.chiyoda).unwrap();

    // Deleted: a monitor that had checked the leaf already sees nothing new, but any auditor
    // from the start, and every monitor at its next growth over that range, sees the gap.
    w.net
        .sql("DELETE FROM provision WHERE leaf_index = 4")
        .unwrap();
    assert!(matches!(
        Monitor::new(w.key).check(&mut w.chiyoda),
        Err(MonitorError::MissingEntry { index: 4 })
    ));
    assert_eq!(
        before.check(&mut w.chiyoda).unwrap().observed,
        Some(Observed::Same)
    );
}

#[test]
fn a_rebuilt_tree_is_a_fork_that_monitors_refuse() {
    let mut w = world(4);
    for n in 1..=4 {
        w.pension.confirm(&code(n), PURPOSE).unwrap();
    }
    let old = logged(&mut w, 4);
    let mut monitor = Monitor::new(w.key);
    monitor.check(&mut w.chiyoda).unwrap();
    // The server (with its key) drops its tree and logs the same records again: new salts,
    // the same size, another root — what a server that rewrote a record would have to do.
    rebuild_log_tree(&mut w.net);
    let forked = logged(&mut w, 4);
    assert_ne!(forked.head.root, old.head.root);
    // The entries agree with the new tree, but the monitor saw the old head.
    match monitor.check(&mut w.chiyoda) {
        Err(MonitorError::Log(juki_log::LogError::Fork { size: 4 })) => {}
        other => panic!("a fork was not caught: {other:?}"),
    }
    assert!(juki_log::audit(&w.key, &old, &forked, None).is_err());
    // A fresh monitor has nothing to compare with: it trusts the first head it sees (two
    // monitors that compare heads catch it, as above).
    Monitor::new(w.key).check(&mut w.chiyoda).unwrap();
    // A head signed by another key is refused.
    let mut stranger = Monitor::new(juki_log::LogKey::generate().verifying_key());
    assert!(matches!(
        stranger.check(&mut w.chiyoda),
        Err(MonitorError::Log(_))
    ));
}
