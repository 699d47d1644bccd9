//! juki middleware: everything between a program on a PC (the citizen's, the municipal
//! counter's, a PKCS#11 module) and the resident registry card (住基カード). It links no
//! database, no argument parser and no certification authority, and it never prompts, prints or
//! exits: PINs come from the caller ([`pin::PinSource`]).
//!
//! - [`transport`]: the [`transport::Transport`] trait; [`pcsc_transport`] (real readers through
//!   PC/SC) and [`sim_transport`] (the card core in-process, on a card image file).
//! - [`framing`]: framing (chaining, `61xx`, `6Cxx`, extended length, whole-file READ BINARY).
//! - [`card`]: the typed card API, [`card::JukiCard`].
//! - [`error`]: the middleware's error type, status words mapped to their meaning.
//! - [`resident`], [`resident_code`], [`pin`], [`date`], [`jpki_files`]: the data on the card
//!   and its rules.
//! - [`authority`]: the national root key and municipality counter credentials (card-verifiable
//!   certificates).
//! - [`clock`]: the host's one clock (now, today in JST, `JUKI_TODAY`), [`date`]: calendar
//!   arithmetic.
//! - [`private_dir`]: owner-only directories for keys and records.

pub mod authority;
pub mod card;
pub mod clock;
pub mod date;
pub mod error;
pub mod framing;
pub mod jpki_files;
pub mod pcsc_transport;
pub mod pin;
pub mod private_dir;
pub mod resident;
pub mod resident_code;
pub mod sim_transport;
pub mod transport;

pub use card::JukiCard;
pub use error::{Error, Result};
