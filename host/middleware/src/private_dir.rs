//! Directories that hold keys or personal data (the national root, a counter credential, the
//! JPKI CA, the counter's records): owner-only, 0700.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

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
}
