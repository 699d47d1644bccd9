//! The `juki` CLI and the host library through the REAL PC/SC stack: pcscd with vsmartcard's
//! vpcd driver, the card served by `juki_reader_sim::VpcdServer` into "Virtual PCD 00 00", and
//! `opensc-tool` as an independent client.
//!
//! Needs a running pcscd with vpcd. `scripts/test.sh` provides one and sets `JUKI_PCSC=1`; then
//! a missing pcscd or reader FAILS the tests. Without `JUKI_PCSC=1` they are skipped with a
//! notice when PC/SC is not there. The harness (and the one mutex for the vpcd port) is in
//! tests/common/pcsc.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

use juki_cli::pin_input::Pin;
use juki_host::authority::RootAuthority;
use juki_host::card::{JukiCard, Lifecycle, Personalisation, PinStatus};
use juki_host::date::Date;
use juki_host::pcsc_transport::{list_readers, PcscTransport};
use juki_host::pin::PinId;
use juki_host::resident::{CardInfo, ChangeInfo, FourInfo, MunicipalityCode, Sex};
use juki_host::resident_code::ResidentCode;
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;
use juki_host::Error;
use juki_reader_sim::server::{pcsc_required, FIRST_READER_NAME, SECOND_READER_NAME};

mod common;

use common::pcsc::{juki_card, lock_or_skip, Served};
use common::{fails, juki, ok, path_str, root_and_chiyoda, text};

