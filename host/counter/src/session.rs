//! A counter session: the counter's database, the municipality it belongs to, and the operator
//! who logged in. Every counter operation ([`super::ops`]) runs on a [`Session`].
//!
//! - The data directory is `--counter-dir`, else `$JUKI_COUNTER_DIR`, else `./counter-data`
//!   ([`counter_dir`]).
//! - A counter database belongs to one municipality: the first operator is registered with the
//!   municipality's counter credential, which binds the database to its 地方公共団体コード
//!   (`meta.counter_municipality`). Afterwards a credential of another municipality is refused
//!   with this database (a counter of another municipality keeps its own data directory).
//! - [`Session::login`] checks the operator's password ([`super::operators`]: Argon2id,
//!   lockout, every attempt audited).
//! - **Operator cards (操作者カード)**: an operator's own issued juki card, registered by a
//!   supervisor ([`Session::register_operator_card`]): the card proves its serial and key in
//!   the mutual authentication, and the municipality signs the binding of (municipality,
//!   operator, role, card serial, card public key) with its counter credential's key. Once the
//!   first operator card of a counter is registered, the counter requires one of every operator
//!   (`meta.operator_cards_required`, never unset): [`Session::login_with_card`] checks the
//!   password first, then the binding's signature against the national root (a database
//!   edit that rebinds an operator is refused), then the card in the operator reader (its
//!   serial and key must be the bound ones, the card issued), then the card's 住基 PIN,
//!   verified by the card under secure messaging. Each refusal is audited (`login`,
//!   `refused`); a success is audited twice (the password, then the card).
//! - The operator card stays connected for the whole session: before every card step and
//!   before every record, the session checks it is still the same card in the same reader
//!   ([`OperatorCard::still_present`]); if not, the operation stops
//!   ([`CounterError::OperatorCardRemoved`], audited).
//! - The binding must also be the one the audit trail last recorded for the card
//!   ([`super::operators::Operators::recorded_binding`]): a supervisor's role change
//!   ([`Session::change_operator_role`]) signs the binding again for the new role, and a removal
//!   ([`Session::remove_operator_card`], a lost or returned card) records the binding as
//!   removed, so an earlier binding — genuine, signed by the municipality — put back into the
//!   database is refused. The role a login gets is the `operators.role` the binding's signature
//!   covers; at a counter without operator cards there is no signed source, and the database
//!   is trusted as it is (its file is the counter's to protect).
//! - Roles ([`super::roles`]): every operation is checked against the operator's role first
//!   ([`Session::authorize`], refusals audited in the stored names: [`roles::refusal_reason`]).
//!   The last supervisor who can log in is neither demoted nor loses their card
//!   ([`CounterError::LastSupervisor`]).

use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use super::audit::AuditEntry;
use super::operators::{CardBinding, OperatorInfo, RecordedBinding};
use super::roles::{self, Role};
use super::{Actor, CounterDb, CounterError, Operation, Outcome};
use crate::Result;

use juki_host::authority::{verify_statement, CounterCredential};
use juki_host::card::{lifecycle_text, JukiCard, Lifecycle};
use juki_host::date::Date;
use juki_host::pin::{App, Pin, PinId};
use juki_host::resident::MunicipalityCode;
use juki_host::transport::Transport;
use juki_host::Error;

/// The environment variable naming the counter's data directory.
pub const DIR_ENV: &str = "JUKI_COUNTER_DIR";
/// The data directory when neither `--counter-dir` nor `$JUKI_COUNTER_DIR` is given.
pub const DEFAULT_DIR: &str = "counter-data";
/// The operator name recorded for the registration of a counter's first operator.
pub const SETUP_OPERATOR: &str = "(setup)";

const META_MUNICIPALITY: &str = "counter_municipality";
/// Set once the first operator card is registered: from then on every operator logs in with
/// their card.
const META_CARDS_REQUIRED: &str = "operator_cards_required";

/// The label of the municipality's signature over an operator card binding
/// ([`CounterCredential::sign_statement`]).
pub const BINDING_DOMAIN: &str = "juki counter operator card binding v1";

