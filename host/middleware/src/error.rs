//! The host's one error type: status words mapped to their meaning, plus reader, transport and
//! input errors. Messages are written for the citizen at a PC and for the clerk at the counter
//! (English, with the Japanese term used on municipal pages in parentheses).

use juki_card::status::{Error as CardError, Status};

/// Everything that can go wrong between the `juki` CLI and the card.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- the card said no (status words, docs/apdu.md) ----
    /// `63Cx`: the PIN or password was wrong; `tries_left` tries remain before it locks.
    #[error("{}", wrong_pin_message(*.tries_left))]
    WrongPin {
        /// Tries left (0: this try locked it).
        tries_left: u8,
    },
    /// `6984`: the PIN is locked after too many wrong entries; the right PIN is refused too.
    #[error(
        "the PIN or password is locked after too many wrong entries (パスワードがロックされています); \
         it must be reset at the municipal counter (窓口でパスワードの再設定が必要です)"
    )]
    PinBlocked,
    /// `6982`: the operation needs a PIN (or the counter's authentication) first.
    #[error("security status not satisfied: the PIN (or counter authentication) is required first (暗証番号の確認が必要です)")]
    SecurityStatusNotSatisfied,
    /// `6283`: the card is suspended (一時停止); the holder's operations are refused until the
    /// municipal counter lifts the suspension.
    #[error(
        "this card is suspended (一時停止中): its use was stopped at the municipal counter, e.g. \
         after it was reported lost or stolen (紛失・盗難); ask the municipal counter \
         (市区町村の窓口) to lift the suspension (一時停止の解除) before using it"
    )]
    CardSuspended,
    /// `6285`: the card is terminated (返納・廃止): keys, PINs and personal data are erased.
    #[error(
        "this card is no longer valid (廃止済み): it was returned or terminated at the municipal \
         counter (返納・廃止), and its keys, passwords and personal data are erased; only the \
         card information can still be read. Apply for a new card at the municipal counter \
         (市区町村の窓口)"
    )]
    CardTerminated,
    /// `6985`: the card is not in the right lifecycle state, or nothing is waiting.
    #[error("conditions of use not satisfied: the card is not in the right state for this (blank, initialised or issued) (カードの状態が違います)")]
    ConditionsNotSatisfied,
    /// `6986`: no file selected, or the wrong kind of file.
    #[error("no current file, or the wrong kind of file for this command")]
    NoCurrentFile,
    /// `6981`: the command does not fit the selected file.
    #[error("command incompatible with the selected file")]
    IncompatibleFile,
    /// `6A80`: wrong data: PIN format, weak PIN, bad key or certificate.
    #[error("the card refused the data (wrong format, weak PIN, or bad key) (入力内容が正しくありません)")]
    WrongData,
    /// `6A82`: the application or file does not exist on this card.
    #[error(
        "application or file not found on this card (this may not be a resident registry card)"
    )]
    FileNotFound,
    /// `6A84`: the data does not fit in the file.
    #[error("not enough space in the card file")]
    NotEnoughSpace,
    /// `6700`: wrong length.
    #[error("wrong length (the card refused the command's length)")]
    WrongLength,
    /// `6A86`: wrong P1-P2.
    #[error("wrong parameters P1-P2")]
    WrongParameters,
    /// `6B00`: offset outside the file.
    #[error("offset outside the file")]
    OffsetOutOfRange,
    /// `6881`/`6883`: logical channel or command chaining problem.
    #[error("command chaining or logical channel not supported as sent")]
    ChainingError(CardError),
    /// `6D00`: the card does not know the instruction.
    #[error("instruction not supported by the card")]
    InsNotSupported,
    /// `6E00`: the card does not know the class byte.
    #[error("class not supported by the card")]
    ClaNotSupported,
    /// `6581`: the card's memory failed to write.
    #[error("card memory failure (the card may be damaged; ask the counter for a replacement)")]
    MemoryFailure,
    /// Any other status word.
    #[error("unexpected status word {0:04X} from the card")]
    UnexpectedStatus(u16),
    /// `6982` on EXTERNAL AUTHENTICATE: the card did not accept the counter's credential.
    #[error(
        "this card does not accept the counter credential: certified by another national root, \
         or expired (窓口の証明書がこのカードで使えません)"
    )]
    CounterNotAccepted,
    /// `6987`: a counter command reached the card without secure messaging.
    #[error(
        "the card takes the counter's commands only under secure messaging (6987); authenticate \
         the counter again"
    )]
    SecureMessagingMissing,
    /// `6988`: the card refused a protected command (wrong MAC or data objects).
    #[error(
        "the card refused the protected counter command (6988): it was altered, replayed or \
         reordered between the counter and the card; the session is closed and nothing was \
         written — check the reader and authenticate again"
    )]
    SecureMessagingRejected,

    // ---- mutual authentication (docs/apdu.md, "Mutual authentication") ----
    /// The card's answer to the counter's authentication did not verify: not a card of this
    /// national root, a signature that does not match, or an answer the reader altered.
    #[error(
        "カードの認証に失敗しました (the card did not prove itself: {0}); it may be counterfeit, \
         or the reader altered its answer: nothing was done"
    )]
    CardNotAuthenticated(AuthFailure),
    /// `6985` to EXTERNAL AUTHENTICATE after a challenge: a card without a key of its own.
    #[error(
        "このカードは相互認証に対応していません (this card has no key of its own: it was \
         initialised before cards proved themselves to the counter); the counter cannot work \
         on it: issue a replacement card (docs/counter.md, \"Cards without a key\")"
    )]
    CardWithoutKey,
    /// The authenticated card is not the card the clerk is serving.
    #[error(
        "カードが違います: the card on the reader proved to be card {found}, not {expected}; \
         nothing was done"
    )]
    CardChanged {
        /// The serial the operation is for.
        expected: String,
        /// The serial the card proved.
        found: String,
    },
    /// A protected command was answered without protection (or the protection failed): the
    /// card may or may not have done it.
    #[error(
        "結果不明: the card's answer to a protected command came without valid protection \
         ({0}); whether the card did it is unknown, so the operation stays pending: check the \
         card (juki counter pending)"
    )]
    OutcomeUnknown(String),

    // ---- refused on the host before the card is asked ----
    /// The card's expiry date (住基 EF 0004) is past: refused on the host (the card has no clock).
    #[error("this card expired on {expires} (有効期限切れ): {what}")]
    CardExpired {
        /// The expiry date, `YYYY-MM-DD`.
        expires: String,
        /// What is still possible.
        what: &'static str,
    },

    // ---- reader and transport ----
    /// No PC/SC reader is connected (or pcscd is not running).
    #[error("no smart card reader found (カードリーダが見つかりません); is pcscd running and the reader connected?")]
    NoReader,
    /// No reader of that name.
    #[error("reader \"{name}\" not found; available readers: {available}")]
    ReaderNotFound {
        /// The name asked for.
        name: String,
        /// The readers there are.
        available: String,
    },
    /// The reader exists but holds no card.
    #[error("no card in reader \"{reader}\" (カードが挿入されていません); insert the card and try again")]
    NoCard {
        /// The reader.
        reader: String,
    },
    /// No reader has a card in it.
    #[error("no card found in any reader (カードが挿入されていません); readers: {available}")]
    NoCardInAnyReader {
        /// The readers there are.
        available: String,
    },
    /// The card left the reader in the middle of an exchange.
    #[error(
        "the card was removed from reader \"{reader}\" during the operation (カードが取り外されました): \
         put it back and try again; a counter operation interrupted this way is listed by juki \
         counter pending"
    )]
    CardRemoved {
        /// The reader.
        reader: String,
    },
    /// The reader or the PC/SC service went away in the middle of an exchange.
    #[error(
        "the connection to reader \"{reader}\" was lost during the operation (リーダーとの接続が切れました): \
         the reader was unplugged or pcscd was restarted; reconnect it and try again"
    )]
    ReaderLost {
        /// The reader.
        reader: String,
    },
    /// The card was reset under the operation (another application, the reader, or pcscd just
    /// after the card was inserted): the exclusive transaction is gone.
    #[error(
        "the card in reader \"{reader}\" was reset during the operation (カードがリセットされました): \
         nothing more was sent to it; try again"
    )]
    CardReset {
        /// The reader.
        reader: String,
    },
    /// The PC/SC stack reported an error.
    #[error("PC/SC error: {0}")]
    Pcsc(#[from] pcsc::Error),
    /// The simulated card failed (card image file).
    #[error("simulated card: {0}")]
    Sim(String),
    /// The card answered something that does not follow docs/apdu.md.
    #[error("malformed response from the card: {0}")]
    Protocol(String),

    // ---- host side ----
    /// The user's input is not acceptable (before anything was sent to the card).
    #[error("{0}")]
    InvalidInput(String),
    /// A key, certificate or signature problem on the host.
    #[error("cryptography: {0}")]
    Crypto(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn wrong_pin_message(tries_left: u8) -> String {
    match tries_left {
        0 => "wrong PIN or password (暗証番号・パスワードが違います); no tries left: it is now locked \
              (ロックされました) and must be reset at the municipal counter (窓口での再設定が必要です)"
            .to_string(),
        1 => "wrong PIN or password (暗証番号・パスワードが違います): 1 try left before it is locked".to_string(),
        n => format!(
            "wrong PIN or password (暗証番号・パスワードが違います): {n} tries left before it is locked"
        ),
    }
}

impl From<CardError> for Error {
    /// What the card's refusal means to its user (every card error has its meaning here).
    fn from(e: CardError) -> Error {
        match e {
            CardError::WrongPin { tries_left } => Error::WrongPin { tries_left },
            CardError::PinBlocked => Error::PinBlocked,
            CardError::Deactivated => Error::CardSuspended,
            CardError::Terminated => Error::CardTerminated,
            CardError::SecurityStatusNotSatisfied => Error::SecurityStatusNotSatisfied,
            CardError::ConditionsNotSatisfied => Error::ConditionsNotSatisfied,
            CardError::NoCurrentEf => Error::NoCurrentFile,
            CardError::IncompatibleFile => Error::IncompatibleFile,
            CardError::WrongData => Error::WrongData,
            CardError::NotFound => Error::FileNotFound,
            CardError::NotEnoughSpace => Error::NotEnoughSpace,
            CardError::WrongLength => Error::WrongLength,
            CardError::WrongP1P2 => Error::WrongParameters,
            CardError::OffsetOutside => Error::OffsetOutOfRange,
            CardError::LogicalChannelNotSupported | CardError::LastCommandOfChainExpected => {
                Error::ChainingError(e)
            }
            CardError::InsNotSupported => Error::InsNotSupported,
            CardError::ClaNotSupported => Error::ClaNotSupported,
            CardError::MemoryFailure => Error::MemoryFailure,
            CardError::SmObjectsMissing => Error::SecureMessagingMissing,
            CardError::SmObjectsIncorrect => Error::SecureMessagingRejected,
        }
    }
}

/// What a card's answer to the counter's mutual authentication failed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Its certificate is not of this national root, or its signature does not match its
    /// certificate and this exchange.
    #[error(
        "its certificate is not of this national root, or its signature does not match its \
         certificate and this exchange"
    )]
    BadSignature,
    /// Its certificate has expired.
    #[error("its certificate has expired")]
    Expired,
    /// It presented a counter's certificate, not a card's.
    #[error("it presented a counter's certificate, not a card's")]
    WrongRole,
    /// Its answer is malformed.
    #[error("its answer is malformed")]
    Malformed,
    /// The life cycle status it signed is none the card knows.
    #[error("unknown life cycle status {0:02X}")]
    UnknownLifecycle(u8),
    /// Its ephemeral key is not a P-256 point.
    #[error("its ephemeral key is not a P-256 point")]
    NotAPoint,
    /// Its card information names another card than its certificate.
    #[error("its card information names card {info}, its certificate card {certificate}")]
    OtherCard {
        /// The serial in the card information (EF 0004).
        info: String,
        /// The serial in its certificate.
        certificate: String,
    },
}

