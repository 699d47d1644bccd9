//! The counter against a hostile reader (issue 11): a `Transport` between the counter and the
//! card that relays another card, substitutes keys, rewrites answers, forges refusals or
//! replays. Each attack must fail with a clear error, nothing may be certified or changed on
//! its strength, and the registry and the audit trail must tell the truth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::world::{lines, today, world, World};
use juki_cli::pin_input::Pin;
use juki_counter::registry::CardState;
use juki_counter::{CounterError, IssueRequest, Operation, Outcome};
use juki_host::authority::CounterCredential;
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::date::Date;
use juki_host::pin::PinId;
use juki_host::resident::{MunicipalityCode, Sex};
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;
use juki_host::{Error, Result};

/// Another issued card of the same world: JK-0010, of 住基 次郎 (PINs 2580, 1357, JUKI2026).
fn second_card(w: &World) -> PathBuf {
    let image = w.image.with_file_name("second.img");
    w.issue_card(&image, "JK-0010", "住基 次郎", "東京都千代田区永田町1-7-1");
    image
}

/// Whether card `image` still takes sign password `password` (without using a try: VERIFY
/// with the right one restores the count).
fn sign_password_is(image: &Path, password: &str) -> bool {
    let mut card = JukiCard::new(SimTransport::open(image).unwrap());
    card.verify_pin(PinId::Sign, &Pin::from(password)).is_ok()
}

fn forward(
    f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>,
    t: &mut dyn Transport,
) -> Result<()> {
    f(t)
}

// ---------------------------------------------------------------- relay

/// A reader relaying another card: SELECT by AID goes to both cards (answered by `shown`),
/// the plain commands to `shown` (the card on the counter's reader), and from GET CHALLENGE on
/// everything to `relayed` (a stolen card, or one relayed from malware on its owner's PC),
/// until the next SELECT by AID. With `after_first_transaction`, the first transaction goes to
/// `shown` whole and everything after it to `relayed`: a card swapped between the counter's
/// inspection and its card step.
struct Relay {
    shown: SimTransport,
    relayed: SimTransport,
    relaying: bool,
    after_first_transaction: bool,
    transactions: usize,
}

impl Relay {
    fn new(shown: &Path, relayed: &Path, after_first_transaction: bool) -> Relay {
        Relay {
            shown: SimTransport::open(shown).unwrap(),
            relayed: SimTransport::open(relayed).unwrap(),
            relaying: false,
            after_first_transaction,
            transactions: 0,
        }
    }
}

impl Transport for Relay {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        if self.after_first_transaction {
            return if self.transactions > 1 {
                self.relayed.transmit(apdu)
            } else {
                self.shown.transmit(apdu)
            };
        }
        match apdu {
            [_, 0xA4, 0x04, ..] => {
                self.relaying = false;
                self.relayed.transmit(apdu)?;
                self.shown.transmit(apdu)
            }
            [_, 0x84, ..] => {
                self.relaying = true;
                self.relayed.transmit(apdu)
            }
            _ if self.relaying => self.relayed.transmit(apdu),
            _ => self.shown.transmit(apdu),
        }
    }
    fn supports_extended_length(&self) -> bool {
        true
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        self.transactions += 1;
        forward(f, self)
    }
    fn name(&self) -> String {
        "a relaying reader".into()
    }
}

