//! The card's RAM budget, kept from regressing (docs/performance.md, "Memory, as on a chip"):
//! the card's own RAM by `size_of`, the size of the generator table the docs state (a constant
//! in flash, not RAM), and the worst-case stack of one command by stack painting
//! (tests/common/stack.rs).
//!
//! The full report, in the optimised build a chip would run, is
//! `cargo bench -p juki-card --bench memory`; the code size is `scripts/chip-size.sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;
#[path = "common/stack.rs"]
mod stack;

use std::mem::size_of;

use juki_card::basepoint::BasepointTable;
use juki_card::framing::Framing;
use juki_card::{Card, Response, MAX_RESPONSE};
use rand_core::OsRng;
use stack::{NoNvm, BUDGET};

/// Bound on the card's own RAM (`Card` with an NVM and RNG that are not RAM). Measured: 4640
/// bytes on x86_64, 4608 on thumbv7em-none-eabihf; 4.2 KB of it are the transport's two
/// buffers (the chain being joined, the response waiting for GET RESPONSE). The generator
/// table is a `static` (flash), not part of it.
const CARD_RAM_MAX: usize = 4864;

/// Bound on the stack of the deepest command in an optimised build. Measured on x86_64 with
/// opt-level 3: 6816 bytes, EXTERNAL AUTHENTICATE; a command under secure messaging 5336 (9168
/// before its response was protected in place, its decrypted data moved to the transport's
/// scratch buffer and the protected path kept out of line); a signature 4544 (5728 without the
/// generator table). Card + this bound + the platform's two I/O buffers must fit the budget.
const STACK_MAX_OPTIMISED: usize = 7 * 1024 + 256;

/// The same in an unoptimised test build. The card crate at opt-level 0 keeps every temporary
/// in its own stack slot: about 3× the optimised stack (measured: 26360 bytes, the protected
/// commands again; 24792 since the in-place protection, 22200 now), deterministic for a given
/// compiler but meaningless for a chip. Only a tripwire against a gross regression; the budget
/// is the optimised bound, which `cargo test --release` and the memory bench check.
const STACK_MAX_UNOPTIMISED: usize = 32 * 1024;

#[test]
fn card_ram_by_size_of() {
    let card = size_of::<Card<NoNvm, OsRng>>();
    assert!(
        card <= CARD_RAM_MAX,
        "the card's own RAM grew: {card} > {CARD_RAM_MAX} bytes"
    );
    // The transport holds at most a joined command and a waiting response.
    assert!(size_of::<Framing>() <= 2 * MAX_RESPONSE + 64);
    // The response buffer: MAX_RESPONSE bytes and a length.
    assert!(size_of::<Response>() <= MAX_RESPONSE + 2 * size_of::<usize>());
    // With the platform's command APDU buffer and response buffer, as a chip holds them.
    let io = size_of::<Response>() + juki_card::MAX_FRAMED_DATA + 9;
    assert!(
        card + STACK_MAX_OPTIMISED + io <= BUDGET,
        "{card} + {STACK_MAX_OPTIMISED} + {io} > {BUDGET}"
    );
}

#[test]
fn basepoint_table_is_the_documented_16_9_kb_in_flash() {
    // docs/performance.md: "33 windows × 8 affine points, 16.9 KB" of flash: two 32-byte field
    // elements an entry, with 32-bit limbs as with 64-bit ones.
    let entries = 33 * 8;
    assert_eq!(
        size_of::<BasepointTable>(),
        entries * 2 * size_of::<p256::FieldElement>()
    );
    assert_eq!(size_of::<BasepointTable>(), 16_896);
    // The card refers to the static: a pointer in its RAM, not the table.
    assert!(size_of::<Card<NoNvm, OsRng>>() < size_of::<BasepointTable>());
}

#[test]
fn stack_painting_measures_known_stacks() {
    for (name, known, measured) in stack::on_measuring_thread(stack::calibration) {
        assert!(
            measured >= known && measured < known + 1024,
            "{name}: known {known}, measured {measured}"
        );
    }
}

#[test]
fn deepest_command_stack_is_bounded() {
    let run = stack::on_measuring_thread(stack::measure_commands);
    // As shipped (with the table) and without it: every command within the bound.
    let deepest = run.measured.iter().max_by_key(|m| m.stack).unwrap();
    let bound = if cfg!(debug_assertions) {
        STACK_MAX_UNOPTIMISED
    } else {
        STACK_MAX_OPTIMISED
    };
    for m in &run.measured {
        println!("{:<62} {:04X} {:>6} B", m.name, m.sw, m.stack);
    }
    assert!(
        deepest.stack <= bound,
        "{}: {} bytes of stack > {bound}",
        deepest.name,
        deepest.stack
    );
}
