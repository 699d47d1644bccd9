//! The versioned persistent core record and its serialisation.
//!
//! Layout of format version 2 (225 bytes, in a record of [`CORE_CAPACITY`]); version 1 is the
//! same without the card key (192 bytes), read as a card without one:
//!
//! ```text
//! 0      version = 1
//! 1      lifecycle: 0 blank, 1 initialised, 2 issued, 3 suspended, 4 terminated,
//!        5 terminated with the erasure of the personal data EFs still to finish
//!        (docs/architecture.md, "Termination")
//! 2      root key present (0/1)
//! 3..68  national root public key, SEC1 uncompressed
//! 68..72 last-known date YYYYMMDD as u32 BE (0 = none yet)
//! 72..   3 PINs (住基, auth, sign), each: length, tries, 16 bytes zero-padded value
//! 126..  2 private keys (auth, sign), each: present (0/1), 32-byte scalar
//! 192..  card authentication key (v2): present (0/1), 32-byte scalar
//! ```

use crate::files::{KEY_COUNT, PIN_COUNT};
use crate::lifecycle::Lifecycle;
use crate::pin::{PinRecord, MAX_PIN_LEN};

/// Capacity of the core record (room for later versions).
pub const CORE_CAPACITY: usize = 256;
/// Current format version.
pub const FORMAT_VERSION: u8 = 2;
/// The format of cards initialised before they had a key of their own.
pub const FORMAT_VERSION_1: u8 = 1;
/// Encoded length of version 1.
pub const CORE_LEN_V1: usize = 1 + 1 + 1 + 65 + 4 + PIN_COUNT * (2 + MAX_PIN_LEN) + KEY_COUNT * 33;
/// Encoded length of version 2.
pub const CORE_LEN: usize = CORE_LEN_V1 + 33;

const _: () = assert!(CORE_LEN <= CORE_CAPACITY);

/// SEC1 uncompressed P-256 public key.
pub type PublicKeyBytes = [u8; 65];

/// The persistent core state.
#[derive(Clone, PartialEq, Eq)]
pub struct CoreState {
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// National root public key (set by PUT DATA).
    pub root_key: Option<PublicKeyBytes>,
    /// Latest effective date of an accepted counter certificate, `YYYYMMDD` (0 = none).
    pub last_date: u32,
    /// The PINs, indexed by [`crate::files::PinId`].
    pub pins: [PinRecord; PIN_COUNT],
    /// The private keys (P-256 scalars), indexed by [`crate::files::KeyId`].
    pub keys: [Option<[u8; 32]>; KEY_COUNT],
    /// The card's own authentication key (P-256 scalar), generated at initialisation; `None`
    /// on a card of format version 1 (docs/architecture.md, "Cards without a key").
    pub card_key: Option<[u8; 32]>,
    /// Terminated, but the personal data EFs are not all erased yet (a power cut during
    /// TERMINATE CARD USAGE): the card finishes the erasure before anything else. Only
    /// meaningful with [`Lifecycle::Terminated`].
    pub erasure_pending: bool,
}

impl core::fmt::Debug for CoreState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print PINs or keys.
        f.debug_struct("CoreState")
            .field("lifecycle", &self.lifecycle)
            .field("last_date", &self.last_date)
            .field("erasure_pending", &self.erasure_pending)
            .finish_non_exhaustive()
    }
}

impl Drop for CoreState {
    /// Every copy of the core state in RAM (the card keeps one, and commits build another)
    /// holds the PINs and private keys: wipe them when the copy goes.
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for key in self.keys.iter_mut().chain([&mut self.card_key]).flatten() {
            key.zeroize();
        }
        for pin in self.pins.iter_mut() {
            pin.value.zeroize();
        }
    }
}

impl Default for CoreState {
    fn default() -> Self {
        CoreState {
            lifecycle: Lifecycle::Blank,
            root_key: None,
            last_date: 0,
            pins: [PinRecord::default(); PIN_COUNT],
            keys: [None; KEY_COUNT],
            card_key: None,
            erasure_pending: false,
        }
    }
}

/// Lifecycle byte of a terminated card whose erasure is still to finish.
const TERMINATED_ERASURE_PENDING: u8 = 5;

/// The core record could not be decoded (unknown version or values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(DecodeError);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }
    fn byte(&mut self) -> Result<u8, DecodeError> {
        self.take(1)?.first().copied().ok_or(DecodeError)
    }
    fn array<const L: usize>(&mut self) -> Result<[u8; L], DecodeError> {
        <[u8; L]>::try_from(self.take(L)?).map_err(|_| DecodeError)
    }
    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError),
        }
    }
}

