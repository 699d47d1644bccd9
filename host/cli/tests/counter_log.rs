//! Every counter is a monitor of 住基ネット's provision log, and anchors its audit trail in it;
//! an auditor checks the whole log (docs/log.md, "Monitors at the counters", "Anchors", "The
//! auditor's command"). A real PostgreSQL and the national server over mutual TLS
//! (`juki_net::local::LocalNetwork`); the `juki` binary where the CLI is the subject:
//!
//! - `juki counter net sync` follows the log and anchors the trail; a sync with nothing new
//!   keeps the state; without `log.pub` it says that the log is not monitored;
//! - a provision row altered in PostgreSQL before the counter's first check is reported by the
//!   sync (exit 10, an audit record, deliveries kept) and by `juki net log audit`;
//! - a tree rebuilt by the server is refused as a fork by a counter that checked the old head,
//!   and by `juki net log audit --head OLD`;
//! - a trail rewritten past an anchored head (every hash recomputed) passes
//!   `juki counter audit verify` but not `juki counter audit verify --node --server` (exit 8).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use juki_cli::pin_input::Pin;
use juki_counter::log_watch::{kept_head, last_anchor};
use juki_counter::session::add_first_operator;
use juki_counter::{Actor, CounterDb, Operation, Outcome};
use juki_host::date::Date;
use juki_host::resident::{FourInfo, MunicipalityCode, Sex};
use juki_net::client::NetClient;
use juki_net::local::LocalNetwork;
use juki_net::pki::Role;
use juki_net::provision_log::LOG_PUB_FILE;
use juki_net::register::{Event, Update};

mod common;

use common::network::{code, pension, PURPOSE};
use common::{path_str, run, text};

fn chiyoda() -> MunicipalityCode {
    MunicipalityCode::parse("131016").unwrap()
}

fn kita() -> MunicipalityCode {
    MunicipalityCode::parse("271276").unwrap()
}

fn new_resident(municipality: &MunicipalityCode, seq: u64, n: u64) -> Update {
    Update {
        municipality: municipality.clone(),
        seq,
        date: Date::from_ymd(2026, 4, 1).unwrap(),
        event: Event::New {
            code: code(n),
            info: FourInfo::new(
                &format!("提供 {n}"),
                "大阪府大阪市北区1",
                Date::from_ymd(1980, 4, 1).unwrap(),
                Sex::Female,
            )
            .unwrap(),
        },
    }
}

/// The network with 8 residents of 大阪市北区 (delivered by its node), the pension agency, and
/// 千代田区's counter (operator tanaka; one audit record) with its node.
struct World {
    net: LocalNetwork,
    dir: tempfile::TempDir,
    data: PathBuf,
    node: PathBuf,
    pension_node: PathBuf,
    pension: NetClient,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let net = LocalNetwork::start(&dir.path().join("net")).unwrap();
    let node = net.node("chiyoda", &Role::Municipality(chiyoda())).unwrap();
    let kita_node = net.node("kita", &Role::Municipality(kita())).unwrap();
    let pension_node = pension(&net);
    let mut kita_client = NetClient::from_dir(&kita_node, &net.address()).unwrap();
    let updates: Vec<_> = (1..=8).map(|n| new_resident(&kita(), n, n)).collect();
    kita_client.send_updates(&updates).unwrap();
    let pension = NetClient::from_dir(&pension_node, &net.address()).unwrap();
    let data = dir.path().join("chiyoda");
    let db = CounterDb::open(&data).unwrap();
    add_first_operator(&db, &chiyoda(), "tanaka", &Pin::from("tanaka-pw1")).unwrap();
    World {
        net,
        dir,
        data,
        node,
        pension_node,
        pension,
    }
}

impl World {
    /// The pension agency is given residents `ns` (each a provision).
    fn confirm(&mut self, ns: impl IntoIterator<Item = u64>) {
        for n in ns {
            self.pension.confirm(&code(n), PURPOSE).unwrap();
        }
    }

