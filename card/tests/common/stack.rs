//! Stack painting: the worst-case stack of one `Card::process`, measured, and the commands of
//! a realistic card session to measure it on. Shared by `benches/memory.rs` (every command, in
//! the bench profile) and `tests/memory.rs` (a bound, in the test profile).
//!
//! The method: in a thread with a known, large stack ([`on_measuring_thread`]), an
//! `#[inline(never)]` function fills a large local array (1 MiB, volatile writes) with a
//! pattern and returns; that array was just below the caller's stack pointer. The caller then
//! calls the measured function through an opaque function pointer (so nothing of it is inlined
//! into the caller's frame), and scans the array from its bottom for the first byte that is no
//! longer the pattern: the stack used is the caller's stack pointer minus that address. It sees
//! bytes *written*: a frame's slots the callee reserves but never writes, at the very bottom of
//! the deepest frame, are not seen (a few bytes to a few hundred, hence the margins).
//! [`calibration`] checks the method on functions of known stack use.
//!
//! Reading the dead stack after the call is outside what Rust promises (the array is gone), but
//! the memory is the thread's own stack, mapped and only ours; the card crate itself has no
//! unsafe code.
#![allow(unsafe_code, dead_code)]

use std::hint::black_box;
use std::ptr;

use juki_card::apdu::CommandApdu;
use juki_card::files::{JPKI_AID, JUKI_AID};
use juki_card::sm;
use juki_card::{Card, Response, MAX_RESPONSE};
use rand_core::OsRng;
use sha2::{Digest, Sha256};

use crate::common::*;

/// RAM budget of the target chip (the generator table is a constant in flash).
pub const BUDGET: usize = 16 * 1024;

/// An NVM that is not RAM: on a chip it is EEPROM or flash behind a driver, so the card's own
/// RAM is `size_of::<Card<NoNvm, OsRng>>()` (OsRng is zero-sized too, as a TRNG register).
pub struct NoNvm;

impl juki_card::Nvm for NoNvm {
    fn read(&self, _: usize, _: &mut [u8]) -> Result<(), juki_card::NvmError> {
        Err(juki_card::NvmError::OutOfRange)
    }
    fn write(&mut self, _: usize, _: &[u8]) -> Result<(), juki_card::NvmError> {
        Err(juki_card::NvmError::WriteFailed)
    }
}

/// Bytes painted below the caller's stack pointer before each measurement.
pub const PAINTED: usize = 1024 * 1024;
/// Stack of the measuring thread: the painted region, the setup and a margin.
pub const THREAD_STACK: usize = 8 * 1024 * 1024;
const PATTERN: u64 = 0xA5A5_A5A5_A5A5_A5A5;

/// Runs `f` on a thread with a [`THREAD_STACK`]-byte stack.
pub fn on_measuring_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("stack-painting".into())
        .stack_size(THREAD_STACK)
        .spawn(f)
        .expect("spawn the measuring thread")
        .join()
        .expect("the measuring thread")
}

/// The stack pointer of the calling function (its frame is fixed once it runs).
#[inline(always)]
fn stack_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: reads a register.
        unsafe { core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack)) };
        sp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let sp: usize;
        // SAFETY: reads a register.
        unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack)) };
        sp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        // A local of the caller: at most a few bytes above its stack pointer.
        let marker = 0u8;
        black_box(&marker) as *const u8 as usize
    }
}

/// Fills a [`PAINTED`]-byte local array with the pattern; returns its address range, which is
/// free stack below the caller once this returns.
#[inline(never)]
fn paint() -> (usize, usize) {
    let mut region = std::mem::MaybeUninit::<[u64; PAINTED / 8]>::uninit();
    let base = region.as_mut_ptr().cast::<u64>();
    for i in 0..PAINTED / 8 {
        // SAFETY: within the local array.
        unsafe { ptr::write_volatile(base.add(i), PATTERN) };
    }
    let low = base as usize;
    (low, low + PAINTED)
}

/// The lowest address of `low..high` that no longer holds the pattern.
#[inline(never)]
fn lowest_written(low: usize, high: usize) -> Option<usize> {
    let mut addr = low;
    while addr < high {
        // SAFETY: the painted region: this thread's own stack, below the live frames.
        let word = unsafe { ptr::read_volatile(addr as *const u64) };
        if word != PATTERN {
            // Little endian: the lowest address is the lowest byte.
            let same = if cfg!(target_endian = "little") {
                (word ^ PATTERN).trailing_zeros()
            } else {
                (word ^ PATTERN).leading_zeros()
            };
            return Some(addr + (same / 8) as usize);
        }
        addr += 8;
    }
    None
}

