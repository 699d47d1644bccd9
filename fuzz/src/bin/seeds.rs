//! Writes the seed corpora (`fuzz/corpus/<target>/`) and the fixtures (`fuzz/fixtures/`).
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --no-default-features --features seeds --bin seeds
//! ```
//!
//! - `card_sequence`, `apdu_parser`, `vpcd_frames`: the command lines of every transcript in
//!   `test-vectors/transcripts/` (their `@counter-auth` as the harness's counter
//!   authentication, `@reset` as a reset), plus a few hand-made sequences: the three sample PINs
//!   verified and used, wrong PINs to the block, power cuts during VERIFY, UPDATE BINARY and
//!   TERMINATE CARD USAGE.
//! - `host_card`, `host_certificates` and the fixtures: a card issued through the host's own API
//!   (`JukiCard::initialise`, `personalise`, `issue_jpki` with a `JpkiCa` in a temporary
//!   directory) on the in-process card core; each host operation run against it, its responses
//!   recorded; the certificates, CRLs, a `.p7s` and a login answer made with it.
//!
//! The CA keys are random, so every run writes new fixtures and host seeds: commit them
//! together. The card-side seeds are deterministic.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use juki_fuzz::host::{self, CardTransport, DECODE_OPS, OPS};
use juki_fuzz::seq::{self, OwnedOp, Start};
use juki_fuzz::sim::{self, command, power_on};
use juki_fuzz::{certs, vpcd};
use juki_host::card::{JpkiFiles, JukiCard};
use juki_host::pin::Pin;
use juki_jpki::ca::{cert_pem, crl_pem, CertRequest, JpkiCa, RevocationReason};
use juki_jpki::{citizen, cms, validate, CertKind};
use juki_reader_sim::vpcd::write_frame;
use juki_test_vectors::{keys, parse_bytes, strip_comment, TRANSCRIPTS};
use x509_cert::der::Encode;

type Vars = HashMap<String, Vec<u8>>;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn clean_dir(dir: &Path) {
    if dir.exists() {
        fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("removing {}: {e}", dir.display()));
    }
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    let path = dir.join(name);
    fs::write(&path, data).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A transcript as harness operations: where it starts and what it sends.
struct Script {
    name: &'static str,
    blank: bool,
    ops: Vec<OwnedOp>,
}

/// `> H H H H [DATA] [Le XX]` or `> raw bytes`, as the transcript runner builds them.
fn command_line(text: &str, vars: &Vars) -> Vec<u8> {
    let bytes = |t: &str| parse_bytes(t, vars).unwrap_or_else(|e| panic!("{t}: {}", e.0));
    let Some(open) = text.find('[') else {
        return bytes(text);
    };
    let close = text.rfind(']').expect("']'");
    let header: [u8; 4] = bytes(&text[..open]).try_into().expect("4 header bytes");
    let data = bytes(&text[open + 1..close]);
    let tail = text[close + 1..].trim();
    let le = tail.strip_prefix("Le").map(bytes);
    command(header, &data, le.as_deref())
}

