//! juki card core: the code that would run on the resident registry card's chip.
//!
//! `#![no_std]`, no `alloc`. One complete command APDU in, one response (data ‖ SW1 SW2) out:
//! see [`Card::process`]. Persistent state lives behind the [`Nvm`] trait, randomness comes from a
//! `rand_core` CSPRNG. The APDU interface is documented in `docs/apdu.md`.
//!
//! The path of one APDU: [`framing`] (chaining, `61xx`/GET RESPONSE, extended lengths, over
//! [`apdu`] parsing) → [`command`] (typed command) → [`gate`] (lifecycle and counter
//! authentication) → [`dispatch`] (the handlers, with [`issuer`], [`keys`], [`pin`], [`files`]).
//! Key generation and signing multiply the generator with the constant table
//! [`basepoint::GENERATOR_TABLE`] (computed at build time: flash on a chip, not RAM).
//! Persistent state: [`storage`] (atomic two-slot records over the NVM) holding [`state`] (the
//! versioned core record) and the binary EFs; volatile state: [`volatile`]. Errors: [`status`].
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod apdu;
pub mod basepoint;
pub mod command;
pub mod cvc;
pub mod digest_info;
pub mod dispatch;
pub mod files;
pub mod framing;
pub mod gate;
pub mod issuer;
pub mod keys;
pub mod lifecycle;
pub mod pin;
pub mod sm;
pub mod state;
pub mod status;
pub mod storage;
pub mod tlv;
pub mod volatile;

/// Largest command data field the card accepts, after command chaining is joined (and, for a
/// protected command, after secure messaging is removed).
pub const MAX_COMMAND_DATA: usize = 2048;
/// Largest data field the framing adapter joins: a plain command, or a protected one with its
/// secure-messaging data objects ([`sm::MAX_WRAPPED`]).
pub const MAX_FRAMED_DATA: usize = sm::MAX_WRAPPED;
/// Largest response (data plus the two status bytes) the card produces for one APDU: a whole
/// file, protected.
pub const MAX_RESPONSE: usize = sm::MAX_WRAPPED + 2;
/// Size in bytes of the card's non-volatile memory (the card image).
pub const NVM_SIZE: usize = 32 * 1024;

/// A response buffer: data followed by SW1 SW2.
pub type Response = heapless::Vec<u8, MAX_RESPONSE>;

/// Error of the platform's non-volatile memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NvmError {
    /// Offset or length outside the memory.
    OutOfRange,
    /// The write did not complete (hardware failure, power loss simulation).
    WriteFailed,
}

/// The card's non-volatile memory: `NVM_SIZE` bytes, erased state `0xFF`.
///
/// A `write` is durable when it returns `Ok`. A write interrupted by power loss may leave any
/// prefix of its bytes written; the card core tolerates that (see docs/architecture.md).
pub trait Nvm {
    /// Reads `buf.len()` bytes at `offset`.
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError>;
    /// Writes `data` at `offset`.
    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), NvmError>;
}

/// The card: persistent state in `N`, randomness from `R`, volatile state in RAM.
///
/// `Clone` (when `N` and `R` are) forks a card with its volatile state, for tests that cut the
/// power at every write of a transcript from the exact state before each command; every copy
/// of the secrets in RAM is wiped when it is dropped, as the original's.
#[derive(Clone)]
pub struct Card<N: Nvm, R: rand_core::RngCore + rand_core::CryptoRng> {
    framing: framing::Framing,
    applet: dispatch::Applet<N, R>,
}

impl<N: Nvm, R: rand_core::RngCore + rand_core::CryptoRng> Card<N, R> {
    /// Powers the card on: reads its persistent state from `nvm`. Volatile state starts empty.
    #[inline(always)]
    pub fn power_on(nvm: N, rng: R) -> Self {
        Card {
            framing: framing::Framing::new(),
            applet: dispatch::Applet::power_on(nvm, rng),
        }
    }

    /// Uses `table` (the precomputed multiples of the generator) for key generation and
    /// signing instead of the card's own [`basepoint::GENERATOR_TABLE`]: the same keys and
    /// signatures. Configuration of the platform, not card state: it stays across
    /// [`Card::reset`] and is not in the NVM.
    pub fn with_basepoint_table(mut self, table: &'static basepoint::BasepointTable) -> Self {
        self.applet.basepoint = Some(table);
        self
    }

    /// Multiplies the generator like any other point, without the table: the same keys and
    /// signatures, about 2.5× slower (for comparison: benchmarks, tests). Configuration, as
    /// [`Card::with_basepoint_table`].
    pub fn without_basepoint_table(mut self) -> Self {
        self.applet.basepoint = None;
        self
    }

    /// Warm reset (or power-off then power-on): clears all volatile state.
    pub fn reset(&mut self) {
        self.framing.reset();
        self.applet.reset();
    }

    /// Processes one command APDU and writes the response (data ‖ SW1 SW2) into `response`.
    pub fn process(&mut self, apdu: &[u8], response: &mut Response) {
        self.framing.process(apdu, response, &mut self.applet);
    }

    /// The non-volatile memory, e.g. to save the card image.
    pub fn nvm(&self) -> &N {
        &self.applet.nvm
    }

    /// Tries left of the 住基 PIN, the auth PIN and the sign password (diagnostics and tests;
    /// the same numbers VERIFY without data reports).
    pub fn pin_tries(&self) -> [u8; files::PIN_COUNT] {
        self.applet.pin_tries()
    }

    /// The lifecycle state.
    pub fn lifecycle(&self) -> lifecycle::Lifecycle {
        self.applet.lifecycle()
    }

    /// Powers the card off and gives back its memory and RNG.
    pub fn into_parts(self) -> (N, R) {
        (self.applet.nvm, self.applet.rng)
    }
}
