//! The card's status words: one error enum, mapped to SW1 SW2 at the edge (the framing), and
//! back again on the host's side.
//!
//! [`STATUS_WORDS`] is the one table of the errors' status words: [`Error::sw`] reads it one
//! way, [`Error::from_sw`] the other. [`Status`] classifies any status word a reader hands back:
//! success, the transport's framing (`61xx`, `6Cxx`), or one of the card's errors.
//!
//! The `iso7816` crate's `Status` (trussed-dev, 0.2.2) was evaluated: it is `no_std` and needs
//! no `alloc`, and names every status word used here. It is not used because its enum is
//! `#[non_exhaustive]` with a hidden catch-all variant (a `match` on it can never be checked
//! for completeness, which is the point of one vocabulary), it does not say what the card means
//! by a status word (`6283` is "suspended" here, `6987`/`6988` end the counter's session), so
//! the card's [`Error`] and its table would be needed on top anyway, and it would put `heapless`
//! 0.9 beside the workspace's 0.8 in the card's build (see also [`crate::apdu`]).

/// `9000`: success.
pub const SW_OK: u16 = 0x9000;
/// `6283`: selected file deactivated. As a warning: SELECT by AID of a suspended card (the
/// application is selected). As an error: [`Error::Deactivated`].
pub const SW_DEACTIVATED: u16 = 0x6283;
/// `6285`: selected file in termination state. As a warning: SELECT by AID of a terminated
/// card (the application is selected). As an error: [`Error::Terminated`].
pub const SW_TERMINATED: u16 = 0x6285;

/// `63C0`: wrong PIN, the low nibble the tries left ([`Error::WrongPin`]).
const SW_WRONG_PIN: u16 = 0x63C0;

/// Every way a command can fail, each with its status word (docs/apdu.md, "Status words").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// `63Cx`: wrong PIN, `tries_left` tries left (0–15).
    WrongPin {
        /// Tries left after this one.
        tries_left: u8,
    },
    /// `6283`: the card is suspended (selected file deactivated); the command is refused.
    Deactivated,
    /// `6285`: the card is terminated (selected file in termination state); the command is
    /// refused.
    Terminated,
    /// `6581`: the NVM write failed; the persistent state is the old one.
    MemoryFailure,
    /// `6700`: wrong length (Lc, Le, hash, chain too long, malformed APDU).
    WrongLength,
    /// `6881`: logical channel not supported.
    LogicalChannelNotSupported,
    /// `6883`: last command of a chain expected.
    LastCommandOfChainExpected,
    /// `6981`: command incompatible with the file (write to a PIN or key EF).
    IncompatibleFile,
    /// `6982`: security status not satisfied.
    SecurityStatusNotSatisfied,
    /// `6984`: PIN blocked.
    PinBlocked,
    /// `6985`: conditions of use not satisfied (lifecycle, nothing waiting, no key).
    ConditionsNotSatisfied,
    /// `6986`: no current EF, or the wrong kind of EF.
    NoCurrentEf,
    /// `6A80`: wrong data (PIN format, weak PIN, bad key).
    WrongData,
    /// `6A82`: application or file not found.
    NotFound,
    /// `6A84`: not enough space in the file.
    NotEnoughSpace,
    /// `6A86`: wrong P1-P2.
    WrongP1P2,
    /// `6B00`: offset outside the file.
    OffsetOutside,
    /// `6D00`: INS not supported.
    InsNotSupported,
    /// `6E00`: CLA not supported.
    ClaNotSupported,
    /// `6987`: a counter command sent without secure messaging.
    SmObjectsMissing,
    /// `6988`: a protected command whose data objects or MAC are wrong (the session ends).
    SmObjectsIncorrect,
}

/// The status word of every error but [`Error::WrongPin`] (`63Cx`, which carries its tries
/// left): the one table [`Error::sw`] and [`Error::from_sw`] both read.
pub const STATUS_WORDS: [(Error, u16); 20] = [
    (Error::Deactivated, SW_DEACTIVATED),
    (Error::Terminated, SW_TERMINATED),
    (Error::MemoryFailure, 0x6581),
    (Error::WrongLength, 0x6700),
    (Error::LogicalChannelNotSupported, 0x6881),
    (Error::LastCommandOfChainExpected, 0x6883),
    (Error::IncompatibleFile, 0x6981),
    (Error::SecurityStatusNotSatisfied, 0x6982),
    (Error::PinBlocked, 0x6984),
    (Error::ConditionsNotSatisfied, 0x6985),
    (Error::NoCurrentEf, 0x6986),
    (Error::WrongData, 0x6A80),
    (Error::NotFound, 0x6A82),
    (Error::NotEnoughSpace, 0x6A84),
    (Error::WrongP1P2, 0x6A86),
    (Error::OffsetOutside, 0x6B00),
    (Error::InsNotSupported, 0x6D00),
    (Error::ClaNotSupported, 0x6E00),
    (Error::SmObjectsMissing, 0x6987),
    (Error::SmObjectsIncorrect, 0x6988),
];

