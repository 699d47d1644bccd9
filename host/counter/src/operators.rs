//! Operators (操作者): the named clerks every counter command runs as.
//!
//! A password is stored only as an Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`,
//! the `argon2` crate's default parameters, random 16-byte salt); the password itself is never
//! stored, logged or put in an error. After [`MAX_FAILURES`] wrong passwords in a row the
//! operator is locked out: attempts during the lockout are refused without checking the
//! password, and the count of wrong passwords starts again when the lockout ends. Lockouts
//! escalate: the first lasts [`LOCKOUT_SECS`] seconds (15 minutes), each further one in a row
//! (no successful login in between) twice as long as the one before, and the
//! [`MAX_LOCKOUTS`]th locks the operator until a supervisor unlocks them ([`Operators::unlock`]):
//! 15 wrong passwords in all, instead of about 480 a day. A correct password resets both counts.
//! Every attempt, refused and failed ones included, is appended to the audit trail (operation
//! `login`) in the same transaction as the count; every unlock, and every refused one, too
//! (`operator-unlock`).
//!
//! An operator may be a supervisor (監督者): only a supervisor unlocks another operator (never
//! themself), and only a supervisor registers another supervisor. The first operator of a
//! counter is its supervisor. Since schema version 7 the supervisor flag is one of three roles
//! (`operators.role`: clerk, supervisor, auditor; [`super::roles`] says what each may do), and an
//! operator may have an operator card bound to them ([`CardBinding`], checked at login by
//! [`super::session`]). A supervisor changes roles (`operator-role`) and removes cards
//! (`operator-card`); each such record ends naming the card's binding (`binding FINGERPRINT` or
//! `binding removed`: [`RecordedBinding`]).
//!
//! A wrong password and an unknown operator name give the same error
//! ([`CounterError::WrongCredentials`]) and take about the same time (a dummy hash is checked).

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::audit::{Audit, AuditEntry};
use super::clock::{Clock, Timestamp};
use super::error::{CounterError, Result};
use super::roles::Role;
use super::sql::savepoint;
use super::{Actor, Operation, Outcome};
use juki_host::resident::MunicipalityCode;

/// Wrong passwords in a row that lock an operator out.
pub const MAX_FAILURES: u32 = 5;
/// How long the first lockout lasts: 15 minutes (each further one in a row lasts twice as long
/// as the one before).
pub const LOCKOUT_SECS: i64 = 15 * 60;
/// Lockouts in a row (without a successful login) after which the operator is locked until a
/// supervisor unlocks them.
pub const MAX_LOCKOUTS: u32 = 3;

/// How long the `n`th lockout in a row lasts (`n` from 1, below [`MAX_LOCKOUTS`]).
pub fn lockout_secs(n: u32) -> i64 {
    LOCKOUT_SECS.saturating_mul(1i64.checked_shl(n.saturating_sub(1)).unwrap_or(i64::MAX))
}
/// Shortest password accepted by [`Operators::add`], in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest operator name, in bytes.
pub const MAX_NAME: usize = 64;

/// An operator, as listed (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    /// Name.
    pub name: String,
    /// When registered (UTC RFC 3339).
    pub created_at: String,
    /// Last successful login (UTC RFC 3339).
    pub last_login_at: Option<String>,
    /// Wrong passwords since the last success or lockout.
    pub failed_attempts: u32,
    /// End of the current or last lockout.
    pub locked_until: Option<Timestamp>,
    /// Lockouts in a row since the last successful login (or unlock).
    pub lockouts: u32,
    /// Whether the operator is a supervisor (`role` is [`Role::Supervisor`]).
    pub supervisor: bool,
    /// The role the municipality gave them.
    pub role: Role,
    /// The serial of their registered operator card (操作者カード), if any.
    pub card_serial: Option<String>,
}

impl OperatorInfo {
    /// Locked until a supervisor unlocks the operator ([`MAX_LOCKOUTS`] lockouts in a row).
    pub fn needs_unlock(&self) -> bool {
        self.lockouts >= MAX_LOCKOUTS
    }
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    /// The operator's name (use it as [`Actor::operator`]).
    pub operator: String,
    /// When.
    pub at: Timestamp,
    /// Sequence number of the audit record of this login.
    pub audit_seq: u64,
}

