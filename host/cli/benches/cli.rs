//! Whole `juki` commands timed as processes through the real PC/SC stack (pcscd + vpcd, the card
//! served by `juki_reader_sim::VpcdServer` in "Virtual PCD 00 00"), as a citizen or a clerk
//! runs them: process start, PC/SC connection, PIN from standard input, the card's APDUs, the
//! output. `juki counter issue` gets a new initialised card each run (the swap is not timed).
//!
//! Median and fastest of a few runs go to `target/juki-perf/cli.json` (docs/performance.md).
//! Needs pcscd with vpcd (skipped without it, fails with JUKI_PCSC=1).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::pcsc::{juki_card, pcsc_or_skip, Served};
use common::world::{lines, world};
use common::{ok, path_str as s};
use juki_host::card::JukiCard;
use juki_host::sim_transport::SimTransport;

const RUNS: usize = 10;

/// Median and fastest of `times`.
fn summary(name: &str, mut times: Vec<Duration>) -> serde_json::Value {
    times.sort();
    let median = times[times.len() / 2];
    let fastest = times[0];
    println!(
        "{name:<28} median {:>8.1} ms   fastest {:>8.1} ms   ({} runs)",
        median.as_secs_f64() * 1e3,
        fastest.as_secs_f64() * 1e3,
        times.len()
    );
    serde_json::json!({
        "median_ns": median.as_nanos() as f64,
        "fastest_ns": fastest.as_nanos() as f64,
        "runs": times.len(),
    })
}

/// Times `juki --reader "Virtual PCD 00 00" ARGS` with `stdin`, checking that it succeeds.
fn time(args: &[&str], stdin: &str) -> Duration {
    let started = Instant::now();
    let out = juki_card(args, stdin);
    let took = started.elapsed();
    ok(out);
    took
}

fn main() {
    if !pcsc_or_skip() {
        return;
    }
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    let dir = w.image.parent().unwrap().to_path_buf();
    let cred = dir.join("cred");
    w.cred.save(&cred).unwrap();
    let document = dir.join("application.txt");
    std::fs::write(&document, "電子申請書: 転出届\n".repeat(100)).unwrap();
    let mut results = serde_json::Map::new();

    // The citizen's commands on the issued card.
    let mut served = Served::start(&w.image);
    let citizen: [(&str, Vec<&str>, &str); 3] = [
        ("juki status", vec!["status"], ""),
        ("juki info", vec!["info"], "2580\n"),
        ("juki sign", vec!["sign", s(&document)], "JUKI2026\n"),
    ];
    for (name, args, stdin) in &citizen {
        time(args, stdin); // once unmeasured: a failure stops here
        let times = (0..RUNS).map(|_| time(args, stdin)).collect();
        results.insert((*name).into(), summary(name, times));
    }
    served.stop();

    // The counter's: issuing a card, each time onto a new initialised card.
    let data = s(&w.data).to_string();
    let mut times = Vec::new();
    for i in 0..RUNS / 2 {
        let image = dir.join(format!("blank-{i}.img"));
        let mut card = JukiCard::new(SimTransport::create(&image).unwrap());
        let serial = format!("JK-B{i:03}");
        w.root
            .manufacture(&mut card, &serial, common::world::today())
            .unwrap();
        drop(card);
        let mut served = Served::start(&image);
        let birth = format!("1990-01-{:02}", i + 1);
        let args = [
            "counter",
            "--counter-dir",
            &data,
            "issue",
            "--operator",
            "tanaka",
            "--credential",
            s(&cred),
            "--name",
            "住基 三郎",
            "--address",
            "東京都千代田区千代田1-1",
            "--birth",
            &birth,
            "--sex",
            "1",
            "--serial",
            &serial,
        ];
        times.push(time(&args, "tanaka-pw1\n2580\n1357\nJUKI2026\n"));
        served.stop();
    }
    results.insert(
        "juki counter issue".into(),
        summary("juki counter issue", times),
    );

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/juki-perf");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join("cli.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::Value::Object(results)).unwrap(),
    )
    .unwrap();
    eprintln!("wrote {}", path.display());
}
