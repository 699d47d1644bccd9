//! How many APDUs each operation takes, and which (docs/performance.md, "APDUs per operation").
//! Recorded in-process on a simulated card with the reader's extended length and without it;
//! the same host code runs through PC/SC (tests/pcsc.rs; the benchmarks count there too).

mod common;

use common::world::{lines, world};
use juki_cli::pin_input::Pin;
use juki_host::card::{JukiCard, Personalisation};
use juki_host::pin::PinId;
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Recording;
use juki_jpki::cms::SignOptions;
use juki_jpki::{citizen, time as jtime};
use sha2::{Digest, Sha256};

type Card = JukiCard<Recording<SimTransport>>;

fn recording(image: &std::path::Path, extended: bool) -> Card {
    JukiCard::new(Recording::new(
        SimTransport::open(image)
            .unwrap()
            .with_extended_length(extended),
    ))
}

/// The headers (CLA INS P1 P2, hex) of the APDUs sent since the last call.
fn headers(card: &mut Card) -> Vec<String> {
    card.transport()
        .take()
        .iter()
        .map(|apdu| hex::encode_upper(&apdu[..4]))
        .collect()
}

const SELECT_JUKI: &str = "00A4040C";
const SELECT_JPKI: &str = SELECT_JUKI;

#[test]
fn each_operation_takes_the_fewest_apdus() {
    let w = world();
    let mut card = recording(&w.image, true);
    w.session()
        .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap();
    let issue = headers(&mut card);
    // Certificates issued: no SELECT of an EF, every write one UPDATE BINARY by short
    // identifier (0C: under secure messaging).
    assert!(!issue.iter().any(|h| h.starts_with("00A402")), "{issue:?}");
    let writes: Vec<_> = issue.iter().filter(|h| &h[2..4] == "D6").collect();
    assert_eq!(
        writes,
        ["0CD68800", "0CD68A00", "0CD68B00", "0CD68100", "0CD68200", "0CD68800"]
    );

    let juki_pin = Pin::from("2580");
    let password = Pin::from("JUKI2026");

    // VERIFY: the application, then the PIN named in P2 (no SELECT of the PIN EF).
    card.verify_pin(PinId::Juki, &juki_pin).unwrap();
    assert_eq!(headers(&mut card), [SELECT_JUKI, "0020009C"]);

    // The 4 info with the resident code and change information: one READ BINARY a file.
    let record = card.read_resident(&juki_pin).unwrap();
    assert_eq!(record.info.name, "住基 一郎");
    assert_eq!(
        headers(&mut card),
        [SELECT_JUKI, "0020009C", "00B08100", "00B08200", "00B08300"]
    );

    // A signature: select, verify, select key, sign.
    let hash: [u8; 32] = Sha256::digest(b"e-application").into();
    card.sign_hash(&hash, &password).unwrap();
    assert_eq!(
        headers(&mut card),
        [SELECT_JPKI, "0020009B", "00A4020C", "802A0080"]
    );

    // The authentication certificate and its CA: one APDU each with extended length.
    let certs = citizen::auth_certificates(&mut card).unwrap();
    assert!(certs.cert_der.len() > 256 && certs.ca_der.len() > 256);
    assert_eq!(
        headers(&mut card),
        [SELECT_JPKI, "00B08800", "00B08A00", "00B08B00"]
    );

    // A CMS signature of a document: the certificates, then the signature.
    let options = SignOptions {
        attached: false,
        signing_time: jtime::start_of_day(common::world::today()),
    };
    citizen::sign_document(&mut card, &password, b"application", options).unwrap();
    assert_eq!(
        headers(&mut card),
        [
            SELECT_JPKI,
            "00B08800",
            "0020009B",
            "00B08100",
            "00B08200",
            "00A4020C",
            "802A0080"
        ]
    );

    // A certificate past its validity (it never outlives the card) signs nothing: the card is
    // never asked for the signature.
    let late = SignOptions {
        attached: false,
        signing_time: jtime::start_of_day(common::world::today()) + 20 * 365 * jtime::DAY,
    };
    let e = citizen::sign_document(&mut card, &password, b"application", late).unwrap_err();
    assert!(
        matches!(e, juki_jpki::JpkiError::OwnCertificateExpired { .. }),
        "{e}"
    );
    assert!(!headers(&mut card).iter().any(|h| h.starts_with("802A")));

    // Without extended length: the same commands, a certificate in 256-byte short reads
    // (P1 80|SFI first, then by offset in the EF it made current).
    drop(card);
    let mut card = recording(&w.image, false);
    let short = citizen::auth_certificates(&mut card).unwrap();
    assert_eq!(short.cert_der, certs.cert_der);
    let reads = headers(&mut card);
    let per_file = |len: usize| len / 256 + 1;
    assert_eq!(
        reads.len(),
        2 + per_file(certs.cert_der.len()) + per_file(certs.ca_der.len()),
        "{reads:?}"
    );
    assert_eq!(reads[2], "00B08A00");
    assert_eq!(reads[3], "00B00100");
}

#[test]
fn issuing_a_card_selects_no_file() {
    let w = world();
    // The data of the issued card, written again onto a new initialised card.
    let mut old = JukiCard::new(SimTransport::open(&w.image).unwrap());
    let record = old.read_resident(&Pin::from("2580")).unwrap();
    let info = old.card_info().unwrap();
    drop(old);
    let image = w.image.with_file_name("second.img");
    let mut card = JukiCard::new(Recording::new(SimTransport::create(&image).unwrap()));
    // Manufacture: PUT DATA of the root (the card answers its key), PUT DATA of its certificate.
    w.root
        .manufacture(&mut card, &info.serial, common::world::today())
        .unwrap();
    assert_eq!(
        headers(&mut card),
        [SELECT_JUKI, "00DA00C1", "00DA00C2"],
        "manufacture"
    );
    let p = Personalisation {
        code: record.code,
        info: record.info,
        changes: record.changes,
        card: info,
        juki_pin: Pin::from("2580"),
        auth_pin: Pin::from("1357"),
        sign_pin: Pin::from("JUKI2026"),
    };
    card.personalise(&w.cred, &p).unwrap();
    let sent = headers(&mut card);
    // Per application: SELECT, GET CHALLENGE, EXTERNAL AUTHENTICATE; then one protected
    // command a file, PIN or key, and ACTIVATE.
    assert_eq!(
        sent,
        [
            SELECT_JUKI,
            "00840000",
            "00820000",
            "0CD68100",
            "0CD68200",
            "0CD68300",
            "0CD68400",
            "0C2C029C",
            SELECT_JPKI,
            "00840000",
            "00820000",
            "0CD68600",
            "0CD68800",
            "0C2C0298",
            "0C2C029B",
            "0C468097",
            "0C46809A",
            "0C440000",
        ]
    );
}