/// An operator card as registered: the card's serial and public key (as the card proved them
/// in the mutual authentication) and the municipality's signature binding them to the
/// operator's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardBinding {
    /// The card's serial.
    pub serial: String,
    /// The card's public key (SEC1 uncompressed).
    pub key: Vec<u8>,
    /// The counter certificate whose key signed the binding.
    pub signer: Vec<u8>,
    /// The signature, `r‖s`.
    pub signature: Vec<u8>,
}

impl CardBinding {
    /// A short fingerprint of the binding (the first 16 bytes of the SHA-256 of its signature,
    /// in hex), as the audit trail records it: another role, operator, card or signing gives
    /// another one.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(&self.signature)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// What the audit trail last recorded of an operator card ([`Operators::recorded_binding`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedBinding {
    /// No record of the card.
    None,
    /// Registered (or signed again) with the binding of this fingerprint
    /// ([`CardBinding::fingerprint`]).
    Bound(String),
    /// Removed.
    Removed,
    /// A record that does not name the binding (no version that was released wrote one): a
    /// login with it is refused.
    Unnamed,
}

/// The words that end an `operator-card` or `operator-role` record's detail and name its
/// binding: `binding FINGERPRINT` or `binding removed` (last, after any operator name).
const BINDING_NOTE: &str = "binding ";
const REMOVED_NOTE: &str = "removed";

fn binding_note(binding: Option<&CardBinding>) -> String {
    match binding {
        Some(b) => format!("{BINDING_NOTE}{}", b.fingerprint()),
        None => format!("{BINDING_NOTE}{REMOVED_NOTE}"),
    }
}

impl RecordedBinding {
    fn parse(detail: &str) -> RecordedBinding {
        let Some(at) = detail.rfind(BINDING_NOTE) else {
            return RecordedBinding::Unnamed;
        };
        let word: String = detail[at + BINDING_NOTE.len()..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if word == REMOVED_NOTE {
            RecordedBinding::Removed
        } else if word.len() == 32 && word.chars().all(|c| c.is_ascii_hexdigit()) {
            RecordedBinding::Bound(word)
        } else {
            RecordedBinding::Unnamed
        }
    }
}

/// The operators, on a connection (see [`super::CounterDb::operators`]).
pub struct Operators<'c> {
    conn: &'c Connection,
    clock: &'c dyn Clock,
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || name.trim() != name
        || name.chars().any(char::is_control)
    {
        return Err(CounterError::InvalidInput(format!(
            "an operator name has 1 to {MAX_NAME} bytes, no control characters and no leading \
             or trailing spaces"
        )));
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| CounterError::PasswordHash(e.to_string()))
}

/// A hash of a password nobody has, checked for unknown names so that they take as long.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("juki: no such operator").unwrap_or_default())
}

/// Whether `password` matches the stored PHC string; `Err` when the string is not a valid
/// Argon2id hash.
fn password_matches(password: &str, stored: &str) -> Result<bool> {
    let parsed = PasswordHash::new(stored)
        .map_err(|_| CounterError::Corrupt("operator password hash".into()))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(CounterError::Corrupt(
            "operator password hash (not Argon2id)".into(),
        ));
    }
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(CounterError::PasswordHash(e.to_string())),
    }
}

/// The stored state of one operator, as a login needs it.
struct LoginRow {
    hash: String,
    failed: u32,
    locked_until: Option<i64>,
    lockouts: u32,
}

