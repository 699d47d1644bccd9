//! The card core's memory as on a chip: RAM by `size_of` (the card's own state, its parts, the
//! I/O buffers; the generator table, a constant in flash, for its size), the persistent state
//! (NVM layout and what an issued card uses), and the worst-case stack of one command by stack
//! painting (tests/common/stack.rs), per kind of command; then the RAM total against a 16 KiB
//! chip.
//!
//! `cargo bench -p juki-card --bench memory` prints the report and writes
//! `target/juki-perf/memory.json`. Run as a test (`cargo test --benches`), it only checks the
//! stack-painting method: the numbers of an unoptimised build mean nothing for a chip.
//! The code size on the chip is `scripts/chip-size.sh` (chip/).
//!
//! The numbers are those of the host (x86_64, 64-bit pointers, the bench profile's opt-level 3),
//! a proxy for the chip's: `scripts/chip-size.sh` prints the `size_of` compiled for
//! thumbv7em-none-eabihf as well. Inlining decides which locals share a frame, so the stack
//! depends on the optimisation level: `CARGO_PROFILE_BENCH_OPT_LEVEL=z cargo bench -p juki-card
//! --bench memory` measures it as a size-optimised chip build would inline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/stack.rs"]
mod stack;

use std::fmt::Write as _;
use std::mem::size_of;
use std::path::Path;

use juki_card::basepoint::BasepointTable;
use juki_card::dispatch::Applet;
use juki_card::framing::Framing;
use juki_card::state::{CoreState, CORE_CAPACITY, CORE_LEN};
use juki_card::storage::{self, Storage, HEADER_LEN, RECORD_COUNT};
use juki_card::volatile::Volatile;
use juki_card::{sm, Card, Response, MAX_FRAMED_DATA, NVM_SIZE};
use rand_core::OsRng;
use stack::{NoNvm, BUDGET};

/// The largest command APDU the platform receives: header, extended Lc, data, extended Le.
const MAX_COMMAND_APDU: usize = 4 + 3 + MAX_FRAMED_DATA + 2;

struct Part {
    key: &'static str,
    what: &'static str,
    bytes: usize,
}

fn ram_parts() -> Vec<Part> {
    let own = size_of::<Card<NoNvm, OsRng>>();
    let with_test_nvm = size_of::<Card<common::TestNvm, OsRng>>() - size_of::<common::TestNvm>();
    vec![
        Part {
            key: "card",
            what: "Card (own RAM: no NVM, zero-sized RNG)",
            bytes: own,
        },
        Part {
            key: "card_test_nvm_minus_nvm",
            what: "Card<TestNvm, OsRng> − size_of::<TestNvm>()",
            bytes: with_test_nvm,
        },
        Part {
            key: "framing",
            what: "  framing::Framing (chain being joined, response waiting for GET RESPONSE)",
            bytes: size_of::<Framing>(),
        },
        Part {
            key: "applet",
            what: "  dispatch::Applet (all but the transport)",
            bytes: size_of::<Applet<NoNvm, OsRng>>(),
        },
        Part {
            key: "core_state",
            what: "    state::CoreState (RAM copy of the core record)",
            bytes: size_of::<CoreState>(),
        },
        Part {
            key: "storage",
            what: "    storage::Storage (the records' directory)",
            bytes: size_of::<Storage>(),
        },
        Part {
            key: "volatile",
            what: "    volatile::Volatile (selection, security status, SM session)",
            bytes: size_of::<Volatile>(),
        },
        Part {
            key: "sm_session",
            what: "      sm::SecureChannel (in Volatile)",
            bytes: size_of::<sm::SecureChannel>(),
        },
        Part {
            key: "response",
            what: "Response (the platform's response buffer, MAX_RESPONSE)",
            bytes: size_of::<Response>(),
        },
        Part {
            key: "command_apdu",
            what: "command APDU buffer (the platform's, largest extended APDU)",
            bytes: MAX_COMMAND_APDU,
        },
        Part {
            key: "basepoint_table",
            what: "basepoint::BasepointTable (GENERATOR_TABLE, a static: flash on a chip)",
            bytes: size_of::<BasepointTable>(),
        },
    ]
}

/// Content length of every record of an NVM image.
fn record_lengths(image: Vec<u8>) -> Vec<usize> {
    let nvm = common::TestNvm::from_image(image);
    let storage = Storage::mount(&nvm);
    (0..RECORD_COUNT as u8).map(|r| storage.len(r)).collect()
}

