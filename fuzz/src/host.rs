//! Target `host_card`: the host against a malicious card.
//!
//! Input: byte 0 = flags (bit 0: the transport takes extended length), byte 1 = the operation
//! ([`OPS`], modulo their number), then either the raw bytes to decode (operations 0–5: the
//! resident data decoders, the public key, the ATR) or the card's responses, one per APDU the
//! host sends ([`split`]): a length byte `00`–`FE` and that many bytes, or `FF`, a 2-byte
//! big-endian length and the bytes. When the responses run out the card is gone (the transport
//! fails).
//!
//! Invariants: no panic, no hang (the operation ends once the responses run out; at most
//! [`MAX_TRANSMITS`] APDUs), no huge allocation (libFuzzer's `-rss_limit_mb`); every APDU the
//! host sends is well-formed (`CommandApdu::parse`) and short when the transport does not take
//! extended length; whatever the host accepts is consistent: decoded resident data encodes and
//! decodes back to itself and its text has no control characters (a card must not put terminal
//! escapes or fake lines into what `juki` prints), a resident code has its check digit, a
//! login answer verifies with its certificate, a `.p7s` made with the card parses, certificates
//! read from the card parse back to themselves.

use std::sync::OnceLock;

use juki_card::apdu::CommandApdu;
use juki_host::authority::CounterCredential;
use juki_host::card::{self, JpkiFiles, JukiCard, KeyId, Personalisation};
use juki_host::date::Date;
use juki_host::error::{Error, Result};
use juki_host::pin::Pin;
use juki_host::pin::PinId;
use juki_host::resident::{capacity, CardInfo, ChangeInfo, FourInfo, MunicipalityCode, Sex};
use juki_host::resident_code::{self, ResidentCode};
use juki_host::transport::{self, Transport};
use juki_jpki::{auth, citizen, cms, validate};
use juki_test_vectors::keys;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use x509_cert::der::Encode;

use crate::certs;
use crate::sim::{process, SimCard};

/// At most this many APDUs per input.
pub const MAX_TRANSMITS: usize = 4096;

/// The operations of `host_card`, by number.
pub const OPS: &[&str] = &[
    "decode_four_info",
    "decode_change_info",
    "decode_card_info",
    "decode_resident_code",
    "decode_public_key",
    "atr_extended_length",
    "lifecycle",
    "card_info",
    "pin_status",
    "read_resident",
    "public_keys",
    "sign_hash",
    "jpki_present",
    "auth_certificates",
    "sign_certificates",
    "sign_document",
    "answer_challenge",
    "change_pin",
    "counter_authenticate",
    "personalise",
    "issue_jpki",
    "reset_pin",
    "update_resident",
    "suspend",
    "resume",
    "terminate",
    "counter_session",
];

/// Number of the operations that decode raw bytes (no card).
pub const DECODE_OPS: usize = 6;

/// The sample PINs (those of the `issue` transcript and of the seed card).
pub const JUKI_PIN: &str = "1357";
/// Auth PIN.
pub const AUTH_PIN: &str = "2468";
/// Sign password.
pub const SIGN_PIN: &str = "JUKI2026";

/// The next response of `rest`.
pub fn split<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&len, tail) = rest.split_first()?;
    let (len, tail) = if len == 0xFF {
        match tail {
            [h, l, tail @ ..] => (usize::from(u16::from_be_bytes([*h, *l])), tail),
            _ => (0, &tail[tail.len()..]),
        }
    } else {
        (usize::from(len), tail)
    };
    let (head, tail) = tail.split_at(len.min(tail.len()));
    *rest = tail;
    Some(head)
}

/// Encodes responses for [`split`] (seeds).
pub fn encode_responses(responses: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in responses {
        if r.len() < 0xFF {
            out.push(r.len() as u8);
        } else {
            out.push(0xFF);
            out.extend_from_slice(&u16::try_from(r.len()).unwrap_or(u16::MAX).to_be_bytes());
        }
        out.extend_from_slice(r);
    }
    out
}

/// Checks an APDU the host sends.
fn check_sent(apdu: &[u8], extended: bool) {
    let parsed = CommandApdu::parse(apdu)
        .unwrap_or_else(|_| panic!("the host sent a malformed APDU {}", hex::encode_upper(apdu)));
    assert!(
        extended || !parsed.extended,
        "the host sent an extended APDU to a transport without extended length: {}",
        hex::encode_upper(apdu)
    );
}

