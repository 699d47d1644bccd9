//! The lifecycle and security-status gate in front of dispatch.
//!
//! Per command and lifecycle state: allowed, or refused with the state's status word (`6985`
//! in blank, initialised and issued; `6283` suspended; `6285` terminated); then, for the
//! counter's commands, *counter authenticated* or `6982`. PIN conditions depend on the current
//! EF and are checked by the handlers; the one file condition of the gate is READ BINARY of a
//! suspended or terminated card, allowed only for the card information (住基 EF 0004).

use crate::command::{Command, KeyPairMode};
use crate::files::{Ef, EfId};
use crate::lifecycle::Lifecycle;
use crate::status::{Error, Status};

/// True when `ef` is the card information, 住基 EF 0004 (readable in every state but blank).
fn is_card_info(ef: Option<&Ef>) -> bool {
    ef.is_some_and(|ef| ef.id == EfId::CardInfo)
}

/// True when `command` may run in lifecycle state `state` with `current_ef` selected.
pub fn allowed_in(state: Lifecycle, current_ef: Option<&Ef>, command: &Command<'_>) -> bool {
    use Lifecycle::{Blank, Initialised, Issued, Suspended, Terminated};
    match command {
        Command::SelectApp { .. } | Command::SelectFile { .. } => true,
        // Along the lifecycle's arrows only (crate::lifecycle::TRANSITIONS). PUT DATA C1 again
        // on an initialised card is the manufacturer's retry (the handler decides).
        Command::Initialise { .. }
        | Command::Activate
        | Command::Deactivate
        | Command::Terminate => command.transition(state).is_some(),
        Command::InstallCertificate { .. } => state == Initialised,
        // The mutual authentication, also on a terminated card: it proves its state.
        Command::GetChallenge | Command::ExternalAuthenticate { .. } => {
            matches!(state, Initialised | Issued | Suspended | Terminated)
        }
        // The counter's commands, also on a suspended card.
        Command::UpdateBinary { .. }
        | Command::ResetRetryCounter { .. }
        | Command::GenerateKeyPair {
            mode: KeyPairMode::Generate,
            ..
        } => matches!(state, Initialised | Issued | Suspended),
        Command::GenerateKeyPair {
            mode: KeyPairMode::ReadPublic,
            ..
        } => matches!(state, Initialised | Issued),
        Command::ReadBinary { .. } => match state {
            Blank => false,
            Initialised | Issued => true,
            Suspended | Terminated => is_card_info(current_ef),
        },
        Command::Verify { .. }
        | Command::ChangeReferenceData { .. }
        | Command::ComputeSignature { .. } => state == Issued,
    }
}

/// The counter's commands must come under secure messaging (`6987` otherwise): what the counter
/// writes never crosses the reader in clear, and a replayed or altered command is refused.
pub fn check_protection(command: &Command<'_>, protected: bool) -> Result<(), Error> {
    if command.is_counter_command() && !protected {
        Err(Error::SmObjectsMissing)
    } else {
        Ok(())
    }
}

/// [`crate::command::never_protected`] of a (protected) command's header: SELECT by AID, GET
/// CHALLENGE, EXTERNAL AUTHENTICATE (`6985` inside secure messaging).
pub fn never_protected(apdu: &crate::apdu::CommandApdu<'_>) -> bool {
    crate::command::never_protected(apdu.ins, apdu.p1)
}

/// The status word of a command the state refuses: SELECT's warning as an error on a suspended
/// (`6283`) or terminated (`6285`) card, `6985` otherwise.
pub fn refusal(state: Lifecycle) -> Error {
    match state.select_status() {
        Status::Error(error) => error,
        _ => Error::ConditionsNotSatisfied,
    }
}

