//! Volatile state: current application and EF, security status, waiting challenge.
//!
//! Cleared on power-off and reset; SELECT by AID clears everything but the new application.

use crate::cvc::CHALLENGE_LEN;
use crate::files::{App, PinId, PIN_COUNT};
use crate::sm::SecureChannel;

/// RAM-only state of one card session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volatile {
    /// Current application.
    pub app: Option<App>,
    /// Current EF, an index into [`crate::files::EFS`].
    pub ef: Option<u8>,
    verified: [bool; PIN_COUNT],
    /// The counter authenticated in this session (EXTERNAL AUTHENTICATE).
    pub counter_authenticated: bool,
    /// The challenge waiting for EXTERNAL AUTHENTICATE.
    pub challenge: Option<[u8; CHALLENGE_LEN]>,
    /// The counter's secure-messaging session (with [`Volatile::counter_authenticated`]).
    pub sm: Option<SecureChannel>,
}

impl Volatile {
    /// Everything cleared (power-on, reset).
    pub fn new() -> Self {
        Volatile::default()
    }

    /// SELECT by AID: a new application, no EF, no security status, no challenge.
    pub fn select_app(&mut self, app: App) {
        *self = Volatile {
            app: Some(app),
            ..Volatile::default()
        };
    }

    /// Forgets the security status (PINs verified, counter authenticated, waiting challenge);
    /// the current application and EF stay (TERMINATE CARD USAGE).
    pub fn clear_security(&mut self) {
        *self = Volatile {
            app: self.app,
            ef: self.ef,
            ..Volatile::default()
        };
    }

    /// Ends the counter's authentication and its secure-messaging session (a failed or new
    /// EXTERNAL AUTHENTICATE, a secure-messaging error).
    pub fn end_counter_session(&mut self) {
        self.counter_authenticated = false;
        self.sm = None;
    }

    /// True when PIN `id` was verified in this session.
    pub fn is_verified(&self, id: PinId) -> bool {
        self.verified.get(id as usize).copied().unwrap_or(false)
    }

    /// Sets or clears the verified status of PIN `id`.
    pub fn set_verified(&mut self, id: PinId, verified: bool) {
        if let Some(v) = self.verified.get_mut(id as usize) {
            *v = verified;
        }
    }
}