/// The malicious card: answers each APDU with the next response of the input.
pub struct FakeCard<'a> {
    rest: &'a [u8],
    extended: bool,
    /// APDUs the host sent.
    pub sent: usize,
}

impl<'a> FakeCard<'a> {
    /// A card answering `responses` ([`split`]).
    pub fn new(responses: &'a [u8], extended: bool) -> Self {
        FakeCard {
            rest: responses,
            extended,
            sent: 0,
        }
    }
}

impl Transport for FakeCard<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        check_sent(apdu, self.extended);
        self.sent += 1;
        assert!(
            self.sent <= MAX_TRANSMITS,
            "the host sent more than {MAX_TRANSMITS} APDUs for one operation"
        );
        split(&mut self.rest)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| Error::Protocol("fake card: removed".into()))
    }

    fn supports_extended_length(&self) -> bool {
        self.extended
    }

    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }

    fn name(&self) -> String {
        "fuzz".into()
    }
}

/// The real card core in process, as a host transport (seeds).
pub struct CardTransport {
    /// The card.
    pub card: SimCard,
    /// Whether it announces extended length.
    pub extended: bool,
    /// Every response, in order, when recording.
    pub recorded: Vec<Vec<u8>>,
}

impl Transport for CardTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        check_sent(apdu, self.extended);
        let r = process(&mut self.card, apdu);
        self.recorded.push(r.clone());
        Ok(r)
    }

    fn supports_extended_length(&self) -> bool {
        self.extended
    }

    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }

    fn name(&self) -> String {
        "in-process card".into()
    }
}

/// The serial of the fuzzed card (the `issue` transcript's).
pub const SERIAL: &str = "JK0000000001";

/// The test counter (千代田区) credential.
pub fn credential() -> &'static CounterCredential {
    static CRED: OnceLock<CounterCredential> = OnceLock::new();
    CRED.get_or_init(|| {
        CounterCredential::new(
            keys::counter(),
            crate::sim::counter_certificate().to_vec(),
            *keys::root().verifying_key(),
        )
        .expect("test counter credential")
    })
}

/// The sample resident's 4 info.
pub fn sample_info() -> FourInfo {
    FourInfo::new(
        "住基 花子",
        "東京都千代田区霞が関二丁目1番2号",
        Date::from_ymd(1985, 6, 15).expect("date"),
        Sex::Female,
    )
    .expect("sample 4 info")
}

/// The sample card's personalisation (the resident code is fixed, with its check digit).
pub fn sample_personalisation() -> Personalisation {
    let mut digits = [0u8; 10];
    for (d, c) in digits.iter_mut().zip(b"1234567890") {
        *d = c - b'0';
    }
    let code = format!("1234567890{}", resident_code::check_digit(&digits));
    Personalisation {
        code: ResidentCode::parse(&code).expect("sample resident code"),
        info: sample_info(),
        changes: ChangeInfo {
            address: Some(juki_host::resident::Change {
                date: Date::from_ymd(2026, 4, 1).expect("date"),
                reason: "転入".into(),
            }),
            ..ChangeInfo::default()
        },
        card: CardInfo::new(
            "JK0000000001",
            MunicipalityCode::parse("131016").expect("municipality"),
            Date::from_ymd(2026, 11, 23).expect("date"),
            false,
        )
        .expect("sample card info"),
        juki_pin: Pin::from(JUKI_PIN),
        auth_pin: Pin::from(AUTH_PIN),
        sign_pin: Pin::from(SIGN_PIN),
    }
}

/// Text the host shows (`juki info`, `juki status`, `juki counter identify`): no control
/// characters, which a card could use to rewrite the terminal (escape sequences, carriage
/// returns, fake lines). The host's own rule for the same fields (`FourInfo::new`) refuses them.
fn check_text(what: &str, text: &str) {
    assert!(
        !text.chars().any(char::is_control),
        "the host accepted {what} with control characters from the card: {text:?}"
    );
}

