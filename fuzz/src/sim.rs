//! The card in the harness: a RAM NVM that can tear a write, a deterministic RNG, the issued
//! sample card, and [`Session`], which sends APDUs and checks the card's invariants on every
//! response. Also the targets [`apdu_parser`] and [`card_sequence`].

use std::cell::Cell;
use std::sync::OnceLock;

use juki_card::apdu::CommandApdu;
use juki_card::command::Command;
use juki_card::files::{PinId, JPKI_AID, JUKI_AID, PIN_COUNT};
use juki_card::sm;
use juki_card::state::{CoreState, CORE_CAPACITY};
use juki_card::status::Error as CardError;
use juki_card::storage::{Storage, CORE_RECORD};
use juki_card::{cvc, tlv, Card, Nvm, NvmError, Response, NVM_SIZE};
use juki_test_vectors::{keys, Exchange};
use p256::ecdsa::SigningKey;
use rand_core::{CryptoRng, RngCore};

use crate::seq::{self, Op, Start};

/// The RNG seed of every card the harness powers on: runs are reproducible.
pub const RNG_SEED: u64 = 0x6A75_6B69_2026_0001;
/// The RNG seed of the card the sample card was issued on (another stream than the one the
/// fuzzed card draws from: a real RNG does not repeat the bytes of the keys it made).
pub const ISSUE_RNG_SEED: u64 = 0x6A75_6B69_1557_0002;

/// A deterministic RNG (SplitMix64). Marked `CryptoRng` for the card's bounds only: it is a
/// test harness, so that libFuzzer's runs are reproducible.
#[derive(Debug, Clone)]
pub struct DetRng(u64);

impl DetRng {
    /// An RNG from `seed`.
    pub fn new(seed: u64) -> Self {
        DetRng(seed)
    }
}

impl RngCore for DetRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for DetRng {}

/// A RAM NVM that can tear one write (power cut), after which every write fails.
#[derive(Debug, Clone)]
pub struct RamNvm {
    /// The memory.
    pub mem: Vec<u8>,
    /// `(writes still let through, keep mode)` of an armed power cut (a `Cell`: it is armed
    /// through the card's `&N`, without a power cycle).
    tear: Cell<Option<(u8, u8)>>,
    /// The power is gone: a write was torn.
    torn: Cell<bool>,
}

impl RamNvm {
    /// An NVM holding `mem`.
    pub fn new(mem: Vec<u8>) -> Self {
        RamNvm {
            mem,
            tear: Cell::new(None),
            torn: Cell::new(false),
        }
    }

    /// An erased NVM.
    pub fn blank() -> Self {
        RamNvm::new(vec![0xFF; NVM_SIZE])
    }

    /// Arms a power cut: the write `after` (0 = the next one) is torn, keeping `keep` of it
    /// (0 nothing, 1 half, 2 all but one byte).
    pub fn arm_tear(&self, after: u8, keep: u8) {
        self.tear.set(Some((after % 64, keep % 3)));
    }

    /// Whether a write was torn (the power is gone).
    pub fn torn(&self) -> bool {
        self.torn.get()
    }

    /// Power back: no torn write, no armed power cut.
    pub fn restore_power(&self) {
        self.torn.set(false);
        self.tear.set(None);
    }
}

impl Nvm for RamNvm {
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let end = offset.checked_add(buf.len()).ok_or(NvmError::OutOfRange)?;
        let src = self.mem.get(offset..end).ok_or(NvmError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), NvmError> {
        if self.torn.get() {
            return Err(NvmError::WriteFailed);
        }
        let end = offset.checked_add(data.len()).ok_or(NvmError::OutOfRange)?;
        let dst = self.mem.get_mut(offset..end).ok_or(NvmError::OutOfRange)?;
        match self.tear.get() {
            Some((0, keep)) => {
                let n = match keep {
                    0 => 0,
                    1 => data.len() / 2,
                    _ => data.len().saturating_sub(1),
                };
                dst[..n].copy_from_slice(&data[..n]);
                self.tear.set(None);
                self.torn.set(true);
                Err(NvmError::WriteFailed)
            }
            Some((k, keep)) => {
                self.tear.set(Some((k - 1, keep)));
                dst.copy_from_slice(data);
                Ok(())
            }
            None => {
                dst.copy_from_slice(data);
                Ok(())
            }
        }
    }
}

/// The card core on a RAM NVM with the deterministic RNG.
pub type SimCard = Card<RamNvm, DetRng>;

/// The generator table of the harness's cards (the same keys and signatures, several times
/// faster: more executions a second).
pub fn basepoint_table() -> &'static juki_card::basepoint::BasepointTable {
    static TABLE: OnceLock<juki_card::basepoint::BasepointTable> = OnceLock::new();
    TABLE.get_or_init(juki_card::basepoint::BasepointTable::new)
}

/// Powers a card on with `image` and `rng`, with the generator table.
fn power_on_with(nvm: RamNvm, rng: DetRng) -> SimCard {
    Card::power_on(nvm, rng).with_basepoint_table(basepoint_table())
}

