//! `juki demo`: the card's whole life on the embedded simulator, with no setup and no input.
//!
//! A national root, a municipality counter credential and the JPKI certification authority are
//! made; a blank card (a temporary card image) is initialised and issued to a sample resident at
//! the counter (registry and audit trail in a temporary counter directory), and its JPKI
//! certificates are issued for keys generated on the card; the data is read back with the 住基
//! PIN; a sample e-application is signed on the card as a CMS signature and accepted by the
//! agency (certificate chain, validity, CRL), an altered copy rejected; the authentication key
//! answers a login challenge; the 住基 PIN is entered wrong three times until it locks, the right
//! PIN is refused, the counter resets it, and the card signs again. Then the card is reported
//! lost and suspended (its certificates revoked), found and resumed (new certificates), the
//! resident moves to Osaka where another municipality's counter serves the same card (継続利用)
//! and the signing certificate is revoked automatically, so that the agency now rejects the
//! signature. Through 住基ネット (a throwaway PostgreSQL and the national server over mutual TLS
//! on loopback, `juki_net::local`), 千代田区 delivers its 新規 and the 転出 that came by post,
//! 大阪市北区 its 転入, and 千代田区 learns the 転出 is completed; an agency confirms the resident,
//! 千代田区 gets the record for a 広域交付, and both registries are compared with the national
//! register. The card is finally returned and terminated; both counters' audit trails are
//! verified. Every step states what it expects and checks it: the demo fails (and `juki demo`
//! exits non-zero) as soon as the card or the records do something else.

use std::io::Write;
use std::path::Path;

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256};

use juki_counter::consistency::{compare, snapshot};
use juki_counter::network::{self, SyncEnd};
use juki_counter::ops::JpkiRevocation;
use juki_counter::registry::{CardState, TerminateReason};
use juki_counter::session::add_first_operator;
use juki_counter::{CounterDb, IssueRequest, Session, UpdateRequest};
use juki_host::authority::{sec1_uncompressed, RootAuthority};
use juki_host::card::{JukiCard, KeyId, Lifecycle, PinStatus};
use juki_host::date::{self, Date};
use juki_host::error::Error;
use juki_net::client::NetClient;
use juki_net::copy;
use juki_net::local::LocalNetwork;
use juki_net::pki::seal::Seal;
use juki_net::pki::Role;
use juki_net::register::Status;

use crate::failure::{message, Failure, Result};
use crate::output::{cert_name, lifecycle, padded, sex};
use crate::pin_input::{Pin, PinPrompter};
use crate::t;
use juki_host::pin::PinId;
use juki_host::resident::{MunicipalityCode, Sex};
use juki_host::sim_transport::SimTransport;
use juki_jpki::ca::JpkiCa;
use juki_jpki::cms::{self, SignOptions};
use juki_jpki::{auth, citizen, time as jtime, CertKind, JpkiError};

/// The sample e-application signed in the demo.
pub const SAMPLE_APPLICATION: &str = "電子申請書 (e-application)\n\
    手続: 転出届 (notification of moving out)\n\
    申請者: 住基 花子\n\
    住所: 東京都千代田区千代田1-1\n\
    転出先: 大阪府大阪市北区中之島1-3-20\n";

struct Demo<'w> {
    out: &'w mut dyn Write,
    step: usize,
}

const STEPS: usize = 23;

/// The purpose the demo's agency asks for (named in its node certificate).
const PENSION_PURPOSE: &str = "年金・恩給の現況確認";