fn script_ops(name: &str, vars: &mut Vars, ops: &mut Vec<OwnedOp>, last_auth: &mut Vec<u8>) {
    let t = juki_test_vectors::transcript(name).expect("transcript");
    for raw in t.text.lines() {
        let line = strip_comment(raw).trim();
        if let Some(cmd) = line.strip_prefix('>') {
            // As the runner: under the session when one is up, unless `> plain`.
            ops.push(match cmd.trim().strip_prefix("plain") {
                Some(plain) => OwnedOp::Apdu(command_line(plain.trim(), vars)),
                None => OwnedOp::Protected(command_line(cmd.trim(), vars)),
            });
        } else if let Some(directive) = line.strip_prefix('@') {
            let words: Vec<&str> = directive.split_whitespace().collect();
            match words.as_slice() {
                ["include", target, ..] => script_ops(target, vars, ops, last_auth),
                ["reset", ..] => ops.push(OwnedOp::Reset),
                ["let", ..] => {
                    let rest = directive.trim_start_matches("let").trim();
                    let (var, expr) = rest.split_once('=').expect("@let NAME = bytes");
                    let value = parse_bytes(expr.trim(), vars).expect("@let value");
                    vars.insert(var.trim().to_string(), value);
                }
                ["counter-auth"] | ["counter-auth", "valid", ..] => ops.push(OwnedOp::CounterAuth),
                ["counter-auth", variant, ..] => {
                    // The harness signs only valid answers; the refused ones are sent as they
                    // would be, for a challenge of zeros (the card refuses them all the same).
                    let challenge = [0u8; 16];
                    let eph = keys::public_point(&keys::wrong_counter());
                    let data = match *variant {
                        "foreign" => keys::auth_data(
                            &keys::foreign_certificate(),
                            &keys::counter(),
                            &challenge,
                            &eph,
                        ),
                        "expired" => keys::auth_data(
                            &keys::expired_certificate(),
                            &keys::counter(),
                            &challenge,
                            &eph,
                        ),
                        "wrong-key" => keys::auth_data(
                            &keys::counter_certificate(),
                            &keys::wrong_counter(),
                            &challenge,
                            &eph,
                        ),
                        "replay" if !last_auth.is_empty() => last_auth.clone(),
                        _ => keys::auth_data(
                            &keys::counter_certificate(),
                            &keys::counter(),
                            &challenge,
                            &eph,
                        ),
                    };
                    if *variant != "no-challenge" {
                        ops.push(OwnedOp::Apdu(vec![0x00, 0x84, 0x00, 0x00, 0x10]));
                    }
                    *last_auth = data.clone();
                    let le: &[u8] = if data.len() > 255 { &[0, 0] } else { &[0] };
                    ops.push(OwnedOp::Apdu(command(
                        [0x00, 0x82, 0x00, 0x00],
                        &data,
                        Some(le),
                    )));
                }
                ["certify-card"] | ["certify-card", "valid", ..] => {
                    ops.push(OwnedOp::CertifyCard);
                }
                ["certify-card", ..] => {
                    // The refused certificates: a malformed one stands for them.
                    ops.push(OwnedOp::Apdu(command(
                        [0x00, 0xDA, 0x00, 0xC2],
                        &[0x7F, 0x21, 0x00],
                        None,
                    )));
                }
                ["save-pubkey", var, ..] => {
                    vars.entry((*var).to_string())
                        .or_insert_with(|| vec![0x04; 65]);
                }
                _ => {}
            }
        }
    }
}

fn scripts() -> Vec<Script> {
    let mut out = Vec::new();
    for t in TRANSCRIPTS {
        let mut vars: Vars = HashMap::new();
        vars.insert("ROOT_PUB".into(), keys::public_point(&keys::root()));
        vars.insert("JUKI_AID".into(), sim::aids()[0].to_vec());
        vars.insert("JPKI_AID".into(), sim::aids()[1].to_vec());
        let text = t.text;
        let first = text
            .lines()
            .map(|l| strip_comment(l).trim())
            .find(|l| !l.is_empty());
        let starts_issued = first == Some("@include issue");
        let mut ops = Vec::new();
        let mut last_auth = Vec::new();
        script_ops(t.name, &mut vars, &mut ops, &mut last_auth);
        if starts_issued {
            // The harness starts on the issued card: drop the included issue's operations.
            let mut issue_ops = Vec::new();
            let mut v = vars.clone();
            script_ops("issue", &mut v, &mut issue_ops, &mut Vec::new());
            ops.drain(..issue_ops.len());
        }
        out.push(Script {
            name: t.name,
            blank: !starts_issued,
            ops,
        });
    }
    out
}

/// A command for the hand-made sequences: under the session when one is up, as in the
/// transcripts.
fn apdu(header: [u8; 4], data: &[u8], le: Option<u8>) -> OwnedOp {
    OwnedOp::Protected(command(
        header,
        data,
        le.map(|l| [l]).as_ref().map(|l| &l[..]),
    ))
}

fn select_aid(aid: &[u8]) -> OwnedOp {
    apdu([0x00, 0xA4, 0x04, 0x0C], aid, None)
}

fn select_ef(fid: u16) -> OwnedOp {
    apdu([0x00, 0xA4, 0x02, 0x0C], &fid.to_be_bytes(), None)
}

fn verify(pin: &[u8]) -> OwnedOp {
    apdu([0x00, 0x20, 0x00, 0x80], pin, None)
}

fn read_all() -> OwnedOp {
    OwnedOp::Protected(vec![0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00])
}