/// Powers a card on with `image`.
pub fn power_on(image: Vec<u8>) -> SimCard {
    power_on_with(RamNvm::new(image), DetRng::new(RNG_SEED))
}

/// Sends one APDU; returns the raw response (data ‖ SW).
pub fn process(card: &mut SimCard, apdu: &[u8]) -> Vec<u8> {
    let mut r = Response::new();
    card.process(apdu, &mut r);
    r.to_vec()
}

/// The status word of a raw response (0 if it has none).
pub fn sw_of(response: &[u8]) -> u16 {
    match response {
        [.., a, b] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

struct Exch<'a>(&'a mut SimCard);

impl Exchange for Exch<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        process(self.0, apdu)
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

/// The issued sample card: the NVM image after the `issue` transcript, and its private keys.
pub struct Issued {
    /// NVM image.
    pub image: Vec<u8>,
    /// The private scalars in its core record.
    pub scalars: Vec<[u8; 32]>,
}

/// The issued sample card (住基 PIN 1357, auth PIN 2468, sign password JUKI2026), made once.
pub fn issued() -> &'static Issued {
    static ISSUED: OnceLock<Issued> = OnceLock::new();
    ISSUED.get_or_init(|| {
        let mut card = Card::power_on(RamNvm::blank(), DetRng::new(ISSUE_RNG_SEED));
        let transcript = juki_test_vectors::transcript("issue").expect("issue transcript");
        if let Err(e) = transcript.replay(&mut Exch(&mut card)) {
            panic!("the issue transcript does not replay on the harness card: {e}");
        }
        let (nvm, _) = card.into_parts();
        let scalars = scalars_in(&nvm);
        assert_eq!(
            scalars.len(),
            3,
            "the issued card has three private keys (its own, auth, sign)"
        );
        Issued {
            image: nvm.mem,
            scalars,
        }
    })
}

/// The private scalars of the current core record of `nvm`.
pub fn scalars_in<N: Nvm>(nvm: &N) -> Vec<[u8; 32]> {
    let storage = Storage::mount(nvm);
    if !storage.exists(CORE_RECORD) {
        return Vec::new();
    }
    let mut buf = vec![0u8; storage.len(CORE_RECORD).min(CORE_CAPACITY)];
    if storage.read(nvm, CORE_RECORD, 0, &mut buf).is_err() {
        return Vec::new();
    }
    match CoreState::decode(&buf) {
        Ok(core) => core
            .keys
            .iter()
            .chain([&core.card_key])
            .flatten()
            .copied()
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The harness's half of a counter authentication for one challenge: its ephemeral key
/// (derived from the challenge, so that the same challenge gets the same answer) and the
/// EXTERNAL AUTHENTICATE data.
#[derive(Clone)]
struct CounterAnswer {
    secret: [u8; 32],
    point: [u8; sm::POINT_LEN],
    data: Vec<u8>,
}

// The harness's cryptography, memoized: the card's challenges and answers repeat across
// executions (its randomness is deterministic), and the harness's own P-256 work would
// otherwise take most of an execution. The card's work is never memoized.
thread_local! {
    static COUNTER_ANSWERS: std::cell::RefCell<std::collections::HashMap<[u8; 16], CounterAnswer>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    static AGREED: std::cell::RefCell<std::collections::HashMap<Vec<u8>, sm::SecureChannel>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Bound of each memo (entries); beyond it, the memo starts again.
const MEMO_LIMIT: usize = 4096;

fn counter_answer(challenge: &[u8; 16]) -> CounterAnswer {
    if let Some(hit) = COUNTER_ANSWERS.with(|m| m.borrow().get(challenge).cloned()) {
        return hit;
    }
    let (a, b) = challenge.split_at(8);
    let seed = u64::from_be_bytes(a.try_into().expect("8 bytes"))
        ^ u64::from_be_bytes(b.try_into().expect("8 bytes")).rotate_left(17);
    let secret = juki_card::keys::generate(&mut DetRng::new(seed));
    let point = juki_card::keys::public_key(&secret, Some(basepoint_table()))
        .expect("the harness's ephemeral key");
    let data = keys::auth_data(counter_certificate(), counter_key(), challenge, &point);
    let answer = CounterAnswer {
        secret,
        point,
        data,
    };
    COUNTER_ANSWERS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMO_LIMIT {
            m.clear();
        }
        m.insert(*challenge, answer.clone());
    });
    answer
}

/// The session agreed from the card's answer to `counter`: the answer must verify as the
/// counter checks it (a card that answers anything else to a valid authentication is a
/// finding).
fn agree(counter: &CounterAnswer, challenge: &[u8; 16], answer: &[u8]) -> sm::SecureChannel {
    let key = [challenge.as_slice(), answer].concat();
    if let Some(hit) = AGREED.with(|m| m.borrow().get(&key).cloned()) {
        return hit;
    }
    let today = cvc::Date::from_ymd(2027, 1, 1).expect("date");
    let card = cvc::verify_card_answer(answer, root_key(), today, challenge, &counter.data)
        .unwrap_or_else(|e| {
            panic!(
                "EXTERNAL AUTHENTICATE answered {} ({e:?})",
                hex::encode_upper(answer)
            )
        });
    let secret = p256::NonZeroScalar::try_from(&counter.secret[..]).expect("non-zero scalar");
    let session = sm::SecureChannel::agree(&secret, challenge, &counter.point, &card)
        .expect("the card's ephemeral key is a P-256 point");
    AGREED.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMO_LIMIT {
            m.clear();
        }
        m.insert(key, session.clone());
    });
    session
}

