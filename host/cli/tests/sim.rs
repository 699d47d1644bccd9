//! The host library against the real card core, in-process (juki_reader_sim::SimCard): every
//! typed-API call, success and failure paths, with extended length and with short APDUs only
//! (chaining, GET RESPONSE, READ BINARY by offset).

mod common;

use std::path::Path;

use juki_cli::pin_input::Pin;
use juki_host::authority::{CounterCredential, RootAuthority};
use juki_host::card::{JukiCard, KeyId, Lifecycle, Personalisation, PinStatus};
use juki_host::date::Date;
use juki_host::pin::{PinId, PinRules};
use juki_host::resident::{CardInfo, Change, ChangeInfo, FourInfo, MunicipalityCode, Sex};
use juki_host::resident_code::ResidentCode;
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;
use juki_host::Error;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256};

/// The serial the test card is manufactured with.
const SERIAL: &str = "JK0000000042";
/// Manufacture and issue day.
fn today() -> Date {
    Date::from_ymd(2026, 4, 1).unwrap()
}

struct Setup {
    root: RootAuthority,
    cred: CounterCredential,
    person: Personalisation,
}

fn setup(address: &str) -> Setup {
    let root = RootAuthority::generate();
    let today = Date::from_ymd(2026, 4, 1).unwrap();
    let chiyoda = MunicipalityCode::parse("131016").unwrap();
    let cred = root
        .issue_counter_credential(&chiyoda, "千代田区", today, 5)
        .unwrap();
    let info = FourInfo::new(
        "住基 太郎",
        address,
        Date::from_ymd(1970, 12, 31).unwrap(),
        Sex::Male,
    )
    .unwrap();
    let person = Personalisation {
        code: ResidentCode::generate(),
        info,
        changes: ChangeInfo {
            address: Some(Change {
                date: Date::from_ymd(2024, 4, 1).unwrap(),
                reason: "転入".into(),
            }),
            ..ChangeInfo::default()
        },
        card: CardInfo::new(SERIAL, chiyoda, today, false).unwrap(),
        juki_pin: Pin::from("2580"),
        auth_pin: Pin::from("1357"),
        sign_pin: Pin::from("JUKI2026"),
    };
    Setup { root, cred, person }
}

fn issued_card(path: &Path, extended: bool, s: &Setup) -> JukiCard<SimTransport> {
    let mut card = JukiCard::new(
        SimTransport::create(path)
            .unwrap()
            .with_extended_length(extended),
    );
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Blank);
    s.root.manufacture(&mut card, SERIAL, today()).unwrap();
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Initialised);
    card.personalise(&s.cred, &s.person).unwrap();
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Issued);
    card
}

fn life(extended: bool) {
    let dir = tempfile::tempdir().unwrap();
    // An address long enough that the 4 info needs more than one short APDU both ways.
    let address = "東京都千代田区千代田一丁目一番一号 ".repeat(8);
    let s = setup(&address);
    let mut card = issued_card(&dir.path().join("card.img"), extended, &s);

    assert_eq!(card.card_info().unwrap(), s.person.card);
    let record = card.read_resident(&s.person.juki_pin).unwrap();
    assert_eq!(record.code, s.person.code);
    assert_eq!(record.info, s.person.info);
    assert!(s.person.info.encode().unwrap().len() > 300);
    assert_eq!(record.changes, s.person.changes);

    for kind in PinId::ALL {
        assert_eq!(
            card.pin_status(kind).unwrap(),
            PinStatus::TriesLeft(kind.max_tries())
        );
    }

    let hash: [u8; 32] = Sha256::digest(b"application").into();
    let public = card.public_key(KeyId::Sign).unwrap();
    let sig = card.sign_hash(&hash, &s.person.sign_pin).unwrap();
    public.verify_prehash(&hash, &sig).unwrap();
    let auth_public = card.public_key(KeyId::Auth).unwrap();
    assert_ne!(auth_public, public);
    // The auth key signs after the auth PIN.
    card.verify_pin(PinId::Auth, &s.person.auth_pin).unwrap();
    let sig = card.compute_signature(KeyId::Auth, &hash).unwrap();
    auth_public.verify_prehash(&hash, &sig).unwrap();
}

