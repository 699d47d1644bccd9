//! The card core as it would be linked on a card chip (Cortex-M4F, `thumbv7em-none-eabihf`):
//! a bare-metal image whose `_start` powers a [`Card`] on and processes APDUs forever.
//!
//! Nothing here runs: the image exists to measure the code size of the card core
//! (`scripts/chip-size.sh`). The card core is generic over its NVM and RNG, so its rlib holds
//! no code; this binary instantiates it with what a chip would give it, a memory-mapped NVM and
//! a hardware RNG register (both zero-sized drivers at made-up addresses), and reads the APDUs
//! through [`core::hint::black_box`] so that no command handler can be optimised away.
//!
//! The card multiplies the generator with its constant table (`juki_card::basepoint::
//! GENERATOR_TABLE`), which the image holds in `.rodata`: counted in its flash.
//!
//! The section `.juki_sizes` holds `size_of` of the card's RAM structures as compiled for this
//! target (32-bit pointers), as entries of a 16-byte NUL-padded name and a little-endian `u32`;
//! `chip/elf-size.rs` prints them and does not count the section in the image sizes.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::mem::size_of;
use core::panic::PanicInfo;

use juki_card::basepoint::BasepointTable;
use juki_card::{Card, Nvm, NvmError, Response, MAX_FRAMED_DATA, NVM_SIZE};

/// The card's NVM, memory-mapped (EEPROM or flash behind a write controller, here simply RAM
/// semantics at a fixed address).
struct MappedNvm;

/// Base address of the NVM window (made up; only the code size matters).
const NVM_BASE: usize = 0x0808_0000;

impl Nvm for MappedNvm {
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let end = offset.checked_add(buf.len()).ok_or(NvmError::OutOfRange)?;
        if end > NVM_SIZE {
            return Err(NvmError::OutOfRange);
        }
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: `NVM_BASE..NVM_BASE + NVM_SIZE` is the NVM window of this (imaginary)
            // chip; the range was checked above.
            *byte = unsafe { core::ptr::read_volatile((NVM_BASE + offset + i) as *const u8) };
        }
        Ok(())
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), NvmError> {
        let end = offset.checked_add(data.len()).ok_or(NvmError::OutOfRange)?;
        if end > NVM_SIZE {
            return Err(NvmError::OutOfRange);
        }
        for (i, byte) in data.iter().enumerate() {
            // SAFETY: as in `read`.
            unsafe { core::ptr::write_volatile((NVM_BASE + offset + i) as *mut u8, *byte) };
        }
        Ok(())
    }
}

/// The chip's true random number generator: one 32-bit data register (made-up address).
struct Trng;

const TRNG_DATA: usize = 0x5006_0808;

impl rand_core::RngCore for Trng {
    fn next_u32(&mut self) -> u32 {
        // SAFETY: the TRNG's data register (imaginary chip).
        unsafe { core::ptr::read_volatile(TRNG_DATA as *const u32) }
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_u32(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Trng {}

type ChipCard = Card<MappedNvm, Trng>;

/// One `size_of` entry of `.juki_sizes`.
#[repr(C)]
struct SizeEntry {
    name: [u8; 16],
    value: u32,
}

const fn entry(name: &str, value: usize) -> SizeEntry {
    let bytes = name.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < bytes.len() && i < out.len() {
        out[i] = bytes[i];
        i += 1;
    }
    SizeEntry {
        name: out,
        value: value as u32,
    }
}

#[used]
#[link_section = ".juki_sizes"]
static SIZES: [SizeEntry; 9] = [
    entry("card", size_of::<ChipCard>()),
    entry("framing", size_of::<juki_card::framing::Framing>()),
    entry(
        "applet",
        size_of::<juki_card::dispatch::Applet<MappedNvm, Trng>>(),
    ),
    entry("volatile", size_of::<juki_card::volatile::Volatile>()),
    entry("sm_session", size_of::<juki_card::sm::SecureChannel>()),
    entry("core_state", size_of::<juki_card::state::CoreState>()),
    entry("storage", size_of::<juki_card::storage::Storage>()),
    entry("response", size_of::<Response>()),
    entry("basepoint_table", size_of::<BasepointTable>()),
];

/// The largest command APDU: header, extended Lc, the largest framed data field, extended Le.
const MAX_APDU: usize = 4 + 3 + MAX_FRAMED_DATA + 2;

/// The firmware's entry point: power on, then one APDU in, one response out, forever.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    // Keeps `.juki_sizes` through the linker's garbage collection.
    black_box(&SIZES);
    // As shipped: key generation and signing use the generator table, a `static` evaluated at
    // compile time (`.rodata`, flash), not RAM.
    let mut card = Card::power_on(MappedNvm, Trng);
    let mut apdu = [0u8; MAX_APDU];
    let mut response = Response::new();
    loop {
        // The reader's next APDU: unknown to the compiler.
        black_box(&mut apdu);
        let len = black_box(0usize).min(apdu.len());
        let command = apdu.get(..len).unwrap_or(&[]);
        if black_box(false) {
            card.reset();
        }
        card.process(command, &mut response);
        black_box(&response);
    }
}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