/// The test counter's certificate (made once: it is signed).
pub fn counter_certificate() -> &'static [u8] {
    static CERT: OnceLock<Vec<u8>> = OnceLock::new();
    CERT.get_or_init(keys::counter_certificate)
}

/// The test counter's key (made once).
pub fn counter_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(keys::counter)
}

/// A command APDU from header, data and Le (short when it fits, else extended), as the
/// transcripts build them: `le` is `None`, one byte (short) or two bytes (extended).
pub fn command(header: [u8; 4], data: &[u8], le: Option<&[u8]>) -> Vec<u8> {
    juki_test_vectors::build_command(&header, Some(data.to_vec()), le.map(<[u8]>::to_vec))
        .unwrap_or_else(|e| panic!("a fuzz harness command: {}", e.0))
}

/// Maximum tries of the three PINs, in [`Card::pin_tries`] order.
pub fn max_tries() -> [u8; PIN_COUNT] {
    [
        juki_card::pin::max_tries(PinId::Juki),
        juki_card::pin::max_tries(PinId::Auth),
        juki_card::pin::max_tries(PinId::Sign),
    ]
}

/// Whether `sw` is one of the card's status words (docs/apdu.md, and `6987`/`6988` of secure
/// messaging).
pub fn documented_sw(sw: u16) -> bool {
    matches!(
        sw,
        0x9000
            | 0x6283
            | 0x6285
            | 0x6581
            | 0x6700
            | 0x6881
            | 0x6883
            | 0x6981
            | 0x6982
            | 0x6984
            | 0x6985
            | 0x6986
            | 0x6987
            | 0x6988
            | 0x6A80
            | 0x6A82
            | 0x6A84
            | 0x6A86
            | 0x6B00
            | 0x6D00
            | 0x6E00
    ) || sw >> 8 == 0x61
        || (sw & 0xFFF0 == 0x63C0 && sw & 0x000F <= 5)
}

fn window(bytes: &[u8]) -> u128 {
    let mut w = [0u8; 16];
    w.copy_from_slice(&bytes[..16]);
    u128::from_be_bytes(w)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A card under test and the invariants checked on every APDU:
///
/// - every response has a status word, never `6F00`, and only one docs/apdu.md lists (or
///   `6987`/`6988` of secure messaging); data only with `9000`, `61xx`, `6283` or `6285`
///   (a protected answer, and GET RESPONSE of one, carries data with any status word);
/// - no try counter rises, except to its maximum when the APDU was a VERIFY or a RESET RETRY
///   COUNTER (plain or protected, not a chain link) that succeeded (`9000`, or `61xx` with its
///   answer waiting); at most one rises per APDU; none is ever above its maximum;
/// - a protected answer (secure messaging) verifies under the session and carries the status
///   word it has outside; its plain content meets the same rules;
/// - no response holds 16 consecutive bytes of a private scalar the card holds or held (in
///   either byte order), unless the input itself holds them (the fuzzer wrote them to a file);
/// - after a power cut the card powers on again and answers SELECT of the 住基AP (no `6581`).
pub struct Session<'a> {
    card: Option<SimCard>,
    /// The harness's secure-messaging session (the counter's side), if one is up.
    sm: Option<sm::SecureChannel>,
    input: &'a [u8],
    scalars: Vec<[u8; 32]>,
    windows: Vec<u128>,
    /// APDUs sent so far.
    pub apdus: usize,
    /// Counter authentications, certifications and power cycles run so far
    /// ([`seq::MAX_HEAVY_OPS`]).
    heavy: usize,
    /// Power cycles so far (power cuts included).
    pub cycles: usize,
}

impl<'a> Session<'a> {
    /// A session from the snapshot of `start`; `input` is the whole fuzz input (a private-key
    /// window that appears in it is not a leak).
    pub fn new(start: Start, input: &'a [u8]) -> Self {
        with_snapshot(start, |snap| Session {
            card: Some(snap.card.clone()),
            sm: snap.sm.clone(),
            input,
            scalars: snap.scalars.clone(),
            windows: snap.windows.clone(),
            apdus: 0,
            heavy: 0,
            cycles: 0,
        })
    }