/// What the municipality signs when it registers an operator card: each field as a 2-byte
/// big-endian length and its bytes, in this order.
pub fn binding_message(
    municipality: &MunicipalityCode,
    operator: &str,
    role: Role,
    serial: &str,
    card_key: &[u8],
) -> Vec<u8> {
    let mut m = Vec::new();
    for field in [
        municipality.as_str().as_bytes(),
        operator.as_bytes(),
        role.as_str().as_bytes(),
        serial.as_bytes(),
        card_key,
    ] {
        m.extend_from_slice(&(field.len() as u16).to_be_bytes());
        m.extend_from_slice(field);
    }
    m
}

/// Whether this counter requires an operator card of every operator: the setting, or — should
/// the setting have been deleted from the database — any operator card ever registered, as the
/// audit trail records it. Removing that record too breaks the hash chain, which `juki counter
/// audit verify` (and the anchors in 住基ネット's log) catch: deleting rows cannot quietly bring
/// password-only logins back.
pub fn operator_cards_required(db: &CounterDb) -> Result<bool> {
    let required: bool = db
        .conn()
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = ?1) \
             OR EXISTS (SELECT 1 FROM audit_log WHERE operation = ?2 AND outcome = 'ok')",
            rusqlite::params![META_CARDS_REQUIRED, Operation::OperatorCard.as_str()],
            |r| r.get(0),
        )
        .map_err(CounterError::from)?;
    Ok(required)
}

/// The operator's card in the operator reader, connected for the whole session.
pub trait OperatorCard: std::fmt::Debug {
    /// The reader it is in.
    fn reader(&self) -> String;
    /// The card, to authenticate it and have it verify its PIN.
    fn card(&mut self) -> &mut JukiCard<Box<dyn Transport>>;
    /// Whether the same card is still in the reader: present, and no removal or insertion
    /// since it was connected.
    fn still_present(&self) -> bool;
}

/// What a login with an operator card needs besides the password
/// ([`Session::login_with_card`]).
pub struct CardLogin<'a> {
    /// The counter credential, to authenticate the card and check its binding.
    pub cred: Option<&'a CounterCredential>,
    /// Connects to the card in the operator reader (called only when the operator needs it,
    /// after the password).
    pub connect: &'a mut dyn FnMut() -> juki_host::Result<Box<dyn OperatorCard>>,
    /// Asks the operator for their card's 住基 PIN (after the card proved itself).
    pub pin: &'a mut dyn FnMut() -> juki_host::Result<Pin>,
}

/// The counter's data directory: `arg`, else `$JUKI_COUNTER_DIR`, else `./counter-data`.
pub fn counter_dir(arg: Option<&Path>) -> PathBuf {
    match arg {
        Some(dir) => dir.to_path_buf(),
        None => match std::env::var_os(DIR_ENV) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(DEFAULT_DIR),
        },
    }
}

/// The municipality this counter database belongs to, once bound.
pub fn municipality(db: &CounterDb) -> Result<Option<MunicipalityCode>> {
    let stored: Option<String> = db
        .conn()
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [META_MUNICIPALITY],
            |r| r.get(0),
        )
        .optional()
        .map_err(CounterError::from)?;
    stored
        .map(|code| {
            MunicipalityCode::parse(&code)
                .map_err(|_| CounterError::Corrupt("counter municipality".into()))
        })
        .transpose()
}

/// Checks that the database belongs to `code`, binding it to `code` if it belongs to none yet.
pub fn bind_municipality(db: &CounterDb, code: &MunicipalityCode) -> Result<()> {
    match municipality(db)? {
        Some(bound) if &bound == code => Ok(()),
        Some(bound) => Err(Error::InvalidInput(format!(
            "this counter's data directory ({}) belongs to municipality {bound}; the credential \
             is for {code}. Each municipality's counter keeps its own data directory \
             (--counter-dir)",
            db.path().parent().unwrap_or(db.path()).display()
        ))
        .into()),
        None => {
            db.conn()
                .execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    [META_MUNICIPALITY, code.as_str()],
                )
                .map_err(CounterError::from)?;
            Ok(())
        }
    }
}

