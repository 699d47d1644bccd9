//! Power loss at every NVM write of every APDU transcript (test-vectors/transcripts/): issue,
//! VERIFY right and wrong, CHANGE REFERENCE DATA, signatures, every counter operation, the
//! lifecycle.
//!
//! The transcripts are replayed once without tearing; before every command that writes, the
//! card is forked (NVM *and* volatile state: the PINs verified, the counter's authentication, the
//! current EF). Then, for every write k of that command and three ways of tearing it (nothing,
//! half, all but one byte of the write reach the memory), the fork runs the command with the
//! power cut at write k, is powered on again, and must satisfy:
//!
//! 1. no PIN's tries left are above what they were before the command, unless the command
//!    itself raised them (a correct VERIFY, RESET RETRY COUNTER), and then not above that;
//! 2. every binary EF holds exactly its old or its new content;
//! 3. the card answers SELECT of both applications (never bricked), and its lifecycle state,
//!    root key, last-known date, keys and PIN values are each the old or the new;
//! 4. any command but VERIFY (whose try counter legitimately goes through a third value) has
//!    happened wholly or not at all: the whole persistent state is the old or the new one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{TearKeep, TestNvm};
use juki_card::files::{JPKI_AID, JUKI_AID, PIN_COUNT};
use juki_card::lifecycle::Lifecycle;
use juki_card::state::{CoreState, CORE_CAPACITY};
use juki_card::storage::{Storage, CORE_RECORD, RECORD_COUNT};
use juki_card::{Card, Response};
use juki_test_vectors::{runnable, Exchange};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// A deterministic RNG (SHA-256 of a counter) that forks with the card: the torn run of a
/// command draws the same key, nonce or ephemeral key as the reference run, so that "the new
/// state" is one state. Test-only.
#[derive(Clone)]
struct ForkRng(u64);

impl RngCore for ForkRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_be_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_be_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            self.0 += 1;
            let block = Sha256::digest(self.0.to_be_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for ForkRng {}

type ForkCard = Card<TestNvm, ForkRng>;

const MODES: [TearKeep; 3] = [TearKeep::Nothing, TearKeep::Half, TearKeep::AllButOne];

fn blank() -> ForkCard {
    Card::power_on(TestNvm::blank(), ForkRng(0))
}

/// Power off and on: the card is rebuilt from its memory alone (the power is back).
fn power_cycle(card: ForkCard) -> ForkCard {
    let (nvm, rng) = card.into_parts();
    Card::power_on(TestNvm::from_image(nvm.mem), rng)
}

fn process(card: &mut ForkCard, apdu: &[u8]) -> Vec<u8> {
    let mut response = Response::new();
    card.process(apdu, &mut response);
    response.to_vec()
}

/// The persistent state, logically: the decoded core record and every binary EF's content.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Snapshot {
    lifecycle: Lifecycle,
    erasure_pending: bool,
    root_key: Option<Vec<u8>>,
    last_date: u32,
    /// Value and length of each PIN (not the tries).
    pins: Vec<(Vec<u8>, u8)>,
    tries: [u8; PIN_COUNT],
    keys: Vec<Option<[u8; 32]>>,
    /// Content of each binary EF record (1..), `None` if never written.
    files: Vec<Option<Vec<u8>>>,
}

fn snapshot(nvm: &TestNvm) -> Snapshot {
    let storage = Storage::mount(nvm);
    let read = |record: u8| -> Option<Vec<u8>> {
        if !storage.exists(record) {
            return None;
        }
        let mut buf = vec![0u8; storage.len(record)];
        storage.read(nvm, record, 0, &mut buf).unwrap();
        Some(buf)
    };
    let core = match read(CORE_RECORD) {
        Some(bytes) => {
            assert!(bytes.len() <= CORE_CAPACITY);
            CoreState::decode(&bytes).expect("the core record decodes")
        }
        None => CoreState::default(),
    };
    Snapshot {
        lifecycle: core.lifecycle,
        erasure_pending: core.erasure_pending,
        root_key: core.root_key.map(|k| k.to_vec()),
        last_date: core.last_date,
        pins: core
            .pins
            .iter()
            .map(|p| (p.value.to_vec(), p.len))
            .collect(),
        tries: [core.pins[0].tries, core.pins[1].tries, core.pins[2].tries],
        keys: core.keys.to_vec(),
        files: (1..RECORD_COUNT as u8).map(read).collect(),
    }
}

/// A command that writes, with the card forked just before it.
struct Cut {
    transcript: &'static str,
    index: usize,
    before: ForkCard,
    apdu: Vec<u8>,
    writes: usize,
    after: Snapshot,
}

/// Replays a transcript untorn and keeps a [`Cut`] for every command that writes.
struct Recorder {
    card: Option<ForkCard>,
    transcript: &'static str,
    index: usize,
    cuts: Vec<Cut>,
}