    /// A session on a card as `card` is, for building snapshots.
    fn on(card: SimCard, scalars: &[[u8; 32]]) -> Session<'static> {
        let mut s = Session {
            card: Some(card),
            sm: None,
            input: &[],
            scalars: Vec::new(),
            windows: Vec::new(),
            apdus: 0,
            heavy: 0,
            cycles: 0,
        };
        s.add_scalars(scalars);
        s
    }

    fn add_scalars(&mut self, scalars: &[[u8; 32]]) {
        for s in scalars {
            if self.scalars.contains(s) {
                continue;
            }
            self.scalars.push(*s);
            let mut reversed = *s;
            reversed.reverse();
            for bytes in [s, &reversed] {
                for i in 0..=16 {
                    self.windows.push(window(&bytes[i..]));
                }
            }
        }
        self.windows.sort_unstable();
        self.windows.dedup();
    }

    /// The card.
    pub fn card(&mut self) -> &mut SimCard {
        self.card.as_mut().expect("the session has a card")
    }

    /// Power off and on: same NVM, no volatile state, no armed power cut.
    pub fn power_cycle(&mut self) {
        self.sm = None;
        self.cycles += 1;
        let before = self.card().pin_tries();
        let card = self.card.take().expect("the session has a card");
        let (nvm, rng) = card.into_parts();
        let was_torn = nvm.torn();
        nvm.restore_power();
        if was_torn {
            // A power cut never bricks the card: a fresh power-on answers SELECT.
            let mut probe = power_on_with(RamNvm::new(nvm.mem.clone()), DetRng::new(1));
            let r = process(&mut probe, &command([0, 0xA4, 4, 0x0C], &JUKI_AID, None));
            let sw = sw_of(&r);
            assert!(
                matches!(sw, 0x9000 | 0x6283 | 0x6285),
                "after a power cut the card answers SELECT 住基AP with {sw:04X}"
            );
        }
        self.card = Some(power_on_with(nvm, rng));
        let after = self.card().pin_tries();
        for i in 0..PIN_COUNT {
            assert!(
                after[i] <= before[i],
                "PIN {i}: tries rose from {} to {} across a power cycle{}",
                before[i],
                after[i],
                if was_torn { " after a power cut" } else { "" }
            );
        }
    }

    /// Warm reset.
    pub fn reset(&mut self) {
        self.sm = None;
        let before = self.card().pin_tries();
        self.card().reset();
        assert_eq!(before, self.card().pin_tries(), "a reset changed the tries");
    }

    /// Arms a power cut (see [`RamNvm::arm_tear`]).
    pub fn arm_tear(&mut self, after: u8, keep: u8) {
        self.card().nvm().arm_tear(after, keep);
    }

    /// Sends one APDU, checks the invariants, and returns the response. A write torn by an
    /// armed power cut powers the card off and on after the APDU.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.apdus += 1;
        if apdu.get(1..3) == Some(&[0xA4, 0x04]) {
            // SELECT by AID ends the counter's session.
            self.sm = None;
        }
        let before = self.card().pin_tries();
        let response = process(self.card(), apdu);
        let torn = self.card().nvm().torn();
        if torn {
            self.power_cycle();
        }
        let after = self.card().pin_tries();
        if torn || apdu.get(1) == Some(&0x46) {
            let scalars = scalars_in(self.card().nvm());
            self.add_scalars(&scalars);
        }
        self.check(apdu, &response, before, after);
        response
    }

    fn check(&self, apdu: &[u8], response: &[u8], before: [u8; 3], after: [u8; 3]) {
        assert!(
            response.len() >= 2,
            "response without status word to {apdu:02X?}"
        );
        let cla = apdu.first().copied().unwrap_or(0);
        let ins = apdu.get(1).copied().unwrap_or(0);
        let protected = cla & sm::CLA_SM == sm::CLA_SM || ins == 0xC0;
        self.check_plain(apdu, response, protected);

        let max = max_tries();
        let mut rises = 0;
        for i in 0..PIN_COUNT {
            assert!(
                after[i] <= max[i],
                "PIN {i} has {} tries, more than its maximum {}",
                after[i],
                max[i]
            );
            if after[i] > before[i] {
                rises += 1;
                let sw = sw_of(response);
                let allowed = (sw == 0x9000 || sw >> 8 == 0x61)
                    && cla & 0x10 == 0
                    && matches!(ins, 0x20 | 0x2C)
                    && after[i] == max[i];
                assert!(
                    allowed,
                    "PIN {i}: tries rose from {} to {} on {apdu:02X?}, which answered {sw:04X}",
                    before[i], after[i]
                );
            }
        }
        assert!(rises <= 1, "{rises} try counters rose on {apdu:02X?}");
    }

    /// The rules on one response (data ‖ SW) that hold for a plain answer and for the content of
    /// a protected one: a status word, a known one, data only with success or a warning (unless
    /// `protected`), no private-key bytes.
    fn check_plain(&self, apdu: &[u8], response: &[u8], protected: bool) {
        assert!(
            response.len() >= 2,
            "response without status word to {apdu:02X?}"
        );
        let (data, _) = response.split_at(response.len() - 2);
        let sw = sw_of(response);
        assert_ne!(sw, 0x6F00, "the card answered 6F00 to {apdu:02X?}");
        assert!(
            documented_sw(sw),
            "undocumented status word {sw:04X} to {apdu:02X?}"
        );
        assert!(
            protected
                || data.is_empty()
                || matches!(sw, 0x9000 | 0x6283 | 0x6285)
                || sw >> 8 == 0x61,
            "{} bytes of data with status word {sw:04X} to {apdu:02X?}",
            data.len()
        );
        if response.len() >= 16 && !self.windows.is_empty() {
            for w in response.windows(16) {
                if self.windows.binary_search(&window(w)).is_ok() && !contains(self.input, w) {
                    panic!(
                        "16 bytes of a private key in the response {} to {apdu:02X?}",
                        hex::encode_upper(response)
                    );
                }
            }
        }
    }

    /// The manufacturer's certification (as `@certify-card` of the transcripts): PUT DATA `C1`
    /// again with the test root (an initialised card without its certificate answers its key),
    /// the key certified as card `JK0000000001` by the test root, PUT DATA `C2`. Returns the SW
    /// of the latter, or `None` when the card answered no key.
    pub fn certify_card(&mut self) -> Option<u16> {
        let root = keys::public_point(&keys::root());
        let r = self.transmit(&command([0x00, 0xDA, 0x00, 0xC1], &root, Some(&[0])));
        let point = r
            .strip_suffix(&[0x90, 0x00])?
            .strip_prefix(&[0x7F, 0x49, 0x43, 0x86, 0x41][..])?
            .to_vec();
        let cert = keys::certificate_for(
            &keys::root(),
            cvc::Role::Card,
            &point,
            "JK0000000001",
            keys::CARD_NAME,
            keys::CARD_VALIDITY,
            true,
        );
        let r = self.transmit(&command([0x00, 0xDA, 0x00, 0xC2], &cert, None));
        Some(sw_of(&r))
    }

    /// Counter authentication with the test credentials (as `@counter-auth` of the
    /// transcripts): GET CHALLENGE, then EXTERNAL AUTHENTICATE with an ephemeral key; on `9000`
    /// the secure-messaging session with the card's ephemeral key. Returns the SW of EXTERNAL
    /// AUTHENTICATE.
    pub fn counter_auth(&mut self) -> Option<u16> {
        self.sm = None;
        let r = self.transmit(&[0x00, 0x84, 0x00, 0x00, 0x10]);
        if sw_of(&r) != 0x9000 || r.len() != 2 + cvc::CHALLENGE_LEN {
            return None;
        }
        let challenge: [u8; cvc::CHALLENGE_LEN] = r[..cvc::CHALLENGE_LEN]
            .try_into()
            .expect("16-byte challenge");
        let counter = counter_answer(&challenge);
        let le: &[u8] = if counter.data.len() > 255 {
            &[0, 0]
        } else {
            &[0]
        };
        let r = self.transmit(&command([0x00, 0x82, 0x00, 0x00], &counter.data, Some(le)));
        let sw = sw_of(&r);
        if sw == 0x9000 {
            let agreed = agree(&counter, &challenge, &r[..r.len() - 2]);
            self.sm = Some(agreed);
        }
        Some(sw)
    }

    /// Sends `apdu` under the harness's secure-messaging session, as the transcript runner
    /// does (see [`seq`]); plain when there is no session, for the commands never protected, and
    /// for what cannot be wrapped (malformed, a chain link, too long). Returns the plain answer.
    pub fn transmit_protected(&mut self, apdu: &[u8]) -> Vec<u8> {
        let never = matches!(apdu.get(1..3), Some([0xA4, 0x04, ..]))
            || matches!(apdu.get(1), Some(0xC0 | 0x84 | 0x82));
        let (Some(session), false) = (self.sm.as_ref(), never) else {
            return self.transmit(apdu);
        };
        let Ok(command) = CommandApdu::parse(apdu) else {
            return self.transmit(apdu);
        };
        if command.cla & 0x10 != 0 {
            return self.transmit(apdu);
        }
        let mut session = session.clone();
        let mut wrapped: heapless::Vec<u8, { sm::MAX_WRAPPED }> = heapless::Vec::new();
        let header = [command.cla, command.ins, command.p1, command.p2];
        let Ok(cla) = session.wrap_command(header, command.data, command.ne, &mut wrapped) else {
            return self.transmit(apdu);
        };
        self.sm = None;
        let cycles = self.cycles;
        let links: Vec<&[u8]> = wrapped.chunks(255).collect();
        let mut response = Vec::new();
        for (i, link) in links.iter().enumerate() {
            let last = i + 1 == links.len();
            let mut outer = vec![if last { cla } else { cla | 0x10 }, command.ins];
            outer.extend_from_slice(&[command.p1, command.p2, link.len() as u8]);
            outer.extend_from_slice(link);
            if last {
                outer.push(0x00);
            }
            response = self.transmit(&outer);
            if !last && response != [0x90, 0x00] {
                return response;
            }
        }
        let mut data = Vec::new();
        for _ in 0..16 {
            let (part, _) = response.split_at(response.len() - 2);
            data.extend_from_slice(part);
            let sw = sw_of(&response);
            if sw >> 8 != 0x61 {
                break;
            }
            response = self.transmit(&[0x00, 0xC0, 0x00, 0x00, sw as u8]);
        }
        let outer_sw = sw_of(&response);
        if self.cycles != cycles {
            // The power went during the command: the card's session is gone.
            return response;
        }
        if data.is_empty() && outer_sw != 0x9000 {
            // The card refused the protection itself (no session, or it ended), or the power
            // went: the session is over.
            return response;
        }
        if outer_sw >> 8 == 0x61 {
            return response;
        }
        let mut plain: heapless::Vec<u8, { juki_card::MAX_RESPONSE }> = heapless::Vec::new();
        let inner_sw = session.unwrap_response(&data, &mut plain).unwrap_or_else(|e| {
            panic!(
                "the card's protected answer {} {outer_sw:04X} to {apdu:02X?} does not verify: {e:?}",
                hex::encode_upper(&data)
            )
        });
        assert_eq!(
            inner_sw, outer_sw,
            "protected answer to {apdu:02X?} with another status word inside than outside"
        );
        let mut out = plain.to_vec();
        out.extend_from_slice(&inner_sw.to_be_bytes());
        self.check_plain(apdu, &out, false);
        if !(command.ins == 0xFE && inner_sw == 0x9000) {
            // The session goes on, unless TERMINATE CARD USAGE ended the counter's
            // authentication.
            self.sm = Some(session);
        }
        out
    }

    /// Runs one operation.
    pub fn run(&mut self, op: Op<'_>) {
        match op {
            Op::Apdu(apdu) => {
                self.transmit(apdu);
            }
            Op::Protected(apdu) => {
                self.transmit_protected(apdu);
            }
            Op::Reset => self.reset(),
            Op::CounterAuth | Op::CertifyCard | Op::PowerCycle
                if self.heavy >= seq::MAX_HEAVY_OPS => {}
            Op::CounterAuth => {
                self.heavy += 1;
                self.counter_auth();
            }
            Op::CertifyCard => {
                self.heavy += 1;
                self.certify_card();
            }
            Op::PowerCycle => {
                self.heavy += 1;
                self.power_cycle();
            }
            Op::Tear { after, keep } => self.arm_tear(after, keep),
            Op::Nop => {}
        }
    }
}

