//! The quarantine file: damaged bytes that recovery cut out of a segment, kept aside
//! with what they were, so that nothing the log once held is thrown away unseen.
//!
//! One file per partition, `quarantine.lkq`, appended to only (fsynced after each
//! entry). All integers little-endian:
//!
//! ```text
//!  file   = "LKQUAR" 0x00 0x01              magic, format version 1
//!           entry*
//!  entry  = len      u64                    bytes of `body`
//!           crc32c   u32                    CRC32C of `body`
//!           body:
//!             kind        u8               1 = offsets lost, 2 = torn tail (cut: its
//!                                           offsets were never kept, and are reused)
//!             segment     u64              base offset of the segment the bytes were in
//!             position    u64              where they started in its log file
//!             first       u64              the offsets lost, `first..end` (half-open;
//!             end         u64                empty for a torn tail)
//!             time        i64              when they were quarantined (ms since epoch)
//!             reason_len  u16, reason      what was wrong, UTF-8
//!             data                         the damaged bytes (the rest of the body;
//!                                           none when the segment file was missing)
//! ```
//!
//! A reader steps over an entry whose CRC fails (by its length) and reports where it
//! is; it stops at an entry whose length runs past the end of the file (an append that
//! did not finish, cut before the next append).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::durable::sync_dir;
use crate::error::{IoContext, Result};

/// The quarantine file's name in a partition directory.
pub(crate) const QUARANTINE_FILE: &str = "quarantine.lkq";
const MAGIC: &[u8; 8] = b"LKQUAR\x00\x01";
/// Bytes of a body before the reason.
const FIXED: usize = 1 + 8 * 4 + 8 + 2;

/// What a quarantine entry stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// Offsets `first..end` were lost: readers get `LogError::LostOffsets` for them.
    Lost = 1,
    /// A torn tail of an active segment, cut: the offsets were never kept.
    TornTail = 2,
}

/// One entry of a quarantine file (its data stays in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub kind: EntryKind,
    pub segment: u64,
    pub position: u64,
    pub first: u64,
    pub end: u64,
    pub time_ms: i64,
    pub reason: String,
    /// Bytes of damaged data kept.
    pub data_len: u64,
    /// Where the data starts in the quarantine file.
    pub data_at: u64,
}

/// The entries of a quarantine file, and where it is damaged if it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Contents {
    pub entries: Vec<Entry>,
    /// Byte position and reason of each damaged entry. An entry whose CRC fails is
    /// stepped over by its length; the file is read no further after one whose length
    /// runs past its end.
    pub damage: Vec<(u64, String)>,
    /// Where an incomplete last entry starts (an append that did not finish).
    pub torn_at: Option<u64>,
}

/// The quarantine file's path in the partition directory `dir`.
pub(crate) fn quarantine_path(dir: &Path) -> PathBuf {
    dir.join(QUARANTINE_FILE)
}

/// Read and check the quarantine file of the partition in `dir` (`None` when there is
/// none).
pub(crate) fn read(dir: &Path) -> Result<Option<Contents>> {
    let path = quarantine_path(dir);
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(mut f) => f
            .read_to_end(&mut bytes)
            .ctx(|| format!("read {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx(|| format!("open {}", path.display())),
    };
    Ok(Some(decode(&bytes)))
}

/// Parse the bytes of a quarantine file.
pub(crate) fn decode(bytes: &[u8]) -> Contents {
    let mut out = Contents::default();
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        out.damage
            .push((0, "not a quarantine file (bad magic)".into()));
        return out;
    }
    let mut pos = MAGIC.len();
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let len = rest
            .get(..8)
            .map(|l| u64::from_le_bytes(l.try_into().unwrap()));
        let body = len.and_then(|len| {
            let l = usize::try_from(len).ok()?;
            rest.get(12..12usize.checked_add(l)?)
        });
        let Some(body) = body else {
            out.damage.push((
                pos as u64,
                "incomplete entry (runs past the end of the file)".into(),
            ));
            out.torn_at = Some(pos as u64);
            break;
        };
        let crc = u32::from_le_bytes(rest[8..12].try_into().unwrap());
        let entry = if crc32c::crc32c(body) == crc {
            decode_body(body, pos + 12)
        } else {
            Err("CRC32C mismatch".into())
        };
        match entry {
            Ok(e) => out.entries.push(e),
            Err(reason) => out.damage.push((pos as u64, reason)),
        }
        pos += 12 + body.len();
    }
    out
}

/// The entry whose CRC-checked body is `body`, starting at `body_at` in the file.
fn decode_body(body: &[u8], body_at: usize) -> Result<Entry, String> {
    if body.len() < FIXED {
        return Err("entry too short".into());
    }
    let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().unwrap());
    let kind = match body[0] {
        1 => EntryKind::Lost,
        2 => EntryKind::TornTail,
        k => return Err(format!("unknown entry kind {k}")),
    };
    let reason_len = u16::from_le_bytes(body[FIXED - 2..FIXED].try_into().unwrap()) as usize;
    let reason = body
        .get(FIXED..FIXED + reason_len)
        .and_then(|r| std::str::from_utf8(r).ok())
        .ok_or_else(|| "bad reason".to_string())?;
    let data_start = FIXED + reason_len;
    Ok(Entry {
        kind,
        segment: u64_at(1),
        position: u64_at(9),
        first: u64_at(17),
        end: u64_at(25),
        time_ms: u64_at(33) as i64,
        reason: reason.to_owned(),
        data_len: (body.len() - data_start) as u64,
        data_at: (body_at + data_start) as u64,
    })
}

