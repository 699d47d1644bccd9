//! Shared helpers of the card's integration tests: a RAM NVM, APDU helpers, the counter's keys
//! and certificate, and a personalisation run.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::cell::{Cell, RefCell};

use juki_card::apdu::CommandApdu;
use juki_card::command::{never_protected, Ins};
use juki_card::cvc::{self, CertificateFields, Date, Role};
use juki_card::files::{JPKI_AID, JUKI_AID};
use juki_card::sm::{self, SecureChannel};
use juki_card::{Card, Nvm, NvmError, Response, NVM_SIZE};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::OsRng;
use sha2::{Digest, Sha256};

/// A RAM NVM that can tear a write: when the countdown reaches the write to fail, it writes
/// only `keep` bytes of it (a prefix) and fails, and every later write fails too (the power is
/// gone). Plain data (the cells are set through `card.nvm()`), so that forking a card forks its
/// memory.
#[derive(Clone)]
pub struct TestNvm {
    pub mem: Vec<u8>,
    /// Writes still allowed before the tear; `None` = never tear.
    pub countdown: Cell<Option<usize>>,
    /// How many bytes of the torn write reach the memory.
    pub keep: Cell<TearKeep>,
    pub dead: bool,
    /// Writes done so far.
    pub writes: Cell<usize>,
    /// The test's side of the counter's session with this card (not card state: the card never
    /// looks at it): the last challenge and the secure-messaging session, as a counter keeps
    /// them. [`tx`] protects commands with it.
    pub host: RefCell<HostSide>,
}

/// What the counter's side keeps between APDUs.
#[derive(Clone, Default)]
pub struct HostSide {
    pub challenge: Option<Vec<u8>>,
    pub sm: Option<SecureChannel>,
}

/// How much of the torn write is written.
#[derive(Clone, Copy, Debug)]
pub enum TearKeep {
    Nothing,
    Half,
    AllButOne,
}

impl TestNvm {
    pub fn blank() -> Self {
        TestNvm::from_image(vec![0xFF; NVM_SIZE])
    }

    pub fn from_image(mem: Vec<u8>) -> Self {
        TestNvm {
            mem,
            countdown: Cell::new(None),
            keep: Cell::new(TearKeep::Nothing),
            dead: false,
            writes: Cell::new(0),
            host: RefCell::new(HostSide::default()),
        }
    }
}