/// A card state to start from: the card (volatile state included), the harness's session, and
/// the private scalars the card holds.
pub struct Snapshot {
    card: SimCard,
    sm: Option<sm::SecureChannel>,
    scalars: Vec<[u8; 32]>,
    windows: Vec<u128>,
}

impl Snapshot {
    fn of(mut s: Session<'_>) -> Snapshot {
        Snapshot {
            card: s.card.take().expect("the session has a card"),
            sm: s.sm.take(),
            scalars: s.scalars,
            windows: s.windows,
        }
    }

    /// The card's lifecycle state.
    pub fn lifecycle(&self) -> juki_card::lifecycle::Lifecycle {
        self.card.lifecycle()
    }

    /// Whether the harness's counter session is up.
    pub fn in_session(&self) -> bool {
        self.sm.is_some()
    }
}

/// Runs `f` on the snapshot of `start`, made once (from the issued card, through the harness's
/// own checked session): what an input starts from instead of replaying the issue or a counter
/// authentication.
pub fn with_snapshot<T>(start: Start, f: impl FnOnce(&Snapshot) -> T) -> T {
    // The card's memory uses `Cell`s (power cuts): the snapshots sit behind a lock.
    static SNAPSHOTS: OnceLock<std::sync::Mutex<Vec<Snapshot>>> = OnceLock::new();
    let all = SNAPSHOTS.get_or_init(|| {
        std::sync::Mutex::new(Start::ALL.iter().map(|&s| make_snapshot(s)).collect())
    });
    let all = all
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&all[start as usize])
}

