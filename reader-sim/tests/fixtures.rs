//! Card image fixtures: a card issued by an older build must open and work in this one.
//!
//! `test-vectors/fixtures/issued-v1.img` is a card (image format 1, core record format 1)
//! initialised and issued by the `issue` transcript. When the persistent format changes, keep
//! the old fixture and its test, add a new one, and write the migration. To (re)create a
//! fixture deliberately: `JUKI_WRITE_FIXTURES=1 cargo test -p juki-reader-sim --test fixtures`.

use std::path::PathBuf;

use juki_reader_sim::SimCard;
use juki_test_vectors::{transcript, Exchange};

struct Sim(SimCard);

impl Exchange for Sim {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.0.transmit(apdu)
    }
    fn reset(&mut self) {
        self.0.reset().unwrap();
    }
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/fixtures/issued-v1.img")
}

const SELECT_JUKI: &str = "00A4040C0AD3921000310001010401";

fn apdu(card: &mut SimCard, hex_apdu: &str) -> Vec<u8> {
    let bytes: Vec<u8> = (0..hex_apdu.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex_apdu[i..i + 2], 16).unwrap())
        .collect();
    card.transmit(&bytes)
}

#[test]
fn issued_card_of_format_1_still_works() {
    if std::env::var_os("JUKI_WRITE_FIXTURES").is_some() {
        let _ = std::fs::remove_file(fixture());
        let mut sim = Sim(SimCard::create(fixture()).unwrap());
        transcript("issue").unwrap().replay(&mut sim).unwrap();
    }
    // Work on a copy: the fixture itself never changes.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("card.img");
    std::fs::copy(fixture(), &copy).expect("test-vectors/fixtures/issued-v1.img is missing");
    let mut card = SimCard::open(&copy).unwrap();

    assert_eq!(apdu(&mut card, SELECT_JUKI), [0x90, 0x00]);
    assert_eq!(apdu(&mut card, "00A4020C02001C"), [0x90, 0x00]);
    assert_eq!(apdu(&mut card, "00200080"), [0x63, 0xC3], "3 tries left");
    assert_eq!(
        apdu(&mut card, "002000800431333537"),
        [0x90, 0x00],
        "PIN 1357"
    );
    assert_eq!(apdu(&mut card, "00A4020C020001"), [0x90, 0x00]);
    assert_eq!(
        apdu(&mut card, "00B0000000"),
        b"12345678903\x90\x00".to_vec()
    );
    assert_eq!(apdu(&mut card, "00A4020C020002"), [0x90, 0x00]);
    let four_info = apdu(&mut card, "00B0000000");
    assert!(four_info.ends_with(&[0x90, 0x00]), "{four_info:02X?}");
    let text = String::from_utf8_lossy(&four_info);
    assert!(text.contains("住基 花子"), "{text}");
    // The signing key generated at issue still signs after a VERIFY of the sign password.
    assert_eq!(
        apdu(&mut card, "00A4040C0AD392F000260100000001"),
        [0x90, 0x00]
    );
    assert_eq!(apdu(&mut card, "00A4020C02001B"), [0x90, 0x00]);
    assert_eq!(apdu(&mut card, "00200080084A554B4932303236"), [0x90, 0x00]);
    assert_eq!(apdu(&mut card, "00A4020C02001A"), [0x90, 0x00]);
    let sig = apdu(&mut card, &format!("802A008020{}00", "AB".repeat(32)));
    assert_eq!(sig.len(), 66, "{sig:02X?}");
    assert_eq!(sig[64..], [0x90, 0x00]);

    // It has no key of its own (core record format 1): a valid counter's authentication is
    // refused after the challenge (6985), so no counter trusts anything it says
    // (docs/architecture.md, "Cards without a key of their own").
    use juki_test_vectors::{build_command, keys};
    assert_eq!(apdu(&mut card, SELECT_JUKI), [0x90, 0x00]);
    let challenge = card.transmit(&[0x00, 0x84, 0x00, 0x00, 0x10]);
    assert_eq!(challenge.len(), 18);
    let data = keys::auth_data(
        &keys::counter_certificate(),
        &keys::counter(),
        &challenge[..16],
        &keys::public_point(&keys::wrong_counter()),
    );
    let auth = build_command(&[0x00, 0x82, 0x00, 0x00], Some(data), Some(vec![0, 0])).unwrap();
    assert_eq!(card.transmit(&auth), [0x69, 0x85]);
    // Nor is its card information writable: the counter's commands need the session.
    assert_eq!(apdu(&mut card, "00D684000100"), [0x69, 0x82]);
}
