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
//! signature; the card is finally returned and terminated; both counters' audit trails are
//! verified. Every step states what it expects and checks it: the demo fails (and `juki demo`
//! exits non-zero) as soon as the card or the records do something else.

use std::io::Write;
use std::path::Path;

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256};

use juki_counter::ops::JpkiRevocation;
use juki_counter::registry::{CardState, TerminateReason};
use juki_counter::session::add_first_operator;
use juki_counter::{CounterDb, IssueRequest, Session, UpdateRequest};
use juki_host::authority::{sec1_uncompressed, RootAuthority};
use juki_host::card::{JukiCard, KeyId, Lifecycle, PinStatus};
use juki_host::date::{self, Date};
use juki_host::error::Error;

use crate::failure::{Failure, Result};
use crate::pin_input::{Pin, PinPrompter};
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

const STEPS: usize = 22;

impl Demo<'_> {
    fn step(&mut self, ja: &str, en: &str) {
        self.step += 1;
        let _ = writeln!(self.out, "\n[{}/{STEPS}] {ja} — {en}", self.step);
    }

    fn say(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.out, "      {}", line.as_ref());
    }

    fn ok(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.out, "      ✔ {}", line.as_ref());
    }

    fn fail(&self, what: impl AsRef<str>) -> Failure {
        Error::Protocol(format!("demo step {}: {}", self.step, what.as_ref())).into()
    }

    fn check(&mut self, cond: bool, what: &str) -> Result<()> {
        if cond {
            self.ok(what);
            Ok(())
        } else {
            Err(self.fail(format!("expected: {what}")))
        }
    }

    /// Expects the card to refuse with exactly `sw`.
    fn expect_sw<T, E: Into<Failure>>(
        &mut self,
        result: std::result::Result<T, E>,
        sw: u16,
        meaning: &str,
    ) -> Result<()> {
        match result.map_err(Into::into) {
            Ok(_) => Err(self.fail(format!("expected {sw:04X} ({meaning}), the card said 9000"))),
            Err(e) if e.status_word() == Some(sw) => {
                self.ok(format!("card answered {sw:04X}: {meaning}"));
                self.say(format!("  message shown: {e}"));
                Ok(())
            }
            Err(e) => Err(self.fail(format!("expected {sw:04X} ({meaning}), got: {e}"))),
        }
    }
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
    let _ = writeln!(
        d.out,
        "juki demo: the life of a resident registry card (住基カード) on the built-in simulator"
    );
    let today = date::today_jst()?;

    d.step("国の認証局の鍵を作成", "create the national root key");
    let root = RootAuthority::generate();
    let root_pub = root.public_key();
    d.say(format!(
        "root public key (P-256), fingerprint {}",
        fingerprint(&sec1_uncompressed(&root_pub))
    ));
    d.ok("root key pair made; its private key never goes to any card");

    d.step(
        "千代田区の窓口の証明書を発行",
        "certify the Chiyoda City counter (地方公共団体コード 131016)",
    );
    let chiyoda = MunicipalityCode::parse("131016")?;
    let cred = root.issue_counter_credential(&chiyoda, "千代田区", today, 5)?;
    cred.verify_with_root(&root_pub)?;
    d.say(format!(
        "counter certificate: {} {}, valid {} to {}, {} bytes",
        cred.municipality,
        cred.name,
        date::display(cred.effective),
        date::display(cred.expiry),
        cred.certificate().len()
    ));
    d.ok("certificate signed by the root and checked");
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
    let ca_dir = dir.path().join("jpki-ca");
    let chiyoda_counter = open_counter(&dir.path().join("chiyoda"), &chiyoda, "tanaka", today)?;
    d.say("counter records (registry, audit trail): operator tanaka (田中) logged in");

    d.step(
        "公的個人認証サービスの認証局を用意",
        "the JPKI certification authority: a signing CA and an authentication CA",
    );
    let ca = JpkiCa::init(&ca_dir, jtime::now()?)?;
    for kind in CertKind::ALL {
        let cert = ca.ca_certificate(kind);
        d.say(format!(
            "{}: \"{}\", valid until {}",
            kind.as_str(),
            cert.tbs_certificate.subject,
            jtime::display(jtime::from_x509(&cert.tbs_certificate.validity.not_after))
        ));
    }
    let agency = Agency {
        ca_dir: ca_dir.clone(),
        sign_ca: ca.ca_certificate(CertKind::Sign).clone(),
        auth_ca: ca.ca_certificate(CertKind::Auth).clone(),
    };
    drop(ca);
    d.ok("self-signed CA certificates made: the agencies' trust anchors");
    let mut chiyoda_counter = chiyoda_counter.with_ca(JpkiCa::open(&ca_dir)?);
    d.say("the counter of 千代田区 is connected to the CA");

    d.step("白紙のカードを用意", "a blank card in the simulated reader");
    let image = dir.path().join("demo-card.img");
    let mut card = JukiCard::new(SimTransport::create(&image)?);
    d.say(format!("card image: {}", image.display()));
    let state = card.lifecycle()?;
    d.check(state == Lifecycle::Blank, "the card is blank (未初期化)")?;

    d.step(
        "カードの初期化",
        "initialise the card with the root public key (PUT DATA)",
    );
    let card_key = root.manufacture(&mut card, &juki_host::authority::new_card_serial(), today)?;
    d.say(format!(
        "the card generated its own key, fingerprint {}; the root certified it with the card's \
         serial, and the card took the certificate because it is for that key",
        fingerprint(&sec1_uncompressed(&card_key))
    ));
    let state = card.lifecycle()?;
    d.check(
        state == Lifecycle::Initialised,
        "the card is initialised and waits to be issued",
    )?;

    d.step(
        "窓口でカードを交付",
        "issue the card to a resident at the counter",
    );
    let request = IssueRequest {
        name: "住基 花子".into(),
        address: "東京都千代田区千代田1-1".into(),
        birth: Date::from_ymd(1985, 4, 15).ok_or_else(|| d.fail("sample birth date"))?,
        sex: Sex::Female,
        photo: true,
        serial: None,
        representative: None,
        stay_until: None,
        resident_code: None,
    };
    let juki_pin = Pin::from("2580");
    let sign_pin = Pin::from("JUKI2026");
    d.say(format!("氏名 (name):      {}", request.name));
    d.say(format!("住所 (address):   {}", request.address));
    d.say(format!(
        "生年月日 (birth): {}",
        date::display(request.birth)
    ));
    d.say(format!("性別 (sex):       {}", request.sex));
    d.say("the resident sets the 住基 PIN, the auth PIN and the sign password (not shown)");
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
    d.say(format!(
        "住民票コード (resident code, generated at random): {code}"
    ));
    d.say("key pairs generated on the card; the private keys never leave it");
    let state = card.lifecycle()?;
    d.check(state == Lifecycle::Issued, "the card is issued (交付済み)")?;
    let registered = chiyoda_counter.db().registry().card(&card_info.serial)?;
    d.check(
        registered.is_some_and(|r| r.state == CardState::Issued),
        "the card is in the registry of 千代田区, and the issue is in the audit trail",
    )?;
    let shown = card.card_info()?;
    d.check(
        shown == card_info,
        &format!(
            "card information readable without PIN: serial {}, issued {}, valid until {}",
            shown.serial,
            date::display(shown.issued),
            date::display(shown.expires)
        ),
    )?;

    d.step(
        "窓口とカードの相互認証",
        "the counter and the card prove themselves to each other (相互認証)",
    );
    let proved = card.exclusive(|c| c.counter_session(&cred, juki_host::pin::App::Juki, None))?;
    d.check(
        proved.serial == card_info.serial && proved.lifecycle == Lifecycle::Issued,
        &format!(
            "the card proved it is card {} ({}) with its own key, certified by the national root",
            proved.serial,
            juki_host::card::lifecycle_text(proved.lifecycle)
        ),
    )?;
    let mut hostile = JukiCard::new(KeySwappingReader(card.transport()));
    match hostile.exclusive(|c| c.counter_session(&cred, juki_host::pin::App::Juki, None)) {
        Err(e @ Error::CardNotAuthenticated(_)) => {
            d.ok("a reader that puts its own key in the card's answer is caught: nothing is done");
            d.say(format!("  message shown: {e}"));
        }
        other => return Err(d.fail(format!("a key-swapping reader was not caught: {other:?}"))),
    }
    drop(hostile);

    d.step(
        "電子証明書の発行",
        "the counter issues the JPKI certificates for keys generated on the card",
    );
    d.say("the resident enters the 住基 PIN so that the signing certificate carries the 4 info");
    let jpki = chiyoda_counter.jpki_issue(&mut card, &cred, &mut pin_pad("2580\n"))?;
    for r in [&jpki.sign, &jpki.auth] {
        d.say(format!(
            "{}: serial {}, valid until {}",
            r.kind,
            r.serial,
            jtime::display(r.not_after)
        ));
    }
    d.check(
        card.jpki_present()? == juki_jpki::ALL_PRESENT,
        "both certificates and both CA certificates are on the card",
    )?;
    let auth_certs = citizen::auth_certificates(&mut card)?;
    d.check(
        juki_jpki::validate::public_key(&auth_certs.cert)? == jpki.keys.auth
            && juki_jpki::profile::four_info_of(&auth_certs.cert)?.is_none(),
        "the authentication certificate certifies the card's key and carries no personal data",
    )?;
    let keys = jpki.keys;

    d.step(
        "住基PINで本人確認情報を読む",
        "read the resident data back with the 住基 PIN",
    );
    let refused = card.exclusive(|c| {
        c.select_app(juki_host::pin::App::Juki)?;
        c.read_file(juki_card::files::EfId::FourInfo, 1024)
    });
    d.expect_sw(refused, 0x6982, "without the PIN the 4 info stays closed")?;
    let record = card.read_resident(&juki_pin)?;
    d.say(format!("住民票コード: {}", record.code));
    d.say(format!(
        "氏名: {} / 住所: {}",
        record.info.name, record.info.address
    ));
    d.check(
        record.code == code && record.info == info,
        "resident code and 4 info are exactly what the counter wrote",
    )?;

    d.step(
        "電子申請に署名し、行政機関が検証",
        "sign an e-application (CMS) on the card; the agency verifies it",
    );
    let application = SAMPLE_APPLICATION.as_bytes();
    d.say(format!(
        "SHA-256 of the application: {}",
        hex::encode(Sha256::digest(application))
    ));
    let p7s = e_sign(&mut card, &sign_pin, application)?;
    d.say(format!(
        "CMS SignedData (.p7s), {} bytes, with the signing certificate",
        p7s.len()
    ));
    let verified = agency.verify(&p7s, application)??;
    d.say(format!(
        "the agency reads the signer from the certificate: {} / {}",
        verified.four_info.name, verified.four_info.address
    ));
    d.check(
        verified.four_info == info,
        "signature, chain to the JPKI CA, validity and CRL checked: VALID (署名は有効です)",
    )?;
    let tampered = SAMPLE_APPLICATION.replace("大阪", "京都");
    let r = agency.verify(&p7s, tampered.as_bytes())?;
    d.check(
        matches!(r, Err(JpkiError::Tampered)),
        "an altered application is REJECTED (改ざんを検知)",
    )?;
    let hash: [u8; 32] = Sha256::digest(application).into();
    let public = keys.sign;

    d.step(
        "利用者証明（ログイン）",
        "log in to an online service with the authentication key (利用者証明用電子証明書)",
    );
    let challenge = auth::new_challenge();
    d.say(format!(
        "the service sends a challenge: {}…",
        &hex::encode(&challenge)[..16]
    ));
    let answer = citizen::answer_challenge(&mut card, &Pin::from("1357"), &challenge)?;
    let login = agency.login(&answer, &challenge)?;
    d.check(
        login.is_ok(),
        "the answer matches the challenge and the certificate is valid",
    )?;
    let replay = agency.login(&answer, &auth::new_challenge())?;
    d.check(
        matches!(replay, Err(JpkiError::ChallengeMismatch)),
        "the same answer replayed for another challenge is REJECTED",
    )?;

    d.step(
        "住基PINを3回間違える",
        "enter a wrong 住基 PIN three times (パスワードの入力を3回連続で誤るとロック)",
    );
    let wrong = Pin::from("9630");
    for (sw, meaning) in [
        (0x63C2, "wrong PIN, 2 tries left"),
        (0x63C1, "wrong PIN, 1 try left"),
        (0x63C0, "wrong PIN, 0 tries left: now locked"),
    ] {
        let r = card.verify_pin(PinId::Juki, &wrong);
        d.expect_sw(r, sw, meaning)?;
    }
    let status = card.pin_status(PinId::Juki)?;
    d.check(status == PinStatus::Blocked, "PIN status: locked")?;

    d.step("正しいPINも拒否される", "the right PIN is now refused");
    let r = card.read_resident(&juki_pin);
    d.expect_sw(r, 0x6984, "PIN blocked, even the right one")?;

    d.step(
        "窓口でパスワードを再設定",
        "the counter resets the 住基 PIN (パスワード再設定)",
    );
    d.say("the resident enters a new 住基 PIN on the counter's PIN pad (not shown)");
    let new_pin = Pin::from("4826");
    chiyoda_counter.reset_pin(&mut card, &cred, PinId::Juki, &mut pin_pad("4826\n"))?;
    let status = card.pin_status(PinId::Juki)?;
    d.check(
        status == PinStatus::TriesLeft(3),
        "PIN reset with its full 3 tries",
    )?;
    let record = card.read_resident(&new_pin)?;
    d.check(
        record.code == code,
        "the resident data opens with the new PIN",
    )?;

    d.step(
        "カードを抜き差し",
        "take the card out and put it back (volatile state cleared)",
    );
    card.transport().power_cycle()?;
    let r = card.exclusive(|c| {
        c.select_app(juki_host::pin::App::Jpki)?;
        c.compute_signature(KeyId::Sign, &hash)
    });
    d.expect_sw(
        r,
        0x6982,
        "no signature without the password after a power cycle",
    )?;

    d.step("もう一度署名", "sign again");
    let signature = card.sign_hash(&hash, &sign_pin)?;
    d.check(
        public.verify_prehash(&hash, &signature).is_ok(),
        "the new signature verifies with the same public key",
    )?;

    d.step(
        "紛失の届出で一時停止",
        "the card is reported lost: the counter suspends it (一時停止)",
    );
    let done = chiyoda_counter.suspend(&mut card, &cred, Some("紛失の届出"))?;
    d.check(
        card.lifecycle()? == Lifecycle::Suspended,
        "the card is suspended",
    )?;
    d.check(
        matches!(&done.jpki, Some(JpkiRevocation::Revoked(list)) if list.len() == 2),
        "and both JPKI certificates are revoked at the CA (a finder cannot use them)",
    )?;
    let r = card.read_resident(&new_pin);
    d.expect_sw(
        r,
        0x6283,
        "suspended: the resident data stays closed, no PIN try used",
    )?;
    let r = card.sign_hash(&hash, &sign_pin);
    d.expect_sw(r, 0x6283, "suspended: no signature either")?;
    d.check(
        card.pin_status(PinId::Juki).is_err() && card.card_info()? == card_info,
        "only the card information can still be read",
    )?;

    d.step(
        "見つかったので一時停止を解除",
        "the card is found: the counter lifts the suspension",
    );
    chiyoda_counter.resume(&mut card, &cred)?;
    let record = card.read_resident(&new_pin)?;
    d.check(
        record.code == code,
        "the card works again with the same PIN",
    )?;
    let reissued = chiyoda_counter.jpki_issue(&mut card, &cred, &mut pin_pad("4826\n"))?;
    d.check(
        card.jpki_present()? == juki_jpki::ALL_PRESENT,
        &format!(
            "new JPKI certificates issued (signing {}, authentication {})",
            reissued.sign.serial, reissued.auth.serial
        ),
    )?;
    let p7s = e_sign(&mut card, &sign_pin, application)?;
    d.say("the resident signs the application again with the new certificate");
    let (keys, public) = (reissued.keys, reissued.keys.sign);

    d.step(
        "大阪市北区へ転入・継続利用",
        "the resident moves to Osaka: another municipality's counter updates the same card",
    );
    let kita = MunicipalityCode::parse("271276")?;
    let osaka_cred = root.issue_counter_credential(&kita, "大阪市北区", today, 5)?;
    let mut osaka_counter = open_counter(&dir.path().join("osaka"), &kita, "yamada", today)?
        .with_ca(JpkiCa::open(&ca_dir)?);
    d.say(format!(
        "counter of {} {} (certified by the same national root), operator yamada (山田)",
        osaka_cred.municipality, osaka_cred.name
    ));
    let new_address = "大阪府大阪市北区中之島1-3-20";
    d.say("the resident enters the 住基 PIN so that the counter keeps the rest of the 4 info");
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
    d.check(
        updated.registered_here,
        "a card issued by 千代田区 is served in Osaka and registered there from its data",
    )?;
    let record = card.read_resident(&new_pin)?;
    d.say(format!("住所 (address): {}", record.info.address));
    d.check(
        record.info.address == new_address && record.info.name == info.name,
        "the new address is on the card, the rest of the 4 info unchanged",
    )?;
    d.check(
        record
            .changes
            .address
            .as_ref()
            .is_some_and(|c| c.reason == "転入"),
        "and the change information records the 転入 with its date",
    )?;
    let revoked_now = match &updated.jpki {
        JpkiRevocation::Revoked(list) => list.clone(),
        JpkiRevocation::Pending(why) => return Err(d.fail(format!("not revoked: {why}"))),
    };
    d.check(
        revoked_now.len() == 1 && revoked_now.iter().all(|r| r.kind == CertKind::Sign),
        "the signing certificate (it carries the old address) is revoked automatically",
    )?;

    d.step(
        "失効した証明書の署名は受け付けられない",
        "the agency, with the CA's new CRL, rejects the signature made before the move",
    );
    match agency.verify(&p7s, application)? {
        Err(e @ JpkiError::Revoked { .. }) => {
            d.ok("REJECTED: the certificate is on the CRL");
            d.say(format!("  message shown: {e}"));
        }
        other => return Err(d.fail(format!("expected a revoked certificate, got {other:?}"))),
    }
    let answer = citizen::answer_challenge(&mut card, &Pin::from("1357"), &challenge)?;
    d.check(
        agency.login(&answer, &challenge)?.is_ok(),
        "the authentication certificate carries no address: logging in still works",
    )?;
    let signature = card.sign_hash(&hash, &sign_pin)?;
    d.check(
        card.public_key(KeyId::Sign)? == keys.sign
            && public.verify_prehash(&hash, &signature).is_ok(),
        "the keys stay on the card: a new signing certificate can be issued at the counter",
    )?;

    d.step(
        "カードの返納",
        "the card is returned: the counter terminates it (返納)",
    );
    let done = osaka_counter.terminate(&mut card, &osaka_cred, TerminateReason::Returned)?;
    d.check(
        matches!(&done.jpki, Some(JpkiRevocation::Revoked(list)) if list.len() == 1),
        "the remaining (authentication) certificate is revoked",
    )?;
    d.check(
        card.lifecycle()? == Lifecycle::Terminated,
        "the card is terminated, irreversibly",
    )?;
    let r = card.sign_hash(&hash, &sign_pin);
    d.expect_sw(r, 0x6285, "the signing key is erased")?;
    let r = card.read_resident(&new_pin);
    d.expect_sw(r, 0x6285, "the resident data is erased")?;
    d.check(
        card.card_info()? == card_info,
        "only the card information remains readable",
    )?;
    let r = chiyoda_counter.resume(&mut card, &cred);
    d.check(r.is_err(), "and no counter can bring it back")?;

    d.step(
        "監査記録の検証",
        "both counters' audit trails are intact and tell the card's story",
    );
    for (name, counter) in [
        ("千代田区", &chiyoda_counter),
        ("大阪市北区", &osaka_counter),
    ] {
        let report = counter.db().audit().verify()?;
        let history = counter.db().audit().show(&card_info.serial)?;
        d.say(format!(
            "{name}: {} records, head {}; for this card: {}",
            report.checked,
            report.head,
            history
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
            &format!("{name}: hash chain verified"),
        )?;
    }

    let _ = writeln!(
        d.out,
        "\nDemo finished: all {STEPS} steps behaved as expected (すべての手順が期待どおりに動作しました)."
    );
    Ok(())
}