fn make_snapshot(start: Start) -> Snapshot {
    let issued = issued();
    let mut s = match start {
        Start::Blank | Start::Initialised => Session::on(power_on(vec![0xFF; NVM_SIZE]), &[]),
        _ => Session::on(power_on(issued.image.clone()), &issued.scalars),
    };
    let [juki, jpki] = aids();
    let select = |aid: &[u8]| command([0x00, 0xA4, 0x04, 0x0C], aid, None);
    let expect = |s: &mut Session<'_>, apdu: &[u8], want: u16| {
        let r = s.transmit_protected(apdu);
        assert_eq!(
            sw_of(&r),
            want,
            "making the snapshot of {start:?}: {apdu:02X?}"
        );
    };
    match start {
        Start::Issued | Start::Blank => {}
        Start::Initialised => {
            let root = keys::public_point(&keys::root());
            expect(&mut s, &select(juki), 0x9000);
            expect(
                &mut s,
                &command([0x00, 0xDA, 0x00, 0xC1], &root, None),
                0x9000,
            );
            assert_eq!(
                s.certify_card(),
                Some(0x9000),
                "certifying the snapshot card"
            );
            s.reset();
        }
        Start::Suspended | Start::Terminated => {
            expect(&mut s, &select(juki), 0x9000);
            assert_eq!(s.counter_auth(), Some(0x9000));
            let ins = if start == Start::Suspended {
                0x04
            } else {
                0xFE
            };
            expect(&mut s, &[0x00, ins, 0x00, 0x00], 0x9000);
            s.reset();
        }
        Start::PinBlocked => {
            expect(&mut s, &select(juki), 0x9000);
            expect(
                &mut s,
                &command([0x00, 0xA4, 0x02, 0x0C], &[0x00, 0x1C], None),
                0x9000,
            );
            for sw in [0x63C2, 0x63C1, 0x63C0] {
                expect(
                    &mut s,
                    &command([0x00, 0x20, 0x00, 0x80], b"0000", None),
                    sw,
                );
            }
            s.reset();
        }
        Start::JukiSession | Start::JpkiSession => {
            let aid = if start == Start::JukiSession {
                juki
            } else {
                jpki
            };
            expect(&mut s, &select(aid), 0x9000);
            assert_eq!(s.counter_auth(), Some(0x9000));
        }
    }
    s.apdus = 0;
    s.cycles = 0;
    Snapshot::of(s)
}

