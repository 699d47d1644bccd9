//! End-to-end behaviour of the card core, APDU in, response out. Negative cases first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use juki_card::basepoint::BasepointTable;
use juki_card::files::{JPKI_AID, JUKI_AID};
use juki_card::lifecycle::Lifecycle;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- malformed APDUs

#[test]
fn malformed_apdus_answer_the_right_status_word() {
    let (mut card, _) = issued_card();
    select_juki(&mut card);
    // Too short, short Lc mismatch (both ways), extended Lc mismatch, 00 + one byte.
    assert_eq!(sw(&mut card, &[0x00]), 0x6700);
    assert_eq!(sw(&mut card, &[0x00, 0xA4, 0x02]), 0x6700);
    assert_eq!(sw(&mut card, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00]), 0x6700);
    assert_eq!(
        sw(
            &mut card,
            &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01, 0x00, 0x00]
        ),
        0x6700
    );
    assert_eq!(
        sw(
            &mut card,
            &[0x00, 0xA4, 0x02, 0x0C, 0x00, 0x00, 0x03, 0x00, 0x01]
        ),
        0x6700
    );
    assert_eq!(sw(&mut card, &[0x00, 0xB0, 0x00, 0x00, 0x00, 0x10]), 0x6700);
    // Bad P1-P2.
    assert_eq!(
        sw(&mut card, &[0x00, 0xA4, 0x01, 0x0C, 0x02, 0x00, 0x01]),
        0x6A86
    );
    assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x9F]), 0x6A86);
    assert_eq!(sw(&mut card, &[0x00, 0x20, 0x00, 0x01]), 0x6A86);
    assert_eq!(sw(&mut card, &[0x00, 0xB0, 0x80, 0x00, 0x00]), 0x6A86);
    assert_eq!(sw(&mut card, &[0x00, 0xB0, 0xA1, 0x00, 0x00]), 0x6A86);
    assert_eq!(sw(&mut card, &[0x00, 0x84, 0x00, 0x01, 0x10]), 0x6A86);
    // Unknown INS, unknown CLA, logical channel.
    assert_eq!(sw(&mut card, &[0x00, 0x0E, 0x00, 0x00]), 0x6D00);
    assert_eq!(sw(&mut card, &[0x00, 0xCA, 0x00, 0x00, 0x00]), 0x6D00);
    assert_eq!(sw(&mut card, &[0xA0, 0xA4, 0x04, 0x0C, 0x01, 0xD3]), 0x6E00);
    assert_eq!(sw(&mut card, &[0xFF, 0xA4, 0x04, 0x0C, 0x01, 0xD3]), 0x6E00);
    assert_eq!(sw(&mut card, &[0x80, 0xB0, 0x00, 0x00, 0x00]), 0x6E00);
    // Secure messaging without a counter session: 6988; other class bits: 6E00.
    assert_eq!(sw(&mut card, &[0x0C, 0xB0, 0x00, 0x00, 0x00]), 0x6988);
    assert_eq!(sw(&mut card, &[0x04, 0xB0, 0x00, 0x00, 0x00]), 0x6E00);
    assert_eq!(sw(&mut card, &[0x08, 0xB0, 0x00, 0x00, 0x00]), 0x6E00);
    assert_eq!(sw(&mut card, &[0x01, 0xB0, 0x00, 0x00, 0x00]), 0x6881);
    // Le on GET CHALLENGE must be 10.
    assert_eq!(sw(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x08]), 0x6700);
    // Nothing garbled the session: the card still answers.
    assert_eq!(tx(&mut card, &[0, 0x84, 0, 0, 0x10]).1, 0x9000);
}

// ---------------------------------------------------------------- short EF identifiers

