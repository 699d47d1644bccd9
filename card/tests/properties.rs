//! Property tests (proptest) of the APDU parser and encoder, of the typed commands in both
//! directions (parse ∘ encode), and of the framing adapter (command chaining, `61xx` + GET
//! RESPONSE, extended Le), each on its own: random bytes, random commands, random ways of
//! cutting a command into a chain and a response into GET RESPONSE parts.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use juki_card::apdu::CommandApdu;
use juki_card::command::{Command, Ins, KeyPairMode, MAX_SFI};
use juki_card::framing::{Framing, Handler};
use juki_card::status::Error;
use juki_card::{Response, MAX_COMMAND_DATA};
use proptest::prelude::*;

/// The ISO/IEC 7816-4 encoding of a command, short or extended.
fn encode(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], ne: usize, extended: bool) -> Vec<u8> {
    let mut out = vec![cla, ins, p1, p2];
    if extended {
        if !data.is_empty() {
            out.push(0);
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        if ne > 0 {
            if data.is_empty() {
                out.push(0);
            }
            out.extend_from_slice(&((ne % 65_536) as u16).to_be_bytes());
        }
    } else {
        if !data.is_empty() {
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        }
        if ne > 0 {
            out.push((ne % 256) as u8);
        }
    }
    out
}

/// The card's own encoder ([`CommandApdu::encode`]).
fn reencode(c: &CommandApdu<'_>) -> Vec<u8> {
    let mut out = vec![0; c.encoded_len()];
    let n = c.encode(&mut out).unwrap();
    assert_eq!(n, out.len());
    out
}

/// Fields from which [`typed`] builds a command.
#[derive(Debug, Clone)]
struct Fields {
    kind: u8,
    sfi: Option<u8>,
    offset: u16,
    ne: usize,
    flag: bool,
    fid: u16,
    data: Vec<u8>,
    /// What COMPUTE DIGITAL SIGNATURE carries: a SHA-256 hash, or a DigestInfo of SHA-256,
    /// SHA-384 or SHA-512.
    to_sign: Vec<u8>,
}

/// A raw hash (`which` 0) or a DigestInfo of the card's table (`which` 1–3) around the first
/// bytes of `hash`.
fn to_sign(which: u8, hash: &[u8; 64]) -> Vec<u8> {
    use juki_card::digest_info::DIGEST_INFOS;
    match DIGEST_INFOS.get(usize::from(which % 4).wrapping_sub(1)) {
        Some((_, prefix, len)) => [&prefix[..], &hash[..*len]].concat(),
        None => hash[..32].to_vec(),
    }
}

/// Fields of a command the card accepts: short EF identifiers 1–30, an offset that fits its
/// P1-P2 form, Ne 1–65536, AIDs of 1–16 bytes, data where the command needs some.
fn valid_fields() -> impl Strategy<Value = Fields> {
    (
        0u8..17,
        proptest::option::of(1..=MAX_SFI),
        any::<u16>(),
        1usize..=65_536,
        any::<bool>(),
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 1..700),
        (any::<u8>(), any::<[u8; 64]>()),
    )
        .prop_map(
            |(kind, sfi, offset, ne, flag, fid, data, (which, hash))| Fields {
                kind,
                sfi,
                offset: if sfi.is_some() {
                    offset & 0xFF
                } else {
                    offset & 0x7FFF
                },
                ne,
                flag,
                fid,
                data,
                to_sign: to_sign(which, &hash),
            },
        )
}

/// Any fields: identifiers, offsets, Ne and data lengths the APDU may not be able to say.
fn any_fields() -> impl Strategy<Value = Fields> {
    (
        0u8..17,
        proptest::option::of(any::<u8>()),
        any::<u16>(),
        0usize..=70_000,
        any::<bool>(),
        any::<u16>(),
        proptest::collection::vec(any::<u8>(), 0..300),
        (any::<u8>(), any::<[u8; 64]>()),
    )
        .prop_map(
            |(kind, sfi, offset, ne, flag, fid, data, (which, hash))| Fields {
                kind,
                sfi,
                offset,
                ne,
                flag,
                fid,
                data,
                to_sign: to_sign(which, &hash),
            },
        )
}