#[test]
fn cli_whole_life_through_pcsc() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let counter = dir.path().join("cred");
    let image = dir.path().join("card.img");

    root_and_chiyoda(dir.path(), juki);
    // A municipality code with a wrong check digit is refused by the command line (usage, 2).
    fails(
        juki(
            &[
                "authority",
                "certify",
                "--root",
                path_str(&root),
                "--municipality",
                "131017",
                "--name",
                "千代田区",
                "--out",
                path_str(&dir.path().join("bad")),
            ],
            "",
        ),
        2,
        "check digit",
    );

    // The counter's records and its first operator.
    let data = dir.path().join("counter-data");
    ok(juki(
        &[
            "counter",
            "--counter-dir",
            path_str(&data),
            "operator",
            "add",
            "--name",
            "tanaka",
            "--credential",
            path_str(&counter),
        ],
        "tanaka-pw1\n",
    ));

    juki_reader_sim::SimCard::create(&image).unwrap();
    let mut served = Served::start(&image);

    let status = ok(juki_card(&["status"], ""));
    assert!(status.contains("blank"), "{status}");
    ok(juki_card(&["card", "init", "--root", path_str(&root)], ""));
    let status = ok(juki_card(&["status"], ""));
    assert!(status.contains("initialised"), "{status}");
    // A second init is refused.
    fails(
        juki_card(&["card", "init", "--root", path_str(&root)], ""),
        1,
        "only a blank card",
    );

    let issue_args = [
        "counter",
        "--counter-dir",
        path_str(&data),
        "issue",
        "--operator",
        "tanaka",
        "--credential",
        path_str(&counter),
        "--name",
        "住基 花子",
        "--address",
        "東京都千代田区千代田1-1",
        "--birth",
        "1985-04-15",
        "--sex",
        "2",
        "--photo",
    ];
    // A weak PIN is refused before anything is written.
    fails(
        juki_card(&issue_args, "tanaka-pw1\n1234\n1357\nJUKI2026\n"),
        1,
        "too easy",
    );
    // The birthday as PIN is refused.
    fails(
        juki_card(&issue_args, "tanaka-pw1\n0415\n1357\nJUKI2026\n"),
        1,
        "too easy",
    );
    let issued = ok(juki_card(&issue_args, "tanaka-pw1\n2580\n1357\nJUKI2026\n"));
    let code_line = issued
        .lines()
        .find(|l| l.starts_with("resident code"))
        .expect("resident code printed");
    let code = code_line
        .split(|c: char| !c.is_ascii_digit())
        .find(|t| t.len() == 11)
        .unwrap_or_default()
        .to_string();
    assert!(ResidentCode::parse(&code).is_ok(), "{code_line}");

    let status = ok(juki_card(&["status"], ""));
    assert!(status.contains("issued"), "{status}");
    assert!(status.contains("131016"), "{status}");
    assert!(status.contains("3 tries left"), "{status}");
    assert!(status.contains("5 tries left"), "{status}");

    // info: right PIN.
    let info = ok(juki_card(&["info"], "2580\n"));
    assert!(info.contains(&code), "{info}");
    assert!(info.contains("住基 花子"), "{info}");
    assert!(info.contains("東京都千代田区千代田1-1"), "{info}");
    assert!(info.contains("1985-04-15"), "{info}");
    assert!(info.contains("female"), "{info}");
    assert!(!info.contains("2580"), "the PIN is never printed");
    // info: wrong PIN, clear message and exit code 3.
    let err = fails(juki_card(&["info"], "9630\n"), 3, "2 tries left");
    assert!(!err.contains("9630"), "the PIN is never printed");
    assert!(!text(&juki_card(&["info"], "9630\n")).0.contains(&code));
    let status = ok(juki_card(&["pin", "status"], ""));
    assert!(status.contains("1 try left"), "{status}");
    // The right PIN restores the tries.
    ok(juki_card(&["info"], "2580\n"));

    // Signing makes a CMS signature with the card's JPKI certificate: a card issued without
    // certificates says so, before any password is asked (tests/jpki_pcsc.rs signs).
    let doc = dir.path().join("application.txt");
    std::fs::write(&doc, "電子申請書: 転出届\n").unwrap();
    fails(
        juki_card(&["sign", path_str(&doc)], "JUKI2026\n"),
        6,
        "no JPKI certificates",
    );
    assert!(!PathBuf::from(format!("{}.p7s", doc.display())).exists());

    // pin change.
    fails(
        juki_card(&["pin", "change", "--pin", "juki"], "2580\n7777\n"),
        1,
        "too easy",
    );
    ok(juki_card(
        &["pin", "change", "--pin", "juki"],
        "2580\n3691\n",
    ));
    fails(juki_card(&["info"], "2580\n"), 3, "2 tries left");
    ok(juki_card(&["info"], "3691\n"));

    // Block the 住基 PIN, then the right PIN is refused, then the counter resets it.
    fails(juki_card(&["info"], "0000\n"), 3, "2 tries left");
    fails(juki_card(&["info"], "0000\n"), 3, "1 try left");
    fails(juki_card(&["info"], "0000\n"), 3, "now locked");
    let err = fails(juki_card(&["info"], "3691\n"), 4, "locked");
    assert!(err.contains("municipal counter"), "{err}");
    let status = ok(juki_card(&["pin", "status"], ""));
    assert!(status.contains("LOCKED"), "{status}");
    ok(juki_card(
        &[
            "counter",
            "--counter-dir",
            path_str(&data),
            "reset-pin",
            "--operator",
            "tanaka",
            "--credential",
            path_str(&counter),
            "--pin",
            "juki",
        ],
        "tanaka-pw1\n4826\n",
    ));
    let info = ok(juki_card(&["info"], "4826\n"));
    assert!(info.contains(&code), "{info}");

    // The card image survives a restart of the simulator: tries used stay used.
    fails(juki_card(&["info"], "0000\n"), 3, "2 tries left");
    served.stop();
    fails(juki_card(&["status"], ""), 5, "no card");
    let _served = Served::start(&image);
    let status = ok(juki_card(&["pin", "status"], ""));
    assert!(status.contains("2 tries left"), "{status}");
    ok(juki_card(&["info"], "4826\n"));
}

/// Issues a card image in-process (fast), for the tests that need an issued card.
fn issue_image(image: &Path) -> (Personalisation, RootAuthority) {
    let root = RootAuthority::generate();
    let chiyoda = MunicipalityCode::parse("131016").unwrap();
    let today = Date::from_ymd(2026, 4, 1).unwrap();
    let cred = root
        .issue_counter_credential(&chiyoda, "千代田区", today, 5)
        .unwrap();
    let p = Personalisation {
        code: ResidentCode::generate(),
        info: FourInfo::new(
            "住基 一郎",
            &"大阪府大阪市北区中之島1-3-20 ".repeat(10),
            Date::from_ymd(1960, 1, 2).unwrap(),
            Sex::Male,
        )
        .unwrap(),
        changes: ChangeInfo::default(),
        card: CardInfo::new("JK1", chiyoda, today, false).unwrap(),
        juki_pin: Pin::from("2580"),
        auth_pin: Pin::from("1357"),
        sign_pin: Pin::from("JUKI2026"),
    };
    let mut card = JukiCard::new(SimTransport::create(image).unwrap());
    root.manufacture(&mut card, "JK1", today).unwrap();
    card.personalise(&cred, &p).unwrap();
    (p, root)
}

