//! Directories and files that hold keys or personal data (the national root, a counter
//! credential, the JPKI CA, the counter's records): directories owner-only (0700), files
//! owner-only (0600), created anew (`O_CREAT | O_EXCL | O_NOFOLLOW`: never over an existing
//! file, never through a symlink planted at the name). Every such directory and file on the host
//! is made here. (The simulator's card image, `juki_reader_sim::image`, does the same on its
//! own: the middleware links the simulator, not the other way round.)

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of a private file.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a file anyone may read (certificates, public keys).
pub const PUBLIC_FILE_MODE: u32 = 0o644;

/// Makes `dir` a private directory: creates it (and its missing parents) with mode 0700, or,
/// when it exists with any permission for the group or others, tightens it to 0700 (the files
/// in it are 0600 already, but a directory others may enter lists them, and one they may write
/// lets them replace them). A directory that cannot be tightened (not ours) is an error.
pub fn create(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn new_file_options(mode: u32) -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW);
    options
}

fn write_new_with_mode(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut f = new_file_options(mode).open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Writes `contents` to a new file at `path`, readable by its owner only (0600), and syncs it.
/// Refuses an existing file or symlink at `path` (`AlreadyExists`).
pub fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_new_with_mode(path, contents, FILE_MODE)
}

/// Like [`write_new`], for a file anyone may read (0644: a certificate, a public key).
pub fn write_new_public(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_new_with_mode(path, contents, PUBLIC_FILE_MODE)
}

/// Replaces the private file at `path` (or creates it) with `contents`, atomically: written to
/// a new 0600 file beside it, synced, then renamed over it — a crash leaves the old contents
/// or the new, never a mix.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut fresh = path.as_os_str().to_owned();
    fresh.push(".new");
    let fresh = Path::new(&fresh);
    // A leftover of a crash between write and rename.
    match fs::remove_file(fresh) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    write_new(fresh, contents)?;
    fs::rename(fresh, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Opens the private file at `path` for reading and writing, creating it with mode 0600 if it
/// does not exist, or tightening it to 0600 if it exists open to the group or others. Never
/// through a symlink (`O_NOFOLLOW`). For files another library then opens by name (a SQLite
/// database): it exists, private, before the library sees it.
pub fn open_or_create(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_are_created_or_tightened_to_owner_only() {
        let base = tempfile::tempdir().unwrap();
        let fresh = base.path().join("a/b");
        create(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&base.path().join("a")), 0o700, "parents too");
        let open = base.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        create(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
    }

    #[test]
    fn files_are_new_owner_only_and_never_through_a_symlink() {
        let base = tempfile::tempdir().unwrap();
        let key = base.path().join("a.key");
        write_new(&key, b"secret").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert_eq!(fs::read(&key).unwrap(), b"secret");
        let err = write_new(&key, b"other").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&key).unwrap(), b"secret", "never overwritten");
        let public = base.path().join("a.pem");
        write_new_public(&public, b"cert").unwrap();
        assert_eq!(mode(&public), 0o644);

        // A symlink planted at the name: refused, its target untouched (not even created).
        let target = base.path().join("target");
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_new(&link, b"x").is_err());
        assert!(open_or_create(&link).is_err());
        assert!(!target.exists());

        // open_or_create: created 0600, or an existing file tightened, content kept.
        let db = base.path().join("x.db");
        drop(open_or_create(&db).unwrap());
        assert_eq!(mode(&db), 0o600);
        fs::write(&db, b"data").unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_or_create(&db).unwrap());
        assert_eq!(mode(&db), 0o600);
        assert_eq!(fs::read(&db).unwrap(), b"data");
    }

    #[test]
    fn replace_is_atomic_owner_only_and_leaves_a_symlinks_target_alone() {
        let base = tempfile::tempdir().unwrap();
        let state = base.path().join("state.json");
        replace(&state, b"one").unwrap();
        assert_eq!(mode(&state), 0o600);
        fs::set_permissions(&state, fs::Permissions::from_mode(0o644)).unwrap();
        // A crash's leftover beside it is no obstacle.
        fs::write(base.path().join("state.json.new"), b"half").unwrap();
        replace(&state, b"two").unwrap();
        assert_eq!(fs::read(&state).unwrap(), b"two");
        assert_eq!(mode(&state), 0o600, "the new file is private again");
        assert!(!base.path().join("state.json.new").exists());
        // A symlink planted at the name is replaced, its target never written.
        let target = base.path().join("target");
        fs::write(&target, b"theirs").unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        replace(&link, b"mine").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"theirs");
        assert!(!fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