impl From<juki_card::cvc::CvcError> for AuthFailure {
    fn from(e: juki_card::cvc::CvcError) -> AuthFailure {
        use juki_card::cvc::CvcError;
        match e {
            CvcError::BadSignature => AuthFailure::BadSignature,
            CvcError::Expired => AuthFailure::Expired,
            CvcError::WrongRole => AuthFailure::WrongRole,
            CvcError::Malformed | CvcError::UnsupportedVersion | CvcError::TooLong => {
                AuthFailure::Malformed
            }
        }
    }
}

/// The host's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error a status word means, or `None` for `9000`: the card's own reading of it
    /// ([`juki_card::status::Status`], one table of status words for card and host).
    ///
    /// `61xx` and `6Cxx` are handled by the framing ([`crate::framing`]) and never reach here in
    /// practice; they map to [`Error::UnexpectedStatus`].
    pub fn from_sw(sw: u16) -> Option<Error> {
        match Status::from_sw(sw) {
            Status::Ok => None,
            Status::Error(e) => Some(Error::from(e)),
            Status::MoreData(_) | Status::WrongLe(_) | Status::Unknown(_) => {
                Some(Error::UnexpectedStatus(sw))
            }
        }
    }

    /// `Ok(())` for `9000`, else the error the status word means.
    pub fn check_sw(sw: u16) -> Result<()> {
        match Error::from_sw(sw) {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The card's error this one stands for, when it came from the card.
    pub fn card_error(&self) -> Option<CardError> {
        Some(match self {
            Error::WrongPin { tries_left } => CardError::WrongPin {
                tries_left: *tries_left,
            },
            Error::PinBlocked => CardError::PinBlocked,
            Error::CardSuspended => CardError::Deactivated,
            Error::CardTerminated => CardError::Terminated,
            Error::SecurityStatusNotSatisfied | Error::CounterNotAccepted => {
                CardError::SecurityStatusNotSatisfied
            }
            Error::ConditionsNotSatisfied => CardError::ConditionsNotSatisfied,
            Error::NoCurrentFile => CardError::NoCurrentEf,
            Error::IncompatibleFile => CardError::IncompatibleFile,
            Error::WrongData => CardError::WrongData,
            Error::FileNotFound => CardError::NotFound,
            Error::NotEnoughSpace => CardError::NotEnoughSpace,
            Error::WrongLength => CardError::WrongLength,
            Error::WrongParameters => CardError::WrongP1P2,
            Error::OffsetOutOfRange => CardError::OffsetOutside,
            Error::ChainingError(e) => *e,
            Error::InsNotSupported => CardError::InsNotSupported,
            Error::ClaNotSupported => CardError::ClaNotSupported,
            Error::MemoryFailure => CardError::MemoryFailure,
            Error::SecureMessagingMissing => CardError::SmObjectsMissing,
            Error::SecureMessagingRejected => CardError::SmObjectsIncorrect,
            _ => return None,
        })
    }

    /// The status word this error stands for, when it came from the card.
    pub fn status_word(&self) -> Option<u16> {
        match self {
            Error::UnexpectedStatus(sw) => Some(*sw),
            e => e.card_error().map(CardError::sw),
        }
    }

    /// True when the card or the reader went away (nobody knows what the card did last).
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            Error::CardRemoved { .. }
                | Error::ReaderLost { .. }
                | Error::CardReset { .. }
                | Error::NoCard { .. }
                | Error::Pcsc(_)
                | Error::Sim(_)
        )
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_map_to_meaning() {
        assert!(Error::from_sw(0x9000).is_none());
        assert!(Error::check_sw(0x9000).is_ok());
        assert!(matches!(
            Error::from_sw(0x63C2),
            Some(Error::WrongPin { tries_left: 2 })
        ));
        assert!(matches!(
            Error::from_sw(0x63C0),
            Some(Error::WrongPin { tries_left: 0 })
        ));
        assert!(matches!(Error::from_sw(0x6984), Some(Error::PinBlocked)));
        assert!(matches!(Error::from_sw(0x6283), Some(Error::CardSuspended)));
        assert!(matches!(
            Error::from_sw(0x6285),
            Some(Error::CardTerminated)
        ));
        assert!(matches!(
            Error::from_sw(0x6982),
            Some(Error::SecurityStatusNotSatisfied)
        ));
        assert!(matches!(
            Error::from_sw(0x6985),
            Some(Error::ConditionsNotSatisfied)
        ));
        assert!(matches!(Error::from_sw(0x6A82), Some(Error::FileNotFound)));
        assert!(matches!(Error::from_sw(0x6A80), Some(Error::WrongData)));
        assert!(matches!(Error::from_sw(0x6700), Some(Error::WrongLength)));
        assert!(matches!(
            Error::from_sw(0x6D00),
            Some(Error::InsNotSupported)
        ));
        assert!(matches!(
            Error::from_sw(0x6F00),
            Some(Error::UnexpectedStatus(0x6F00))
        ));
    }

    #[test]
    fn every_status_word_of_the_card_round_trips() {
        // The card's own table (and every count of tries): each status word has one meaning on
        // the host, and that meaning gives the same status word back.
        let words = juki_card::status::STATUS_WORDS
            .iter()
            .map(|(_, sw)| *sw)
            .chain((0..=0x0F).map(|tries| 0x63C0 | tries));
        for sw in words {
            let e = Error::from_sw(sw).unwrap();
            assert!(
                !matches!(e, Error::UnexpectedStatus(_)),
                "{sw:04X} has no meaning"
            );
            assert_eq!(e.status_word(), Some(sw), "{sw:04X}");
            assert_eq!(e.card_error(), CardError::from_sw(sw), "{sw:04X}");
        }
        assert_eq!(Error::from_sw(0x6F00).unwrap().status_word(), Some(0x6F00));
        assert_eq!(Error::NoReader.status_word(), None);
    }

    #[test]
    fn messages_are_clear() {
        let m = Error::WrongPin { tries_left: 1 }.to_string();
        assert!(m.contains("1 try left"), "{m}");
        let m = Error::WrongPin { tries_left: 2 }.to_string();
        assert!(m.contains("2 tries left"), "{m}");
        let m = Error::WrongPin { tries_left: 0 }.to_string();
        assert!(m.contains("now locked"), "{m}");
        let m = Error::PinBlocked.to_string();
        assert!(m.contains("窓口"), "{m}");
        assert!(m.contains("locked"), "{m}");
        let m = Error::CardSuspended.to_string();
        assert!(m.contains("一時停止"), "{m}");
        assert!(m.contains("lift the suspension"), "{m}");
        let m = Error::CardTerminated.to_string();
        assert!(m.contains("no longer valid"), "{m}");
        assert!(m.contains("返納"), "{m}");
    }
}
