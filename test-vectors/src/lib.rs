//! APDU transcripts and data vectors shared by the juki card's and host's tests.
//!
//! The transcripts (`transcripts/*.apdu`, format in `test-vectors/README.md`) are replayed by
//! [`Transcript::replay`] against anything that implements [`Exchange`]: the card core in
//! process, the simulated card, or a real PC/SC reader. The deterministic test credentials
//! (national root, municipality counter) live in [`keys`].

pub mod keys;
mod script;

use std::collections::HashMap;
use std::fmt;

pub use script::{build_command, parse_bytes, strip_comment, ParseError};

/// Something that takes a command APDU and answers a response (data ‖ SW1 SW2).
pub trait Exchange {
    /// Sends one command APDU; returns the response including the status word.
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8>;
    /// Power-cycles or resets the card (volatile state cleared).
    fn reset(&mut self);
}

/// One transcript file.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// File name without `.apdu`.
    pub name: &'static str,
    /// The text.
    pub text: &'static str,
}

macro_rules! transcripts {
    ($($name:literal),* $(,)?) => {
        &[$(Transcript { name: $name, text: include_str!(concat!("../transcripts/", $name, ".apdu")) }),*]
    };
}

/// Every transcript, fixtures first.
pub const TRANSCRIPTS: &[Transcript] = transcripts![
    "issue",
    "blank",
    "select",
    "read_binary",
    "verify_juki_pin",
    "change_pin",
    "counter_auth",
    "reset_retry_counter",
    "update_binary",
    "generate_and_sign",
    "jpki_certificates",
    "chaining_and_get_response",
    "malformed",
    "malformed_tiny",
    "lifecycle_suspended",
    "lifecycle_terminated",
];

/// The transcript called `name`.
pub fn transcript(name: &str) -> Option<&'static Transcript> {
    TRANSCRIPTS.iter().find(|t| t.name == name)
}

/// Transcripts meant to be replayed on their own (not the fixtures they include).
pub fn runnable() -> impl Iterator<Item = &'static Transcript> {
    TRANSCRIPTS
        .iter()
        .filter(|t| !t.text.starts_with("# fixture"))
}

/// Transcripts that can cross a real reader (not marked `@in-process-only`).
pub fn runnable_over_pcsc() -> impl Iterator<Item = &'static Transcript> {
    runnable().filter(|t| !t.text.lines().any(|l| l.trim() == "@in-process-only"))
}

/// Resident code check-digit vectors: `(code, valid)`.
pub fn resident_code_vectors() -> Vec<(String, bool)> {
    include_str!("../data/resident_codes.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let line = l.split('#').next().unwrap_or("");
            let mut parts = line.split_whitespace();
            let code = parts.next().unwrap_or("").to_string();
            let valid = parts.next() == Some("valid");
            (code, valid)
        })
        .collect()
}

/// A 4-info encoding vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FourInfoVector {
    /// 氏名.
    pub name: String,
    /// 住所.
    pub address: String,
    /// 生年月日, `YYYYMMDD`.
    pub birth: String,
    /// 性別: `1`, `2` or `9`.
    pub sex: String,
    /// The expected EF 0002 content.
    pub tlv: Vec<u8>,
}

/// The 4-info encoding vectors.
pub fn four_info_vectors() -> Vec<FourInfoVector> {
    let text = include_str!("../data/four_info.txt");
    let mut out = Vec::new();
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some((key, value)) = line.split_once(": ") {
            fields.insert(key, value);
        }
        if line.starts_with("tlv: ") {
            let get = |k: &str| fields.get(k).copied().unwrap_or_default().to_string();
            out.push(FourInfoVector {
                name: get("name"),
                address: get("address"),
                birth: get("birth"),
                sex: get("sex"),
                tlv: hex::decode(get("tlv")).unwrap_or_default(),
            });
            fields.clear();
        }
    }
    out
}

/// Why a replay failed: where, and what differed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayError {
    /// Transcript name.
    pub transcript: String,
    /// 1-based line number.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.apdu:{}: {}",
            self.transcript, self.line, self.message
        )
    }
}

impl std::error::Error for ReplayError {}

/// What a replay did: how many APDUs were exchanged and checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Command APDUs sent (including those of directives).
    pub apdus: usize,
    /// Expectations checked.
    pub checks: usize,
}

impl Transcript {
    /// Replays the transcript against `card`, checking every expected response.
    pub fn replay(&self, card: &mut dyn Exchange) -> Result<ReplayStats, ReplayError> {
        let mut runner = script::Runner::new(card);
        runner.run(self)?;
        Ok(runner.stats())
    }
}