/// The municipality of a bound database, or a clear error telling how to bind it.
pub fn bound_municipality(db: &CounterDb) -> Result<MunicipalityCode> {
    municipality(db)?.ok_or_else(|| {
        Error::InvalidInput(
            "this counter's database is new: register its first operator with the \
             municipality's credential first (juki counter operator add --name NAME \
             --credential DIR)"
                .into(),
        )
        .into()
    })
}

/// A password as text (never logged); a password that is not UTF-8 is checked as typed,
/// lossily, and simply does not match.
fn password_text(password: &Pin) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(String::from_utf8_lossy(password.as_bytes()).into_owned())
}

/// Registers the first operator of an empty counter database, without a login (audited as
/// [`SETUP_OPERATOR`]), as its supervisor, and binds the database to `municipality`.
pub fn add_first_operator(
    db: &CounterDb,
    municipality: &MunicipalityCode,
    name: &str,
    password: &Pin,
) -> Result<()> {
    if !db.operators().list()?.is_empty() {
        return Err(Error::InvalidInput(
            "this counter already has operators: a new one is added by a logged-in operator \
             (--operator OP)"
                .into(),
        )
        .into());
    }
    bind_municipality(db, municipality)?;
    let actor = Actor {
        municipality,
        operator: SETUP_OPERATOR,
    };
    db.operators()
        .add_with_role(&actor, name, &password_text(password), true)?;
    Ok(())
}

/// A logged-in operator at a counter.
#[derive(Debug)]
pub struct Session {
    pub(crate) db: CounterDb,
    pub(crate) municipality: MunicipalityCode,
    pub(crate) operator: String,
    pub(crate) today: Date,
    pub(crate) ca: Option<juki_jpki::ca::JpkiCa>,
    /// The card the clerk is serving (the serial printed on it), when given: the card on the
    /// reader must prove to be that card ([`Session::serving`]).
    pub(crate) serving: Option<String>,
    /// The operator's role.
    pub(crate) role: Role,
    /// The operator's card, when they logged in with one.
    pub(crate) operator_card: Option<Box<dyn OperatorCard>>,
}

impl Session {
    /// The clerk serves the card `serial` (printed on the card in hand): every operation of
    /// this session refuses a card that proves to be another ([`juki_host::Error::CardChanged`]),
    /// such as a card a hostile reader relays from elsewhere.
    pub fn serving(mut self, serial: Option<&str>) -> Session {
        self.serving = serial.map(str::to_string);
        self
    }

    /// Logs `operator` in at the counter of `municipality` (binding a new database to it, or
    /// refusing a database of another municipality). `today` is the date every validity
    /// decision of the session uses ([`juki_host::date::today`]).
    ///
    /// Errors: [`CounterError::WrongCredentials`], [`CounterError::LockedOut`]; every attempt is
    /// audited. An operator who needs an operator card is refused
    /// ([`CounterError::OperatorCardRefused`]: use [`Session::login_with_card`]).
    pub fn login(
        db: CounterDb,
        municipality: &MunicipalityCode,
        operator: &str,
        password: &Pin,
        today: Date,
    ) -> Result<Session> {
        Self::login_with_card(db, municipality, operator, password, today, None)
    }

