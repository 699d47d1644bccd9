//! The counter operations library (`juki_counter::ops`) on an in-process simulated card:
//! what happens when the process dies between the card step and the records, and the journal
//! that reports it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use juki_cli::pin_input::Pin;
use juki_counter::journal::JournalState;
use juki_counter::registry::CardState;
use juki_counter::{CounterDb, Operation, Outcome, Session};
use juki_host::authority::RootAuthority;
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::resident::MunicipalityCode;
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;
use juki_host::Result;

mod common;

use common::world::{today, world, World};

/// A transport that "kills the process" (panics) right after the card answered the command with
/// instruction `ins`: the card step is done, the records are not.
struct DiesAfter<T> {
    inner: T,
    ins: u8,
}

impl<T: Transport> Transport for DiesAfter<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let response = self.inner.transmit(apdu)?;
        assert!(apdu.get(1) != Some(&self.ins), "the process dies here");
        Ok(response)
    }
    fn supports_extended_length(&self) -> bool {
        self.inner.supports_extended_length()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

fn login(dir: &Path, m: &MunicipalityCode) -> Session {
    let db = CounterDb::open(dir).unwrap();
    Session::login(db, m, "tanaka", &Pin::from("tanaka-pw1"), today()).unwrap()
}

/// An issued card (common::world: JK-0009 of 千代田区, operator tanaka); these tests log in
/// without the world's JPKI CA.
fn setup() -> (World, MunicipalityCode) {
    (world(), MunicipalityCode::parse("131016").unwrap())
}

#[test]
fn a_crash_between_card_and_records_is_reported_and_resolved() {
    let (w, chiyoda) = setup();
    let (cred, data, image) = (&w.cred, &w.data, &w.image);

    // Suspend; the process dies right after the card answered DEACTIVATE FILE.
    {
        let mut s = login(data, &chiyoda);
        let mut card = JukiCard::new(DiesAfter {
            inner: SimTransport::open(image).unwrap(),
            ins: 0x04,
        });
        let died = catch_unwind(AssertUnwindSafe(|| {
            s.suspend(&mut card, cred, Some("紛失"))
        }));
        assert!(died.is_err(), "the process died");
    }
    let mut card = JukiCard::new(SimTransport::open(image).unwrap());
    assert_eq!(
        card.lifecycle().unwrap(),
        Lifecycle::Suspended,
        "the card step was done"
    );

    // The next start finds the unfinished operation; the registry was not changed.
    let db = CounterDb::open(data).unwrap();
    let open = db.journal().unfinished().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].operation, Operation::Suspend);
    assert_eq!(open[0].card_serial.as_deref(), Some("JK-0009"));
    assert_eq!(
        db.registry().card("JK-0009").unwrap().unwrap().state,
        CardState::Issued
    );
    drop(db);
    // …and `juki counter pending` lists it (and every counter command reports it).
    let out = common::juki(
        &[
            "counter",
            "--counter-dir",
            common::path_str(data),
            "pending",
        ],
        "",
    );
    let (stdout, stderr) = common::text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("suspend") && stdout.contains("JK-0009"),
        "{stdout}"
    );
    assert!(stderr.contains("UNFINISHED"), "{stderr}");

    // Meanwhile the card and the registry disagree: other operations are refused.
    let mut s = login(data, &chiyoda);
    let err = s.resume(&mut card, cred).unwrap_err().to_string();
    assert!(err.contains("not finished"), "{err}");
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Suspended);

    // A clerk resolves it with the card on the reader: the card is suspended, so it was done.
    let id = open[0].id;
    let resolved = s
        .resolve(id, "card reads as suspended", Some((&mut card, cred)))
        .unwrap();
    assert_eq!(resolved.outcome, Outcome::Ok);
    let db = s.into_db();
    assert!(db.journal().unfinished().unwrap().is_empty());
    assert_eq!(
        db.journal().entry(id).unwrap().unwrap().state,
        JournalState::Resolved
    );
    assert_eq!(
        db.registry().card("JK-0009").unwrap().unwrap().state,
        CardState::Suspended
    );
    assert!(db.audit().verify().unwrap().is_intact());
    drop(db);
    // Now resume works again.
    let mut s = login(data, &chiyoda);
    s.resume(&mut card, cred).unwrap();
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Issued);
    let old_code = s
        .db()
        .registry()
        .card("JK-0009")
        .unwrap()
        .unwrap()
        .resident_code;
    drop(card);

    // A change of code dies after TERMINATE CARD USAGE: the new code was noted in the journal,
    // so the clerk's resolution finishes it in the registry.
    {
        let mut card = JukiCard::new(DiesAfter {
            inner: SimTransport::open(image).unwrap(),
            ins: 0xFE,
        });
        let died = catch_unwind(AssertUnwindSafe(|| s.change_code(&mut card, cred)));
        assert!(died.is_err(), "the process died");
    }
    drop(s);
    let mut card = JukiCard::new(SimTransport::open(image).unwrap());
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Terminated);
    let mut s = login(data, &chiyoda);
    let open = s.db().journal().unfinished().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].operation, Operation::ChangeCode);
    let resolved = s
        .resolve(
            open[0].id,
            "card reads as terminated",
            Some((&mut card, cred)),
        )
        .unwrap();
    assert_eq!(resolved.outcome, Outcome::Ok);
    let record = s.db().registry().card("JK-0009").unwrap().unwrap();
    assert_eq!(record.state, CardState::Terminated);
    assert_ne!(
        record.resident_code, old_code,
        "the holder has the new code"
    );
    assert!(record.code_superseded());
    let resident = s
        .db()
        .registry()
        .resident(&record.resident_code)
        .unwrap()
        .unwrap();
    assert!(resident.needs_new_card.is_some());
}

#[test]
fn a_refused_card_step_changes_no_record() {
    let (w, chiyoda) = setup();
    let (data, image) = (&w.data, &w.image);
    // A counter of another root: the card refuses EXTERNAL AUTHENTICATE.
    let other = RootAuthority::generate()
        .issue_counter_credential(&chiyoda, "千代田区", today(), 5)
        .unwrap();
    let mut s = login(data, &chiyoda);
    let mut card = JukiCard::new(SimTransport::open(image).unwrap());
    let err = s.suspend(&mut card, &other, None).unwrap_err();
    assert!(
        matches!(err.host(), Some(juki_host::Error::CounterNotAccepted)),
        "{err}"
    );
    let db = s.into_db();
    assert!(db.journal().unfinished().unwrap().is_empty());
    assert_eq!(
        db.registry().card("JK-0009").unwrap().unwrap().state,
        CardState::Issued
    );
    let last = db.audit().records().unwrap().pop().unwrap();
    assert_eq!(last.operation, "suspend");
    assert_eq!(last.outcome.kind(), "refused");
    assert!(last.outcome.reason().unwrap().contains("does not accept"));
}