/// A short EF identifier (the low byte of the file ID) in READ/UPDATE BINARY P1 or in the P2 of
/// the PIN and key commands selects that EF first, saving the SELECT: the same answers, the same
/// access conditions, and the EF stays current.
#[test]
fn short_ef_identifiers_select_their_ef_first() {
    let (mut card, counter) = issued_card();
    // No application selected: no EF to find.
    assert_eq!(sw(&mut card, &[0, 0xB0, 0x84, 0, 0]), 0x6A82);
    select_juki(&mut card);
    // Card information (free): the same bytes as SELECT + READ BINARY.
    let (info, s) = tx(&mut card, &[0, 0xB0, 0x84, 0, 0]);
    assert_eq!((info.clone(), s), (card_info(), 0x9000));
    // The EF stays current: a plain READ BINARY goes on at an offset.
    assert_eq!(
        tx(&mut card, &[0, 0xB0, 0, 3, 0]),
        (card_info()[3..].to_vec(), 0x9000)
    );
    // P2 is the offset.
    assert_eq!(
        tx(&mut card, &[0, 0xB0, 0x84, 3, 2]),
        (card_info()[3..5].to_vec(), 0x9000)
    );
    // No such EF in this application (住基 has no 0006; 0017 is the JPKI AP's).
    assert_eq!(sw(&mut card, &[0, 0xB0, 0x86, 0, 0]), 0x6A82);
    assert_eq!(sw(&mut card, &[0, 0x20, 0, 0x97]), 0x6A82);
    // Resident code behind the 住基 PIN, which P2 9C names (EF 001C).
    assert_eq!(sw(&mut card, &[0, 0xB0, 0x81, 0, 0]), 0x6982);
    assert_eq!(
        sw(&mut card, &apdu(0, 0x20, 0, 0x9C, b"0000", None)),
        0x63C2
    );
    assert_eq!(sw(&mut card, &[0, 0x20, 0, 0x9C]), 0x63C2);
    assert_eq!(
        sw(&mut card, &apdu(0, 0x20, 0, 0x9C, JUKI_PIN, None)),
        0x9000
    );
    assert_eq!(
        tx(&mut card, &[0, 0xB0, 0x81, 0, 0]),
        (RESIDENT_CODE.to_vec(), 0x9000)
    );
    // A binary EF is not a PIN: VERIFY naming 0004 is refused as with it selected.
    select_ef(&mut card, 0x0004);
    let selected = sw(&mut card, &apdu(0, 0x20, 0, 0x80, JUKI_PIN, None));
    assert_eq!(
        sw(&mut card, &apdu(0, 0x20, 0, 0x84, JUKI_PIN, None)),
        selected
    );
    assert_ne!(selected, 0x9000);
    // The counter's commands still need the counter and secure messaging.
    assert_eq!(sw(&mut card, &apdu(0, 0xD6, 0x84, 0, b"x", None)), 0x6982);
    assert_eq!(
        sw(&mut card, &apdu(0, 0x2C, 2, 0x9C, b"2468", None)),
        0x6982
    );
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(
        raw(&mut card, &apdu(0, 0xD6, 0x84, 0, b"x", None)).1,
        0x6987
    );
    // Under secure messaging, UPDATE BINARY by short identifier writes that EF.
    let mut changed = card_info();
    changed[0] ^= 1;
    assert_eq!(
        sw(&mut card, &apdu(0, 0xD6, 0x84, 0, &changed, None)),
        0x9000
    );
    select_juki(&mut card);
    assert_eq!(tx(&mut card, &[0, 0xB0, 0x84, 0, 0]), (changed, 0x9000));

    // JPKI: sign with VERIFY by short identifier, then the key by SELECT (4 APDUs in all).
    select_jpki(&mut card);
    assert_eq!(
        sw(&mut card, &apdu(0, 0x20, 0, 0x9B, SIGN_PIN, None)),
        0x9000
    );
    select_ef(&mut card, 0x001A);
    let hash: [u8; 32] = Sha256::digest(b"e-application").into();
    let (signature, s) = tx(&mut card, &apdu(0x80, 0x2A, 0, 0x80, &hash, Some(256)));
    assert_eq!(s, 0x9000);
    // The key's public half, by short identifier too (P2 9A).
    let (public, s) = tx(&mut card, &[0, 0x46, 0x81, 0x9A, 0]);
    assert_eq!(s, 0x9000);
    let key = VerifyingKey::from_sec1_bytes(&public[5..]).unwrap();
    let signature = Signature::from_slice(&signature).unwrap();
    key.verify_prehash(&hash, &signature).unwrap();
    // The signing certificate EF 0001 of the JPKI AP is behind the sign password: verified.
    assert_ne!(sw(&mut card, &[0, 0xB0, 0x81, 0, 0]), 0x6982);
    select_jpki(&mut card);
    assert_eq!(sw(&mut card, &[0, 0xB0, 0x81, 0, 0]), 0x6982);
}

/// A protected command's decrypted data (here a new PIN) is in the transport's scratch buffer
/// only while the command runs: GET RESPONSE afterwards has nothing to give.
#[test]
fn a_protected_commands_plain_data_is_not_left_for_get_response() {
    let (mut card, counter) = issued_card();
    select_juki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(
        sw(&mut card, &apdu(0, 0x2C, 2, 0x9C, b"2468", None)),
        0x9000
    );
    assert_eq!(raw(&mut card, &[0, 0xC0, 0, 0, 0]), (vec![], 0x6985));
    // The same after a protected command the card refuses.
    assert_eq!(sw(&mut card, &apdu(0, 0x2C, 2, 0x9C, b"12", None)), 0x6A80);
    assert_eq!(raw(&mut card, &[0, 0xC0, 0, 0, 0]), (vec![], 0x6985));
}

#[test]
fn no_command_answers_6f00_or_panics() {
    sweep(issued_card().0);
    sweep(suspended_card().0);
    sweep(terminated_card().0);
}

fn sweep(mut card: TestCard) {
    // Every INS with assorted P1-P2 and bodies, in both applications and with various EFs.
    let bodies: [&[u8]; 6] = [
        &[],
        &[0x00],
        &[0x02, 0x00, 0x01],
        &[0x00, 0x00, 0x00],
        &[0x01, 0xFF, 0x00],
        &[0x00, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00],
    ];
    for app in [&JUKI_AID, &JPKI_AID] {
        for fid in [0x0001u16, 0x001C, 0x0017, 0x001B, 0x0002] {
            for ins in 0..=255u8 {
                for (p1, p2) in [
                    (0, 0),
                    (0x04, 0x0C),
                    (0x02, 0x0C),
                    (0, 0x80),
                    (0x80, 0),
                    (0x81, 0),
                ] {
                    for body in bodies {
                        for cla in [0x00u8, 0x80, 0x10] {
                            let mut raw = vec![cla, ins, p1, p2];
                            raw.extend_from_slice(body);
                            let (_, s) = tx(&mut card, &raw);
                            assert_ne!(s, 0x6F00);
                        }
                    }
                }
            }
            sw(&mut card, &apdu(0, 0xA4, 4, 0x0C, app, None));
            sw(&mut card, &apdu(0, 0xA4, 2, 0x0C, &fid.to_be_bytes(), None));
        }
    }
}

// ---------------------------------------------------------------- lifecycle

/// An issued card suspended by the counter (reset afterwards: nothing volatile left).
fn suspended_card() -> (TestCard, Counter) {
    let (mut card, counter) = issued_card();
    select_juki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(sw(&mut card, &[0, 0x04, 0, 0]), 0x9000);
    reset(&mut card);
    assert_eq!(card.lifecycle(), Lifecycle::Suspended);
    (card, counter)
}

/// An issued card terminated by the counter.
fn terminated_card() -> (TestCard, Counter) {
    let (mut card, counter) = issued_card();
    select_jpki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(sw(&mut card, &[0, 0xFE, 0, 0]), 0x9000);
    reset(&mut card);
    assert_eq!(card.lifecycle(), Lifecycle::Terminated);
    (card, counter)
}

