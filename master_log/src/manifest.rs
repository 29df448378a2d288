//! The partition manifest: what a partition held when it last changed shape, so that
//! a segment that goes missing or shrinks is noticed at open instead of silently taken
//! for a shorter log.
//!
//! ```text
//!  partition dir/partition.manifest
//!    lk-partition-manifest 1 crc32c=0a1b2c3d          ← version, CRC32C of line 2
//!    {"start":0,"closed":[{"base":0,"next":5210,"bytes":1048230}, …],
//!     "active":5210,"end":5311,"lost":[{"first":17,"end":20,"reason":"…"}]}
//! ```
//!
//! - `start`: the partition's earliest offset;
//! - `closed`: each closed segment's base offset, the offset after its last record
//!   (`next`) and its log file's size in bytes;
//! - `active`: the base offset of the active segment;
//! - `end`: a lower bound of the partition's latest offset — every offset below it was
//!   appended before the manifest was written (at a roll, at a clean close or flush, at a
//!   retention or compaction run, at a repair);
//! - `lost`: the offset ranges lost to damage (half-open, `first..end`), kept until
//!   retention deletes past them.
//!
//! It is replaced whole with [`write_atomic`] (`Durability::Synced`). A partition that
//! never rolled, never closed after an append and never was repaired has none: that is
//! a partition with nothing to check against, never an error.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::{Durability, write_atomic};
use crate::error::{IoContext, Result};

/// The manifest's file name in a partition directory.
pub(crate) const MANIFEST_FILE: &str = "partition.manifest";
const MAGIC: &str = "lk-partition-manifest";
const VERSION: u32 = 1;

/// One closed segment as the manifest records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClosedEntry {
    pub base: u64,
    pub next: u64,
    pub bytes: u64,
}

/// A range of offsets lost to damage, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LostEntry {
    pub first: u64,
    pub end: u64,
    pub reason: String,
}

/// The content of a partition manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    pub start: u64,
    pub closed: Vec<ClosedEntry>,
    pub active: u64,
    pub end: u64,
    #[serde(default)]
    pub lost: Vec<LostEntry>,
}

/// The manifest's path in the partition directory `dir`.
pub(crate) fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST_FILE)
}

impl Manifest {
    /// The manifest of the partition in `dir`: `Ok(None)` when there is none, `Err` with
    /// the reason when it is damaged (checksum, framing or content).
    pub fn read(dir: &Path) -> Result<Result<Option<Manifest>, String>> {
        let path = manifest_path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(None)),
            Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
        };
        Ok(Self::decode(&bytes).map(Some))
    }

    /// Parse a manifest file's bytes; `Err` says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
        let (head, body) = text
            .split_once('\n')
            .ok_or_else(|| "no header line".to_string())?;
        let body = body
            .strip_suffix('\n')
            .ok_or_else(|| "truncated (no final newline)".to_string())?;
        let mut words = head.split(' ');
        let (magic, version, crc) = (words.next(), words.next(), words.next());
        if magic != Some(MAGIC) || words.next().is_some() {
            return Err("not a partition manifest".into());
        }
        if version != Some("1") {
            return Err(format!("unknown manifest version {version:?}"));
        }
        let crc = crc
            .and_then(|c| c.strip_prefix("crc32c="))
            .and_then(|c| {
                u32::from_str_radix(c, 16)
                    .ok()
                    .filter(|v| format!("{v:08x}") == c)
            })
            .ok_or_else(|| "bad checksum field".to_string())?;
        if crc32c::crc32c(body.as_bytes()) != crc {
            return Err("checksum mismatch".into());
        }
        let m: Manifest = serde_json::from_str(body).map_err(|e| e.to_string())?;
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), String> {
        let mut prev = self.start;
        for c in &self.closed {
            if c.base < prev || c.next < c.base {
                return Err(format!("closed segment {} is out of order", c.base));
            }
            prev = c.next.max(c.base);
        }
        if self.active < prev || self.end < self.active {
            return Err("active segment or end out of order".into());
        }
        if self.lost.iter().any(|l| l.end <= l.first) {
            return Err("empty lost range".into());
        }
        Ok(())
    }

    /// The file's bytes: header line with the checksum, then the JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let body = serde_json::to_string(self).expect("a manifest serializes");
        let crc = crc32c::crc32c(body.as_bytes());
        format!("{MAGIC} {VERSION} crc32c={crc:08x}\n{body}\n").into_bytes()
    }

    /// Replace the manifest of the partition in `dir` (`Durability::Synced`: fsynced,
    /// directory fsynced after the rename — it is what damage is judged against).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = manifest_path(dir);
        write_atomic(&path, &self.encode(), Durability::Synced)
            .ctx(|| format!("write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            start: 0,
            closed: vec![ClosedEntry {
                base: 0,
                next: 10,
                bytes: 400,
            }],
            active: 10,
            end: 12,
            lost: vec![LostEntry {
                first: 3,
                end: 5,
                reason: "CRC32C mismatch".into(),
            }],
        }
    }

    #[test]
    fn round_trips_and_every_flipped_byte_is_caught() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(Manifest::decode(&bytes).unwrap(), m);
        for i in 0..bytes.len() {
            for bit in [0x01, 0x20, 0x80] {
                let mut copy = bytes.clone();
                copy[i] ^= bit;
                assert!(Manifest::decode(&copy).is_err(), "byte {i} ^ {bit:#x}");
            }
        }
        for cut in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn inconsistent_content_is_refused() {
        let mut m = sample();
        m.active = 5;
        assert!(Manifest::decode(&m.encode()).is_err());
    }
}
