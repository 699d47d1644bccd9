//! PostgreSQL restarted or down in the middle of deliveries: the pool connects again and nothing
//! is applied twice. Each test has its own cluster (they restart it).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use juki_net::pg_cluster::PgCluster;
use juki_net::register::{Applied, Event, Kind, Register, RegisterError, Update};

fn new_at(seq: u64) -> Update {
    update(
        &chiyoda(),
        seq,
        Event::New {
            code: code(seq),
            info: info(&format!("再起動 {seq}"), "東京都千代田区1"),
        },
    )
}

/// Delivers like a counter: again and again while the error is transient, at most 60 s.
async fn deliver(reg: &Register, u: &Update) -> Applied {
    let start = Instant::now();
    loop {
        match reg.apply(u).await {
            Ok(a) => return a,
            Err(e) if e.is_transient() && start.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("update {} refused: {e}", u.seq),
        }
    }
}

async fn count(reg: &Register, table: &str) -> i64 {
    let client = reg.db().client().await.unwrap();
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_between_deliveries() {
    let cluster = PgCluster::start().unwrap();
    let reg = register_on(&cluster).await;
    let mut first = Vec::new();
    for seq in 1..=5 {
        first.push(reg.apply(&new_at(seq)).await.unwrap());
    }
    cluster.restart().unwrap();
    // Every pooled connection is dead; the pool notices and connects again.
    let again = reg.apply(&new_at(5)).await.unwrap();
    assert_eq!(
        again, first[4],
        "the re-sent update returns its first outcome"
    );
    for seq in 6..=10 {
        reg.apply(&new_at(seq)).await.unwrap();
    }
    let c = reg.confirm(&code(3), PURPOSE, &pension()).await.unwrap();
    assert_eq!(c.resident.info.name, "再起動 3");
    assert_eq!(reg.last_seq(&chiyoda()).await.unwrap(), 10);
    assert_eq!(count(&reg, "resident_history").await, 10);
    assert_eq!(count(&reg, "delivery").await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_during_a_stream_of_deliveries() {
    let cluster = PgCluster::start().unwrap();
    let reg = Arc::new(register_on(&cluster).await);
    const N: u64 = 150;
    let counter = {
        let reg = reg.clone();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for seq in 1..=N {
                outcomes.push(deliver(&reg, &new_at(seq)).await);
            }
            outcomes
        })
    };
    // Restart once a part is in and the rest is still coming.
    let start = Instant::now();
    while reg.last_seq(&chiyoda()).await.unwrap() < 20 {
        assert!(start.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cluster = Arc::new(cluster);
    let c2 = cluster.clone();
    tokio::task::spawn_blocking(move || c2.restart().unwrap())
        .await
        .unwrap();
    let mid = reg.last_seq(&chiyoda()).await.unwrap();
    assert!(
        mid < N,
        "the restart came in the middle of the stream ({mid} of {N} in)"
    );
    let outcomes = counter.await.unwrap();
    assert_eq!(outcomes.len() as u64, N);
    for (i, a) in outcomes.iter().enumerate() {
        assert_eq!((a.seq, a.kind, a.version), (i as u64 + 1, Kind::New, 1));
    }
    assert_eq!(reg.last_seq(&chiyoda()).await.unwrap(), N);
    assert_eq!(count(&reg, "resident").await, N as i64, "nothing lost");
    assert_eq!(
        count(&reg, "resident_history").await,
        N as i64,
        "nothing applied twice"
    );
    assert_eq!(count(&reg, "delivery").await, N as i64);
    // Sending the whole stream again changes nothing.
    for seq in 1..=N {
        assert_eq!(
            reg.apply(&new_at(seq)).await.unwrap(),
            outcomes[seq as usize - 1]
        );
    }
    assert_eq!(count(&reg, "resident_history").await, N as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_for_a_while() {
    let cluster = PgCluster::start().unwrap();
    let reg = register_on(&cluster).await;
    reg.apply(&new_at(1)).await.unwrap();
    cluster.stop().unwrap();
    assert!(!cluster.is_running());
    let e = reg.apply(&new_at(2)).await.unwrap_err();
    assert!(
        e.is_transient(),
        "a database that is down is worth retrying: {e}"
    );
    assert!(matches!(e, RegisterError::Database(_)), "{e}");
    let e = reg
        .confirm(&code(1), PURPOSE, &pension())
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    cluster.start_again().unwrap();
    reg.apply(&new_at(2)).await.unwrap();
    assert_eq!(reg.last_seq(&chiyoda()).await.unwrap(), 2);
    assert_eq!(count(&reg, "resident_history").await, 2);
    // The refused confirmation recorded nothing.
    assert_eq!(count(&reg, "provision").await, 0);
}
