//! 開示請求 end to end against its floor, sample by sample in the same run: a resident with
//! `PROVISIONS` provisions in the log asks the national server (a throwaway PostgreSQL, the
//! residents' listener on loopback) with the simulated card in the same process.
//!
//! - **end to end**: `juki_net::citizen::request` — a TLS 1.3 connection, the challenge, the
//!   card's answer (auth PIN, JPKI authentication key), the disclosure, and the client's check
//!   of every provision against the signed log;
//! - **floor** = the card's authentication (`answer_challenge` alone, the same card) + the
//!   transport (`citizen::round_trips`: the same kind of connection and two requests on it).
//!
//! What the floor leaves out is the work of the disclosure itself: the server's check of the
//! answer and its records, the provisions' inclusion proofs, the client's verification.
//! Writes `target/juki-perf/disclosure.json` and docs/network.md between its MEASURED
//! DISCLOSURE markers. Not run by the tests; `scripts/bench.sh` runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::world::{lines, world};
use juki_cli::pin_input::Pin;
use juki_counter::network;
use juki_counter::CounterDb;
use juki_jpki::citizen;
use juki_net::citizen::Seen;
use juki_net::client::NetClient;
use juki_net::local::LocalNetwork;
use juki_net::pki::Role;
use juki_net::provision_log::{load_public_key, LOG_PUB_FILE};

const PROVISIONS: usize = 10;
const SAMPLES: usize = 40;
const PURPOSE: &str = "年金・恩給の現況確認";
const BEGIN: &str = "<!-- BEGIN MEASURED DISCLOSURE -->";
const END: &str = "<!-- END MEASURED DISCLOSURE -->";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let net_dir = dir.path().join("net");
    let mut net = LocalNetwork::start(&net_dir).unwrap();
    let public = net.serve_residents(&w.ca_dir).unwrap();
    let chiyoda =
        Role::Municipality(juki_host::resident::MunicipalityCode::parse("131016").unwrap());
    let mut client =
        NetClient::from_dir(&net.node("chiyoda", &chiyoda).unwrap(), &net.address()).unwrap();
    let mut db = CounterDb::open(&w.data).unwrap();
    network::sync(&mut db, &mut client, juki_host::clock::now().unwrap()).unwrap();
    let code = w.card().read_resident(&Pin::from("2580")).unwrap().code;
    let pension = Role::Agency {
        name: "日本年金機構".into(),
        purposes: vec![PURPOSE.into()],
    };
    let mut agency =
        NetClient::from_dir(&net.node("pension", &pension).unwrap(), &net.address()).unwrap();
    for _ in 0..PROVISIONS {
        agency.confirm(&code, PURPOSE).unwrap();
    }
    net.append_log().unwrap();
    let key = load_public_key(&net.server_dir().join(LOG_PUB_FILE)).unwrap();
    let ca = net_dir.join("ca").join("ca.pem");
    let pin = Pin::from("1357");
    let mut card = w.card();
    // A first disclosure outside the samples (connections and caches warm).
    let first = juki_net::citizen::request(&public, &ca, &key, &Seen::new(), |c| {
        citizen::answer_challenge(&mut card, &pin, c)
            .and_then(|a| a.to_pem())
            .map_err(|e| e.to_string())
    })
    .unwrap();
    assert_eq!(first.provisions.len(), PROVISIONS);
    // Every sample is a returning client: the head and the chain's end it saw are checked.
    let mut seen = Seen::new();
    seen.remember(&first);
    let challenge = [7u8; 83];
    let (mut e2e, mut card_t, mut trips) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let d = juki_net::citizen::request(&public, &ca, &key, &seen, |c| {
            citizen::answer_challenge(&mut card, &pin, c)
                .and_then(|a| a.to_pem())
                .map_err(|e| e.to_string())
        })
        .unwrap();
        e2e.push(t.elapsed());
        assert_eq!(d.provisions.len(), PROVISIONS);
        let t = Instant::now();
        citizen::answer_challenge(&mut card, &pin, &challenge).unwrap();
        card_t.push(t.elapsed());
        let t = Instant::now();
        juki_net::citizen::round_trips(&public, &ca, 2).unwrap();
        trips.push(t.elapsed());
    }
    let (e, c, r) = (median(e2e), median(card_t), median(trips));
    let floor = c + r;
    let ratio = e.as_secs_f64() / floor.as_secs_f64();
    let table = format!(
        "| | median of {SAMPLES} |\n|---|---|\n\
         | 開示請求 end to end ({PROVISIONS} provisions, each proven) | {} |\n\
         | floor: the card's authentication (auth PIN, signature) | {} |\n\
         | floor: TLS 1.3 connection + 2 requests | {} |\n\
         | **end to end / floor** | **{ratio:.2}×** |\n",
        ms(e),
        ms(c),
        ms(r)
    );
    print!("{table}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let perf = root.join("target/juki-perf");
    std::fs::create_dir_all(&perf).unwrap();
    std::fs::write(
        perf.join("disclosure.json"),
        serde_json::json!({
            "samples": SAMPLES,
            "provisions": PROVISIONS,
            "end_to_end_ms": e.as_secs_f64() * 1000.0,
            "card_ms": c.as_secs_f64() * 1000.0,
            "round_trips_ms": r.as_secs_f64() * 1000.0,
            "ratio": ratio,
        })
        .to_string(),
    )
    .unwrap();
    let doc = root.join("docs/network.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    if let (Some(b), Some(end)) = (text.find(BEGIN), text.find(END)) {
        let new = format!(
            "{}{BEGIN}\n\nMeasured {} by `cargo bench -p juki-cli --bench disclosure` (this \
             machine, {} cores; the card simulated in the same process, the server on \
             loopback).\n\n{table}\n{}",
            &text[..b],
            juki_host::date::today()
                .map(juki_host::date::display)
                .unwrap_or_default(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            &text[end..]
        );
        std::fs::write(&doc, new).unwrap();
    }
}
