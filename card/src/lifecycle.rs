//! The card's persistent lifecycle state.
//!
//! ```text
//! blank ──PUT DATA──► initialised ──ACTIVATE FILE──► issued ◄──ACTIVATE FILE── suspended
//!                          │                           │ └──DEACTIVATE FILE──►    │
//!                          └──────── TERMINATE CARD USAGE (irreversible) ─────────┴──► terminated
//! ```
//!
//! [`TRANSITIONS`] is the one table of these arrows: the gate ([`crate::gate`]) lets a
//! lifecycle command through only along them, the handlers take the new state from them, and a
//! counter's registry asks them ([`Lifecycle::allows`], [`Lifecycle::next`]) whether a card in a
//! state may be suspended, resumed or terminated. The gate decides per command and state for
//! everything else. The state is card-wide: both applications share it.

use crate::command::Command;
use crate::status::{Error, Status};

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// Manufactured, no root key.
    Blank,
    /// Root key written; the counter personalises.
    Initialised,
    /// Personalised and activated: in the holder's hands.
    Issued,
    /// Suspended by the counter (一時停止, a lost or stolen card): the holder's commands are
    /// refused (`6283`) until the counter resumes the card.
    Suspended,
    /// Terminated by the counter (返納・廃止): keys, PINs and personal data erased; only the
    /// card information can still be read (`6285` for everything else). Irreversible.
    Terminated,
}

/// A change of lifecycle state ([`TRANSITIONS`]), made by one of the counter's (or the
/// manufacturer's) commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Blank → initialised: PUT DATA `C1` (the national root key). Again on an initialised
    /// card: the manufacturer's retry, which changes nothing.
    Initialise,
    /// Initialised → issued: ACTIVATE FILE after the personalisation (交付).
    Issue,
    /// Issued → suspended: DEACTIVATE FILE (一時停止).
    Suspend,
    /// Suspended → issued: ACTIVATE FILE (一時停止の解除).
    Resume,
    /// Initialised, issued or suspended → terminated: TERMINATE CARD USAGE (返納・廃止),
    /// irreversible.
    Terminate,
}

/// Every allowed lifecycle change: (from, transition, to). No other exists; terminated has
/// none out.
pub const TRANSITIONS: [(Lifecycle, Transition, Lifecycle); 8] = [
    (
        Lifecycle::Blank,
        Transition::Initialise,
        Lifecycle::Initialised,
    ),
    (
        Lifecycle::Initialised,
        Transition::Initialise,
        Lifecycle::Initialised,
    ),
    (Lifecycle::Initialised, Transition::Issue, Lifecycle::Issued),
    (Lifecycle::Issued, Transition::Suspend, Lifecycle::Suspended),
    (Lifecycle::Suspended, Transition::Resume, Lifecycle::Issued),
    (
        Lifecycle::Initialised,
        Transition::Terminate,
        Lifecycle::Terminated,
    ),
    (
        Lifecycle::Issued,
        Transition::Terminate,
        Lifecycle::Terminated,
    ),
    (
        Lifecycle::Suspended,
        Transition::Terminate,
        Lifecycle::Terminated,
    ),
];

impl Transition {
    /// Every transition.
    pub const ALL: [Transition; 5] = [
        Transition::Initialise,
        Transition::Issue,
        Transition::Suspend,
        Transition::Resume,
        Transition::Terminate,
    ];

    /// The states it may start from, in [`Lifecycle::ALL`] order.
    pub fn from_states(self) -> impl Iterator<Item = Lifecycle> {
        Lifecycle::ALL.into_iter().filter(move |s| s.allows(self))
    }

    /// The command that makes it, for the three without data (ACTIVATE FILE, DEACTIVATE FILE,
    /// TERMINATE CARD USAGE); `None` for [`Transition::Initialise`] (PUT DATA `C1` carries the
    /// root key: [`Command::Initialise`]).
    pub fn command(self) -> Option<Command<'static>> {
        match self {
            Transition::Initialise => None,
            Transition::Issue | Transition::Resume => Some(Command::Activate),
            Transition::Suspend => Some(Command::Deactivate),
            Transition::Terminate => Some(Command::Terminate),
        }
    }
}

impl Lifecycle {
    /// Every state, in lifecycle order.
    pub const ALL: [Lifecycle; 5] = [
        Lifecycle::Blank,
        Lifecycle::Initialised,
        Lifecycle::Issued,
        Lifecycle::Suspended,
        Lifecycle::Terminated,
    ];

    /// The state `transition` leads to from this one, `None` when it is not allowed here
    /// ([`TRANSITIONS`]).
    pub fn next(self, transition: Transition) -> Option<Lifecycle> {
        TRANSITIONS
            .iter()
            .find(|(from, t, _)| *from == self && *t == transition)
            .map(|(_, _, to)| *to)
    }

    /// True when `transition` may start from this state ([`TRANSITIONS`]).
    pub fn allows(self, transition: Transition) -> bool {
        self.next(transition).is_some()
    }

