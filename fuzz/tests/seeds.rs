//! The seed corpora reach what the fuzzer should start from: the card issued from blank, the
//! sample PINs verified, the counter authenticated with secure messaging, keys regenerated,
//! and the host's operations answered by a real card.

use std::fs;
use std::path::PathBuf;

use juki_card::lifecycle::Lifecycle;
use juki_fuzz::seq::{self, Op};
use juki_fuzz::sim::{sw_of, Session};

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (APDU, plain answer) of every command sent.
type Log = Vec<(Vec<u8>, Vec<u8>)>;

/// Runs a `card_sequence` seed; returns the session and its log.
fn run(name: &str) -> (Session<'static>, Log) {
    let data: &'static [u8] = Box::leak(seed("card_sequence", name).into_boxed_slice());
    let mut s = Session::new(seq::Start::of(data[0]), data);
    let mut log = Vec::new();
    for op in seq::ops(data) {
        match op {
            Op::Apdu(a) => log.push((a.to_vec(), s.transmit(a))),
            Op::Protected(a) => log.push((a.to_vec(), s.transmit_protected(a))),
            Op::CounterAuth => {
                let sw = s.counter_auth();
                log.push((
                    b"counter-auth".to_vec(),
                    sw.unwrap_or(0).to_be_bytes().to_vec(),
                ));
            }
            other => s.run(other),
        }
    }
    (s, log)
}

#[test]
fn every_snapshot_is_the_state_it_names() {
    use juki_fuzz::seq::Start;
    use juki_fuzz::sim::with_snapshot;
    for (start, state, session) in [
        (Start::Issued, Lifecycle::Issued, false),
        (Start::Blank, Lifecycle::Blank, false),
        (Start::Initialised, Lifecycle::Initialised, false),
        (Start::Suspended, Lifecycle::Suspended, false),
        (Start::PinBlocked, Lifecycle::Issued, false),
        (Start::JukiSession, Lifecycle::Issued, true),
        (Start::JpkiSession, Lifecycle::Issued, true),
        (Start::Terminated, Lifecycle::Terminated, false),
    ] {
        with_snapshot(start, |snap| {
            assert_eq!(snap.lifecycle(), state, "{start:?}");
            assert_eq!(snap.in_session(), session, "{start:?}");
        });
        assert_eq!(Start::of(start as u8), start);
    }
    let mut s = Session::new(Start::PinBlocked, &[]);
    assert_eq!(s.card().pin_tries(), [0, 3, 5]);
    // The session snapshots really are in a counter session: a protected counter command works.
    let mut s = Session::new(Start::JukiSession, &[]);
    let r = s.transmit_protected(&[0x00, 0xD6, 0x84, 0x00, 0x03, 0xFF, 0x40, 0x00]);
    assert_eq!(sw_of(&r), 0x9000);
}

#[test]
fn the_issue_transcript_issues_a_blank_card() {
    let (mut s, log) = run("transcript_issue");
    assert_eq!(s.card().lifecycle(), Lifecycle::Issued);
    let auths = log.iter().filter(|(a, _)| a == b"counter-auth").count();
    assert_eq!(auths, 2, "two counter authentications");
    assert!(log
        .iter()
        .filter(|(a, _)| a == b"counter-auth")
        .all(|(_, r)| r == &[0x90, 0x00]));
}

#[test]
fn the_sample_pins_open_the_files() {
    let (_, log) = run("pins_and_reads");
    let verify = log.iter().find(|(a, _)| a.get(1) == Some(&0x20)).unwrap();
    assert_eq!(sw_of(&verify.1), 0x9000, "住基 PIN 1357 verifies");
    let reads: Vec<_> = log
        .iter()
        .filter(|(a, _)| a.get(1) == Some(&0xB0))
        .collect();
    assert_eq!(reads.len(), 4);
    assert!(reads.iter().all(|(_, r)| sw_of(r) == 0x9000 && r.len() > 2));
}

