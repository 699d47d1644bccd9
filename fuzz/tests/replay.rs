//! Replays every file of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` through the
//! target's function, on any toolchain: the stable fallback of `scripts/fuzz.sh`, and what keeps
//! the crashes found as regression tests. A file that makes its target panic, or run longer than
//! [`HANG`], fails the test, named in the message (a hanging input's thread is left behind; it
//! ends with the test process).

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// An input that runs longer than this hangs (the slowest seed takes well under a second).
const HANG: Duration = Duration::from_secs(20);

/// Runs `run(data)` on its own thread: `Ok` if it returned, `Err` with why not.
fn run_one(run: fn(&[u8]), data: Vec<u8>) -> Result<(), &'static str> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&data)));
        let _ = tx.send(outcome.is_ok());
    });
    match rx.recv_timeout(HANG) {
        Ok(true) => Ok(()),
        Ok(false) | Err(mpsc::RecvTimeoutError::Disconnected) => Err("panics"),
        Err(mpsc::RecvTimeoutError::Timeout) => Err("hangs"),
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') || n.ends_with(".md"))
        })
        .collect();
    out.sort();
    out
}

fn replay(target: &str) {
    let (_, run) = juki_fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("known target");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = files(&root.join("corpus").join(target));
    let regressions = files(&root.join("regressions").join(target));
    assert!(
        !corpus.is_empty(),
        "no seed corpus in fuzz/corpus/{target}/ (run the seeds binary)"
    );
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(why) = run_one(*run, data) {
            failed.push(format!("{} ({why})", path.display()));
        }
    }
    println!(
        "{target}: replayed {} corpus and {} regression inputs",
        corpus.len(),
        regressions.len()
    );
    assert!(
        failed.is_empty(),
        "{target}: {} input(s) fail (the panic messages are above):\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
}

#[test]
fn apdu_parser() {
    replay("apdu_parser");
}

#[test]
fn card_sequence() {
    replay("card_sequence");
}

#[test]
fn vpcd_frames() {
    replay("vpcd_frames");
}

#[test]
fn host_card() {
    replay("host_card");
}

#[test]
fn host_certificates() {
    replay("host_certificates");
}

#[test]
fn net_requests() {
    replay("net_requests");
}

#[test]
fn log_answers() {
    replay("log_answers");
}

#[test]
fn every_target_is_replayed() {
    let names: Vec<&str> = juki_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "apdu_parser",
            "card_sequence",
            "vpcd_frames",
            "host_card",
            "host_certificates",
            "net_requests",
            "log_answers"
        ]
    );
}
