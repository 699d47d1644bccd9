//! Reading and writing the files named on the command line.

use std::path::{Path, PathBuf};

use juki_host::Error;

use crate::failure::Result;

/// Writes `data` to `path`.
pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e).into())
}

/// Reads the whole of `path`.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e).into())
}

/// `path` with `suffix` appended to its name (`doc.pdf` → `doc.pdf.p7s`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}