/// Hand-made sequences from the snapshots ([`Start`]): the sample PINs, wrong PINs, power
/// cuts, the counter's work in a session already up.
fn handmade() -> Vec<(&'static str, Start, Vec<OwnedOp>)> {
    let [juki, jpki] = sim::aids();
    let hash = [0x5Au8; 32];
    let sign = || apdu([0x80, 0x2A, 0x00, 0x80], &hash, Some(0));
    vec![
        (
            "pins_and_reads",
            Start::Issued,
            vec![
                select_aid(juki),
                select_ef(0x001C),
                verify(b"1357"),
                select_ef(0x0001),
                read_all(),
                select_ef(0x0002),
                read_all(),
                select_ef(0x0003),
                read_all(),
                select_ef(0x0004),
                read_all(),
            ],
        ),
        (
            "sign_with_both_keys",
            Start::Issued,
            vec![
                select_aid(jpki),
                select_ef(0x0018),
                verify(b"2468"),
                select_ef(0x0017),
                sign(),
                select_ef(0x001B),
                verify(b"JUKI2026"),
                select_ef(0x001A),
                sign(),
                apdu([0x00, 0x46, 0x81, 0x00], &[], Some(0)),
                select_ef(0x0001),
                read_all(),
            ],
        ),
        (
            "change_pins",
            Start::Issued,
            vec![
                select_aid(juki),
                select_ef(0x001C),
                verify(b"1357"),
                apdu([0x00, 0x24, 0x01, 0x80], b"2580", None),
                verify(b"2580"),
                select_aid(jpki),
                select_ef(0x001B),
                verify(b"JUKI2026"),
                apdu([0x00, 0x24, 0x01, 0x80], b"NEWPASS77", None),
                OwnedOp::Reset,
                select_aid(jpki),
                select_ef(0x001B),
                verify(b"NEWPASS77"),
            ],
        ),
        (
            "block_and_reset_at_counter",
            Start::PinBlocked,
            vec![
                select_aid(juki),
                select_ef(0x001C),
                verify(b"1357"),
                apdu([0x00, 0x20, 0x00, 0x80], &[], None),
                OwnedOp::CounterAuth,
                apdu([0x00, 0x2C, 0x02, 0x80], b"9753", None),
                verify(b"9753"),
            ],
        ),
        (
            "counter_generates_keys",
            Start::JpkiSession,
            vec![
                select_ef(0x0017),
                apdu([0x00, 0x46, 0x80, 0x00], &[], Some(0)),
                select_ef(0x001A),
                apdu([0x00, 0x46, 0x80, 0x00], &[], Some(0)),
                select_ef(0x0018),
                verify(b"2468"),
                select_ef(0x0017),
                sign(),
            ],
        ),
        (
            "power_cut_verify_wrong",
            Start::Issued,
            vec![
                select_aid(juki),
                select_ef(0x001C),
                OwnedOp::Tear { after: 0, keep: 2 },
                verify(b"0000"),
                select_aid(juki),
                select_ef(0x001C),
                OwnedOp::Tear { after: 1, keep: 1 },
                verify(b"0000"),
                select_aid(juki),
                select_ef(0x001C),
                apdu([0x00, 0x20, 0x00, 0x80], &[], None),
            ],
        ),
        (
            "power_cut_verify_right",
            Start::Issued,
            vec![
                select_aid(jpki),
                select_ef(0x001B),
                verify(b"WRONG1"),
                OwnedOp::Tear { after: 2, keep: 2 },
                verify(b"JUKI2026"),
                select_aid(jpki),
                select_ef(0x001B),
                verify(b"JUKI2026"),
            ],
        ),
        (
            "power_cut_update_binary",
            Start::JukiSession,
            vec![
                select_ef(0x0003),
                OwnedOp::Tear { after: 3, keep: 1 },
                apdu([0x00, 0xD6, 0x00, 0x00], &[0xFF, 0x30, 0x00], None),
                select_aid(juki),
                select_ef(0x001C),
                verify(b"1357"),
                select_ef(0x0003),
                read_all(),
            ],
        ),
        (
            "power_cut_terminate",
            Start::JukiSession,
            vec![
                OwnedOp::Tear { after: 5, keep: 0 },
                OwnedOp::Protected(vec![0x00, 0xFE, 0x00, 0x00]),
                select_aid(juki),
                select_ef(0x0004),
                read_all(),
                select_ef(0x001C),
                verify(b"1357"),
            ],
        ),
        (
            "suspend_resume",
            Start::Suspended,
            vec![
                select_aid(juki),
                select_ef(0x001C),
                verify(b"1357"),
                OwnedOp::CounterAuth,
                OwnedOp::Protected(vec![0x00, 0x44, 0x00, 0x00]),
                select_ef(0x001C),
                verify(b"1357"),
                OwnedOp::PowerCycle,
                select_aid(juki),
                select_ef(0x001C),
                verify(b"1357"),
            ],
        ),
        (
            "session_writes",
            Start::JukiSession,
            vec![
                select_ef(0x0002),
                apdu([0x00, 0xD6, 0x00, 0x00], &[0xFF, 0x20, 0x00], None),
                select_ef(0x001C),
                apdu([0x00, 0x2C, 0x02, 0x80], b"9753", None),
                apdu([0x00, 0xD6, 0x85, 0x00], &[0x7F, 0x21, 0x00], None),
                apdu([0x00, 0xB0, 0x84, 0x00], &[], Some(0)),
                OwnedOp::Protected(vec![0x00, 0x04, 0x00, 0x00]),
                OwnedOp::Protected(vec![0x00, 0x44, 0x00, 0x00]),
            ],
        ),
        (
            "terminated_proves_itself",
            Start::Terminated,
            vec![
                select_aid(juki),
                select_ef(0x0004),
                read_all(),
                OwnedOp::CounterAuth,
                apdu([0x00, 0xB0, 0x84, 0x00], &[], Some(0)),
                apdu([0x00, 0xD6, 0x84, 0x00], &[0xFF, 0x40, 0x00], None),
                OwnedOp::Protected(vec![0x00, 0x44, 0x00, 0x00]),
            ],
        ),
        (
            "initialised_to_issued",
            Start::Initialised,
            vec![
                select_aid(juki),
                OwnedOp::CertifyCard,
                OwnedOp::CounterAuth,
                apdu([0x00, 0xD6, 0x81, 0x00], b"12345678903", None),
                OwnedOp::Protected(vec![0x00, 0x44, 0x00, 0x00]),
                OwnedOp::Protected(vec![0x00, 0xFE, 0x00, 0x00]),
            ],
        ),
        (
            "blank_manufacture",
            Start::Blank,
            vec![
                select_aid(juki),
                OwnedOp::Apdu(command(
                    [0x00, 0xDA, 0x00, 0xC1],
                    &keys::public_point(&keys::root()),
                    Some(&[0]),
                )),
                OwnedOp::CertifyCard,
                OwnedOp::CertifyCard,
                OwnedOp::Tear { after: 0, keep: 1 },
                OwnedOp::Apdu(command(
                    [0x00, 0xDA, 0x00, 0xC1],
                    &keys::public_point(&keys::root()),
                    Some(&[0]),
                )),
            ],
        ),
        (
            "chaining_get_response",
            Start::Issued,
            vec![
                select_aid(jpki),
                select_ef(0x0018),
                OwnedOp::Apdu(vec![0x10, 0x20, 0x00, 0x80, 0x02, b'2', b'4']),
                OwnedOp::Apdu(vec![0x00, 0x20, 0x00, 0x80, 0x02, b'6', b'8']),
                select_ef(0x0017),
                OwnedOp::Apdu(command([0x80, 0x2A, 0x00, 0x80], &hash, None)),
                OwnedOp::Apdu(vec![0x00, 0xC0, 0x00, 0x00, 0x20]),
                OwnedOp::Apdu(vec![0x00, 0xC0, 0x00, 0x00, 0x00]),
                apdu([0x00, 0xA4, 0x04, 0x00], jpki, Some(0x05)),
                OwnedOp::Apdu(vec![0x00, 0xC0, 0x00, 0x00, 0x00]),
            ],
        ),
    ]
}