/// The gate: lifecycle first (`6985`, `6283`, `6285`), then the counter's authentication
/// (`6982`).
pub fn check(
    state: Lifecycle,
    counter_authenticated: bool,
    current_ef: Option<&Ef>,
    command: &Command<'_>,
) -> Result<(), Error> {
    if !allowed_in(state, current_ef, command) {
        return Err(refusal(state));
    }
    if command.is_counter_command() && !counter_authenticated {
        return Err(Error::SecurityStatusNotSatisfied);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::files::{ef, find, App};

    #[test]
    fn gate() {
        let update = Command::UpdateBinary {
            sfi: None,
            offset: 0,
            data: &[1],
        };
        assert_eq!(
            check(Lifecycle::Blank, true, None, &update),
            Err(Error::ConditionsNotSatisfied)
        );
        assert_eq!(
            check(Lifecycle::Issued, false, None, &update),
            Err(Error::SecurityStatusNotSatisfied)
        );
        assert_eq!(check(Lifecycle::Issued, true, None, &update), Ok(()));
        assert_eq!(
            check(Lifecycle::Issued, true, None, &Command::Activate),
            Err(Error::ConditionsNotSatisfied)
        );
        assert_eq!(
            check(Lifecycle::Initialised, false, None, &Command::Activate),
            Err(Error::SecurityStatusNotSatisfied)
        );
        let verify = Command::Verify {
            sfi: None,
            pin: None,
        };
        assert_eq!(
            check(Lifecycle::Initialised, true, None, &verify),
            Err(Error::ConditionsNotSatisfied)
        );
        let init = Command::Initialise {
            root_key: &[4],
            answer_key: true,
        };
        assert_eq!(check(Lifecycle::Blank, false, None, &init), Ok(()));
        assert_eq!(check(Lifecycle::Initialised, true, None, &init), Ok(()));
        assert_eq!(
            check(Lifecycle::Issued, true, None, &init),
            Err(Error::ConditionsNotSatisfied)
        );
        assert_eq!(
            check(Lifecycle::Blank, false, None, &Command::GetChallenge),
            Err(Error::ConditionsNotSatisfied)
        );
        let read = Command::GenerateKeyPair {
            sfi: None,
            mode: KeyPairMode::ReadPublic,
        };
        assert_eq!(check(Lifecycle::Issued, false, None, &read), Ok(()));
    }

    #[test]
    fn suspended_and_terminated() {
        use Lifecycle::{Blank, Initialised, Issued, Suspended, Terminated};
        let card_info = find(App::Juki, EfId::CardInfo.fid()).and_then(ef);
        let four_info = find(App::Juki, 0x0002).and_then(ef);
        let token = find(App::Jpki, 0x0006).and_then(ef);
        let read = Command::ReadBinary {
            sfi: None,
            offset: 0,
            ne: 1,
        };
        let verify = Command::Verify {
            sfi: None,
            pin: None,
        };
        // Suspended: the holder's commands 6283, the counter's work.
        assert_eq!(
            check(Suspended, true, four_info, &read),
            Err(Error::Deactivated)
        );
        assert_eq!(
            check(Suspended, true, token, &read),
            Err(Error::Deactivated)
        );
        assert_eq!(
            check(Suspended, false, None, &read),
            Err(Error::Deactivated)
        );
        assert_eq!(check(Suspended, false, card_info, &read), Ok(()));
        assert_eq!(
            check(Suspended, true, None, &verify),
            Err(Error::Deactivated)
        );
        assert_eq!(
            check(Suspended, false, None, &Command::GetChallenge),
            Ok(())
        );
        assert_eq!(check(Suspended, true, None, &Command::Activate), Ok(()));
        assert_eq!(
            check(Suspended, false, None, &Command::Activate),
            Err(Error::SecurityStatusNotSatisfied)
        );
        assert_eq!(
            check(Suspended, true, None, &Command::Deactivate),
            Err(Error::Deactivated)
        );
        assert_eq!(check(Suspended, true, None, &Command::Terminate), Ok(()));
        // Terminated: SELECT and reading the card information only.
        assert_eq!(check(Terminated, false, card_info, &read), Ok(()));
        assert_eq!(
            check(Terminated, true, four_info, &read),
            Err(Error::Terminated)
        );
        assert_eq!(
            check(Terminated, false, None, &Command::GetChallenge),
            Ok(())
        );
        for command in [
            Command::Activate,
            Command::Deactivate,
            Command::Terminate,
            verify,
        ] {
            assert_eq!(
                check(Terminated, true, None, &command),
                Err(Error::Terminated)
            );
        }
        // The other states.
        assert_eq!(
            check(Issued, false, None, &Command::Deactivate),
            Err(Error::SecurityStatusNotSatisfied)
        );
        assert_eq!(
            check(Initialised, true, None, &Command::Deactivate),
            Err(Error::ConditionsNotSatisfied)
        );
        assert_eq!(check(Initialised, true, None, &Command::Terminate), Ok(()));
        assert_eq!(
            check(Blank, true, None, &Command::Terminate),
            Err(Error::ConditionsNotSatisfied)
        );
        assert_eq!(
            check(Blank, true, card_info, &read),
            Err(Error::ConditionsNotSatisfied)
        );
    }
}
