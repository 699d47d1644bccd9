//! The reader simulator through the real PC/SC stack: pcscd with vsmartcard's vpcd driver.
//!
//! Needs a running pcscd with vpcd. `scripts/test.sh` provides one and sets `JUKI_PCSC=1`; then
//! a missing reader fails the test. Without `JUKI_PCSC=1`, the test is skipped when pcscd or the
//! reader is not there.
//!
//! One test function, so nothing else in this binary competes for the vpcd port.

use std::ffi::CString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use juki_reader_sim::image::FileNvm;
use juki_reader_sim::server::{pcsc_required, SECOND_READER_NAME, SECOND_READER_PORT};
use juki_reader_sim::{SimCard, VpcdServer, ATR};
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

const SELECT_JUKI: &[u8] = &[
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01,
];
const TIMEOUT: Duration = Duration::from_secs(10);

/// PUT DATA (initialise) with the P-256 base point as the national root key.
fn put_data_root_key() -> Vec<u8> {
    let g = "046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296\
             4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5";
    let mut apdu = vec![0x00, 0xDA, 0x00, 0xC1, 0x41];
    apdu.extend(
        (0..g.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&g[i..i + 2], 16).unwrap()),
    );
    apdu
}

/// The PC/SC context and the reader name, or `None` to skip.
fn pcsc_or_skip(reader: &str) -> Option<(Context, CString)> {
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
fn wait_for_card(ctx: &Context, reader: &CString, present: bool) -> Vec<u8> {
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

fn transmit(card: &pcsc::Card, apdu: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    card.transmit(apdu, &mut buf).unwrap().to_vec()
}

fn connect(ctx: &Context, reader: &CString) -> pcsc::Card {
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

fn on_disk(path: &Path) -> Vec<u8> {
    FileNvm::open(path).unwrap().bytes().to_vec()
}

#[test]
fn card_in_the_virtual_reader_through_pcscd() {
    let Some((ctx, reader)) = pcsc_or_skip(SECOND_READER_NAME) else {
        return;
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, SECOND_READER_PORT));
    wait_for_card(&ctx, &reader, false);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let card = SimCard::create(&path).unwrap();
    let server = VpcdServer::spawn_card(card, addr, |_| {}).unwrap();
    assert!(server.wait_connected(1, TIMEOUT), "never reached vpcd");

    // pcscd sees the card with our ATR, and the card answers APDUs.
    assert_eq!(wait_for_card(&ctx, &reader, true), ATR);
    let card = connect(&ctx, &reader);
    assert_eq!(card.status2_owned().unwrap().atr(), ATR);
    let select = transmit(&card, SELECT_JUKI);
    assert_eq!(
        select.len(),
        2,
        "SELECT with P2=0C answers a status word only"
    );
    assert!(matches!(select[0], 0x90 | 0x61..=0x6F), "SW {select:02X?}");
    let first_put = transmit(&card, &put_data_root_key());
    assert!(first_put.len() >= 2);
    card.disconnect(Disposition::ResetCard)
        .map_err(|(_, e)| e)
        .unwrap();

    // Stopping the server takes the card out of the reader; what the card answered is on disk.
    let card = server.stop().unwrap();
    assert!(!card.is_powered());
    assert_eq!(on_disk(&path), card.nvm().bytes());
    let after_first_run = card.nvm().bytes().to_vec();
    drop(card);
    wait_for_card(&ctx, &reader, false);

    // A new simulator on the same image: the card is the same card.
    let server = VpcdServer::spawn(&path, addr).unwrap();
    assert!(
        server.wait_connected(1, TIMEOUT),
        "never reached vpcd again"
    );
    assert_eq!(wait_for_card(&ctx, &reader, true), ATR);
    let card = connect(&ctx, &reader);
    assert_eq!(transmit(&card, SELECT_JUKI), select);
    let second_put = transmit(&card, &put_data_root_key());
    if first_put == [0x90, 0x00] {
        // The card was initialised in the first run and remembers it.
        assert_eq!(
            second_put,
            [0x69, 0x85],
            "the card forgot its initialisation"
        );
    } else {
        assert_eq!(second_put, first_put);
    }
    drop(card);
    let card = server.stop().unwrap();
    assert_eq!(on_disk(&path), card.nvm().bytes());
    if first_put != [0x90, 0x00] {
        assert_eq!(card.nvm().bytes(), after_first_run);
    }
    wait_for_card(&ctx, &reader, false);
}
