//! In-process transport over the reader simulator's [`SimCard`] (`--reader sim:PATH`): the card
//! core runs inside the `juki` process on a card image file. Used by `juki demo` and the tests;
//! no pcscd needed.

use std::path::{Path, PathBuf};

use juki_reader_sim::SimCard;

use crate::error::{Error, Result};
use crate::transport::{Transport, Watched};

/// A simulated card in the same process.
#[derive(Debug)]
pub struct SimTransport {
    card: SimCard,
    path: PathBuf,
    extended: bool,
}

fn sim_error(e: juki_reader_sim::ImageError) -> Error {
    Error::Sim(e.to_string())
}

impl SimTransport {
    /// Creates a new blank card image at `path` (refusing an existing file).
    pub fn create(path: &Path) -> Result<SimTransport> {
        Ok(SimTransport {
            card: SimCard::create(path).map_err(sim_error)?,
            path: path.to_path_buf(),
            extended: true,
        })
    }

    /// Opens the card image at `path`.
    pub fn open(path: &Path) -> Result<SimTransport> {
        Ok(SimTransport {
            card: SimCard::open(path).map_err(sim_error)?,
            path: path.to_path_buf(),
            extended: true,
        })
    }

    /// Opens the card image at `path`, or creates a blank card there if there is no file.
    /// Returns whether it was created.
    pub fn open_or_create(path: &Path) -> Result<(SimTransport, bool)> {
        if path.exists() {
            Ok((SimTransport::open(path)?, false))
        } else {
            Ok((SimTransport::create(path)?, true))
        }
    }

    /// Whether to use extended length (default) or only short APDUs with chaining and
    /// GET RESPONSE (to exercise that path; the card takes both).
    pub fn with_extended_length(mut self, extended: bool) -> SimTransport {
        self.extended = extended;
        self
    }

    /// Takes the card out and puts it back: power off, then on (volatile state cleared).
    pub fn power_cycle(&mut self) -> Result<()> {
        self.card.power_off().map_err(sim_error)?;
        self.card.power_on().map_err(sim_error)
    }

    /// Warm reset of the card.
    pub fn reset(&mut self) -> Result<()> {
        self.card.reset().map_err(sim_error)
    }

    /// The simulated card.
    pub fn into_card(self) -> SimCard {
        self.card
    }
}

impl Transport for SimTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        self.card.try_transmit(apdu).map_err(sim_error)
    }

    fn supports_extended_length(&self) -> bool {
        self.extended
    }

    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        // Nobody else can reach an in-process card while `f` runs; but a PIN verified in it
        // must not outlive it, as through PC/SC: a warm reset at the end of such a transaction.
        let (result, raised) = {
            let mut watched = Watched::new(self);
            let result = f(&mut watched);
            (result, watched.raised())
        };
        let reset = if raised { self.reset() } else { Ok(()) };
        result.and(reset)
    }

    fn name(&self) -> String {
        format!("sim:{}", self.path.display())
    }
}