    /// [`Session::login`], then, for an operator with a registered operator card (or at a
    /// counter that requires one of everyone), the card step: the binding's signature, the card
    /// in the operator reader (mutual authentication: its serial and key must be the bound
    /// ones), its 住基 PIN verified by the card. See the module documentation.
    pub fn login_with_card(
        db: CounterDb,
        municipality: &MunicipalityCode,
        operator: &str,
        password: &Pin,
        today: Date,
        card: Option<CardLogin<'_>>,
    ) -> Result<Session> {
        // A database of another municipality is refused; an unbound one (operators registered
        // through the library) is bound only after a successful login.
        let bound = self::municipality(&db)?;
        if bound.is_some() {
            bind_municipality(&db, municipality)?;
        }
        let logged = db
            .operators()
            .login(municipality, operator, &password_text(password))?;
        if bound.is_none() {
            bind_municipality(&db, municipality)?;
        }
        let info = db
            .operators()
            .get(&logged.operator)?
            .ok_or_else(|| CounterError::UnknownOperator(logged.operator.clone()))?;
        let binding = db.operators().card_binding(&logged.operator)?;
        let operator_card = if binding.is_some() || operator_cards_required(&db)? {
            Some(card_step(
                &db,
                municipality,
                &logged.operator,
                info.role,
                binding,
                card,
            )?)
        } else {
            None
        };
        Ok(Session {
            db,
            municipality: municipality.clone(),
            operator: logged.operator,
            today,
            ca: None,
            serving: None,
            role: info.role,
            operator_card,
        })
    }

    /// The logged-in operator's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The reader of the operator card the operator logged in with, if any.
    pub fn operator_card_reader(&self) -> Option<String> {
        self.operator_card.as_ref().map(|c| c.reader())
    }

    /// Whether the logged-in operator's role allows `op` ([`roles::allowed`]), and their
    /// operator card is still there. A refusal is audited (`refused`, "role clerk may not
    /// terminate").
    ///
    /// Errors: [`CounterError::RoleNotAllowed`], [`CounterError::OperatorCardRemoved`].
    pub fn authorize(&self, op: Operation) -> Result<()> {
        self.operator_card_present(op, None)?;
        if roles::may(self.role, op) {
            return Ok(());
        }
        self.db.audit().append(&AuditEntry {
            actor: self.actor(),
            card_serial: None,
            operation: op,
            outcome: Outcome::Refused(roles::refusal_reason(self.role, op)),
            detail: "",
        })?;
        Err(CounterError::RoleNotAllowed {
            operator: self.operator.clone(),
            role: self.role.as_str(),
            operation: op.as_str(),
            supervisor_only: roles::allowed(op) == [Role::Supervisor],
        })
    }

    /// The operator card the session was opened with is still the same card in its reader
    /// (nothing to check without one). If not, audited (`refused`) as `op` on `serial`.
    pub(crate) fn operator_card_present(&self, op: Operation, serial: Option<&str>) -> Result<()> {
        let Some(card) = &self.operator_card else {
            return Ok(());
        };
        if card.still_present() {
            return Ok(());
        }
        self.db.audit().append(&AuditEntry {
            actor: self.actor(),
            card_serial: serial,
            operation: op,
            outcome: Outcome::Refused(
                "operator card removed (操作者カードが取り外されました): session ended".into(),
            ),
            detail: &format!("operator card reader {}", card.reader()),
        })?;
        Err(CounterError::OperatorCardRemoved {
            reader: card.reader(),
        })
    }

    /// Registers the card in `card` (the desk reader) as operator `name`'s operator card: the
    /// card proves its serial and key (mutual authentication with `cred`; it must be an issued
    /// card, and no other operator's), and the municipality signs the binding with `cred`'s
    /// key. From then on this counter requires an operator card of every operator. Supervisors
    /// only; audited (`operator-card`), refusals included.
    pub fn register_operator_card<T: Transport>(
        &self,
        cred: &CounterCredential,
        name: &str,
        card: &mut JukiCard<T>,
    ) -> Result<CardBinding> {
        let op = Operation::OperatorCard;
        self.authorize(op)?;
        let refuse = |serial: Option<&str>, e: CounterError| self.refused(op, name, serial, e);
        if let Err(e) = self.own_credential(cred) {
            return Err(refuse(None, e));
        }
        let Some(info) = self.db.operators().get(name)? else {
            return Err(refuse(
                None,
                CounterError::UnknownOperator(name.to_string()),
            ));
        };
        let identity = card
            .exclusive(|c| c.counter_session(cred, App::Juki, None))
            .map_err(|e| refuse(None, e.into()))?;
        let serial = identity.serial.clone();
        if identity.lifecycle != Lifecycle::Issued {
            return Err(refuse(
                Some(&serial),
                CounterError::NotAllowed(format!(
                    "card {serial} is {}: an operator card is an issued card",
                    lifecycle_text(identity.lifecycle)
                )),
            ));
        }
        for other in self.db.operators().list()? {
            if other.name != name && other.card_serial.as_deref() == Some(serial.as_str()) {
                return Err(refuse(
                    Some(&serial),
                    CounterError::NotAllowed(format!(
                        "card {serial} is already operator {}'s operator card",
                        other.name
                    )),
                ));
            }
        }
        self.bind_card(cred, name, info.role, serial, identity.public_key)
    }

