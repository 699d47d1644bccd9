//! Writes the measured tables of docs/performance.md from one run of the benchmarks
//! (`scripts/bench.sh`): criterion's estimates in target/criterion and the benchmarks' own
//! results in target/juki-perf. Replaces what lies between the two markers of the document.
//!
//! `cargo run -p juki-host --example perf_report [-- --check]`; with `--check` it exits 1 when
//! an operation through PC/SC is slower than 1.5 × its floor.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

const BEGIN: &str = "<!-- BEGIN MEASURED (scripts/bench.sh writes this part) -->";
const END: &str = "<!-- END MEASURED -->";
/// The bound the issue sets: end to end through PC/SC within 1.5 × the floor.
const BOUND: f64 = 1.5;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Criterion's median for benchmark `id` (e.g. `floor/echo`), in nanoseconds.
fn criterion(id: &str) -> Option<f64> {
    criterion_stat(id, "median")
}

/// Criterion's estimate `stat` (`mean`, `median`) for benchmark `id`, in nanoseconds.
fn criterion_stat(id: &str, stat: &str) -> Option<f64> {
    let dir = root()
        .join("target/criterion")
        .join(id.replace('/', "_"))
        .join("new/estimates.json");
    json(&dir)?.get(stat)?.get("point_estimate")?.as_f64()
}

fn perf(name: &str) -> Option<Value> {
    json(&root().join("target/juki-perf").join(name))
}

/// A duration for the table: µs below 10 ms, ms above.
fn t(ns: Option<f64>) -> String {
    match ns {
        Some(ns) if ns < 10_000.0 => format!("{:.1} µs", ns / 1e3),
        Some(ns) if ns < 10_000_000.0 => format!("{:.0} µs", ns / 1e3),
        Some(ns) => format!("{:.1} ms", ns / 1e6),
        None => "—".into(),
    }
}

fn ratio(ours: Option<f64>, floor: Option<f64>) -> Option<f64> {
    Some(ours? / floor?)
}

fn r(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{x:.2}×"))
}

