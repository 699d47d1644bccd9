//! juki host middleware: everything between a PC (or a municipal counter) and the resident
//! registry card (住基カード).
//!
//! - [`transport`]: the [`transport::Transport`] trait; [`pcsc_transport`] (real readers through
//!   PC/SC) and [`sim_transport`] (the card core in-process, on a card image file).
//! - [`apdu`]: command encoding and the exchange adapter (chaining, `61xx`, `6Cxx`, extended
//!   length, whole-file READ BINARY).
//! - [`card`]: the typed card API, [`card::JukiCard`].
//! - [`error`]: one error type, status words mapped to their meaning.
//! - [`resident`], [`resident_code`], [`pin`], [`date`]: the data on the card and its rules.
//! - [`jpki`]: the JPKI certification authority, certificates, CMS signatures, login answers
//!   and their verification.
//! - [`authority`]: the national root key and municipality counter credentials.
//! - [`pin_input`]: reading PINs without echo, never from argv.
//! - [`demo`]: the card's whole life on the simulator (`juki demo`).

pub mod apdu;
pub mod authority;
pub mod card;
pub mod counter;
pub mod date;
pub mod demo;
pub mod error;
pub mod generator;
pub mod jpki;
pub mod pcsc_transport;
pub mod pin;
pub mod pin_input;
pub mod private_dir;
pub mod resident;
pub mod resident_code;
pub mod sim_transport;
pub mod transport;

pub use card::JukiCard;
pub use error::{Error, Result};