    /// The municipality's binding of the card (`serial`, `key`) to operator `name` with `role`,
    /// signed with `cred`.
    fn sign_binding(
        &self,
        cred: &CounterCredential,
        name: &str,
        role: Role,
        serial: String,
        key: Vec<u8>,
    ) -> Result<CardBinding> {
        let message = binding_message(&self.municipality, name, role, &serial, &key);
        Ok(CardBinding {
            signature: cred.sign_statement(BINDING_DOMAIN, &message)?,
            signer: cred.certificate().to_vec(),
            serial,
            key,
        })
    }

    /// Signs and stores the binding of the card (`serial`, `key`) to operator `name` with
    /// `role`, and makes operator cards required at this counter (the card proved itself: the
    /// caller's part).
    pub(crate) fn bind_card(
        &self,
        cred: &CounterCredential,
        name: &str,
        role: Role,
        serial: String,
        key: Vec<u8>,
    ) -> Result<CardBinding> {
        let binding = self.sign_binding(cred, name, role, serial, key)?;
        crate::sql::savepoint(self.db.conn(), || {
            self.db
                .operators()
                .set_card(&self.actor(), name, &binding)?;
            self.db.conn().execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, '1')",
                [META_CARDS_REQUIRED],
            )?;
            Ok::<(), CounterError>(())
        })?;
        Ok(binding)
    }

    /// The database.
    pub fn db(&self) -> &CounterDb {
        &self.db
    }

    /// The database, to write.
    pub fn db_mut(&mut self) -> &mut CounterDb {
        &mut self.db
    }

    /// Gives the database back.
    pub fn into_db(self) -> CounterDb {
        self.db
    }

    /// The counter's municipality.
    pub fn municipality(&self) -> &MunicipalityCode {
        &self.municipality
    }

    /// The logged-in operator.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// The session's today.
    pub fn today(&self) -> Date {
        self.today
    }

    /// Municipality and operator, for the records.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            municipality: &self.municipality,
            operator: &self.operator,
        }
    }

    /// Registers another operator, audited as added by the logged-in one.
    pub fn add_operator(&self, name: &str, password: &Pin) -> Result<()> {
        self.add_operator_with_role(name, password, false)
    }

    /// Registers another operator, a supervisor when `supervisor` (only a supervisor registers
    /// one: [`CounterError::NotAllowed`] otherwise).
    pub fn add_operator_with_role(
        &self,
        name: &str,
        password: &Pin,
        supervisor: bool,
    ) -> Result<()> {
        let role = if supervisor {
            Role::Supervisor
        } else {
            Role::Clerk
        };
        self.add_operator_as(name, password, role)
    }

    /// Registers another operator with `role`. Only a supervisor registers operators
    /// ([`Session::authorize`]); a refusal is audited.
    pub fn add_operator_as(&self, name: &str, password: &Pin, role: Role) -> Result<()> {
        if role == Role::Supervisor && self.role != Role::Supervisor {
            let why = format!(
                "{} is not a supervisor (監督者ではありません): only a supervisor registers another",
                self.operator
            );
            self.db.audit().append(&AuditEntry {
                actor: self.actor(),
                card_serial: None,
                operation: Operation::OperatorAdd,
                outcome: Outcome::Refused(why.clone()),
                detail: &format!("operator {name} as a supervisor"),
            })?;
            return Err(CounterError::NotAllowed(why));
        }
        self.authorize(Operation::OperatorAdd)?;
        self.db
            .operators()
            .add_as(&self.actor(), name, &password_text(password), role)?;
        Ok(())
    }

    /// Unlocks operator `name` ([`super::operators::Operators::unlock`]): the logged-in operator
    /// must be a supervisor, and not `name`.
    pub fn unlock_operator(&self, name: &str) -> Result<OperatorInfo> {
        self.db.operators().unlock(&self.actor(), name)
    }

    /// `cred` is this counter's municipality's credential.
    fn own_credential(&self, cred: &CounterCredential) -> std::result::Result<(), CounterError> {
        if cred.municipality == self.municipality {
            return Ok(());
        }
        Err(Error::InvalidInput(format!(
            "the credential is for municipality {} but this counter belongs to {}",
            cred.municipality, self.municipality
        ))
        .into())
    }

    /// Appends the refusal of `op` concerning operator `name` (and the card `serial`) and
    /// gives `e` back (or the audit trail's own error).
    fn refused(
        &self,
        op: Operation,
        name: &str,
        serial: Option<&str>,
        e: CounterError,
    ) -> CounterError {
        match self.db.audit().append(&AuditEntry {
            actor: self.actor(),
            card_serial: serial,
            operation: op,
            outcome: Outcome::Refused(e.to_string()),
            detail: &format!("operator {name}"),
        }) {
            Ok(_) => e,
            Err(audit) => audit,
        }
    }

    /// Operator `name`, for `op` by the logged-in operator: their role must allow it, and
    /// `name` must exist (refusals audited).
    fn operator_for(&self, op: Operation, name: &str) -> Result<OperatorInfo> {
        self.authorize(op)?;
        match self.db.operators().get(name)? {
            Some(info) => Ok(info),
            None => Err(self.refused(
                op,
                name,
                None,
                CounterError::UnknownOperator(name.to_string()),
            )),
        }
    }

    /// The supervisors other than `except` who can still log in: all of them, or at a counter
    /// that requires operator cards, those with a registered card.
    fn other_supervisors(&self, except: &str) -> Result<usize> {
        let cards = operator_cards_required(&self.db)?;
        Ok(self
            .db
            .operators()
            .list()?
            .iter()
            .filter(|o| o.name != except && o.role == Role::Supervisor)
            .filter(|o| !cards || o.card_serial.is_some())
            .count())
    }

    /// Changes operator `name`'s role to `role` (役割の変更). Supervisors only; audited
    /// (`operator-role`: who changed whose role from what to what), refusals included.
    ///
    /// - The last supervisor who can log in is not demoted ([`CounterError::LastSupervisor`]):
    ///   the counter would have no one able to add operators.
    /// - An operator with an operator card has a binding that names their role: it is checked,
    ///   then signed again for the new role with `cred` (required then). The audit record names
    ///   the new binding, so the earlier one is refused at login even if put back.
    ///
    /// Returns the operator as they are now, and the new binding if they have a card.
    pub fn change_operator_role(
        &self,
        name: &str,
        role: Role,
        cred: Option<&CounterCredential>,
    ) -> Result<(OperatorInfo, Option<CardBinding>)> {
        let op = Operation::OperatorRole;
        let info = self.operator_for(op, name)?;
        if info.role == role {
            return Err(self.refused(
                op,
                name,
                None,
                CounterError::InvalidInput(format!("operator {name} already has the role {role}")),
            ));
        }
        if info.role == Role::Supervisor && self.other_supervisors(name)? == 0 {
            return Err(self.refused(
                op,
                name,
                None,
                CounterError::LastSupervisor {
                    operator: name.to_string(),
                },
            ));
        }
        let binding = match self.db.operators().card_binding(name)? {
            None => None,
            Some(old) => {
                let serial = Some(old.serial.as_str());
                let Some(cred) = cred else {
                    return Err(self.refused(
                        op,
                        name,
                        serial,
                        CounterError::InvalidInput(format!(
                            "operator {name}'s operator card {} names their role: changing it \
                             needs the municipality's counter credential (--credential) to sign \
                             the card's binding again",
                            old.serial
                        )),
                    ));
                };
                if let Err(e) = self.own_credential(cred) {
                    return Err(self.refused(op, name, serial, e));
                }
                if let Err(why) =
                    check_binding(&self.db, cred, &self.municipality, name, info.role, &old)
                {
                    return Err(self.refused(op, name, serial, CounterError::NotAllowed(why)));
                }
                Some(self.sign_binding(cred, name, role, old.serial, old.key)?)
            }
        };
        self.db
            .operators()
            .set_role(&self.actor(), name, info.role, role, binding.as_ref())?;
        let now = self
            .db
            .operators()
            .get(name)?
            .ok_or_else(|| CounterError::UnknownOperator(name.to_string()))?;
        Ok((now, binding))
    }

    /// Removes operator `name`'s operator card (lost or returned). Supervisors only; audited
    /// (`operator-card`), refusals included. The counter keeps requiring operator cards: `name`
    /// cannot log in until a supervisor registers a card again
    /// ([`Session::register_operator_card`]), and the removed card is refused even if its
    /// binding is put back into the database. The card of the last supervisor who can log in
    /// is not removed ([`CounterError::LastSupervisor`]).
    pub fn remove_operator_card(&self, name: &str) -> Result<CardBinding> {
        let op = Operation::OperatorCard;
        let info = self.operator_for(op, name)?;
        let Some(serial) = info.card_serial.as_deref() else {
            return Err(self.refused(
                op,
                name,
                None,
                CounterError::InvalidInput(format!(
                    "operator {name} has no registered operator card"
                )),
            ));
        };
        if info.role == Role::Supervisor && self.other_supervisors(name)? == 0 {
            return Err(self.refused(
                op,
                name,
                Some(serial),
                CounterError::LastSupervisor {
                    operator: name.to_string(),
                },
            ));
        }
        self.db.operators().remove_card(&self.actor(), name)
    }
}