/// What each operation is, for the table.
fn label(op: &str) -> &'static str {
    match op {
        "verify" => "VERIFY 住基 PIN (`JukiCard::verify_pin`)",
        "read_resident" => "read 住民票コード + 4 info + changes (`read_resident`, `juki info`)",
        "sign_hash" => "signature with the sign password (`sign_hash`)",
        "read_certificates" => "authentication certificate + CA (`auth_certificates`)",
        "sign_document" => "CMS signature of a document (`sign_document`, `juki sign`)",
        "counter_authenticate" => "counter authentication + secure messaging session",
        "issue_certificates" => "電子証明書の発行, card side: 2 keys generated, 4 certificates",
        "personalise" => "issuing a card (`personalise`, `juki counter issue`)",
        "pkcs11_sign" => "PKCS#11 `C_SignInit` + `C_Sign` (`CKM_ECDSA`, logged in)",
        _ => "",
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cpu}, {cores} cores, {}", std::env::consts::ARCH)
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let mut out = String::new();
    let mut over = Vec::new();
    let today = std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    writeln!(out, "{BEGIN}\n").unwrap();
    writeln!(
        out,
        "Measured {today} on {} by `./scripts/bench.sh`, all from one run on the same machine (medians; see \"Method\").\n",
        machine()
    )
    .unwrap();

    let e2e = perf("e2e.json");
    let openssl_ns = e2e
        .as_ref()
        .and_then(|e| e.get("openssl_sign_per_s")?.as_f64())
        .map(|per_s| 1e9 / per_s);
    let echo = criterion("floor/echo");
    // The host's unavoidable cryptography in an operation, at OpenSSL's speed of the same run.
    let rate = |key: &str| e2e.as_ref().and_then(|e| e.get(key)?.as_f64());
    let (sign_rate, verify_rate, ecdh_rate) = (
        rate("openssl_sign_per_s"),
        rate("openssl_verify_per_s"),
        rate("openssl_ecdh_per_s"),
    );
    // The PKCS#11 module's C_Sign (juki-pkcs11's c_sign benchmark), in the same table.
    let pkcs11 = perf("pkcs11.json");
    let host_crypto_ns = |op: &str| -> Option<f64> {
        let counts = [&e2e, &pkcs11]
            .into_iter()
            .flatten()
            .find_map(|e| e.get("host_crypto")?.get(op))?
            .get(op)?
            .as_array()?
            .clone();
        let n = |i: usize| counts.get(i).and_then(Value::as_f64).unwrap_or(0.0);
        let cost = |count: f64, per_s: Option<f64>| -> Option<f64> {
            if count == 0.0 {
                Some(0.0)
            } else {
                Some(count * 1e9 / per_s?)
            }
        };
        Some(cost(n(0), sign_rate)? + cost(n(1), verify_rate)? + cost(n(2), ecdh_rate)?)
    };

    // The floors.
    writeln!(out, "### Floors\n").unwrap();
    writeln!(out, "| floor | time |\n|---|---|").unwrap();
    writeln!(
        out,
        "| ECDSA P-256 signature, `openssl speed ecdsap256` | {} |",
        t(openssl_ns)
    )
    .unwrap();
    writeln!(
        out,
        "| ECDSA P-256 verification / ECDH P-256, `openssl speed ecdsap256 ecdhp256` | {} / {} |",
        t(verify_rate.map(|r| 1e9 / r)),
        t(ecdh_rate.map(|r| 1e9 / r))
    )
    .unwrap();
    writeln!(
        out,
        "| echo APDU round trip through pcscd + vpcd (4-byte command, `9000`) | {} |",
        t(echo)
    )
    .unwrap();
    writeln!(
        out,
        "| echo round trip with 2 KB of data each way (extended APDU) | {} |",
        t(criterion("floor/echo_2k"))
    )
    .unwrap();
    writeln!(
        out,
        "| empty PC/SC transaction (begin + end, no APDU) | {} |\n",
        t(criterion("floor/transaction"))
    )
    .unwrap();

    // The card core.
    writeln!(out, "### The card core alone (RAM NVM, no transport)\n").unwrap();
    writeln!(
        out,
        "| operation (one APDU) | our time | floor | ratio |\n|---|---|---|---|"
    )
    .unwrap();
    let core: [(&str, &str, bool); 7] = [
        ("card/verify", "VERIFY", false),
        (
            "card/read_four_info",
            "READ BINARY of the 4 info (extended Le)",
            false,
        ),
        (
            "card/sign/no_table",
            "COMPUTE DIGITAL SIGNATURE without the generator table (for comparison)",
            true,
        ),
        (
            "card/sign/table",
            "COMPUTE DIGITAL SIGNATURE, card as shipped (generator table in flash, 16.9 KB)",
            true,
        ),
        (
            "card/generate_key/no_table",
            "GENERATE ASYMMETRIC KEY PAIR (secure messaging), without the table",
            false,
        ),
        (
            "card/generate_key/table",
            "GENERATE ASYMMETRIC KEY PAIR (secure messaging), card as shipped",
            false,
        ),
        (
            "card/external_authenticate",
            "EXTERNAL AUTHENTICATE (mutual: two verifications, ECDH, the card's signature)",
            false,
        ),
    ];
    for (id, what, signature) in &core {
        let ours = criterion(id);
        let floor = signature.then_some(openssl_ns).flatten();
        writeln!(
            out,
            "| {what} | {} | {} | {} |",
            t(ours),
            if *signature { t(floor) } else { "—".into() },
            r(ratio(ours, floor))
        )
        .unwrap();
    }
    writeln!(out).unwrap();

    // End to end.
    writeln!(out, "### End to end from the host library\n").unwrap();
    writeln!(
        out,
        "Floor = APDUs × echo round trip + the card's own time on them (card core and the save \
         of its image, counted by the reader simulator in the same runs) + the host's own \
         unavoidable cryptography at OpenSSL's speed (the counter's session: two fixed-base \
         multiplications, a verification, a key agreement; a document signed: the check of the \
         card's signature), sample by sample: the echo is \
         timed right after each sample of the operation. Medians over the samples.\n"
    )
    .unwrap();
    writeln!(
        out,
        "| operation | APDUs | in-process | through PC/SC | card's time | floor | ratio |\n\
         |---|---|---|---|---|---|---|"
    )
    .unwrap();
    let mut echoes = Vec::new();
    let ops: Vec<(&Value, String)> = [&e2e, &pkcs11]
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e.get("ops")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(move |v| Some((e, v.as_str()?.to_string())))
        })
        .collect();
    for (e, op) in &ops {
        // Sample by sample: our time, the card's time and the APDUs of the same runs; the
        // medians of the samples' per-run values and ratios.
        // (and the echo round trip timed right after the sample, for its floor).
        let samples: Vec<[f64; 5]> = e["pcsc_card"][op.as_str()]["samples"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let v: Vec<f64> = s.as_array()?.iter().filter_map(Value::as_f64).collect();
                <[f64; 5]>::try_from(v).ok().filter(|v| v[1] > 0.0)
            })
            .collect();
        echoes.extend(samples.iter().map(|s| s[4]));
        let per_run = |f: &dyn Fn(&[f64; 5]) -> f64| median(samples.iter().map(f).collect());
        // APDUs as the in-process run counted them, or (PKCS#11: no in-process run) as the
        // served card counted them.
        let apdus = e["apdus_inprocess"][op.as_str()]
            .as_f64()
            .or_else(|| per_run(&|s| s[2] / s[1]));
        let pcsc = per_run(&|s| s[0] / s[1]);
        let card = per_run(&|s| s[3] / s[1]);
        let host = host_crypto_ns(op).unwrap_or(0.0);
        let floor = per_run(&|s| s[2] / s[1] * s[4] + s[3] / s[1] + host);
        let x = per_run(&|s| s[0] / (s[2] * s[4] + s[3] + host * s[1]));
        if x.is_some_and(|x| x > BOUND) {
            over.push(op.clone());
        }
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            label(op),
            apdus.map_or("—".into(), |a| format!("{a:.0}")),
            t(criterion(&format!("inprocess/{op}"))),
            t(pcsc),
            t(card),
            t(floor),
            r(x)
        )
        .unwrap();
    }
    if let Some(e) = &e2e {
        let p = &e["pcsc_personalise"]["personalise"];
        let (apdus, card, pcsc) = (
            p["apdus"].as_f64(),
            p["card_ns"].as_f64(),
            p["mean_ns"].as_f64(),
        );
        let host = host_crypto_ns("personalise").unwrap_or(0.0);
        let floor = (|| Some(apdus? * echo? + card? + host))();
        let x = ratio(pcsc, floor);
        if x.is_some_and(|x| x > BOUND) {
            over.push("personalise".into());
        }
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            label("personalise"),
            apdus.map_or("—".into(), |a| format!("{a:.0}")),
            t(e["inprocess_personalise"]["mean_ns"].as_f64()),
            t(pcsc),
            t(card),
            t(floor),
            r(x)
        )
        .unwrap();
    }
    writeln!(out).unwrap();

    writeln!(
        out,
        "Echo round trip timed after the samples above: median {} (the floor table's figure was \
         measured before them).\n",
        t(median(echoes))
    )
    .unwrap();

    // Whole commands.
    // … and OpenSC's pkcs11-tool signing through the module, next to `juki sign`.
    let processes: Vec<(String, Value)> = [
        perf("cli.json"),
        pkcs11.as_ref().and_then(|p| p.get("processes").cloned()),
    ]
    .into_iter()
    .flatten()
    .filter_map(|v| match v {
        Value::Object(m) => Some(m),
        _ => None,
    })
    .flatten()
    .collect();
    if !processes.is_empty() {
        writeln!(out, "### Whole commands through PC/SC, as processes\n").unwrap();
        writeln!(
            out,
            "| command | median | fastest | runs |\n|---|---|---|---|"
        )
        .unwrap();
        for (name, v) in &processes {
            writeln!(
                out,
                "| `{name}` | {} | {} | {} |",
                t(v["median_ns"].as_f64()),
                t(v["fastest_ns"].as_f64()),
                v["runs"]
            )
            .unwrap();
        }
        writeln!(out).unwrap();
    }

    // Memory.
    if let Some(m) = perf("memory.json") {
        memory(&m, perf("code-size.json").as_ref(), &mut out);
    }
    writeln!(out, "{END}").unwrap();

    let doc = root().join("docs/performance.md");
    let text = std::fs::read_to_string(&doc).expect("docs/performance.md");
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        panic!("docs/performance.md lacks the markers {BEGIN} … {END}");
    };
    let new = format!("{}{}{}", &text[..b], out.trim_end(), &text[e + END.len()..]);
    std::fs::write(&doc, new).unwrap();
    print!("{out}");
    if over.is_empty() {
        eprintln!("every operation through PC/SC is within {BOUND}× its floor");
    } else {
        eprintln!("over {BOUND}× the floor: {}", over.join(", "));
        if check {
            std::process::exit(1);
        }
    }
}