/// The bytes of one entry whose data is `data`.
fn encode_entry(e: &Entry, data: &[u8]) -> Vec<u8> {
    let reason = &e.reason.as_bytes()[..e.reason.len().min(u16::MAX as usize)];
    let mut body = Vec::with_capacity(FIXED + reason.len() + data.len());
    body.push(e.kind as u8);
    for v in [e.segment, e.position, e.first, e.end, e.time_ms as u64] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(&(reason.len() as u16).to_le_bytes());
    body.extend_from_slice(reason);
    body.extend_from_slice(data);
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Append an entry holding `data` to the quarantine file of the partition in `dir`
/// (created when missing), fsynced before this returns — the caller cuts the bytes out
/// of their segment only after. An entry equal to one already there (same kind,
/// segment, position and offsets: a repair interrupted and done again) is not added
/// twice. An incomplete last entry (an interrupted append) is cut first;
/// nothing else of the file is ever cut.
pub(crate) fn append(dir: &Path, entry: &Entry, data: &[u8]) -> Result<()> {
    let path = quarantine_path(dir);
    let existing = read(dir)?;
    let same = |e: &Entry| {
        (e.kind, e.segment, e.position, e.first, e.end)
            == (
                entry.kind,
                entry.segment,
                entry.position,
                entry.first,
                entry.end,
            )
    };
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .ctx(|| format!("open {}", path.display()))?;
    let keep = match &existing {
        None => {
            f.write_all(MAGIC)
                .ctx(|| format!("write {}", path.display()))?;
            MAGIC.len() as u64
        }
        Some(c) if c.entries.iter().any(same) => return Ok(()),
        // Never write into a file that does not start as ours: its bytes stay as found.
        Some(c) if c.damage.first().is_some_and(|d| d.0 == 0) => return Ok(()),
        Some(c) => match c.torn_at {
            Some(at) => at,
            None => f
                .metadata()
                .ctx(|| format!("stat {}", path.display()))?
                .len(),
        },
    };
    f.set_len(keep)
        .ctx(|| format!("write {}", path.display()))?;
    let bytes = encode_entry(entry, data);
    use std::os::unix::fs::FileExt;
    f.write_all_at(&bytes, keep)
        .and_then(|()| f.sync_all())
        .ctx(|| format!("write {}", path.display()))?;
    if existing.is_none() {
        sync_dir(dir).ctx(|| format!("sync directory {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(first: u64) -> Entry {
        Entry {
            kind: EntryKind::Lost,
            segment: 100,
            position: 4096,
            first,
            end: first + 3,
            time_ms: 1_700_000_000_000,
            reason: "CRC32C mismatch".into(),
            data_len: 0,
            data_at: 0,
        }
    }

    #[test]
    fn appends_reads_back_and_never_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &entry(7), b"damaged").unwrap();
        append(dir.path(), &entry(7), b"damaged").unwrap();
        append(dir.path(), &entry(20), b"").unwrap();
        let c = read(dir.path()).unwrap().unwrap();
        assert!(c.damage.is_empty());
        assert_eq!(c.entries.len(), 2);
        let bytes = std::fs::read(quarantine_path(dir.path())).unwrap();
        let e = &c.entries[0];
        assert_eq!((e.first, e.end, e.data_len), (7, 10, 7));
        assert_eq!(
            &bytes[e.data_at as usize..(e.data_at + e.data_len) as usize],
            b"damaged"
        );
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &entry(7), b"damaged").unwrap();
        let bytes = std::fs::read(quarantine_path(dir.path())).unwrap();
        for i in 0..bytes.len() {
            let mut copy = bytes.clone();
            copy[i] ^= 0x10;
            assert!(!decode(&copy).damage.is_empty(), "byte {i}");
        }
        for cut in MAGIC.len() + 1..bytes.len() {
            let c = decode(&bytes[..cut]);
            assert!(!c.damage.is_empty() && c.entries.is_empty(), "cut at {cut}");
        }
    }

    #[test]
    fn an_interrupted_append_is_cut_before_the_next() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &entry(7), b"first").unwrap();
        let path = quarantine_path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        let good = bytes.len();
        bytes.extend_from_slice(&[9, 0, 0]);
        std::fs::write(&path, &bytes).unwrap();
        append(dir.path(), &entry(30), b"second").unwrap();
        let c = read(dir.path()).unwrap().unwrap();
        assert!(c.damage.is_empty());
        assert_eq!(c.entries.len(), 2);
        assert_eq!(c.entries[1].data_at as usize, good + 12 + FIXED + 15);
    }
}
