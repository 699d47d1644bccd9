//! Atomic records over the [`Nvm`].
//!
//! The NVM holds a fixed list of records: record 0 is the core record ([`crate::state`]),
//! records 1..=10 the binary EFs ([`crate::files::EFS`]). Each record has two slots, A and B,
//! one after the other; each slot is a 12-byte header followed by the record's capacity:
//!
//! ```text
//! magic 'J' | record id | length (u16 BE) | sequence (u32 BE) | CRC-32 (u32 BE) | content…
//! ```
//!
//! The CRC covers the first 8 header bytes and the content. A write goes to the slot that is not
//! active, with sequence + 1: first the content, then the header. A power cut at any byte leaves
//! that slot with a CRC that does not match (a torn content, or a header mixing old and new
//! bytes), so boot, which takes the valid slot with the higher sequence, finds the old content;
//! once the header's last byte is written, the new one. Content is copied NVM to NVM through a
//! small stack buffer; nothing is cached in RAM but the active slot, sequence and length.

use crate::status::Error;
use crate::Nvm;

/// Header length of a slot.
pub const HEADER_LEN: usize = 12;
const MAGIC: u8 = b'J';
const CHUNK: usize = 64;

/// Number of records: the core record and the binary EFs.
pub const RECORD_COUNT: usize = 1 + crate::files::BINARY_EF_COUNT;
/// The core record's number.
pub const CORE_RECORD: u8 = 0;

/// Capacity of record `record`.
pub fn capacity(record: u8) -> Option<usize> {
    if record == CORE_RECORD {
        Some(crate::state::CORE_CAPACITY)
    } else {
        crate::files::binary_capacity(record)
    }
}

/// NVM offset of slot `slot` (0 = A, 1 = B) of `record`.
fn slot_offset(record: u8, slot: u8) -> Option<usize> {
    let mut offset = 0usize;
    for r in 0..record {
        offset = offset.checked_add(2 * (HEADER_LEN + capacity(r)?))?;
    }
    let size = HEADER_LEN + capacity(record)?;
    offset.checked_add(usize::from(slot) * size)
}

/// Bytes of NVM the layout uses.
pub fn used_nvm() -> Option<usize> {
    let last = u8::try_from(RECORD_COUNT - 1).ok()?;
    Some(slot_offset(last, 1)? + HEADER_LEN + capacity(last)?)
}

/// CRC-32 (IEEE 802.3, reflected: `CRC_32_ISO_HDLC`) from the `crc` crate, computed bit by bit
/// (`NoTable`): no table in flash or RAM, no `alloc`.
const CRC: crc::Crc<u32, crc::NoTable> = crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISO_HDLC);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SlotInfo {
    /// The valid slot with the highest sequence, if any.
    active: Option<u8>,
    seq: u32,
    len: u16,
}

/// The records' directory in RAM: which slot is current, its sequence and length.
#[derive(Debug, Clone)]
pub struct Storage {
    slots: [SlotInfo; RECORD_COUNT],
}

fn header_prefix(record: u8, len: u16, seq: u32) -> [u8; 8] {
    let [l0, l1] = len.to_be_bytes();
    let [s0, s1, s2, s3] = seq.to_be_bytes();
    [MAGIC, record, l0, l1, s0, s1, s2, s3]
}

impl Storage {
    /// Scans every record's two slots.
    pub fn mount<N: Nvm>(nvm: &N) -> Self {
        let mut slots = [SlotInfo::default(); RECORD_COUNT];
        for (record, info) in (0u8..).zip(slots.iter_mut()) {
            for slot in 0..2u8 {
                if let Some((seq, len)) = check_slot(nvm, record, slot) {
                    if info.active.is_none() || seq > info.seq {
                        *info = SlotInfo {
                            active: Some(slot),
                            seq,
                            len,
                        };
                    }
                }
            }
        }
        Storage { slots }
    }