#[test]
fn suspension_refuses_the_holder_and_survives_power_cycles() {
    let (card, counter) = suspended_card();
    let mut card = power_cycle(card);
    assert_eq!(card.lifecycle(), Lifecycle::Suspended);
    let select = apdu(0, 0xA4, 4, 0x0C, &JUKI_AID, None);
    assert_eq!(sw(&mut card, &select), 0x6283);
    select_ef(&mut card, 0x001C);
    for _ in 0..5 {
        assert_eq!(verify(&mut card, b"0000"), 0x6283);
    }
    assert_eq!(card.pin_tries(), [3, 3, 5], "refused tries use none");
    // Resume, in another session after a power cycle.
    let mut card = power_cycle(card);
    assert_eq!(sw(&mut card, &select), 0x6283);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(sw(&mut card, &[0, 0x44, 0, 0]), 0x9000);
    let mut card = power_cycle(card);
    assert_eq!(card.lifecycle(), Lifecycle::Issued);
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x9000);
}

#[test]
fn termination_erases_pins_and_keys_for_good() {
    let (card, counter) = terminated_card();
    assert_eq!(card.pin_tries(), [0, 0, 0]);
    let mut card = power_cycle(card);
    assert_eq!(card.lifecycle(), Lifecycle::Terminated);
    let select = apdu(0, 0xA4, 4, 0x0C, &JPKI_AID, None);
    assert_eq!(sw(&mut card, &select), 0x6285);
    select_ef(&mut card, 0x001A);
    assert_eq!(sw(&mut card, &[0, 0x46, 0x81, 0, 0]), 0x6285);
    // Not even a valid counter answer to an old challenge gets through.
    let answer = counter.answer(&[0; 16]);
    assert_eq!(sw(&mut card, &apdu(0, 0x82, 0, 0, &answer, None)), 0x6985);
    // The card still proves itself (and its state) to a counter, but runs no counter command.
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(sw(&mut card, &[0, 0x44, 0, 0]), 0x6285);
    select_ef(&mut card, 0x0018);
    assert_eq!(
        sw(&mut card, &apdu(0, 0x2C, 2, 0x80, b"2580", None)),
        0x6285
    );
    assert_eq!(card.lifecycle(), Lifecycle::Terminated);
}

#[test]
fn blank_card_only_selects_and_initialises() {
    let counter = Counter::new();
    let mut card = new_card();
    assert_eq!(card.lifecycle(), Lifecycle::Blank);
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x6985);
    assert_eq!(sw(&mut card, &[0, 0x84, 0, 0, 0x10]), 0x6985);
    assert_eq!(sw(&mut card, &[0, 0x44, 0, 0]), 0x6985);
    assert_eq!(read_all(&mut card).1, 0x6985);
    // Not a point, wrong length, compressed: 6A80.
    let mut bad = sec1(&counter.root);
    bad[40] ^= 1;
    assert_eq!(sw(&mut card, &apdu(0, 0xDA, 0, 0xC1, &bad, None)), 0x6A80);
    assert_eq!(
        sw(&mut card, &apdu(0, 0xDA, 0, 0xC1, &bad[..64], None)),
        0x6A80
    );
    assert_eq!(sw(&mut card, &apdu(0, 0xDA, 0, 0xC3, &bad, None)), 0x6A86);
    assert_eq!(sw(&mut card, &apdu(0, 0xDA, 0, 0xC2, &bad, None)), 0x6985);
    initialise(&mut card, &counter);
    assert_eq!(card.lifecycle(), Lifecycle::Initialised);
    // Only once.
    assert_eq!(
        sw(
            &mut card,
            &apdu(0, 0xDA, 0, 0xC1, &sec1(&counter.key), None)
        ),
        0x6985
    );
    // Initialised survives a power cycle.
    let card = power_cycle(card);
    assert_eq!(card.lifecycle(), Lifecycle::Initialised);
}

#[test]
fn counter_commands_need_authentication() {
    let counter = Counter::new();
    let mut card = new_card();
    initialise(&mut card, &counter);
    select_juki(&mut card);
    select_ef(&mut card, 0x0002);
    assert_eq!(update(&mut card, 0, b"x"), 0x6982);
    select_ef(&mut card, 0x001C);
    assert_eq!(
        sw(&mut card, &apdu(0, 0x2C, 2, 0x80, JUKI_PIN, None)),
        0x6982
    );
    assert_eq!(sw(&mut card, &[0, 0x44, 0, 0]), 0x6982);
    select_jpki(&mut card);
    select_ef(&mut card, 0x0017);
    assert_eq!(sw(&mut card, &[0, 0x46, 0x80, 0, 0]), 0x6982);
    // No key yet: reading the public key is 6985.
    assert_eq!(sw(&mut card, &[0, 0x46, 0x81, 0, 0]), 0x6985);
    // Authentication is cleared by SELECT AID and by reset.
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    select_ef(&mut card, 0x0006);
    assert_eq!(update(&mut card, 0, b"JPKIAPICCTOKEN"), 0x9000);
    select_jpki(&mut card);
    select_ef(&mut card, 0x0006);
    assert_eq!(update(&mut card, 0, b"X"), 0x6982);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    reset(&mut card);
    select_jpki(&mut card);
    select_ef(&mut card, 0x0006);
    assert_eq!(update(&mut card, 0, b"X"), 0x6982);
}