/// Target `card_sequence`: a card from one of the snapshots ([`Start`]) fed the operations of
/// `data` ([`seq`]), every response checked by [`Session`].
pub fn card_sequence(data: &[u8]) {
    let Some(&start) = data.first() else {
        return;
    };
    let mut session = Session::new(Start::of(start), data);
    for op in seq::ops(data) {
        session.run(op);
    }
}

/// The encoding of a parsed APDU, the way [`CommandApdu::parse`] reads it back.
fn encode_apdu(a: &CommandApdu<'_>) -> Vec<u8> {
    let mut out = vec![a.cla, a.ins, a.p1, a.p2];
    let nc = a.data.len();
    if a.extended {
        out.push(0);
        if nc > 0 {
            out.extend_from_slice(&(nc as u16).to_be_bytes());
            out.extend_from_slice(a.data);
        }
        if a.ne > 0 {
            out.extend_from_slice(&((a.ne % 65536) as u16).to_be_bytes());
        }
    } else {
        if nc > 0 {
            out.push(nc as u8);
            out.extend_from_slice(a.data);
        }
        if a.ne > 0 {
            out.push((a.ne % 256) as u8);
        }
    }
    out
}

fn check_command(a: &CommandApdu<'_>) {
    match Command::parse(a) {
        Err(e) => {
            let sw = e.sw();
            assert!(
                sw != 0x6F00 && documented_sw(sw),
                "Command::parse: status word {sw:04X} for {a:02X?}"
            );
        }
        Ok(cmd) => {
            let expected_cla = if a.ins == 0x2A { 0x80 } else { 0x00 };
            assert_eq!(
                a.cla, expected_cla,
                "{cmd:?} accepted with CLA {:02X}",
                a.cla
            );
            match cmd {
                Command::SelectApp { aid, fci } => {
                    assert!(!aid.is_empty() && aid.len() <= 16 && aid == a.data);
                    assert!(fci || a.ne == 0, "SELECT … 0C with Le accepted");
                }
                Command::SelectFile { fid } => {
                    assert_eq!(a.data, fid.to_be_bytes(), "SELECT by FID data");
                    assert_eq!(a.ne, 0, "SELECT by FID with Le accepted");
                }
                Command::ReadBinary { sfi, offset, ne } => {
                    assert!(ne > 0 && ne == a.ne && a.data.is_empty());
                    assert_binary_target(a, sfi, offset);
                }
                Command::UpdateBinary { sfi, offset, data } => {
                    assert!(!data.is_empty() && a.ne == 0);
                    assert_binary_target(a, sfi, offset);
                }
                Command::Verify { sfi, pin } => {
                    assert_eq!(a.p1, 0x00);
                    assert_eq!(a.p2, 0x80 | sfi_byte(sfi));
                    assert_eq!(pin.is_some(), !a.data.is_empty());
                    assert_eq!(a.ne, 0, "VERIFY with Le accepted");
                }
                Command::ChangeReferenceData { sfi, new_pin }
                | Command::ResetRetryCounter { sfi, new_pin } => {
                    assert!(!new_pin.is_empty() && a.ne == 0);
                    assert_eq!(a.p2, 0x80 | sfi_byte(sfi));
                }
                Command::ComputeSignature { data } => {
                    assert_eq!(data, a.data);
                    assert!(juki_card::digest_info::hash_to_sign(data).is_ok());
                }
                Command::GetChallenge => assert_eq!(a.ne, 16),
                Command::ExternalAuthenticate { data } => assert!(!data.is_empty()),
                Command::Initialise {
                    root_key,
                    answer_key,
                } => assert!(!root_key.is_empty() && answer_key == (a.ne > 0)),
                Command::InstallCertificate { cert } => {
                    assert!(!cert.is_empty() && a.ne == 0);
                }
                Command::Activate | Command::Deactivate | Command::Terminate => {
                    assert!(a.data.is_empty() && a.ne == 0 && a.p1p2() == 0);
                }
                Command::GenerateKeyPair { sfi, .. } => {
                    assert!(a.data.is_empty());
                    assert_eq!(a.p2, sfi.map_or(0, |n| 0x80 | n));
                }
            }
        }
    }
}