fn check_four_info(info: &FourInfo) {
    check_text("a name", &info.name);
    check_text("an address", &info.address);
    let encoded = info.encode().expect("decoded 4 info encodes");
    assert_eq!(
        FourInfo::decode(&encoded).as_ref().ok(),
        Some(info),
        "4 info does not decode back to itself"
    );
}

fn check_changes(changes: &ChangeInfo, input_len: usize) {
    for c in [
        &changes.name,
        &changes.address,
        &changes.birth,
        &changes.sex,
    ]
    .into_iter()
    .flatten()
    {
        check_text("a change reason", &c.reason);
    }
    if input_len <= capacity(juki_card::files::EfId::Changes) {
        let encoded = changes
            .encode()
            .expect("decoded change information encodes");
        assert_eq!(
            ChangeInfo::decode(&encoded).as_ref().ok(),
            Some(changes),
            "change information does not decode back to itself"
        );
    }
}

fn check_card_info(info: &CardInfo) {
    check_text("a card serial", &info.serial);
    let encoded = info.encode().expect("decoded card information encodes");
    assert_eq!(
        CardInfo::decode(&encoded).as_ref().ok(),
        Some(info),
        "card information does not decode back to itself"
    );
}

fn check_code(code: &ResidentCode, raw: Option<&[u8]>) {
    let bytes = code.as_bytes();
    if let Some(raw) = raw {
        assert_eq!(&bytes[..], raw);
    }
    let mut digits = [0u8; 10];
    for (d, c) in digits.iter_mut().zip(bytes.iter()) {
        assert!(c.is_ascii_digit());
        *d = c - b'0';
    }
    assert_eq!(resident_code::check_digit(&digits), bytes[10] - b'0');
}

/// The certificates the host parsed are the ones in the bytes it read: parsing those bytes
/// again gives the same, and the parsed structure encodes and parses back to itself. (Not
/// byte-for-byte: the `der` crate accepts a few non-canonical forms, e.g. an explicit default
/// version, and encodes them canonically.)
fn check_pair(certs: &citizen::CardCertificates) {
    for (cert, der) in [(&certs.cert, &certs.cert_der), (&certs.ca, &certs.ca_der)] {
        assert_eq!(validate::load_certificate(der).ok().as_ref(), Some(cert));
        let again = cert.to_der().expect("a parsed certificate encodes");
        assert_eq!(validate::load_certificate(&again).ok().as_ref(), Some(cert));
    }
}

/// The document signed by `sign_document` (also in the fixtures).
pub const DOCUMENT: &[u8] = certs::DOCUMENT;
/// The login challenge answered by `answer_challenge` (also in the fixtures).
pub const CHALLENGE: &[u8] = certs::CHALLENGE;