/// One of the 17 typed commands.
fn typed(f: &Fields) -> Command<'_> {
    let data = &f.data[..];
    let sfi = f.sfi;
    match f.kind {
        0 => Command::SelectApp {
            aid: &data[..data.len().min(16)],
            fci: f.flag,
        },
        1 => Command::SelectFile { fid: f.fid },
        2 => Command::ReadBinary {
            sfi,
            offset: f.offset,
            ne: f.ne,
        },
        3 => Command::UpdateBinary {
            sfi,
            offset: f.offset,
            data,
        },
        4 => Command::Verify {
            sfi,
            pin: f.flag.then_some(data),
        },
        5 => Command::ChangeReferenceData { sfi, new_pin: data },
        6 => Command::ResetRetryCounter { sfi, new_pin: data },
        7 => Command::GenerateKeyPair {
            sfi,
            mode: if f.flag {
                KeyPairMode::Generate
            } else {
                KeyPairMode::ReadPublic
            },
        },
        8 => Command::ComputeSignature { data: &f.to_sign },
        9 => Command::GetChallenge,
        10 => Command::ExternalAuthenticate { data },
        11 => Command::Initialise {
            root_key: data,
            answer_key: f.flag,
        },
        12 => Command::InstallCertificate { cert: data },
        13 => Command::Activate,
        14 => Command::Deactivate,
        15 => Command::Terminate,
        _ => Command::Verify { sfi, pin: None },
    }
}

/// A body: no data or some (mostly short, as the card's commands take: a file ID, a PIN, an
/// AID, a hash), no Le or any, short or extended.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(0usize), Just(2), Just(32), 1usize..40, 1usize..700],
        prop_oneof![Just(0usize), Just(16), Just(256), 1usize..=65_536],
        any::<bool>(),
        any::<u8>(),
    )
        .prop_map(|(n, ne, extended, fill)| {
            let data: Vec<u8> = (0..n).map(|i| fill.wrapping_add(i as u8)).collect();
            let extended = extended || n > 255 || ne > 256;
            encode(0, 0, 0, 0, &data, ne, extended)[4..].to_vec()
        })
}

