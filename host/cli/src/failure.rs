//! What the `juki` command reports when something fails, and its exit code: the error of the
//! layer that failed (middleware, JPKI, counter), as it came up.

use juki_counter::CounterError;
use juki_host::Error;
use juki_jpki::JpkiError;

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
    /// out, locked until a supervisor unlocks), 8 the audit trail is damaged, 9 a JPKI verdict
    /// against a signature, certificate or answer, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if let Some(e) = self.host() {
            return host_exit_code(e);
        }
        match self {
            Failure::Counter(c) => counter_exit_code(c),
            Failure::Jpki(j) => jpki_exit_code(j),
            Failure::Host(e) => host_exit_code(e),
        }
    }
}

fn counter_exit_code(e: &CounterError) -> u8 {
    use CounterError as C;
    match e {
        C::WrongCredentials | C::LockedOut { .. } | C::LockedUntilUnlocked { .. } => 7,
        C::NotAllowed(_)
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
        C::Host(h) => host_exit_code(h),
        C::Jpki(j) => jpki_exit_code(j),
        _ => 1,
    }
}

fn jpki_exit_code(e: &JpkiError) -> u8 {
    match e {
        e if e.is_rejection() => 9,
        JpkiError::NoCertificate => 6,
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
        assert_eq!(Failure::from(JpkiError::NoCertificate).exit_code(), 6);
    }
}