/// The card ends the counter's session exactly when `Command::counter_session_after` says (the
/// rule the host follows): here a failed EXTERNAL AUTHENTICATE, even without a challenge.
#[test]
fn the_counter_session_ends_as_the_command_rule_says() {
    use juki_card::command::{Command, SessionChange};
    use juki_card::status::Status;
    let (mut card, counter) = issued_card();
    select_juki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    let plain_update = apdu(0, 0xD6, 0x84, 0, b"x", None);
    // The session up: the plain counter command is refused for want of protection.
    assert_eq!(raw(&mut card, &plain_update).1, 0x6987);
    let data = [1, 2, 3];
    let (_, s) = raw(&mut card, &apdu(0, 0x82, 0, 0, &data, Some(256)));
    assert_eq!(s, 0x6985, "no challenge waiting");
    let command = Command::ExternalAuthenticate { data: &data };
    assert_eq!(
        command.counter_session_after(Status::from_sw(s)),
        SessionChange::Ended
    );
    // The session over: the counter is not authenticated any more.
    assert_eq!(raw(&mut card, &plain_update).1, 0x6982);
    // DEACTIVATE FILE keeps it, TERMINATE CARD USAGE ends it.
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(tx(&mut card, &[0, 0x04, 0, 0]).1, 0x9000);
    assert_eq!(
        Command::Deactivate.counter_session_after(Status::Ok),
        SessionChange::Kept
    );
    assert_eq!(raw(&mut card, &plain_update).1, 0x6987);
    assert_eq!(tx(&mut card, &[0, 0xFE, 0, 0]).1, 0x9000);
    assert_eq!(
        Command::Terminate.counter_session_after(Status::Ok),
        SessionChange::Ended
    );
    assert_eq!(raw(&mut card, &plain_update).1, 0x6285);
}

#[test]
fn activate_needs_complete_personalisation() {
    let counter = Counter::new();
    let mut card = new_card();
    initialise(&mut card, &counter);
    select_juki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(sw(&mut card, &[0, 0x44, 0, 0]), 0x6985);
    select_ef(&mut card, 0x0001);
    assert_eq!(update(&mut card, 0, RESIDENT_CODE), 0x9000);
    assert_eq!(sw(&mut card, &[0, 0x44, 0, 0]), 0x6985);
    assert_eq!(card.lifecycle(), Lifecycle::Initialised);
    // The full run reaches issued; ACTIVATE and PUT DATA are then refused.
    let mut card = new_card();
    personalise(&mut card, &counter);
    assert_eq!(card.lifecycle(), Lifecycle::Issued);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(sw(&mut card, &[0, 0x44, 0, 0]), 0x6985);
    assert_eq!(
        sw(
            &mut card,
            &apdu(0, 0xDA, 0, 0xC1, &sec1(&counter.root), None)
        ),
        0x6985
    );
}

// ---------------------------------------------------------------- counter authentication

#[test]
fn external_authenticate_refuses_forgeries() {
    let counter = Counter::new();
    let mut card = new_card();
    initialise(&mut card, &counter);
    select_juki(&mut card);
    select_ef(&mut card, 0x0002);
    let ext_auth =
        |card: &mut TestCard, data: &[u8]| sw(card, &apdu(0, 0x82, 0, 0, data, Some(65536)));
    let challenge = |card: &mut TestCard| {
        let (c, s) = tx(card, &[0, 0x84, 0, 0, 0x10]);
        assert_eq!(s, 0x9000);
        c
    };

    // No challenge waiting.
    assert_eq!(ext_auth(&mut card, &counter.answer(&[0; 16])), 0x6985);

    // A certificate from another root, with a good challenge signature.
    let other_root = p256::ecdsa::SigningKey::from_slice(&[0x33; 32]).unwrap();
    let forged = Counter {
        cert: certificate(&other_root, &counter.key, b"20260401", b"20310331"),
        root: other_root,
        key: counter.key.clone(),
    };
    let c = challenge(&mut card);
    assert_eq!(ext_auth(&mut card, &forged.answer(&c)), 0x6982);
    assert_eq!(update(&mut card, 0, b"x"), 0x6982);

    // A certificate altered after signing.
    let c = challenge(&mut card);
    let mut data = counter.answer(&c);
    let pos = data.windows(6).position(|w| w == b"131016").unwrap();
    data[pos] = b'2';
    assert_eq!(ext_auth(&mut card, &data), 0x6982);

    // A wrong challenge signature: signed by the root instead of the counter, or over another
    // challenge.
    let c = challenge(&mut card);
    let wrong_key = Counter {
        key: counter.root.clone(),
        cert: counter.cert.clone(),
        root: counter.root.clone(),
    };
    assert_eq!(ext_auth(&mut card, &wrong_key.answer(&c)), 0x6982);
    let mut other = c.clone();
    other[0] ^= 1;
    let _ = challenge(&mut card);
    assert_eq!(ext_auth(&mut card, &counter.answer(&other)), 0x6982);

    // Malformed data.
    let c = challenge(&mut card);
    let good = counter.answer(&c);
    assert_eq!(ext_auth(&mut card, &good[..good.len() - 1]), 0x6982);

    // The challenge is single-use: a failed attempt used it up.
    assert_eq!(ext_auth(&mut card, &good), 0x6985);

    // Success, then a replay of the same answer.
    let c = challenge(&mut card);
    let good = counter.answer(&c);
    assert_eq!(ext_auth(&mut card, &good), 0x9000);
    assert_eq!(update(&mut card, 0, b"x"), 0x9000);
    assert_eq!(ext_auth(&mut card, &good), 0x6985);
    let _ = challenge(&mut card);
    assert_eq!(ext_auth(&mut card, &good), 0x6982);
    // A failed attempt also ends the earlier authentication.
    assert_eq!(update(&mut card, 0, b"x"), 0x6982);
}

