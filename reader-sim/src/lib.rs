//! juki reader simulator: the juki card core as a virtual card.
//!
//! - [`image`]: the card image file (the card's NVM on disk, saved atomically) and [`FileNvm`].
//! - [`sim`]: [`SimCard`], a card with its image and the OS RNG, usable in-process.
//! - [`vpcd`]: the vsmartcard vpcd protocol (frames over TCP) that makes the card visible to pcscd.
//! - [`server`]: [`VpcdServer`], the card served to vpcd from a thread, reconnecting as needed.
//! - [`ATR`]: the card's answer to reset.
#![forbid(unsafe_code)]

pub mod atr;
pub mod image;
pub mod server;
pub mod sim;
pub mod vpcd;

pub use atr::ATR;
pub use image::{FileNvm, ImageError};
pub use server::VpcdServer;
pub use sim::SimCard;
