//! The card image file: the card's non-volatile memory on disk.
//!
//! Layout (all integers big-endian):
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 8 | magic `JUKICARD` |
//! | 8 | 2 | format version ([`FORMAT_VERSION`]) |
//! | 10 | 2 | reserved, 0 |
//! | 12 | 4 | NVM size in bytes ([`juki_card::NVM_SIZE`]) |
//! | 16 | NVM size | the NVM bytes |
//! | 16 + NVM size | 32 | SHA-256 of everything before it |
//!
//! The image is replaced atomically: the new content goes to `<image>.tmp` in the same directory,
//! is fsynced, renamed over the image, and the directory is fsynced. A process killed at any
//! moment leaves either the old or the new image. The file holds the card's secrets (keys, PINs),
//! so it is created readable by its owner only, and the temporary file is always created anew
//! (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600) after removing whatever was at its name: a
//! symlink planted at `<image>.tmp` is removed, never written through.

use std::cell::{Cell, RefCell};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use juki_card::{Nvm, NvmError, NVM_SIZE};
use sha2::{Digest, Sha256};

/// Magic bytes at the start of a card image.
pub const MAGIC: [u8; 8] = *b"JUKICARD";
/// Version of the image format written and accepted by this crate.
pub const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 16;
const CHECKSUM_LEN: usize = 32;
/// Length in bytes of a card image file.
pub const IMAGE_LEN: usize = HEADER_LEN + NVM_SIZE + CHECKSUM_LEN;

/// Why a card image could not be created, read or saved.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file system refused.
    #[error("card image {path}: {source}")]
    Io {
        /// The image file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A new image was requested where a file already exists.
    #[error("card image {path} already exists; refusing to overwrite it")]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The file does not start with the image magic.
    #[error("{path} is not a juki card image")]
    NotAnImage {
        /// The file.
        path: PathBuf,
    },
    /// The image was written by another version of the format.
    #[error("card image {path} has format version {found}; this program reads version {expected}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u16,
        /// Version this crate reads.
        expected: u16,
    },
    /// The image holds an NVM of another size.
    #[error("card image {path} holds {found} bytes of card memory; this card has {expected}")]
    WrongNvmSize {
        /// The file.
        path: PathBuf,
        /// NVM size in the header.
        found: u64,
        /// [`NVM_SIZE`].
        expected: usize,
    },
    /// The file is shorter or longer than its header says.
    #[error("card image {path} is {found} bytes long, expected {expected} (truncated or damaged)")]
    WrongLength {
        /// The file.
        path: PathBuf,
        /// Actual length.
        found: usize,
        /// Length the header implies.
        expected: usize,
    },
    /// The checksum does not match the content.
    #[error("card image {path} is corrupt (checksum mismatch)")]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    /// Another card (another simulator, or `juki --reader sim:PATH`) runs on this image now.
    #[error(
        "card image {path} is in use by another process (a running juki-reader-sim or juki \
         --reader sim:…); one card image is one card and can be in one reader at a time"
    )]
    InUse {
        /// The image file.
        path: PathBuf,
    },
}

/// Takes the exclusive lock of the card image at `path` (an advisory lock on `PATH.lock`, since
/// the image itself is replaced by rename on every save); held until the returned file is
/// dropped.
pub fn lock_image(path: &Path) -> Result<File, ImageError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let io_err = |source| ImageError::Io {
        path: PathBuf::from(&lock_path),
        source,
    };
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    // Never through a symlink planted at the lock's name (it would create the target).
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(&lock_path).map_err(io_err)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(ImageError::InUse {
            path: path.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(io_err(e)),
    }
}

/// The card's NVM, held in memory and saved to its image file.
///
/// Writes only change memory and set the dirty flag; [`FileNvm::save`] makes them durable. The
/// last saved content is kept, so a failed save can be undone with [`FileNvm::revert`] (the
/// simulated equivalent of a power cut before the write).
pub struct FileNvm {
    path: PathBuf,
    bytes: Vec<u8>,
    /// What the image file holds. Saving goes through `&self` (the card only lends its NVM
    /// out immutably), hence the cells.
    saved: RefCell<Vec<u8>>,
    dirty: Cell<bool>,
}

