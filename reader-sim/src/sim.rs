//! A simulated card: the juki card core, its NVM in a card image file, and the OS RNG.

use std::fs::File;
use std::path::PathBuf;

use juki_card::status::Error as CardError;
use juki_card::{Card, Response};
use rand_core::OsRng;

use crate::image::{lock_image, FileNvm, ImageError};

/// Status word answered when the card image could not be saved: the card's own memory
/// failure (`6581`).
pub fn sw_memory_failure() -> [u8; 2] {
    CardError::MemoryFailure.sw().to_be_bytes()
}

/// A juki card backed by a card image file.
///
/// Every response handed out by [`SimCard::transmit`] is durable: if the command changed the
/// card's NVM, the image is saved before the response is returned. If the save fails, the card
/// behaves as if its power had been cut during the command: the NVM is back to the last saved
/// state, the volatile state is gone, and the answer is `6581` (memory failure).
///
/// A card opened or created by path holds the image's lock ([`lock_image`]) while it lives:
/// a second simulator or `juki --reader sim:PATH` on the same image is refused rather than
/// letting two cards overwrite each other's memory.
pub struct SimCard {
    card: Card<FileNvm, OsRng>,
    powered: bool,
    _lock: Option<File>,
}

impl std::fmt::Debug for SimCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCard")
            .field("image", &self.card.nvm().path())
            .field("powered", &self.powered)
            .finish()
    }
}

