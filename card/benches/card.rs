//! The card core alone: one APDU in, one response out, on a RAM NVM (no host, no reader).
//!
//! `cargo bench -p juki-card --bench card`; `scripts/bench.sh` runs it with the other benches
//! and writes the table of docs/performance.md. Each benchmark first checks once that the command
//! succeeds, so a broken card cannot look fast.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sha2::{Digest, Sha256};

/// The card as shipped (`table`: the generator table, a constant in flash on a chip), or made to
/// multiply the generator like any other point (`no_table`), for comparison.
fn configured(card: TestCard, table: bool) -> TestCard {
    if table {
        card
    } else {
        card.without_basepoint_table()
    }
}

/// The two configurations: benchmark names as docs/performance.md's table reads them.
const CONFIGURATIONS: [(&str, bool); 2] = [("no_table", false), ("table", true)];

/// Runs `apdu` and checks the status word, once before the measurement.
fn expect(card: &mut TestCard, apdu: &[u8], want: u16) {
    let (_, s) = tx(card, apdu);
    assert_eq!(s, want, "{}", hex::encode(apdu));
}

/// The processing of one APDU, response included.
fn process(card: &mut TestCard, apdu: &[u8]) -> u16 {
    let (_, s) = tx(card, black_box(apdu));
    s
}

fn verify_pin(c: &mut Criterion) {
    let (mut card, _) = issued_card();
    select_juki(&mut card);
    let verify = apdu(0, 0x20, 0, 0x9C, JUKI_PIN, None);
    expect(&mut card, &verify, 0x9000);
    c.bench_function("card/verify", |b| b.iter(|| process(&mut card, &verify)));
}

fn read_four_info(c: &mut Criterion) {
    let (mut card, _) = issued_card();
    select_juki(&mut card);
    expect(&mut card, &apdu(0, 0x20, 0, 0x9C, JUKI_PIN, None), 0x9000);
    // READ BINARY of EF 0002 by short identifier, extended Le: the whole 4 info at once.
    let read = [0, 0xB0, 0x82, 0, 0, 0, 0];
    let (data, s) = tx(&mut card, &read);
    assert_eq!((data, s), (four_info(), 0x9000));
    c.bench_function("card/read_four_info", |b| {
        b.iter(|| process(&mut card, &read))
    });
}

/// A card with the sign password verified and the signing key selected.
fn ready_to_sign(table: bool) -> TestCard {
    let (card, _) = issued_card();
    let mut card = configured(card, table);
    select_jpki(&mut card);
    expect(&mut card, &apdu(0, 0x20, 0, 0x9B, SIGN_PIN, None), 0x9000);
    select_ef(&mut card, 0x001A);
    card
}

fn compute_signature(c: &mut Criterion) {
    let hash: [u8; 32] = Sha256::digest(b"e-application").into();
    let sign = apdu(0x80, 0x2A, 0, 0x80, &hash, Some(256));
    for (name, table) in CONFIGURATIONS {
        let mut card = ready_to_sign(table);
        expect(&mut card, &sign, 0x9000);
        c.bench_function(&format!("card/sign/{name}"), |b| {
            b.iter(|| process(&mut card, &sign))
        });
    }
}

fn generate_key(c: &mut Criterion) {
    // Under the counter's secure messaging, as the counter sends it (the test helper wraps the
    // command and unwraps the answer: a few microseconds of AES on the host side).
    let generate = [0, 0x46, 0x80, 0x9A, 0];
    for (name, table) in CONFIGURATIONS {
        let (card, counter) = issued_card();
        let mut card = configured(card, table);
        select_jpki(&mut card);
        assert_eq!(counter.authenticate(&mut card), 0x9000);
        expect(&mut card, &generate, 0x9000);
        c.bench_function(&format!("card/generate_key/{name}"), |b| {
            b.iter(|| process(&mut card, &generate))
        });
    }
}

fn external_authenticate(c: &mut Criterion) {
    // The mutual authentication on the card: the counter's certificate and signature checked,
    // ECDH, the card's own signature over the exchange. The
    // counter's own signing (host side) is done in the setup, outside the measurement.
    let (mut card, counter) = issued_card();
    c.bench_function("card/external_authenticate", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                select_juki(&mut card);
                let (challenge, s) = raw(&mut card, &[0, 0x84, 0, 0, 0x10]);
                assert_eq!(s, 0x9000);
                let auth = apdu(0, 0x82, 0, 0, &counter.answer(&challenge), Some(65536));
                let started = Instant::now();
                let (_, s) = raw(&mut card, black_box(&auth));
                total += started.elapsed();
                assert_eq!(s, 0x9000);
            }
            total
        })
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = verify_pin, read_four_info, compute_signature, generate_key, external_authenticate
}
criterion_main!(benches);
