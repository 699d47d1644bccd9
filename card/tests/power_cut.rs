//! Power cuts: the k-th NVM write is torn (nothing, half, or all but one of its bytes reach the
//! memory, then the power is gone), for every k of an operation. After power-on the card holds
//! the old or the new state, never a mix, and PIN tries never went up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use juki_card::lifecycle::Lifecycle;
use juki_card::Card;
use rand_core::OsRng;

const MODES: [TearKeep; 3] = [TearKeep::Nothing, TearKeep::Half, TearKeep::AllButOne];

/// Runs `setup` (no tearing), then `operation` with the k-th write torn, for every k until the
/// operation completes untorn; `check` sees the SW and the card powered on again.
fn every_tear(
    image: &[u8],
    setup: impl Fn(&mut TestCard),
    operation: impl Fn(&mut TestCard) -> u16,
    check: impl Fn(u16, &mut TestCard, usize),
) -> usize {
    let mut cases = 0;
    for mode in MODES {
        for k in 0.. {
            let mut nvm = TestNvm::from_image(image.to_vec());
            nvm.keep = mode;
            let countdown = nvm.countdown.clone();
            let mut card = Card::power_on(nvm, OsRng);
            setup(&mut card);
            countdown.set(Some(k));
            let status = operation(&mut card);
            let torn = card.nvm().dead;
            let mut card = power_cycle(card);
            check(status, &mut card, k);
            cases += 1;
            if !torn {
                break;
            }
            assert_eq!(
                status, 0x6581,
                "a torn write must answer 6581 (k = {k}, {mode:?})"
            );
        }
    }
    cases
}

#[test]
fn wrong_verify_never_gives_tries_back() {
    let (card, _) = issued_card();
    let image = card.into_parts().0.mem;
    let cases = every_tear(
        &image,
        |card| {
            select_jpki(card);
            select_ef(card, 0x001B);
        },
        |card| verify(card, b"WRONG1"),
        |status, card, k| {
            let tries = card.pin_tries();
            assert!(tries[2] == 5 || tries[2] == 4, "k = {k}: tries {tries:?}");
            if status == 0x63C4 {
                assert_eq!(tries[2], 4);
            }
            assert_eq!([tries[0], tries[1]], [3, 3]);
            assert_eq!(card.lifecycle(), Lifecycle::Issued);
            // The PIN itself is intact.
            select_jpki(card);
            select_ef(card, 0x001B);
            assert_eq!(verify(card, SIGN_PIN), 0x9000, "k = {k}");
        },
    );
    assert!(cases >= 6);
}

#[test]
fn right_verify_with_tries_used_never_exceeds_what_it_earned() {
    let (mut card, _) = issued_card();
    select_jpki(&mut card);
    select_ef(&mut card, 0x001B);
    assert_eq!(verify(&mut card, b"WRONG1"), 0x63C4);
    assert_eq!(verify(&mut card, b"WRONG2"), 0x63C3);
    let image = card.into_parts().0.mem;
    every_tear(
        &image,
        |card| {
            select_jpki(card);
            select_ef(card, 0x001B);
        },
        |card| verify(card, SIGN_PIN),
        |status, card, k| {
            let tries = card.pin_tries()[2];
            if status == 0x9000 {
                assert_eq!(tries, 5);
            } else {
                // Torn before the comparison or before the try was given back.
                assert!(tries == 3 || tries == 2, "k = {k}: tries {tries}");
            }
        },
    );
}

#[test]
fn torn_update_binary_leaves_old_or_new_content() {
    let (mut card, counter) = issued_card();
    let old: Vec<u8> = (0..1000u32).map(|i| (i % 253) as u8).collect();
    let tail: Vec<u8> = (0..1500u32).map(|i| (i % 241) as u8 ^ 0xA5).collect();
    let mut new = old[..100].to_vec();
    new.extend_from_slice(&tail);
    select_jpki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    select_ef(&mut card, 0x000A);
    assert_eq!(update(&mut card, 0, &old), 0x9000);
    let image = card.into_parts().0.mem;
    let cases = every_tear(
        &image,
        |card| {
            select_jpki(card);
            // Authentication with a certificate the card has seen writes nothing.
            assert_eq!(counter.authenticate(card), 0x9000);
            select_ef(card, 0x000A);
        },
        |card| update(card, 100, &tail),
        |status, card, k| {
            select_jpki(card);
            select_ef(card, 0x000A);
            let (content, s) = read_all(card);
            assert_eq!(s, 0x9000);
            if status == 0x9000 {
                assert_eq!(content, new, "k = {k}");
            } else {
                assert!(content == old || content == new, "k = {k}: mixed content");
            }
            // Nothing else moved.
            select_ef(card, 0x0006);
            assert_eq!(read_all(card), (b"JPKIAPICCTOKEN".to_vec(), 0x9000));
            assert_eq!(card.lifecycle(), Lifecycle::Issued);
            assert_eq!(card.pin_tries(), [3, 3, 5]);
        },
    );
    // Two copy chunks, the tail, the header: four writes, three tear modes, plus the clean runs.
    assert!(cases >= 12);
}

#[test]
fn torn_pin_change_leaves_the_old_or_the_new_pin() {
    let (card, _) = issued_card();
    let image = card.into_parts().0.mem;
    every_tear(
        &image,
        |card| {
            select_juki(card);
            select_ef(card, 0x001C);
            assert_eq!(verify(card, JUKI_PIN), 0x9000);
        },
        |card| sw(card, &apdu(0, 0x24, 1, 0x80, b"8642", None)),
        |status, card, k| {
            select_juki(card);
            select_ef(card, 0x001C);
            let old_ok = verify(card, JUKI_PIN) == 0x9000;
            card.reset();
            select_juki(card);
            select_ef(card, 0x001C);
            let new_ok = verify(card, b"8642") == 0x9000;
            assert!(old_ok != new_ok, "k = {k}: exactly one PIN must work");
            if status == 0x9000 {
                assert!(new_ok);
            }
        },
    );
}

#[test]
fn torn_initialisation_is_blank_or_initialised() {
    let counter = Counter::new();
    let image = new_card().into_parts().0.mem;
    every_tear(
        &image,
        |_| {},
        |card| sw(card, &apdu(0, 0xDA, 0, 0xC1, &sec1(&counter.root), None)),
        |status, card, k| {
            let state = card.lifecycle();
            assert!(
                state == Lifecycle::Blank || state == Lifecycle::Initialised,
                "k = {k}"
            );
            if status == 0x9000 {
                assert_eq!(state, Lifecycle::Initialised);
            }
            if state == Lifecycle::Initialised {
                // The root key is whole: the counter authenticates.
                assert_eq!(counter.authenticate(card), 0x9000, "k = {k}");
            }
        },
    );
}