impl Demo<'_> {
    fn step(&mut self, title: String) {
        self.step += 1;
        let _ = writeln!(self.out, "\n[{}/{STEPS}] {title}", self.step);
    }

    fn say(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.out, "      {}", line.as_ref());
    }

    fn ok(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.out, "      ✔ {}", line.as_ref());
    }

    fn fail(&self, what: impl AsRef<str>) -> Failure {
        Failure::Cli(t!("demo-failed", step = self.step, what = what.as_ref()))
    }

    fn check(&mut self, cond: bool, what: impl AsRef<str>) -> Result<()> {
        if cond {
            self.ok(what);
            Ok(())
        } else {
            Err(self.fail(t!("demo-expected", what = what.as_ref())))
        }
    }

    /// Shows the message the user would read for `e`.
    fn shown(&mut self, e: &Failure) {
        self.say(format!(
            "  {}",
            t!("demo-message-shown", message = message(e))
        ));
    }

    /// Expects the card to refuse with exactly `sw`.
    fn expect_sw<T, E: Into<Failure>>(
        &mut self,
        result: std::result::Result<T, E>,
        sw: u16,
        meaning: String,
    ) -> Result<()> {
        let sw_text = format!("{sw:04X}");
        match result.map_err(Into::into) {
            Ok(_) => Err(self.fail(t!(
                "demo-expected-refusal",
                sw = sw_text.as_str(),
                meaning = meaning.as_str(),
                got = "9000"
            ))),
            Err(e) if e.status_word() == Some(sw) => {
                self.ok(t!(
                    "demo-card-answered",
                    sw = sw_text.as_str(),
                    meaning = meaning.as_str()
                ));
                self.shown(&e);
                Ok(())
            }
            Err(e) => Err(self.fail(t!(
                "demo-expected-refusal",
                sw = sw_text.as_str(),
                meaning = meaning.as_str(),
                got = message(&e)
            ))),
        }
    }
}

/// `label: value`, aligned like the CLI's other output.
fn padded_field(label: String, value: impl std::fmt::Display) -> String {
    format!("{}{value}", padded(&label))
}

/// A hostile reader for the demo: it puts its own ephemeral key in the card's answer to the
/// counter's authentication, to read the counter's session itself.
struct KeySwappingReader<'a>(&'a mut SimTransport);

impl juki_host::transport::Transport for KeySwappingReader<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> juki_host::Result<Vec<u8>> {
        let mut answer = self.0.transmit(apdu)?;
        if apdu.get(1) == Some(&0x82) {
            let own = p256::SecretKey::random(&mut rand_core::OsRng).public_key();
            let own = sec1_uncompressed(&p256::ecdsa::VerifyingKey::from(own));
            if let Some(at) = answer
                .windows(5)
                .position(|w| w == [0x7F, 0x49, 0x43, 0x86, 0x41])
            {
                if let Some(point) = answer.get_mut(at + 5..at + 70) {
                    point.copy_from_slice(&own);
                }
            }
        }
        Ok(answer)
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
        "a key-swapping reader".into()
    }
}

/// The receiving agency and the online service: they trust the JPKI CA certificates and fetch
/// the CA's current CRL for every check.
struct Agency {
    ca_dir: std::path::PathBuf,
    sign_ca: x509_cert::Certificate,
    auth_ca: x509_cert::Certificate,
}

impl Agency {
    fn crl(&self, kind: CertKind) -> Result<x509_cert::crl::CertificateList> {
        Ok(JpkiCa::open(&self.ca_dir)?.crl(kind, jtime::now()?)?)
    }

    /// The verdict on a signed application (outer error: the CA could not be read).
    fn verify(
        &self,
        p7s: &[u8],
        doc: &[u8],
    ) -> Result<std::result::Result<cms::Verified, JpkiError>> {
        let crl = self.crl(CertKind::Sign)?;
        Ok(cms::verify(
            p7s,
            Some(doc),
            &self.sign_ca,
            Some(std::slice::from_ref(&crl)),
            jtime::now()?,
        ))
    }

    /// The verdict on a login answer.
    fn login(
        &self,
        answer: &auth::Answer,
        challenge: &[u8],
    ) -> Result<std::result::Result<juki_jpki::validate::Checked, JpkiError>> {
        let crl = self.crl(CertKind::Auth)?;
        Ok(auth::verify(
            answer,
            challenge,
            &self.auth_ca,
            Some(std::slice::from_ref(&crl)),
            jtime::now()?,
        ))
    }
}

/// The resident signs `doc` (detached CMS) on the card.
fn e_sign(card: &mut JukiCard<SimTransport>, password: &Pin, doc: &[u8]) -> Result<Vec<u8>> {
    Ok(citizen::sign_document(
        card,
        password,
        doc,
        SignOptions {
            attached: false,
            signing_time: jtime::now()?,
        },
    )?)
}

/// What the resident types on the counter's PIN pad, one secret per line (the demo's stand-in for
/// a person at the keyboard).
fn pin_pad(lines: &str) -> PinPrompter {
    PinPrompter::scripted(lines)
}