    fn info(&self, record: u8) -> Result<SlotInfo, Error> {
        self.slots
            .get(usize::from(record))
            .copied()
            .ok_or(Error::MemoryFailure)
    }

    /// True when the record has been written at least once.
    pub fn exists(&self, record: u8) -> bool {
        self.info(record)
            .map(|i| i.active.is_some())
            .unwrap_or(false)
    }

    /// Current content length of the record (0 if never written).
    pub fn len(&self, record: u8) -> usize {
        self.info(record).map(|i| usize::from(i.len)).unwrap_or(0)
    }

    /// Reads `buf.len()` bytes of the record's content at `offset`.
    pub fn read<N: Nvm>(
        &self,
        nvm: &N,
        record: u8,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        let info = self.info(record)?;
        let end = offset.checked_add(buf.len()).ok_or(Error::OffsetOutside)?;
        if end > usize::from(info.len) {
            return Err(Error::OffsetOutside);
        }
        if buf.is_empty() {
            return Ok(());
        }
        let slot = info.active.ok_or(Error::OffsetOutside)?;
        let base = slot_offset(record, slot).ok_or(Error::MemoryFailure)?;
        nvm.read(base + HEADER_LEN + offset, buf)?;
        Ok(())
    }

    /// Atomically replaces the record's content by its first `keep` bytes followed by `tail`.
    pub fn write<N: Nvm>(
        &mut self,
        nvm: &mut N,
        record: u8,
        keep: usize,
        tail: &[u8],
    ) -> Result<(), Error> {
        let info = self.info(record)?;
        let cap = capacity(record).ok_or(Error::MemoryFailure)?;
        if keep > usize::from(info.len) {
            return Err(Error::OffsetOutside);
        }
        let new_len = keep.checked_add(tail.len()).ok_or(Error::NotEnoughSpace)?;
        if new_len > cap {
            return Err(Error::NotEnoughSpace);
        }
        let len16 = u16::try_from(new_len).map_err(|_| Error::NotEnoughSpace)?;
        let target = match info.active {
            Some(0) => 1,
            _ => 0,
        };
        let seq = info.seq.wrapping_add(1);
        let dst = slot_offset(record, target).ok_or(Error::MemoryFailure)? + HEADER_LEN;
        let prefix = header_prefix(record, len16, seq);
        let mut crc = CRC.digest();
        crc.update(&prefix);

        // 1. The kept prefix, NVM to NVM through a small buffer.
        if keep > 0 {
            let src_slot = info.active.ok_or(Error::MemoryFailure)?;
            let src = slot_offset(record, src_slot).ok_or(Error::MemoryFailure)? + HEADER_LEN;
            let mut buf = [0u8; CHUNK];
            let mut done = 0;
            while done < keep {
                let n = CHUNK.min(keep - done);
                let chunk = buf.get_mut(..n).ok_or(Error::MemoryFailure)?;
                nvm.read(src + done, chunk)?;
                nvm.write(dst + done, chunk)?;
                crc.update(chunk);
                done += n;
            }
        }
        // 2. The new bytes.
        if !tail.is_empty() {
            nvm.write(dst + keep, tail)?;
            crc.update(tail);
        }
        // 3. The header, last: from here on the new content is the current one.
        let mut header = [0u8; HEADER_LEN];
        let (head, crc_bytes) = header.split_at_mut(8);
        head.copy_from_slice(&prefix);
        crc_bytes.copy_from_slice(&crc.finalize().to_be_bytes());
        nvm.write(dst - HEADER_LEN, &header)?;

        if let Some(slot) = self.slots.get_mut(usize::from(record)) {
            *slot = SlotInfo {
                active: Some(target),
                seq,
                len: len16,
            };
        }
        Ok(())
    }

