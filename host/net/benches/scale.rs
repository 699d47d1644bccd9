//! The national register at scale, each figure next to its floor measured in the same run on
//! the same throwaway PostgreSQL (Debian's server binaries, durable settings: fsync on,
//! synchronous commit), loopback only:
//!
//! - load: N synthetic residents (their 新規 history rows and delivery records too) by COPY,
//!   with the indexes in place; table and index sizes;
//! - confirmation (`Register::confirm`: the lookup and the provision recorded in one
//!   transaction), p50/p99 over sequential calls, next to the floor of one round trip
//!   (`SELECT 1`) and of the same two statements without the register's code;
//! - updates: 8 municipalities delivering at once (`Register::apply`, each its own numbered
//!   記載事項変更 of its own residents), updates/s, next to the floor of 8 connections each
//!   committing one-row transactions.
//!
//! Sizes from `JUKI_NET_SIZES` (default `10000,100000,1000000`). Results go to
//! `target/juki-perf/net.json` and into docs/network.md between its MEASURED markers. Not part
//! of the test command: `cargo bench -p juki-net --bench scale` (minutes at 1M).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use juki_host::date::Date;
use juki_host::resident::{municipality_check_digit, FourInfo, MunicipalityCode, Sex};
use juki_host::resident_code::{check_digit, ResidentCode};
use juki_net::db::Db;
use juki_net::pg_cluster::{PgCluster, RunAs};
use juki_net::register::{Event, Register, Requester, Update};

const MUNICIPALITIES: usize = 8;
const CONFIRMATIONS: usize = 2000;
const UPDATES_PER_MUNICIPALITY: usize = 400;

fn muni(i: usize) -> MunicipalityCode {
    let five = format!("{:05}", 13101 + i);
    let mut d = [0u8; 5];
    for (x, c) in d.iter_mut().zip(five.bytes()) {
        *x = c - b'0';
    }
    MunicipalityCode::parse(&format!("{five}{}", municipality_check_digit(&d))).unwrap()
}

fn code(n: u64) -> ResidentCode {
    let ten = format!("{n:010}");
    let mut d = [0u8; 10];
    for (x, c) in d.iter_mut().zip(ten.bytes()) {
        *x = c - b'0';
    }
    ResidentCode::parse(&format!("{ten}{}", check_digit(&d))).unwrap()
}

/// Resident `i`'s synthetic 4 info (names repeat every 50,000: realistic collisions for the
/// 4-info index).
fn info(i: u64) -> FourInfo {
    let birth = Date::from_ymd(
        1940 + (i % 70) as u32,
        1 + (i % 12) as u32,
        1 + (i % 28) as u32,
    )
    .unwrap();
    let sex = if i.is_multiple_of(2) {
        Sex::Male
    } else {
        Sex::Female
    };
    FourInfo::new(
        &format!("住基 太郎{}", i % 50_000),
        &format!("東京都千代田区千代田{}-{}", i % 100, i % 7),
        birth,
        sex,
    )
    .unwrap()
}

fn iso(d: Date) -> String {
    let (y, m, d) = d.ymd();
    format!("{y:04}-{m:02}-{d:02}")
}

fn sex_digit(s: Sex) -> &'static str {
    match s {
        Sex::Male => "1",
        Sex::Female => "2",
        _ => "9",
    }
}