/// Bytes of stack `f(arg)` uses: from this function's stack pointer (the call's) down to the
/// deepest byte written. Must run on a thread from [`on_measuring_thread`].
#[inline(never)]
pub fn stack_of<A>(f: fn(&mut A), arg: &mut A) -> usize {
    let f = black_box(f);
    let sp = stack_pointer();
    let (low, high) = paint();
    f(arg);
    let deepest = lowest_written(low, high);
    if let Some(d) = deepest {
        assert!(
            d > low,
            "the stack used reaches the bottom of the painted region"
        );
    }
    assert!(high <= sp, "the painted region is below the stack pointer");
    deepest.map_or(0, |d| sp - d)
}

fn nothing(_: &mut ()) {}

/// Uses `N` bytes of stack: a local array, every byte written.
#[inline(never)]
fn burn<const N: usize>(_: &mut ()) {
    let mut buf = [0u8; N];
    for b in buf.iter_mut() {
        // SAFETY: a local.
        unsafe { ptr::write_volatile(b, 0x5A) };
    }
    black_box(&buf);
}

/// The method checked on functions of known stack use: (name, bytes known, bytes measured).
pub fn calibration() -> Vec<(&'static str, usize, usize)> {
    vec![
        ("empty function", 0, stack_of(nothing, &mut ())),
        ("8 KiB local array", 8192, stack_of(burn::<8192>, &mut ())),
        (
            "32 KiB local array",
            32768,
            stack_of(burn::<32768>, &mut ()),
        ),
    ]
}

struct Call<'a> {
    card: &'a mut TestCard,
    apdu: &'a [u8],
    response: &'a mut Response,
}

#[inline(never)]
fn run_process(call: &mut Call<'_>) {
    call.card.process(call.apdu, call.response);
}

/// The stack of `card.process(apdu, response)`.
pub fn stack_of_process(card: &mut TestCard, apdu: &[u8], response: &mut Response) -> usize {
    stack_of(
        run_process,
        &mut Call {
            card,
            apdu,
            response,
        },
    )
}

struct PowerOn {
    image: Option<Vec<u8>>,
    card: Option<TestCard>,
}

#[inline(never)]
fn run_power_on(p: &mut PowerOn) {
    let image = p.image.take().unwrap_or_default();
    p.card = Some(Card::power_on(TestNvm::from_image(image), OsRng));
}

/// One measured command.
#[derive(Debug, Clone)]
pub struct Measured {
    /// What ran.
    pub name: String,
    /// Its status word (the inner one under secure messaging).
    pub sw: u16,
    /// Stack bytes of `Card::process`.
    pub stack: usize,
    /// Whether the card multiplied the generator with its table (as shipped), rather than
    /// generically (for comparison).
    pub table: bool,
    /// Power-on rather than a command.
    pub boot: bool,
}

fn sw_of(r: &Response) -> u16 {
    let n = r.len();
    u16::from_be_bytes([r[n - 2], r[n - 1]])
}

/// The measuring session: the card, its counter, what was measured.
pub struct Measuring {
    pub card: TestCard,
    pub counter: Counter,
    pub measured: Vec<Measured>,
    table: bool,
}

impl Measuring {
    /// Measures a plain command; checks its status word; returns its data.
    pub fn plain(&mut self, name: &str, apdu: &[u8], want: u16) -> Vec<u8> {
        let mut r = Response::new();
        let stack = stack_of_process(&mut self.card, apdu, &mut r);
        let sw = sw_of(&r);
        assert_eq!(sw, want, "{name}");
        self.record(name, sw, stack);
        r[..r.len() - 2].to_vec()
    }

    fn record(&mut self, name: &str, sw: u16, stack: usize) {
        self.measured.push(Measured {
            name: name.into(),
            sw,
            stack,
            table: self.table,
            boot: false,
        });
    }