/// The median of `v` (`None` when empty).
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn bytes(v: &Value) -> String {
    v.as_u64().map_or("—".into(), |b| format!("{b} B"))
}

/// The memory tables from the memory bench (`memory.json`) and scripts/chip-size.sh
/// (`code-size.json`).
fn memory(m: &Value, code: Option<&Value>, out: &mut String) {
    let chip = code.map(|c| &c["size_of_on_target"]);
    writeln!(out, "### RAM of the card (`core::mem::size_of`)\n").unwrap();
    writeln!(
        out,
        "| structure | x86-64 host | {} |\n|---|---|---|",
        code.and_then(|c| c["target"].as_str()).unwrap_or("chip")
    )
    .unwrap();
    for (key, what) in [
        ("card", "`Card`: everything the card keeps in RAM"),
        (
            "framing",
            "— framing: the chain being received, the response waiting for GET RESPONSE",
        ),
        (
            "applet",
            "— applet: volatile state, RAM copy of the core record, NVM directory",
        ),
        (
            "volatile",
            "—— volatile state (selection, PINs verified, challenge, SM session)",
        ),
        (
            "sm_session",
            "——— secure-messaging session keys and counter",
        ),
        (
            "core_state",
            "—— core record (PINs, keys, lifecycle, root key)",
        ),
        ("storage", "—— NVM directory"),
        (
            "response",
            "the platform's response buffer (`Response`, passed in)",
        ),
        (
            "command_apdu",
            "the platform's command APDU buffer (largest APDU)",
        ),
        (
            "basepoint_table",
            "the generator table (constant data: in flash on a chip, not RAM)",
        ),
    ] {
        writeln!(
            out,
            "| {what} | {} | {} |",
            bytes(&m["ram_size_of"][key]),
            chip.map_or("—".into(), |c| bytes(&c[key]))
        )
        .unwrap();
    }
    let t = &m["ram_total"];
    writeln!(
        out,
        "\n**RAM in all** (the generator table is in flash): card {} + deepest stack of one command {} = {} \
         (budget {}: {}); with the platform's I/O buffers ({}) {} ({}).\n",
        bytes(&t["card"]),
        bytes(&t["stack"]),
        bytes(&t["card_plus_deepest_stack"]),
        bytes(&t["budget"]),
        if t["fits"].as_bool() == Some(true) {
            "fits"
        } else {
            "OVER"
        },
        bytes(&t["io_buffers"]),
        bytes(&t["with_io_buffers"]),
        if t["fits_with_io_buffers"].as_bool() == Some(true) {
            "fits"
        } else {
            "OVER"
        },
    )
    .unwrap();
    writeln!(
        out,
        "### Stack of one command\n\nMeasured by stack painting: {}.\n",
        m["stack"]["method"].as_str().unwrap_or("")
    )
    .unwrap();
    writeln!(out, "| command | SW | stack |\n|---|---|---|").unwrap();
    for c in m["stack"]["commands"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "| {} | {} | {} |",
            c["command"].as_str().unwrap_or(""),
            c["sw"].as_str().unwrap_or(""),
            bytes(&c["stack"])
        )
        .unwrap();
    }
    let p = &m["persistent"];
    writeln!(out, "\n### Persistent state (NVM)\n").unwrap();
    writeln!(out, "| item | bytes |\n|---|---|").unwrap();
    for (what, v) in [
        ("NVM of the card", &p["nvm_size"]),
        (
            "layout: 11 records × 2 slots (power-cut safe), headers included",
            &p["layout_bytes"],
        ),
        ("spare", &p["spare_bytes"]),
        (
            "core record (PINs, keys, lifecycle, root key): capacity",
            &p["core_capacity"],
        ),
        ("core record: used", &p["core_len"]),
        (
            "content of an issued card with its four JPKI certificates",
            &p["issued_with_certificates"]["content_bytes"],
        ),
    ] {
        writeln!(out, "| {what} | {} |", bytes(v)).unwrap();
    }
    if let Some(code) = code {
        writeln!(
            out,
            "\n### Code size of the card core for {} (chip/, scripts/chip-size.sh)\n",
            code["target"].as_str().unwrap_or("a chip")
        )
        .unwrap();
        writeln!(
            out,
            "| build | .text | .rodata | .data + .bss | flash in all |\n|---|---|---|---|---|"
        )
        .unwrap();
        for (name, what) in [
            ("opt-level-z", "`opt-level = \"z\"`, LTO, panic = abort"),
            ("opt-level-3", "`opt-level = 3`, for comparison"),
        ] {
            let b = &code["builds"][name];
            writeln!(
                out,
                "| {what} | {} | {} | {} | {} |",
                bytes(&b["text"]),
                bytes(&b["rodata"]),
                bytes(&b["static_ram"]),
                bytes(&b["flash"])
            )
            .unwrap();
        }
    }
    writeln!(out).unwrap();
}