#[test]
fn library_over_pcsc_transport() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let (p, _root) = issue_image(&image);
    let _served = Served::start(&image);

    // Reader choice and clear errors.
    assert!(matches!(
        PcscTransport::connect(Some("No Such Reader 99")),
        Err(Error::ReaderNotFound { .. })
    ));
    if list_readers()
        .unwrap()
        .iter()
        .any(|r| r.name == SECOND_READER_NAME && !r.card_present)
    {
        assert!(matches!(
            PcscTransport::connect(Some(SECOND_READER_NAME)),
            Err(Error::NoCard { .. })
        ));
    }

    for extended in [true, false] {
        let transport = PcscTransport::connect(Some(FIRST_READER_NAME)).unwrap();
        assert!(
            transport.supports_extended_length(),
            "the ATR announces extended length"
        );
        let mut card = JukiCard::new(transport.with_extended_length(extended));
        assert_eq!(card.lifecycle().unwrap(), Lifecycle::Issued);
        // The 4 info is longer than one short response: GET RESPONSE / offsets / extended Le.
        assert!(p.info.encode().unwrap().len() > 256);
        let record = card.read_resident(&p.juki_pin).unwrap();
        assert_eq!(record.info, p.info, "extended = {extended}");
        assert_eq!(record.code, p.code);
        let hash = [0x42u8; 32];
        let public = card.public_key(juki_host::card::KeyId::Sign).unwrap();
        let sig = card.sign_hash(&hash, &p.sign_pin).unwrap();
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        public.verify_prehash(&hash, &sig).unwrap();
        assert!(matches!(
            card.verify_pin(PinId::Auth, &Pin::from("0000")),
            Err(Error::WrongPin { tries_left: 2 })
        ));
        card.verify_pin(PinId::Auth, &p.auth_pin).unwrap();
        assert_eq!(
            card.pin_status(PinId::Auth).unwrap(),
            PinStatus::TriesLeft(3)
        );
    }

    // Default reader choice: the first reader with a card.
    let mut card = JukiCard::new(PcscTransport::connect(None).unwrap());
    assert_eq!(card.card_info().unwrap(), p.card);
    // A reset through PC/SC clears the security status.
    card.verify_pin(PinId::Sign, &p.sign_pin).unwrap();
    card.transport().reconnect(true).unwrap();
    card.select_app(juki_host::pin::App::Jpki).unwrap();
    assert!(matches!(
        card.compute_signature(juki_host::card::KeyId::Sign, &[0u8; 32]),
        Err(Error::SecurityStatusNotSatisfied)
    ));
}

