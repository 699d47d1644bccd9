//! Operator cards (`juki_counter::session`) in process, on simulated cards: what the PC/SC test
//! (tests/operator_cards_pcsc.rs) cannot stage quickly — a role raised in SQLite, a renewed
//! credential, the operator card leaving between the resident card's step and its record, role
//! changes and card removals with bindings put back — and `juki counter operator role` /
//! `operator card --remove` end to end on card images (`sim:PATH` readers).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use juki_cli::pin_input::Pin;
use juki_counter::operators::CardBinding;
use juki_counter::session::{CardLogin, OperatorCard};
use juki_counter::{CounterDb, CounterError, Role, Session};
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::resident::MunicipalityCode;
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;

mod common;

use common::world::{today, world, World};
use common::{fails, ok, path_str as s};

/// An operator card image, "present" while the shared flag says so.
struct SimHeld {
    card: JukiCard<Box<dyn Transport>>,
    present: Rc<Cell<bool>>,
}

impl std::fmt::Debug for SimHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimHeld")
    }
}

impl OperatorCard for SimHeld {
    fn reader(&self) -> String {
        "the test's operator reader".into()
    }
    fn card(&mut self) -> &mut JukiCard<Box<dyn Transport>> {
        &mut self.card
    }
    fn still_present(&self) -> bool {
        self.present.get()
    }
}

fn chiyoda() -> MunicipalityCode {
    MunicipalityCode::parse("131016").unwrap()
}

/// Logs `operator` in with `password`, the card `image` and its PIN `pin`, checked with `cred`.
fn login(
    data: &Path,
    cred: &juki_host::authority::CounterCredential,
    operator: &str,
    password: &str,
    image: &Path,
    pin: &str,
    present: &Rc<Cell<bool>>,
) -> Result<Session, CounterError> {
    let db = CounterDb::open(data).unwrap();
    let image = image.to_path_buf();
    let present = present.clone();
    let mut connect = move || -> juki_host::Result<Box<dyn OperatorCard>> {
        let t: Box<dyn Transport> = Box::new(SimTransport::open(&image)?);
        Ok(Box::new(SimHeld {
            card: JukiCard::new(t),
            present: present.clone(),
        }))
    };
    let pin = pin.to_string();
    let mut ask = move || Ok(Pin::from(pin.as_str()));
    Session::login_with_card(
        db,
        &chiyoda(),
        operator,
        &Pin::from(password),
        today(),
        Some(CardLogin {
            cred: Some(cred),
            connect: &mut connect,
            pin: &mut ask,
        }),
    )
}

/// The world (tanaka, supervisor; resident card JK-0009) with tanaka's own card OP-TANAKA and
/// clerk suzuki's OP-SUZUKI registered.
fn carded() -> (World, PathBuf, PathBuf) {
    let w = world();
    let dir = w.data.parent().unwrap().to_path_buf();
    let (tanaka, suzuki) = (dir.join("tanaka.img"), dir.join("suzuki.img"));
    w.issue_card(&tanaka, "OP-TANAKA", "田中 一郎", "東京都千代田区1");
    w.issue_card(&suzuki, "OP-SUZUKI", "鈴木 次郎", "東京都千代田区2");
    let s = w.session();
    s.add_operator_as("suzuki", &Pin::from("suzuki-pw1"), Role::Clerk)
        .unwrap();
    for (name, image) in [("tanaka", &tanaka), ("suzuki", &suzuki)] {
        let mut card = JukiCard::new(SimTransport::open(image).unwrap());
        s.register_operator_card(&w.cred, name, &mut card).unwrap();
    }
    (w, tanaka, suzuki)
}

