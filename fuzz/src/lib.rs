//! The fuzz targets of juki, as plain functions.
//!
//! Each `pub fn TARGET(data: &[u8])` is one cargo-fuzz target (`fuzz_targets/TARGET.rs` only
//! calls it) and checks its invariants with `assert!`/`panic!`, so that libFuzzer reports a
//! violation as a crash. The same functions replay the corpora and the regression inputs on
//! stable (`tests/replay.rs`). See `fuzz/README.md` for the input formats and the invariants.
//!
//! - [`apdu_parser`]: `juki_card::apdu::CommandApdu::parse`, `command::Command::parse` and the
//!   card's data parsers (TLV, counter certificates).
//! - [`card_sequence`]: the whole card (issued or blank) fed a sequence of APDUs, resets, power
//!   cycles, counter authentications and power cuts ([`seq`]).
//! - [`vpcd_frames`]: the vpcd frame reader and the simulator's handling of each frame.
//! - [`host_card`]: the host (`juki_host::card::JukiCard`, `jpki::citizen`, the resident data
//!   decoders) against a malicious card whose responses are the input ([`host::split`]).
//! - [`host_certificates`]: certificates, CRLs, CMS signatures and login answers.
//! - [`net_requests`]: the national server's decoding of requests (`juki_net::api`).
//! - [`log_answers`]: the provision log's records, heads and proofs, a witness's and an
//!   auditor's checks, and the resident's check of a 開示請求 answer (`juki_net::citizen::verify`).

pub mod certs;
pub mod host;
pub mod log;
pub mod net;
pub mod seq;
pub mod sim;
pub mod vpcd;

pub use certs::host_certificates;
pub use host::host_card;
pub use log::log_answers;
pub use net::net_requests;
pub use sim::{apdu_parser, card_sequence};
pub use vpcd::vpcd_frames;

/// A fuzz target's function.
pub type Target = fn(&[u8]);

/// The fuzz targets, in the order `scripts/fuzz.sh` runs them, with their functions.
pub const TARGETS: &[(&str, Target)] = &[
    ("apdu_parser", apdu_parser),
    ("card_sequence", card_sequence),
    ("vpcd_frames", vpcd_frames),
    ("host_card", host_card),
    ("host_certificates", host_certificates),
    ("net_requests", net_requests),
    ("log_answers", log_answers),
];