    /// Erases the record physically: both slots, headers and the whole capacity (older,
    /// longer contents included), are set to the erased value `FF`, so the record reads as
    /// never written. Chunks already erased are not written again, so a second run (after a
    /// power cut during the first) writes only what is left. Not atomic: a power cut leaves
    /// the record partly erased, and only its caller knows to run it again.
    pub fn wipe<N: Nvm>(&mut self, nvm: &mut N, record: u8) -> Result<(), Error> {
        let size = HEADER_LEN + capacity(record).ok_or(Error::MemoryFailure)?;
        let erased = [0xFFu8; CHUNK];
        let mut buf = [0u8; CHUNK];
        for slot in 0..2u8 {
            let base = slot_offset(record, slot).ok_or(Error::MemoryFailure)?;
            let mut done = 0;
            // The header is the first chunk: the slot is invalid from the first write on.
            while done < size {
                let n = CHUNK.min(size - done);
                let chunk = buf.get_mut(..n).ok_or(Error::MemoryFailure)?;
                nvm.read(base + done, chunk)?;
                if chunk.iter().any(|&b| b != 0xFF) {
                    nvm.write(base + done, erased.get(..n).ok_or(Error::MemoryFailure)?)?;
                }
                done += n;
            }
        }
        if let Some(info) = self.slots.get_mut(usize::from(record)) {
            *info = SlotInfo::default();
        }
        Ok(())
    }
}