#[test]
fn expired_certificate_is_refused_after_a_newer_one() {
    let old = Counter::with_validity(b"20200401", b"20250331");
    let new = Counter::with_validity(b"20260401", b"20310331");
    let mut card = new_card();
    initialise(&mut card, &new);
    // The card has no clock: before it saw anything newer, the old certificate passes.
    assert_eq!(old.authenticate(&mut card), 0x9000);
    assert_eq!(new.authenticate(&mut card), 0x9000);
    // Now the card's last-known date is 2026-04-01: the old one expired before it.
    assert_eq!(old.authenticate(&mut card), 0x6982);
    // And it remembers across power cycles.
    let mut card = power_cycle(card);
    assert_eq!(old.authenticate(&mut card), 0x6982);
    assert_eq!(new.authenticate(&mut card), 0x9000);
    // A certificate valid until exactly the last-known date still passes.
    let edge = Counter::with_validity(b"20200101", b"20260401");
    assert_eq!(edge.authenticate(&mut card), 0x9000);
}

// ---------------------------------------------------------------- PINs

#[test]
fn wrong_pin_counts_down_then_blocks_even_the_right_pin() {
    let (mut card, counter) = issued_card();
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, b""), 0x63C3);
    assert_eq!(verify(&mut card, b"0000"), 0x63C2);
    assert_eq!(verify(&mut card, b"9999"), 0x63C1);
    assert_eq!(verify(&mut card, b"2468"), 0x63C0);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x6984);
    assert_eq!(verify(&mut card, b""), 0x6984);
    // Blocked survives a power cycle.
    let mut card = power_cycle(card);
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x6984);
    // Reset at the counter: full tries, new PIN.
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    select_ef(&mut card, 0x001C);
    assert_eq!(
        sw(&mut card, &apdu(0, 0x2C, 2, 0x80, b"1111", None)),
        0x6A80
    );
    assert_eq!(
        sw(&mut card, &apdu(0, 0x2C, 2, 0x80, b"8642", None)),
        0x9000
    );
    assert_eq!(verify(&mut card, b""), 0x63C3);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x63C2);
    assert_eq!(verify(&mut card, b"8642"), 0x9000);
    assert_eq!(verify(&mut card, b""), 0x9000);
    assert_eq!(card.pin_tries()[0], 3);
}

#[test]
fn wrong_length_or_characters_count_as_wrong_tries() {
    let (mut card, _) = issued_card();
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, b"135"), 0x63C2);
    assert_eq!(verify(&mut card, b"13570"), 0x63C1);
    assert_eq!(verify(&mut card, b"13a7"), 0x63C0);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x6984);
    // A PIN longer than any format is a wrong try too (sign password: 5 tries).
    select_jpki(&mut card);
    select_ef(&mut card, 0x001B);
    assert_eq!(verify(&mut card, &[b'A'; 40]), 0x63C4);
    assert_eq!(verify(&mut card, b"abc123"), 0x63C3);
    assert_eq!(verify(&mut card, SIGN_PIN), 0x9000);
    assert_eq!(verify(&mut card, b""), 0x9000);
}

#[test]
fn verify_needs_a_pin_ef() {
    let (mut card, _) = issued_card();
    assert_eq!(verify(&mut card, JUKI_PIN), 0x6986);
    select_juki(&mut card);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x6986);
    select_ef(&mut card, 0x0004);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x6986);
    assert_eq!(card.pin_tries(), [3, 3, 5]);
}

#[test]
fn pin_status_is_cleared_by_reset_select_aid_and_a_wrong_try() {
    let (mut card, _) = issued_card();
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x9000);
    select_ef(&mut card, 0x0001);
    assert_eq!(read_all(&mut card), (RESIDENT_CODE.to_vec(), 0x9000));
    // SELECT by AID (even the same one).
    select_juki(&mut card);
    select_ef(&mut card, 0x0001);
    assert_eq!(read_all(&mut card).1, 0x6982);
    // Reset.
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x9000);
    reset(&mut card);
    select_juki(&mut card);
    select_ef(&mut card, 0x0001);
    assert_eq!(read_all(&mut card).1, 0x6982);
    // A wrong try.
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x9000);
    assert_eq!(verify(&mut card, b"0000"), 0x63C2);
    assert_eq!(verify(&mut card, b""), 0x63C2);
    select_ef(&mut card, 0x0001);
    assert_eq!(read_all(&mut card).1, 0x6982);
    // Select by FID keeps it.
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x9000);
    select_ef(&mut card, 0x0004);
    select_ef(&mut card, 0x0001);
    assert_eq!(read_all(&mut card).1, 0x9000);
}

#[test]
fn change_reference_data_refuses_weak_and_malformed_pins() {
    let (mut card, _) = issued_card();
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    let change = |card: &mut TestCard, pin: &[u8]| sw(card, &apdu(0, 0x24, 1, 0x80, pin, None));
    assert_eq!(change(&mut card, b"8642"), 0x6982);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x9000);
    for weak in [
        &b"7777"[..],
        b"0000",
        b"1234",
        b"4321",
        b"0123",
        b"6789",
        b"7890",
        b"8901",
        b"9012",
        b"3210",
        b"2109",
        b"1098",
        b"0987",
        b"0415",
    ] {
        assert_eq!(change(&mut card, weak), 0x6A80, "{weak:?}");
    }
    for malformed in [&b"864"[..], b"86420", b"86a2", b"ABC123"] {
        assert_eq!(change(&mut card, malformed), 0x6A80, "{malformed:?}");
    }
    assert_eq!(change(&mut card, b"0416"), 0x9000);
    reset(&mut card);
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x63C2);
    assert_eq!(verify(&mut card, b"0416"), 0x9000);
    // The auth PIN obeys the birthday rule too; the sign password its own format.
    select_jpki(&mut card);
    select_ef(&mut card, 0x0018);
    assert_eq!(verify(&mut card, AUTH_PIN), 0x9000);
    assert_eq!(change(&mut card, b"0415"), 0x6A80);
    assert_eq!(change(&mut card, b"5826"), 0x9000);
    select_ef(&mut card, 0x001B);
    assert_eq!(verify(&mut card, SIGN_PIN), 0x9000);
    for bad in [
        &b"ABCDEF"[..],
        b"123456",
        b"abc123",
        b"AB12",
        b"A1234567890123456",
    ] {
        assert_eq!(change(&mut card, bad), 0x6A80, "{bad:?}");
    }
    assert_eq!(change(&mut card, b"ZX9Y8W7"), 0x9000);
}