    /// Waits (at most 10 s, polling) until the log has exactly `size` leaves; its head.
    fn logged(&mut self, size: u64) -> juki_log::SignedTreeHead {
        let start = Instant::now();
        loop {
            if let Some(head) = self.pension.log_head().unwrap() {
                if head.head.size >= size {
                    assert_eq!(
                        head.head.size, size,
                        "the log has more leaves than expected"
                    );
                    return head;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(10), "not logged");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn sql(&self, statement: &str) {
        self.net.block_on(async {
            let client = self.net.register().db().client().await.unwrap();
            client.batch_execute(statement).await.unwrap();
        });
    }

    fn juki(&self, lang: &str, args: &[&str]) -> Output {
        run(
            Command::new(env!("CARGO_BIN_EXE_juki"))
                .env("LANG", lang)
                .args(args),
            "",
        )
    }

    /// `juki counter net sync` at 千代田区.
    fn sync(&self, lang: &str) -> Output {
        self.juki(
            lang,
            &[
                "counter",
                "--counter-dir",
                path_str(&self.data),
                "net",
                "sync",
                "--node",
                path_str(&self.node),
                "--server",
                &self.net.address(),
            ],
        )
    }

    /// `juki counter audit verify`, plain or against the anchors in the log.
    fn audit_verify(&self, against_log: bool) -> Output {
        let server = self.net.address();
        let mut args = vec![
            "counter",
            "--counter-dir",
            path_str(&self.data),
            "audit",
            "verify",
        ];
        if against_log {
            args.extend(["--node", path_str(&self.node), "--server", &server]);
        }
        self.juki("C", &args)
    }

    /// `juki net log audit` by the pension agency (an auditor), with a head shown elsewhere.
    fn log_audit(&self, head: Option<&Path>) -> Output {
        let server = self.net.address();
        let mut args = vec![
            "net",
            "log",
            "audit",
            "--node",
            path_str(&self.pension_node),
            "--server",
            &server,
        ];
        if let Some(h) = head {
            args.extend(["--head", path_str(h)]);
        }
        self.juki("C", &args)
    }

    /// The anchors the server lists for 千代田区 (asked through its node).
    fn anchors(&self) -> Vec<juki_net::api::log::AnchorJson> {
        NetClient::from_dir(&self.node, &self.net.address())
            .unwrap()
            .anchors(None)
            .unwrap()
    }

    fn db(&self) -> CounterDb {
        CounterDb::open(&self.data).unwrap()
    }
}

#[track_caller]
fn ok(out: Output) -> String {
    common::ok(out)
}

/// The exit code and both outputs, stdout then stderr.
#[track_caller]
fn failed(out: Output, code: i32) -> (String, String) {
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn the_counter_follows_the_log_and_anchors_its_trail() {
    let started = Instant::now();
    let mut w = world();

    // The log is empty: nothing to check yet; the trail (the operator's registration) is
    // anchored.
    let out = ok(w.sync("C"));
    assert!(out.contains("provision log is still empty"), "{out}");
    assert!(
        out.contains("anchored in 住基ネット's provision log (anchor"),
        "{out}"
    );
    let (_, anchored) = last_anchor(&w.db()).unwrap().unwrap();
    assert_eq!(anchored, w.db().audit().head().unwrap());
    assert_eq!(kept_head(&w.db()).unwrap(), None);

    // Three provisions and the anchor are logged: the first check covers the four leaves.
    w.confirm(1..=3);
    let head = w.logged(4);
    let out = ok(w.sync("C"));
    assert!(
        out.contains("provision log checked: 4 entries (4 checked now)"),
        "{out}"
    );
    assert!(out.contains("has not grown since its last anchor"), "{out}");
    let kept = kept_head(&w.db()).unwrap().unwrap();
    assert_eq!(
        (kept.size, kept.head.as_str()),
        (4, head.to_text().as_str())
    );
    let records = w.db().audit().head().unwrap().seq;

    // Nothing new: the same state, and no new audit record or anchor.
    let out = ok(w.sync("C"));
    assert!(out.contains("4 entries (unchanged)"), "{out}");
    let again = kept_head(&w.db()).unwrap().unwrap();
    assert_eq!((again.size, again.head), (kept.size, kept.head));
    assert_eq!(w.db().audit().head().unwrap().seq, records);
    assert_eq!(w.anchors().len(), 1);

    // More provisions: the monitor advances with a consistency proof, checking the new
    // entries only.
    w.confirm(4..=5);
    w.logged(6);
    let out = ok(w.sync("C"));
    assert!(
        out.contains("appended only, from 4 to 6 entries (2 checked now)"),
        "{out}"
    );

    // The trail agrees with its anchor, which is proven in the log the counter checked.
    let out = ok(w.audit_verify(true));
    assert!(out.contains("the audit trail is intact"), "{out}");
    assert!(
        out.contains("1 anchors in 住基ネット: all agree with the audit trail (1 proven"),
        "{out}"
    );

    // `juki counter net status` shows what was accepted and anchored.
    let out = ok(w.juki(
        "C",
        &[
            "counter",
            "--counter-dir",
            path_str(&w.data),
            "net",
            "status",
        ],
    ));
    assert!(out.contains("checked up to 6 entries"), "{out}");
    assert!(out.contains(&format!("(audit trail {anchored})")), "{out}");

    // Without the log's key in the node directory, the sync says the log is not monitored.
    std::fs::remove_file(w.node.join(LOG_PUB_FILE)).unwrap();
    let out = ok(w.sync("C"));
    assert!(out.contains("provision log is not monitored"), "{out}");
    let out = ok(w.sync("ja_JP.UTF-8"));
    assert!(out.contains("提供記録の監視は設定されていません"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn an_altered_provision_is_reported_by_the_next_sync_and_by_the_auditor() {
    let started = Instant::now();
    let mut w = world();
    w.confirm(1..=6);
    w.logged(6);
    // An update waits at the counter: it is delivered whatever the log check finds.
    let mut db = w.db();
    db.transaction(|tx| {
        tx.outbox().enqueue(
            &chiyoda(),
            Date::from_ymd(2026, 4, 1).unwrap(),
            new_resident(&chiyoda(), 1, 901).event,
        )
    })
    .unwrap();
    drop(db);
    // The purpose of one provision is rewritten in PostgreSQL before this counter ever checked
    // the log: its first check recomputes every entry.
    w.sql("UPDATE provision SET purpose = '恩給の裁定' WHERE leaf_index = 2");

    let (stdout, stderr) = failed(w.sync("ja_JP.UTF-8"), 10);
    // The clerk reads it first thing, in Japanese.
    assert!(
        stderr.starts_with("juki: エラー: 住基ネットの提供記録の改ざん・分岐を検知しました"),
        "{stderr}"
    );
    assert!(stderr.contains("leaves 0..6"), "{stderr}");
    assert!(stdout.contains("反映されたもの: 1 件"), "{stdout}");
    // Delivered all the same; nothing accepted, nothing anchored; the refusal is on record.
    assert_eq!(
        w.net
            .block_on(w.net.register().last_seq(&chiyoda()))
            .unwrap(),
        1
    );
    let db = w.db();
    assert_eq!(kept_head(&db).unwrap(), None);
    assert_eq!(last_anchor(&db).unwrap(), None);
    let last = db.audit().records().unwrap().pop().unwrap();
    assert_eq!(last.operation, "net-sync");
    assert!(
        matches!(&last.outcome, Outcome::Failed(r) if r.contains("改ざん・分岐") && r.contains("0..6")),
        "{last}"
    );
    assert!(stdout.contains(&format!("#{}", last.seq)), "{stdout}");
    assert!(db.audit().verify().unwrap().is_intact());
    drop(db);

    // The auditor's command catches it too (English: the Japanese statement first).
    let (_, stderr) = failed(w.log_audit(None), 10);
    assert!(
        stderr.contains(
            "住基ネットの提供記録の改ざん・分岐を検知しました (住基ネット's provision log"
        ),
        "{stderr}"
    );
    // Put back, both accept the log.
    w.sql(&format!(
        "UPDATE provision SET purpose = '{PURPOSE}' WHERE leaf_index = 2"
    ));
    let out = ok(w.log_audit(None));
    assert!(
        out.contains("whole provision log audited: 6 entries"),
        "{out}"
    );
    let out = ok(w.sync("C"));
    assert!(out.contains("checked: 6 entries (6 checked now)"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_rebuilt_tree_is_a_fork_for_the_counter_and_for_the_auditor_shown_the_old_head() {
    let started = Instant::now();
    let mut w = world();
    w.confirm(1..=4);
    w.logged(4);
    let out = ok(w.sync("C"));
    assert!(out.contains("checked: 4 entries"), "{out}");
    w.logged(5); // the counter's anchor
    let out = ok(w.sync("C"));
    assert!(out.contains("from 4 to 5 entries"), "{out}");
    // Someone is shown the head of size 5 (`juki net log head`) and keeps it.
    let old_head = ok(w.juki(
        "C",
        &[
            "net",
            "log",
            "head",
            "--node",
            path_str(&w.pension_node),
            "--server",
            &w.net.address(),
        ],
    ));
    let old_file = w.dir.path().join("old-head.txt");
    std::fs::write(&old_file, &old_head).unwrap();
    let kept = kept_head(&w.db()).unwrap().unwrap();
    assert_eq!(kept.head, old_head.trim());

    // The server (with its key) drops its tree and logs the same records again: new salts,
    // the same size, another root.
    w.net.stop_server();
    w.sql(
        "DELETE FROM log_head; DELETE FROM log_node; \
         UPDATE provision SET salt = NULL, leaf_index = NULL; \
         UPDATE audit_anchor SET salt = NULL, leaf_index = NULL;",
    );
    w.net.start_server().unwrap();
    let forked = w.logged(5);
    assert_ne!(forked.to_text(), old_head.trim());

    // The counter that checked the old head refuses the new one: exit 10, on record, the old
    // head kept.
    let records = w.db().audit().head().unwrap().seq;
    let (_, stderr) = failed(w.sync("C"), 10);
    assert!(
        stderr.contains("fork: two signed tree heads of size 5"),
        "{stderr}"
    );
    let db = w.db();
    assert_eq!(db.audit().head().unwrap().seq, records + 1);
    let last = db.audit().record(records + 1).unwrap().unwrap();
    assert!(
        matches!(&last.outcome, Outcome::Failed(r) if r.contains("fork")),
        "{last}"
    );
    assert_eq!(kept_head(&db).unwrap().unwrap().head, kept.head);
    drop(db);

    // A fresh auditor alone trusts what it sees first; shown the old head, it catches the
    // fork.
    let out = ok(w.log_audit(None));
    assert!(out.contains("audited: 5 entries"), "{out}");
    let (_, stderr) = failed(w.log_audit(Some(&old_file)), 10);
    assert!(stderr.contains("fork"), "{stderr}");
    // A head that is not one is refused as such (exit 1).
    std::fs::write(&old_file, "not a head").unwrap();
    let (_, stderr) = failed(w.log_audit(Some(&old_file)), 1);
    assert!(stderr.contains("is not a signed head"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// What an attacker with the SQLite file does: changes record `k`'s detail and recomputes every
/// hash after it and the head pointer, so that the file alone holds together.
fn rewrite_trail(data: &Path, k: u64) {
    let records = CounterDb::open(data).unwrap().audit().records().unwrap();
    let conn = rusqlite::Connection::open(data.join("counter.db")).unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_no_update;")
        .unwrap();
    let mut prev = records[(k - 2) as usize].hash;
    for mut r in records.into_iter().skip((k - 1) as usize) {
        if r.seq == k {
            r.detail = "nothing happened here".into();
        }
        r.prev_hash = prev;
        r.hash = r.compute_hash();
        conn.execute(
            "UPDATE audit_log SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![
                r.detail,
                hex::encode(r.prev_hash),
                hex::encode(r.hash),
                r.seq as i64
            ],
        )
        .unwrap();
        prev = r.hash;
    }
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'audit_head_hash'",
        [hex::encode(prev)],
    )
    .unwrap();
}

#[test]
fn a_trail_rewritten_past_its_anchor_passes_alone_and_is_caught_against_the_log() {
    let started = Instant::now();
    let mut w = world();
    let db = w.db();
    for detail in [
        "identified JK-0001",
        "identified JK-0002",
        "identified JK-0003",
    ] {
        db.audit()
            .append(&juki_counter::audit::AuditEntry {
                actor: Actor {
                    municipality: &chiyoda(),
                    operator: "tanaka",
                },
                card_serial: None,
                operation: Operation::Identify,
                outcome: Outcome::Ok,
                detail,
            })
            .unwrap();
    }
    drop(db);
    let out = ok(w.sync("C"));
    assert!(out.contains("(up to record 4) was anchored"), "{out}");
    w.logged(1);
    // The anchor is logged (leaf 0), a provision after it; `audit verify --node` runs the
    // counter's monitor first and proves the anchor in the head it accepts.
    w.confirm([1]);
    w.logged(2);
    let out = ok(w.audit_verify(true));
    assert!(out.contains("1 proven"), "{out}");

    // Record 3 rewritten, every hash after it recomputed: the file alone holds together…
    rewrite_trail(&w.data, 3);
    let out = ok(w.audit_verify(false));
    assert!(
        out.contains("4 records checked: the audit trail is intact"),
        "{out}"
    );
    // …but not against the head anchored in 住基ネット.
    let (_, stderr) = failed(w.audit_verify(true), 8);
    assert!(
        stderr.contains("record 4 differs from the head anchored in 住基ネット"),
        "{stderr}"
    );
    // Nor is the rewritten head anchored by the next sync.
    let (_, stderr) = failed(w.sync("C"), 8);
    assert!(stderr.contains("differs from the noted head"), "{stderr}");
    assert_eq!(w.anchors().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(30));
}