/// Loads `n` residents by COPY: residents, their 新規 history, the deliveries that made them,
/// and each municipality's last number. Returns the time it took.
async fn load(db: &Db, n: u64) -> Duration {
    let started = Instant::now();
    let client = db.client().await.unwrap();
    let mut seqs = [0u64; MUNICIPALITIES];
    let mut residents = String::new();
    let mut history = String::new();
    let mut deliveries = String::new();
    let changed = "2026-04-01";
    for i in 0..n {
        let m = (i as usize) % MUNICIPALITIES;
        seqs[m] += 1;
        let (c, inf, mc) = (code(i), info(i), muni(m));
        let (birth, sex) = (iso(inf.birth), sex_digit(inf.sex));
        writeln!(
            residents,
            "{}\t{}\t{birth}\t{sex}\t{}\t{mc}\tregistered\t1\t{changed}",
            c.as_str(),
            inf.name,
            inf.address
        )
        .unwrap();
        writeln!(
            history,
            "{}\t1\tnew\t{changed}\t{mc}\t{}\t{}\t{birth}\t{sex}\t{}",
            c.as_str(),
            seqs[m],
            inf.name,
            inf.address
        )
        .unwrap();
        let update = Update {
            municipality: mc.clone(),
            seq: seqs[m],
            date: Date::from_ymd(2026, 4, 1).unwrap(),
            event: Event::New {
                code: c.clone(),
                info: inf,
            },
        };
        writeln!(
            deliveries,
            "{mc}\t{}\t\\\\x{}\tnew\t{}\t1",
            seqs[m],
            hex::encode(update.digest()),
            c.as_str()
        )
        .unwrap();
    }
    let mut municipalities = String::new();
    for (m, last) in seqs.iter().enumerate() {
        writeln!(municipalities, "{}\t{last}", muni(m)).unwrap();
    }
    for (table, rows) in [
        ("municipality (code, last_seq)", municipalities),
        (
            "resident (code, name, birth, sex, address, municipality, status, version, changed_on)",
            residents,
        ),
        (
            "resident_history (resident, version, kind, effective_on, municipality, seq, \
             new_name, new_birth, new_sex, new_address)",
            history,
        ),
        (
            "delivery (municipality, seq, digest, kind, resident, version)",
            deliveries,
        ),
    ] {
        let sink = client
            .copy_in(&format!("COPY {table} FROM STDIN"))
            .await
            .unwrap();
        futures_util::pin_mut!(sink);
        for chunk in rows.as_bytes().chunks(1 << 20) {
            sink.send(bytes::Bytes::copy_from_slice(chunk))
                .await
                .unwrap();
        }
        sink.close().await.unwrap();
    }
    client.batch_execute("ANALYZE").await.unwrap();
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// p50 and p99 of `runs` sequential calls of `f(i)`.
async fn latency<F, Fut>(runs: usize, mut f: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        f(i).await;
        times.push(t.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// A deterministic spread of resident numbers below `n`.
fn pick(i: usize, n: u64) -> u64 {
    (i as u64).wrapping_mul(2_654_435_761) % n
}

async fn measure(n: u64) -> serde_json::Value {
    let settings = [
        ("shared_buffers", "512MB"),
        ("max_wal_size", "4GB"),
        ("checkpoint_timeout", "30min"),
    ];
    let cluster = PgCluster::start_with(RunAs::detect().unwrap(), &settings).unwrap();
    let url = cluster.fresh_database().unwrap();
    let db = Db::connect(&url, 16).unwrap();
    db.migrate().await.unwrap();
    let load_time = load(&db, n).await;
    let sizes = {
        let c = db.client().await.unwrap();
        let row = c
            .query_one(
                "SELECT pg_total_relation_size('resident'), pg_relation_size('resident'), \
                 pg_total_relation_size('resident_history'), pg_total_relation_size('delivery'), \
                 pg_database_size(current_database())",
                &[],
            )
            .await
            .unwrap();
        (0..5).map(|i| row.get::<_, i64>(i)).collect::<Vec<_>>()
    };
    let register = Register::new(db.clone());
    let requester = Requester {
        agency: "日本年金機構".into(),
        identity: "bench".into(),
    };

    // Confirmation, and its floors.
    let (c50, c99) = latency(CONFIRMATIONS, |i| {
        let (register, requester) = (&register, &requester);
        async move {
            register
                .confirm(&code(pick(i, n)), "年金・恩給の現況確認", requester)
                .await
                .unwrap();
        }
    })
    .await;
    let (rt50, rt99) = latency(CONFIRMATIONS, |_| {
        let db = &db;
        async move {
            let c = db.client().await.unwrap();
            c.query_one("SELECT 1", &[]).await.unwrap();
        }
    })
    .await;
    let (raw50, raw99) = latency(CONFIRMATIONS, |i| {
        let db = &db;
        async move {
            let mut c = db.client().await.unwrap();
            let tx = c.transaction().await.unwrap();
            let code = code(pick(i + 7, n));
            tx.query_one("SELECT * FROM resident WHERE code = $1", &[&code.as_str()])
                .await
                .unwrap();
            tx.execute(
                "INSERT INTO provision (resident, agency, requester, purpose, query, fields) \
                 VALUES ($1, 'floor', 'floor', 'floor', 'code', '{}')",
                &[&code.as_str()],
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await;

    // Updates from 8 municipalities at once, and their floor.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for m in 0..MUNICIPALITIES {
        let register = register.clone();
        let last = register.last_seq(&muni(m)).await.unwrap();
        tasks.push(tokio::spawn(async move {
            for k in 0..UPDATES_PER_MUNICIPALITY {
                // Resident numbers of municipality m: i % 8 == m.
                let i = (pick(k, n / MUNICIPALITIES as u64) * MUNICIPALITIES as u64) + m as u64;
                let mut new = info(i);
                new.address = format!("東京都千代田区永田町{k}-{m}");
                let update = Update {
                    municipality: muni(m),
                    seq: last + 1 + k as u64,
                    date: Date::from_ymd(2026, 5, 1).unwrap(),
                    event: Event::Amend {
                        code: code(i),
                        info: new,
                    },
                };
                register.apply(&update).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let updates = (MUNICIPALITIES * UPDATES_PER_MUNICIPALITY) as f64;
    let update_rate = updates / started.elapsed().as_secs_f64();
    {
        let c = db.client().await.unwrap();
        c.batch_execute("CREATE TABLE floor_commit (m int, k int)")
            .await
            .unwrap();
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for m in 0..MUNICIPALITIES {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let c = db.client().await.unwrap();
            for k in 0..UPDATES_PER_MUNICIPALITY {
                c.execute(
                    "INSERT INTO floor_commit VALUES ($1, $2)",
                    &[&(m as i32), &(k as i32)],
                )
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let floor_rate = updates / started.elapsed().as_secs_f64();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let report = serde_json::json!({
        "residents": n,
        "load_s": load_time.as_secs_f64(),
        "resident_bytes": sizes[0], "resident_heap_bytes": sizes[1],
        "history_bytes": sizes[2], "delivery_bytes": sizes[3], "database_bytes": sizes[4],
        "confirm_p50_us": us(c50), "confirm_p99_us": us(c99),
        "select1_p50_us": us(rt50), "select1_p99_us": us(rt99),
        "raw_confirm_p50_us": us(raw50), "raw_confirm_p99_us": us(raw99),
        "updates_per_s": update_rate, "commit_floor_per_s": floor_rate,
    });
    eprintln!("{report}");
    drop(register);
    drop(db);
    drop(cluster);
    report
}

fn markdown(results: &[serde_json::Value]) -> String {
    let mut out = String::from(
        "| residents | load | database | confirmation p50 / p99 | floor: SELECT 1 p50 / p99 | \
         floor: lookup + provision, bare p50 / p99 | updates/s (8 municipalities) | floor: \
         commits/s (8 connections) |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        writeln!(
            out,
            "| {} | {:.1} s | {:.0} MB | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.0} | {:.0} |",
            r["residents"],
            f("load_s"),
            f("database_bytes") / 1e6,
            f("confirm_p50_us") / 1e3,
            f("confirm_p99_us") / 1e3,
            f("select1_p50_us") / 1e3,
            f("select1_p99_us") / 1e3,
            f("raw_confirm_p50_us") / 1e3,
            f("raw_confirm_p99_us") / 1e3,
            f("updates_per_s"),
            f("commit_floor_per_s"),
        )
        .unwrap();
    }
    out
}

const BEGIN: &str = "<!-- BEGIN MEASURED NETWORK -->";
const END: &str = "<!-- END MEASURED NETWORK -->";

fn main() {
    let sizes: Vec<u64> = std::env::var("JUKI_NET_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("JUKI_NET_SIZES: numbers"))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let results: Vec<_> = sizes.iter().map(|&n| rt.block_on(measure(n))).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("target/juki-perf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("net.json"),
        serde_json::to_string_pretty(&results).unwrap(),
    )
    .unwrap();
    let table = markdown(&results);
    print!("{table}");
    let doc = root.join("docs/network.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    if let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) {
        let new = format!(
            "{}{BEGIN}\n\nMeasured {} by `cargo bench -p juki-net --bench scale` (one run, this \
             machine, durable settings).\n\n{table}\n{}",
            &text[..b],
            juki_host::date::today().map(iso).unwrap_or_default(),
            &text[e..]
        );
        std::fs::write(&doc, new).unwrap();
    }
}
