//! What the `juki` command reports when something fails, and its exit code: the error of the
//! layer that failed (middleware, JPKI, counter), as it came up, or the CLI's own refusal.
//!
//! The libraries' `Display` stays English, for logs; what the clerk or the citizen reads is
//! [`message`]: every variant of each layer's error mapped to a catalog message (one table,
//! [`host_message`], [`jpki_message`], [`counter_message`]), the innermost meaningful error first.

use juki_counter::{CounterError, Role};
use juki_host::error::AuthFailure;
use juki_host::Error;
use juki_jpki::{CertKind, JpkiError};
use juki_net::pki::PkiError;

use crate::counter::{operation_label, role_label};
use crate::t;

/// An error from any layer under the CLI.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The card, the reader, a file or the input.
    #[error(transparent)]
    Host(#[from] Error),
    /// A JPKI verdict or the CA.
    #[error(transparent)]
    Jpki(#[from] JpkiError),
    /// The counter's records and rules.
    #[error(transparent)]
    Counter(#[from] CounterError),
    /// 住基ネット's PKI.
    #[error(transparent)]
    Net(#[from] PkiError),
    /// 住基ネット's national server, as its client saw it.
    #[error(transparent)]
    NetClient(#[from] juki_net::client::ClientError),
    /// 開示請求 failed (`juki disclosure`).
    #[error(transparent)]
    Disclosure(#[from] juki_net::citizen::DisclosureError),
    /// A sealed 住民票の写し was rejected (`juki verify`).
    #[error(transparent)]
    Copy(#[from] juki_net::copy::CopyError),
    /// 住基ネット's provision log, as a monitor or an auditor checked it.
    #[error(transparent)]
    Monitor(#[from] juki_net::monitor::MonitorError),
    /// 住基ネット's national server could not start or run (`juki net serve`).
    #[error(transparent)]
    NetServe(#[from] juki_net::service::ServeError),
    /// The CLI's own refusal of what it was asked (already in the user's language).
    #[error("{0}")]
    Cli(String),
}

/// The CLI's result type.
pub type Result<T, E = Failure> = std::result::Result<T, E>;

impl Failure {
    /// The middleware's error underneath, if that is what failed.
    pub fn host(&self) -> Option<&Error> {
        match self {
            Failure::Host(e)
            | Failure::Jpki(JpkiError::Host(e))
            | Failure::Counter(CounterError::Host(e) | CounterError::Jpki(JpkiError::Host(e))) => {
                Some(e)
            }
            _ => None,
        }
    }

    /// The status word the card answered, if the card said no.
    pub fn status_word(&self) -> Option<u16> {
        self.host().and_then(Error::status_word)
    }

    /// The `juki` CLI's exit code (documented in `juki --help`): 3 wrong PIN, 4 PIN locked,
    /// 5 reader or card missing, 6 refused (by the card: needs a PIN or the counter, wrong state,
    /// card suspended or terminated, wrong data, not found; or on the host: card expired, wrong
    /// card state, counter credential not valid or not accepted, the registry's rules, an
    /// operator without the right), 7 operator login refused (wrong name or password, locked
    /// out, locked until a supervisor unlocks), 8 the audit trail is damaged (or rewritten past
    /// a head anchored in 住基ネット), 9 a JPKI verdict against a signature, certificate or
    /// answer, 10 住基ネット's provision log refused (tampered or forked), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if let Some(e) = self.host() {
            return host_exit_code(e);
        }
        match self {
            Failure::Counter(c) => counter_exit_code(c),
            Failure::Jpki(j) => jpki_exit_code(j),
            Failure::Host(e) => host_exit_code(e),
            Failure::Copy(c) => copy_exit_code(c),
            Failure::Disclosure(d) => disclosure_exit_code(d),
            Failure::Monitor(m) => monitor_exit_code(m),
            Failure::Net(_) | Failure::NetClient(_) | Failure::NetServe(_) | Failure::Cli(_) => 1,
        }
    }
}

/// What the user reads when `failure` stops a command, in the language in use.
pub fn message(failure: &Failure) -> String {
    if let Some(e) = failure.host() {
        return host_message(e);
    }
    match failure {
        Failure::Host(e) => host_message(e),
        Failure::Jpki(e) => jpki_message(e),
        Failure::Counter(e) => counter_message(e),
        Failure::Net(e) => net_message(e),
        Failure::NetClient(e) => net_client_message(e),
        Failure::Copy(e) => copy_message(e),
        Failure::Disclosure(e) => disclosure_message(e),
        Failure::Monitor(e) => monitor_message(e),
        Failure::NetServe(e) => t!("err-net-serve", detail = e.to_string()),
        Failure::Cli(text) => text.clone(),
    }
}

/// The catalog message for each error of the middleware.
pub fn host_message(e: &Error) -> String {
    match e {
        Error::WrongPin { tries_left } => t!("err-wrong-pin", tries_left = *tries_left),
        Error::PinBlocked => t!("err-pin-blocked"),
        Error::SecurityStatusNotSatisfied => t!("err-security-status"),
        Error::CardSuspended => t!("err-card-suspended"),
        Error::CardTerminated => t!("err-card-terminated"),
        Error::ConditionsNotSatisfied => t!("err-conditions"),
        Error::NoCurrentFile => t!("err-no-current-file"),
        Error::IncompatibleFile => t!("err-incompatible-file"),
        Error::WrongData => t!("err-wrong-data"),
        Error::FileNotFound => t!("err-file-not-found"),
        Error::NotEnoughSpace => t!("err-not-enough-space"),
        Error::WrongLength => t!("err-wrong-length"),
        Error::WrongParameters => t!("err-wrong-parameters"),
        Error::OffsetOutOfRange => t!("err-offset"),
        Error::ChainingError(_) => t!("err-chaining"),
        Error::InsNotSupported => t!("err-ins-not-supported"),
        Error::ClaNotSupported => t!("err-cla-not-supported"),
        Error::MemoryFailure => t!("err-memory-failure"),
        Error::UnexpectedStatus(sw) => t!("err-unexpected-status", sw = format!("{sw:04X}")),
        Error::CounterNotAccepted => t!("err-counter-not-accepted"),
        Error::SecureMessagingMissing => t!("err-sm-missing"),
        Error::SecureMessagingRejected => t!("err-sm-rejected"),
        Error::CardNotAuthenticated(why) => {
            t!("err-card-not-authenticated", why = auth_failure(why))
        }
        Error::CardWithoutKey => t!("err-card-without-key"),
        Error::CardChanged { expected, found } => t!(
            "err-card-changed",
            expected = expected.as_str(),
            found = found.as_str()
        ),
        Error::OutcomeUnknown(why) => t!("err-outcome-unknown", why = why.as_str()),
        Error::CardExpired { expires, .. } => t!("err-card-expired", expires = expires.as_str()),
        Error::NoReader => t!("err-no-reader"),
        Error::ReaderNotFound { name, available } => t!(
            "err-reader-not-found",
            name = name.as_str(),
            available = available.as_str()
        ),
        Error::NoCard { reader } => t!("err-no-card", reader = reader.as_str()),
        Error::NoCardInAnyReader { available } => {
            t!("err-no-card-in-any-reader", available = available.as_str())
        }
        Error::CardRemoved { reader } => t!("err-card-removed", reader = reader.as_str()),
        Error::ReaderLost { reader } => t!("err-reader-lost", reader = reader.as_str()),
        Error::CardReset { reader } => t!("err-card-reset", reader = reader.as_str()),
        Error::Pcsc(e) => t!("err-pcsc", detail = e.to_string()),
        Error::Sim(detail) => t!("err-sim", detail = detail.as_str()),
        Error::Protocol(detail) => t!("err-protocol", detail = detail.as_str()),
        Error::InvalidInput(detail) => t!("err-invalid-input", detail = detail.as_str()),
        Error::Crypto(detail) => t!("err-crypto", detail = detail.as_str()),
        Error::Io { context, source } => t!(
            "err-io",
            context = context.as_str(),
            detail = source.to_string()
        ),
    }
}

/// The catalog message for each error of the JPKI layer.
pub fn jpki_message(e: &JpkiError) -> String {
    match e {
        JpkiError::Host(e) => host_message(e),
        JpkiError::Tampered => t!("err-jpki-tampered"),
        JpkiError::BadSignature => t!("err-jpki-bad-signature"),
        JpkiError::WrongCa(detail) => t!("err-jpki-wrong-ca", detail = detail.as_str()),
        JpkiError::Revoked {
            kind,
            serial,
            date,
            reason,
        } => t!(
            "err-jpki-revoked",
            kind = cert_word(kind),
            serial = serial.as_str(),
            date = date.as_str(),
            reason = reason.as_str()
        ),
        JpkiError::Expired { kind, serial, date } => t!(
            "err-jpki-expired",
            kind = cert_word(kind),
            serial = serial.as_str(),
            date = date.as_str()
        ),
        JpkiError::OwnCertificateExpired { kind, date } => t!(
            "err-own-certificate-expired",
            kind = cert_word(kind),
            date = date.as_str()
        ),
        JpkiError::NotYetValid { kind, serial, date } => t!(
            "err-jpki-not-yet-valid",
            kind = cert_word(kind),
            serial = serial.as_str(),
            date = date.as_str()
        ),
        JpkiError::BadCrl(detail) => t!("err-jpki-bad-crl", detail = detail.as_str()),
        JpkiError::CrlNotCurrent(detail) => {
            t!("err-jpki-crl-not-current", detail = detail.as_str())
        }
        JpkiError::NoCrl(issuer) => t!("err-jpki-no-crl", issuer = issuer.as_str()),
        JpkiError::WrongKind(detail) => t!("err-jpki-wrong-kind", detail = detail.as_str()),
        JpkiError::SigningTimeOutside(time) => {
            t!("err-jpki-signing-time-outside", time = time.as_str())
        }
        JpkiError::ChallengeMismatch => t!("err-jpki-challenge-mismatch"),
        JpkiError::NoCertificate => t!("err-jpki-no-certificate"),
        JpkiError::Malformed { what, detail } => {
            t!("err-jpki-malformed", what = *what, detail = detail.as_str())
        }
        JpkiError::Ca(detail) => t!("err-jpki-ca", detail = detail.as_str()),
    }
}

/// The catalog message for each error of 住基ネット's PKI.
pub fn net_message(e: &PkiError) -> String {
    match e {
        PkiError::Io { what, source } => t!(
            "err-io",
            context = what.as_str(),
            detail = source.to_string()
        ),
        PkiError::InvalidInput(detail) => t!("err-invalid-input", detail = detail.as_str()),
        PkiError::NotANodeCertificate(detail) => {
            t!("err-net-not-a-node-certificate", detail = detail.as_str())
        }
        PkiError::Crypto(detail) => t!("err-net-ca", detail = detail.as_str()),
    }
}

/// The catalog message for each error of the national server's client.
pub fn net_client_message(e: &juki_net::client::ClientError) -> String {
    use juki_net::client::ClientError;
    match e {
        ClientError::Setup(detail) => t!("err-net-setup", detail = detail.as_str()),
        ClientError::Unreachable(detail) => t!("err-net-unreachable", detail = detail.as_str()),
        ClientError::Refused {
            status,
            error,
            message,
        } => t!(
            "err-net-refused",
            status = *status,
            error = error.as_str(),
            detail = message.as_str()
        ),
        ClientError::BadAnswer(detail) => t!("err-net-bad-answer", detail = detail.as_str()),
    }
}

/// Why a disclosure failed.
pub fn disclosure_message(e: &juki_net::citizen::DisclosureError) -> String {
    use juki_net::citizen::DisclosureError as D;
    match e {
        D::Unreachable(detail) => t!("err-net-unreachable", detail = detail.as_str()),
        D::Refused {
            status: 401,
            message,
        } => {
            t!("err-disclosure-unauthenticated", detail = message.as_str())
        }
        D::Refused {
            status: 403,
            message,
        } => {
            t!("err-disclosure-not-linked", detail = message.as_str())
        }
        D::Refused { status, message } => t!(
            "err-net-refused",
            status = *status,
            error = "refused",
            detail = message.as_str()
        ),
        D::Card(detail) => detail.clone(),
        D::Proof(detail) => t!("err-disclosure-proof", detail = detail.as_str()),
        D::Log(detail) => t!("err-disclosure-log", detail = detail.as_str()),
        D::BadAnswer(detail) => t!("err-net-bad-answer", detail = detail.as_str()),
    }
}

/// A disclosure that does not verify, or an answer the server did not accept: 9, like any
/// rejected signature or login answer.
fn disclosure_exit_code(e: &juki_net::citizen::DisclosureError) -> u8 {
    use juki_net::citizen::DisclosureError as D;
    match e {
        D::Proof(_) | D::Refused { status: 401, .. } => 9,
        // The log refused, as a monitor refuses it.
        D::Log(_) => 10,
        D::Refused { status: 403, .. } => 6,
        _ => 1,
    }
}

/// Why the provision log was not accepted (or could not be checked).
pub fn monitor_message(e: &juki_net::monitor::MonitorError) -> String {
    use juki_net::monitor::MonitorError;
    match e {
        MonitorError::Client(c) => net_client_message(c),
        refused => t!("err-provision-log", detail = refused.to_string()),
    }
}

/// A refused log exits 10 (the server could not be asked: 1).
fn monitor_exit_code(e: &juki_net::monitor::MonitorError) -> u8 {
    match e {
        juki_net::monitor::MonitorError::Client(_) => 1,
        _ => 10,
    }
}

/// Why a 住民票の写し was not issued or not accepted.
pub fn copy_message(e: &juki_net::copy::CopyError) -> String {
    use juki_net::copy::CopyError;
    match e {
        CopyError::Signature(j) => jpki_message(j),
        CopyError::Seal(p) => t!("err-copy-seal", detail = p.to_string()),
        CopyError::Document(detail) => t!("err-copy-document", detail = detail.as_str()),
        CopyError::Mismatch(detail) => t!("err-copy-mismatch", detail = detail.as_str()),
        CopyError::NotIssuable(detail) => t!("err-copy-not-issuable", detail = detail.as_str()),
    }
}

/// A rejected copy exits 9 like a rejected signature; a record that cannot be certified is a
/// refusal (6).
fn copy_exit_code(e: &juki_net::copy::CopyError) -> u8 {
    use juki_net::copy::CopyError;
    match e {
        CopyError::Signature(j) => jpki_exit_code(j),
        CopyError::NotIssuable(_) => 6,
        CopyError::Seal(_) | CopyError::Document(_) | CopyError::Mismatch(_) => 9,
    }
}

/// The certificate a JPKI verdict names, in words (the JPKI layer names it in Japanese, or
/// "CA certificate").
/// Why the card's answer to the mutual authentication was not believed.
fn auth_failure(why: &AuthFailure) -> String {
    match why {
        AuthFailure::BadSignature => t!("auth-bad-signature"),
        AuthFailure::Expired => t!("auth-expired"),
        AuthFailure::WrongRole => t!("auth-wrong-role"),
        AuthFailure::Malformed => t!("auth-malformed"),
        AuthFailure::UnknownLifecycle(lcs) => {
            t!("auth-unknown-lifecycle", lcs = format!("{lcs:02X}"))
        }
        AuthFailure::NotAPoint => t!("auth-not-a-point"),
        AuthFailure::OtherCard { info, certificate } => t!(
            "auth-other-card",
            info = info.as_str(),
            certificate = certificate.as_str()
        ),
    }
}

fn cert_word(kind: &str) -> String {
    match kind {
        k if k == CertKind::Sign.japanese() => t!("cert-sign"),
        k if k == CertKind::Auth.japanese() => t!("cert-auth"),
        "CA certificate" => t!("cert-ca"),
        other => other.to_string(),
    }
}

/// The catalog message for each error of the counter layer.
pub fn counter_message(e: &CounterError) -> String {
    use CounterError as C;
    match e {
        C::WrongCardState {
            state,
            operation,
            hint,
        } => t!(
            "err-counter-wrong-card-state",
            state = state.as_str(),
            operation = *operation,
            hint = *hint
        ),
        C::CredentialNotValid {
            municipality,
            name,
            when,
        } => t!(
            "err-counter-credential-not-valid",
            municipality = municipality.as_str(),
            name = name.as_str(),
            when = when.as_str()
        ),
        C::Host(e) => host_message(e),
        C::Jpki(e) => jpki_message(e),
        C::AuditTrail(detail) => t!("err-counter-audit-trail", detail = detail.as_str()),
        C::ProvisionLog(detail) => t!("err-provision-log", detail = detail.as_str()),
        C::Io { context, source } => t!(
            "err-io",
            context = context.as_str(),
            detail = source.to_string()
        ),
        C::Sqlite(e) => t!("err-counter-sqlite", detail = e.to_string()),
        C::SchemaTooNew { found, supported } => t!(
            "err-counter-schema-too-new",
            found = *found,
            supported = *supported
        ),
        C::Corrupt(what) => t!("err-counter-corrupt", what = what.as_str()),
        C::InvalidInput(detail) => t!("err-invalid-input", detail = detail.as_str()),
        C::UnknownCard(serial) => t!("err-counter-unknown-card", serial = serial.as_str()),
        C::UnknownResident(code) => t!("err-counter-unknown-resident", code = code.as_str()),
        C::DuplicateCard(serial) => t!("err-counter-duplicate-card", serial = serial.as_str()),
        C::CodeInUse(code) => t!("err-counter-code-in-use", code = code.as_str()),
        C::NameMismatch { code } => t!("err-counter-name-mismatch", code = code.as_str()),
        C::Transition { serial, from, to } => t!(
            "err-counter-transition",
            serial = serial.as_str(),
            from = *from,
            to = *to
        ),
        C::WrongState {
            serial,
            state,
            operation,
        } => t!(
            "err-counter-wrong-state",
            serial = serial.as_str(),
            state = *state,
            operation = *operation
        ),
        C::CardAlreadyHeld {
            code,
            serial,
            state,
        } => t!(
            "err-counter-card-already-held",
            code = code.as_str(),
            serial = serial.as_str(),
            state = *state
        ),
        C::DuplicateOperator(name) => t!("err-counter-duplicate-operator", name = name.as_str()),
        C::UnknownOperator(name) => t!("err-counter-unknown-operator", name = name.as_str()),
        C::WrongCredentials => t!("err-counter-wrong-credentials"),
        C::LockedOut { operator, until } => t!(
            "err-counter-locked-out",
            operator = operator.as_str(),
            until = until.as_str()
        ),
        C::LockedUntilUnlocked { operator } => {
            t!(
                "err-counter-locked-until-unlocked",
                operator = operator.as_str()
            )
        }
        C::NotAllowed(detail) => t!("err-counter-not-allowed", detail = detail.as_str()),
        C::LastSupervisor { operator } => {
            t!("err-counter-last-supervisor", operator = operator.as_str())
        }
        C::RoleNotAllowed {
            operator,
            role,
            operation,
            supervisor_only,
        } => {
            let text = t!(
                "err-counter-role-not-allowed",
                operator = operator.as_str(),
                role = Role::parse(role).map_or_else(|| role.to_string(), role_label),
                operation = operation_label(operation)
            );
            if *supervisor_only {
                format!(
                    "{text} {}",
                    t!(
                        "err-counter-role-supervisor-only",
                        operator = operator.as_str()
                    )
                )
            } else {
                text
            }
        }
        C::OperatorCardRefused { reason, .. } => {
            t!(
                "err-counter-operator-card-refused",
                reason = reason.as_str()
            )
        }
        C::OperatorCardRemoved { reader } => {
            t!(
                "err-counter-operator-card-removed",
                reader = reader.as_str()
            )
        }
        C::PasswordHash(detail) => t!("err-counter-password-hash", detail = detail.as_str()),
        C::UnknownPending(id) => t!("err-counter-unknown-pending", id = *id),
        C::NotPending { id, state } => {
            t!("err-counter-not-pending", id = *id, state = state.as_str())
        }
        C::Network(e) => net_client_message(e),
        C::Copy(e) => copy_message(e),
    }
}

fn counter_exit_code(e: &CounterError) -> u8 {
    use CounterError as C;
    match e {
        C::WrongCredentials
        | C::LockedOut { .. }
        | C::LockedUntilUnlocked { .. }
        | C::OperatorCardRefused { .. }
        | C::OperatorCardRemoved { .. } => 7,
        C::NotAllowed(_)
        | C::LastSupervisor { .. }
        | C::RoleNotAllowed { .. }
        | C::Transition { .. }
        | C::WrongState { .. }
        | C::CardAlreadyHeld { .. }
        | C::DuplicateCard(_)
        | C::CodeInUse(_)
        | C::NameMismatch { .. }
        | C::UnknownCard(_)
        | C::UnknownResident(_)
        | C::WrongCardState { .. }
        | C::CredentialNotValid { .. } => 6,
        C::AuditTrail(_) => 8,
        C::ProvisionLog(_) => 10,
        C::Host(h) => host_exit_code(h),
        C::Jpki(j) => jpki_exit_code(j),
        C::Copy(c) => copy_exit_code(c),
        _ => 1,
    }
}

fn jpki_exit_code(e: &JpkiError) -> u8 {
    match e {
        e if e.is_rejection() => 9,
        JpkiError::NoCertificate | JpkiError::OwnCertificateExpired { .. } => 6,
        JpkiError::Host(h) => host_exit_code(h),
        _ => 1,
    }
}

fn host_exit_code(e: &Error) -> u8 {
    match e {
        Error::CounterNotAccepted
        | Error::CardNotAuthenticated(_)
        | Error::CardWithoutKey
        | Error::CardChanged { .. }
        | Error::CardExpired { .. } => 6,
        Error::WrongPin { .. } => 3,
        Error::PinBlocked => 4,
        Error::NoReader
        | Error::ReaderNotFound { .. }
        | Error::NoCard { .. }
        | Error::NoCardInAnyReader { .. }
        | Error::CardRemoved { .. }
        | Error::ReaderLost { .. }
        | Error::CardReset { .. }
        | Error::Pcsc(_) => 5,
        Error::SecurityStatusNotSatisfied
        | Error::CardSuspended
        | Error::CardTerminated
        | Error::ConditionsNotSatisfied
        | Error::WrongData
        | Error::FileNotFound => 6,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_layer_that_failed() {
        assert_eq!(
            Failure::from(Error::WrongPin { tries_left: 2 }).exit_code(),
            3
        );
        assert_eq!(Failure::from(Error::PinBlocked).exit_code(), 4);
        assert_eq!(Failure::from(Error::NoReader).exit_code(), 5);
        assert_eq!(
            Failure::from(Error::UnexpectedStatus(0x6F00)).exit_code(),
            1
        );
        // Nested: the card's answer keeps its code whichever layer passed it up.
        let nested = CounterError::Host(Error::PinBlocked);
        assert_eq!(Failure::from(nested).exit_code(), 4);
        let nested = CounterError::Jpki(JpkiError::Host(Error::WrongPin { tries_left: 0 }));
        assert_eq!(Failure::from(nested).exit_code(), 3);
        assert_eq!(Failure::from(CounterError::WrongCredentials).exit_code(), 7);
        assert_eq!(
            Failure::from(CounterError::NotAllowed("x".into())).exit_code(),
            6
        );
        assert_eq!(
            Failure::from(CounterError::AuditTrail("x".into())).exit_code(),
            8
        );
        assert_eq!(Failure::from(JpkiError::Tampered).exit_code(), 9);
        assert_eq!(
            Failure::from(CounterError::ProvisionLog("x".into())).exit_code(),
            10
        );
        assert_eq!(
            Failure::from(juki_net::monitor::MonitorError::MissingEntry { index: 1 }).exit_code(),
            10
        );
        assert_eq!(Failure::from(JpkiError::NoCertificate).exit_code(), 6);
    }
}