impl CoreState {
    /// Serialises (format version 2).
    pub fn encode(&self) -> [u8; CORE_LEN] {
        let mut out = [0u8; CORE_LEN];
        let mut w = Writer {
            out: &mut out,
            pos: 0,
        };
        let lifecycle = match self.lifecycle {
            Lifecycle::Terminated if self.erasure_pending => TERMINATED_ERASURE_PENDING,
            state => state.to_byte(),
        };
        w.put(&[FORMAT_VERSION, lifecycle]);
        match &self.root_key {
            Some(key) => {
                w.put(&[1]);
                w.put(key);
            }
            None => w.put(&[0; 66]),
        }
        w.put(&self.last_date.to_be_bytes());
        for pin in &self.pins {
            w.put(&[pin.len, pin.tries]);
            w.put(&pin.value);
        }
        for key in self.keys.iter().chain([&self.card_key]) {
            match key {
                Some(k) => {
                    w.put(&[1]);
                    w.put(k);
                }
                None => w.put(&[0; 33]),
            }
        }
        out
    }

    /// Decodes [`CoreState::encode`], or a record of format version 1 (no card key).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader { data };
        let version = r.byte()?;
        if version != FORMAT_VERSION && version != FORMAT_VERSION_1 {
            return Err(DecodeError);
        }
        let (lifecycle, erasure_pending) = match r.byte()? {
            TERMINATED_ERASURE_PENDING => (Lifecycle::Terminated, true),
            byte => (Lifecycle::from_byte(byte).ok_or(DecodeError)?, false),
        };
        let has_root = r.flag()?;
        let root: [u8; 65] = r.array()?;
        let last_date = u32::from_be_bytes(r.array()?);
        let mut pins = [PinRecord::default(); PIN_COUNT];
        for pin in pins.iter_mut() {
            let len = r.byte()?;
            let tries = r.byte()?;
            let value = r.array()?;
            if usize::from(len) > MAX_PIN_LEN {
                return Err(DecodeError);
            }
            *pin = PinRecord { value, len, tries };
        }
        let mut keys = [None; KEY_COUNT];
        for key in keys.iter_mut() {
            let present = r.flag()?;
            let scalar: [u8; 32] = r.array()?;
            *key = present.then_some(scalar);
        }
        let card_key = if version == FORMAT_VERSION {
            let present = r.flag()?;
            let scalar: [u8; 32] = r.array()?;
            present.then_some(scalar)
        } else {
            None
        };
        Ok(CoreState {
            lifecycle,
            root_key: has_root.then_some(root),
            last_date,
            pins,
            keys,
            card_key,
            erasure_pending,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::files::PinId;

    #[test]
    fn round_trip() {
        let blank = CoreState::default();
        assert_eq!(CoreState::decode(&blank.encode()).unwrap(), blank);
        let mut s = CoreState {
            lifecycle: Lifecycle::Issued,
            root_key: Some([4; 65]),
            last_date: 20260401,
            ..CoreState::default()
        };
        s.pins[2] = PinRecord::new(PinId::Sign, b"ABC123").unwrap();
        s.pins[2].tries = 1;
        s.keys[1] = Some([9; 32]);
        s.card_key = Some([7; 32]);
        let bytes = s.encode();
        assert_eq!(CoreState::decode(&bytes).unwrap(), s);
        // Format 1: the same record without the card key, read as a card without one.
        let mut v1 = bytes[..CORE_LEN_V1].to_vec();
        v1[0] = 1;
        let old = CoreState::decode(&v1).unwrap();
        assert_eq!(old.card_key, None);
        assert_eq!(old.keys, s.keys);
        assert_eq!(old.lifecycle, s.lifecycle);
        let mut bad = bytes;
        bad[0] = 3;
        assert_eq!(CoreState::decode(&bad), Err(DecodeError));
        for (lifecycle, erasure_pending, byte) in [
            (Lifecycle::Suspended, false, 3),
            (Lifecycle::Terminated, false, 4),
            (Lifecycle::Terminated, true, 5),
        ] {
            let t = CoreState {
                lifecycle,
                erasure_pending,
                ..s.clone()
            };
            let bytes = t.encode();
            assert_eq!(bytes[1], byte);
            assert_eq!(CoreState::decode(&bytes).unwrap(), t);
        }
        let mut bad = bytes;
        bad[1] = 7;
        assert_eq!(CoreState::decode(&bad), Err(DecodeError));
        assert_eq!(CoreState::decode(&bytes[..CORE_LEN - 1]), Err(DecodeError));
    }
}