/// `6F00` (no precise diagnosis): what [`Error::sw`] would answer for an error missing from
/// [`STATUS_WORDS`]. None is (unit test `every_error_round_trips`); the card never answers it.
const SW_NO_DIAGNOSIS: u16 = 0x6F00;

impl Error {
    /// The status word ([`STATUS_WORDS`]; `63Cx` for [`Error::WrongPin`]).
    pub fn sw(self) -> u16 {
        if let Error::WrongPin { tries_left } = self {
            return SW_WRONG_PIN | u16::from(tries_left & 0x0F);
        }
        STATUS_WORDS
            .iter()
            .find(|(error, _)| *error == self)
            .map_or(SW_NO_DIAGNOSIS, |(_, sw)| *sw)
    }

    /// The error status word `sw` stands for, `None` for a status word that is not one of the
    /// card's errors (`9000`, `61xx`, an unknown one). `6283` and `6285` are
    /// [`Error::Deactivated`] and [`Error::Terminated`]: as the answer to SELECT by AID they
    /// are warnings ([`Status::application_selected`]).
    pub const fn from_sw(sw: u16) -> Option<Error> {
        if sw & 0xFFF0 == SW_WRONG_PIN {
            return Some(Error::WrongPin {
                tries_left: (sw & 0x0F) as u8,
            });
        }
        let mut rest: &[(Error, u16)] = &STATUS_WORDS;
        while let [(error, word), tail @ ..] = rest {
            if *word == sw {
                return Some(*error);
            }
            rest = tail;
        }
        None
    }
}

impl TryFrom<u16> for Error {
    type Error = u16;

    /// [`Error::from_sw`]; the status word itself when it is no error of the card.
    fn try_from(sw: u16) -> Result<Self, u16> {
        Error::from_sw(sw).ok_or(sw)
    }
}

impl From<Error> for u16 {
    fn from(error: Error) -> u16 {
        error.sw()
    }
}

impl From<crate::NvmError> for Error {
    fn from(_: crate::NvmError) -> Self {
        Error::MemoryFailure
    }
}

/// A status word as a reader hands it back, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `9000`.
    Ok,
    /// `61xx` (framing): response data waits for GET RESPONSE; SW2 says how much (`00`: 256
    /// or more). The command's own status word comes with the last part.
    MoreData(u8),
    /// `6Cxx` (framing): wrong Le; SW2 is the right one (`00`: 256). The card core never
    /// answers it; readers and other cards may.
    WrongLe(u8),
    /// One of the card's errors, [`STATUS_WORDS`] (and `63Cx`).
    Error(Error),
    /// Any other status word: none the card answers.
    Unknown(u16),
}

impl Status {
    /// Classifies `sw`.
    pub const fn from_sw(sw: u16) -> Status {
        let [sw1, sw2] = sw.to_be_bytes();
        match (sw, sw1) {
            (SW_OK, _) => Status::Ok,
            (_, 0x61) => Status::MoreData(sw2),
            (_, 0x6C) => Status::WrongLe(sw2),
            _ => match Error::from_sw(sw) {
                Some(error) => Status::Error(error),
                None => Status::Unknown(sw),
            },
        }
    }

    /// `61xx` for `left` bytes waiting (`6100` for 256 or more).
    pub const fn more_data(left: usize) -> Status {
        Status::MoreData(if left > 0xFF { 0 } else { left as u8 })
    }

    /// The status word ([`Status::from_sw`] inverted).
    pub fn sw(self) -> u16 {
        match self {
            Status::Ok => SW_OK,
            Status::MoreData(sw2) => 0x6100 | u16::from(sw2),
            Status::WrongLe(sw2) => 0x6C00 | u16::from(sw2),
            Status::Error(error) => error.sw(),
            Status::Unknown(sw) => sw,
        }
    }