impl SimCard {
    /// Creates a blank card image at `path` (refusing an existing file) and powers the card on.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self, ImageError> {
        let path = path.into();
        let lock = lock_image(&path)?;
        Self::from_nvm(FileNvm::create(path, false)?).map(|sim| sim.locked(lock))
    }

    /// Opens the card image at `path` and powers the card on.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, ImageError> {
        let path = path.into();
        let lock = lock_image(&path)?;
        Self::from_nvm(FileNvm::open(path)?).map(|sim| sim.locked(lock))
    }

    fn locked(mut self, lock: File) -> Self {
        self._lock = Some(lock);
        self
    }

    /// Powers on a card with the given NVM (e.g. from [`FileNvm::create`] with `overwrite`).
    pub fn from_nvm(nvm: FileNvm) -> Result<Self, ImageError> {
        let mut sim = SimCard {
            card: Card::power_on(nvm, OsRng),
            powered: true,
            _lock: None,
        };
        sim.commit()?;
        Ok(sim)
    }

    /// The card's NVM (its content is what the image file holds, once a call returned).
    pub fn nvm(&self) -> &FileNvm {
        self.card.nvm()
    }

    /// True while the card is powered.
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Runs one command APDU and returns the response (data ‖ SW1 SW2).
    ///
    /// A card that was powered off is powered on first. If saving the image fails, the answer
    /// is `6581` (see [`SimCard::try_transmit`] to see the error).
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.try_transmit(apdu)
            .unwrap_or_else(|_| sw_memory_failure().to_vec())
    }

    /// Like [`SimCard::transmit`], but reports a failed save of the image as an error. The card
    /// is then back at its last saved state, powered on with empty volatile state.
    pub fn try_transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ImageError> {
        if !self.powered {
            self.power_on()?;
        }
        let mut response = Response::new();
        self.card.process(apdu, &mut response);
        self.commit()?;
        Ok(response.to_vec())
    }

    /// Powers the card off: all volatile state is lost.
    pub fn power_off(&mut self) -> Result<(), ImageError> {
        self.reboot();
        self.powered = false;
        self.commit()
    }

    /// Powers the card on. On a card that is already powered this is a cold reset.
    pub fn power_on(&mut self) -> Result<(), ImageError> {
        if self.powered {
            self.reboot();
        }
        self.powered = true;
        self.commit()
    }

    /// Warm reset: clears the card's volatile state (security status, selection, chains).
    pub fn reset(&mut self) -> Result<(), ImageError> {
        if self.powered {
            self.card.reset();
        } else {
            self.powered = true;
        }
        self.commit()
    }

    /// Powers the card off and gives back its NVM.
    pub fn into_nvm(self) -> FileNvm {
        self.card.into_parts().0
    }

    /// Rebuilds the card from its NVM, as at power-on.
    fn reboot(&mut self) {
        self.reboot_with(|_| ());
    }

    fn reboot_with(&mut self, change: impl FnOnce(&mut FileNvm)) {
        let old = std::mem::replace(&mut self.card, Card::power_on(FileNvm::detached(), OsRng));
        let (mut nvm, rng) = old.into_parts();
        change(&mut nvm);
        self.card = Card::power_on(nvm, rng);
    }

    /// Saves the image if the card wrote to its NVM. On failure, drops the unsaved writes and
    /// reboots the card: a power cut before the writes.
    fn commit(&mut self) -> Result<(), ImageError> {
        let result = self.card.nvm().save();
        if result.is_err() {
            self.reboot_with(FileNvm::revert);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::FileNvm;

    /// SELECT the 住基 application, no response data.
    const SELECT_JUKI: &[u8] = &[
        0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01,
    ];

    /// PUT DATA (initialise) with the P-256 base point as the root key: a valid point, so a
    /// blank card writes it to its NVM.
    fn put_data_root_key() -> Vec<u8> {
        let mut apdu = vec![0x00, 0xDA, 0x00, 0xC1, 0x41, 0x04];
        apdu.extend_from_slice(&[
            0x6B, 0x17, 0xD1, 0xF2, 0xE1, 0x2C, 0x42, 0x47, 0xF8, 0xBC, 0xE6, 0xE5, 0x63, 0xA4,
            0x40, 0xF2, 0x77, 0x03, 0x7D, 0x81, 0x2D, 0xEB, 0x33, 0xA0, 0xF4, 0xA1, 0x39, 0x45,
            0xD8, 0x98, 0xC2, 0x96,
        ]);
        apdu.extend_from_slice(&[
            0x4F, 0xE3, 0x42, 0xE2, 0xFE, 0x1A, 0x7F, 0x9B, 0x8E, 0xE7, 0xEB, 0x4A, 0x7C, 0x0F,
            0x9E, 0x16, 0x2B, 0xCE, 0x33, 0x57, 0x6B, 0x31, 0x5E, 0xCE, 0xCB, 0xB6, 0x40, 0x68,
            0x37, 0xBF, 0x51, 0xF5,
        ]);
        apdu
    }

    fn on_disk(sim: &SimCard) -> Vec<u8> {
        FileNvm::open(sim.nvm().path()).unwrap().bytes().to_vec()
    }

    #[test]
    fn every_response_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let mut sim = SimCard::create(dir.path().join("card.img")).unwrap();
        assert_eq!(on_disk(&sim), sim.nvm().bytes());
        let apdus: Vec<Vec<u8>> = vec![
            SELECT_JUKI.to_vec(),
            put_data_root_key(),
            vec![0x00, 0x84, 0x00, 0x00, 0x10],
            put_data_root_key(),
            vec![],
            vec![0x00],
            vec![0xFF; 300],
        ];
        for apdu in &apdus {
            let response = sim.transmit(apdu);
            assert!(response.len() >= 2, "no status word");
            assert!(!sim.nvm().is_dirty());
            assert_eq!(on_disk(&sim), sim.nvm().bytes(), "image lags the card");
            assert_ne!(response[response.len() - 2..], [0x6F, 0x00]);
        }
    }

    #[test]
    fn image_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.img");
        let mut sim = SimCard::create(&path).unwrap();
        sim.transmit(&put_data_root_key());
        let before = sim.nvm().bytes().to_vec();
        drop(sim);
        let sim = SimCard::open(&path).unwrap();
        assert_eq!(sim.nvm().bytes(), before);
    }

    #[test]
    fn one_image_is_one_card_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.img");
        let first = SimCard::create(&path).unwrap();
        let err = SimCard::open(&path).unwrap_err();
        assert!(matches!(err, ImageError::InUse { .. }), "{err:?}");
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        drop(first);
        let _second = SimCard::open(&path).unwrap();
        assert!(matches!(
            SimCard::open(&path).unwrap_err(),
            ImageError::InUse { .. }
        ));
    }

    #[test]
    fn create_refuses_an_existing_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.img");
        SimCard::create(&path).unwrap();
        assert!(matches!(
            SimCard::create(&path).unwrap_err(),
            ImageError::AlreadyExists { .. }
        ));
        SimCard::open(&path).unwrap();
    }

    #[test]
    fn power_events_keep_the_card_usable() {
        let dir = tempfile::tempdir().unwrap();
        let mut sim = SimCard::create(dir.path().join("card.img")).unwrap();
        assert!(sim.is_powered());
        let first = sim.transmit(SELECT_JUKI);
        sim.power_off().unwrap();
        assert!(!sim.is_powered());
        sim.power_on().unwrap();
        assert!(sim.is_powered());
        assert_eq!(sim.transmit(SELECT_JUKI), first);
        sim.reset().unwrap();
        assert_eq!(sim.transmit(SELECT_JUKI), first);
        sim.power_off().unwrap();
        // A powered-off card is powered on by the next command.
        assert_eq!(sim.transmit(SELECT_JUKI), first);
        assert!(sim.is_powered());
    }

    #[test]
    fn failed_save_answers_memory_failure_and_keeps_the_saved_state() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let mut sim = SimCard::create(sub.join("card.img")).unwrap();
        let saved = sim.nvm().bytes().to_vec();
        std::fs::remove_dir_all(&sub).unwrap();
        let result = sim.try_transmit(&put_data_root_key());
        // Whether or not the card wrote, it now holds exactly what was last saved.
        assert_eq!(sim.nvm().bytes(), saved);
        assert!(!sim.nvm().is_dirty());
        if result.is_err() {
            // The card wrote and the save failed: the same command again answers 6581.
            assert_eq!(sim.transmit(&put_data_root_key()), sw_memory_failure());
            assert_eq!(sim.nvm().bytes(), saved);
        }
    }
}