    /// `plain` protected with (a copy of) the test counter's session: the parsed plain command,
    /// the protected CLA and data field, and the session moved on by one command.
    fn wrap<'a>(
        &self,
        plain: &'a [u8],
    ) -> (
        CommandApdu<'a>,
        u8,
        heapless::Vec<u8, { sm::MAX_WRAPPED }>,
        sm::SecureChannel,
    ) {
        let mut session = self.card.nvm().host.borrow().sm.clone().expect("a session");
        let c = CommandApdu::parse(plain).unwrap();
        let mut wrapped = heapless::Vec::new();
        let cla = session
            .wrap_command([c.cla, c.ins, c.p1, c.p2], c.data, c.ne, &mut wrapped)
            .unwrap();
        (c, cla, wrapped, session)
    }

    /// Measures a command under the counter's secure messaging (as one extended APDU, or as a
    /// chain of 255-byte links: the deepest link counts); checks the inner status word.
    pub fn protected(&mut self, name: &str, plain: &[u8], chained: bool, want: u16) {
        let (c, cla, wrapped, mut session) = self.wrap(plain);
        let links: Vec<Vec<u8>> = if chained {
            let parts: Vec<&[u8]> = wrapped.chunks(255).collect();
            let last = parts.len() - 1;
            parts
                .iter()
                .enumerate()
                .map(|(i, part)| {
                    let chain = if i < last { 0x10 } else { 0 };
                    let mut link = vec![cla | chain, c.ins, c.p1, c.p2, part.len() as u8];
                    link.extend_from_slice(part);
                    if i == last {
                        link.push(0);
                    }
                    link
                })
                .collect()
        } else {
            let mut outer = vec![cla, c.ins, c.p1, c.p2, 0];
            outer.extend_from_slice(&(wrapped.len() as u16).to_be_bytes());
            outer.extend_from_slice(&wrapped);
            outer.extend_from_slice(&[0, 0]);
            vec![outer]
        };
        let mut r = Response::new();
        let mut stack = 0;
        for (i, link) in links.iter().enumerate() {
            stack = stack.max(stack_of_process(&mut self.card, link, &mut r));
            if i + 1 < links.len() {
                assert_eq!(sw_of(&r), 0x9000, "{name}: a chain link");
            }
        }
        let data = &r[..r.len() - 2];
        let mut plain_answer: heapless::Vec<u8, MAX_RESPONSE> = heapless::Vec::new();
        let inner = session
            .unwrap_response(data, &mut plain_answer)
            .expect("the card's protected answer verifies");
        assert_eq!(inner, want, "{name}");
        self.card.nvm().host.borrow_mut().sm = Some(session);
        self.record(name, inner, stack);
    }

    /// Measures a protected command whose MAC is wrong: `6988`, the session ends.
    pub fn bad_mac(&mut self, name: &str, plain: &[u8]) {
        let (c, cla, mut wrapped, _) = self.wrap(plain);
        let last = wrapped.len() - 1;
        wrapped[last] ^= 1;
        let mut outer = vec![cla, c.ins, c.p1, c.p2, wrapped.len() as u8];
        outer.extend_from_slice(&wrapped);
        outer.push(0);
        let mut r = Response::new();
        let stack = stack_of_process(&mut self.card, &outer, &mut r);
        assert_eq!(sw_of(&r), 0x6988, "{name}");
        self.card.nvm().host.borrow_mut().sm = None;
        self.record(name, 0x6988, stack);
    }

    /// Counter authentication, not measured (to get a session both sides know).
    pub fn authenticate(&mut self) {
        assert_eq!(self.counter.authenticate(&mut self.card), 0x9000);
    }
}

/// A 2048-byte certificate stand-in (a DER SEQUENCE header and filler).
pub fn certificate_2k() -> Vec<u8> {
    let mut cert = vec![0x30, 0x82, 0x07, 0xFC];
    cert.extend((0..2044u32).map(|i| (i.wrapping_mul(151) >> 3) as u8));
    cert
}

/// What a run of [`measure_commands`] gives.
pub struct Run {
    /// Every command measured, in order.
    pub measured: Vec<Measured>,
    /// The card's NVM at the end: issued, the four JPKI certificates written.
    pub image: Vec<u8>,
}

