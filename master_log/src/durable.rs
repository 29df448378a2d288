//! Replacing a whole file atomically: the one helper every crate of the project uses to
//! write a file that readers may open at any moment (views, tables, metadata, sidecars,
//! indexes).
//!
//! [`write_atomic`] writes the bytes to a temporary file beside the target
//! (`.<name>.tmp`, in the same directory, so the rename never crosses file systems) and
//! renames it over the target. A reader that opens the path sees the old file or the new
//! one, whole, never a mix, whatever happens to the writing process. What survives a
//! *machine* crash (power cut, kernel panic) depends on the [`Durability`] asked for.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a finished [`write_atomic`] guarantees beyond atomicity for readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The file's bytes are fsynced before the rename and the directory after it: once
    /// the call returns, the new file survives a power cut or a kernel crash.
    Synced,
    /// No fsync: the new file survives a crash of the process (it is in the page cache),
    /// but after a power cut or kernel crash the path may still show the old file, or
    /// (on file systems that commit the rename before the data) an empty one. For files
    /// that are derived and rebuilt when found damaged or missing.
    Unsynced,
}

/// The temporary file [`write_atomic`] writes before renaming it to `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Replace `path` by a file holding `bytes`, atomically for readers (see the module
/// docs), with the given durability. The parent directory must exist. A leftover
/// temporary file of an interrupted earlier call is overwritten. An error names no path:
/// the caller adds which file it was writing.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    if durability == Durability::Synced {
        f.sync_all()?;
    }
    drop(f);
    fs::rename(&tmp, path)?;
    if durability == Durability::Synced {
        sync_parent(path)?;
    }
    Ok(())
}

/// Fsync the directory that holds `path`, so that a rename or a new file in it survives
/// a power cut.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => sync_dir(dir),
        None => sync_dir(Path::new(".")),
    }
}

/// Fsync a directory (its entries: names created, renamed or removed in it).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("view");
        for (bytes, d) in [
            (&b"first"[..], Durability::Synced),
            (b"2", Durability::Unsynced),
        ] {
            write_atomic(&path, bytes, d).unwrap();
            assert_eq!(fs::read(&path).unwrap(), bytes);
            assert!(!temp_path(&path).exists());
        }
        // A temporary left by an interrupted write does not stop the next one.
        fs::write(temp_path(&path), b"torn").unwrap();
        write_atomic(&path, b"third", Durability::Synced).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"third");
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn a_missing_directory_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("view");
        assert!(write_atomic(&path, b"x", Durability::Synced).is_err());
        assert!(!path.exists());
    }
}