#[test]
fn the_counter_regenerates_keys_under_secure_messaging() {
    let (mut s, log) = run("counter_generates_keys");
    let generated: Vec<_> = log
        .iter()
        .filter(|(a, _)| a.get(1) == Some(&0x46))
        .collect();
    assert_eq!(generated.len(), 2);
    for (_, r) in &generated {
        assert_eq!(sw_of(r), 0x9000, "protected GENERATE answered {r:02X?}");
        assert_eq!(r.len(), 2 + 5 + 65);
    }
    let sign = log.last().unwrap();
    assert_eq!(sw_of(&sign.1), 0x9000);
    assert_eq!(sign.1.len(), 66, "a signature with the new key");
    assert_eq!(s.card().pin_tries(), [3, 3, 5]);
}

#[test]
fn a_blocked_pin_is_reset_at_the_counter() {
    // From the snapshot with the 住基 PIN blocked: even the right PIN is refused until the
    // counter resets it.
    let (mut s, log) = run("block_and_reset_at_counter");
    let sws: Vec<u16> = log.iter().map(|(_, r)| sw_of(r)).collect();
    assert_eq!(sws[2], 0x6984, "{sws:04X?}");
    assert_eq!(
        *sws.last().unwrap(),
        0x9000,
        "the new PIN verifies: {sws:04X?}"
    );
    assert_eq!(s.card().pin_tries()[0], 3);
}

#[test]
fn power_cuts_are_taken() {
    let (mut s, _) = run("power_cut_terminate");
    assert!(s.cycles >= 1, "the power cut happened");
    let (_, log) = run("power_cut_verify_wrong");
    let last = log.last().unwrap();
    // Two wrong tries cut: at most 3, at least 1 left; the status query tells.
    assert_eq!(sw_of(&last.1) & 0xFFF0, 0x63C0, "{:04X}", sw_of(&last.1));
    let _ = s.card();
}

#[test]
fn every_transcript_seed_runs_all_its_commands() {
    for t in juki_test_vectors::TRANSCRIPTS {
        let (s, log) = run(&format!("transcript_{}", t.name));
        assert!(!log.is_empty() && s.apdus >= log.len(), "{}", t.name);
    }
}

#[test]
fn host_seeds_hold_real_card_answers() {
    let data = seed("host_card", "13_auth_certificates_ext");
    assert!(
        data.len() > 800,
        "both certificates are in the recorded answers"
    );
    let data = seed("host_card", "09_read_resident_short");
    assert!(
        String::from_utf8_lossy(&data).contains("住基 花子"),
        "the 4 info is in the recorded answers"
    );
}

#[test]
fn the_genuine_artefacts_pass_the_checks_the_target_makes() {
    use juki_fuzz::certs::{fixtures, CHALLENGE, CHECK_AT, DOCUMENT};
    use juki_jpki::{auth, cms, validate, CertKind};
    let f = fixtures();
    validate::check_certificate(&f.sign, CertKind::Sign, &f.sign_ca, Some(&f.crls), CHECK_AT)
        .expect("signing certificate");
    validate::check_certificate(&f.auth, CertKind::Auth, &f.auth_ca, Some(&f.crls), CHECK_AT)
        .expect("authentication certificate");
    for crl in &f.crls {
        assert!(
            validate::check_crl(crl, &f.sign_ca, CHECK_AT).is_ok()
                || validate::check_crl(crl, &f.auth_ca, CHECK_AT).is_ok()
        );
    }
    let v = cms::verify(
        &seed("host_certificates", "detached.p7s"),
        Some(DOCUMENT),
        &f.sign_ca,
        Some(&f.crls),
        CHECK_AT,
    )
    .expect("detached .p7s");
    assert_eq!(v.four_info, f.info);
    cms::verify(
        &seed("host_certificates", "attached.pkcs7.pem"),
        None,
        &f.sign_ca,
        Some(&f.crls),
        CHECK_AT,
    )
    .expect("attached .p7s, PEM");
    let answer = auth::Answer::from_pem(&seed("host_certificates", "answer.pem")).expect("PEM");
    auth::verify(&answer, CHALLENGE, &f.auth_ca, Some(&f.crls), CHECK_AT).expect("login answer");
    let revoked =
        validate::load_crl(&seed("host_certificates", "crl_sign_revoked.der")).expect("CRL");
    assert!(validate::revocation_of(&revoked, &f.sign).is_some());
}

