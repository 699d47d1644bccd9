//! The card's operations end to end from the host library: in-process (the simulator in the
//! same process) and through the real PC/SC stack (pcscd + vpcd, the card served by
//! `juki_reader_sim::VpcdServer`), with the floors measured in the same run:
//!
//! - transport: a trivial echo APDU's round trip through pcscd + vpcd, to an echo card in the
//!   second virtual reader (no card core behind it);
//! - the card's own time: what the served card spent on the operation's APDUs (card core and
//!   the save of its image), counted by the server;
//! - the signature: `openssl speed ecdsap256` on this machine;
//! - the host's own cryptography (the counter's session: its signature, the check of the card's
//!   answer, the key agreement): `openssl speed ecdsap256 ecdhp256`, counted per operation.
//!
//! Floor of an operation = APDUs × echo round trip + the card's time + the host's unavoidable
//! cryptography at OpenSSL's speed. Results go to
//! `target/juki-perf/e2e.json`; `scripts/bench.sh` turns them into docs/performance.md.
//! Without pcscd the PC/SC part is skipped (it fails with JUKI_PCSC=1).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/echo.rs"]
mod echo;

use echo::{echo_card, ECHO};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::pcsc::{pcsc_or_skip, Served};
use common::world::{lines, today, world, World};
use criterion::{black_box, Criterion};
use juki_cli::pin_input::Pin;
use juki_host::card::{JpkiFiles, JukiCard, Personalisation};
use juki_host::pcsc_transport::PcscTransport;
use juki_host::pin::{App, PinId};
use juki_host::sim_transport::SimTransport;
use juki_host::transport::{Recording, Transport};
use juki_jpki::cms::SignOptions;
use juki_jpki::{citizen, time as jtime};
use juki_reader_sim::server::{CardStats, FIRST_READER_NAME};
use sha2::{Digest, Sha256};

/// The operations measured, in the order of the table.
#[derive(Debug, Clone, Copy)]
enum Op {
    Verify,
    ReadResident,
    SignHash,
    ReadCertificates,
    SignDocument,
    CounterAuthenticate,
    IssueCertificates,
}

impl Op {
    const ALL: [Op; 7] = [
        Op::Verify,
        Op::ReadResident,
        Op::SignHash,
        Op::ReadCertificates,
        Op::SignDocument,
        Op::CounterAuthenticate,
        Op::IssueCertificates,
    ];

    fn id(self) -> &'static str {
        match self {
            Op::Verify => "verify",
            Op::ReadResident => "read_resident",
            Op::SignHash => "sign_hash",
            Op::ReadCertificates => "read_certificates",
            Op::SignDocument => "sign_document",
            Op::CounterAuthenticate => "counter_authenticate",
            Op::IssueCertificates => "issue_certificates",
        }
    }
}

/// What the operations need: PINs, a document, the counter, the certificates to write back.
struct Ctx {
    juki_pin: Pin,
    password: Pin,
    hash: [u8; 32],
    document: Vec<u8>,
    files: JpkiFiles,
    world: World,
}

fn run<T: Transport>(op: Op, card: &mut JukiCard<T>, ctx: &Ctx) {
    match op {
        Op::Verify => card.verify_pin(PinId::Juki, &ctx.juki_pin).unwrap(),
        Op::ReadResident => {
            black_box(card.read_resident(&ctx.juki_pin).unwrap());
        }
        Op::SignHash => {
            black_box(card.sign_hash(&ctx.hash, &ctx.password).unwrap());
        }
        Op::ReadCertificates => {
            black_box(citizen::auth_certificates(card).unwrap());
        }
        Op::SignDocument => {
            let options = SignOptions {
                attached: false,
                signing_time: jtime::start_of_day(today()),
            };
            black_box(citizen::sign_document(card, &ctx.password, &ctx.document, options).unwrap());
        }
        Op::CounterAuthenticate => {
            black_box(
                card.exclusive(|c| {
                    c.select_app(App::Juki)?;
                    c.counter_authenticate(&ctx.world.cred)
                })
                .unwrap(),
            );
        }
        // The card's part of 電子証明書の発行: both key pairs generated on the card, the
        // certificates written (the CA's part, certifying, is left out: the same files again).
        Op::IssueCertificates => {
            black_box(
                card.issue_jpki(&ctx.world.cred, "JK-0009", |_| {
                    Ok::<_, juki_host::Error>(ctx.files.clone())
                })
                .unwrap(),
            );
        }
    }
}