    /// The status word SELECT by AID answers in this state, the application selected all the
    /// same: `9000`, the warning `6283` on a suspended card, `6285` on a terminated one.
    pub fn select_status(self) -> Status {
        match self {
            Lifecycle::Blank | Lifecycle::Initialised | Lifecycle::Issued => Status::Ok,
            Lifecycle::Suspended => Status::Error(Error::Deactivated),
            Lifecycle::Terminated => Status::Error(Error::Terminated),
        }
    }

    /// Persistent encoding (the core record's lifecycle byte; terminated has two encodings,
    /// see [`crate::state`]).
    pub fn to_byte(self) -> u8 {
        match self {
            Lifecycle::Blank => 0,
            Lifecycle::Initialised => 1,
            Lifecycle::Issued => 2,
            Lifecycle::Suspended => 3,
            Lifecycle::Terminated => 4,
        }
    }

    /// Decodes [`Lifecycle::to_byte`]; unknown values are `None`.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Lifecycle::Blank),
            1 => Some(Lifecycle::Initialised),
            2 => Some(Lifecycle::Issued),
            3 => Some(Lifecycle::Suspended),
            4 => Some(Lifecycle::Terminated),
            _ => None,
        }
    }

    /// The ISO/IEC 7816-4 life cycle status byte (tag `8A` of the FCI): `01` creation, `03`
    /// initialisation, `05` operational activated, `04` operational deactivated, `0C`
    /// termination.
    pub fn lcs_byte(self) -> u8 {
        match self {
            Lifecycle::Blank => 0x01,
            Lifecycle::Initialised => 0x03,
            Lifecycle::Issued => 0x05,
            Lifecycle::Suspended => 0x04,
            Lifecycle::Terminated => 0x0C,
        }
    }

    /// The state a life cycle status byte stands for ([`Lifecycle::lcs_byte`] inverted), read
    /// as ISO/IEC 7816-4 §7.4.10 defines it: `01` creation, `03` initialisation, `05`/`07`
    /// operational activated, `04`/`06` operational deactivated, `0C`–`0F` termination (the
    /// `x` bits are proprietary; this card answers `05`, `04`, `0C`). Others: `None`.
    pub fn from_lcs_byte(lcs: u8) -> Option<Lifecycle> {
        match lcs {
            0x01 => Some(Lifecycle::Blank),
            0x03 => Some(Lifecycle::Initialised),
            0x05 | 0x07 => Some(Lifecycle::Issued),
            0x04 | 0x06 => Some(Lifecycle::Suspended),
            0x0C..=0x0F => Some(Lifecycle::Terminated),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        for state in Lifecycle::ALL {
            assert_eq!(Lifecycle::from_byte(state.to_byte()), Some(state));
            assert_eq!(Lifecycle::from_lcs_byte(state.lcs_byte()), Some(state));
        }
        assert_eq!(Lifecycle::from_byte(5), None);
        assert_eq!(Lifecycle::Suspended.lcs_byte(), 0x04);
        assert_eq!(Lifecycle::Terminated.lcs_byte(), 0x0C);
        // Every byte decodes to nothing, or to a state whose own byte differs from it in the
        // proprietary bits only.
        let mut decoded = 0;
        for lcs in 0..=u8::MAX {
            if let Some(state) = Lifecycle::from_lcs_byte(lcs) {
                decoded += 1;
                let own = state.lcs_byte();
                let mask = if own >= 0x0C { 0xFC } else { 0xFD };
                assert_eq!(lcs & mask, own & mask, "{lcs:02X}");
            }
        }
        assert_eq!(decoded, 2 + 2 + 2 + 4);
        assert_eq!(Lifecycle::from_lcs_byte(0x00), None);
        assert_eq!(Lifecycle::from_lcs_byte(0x02), None);
    }

    #[test]
    fn transitions() {
        use Lifecycle::{Blank, Initialised, Issued, Suspended, Terminated};
        assert_eq!(Issued.next(Transition::Suspend), Some(Suspended));
        assert_eq!(Suspended.next(Transition::Resume), Some(Issued));
        assert_eq!(Initialised.next(Transition::Issue), Some(Issued));
        assert_eq!(Blank.next(Transition::Initialise), Some(Initialised));
        assert!(!Issued.allows(Transition::Resume));
        assert!(!Blank.allows(Transition::Terminate));
        for t in Transition::ALL {
            assert!(!Terminated.allows(t), "terminated is final");
            assert!(t.from_states().count() > 0, "{t:?} starts nowhere");
        }
        assert_eq!(
            Transition::Terminate
                .from_states()
                .collect::<std::vec::Vec<_>>(),
            [Initialised, Issued, Suspended]
        );
        // At most one arrow per (state, transition).
        for (i, (from, t, _)) in TRANSITIONS.iter().enumerate() {
            assert!(!TRANSITIONS[i + 1..]
                .iter()
                .any(|(f, u, _)| f == from && u == t));
        }
        assert_eq!(Suspended.select_status().sw(), 0x6283);
        assert_eq!(Terminated.select_status().sw(), 0x6285);
        assert_eq!(Issued.select_status().sw(), 0x9000);
    }
}
