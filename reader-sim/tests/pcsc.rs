//! The reader simulator through the real PC/SC stack: pcscd with vsmartcard's vpcd driver.
//!
//! Needs a running pcscd with vpcd. `scripts/test.sh` provides one and sets `JUKI_PCSC=1`; then
//! a missing reader fails the test. Without `JUKI_PCSC=1`, the test is skipped when pcscd or the
//! reader is not there.
//!
//! One test function, so nothing else in this binary competes for the vpcd port.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use juki_reader_sim::image::FileNvm;
use juki_reader_sim::server::{SECOND_READER_NAME, SECOND_READER_PORT};
use juki_reader_sim::{SimCard, VpcdServer, ATR};
use pcsc::Disposition;

const SELECT_JUKI: &[u8] = &[
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01,
];
mod common;

use common::{connect, pcsc_or_skip, transmit, wait_for_card, TIMEOUT};

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
    assert_eq!(first_put, [0x90, 0x00], "PUT DATA on a blank card");
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
    // The card was initialised in the first run and remembers it: another root is refused
    // (the same root again would be the manufacturer's idempotent retry).
    let mut other_root = vec![0x00, 0xDA, 0x00, 0xC1, 0x41];
    other_root.extend(juki_test_vectors::keys::public_point(
        &juki_test_vectors::keys::foreign_root(),
    ));
    let second_put = transmit(&card, &other_root);
    assert_eq!(
        second_put,
        [0x69, 0x85],
        "the card forgot its initialisation"
    );
    drop(card);
    let card = server.stop().unwrap();
    assert_eq!(on_disk(&path), card.nvm().bytes());
    // A refused PUT DATA and a SELECT change nothing in the card's memory.
    assert_eq!(card.nvm().bytes(), after_first_run);
    wait_for_card(&ctx, &reader, false);
}