#[test]
fn a_pin_verified_in_a_transaction_is_not_left_to_other_clients() {
    use juki_host::card::KeyId;
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let (p, _root) = issue_image(&image);
    let _served = Served::start(&image);
    let hash = [0x42u8; 32];

    let mut citizen = JukiCard::new(PcscTransport::connect(Some(FIRST_READER_NAME)).unwrap());
    // Another PC/SC client, connected before (waiting for its chance).
    let mut waiting = JukiCard::new(PcscTransport::connect(Some(FIRST_READER_NAME)).unwrap());
    citizen.sign_hash(&hash, &p.sign_pin).unwrap();
    // It finds the card reset (pcscd tells it so); after reconnecting without a reset of its
    // own, and without a SELECT (which would clear the status anyway), it cannot sign.
    let first = waiting.compute_signature(KeyId::Sign, &hash);
    assert!(
        matches!(first, Err(Error::CardReset { .. })),
        "the card must have been reset as the transaction ended: {first:?}"
    );
    waiting.transport().reconnect(false).unwrap();
    let after = waiting.compute_signature(KeyId::Sign, &hash);
    assert!(
        matches!(after, Err(Error::FileNotFound)),
        "the sign password outlived its transaction: {after:?}"
    );

    // A client that connects afterwards: nothing verified either (the 住基 PIN this time).
    citizen.read_resident(&p.juki_pin).unwrap();
    let mut later = JukiCard::new(PcscTransport::connect(Some(FIRST_READER_NAME)).unwrap());
    let after = later.read_file(juki_card::files::EfId::FourInfo, 1024);
    assert!(
        matches!(after, Err(Error::FileNotFound)),
        "the 住基 PIN outlived its transaction: {after:?}"
    );

    // The reset does not trouble the client that asked for it: its next command outside a
    // transaction and its next transaction work.
    assert_eq!(citizen.card_info().unwrap(), p.card);
    let sig = citizen.sign_hash(&hash, &p.sign_pin).unwrap();
    let public = citizen.public_key(KeyId::Sign).unwrap();
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    public.verify_prehash(&hash, &sig).unwrap();
}

/// `opensc-tool -r READER -s APDU…`; returns stdout+stderr.
fn opensc(apdus: &[&str]) -> String {
    let mut cmd = Command::new("opensc-tool");
    cmd.args(["-r", FIRST_READER_NAME]);
    for apdu in apdus {
        cmd.args(["-s", apdu]);
    }
    let out = cmd
        .output()
        .expect("run opensc-tool (is opensc installed?)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The status words in opensc-tool's output, in order, as `90 00` → 0x9000.
fn status_words(output: &str) -> Vec<u16> {
    output
        .lines()
        .filter_map(|l| {
            let i = l.find("SW1=0x")?;
            let sw1 = u16::from_str_radix(l.get(i + 6..i + 8)?, 16).ok()?;
            let j = l.find("SW2=0x")?;
            let sw2 = u16::from_str_radix(l.get(j + 6..j + 8)?, 16).ok()?;
            Some(sw1 << 8 | sw2)
        })
        .collect()
}

#[test]
fn opensc_tool_as_independent_client() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    if Command::new("opensc-tool")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(!pcsc_required(), "JUKI_PCSC=1 but opensc-tool is missing");
        eprintln!("SKIPPED: opensc-tool not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let (p, _root) = issue_image(&image);
    let _served = Served::start(&image);

    const SELECT_JUKI: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 01";
    // Card information: free.
    let out = opensc(&[SELECT_JUKI, "00 A4 02 0C 02 00 04", "00 B0 00 00 00"]);
    assert_eq!(status_words(&out), vec![0x9000, 0x9000, 0x9000], "{out}");
    assert!(
        out.to_uppercase().contains("FF 40"),
        "card info TLV in:\n{out}"
    );

    // Resident code: refused without PIN, read after VERIFY.
    let out = opensc(&[SELECT_JUKI, "00 A4 02 0C 02 00 01", "00 B0 00 00 00"]);
    assert_eq!(status_words(&out), vec![0x9000, 0x9000, 0x6982], "{out}");
    let out = opensc(&[
        SELECT_JUKI,
        "00 A4 02 0C 02 00 1C",
        "00 20 00 80 04 39 39 39 39", // wrong PIN
        "00 20 00 80",                // tries left
        "00 20 00 80 04 32 35 38 30", // right PIN
        "00 A4 02 0C 02 00 01",
        "00 B0 00 00 00",
    ]);
    assert_eq!(
        status_words(&out),
        vec![0x9000, 0x9000, 0x63C2, 0x63C2, 0x9000, 0x9000, 0x9000],
        "{out}"
    );
    let code_hex: Vec<String> = p
        .code
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert!(
        out.to_uppercase().contains(&code_hex.join(" ")),
        "resident code {} in:\n{out}",
        p.code
    );

    // The host library sees what opensc-tool did: tries restored by the right PIN.
    let mut card = JukiCard::new(PcscTransport::connect(Some(FIRST_READER_NAME)).unwrap());
    assert_eq!(
        card.pin_status(PinId::Juki).unwrap(),
        PinStatus::TriesLeft(3)
    );
}
