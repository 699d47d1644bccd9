//! Helpers shared by the tests that go through the real pcscd with vpcd.
#![allow(dead_code)]

use std::ffi::CString;
use std::time::{Duration, Instant};

use juki_reader_sim::server::pcsc_required;
use pcsc::{Context, Protocols, ReaderState, Scope, ShareMode, State};

/// How long to wait for pcscd to notice a card arriving or leaving.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The PC/SC context and the reader name, or `None` to skip.
pub fn pcsc_or_skip(reader: &str) -> Option<(Context, CString)> {
    let required = pcsc_required();
    let ctx = match Context::establish(Scope::User) {
        Ok(ctx) => ctx,
        Err(e) if !required => {
            eprintln!("SKIPPED: no pcscd ({e}); scripts/test.sh runs this test with one");
            return None;
        }
        Err(e) => panic!("JUKI_PCSC=1 but pcscd is not reachable: {e}"),
    };
    let readers = ctx.list_readers_owned().unwrap_or_default();
    match readers.into_iter().find(|r| r.to_str() == Ok(reader)) {
        Some(name) => Some((ctx, name)),
        None if !required => {
            eprintln!("SKIPPED: pcscd has no reader {reader:?} (is vsmartcard-vpcd installed?)");
            None
        }
        None => panic!("JUKI_PCSC=1 but pcscd has no reader {reader:?}"),
    }
}

/// Waits until the reader reports a card (`present`) or no card; returns the ATR seen.
pub fn wait_for_card(ctx: &Context, reader: &CString, present: bool) -> Vec<u8> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut states = [ReaderState::new(reader.clone(), State::UNAWARE)];
        ctx.get_status_change(Duration::ZERO, &mut states).unwrap();
        let state = states[0].event_state();
        let wanted = if present {
            State::PRESENT
        } else {
            State::EMPTY
        };
        if state.contains(wanted) {
            return states[0].atr().to_vec();
        }
        assert!(
            Instant::now() < deadline,
            "reader {reader:?} never became {}; state {state:?}",
            if present { "present" } else { "empty" }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn transmit(card: &pcsc::Card, apdu: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    card.transmit(apdu, &mut buf).unwrap().to_vec()
}

pub fn connect(ctx: &Context, reader: &CString) -> pcsc::Card {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match ctx.connect(reader, ShareMode::Shared, Protocols::T1) {
            Ok(card) => return card,
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect: {e}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot connect to the card in {reader:?}: {e}"),
        }
    }
}
