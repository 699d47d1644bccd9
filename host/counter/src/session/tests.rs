//! Role changes and operator card removals ([`Session::change_operator_role`],
//! [`Session::remove_operator_card`]) and what a login then accepts of a binding. The card step
//! here stops at the operator reader (there is none): a login refused with "no operator card in
//! the operator reader" is one whose binding was accepted. The whole login with a card is in
//! host/cli/tests/operator_cards_sim.rs.

use super::super::testutil::Fixture;
use super::*;
use juki_host::authority::RootAuthority;

fn today() -> Date {
    Date::from_ymd(2026, 4, 1).unwrap()
}

/// A counter of Chiyoda with tanaka (the first operator, a supervisor) and clerk suzuki.
fn counter() -> Fixture {
    let f = Fixture::new();
    add_first_operator(&f.db, &f.chiyoda, "tanaka", &Pin::from("tanaka-pw1")).unwrap();
    session(&f, "tanaka")
        .add_operator_as("suzuki", &Pin::from("suzuki-pw1"), Role::Clerk)
        .unwrap();
    f
}

fn credential(f: &Fixture) -> CounterCredential {
    RootAuthority::generate()
        .issue_counter_credential(&f.chiyoda, "千代田区", today(), 5)
        .unwrap()
}

fn db(f: &Fixture) -> CounterDb {
    CounterDb::open_with_clock(f.dir.path(), f.clock.clone()).unwrap()
}

/// `name` logged in with the password only (`name-pw1`).
fn session(f: &Fixture, name: &str) -> Session {
    Session::login(
        db(f),
        &f.chiyoda,
        name,
        &Pin::from(format!("{name}-pw1").as_str()),
        today(),
    )
    .unwrap()
}

/// `name`'s login with a card checked with `cred`: refused, since no card is in the reader;
/// why.
fn card_login(f: &Fixture, cred: &CounterCredential, name: &str) -> String {
    let mut connect = || -> juki_host::Result<Box<dyn OperatorCard>> { Err(Error::NoReader) };
    let mut pin = || -> juki_host::Result<Pin> { Err(Error::NoReader) };
    let e = Session::login_with_card(
        db(f),
        &f.chiyoda,
        name,
        &Pin::from(format!("{name}-pw1").as_str()),
        today(),
        Some(CardLogin {
            cred: Some(cred),
            connect: &mut connect,
            pin: &mut pin,
        }),
    )
    .unwrap_err();
    match e {
        CounterError::OperatorCardRefused { reason, .. } => reason,
        other => panic!("not a card step refusal: {other:?}"),
    }
}

/// `name`'s binding is accepted: the login goes on to the (missing) card.
fn accepted(f: &Fixture, cred: &CounterCredential, name: &str) {
    let why = card_login(f, cred, name);
    assert!(
        why.starts_with("no operator card in the operator reader"),
        "{why}"
    );
}

/// Binds a card (serial `serial`, a fresh key) to `name` as `s`'s supervisor would after the
/// card proved itself.
fn bind(s: &Session, cred: &CounterCredential, name: &str, serial: &str) -> CardBinding {
    let key = p256::SecretKey::random(&mut rand_core::OsRng)
        .public_key()
        .to_sec1_bytes()
        .to_vec();
    let role = s.db().operators().get(name).unwrap().unwrap().role;
    s.bind_card(cred, name, role, serial.to_string(), key)
        .unwrap()
}

/// The records of `op` as (operator, outcome, card, detail).
fn records(f: &Fixture, op: Operation) -> Vec<(String, Outcome, Option<String>, String)> {
    f.db.audit()
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == op.as_str())
        .map(|r| (r.operator, r.outcome, r.card_serial, r.detail))
        .collect()
}