/// A command APDU the card may take: the header of a command it accepts, or its class and
/// instruction with any P1-P2, then any body.
fn plausible_apdu() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        valid_fields().prop_map(|f| typed(&f).header()),
        (
            proptest::sample::select(Ins::ALL.to_vec()),
            any::<[u8; 2]>()
        )
            .prop_map(|(ins, [p1, p2])| [ins.cla(), ins.byte(), p1, p2]),
    ];
    (header, any_body()).prop_map(|(header, body)| {
        let mut raw = header.to_vec();
        raw.extend_from_slice(&body);
        raw
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any bytes: no panic; what parses is exactly one encoding of what it says.
    #[test]
    fn parser_is_total_and_canonical(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        match CommandApdu::parse(&raw) {
            Ok(c) => {
                prop_assert_eq!(reencode(&c), raw.clone());
                prop_assert!(c.ne <= 65_536);
            }
            Err(e) => prop_assert_eq!(e, Error::WrongLength),
        }
    }

    /// Every well-formed command parses back to its fields, in both length forms.
    #[test]
    fn commands_round_trip(
        header in any::<[u8; 4]>(),
        data in proptest::collection::vec(any::<u8>(), 0..700),
        ne in 0usize..=65_536,
        extended in any::<bool>(),
    ) {
        let extended = extended || data.len() > 255 || ne > 256;
        prop_assume!(extended || ne <= 256);
        let [cla, ins, p1, p2] = header;
        let raw = encode(cla, ins, p1, p2, &data, ne, extended);
        let c = CommandApdu::parse(&raw).unwrap();
        prop_assert_eq!((c.cla, c.ins, c.p1, c.p2), (cla, ins, p1, p2));
        prop_assert_eq!(c.data, &data[..]);
        prop_assert_eq!(c.ne, ne);
        // A command with neither data nor Le has no length fields to be extended.
        prop_assert_eq!(c.extended, extended && !(data.is_empty() && ne == 0));
    }

    /// Every command the card accepts encodes, in the form its lengths need, and parses back
    /// to itself.
    #[test]
    fn typed_commands_round_trip(fields in valid_fields()) {
        let command = typed(&fields);
        let mut out = vec![0; command.encoded_len()];
        let n = command.encode(&mut out).unwrap();
        prop_assert_eq!(n, out.len());
        let apdu = CommandApdu::parse(&out).unwrap();
        prop_assert_eq!(apdu.extended, command.needs_extended());
        prop_assert_eq!(Command::parse(&apdu), Ok(command));
        // Too small a buffer: 6700, never a panic or a partial APDU taken for whole.
        prop_assert_eq!(command.encode(&mut out[..n - 1]), Err(Error::WrongLength));
    }

    /// Any typed command: encoded, it is what the card reads, or it is refused with the card's
    /// own answer (an offset or identifier P1-P2 cannot say, a missing data field, …).
    #[test]
    fn encode_never_says_another_command(fields in any_fields()) {
        let command = typed(&fields);
        let mut out = vec![0; command.encoded_len().max(1)];
        match command.encode(&mut out) {
            Ok(n) => {
                let apdu = CommandApdu::parse(&out[..n]).unwrap();
                prop_assert_eq!(Command::parse(&apdu), Ok(command));
            }
            Err(e) => prop_assert!(matches!(e, Error::WrongP1P2 | Error::WrongLength), "{:?}", e),
        }
    }

    /// Bytes the card parses into a command encode back into that command (in the canonical
    /// form: short when it fits, Le `00`/`00 00` where the command's Ne is not its own).
    #[test]
    fn parsed_commands_reencode(raw in plausible_apdu()) {
        let Ok(apdu) = CommandApdu::parse(&raw) else { return Ok(()) };
        let Ok(command) = Command::parse(&apdu) else { return Ok(()) };
        let mut out = vec![0; command.encoded_len()];
        let n = command.encode(&mut out).unwrap();
        prop_assert_eq!(n, out.len());
        let again = CommandApdu::parse(&out).unwrap();
        prop_assert_eq!(Command::parse(&again), Ok(command));
        prop_assert_eq!([again.cla, again.ins, again.p1, again.p2], command.header());
    }

    /// A data field shorter than its Lc, or followed by more than an Le, is 6700, never a
    /// command with part of the data. (Cutting *all* the data of `Lc data` leaves `Lc` alone,
    /// which is a valid case-2 command: ISO/IEC 7816-4 encodings are not self-delimiting, so
    /// at least one data byte stays.)
    #[test]
    fn damaged_lengths_are_wrong_length(
        data in proptest::collection::vec(any::<u8>(), 2..300),
        cut in 1usize..4,
        extended in any::<bool>(),
    ) {
        let extended = extended || data.len() > 255;
        let raw = encode(0x00, 0xD6, 0, 0, &data, 0, extended);
        let short = &raw[..raw.len() - cut.min(data.len() - 1)];
        prop_assert_eq!(CommandApdu::parse(short).err(), Some(Error::WrongLength));
        let mut long = raw.clone();
        long.extend_from_slice(&[0xAA; 3]);
        prop_assert_eq!(CommandApdu::parse(&long).err(), Some(Error::WrongLength));
    }
}

/// A handler that records every complete command it sees and answers `answer_len` bytes
/// derived from the command data.
#[derive(Default)]
struct Recorder {
    seen: Vec<(u8, u8, Vec<u8>, usize)>,
    answer_len: usize,
}

fn answer(data: &[u8], n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (i as u8).wrapping_mul(31) ^ data.get(i % data.len().max(1)).copied().unwrap_or(0x5A)
        })
        .collect()
}

impl Handler for Recorder {
    fn handle(
        &mut self,
        apdu: &CommandApdu<'_>,
        out: &mut Response,
        _scratch: &mut juki_card::framing::Scratch,
    ) -> Result<u16, Error> {
        self.seen
            .push((apdu.cla, apdu.ins, apdu.data.to_vec(), apdu.ne));
        out.extend_from_slice(&answer(apdu.data, self.answer_len))
            .map_err(|_| Error::WrongLength)?;
        Ok(0x9000)
    }
}

fn send(t: &mut Framing, h: &mut Recorder, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut response = Response::new();
    t.process(apdu, &mut response, h);
    let n = response.len();
    let sw = u16::from_be_bytes([response[n - 2], response[n - 1]]);
    (response[..n - 2].to_vec(), sw)
}