/// Runs host operation `op` (≥ [`DECODE_OPS`]) on `card` and checks what it accepts.
pub fn card_op<T: Transport>(op: usize, card: &mut JukiCard<T>) {
    let cred = credential();
    match OPS.get(op).copied().unwrap_or("") {
        "lifecycle" => {
            let _ = card.lifecycle();
        }
        "card_info" => {
            if let Ok(info) = card.card_info() {
                check_card_info(&info);
            }
        }
        "pin_status" => {
            for kind in PinId::ALL {
                if card.pin_status(kind).is_err() {
                    break;
                }
            }
        }
        "read_resident" => {
            if let Ok(r) = card.read_resident(&Pin::from(JUKI_PIN)) {
                check_code(&r.code, None);
                check_four_info(&r.info);
                check_changes(&r.changes, 0);
            }
        }
        "public_keys" => {
            let _ = card.public_key(KeyId::Auth);
            let _ = card.public_key(KeyId::Sign);
        }
        "sign_hash" => {
            let _ = card.sign_hash(&[0xA5; 32], &Pin::from(SIGN_PIN));
        }
        "jpki_present" => {
            let _ = card.jpki_present();
        }
        "auth_certificates" => {
            if let Ok(c) = citizen::auth_certificates(card) {
                check_pair(&c);
            }
        }
        "sign_certificates" => {
            if let Ok(c) = citizen::sign_certificates(card, &Pin::from(SIGN_PIN)) {
                check_pair(&c);
            }
        }
        "sign_document" => {
            let options = cms::SignOptions {
                attached: false,
                signing_time: certs::NOW,
            };
            if let Ok(p7s) = citizen::sign_document(card, &Pin::from(SIGN_PIN), DOCUMENT, options) {
                cms::parse(&p7s).expect("a .p7s made with the card parses");
            }
        }
        "answer_challenge" => {
            if let Ok(answer) = citizen::answer_challenge(card, &Pin::from(AUTH_PIN), CHALLENGE) {
                let key = validate::public_key(&answer.certificate)
                    .expect("the answer's certificate has a P-256 key");
                assert!(
                    key.verify_prehash(&auth::digest(CHALLENGE), &answer.signature)
                        .is_ok(),
                    "a login answer that does not verify was accepted"
                );
                let pem = answer.to_pem().expect("answer to PEM");
                auth::Answer::from_pem(pem.as_bytes()).expect("answer PEM reads back");
            }
        }
        "change_pin" => {
            let _ = card.change_pin(PinId::Juki, &Pin::from(JUKI_PIN), &Pin::from("2580"));
        }
        "counter_authenticate" => {
            let _ = card.counter_authenticate(cred);
        }
        "personalise" => {
            let _ = card.personalise(cred, &sample_personalisation());
        }
        "issue_jpki" => {
            let _ = card.issue_jpki(cred, SERIAL, |_keys| {
                // The fixture certificates as they are (the card does not parse them).
                let [sign, sign_ca, auth, auth_ca] = certs::CERT_FILES.map(<[u8]>::to_vec);
                Ok::<_, Error>(JpkiFiles {
                    sign,
                    sign_ca,
                    auth,
                    auth_ca,
                })
            });
        }
        "reset_pin" => {
            let _ = card.reset_pin(cred, SERIAL, PinId::Auth, &Pin::from("8642"));
        }
        "update_resident" => {
            let old = sample_info();
            let new = FourInfo::new(
                "住基 花子",
                "大阪府大阪市北区中之島1-3-20",
                Date::from_ymd(1985, 6, 15).expect("date"),
                Sex::Female,
            )
            .expect("new 4 info");
            let changes = ChangeInfo {
                address: Some(juki_host::resident::Change {
                    date: Date::from_ymd(2027, 4, 1).expect("date"),
                    reason: "転出".into(),
                }),
                ..ChangeInfo::default()
            };
            let _ = card.update_resident(cred, SERIAL, &old, &new, &changes);
        }
        "suspend" => {
            let _ = card.suspend(cred, SERIAL);
        }
        "resume" => {
            let _ = card.resume(cred, SERIAL);
        }
        "terminate" => {
            let _ = card.terminate(cred, SERIAL);
        }
        "counter_session" => {
            let _ = card.counter_session(cred, juki_host::pin::App::Juki, Some(SERIAL));
        }
        other => unreachable!("host operation {op} ({other}) does not use a card"),
    }
}

/// Decoding operation `op` (< [`DECODE_OPS`]) on `raw`.
pub fn decode_op(op: usize, raw: &[u8]) {
    match op {
        0 => {
            if let Ok(info) = FourInfo::decode(raw) {
                assert!(
                    raw.len() <= capacity(juki_card::files::EfId::FourInfo)
                        || info.encode().is_ok()
                );
                check_four_info(&info);
            }
        }
        1 => {
            if let Ok(changes) = ChangeInfo::decode(raw) {
                check_changes(&changes, raw.len());
            }
        }
        2 => {
            if let Ok(info) = CardInfo::decode(raw) {
                check_card_info(&info);
            }
        }
        3 => {
            if let Ok(code) = ResidentCode::from_bytes(raw) {
                check_code(&code, Some(raw));
            }
        }
        4 => {
            let _ = card::parse_public_key(raw);
        }
        _ => {
            let _ = transport::atr_announces_extended_length(raw);
        }
    }
}

/// Target `host_card` (see the module documentation).
pub fn host_card(data: &[u8]) {
    let [flags, op, rest @ ..] = data else {
        return;
    };
    let op = usize::from(*op) % OPS.len();
    if op < DECODE_OPS {
        decode_op(op, rest);
        return;
    }
    let mut card = JukiCard::new(FakeCard::new(rest, flags & 1 != 0));
    card_op(op, &mut card);
}