#[test]
fn a_relayed_card_is_refused_and_neither_card_changes() {
    let w = world();
    let other = second_card(&w);
    // The clerk serves JK-0009 (its serial is printed on the card in hand); the reader relays
    // JK-0010 for the authentication and everything protected.
    let mut s = w.session().serving(Some("JK-0009"));
    let mut card = JukiCard::new(Relay::new(&w.image, &other, false));
    let err = s
        .reset_pin(&mut card, &w.cred, PinId::Sign, &mut lines("THIEF2026\n"))
        .unwrap_err();
    assert!(
        matches!(err.host(), Some(Error::CardChanged { expected, found }) if expected == "JK-0009" && found == "JK-0010"),
        "{err}"
    );
    drop(card);
    assert!(sign_password_is(&other, "JUKI2026"), "JK-0010 unchanged");
    assert!(sign_password_is(&w.image, "JUKI2026"), "JK-0009 unchanged");
    // The audit trail says what happened: a refusal for the card being served.
    let history = s.db().audit().show("JK-0009").unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.operation, "reset-pin");
    assert_eq!(last.outcome.kind(), "refused");
    assert!(s
        .db()
        .audit()
        .show("JK-0010")
        .unwrap()
        .iter()
        .all(|r| r.operation != "reset-pin"));
    assert!(s.db().journal().unfinished().unwrap().is_empty());
}

#[test]
fn without_the_served_serial_the_counter_acts_on_the_card_that_proved_itself() {
    // No --card: the plain reads the relay sends to JK-0009 decide nothing; the counter works on
    // the card that authenticated (JK-0010), and says so in its result and its records.
    let w = world();
    let other = second_card(&w);
    let mut s = w.session();
    let mut card = JukiCard::new(Relay::new(&w.image, &other, false));
    let done = s
        .reset_pin(&mut card, &w.cred, PinId::Sign, &mut lines("NEWPASS2026\n"))
        .unwrap();
    assert_eq!(done.card.serial, "JK-0010");
    assert_eq!(done.record.card_serial.as_deref(), Some("JK-0010"));
    drop(card);
    assert!(sign_password_is(&other, "NEWPASS2026"));
    assert!(sign_password_is(&w.image, "JUKI2026"));
}

#[test]
fn a_card_swapped_after_the_inspection_is_refused() {
    let w = world();
    let other = second_card(&w);
    let mut s = w.session();
    let mut card = JukiCard::new(Relay::new(&w.image, &other, true));
    let err = s.suspend(&mut card, &w.cred, Some("紛失")).unwrap_err();
    assert!(
        matches!(err.host(), Some(Error::CardChanged { expected, found }) if expected == "JK-0009" && found == "JK-0010"),
        "{err}"
    );
    drop(card);
    for image in [&w.image, &other] {
        let mut c = JukiCard::new(SimTransport::open(image).unwrap());
        assert_eq!(c.lifecycle().unwrap(), Lifecycle::Issued);
    }
    let registry = s.db().registry();
    assert_eq!(
        registry.card("JK-0009").unwrap().unwrap().state,
        CardState::Issued
    );
    assert_eq!(
        registry.card("JK-0010").unwrap().unwrap().state,
        CardState::Issued
    );
    let last = s.db().audit().show("JK-0009").unwrap().pop().unwrap();
    assert_eq!(
        (last.operation.as_str(), last.outcome.kind()),
        ("suspend", "refused")
    );
}

// ---------------------------------------------------------------- man in the middle

/// A reader that tampers with what the card answers: `rewrite` gets the command and the
/// card's answer (data ‖ SW) and returns what the counter sees.
fn tamper(
    image: &Path,
    mut rewrite: impl FnMut(&[u8], Vec<u8>) -> Vec<u8>,
) -> JukiCard<impl Transport> {
    common::intercept(image, move |apdu, card| {
        let answer = card.transmit(apdu)?;
        Ok(rewrite(apdu, answer))
    })
}

/// The SEC1 point of a fresh P-256 key: the attacker's.
fn attacker_point() -> Vec<u8> {
    let key = p256::SecretKey::random(&mut rand_core::OsRng);
    key.public_key().to_sec1_bytes().to_vec()
}

/// Replaces the card's ephemeral key in its answer to EXTERNAL AUTHENTICATE (the `7F49`
/// after its certificate) with the attacker's, keeping everything else.
fn substitute_ephemeral(apdu: &[u8], mut answer: Vec<u8>) -> Vec<u8> {
    if apdu.get(1) == Some(&0x82) && answer.ends_with(&[0x90, 0x00]) {
        let at = answer
            .windows(5)
            .position(|w| w == [0x7F, 0x49, 0x43, 0x86, 0x41])
            .unwrap();
        answer[at + 5..at + 70].copy_from_slice(&attacker_point());
    }
    answer
}

