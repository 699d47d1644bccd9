//! The card's persistent lifecycle state.
//!
//! blank → initialised (PUT DATA wrote the root key) → issued (ACTIVATE FILE). The counter issue
//! adds suspended (一時停止) and terminated (廃止); their encodings 3 and 4 are reserved here, and
//! the gate ([`crate::gate`]) decides per state, so adding them is one match arm each.

/// Lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Manufactured, no root key.
    Blank,
    /// Root key written; the counter personalises.
    Initialised,
    /// Personalised and activated: in the holder's hands.
    Issued,
}

impl Lifecycle {
    /// Persistent encoding.
    pub fn to_byte(self) -> u8 {
        match self {
            Lifecycle::Blank => 0,
            Lifecycle::Initialised => 1,
            Lifecycle::Issued => 2,
        }
    }

    /// Decodes [`Lifecycle::to_byte`]; unknown values (3 = suspended and 4 = terminated are
    /// reserved) are `None`.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Lifecycle::Blank),
            1 => Some(Lifecycle::Initialised),
            2 => Some(Lifecycle::Issued),
            _ => None,
        }
    }
}
