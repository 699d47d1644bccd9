//! Replays every APDU transcript of `test-vectors/` through the real PC/SC stack: the pcsc
//! crate → pcscd → vpcd → the simulator → the card core. Each transcript starts on a new blank
//! card image; `@reset` is a real power cycle through pcscd (`SCardReconnect` with
//! `SCARD_UNPOWER_CARD`).
//!
//! Needs pcscd with vpcd; `scripts/test.sh` provides it and sets `JUKI_PCSC=1`.

mod common;

use std::ffi::CString;
use std::net::{Ipv4Addr, SocketAddr};

use common::{connect, pcsc_or_skip, wait_for_card, TIMEOUT};
use juki_reader_sim::server::{SECOND_READER_NAME, SECOND_READER_PORT};
use juki_reader_sim::{SimCard, VpcdServer};
use juki_test_vectors::{runnable_over_pcsc, Exchange};
use pcsc::{Context, Disposition, Protocols, ShareMode};

struct OverPcsc {
    card: pcsc::Card,
}

impl Exchange for OverPcsc {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        match self.card.transmit(apdu, &mut buf) {
            Ok(response) => response.to_vec(),
            // pcscd refuses some malformed APDUs itself before they reach the card; report it
            // as a response no transcript expects, so the replay says which line.
            Err(e) => format!("PC/SC error: {e}").into_bytes(),
        }
    }

    fn reset(&mut self) {
        self.card
            .reconnect(ShareMode::Shared, Protocols::T1, Disposition::UnpowerCard)
            .unwrap_or_else(|e| panic!("power cycle through pcscd failed: {e}"));
    }
}

fn replay_one(ctx: &Context, reader: &CString, name: &str) -> Result<(usize, usize), String> {
    let transcript = juki_test_vectors::transcript(name).ok_or("no such transcript")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let card = SimCard::create(dir.path().join("card.img")).map_err(|e| e.to_string())?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, SECOND_READER_PORT));
    let server = VpcdServer::spawn_card(card, addr, |_| {}).map_err(|e| e.to_string())?;
    if !server.wait_connected(1, TIMEOUT) {
        return Err("the simulator never reached vpcd".into());
    }
    wait_for_card(ctx, reader, true);
    let mut exchange = OverPcsc {
        card: connect(ctx, reader),
    };
    let result = transcript.replay(&mut exchange);
    drop(exchange);
    server.stop().map_err(|e| e.to_string())?;
    wait_for_card(ctx, reader, false);
    result
        .map(|stats| (stats.apdus, stats.checks))
        .map_err(|e| e.to_string())
}

#[test]
fn every_transcript_replays_through_pcscd_and_vpcd() {
    let Some((ctx, reader)) = pcsc_or_skip(SECOND_READER_NAME) else {
        return;
    };
    wait_for_card(&ctx, &reader, false);
    let mut failures = Vec::new();
    let (mut apdus, mut checks, mut count) = (0, 0, 0);
    for transcript in runnable_over_pcsc() {
        match replay_one(&ctx, &reader, transcript.name) {
            Ok((a, c)) => {
                apdus += a;
                checks += c;
                count += 1;
            }
            Err(e) => failures.push(format!("{}: {e}", transcript.name)),
        }
    }
    println!("{count} transcripts, {apdus} APDUs, {checks} checks through pcscd + vpcd");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        count >= 13 && checks > 800,
        "too little ran: {count} transcripts, {checks} checks"
    );
}