fn card_side(fuzz: &Path) {
    let scripts = scripts();
    let mut sequences = Vec::new();
    for s in &scripts {
        let start = if s.blank {
            seq::START_BLANK
        } else {
            seq::START_ISSUED
        };
        sequences.push((format!("transcript_{}", s.name), seq::encode(start, &s.ops)));
    }
    for (name, start, ops) in handmade() {
        sequences.push((name.to_string(), seq::encode(start as u8, &ops)));
    }

    let dir = fuzz.join("corpus/card_sequence");
    clean_dir(&dir);
    for (name, data) in &sequences {
        write(&dir, name, data);
    }

    // apdu_parser: every distinct APDU of the sequences (the long ones once), and edge cases.
    let dir = fuzz.join("corpus/apdu_parser");
    clean_dir(&dir);
    let mut apdus = BTreeSet::new();
    for s in &scripts {
        for op in &s.ops {
            if let OwnedOp::Apdu(a) | OwnedOp::Protected(a) = op {
                apdus.insert(a.clone());
            }
        }
    }
    apdus.insert(command(
        [0x00, 0x82, 0x00, 0x00],
        &keys::counter_certificate(),
        None,
    ));
    apdus.insert(command(
        [0x00, 0x82, 0x00, 0x00],
        &keys::auth_data(
            &keys::counter_certificate(),
            &keys::counter(),
            &[7; 16],
            &keys::public_point(&keys::wrong_counter()),
        ),
        Some(&[0, 0]),
    ));
    for edge in [
        &[][..],
        &[0x00],
        &[0x00, 0xB0, 0x00],
        &[0x00, 0xB0, 0x00, 0x00, 0x00, 0x00],
        &[0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x00, 0xD6, 0x00, 0x00, 0x00, 0x00, 0x01, 0xAA, 0x00, 0x00],
        &[0x10, 0xD6, 0x00, 0x00, 0x01, 0xAA],
        &[0x0C, 0xB0, 0x00, 0x00, 0x10],
        &[0x01, 0xA4, 0x04, 0x0C, 0x01, 0xD3],
    ] {
        apdus.insert(edge.to_vec());
    }
    // Keep it small: one per header and length class (the edge cases all).
    let mut classes = BTreeSet::new();
    let kept: Vec<Vec<u8>> = apdus
        .iter()
        .filter(|a| {
            let class = (a.get(..4).map(<[u8]>::to_vec), a.len().min(300) / 20);
            a.len() < 7 || classes.insert(class)
        })
        .take(64)
        .cloned()
        .collect();
    for (i, a) in kept.iter().enumerate() {
        write(&dir, &format!("apdu_{i:03}"), a);
    }

    // vpcd_frames: a few transcripts as vpcd streams, in varied pieces.
    let dir = fuzz.join("corpus/vpcd_frames");
    clean_dir(&dir);
    let pick = [
        "issue",
        "verify_juki_pin",
        "chaining_and_get_response",
        "generate_and_sign",
        "malformed_tiny",
        "read_binary",
    ];
    for (i, s) in scripts
        .iter()
        .filter(|s| pick.contains(&s.name))
        .enumerate()
    {
        let mode = [0x3F, 0x00, 0x42, 0x07, 0x3F, 0x01][i % 6] | if s.blank { 0x80 } else { 0 };
        let mut stream = vec![mode];
        for body in [&[0x01][..], &[0x04], &[0x02]] {
            write_frame(&mut stream, body).expect("frame");
        }
        for op in &s.ops {
            match op {
                OwnedOp::Apdu(a) | OwnedOp::Protected(a) => {
                    write_frame(&mut stream, a).expect("frame")
                }
                OwnedOp::Reset => write_frame(&mut stream, &[0x02]).expect("frame"),
                _ => {}
            }
        }
        write_frame(&mut stream, &[0x00]).expect("frame");
        if s.name == "malformed_tiny" {
            stream.extend_from_slice(&[0x00, 0x05, 0x00, 0xA4]); // cut inside a frame
        }
        write(&dir, &format!("stream_{}", s.name), &stream);
    }
    let mut unknown = vec![0x3F];
    for body in [
        &[0x03][..],
        &[],
        &[0x04],
        &[0x00],
        &[0x00, 0xA4, 0x04, 0x0C],
    ] {
        write_frame(&mut unknown, body).expect("frame");
    }
    write(&dir, "stream_controls", &unknown);
    let _ = vpcd::MAX_FRAMES;
}