/// A short EF identifier as the parser took it: 1–30, or none (`0`).
fn sfi_byte(sfi: Option<u8>) -> u8 {
    match sfi {
        Some(n) => {
            assert!(
                (1..=juki_card::command::MAX_SFI).contains(&n),
                "short EF identifier {n} accepted"
            );
            n
        }
        None => 0,
    }
}

/// READ/UPDATE BINARY P1-P2: `80|SFI` and an 8-bit offset, or a 15-bit offset.
fn assert_binary_target(a: &CommandApdu<'_>, sfi: Option<u8>, offset: u16) {
    match sfi {
        Some(_) => {
            assert_eq!(a.p1, 0x80 | sfi_byte(sfi));
            assert_eq!(offset, u16::from(a.p2));
        }
        None => assert!(offset < 0x8000 && offset == a.p1p2()),
    }
}

/// The test national root's public key (made once).
fn root_key() -> &'static p256::ecdsa::VerifyingKey {
    static ROOT: OnceLock<p256::ecdsa::VerifyingKey> = OnceLock::new();
    ROOT.get_or_init(|| *keys::root().verifying_key())
}

/// Bodies of the root-signed counter certificates of the test credentials.
fn genuine_cvc_bodies() -> &'static [Vec<u8>] {
    static BODIES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BODIES.get_or_init(|| {
        [keys::counter_certificate(), keys::expired_certificate()]
            .iter()
            .map(|c| {
                cvc::parse(c)
                    .expect("test certificate parses")
                    .body()
                    .to_vec()
            })
            .collect()
    })
}

fn check_data_parsers(data: &[u8]) {
    // TLV: every object lies inside the input, and reading stops.
    let mut seen = 0usize;
    for item in tlv::Reader::new(data).take(4096) {
        match item {
            Ok(t) => {
                seen += t.value.len();
                assert!(seen <= data.len(), "TLV values longer than their input");
            }
            Err(_) => break,
        }
    }
    if let Ok((tag, len, header)) = tlv::header(data) {
        // Only the header is decoded (the value may be elsewhere): it lies in the input.
        assert!(
            (1..=5).contains(&header) && header <= data.len(),
            "tlv::header: tag {tag:04X}, length {len}, header of {header} bytes"
        );
    }
    // Counter certificates: a certificate that verifies under the root is one the root signed.
    let root = root_key();
    let cert = cvc::parse(data).or_else(|_| cvc::parse_auth_data(data).map(|a| a.cert));
    if let Ok(cert) = cert {
        let _ = cert.verifying_key();
        if cert.verify_signature(root).is_ok() {
            assert!(
                genuine_cvc_bodies().iter().any(|b| b == cert.body()),
                "a counter certificate the root never signed verifies: {}",
                hex::encode_upper(data)
            );
        }
    }
}

/// Target `apdu_parser`: `CommandApdu::parse` (any answer but `6700` is wrong; what it accepts
/// encodes back to the same bytes), `Command::parse` of what it accepts (only documented status
/// words; what it accepts has the documented form), and the card's TLV and counter-certificate
/// parsers on the data field.
pub fn apdu_parser(data: &[u8]) {
    match CommandApdu::parse(data) {
        Err(e) => assert_eq!(e, CardError::WrongLength, "parse error for {data:02X?}"),
        Ok(a) => {
            assert!(a.ne <= 65_536 && a.data.len() <= 65_535);
            assert_eq!(
                encode_apdu(&a),
                data,
                "the parsed APDU {a:02X?} does not encode back to its bytes"
            );
            check_command(&a);
            if a.cla & 0x10 != 0 {
                // The transport clears the chaining bit before the command is parsed.
                let mut last = a;
                last.cla &= !0x10;
                check_command(&last);
            }
            check_data_parsers(a.data);
        }
    }
    check_data_parsers(data);
}

/// The 住基AP and JPKI AP AIDs (for seeds).
pub fn aids() -> [&'static [u8]; 2] {
    [&JUKI_AID, &JPKI_AID]
}
