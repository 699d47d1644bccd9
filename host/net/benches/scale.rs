//! The national register at scale, each figure next to its floor measured in the same run on
//! the same throwaway PostgreSQL (Debian's server binaries, durable settings: fsync on,
//! synchronous commit), loopback only:
//!
//! - load: N synthetic residents (their 新規 history rows and delivery records too) by COPY,
//!   with the indexes in place; table and index sizes, and the depth and leaf pages of the
//!   住民票コード index (pageinspect's `bt_metap`, pgstattuple's `pgstatindex`);
//! - confirmation, p50/p99 over sequential calls: in process (`Register::confirm`: the lookup
//!   and the provision recorded in one transaction), next to the floor of one round trip
//!   (`SELECT 1`) and of the same two statements without the register's code; and over mutual
//!   TLS through the real server (in process on loopback, as tests/api.rs starts it: network
//!   CA, server node, CRL), an agency's `NetClient::confirm` for 年金・恩給の現況確認 on one kept
//!   connection, next to the floor of an authenticated `GET /v1/whoami` on that connection;
//! - updates: 8 municipalities delivering at once (each its own numbered 記載事項変更 of its own
//!   residents), updates/s: in process (`Register::apply`), and over mutual TLS (8 municipality
//!   nodes, each its own `NetClient` in its own thread, `POST /v1/updates` with [`BATCH`]
//!   updates, and with 1), next to the floors of 8 connections committing one-row
//!   transactions and committing [`BATCH`] rows per transaction.
//!
//! Sizes from `JUKI_NET_SIZES` (default `10000,100000,1000000`). Results go to
//! `target/juki-perf/net.json` and into docs/network.md between its MEASURED markers. Not part
//! of the test command: `cargo bench -p juki-net --bench scale` (minutes at 1M).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use hyper::Method;
use juki_host::date::Date;
use juki_host::resident::{municipality_check_digit, FourInfo, MunicipalityCode, Sex};
use juki_host::resident_code::{check_digit, ResidentCode};
use juki_net::api;
use juki_net::client::NetClient;
use juki_net::db::Db;
use juki_net::delivery::Delivered;
use juki_net::pg_cluster::{PgCluster, RunAs};
use juki_net::pki::{self, NetworkCa, Role};
use juki_net::register::{Event, Register, Requester, Update};
use juki_net::server::{self, ServerTls};
use juki_net::tls::{self, NodeCredentials};

const MUNICIPALITIES: usize = 8;
const CONFIRMATIONS: usize = 2000;
const UPDATES_PER_MUNICIPALITY: usize = 400;
/// Updates per `POST /v1/updates` (and rows per commit of the grouped-commit floor).
const BATCH: usize = 50;
const PURPOSE: &str = "年金・恩給の現況確認";

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

