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
use juki_card::files::{ERASED_AT_TERMINATION, JUKI_AID};
use juki_card::lifecycle::Lifecycle;
use juki_card::state::{CoreState, CORE_LEN, CORE_LEN_V1};
use juki_card::storage::{self, CORE_RECORD, HEADER_LEN};
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
            let nvm = TestNvm::from_image(image.to_vec());
            nvm.keep.set(mode);
            let mut card = Card::power_on(nvm, OsRng);
            setup(&mut card);
            card.nvm().countdown.set(Some(k));
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
            reset(card);
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
        |card| {
            sw(
                card,
                &apdu(0, 0xDA, 0, 0xC1, &sec1(&counter.root), Some(256)),
            )
        },
        |status, card, k| {
            let state = card.lifecycle();
            assert!(
                state == Lifecycle::Blank || state == Lifecycle::Initialised,
                "k = {k}"
            );
            if status == 0x9000 {
                assert_eq!(state, Lifecycle::Initialised);
            }
            // Blank: initialise again; initialised: the retry answers the same key. Either way
            // the card is certified and the mutual authentication works.
            select_juki(card);
            initialise(card, &counter);
            assert_eq!(counter.authenticate(card), 0x9000, "k = {k}");
        },
    );
}

/// NVM offset of slot `slot` of `record` (the layout of `juki_card::storage`).
fn slot_offset(record: u8, slot: u8) -> usize {
    let size = |r: u8| HEADER_LEN + storage::capacity(r).unwrap();
    (0..record).map(|r| 2 * size(r)).sum::<usize>() + usize::from(slot) * size(record)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A padded PIN as the core record stores it (16 bytes, zero-padded).
fn stored_pin(pin: &[u8]) -> Vec<u8> {
    let mut v = pin.to_vec();
    v.resize(16, 0);
    v
}

/// An issued card with a certificate written (so that termination has more to erase), the
/// image, and the personal data to look for in the memory afterwards.
fn issued_card_with_certificate() -> (Vec<u8>, Counter, Vec<Vec<u8>>) {
    let (mut card, counter) = issued_card();
    select_jpki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    select_ef(&mut card, 0x000A);
    let cert: Vec<u8> = b"CERTIFICATE OF JUKI HANAKO "
        .iter()
        .copied()
        .cycle()
        .take(600)
        .collect();
    assert_eq!(update(&mut card, 0, &cert), 0x9000);
    let image = card.into_parts().0.mem;
    let secrets = vec![
        RESIDENT_CODE.to_vec(),
        "山田 太郎".as_bytes().to_vec(),
        "東京都千代田区千代田1-1".as_bytes().to_vec(),
        BIRTH.to_vec(),
        b"CERTIFICATE OF JUKI".to_vec(),
        stored_pin(JUKI_PIN),
        stored_pin(AUTH_PIN),
        stored_pin(SIGN_PIN),
    ];
    for s in &secrets {
        assert!(contains(&image, s), "the test looks for data that is there");
    }
    (image, counter, secrets)
}

/// The erasure is complete: no personal data, PIN or key anywhere in the memory; the erased
/// records' slots are all `FF`; both core slots hold a terminated record without PINs or keys;
/// the card information is still readable.
fn assert_fully_terminated(card: &mut TestCard, secrets: &[Vec<u8>], k: usize) {
    assert_eq!(card.lifecycle(), Lifecycle::Terminated, "k = {k}");
    assert_eq!(card.pin_tries(), [0, 0, 0]);
    let mem = &card.nvm().mem;
    for s in secrets {
        assert!(!contains(mem, s), "k = {k}: {:?} left in the memory", s);
    }
    for id in ERASED_AT_TERMINATION {
        let record = id.record().unwrap();
        let start = slot_offset(record, 0);
        let end = slot_offset(record, 1) + HEADER_LEN + storage::capacity(record).unwrap();
        assert!(
            mem[start..end].iter().all(|&b| b == 0xFF),
            "k = {k}: {id:?} not erased"
        );
    }
    for slot in 0..2 {
        let content = slot_offset(CORE_RECORD, slot) + HEADER_LEN;
        let state = CoreState::decode(&mem[content..content + CORE_LEN]).unwrap();
        assert_eq!(
            state.lifecycle,
            Lifecycle::Terminated,
            "k = {k}, slot {slot}"
        );
        assert!(!state.erasure_pending || slot_is_older(mem, slot));
        // PINs and the holder's keys (bytes 72 to the card's own key) are zero in both slots:
        // no old key material. The card's own key stays (it proves the card is terminated).
        assert!(
            mem[content + 72..content + CORE_LEN_V1]
                .iter()
                .all(|&b| b == 0),
            "k = {k}: PIN or key bytes left in core slot {slot}"
        );
        assert!(
            state.card_key.is_some(),
            "k = {k}: the card's own key stays"
        );
    }
    let select = apdu(0, 0xA4, 4, 0x0C, &JUKI_AID, None);
    assert_eq!(sw(card, &select), 0x6285, "k = {k}");
    select_ef(card, 0x0004);
    assert_eq!(read_all(card), (card_info(), 0x9000), "k = {k}");
    select_ef(card, 0x0002);
    assert_eq!(read_all(card).1, 0x6285);
}

/// True when core slot `slot` has the lower sequence number of the two.
fn slot_is_older(mem: &[u8], slot: u8) -> bool {
    let seq = |s: u8| {
        let h = slot_offset(CORE_RECORD, s);
        u32::from_be_bytes(mem[h + 4..h + 8].try_into().unwrap())
    };
    seq(slot) < seq(1 - slot)
}

#[test]
fn torn_termination_is_old_state_or_finished_at_power_on() {
    let (image, counter, secrets) = issued_card_with_certificate();
    let cases = every_tear(
        &image,
        |card| {
            select_jpki(card);
            assert_eq!(counter.authenticate(card), 0x9000);
        },
        |card| sw(card, &[0, 0xFE, 0, 0]),
        |status, card, k| match card.lifecycle() {
            // Torn before the core commit: the card is as it was.
            Lifecycle::Issued => {
                assert_ne!(status, 0x9000, "k = {k}");
                assert_eq!(card.pin_tries(), [3, 3, 5]);
                select_jpki(card);
                select_ef(card, 0x001B);
                assert_eq!(verify(card, SIGN_PIN), 0x9000, "k = {k}");
                select_ef(card, 0x000A);
                assert_eq!(read_all(card).0.len(), 600);
            }
            // Committed: the power-on finished the erasure.
            _ => assert_fully_terminated(card, &secrets, k),
        },
    );
    // The core commit (2 writes), the erasure, the final commit: well over a dozen writes.
    assert!(cases >= 3 * 12, "{cases} cases");
}

#[test]
fn torn_recovery_at_power_on_is_finished_at_the_next() {
    let (image, counter, secrets) = issued_card_with_certificate();
    // A power cut right after TERMINATE's core commit (two writes: content, header).
    let nvm = TestNvm::from_image(image);
    nvm.keep.set(TearKeep::Nothing);
    let mut card = Card::power_on(nvm, OsRng);
    select_jpki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    card.nvm().countdown.set(Some(2));
    assert_eq!(sw(&mut card, &[0, 0xFE, 0, 0]), 0x6581);
    let pending = card.into_parts().0.mem;
    // Terminated with the erasure pending, PINs and keys gone from the new core slot; the
    // personal data still there.
    let newest = u8::from(slot_is_older(&pending, 0));
    let content = slot_offset(CORE_RECORD, newest) + HEADER_LEN;
    let state = CoreState::decode(&pending[content..content + CORE_LEN]).unwrap();
    assert_eq!(state.lifecycle, Lifecycle::Terminated);
    assert!(state.erasure_pending);
    assert!(state.keys.iter().all(Option::is_none));
    assert!(contains(&pending, RESIDENT_CODE));
    // Now the power-on's own erasure is cut at every write, then the card powers on again.
    for mode in MODES {
        for k in 0.. {
            let nvm = TestNvm::from_image(pending.clone());
            nvm.keep.set(mode);
            nvm.countdown.set(Some(k));
            let card = Card::power_on(nvm, OsRng);
            let torn = card.nvm().dead;
            let mut card = if torn {
                // The first power-on failed midway: every command retries the erasure first…
                let mut card = card;
                assert_eq!(sw(&mut card, &[0, 0x84, 0, 0, 0x10]), 0x6581, "k = {k}");
                // …and the next power-on finishes it.
                power_cycle(card)
            } else {
                card
            };
            assert_fully_terminated(&mut card, &secrets, k);
            if !torn {
                break;
            }
        }
    }
}

#[test]
fn termination_in_one_go_writes_nothing_at_the_next_power_on() {
    let (image, counter, secrets) = issued_card_with_certificate();
    let mut card = Card::power_on(TestNvm::from_image(image), OsRng);
    select_juki(&mut card);
    assert_eq!(counter.authenticate(&mut card), 0x9000);
    assert_eq!(sw(&mut card, &[0, 0xFE, 0, 0]), 0x9000);
    assert_fully_terminated(&mut card, &secrets, 0);
    let mut card = power_cycle(card);
    assert_fully_terminated(&mut card, &secrets, 0);
    assert_eq!(
        card.nvm().writes.get(),
        0,
        "a finished termination is not redone"
    );
}
