//! The card's status words: one error enum, mapped to SW1 SW2 at the edge (the transport).

/// `9000`: success.
pub const SW_OK: u16 = 0x9000;
/// `6283`: selected file deactivated. As a warning: SELECT by AID of a suspended card (the
/// application is selected). As an error: [`Error::Deactivated`].
pub const SW_DEACTIVATED: u16 = 0x6283;
/// `6285`: selected file in termination state. As a warning: SELECT by AID of a terminated
/// card (the application is selected). As an error: [`Error::Terminated`].
pub const SW_TERMINATED: u16 = 0x6285;

/// Every way a command can fail, each with its status word (docs/apdu.md, "Status words").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

impl Error {
    /// The status word.
    pub fn sw(self) -> u16 {
        match self {
            Error::WrongPin { tries_left } => 0x63C0 | u16::from(tries_left & 0x0F),
            Error::Deactivated => SW_DEACTIVATED,
            Error::Terminated => SW_TERMINATED,
            Error::MemoryFailure => 0x6581,
            Error::WrongLength => 0x6700,
            Error::LogicalChannelNotSupported => 0x6881,
            Error::LastCommandOfChainExpected => 0x6883,
            Error::IncompatibleFile => 0x6981,
            Error::SecurityStatusNotSatisfied => 0x6982,
            Error::PinBlocked => 0x6984,
            Error::ConditionsNotSatisfied => 0x6985,
            Error::NoCurrentEf => 0x6986,
            Error::WrongData => 0x6A80,
            Error::NotFound => 0x6A82,
            Error::NotEnoughSpace => 0x6A84,
            Error::WrongP1P2 => 0x6A86,
            Error::OffsetOutside => 0x6B00,
            Error::InsNotSupported => 0x6D00,
            Error::ClaNotSupported => 0x6E00,
            Error::SmObjectsMissing => 0x6987,
            Error::SmObjectsIncorrect => 0x6988,
        }
    }
}

impl From<crate::NvmError> for Error {
    fn from(_: crate::NvmError) -> Self {
        Error::MemoryFailure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