/// Cuts `total` into link sizes of 1..=255 from `sizes` (cycled).
fn links(total: usize, sizes: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut left = total;
    let mut i = 0;
    while left > 0 {
        let n = sizes[i % sizes.len()].clamp(1, 255).min(left);
        out.push(n);
        left -= n;
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A command sent as a chain of any link sizes reaches the application once, joined, with
    /// the chaining bit cleared; every link but the last answers 9000 without data. Its response,
    /// read with any sequence of short Le values, comes back whole: 61xx parts, then 9000.
    #[test]
    fn chaining_and_get_response_deliver_everything_once(
        data in proptest::collection::vec(any::<u8>(), 1..=MAX_COMMAND_DATA),
        sizes in proptest::collection::vec(1usize..=255, 1..8),
        answer_len in 0usize..=2048,
        les in proptest::collection::vec(1usize..=256, 1..8),
    ) {
        let mut t = Framing::new();
        let mut h = Recorder { answer_len, ..Recorder::default() };
        let parts = links(data.len(), &sizes);
        let mut at = 0;
        let mut last = (Vec::new(), 0);
        for (i, n) in parts.iter().enumerate() {
            let final_link = i + 1 == parts.len();
            let cla = if final_link { 0x00 } else { 0x10 };
            let le = if final_link { les[0] } else { 0 };
            let apdu = encode(cla, 0xD6, 0x00, 0x00, &data[at..at + n], le, false);
            at += n;
            last = send(&mut t, &mut h, &apdu);
            if !final_link {
                prop_assert_eq!(&last, &(Vec::new(), 0x9000));
                prop_assert!(h.seen.is_empty(), "the application ran before the last link");
            }
        }
        prop_assert_eq!(h.seen.len(), 1);
        prop_assert_eq!(&h.seen[0].2, &data);
        prop_assert_eq!(h.seen[0].0, 0x00);
        let expected = answer(&data, answer_len);
        let (mut got, mut sw) = last;
        let mut i = 1;
        while sw & 0xFF00 == 0x6100 {
            let waiting = match sw & 0xFF { 0 => 256, n => usize::from(n as u8) };
            prop_assert!(waiting >= 1);
            let le = les[i % les.len()];
            let (part, next) = send(&mut t, &mut h, &[0x00, 0xC0, 0x00, 0x00, (le % 256) as u8]);
            prop_assert!(part.len() <= le);
            got.extend_from_slice(&part);
            sw = next;
            i += 1;
        }
        prop_assert_eq!(sw, 0x9000);
        prop_assert_eq!(got, expected);
        // Nothing waits any more.
        let (_, sw) = send(&mut t, &mut h, &[0x00, 0xC0, 0x00, 0x00, 0x00]);
        prop_assert_eq!(sw, 0x6985);
        prop_assert_eq!(h.seen.len(), 1, "GET RESPONSE never reaches the application");
    }

    /// With an extended Le the whole response comes in one answer.
    #[test]
    fn extended_le_answers_everything_at_once(
        data in proptest::collection::vec(any::<u8>(), 1..=300),
        answer_len in 0usize..=2048,
    ) {
        let mut t = Framing::new();
        let mut h = Recorder { answer_len, ..Recorder::default() };
        let (got, sw) = send(&mut t, &mut h, &encode(0x00, 0xB0, 0, 0, &data, 65_536, true));
        prop_assert_eq!(sw, 0x9000);
        prop_assert_eq!(got, answer(&data, answer_len));
    }

    /// A different command in the middle of a chain breaks it (6883) and nothing runs; the
    /// next command starts afresh.
    #[test]
    fn a_broken_chain_runs_nothing(
        first in proptest::collection::vec(any::<u8>(), 1..=255),
        other_ins in any::<u8>().prop_filter("not the chain's INS, not GET RESPONSE", |i| *i != 0xD6 && *i != 0xC0),
    ) {
        let mut t = Framing::new();
        let mut h = Recorder::default();
        prop_assert_eq!(send(&mut t, &mut h, &encode(0x10, 0xD6, 0, 0, &first, 0, false)).1, 0x9000);
        let (_, sw) = send(&mut t, &mut h, &encode(0x00, other_ins, 0, 0, &[1], 0, false));
        prop_assert_eq!(sw, 0x6883);
        prop_assert!(h.seen.is_empty());
        prop_assert_eq!(send(&mut t, &mut h, &encode(0x00, 0xD6, 0, 0, &[7], 0, false)).1, 0x9000);
        prop_assert_eq!(&h.seen[0].2, &vec![7u8]);
    }

    /// A chain longer than the framing takes (a whole protected command) is 6700, and is
    /// dropped.
    #[test]
    fn an_over_long_chain_is_wrong_length(extra in 1usize..300) {
        let mut t = Framing::new();
        let mut h = Recorder::default();
        let total = juki_card::MAX_FRAMED_DATA + extra;
        let mut sent = 0;
        let mut last = 0;
        while sent < total {
            let n = 255.min(total - sent);
            let cla = if sent + n == total { 0x00 } else { 0x10 };
            last = send(&mut t, &mut h, &encode(cla, 0xD6, 0, 0, &vec![0x42; n], 0, false)).1;
            sent += n;
            if last != 0x9000 { break; }
        }
        prop_assert_eq!(last, 0x6700);
        prop_assert!(h.seen.is_empty());
    }
}