/// Measures the stack of each kind of command on an issued card, in a realistic order: 住基AP
/// (SELECT, VERIFY, READ BINARY), the counter's session in the JPKI AP (GET CHALLENGE,
/// EXTERNAL AUTHENTICATE, UPDATE BINARY of the certificates, GENERATE ASYMMETRIC KEY PAIR), the
/// holder's signature, a long READ BINARY with GET RESPONSE, malformed APDUs, all on the card
/// as shipped (with its generator table); then without the table (the generic
/// multiplication), signature and key generation again; last the power-on of the resulting
/// image. Run it on a thread from [`on_measuring_thread`].
pub fn measure_commands() -> Run {
    let (card, counter) = issued_card();
    let mut s = Measuring {
        card,
        counter,
        measured: Vec::new(),
        table: true,
    };

    // The holder at a counter or a convenience store: 住基AP.
    s.plain(
        "SELECT by AID (住基AP)",
        &apdu(0, 0xA4, 4, 0x0C, &JUKI_AID, None),
        0x9000,
    );
    s.plain(
        "VERIFY (住基 PIN, right)",
        &apdu(0, 0x20, 0, 0x9C, JUKI_PIN, None),
        0x9000,
    );
    s.plain(
        "READ BINARY (4 info, short EF id, extended Le)",
        &[0, 0xB0, 0x82, 0, 0, 0, 0],
        0x9000,
    );

    // The counter: authentication and its session in the JPKI AP.
    s.plain(
        "SELECT by AID (JPKI AP)",
        &apdu(0, 0xA4, 4, 0x0C, &JPKI_AID, None),
        0x9000,
    );
    let challenge = s.plain("GET CHALLENGE", &[0, 0x84, 0, 0, 0x10], 0x9000);
    let answer = s.counter.answer(&challenge);
    s.plain(
        "EXTERNAL AUTHENTICATE (certificates, signatures, ECDH)",
        &apdu(0, 0x82, 0, 0, &answer, Some(65536)),
        0x9000,
    );
    s.authenticate();
    let cert = certificate_2k();
    select_ef(&mut s.card, 0x000A);
    s.protected(
        "UPDATE BINARY (2 KB certificate, SM, extended)",
        &apdu(0, 0xD6, 0, 0, &cert, None),
        false,
        0x9000,
    );
    select_ef(&mut s.card, 0x000B);
    s.protected(
        "UPDATE BINARY (2 KB certificate, SM, chained)",
        &apdu(0, 0xD6, 0, 0, &cert, None),
        true,
        0x9000,
    );
    for fid in [0x0001u16, 0x0002] {
        select_ef(&mut s.card, fid);
        assert_eq!(update(&mut s.card, 0, &cert), 0x9000);
    }
    s.protected(
        "GENERATE ASYMMETRIC KEY PAIR (SM)",
        &[0, 0x46, 0x80, 0x9A, 0],
        false,
        0x9000,
    );
    s.protected(
        "SELECT FILE (SM)",
        &apdu(0, 0xA4, 2, 0x0C, &[0x00, 0x0A], None),
        false,
        0x9000,
    );
    s.bad_mac(
        "malformed: protected command with a wrong MAC",
        &apdu(0, 0xA4, 2, 0x0C, &[0x00, 0x0A], None),
    );

    // The holder signs.
    select_jpki(&mut s.card);
    s.plain(
        "VERIFY (sign password, right)",
        &apdu(0, 0x20, 0, 0x9B, SIGN_PIN, None),
        0x9000,
    );
    select_ef(&mut s.card, 0x001A);
    let hash: [u8; 32] = Sha256::digest(b"e-application").into();
    let sign = apdu(0x80, 0x2A, 0, 0x80, &hash, Some(256));
    s.plain("COMPUTE DIGITAL SIGNATURE", &sign, 0x9000);
    select_ef(&mut s.card, 0x000A);
    let all = s.plain(
        "READ BINARY (2 KB certificate, extended Le)",
        &[0, 0xB0, 0, 0, 0, 0, 0],
        0x9000,
    );
    assert_eq!(all, cert);
    s.plain(
        "READ BINARY (2 KB certificate, short Le 256)",
        &[0, 0xB0, 0, 0, 0],
        0x9000,
    );
    let first = s.plain(
        "GENERATE ASYMMETRIC KEY PAIR (read public key, Le 32: 61xx)",
        &[0, 0x46, 0x81, 0x9A, 0x20],
        0x6126,
    );
    let rest = s.plain("GET RESPONSE", &[0, 0xC0, 0, 0, 0], 0x9000);
    assert_eq!(first.len() + rest.len(), 5 + 65);
    s.plain("malformed: truncated APDU", &[0, 0xB0, 0], 0x6700);
    s.plain(
        "malformed: unknown instruction",
        &apdu(0, 0x0E, 0, 0, &[1, 2, 3], None),
        0x6D00,
    );

    // Without the generator table, for comparison.
    s.card = s.card.without_basepoint_table();
    s.table = false;
    select_ef(&mut s.card, 0x001A);
    s.plain("COMPUTE DIGITAL SIGNATURE (no table)", &sign, 0x9000);
    s.authenticate();
    s.protected(
        "GENERATE ASYMMETRIC KEY PAIR (SM, no table)",
        &[0, 0x46, 0x80, 0x9A, 0],
        false,
        0x9000,
    );
    s.table = true;

    // Power-on of the image (mount, core record); the Card is built on the stack and moved out.
    let image = s.card.nvm().mem.clone();
    let mut p = PowerOn {
        image: Some(image.clone()),
        card: None,
    };
    let stack = stack_of(run_power_on, &mut p);
    s.measured.push(Measured {
        name: "power-on (Card::power_on, the Card returned by value)".into(),
        sw: 0x9000,
        stack,
        table: true,
        boot: true,
    });
    assert!(p.card.is_some());
    Run {
        measured: s.measured,
        image,
    }
}