/// Per operation, sample by sample (each batch of runs criterion times, warm-up included):
/// `[our time ns, runs, APDUs, card's time ns, echo round trip ns]`, all of the same runs, so
/// that each sample's ratio compares like with like and the report takes their median.
type Samples = BTreeMap<&'static str, Vec<[f64; 5]>>;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

/// Round trips of the echo card timed after each sample, for that sample's floor.
const ECHOES_PER_SAMPLE: u32 = 4;

/// Benchmarks every operation on `card`, as `{prefix}/{op}`. Through PC/SC (`pcsc`: the served
/// card and the echo card's connection) it also tallies each sample's APDUs and card's time,
/// and times a few echo round trips right after it: each sample's floor is measured with it.
fn bench_ops<T: Transport>(
    c: &mut Criterion,
    prefix: &str,
    card: &mut JukiCard<T>,
    ctx: &Ctx,
    pcsc: Option<(&Served, &RefCell<PcscTransport>)>,
    samples: &RefCell<Samples>,
) {
    for op in Op::ALL {
        run(op, card, ctx); // fails loudly before anything is measured
        c.bench_function(&format!("{prefix}/{}", op.id()), |b| {
            b.iter_custom(|iters| {
                let before = pcsc.map(|(served, _)| served.card_stats());
                let started = Instant::now();
                for _ in 0..iters {
                    run(op, card, ctx);
                }
                let took = started.elapsed();
                if let (Some((served, echo)), Some(before)) = (pcsc, before) {
                    let used = served.card_stats() - before;
                    let mut echo = echo.borrow_mut();
                    let timed = Instant::now();
                    for _ in 0..ECHOES_PER_SAMPLE {
                        echo.transmit(black_box(&ECHO)).unwrap();
                    }
                    let echo_rtt = timed.elapsed() / ECHOES_PER_SAMPLE;
                    samples.borrow_mut().entry(op.id()).or_default().push([
                        took.as_nanos() as f64,
                        iters as f64,
                        used.apdus as f64,
                        used.busy.as_nanos() as f64,
                        echo_rtt.as_nanos() as f64,
                    ]);
                }
                took
            })
        });
    }
}

/// APDUs of each operation in-process (the same host code as through PC/SC).
fn count_apdus(ctx: &Ctx, image: &Path) -> BTreeMap<&'static str, usize> {
    let mut card = JukiCard::new(Recording::new(SimTransport::open(image).unwrap()));
    Op::ALL
        .iter()
        .map(|&op| {
            run(op, &mut card, ctx);
            (op.id(), card.transport().take().len())
        })
        .collect()
}

fn bench_echo(c: &mut Criterion, t: &mut PcscTransport) {
    c.bench_function("floor/echo", |b| {
        b.iter(|| t.transmit(black_box(&ECHO)).unwrap())
    });
    // An empty PC/SC transaction (begin and end, no APDU): what an operation's exclusive
    // access costs on top of its APDUs.
    c.bench_function("floor/transaction", |b| {
        b.iter(|| t.exclusive(&mut |_| Ok(())).unwrap())
    });
    // A certificate's worth of data back (extended APDU of 2 KB).
    let mut big = vec![0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00];
    big.extend(vec![0xAB; 2048]);
    assert_eq!(t.transmit(&big).unwrap().len(), big.len() + 2);
    c.bench_function("floor/echo_2k", |b| {
        b.iter(|| t.transmit(black_box(&big)).unwrap())
    });
}