#[test]
fn whole_life_with_extended_length() {
    life(true);
}

#[test]
fn whole_life_with_short_apdus_only() {
    life(false);
}

#[test]
fn wrong_pin_counts_down_blocks_and_counter_resets() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("東京都千代田区千代田1-1");
    let mut card = issued_card(&dir.path().join("card.img"), true, &s);
    let wrong = Pin::from("9999");
    for left in [2u8, 1, 0] {
        match card.verify_pin(PinId::Juki, &wrong) {
            Err(Error::WrongPin { tries_left }) => assert_eq!(tries_left, left),
            other => panic!("expected WrongPin, got {other:?}"),
        }
    }
    assert_eq!(card.pin_status(PinId::Juki).unwrap(), PinStatus::Blocked);
    assert!(matches!(
        card.read_resident(&s.person.juki_pin),
        Err(Error::PinBlocked)
    ));
    // The other PINs are not affected.
    assert_eq!(
        card.pin_status(PinId::Auth).unwrap(),
        PinStatus::TriesLeft(3)
    );
    // Weak new PINs are refused on the host before reaching the card.
    assert!(matches!(
        card.reset_pin(&s.cred, SERIAL, PinId::Juki, &Pin::from("1111")),
        Err(Error::InvalidInput(_))
    ));
    // The holder's birthday is refused by the card (the host did not know it).
    assert!(matches!(
        card.reset_pin(&s.cred, SERIAL, PinId::Juki, &Pin::from("1231")),
        Err(Error::WrongData)
    ));
    card.reset_pin(&s.cred, SERIAL, PinId::Juki, &Pin::from("4826"))
        .unwrap();
    assert_eq!(
        card.pin_status(PinId::Juki).unwrap(),
        PinStatus::TriesLeft(3)
    );
    assert!(matches!(
        card.read_resident(&s.person.juki_pin),
        Err(Error::WrongPin { tries_left: 2 })
    ));
    card.read_resident(&Pin::from("4826")).unwrap();
}

#[test]
fn sign_password_has_five_tries() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("東京都千代田区千代田1-1");
    let mut card = issued_card(&dir.path().join("card.img"), true, &s);
    let hash = [0x11u8; 32];
    for left in [4u8, 3, 2, 1, 0] {
        match card.sign_hash(&hash, &Pin::from("WRONG1")) {
            Err(Error::WrongPin { tries_left }) => assert_eq!(tries_left, left),
            other => panic!("expected WrongPin, got {other:?}"),
        }
    }
    assert!(matches!(
        card.sign_hash(&hash, &s.person.sign_pin),
        Err(Error::PinBlocked)
    ));
}

#[test]
fn change_pin_rules() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("東京都千代田区千代田1-1");
    let mut card = issued_card(&dir.path().join("card.img"), true, &s);
    let pin = &s.person.juki_pin;
    // Weak on the host.
    for weak in ["7777", "1234", "4321", "8901"] {
        assert!(matches!(
            card.change_pin(PinId::Juki, pin, &Pin::from(weak)),
            Err(Error::InvalidInput(_))
        ));
    }
    // Birthday on the card.
    assert!(matches!(
        card.change_pin(PinId::Juki, pin, &Pin::from("1231")),
        Err(Error::WrongData)
    ));
    // Wrong current PIN.
    assert!(matches!(
        card.change_pin(PinId::Juki, &Pin::from("0000"), &Pin::from("3691")),
        Err(Error::WrongPin { tries_left: 2 })
    ));
    card.change_pin(PinId::Juki, pin, &Pin::from("3691"))
        .unwrap();
    assert!(matches!(
        card.read_resident(pin),
        Err(Error::WrongPin { .. })
    ));
    card.read_resident(&Pin::from("3691")).unwrap();
    // Sign password format.
    assert!(matches!(
        card.change_pin(PinId::Sign, &s.person.sign_pin, &Pin::from("abc123")),
        Err(Error::InvalidInput(_))
    ));
    card.change_pin(PinId::Sign, &s.person.sign_pin, &Pin::from("NEWPASS9"))
        .unwrap();
    card.sign_hash(&[0u8; 32], &Pin::from("NEWPASS9")).unwrap();
}