// ---------------------------------------------------------------- files

#[test]
fn protected_files_need_their_pin() {
    let (mut card, _) = issued_card();
    assert_eq!(read_all(&mut card).1, 0x6986);
    select_juki(&mut card);
    assert_eq!(read_all(&mut card).1, 0x6986);
    assert_eq!(
        sw(&mut card, &apdu(0, 0xA4, 2, 0x0C, &[0x00, 0x06], None)),
        0x6A82
    );
    assert_eq!(
        sw(
            &mut card,
            &apdu(0, 0xA4, 4, 0x0C, &[0xD3, 0x92, 0x10], None)
        ),
        0x6A82
    );
    for fid in [0x0001u16, 0x0002, 0x0003] {
        select_ef(&mut card, fid);
        assert_eq!(read_all(&mut card).1, 0x6982, "{fid:04X}");
    }
    select_ef(&mut card, 0x001C);
    assert_eq!(read_all(&mut card).1, 0x6982);
    select_ef(&mut card, 0x0004);
    assert_eq!(read_all(&mut card), (card_info(), 0x9000));
    // JPKI: signing certificate after the sign password only; key EFs never.
    select_jpki(&mut card);
    select_ef(&mut card, 0x0001);
    assert_eq!(read_all(&mut card).1, 0x6982);
    select_ef(&mut card, 0x0017);
    assert_eq!(read_all(&mut card).1, 0x6982);
    select_ef(&mut card, 0x0006);
    assert_eq!(read_all(&mut card), (b"JPKIAPICCTOKEN".to_vec(), 0x9000));
    // Offsets: inside, at the end (nothing), past the end.
    assert_eq!(
        tx(&mut card, &[0, 0xB0, 0, 4, 3]),
        (b"API".to_vec(), 0x9000)
    );
    assert_eq!(tx(&mut card, &[0, 0xB0, 0, 14, 0]), (vec![], 0x9000));
    assert_eq!(tx(&mut card, &[0, 0xB0, 0, 15, 0]).1, 0x6B00);
    // After the PIN.
    select_juki(&mut card);
    select_ef(&mut card, 0x001C);
    assert_eq!(verify(&mut card, JUKI_PIN), 0x9000);
    select_ef(&mut card, 0x0002);
    assert_eq!(read_all(&mut card), (four_info(), 0x9000));
    // FCI on SELECT with P2 00.
    let (fci, s) = tx(&mut card, &apdu(0, 0xA4, 4, 0x00, &JPKI_AID, Some(256)));
    assert_eq!(s, 0x9000);
    assert_eq!(fci[..4], [0x6F, 15, 0x84, 10]);
    assert_eq!(fci[4..14], JPKI_AID);
    assert_eq!(fci[14..], [0x8A, 1, 0x05]);
}

#[test]
fn update_binary_checks_offsets_and_file_kinds() {
    let (mut card, counter) = issued_card();
    select_jpki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(update(&mut card, 0, b"x"), 0x6986);
    select_ef(&mut card, 0x0006);
    assert_eq!(update(&mut card, 15, b"x"), 0x6B00);
    assert_eq!(update(&mut card, 0, &[b'A'; 33]), 0x6A84);
    assert_eq!(update(&mut card, 10, &[b'A'; 23]), 0x6A84);
    // Writing at an offset keeps the head and ends the content with the new bytes.
    assert_eq!(update(&mut card, 4, b"XY"), 0x9000);
    assert_eq!(read_all(&mut card), (b"JPKIXY".to_vec(), 0x9000));
    for fid in [0x0017u16, 0x0018, 0x001A, 0x001B] {
        select_ef(&mut card, fid);
        assert_eq!(update(&mut card, 0, b"x"), 0x6981, "{fid:04X}");
    }
}

#[test]
fn chained_and_extended_certificate_write_and_read_back() {
    let (mut card, counter) = issued_card();
    select_jpki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    select_ef(&mut card, 0x000A);
    let cert: Vec<u8> = (0..2048u32).map(|i| (i * 7 % 251) as u8).collect();
    // A plain chain of a counter command is refused: it must come under secure messaging.
    let chunks: Vec<&[u8]> = cert.chunks(255).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i == chunks.len() - 1;
        let cla = if last { 0x00 } else { 0x10 };
        let want = if last { 0x6987 } else { 0x9000 };
        assert_eq!(
            raw(&mut card, &apdu(cla, 0xD6, 0, 0, chunk, None)),
            (vec![], want)
        );
    }
    // Protected and chained: the wrapped command (2048 bytes and the SM data objects) in 9
    // links of up to 255 bytes, joined by the card, then unwrapped.
    assert_eq!(
        tx_chained(&mut card, &apdu(0, 0xD6, 0, 0, &cert, None)),
        (vec![], 0x9000)
    );
    // Extended Le: all at once.
    assert_eq!(read_all(&mut card), (cert.clone(), 0x9000));
    // Short Le: 256 at a time by offset.
    let mut back = Vec::new();
    while back.len() < cert.len() {
        let [p1, p2] = (back.len() as u16).to_be_bytes();
        let (part, s) = tx(&mut card, &[0, 0xB0, p1, p2, 0]);
        assert_eq!(s, 0x9000);
        assert!(!part.is_empty() && part.len() <= 256);
        back.extend(part);
    }
    assert_eq!(back, cert);
    // One extended APDU replaces the whole file atomically.
    let second: Vec<u8> = cert.iter().rev().copied().take(1500).collect();
    assert_eq!(update(&mut card, 0, &second), 0x9000);
    assert_eq!(read_all(&mut card), (second, 0x9000));
    // A chain whose links differ is dropped with 6883; the file is untouched.
    assert_eq!(sw(&mut card, &apdu(0x10, 0xD6, 0, 0, b"abc", None)), 0x9000);
    assert_eq!(sw(&mut card, &apdu(0x00, 0xD6, 0, 1, b"def", None)), 0x6883);
    assert_eq!(read_all(&mut card).0.len(), 1500);
    // A chain over what the framing takes (a whole protected file) is 6700.
    for _ in 0..(juki_card::MAX_FRAMED_DATA / 255) {
        assert_eq!(
            sw(&mut card, &apdu(0x10, 0xD6, 0, 0, &[1; 255], None)),
            0x9000
        );
    }
    assert_eq!(
        sw(&mut card, &apdu(0x10, 0xD6, 0, 0, &[1; 255], None)),
        0x6700
    );
    assert_eq!(read_all(&mut card).0.len(), 1500);
}

