//! The host under faults, through the REAL PC/SC stack (pcscd + vpcd, the card served by
//! `juki_reader_sim::VpcdServer`): the card pulled or swapped in the middle of a counter
//! operation, the simulator stopped in the middle of the card step. Each gives a clear error
//! (and exit code), the counter's database stays consistent (audit trail intact, nothing
//! recorded as done that was not, an interrupted card step listed as pending), and a retry
//! works. (pcscd itself restarted under a running `juki` is in scripts/test.sh, which owns
//! pcscd.) Like tests/pcsc.rs: `JUKI_PCSC=1` makes a missing pcscd FAIL.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use juki_cli::pin_input::{Pin, PinPrompter};
use juki_counter::journal::JournalState;
use juki_counter::{CounterDb, Session, UpdateRequest};
use juki_host::authority::CounterCredential;
use juki_host::card::JukiCard;
use juki_host::date;
use juki_host::pcsc_transport::PcscTransport;
use juki_host::transport::Transport;
use juki_host::{Error, Result};
use juki_reader_sim::server::FIRST_READER_NAME;

mod common;

use common::pcsc::{juki_card_command, lock_or_skip, Served};
use common::{fails, ok, path_str as s, root_and_chiyoda, run, text};

/// `juki --reader "Virtual PCD 00 00" ARGS` on the real clock, no inherited settings.
fn juki(args: &[&str], stdin: &str) -> Output {
    run(&mut command(args), stdin)
}

fn command(args: &[&str]) -> std::process::Command {
    let mut cmd = juki_card_command(args);
    cmd.env_remove("JUKI_TODAY")
        .env_remove("JUKI_COUNTER_DIR")
        .env_remove("JUKI_CA_DIR");
    cmd
}

/// A `juki` process fed one line at a time, its standard error watched for prompts.
struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: mpsc::Receiver<String>,
    seen: String,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run juki");
        let stdin = child.stdin.take();
        let mut err = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        Running {
            child,
            stdin,
            stderr: rx,
            seen: String::new(),
        }
    }

    fn line(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(format!("{text}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until `needle` appeared on standard error (a prompt: the process waits for input).
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(_) => panic!("no {needle:?} on stderr; got:\n{}", self.seen),
            }
        }
    }

    /// Closes standard input and waits: (exit code, stdout, stderr).
    fn finish(mut self) -> (Option<i32>, String, String) {
        drop(self.stdin.take());
        let mut out = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            o.read_to_string(&mut out).unwrap();
        }
        let status = self.child.wait().unwrap();
        while let Ok(chunk) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            self.seen.push_str(&chunk);
        }
        (status.code(), out, self.seen)
    }
}

struct World {
    tmp: tempfile::TempDir,
}

impl World {
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn counter_args<'a>(&'a self, sub: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let data = self.path("counter-data");
        let cred = self.path("cred");
        let mut args = vec![
            "counter",
            "--counter-dir",
            leak(data),
            sub,
            "--credential",
            leak(cred),
            "--operator",
            "tanaka",
        ];
        args.extend_from_slice(extra);
        args
    }

    fn counter(&self, sub: &str, extra: &[&str], stdin: &str) -> Output {
        juki(&self.counter_args(sub, extra), stdin)
    }

    fn plain(&self, args: &[&str]) -> Output {
        self.plain_with(args, "")
    }

    fn plain_with(&self, args: &[&str], stdin: &str) -> Output {
        let data = self.path("counter-data");
        let mut all = vec!["counter", "--counter-dir", leak(data)];
        all.extend_from_slice(args);
        juki(&all, stdin)
    }

    fn db(&self) -> CounterDb {
        CounterDb::open(&self.path("counter-data")).unwrap()
    }
}

/// Test paths as `&'static str` (a few bytes per test).
fn leak(p: PathBuf) -> &'static str {
    Box::leak(p.into_os_string().into_string().unwrap().into_boxed_str())
}

/// The national root, the 千代田区 counter with operator tanaka, and blank images initialised
/// and issued (住基 PIN 2580) as cards `serials`, in the virtual reader one after the other.
fn setup(serials: &[&str]) -> World {
    let w = World {
        tmp: tempfile::tempdir().unwrap(),
    };
    let root = w.path("root");
    root_and_chiyoda(w.tmp.path(), juki);
    ok(w.plain_with(
        &[
            "operator",
            "add",
            "--name",
            "tanaka",
            "--credential",
            leak(w.path("cred")),
        ],
        "tanaka-pw1\n",
    ));
    for serial in serials {
        let image = w.path(&format!("{serial}.img"));
        juki_reader_sim::SimCard::create(&image).unwrap();
        let _served = Served::start(&image);
        ok(juki(
            &["card", "init", "--root", s(&root), "--serial", serial],
            "",
        ));
        ok(w.counter(
            "issue",
            &[
                "--name",
                "住基 花子",
                "--address",
                "東京都千代田区千代田1-1",
                "--birth",
                "1985-04-15",
                "--sex",
                "2",
                "--serial",
                serial,
            ],
            "tanaka-pw1\n2580\n1357\nJUKI2026\n",
        ));
    }
    w
}

fn image(w: &World, serial: &str) -> PathBuf {
    w.path(&format!("{serial}.img"))
}

/// The records are consistent: the audit chain verifies and nothing is left pending.
fn records_consistent(w: &World) {
    ok(w.plain(&["audit", "verify"]));
    let pending = ok(w.plain(&["pending"]));
    assert!(pending.contains("No unfinished operations"), "{pending}");
}