impl std::fmt::Debug for FileNvm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the bytes: they hold the card's secrets.
        f.debug_struct("FileNvm")
            .field("path", &self.path)
            .field("dirty", &self.dirty.get())
            .finish_non_exhaustive()
    }
}

impl FileNvm {
    /// Creates a blank card image (all `0xFF`, the erased state) at `path` and saves it.
    ///
    /// Refuses an existing file unless `overwrite`.
    pub fn create(path: impl Into<PathBuf>, overwrite: bool) -> Result<Self, ImageError> {
        let path = path.into();
        if !overwrite && fs::symlink_metadata(&path).is_ok() {
            return Err(ImageError::AlreadyExists { path });
        }
        let nvm = FileNvm {
            path,
            bytes: vec![0xFF; NVM_SIZE],
            saved: RefCell::new(vec![0xFF; NVM_SIZE]),
            dirty: Cell::new(true),
        };
        nvm.save()?;
        Ok(nvm)
    }

    /// Opens an existing card image, checking its format version, NVM size and checksum.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, ImageError> {
        let path = path.into();
        let data = fs::read(&path).map_err(|source| ImageError::Io {
            path: path.clone(),
            source,
        })?;
        let bytes = decode(&path, &data)?;
        Ok(FileNvm {
            path,
            saved: RefCell::new(bytes.clone()),
            bytes,
            dirty: Cell::new(false),
        })
    }

    /// A throwaway NVM of no size that belongs to no file (used while a card is rebuilt).
    pub(crate) fn detached() -> Self {
        FileNvm {
            path: PathBuf::new(),
            bytes: Vec::new(),
            saved: RefCell::new(Vec::new()),
            dirty: Cell::new(false),
        }
    }

    /// The image file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The NVM content as the card sees it (possibly not yet saved).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True when the NVM was written since the last save.
    pub fn is_dirty(&self) -> bool {
        self.dirty.get()
    }

    /// Saves the image atomically if it changed since the last save.
    ///
    /// On error the NVM stays dirty (in memory only); see [`FileNvm::revert`].
    pub fn save(&self) -> Result<(), ImageError> {
        if !self.dirty.get() {
            return Ok(());
        }
        let image = encode(&self.bytes);
        write_atomically(&self.path, &image).map_err(|source| ImageError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.saved.borrow_mut().copy_from_slice(&self.bytes);
        self.dirty.set(false);
        Ok(())
    }

    /// Drops the unsaved writes: the NVM is again what was last saved.
    pub fn revert(&mut self) {
        self.bytes.copy_from_slice(&self.saved.borrow());
        self.dirty.set(false);
    }
}

impl Nvm for FileNvm {
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let end = offset.checked_add(buf.len()).ok_or(NvmError::OutOfRange)?;
        let src = self.bytes.get(offset..end).ok_or(NvmError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), NvmError> {
        let end = offset.checked_add(data.len()).ok_or(NvmError::OutOfRange)?;
        let dst = self
            .bytes
            .get_mut(offset..end)
            .ok_or(NvmError::OutOfRange)?;
        if dst != data {
            dst.copy_from_slice(data);
            self.dirty.set(true);
        }
        Ok(())
    }
}

/// Encodes NVM bytes as a card image.
fn encode(nvm: &[u8]) -> Vec<u8> {
    let mut image = Vec::with_capacity(HEADER_LEN + nvm.len() + CHECKSUM_LEN);
    image.extend_from_slice(&MAGIC);
    image.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    image.extend_from_slice(&0u16.to_be_bytes());
    // NVM_SIZE is a small compile-time constant; the conversion cannot fail.
    let size = u32::try_from(nvm.len()).unwrap_or(u32::MAX);
    image.extend_from_slice(&size.to_be_bytes());
    image.extend_from_slice(nvm);
    let digest = Sha256::digest(&image);
    image.extend_from_slice(&digest);
    image
}