/// A counter's data directory with its first operator, logged in.
fn open_counter(
    dir: &Path,
    municipality: &MunicipalityCode,
    operator: &str,
    today: Date,
) -> Result<Session> {
    let password = Pin::from("demo-operator-password");
    let db = CounterDb::open(dir)?;
    add_first_operator(&db, municipality, operator, &password)?;
    Ok(Session::login(
        db,
        municipality,
        operator,
        &password,
        today,
    )?)
}

fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// Runs the demo, printing each step to `out`. `Ok` only if every step behaved as expected.
pub fn run(out: &mut dyn Write) -> Result<()> {
    let mut d = Demo { out, step: 0 };
    let _ = writeln!(d.out, "{}", t!("demo-title"));
    let today = date::today_jst()?;

    d.step(t!("demo-step-1"));
    let root = RootAuthority::generate();
    let root_pub = root.public_key();
    d.say(t!(
        "demo-root-public-key",
        fingerprint = fingerprint(&sec1_uncompressed(&root_pub))
    ));
    d.ok(t!("demo-root-made"));

    d.step(t!("demo-step-2"));
    let chiyoda = MunicipalityCode::parse("131016")?;
    let cred = root.issue_counter_credential(&chiyoda, "千代田区", today, 5)?;
    cred.verify_with_root(&root_pub)?;
    d.say(t!(
        "demo-counter-certificate",
        municipality = cred.municipality.to_string(),
        name = cred.name.as_str(),
        from = date::display(cred.effective),
        until = date::display(cred.expiry),
        bytes = cred.certificate().len()
    ));
    d.ok(t!("demo-counter-cert-checked"));
    let dir = tempfile::tempdir().map_err(|e| Error::io(t!("demo-temp-dir"), e))?;
    let ca_dir = dir.path().join("jpki-ca");
    let chiyoda_counter = open_counter(&dir.path().join("chiyoda"), &chiyoda, "tanaka", today)?;
    d.say(t!("demo-counter-records"));

    d.step(t!("demo-step-3"));
    let ca = JpkiCa::init(&ca_dir, jtime::now()?)?;
    for kind in CertKind::ALL {
        let cert = ca.ca_certificate(kind);
        d.say(t!(
            "demo-ca-certificate",
            kind = cert_name(kind),
            subject = cert.tbs_certificate.subject.to_string(),
            until = jtime::display(jtime::from_x509(&cert.tbs_certificate.validity.not_after))
        ));
    }
    let agency = Agency {
        ca_dir: ca_dir.clone(),
        sign_ca: ca.ca_certificate(CertKind::Sign).clone(),
        auth_ca: ca.ca_certificate(CertKind::Auth).clone(),
    };
    drop(ca);
    d.ok(t!("demo-ca-made"));
    let mut chiyoda_counter = chiyoda_counter.with_ca(JpkiCa::open(&ca_dir)?);
    d.say(t!("demo-counter-connected"));

    d.step(t!("demo-step-4"));
    let image = dir.path().join("demo-card.img");
    let mut card = JukiCard::new(SimTransport::create(&image)?);
    d.say(t!("demo-card-image", path = image.display().to_string()));
    let state = card.lifecycle()?;
    d.check(state == Lifecycle::Blank, t!("demo-card-blank"))?;

    d.step(t!("demo-step-5"));
    let card_key = root.manufacture(&mut card, &juki_host::authority::new_card_serial(), today)?;
    d.say(t!(
        "demo-card-key",
        fingerprint = fingerprint(&sec1_uncompressed(&card_key))
    ));
    let state = card.lifecycle()?;
    d.check(state == Lifecycle::Initialised, t!("demo-card-initialised"))?;

    d.step(t!("demo-step-6"));
    let request = IssueRequest {
        name: "住基 花子".into(),
        address: "東京都千代田区千代田1-1".into(),
        birth: Date::from_ymd(1985, 4, 15).ok_or_else(|| d.fail("1985-04-15"))?,
        sex: Sex::Female,
        photo: true,
        serial: None,
        representative: None,
        stay_until: None,
        resident_code: None,
    };
    let juki_pin = Pin::from("2580");
    let sign_pin = Pin::from("JUKI2026");
    d.say(padded_field(t!("label-name"), &request.name));
    d.say(padded_field(t!("label-address"), &request.address));
    d.say(padded_field(
        t!("label-birth"),
        date::display(request.birth),
    ));
    d.say(padded_field(t!("label-sex"), sex(request.sex)));
    d.say(t!("demo-resident-sets-pins"));
    let issued = chiyoda_counter.issue(
        &mut card,
        &cred,
        &request,
        &mut pin_pad("2580\n1357\nJUKI2026\n"),
        &mut |_| Ok(true),
    )?;
    let code = issued.preview.code.clone();
    let info = issued.preview.info.clone();
    let card_info = issued.preview.card.clone();
    d.say(padded_field(
        t!("label-resident-code"),
        t!("counter-code-generated", code = code.to_string()),
    ));
    d.say(t!("demo-keys-on-card"));
    let state = card.lifecycle()?;
    d.check(state == Lifecycle::Issued, t!("demo-card-issued"))?;
    let registered = chiyoda_counter.db().registry().card(&card_info.serial)?;
    d.check(
        registered.is_some_and(|r| r.state == CardState::Issued),
        t!("demo-card-registered"),
    )?;
    let shown = card.card_info()?;
    d.check(
        shown == card_info,
        t!(
            "demo-card-info",
            serial = shown.serial.as_str(),
            issued = date::display(shown.issued),
            until = date::display(shown.expires)
        ),
    )?;

    d.step(t!("demo-step-7"));
    let proved = card.exclusive(|c| c.counter_session(&cred, juki_host::pin::App::Juki, None))?;
    d.check(
        proved.serial == card_info.serial && proved.lifecycle == Lifecycle::Issued,
        t!(
            "demo-card-proved",
            serial = proved.serial.as_str(),
            state = lifecycle(proved.lifecycle)
        ),
    )?;
    let mut hostile = JukiCard::new(KeySwappingReader(card.transport()));
    match hostile.exclusive(|c| c.counter_session(&cred, juki_host::pin::App::Juki, None)) {
        Err(e @ Error::CardNotAuthenticated(_)) => {
            d.ok(t!("demo-key-swap-caught"));
            d.shown(&e.into());
        }
        other => return Err(d.fail(format!("{other:?}"))),
    }
    drop(hostile);

    d.step(t!("demo-step-8"));
    d.say(t!("demo-pin-for-jpki"));
    let jpki = chiyoda_counter.jpki_issue(&mut card, &cred, &mut pin_pad("2580\n"))?;
    for r in [&jpki.sign, &jpki.auth] {
        d.say(t!(
            "demo-cert-issued",
            kind = cert_name(r.kind),
            serial = r.serial.as_str(),
            until = jtime::display(r.not_after)
        ));
    }
    d.check(
        card.jpki_present()? == juki_jpki::ALL_PRESENT,
        t!("demo-certs-on-card"),
    )?;
    let auth_certs = citizen::auth_certificates(&mut card)?;
    d.check(
        juki_jpki::validate::public_key(&auth_certs.cert)? == jpki.keys.auth
            && juki_jpki::profile::four_info_of(&auth_certs.cert)?.is_none(),
        t!("demo-auth-cert-no-data"),
    )?;
    let keys = jpki.keys;

    d.step(t!("demo-step-9"));
    let refused = card.exclusive(|c| {
        c.select_app(juki_host::pin::App::Juki)?;
        c.read_file(juki_card::files::EfId::FourInfo, 1024)
    });
    d.expect_sw(refused, 0x6982, t!("demo-no-pin-closed"))?;
    let record = card.read_resident(&juki_pin)?;
    d.say(padded_field(t!("label-resident-code"), &record.code));
    d.say(padded_field(t!("label-name"), &record.info.name));
    d.say(padded_field(t!("label-address"), &record.info.address));
    d.check(
        record.code == code && record.info == info,
        t!("demo-data-matches"),
    )?;

    d.step(t!("demo-step-10"));
    let application = SAMPLE_APPLICATION.as_bytes();
    d.say(t!(
        "demo-application-hash",
        sha256 = hex::encode(Sha256::digest(application))
    ));
    let p7s = e_sign(&mut card, &sign_pin, application)?;
    d.say(t!("demo-signed-data", bytes = p7s.len()));
    let verified = agency.verify(&p7s, application)??;
    d.say(t!(
        "demo-agency-reads-signer",
        name = verified.four_info.name.as_str(),
        address = verified.four_info.address.as_str()
    ));
    d.check(verified.four_info == info, t!("demo-signature-valid"))?;
    let tampered = SAMPLE_APPLICATION.replace("大阪", "京都");
    let r = agency.verify(&p7s, tampered.as_bytes())?;
    d.check(
        matches!(r, Err(JpkiError::Tampered)),
        t!("demo-tamper-rejected"),
    )?;
    let hash: [u8; 32] = Sha256::digest(application).into();
    let public = keys.sign;

    d.step(t!("demo-step-11"));
    let challenge = auth::new_challenge();
    d.say(t!(
        "demo-challenge",
        challenge = hex::encode(&challenge)[..16].to_string()
    ));
    let answer = citizen::answer_challenge(&mut card, &Pin::from("1357"), &challenge)?;
    let login = agency.login(&answer, &challenge)?;
    d.check(login.is_ok(), t!("demo-login-ok"))?;
    let replay = agency.login(&answer, &auth::new_challenge())?;
    d.check(
        matches!(replay, Err(JpkiError::ChallengeMismatch)),
        t!("demo-replay-rejected"),
    )?;

    d.step(t!("demo-step-12"));
    let wrong = Pin::from("9630");
    for (sw, meaning) in [
        (0x63C2, t!("demo-wrong-pin-2")),
        (0x63C1, t!("demo-wrong-pin-1")),
        (0x63C0, t!("demo-wrong-pin-0")),
    ] {
        let r = card.verify_pin(PinId::Juki, &wrong);
        d.expect_sw(r, sw, meaning)?;
    }
    let status = card.pin_status(PinId::Juki)?;
    d.check(status == PinStatus::Blocked, t!("demo-pin-locked"))?;

    d.step(t!("demo-step-13"));
    let r = card.read_resident(&juki_pin);
    d.expect_sw(r, 0x6984, t!("demo-pin-blocked"))?;

    d.step(t!("demo-step-14"));
    d.say(t!("demo-new-pin"));
    let new_pin = Pin::from("4826");
    chiyoda_counter.reset_pin(&mut card, &cred, PinId::Juki, &mut pin_pad("4826\n"))?;
    let status = card.pin_status(PinId::Juki)?;
    d.check(status == PinStatus::TriesLeft(3), t!("demo-pin-reset"))?;
    let record = card.read_resident(&new_pin)?;
    d.check(record.code == code, t!("demo-new-pin-works"))?;

    d.step(t!("demo-step-15"));
    card.transport().power_cycle()?;
    let r = card.exclusive(|c| {
        c.select_app(juki_host::pin::App::Jpki)?;
        c.compute_signature(KeyId::Sign, &hash)
    });
    d.expect_sw(r, 0x6982, t!("demo-no-sign-after-reset"))?;

    d.step(t!("demo-step-16"));
    let signature = card.sign_hash(&hash, &sign_pin)?;
    d.check(
        public.verify_prehash(&hash, &signature).is_ok(),
        t!("demo-sign-again-ok"),
    )?;

    d.step(t!("demo-step-17"));
    let done = chiyoda_counter.suspend(&mut card, &cred, Some("紛失の届出"))?;
    d.check(
        card.lifecycle()? == Lifecycle::Suspended,
        t!("demo-card-suspended"),
    )?;
    d.check(
        matches!(&done.jpki, Some(JpkiRevocation::Revoked(list)) if list.len() == 2),
        t!("demo-suspend-revoked"),
    )?;
    let r = card.read_resident(&new_pin);
    d.expect_sw(r, 0x6283, t!("demo-suspended-closed"))?;
    let r = card.sign_hash(&hash, &sign_pin);
    d.expect_sw(r, 0x6283, t!("demo-suspended-no-sign"))?;
    d.check(
        card.pin_status(PinId::Juki).is_err() && card.card_info()? == card_info,
        t!("demo-card-info-only"),
    )?;

    d.step(t!("demo-step-18"));
    chiyoda_counter.resume(&mut card, &cred)?;
    let record = card.read_resident(&new_pin)?;
    d.check(record.code == code, t!("demo-card-works-again"))?;
    let reissued = chiyoda_counter.jpki_issue(&mut card, &cred, &mut pin_pad("4826\n"))?;
    d.check(
        card.jpki_present()? == juki_jpki::ALL_PRESENT,
        t!(
            "demo-new-certs",
            sign = reissued.sign.serial.as_str(),
            auth = reissued.auth.serial.as_str()
        ),
    )?;
    let p7s = e_sign(&mut card, &sign_pin, application)?;
    d.say(t!("demo-sign-with-new-cert"));
    let (keys, public) = (reissued.keys, reissued.keys.sign);

    d.step(t!("demo-step-19"));
    let kita = MunicipalityCode::parse("271276")?;
    let osaka_cred = root.issue_counter_credential(&kita, "大阪市北区", today, 5)?;
    let mut osaka_counter = open_counter(&dir.path().join("osaka"), &kita, "yamada", today)?
        .with_ca(JpkiCa::open(&ca_dir)?);
    d.say(t!(
        "demo-osaka-counter",
        municipality = osaka_cred.municipality.to_string(),
        name = osaka_cred.name.as_str()
    ));
    // 住基ネット: the national server (PostgreSQL, mutual TLS 1.3); 千代田区 delivers its
    // queue, with the 転出届 that came by post.
    let mut net = LocalNetwork::start(&dir.path().join("juki-net"))
        .map_err(|e| d.fail(t!("demo-net-unavailable", detail = e.to_string())))?;
    d.say(t!("demo-net-started", address = net.address()));
    let node = |name: &str, role: Role| {
        net.node(name, &role)
            .map_err(|e| Failure::Cli(e.to_string()))
            .and_then(|dir| Ok(NetClient::from_dir(&dir, &net.address())?))
    };
    let mut chiyoda_net = node("chiyoda", Role::Municipality(chiyoda.clone()))?;
    let mut osaka_net = node("osaka", Role::Municipality(kita.clone()))?;
    let moved = chiyoda_counter.move_out(&code, &kita, None)?;
    d.say(t!("demo-move-out-recorded", seq = moved.seq));
    let now = juki_host::clock::now()?;
    let report = network::sync(chiyoda_counter.db_mut(), &mut chiyoda_net, now)?;
    d.check(
        report.end == SyncEnd::UpToDate,
        t!(
            "demo-net-delivered",
            name = "千代田区",
            count = report.delivered.len()
        ),
    )?;
    let national = net
        .block_on(net.register().resident(&code))
        .map_err(|e| d.fail(e.to_string()))?;
    d.check(
        national.is_some_and(|r| r.status == Status::MovingOut { to: kita.clone() }),
        t!("demo-net-moving-out"),
    )?;
    let new_address = "大阪府大阪市北区中之島1-3-20";
    d.say(t!("demo-pin-for-update"));
    let updated = osaka_counter.update(
        &mut card,
        &osaka_cred,
        &UpdateRequest {
            address: Some(new_address.into()),
            name: None,
            reason: "転入".into(),
            date: None,
        },
        &mut pin_pad("4826\n"),
    )?;
    d.check(updated.registered_here, t!("demo-served-in-osaka"))?;
    let record = card.read_resident(&new_pin)?;
    d.say(padded_field(t!("label-address"), &record.info.address));
    d.check(
        record.info.address == new_address && record.info.name == info.name,
        t!("demo-new-address"),
    )?;
    d.check(
        record
            .changes
            .address
            .as_ref()
            .is_some_and(|c| c.reason == "転入"),
        t!("demo-change-recorded"),
    )?;
    let revoked_now = match &updated.jpki {
        JpkiRevocation::Revoked(list) => list.clone(),
        JpkiRevocation::Pending(why) => return Err(d.fail(why)),
    };
    d.check(
        revoked_now.len() == 1 && revoked_now.iter().all(|r| r.kind == CertKind::Sign),
        t!("demo-sign-cert-revoked"),
    )?;
    let report = network::sync(osaka_counter.db_mut(), &mut osaka_net, now)?;
    d.check(
        report.end == SyncEnd::UpToDate,
        t!(
            "demo-net-delivered",
            name = "大阪市北区",
            count = report.delivered.len()
        ),
    )?;
    let departures = network::receive_departures(chiyoda_counter.db_mut(), &mut chiyoda_net)?;
    d.check(departures.completed == 1, t!("demo-net-departure"))?;

    d.step(t!("demo-step-20"));
    match agency.verify(&p7s, application)? {
        Err(e @ JpkiError::Revoked { .. }) => {
            d.ok(t!("demo-revoked-rejected"));
            d.shown(&e.into());
        }
        other => return Err(d.fail(format!("{other:?}"))),
    }
    let answer = citizen::answer_challenge(&mut card, &Pin::from("1357"), &challenge)?;
    d.check(
        agency.login(&answer, &challenge)?.is_ok(),
        t!("demo-login-still-works"),
    )?;
    let signature = card.sign_hash(&hash, &sign_pin)?;
    d.check(
        card.public_key(KeyId::Sign)? == keys.sign
            && public.verify_prehash(&hash, &signature).is_ok(),
        t!("demo-keys-stay"),
    )?;

    d.step(t!("demo-step-21"));
    let mut pension = node(
        "pension",
        Role::Agency {
            name: "日本年金機構".into(),
            purposes: vec![PENSION_PURPOSE.into()],
        },
    )?;
    let confirmed = pension.confirm(&code, PENSION_PURPOSE)?;
    d.say(padded_field(
        t!("label-address"),
        &confirmed.resident.info.address,
    ));
    d.check(
        confirmed.resident.info.address == new_address && confirmed.resident.municipality == kita,
        t!("demo-net-confirmed"),
    )?;
    // 広域交付: at 千代田区's counter the resident proves who they are with card and 住基 PIN;
    // the counter gets their 本人確認情報 from the network and seals the copy with its 電子公印.
    let net_now = juki_net::pki::now();
    let chiyoda_node = net
        .node("chiyoda", &Role::Municipality(chiyoda.clone()))
        .map_err(|e| d.fail(e.to_string()))?;
    net.ca()
        .issue_seal(&chiyoda, "千代田区", 30, net_now, &chiyoda_node)?;
    let seal = Seal::load(&chiyoda_node)?;
    let issued = chiyoda_counter.wide_area_copy(
        &mut card,
        &cred,
        &mut pin_pad("4826\n"),
        &seal,
        net_now,
        |c| chiyoda_net.copy(c),
    )?;
    d.check(
        issued.card_agrees && issued.copy.resident.info.address == new_address,
        t!("demo-net-copy"),
    )?;
    let crls = [net.ca().crl(net_now)?];
    let verified = copy::verify(&issued.p7s, net.ca().certificate(), Some(&crls), net_now)?;
    for line in verified.text.lines().filter(|l| !l.is_empty()) {
        d.say(format!("│ {line}"));
    }
    d.check(
        verified.copy == issued.copy,
        t!("demo-copy-verified", number = issued.copy.number_text()),
    )?;
    let mut forged = issued.p7s.clone();
    let at = forged
        .windows(new_address.len())
        .position(|w| w == new_address.as_bytes())
        .ok_or_else(|| d.fail("the address is not in the copy"))?;
    forged[at + new_address.len() - 1] ^= 0x01;
    match copy::verify(&forged, net.ca().certificate(), Some(&crls), net_now) {
        Err(e) => {
            d.ok(t!("demo-copy-forged-rejected"));
            d.shown(&e.into());
        }
        Ok(_) => return Err(d.fail("a rewritten copy was accepted")),
    }
    let provisions = net
        .block_on(net.register().provisions_of(&code))
        .map_err(|e| d.fail(e.to_string()))?;
    d.check(
        provisions.len() == 2,
        t!("demo-net-provisions", count = provisions.len()),
    )?;
    // 開示請求: the resident asks the server for their provisions with the card's
    // authentication key, and checks each against the signed provision log.
    let public = net
        .serve_residents(&ca_dir)
        .map_err(|e| d.fail(e.to_string()))?;
    net.append_log().map_err(|e| d.fail(e.to_string()))?;
    let log_key = juki_net::provision_log::load_public_key(
        &net.server_dir().join(juki_net::provision_log::LOG_PUB_FILE),
    )
    .map_err(|e| d.fail(e.to_string()))?;
    // 千代田区's counter, a monitor of the log, checks it; the head it accepted is handed to
    // the resident as a witness: the log the resident is shown must be that one, grown.
    juki_counter::log_watch::check_log(
        chiyoda_counter.db_mut(),
        &mut chiyoda_net,
        Some(&log_key),
        juki_host::clock::now()?,
    )?;
    let mut seen = juki_net::citizen::Seen::new();
    let witness = juki_counter::log_watch::kept_head(chiyoda_counter.db())?
        .map(|kept| juki_log::SignedTreeHead::from_text(&kept.head))
        .transpose()
        .map_err(|e| d.fail(e.to_string()))?;
    if let Some(head) = &witness {
        seen.witness(head.clone());
    }
    let disclosed = juki_net::citizen::request(
        &public,
        &dir.path().join("juki-net").join("ca").join("ca.pem"),
        &log_key,
        &seen,
        |challenge| {
            citizen::answer_challenge(&mut card, &Pin::from("1357"), challenge)
                .and_then(|a| a.to_pem())
                .map_err(|e| e.to_string())
        },
    )?;
    for p in &disclosed.provisions {
        d.say(format!(
            "│ {} {} ({})",
            juki_jpki::time::display(p.record.at),
            p.record.agency,
            p.record.purpose
        ));
    }
    d.check(
        disclosed.resident.code == code
            && disclosed.provisions.len() == 2
            && disclosed
                .provisions
                .iter()
                .all(|p| p.record.resident == code.as_str()),
        t!("demo-disclosure", count = disclosed.provisions.len()),
    )?;
    if let (Some(witness), Some(head)) = (&witness, &disclosed.head) {
        d.ok(t!(
            "demo-disclosure-witness",
            seen = witness.head.size,
            size = head.head.size
        ));
    }
    for (name, counter) in [
        ("千代田区", &chiyoda_counter),
        ("大阪市北区", &osaka_counter),
    ] {
        let held = snapshot(counter.db())?;
        let national = net
            .block_on(net.register().residents_of(&held.municipality))
            .map_err(|e| d.fail(e.to_string()))?;
        let mismatches = compare(&held.residents, &national);
        d.check(
            held.waiting == 0 && mismatches.is_empty(),
            t!("demo-net-agree", name = name, residents = national.len()),
        )?;
    }

    d.step(t!("demo-step-22"));
    let done = osaka_counter.terminate(&mut card, &osaka_cred, TerminateReason::Returned)?;
    d.check(
        matches!(&done.jpki, Some(JpkiRevocation::Revoked(list)) if list.len() == 1),
        t!("demo-remaining-revoked"),
    )?;
    d.check(
        card.lifecycle()? == Lifecycle::Terminated,
        t!("demo-card-terminated"),
    )?;
    let r = card.sign_hash(&hash, &sign_pin);
    d.expect_sw(r, 0x6285, t!("demo-sign-key-erased"))?;
    let r = card.read_resident(&new_pin);
    d.expect_sw(r, 0x6285, t!("demo-data-erased"))?;
    d.check(card.card_info()? == card_info, t!("demo-card-info-remains"))?;
    let r = chiyoda_counter.resume(&mut card, &cred);
    d.check(r.is_err(), t!("demo-no-way-back"))?;

    d.step(t!("demo-step-23"));
    for (name, counter) in [
        ("千代田区", &chiyoda_counter),
        ("大阪市北区", &osaka_counter),
    ] {
        let report = counter.db().audit().verify()?;
        let history = counter.db().audit().show(&card_info.serial)?;
        d.say(t!(
            "demo-audit-summary",
            name = name,
            records = report.checked,
            head = report.head.to_string(),
            history = history
                .iter()
                .map(|r| if r.outcome.is_ok() {
                    r.operation.clone()
                } else {
                    format!("{} ({})", r.operation, r.outcome.kind())
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
        d.check(
            report.fault.is_none() && !history.is_empty(),
            t!("demo-hash-chain-verified", name = name),
        )?;
    }

    let _ = writeln!(d.out, "\n{}", t!("demo-finished", steps = STEPS));
    Ok(())
}