#[test]
fn the_net_seeds_are_what_they_say() {
    let peer = juki_net::register::MunicipalityCode::parse("131016").unwrap();
    let batch = seed("net_requests", "updates_every_kind.json");
    let updates = juki_net::api::decode_updates(&batch, &peer).expect("the batch decodes");
    assert_eq!(updates.len(), 7, "one update of each kind");
    assert!(
        juki_net::api::decode_updates(&seed("net_requests", "updates_empty.json"), &peer)
            .unwrap()
            .is_empty()
    );
    assert!(juki_net::api::decode_updates(
        &seed("net_requests", "updates_unknown_field.json"),
        &peer
    )
    .is_err());
    assert!(juki_net::api::decode_search(&seed("net_requests", "search.json")).is_ok());
}

#[test]
fn the_log_seeds_are_what_they_say() {
    use juki_fuzz::log::{fixture, RESIDENT_A, RESIDENT_B, SEEN_SIZE, STH_LEN};
    use juki_log::{InclusionProof, Record, SignedTreeHead};
    let f = fixture();
    let size = f.tree.size();
    let seed = |name: &str| seed("log_answers", name);
    for name in [
        "record_0_provision_first.bin",
        "record_3_provision_chained.bin",
    ] {
        assert!(matches!(
            Record::decode(&seed(name)),
            Ok(Record::Provision(_))
        ));
    }
    assert!(matches!(
        Record::decode(&seed("record_1_anchor.bin")),
        Ok(Record::AuditAnchor(_))
    ));
    let head = SignedTreeHead::from_bytes(&seed(&format!("head_{size}.bin"))).unwrap();
    assert_eq!(head.to_bytes().len(), STH_LEN);
    head.verify(&f.verifying).unwrap();
    let text = String::from_utf8(seed(&format!("head_{size}.txt"))).unwrap();
    assert_eq!(SignedTreeHead::from_text(&text).unwrap(), head);
    let proof = InclusionProof::from_bytes(&seed(&format!("inclusion_0_{size}.bin"))).unwrap();
    let leaf = f.openings[0].leaf().unwrap().hash();
    proof.verify(&leaf, &head.head.root).unwrap();
    let witness = seed(&format!("witness_{SEEN_SIZE}_{size}.bin"));
    let (a, b) = (
        SignedTreeHead::from_bytes(&witness[..STH_LEN]).unwrap(),
        SignedTreeHead::from_bytes(&witness[STH_LEN..2 * STH_LEN]).unwrap(),
    );
    let consistency = juki_log::ConsistencyProof::from_bytes(&witness[2 * STH_LEN..]).unwrap();
    juki_log::audit(&f.verifying, &a, &b, Some(&consistency)).unwrap();
    // The honest answers verify against every Seen (the empty log's only against nothing seen),
    // with every provision of the resident.
    for (name, resident, provisions) in [
        (format!("answer_a_{size}.json"), RESIDENT_A, 3),
        (format!("answer_a_{SEEN_SIZE}.json"), RESIDENT_A, 1),
        (format!("answer_b_{size}.json"), RESIDENT_B, 1),
    ] {
        let answer: juki_net::api::disclosure::DisclosureJson =
            serde_json::from_slice(&seed(&name)).unwrap();
        for seen in &f.seens {
            let d = juki_net::citizen::verify(answer.clone(), &f.verifying, seen)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(d.resident.code.as_str(), resident);
            assert_eq!(d.provisions.len(), provisions, "{name}");
        }
    }
    let empty: juki_net::api::disclosure::DisclosureJson =
        serde_json::from_slice(&seed("answer_empty_log.json")).unwrap();
    let verified = |seen| juki_net::citizen::verify(empty.clone(), &f.verifying, seen).is_ok();
    assert!(verified(&f.seens[0]));
    assert!(!verified(&f.seens[1]) && !verified(&f.seens[2]));
}