#[test]
fn a_reader_substituting_its_own_key_gets_nothing_certified() {
    let w = world();
    let mut s = w.session();
    let mut card = tamper(&w.image, substitute_ephemeral);
    let err = s
        .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap_err();
    assert!(
        matches!(err.host(), Some(Error::CardNotAuthenticated(_))),
        "{err}"
    );
    assert!(
        err.to_string().contains("カードの認証に失敗しました"),
        "{err}"
    );
    assert!(
        w.ca().certificates_of("JK-0009").unwrap().is_empty(),
        "nothing certified"
    );
    let last = s.db().audit().show("JK-0009").unwrap_or_default().pop();
    assert!(last.is_none_or(|r| r.operation != "jpki-issue" || r.outcome.kind() != "ok"));
}

#[test]
fn a_reader_answering_in_the_cards_place_is_not_a_card() {
    // The reader runs the whole exchange itself: its own "card certificate" (signed by a root
    // of its own), its own ephemeral key and signature — a counterfeit card.
    let w = world();
    let fake_root = juki_host::authority::RootAuthority::generate();
    let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let fake_cert = fake_root
        .certify_card("JK-0009", key.verifying_key(), today())
        .unwrap();
    let mut card = tamper(&w.image, move |apdu, answer| {
        if apdu.get(1) != Some(&0x82) || !answer.ends_with(&[0x90, 0x00]) {
            return answer;
        }
        let mut forged = fake_cert.clone();
        let eph = attacker_point();
        forged.extend([0x7F, 0x49, 0x43, 0x86, 0x41]);
        forged.extend(&eph);
        forged.extend([0x8A, 0x01, 0x05, 0x5F, 0x37, 0x40]);
        forged.extend([0x11; 64]);
        forged.extend([0x90, 0x00]);
        forged
    });
    let err = card
        .exclusive(|c| c.counter_session(&w.cred, juki_host::pin::App::Juki, None))
        .unwrap_err();
    assert!(matches!(err, Error::CardNotAuthenticated(_)), "{err}");
}

#[test]
fn a_replayed_card_answer_is_refused() {
    let w = world();
    let mut recorded: Option<Vec<u8>> = None;
    let mut card = tamper(&w.image, move |apdu, answer| {
        if apdu.get(1) != Some(&0x82) {
            return answer;
        }
        match &recorded {
            None => {
                recorded = Some(answer.clone());
                answer
            }
            Some(old) => old.clone(),
        }
    });
    card.exclusive(|c| c.counter_session(&w.cred, juki_host::pin::App::Juki, None))
        .unwrap();
    let err = card
        .exclusive(|c| c.counter_session(&w.cred, juki_host::pin::App::Juki, None))
        .unwrap_err();
    assert!(matches!(err, Error::CardNotAuthenticated(_)), "{err}");
}

#[test]
fn a_rewritten_key_or_4_info_under_protection_certifies_nothing() {
    for ins in [0x46u8, 0xB0] {
        // The reader flips a byte of the card's protected answer to GENERATE ASYMMETRIC KEY PAIR
        // (its public key) or to READ BINARY (the 4 info): it cannot forge the protection.
        let w = world();
        let mut s = w.session();
        let mut card = tamper(&w.image, move |apdu, mut answer| {
            if apdu.first().is_some_and(|c| c & 0x0C == 0x0C) && apdu.get(1) == Some(&ins) {
                if let Some(b) = answer.get_mut(4) {
                    *b ^= 0x01;
                }
            }
            answer
        });
        let err = s
            .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
            .unwrap_err();
        assert!(
            matches!(err.host(), Some(Error::OutcomeUnknown(_))),
            "INS {ins:02X}: {err}"
        );
        let issued = w.ca().certificates_of("JK-0009").unwrap();
        assert!(
            issued.iter().all(|r| r.revoked.is_some()),
            "INS {ins:02X}: no valid certificate: {issued:?}"
        );
    }
}