/// An attacker with the SQLite file writes `binding` back as `name`'s card, and `role`.
fn put_back(f: &Fixture, name: &str, role: Role, binding: &CardBinding) {
    f.raw()
        .execute(
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
fn a_supervisor_changes_a_role_audited() {
    let f = counter();
    let s = session(&f, "tanaka");
    let (now, binding) = s
        .change_operator_role("suzuki", Role::Supervisor, None)
        .unwrap();
    assert_eq!(
        (now.role, now.supervisor, binding),
        (Role::Supervisor, true, None)
    );
    let recs = records(&f, Operation::OperatorRole);
    assert_eq!(
        recs,
        [(
            "tanaka".to_string(),
            Outcome::Ok,
            None,
            "operator suzuki: role clerk → supervisor".to_string()
        )]
    );
    // suzuki's next login has the new role.
    assert_eq!(session(&f, "suzuki").role(), Role::Supervisor);
    // The same role again: refused, audited, nothing recorded as changed.
    let e = s
        .change_operator_role("suzuki", Role::Supervisor, None)
        .unwrap_err();
    assert!(e.to_string().contains("already has the role"), "{e}");
    let e = s
        .change_operator_role("nobody", Role::Clerk, None)
        .unwrap_err();
    assert!(matches!(e, CounterError::UnknownOperator(_)), "{e:?}");
    let recs = records(&f, Operation::OperatorRole);
    assert_eq!(recs.len(), 3);
    assert!(
        recs[1..].iter().all(|r| r.1.kind() == "refused"),
        "{recs:?}"
    );
    assert!(f.db.audit().verify().unwrap().is_intact());
}

#[test]
fn a_clerk_may_not_change_roles() {
    let f = counter();
    let s = session(&f, "suzuki");
    let e = s
        .change_operator_role("suzuki", Role::Supervisor, None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            CounterError::RoleNotAllowed {
                operation: "operator-role",
                supervisor_only: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        f.db.operators().get("suzuki").unwrap().unwrap().role,
        Role::Clerk
    );
    let recs = records(&f, Operation::OperatorRole);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].0, "suzuki");
    assert_eq!(
        recs[0].1,
        Outcome::Refused("role clerk may not operator-role".into())
    );
}

#[test]
fn the_last_supervisor_cannot_demote_themself() {
    let f = counter();
    let s = session(&f, "tanaka");
    let e = s
        .change_operator_role("tanaka", Role::Clerk, None)
        .unwrap_err();
    assert!(matches!(e, CounterError::LastSupervisor { .. }), "{e:?}");
    assert!(e.to_string().contains("last supervisor"), "{e}");
    assert_eq!(
        f.db.operators().get("tanaka").unwrap().unwrap().role,
        Role::Supervisor
    );
    let recs = records(&f, Operation::OperatorRole);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].1.reason().unwrap().contains("last supervisor"));
    // With another supervisor, tanaka may step down.
    s.change_operator_role("suzuki", Role::Supervisor, None)
        .unwrap();
    s.change_operator_role("tanaka", Role::Auditor, None)
        .unwrap();
    assert_eq!(session(&f, "tanaka").role(), Role::Auditor);
}

#[test]
fn a_supervisor_without_a_card_does_not_count_where_cards_are_required() {
    let f = counter();
    let cred = credential(&f);
    let s = session(&f, "tanaka");
    s.change_operator_role("suzuki", Role::Supervisor, None)
        .unwrap();
    bind(&s, &cred, "tanaka", "OP-TANAKA");
    // Cards are required now, and suzuki has none: suzuki cannot log in, tanaka stays.
    let e = s
        .change_operator_role("tanaka", Role::Clerk, Some(&cred))
        .unwrap_err();
    assert!(matches!(e, CounterError::LastSupervisor { .. }), "{e:?}");
    let e = s.remove_operator_card("tanaka").unwrap_err();
    assert!(matches!(e, CounterError::LastSupervisor { .. }), "{e:?}");
    accepted(&f, &cred, "tanaka");
}

#[test]
fn a_role_change_signs_the_binding_again_and_the_old_one_is_refused() {
    let f = counter();
    let cred = credential(&f);
    let s = session(&f, "tanaka");
    bind(&s, &cred, "tanaka", "OP-TANAKA");
    let old = bind(&s, &cred, "suzuki", "OP-SUZUKI");
    accepted(&f, &cred, "suzuki");

    // The binding names the role: without the credential the change is refused.
    let e = s
        .change_operator_role("suzuki", Role::Supervisor, None)
        .unwrap_err();
    assert!(e.to_string().contains("--credential"), "{e}");
    assert_eq!(
        f.db.operators().get("suzuki").unwrap().unwrap().role,
        Role::Clerk
    );
    // Another municipality's credential: refused.
    let osaka = MunicipalityCode::parse("271004").unwrap();
    let other = RootAuthority::generate()
        .issue_counter_credential(&osaka, "大阪市", today(), 5)
        .unwrap();
    assert!(s
        .change_operator_role("suzuki", Role::Supervisor, Some(&other))
        .is_err());

    let (now, new) = s
        .change_operator_role("suzuki", Role::Supervisor, Some(&cred))
        .unwrap();
    let new = new.unwrap();
    assert_eq!(now.role, Role::Supervisor);
    assert_eq!((&new.serial, &new.key), (&old.serial, &old.key));
    assert_ne!(new.signature, old.signature);
    assert_eq!(
        f.db.operators().card_binding("suzuki").unwrap(),
        Some(new.clone())
    );
    let recs = records(&f, Operation::OperatorRole);
    let done = recs.last().unwrap();
    assert_eq!(done.1, Outcome::Ok);
    assert_eq!(done.2.as_deref(), Some("OP-SUZUKI"));
    assert!(
        done.3
            .starts_with("operator suzuki: role clerk → supervisor")
            && done.3.ends_with(&format!("binding {})", new.fingerprint())),
        "{done:?}"
    );
    // The new binding, for the new role, is accepted.
    accepted(&f, &cred, "suzuki");

    // The role lowered back in SQLite, without the key: the binding no longer verifies.
    f.raw()
        .execute(
            "UPDATE operators SET role = 'clerk', supervisor = 0 WHERE name = 'suzuki'",
            [],
        )
        .unwrap();
    assert!(card_login(&f, &cred, "suzuki").contains("does not verify"));

    // Back to supervisor, then demoted by tanaka: the supervisor's binding (genuine, signed by
    // the municipality) and the role put back in SQLite are refused.
    put_back(&f, "suzuki", Role::Supervisor, &new);
    accepted(&f, &cred, "suzuki");
    s.change_operator_role("suzuki", Role::Clerk, Some(&cred))
        .unwrap();
    accepted(&f, &cred, "suzuki");
    put_back(&f, "suzuki", Role::Supervisor, &new);
    let why = card_login(&f, &cred, "suzuki");
    assert!(
        why.contains("not the one the audit trail last recorded"),
        "{why}"
    );
    // A refused login of that kind is audited.
    assert!(records(&f, Operation::Login)
        .iter()
        .any(|r| r.1.reason().is_some_and(|w| w.contains("last recorded"))));
    // A role change from a binding that does not check out is refused too (it would launder it).
    let e = s
        .change_operator_role("suzuki", Role::Auditor, Some(&cred))
        .unwrap_err();
    assert!(e.to_string().contains("last recorded"), "{e}");
    assert!(f.db.audit().verify().unwrap().is_intact());
}