/// The in-process part of one size: the load, sizes, `Register::confirm` and `Register::apply`
/// with their floors. Leaves the cluster, the pool and the register running for the mTLS part.
async fn in_process(n: u64, db: &Db, register: &Register) -> serde_json::Value {
    db.migrate().await.unwrap();
    let load_time = load(db, n).await;
    let sizes = {
        let c = db.client().await.unwrap();
        let row = c
            .query_one(
                "SELECT pg_total_relation_size('resident'), pg_relation_size('resident'), \
                 pg_total_relation_size('resident_history'), pg_total_relation_size('delivery'), \
                 pg_database_size(current_database()), pg_relation_size('resident_pkey'), \
                 pg_relation_size('resident_name_birth'), pg_relation_size('resident_municipality'), \
                 pg_relation_size('resident_history'), pg_relation_size('resident_history_pkey'), \
                 pg_relation_size('delivery'), pg_relation_size('delivery_pkey')",
                &[],
            )
            .await
            .unwrap();
        (0..12).map(|i| row.get::<_, i64>(i)).collect::<Vec<_>>()
    };
    let btree = code_index_shape(db).await;
    let requester = Requester {
        agency: "日本年金機構".into(),
        identity: "bench".into(),
    };

    // Confirmation, and its floors.
    let (c50, c99) = latency(CONFIRMATIONS, |i| {
        let (register, requester) = (register, &requester);
        async move {
            register
                .confirm(&code(pick(i, n)), PURPOSE, requester)
                .await
                .unwrap();
        }
    })
    .await;
    let (rt50, rt99) = latency(CONFIRMATIONS, |_| async move {
        let c = db.client().await.unwrap();
        c.query_one("SELECT 1", &[]).await.unwrap();
    })
    .await;
    let (raw50, raw99) = latency(CONFIRMATIONS, |i| async move {
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
    })
    .await;

    // Updates from 8 municipalities at once, and their floors.
    let cpu = cpu_ticks();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for m in 0..MUNICIPALITIES {
        let register = register.clone();
        let last = register.last_seq(&muni(m)).await.unwrap();
        tasks.push(tokio::spawn(async move {
            for update in amendments(m, n, last, UPDATES_PER_MUNICIPALITY, 0) {
                register.apply(&update).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let updates = (MUNICIPALITIES * UPDATES_PER_MUNICIPALITY) as f64;
    let update_rate = updates / started.elapsed().as_secs_f64();
    let apply_cpu = cpu_busy_since(cpu);
    {
        let c = db.client().await.unwrap();
        c.batch_execute("CREATE TABLE floor_commit (m int, k int)")
            .await
            .unwrap();
    }
    // One row per commit, then BATCH rows per commit: what grouping the commits would give.
    let mut floors = Vec::new();
    for rows_per_commit in [1, BATCH] {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for m in 0..MUNICIPALITIES {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = db.client().await.unwrap();
                for chunk in 0..UPDATES_PER_MUNICIPALITY / rows_per_commit {
                    let tx = c.transaction().await.unwrap();
                    for k in 0..rows_per_commit {
                        tx.execute(
                            "INSERT INTO floor_commit VALUES ($1, $2)",
                            &[&(m as i32), &((chunk * rows_per_commit + k) as i32)],
                        )
                        .await
                        .unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        floors.push(updates / started.elapsed().as_secs_f64());
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    serde_json::json!({
        "residents": n,
        "load_s": load_time.as_secs_f64(),
        "resident_bytes": sizes[0], "resident_heap_bytes": sizes[1],
        "history_bytes": sizes[2], "delivery_bytes": sizes[3], "database_bytes": sizes[4],
        "resident_pkey_bytes": sizes[5], "resident_name_birth_bytes": sizes[6],
        "resident_municipality_bytes": sizes[7], "history_heap_bytes": sizes[8],
        "history_pkey_bytes": sizes[9], "delivery_heap_bytes": sizes[10],
        "delivery_pkey_bytes": sizes[11],
        "code_index": btree,
        "confirm_p50_us": us(c50), "confirm_p99_us": us(c99),
        "select1_p50_us": us(rt50), "select1_p99_us": us(rt99),
        "raw_confirm_p50_us": us(raw50), "raw_confirm_p99_us": us(raw99),
        "updates_per_s": update_rate, "apply_cpu_busy": apply_cpu,
        "commit_floor_per_s": floors[0],
        "grouped_commit_floor_rows_per_s": floors[1],
    })
}

/// The machine's CPU time from /proc/stat: (busy, total) in clock ticks, every core.
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait are not busy.
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The share of the machine's CPU (all cores) busy since `since` ([`cpu_ticks`]).
fn cpu_busy_since(since: (u64, u64)) -> f64 {
    let now = cpu_ticks();
    (now.0 - since.0) as f64 / (now.1 - since.1).max(1) as f64
}

/// The shape of the 住民票コード index (`resident_pkey`): its depth from pageinspect's
/// `bt_metap` and its pages from pgstattuple's `pgstatindex`, where the extensions exist (Debian's
/// server package has both); otherwise only its size.
async fn code_index_shape(db: &Db) -> serde_json::Value {
    let c = db.client().await.unwrap();
    let mut shape = serde_json::Map::new();
    if c.batch_execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        .await
        .is_ok()
    {
        if let Ok(row) = c
            .query_one("SELECT level::bigint FROM bt_metap('resident_pkey')", &[])
            .await
        {
            // The root's level counts from the leaves (0): the depth is one more.
            shape.insert("root_level".into(), row.get::<_, i64>(0).into());
        }
    }
    if c.batch_execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        .await
        .is_ok()
    {
        if let Ok(row) = c
            .query_one(
                "SELECT tree_level::bigint, internal_pages::bigint, leaf_pages::bigint, \
                 avg_leaf_density::float8 FROM pgstatindex('resident_pkey')",
                &[],
            )
            .await
        {
            shape.insert("tree_level".into(), row.get::<_, i64>(0).into());
            shape.insert("internal_pages".into(), row.get::<_, i64>(1).into());
            shape.insert("leaf_pages".into(), row.get::<_, i64>(2).into());
            shape.insert("avg_leaf_density".into(), row.get::<_, f64>(3).into());
        }
    }
    serde_json::Value::Object(shape)
}

/// Municipality `m`'s `count` numbered 記載事項変更 after `last`, of its own residents (resident
/// numbers `i % 8 == m`); `round` makes the addresses of each round new.
fn amendments(m: usize, n: u64, last: u64, count: usize, round: usize) -> Vec<Update> {
    (0..count)
        .map(|k| {
            let i = (pick(k + round * count, n / MUNICIPALITIES as u64) * MUNICIPALITIES as u64)
                + m as u64;
            let mut new = info(i);
            new.address = format!("東京都千代田区永田町{k}-{m}-{round}");
            Update {
                municipality: muni(m),
                seq: last + 1 + k as u64,
                date: Date::from_ymd(2026, 5, 1).unwrap(),
                event: Event::Amend {
                    code: code(i),
                    info: new,
                },
            }
        })
        .collect()
}

/// The network CA, the server's node and the HTTPS server on loopback, serving the register
/// on the bench's runtime (as tests/api.rs starts it).
struct Network {
    dir: tempfile::TempDir,
    ca: NetworkCa,
    addr: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Network {
    fn start(rt: &tokio::runtime::Runtime, register: &Register) -> Network {
        let dir = tempfile::tempdir().unwrap();
        let now = pki::now();
        let ca = NetworkCa::init(&dir.path().join("ca"), now).unwrap();
        let server_role = Role::Server {
            name: "national-center".into(),
            dns_names: vec!["localhost".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
        };
        let server_dir = dir.path().join("server");
        ca.issue_node(&server_role, 30, now, &server_dir).unwrap();
        let server_node = NodeCredentials::load(&server_dir).unwrap();
        let crl = tls::crl_der(&ca.crl(now).unwrap()).unwrap();
        let config = ServerTls::new(tls::server_config(&server_node, vec![crl]).unwrap());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(server::serve(
            listener,
            config,
            api::router(register.clone()),
            async move {
                let _ = stopped.await;
            },
        ));
        Network {
            dir,
            ca,
            addr,
            stop,
            task,
        }
    }

    /// A client of a node of `role` (its certificate issued on first use).
    fn client(&self, name: &str, role: &Role) -> NetClient {
        let dir = self.dir.path().join(name);
        if !dir.exists() {
            self.ca.issue_node(role, 30, pki::now(), &dir).unwrap();
        }
        NetClient::from_dir(&dir, &self.addr).unwrap()
    }

    fn halt(self, rt: &tokio::runtime::Runtime) {
        let _ = self.stop.send(());
        rt.block_on(self.task).unwrap().unwrap();
    }
}

/// p50 and p99 of `runs` sequential blocking calls of `f(i)`.
fn latency_blocking(runs: usize, mut f: impl FnMut(usize)) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        f(i);
        times.push(t.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// 8 municipalities, each its own `NetClient` in its own thread, sending `per_municipality`
/// numbered 記載事項変更 in batches of `batch` (`POST /v1/updates`): updates/s from the moment all
/// are connected to the last answer, and the share of the machine's CPU busy meanwhile.
fn updates_over_mtls(
    net: &Network,
    n: u64,
    per_municipality: usize,
    batch: usize,
    round: usize,
) -> (f64, f64) {
    let start = Arc::new(Barrier::new(MUNICIPALITIES + 1));
    let threads: Vec<_> = (0..MUNICIPALITIES)
        .map(|m| {
            let mut client = net.client(&format!("m{m}"), &Role::Municipality(muni(m)));
            let start = start.clone();
            std::thread::spawn(move || {
                // Connected (TLS handshake done) and numbered before the clock starts.
                let last = client.status().unwrap().last_seq;
                let updates = amendments(m, n, last, per_municipality, round);
                start.wait();
                for chunk in updates.chunks(batch) {
                    for result in client.send_updates(chunk).unwrap() {
                        assert!(
                            matches!(result, Delivered::Applied { .. }),
                            "municipality {m}: {result:?}"
                        );
                    }
                }
            })
        })
        .collect();
    start.wait();
    let cpu = cpu_ticks();
    let started = Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    let rate = (MUNICIPALITIES * per_municipality) as f64 / started.elapsed().as_secs_f64();
    (rate, cpu_busy_since(cpu))
}

/// The figures over mutual TLS through the real server: an agency's confirmations next to the
/// floor of an authenticated `GET /v1/whoami` on the same kept connection; updates from 8
/// municipalities in batches of [`BATCH`] and of 1.
fn over_mtls(
    rt: &tokio::runtime::Runtime,
    n: u64,
    register: &Register,
    report: &mut serde_json::Value,
) {
    let net = Network::start(rt, register);
    let mut agency = net.client(
        "pension",
        &Role::Agency {
            name: "日本年金機構".into(),
            purposes: vec![PURPOSE.into()],
        },
    );
    // The handshake and a warm connection before the clock.
    for i in 0..50 {
        agency.call(Method::GET, "/v1/whoami", None).unwrap();
        agency.confirm(&code(pick(i + 11, n)), PURPOSE).unwrap();
    }
    let (w50, w99) = latency_blocking(CONFIRMATIONS, |_| {
        let (status, _) = agency.call(Method::GET, "/v1/whoami", None).unwrap();
        assert!(status.is_success());
    });
    let (c50, c99) = latency_blocking(CONFIRMATIONS, |i| {
        agency.confirm(&code(pick(i + 13, n)), PURPOSE).unwrap();
    });
    drop(agency);
    let (batched, batched_cpu) = updates_over_mtls(&net, n, 2 * UPDATES_PER_MUNICIPALITY, BATCH, 1);
    let (single, _) = updates_over_mtls(&net, n, UPDATES_PER_MUNICIPALITY / 4, 1, 3);
    net.halt(rt);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let r = report.as_object_mut().unwrap();
    r.insert("mtls_confirm_p50_us".into(), us(c50).into());
    r.insert("mtls_confirm_p99_us".into(), us(c99).into());
    r.insert("mtls_whoami_p50_us".into(), us(w50).into());
    r.insert("mtls_whoami_p99_us".into(), us(w99).into());
    r.insert("mtls_updates_per_s".into(), batched.into());
    r.insert("mtls_updates_cpu_busy".into(), batched_cpu.into());
    r.insert("mtls_batch".into(), BATCH.into());
    r.insert("mtls_updates_batch1_per_s".into(), single.into());
}

/// The machine's 1-minute load average (another build running beside the bench shows here).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn measure(rt: &tokio::runtime::Runtime, n: u64) -> serde_json::Value {
    let load_before = load_average();
    let settings = [
        ("shared_buffers", "512MB"),
        ("max_wal_size", "4GB"),
        ("checkpoint_timeout", "30min"),
    ];
    let cluster = PgCluster::start_with(RunAs::detect().unwrap(), &settings).unwrap();
    let url = cluster.fresh_database().unwrap();
    let db = Db::connect(&url, 16).unwrap();
    let register = Register::new(db.clone());
    let mut report = rt.block_on(in_process(n, &db, &register));
    over_mtls(rt, n, &register, &mut report);
    // What the runs left: provisions and history rows, for their bytes per row.
    let grown = rt.block_on(async {
        let c = db.client().await.unwrap();
        let row = c
            .query_one(
                "SELECT (SELECT count(*) FROM provision), pg_total_relation_size('provision'), \
                 (SELECT count(*) FROM resident_history), pg_total_relation_size('resident_history')",
                &[],
            )
            .await
            .unwrap();
        (0..4).map(|i| row.get::<_, i64>(i)).collect::<Vec<_>>()
    });
    let r = report.as_object_mut().unwrap();
    r.insert("load_average_before".into(), load_before.into());
    r.insert("load_average_after".into(), load_average().into());
    r.insert("provision_rows".into(), grown[0].into());
    r.insert("provision_total_bytes".into(), grown[1].into());
    r.insert("history_rows_after".into(), grown[2].into());
    r.insert("history_total_bytes_after".into(), grown[3].into());
    eprintln!("{report}");
    drop(register);
    drop(db);
    drop(cluster);
    report
}

fn markdown(results: &[serde_json::Value]) -> String {
    let f = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let ms = |r: &serde_json::Value, k: &str| f(r, &format!("{k}_p50_us")) / 1e3;
    let ms99 = |r: &serde_json::Value, k: &str| f(r, &format!("{k}_p99_us")) / 1e3;
    let mut out = String::from(
        "Confirmation (sequential, p50 / p99, ms):\n\n\
         | residents | load | database | over mTLS: agency `confirm` | floor: `GET /v1/whoami`, \
         same connection | in process: `Register::confirm` | floor: lookup + provision, bare | \
         floor: `SELECT 1` |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        writeln!(
            out,
            "| {} | {:.1} s | {:.0} MB | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
            r["residents"],
            f(r, "load_s"),
            f(r, "database_bytes") / 1e6,
            ms(r, "mtls_confirm"),
            ms99(r, "mtls_confirm"),
            ms(r, "mtls_whoami"),
            ms99(r, "mtls_whoami"),
            ms(r, "confirm"),
            ms99(r, "confirm"),
            ms(r, "raw_confirm"),
            ms99(r, "raw_confirm"),
            ms(r, "select1"),
            ms99(r, "select1"),
        )
        .unwrap();
    }
    write!(
        out,
        "\nUpdates, 8 municipalities at once (numbered 記載事項変更, updates/s):\n\n\
         | residents | over mTLS, {BATCH} per `POST /v1/updates` (CPU busy, both cores) | over \
         mTLS, 1 per POST | in process: `Register::apply` (CPU busy) | floor: one-row commits \
         (8 connections) | floor: rows committed {BATCH} per commit (8 connections) \
         |\n|---|---|---|---|---|---|\n"
    )
    .unwrap();
    for r in results {
        writeln!(
            out,
            "| {} | {:.0} ({:.0} %) | {:.0} | {:.0} ({:.0} %) | {:.0} | {:.0} |",
            r["residents"],
            f(r, "mtls_updates_per_s"),
            100.0 * f(r, "mtls_updates_cpu_busy"),
            f(r, "mtls_updates_batch1_per_s"),
            f(r, "updates_per_s"),
            100.0 * f(r, "apply_cpu_busy"),
            f(r, "commit_floor_per_s"),
            f(r, "grouped_commit_floor_rows_per_s"),
        )
        .unwrap();
    }
    out.push_str(
        "\nSizes after the load (MB; bytes per resident = `resident` heap and its three indexes \
         / residents):\n\n\
         | residents | `resident` heap | `resident_pkey` | `resident_name_birth` | \
         `resident_municipality` | bytes per resident | `resident_history` (total) | `delivery` \
         (total) | code index: depth, leaf pages, entries per leaf page | `provision`: bytes per \
         row |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let n = f(r, "residents");
        let ix = &r["code_index"];
        let depth = ix["root_level"]
            .as_i64()
            .or(ix["tree_level"].as_i64())
            .map(|l| (l + 1).to_string())
            .unwrap_or_else(|| "?".into());
        let leaves = ix["leaf_pages"].as_f64().unwrap_or(f64::NAN);
        writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {depth}, {leaves:.0}, {:.0} | {:.0} |",
            r["residents"],
            f(r, "resident_heap_bytes") / 1e6,
            f(r, "resident_pkey_bytes") / 1e6,
            f(r, "resident_name_birth_bytes") / 1e6,
            f(r, "resident_municipality_bytes") / 1e6,
            f(r, "resident_bytes") / n,
            f(r, "history_bytes") / 1e6,
            f(r, "delivery_bytes") / 1e6,
            n / leaves,
            f(r, "provision_total_bytes") / f(r, "provision_rows"),
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
    let results: Vec<_> = sizes.iter().map(|&n| measure(&rt, n)).collect();
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
        let loads: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{}: {:.2} → {:.2}",
                    r["residents"],
                    r["load_average_before"].as_f64().unwrap_or(f64::NAN),
                    r["load_average_after"].as_f64().unwrap_or(f64::NAN)
                )
            })
            .collect();
        let new = format!(
            "{}{BEGIN}\n\nMeasured {} by `cargo bench -p juki-net --bench scale` (one run, this \
             machine, {} cores, durable settings; 1-minute load average before → after each \
             size, {}: above 1 means something else ran beside the bench).\n\n{table}\n{}",
            &text[..b],
            juki_host::date::today().map(iso).unwrap_or_default(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            loads.join(", "),
            &text[e..]
        );
        std::fs::write(&doc, new).unwrap();
    }
}
