//! Shared by the test binaries: one throwaway PostgreSQL per test binary, a fresh migrated
//! database per test, and resident data.

#![allow(dead_code)]

use std::sync::OnceLock;

use juki_host::resident::municipality_check_digit;
use juki_host::resident_code::check_digit;
use juki_net::db::Db;
use juki_net::pg_cluster::PgCluster;
use juki_net::register::{
    Date, Event, FourInfo, MunicipalityCode, Register, Requester, ResidentCode, Sex, Update,
};

static CLUSTER: OnceLock<PgCluster> = OnceLock::new();

extern "C" fn stop_cluster() {
    if let Some(cluster) = CLUSTER.get() {
        // A static is never dropped: stop the server when the test binary exits.
        let _ = cluster.stop();
        let _ = std::fs::remove_dir_all(cluster.socket_dir());
    }
}

/// The test binary's cluster, started on first use and stopped when the process exits.
pub fn cluster() -> &'static PgCluster {
    CLUSTER.get_or_init(|| {
        let cluster = PgCluster::start().expect("start a throwaway PostgreSQL");
        // SAFETY: registers a plain function without arguments; it runs once at exit.
        unsafe { libc::atexit(stop_cluster) };
        cluster
    })
}

/// A register on a new, migrated database of the shared cluster.
pub async fn register() -> Register {
    register_on(cluster()).await
}

/// A register on a new, migrated database of `cluster`.
pub async fn register_on(cluster: &PgCluster) -> Register {
    let url = cluster.fresh_database().expect("create a database");
    let db = Db::connect(&url, 8).expect("pool");
    let applied = db.migrate().await.expect("migrate");
    assert_eq!(
        applied,
        (1..=Db::schema_version()).collect::<Vec<_>>(),
        "a new database gets every migration"
    );
    assert!(
        db.migrate().await.expect("migrate again").is_empty(),
        "and then none again"
    );
    Register::new(db)
}

/// The municipality whose first five digits are `five`, with its check digit.
pub fn muni(five: &str) -> MunicipalityCode {
    let mut d = [0u8; 5];
    for (x, c) in d.iter_mut().zip(five.bytes()) {
        *x = c - b'0';
    }
    MunicipalityCode::parse(&format!("{five}{}", municipality_check_digit(&d))).unwrap()
}

/// 千代田区.
pub fn chiyoda() -> MunicipalityCode {
    muni("13101")
}
/// 大阪市北区.
pub fn kita() -> MunicipalityCode {
    muni("27127")
}
/// 札幌市中央区.
pub fn sapporo() -> MunicipalityCode {
    muni("01101")
}

/// The resident code whose first ten digits are `n`, zero-padded, with its check digit.
pub fn code(n: u64) -> ResidentCode {
    let ten = format!("{n:010}");
    let mut d = [0u8; 10];
    for (x, c) in d.iter_mut().zip(ten.bytes()) {
        *x = c - b'0';
    }
    ResidentCode::parse(&format!("{ten}{}", check_digit(&d))).unwrap()
}

pub fn date(y: u32, m: u32, d: u32) -> Date {
    Date::from_ymd(y, m, d).unwrap()
}

pub fn info(name: &str, address: &str) -> FourInfo {
    FourInfo::new(name, address, date(1980, 4, 1), Sex::Female).unwrap()
}

pub fn update(municipality: &MunicipalityCode, seq: u64, event: Event) -> Update {
    Update {
        municipality: municipality.clone(),
        seq,
        date: date(2026, 12, 1),
        event,
    }
}

pub fn pension() -> Requester {
    Requester {
        agency: "日本年金機構".into(),
        identity: "CN=nenkin-01, serial 0x1001".into(),
    }
}

pub const PURPOSE: &str = "年金・恩給の現況確認";

/// The server (with its key) drops its tree and logs the same records again (new salts:
/// another tree of the same size) — what a server that rewrote a record would have to do. The
/// server is restarted; its appender logs them within its tick.
pub fn rebuild_log_tree(net: &mut juki_net::local::LocalNetwork) {
    net.stop_server();
    net.sql(
        "DELETE FROM log_head; DELETE FROM log_node; \
         UPDATE provision SET salt = NULL, leaf_index = NULL, previous_leaf = NULL;",
    )
    .unwrap();
    net.start_server().unwrap();
}