#[test]
fn counter_of_another_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("東京都千代田区千代田1-1");
    let mut card = JukiCard::new(SimTransport::create(&dir.path().join("c.img")).unwrap());
    // A blank card cannot be issued.
    assert!(matches!(
        card.personalise(&s.cred, &s.person),
        Err(Error::ConditionsNotSatisfied)
    ));
    s.root.manufacture(&mut card, SERIAL, today()).unwrap();
    // Initialising twice is refused.
    assert!(matches!(
        s.root.manufacture(&mut card, SERIAL, today()),
        Err(Error::ConditionsNotSatisfied)
    ));
    let other = setup("x");
    assert!(matches!(
        card.personalise(&other.cred, &s.person),
        Err(Error::CounterNotAccepted)
    ));
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Initialised);
    card.personalise(&s.cred, &s.person).unwrap();
    assert!(matches!(
        card.reset_pin(&other.cred, SERIAL, PinId::Juki, &Pin::from("4826")),
        Err(Error::CounterNotAccepted)
    ));
}

#[test]
fn nothing_without_the_pin_and_volatile_state_is_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("東京都千代田区千代田1-1");
    let mut card = issued_card(&dir.path().join("card.img"), true, &s);
    card.verify_pin(PinId::Sign, &s.person.sign_pin).unwrap();
    assert_eq!(
        card.pin_status(PinId::Sign).unwrap(),
        PinStatus::TriesLeft(5),
        "pin_status selects the application again, which clears the security status"
    );
    card.verify_pin(PinId::Sign, &s.person.sign_pin).unwrap();
    card.transport().power_cycle().unwrap();
    assert!(
        matches!(
            card.compute_signature(KeyId::Sign, &[0u8; 32]),
            Err(Error::FileNotFound)
        ),
        "after a power cycle no application is selected: SELECT by FID answers 6A82"
    );
    card.select_app(juki_host::pin::App::Jpki).unwrap();
    assert!(matches!(
        card.compute_signature(KeyId::Sign, &[0u8; 32]),
        Err(Error::SecurityStatusNotSatisfied)
    ));
}

#[test]
fn a_pin_verified_in_a_transaction_does_not_outlive_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("東京都千代田区千代田1-1");
    let mut card = issued_card(&dir.path().join("card.img"), true, &s);
    let hash = [0x42u8; 32];
    // The sign password verified inside one exclusive transaction (VERIFY, then COMPUTE
    // DIGITAL SIGNATURE): afterwards, whoever talks to the card next — without a SELECT, which
    // would clear the status anyway — cannot sign: the card was reset as the transaction ended.
    card.sign_hash(&hash, &s.person.sign_pin).unwrap();
    let after = card.compute_signature(KeyId::Sign, &hash);
    assert!(
        matches!(after, Err(Error::FileNotFound)),
        "the sign password outlived its transaction: {after:?}"
    );
    // The same for the 住基 PIN and the resident data.
    card.read_resident(&s.person.juki_pin).unwrap();
    let after = card.read_file(juki_card::files::EfId::FourInfo, 1024);
    assert!(
        matches!(after, Err(Error::FileNotFound)),
        "the 住基 PIN outlived its transaction: {after:?}"
    );
    // The next transaction works as usual.
    let sig = card.sign_hash(&hash, &s.person.sign_pin).unwrap();
    let public = card.public_key(KeyId::Sign).unwrap();
    public.verify_prehash(&hash, &sig).unwrap();
    // A transaction without VERIFY leaves the card as it is (no reset): the application
    // selected in it is still selected.
    card.exclusive(|c| c.select_app(juki_host::pin::App::Jpki))
        .unwrap();
    let free = card.read_file(juki_jpki::CertKind::Auth.cert_ef(), 2048);
    assert!(
        !matches!(free, Err(Error::FileNotFound)),
        "a transaction without VERIFY must not reset the card: {free:?}"
    );
}