/// Whether `binding` is `operator`'s operator card as the municipality signed it for `role`
/// (checked against the national root of `cred`), and the binding the audit trail last recorded
/// for its card: neither a database edit nor an earlier, genuine binding put back after a role
/// change or a removal is accepted. `Err` says why not.
fn check_binding(
    db: &CounterDb,
    cred: &CounterCredential,
    municipality: &MunicipalityCode,
    operator: &str,
    role: Role,
    binding: &CardBinding,
) -> std::result::Result<(), String> {
    let serial = binding.serial.as_str();
    let message = binding_message(municipality, operator, role, serial, &binding.key);
    if let Err(e) = verify_statement(
        cred.root(),
        &binding.signer,
        municipality,
        BINDING_DOMAIN,
        &message,
        &binding.signature,
    ) {
        return Err(format!(
            "the binding of {operator}'s operator card does not verify ({e}): the records \
             were changed without the municipality's key; a supervisor registers the card \
             again"
        ));
    }
    let recorded = db
        .operators()
        .recorded_binding(serial)
        .map_err(|e| format!("the audit trail could not be read ({e})"))?;
    match recorded {
        RecordedBinding::Bound(fp) if fp == binding.fingerprint() => Ok(()),
        RecordedBinding::Removed => Err(format!(
            "operator card {serial} was removed (操作者カードの登録は取り消されています): a \
             supervisor registers a card again (juki counter operator card)"
        )),
        // Unnamed: a record without the binding's fingerprint, which no released version
        // wrote — nothing to compare with, so nothing is accepted.
        RecordedBinding::Bound(_) | RecordedBinding::None | RecordedBinding::Unnamed => {
            Err(format!(
                "the binding of {operator}'s operator card is not the one the audit trail last \
             recorded for card {serial} (an earlier binding put back after a role change or a \
             new registration); a supervisor registers the card again"
            ))
        }
    }
}