#[test]
fn the_4_info_never_crosses_the_reader_in_clear() {
    let w = world();
    let mut s = w.session();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<u8>::new()));
    let log = seen.clone();
    let mut card = tamper(&w.image, move |apdu, answer| {
        log.borrow_mut().extend_from_slice(apdu);
        log.borrow_mut().extend_from_slice(&answer);
        answer
    });
    let id = s
        .identify(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap();
    assert_eq!(id.resident.info.name, "住基 一郎");
    let wire = seen.borrow();
    for secret in ["住基 一郎", "東京都千代田区"] {
        assert!(
            !wire.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} crossed the reader in clear"
        );
    }
}

// ---------------------------------------------------------------- forged refusal

/// Replaces the card's protected answer to DEACTIVATE FILE (`0C 04`) with a plain `6982`.
fn forge_refusal(apdu: &[u8], answer: Vec<u8>) -> Vec<u8> {
    if apdu.starts_with(&[0x0C, 0x04]) {
        vec![0x69, 0x82]
    } else {
        answer
    }
}

#[test]
fn a_forged_refusal_leaves_the_operation_pending_until_the_card_says() {
    let w = world();
    let mut s = w.session();
    let mut card = tamper(&w.image, forge_refusal);
    let err = s.suspend(&mut card, &w.cred, Some("紛失")).unwrap_err();
    assert!(
        matches!(err.host(), Some(Error::OutcomeUnknown(_))),
        "{err}"
    );
    drop(card);
    // The card did it; nothing records it as refused: the operation is pending.
    let mut plain = JukiCard::new(SimTransport::open(&w.image).unwrap());
    assert_eq!(plain.lifecycle().unwrap(), Lifecycle::Suspended);
    drop(plain);
    let open = s.db().journal().unfinished().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].operation, Operation::Suspend);
    assert_eq!(
        s.db().registry().card("JK-0009").unwrap().unwrap().state,
        CardState::Issued
    );
    let history = s.db().audit().show("JK-0009").unwrap();
    assert!(
        history
            .iter()
            .all(|r| r.operation != "suspend" || r.outcome.kind() != "refused"),
        "{history:?}"
    );
    // A reader forging the card's state cannot close it either: a plain FCI saying "issued"
    // proves nothing, and without a card that proves itself the clerk's resolution is "not
    // confirmed".
    let mut liar = tamper(&w.image, |apdu, answer| {
        if apdu.get(1) == Some(&0x82) {
            vec![0x69, 0x82]
        } else {
            answer
        }
    });
    let resolved = s
        .resolve(open[0].id, "card checked", Some((&mut liar, &w.cred)))
        .unwrap();
    assert!(
        matches!(resolved.outcome, Outcome::Failed(_)),
        "{:?}",
        resolved.outcome
    );
    assert_eq!(
        s.db().registry().card("JK-0009").unwrap().unwrap().state,
        CardState::Issued
    );
    drop(liar);
    // Meanwhile the card and the registry disagree: the counter refuses to go on.
    let mut card = w.card();
    let err = s.resume(&mut card, &w.cred).unwrap_err();
    assert!(err.to_string().contains("not finished"), "{err}");
}