/// Checks a card image and returns its NVM bytes.
fn decode(path: &Path, data: &[u8]) -> Result<Vec<u8>, ImageError> {
    let path = || path.to_path_buf();
    let header = data
        .get(..HEADER_LEN)
        .ok_or_else(|| ImageError::WrongLength {
            path: path(),
            found: data.len(),
            expected: IMAGE_LEN,
        })?;
    let (magic, rest) = header.split_at(8);
    if magic != MAGIC {
        return Err(ImageError::NotAnImage { path: path() });
    }
    let (version, rest) = rest.split_at(2);
    let version = u16::from_be_bytes([version[0], version[1]]);
    if version != FORMAT_VERSION {
        return Err(ImageError::UnsupportedVersion {
            path: path(),
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let size = u32::from_be_bytes([rest[2], rest[3], rest[4], rest[5]]);
    if u64::from(size) != NVM_SIZE as u64 {
        return Err(ImageError::WrongNvmSize {
            path: path(),
            found: u64::from(size),
            expected: NVM_SIZE,
        });
    }
    if data.len() != IMAGE_LEN {
        return Err(ImageError::WrongLength {
            path: path(),
            found: data.len(),
            expected: IMAGE_LEN,
        });
    }
    let (content, checksum) = data.split_at(HEADER_LEN + NVM_SIZE);
    if Sha256::digest(content)[..] != *checksum {
        return Err(ImageError::Corrupt { path: path() });
    }
    Ok(content[HEADER_LEN..].to_vec())
}

/// The temporary file a new image is written to before it replaces `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `data`: write a temporary file in the same directory, fsync it, rename
/// it over `path`, fsync the directory.
fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    if path.file_name().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path",
        ));
    }
    let tmp = temp_path(path);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // A `<image>.tmp` already there is a save killed before its rename — or something planted
    // (a symlink to a file of the attacker's choice, which would receive the card's keys and
    // PINs). Either way it is removed first: unlinking removes a symlink itself, never its
    // target. Where it cannot be removed (another user's file in a sticky directory) the save
    // is refused below, since the temporary file is then only ever created anew: exclusive
    // creation, no symlink followed, owner-only.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "cannot remove the stale temporary file {}: {e}",
                    tmp.display()
                ),
            ))
        }
    }
    let mut file = private_new_file().open(&tmp).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot create the temporary file {} anew (something put it there meanwhile?): \
                 {e}",
                tmp.display()
            ),
        )
    })?;
    let result = (|| {
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    drop(file);
    if result.is_err() {
        // Ours: it was created by this call (exclusive creation).
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Options that create a new file for writing, readable by its owner only (0600), refusing a
/// file or symlink already at the path (`O_CREAT | O_EXCL | O_NOFOLLOW`).
fn private_new_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("card.img")
    }

    #[test]
    fn new_image_is_blank_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        let mut nvm = FileNvm::create(&path, false).unwrap();
        assert!(nvm.bytes().iter().all(|&b| b == 0xFF));
        assert!(!nvm.is_dirty());
        assert_eq!(fs::metadata(&path).unwrap().len(), IMAGE_LEN as u64);

        nvm.write(100, &[1, 2, 3]).unwrap();
        nvm.write(NVM_SIZE - 2, &[0xAA, 0x55]).unwrap();
        assert!(nvm.is_dirty());
        nvm.save().unwrap();
        assert!(!nvm.is_dirty());

        let back = FileNvm::open(&path).unwrap();
        assert_eq!(back.bytes(), nvm.bytes());
        let mut buf = [0u8; 3];
        back.read(100, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3]);
        back.read(NVM_SIZE - 2, &mut buf[..2]).unwrap();
        assert_eq!(buf[..2], [0xAA, 0x55]);
        assert!(!temp_path(&path).exists(), "temporary file left behind");
    }

    #[cfg(unix)]
    #[test]
    fn image_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        FileNvm::create(&path, false).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "image readable by others: {mode:o}");
    }

    #[test]
    fn out_of_range_access_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut nvm = FileNvm::create(image_path(&dir), false).unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(nvm.read(NVM_SIZE - 1, &mut buf), Err(NvmError::OutOfRange));
        assert_eq!(nvm.read(usize::MAX, &mut buf), Err(NvmError::OutOfRange));
        assert_eq!(nvm.write(NVM_SIZE, &[0]), Err(NvmError::OutOfRange));
        assert_eq!(nvm.write(usize::MAX, &[0, 0]), Err(NvmError::OutOfRange));
        assert!(!nvm.is_dirty());
        nvm.read(NVM_SIZE - 2, &mut buf).unwrap();
        nvm.write(0, &[]).unwrap();
    }

    #[test]
    fn writing_the_same_bytes_does_not_dirty() {
        let dir = tempfile::tempdir().unwrap();
        let mut nvm = FileNvm::create(image_path(&dir), false).unwrap();
        nvm.write(0, &[0xFF; 16]).unwrap();
        assert!(!nvm.is_dirty());
        nvm.write(0, &[0xFE]).unwrap();
        assert!(nvm.is_dirty());
    }

    #[test]
    fn create_refuses_an_existing_file_unless_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        let mut nvm = FileNvm::create(&path, false).unwrap();
        nvm.write(0, &[0]).unwrap();
        nvm.save().unwrap();
        let err = FileNvm::create(&path, false).unwrap_err();
        assert!(matches!(err, ImageError::AlreadyExists { .. }), "{err}");
        // Untouched.
        assert_eq!(FileNvm::open(&path).unwrap().bytes()[0], 0);
        let fresh = FileNvm::create(&path, true).unwrap();
        assert_eq!(fresh.bytes()[0], 0xFF);
        assert_eq!(FileNvm::open(&path).unwrap().bytes()[0], 0xFF);
    }

    #[test]
    fn unsaved_writes_are_not_on_disk_and_revert_drops_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        let mut nvm = FileNvm::create(&path, false).unwrap();
        nvm.write(10, &[7]).unwrap();
        assert_eq!(FileNvm::open(&path).unwrap().bytes()[10], 0xFF);
        nvm.revert();
        assert!(!nvm.is_dirty());
        assert_eq!(nvm.bytes()[10], 0xFF);
    }

    #[test]
    fn failed_save_keeps_old_image_and_stays_dirty() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let path = sub.join("card.img");
        let mut nvm = FileNvm::create(&path, false).unwrap();
        nvm.write(0, &[1]).unwrap();
        fs::remove_dir_all(&sub).unwrap();
        let err = nvm.save().unwrap_err();
        assert!(matches!(err, ImageError::Io { .. }), "{err}");
        assert!(nvm.is_dirty());
        nvm.revert();
        assert_eq!(nvm.bytes()[0], 0xFF);
    }

    #[test]
    fn stale_temp_file_from_a_killed_save_is_harmless() {
        // A process killed before the rename leaves `<image>.tmp`; the image itself is intact
        // and the next save simply replaces the temporary file.
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        let mut nvm = FileNvm::create(&path, false).unwrap();
        fs::write(temp_path(&path), b"half-written garbage").unwrap();
        assert_eq!(FileNvm::open(&path).unwrap().bytes(), nvm.bytes());
        nvm.write(5, &[5]).unwrap();
        nvm.save().unwrap();
        assert_eq!(FileNvm::open(&path).unwrap().bytes()[5], 5);
        assert!(!temp_path(&path).exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_at_the_temporary_name_is_never_written_through() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        let mut nvm = FileNvm::create(&path, false).unwrap();
        // The attacker's file, and a symlink to it where the next save writes its temporary.
        let target = dir.path().join("attacker-reads-this");
        fs::write(&target, b"attacker's file").unwrap();
        std::os::unix::fs::symlink(&target, temp_path(&path)).unwrap();
        nvm.write(7, &[0x5A; 16]).unwrap();
        nvm.save().unwrap();
        assert_eq!(
            fs::read(&target).unwrap(),
            b"attacker's file",
            "the card's image was written through the symlink"
        );
        // The image is saved, as a file of its own, private to its owner.
        assert_eq!(FileNvm::open(&path).unwrap().bytes()[7..23], [0x5A; 16]);
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(fs::symlink_metadata(temp_path(&path)).is_err());
        // A dangling symlink (to a file it would create) neither.
        let nowhere = dir.path().join("would-be-created");
        std::os::unix::fs::symlink(&nowhere, temp_path(&path)).unwrap();
        nvm.write(7, &[0xA5]).unwrap();
        nvm.save().unwrap();
        assert!(!nowhere.exists(), "a file was created through the symlink");
        assert_eq!(FileNvm::open(&path).unwrap().bytes()[7], 0xA5);
    }

    #[cfg(unix)]
    #[test]
    fn a_temporary_name_that_cannot_be_cleared_refuses_the_save() {
        // A directory at the temporary name stands for what cannot be unlinked (another user's
        // file in a sticky directory): the save is refused, the image stays the old one.
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        let mut nvm = FileNvm::create(&path, false).unwrap();
        fs::create_dir(temp_path(&path)).unwrap();
        nvm.write(0, &[0]).unwrap();
        let err = nvm.save().unwrap_err();
        assert!(err.to_string().contains("temporary file"), "{err}");
        assert!(temp_path(&path).is_dir(), "not ours: left in place");
        assert_eq!(FileNvm::open(&path).unwrap().bytes()[0], 0xFF);
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_file_is_not_opened_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        FileNvm::create(&path, false).unwrap();
        let nowhere = dir.path().join("would-be-created");
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        std::os::unix::fs::symlink(&nowhere, PathBuf::from(lock)).unwrap();
        assert!(matches!(lock_image(&path), Err(ImageError::Io { .. })));
        assert!(!nowhere.exists());
    }

    fn valid_image() -> Vec<u8> {
        let mut nvm = vec![0xFF; NVM_SIZE];
        nvm[0] = 0x42;
        encode(&nvm)
    }

    fn open_bytes(data: &[u8]) -> Result<FileNvm, ImageError> {
        let dir = tempfile::tempdir().unwrap();
        let path = image_path(&dir);
        fs::write(&path, data).unwrap();
        FileNvm::open(&path)
    }

    #[test]
    fn valid_image_opens() {
        assert_eq!(open_bytes(&valid_image()).unwrap().bytes()[0], 0x42);
    }

    #[test]
    fn truncated_image_is_refused() {
        let image = valid_image();
        for len in [0, 5, HEADER_LEN - 1, HEADER_LEN, IMAGE_LEN - 1] {
            let err = open_bytes(&image[..len]).unwrap_err();
            assert!(
                matches!(err, ImageError::WrongLength { .. }),
                "{len}: {err}"
            );
        }
        let mut long = image.clone();
        long.push(0);
        assert!(matches!(
            open_bytes(&long).unwrap_err(),
            ImageError::WrongLength { .. }
        ));
    }

    #[test]
    fn corrupt_image_is_refused() {
        for at in [HEADER_LEN, HEADER_LEN + 1000, IMAGE_LEN - 1] {
            let mut image = valid_image();
            image[at] ^= 0x01;
            let err = open_bytes(&image).unwrap_err();
            assert!(matches!(err, ImageError::Corrupt { .. }), "{at}: {err}");
        }
    }

    #[test]
    fn foreign_file_is_refused() {
        let mut image = valid_image();
        image[0] = b'X';
        let err = open_bytes(&image).unwrap_err();
        assert!(matches!(err, ImageError::NotAnImage { .. }), "{err}");
    }

    #[test]
    fn other_version_is_refused_with_a_clear_error() {
        let mut image = valid_image();
        image[8..10].copy_from_slice(&2u16.to_be_bytes());
        let err = open_bytes(&image).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::UnsupportedVersion {
                    found: 2,
                    expected: FORMAT_VERSION,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("format version 2"), "{err}");
    }

    #[test]
    fn other_nvm_size_is_refused() {
        let image = encode(&vec![0xFF; 1024]);
        let err = open_bytes(&image).unwrap_err();
        assert!(
            matches!(err, ImageError::WrongNvmSize { found: 1024, .. }),
            "{err}"
        );
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = FileNvm::open(image_path(&dir)).unwrap_err();
        assert!(matches!(err, ImageError::Io { .. }), "{err}");
    }
}