impl<'c> Operators<'c> {
    pub(crate) fn new(conn: &'c Connection, clock: &'c dyn Clock) -> Operators<'c> {
        Operators { conn, clock }
    }

    fn audit(&self) -> Audit<'c> {
        Audit::new(self.conn, self.clock)
    }

    /// Registers an operator with `password` (at least [`MIN_PASSWORD_CHARS`] characters),
    /// audited as `operator-add` by `by` (the logged-in operator who adds it; for the very first
    /// operator of a counter, the caller names the setup, e.g. the new operator itself).
    pub fn add(&self, by: &Actor<'_>, name: &str, password: &str) -> Result<()> {
        self.add_with_role(by, name, password, false)
    }

    /// [`Self::add`], as a supervisor when `supervisor` (audited so). Who may register a
    /// supervisor is the caller's rule ([`super::Session::add_operator`]: only a supervisor).
    pub fn add_with_role(
        &self,
        by: &Actor<'_>,
        name: &str,
        password: &str,
        supervisor: bool,
    ) -> Result<()> {
        let role = if supervisor {
            Role::Supervisor
        } else {
            Role::Clerk
        };
        self.add_as(by, name, password, role)
    }

    /// [`Self::add`] with `role` (audited so). Who may register whom is the caller's rule
    /// ([`super::Session::add_operator_as`]).
    pub fn add_as(&self, by: &Actor<'_>, name: &str, password: &str, role: Role) -> Result<()> {
        let supervisor = role == Role::Supervisor;
        check_name(name)?;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(CounterError::InvalidInput(format!(
                "an operator password has at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        let hash = hash_password(password)?;
        savepoint(self.conn, || {
            if self.get(name)?.is_some() {
                return Err(CounterError::DuplicateOperator(name.to_string()));
            }
            let now = self.clock.now().rfc3339();
            self.conn.execute(
                "INSERT INTO operators (name, password_hash, created_at, supervisor, role) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, hash, now, supervisor, role.as_str()],
            )?;
            self.audit().append(&AuditEntry {
                actor: *by,
                card_serial: None,
                operation: Operation::OperatorAdd,
                outcome: Outcome::Ok,
                detail: &match role {
                    Role::Supervisor => format!("operator {name} registered as a supervisor"),
                    Role::Clerk => format!("operator {name} registered"),
                    r => format!("operator {name} registered as {r}"),
                },
            })?;
            Ok(())
        })
    }

    /// Checks `name`'s password at the counter of `municipality`. Every attempt is audited.
    ///
    /// Errors: [`CounterError::WrongCredentials`] (unknown name or wrong password),
    /// [`CounterError::LockedOut`] (too many wrong passwords: try again after the time given),
    /// [`CounterError::LockedUntilUnlocked`] (too many lockouts: a supervisor must unlock).
    pub fn login(
        &self,
        municipality: &MunicipalityCode,
        name: &str,
        password: &str,
    ) -> Result<LoggedIn> {
        // A name that cannot be an operator is recorded as such, not as typed.
        let recorded_name = if check_name(name).is_ok() {
            name
        } else {
            "(invalid name)"
        };
        let actor = Actor {
            municipality,
            operator: recorded_name,
        };
        let outcome = savepoint(self.conn, || -> Result<Result<LoggedIn>> {
            let now = self.clock.now();
            let row = self
                .conn
                .query_row(
                    "SELECT password_hash, failed_attempts, locked_until, lockouts FROM operators \
                     WHERE name = ?1",
                    [name],
                    |r| {
                        Ok(LoginRow {
                            hash: r.get(0)?,
                            failed: r.get(1)?,
                            locked_until: r.get(2)?,
                            lockouts: r.get(3)?,
                        })
                    },
                )
                .optional()?;
            let entry = |outcome: Outcome, detail: &str| -> Result<u64> {
                Ok(self
                    .audit()
                    .append(&AuditEntry {
                        actor,
                        card_serial: None,
                        operation: Operation::Login,
                        outcome,
                        detail,
                    })?
                    .seq)
            };
            let Some(row) = row else {
                // Same work as a real check, same answer as a wrong password.
                let _ = password_matches(password, dummy_hash());
                entry(Outcome::Failed("unknown operator".into()), "")?;
                return Ok(Err(CounterError::WrongCredentials));
            };
            if row.lockouts >= MAX_LOCKOUTS {
                entry(
                    Outcome::Refused("locked until a supervisor unlocks".into()),
                    "password not checked",
                )?;
                return Ok(Err(CounterError::LockedUntilUnlocked {
                    operator: name.to_string(),
                }));
            }
            if let Some(until) = row.locked_until.filter(|&u| now.unix() < u) {
                let until = Timestamp::from_unix(until).rfc3339();
                entry(
                    Outcome::Refused(format!("locked out until {until}")),
                    "password not checked",
                )?;
                return Ok(Err(CounterError::LockedOut {
                    operator: name.to_string(),
                    until,
                }));
            }
            if password_matches(password, &row.hash)? {
                self.conn.execute(
                    "UPDATE operators SET failed_attempts = 0, lockouts = 0, last_login_at = ?2 \
                     WHERE name = ?1",
                    params![name, now.rfc3339()],
                )?;
                let audit_seq = entry(Outcome::Ok, "")?;
                return Ok(Ok(LoggedIn {
                    operator: name.to_string(),
                    at: now,
                    audit_seq,
                }));
            }
            let failed = row.failed.saturating_add(1);
            if failed >= MAX_FAILURES {
                let lockouts = row.lockouts.saturating_add(1);
                if lockouts >= MAX_LOCKOUTS {
                    self.conn.execute(
                        "UPDATE operators SET failed_attempts = 0, lockouts = ?2, \
                         locked_until = NULL WHERE name = ?1",
                        params![name, lockouts],
                    )?;
                    entry(
                        Outcome::Failed("wrong password".into()),
                        &format!(
                            "{failed} wrong passwords in a row, lockout {lockouts} of \
                             {MAX_LOCKOUTS}: locked until a supervisor unlocks"
                        ),
                    )?;
                    return Ok(Err(CounterError::LockedUntilUnlocked {
                        operator: name.to_string(),
                    }));
                }
                let until = now.plus_secs(lockout_secs(lockouts));
                self.conn.execute(
                    "UPDATE operators SET failed_attempts = 0, lockouts = ?2, locked_until = ?3 \
                     WHERE name = ?1",
                    params![name, lockouts, until.unix()],
                )?;
                entry(
                    Outcome::Failed("wrong password".into()),
                    &format!(
                        "{failed} wrong passwords in a row, lockout {lockouts} of \
                         {MAX_LOCKOUTS}: locked out for {} minutes, until {}",
                        lockout_secs(lockouts) / 60,
                        until.rfc3339()
                    ),
                )?;
                Ok(Err(CounterError::LockedOut {
                    operator: name.to_string(),
                    until: until.rfc3339(),
                }))
            } else {
                self.conn.execute(
                    "UPDATE operators SET failed_attempts = ?2 WHERE name = ?1",
                    params![name, failed],
                )?;
                entry(
                    Outcome::Failed("wrong password".into()),
                    &format!("{failed} of {MAX_FAILURES} wrong passwords in a row"),
                )?;
                Ok(Err(CounterError::WrongCredentials))
            }
        })?;
        outcome
    }

    /// Unlocks `name` (locked until a supervisor unlocks them, or locked out for a while):
    /// both counts back to 0, the lockout ended. Done by `by`, a logged-in operator who must be
    /// a supervisor and not `name`. Audited as `operator-unlock`, refusals included.
    ///
    /// Errors: [`CounterError::NotAllowed`] (`by` is not a supervisor, or is `name`),
    /// [`CounterError::UnknownOperator`].
    pub fn unlock(&self, by: &Actor<'_>, name: &str) -> Result<OperatorInfo> {
        let outcome = savepoint(self.conn, || -> Result<Result<OperatorInfo>> {
            let entry = |outcome: Outcome, detail: &str| -> Result<()> {
                self.audit().append(&AuditEntry {
                    actor: *by,
                    card_serial: None,
                    operation: Operation::OperatorUnlock,
                    outcome,
                    detail,
                })?;
                Ok(())
            };
            let shown = if check_name(name).is_ok() {
                name
            } else {
                "(invalid name)"
            };
            let refuse = |why: String| -> Result<Result<OperatorInfo>> {
                entry(Outcome::Refused(why.clone()), &format!("operator {shown}"))?;
                Ok(Err(CounterError::NotAllowed(why)))
            };
            if by.operator == name {
                return refuse("an operator cannot unlock themself".into());
            }
            if !self.get(by.operator)?.is_some_and(|o| o.supervisor) {
                return refuse(format!(
                    "{} is not a supervisor (監督者ではありません): only a supervisor unlocks an \
                     operator",
                    by.operator
                ));
            }
            let Some(before) = self.get(name)? else {
                entry(
                    Outcome::Refused("unknown operator".into()),
                    &format!("operator {shown}"),
                )?;
                return Ok(Err(CounterError::UnknownOperator(name.to_string())));
            };
            self.conn.execute(
                "UPDATE operators SET failed_attempts = 0, lockouts = 0, locked_until = NULL \
                 WHERE name = ?1",
                [name],
            )?;
            entry(
                Outcome::Ok,
                &format!(
                    "operator {name} unlocked ({} lockouts in a row{}, {} wrong passwords since)",
                    before.lockouts,
                    if before.needs_unlock() {
                        ": was locked until a supervisor unlocks"
                    } else {
                        ""
                    },
                    before.failed_attempts
                ),
            )?;
            Ok(self.get(name)?.ok_or_else(|| {
                CounterError::Corrupt(format!("operator {name} vanished while unlocked"))
            }))
        })?;
        outcome
    }

    /// The stored binding of `name`'s operator card, if one is registered (not yet checked:
    /// [`super::session`] verifies the municipality's signature before trusting it).
    pub fn card_binding(&self, name: &str) -> Result<Option<CardBinding>> {
        let row = self
            .conn
            .query_row(
                "SELECT card_serial, card_key, card_signer, card_signature FROM operators \
                 WHERE name = ?1",
                [name],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, Option<Vec<u8>>>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                },
            )
            .optional()?;
        match row {
            None | Some((None, None, None, None)) => Ok(None),
            Some((Some(serial), Some(key), Some(signer), Some(signature))) => {
                Ok(Some(CardBinding {
                    serial,
                    key,
                    signer,
                    signature,
                }))
            }
            Some(_) => Err(CounterError::Corrupt(format!(
                "operator {name}'s card binding (incomplete)"
            ))),
        }
    }

    /// Stores `binding` as `name`'s operator card (replacing any earlier one), audited as
    /// `operator-card` by `by`, the record naming the binding ([`RecordedBinding`]).
    pub(crate) fn set_card(&self, by: &Actor<'_>, name: &str, binding: &CardBinding) -> Result<()> {
        savepoint(self.conn, || {
            self.write_card(
                by,
                name,
                Some(binding),
                &binding.serial,
                &format!(
                    "card {} registered as operator {name}'s operator card ({})",
                    binding.serial,
                    binding_note(Some(binding))
                ),
            )
        })
    }

    /// Removes `name`'s operator card (lost or returned), audited as `operator-card` by `by`:
    /// the record says the binding was removed, so that the card is refused at login even if
    /// the binding is put back into the database ([`Self::recorded_binding`]). Who may is the
    /// caller's rule ([`super::Session::remove_operator_card`]).
    pub(crate) fn remove_card(&self, by: &Actor<'_>, name: &str) -> Result<CardBinding> {
        savepoint(self.conn, || {
            let binding = self.card_binding(name)?.ok_or_else(|| {
                CounterError::InvalidInput(format!(
                    "operator {name} has no registered operator card"
                ))
            })?;
            self.write_card(
                by,
                name,
                None,
                &binding.serial,
                &format!(
                    "card {} removed: no longer operator {name}'s operator card ({})",
                    binding.serial,
                    binding_note(None)
                ),
            )?;
            Ok(binding)
        })
    }

    /// Gives `name` the role `to` (from `from`), with `binding` (their operator card's binding,
    /// signed again for the new role) if they have a card; audited as `operator-role` by `by`
    /// (who changed whose role from what to what). Who may, and the rule of the last
    /// supervisor, are the caller's ([`super::Session::change_operator_role`]).
    pub(crate) fn set_role(
        &self,
        by: &Actor<'_>,
        name: &str,
        from: Role,
        to: Role,
        binding: Option<&CardBinding>,
    ) -> Result<()> {
        savepoint(self.conn, || {
            let n = self.conn.execute(
                "UPDATE operators SET role = ?2, supervisor = ?3 WHERE name = ?1",
                params![name, to.as_str(), to == Role::Supervisor],
            )?;
            if n != 1 {
                return Err(CounterError::UnknownOperator(name.to_string()));
            }
            let mut detail = format!("operator {name}: role {from} → {to}");
            if let Some(b) = binding {
                self.store_binding(name, Some(b))?;
                detail.push_str(&format!(
                    "; operator card {} signed again for the new role ({})",
                    b.serial,
                    binding_note(Some(b))
                ));
            }
            self.audit().append(&AuditEntry {
                actor: *by,
                card_serial: binding.map(|b| b.serial.as_str()),
                operation: Operation::OperatorRole,
                outcome: Outcome::Ok,
                detail: &detail,
            })?;
            Ok(())
        })
    }

    /// Writes `stored` (or none) as `name`'s operator card, and the `operator-card` record of
    /// card `serial` saying so (`detail`).
    fn write_card(
        &self,
        by: &Actor<'_>,
        name: &str,
        stored: Option<&CardBinding>,
        serial: &str,
        detail: &str,
    ) -> Result<()> {
        self.store_binding(name, stored)?;
        self.audit().append(&AuditEntry {
            actor: *by,
            card_serial: Some(serial),
            operation: Operation::OperatorCard,
            outcome: Outcome::Ok,
            detail,
        })?;
        Ok(())
    }

    /// Writes `binding` (or none) as `name`'s operator card.
    fn store_binding(&self, name: &str, binding: Option<&CardBinding>) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE operators SET card_serial = ?2, card_key = ?3, card_signer = ?4, \
             card_signature = ?5 WHERE name = ?1",
            params![
                name,
                binding.map(|b| &b.serial),
                binding.map(|b| &b.key),
                binding.map(|b| &b.signer),
                binding.map(|b| &b.signature)
            ],
        )?;
        if n != 1 {
            return Err(CounterError::UnknownOperator(name.to_string()));
        }
        Ok(())
    }

    /// What the audit trail last recorded of the operator card `serial`: its last successful
    /// `operator-card` or `operator-role` record. The trail is hash-chained (and anchored in
    /// 住基ネット's log), so unlike the `operators` row this cannot quietly be put back as it
    /// was before a role change or a removal.
    pub fn recorded_binding(&self, serial: &str) -> Result<RecordedBinding> {
        let detail: Option<String> = self
            .conn
            .query_row(
                "SELECT detail FROM audit_log WHERE card_serial = ?1 AND outcome = 'ok' \
                 AND operation IN (?2, ?3) ORDER BY seq DESC LIMIT 1",
                params![
                    serial,
                    Operation::OperatorCard.as_str(),
                    Operation::OperatorRole.as_str()
                ],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match detail {
            None => RecordedBinding::None,
            Some(d) => RecordedBinding::parse(&d),
        })
    }

    /// One operator.
    pub fn get(&self, name: &str) -> Result<Option<OperatorInfo>> {
        Ok(self
            .list_where("WHERE name = ?1", [name])?
            .into_iter()
            .next())
    }

    /// Every operator, by name.
    pub fn list(&self) -> Result<Vec<OperatorInfo>> {
        self.list_where("ORDER BY name", [])
    }

    fn list_where(&self, clause: &str, p: impl rusqlite::Params) -> Result<Vec<OperatorInfo>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT name, created_at, last_login_at, failed_attempts, locked_until, lockouts, \
             role, card_serial FROM operators {clause}"
        ))?;
        let rows = stmt
            .query_map(p, |r| {
                Ok(OperatorInfo {
                    name: r.get(0)?,
                    created_at: r.get(1)?,
                    last_login_at: r.get(2)?,
                    failed_attempts: r.get(3)?,
                    locked_until: r.get::<_, Option<i64>>(4)?.map(Timestamp::from_unix),
                    lockouts: r.get(5)?,
                    supervisor: r.get::<_, String>(6)? == Role::Supervisor.as_str(),
                    role: {
                        let text: String = r.get(6)?;
                        Role::parse(&text).ok_or_else(|| {
                            rusqlite::Error::FromSqlConversionFailure(
                                6,
                                rusqlite::types::Type::Text,
                                format!("operator role {text:?}").into(),
                            )
                        })?
                    },
                    card_serial: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests;