/// OpenSSL's P-256 on this machine (`openssl speed ecdsap256 ecdhp256`): signatures, signature
/// verifications and key agreements a second — the floor of the host's own cryptography.
struct OpensslSpeed {
    sign_per_s: Option<f64>,
    verify_per_s: Option<f64>,
    ecdh_per_s: Option<f64>,
}

/// The host's own unavoidable public-key operations in an operation, in steady state: `[ECDSA
/// signatures, ECDSA verifications, ECDH key agreements]`. A counter session costs the counter's
/// signature of the challenge, its ephemeral key (one fixed-base multiplication, counted as a
/// signature), the check of the card's signed answer and the key agreement; the card's
/// certificate is checked once per card and process (then cached). Personalisation opens two
/// sessions on a new card each time (the first checks its certificate too). A document signed
/// is checked once against the signing certificate.
fn host_crypto(op: &str) -> [u32; 3] {
    match op {
        "counter_authenticate" | "issue_certificates" => [2, 1, 1],
        // The card's signature checked against its certificate before the document leaves.
        "sign_document" => [0, 1, 0],
        "personalise" => [4, 3, 2],
        _ => [0, 0, 0],
    }
}

fn openssl_speed() -> OpensslSpeed {
    let text = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "3", "ecdsap256", "ecdhp256"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // "256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  13000.0": sign/s, verify/s;
    // "256 bits ecdh (nistp256)   0.0001s  11584.0": op/s.
    let numbers = |kind: &str| -> Vec<f64> {
        text.lines()
            .find(|l| l.contains(kind) && l.contains("nistp256"))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let ecdsa = numbers("ecdsa");
    let ecdh = numbers("ecdh");
    OpensslSpeed {
        sign_per_s: ecdsa
            .len()
            .checked_sub(2)
            .and_then(|i| ecdsa.get(i).copied()),
        verify_per_s: ecdsa.last().copied(),
        ecdh_per_s: ecdh.last().copied(),
    }
}

/// Personalisation (issuing a card at the counter), which needs a new initialised card each
/// time: timed by hand, `runs` times; returns the mean and (through PC/SC) the card's mean time
/// over the same runs.
fn time_personalise(
    w: &World,
    p: &Personalisation,
    pcsc: bool,
    runs: usize,
) -> (Duration, CardStats) {
    let mut times = Vec::new();
    let mut stats = CardStats::default();
    for i in 0..runs {
        let image = w.image.with_file_name(format!("issue-{pcsc}-{i}.img"));
        let mut card = JukiCard::new(SimTransport::create(&image).unwrap());
        w.root
            .manufacture(&mut card, &p.card.serial, common::world::today())
            .unwrap();
        drop(card);
        if pcsc {
            let mut served = Served::start(&image);
            let mut card = JukiCard::new(PcscTransport::connect(Some(FIRST_READER_NAME)).unwrap());
            let before = served.card_stats();
            let started = Instant::now();
            card.personalise(&w.cred, p).unwrap();
            times.push(started.elapsed());
            let used = served.card_stats() - before;
            stats.apdus += used.apdus;
            stats.busy += used.busy;
            drop(card);
            served.stop();
        } else {
            let mut card = JukiCard::new(SimTransport::open(&image).unwrap());
            let started = Instant::now();
            card.personalise(&w.cred, p).unwrap();
            times.push(started.elapsed());
        }
    }
    let n = u32::try_from(runs).unwrap();
    let per_run = CardStats {
        apdus: stats.apdus / u64::from(n),
        busy: stats.busy / n,
    };
    (times.iter().sum::<Duration>() / n, per_run)
}

fn perf_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/juki-perf");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn main() {
    let mut c = config();
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    let mut card = w.card();
    let auth = citizen::auth_certificates(&mut card).unwrap();
    let sign = citizen::sign_certificates(&mut card, &Pin::from("JUKI2026")).unwrap();
    let record = card.read_resident(&Pin::from("2580")).unwrap();
    let card_info = card.card_info().unwrap();
    drop(card);
    let personalisation = Personalisation {
        code: record.code,
        info: record.info,
        changes: record.changes,
        card: card_info,
        juki_pin: Pin::from("2580"),
        auth_pin: Pin::from("1357"),
        sign_pin: Pin::from("JUKI2026"),
    };
    let ctx = Ctx {
        juki_pin: Pin::from("2580"),
        password: Pin::from("JUKI2026"),
        hash: Sha256::digest(b"e-application").into(),
        document: "電子申請書: 転出届\n".repeat(100).into_bytes(),
        files: JpkiFiles {
            sign: sign.cert_der,
            sign_ca: sign.ca_der,
            auth: auth.cert_der,
            auth_ca: auth.ca_der,
        },
        world: w,
    };
    let w = &ctx.world;
    // Issuing certificates replaces the keys (and the certificates no longer match them): each
    // run below has its own copy of the card, and issuing comes last.
    let copy = |name: &str| {
        let path = w.image.with_file_name(name);
        std::fs::copy(&w.image, &path).unwrap();
        path
    };
    let (count_image, pcsc_image) = (copy("count.img"), copy("pcsc.img"));
    let apdus = count_apdus(&ctx, &count_image);
    let samples = RefCell::new(Samples::new());

    // In-process: the host library and the card core in one process, no transport.
    {
        let mut card = w.card();
        bench_ops(&mut c, "inprocess", &mut card, &ctx, None, &samples);
    }
    let runs = 8;
    let (issue_inprocess, _) = time_personalise(w, &personalisation, false, runs);

    let mut pcsc = serde_json::Map::new();
    if pcsc_or_skip() {
        let (echo_card, mut echo) = echo_card();
        bench_echo(&mut c, &mut echo);
        let mut served = Served::start(&pcsc_image);
        let mut card = JukiCard::new(PcscTransport::connect(Some(FIRST_READER_NAME)).unwrap());
        let echo = RefCell::new(echo);
        bench_ops(
            &mut c,
            "pcsc",
            &mut card,
            &ctx,
            Some((&served, &echo)),
            &samples,
        );
        drop((card, echo, echo_card));
        served.stop();
        let (issue_pcsc, issue_stats) = time_personalise(w, &personalisation, true, runs);
        pcsc.insert(
            "personalise".into(),
            serde_json::json!({
                "mean_ns": issue_pcsc.as_nanos() as f64,
                "apdus": issue_stats.apdus,
                "card_ns": issue_stats.busy.as_nanos() as f64,
                "runs": runs,
            }),
        );
    }
    c.final_summary();

    let card_time: serde_json::Map<String, serde_json::Value> = samples
        .borrow()
        .iter()
        .map(|(op, s)| ((*op).to_string(), serde_json::json!({ "samples": s })))
        .collect();
    let speed = openssl_speed();
    let report = serde_json::json!({
        "ops": Op::ALL.iter().map(|op| op.id()).collect::<Vec<_>>(),
        "apdus_inprocess": apdus,
        "pcsc_card": card_time,
        "pcsc_personalise": pcsc,
        "inprocess_personalise": {
            "mean_ns": issue_inprocess.as_nanos() as f64,
            "runs": runs,
        },
        "host_crypto": Op::ALL
            .iter()
            .map(|op| op.id())
            .chain(["personalise"])
            .map(|op| (op.to_string(), serde_json::json!(host_crypto(op))))
            .collect::<serde_json::Map<_, _>>(),
        "openssl_sign_per_s": speed.sign_per_s,
        "openssl_verify_per_s": speed.verify_per_s,
        "openssl_ecdh_per_s": speed.ecdh_per_s,
    });
    let path = perf_dir().join("e2e.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    eprintln!("wrote {}", path.display());
}