#[test]
fn tries_used_survive_reopening_the_card_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let s = setup("東京都千代田区千代田1-1");
    let mut card = issued_card(&path, true, &s);
    assert!(card.verify_pin(PinId::Juki, &Pin::from("0000")).is_err());
    drop(card);
    let mut card = JukiCard::new(SimTransport::open(&path).unwrap());
    assert_eq!(
        card.pin_status(PinId::Juki).unwrap(),
        PinStatus::TriesLeft(2)
    );
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Issued);
}

fn suspend_and_resume(extended: bool) {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("東京都千代田区千代田1-1");
    let mut card = issued_card(&dir.path().join("card.img"), extended, &s);
    let sign_public = card.public_key(KeyId::Sign).unwrap();
    // Only a counter of the card's root can suspend it.
    let other = setup("x");
    assert!(matches!(
        card.suspend(&other.cred, SERIAL),
        Err(Error::CounterNotAccepted)
    ));
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Issued);
    assert!(matches!(
        card.resume(&s.cred, SERIAL),
        Err(Error::InvalidInput(m)) if m.contains("applies to a card that is suspended")
    ));
    card.suspend(&s.cred, SERIAL).unwrap();
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Suspended);

    // Every citizen operation is refused with CardSuspended, and uses no PIN try.
    let hash: [u8; 32] = Sha256::digest(b"application").into();
    let refused = |r: Result<(), Error>, what: &str| match r {
        Err(Error::CardSuspended) => {}
        other => panic!("{what}: expected CardSuspended, got {other:?}"),
    };
    refused(card.read_resident(&s.person.juki_pin).map(drop), "read");
    refused(
        card.read_resident(&Pin::from("0000")).map(drop),
        "wrong PIN",
    );
    refused(card.sign_hash(&hash, &s.person.sign_pin).map(drop), "sign");
    refused(card.public_key(KeyId::Auth).map(drop), "public key");
    refused(card.pin_status(PinId::Auth).map(drop), "PIN status");
    refused(
        card.change_pin(PinId::Juki, &s.person.juki_pin, &Pin::from("4826")),
        "change PIN",
    );
    refused(card.suspend(&s.cred, SERIAL), "suspend twice");
    let message = card
        .read_resident(&s.person.juki_pin)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("一時停止") && message.contains("counter"),
        "{message}"
    );
    // The card information stays readable; the counter still works.
    assert_eq!(card.card_info().unwrap(), s.person.card);
    card.reset_pin(&s.cred, SERIAL, PinId::Juki, &Pin::from("4826"))
        .unwrap();
    assert!(matches!(
        card.resume(&other.cred, SERIAL),
        Err(Error::CounterNotAccepted)
    ));
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Suspended);

    card.resume(&s.cred, SERIAL).unwrap();
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Issued);
    for kind in PinId::ALL {
        assert_eq!(
            card.pin_status(kind).unwrap(),
            PinStatus::TriesLeft(kind.max_tries()),
            "{kind:?}: the refused tries used none"
        );
    }
    let record = card.read_resident(&Pin::from("4826")).unwrap();
    assert_eq!(record.code, s.person.code);
    let sig = card.sign_hash(&hash, &s.person.sign_pin).unwrap();
    sign_public.verify_prehash(&hash, &sig).unwrap();
}

#[test]
fn suspended_card_refuses_the_citizen_until_resumed_extended() {
    suspend_and_resume(true);
}

#[test]
fn suspended_card_refuses_the_citizen_until_resumed_short() {
    suspend_and_resume(false);
}