#[test]
fn a_role_raised_in_sqlite_is_refused_and_a_renewed_credential_keeps_the_bindings() {
    let (w, tanaka, suzuki) = carded();
    let present = Rc::new(Cell::new(true));
    // Both log in with their cards; the password-only login is refused now.
    let s = login(
        &w.data,
        &w.cred,
        "suzuki",
        "suzuki-pw1",
        &suzuki,
        "2580",
        &present,
    )
    .unwrap();
    assert_eq!(s.role(), Role::Clerk);
    drop(s);
    let db = CounterDb::open(&w.data).unwrap();
    assert!(matches!(
        Session::login(db, &chiyoda(), "tanaka", &Pin::from("tanaka-pw1"), today()),
        Err(CounterError::OperatorCardRefused { .. })
    ));

    // A renewed credential of the same municipality (another key, same root) still accepts
    // the bindings the earlier one signed.
    let renewed = w
        .root
        .issue_counter_credential(&chiyoda(), "千代田区", today(), 5)
        .unwrap();
    login(
        &w.data,
        &renewed,
        "tanaka",
        "tanaka-pw1",
        &tanaka,
        "2580",
        &present,
    )
    .unwrap();

    // suzuki made a supervisor in SQLite, without the municipality's key: refused at login.
    let conn = rusqlite::Connection::open(w.data.join("counter.db")).unwrap();
    conn.execute(
        "UPDATE operators SET role = 'supervisor', supervisor = 1 WHERE name = 'suzuki'",
        [],
    )
    .unwrap();
    drop(conn);
    let e = login(
        &w.data,
        &w.cred,
        "suzuki",
        "suzuki-pw1",
        &suzuki,
        "2580",
        &present,
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    // tanaka's card for suzuki: another card.
    let e = login(
        &w.data,
        &w.cred,
        "tanaka",
        "tanaka-pw1",
        &suzuki,
        "2580",
        &present,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("is not tanaka's operator card"),
        "{e}"
    );
    // The same card cannot be bound to two operators.
    let s = login(
        &w.data,
        &w.cred,
        "tanaka",
        "tanaka-pw1",
        &tanaka,
        "2580",
        &present,
    )
    .unwrap();
    // (A copy of the image: the original is held in the operator reader.)
    let copy = tanaka.with_file_name("tanaka-copy.img");
    std::fs::copy(&tanaka, &copy).unwrap();
    let mut card = JukiCard::new(SimTransport::open(&copy).unwrap());
    let e = s
        .register_operator_card(&w.cred, "suzuki", &mut card)
        .unwrap_err();
    assert!(e.to_string().contains("already operator tanaka's"), "{e}");
    assert!(s.db().audit().verify().unwrap().is_intact());
}

/// The resident card's transport: the operator card "leaves" right after the card answered the
/// command with instruction `ins`.
struct PullsAfter {
    inner: SimTransport,
    ins: u8,
    present: Rc<Cell<bool>>,
}

impl Transport for PullsAfter {
    fn transmit(&mut self, apdu: &[u8]) -> juki_host::Result<Vec<u8>> {
        let r = self.inner.transmit(apdu)?;
        if apdu.get(1) == Some(&self.ins) {
            self.present.set(false);
        }
        Ok(r)
    }
    fn supports_extended_length(&self) -> bool {
        self.inner.supports_extended_length()
    }
    fn exclusive(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Transport) -> juki_host::Result<()>,
    ) -> juki_host::Result<()> {
        f(self)
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

#[test]
fn an_operator_card_pulled_after_the_card_step_leaves_the_operation_unfinished() {
    let (w, tanaka, _) = carded();
    let present = Rc::new(Cell::new(true));
    let mut s = login(
        &w.data,
        &w.cred,
        "tanaka",
        "tanaka-pw1",
        &tanaka,
        "2580",
        &present,
    )
    .unwrap();
    let mut card = JukiCard::new(PullsAfter {
        inner: SimTransport::open(&w.image).unwrap(),
        ins: 0x04, // DEACTIVATE FILE: the suspension
        present: present.clone(),
    });
    let e = s.suspend(&mut card, &w.cred, Some("紛失")).unwrap_err();
    assert!(
        matches!(e, CounterError::OperatorCardRemoved { .. }),
        "{e:?}"
    );
    // The card did it; the operator who left did not record it: unfinished, for a clerk to
    // close from the card's own signed state.
    assert_eq!(card.lifecycle().unwrap(), Lifecycle::Suspended);
    let pending = s.db().journal().unfinished().unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let refused = s.db().audit().records().unwrap();
    assert!(refused
        .iter()
        .any(|r| r.operation == "suspend" && r.outcome.to_string().contains("removed")));
    // Nothing more in this session.
    assert!(matches!(
        s.resume(&mut card, &w.cred),
        Err(CounterError::OperatorCardRemoved { .. })
    ));
}

#[test]
fn deleting_the_bindings_and_the_setting_does_not_bring_password_logins_back() {
    let (w, _, _) = carded();
    // An attacker with the SQLite file removes every binding and the counter-wide setting.
    let conn = rusqlite::Connection::open(w.data.join("counter.db")).unwrap();
    conn.execute_batch(
        "UPDATE operators SET card_serial = NULL, card_key = NULL, card_signer = NULL, \
         card_signature = NULL; DELETE FROM meta WHERE key = 'operator_cards_required';",
    )
    .unwrap();
    drop(conn);
    // The audit trail still says an operator card was registered: cards stay required.
    let db = CounterDb::open(&w.data).unwrap();
    assert!(juki_counter::session::operator_cards_required(&db).unwrap());
    assert!(matches!(
        Session::login(db, &chiyoda(), "tanaka", &Pin::from("tanaka-pw1"), today()),
        Err(CounterError::OperatorCardRefused { .. })
    ));
    // Removing that record too breaks the audit chain, which its verification reports.
    let conn = rusqlite::Connection::open(w.data.join("counter.db")).unwrap();
    let deleted = conn
        .execute(
            "DELETE FROM audit_log WHERE operation = 'operator-card'",
            [],
        )
        .map_err(|e| e.to_string());
    drop(conn);
    let db = CounterDb::open(&w.data).unwrap();
    match deleted {
        // The trail refuses deletions outright (trigger), or the chain no longer verifies.
        Err(_) => assert!(juki_counter::session::operator_cards_required(&db).unwrap()),
        Ok(_) => assert!(db.audit().verify().is_err() || !db.audit().verify().unwrap().is_intact()),
    }
}

/// `name` logs in with their password (`NAME-pw1`), the card `image` and its PIN 2580.
fn login_as(
    w: &World,
    name: &str,
    image: &Path,
    present: &Rc<Cell<bool>>,
) -> Result<Session, CounterError> {
    let password = format!("{name}-pw1");
    login(&w.data, &w.cred, name, &password, image, "2580", present)
}

/// An attacker with the SQLite file writes `binding` and `role` back as `name`'s.
fn put_back(data: &Path, name: &str, role: Role, binding: &CardBinding) {
    let conn = rusqlite::Connection::open(data.join("counter.db")).unwrap();
    conn.execute(
        "UPDATE operators SET role = ?2, supervisor = ?3, card_serial = ?4, card_key = ?5, \
         card_signer = ?6, card_signature = ?7 WHERE name = ?1",
        rusqlite::params![
            name,
            role.as_str(),
            role == Role::Supervisor,
            binding.serial,
            binding.key,
            binding.signer,
            binding.signature
        ],
    )
    .unwrap();
}

#[test]
fn a_role_change_reaches_the_card_login_and_a_binding_put_back_is_refused() {
    let (w, tanaka, suzuki) = carded();
    let present = Rc::new(Cell::new(true));
    let as_tanaka = || login_as(&w, "tanaka", &tanaka, &present).unwrap();
    let as_suzuki = || login_as(&w, "suzuki", &suzuki, &present);
    // Promoted with the binding signed again: suzuki's card login is a supervisor's.
    let (_, promoted) = as_tanaka()
        .change_operator_role("suzuki", Role::Supervisor, Some(&w.cred))
        .unwrap();
    let promoted = promoted.unwrap();
    assert_eq!(as_suzuki().unwrap().role(), Role::Supervisor);
    // Demoted again: a clerk's login.
    as_tanaka()
        .change_operator_role("suzuki", Role::Clerk, Some(&w.cred))
        .unwrap();
    assert_eq!(as_suzuki().unwrap().role(), Role::Clerk);
    // The supervisor's binding (signed by the municipality) and role written back: refused.
    put_back(&w.data, "suzuki", Role::Supervisor, &promoted);
    let e = as_suzuki().unwrap_err();
    assert!(
        e.to_string()
            .contains("not the one the audit trail last recorded"),
        "{e}"
    );
    let db = CounterDb::open(&w.data).unwrap();
    assert!(db.audit().verify().unwrap().is_intact());
}

#[test]
fn a_removed_card_is_refused_until_a_supervisor_registers_it_again() {
    let (w, tanaka, suzuki) = carded();
    let present = Rc::new(Cell::new(true));
    let as_tanaka = || login_as(&w, "tanaka", &tanaka, &present).unwrap();
    let as_suzuki = || login_as(&w, "suzuki", &suzuki, &present);
    let removed = as_tanaka().remove_operator_card("suzuki").unwrap();
    assert_eq!(removed.serial, "OP-SUZUKI");
    let e = as_suzuki().unwrap_err();
    assert!(
        e.to_string().contains("none is registered for suzuki"),
        "{e}"
    );
    // The removed card's binding written back: the card is refused.
    put_back(&w.data, "suzuki", Role::Clerk, &removed);
    let e = as_suzuki().unwrap_err();
    assert!(e.to_string().contains("OP-SUZUKI was removed"), "{e}");
    // Only a supervisor's `operator card` brings it back.
    let s = as_tanaka();
    let mut card = JukiCard::new(SimTransport::open(&suzuki).unwrap());
    s.register_operator_card(&w.cred, "suzuki", &mut card)
        .unwrap();
    drop((s, card));
    assert_eq!(as_suzuki().unwrap().role(), Role::Clerk);
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `juki counter --counter-dir DATA --operator-reader sim:OPERATOR [--reader sim:DESK] ARGS`
/// on 2026-04-01, in `lang`.
fn juki_counter(
    data: &Path,
    operator: &Path,
    desk: Option<&Path>,
    args: &[&str],
    stdin: &str,
    lang: &str,
) -> std::process::Output {
    let operator = format!("sim:{}", operator.display());
    let desk = desk.map(|d| format!("sim:{}", d.display()));
    let mut all: Vec<&str> = Vec::new();
    if let Some(d) = &desk {
        all.extend(["--reader", d]);
    }
    all.extend([
        "counter",
        "--counter-dir",
        s(data),
        "--operator-reader",
        &operator,
    ]);
    all.extend_from_slice(args);
    common::run(
        std::process::Command::new(env!("CARGO_BIN_EXE_juki"))
            .args(&all)
            .env("JUKI_TODAY", "2026-04-01")
            .env("LANG", lang),
        stdin,
    )
}

#[test]
fn operator_role_and_card_removal_through_the_cli() {
    let (w, tanaka, suzuki) = carded();
    let cred_dir = w.data.parent().unwrap().join("cred");
    w.cred.save(&cred_dir).unwrap();
    let cred = s(&cred_dir).to_string();
    let run = |card: &Path, desk: Option<&Path>, args: &[&str], stdin: &str, lang: &str| {
        juki_counter(&w.data, card, desk, args, stdin, lang)
    };
    let role = |name: &str, role: &str, by: &str| -> Vec<String> {
        [
            "operator",
            "role",
            "--name",
            name,
            "--role",
            role,
            "--operator",
            by,
            "--credential",
            &cred,
        ]
        .map(str::to_string)
        .to_vec()
    };

    // A clerk may not change roles (their own included): exit 6, audited; the message is
    // Japanese first under a Japanese locale.
    let err = fails(
        run(
            &suzuki,
            None,
            &args(&role("suzuki", "supervisor", "suzuki")),
            "suzuki-pw1\n2580\n",
            "ja_JP.UTF-8",
        ),
        6,
        "権限がありません",
    );
    assert!(
        err.contains("窓口担当（clerk）") && err.contains("役割の変更（operator-role）"),
        "{err}"
    );
    // The last supervisor does not step down.
    fails(
        run(
            &tanaka,
            None,
            &args(&role("tanaka", "clerk", "tanaka")),
            "tanaka-pw1\n2580\n",
            "C",
        ),
        6,
        "last supervisor",
    );
    // tanaka makes suzuki a supervisor: suzuki's binding is signed again.
    let out = ok(run(
        &tanaka,
        None,
        &args(&role("suzuki", "supervisor", "tanaka")),
        "tanaka-pw1\n2580\n",
        "C",
    ));
    assert!(
        out.contains("role changed from clerk to supervisor") && out.contains("signed again"),
        "{out}"
    );
    // suzuki, now a supervisor, logs in with the card and reads the audit trail: their own
    // refusal, in Japanese; tanaka reads it in English, as stored.
    let show = |by: &str, image: &Path, lang: &str| {
        let audit = [
            "audit",
            "show",
            "--of-operator",
            "suzuki",
            "--operator",
            by,
            "--credential",
            &cred,
        ];
        ok(run(image, None, &audit, &format!("{by}-pw1\n2580\n"), lang))
    };
    let shown = show("suzuki", &suzuki, "ja_JP.UTF-8");
    assert!(
        shown.contains(
            "拒否: 役割「窓口担当（clerk）」では「役割の変更（operator-role）」を行えません"
        ),
        "{shown}"
    );
    let shown = show("tanaka", &tanaka, "C");
    assert!(
        shown.contains("operator-role card=- refused: role clerk may not operator-role"),
        "{shown}"
    );

    // suzuki's card is lost: tanaka removes it. suzuki cannot log in, even with that card.
    let card = |extra: &[&str]| -> Vec<String> {
        let base = [
            "operator",
            "card",
            "--name",
            "suzuki",
            "--operator",
            "tanaka",
        ];
        base.iter().chain(extra).map(|a| a.to_string()).collect()
    };
    let out = ok(run(
        &tanaka,
        None,
        &args(&card(&["--remove", "--credential", &cred])),
        "tanaka-pw1\n2580\n",
        "C",
    ));
    assert!(out.contains("OP-SUZUKI removed"), "{out}");
    let audit = [
        "audit",
        "verify",
        "--operator",
        "suzuki",
        "--credential",
        &cred,
    ];
    let audit_as_suzuki = || run(&suzuki, None, &audit, "suzuki-pw1\n2580\n", "C");
    fails(audit_as_suzuki(), 7, "none is registered for suzuki");
    // Registered again by tanaka (the card in the desk reader): suzuki logs in again.
    let out = ok(run(
        &tanaka,
        Some(&suzuki),
        &args(&card(&["--credential", &cred])),
        "tanaka-pw1\n2580\n",
        "C",
    ));
    assert!(out.contains("OP-SUZUKI"), "{out}");
    ok(audit_as_suzuki());
    // Registering needs the credential (the removal does not ask for a card).
    fails(
        run(&tanaka, Some(&suzuki), &args(&card(&[])), "", "C"),
        2,
        "--credential",
    );
    let db = CounterDb::open(&w.data).unwrap();
    let roles: Vec<_> = db
        .audit()
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "operator-role")
        .map(|r| format!("{} {} {}", r.operator, r.outcome.kind(), r.detail))
        .collect();
    assert_eq!(roles.len(), 3, "{roles:?}");
    assert!(roles[2].starts_with("tanaka ok operator suzuki: role clerk → supervisor"));
    assert!(db.audit().verify().unwrap().is_intact());
}