/// Checks one slot: `(sequence, length)` if its header and CRC are valid.
fn check_slot<N: Nvm>(nvm: &N, record: u8, slot: u8) -> Option<(u32, u16)> {
    let base = slot_offset(record, slot)?;
    let mut header = [0u8; HEADER_LEN];
    nvm.read(base, &mut header).ok()?;
    let [magic, id, l0, l1, s0, s1, s2, s3, c0, c1, c2, c3] = header;
    let len = u16::from_be_bytes([l0, l1]);
    if magic != MAGIC || id != record || usize::from(len) > capacity(record)? {
        return None;
    }
    let mut crc = CRC.digest();
    crc.update(&header_prefix(
        record,
        len,
        u32::from_be_bytes([s0, s1, s2, s3]),
    ));
    let mut buf = [0u8; CHUNK];
    let mut done = 0;
    let len = usize::from(len);
    while done < len {
        let n = CHUNK.min(len - done);
        let chunk = buf.get_mut(..n)?;
        nvm.read(base + HEADER_LEN + done, chunk).ok()?;
        crc.update(chunk);
        done += n;
    }
    if crc.finalize() != u32::from_be_bytes([c0, c1, c2, c3]) {
        return None;
    }
    Some((
        u32::from_be_bytes([s0, s1, s2, s3]),
        u16::from_be_bytes([l0, l1]),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use crate::{NvmError, NVM_SIZE};

    /// RAM NVM for unit tests.
    pub(crate) struct RamNvm(pub [u8; NVM_SIZE]);

    impl RamNvm {
        pub(crate) fn new() -> Self {
            RamNvm([0xFF; NVM_SIZE])
        }
    }

    impl Nvm for RamNvm {
        fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError> {
            let src = self
                .0
                .get(offset..offset + buf.len())
                .ok_or(NvmError::OutOfRange)?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), NvmError> {
            let dst = self
                .0
                .get_mut(offset..offset + data.len())
                .ok_or(NvmError::OutOfRange)?;
            dst.copy_from_slice(data);
            Ok(())
        }
    }

    /// Writes only `budget` bytes, then fails (a power cut in the middle of a write).
    struct Tearing<'a> {
        inner: &'a mut RamNvm,
        budget: usize,
    }

    impl Nvm for Tearing<'_> {
        fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError> {
            self.inner.read(offset, buf)
        }
        fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), NvmError> {
            let n = data.len().min(self.budget);
            self.inner.write(offset, &data[..n])?;
            self.budget -= n;
            if n < data.len() {
                Err(NvmError::WriteFailed)
            } else {
                Ok(())
            }
        }
    }

    fn content(nvm: &RamNvm, record: u8) -> ([u8; 64], usize) {
        let s = Storage::mount(nvm);
        let len = s.len(record);
        let mut buf = [0u8; 64];
        s.read(nvm, record, 0, &mut buf[..len]).unwrap();
        (buf, len)
    }

    #[test]
    fn layout_fits() {
        assert!(used_nvm().unwrap() <= NVM_SIZE);
    }

    #[test]
    fn blank_nvm_has_no_records() {
        let nvm = RamNvm::new();
        let s = Storage::mount(&nvm);
        for r in 0..RECORD_COUNT as u8 {
            assert!(!s.exists(r));
            assert_eq!(s.len(r), 0);
        }
    }

    #[test]
    fn write_keep_and_read_back() {
        let mut nvm = RamNvm::new();
        let mut s = Storage::mount(&nvm);
        s.write(&mut nvm, 5, 0, b"hello world").unwrap();
        s.write(&mut nvm, 5, 6, b"card").unwrap();
        let (buf, len) = content(&nvm, 5);
        assert_eq!(&buf[..len], b"hello card");
        assert_eq!(s.write(&mut nvm, 5, 11, b"x"), Err(Error::OffsetOutside));
        assert_eq!(
            s.write(&mut nvm, 5, 0, &[0; 33]),
            Err(Error::NotEnoughSpace)
        );
        let mut big = [0u8; 11];
        assert_eq!(s.read(&nvm, 5, 0, &mut big), Err(Error::OffsetOutside));
    }

    #[test]
    fn wipe_erases_both_slots_and_only_what_is_left() {
        let mut nvm = RamNvm::new();
        let mut s = Storage::mount(&nvm);
        s.write(&mut nvm, 5, 0, b"a long old content of 30 bytes")
            .unwrap();
        s.write(&mut nvm, 5, 0, b"short").unwrap();
        s.write(&mut nvm, 4, 0, b"neighbour").unwrap();
        s.wipe(&mut nvm, 5).unwrap();
        assert!(!s.exists(5));
        let start = slot_offset(5, 0).unwrap();
        let end = slot_offset(5, 1).unwrap() + HEADER_LEN + capacity(5).unwrap();
        assert!(nvm.0[start..end].iter().all(|&b| b == 0xFF));
        let s = Storage::mount(&nvm);
        assert!(!s.exists(5));
        assert_eq!(content(&nvm, 4).1, 9);
        // Nothing left to erase: no write at all.
        let mut s = Storage::mount(&nvm);
        let mut counting = Tearing {
            inner: &mut nvm,
            budget: 0,
        };
        s.wipe(&mut counting, 5).unwrap();
        // The record is usable again.
        s.write(&mut nvm, 5, 0, b"new").unwrap();
        assert_eq!(&content(&nvm, 5).0[..3], b"new");
    }

    #[test]
    fn torn_write_at_every_byte_is_old_or_new() {
        let mut base = RamNvm::new();
        let mut s = Storage::mount(&base);
        s.write(&mut base, 5, 0, b"old content, long one").unwrap();
        s.write(&mut base, 5, 0, b"older").unwrap();
        s.write(&mut base, 5, 0, b"old content").unwrap();
        let total = 11 + HEADER_LEN + 10;
        for budget in 0..=total {
            let mut nvm = RamNvm(base.0);
            let mut s = Storage::mount(&nvm);
            let result = s.write(
                &mut Tearing {
                    inner: &mut nvm,
                    budget,
                },
                5,
                4,
                b"new thing",
            );
            let (buf, len) = content(&nvm, 5);
            let now = &buf[..len];
            assert!(
                now == b"old content" || now == b"old new thing",
                "budget {budget}"
            );
            if result.is_ok() {
                assert_eq!(now, b"old new thing");
            }
            // The next write after the tear still works.
            let mut s = Storage::mount(&nvm);
            s.write(&mut nvm, 5, 0, b"again").unwrap();
            let (buf, len) = content(&nvm, 5);
            assert_eq!(&buf[..len], b"again");
        }
    }
}