#[test]
fn terminated_card_keeps_only_its_card_information() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    let s = setup("東京都千代田区千代田1-1");
    let mut card = issued_card(&path, false, &s);
    let other = setup("x");
    assert!(matches!(
        card.terminate(&other.cred, SERIAL),
        Err(Error::CounterNotAccepted)
    ));
    card.suspend(&s.cred, SERIAL).unwrap();
    card.terminate(&s.cred, SERIAL).unwrap();
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Terminated);
    drop(card);

    // For good: also after reopening the card image.
    let mut card = JukiCard::new(SimTransport::open(&path).unwrap());
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Terminated);
    assert_eq!(card.card_info().unwrap(), s.person.card);
    let hash: [u8; 32] = Sha256::digest(b"application").into();
    let refused = |r: Result<(), Error>, what: &str| match r {
        Err(Error::CardTerminated) => {}
        other => panic!("{what}: expected CardTerminated, got {other:?}"),
    };
    refused(card.sign_hash(&hash, &s.person.sign_pin).map(drop), "sign");
    refused(card.public_key(KeyId::Sign).map(drop), "sign key");
    refused(card.public_key(KeyId::Auth).map(drop), "auth key");
    refused(card.read_resident(&s.person.juki_pin).map(drop), "read");
    refused(card.pin_status(PinId::Juki).map(drop), "PIN status");
    refused(
        card.reset_pin(&s.cred, SERIAL, PinId::Juki, &Pin::from("4826")),
        "reset PIN",
    );
    refused(card.resume(&s.cred, SERIAL), "resume");
    refused(card.suspend(&s.cred, SERIAL), "suspend");
    refused(card.terminate(&s.cred, SERIAL), "terminate twice");
    let message = card.public_key(KeyId::Sign).unwrap_err().to_string();
    assert!(message.contains("no longer valid"), "{message}");
}

#[test]
fn demo_runs_and_checks_itself() {
    juki_cli::i18n::set_lang(juki_cli::i18n::Lang::En);
    let mut out = Vec::new();
    juki_cli::demo::run(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("63C2"));
    assert!(text.contains("63C1"));
    assert!(text.contains("63C0"));
    assert!(text.contains("6984"));
    assert!(text.contains("all 23 steps behaved as expected"));
    // 住基ネット: the move delivered, the departure read, the registers compared.
    assert!(text.contains("Chiyoda City learns from Juki-Net"));
    assert!(text.contains("大阪市北区's registry agrees with the national register"));
}

/// A card in memory whose NVM fails while `failing` is set: the card itself answers `6581`
/// (memory failure), protected under the counter's session — a genuine refusal, not a reader's.
struct FaultyNvm {
    mem: Vec<u8>,
    failing: std::rc::Rc<std::cell::Cell<bool>>,
}

impl juki_card::Nvm for FaultyNvm {
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), juki_card::NvmError> {
        let src = self
            .mem
            .get(offset..offset + buf.len())
            .ok_or(juki_card::NvmError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), juki_card::NvmError> {
        if self.failing.get() {
            return Err(juki_card::NvmError::WriteFailed);
        }
        let dst = self
            .mem
            .get_mut(offset..offset + data.len())
            .ok_or(juki_card::NvmError::OutOfRange)?;
        dst.copy_from_slice(data);
        Ok(())
    }
}

/// The card of [`FaultyNvm`] behind a transport: its NVM fails during every UPDATE BINARY of
/// EF 0003 and, when `block_restore`, of EF 0002 after that (a card whose second write of a
/// counter update fails, and whose first cannot be put back either).
struct FaultyCard {
    card: juki_card::Card<FaultyNvm, rand_core::OsRng>,
    failing: std::rc::Rc<std::cell::Cell<bool>>,
    selected: u16,
    refused_changes: bool,
    block_restore: bool,
    /// Faults only once armed (after the card was issued).
    armed: bool,
}

impl FaultyCard {
    fn new(block_restore: bool) -> FaultyCard {
        let failing = std::rc::Rc::new(std::cell::Cell::new(false));
        let nvm = FaultyNvm {
            mem: vec![0xFF; juki_card::NVM_SIZE],
            failing: failing.clone(),
        };
        FaultyCard {
            card: juki_card::Card::power_on(nvm, rand_core::OsRng),
            failing,
            selected: 0,
            refused_changes: false,
            block_restore,
            armed: false,
        }
    }
}