#[test]
fn a_forged_refusal_is_resolved_from_the_cards_signed_state() {
    let w = world();
    let mut s = w.session();
    let mut card = tamper(&w.image, forge_refusal);
    s.suspend(&mut card, &w.cred, Some("紛失")).unwrap_err();
    drop(card);
    let id = s.db().journal().unfinished().unwrap()[0].id;
    let mut genuine = JukiCard::new(SimTransport::open(&w.image).unwrap());
    let resolved = s
        .resolve(id, "card reads as suspended", Some((&mut genuine, &w.cred)))
        .unwrap();
    assert_eq!(resolved.outcome, Outcome::Ok);
    assert_eq!(
        s.db().registry().card("JK-0009").unwrap().unwrap().state,
        CardState::Suspended
    );
    assert!(resolved.jpki.is_some(), "the suspension's revocation ran");
    assert!(s.db().audit().verify().unwrap().is_intact());
}

// ---------------------------------------------------------------- dates

#[test]
fn a_pre_issued_counter_certificate_locks_no_counter_out() {
    let w = world();
    let m = MunicipalityCode::parse("131016").unwrap();
    // A certificate issued today but effective only in 2031 (after the current one expires),
    // with its key: what an attacker could steal from a counter that prepared its renewal.
    let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let cert = w
        .root
        .certify(
            &m,
            "千代田区",
            key.verifying_key(),
            Date::from_ymd(2031, 4, 1).unwrap(),
            Date::from_ymd(2036, 3, 31).unwrap(),
        )
        .unwrap();
    let future = CounterCredential::new(key, cert, w.root.public_key()).unwrap();
    // The counter's own software refuses it: not yet effective.
    let mut s = w.session();
    let err = s.suspend(&mut w.card(), &future, None).unwrap_err();
    assert!(
        matches!(err, CounterError::CredentialNotValid { .. }),
        "{err}"
    );
    // The card cannot tell (it has no clock) and accepts it, but it moves no date: the current
    // counter still works afterwards.
    let mut card = w.card();
    card.exclusive(|c| c.counter_session(&future, juki_host::pin::App::Juki, None))
        .unwrap();
    card.exclusive(|c| c.counter_session(&w.cred, juki_host::pin::App::Juki, None))
        .unwrap();
    s.suspend(&mut card, &w.cred, None).unwrap();
}

// ---------------------------------------------------------------- cards without a key

#[test]
fn a_card_of_format_1_is_refused_at_the_counter_but_works_for_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("old.img");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors/fixtures/issued-v1.img"),
        &image,
    )
    .unwrap();
    // The fixture's root and counter are the test vectors'.
    use juki_test_vectors::keys;
    let root = *keys::root().verifying_key();
    let cred = CounterCredential::new(keys::counter(), keys::counter_certificate(), root).unwrap();
    let mut card = JukiCard::new(SimTransport::open(&image).unwrap());
    let err = card
        .exclusive(|c| c.counter_session(&cred, juki_host::pin::App::Juki, None))
        .unwrap_err();
    assert!(matches!(err, Error::CardWithoutKey), "{err}");
    assert!(err.to_string().contains("相互認証"), "{err}");
    // The holder still reads and signs.
    let record = card.read_resident(&Pin::from("1357")).unwrap();
    assert_eq!(record.info.name, "住基 花子");
    let hash = [0xAB; 32];
    card.sign_hash(&hash, &Pin::from("JUKI2026")).unwrap();
}

