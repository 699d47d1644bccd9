//! juki card core: the code that would run on the resident registry card's chip.
//!
//! `#![no_std]`, no `alloc`. One complete command APDU in, one response (data ‖ SW1 SW2) out:
//! see [`Card::process`]. Persistent state lives behind the [`Nvm`] trait, randomness comes from a
//! `rand_core` CSPRNG. The APDU interface is documented in `docs/apdu.md`.
#![no_std]
#![forbid(unsafe_code)]

/// Largest command data field the card accepts, after command chaining is joined.
pub const MAX_COMMAND_DATA: usize = 2048;
/// Largest response (data plus the two status bytes) the card produces for one APDU.
pub const MAX_RESPONSE: usize = 2048 + 2;
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
pub struct Card<N: Nvm, R: rand_core::RngCore + rand_core::CryptoRng> {
    nvm: N,
    rng: R,
}

impl<N: Nvm, R: rand_core::RngCore + rand_core::CryptoRng> Card<N, R> {
    /// Powers the card on: reads its persistent state from `nvm`. Volatile state starts empty.
    pub fn power_on(nvm: N, rng: R) -> Self {
        Card { nvm, rng }
    }

    /// Warm reset (or power-off then power-on): clears all volatile state.
    pub fn reset(&mut self) {}

    /// Processes one command APDU and writes the response (data ‖ SW1 SW2) into `response`.
    pub fn process(&mut self, apdu: &[u8], response: &mut Response) {
        let _ = (apdu, &mut self.rng);
        response.clear();
        let _ = response.extend_from_slice(&[0x6D, 0x00]);
    }

    /// The non-volatile memory, e.g. to save the card image.
    pub fn nvm(&self) -> &N {
        &self.nvm
    }

    /// Powers the card off and gives back its memory and RNG.
    pub fn into_parts(self) -> (N, R) {
        (self.nvm, self.rng)
    }
}