#[test]
fn card_pulled_or_swapped_during_an_update() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let w = setup(&["JK-0001", "JK-0002"]);
    let update = w.counter_args(
        "update",
        &["--address", "東京都千代田区永田町1-7-1", "--reason", "転居"],
    );

    // Pulled: the clerk's counter has read the card and asks for the resident's PIN; the card
    // is taken out before it is entered.
    let mut served = Served::start(&image(&w, "JK-0001"));
    let mut p = Running::start(&update);
    p.line("tanaka-pw1");
    p.wait_for("Enter the resident card PIN");
    served.stop();
    p.line("2580");
    let (code, _, err) = p.finish();
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("was removed from reader"), "{err}");
    records_consistent(&w);
    let history = ok(w.plain(&["audit", "show", "--card", "JK-0001"]));
    assert!(!history.contains("update ok"), "{history}");

    // Swapped: another resident's card is put in while the PIN is asked. The connection was to
    // the card that left: nothing is sent to the other one.
    let mut served = Served::start(&image(&w, "JK-0001"));
    let mut p = Running::start(&update);
    p.line("tanaka-pw1");
    p.wait_for("Enter the resident card PIN");
    served.stop();
    let other = Served::start(&image(&w, "JK-0002"));
    p.line("2580");
    let (code, _, err) = p.finish();
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("was removed from reader"), "{err}");
    // Neither card was changed.
    let info = ok(juki(&["info"], "2580\n"));
    assert!(info.contains("東京都千代田区千代田1-1"), "{info}");
    drop(other);
    records_consistent(&w);

    // The retry, with the right card back, works.
    let _served = Served::start(&image(&w, "JK-0001"));
    ok(juki(&update, "tanaka-pw1\n2580\n"));
    let info = ok(juki(&["info"], "2580\n"));
    assert!(info.contains("東京都千代田区永田町1-7-1"), "{info}");
    records_consistent(&w);
}

/// A transport over the real reader that stops the simulator (the card leaves the reader)
/// right after the card answered the first command with instruction `ins`.
struct PullAfter<'a> {
    inner: PcscTransport,
    served: &'a mut Served,
    ins: u8,
    pulled: bool,
}

impl Transport for PullAfter<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let answer = self.inner.transmit(apdu)?;
        if !self.pulled && apdu.get(1) == Some(&self.ins) {
            self.pulled = true;
            self.served.stop();
        }
        Ok(answer)
    }
    fn supports_extended_length(&self) -> bool {
        self.inner.supports_extended_length()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        // No PC/SC transaction: the simulator must be able to leave in the middle.
        f(self)
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

#[test]
fn simulator_stopped_in_the_middle_of_the_card_step() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let w = setup(&["JK-0003"]);
    let cred = CounterCredential::load(&w.path("cred")).unwrap();
    let m = cred.municipality.clone();
    let today = date::today().unwrap();
    let request = UpdateRequest {
        address: Some("大阪府大阪市北区中之島1-3-20".into()),
        name: None,
        reason: "転出".into(),
        date: None,
    };

    // The card leaves the reader after the first of the update's two writes.
    let mut served = Served::start(&image(&w, "JK-0003"));
    let mut session =
        Session::login(w.db(), &m, "tanaka", &Pin::from("tanaka-pw1"), today).unwrap();
    let transport = PcscTransport::connect(Some(FIRST_READER_NAME)).unwrap();
    let mut card = JukiCard::new(PullAfter {
        inner: transport,
        served: &mut served,
        ins: 0xD6,
        pulled: false,
    });
    let err = session
        .update(
            &mut card,
            &cred,
            &request,
            &mut PinPrompter::scripted("2580\n"),
        )
        .unwrap_err();
    assert!(
        matches!(
            err.host(),
            Some(Error::CardRemoved { .. } | Error::ReaderLost { .. })
        ),
        "{err}"
    );
    drop(card);
    drop(session);
    // Nobody knows whether the card finished: the operation is pending, nothing recorded as
    // done, the audit trail intact.
    let db = w.db();
    let open = db.journal().unfinished().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].state, JournalState::Pending);
    assert!(db.audit().verify().unwrap().is_intact());
    drop(db);
    let (stdout, stderr) = text(&w.plain(&["pending"]));
    assert!(stdout.contains("update"), "{stdout}{stderr}");

    // The card back: the clerk closes the operation (juki cannot confirm an update), then
    // redoes it, and the card holds the new address with its change information.
    let _served = Served::start(&image(&w, "JK-0003"));
    let id = open[0].id.value().to_string();
    ok(juki(
        &[
            "counter",
            "--counter-dir",
            s(&w.path("counter-data")),
            "pending",
            "resolve",
            &id,
            "--note",
            "card pulled during the update; redone",
            "--operator",
            "tanaka",
        ],
        "tanaka-pw1\n",
    ));
    records_consistent(&w);
    ok(w.counter(
        "update",
        &[
            "--address",
            "大阪府大阪市北区中之島1-3-20",
            "--reason",
            "転出",
        ],
        "tanaka-pw1\n2580\n",
    ));
    let info = ok(juki(&["info"], "2580\n"));
    assert!(
        info.contains("大阪府大阪市北区中之島1-3-20") && info.contains("転出"),
        "{info}"
    );
    records_consistent(&w);
    // And without any card the CLI says so clearly.
    drop(_served);
    fails(juki(&["status"], ""), 5, "card");
}
