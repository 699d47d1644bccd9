//! The lifecycle and security-status gate in front of dispatch.
//!
//! Per command and lifecycle state: allowed or `6985`; then, for the counter's commands,
//! *counter authenticated* or `6982`. PIN conditions depend on the current EF and are checked by
//! the handlers. A new lifecycle state (suspended, terminated: the counter issue) is one more
//! arm in [`allowed_in`].

use crate::command::{Command, KeyPairMode};
use crate::lifecycle::Lifecycle;
use crate::status::Error;

/// True when `command` is a counter (issuer) command that needs *counter authenticated*.
pub fn needs_counter(command: &Command<'_>) -> bool {
    matches!(
        command,
        Command::UpdateBinary { .. }
            | Command::ResetRetryCounter { .. }
            | Command::GenerateKeyPair {
                mode: KeyPairMode::Generate
            }
            | Command::Activate
    )
}

/// True when `command` may run in lifecycle state `state`.
pub fn allowed_in(state: Lifecycle, command: &Command<'_>) -> bool {
    use Lifecycle::{Blank, Initialised, Issued};
    match command {
        Command::SelectApp { .. } | Command::SelectFile { .. } => true,
        Command::Initialise { .. } => state == Blank,
        Command::Activate => state == Initialised,
        Command::GetChallenge
        | Command::ExternalAuthenticate { .. }
        | Command::ReadBinary { .. }
        | Command::UpdateBinary { .. }
        | Command::ResetRetryCounter { .. }
        | Command::GenerateKeyPair { .. } => matches!(state, Initialised | Issued),
        Command::Verify { .. }
        | Command::ChangeReferenceData { .. }
        | Command::ComputeSignature { .. } => state == Issued,
    }
}

/// The gate: lifecycle first (`6985`), then the counter's authentication (`6982`).
pub fn check(
    state: Lifecycle,
    counter_authenticated: bool,
    command: &Command<'_>,
) -> Result<(), Error> {
    if !allowed_in(state, command) {
        return Err(Error::ConditionsNotSatisfied);
    }
    if needs_counter(command) && !counter_authenticated {
        return Err(Error::SecurityStatusNotSatisfied);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate() {
        let update = Command::UpdateBinary {
            offset: 0,
            data: &[1],
        };
        assert_eq!(
            check(Lifecycle::Blank, true, &update),
            Err(Error::ConditionsNotSatisfied)
        );
        assert_eq!(
            check(Lifecycle::Issued, false, &update),
            Err(Error::SecurityStatusNotSatisfied)
        );
        assert_eq!(check(Lifecycle::Issued, true, &update), Ok(()));
        assert_eq!(
            check(Lifecycle::Issued, true, &Command::Activate),
            Err(Error::ConditionsNotSatisfied)
        );
        assert_eq!(
            check(Lifecycle::Initialised, false, &Command::Activate),
            Err(Error::SecurityStatusNotSatisfied)
        );
        let verify = Command::Verify { pin: None };
        assert_eq!(
            check(Lifecycle::Initialised, true, &verify),
            Err(Error::ConditionsNotSatisfied)
        );
        let init = Command::Initialise { root_key: &[4] };
        assert_eq!(check(Lifecycle::Blank, false, &init), Ok(()));
        assert_eq!(
            check(Lifecycle::Initialised, true, &init),
            Err(Error::ConditionsNotSatisfied)
        );
        assert_eq!(
            check(Lifecycle::Blank, false, &Command::GetChallenge),
            Err(Error::ConditionsNotSatisfied)
        );
        let read = Command::GenerateKeyPair {
            mode: KeyPairMode::ReadPublic,
        };
        assert_eq!(check(Lifecycle::Issued, false, &read), Ok(()));
    }
}