#[test]
fn a_removed_card_is_refused_until_a_supervisor_registers_one_again() {
    let f = counter();
    let cred = credential(&f);
    let s = session(&f, "tanaka");
    bind(&s, &cred, "tanaka", "OP-TANAKA");
    let card = bind(&s, &cred, "suzuki", "OP-SUZUKI");

    let removed = s.remove_operator_card("suzuki").unwrap();
    assert_eq!(removed, card);
    assert_eq!(f.db.operators().card_binding("suzuki").unwrap(), None);
    let recs = records(&f, Operation::OperatorCard);
    let last = recs.last().unwrap();
    assert_eq!(
        (last.0.as_str(), &last.1, last.2.as_deref()),
        ("tanaka", &Outcome::Ok, Some("OP-SUZUKI"))
    );
    assert!(last.3.contains("removed"), "{last:?}");
    // Cards stay required: suzuki cannot log in, with or without a card.
    assert!(operator_cards_required(&f.db).unwrap());
    assert!(card_login(&f, &cred, "suzuki").contains("none is registered for suzuki"));
    assert!(matches!(
        Session::login(
            db(&f),
            &f.chiyoda,
            "suzuki",
            &Pin::from("suzuki-pw1"),
            today()
        ),
        Err(CounterError::OperatorCardRefused { .. })
    ));
    // The removed binding put back in SQLite: refused.
    put_back(&f, "suzuki", Role::Clerk, &card);
    let why = card_login(&f, &cred, "suzuki");
    assert!(why.contains("OP-SUZUKI was removed"), "{why}");
    // Nothing to remove for an operator without a card; an unknown operator: refused, audited.
    f.raw()
        .execute(
            "UPDATE operators SET card_serial = NULL, card_key = NULL, card_signer = NULL, \
             card_signature = NULL WHERE name = 'suzuki'",
            [],
        )
        .unwrap();
    assert!(s
        .remove_operator_card("suzuki")
        .unwrap_err()
        .to_string()
        .contains("no registered operator card"));
    assert!(matches!(
        s.remove_operator_card("nobody"),
        Err(CounterError::UnknownOperator(_))
    ));
    let refused = records(&f, Operation::OperatorCard)
        .into_iter()
        .filter(|r| r.1.kind() == "refused")
        .count();
    assert_eq!(refused, 2);
    // Registered again by a supervisor: accepted.
    bind(&s, &cred, "suzuki", "OP-SUZUKI");
    accepted(&f, &cred, "suzuki");
    assert!(f.db.audit().verify().unwrap().is_intact());
}

#[test]
fn a_clerk_may_not_remove_a_card() {
    let f = counter();
    let s = session(&f, "suzuki");
    let e = s.remove_operator_card("tanaka").unwrap_err();
    assert!(
        matches!(
            e,
            CounterError::RoleNotAllowed {
                operation: "operator-card",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn recorded_bindings_read_back() {
    use crate::operators::RecordedBinding as R;
    let f = counter();
    let cred = credential(&f);
    let s = session(&f, "tanaka");
    assert_eq!(f.db.operators().recorded_binding("OP-X").unwrap(), R::None);
    let b = bind(&s, &cred, "suzuki", "OP-X");
    assert_eq!(
        f.db.operators().recorded_binding("OP-X").unwrap(),
        R::Bound(b.fingerprint())
    );
    // A record of the version before role changes: nothing to compare.
    f.db.audit()
        .append(&AuditEntry {
            actor: s.actor(),
            card_serial: Some("OP-X"),
            operation: Operation::OperatorCard,
            outcome: Outcome::Ok,
            detail: "card OP-X registered as operator suzuki's operator card",
        })
        .unwrap();
    assert_eq!(
        f.db.operators().recorded_binding("OP-X").unwrap(),
        R::Unnamed
    );
    s.remove_operator_card("suzuki").unwrap();
    assert_eq!(
        f.db.operators().recorded_binding("OP-X").unwrap(),
        R::Removed
    );
}
