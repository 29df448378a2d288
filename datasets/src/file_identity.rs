//! What identifies an imported file: its path, size, modification time and a checksum
//! of its bytes, computed while the import reads it (no extra pass). Kept in the
//! sidecar's list of imports, so that a rerun of an import that already completed is
//! refused instead of duplicating the file's rows.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The identity of an imported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    /// The path the file was imported from, as given.
    pub path: PathBuf,
    /// Its size, bytes (as read).
    pub bytes: u64,
    /// Its modification time, ms since the Unix epoch (when the file system gives one).
    pub modified_ms: Option<i64>,
    /// CRC-32C of its bytes (as read).
    pub crc32c: u32,
}

impl FileIdentity {
    /// Whether `other` is the same content: the same size and checksum (the path and
    /// time may differ: a copy of a file is the same rows).
    pub fn same_content(&self, other: &FileIdentity) -> bool {
        self.bytes == other.bytes && self.crc32c == other.crc32c
    }
}

/// A reader that checksums and counts the bytes read through it.
#[derive(Debug)]
pub(crate) struct HashingReader<R> {
    inner: R,
    crc: u32,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Checksum what is read from `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            crc: 0,
            bytes: 0,
        }
    }

    /// The identity of `path`, whose bytes were all read through this reader.
    pub fn identity(&self, path: &Path) -> FileIdentity {
        let modified_ms = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_millis()).ok());
        FileIdentity {
            path: path.to_owned(),
            bytes: self.bytes,
            modified_ms,
            crc32c: self.crc,
        }
    }
}

/// The identity of the file at `path`, read whole once.
pub(crate) fn identify(path: &Path) -> std::io::Result<FileIdentity> {
    let mut r = HashingReader::new(std::fs::File::open(path)?);
    std::io::copy(&mut r, &mut std::io::sink())?;
    Ok(r.identity(path))
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_of_every_byte_read_in_any_chunks() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let mut r = HashingReader::new(&data[..]);
        let mut buf = [0u8; 333];
        while r.read(&mut buf).unwrap() > 0 {}
        assert_eq!((r.bytes, r.crc), (10_000, crc32c::crc32c(&data)));
    }
}