// ---------------------------------------------------------------- keys and signatures

fn public_key(card: &mut TestCard) -> VerifyingKey {
    let (data, s) = tx(card, &[0, 0x46, 0x81, 0, 0]);
    assert_eq!(s, 0x9000);
    assert_eq!(data[..5], [0x7F, 0x49, 0x43, 0x86, 0x41]);
    VerifyingKey::from_sec1_bytes(&data[5..]).unwrap()
}

#[test]
fn signature_needs_pin_key_ef_and_a_hash() {
    let (mut card, _) = issued_card();
    let hash: [u8; 32] = Sha256::digest(b"e-application").into();
    let sign =
        |card: &mut TestCard, data: &[u8]| tx(card, &apdu(0x80, 0x2A, 0, 0x80, data, Some(256)));
    select_jpki(&mut card);
    assert_eq!(sign(&mut card, &hash).1, 0x6986);
    select_ef(&mut card, 0x001B);
    assert_eq!(sign(&mut card, &hash).1, 0x6986);
    select_ef(&mut card, 0x001A);
    assert_eq!(sign(&mut card, &hash).1, 0x6982);
    // The auth PIN does not unlock the signing key.
    select_ef(&mut card, 0x0018);
    assert_eq!(verify(&mut card, AUTH_PIN), 0x9000);
    select_ef(&mut card, 0x001A);
    assert_eq!(sign(&mut card, &hash).1, 0x6982);
    select_ef(&mut card, 0x001B);
    assert_eq!(verify(&mut card, SIGN_PIN), 0x9000);
    select_ef(&mut card, 0x001A);
    assert_eq!(sign(&mut card, &hash[..31]).1, 0x6700);
    assert_eq!(sign(&mut card, &[0; 33]).1, 0x6700);
    assert_eq!(
        sw(&mut card, &apdu(0x00, 0x2A, 0, 0x80, &hash, None)),
        0x6E00
    );
    let (sig, s) = sign(&mut card, &hash);
    assert_eq!((sig.len(), s), (64, 0x9000));
    let key = public_key(&mut card);
    key.verify_prehash(&hash, &Signature::from_slice(&sig).unwrap())
        .unwrap();
    // Hedged: two signatures of the same hash differ, both verify.
    let (sig2, _) = sign(&mut card, &hash);
    assert_ne!(sig, sig2);
    key.verify_prehash(&hash, &Signature::from_slice(&sig2).unwrap())
        .unwrap();
    // Not with the other key.
    select_ef(&mut card, 0x0017);
    let other = public_key(&mut card);
    assert!(other
        .verify_prehash(&hash, &Signature::from_slice(&sig).unwrap())
        .is_err());
    // The auth key signs after the auth PIN (verified above, same session).
    let (sig, s) = sign(&mut card, &hash);
    assert_eq!(s, 0x9000);
    other
        .verify_prehash(&hash, &Signature::from_slice(&sig).unwrap())
        .unwrap();
}

#[test]
fn long_signature_response_through_get_response() {
    let (mut card, _) = issued_card();
    let hash: [u8; 32] = Sha256::digest(b"doc").into();
    select_jpki(&mut card);
    select_ef(&mut card, 0x0018);
    assert_eq!(verify(&mut card, AUTH_PIN), 0x9000);
    select_ef(&mut card, 0x0017);
    // No Le: all 64 bytes wait.
    assert_eq!(
        tx(&mut card, &apdu(0x80, 0x2A, 0, 0x80, &hash, None)),
        (vec![], 0x6140)
    );
    let (first, s) = tx(&mut card, &[0, 0xC0, 0, 0, 0x30]);
    assert_eq!((first.len(), s), (0x30, 0x6110));
    let (second, s) = tx(&mut card, &[0, 0xC0, 0, 0, 0x30]);
    assert_eq!((second.len(), s), (0x10, 0x9000));
    assert_eq!(sw(&mut card, &[0, 0xC0, 0, 0, 0x10]), 0x6985);
    let sig = [first, second].concat();
    public_key(&mut card)
        .verify_prehash(&hash, &Signature::from_slice(&sig).unwrap())
        .unwrap();
    // Chained command data.
    assert_eq!(
        sw(&mut card, &apdu(0x90, 0x2A, 0, 0x80, &hash[..10], None)),
        0x9000
    );
    let (sig, s) = tx(
        &mut card,
        &apdu(0x80, 0x2A, 0, 0x80, &hash[10..], Some(256)),
    );
    assert_eq!(s, 0x9000);
    public_key(&mut card)
        .verify_prehash(&hash, &Signature::from_slice(&sig).unwrap())
        .unwrap();
}