impl Nvm for TestNvm {
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let src = self
            .mem
            .get(offset..offset + buf.len())
            .ok_or(NvmError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), NvmError> {
        if self.dead {
            return Err(NvmError::WriteFailed);
        }
        let dst = self
            .mem
            .get_mut(offset..offset + data.len())
            .ok_or(NvmError::OutOfRange)?;
        self.writes.set(self.writes.get() + 1);
        match self.countdown.get() {
            Some(0) => {
                let n = match self.keep.get() {
                    TearKeep::Nothing => 0,
                    TearKeep::Half => data.len() / 2,
                    TearKeep::AllButOne => data.len().saturating_sub(1),
                };
                dst[..n].copy_from_slice(&data[..n]);
                self.dead = true;
                Err(NvmError::WriteFailed)
            }
            Some(k) => {
                self.countdown.set(Some(k - 1));
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

pub type TestCard = Card<TestNvm, OsRng>;

pub fn new_card() -> TestCard {
    Card::power_on(TestNvm::blank(), OsRng)
}

/// Power-cycles the card: the same memory, nothing volatile kept, no tearing.
pub fn power_cycle(card: TestCard) -> TestCard {
    let (nvm, rng) = card.into_parts();
    Card::power_on(TestNvm::from_image(nvm.mem), rng)
}

/// Sends one APDU exactly as given; returns (data, SW).
pub fn raw(card: &mut TestCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut r = Response::new();
    card.process(apdu, &mut r);
    assert!(r.len() >= 2, "no status word");
    let n = r.len();
    (
        r[..n - 2].to_vec(),
        u16::from_be_bytes([r[n - 2], r[n - 1]]),
    )
}

/// The test counter's ephemeral key for `challenge` (deterministic, so that [`tx`] can agree
/// the session from what it sees).
pub fn ephemeral(challenge: &[u8]) -> p256::NonZeroScalar {
    let digest = Sha256::digest([b"juki test counter ephemeral".as_slice(), challenge].concat());
    p256::NonZeroScalar::try_from(&digest[..]).unwrap()
}

fn ephemeral_point(challenge: &[u8]) -> Vec<u8> {
    let public = p256::PublicKey::from_secret_scalar(&ephemeral(challenge));
    public.to_encoded_point(false).as_bytes().to_vec()
}

/// Sends one APDU as the counter's software would: protected with the secure-messaging session
/// when one is up (but SELECT by AID, which ends it, GET RESPONSE, GET CHALLENGE, EXTERNAL
/// AUTHENTICATE and chain links), and the session agreed when EXTERNAL AUTHENTICATE succeeds.
/// Returns the plain (data, SW).
pub fn tx(card: &mut TestCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let (cla, ins, p1) = (apdu[0], apdu.get(1).copied(), apdu.get(2).copied());
    if (ins, p1) == (Some(0xA4), Some(0x04)) {
        card.nvm().host.borrow_mut().sm = None;
    }
    // The card's own rule (Command::protected_in_session), on the header: a malformed command
    // goes as the counter's software would send it.
    let exempt = match (ins, p1) {
        (Some(ins), Some(p1)) => never_protected(ins, p1) || ins == Ins::GetResponse.byte(),
        _ => true,
    } || cla & 0x10 != 0;
    let session = card.nvm().host.borrow().sm.clone();
    match (session, exempt, CommandApdu::parse(apdu)) {
        (Some(session), false, Ok(command)) => protected(card, session, &command),
        _ => {
            let (data, s) = raw(card, apdu);
            match ins {
                Some(0x84) if s == 0x9000 => {
                    card.nvm().host.borrow_mut().challenge = Some(data.clone());
                }
                Some(0x82) => agree(card, apdu, &data, s),
                _ => {}
            }
            (data, s)
        }
    }
}

/// After EXTERNAL AUTHENTICATE: the session from the card's ephemeral key, as the counter
/// computes it.
fn agree(card: &mut TestCard, apdu: &[u8], answer: &[u8], s: u16) {
    let mut host = card.nvm().host.borrow_mut();
    host.sm = None;
    let challenge = host.challenge.take();
    let (Some(challenge), 0x9000) = (challenge, s) else {
        return;
    };
    let data = CommandApdu::parse(apdu).unwrap().data.to_vec();
    let auth = cvc::parse_auth_data(&data).unwrap();
    if auth.ephemeral != ephemeral_point(&challenge).as_slice() {
        return; // not this helper's answer (a test's own data)
    }
    // The card's answer, checked as the counter checks it.
    let root = *Counter::new().root.verifying_key();
    let card = cvc::verify_card_answer(answer, &root, date(b"20270101"), &challenge, &data)
        .expect("the card's answer verifies");
    let counter_key: [u8; 65] = auth.ephemeral.try_into().unwrap();
    host.sm = Some(
        SecureChannel::agree(&ephemeral(&challenge), &challenge, &counter_key, &card).unwrap(),
    );
}

fn protected(card: &mut TestCard, session: SecureChannel, c: &CommandApdu<'_>) -> (Vec<u8>, u16) {
    send_protected(card, session, c, false)
}

/// Like [`tx`] for a command under secure messaging, but the protected command goes as a chain
/// of 255-byte links (CLA bit `10`).
pub fn tx_chained(card: &mut TestCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let session = card.nvm().host.borrow().sm.clone().expect("a session");
    let command = CommandApdu::parse(apdu).unwrap();
    send_protected(card, session, &command, true)
}

fn send_protected(
    card: &mut TestCard,
    mut session: SecureChannel,
    c: &CommandApdu<'_>,
    chained: bool,
) -> (Vec<u8>, u16) {
    let mut wrapped: heapless::Vec<u8, { sm::MAX_WRAPPED }> = heapless::Vec::new();
    let cla = session
        .wrap_command([c.cla, c.ins, c.p1, c.p2], c.data, c.ne, &mut wrapped)
        .unwrap();
    let mut outer = vec![cla, c.ins, c.p1, c.p2, 0];
    if chained {
        let links: Vec<&[u8]> = wrapped.chunks(255).collect();
        for link in &links[..links.len() - 1] {
            let mut part = vec![cla | 0x10, c.ins, c.p1, c.p2, link.len() as u8];
            part.extend_from_slice(link);
            assert_eq!(raw(card, &part), (vec![], 0x9000), "a chain link");
        }
        let last = links[links.len() - 1];
        outer.truncate(4);
        outer.push(last.len() as u8);
        outer.extend_from_slice(last);
        outer.push(0);
    } else {
        outer.extend_from_slice(&(wrapped.len() as u16).to_be_bytes());
        outer.extend_from_slice(&wrapped);
        outer.extend_from_slice(&[0, 0]);
    }
    let (data, s) = raw(card, &outer);
    if data.is_empty() && s != 0x9000 {
        // Refused before the protection (framing, or the protection itself: 6988 ends the
        // session).
        if s == 0x6988 {
            card.nvm().host.borrow_mut().sm = None;
        }
        return (data, s);
    }
    let mut plain: heapless::Vec<u8, { juki_card::MAX_RESPONSE }> = heapless::Vec::new();
    let inner = session
        .unwrap_response(&data, &mut plain)
        .expect("the card's protected answer verifies");
    assert_eq!(inner, s, "the same status word inside and outside");
    let ends = c.ins == 0xFE && inner == 0x9000;
    card.nvm().host.borrow_mut().sm = (!ends).then_some(session);
    (plain.to_vec(), inner)
}

/// A warm reset, on both sides.
pub fn reset(card: &mut TestCard) {
    card.reset();
    *card.nvm().host.borrow_mut() = HostSide::default();
}

/// Sends one APDU; returns the SW.
pub fn sw(card: &mut TestCard, apdu: &[u8]) -> u16 {
    tx(card, apdu).1
}

/// A case-3/4 short or extended APDU.
pub fn apdu(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Vec<u8> {
    let mut out = vec![cla, ins, p1, p2];
    let extended = data.len() > 255 || le.is_some_and(|l| l > 256);
    if extended {
        out.push(0);
        if !data.is_empty() {
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        if let Some(le) = le {
            out.extend_from_slice(&((le % 65536) as u16).to_be_bytes());
        }
    } else {
        if !data.is_empty() {
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        }
        if let Some(le) = le {
            out.push((le % 256) as u8);
        }
    }
    out
}

pub fn select_juki(card: &mut TestCard) {
    assert_eq!(sw(card, &apdu(0, 0xA4, 4, 0x0C, &JUKI_AID, None)), 0x9000);
}

pub fn select_jpki(card: &mut TestCard) {
    assert_eq!(sw(card, &apdu(0, 0xA4, 4, 0x0C, &JPKI_AID, None)), 0x9000);
}

pub fn select_ef(card: &mut TestCard, fid: u16) {
    assert_eq!(
        sw(card, &apdu(0, 0xA4, 2, 0x0C, &fid.to_be_bytes(), None)),
        0x9000
    );
}

pub fn verify(card: &mut TestCard, pin: &[u8]) -> u16 {
    sw(card, &apdu(0, 0x20, 0, 0x80, pin, None))
}

pub fn read_all(card: &mut TestCard) -> (Vec<u8>, u16) {
    tx(card, &[0, 0xB0, 0, 0, 0, 0, 0])
}

pub fn update(card: &mut TestCard, offset: u16, data: &[u8]) -> u16 {
    let [p1, p2] = offset.to_be_bytes();
    sw(card, &apdu(0, 0xD6, p1, p2, data, None))
}

pub fn date(text: &[u8]) -> Date {
    Date::from_ascii(text).unwrap()
}

pub fn sec1(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec()
}

pub fn sign_digest(key: &SigningKey, digest: &[u8; 32]) -> Vec<u8> {
    let sig: Signature = key.sign_prehash(digest).unwrap();
    sig.to_bytes().to_vec()
}

/// The national root and one counter, with the counter's certificate.
pub struct Counter {
    pub root: SigningKey,
    pub key: SigningKey,
    pub cert: Vec<u8>,
}

impl Counter {
    pub fn new() -> Self {
        let root = SigningKey::from_slice(&[0x11; 32]).unwrap();
        let key = SigningKey::from_slice(&[0x22; 32]).unwrap();
        let cert = certificate(&root, &key, b"20260401", b"20310331");
        Counter { root, key, cert }
    }

    /// The same root, another counter key and validity.
    pub fn with_validity(effective: &[u8], expiry: &[u8]) -> Self {
        let c = Counter::new();
        let cert = certificate(&c.root, &c.key, effective, expiry);
        Counter { cert, ..c }
    }

    /// EXTERNAL AUTHENTICATE data answering `challenge` (with the test's ephemeral key for it).
    pub fn answer(&self, challenge: &[u8]) -> Vec<u8> {
        let eph = ephemeral_point(challenge);
        let sig = sign_digest(&self.key, &cvc::auth_digest(challenge, &eph));
        cvc::encode_auth_data(&self.cert, &eph, &sig)
            .unwrap()
            .to_vec()
    }

    /// GET CHALLENGE + EXTERNAL AUTHENTICATE (the session agreed); returns the SW of the latter.
    pub fn authenticate(&self, card: &mut TestCard) -> u16 {
        let (challenge, s) = tx(card, &[0, 0x84, 0, 0, 0x10]);
        assert_eq!(s, 0x9000);
        assert_eq!(challenge.len(), 16);
        sw(
            card,
            &apdu(0, 0x82, 0, 0, &self.answer(&challenge), Some(65536)),
        )
    }
}

/// A date-accurate counter certificate.
pub fn certificate(
    root: &SigningKey,
    counter: &SigningKey,
    effective: &[u8],
    expiry: &[u8],
) -> Vec<u8> {
    certificate_of(
        root,
        Role::Counter,
        &sec1(counter),
        b"131016",
        (effective, expiry),
        true,
    )
}

/// A certificate of `role` for `public_key` (SEC1) signed by `root`.
pub fn certificate_of(
    root: &SigningKey,
    role: Role,
    public_key: &[u8],
    holder: &[u8],
    (effective, expiry): (&[u8], &[u8]),
    date_accurate: bool,
) -> Vec<u8> {
    let body = cvc::encode_body(&CertificateFields {
        role,
        holder,
        name: "千代田区",
        public_key,
        effective: date(effective),
        expiry: date(expiry),
        date_accurate,
    })
    .unwrap();
    let sig = sign_digest(root, &cvc::body_digest(&body));
    cvc::encode_certificate(&body, &sig).unwrap().to_vec()
}

/// The serial the test cards are certified with.
pub const CARD_SERIAL: &[u8] = b"JK0000000001";

/// BER-TLV with a one- or two-byte tag (test-side encoder).
pub fn tlv(tag: u16, value: &[u8]) -> Vec<u8> {
    let header = juki_card::tlv::encode_header(tag, value.len()).unwrap();
    let mut out = header.to_vec();
    out.extend_from_slice(value);
    out
}

pub const JUKI_PIN: &[u8] = b"1357";
pub const AUTH_PIN: &[u8] = b"2468";
pub const SIGN_PIN: &[u8] = b"ABC123";
pub const RESIDENT_CODE: &[u8] = b"12345678901";
pub const BIRTH: &[u8] = b"19800415";

pub fn four_info() -> Vec<u8> {
    let mut inner = tlv(0xDF21, "山田 太郎".as_bytes());
    inner.extend(tlv(0xDF22, "東京都千代田区千代田1-1".as_bytes()));
    inner.extend(tlv(0xDF23, BIRTH));
    inner.extend(tlv(0xDF24, b"1"));
    tlv(0xFF20, &inner)
}

pub fn card_info() -> Vec<u8> {
    let mut inner = tlv(0xDF41, b"JK0000000001");
    inner.extend(tlv(0xDF42, b"131016"));
    inner.extend(tlv(0xDF43, b"20260501"));
    inner.extend(tlv(0xDF44, b"20360501"));
    inner.extend(tlv(0xDF45, b"0"));
    tlv(0xFF40, &inner)
}

/// Blank → initialised: PUT DATA with the counter's root (the card answers its own public
/// key), then the card's certificate by the same root.
pub fn initialise(card: &mut TestCard, counter: &Counter) {
    let (answer, s) = tx(
        card,
        &apdu(0, 0xDA, 0, 0xC1, &sec1(&counter.root), Some(256)),
    );
    assert_eq!(s, 0x9000);
    let public = answer
        .strip_prefix(&[0x7F, 0x49, 0x43, 0x86, 0x41][..])
        .expect("PUT DATA answers the card's key");
    let cert = certificate_of(
        &counter.root,
        Role::Card,
        public,
        CARD_SERIAL,
        (b"20260401", b"20460331"),
        true,
    );
    assert_eq!(sw(card, &apdu(0, 0xDA, 0, 0xC2, &cert, None)), 0x9000);
}

/// Initialises and issues a blank card: resident data, three PINs, both keys, ACTIVATE.
pub fn personalise(card: &mut TestCard, counter: &Counter) {
    prepare(card, counter);
    assert_eq!(sw(card, &[0, 0x44, 0, 0]), 0x9000);
}

/// Initialises a blank card and writes everything an issue writes, but does not ACTIVATE it
/// (the card stays initialised, with the counter's session up in the JPKI AP).
pub fn prepare(card: &mut TestCard, counter: &Counter) {
    initialise(card, counter);
    select_juki(card);
    assert_eq!(counter.authenticate(card), 0x9000);
    select_ef(card, 0x0001);
    assert_eq!(update(card, 0, RESIDENT_CODE), 0x9000);
    select_ef(card, 0x0002);
    assert_eq!(update(card, 0, &four_info()), 0x9000);
    select_ef(card, 0x0004);
    assert_eq!(update(card, 0, &card_info()), 0x9000);
    select_ef(card, 0x001C);
    assert_eq!(sw(card, &apdu(0, 0x2C, 2, 0x80, JUKI_PIN, None)), 0x9000);

    select_jpki(card);
    assert_eq!(counter.authenticate(card), 0x9000);
    select_ef(card, 0x0006);
    assert_eq!(update(card, 0, b"JPKIAPICCTOKEN"), 0x9000);
    select_ef(card, 0x0018);
    assert_eq!(sw(card, &apdu(0, 0x2C, 2, 0x80, AUTH_PIN, None)), 0x9000);
    select_ef(card, 0x001B);
    assert_eq!(sw(card, &apdu(0, 0x2C, 2, 0x80, SIGN_PIN, None)), 0x9000);
    for key in [0x0017u16, 0x001A] {
        select_ef(card, key);
        let (public, s) = tx(card, &[0, 0x46, 0x80, 0, 0]);
        assert_eq!(s, 0x9000);
        assert_eq!(public.len(), 5 + 65);
    }
}

/// A freshly issued card and its counter.
pub fn issued_card() -> (TestCard, Counter) {
    let counter = Counter::new();
    let mut card = new_card();
    personalise(&mut card, &counter);
    reset(&mut card);
    (card, counter)
}
