//! The counter's JPKI operations (`Session::jpki_issue`, automatic revocation) and the citizen's
//! (`jpki::citizen`) on an in-process simulated card: what is on the card and in the CA's records
//! afterwards, including when the card refuses half-way.

mod common;

use common::world::{lines, today, world};

use juki_cli::pin_input::Pin;
use juki_counter::ops::JpkiRevocation;
use juki_counter::{CounterDb, Operation, Session, UpdateRequest};
use juki_host::date::Date;
use juki_host::resident::MunicipalityCode;
use juki_host::transport::Transport;
use juki_host::Error;
use juki_jpki::ca::RevocationReason;
use juki_jpki::cms::{self, SignOptions};
use juki_jpki::{citizen, time as jtime, CertKind, JpkiError};

fn noon() -> i64 {
    jtime::start_of_day(today()) + 12 * 3600
}

#[test]
fn issue_sign_and_revoke_on_a_move() {
    let w = world();
    let mut card = w.card();
    // No certificates yet: the citizen is told so, no password try is used.
    let e = citizen::sign_document(&mut card, &Pin::from("JUKI2026"), b"x", opts()).unwrap_err();
    assert!(matches!(e, JpkiError::NoCertificate), "{e}");
    assert_eq!(card.jpki_present().unwrap(), 0);

    let mut s = w.session();
    let issued = s
        .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap();
    assert_eq!(card.jpki_present().unwrap(), 0x0F);
    assert_eq!(issued.record.operation, Operation::JpkiIssue.as_str());
    assert!(issued.superseded.is_empty());
    // The card holds exactly what the CA recorded, for the keys it generated.
    let auth = citizen::auth_certificates(&mut card).unwrap();
    assert_eq!(auth.cert_der, issued.auth.der);
    assert_eq!(
        juki_jpki::validate::public_key(&auth.cert).unwrap(),
        issued.keys.auth
    );
    let sign = citizen::sign_certificates(&mut card, &Pin::from("JUKI2026")).unwrap();
    assert_eq!(sign.cert_der, issued.sign.der);
    assert_eq!(&sign.ca, w.ca().ca_certificate(CertKind::Sign));
    // The signing certificate is not free to read.
    let e = card
        .exclusive(|c| {
            c.select_app(juki_host::pin::App::Jpki)?;
            c.read_file(CertKind::Sign.cert_ef(), 2048)
        })
        .unwrap_err();
    assert_eq!(e.status_word(), Some(0x6982));
    // Valid only until the day before the third anniversary.
    assert_eq!(
        jtime::day_of(issued.sign.not_after),
        Date::from_ymd(2029, 3, 31)
    );

    // Sign on the card; the agency accepts it.
    let doc = "電子申請書".as_bytes();
    let p7s = citizen::sign_document(&mut card, &Pin::from("JUKI2026"), doc, opts()).unwrap();
    let ca = w.ca();
    let crl = ca.crl(CertKind::Sign, noon()).unwrap();
    let v = cms::verify(
        &p7s,
        Some(doc),
        ca.ca_certificate(CertKind::Sign),
        Some(std::slice::from_ref(&crl)),
        noon() + 60,
    )
    .unwrap();
    assert_eq!(v.four_info.name, "住基 一郎");
    // A wrong password signs nothing.
    let e = citizen::sign_document(&mut card, &Pin::from("WRONG999"), doc, opts()).unwrap_err();
    assert_eq!(e.host().and_then(Error::status_word), Some(0x63C4));

    // 転居: the signing certificate is revoked automatically; the auth certificate is not.
    let updated = s
        .update(
            &mut card,
            &w.cred,
            &UpdateRequest {
                address: Some("東京都千代田区永田町1-7-1".into()),
                name: None,
                reason: "転居".into(),
                date: None,
            },
            &mut lines("2580\n"),
        )
        .unwrap();
    let JpkiRevocation::Revoked(list) = &updated.jpki else {
        panic!("expected a revocation, got {:?}", updated.jpki);
    };
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].kind, CertKind::Sign);
    assert_eq!(
        list[0].revoked.map(|r| r.1),
        Some(RevocationReason::FourInfoChanged)
    );
    let registry = s.db().registry().card("JK-0009").unwrap().unwrap();
    assert!(!registry.jpki_revocation_needed);
    let records = w.ca().certificates_of("JK-0009").unwrap();
    let auth_record = records.iter().find(|r| r.kind == CertKind::Auth).unwrap();
    assert!(auth_record.revoked.is_none());
    let crl = w.ca().crl(CertKind::Sign, noon() + 120).unwrap();
    let e = cms::verify(
        &p7s,
        Some(doc),
        ca.ca_certificate(CertKind::Sign),
        Some(&[crl]),
        noon() + 180,
    )
    .unwrap_err();
    assert!(matches!(e, JpkiError::Revoked { .. }), "{e}");

    // Re-issue: the remaining valid auth certificate is superseded.
    let again = s
        .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap();
    assert_eq!(again.superseded.len(), 1);
    assert_eq!(again.superseded[0].serial, auth_record.serial);
    let info = juki_jpki::profile::four_info_of(
        &citizen::sign_certificates(&mut card, &Pin::from("JUKI2026"))
            .unwrap()
            .cert,
    )
    .unwrap()
    .unwrap();
    assert_eq!(info.address, "東京都千代田区永田町1-7-1");

    // Suspension revokes both.
    let done = s.suspend(&mut card, &w.cred, Some("紛失")).unwrap();
    match done.jpki {
        Some(JpkiRevocation::Revoked(list)) => assert_eq!(list.len(), 2),
        other => panic!("{other:?}"),
    }
    // And a suspended card gets no new certificates.
    let e = s
        .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap_err();
    assert!(e.to_string().contains("suspended"), "{e}");
    assert!(s.db().audit().verify().unwrap().is_intact());
}