#[test]
fn regenerating_a_key_replaces_it() {
    let (mut card, counter) = issued_card();
    select_jpki(&mut card);
    select_ef(&mut card, 0x001A);
    let before = public_key(&mut card);
    assert_eq!(sw(&mut card, &[0, 0x46, 0x80, 0, 0]), 0x6982);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    select_ef(&mut card, 0x0006);
    assert_eq!(sw(&mut card, &[0, 0x46, 0x80, 0, 0]), 0x6986);
    select_ef(&mut card, 0x001A);
    let (data, s) = tx(&mut card, &[0, 0x46, 0x80, 0, 0]);
    assert_eq!(s, 0x9000);
    let after = public_key(&mut card);
    assert_eq!(VerifyingKey::from_sec1_bytes(&data[5..]).unwrap(), after);
    assert_ne!(before, after);
    let mut card = power_cycle(card);
    select_jpki(&mut card);
    select_ef(&mut card, 0x001A);
    assert_eq!(public_key(&mut card), after);
}

#[test]
fn card_with_and_without_the_generator_table_generates_keys_and_signs() {
    // As shipped the card multiplies the generator with its constant table (both keys are
    // generated with it here); a platform's own table, or none, gives the same keys.
    let counter = Counter::new();
    let mut card = new_card();
    personalise(&mut card, &counter);
    reset(&mut card); // the table is configuration: it stays
    let hash: [u8; 32] = Sha256::digest(b"with the table").into();
    select_jpki(&mut card);
    select_ef(&mut card, 0x001B);
    assert_eq!(verify(&mut card, SIGN_PIN), 0x9000);
    select_ef(&mut card, 0x001A);
    let (sig, s) = tx(&mut card, &apdu(0x80, 0x2A, 0, 0x80, &hash, Some(256)));
    assert_eq!((sig.len(), s), (64, 0x9000));
    let key = public_key(&mut card);
    key.verify_prehash(&hash, &Signature::from_slice(&sig).unwrap())
        .unwrap();
    // The same card image without the table, then with a table of the platform's: the same
    // public key, and the signatures verify.
    let configurations: [fn(TestCard) -> TestCard; 2] = [
        |card| card.without_basepoint_table(),
        |card| card.with_basepoint_table(Box::leak(Box::new(BasepointTable::new()))),
    ];
    for configure in configurations {
        card = configure(power_cycle(card));
        select_jpki(&mut card);
        select_ef(&mut card, 0x001B);
        assert_eq!(verify(&mut card, SIGN_PIN), 0x9000);
        select_ef(&mut card, 0x001A);
        assert_eq!(public_key(&mut card), key);
        let (sig, s) = tx(&mut card, &apdu(0x80, 0x2A, 0, 0x80, &hash, Some(256)));
        assert_eq!(s, 0x9000);
        key.verify_prehash(&hash, &Signature::from_slice(&sig).unwrap())
            .unwrap();
    }
}

// ---------------------------------------------------------------- persistence and size

#[test]
fn tries_used_stay_used_across_power_cycles() {
    let (mut card, _) = issued_card();
    select_jpki(&mut card);
    select_ef(&mut card, 0x001B);
    assert_eq!(verify(&mut card, b"WRONG1"), 0x63C4);
    let mut card = power_cycle(card);
    assert_eq!(card.pin_tries(), [3, 3, 4]);
    select_jpki(&mut card);
    select_ef(&mut card, 0x001B);
    assert_eq!(verify(&mut card, b""), 0x63C4);
    assert_eq!(verify(&mut card, SIGN_PIN), 0x9000);
    let card = power_cycle(card);
    assert_eq!(card.pin_tries(), [3, 3, 5]);
}

#[test]
fn unknown_core_record_version_answers_6581() {
    let (card, _) = issued_card();
    let (mut nvm, _) = card.into_parts();
    // A well-formed record (valid CRC) of a format version this card does not know.
    let mut storage = juki_card::storage::Storage::mount(&nvm);
    let mut record = [0u8; juki_card::state::CORE_LEN];
    record[0] = juki_card::state::FORMAT_VERSION + 1;
    storage
        .write(&mut nvm, juki_card::storage::CORE_RECORD, 0, &record)
        .unwrap();
    let mut card = juki_card::Card::power_on(TestNvm::from_image(nvm.mem), rand_core::OsRng);
    // Not mistaken for a blank card (which would accept a new root key): every command 6581.
    assert_eq!(
        sw(&mut card, &apdu(0, 0xA4, 4, 0x0C, &JUKI_AID, None)),
        0x6581
    );
    assert_eq!(
        sw(&mut card, &apdu(0, 0xDA, 0, 0xC1, &[4; 65], None)),
        0x6581
    );
    // Malformed APDUs are still told apart.
    assert_eq!(sw(&mut card, &[0, 0xA4, 4]), 0x6700);
}

#[test]
fn core_record_with_both_slots_destroyed_reads_as_blank() {
    let (card, _) = issued_card();
    let (nvm, _) = card.into_parts();
    let mut image = nvm.mem;
    // Both slots of the core record (record 0: the first 2 × (12 + 256) bytes).
    for b in image.iter_mut().take(2 * (12 + 256)) {
        *b ^= 0x5A;
    }
    let mut card = juki_card::Card::power_on(TestNvm::from_image(image), rand_core::OsRng);
    assert_eq!(card.lifecycle(), Lifecycle::Blank);
    // Files written before remain, but the blank state allows only SELECT and PUT DATA.
    select_juki(&mut card);
    select_ef(&mut card, 0x0001);
    assert_eq!(read_all(&mut card).1, 0x6985);
}

#[test]
fn card_ram_is_small() {
    let size = core::mem::size_of::<juki_card::Card<TestNvm, rand_core::OsRng>>();
    let nvm = core::mem::size_of::<TestNvm>();
    println!("size_of::<Card<TestNvm, OsRng>>() = {size} bytes (TestNvm itself: {nvm})");
    assert!(size - nvm < 16 * 1024);
}