/// The NVM of `test-vectors/fixtures/issued-v1.img` (reader-sim image format 1: a 16-byte
/// header, the NVM, a SHA-256).
fn fixture_nvm() -> Option<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/fixtures/issued-v1.img");
    let bytes = std::fs::read(path).ok()?;
    (bytes.len() == 16 + NVM_SIZE + 32 && bytes.starts_with(b"JUKICARD"))
        .then(|| bytes[16..16 + NVM_SIZE].to_vec())
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_lengths(lengths: &[usize]) -> String {
    let content: usize = lengths.iter().sum();
    let records: Vec<String> = lengths
        .iter()
        .enumerate()
        .map(|(r, len)| {
            format!(
                "{{ \"record\": {r}, \"capacity\": {}, \"len\": {len} }}",
                storage::capacity(r as u8).unwrap_or(0)
            )
        })
        .collect();
    format!(
        "{{ \"content_bytes\": {content}, \"records\": [{}] }}",
        records.join(", ")
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches`: check the method only.
        for (name, known, measured) in stack::on_measuring_thread(stack::calibration) {
            assert!(measured >= known, "{name}: {measured} < {known}");
        }
        println!("memory: stack painting checked; run `cargo bench -p juki-card --bench memory`");
        return;
    }

    let mut json = String::from("{\n");
    let _ = writeln!(
        json,
        "  \"host\": {{ \"arch\": {}, \"pointer_bytes\": {}, \"profile\": {}, \"opt_level\": {} }},",
        json_string(std::env::consts::ARCH),
        size_of::<usize>(),
        json_string(if cfg!(debug_assertions) {
            "debug"
        } else {
            "bench (release)"
        }),
        json_string(option_env!("CARGO_PROFILE_BENCH_OPT_LEVEL").unwrap_or("3")),
    );

    // ---- RAM by size_of -----------------------------------------------------------------------
    println!(
        "juki card core: memory (host {}, size_of)",
        std::env::consts::ARCH
    );
    println!("\nRAM by size_of");
    let parts = ram_parts();
    for p in &parts {
        println!("  {:<84} {:>6} B", p.what, p.bytes);
    }
    let fields: Vec<String> = parts
        .iter()
        .map(|p| format!("\"{}\": {}", p.key, p.bytes))
        .collect();
    let _ = writeln!(json, "  \"ram_size_of\": {{ {} }},", fields.join(", "));
    let part = |key: &str| parts.iter().find(|p| p.key == key).map_or(0, |p| p.bytes);

    // ---- Persistent state ---------------------------------------------------------------------
    let layout = storage::used_nvm().unwrap_or(0);
    println!("\nPersistent state (NVM)");
    println!("  NVM_SIZE                                    {NVM_SIZE:>6} B");
    println!("  core record: capacity {CORE_CAPACITY} B, format 1 uses {CORE_LEN} B");
    println!(
        "  layout: {RECORD_COUNT} records × 2 slots × ({HEADER_LEN} B header + capacity) = {layout} B, {} B spare",
        NVM_SIZE - layout
    );

    // ---- Stack --------------------------------------------------------------------------------
    let (calibration, run) = stack::on_measuring_thread(|| {
        let calibration = stack::calibration();
        (calibration, stack::measure_commands())
    });

    let issued = record_lengths(run.image.clone());
    println!(
        "  issued card, 4 JPKI certificates of 2 KB: {} B of content in the records",
        issued.iter().sum::<usize>()
    );
    let fixture = fixture_nvm().map(record_lengths);
    if let Some(lengths) = &fixture {
        println!(
            "  fixture issued-v1.img (the `issue` transcript): {} B of content",
            lengths.iter().sum::<usize>()
        );
    }
    let _ = writeln!(
        json,
        "  \"persistent\": {{ \"nvm_size\": {NVM_SIZE}, \"core_capacity\": {CORE_CAPACITY}, \
         \"core_len\": {CORE_LEN}, \"record_header\": {HEADER_LEN}, \"layout_bytes\": {layout}, \
         \"spare_bytes\": {}, \"issued_with_certificates\": {}, \"fixture_issued_v1\": {} }},",
        NVM_SIZE - layout,
        json_lengths(&issued),
        fixture.as_deref().map_or("null".into(), json_lengths),
    );

    println!("\nStack of one Card::process, by stack painting");
    println!("  method check:");
    for (name, known, measured) in &calibration {
        println!("    {name:<34} known {known:>6} B, measured {measured:>6} B");
        assert!(
            measured >= known && *measured < known + 512,
            "stack painting is off: {name} measured {measured} B"
        );
    }
    let mut commands = Vec::new();
    for m in &run.measured {
        println!("  {:<62} {:04X} {:>6} B", m.name, m.sw, m.stack);
        commands.push(format!(
            "      {{ \"command\": {}, \"sw\": \"{:04X}\", \"table\": {}, \"boot\": {}, \"stack\": {} }}",
            json_string(&m.name),
            m.sw,
            m.table,
            m.boot,
            m.stack
        ));
    }
    let deepest = |table: bool| {
        run.measured
            .iter()
            .filter(|m| m.table == table && !m.boot)
            .max_by_key(|m| m.stack)
            .cloned()
            .expect("measured")
    };
    // The card as shipped multiplies the generator with its table; without it, for comparison.
    let worst = deepest(true);
    let worst_no_table = deepest(false);
    let boot = run
        .measured
        .iter()
        .filter(|m| m.boot)
        .map(|m| m.stack)
        .max()
        .unwrap_or(0);
    println!("  deepest command: {} ({} B)", worst.name, worst.stack);
    println!(
        "  deepest command without the table: {} ({} B)",
        worst_no_table.name, worst_no_table.stack
    );
    let cal: Vec<String> = calibration
        .iter()
        .map(|(name, known, measured)| {
            format!(
                "{{ \"function\": {}, \"known\": {known}, \"measured\": {measured} }}",
                json_string(name)
            )
        })
        .collect();
    let _ = writeln!(
        json,
        "  \"stack\": {{\n    \"method\": \"stack painting of {} bytes below the caller's stack pointer, in a thread of {} bytes\",\n    \"calibration\": [{}],\n    \"deepest\": {{ \"command\": {}, \"stack\": {} }},\n    \"deepest_without_table\": {{ \"command\": {}, \"stack\": {} }},\n    \"power_on\": {boot},\n    \"commands\": [\n{}\n    ]\n  }},",
        stack::PAINTED,
        stack::THREAD_STACK,
        cal.join(", "),
        json_string(&worst.name),
        worst.stack,
        json_string(&worst_no_table.name),
        worst_no_table.stack,
        commands.join(",\n"),
    );

    // ---- Total --------------------------------------------------------------------------------
    // The card's state lives for the whole session; on top of it the stack of one command, or
    // of the power-on (which builds the Card before it is moved into place).
    let card = part("card");
    let peak_stack = worst.stack.max(boot);
    let core_total = card + peak_stack;
    let io = part("response") + part("command_apdu");
    let with_io = core_total + io;
    let verdict = |total: usize| {
        if total <= BUDGET {
            format!("fits, {} B spare", BUDGET - total)
        } else {
            format!("does NOT fit, {} B over", total - BUDGET)
        }
    };
    println!("\nRAM total (the generator table is in flash), budget {BUDGET} B");
    println!(
        "  Card {card} + deepest stack {peak_stack} (max of commands {}, power-on {boot}) = {core_total} B: {}",
        worst.stack,
        verdict(core_total)
    );
    println!(
        "  + the platform's I/O buffers: Response {} + command APDU {} = {with_io} B: {}",
        part("response"),
        part("command_apdu"),
        verdict(with_io)
    );
    println!(
        "  (a host proxy: {} at opt-level {}; a chip build has other frames, and size_of with \
         32-bit pointers: scripts/chip-size.sh)",
        std::env::consts::ARCH,
        option_env!("CARGO_PROFILE_BENCH_OPT_LEVEL").unwrap_or("3"),
    );
    let _ = writeln!(
        json,
        "  \"ram_total\": {{ \"budget\": {BUDGET}, \"card\": {card}, \"stack\": {peak_stack}, \
         \"card_plus_deepest_stack\": {core_total}, \"fits\": {}, \"io_buffers\": {io}, \
         \"with_io_buffers\": {with_io}, \"fits_with_io_buffers\": {} }}",
        core_total <= BUDGET,
        with_io <= BUDGET
    );
    json.push_str("}\n");

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/juki-perf");
    std::fs::create_dir_all(&dir).expect("create target/juki-perf");
    let out = dir.join("memory.json");
    std::fs::write(&out, json).expect("write memory.json");
    println!("\nwrote {}", out.display());
}
