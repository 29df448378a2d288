//! A part file kept open between the deltas its writer appends ([`append_delta_kept`]):
//! one `fstat` and one `write` per delta, without the `open` of its path (a walk of
//! every directory in it), the read of its header and the `close` that
//! [`super::append_delta_frame`] makes each time.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use super::{check_name, open_appendable, part_path};
use crate::error::{Result, io_err};

/// Append `frame`, a delta, as [`super::append_delta_frame`] does, through `kept`: the part
/// file as this writer last appended to it, opened (its header checked) when `None`,
/// and kept open for the next delta (one `write`, no `open` of its path). A kept file
/// that is no longer linked (its version deleted, or the file replaced by a new one) is
/// opened again by its path. The writer drops `kept` when it writes a whole snapshot.
pub(crate) fn append_delta_kept(
    root: &Path,
    (workload, version, partition): (&str, u32, u32),
    kept: &mut Option<fs::File>,
    frame: &[u8],
    sync: bool,
) -> Result<Option<u64>> {
    check_name(workload)?;
    let path = part_path(root, workload, version, partition);
    if let Some(f) = kept {
        let linked = f
            .metadata()
            .map_err(io_err(format!("stat {}", path.display())))?
            .nlink()
            > 0;
        if !linked {
            *kept = None;
        }
    }
    let f = match kept {
        Some(f) => f,
        None => match open_appendable(&path, frame, u64::MAX)? {
            Some(f) => kept.insert(f),
            None => return Ok(None),
        },
    };
    let written = f
        .write_all(frame)
        .and_then(|()| if sync { f.sync_data() } else { Ok(()) });
    if let Err(e) = written {
        *kept = None;
        return Err(io_err(format!("append to {}", path.display()))(e));
    }
    Ok(Some(frame.len() as u64))
}