/// The card and CA of the host seeds.
struct HostWorld {
    _dir: tempfile::TempDir,
    ca: JpkiCa,
    initialised: Vec<u8>,
    issued: Vec<u8>,
}

fn card_on(image: &[u8], extended: bool) -> JukiCard<CardTransport> {
    JukiCard::new(CardTransport {
        card: power_on(image.to_vec()),
        extended,
        recorded: Vec::new(),
    })
}

fn image_of(card: JukiCard<CardTransport>) -> Vec<u8> {
    card.into_inner().card.into_parts().0.mem
}

fn host_world() -> HostWorld {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = JpkiCa::init(&dir.path().join("ca"), certs::NOW).expect("CA");
    let mut card = card_on(&vec![0xFF; juki_card::NVM_SIZE], true);
    card.initialise(keys::root().verifying_key(), |key| {
        Ok(keys::certificate_for(
            &keys::root(),
            juki_card::cvc::Role::Card,
            key.to_encoded_point(false).as_bytes(),
            host::SERIAL,
            keys::CARD_NAME,
            keys::CARD_VALIDITY,
            true,
        ))
    })
    .expect("initialise");
    let initialised = image_of(card);
    let mut card = card_on(&initialised, true);
    let p = host::sample_personalisation();
    card.personalise(host::credential(), &p)
        .expect("personalise");
    card.issue_jpki(host::credential(), host::SERIAL, |keys| {
        let issue = |kind, public_key| {
            let (_, cert) = ca
                .issue(
                    &CertRequest {
                        kind,
                        card_serial: &p.card.serial,
                        resident: Some(p.code.as_str()),
                        public_key,
                        four_info: &p.info,
                        municipality: "千代田区",
                        card_expires: p.card.expires,
                    },
                    certs::NOW,
                )
                .expect("certificate");
            cert.to_der().expect("DER")
        };
        Ok::<_, juki_host::Error>(JpkiFiles {
            sign: issue(CertKind::Sign, &keys.sign),
            sign_ca: ca.ca_certificate(CertKind::Sign).to_der().expect("DER"),
            auth: issue(CertKind::Auth, &keys.auth),
            auth_ca: ca.ca_certificate(CertKind::Auth).to_der().expect("DER"),
        })
    })
    .expect("issue JPKI");
    let issued = image_of(card);
    HostWorld {
        _dir: dir,
        ca,
        initialised,
        issued,
    }
}

fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    x509_cert::der::pem::encode_string(label, x509_cert::der::pem::LineEnding::LF, der)
        .expect("PEM")
        .into_bytes()
}

fn host_side(fuzz: &Path) {
    let w = host_world();

    // Certificates, CRLs, .p7s, login answer — made with the card.
    let mut card = card_on(&w.issued, true);
    let sign_pair = citizen::sign_certificates(&mut card, &Pin::from(host::SIGN_PIN))
        .expect("sign certificates");
    let auth_pair = citizen::auth_certificates(&mut card).expect("auth certificates");
    let p7s = |attached| {
        let mut card = card_on(&w.issued, true);
        citizen::sign_document(
            &mut card,
            &Pin::from(host::SIGN_PIN),
            certs::DOCUMENT,
            cms::SignOptions {
                attached,
                signing_time: certs::NOW,
            },
        )
        .expect("sign document")
    };
    let detached = p7s(false);
    let attached = p7s(true);
    let answer = citizen::answer_challenge(&mut card, &Pin::from(host::AUTH_PIN), certs::CHALLENGE)
        .expect("answer")
        .to_pem()
        .expect("answer PEM");
    let crl_sign = w.ca.crl(CertKind::Sign, certs::NOW).expect("CRL");
    let crl_auth = w.ca.crl(CertKind::Auth, certs::NOW).expect("CRL");
    w.ca.revoke(
        &validate::serial(&sign_pair.cert),
        RevocationReason::FourInfoChanged,
        certs::NOW,
    )
    .expect("revoke");
    let crl_revoked = w.ca.crl(CertKind::Sign, certs::NOW).expect("CRL");

    let fixtures = fuzz.join("fixtures");
    fs::create_dir_all(&fixtures).expect("fixtures dir");
    let der = |c: &x509_cert::crl::CertificateList| c.to_der().expect("DER");
    for (name, data) in certs::FIXTURE_FILES.iter().zip([
        sign_pair.cert_der.clone(),
        sign_pair.ca_der.clone(),
        auth_pair.cert_der.clone(),
        auth_pair.ca_der.clone(),
        der(&crl_sign),
        der(&crl_auth),
        der(&crl_revoked),
    ]) {
        write(&fixtures, name, &data);
    }

    let dir = fuzz.join("corpus/host_certificates");
    clean_dir(&dir);
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("sign.der", sign_pair.cert_der.clone()),
        ("sign_ca.der", sign_pair.ca_der.clone()),
        ("auth.der", auth_pair.cert_der.clone()),
        ("auth_ca.der", auth_pair.ca_der.clone()),
        (
            "sign.pem",
            cert_pem(&sign_pair.cert).expect("PEM").into_bytes(),
        ),
        (
            "auth_ca.pem",
            cert_pem(&auth_pair.ca).expect("PEM").into_bytes(),
        ),
        ("crl_sign.der", der(&crl_sign)),
        ("crl_auth.der", der(&crl_auth)),
        ("crl_sign_revoked.der", der(&crl_revoked)),
        (
            "crl_auth.pem",
            crl_pem(&crl_auth).expect("PEM").into_bytes(),
        ),
        (
            "crl_sign_revoked.pem",
            crl_pem(&crl_revoked).expect("PEM").into_bytes(),
        ),
        ("detached.p7s", detached.clone()),
        ("attached.p7s", attached.clone()),
        ("detached.p7s.pem", pem("CMS", &detached)),
        ("attached.pkcs7.pem", pem("PKCS7", &attached)),
        ("answer.pem", answer.into_bytes()),
    ];
    for (name, data) in &seeds {
        write(&dir, name, data);
    }

    // host_card: the decoders on the card's files, then each operation's responses.
    let dir = fuzz.join("corpus/host_card");
    clean_dir(&dir);
    let p = host::sample_personalisation();
    let decode_inputs: [Vec<u8>; DECODE_OPS] = [
        p.info.encode().expect("4 info"),
        p.changes.encode().expect("changes"),
        p.card.encode().expect("card info"),
        p.code.as_bytes().to_vec(),
        {
            let mut card = card_on(&w.issued, true);
            card.transport().recorded.clear();
            card.public_key(juki_host::card::KeyId::Sign)
                .expect("public key");
            let r = card.into_inner().recorded.pop().expect("response");
            r[..r.len() - 2].to_vec()
        },
        juki_reader_sim::ATR.to_vec(),
    ];
    for (op, raw) in decode_inputs.iter().enumerate() {
        let mut seed = vec![0, op as u8];
        seed.extend_from_slice(raw);
        write(&dir, &format!("{:02}_{}", op, OPS[op]), &seed);
    }
    let suspended = {
        let mut card = card_on(&w.issued, true);
        card.suspend(host::credential(), host::SERIAL)
            .expect("suspend");
        image_of(card)
    };
    for (op, name) in OPS.iter().enumerate().skip(DECODE_OPS) {
        let image = match *name {
            "personalise" => &w.initialised,
            "resume" => &suspended,
            _ => &w.issued,
        };
        for extended in [false, true] {
            let mut card = card_on(image, extended);
            host::card_op(op, &mut card);
            let recorded = card.into_inner().recorded;
            let mut seed = vec![u8::from(extended), op as u8];
            seed.extend(host::encode_responses(&recorded));
            let suffix = if extended { "ext" } else { "short" };
            write(&dir, &format!("{op:02}_{name}_{suffix}"), &seed);
        }
    }
}

fn main() {
    let fuzz = fuzz_dir();
    card_side(&fuzz);
    host_side(&fuzz);
    let dir = fuzz.join("corpus/net_requests");
    clean_dir(&dir);
    for (name, seed) in juki_fuzz::net::seeds() {
        write(&dir, name, &seed);
    }
    let dir = fuzz.join("corpus/log_answers");
    clean_dir(&dir);
    for (name, seed) in juki_fuzz::log::seeds() {
        write(&dir, &name, &seed);
    }
    for (target, _) in juki_fuzz::TARGETS {
        let dir = fuzz.join("corpus").join(target);
        let (n, bytes) = fs::read_dir(&dir)
            .map(|d| {
                d.flatten().fold((0, 0), |(n, b), e| {
                    (n + 1, b + e.metadata().map(|m| m.len()).unwrap_or(0))
                })
            })
            .unwrap_or((0, 0));
        println!("{target}: {n} seeds, {bytes} bytes in {}", dir.display());
    }
}
