//! The counter data layer's error type.

use std::io;

/// Result of the counter data layer.
pub type Result<T, E = CounterError> = std::result::Result<T, E>;

/// Why a counter database operation did not happen.
///
/// No variant ever carries a password or PIN.
#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    // ---- refused on the host before the card is asked ----
    /// The card is not in a lifecycle state that allows the counter operation.
    #[error("this card is {state}: {operation} is not possible ({hint})")]
    WrongCardState {
        /// The card's state, as shown.
        state: String,
        /// The operation asked.
        operation: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The municipality's counter credential is outside its validity.
    #[error(
        "the counter credential of {municipality} {name} {when} (窓口の証明書の有効期間外): ask the \
         national authority for a new one (juki authority certify)"
    )]
    CredentialNotValid {
        /// Municipality code.
        municipality: String,
        /// Municipality name.
        name: String,
        /// `expired on …` or `is valid only from …`.
        when: String,
    },

    /// The card, the reader or the middleware refused or failed.
    #[error(transparent)]
    Host(#[from] juki_host::Error),
    /// A JPKI certificate, CRL or answer was rejected, or the CA failed.
    #[error(transparent)]
    Jpki(#[from] juki_jpki::JpkiError),
    /// The national server (住基ネット) could not be asked, or refused the request.
    #[error(transparent)]
    Network(#[from] juki_net::client::ClientError),
    /// A 住民票の写し (広域交付) could not be made or sealed.
    #[error(transparent)]
    Copy(#[from] juki_net::copy::CopyError),
    /// `juki counter audit verify` found a fault in the audit trail.
    #[error("the audit trail is damaged (監査記録の改ざん・欠落): {0}")]
    AuditTrail(String),

    /// 住基ネット's provision log was refused by this counter's monitor, or an anchor of this
    /// counter's trail is not in it: the national server's records were altered or its log
    /// forked.
    #[error(
        "the provision log of 住基ネット was tampered with or forked (住基ネットの提供記録の改ざん・\
         分岐を検知しました): {0}"
    )]
    ProvisionLog(String),

    // ---- the counter's records ----
    /// A file or directory could not be created, read or protected.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// SQLite reported an error.
    #[error("counter database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer juki.
    #[error(
        "the counter database has schema version {found}, newer than this juki understands \
         ({supported}); use a newer juki"
    )]
    SchemaTooNew {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A value read from the database is not valid (the file was edited or is damaged).
    #[error("the counter database holds an invalid {0}; it was edited outside juki or is damaged")]
    Corrupt(String),
    /// An argument is not acceptable (empty name, bad serial, expiry before issue, …).
    #[error("{0}")]
    InvalidInput(String),
    /// No card with this serial in the registry.
    #[error("no card with serial {0} in this counter's registry")]
    UnknownCard(String),
    /// No resident with this 住民票コード in the registry.
    #[error("no resident with resident code (住民票コード) {0} in this counter's registry")]
    UnknownResident(String),
    /// A card with this serial is already registered.
    #[error("a card with serial {0} is already registered")]
    DuplicateCard(String),
    /// The 住民票コード is or was already used by a resident.
    #[error("the resident code (住民票コード) {0} is already in use or was used before")]
    CodeInUse(String),
    /// The name given at registration differs from the registered name.
    #[error(
        "resident {code} is registered under another name; record a name change (記載事項変更) first"
    )]
    NameMismatch {
        /// The resident code.
        code: String,
    },
    /// The card's state does not allow this change.
    #[error("card {serial} is {from}; it cannot become {to}")]
    Transition {
        /// Card serial.
        serial: String,
        /// Current state.
        from: &'static str,
        /// Requested state.
        to: &'static str,
    },
    /// The card's state does not allow this operation.
    #[error("card {serial} is {state}: {operation} is not possible")]
    WrongState {
        /// Card serial.
        serial: String,
        /// Current state.
        state: &'static str,
        /// What was asked.
        operation: &'static str,
    },
    /// The resident still holds a card that is not terminated (one card per person).
    #[error(
        "resident {code} still holds card {serial} ({state}); terminate it (返納) before \
         registering another"
    )]
    CardAlreadyHeld {
        /// The resident code.
        code: String,
        /// The card still held.
        serial: String,
        /// Its state.
        state: &'static str,
    },
    /// An operator with this name already exists.
    #[error("an operator named {0} already exists")]
    DuplicateOperator(String),
    /// No such operator (for administrative look-ups; a login never says which part was wrong).
    #[error("no operator named {0}")]
    UnknownOperator(String),
    /// Login refused: wrong operator name or password (deliberately not saying which).
    #[error("wrong operator name or password")]
    WrongCredentials,
    /// Login refused: too many wrong passwords.
    #[error("operator {operator} is locked out after repeated wrong passwords until {until}")]
    LockedOut {
        /// The operator.
        operator: String,
        /// End of the lockout, UTC RFC 3339.
        until: String,
    },
    /// Login refused: locked after [`super::operators::MAX_LOCKOUTS`] lockouts in a row, until a
    /// supervisor unlocks the operator.
    #[error(
        "operator {operator} is locked after repeated wrong passwords until a supervisor unlocks \
         it (操作者はロックされています。監督者による解除が必要です): juki counter operator unlock \
         {operator} --operator SUPERVISOR"
    )]
    LockedUntilUnlocked {
        /// The operator.
        operator: String,
    },
    /// The logged-in operator may not do this (unlock without the supervisor role, unlock
    /// themself, register a supervisor without being one).
    #[error("not allowed (権限がありません): {0}")]
    NotAllowed(String),
    /// The change would leave the counter without a supervisor able to log in (the last
    /// supervisor demoting themself, or the last supervisor's operator card removed): no one
    /// could add operators, change roles or register operator cards any more.
    #[error(
        "not allowed (権限がありません): operator {operator} is this counter's last supervisor          who can log in; the counter would have no one able to add operators, change roles or          register operator cards. Register another supervisor (with an operator card) first"
    )]
    LastSupervisor {
        /// The last supervisor.
        operator: String,
    },
    /// The operator's role (decided by the municipality) does not allow the operation.
    #[error(
        "not allowed (権限がありません): operator {operator} has the role {role}, which may not \
         {operation}{}", supervisor_hint(.operator, .supervisor_only)
    )]
    RoleNotAllowed {
        /// The logged-in operator.
        operator: String,
        /// Their role.
        role: &'static str,
        /// The operation refused.
        operation: &'static str,
        /// Only a supervisor may do it.
        supervisor_only: bool,
    },
    /// Login refused at the operator card step (no card, another card, the card's PIN, a
    /// binding that does not verify): why, without secrets.
    #[error("operator card refused (操作者カードを確認できません): {reason}")]
    OperatorCardRefused {
        /// Why.
        reason: String,
        /// The card's own refusal of the PIN, when that is why (tries left).
        #[source]
        card: Option<juki_host::Error>,
    },
    /// The operator card left its reader during the session: the session is over.
    #[error(
        "操作者カードが取り外されました (the operator card was removed from {reader}): the \
         operator's session is over; nothing more was done"
    )]
    OperatorCardRemoved {
        /// The operator reader.
        reader: String,
    },
    /// Hashing a password failed.
    #[error("password hashing: {0}")]
    PasswordHash(String),
    /// No pending operation with this id.
    #[error("no pending operation #{0}")]
    UnknownPending(i64),
    /// The pending operation was already closed.
    #[error("operation #{id} is already {state}")]
    NotPending {
        /// Journal id.
        id: i64,
        /// `completed` or `resolved`.
        state: String,
    },
}

/// The end of a role refusal's message, when only a supervisor may do it.
fn supervisor_hint(operator: &str, supervisor_only: &bool) -> String {
    if *supervisor_only {
        format!(" (only a supervisor may: {operator} is not a supervisor)")
    } else {
        String::new()
    }
}

impl CounterError {
    /// The middleware's error underneath (the card's answer, the reader), if that is what
    /// failed, whether directly or through the JPKI layer.
    pub fn host(&self) -> Option<&juki_host::Error> {
        match self {
            CounterError::Host(e) => Some(e),
            CounterError::Jpki(e) => e.host(),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> CounterError {
        CounterError::Io {
            context: context.into(),
            source,
        }
    }
}