impl juki_host::transport::Transport for FaultyCard {
    fn transmit(&mut self, apdu: &[u8]) -> juki_host::Result<Vec<u8>> {
        let target = common::update_target(apdu, &mut self.selected);
        let fail = self.armed
            && (target == Some(0x0003)
                || (target == Some(0x0002) && self.refused_changes && self.block_restore));
        self.refused_changes |= self.armed && target == Some(0x0003);
        self.failing.set(fail);
        let mut response = juki_card::Response::new();
        self.card.process(apdu, &mut response);
        self.failing.set(false);
        Ok(response.to_vec())
    }
    fn supports_extended_length(&self) -> bool {
        true
    }
    fn exclusive(
        &mut self,
        f: &mut dyn FnMut(&mut dyn juki_host::transport::Transport) -> juki_host::Result<()>,
    ) -> juki_host::Result<()> {
        f(self)
    }
    fn name(&self) -> String {
        "a card whose memory fails".into()
    }
}

fn update_whose_second_write_fails(block_restore: bool) -> (juki_host::Result<()>, String) {
    let s = setup("東京都千代田区千代田1-1");
    let mut card = JukiCard::new(FaultyCard::new(block_restore));
    s.root.manufacture(&mut card, SERIAL, today()).unwrap();
    card.personalise(&s.cred, &s.person).unwrap();
    card.transport().armed = true;
    let mut moved = s.person.info.clone();
    moved.address = "大阪府大阪市北区中之島1-3-20".into();
    let changes = ChangeInfo {
        address: Some(Change {
            date: Date::from_ymd(2026, 12, 1).unwrap(),
            reason: "転入".into(),
        }),
        ..ChangeInfo::default()
    };
    let result = card.update_resident(&s.cred, SERIAL, &s.person.info, &moved, &changes);
    let now = card.read_resident(&s.person.juki_pin).unwrap();
    assert_eq!(
        now.changes, s.person.changes,
        "the change information never changed"
    );
    (result, now.info.address)
}

#[test]
fn a_plain_refusal_in_the_cards_place_is_an_unknown_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup("東京都千代田区千代田1-1");
    let path = dir.path().join("card.img");
    drop(issued_card(&path, true, &s));
    // The reader answers the second write of the update with a plain 6581 in the card's place:
    // the host cannot tell what the card did, puts nothing back, and says so.
    let mut selected = 0;
    let mut card = common::intercept(&path, move |apdu, card| {
        if common::update_target(apdu, &mut selected) == Some(0x0003) {
            return Ok(vec![0x65, 0x81]);
        }
        card.transmit(apdu)
    });
    let mut moved = s.person.info.clone();
    moved.address = "大阪府大阪市北区中之島1-3-20".into();
    let err = card
        .update_resident(
            &s.cred,
            SERIAL,
            &s.person.info,
            &moved,
            &ChangeInfo::default(),
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::OutcomeUnknown(m) if m.contains("6581")),
        "{err}"
    );
    assert_eq!(err.status_word(), None, "not the card's word");
    drop(card);
    // The first write happened and nothing was put back on the strength of a forged answer.
    let mut plain = JukiCard::new(SimTransport::open(&path).unwrap());
    let now = plain.read_resident(&s.person.juki_pin).unwrap();
    assert_eq!(now.info.address, moved.address);
}

#[test]
fn a_failed_second_write_of_an_update_puts_the_old_4_info_back() {
    let (result, address) = update_whose_second_write_fails(false);
    let err = result.unwrap_err();
    assert_eq!(err.status_word(), Some(0x6581), "{err}");
    assert_eq!(address, "東京都千代田区千代田1-1", "the card is as before");
}

#[test]
fn an_update_that_cannot_be_undone_says_to_run_it_again() {
    let (result, address) = update_whose_second_write_fails(true);
    let err = result.unwrap_err();
    assert_eq!(err.status_word(), None);
    assert!(err.to_string().contains("run the update again"), "{err}");
    assert_eq!(address, "大阪府大阪市北区中之島1-3-20");
}