#[test]
fn a_card_of_format_1_is_replaced_through_the_registry() {
    use juki_counter::registry::{NewCard, TerminateReason};
    use juki_host::resident_code::ResidentCode;
    use juki_test_vectors::keys;
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("old.img");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors/fixtures/issued-v1.img"),
        &image,
    )
    .unwrap();
    // The old card is in the registry, as an older juki issued it.
    let code = ResidentCode::parse("12345678903").unwrap();
    let m = MunicipalityCode::parse("131016").unwrap();
    let mut s = w.session();
    s.db()
        .registry()
        .register_card(
            &NewCard {
                serial: "JK0000000001",
                resident_code: &code,
                resident_name: "住基 花子",
                issuing_municipality: &m,
                issued: Date::from_ymd(2026, 11, 23).unwrap(),
                expires: Date::from_ymd(2036, 11, 22).unwrap(),
                legal_representative: None,
            },
            CardState::Issued,
        )
        .unwrap();
    // The counter of its root cannot work on it: it cannot prove itself.
    let old_root = *keys::root().verifying_key();
    let cred =
        CounterCredential::new(keys::counter(), keys::counter_certificate(), old_root).unwrap();
    let mut card = JukiCard::new(SimTransport::open(&image).unwrap());
    let err = s.suspend(&mut card, &cred, None).unwrap_err();
    assert!(matches!(err.host(), Some(Error::CardWithoutKey)), "{err}");
    // Refused and audited, under no serial: the card did not prove which card it is.
    let last = s.db().audit().records().unwrap().pop().unwrap();
    assert_eq!(
        (last.operation.as_str(), last.outcome.kind()),
        ("suspend", "refused")
    );
    assert_eq!(last.card_serial, None);
    assert_eq!(
        s.db()
            .registry()
            .card("JK0000000001")
            .unwrap()
            .unwrap()
            .state,
        CardState::Issued
    );
    drop(card);
    // The migration: terminated in the registry without the card, then a new card for the
    // same resident.
    let done = s
        .terminate_without_card("JK0000000001", TerminateReason::Returned)
        .unwrap();
    assert_eq!(done.registry.unwrap().state, CardState::Terminated);
    assert!(
        done.record.detail.contains("without the card"),
        "{}",
        done.record.detail
    );
    assert!(s
        .terminate_without_card("JK0000000001", TerminateReason::Returned)
        .is_err());
    let new_image = dir.path().join("new.img");
    let mut new_card = JukiCard::new(SimTransport::create(&new_image).unwrap());
    w.root
        .manufacture(&mut new_card, "JK-NEW-1", today())
        .unwrap();
    let req = IssueRequest {
        name: "住基 花子".into(),
        address: "東京都千代田区霞が関二丁目1番2号".into(),
        birth: Date::from_ymd(1985, 6, 15).unwrap(),
        sex: Sex::Female,
        photo: false,
        serial: None,
        representative: None,
        stay_until: None,
        resident_code: Some(code.clone()),
    };
    let issued = s
        .issue(
            &mut new_card,
            &w.cred,
            &req,
            &mut lines("2580\n1357\nJUKI2026\n"),
            &mut |_| Ok(true),
        )
        .unwrap();
    assert_eq!(issued.preview.code, code);
    assert_eq!(issued.preview.card.serial, "JK-NEW-1");
}

#[test]
fn certificates_carry_the_registrys_4_info_and_a_mismatch_certifies_nothing() {
    use juki_host::resident::FourInfo;
    let w = world();
    let mut s = w.session();
    let code = s
        .db()
        .registry()
        .card("JK-0009")
        .unwrap()
        .unwrap()
        .resident_code;
    let registered = s.db().registry().four_info(&code).unwrap().unwrap();
    assert_eq!(registered.address, "東京都千代田区千代田1-1");
    // The registry says the resident lives elsewhere (a move recorded, the card not yet
    // updated): the card's 4 info is not certified.
    let moved = FourInfo::new(
        &registered.name,
        "大阪府大阪市北区中之島1-3-20",
        registered.birth,
        registered.sex,
    )
    .unwrap();
    s.db().registry().set_four_info(&code, &moved).unwrap();
    let err = s
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap_err();
    assert!(err.to_string().contains("一致しません"), "{err}");
    assert!(w.ca().certificates_of("JK-0009").unwrap().is_empty());
    // Agreeing again, the certificate is issued with the registry's 4 info.
    s.db().registry().set_four_info(&code, &registered).unwrap();
    let issued = s
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    assert!(!issued.sign.serial.is_empty());
    let certs =
        juki_jpki::citizen::sign_certificates(&mut w.card(), &Pin::from("JUKI2026")).unwrap();
    let info = juki_jpki::profile::four_info_of(&certs.cert)
        .unwrap()
        .unwrap();
    assert_eq!(info, registered);
}
