//! The saved realtime view's file ([`crate::SpeedLayer::save`]): its format, checked.
//!
//! ```text
//!   format 2:  "LKRTVIEW" | format u32 LE (2) | length u64 LE | crc32c u32 LE | postcard SavedView
//!   format 1:  postcard SavedView (its first field the magic "LKRV"), no checksum
//! ```
//!
//! A format-2 file is read only if it is exactly as long as its header says and its
//! payload passes its CRC32C: a flipped byte, a file cut short or zero-filled is damage,
//! never a view. A format-1 file (written before) is still read, without a checksum.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Generation, Result, SpeedError, State, le};

/// The magic of a saved view's payload (its first field, in both formats).
pub(crate) const SAVE_MAGIC: u32 = 0x4c4b_5256; // "LKRV"
/// The magic that opens a file of format 2.
const FILE_MAGIC: &[u8; 8] = b"LKRTVIEW";
/// The current format.
const FORMAT: u32 = 2;
/// Magic, format, length and CRC.
const HEADER: usize = 8 + 4 + 8 + 4;

/// What a saved view holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedView {
    pub magic: u32,
    pub topic: String,
    pub workload: String,
    pub generations: Vec<Generation>,
    pub positions: Vec<u64>,
}

/// The bytes of a file of the current format holding `saved`.
pub(crate) fn encode(saved: &SavedView) -> Result<Vec<u8>, String> {
    let payload = postcard::to_stdvec(saved).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(FILE_MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// The view a file holds (format 2, checked; or format 1); `Err` with what is wrong.
pub(crate) fn decode(bytes: &[u8]) -> Result<SavedView, String> {
    let payload = match bytes.strip_prefix(FILE_MAGIC.as_slice()) {
        Some(rest) => checked_payload(rest)?,
        // Format 1: the postcard payload alone.
        None => bytes,
    };
    let saved: SavedView = postcard::from_bytes(payload).map_err(|e| e.to_string())?;
    if saved.magic != SAVE_MAGIC {
        return Err("not a realtime view file".into());
    }
    Ok(saved)
}

/// The payload of a format-2 file after its magic: the format, length and CRC checked.
fn checked_payload(rest: &[u8]) -> Result<&[u8], String> {
    if rest.len() < HEADER - FILE_MAGIC.len() {
        return Err(format!(
            "cut short: {} bytes",
            rest.len() + FILE_MAGIC.len()
        ));
    }
    let (format, rest) = rest.split_at(4);
    let (len, rest) = rest.split_at(8);
    let (crc, payload) = rest.split_at(4);
    let format = u32::from_le_bytes([format[0], format[1], format[2], format[3]]);
    if format != FORMAT {
        return Err(format!("format {format}, expected {FORMAT}"));
    }
    let len = u64::from_le_bytes(len.try_into().map_err(|_| "length".to_owned())?);
    if payload.len() as u64 != len {
        return Err(format!(
            "{} bytes of view, its header says {len} (cut short or damaged)",
            payload.len()
        ));
    }
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(payload) != crc {
        return Err("fails its checksum (CRC32C)".into());
    }
    Ok(payload)
}

impl State {
    /// The view saved in `path` (checked: see the `saved` module). Damage is
    /// [`SpeedError::BadSave`].
    pub(crate) fn read(path: &Path) -> Result<State> {
        let bytes = std::fs::read(path).map_err(|e| SpeedError::Io {
            context: format!("read {}", path.display()),
            source: e,
        })?;
        let bad = |reason: String| SpeedError::BadSave {
            path: path.to_path_buf(),
            reason,
        };
        let saved = decode(&bytes).map_err(bad)?;
        if saved.generations.is_empty()
            || saved
                .generations
                .iter()
                .any(|g| g.from.len() != saved.positions.len())
        {
            return Err(bad("inconsistent generations and positions".into()));
        }
        Ok(State {
            caught_up: vec![false; saved.positions.len()],
            generations: saved.generations,
            positions: saved.positions,
        })
    }

    /// Drop what the published horizon `h` covers; start over at `h` when the view
    /// cannot be merged with that batch view.
    pub(crate) fn apply_published(&mut self, h: &[u64], path: &Path) -> Result<()> {
        if h.len() != self.positions.len() {
            return Err(SpeedError::BadSave {
                path: path.to_path_buf(),
                reason: format!(
                    "saved for {} partitions, the published horizon has {}",
                    self.positions.len(),
                    h.len()
                ),
            });
        }
        // A published horizon beyond the saved positions, below the saved base (the
        // view would miss [published, base)) or cutting through a generation: the
        // saved view cannot be merged with that batch view.
        let beyond = h.iter().zip(&self.positions).any(|(h, p)| h > p);
        let below_base = !le(&self.generations[0].from, h);
        if beyond || below_base || self.expire(h).is_err() {
            self.reset(h.to_vec());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> SavedView {
        SavedView {
            magic: SAVE_MAGIC,
            topic: "t".into(),
            workload: "w".into(),
            generations: vec![Generation {
                from: vec![1, 2],
                table: workloads::PartialTable::new(),
            }],
            positions: vec![3, 4],
        }
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_damage() {
        let bytes = encode(&view()).unwrap();
        assert_eq!(decode(&bytes).unwrap().positions, vec![3, 4]);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "byte {i}");
        }
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "cut at {len}");
        }
        assert!(decode(&vec![0; bytes.len()]).is_err());
    }

    #[test]
    fn a_file_of_format_1_is_still_read() {
        let old = postcard::to_stdvec(&view()).unwrap();
        assert_eq!(decode(&old).unwrap().generations[0].from, vec![1, 2]);
    }
}
