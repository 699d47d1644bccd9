//! The card's persistent lifecycle state.
//!
//! ```text
//! blank ──PUT DATA──► initialised ──ACTIVATE FILE──► issued ◄──ACTIVATE FILE── suspended
//!                          │                           │ └──DEACTIVATE FILE──►    │
//!                          └──────── TERMINATE CARD USAGE (irreversible) ─────────┴──► terminated
//! ```
//!
//! The gate ([`crate::gate`]) decides per command and state. The state is card-wide: both
//! applications share it.

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

impl Lifecycle {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        for state in [
            Lifecycle::Blank,
            Lifecycle::Initialised,
            Lifecycle::Issued,
            Lifecycle::Suspended,
            Lifecycle::Terminated,
        ] {
            assert_eq!(Lifecycle::from_byte(state.to_byte()), Some(state));
        }
        assert_eq!(Lifecycle::from_byte(5), None);
        assert_eq!(Lifecycle::Suspended.lcs_byte(), 0x04);
        assert_eq!(Lifecycle::Terminated.lcs_byte(), 0x0C);
    }
}