/// The card step of a login ([`Session::login_with_card`]); every refusal audited.
fn card_step(
    db: &CounterDb,
    municipality: &MunicipalityCode,
    operator: &str,
    role: Role,
    binding: Option<CardBinding>,
    card: Option<CardLogin<'_>>,
) -> Result<Box<dyn OperatorCard>> {
    let actor = Actor {
        municipality,
        operator,
    };
    let audit = |outcome: Outcome, serial: Option<&str>, detail: &str| -> Result<()> {
        db.audit().append(&AuditEntry {
            actor,
            card_serial: serial,
            operation: Operation::Login,
            outcome,
            detail,
        })?;
        Ok(())
    };
    let refuse = |reason: String, serial: Option<&str>, e: Option<Error>| -> CounterError {
        match audit(
            Outcome::Refused(reason.clone()),
            serial,
            "operator card step",
        ) {
            Ok(()) => CounterError::OperatorCardRefused { reason, card: e },
            Err(audit) => audit,
        }
    };
    let Some(binding) = binding else {
        return Err(refuse(
            format!(
                "this counter requires an operator card of every operator, and none is \
                 registered for {operator} (a supervisor registers it: juki counter operator \
                 card)"
            ),
            None,
            None,
        ));
    };
    let serial = binding.serial.as_str();
    let Some(login) = card else {
        return Err(refuse(
            format!("{operator} logs in with an operator card, which this command does not read"),
            Some(serial),
            None,
        ));
    };
    let Some(cred) = login.cred else {
        return Err(refuse(
            "checking the operator card needs the municipality's counter credential \
             (--credential)"
                .into(),
            Some(serial),
            None,
        ));
    };
    // The binding first: a database edit must not choose which card is accepted.
    if let Err(why) = check_binding(db, cred, municipality, operator, role, &binding) {
        return Err(refuse(why, Some(serial), None));
    }
    let mut held = (login.connect)().map_err(|e| {
        refuse(
            format!("no operator card in the operator reader ({e})"),
            Some(serial),
            Some(e),
        )
    })?;
    let reader = held.reader();
    let identity = held
        .card()
        .exclusive(|c| c.counter_session(cred, App::Juki, None))
        .map_err(|e| {
            refuse(
                format!("the card in the operator reader {reader} did not prove itself ({e})"),
                Some(serial),
                Some(e),
            )
        })?;
    if identity.serial != binding.serial || identity.public_key != binding.key {
        return Err(refuse(
            format!(
                "the card in the operator reader ({}) is not {operator}'s operator card",
                identity.serial
            ),
            Some(&identity.serial),
            None,
        ));
    }
    if identity.lifecycle != Lifecycle::Issued {
        return Err(refuse(
            format!(
                "operator card {serial} is {}",
                lifecycle_text(identity.lifecycle)
            ),
            Some(serial),
            None,
        ));
    }
    let pin = (login.pin)()
        .map_err(|e| refuse(format!("no operator card PIN ({e})"), Some(serial), Some(e)))?;
    let key = binding.key.clone();
    let verified = held.card().exclusive(|c| {
        let again = c.counter_session(cred, App::Juki, Some(&binding.serial))?;
        if again.public_key != key {
            return Err(Error::CardChanged {
                expected: binding.serial.clone(),
                found: again.serial,
            });
        }
        c.verify_selected(PinId::Juki, &pin)
    });
    if let Err(e) = verified {
        let reason = match &e {
            Error::WrongPin { tries_left } => {
                format!("wrong operator card PIN ({tries_left} tries left)")
            }
            Error::PinBlocked => "the operator card's PIN is locked".into(),
            other => format!("the operator card's PIN was not verified ({other})"),
        };
        return Err(refuse(reason, Some(serial), Some(e)));
    }
    if !held.still_present() {
        return Err(refuse(
            "operator card removed (操作者カードが取り外されました)".into(),
            Some(serial),
            None,
        ));
    }
    audit(
        Outcome::Ok,
        Some(serial),
        &format!(
            "operator card {serial} in {reader}: proved by its own key, its PIN verified by the \
             card"
        ),
    )?;
    Ok(held)
}

#[cfg(test)]
mod tests;