    /// True for an answer to SELECT by AID with the application selected: `9000`, or the
    /// warning `6283` (suspended card) or `6285` (terminated card); see
    /// [`crate::lifecycle::Lifecycle::select_status`].
    pub const fn application_selected(self) -> bool {
        matches!(
            self,
            Status::Ok | Status::Error(Error::Deactivated | Error::Terminated)
        )
    }

    /// The card's error, when the status word is one.
    pub const fn error(self) -> Option<Error> {
        match self {
            Status::Error(error) => Some(error),
            _ => None,
        }
    }
}

impl From<u16> for Status {
    fn from(sw: u16) -> Status {
        Status::from_sw(sw)
    }
}

impl From<Status> for u16 {
    fn from(status: Status) -> u16 {
        status.sw()
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        Status::Error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error. The `match` fails to compile when a variant is added: add it here and to
    /// [`STATUS_WORDS`].
    fn every_error() -> impl Iterator<Item = Error> {
        let listed = |e: Error| match e {
            Error::WrongPin { .. }
            | Error::Deactivated
            | Error::Terminated
            | Error::MemoryFailure
            | Error::WrongLength
            | Error::LogicalChannelNotSupported
            | Error::LastCommandOfChainExpected
            | Error::IncompatibleFile
            | Error::SecurityStatusNotSatisfied
            | Error::PinBlocked
            | Error::ConditionsNotSatisfied
            | Error::NoCurrentEf
            | Error::WrongData
            | Error::NotFound
            | Error::NotEnoughSpace
            | Error::WrongP1P2
            | Error::OffsetOutside
            | Error::InsNotSupported
            | Error::ClaNotSupported
            | Error::SmObjectsMissing
            | Error::SmObjectsIncorrect => e,
        };
        (0..16)
            .map(|tries_left| Error::WrongPin { tries_left })
            .chain(STATUS_WORDS.iter().map(|(e, _)| *e))
            .map(listed)
    }

    #[test]
    fn status_words() {
        assert_eq!(Error::WrongPin { tries_left: 2 }.sw(), 0x63C2);
        assert_eq!(Error::WrongPin { tries_left: 0 }.sw(), 0x63C0);
        assert_eq!(Error::PinBlocked.sw(), 0x6984);
        assert_eq!(Error::ClaNotSupported.sw(), 0x6E00);
        assert_eq!(Error::Deactivated.sw(), 0x6283);
        assert_eq!(Error::Terminated.sw(), 0x6285);
        assert_eq!(Error::from(crate::NvmError::WriteFailed).sw(), 0x6581);
    }

    #[test]
    fn every_error_round_trips() {
        // 16 tries-left values and one of each of the other 20 variants.
        assert_eq!(every_error().count(), 16 + 20);
        for error in every_error() {
            let sw = error.sw();
            assert_ne!(sw, SW_NO_DIAGNOSIS, "{error:?} missing from STATUS_WORDS");
            assert_eq!(Error::from_sw(sw), Some(error), "{sw:04X}");
            assert_eq!(Error::try_from(sw), Ok(error));
            assert_eq!(Status::from_sw(sw), Status::Error(error));
            assert_eq!(Status::from_sw(sw).sw(), sw);
        }
    }

    #[test]
    fn every_status_word_round_trips() {
        let mut errors = 0;
        for sw in 0..=u16::MAX {
            let status = Status::from_sw(sw);
            assert_eq!(status.sw(), sw, "{status:?}");
            if let Some(error) = Error::from_sw(sw) {
                assert_eq!(error.sw(), sw);
                errors += 1;
            }
        }
        assert_eq!(errors, 16 + 20, "one status word per error");
        assert_eq!(Status::from_sw(0x9000), Status::Ok);
        assert_eq!(Status::from_sw(0x6110), Status::MoreData(0x10));
        assert_eq!(Status::from_sw(0x6C00), Status::WrongLe(0));
        assert_eq!(Status::from_sw(0x6F00), Status::Unknown(0x6F00));
        assert_eq!(Error::from_sw(0x9000), None);
        assert_eq!(Status::more_data(300), Status::MoreData(0));
        assert_eq!(Status::more_data(0x42).sw(), 0x6142);
        let selected = [0x9000, 0x6283, 0x6285];
        for sw in 0..=u16::MAX {
            assert_eq!(
                Status::from_sw(sw).application_selected(),
                selected.contains(&sw)
            );
        }
    }
}