impl Exchange for Recorder {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let card = self.card.as_mut().expect("a card");
        let before = card.clone();
        let writes = card.nvm().writes.get();
        let response = process(card, apdu);
        let writes = card.nvm().writes.get() - writes;
        self.index += 1;
        if writes > 0 {
            self.cuts.push(Cut {
                transcript: self.transcript,
                index: self.index,
                before,
                apdu: apdu.to_vec(),
                writes,
                after: snapshot(card.nvm()),
            });
        }
        response
    }

    fn reset(&mut self) {
        self.card = self.card.take().map(power_cycle);
    }
}

fn sw(response: &[u8]) -> u16 {
    let n = response.len();
    u16::from_be_bytes([response[n - 2], response[n - 1]])
}

fn select(aid: &[u8]) -> Vec<u8> {
    let mut apdu = vec![0x00, 0xA4, 0x04, 0x0C, aid.len() as u8];
    apdu.extend_from_slice(aid);
    apdu
}

/// Runs `cut` with the k-th write torn (`keep`), powers on, checks the invariants. Returns
/// whether the write was really torn (k within the command's writes).
fn tear(cut: &Cut, k: usize, keep: TearKeep) {
    let at = format!(
        "{}: command {} ({:02X?}…), write {k} of {}, {keep:?}",
        cut.transcript,
        cut.index,
        &cut.apdu[..cut.apdu.len().min(5)],
        cut.writes
    );
    let before = snapshot(cut.before.nvm());
    let mut card = cut.before.clone();
    card.nvm().countdown.set(Some(k));
    card.nvm().keep.set(keep);
    let response = process(&mut card, &cut.apdu);
    assert!(card.nvm().dead, "{at}: the write was not reached");
    assert_eq!(sw(&response), 0x6581, "{at}: a torn write answers 6581");
    let mut card = power_cycle(card);

    // 3. Never bricked: both applications answer SELECT (this also lets a card whose
    //    termination was cut finish its erasure, as it does before any command).
    for aid in [&JUKI_AID[..], &JPKI_AID[..]] {
        let s = sw(&process(&mut card, &select(aid)));
        assert!(
            matches!(s, 0x9000 | 0x6283 | 0x6285),
            "{at}: SELECT answers {s:04X} after power-on"
        );
    }
    let torn = snapshot(card.nvm());
    let after = &cut.after;
    let old_or_new = |what: &str, t: bool| assert!(t, "{at}: {what} is neither old nor new");
    old_or_new(
        "the lifecycle",
        torn.lifecycle == before.lifecycle || torn.lifecycle == after.lifecycle,
    );
    old_or_new(
        "the root key",
        torn.root_key == before.root_key || torn.root_key == after.root_key,
    );
    old_or_new(
        "the last-known date",
        torn.last_date == before.last_date || torn.last_date == after.last_date,
    );
    for i in 0..torn.keys.len() {
        old_or_new(
            &format!("key {i}"),
            torn.keys[i] == before.keys[i] || torn.keys[i] == after.keys[i],
        );
    }
    for i in 0..PIN_COUNT {
        old_or_new(
            &format!("PIN {i}"),
            torn.pins[i] == before.pins[i] || torn.pins[i] == after.pins[i],
        );
        // 1. Tries never rise but by the command's own success.
        let limit = before.tries[i].max(after.tries[i]);
        assert!(
            torn.tries[i] <= limit,
            "{at}: PIN {i} has {} tries, before {} after {}",
            torn.tries[i],
            before.tries[i],
            after.tries[i]
        );
    }
    // 2. Every file old or new.
    for (r, file) in torn.files.iter().enumerate() {
        old_or_new(
            &format!("record {}", r + 1),
            *file == before.files[r] || *file == after.files[r],
        );
    }
    // 4. Wholly or not at all (VERIFY decrements its try counter first, by design).
    if cut.apdu.get(1) != Some(&0x20) {
        assert!(
            torn == before || torn == *after,
            "{at}: the command happened in part"
        );
    }
}

#[test]
fn power_cut_at_every_write_of_every_transcript() {
    let mut cuts_total = 0;
    let mut commands = 0;
    let mut transcripts = 0;
    for transcript in runnable() {
        let mut recorder = Recorder {
            card: Some(blank()),
            transcript: transcript.name,
            index: 0,
            cuts: Vec::new(),
        };
        transcript
            .replay(&mut recorder)
            .unwrap_or_else(|e| panic!("{e}"));
        transcripts += 1;
        for cut in &recorder.cuts {
            commands += 1;
            for keep in MODES {
                for k in 0..cut.writes {
                    tear(cut, k, keep);
                    cuts_total += 1;
                }
            }
        }
    }
    println!(
        "power cut at {cuts_total} points: {commands} writing commands of {transcripts} \
         transcripts, every write, 3 ways"
    );
    assert!(transcripts >= 15, "{transcripts} transcripts");
    assert!(cuts_total > 1000, "only {cuts_total} cut points");
}