fn opts() -> SignOptions {
    SignOptions {
        attached: false,
        signing_time: noon(),
    }
}

#[test]
fn certificates_the_card_refuses_are_revoked_at_once() {
    let w = world();
    // A first pair, which the failed re-issue below makes obsolete (its keys are replaced).
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    // A reader that answers the write of the signing certificate with a plain 6581.
    let mut selected = 0;
    let mut card = common::intercept(&w.image, move |apdu, card| {
        if common::update_target(apdu, &mut selected) == Some(CertKind::Sign.cert_ef().fid()) {
            return Ok(vec![0x65, 0x81]);
        }
        card.transmit(apdu)
    });
    let mut s = w.session();
    let e = s
        .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap_err();
    // A plain status word where the card's protected answer was due proves nothing.
    assert!(matches!(e.host(), Some(Error::OutcomeUnknown(_))), "{e}");
    drop(card);
    // The new pair was issued and is revoked (the card never held it), and so is the first
    // pair (its keys were replaced on the card): no certificate is valid.
    let records = w.ca().certificates_of("JK-0009").unwrap();
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.revoked.is_some()), "{records:?}");
    // The card says it holds no certificate.
    let mut card = w.card();
    assert_eq!(card.jpki_present().unwrap(), 0);
    let e = citizen::answer_challenge(&mut card, &Pin::from("1357"), &[7; 32]).unwrap_err();
    assert!(matches!(e, JpkiError::NoCertificate), "{e}");
    // The attempt is not recorded as refused: it stays pending for a clerk to check.
    let open = s.db().journal().unfinished().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].operation, Operation::JpkiIssue);
    let history = s.db().audit().show("JK-0009").unwrap();
    assert!(
        history.iter().all(|r| r.outcome.kind() != "refused"),
        "{history:?}"
    );
    // A retry on a good card works.
    s.jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap();
    assert_eq!(card.jpki_present().unwrap(), 0x0F);
}

#[test]
fn without_a_ca_nothing_is_issued_and_revocation_is_flagged() {
    let w = world();
    let mut card = w.card();
    let mut with_ca = w.session();
    with_ca
        .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap();
    drop(with_ca);
    let m = MunicipalityCode::parse("131016").unwrap();
    let mut s = Session::login(
        CounterDb::open(&w.data).unwrap(),
        &m,
        "tanaka",
        &Pin::from("tanaka-pw1"),
        today(),
    )
    .unwrap();
    let e = s
        .jpki_issue(&mut card, &w.cred, &mut lines("2580\n"))
        .unwrap_err();
    assert!(e.to_string().contains("--ca"), "{e}");
    assert!(s
        .jpki_revoke("JK-0009", RevocationReason::Requested)
        .is_err());
    let done = s.suspend(&mut card, &w.cred, None).unwrap();
    assert!(matches!(done.jpki, Some(JpkiRevocation::Pending(_))));
    assert!(
        s.db()
            .registry()
            .card("JK-0009")
            .unwrap()
            .unwrap()
            .jpki_revocation_needed
    );
    assert!(w
        .ca()
        .certificates_of("JK-0009")
        .unwrap()
        .iter()
        .all(|r| r.revoked.is_none()));
    // Later, with the CA: revoked on request, flag cleared.
    let mut s = s.with_ca(w.ca());
    let list = s
        .jpki_revoke("JK-0009", RevocationReason::Requested)
        .unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        !s.db()
            .registry()
            .card("JK-0009")
            .unwrap()
            .unwrap()
            .jpki_revocation_needed
    );
}
