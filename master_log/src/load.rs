//! Loading a partition from its files without changing them: how a process opens a
//! partition another process is writing, follows what it writes, and how any opener
//! learns whether the partition needs recovery at all.
//!
//! A partition whose last writer closed it cleanly has a manifest that agrees with its
//! segment files and index files for its active segment; loading it reads the index
//! files and the few batches after their last entry — not the whole active segment
//! (Kafka skips log recovery after a clean shutdown the same way). Everything else —
//! a tail that is incomplete or fails its checks, a damaged manifest, a segment that is
//! missing, shorter than recorded or has damaged indexes, leftovers of an interrupted
//! write — is reported in [`Loaded::needs_recovery`], for the partition's writer to
//! repair (see `recover`). A reader uses what is sound: the complete, checked batches.
//!
//! Damage inside what the index files cover is not looked for here: every read checks
//! the CRC32C of each batch it returns, and reports a failing one as lost offsets (with
//! file and position), and `verify` checks every byte.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use crate::config::TopicConfig;
use crate::error::{IoContext, LogError, Result};
use crate::lost::LostRange;
use crate::manifest::{Manifest, manifest_path};
use crate::quarantine::{self, EntryKind};
use crate::recover::normalize;
use crate::scan::scan_file;
use crate::segment::{Segment, parse_segment_name, segment_file};

/// What identifies one version of a file: a replaced file has a new inode, a written
/// one a new length or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    pub ino: u64,
    pub len: u64,
    pub mtime_ns: i128,
}

/// The identity of the file at `path`, `None` when there is none.
pub(crate) fn file_id(path: &Path) -> Result<Option<FileId>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(FileId {
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).ctx(|| format!("stat {}", path.display())),
    }
}

/// A partition as its files show it.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// Its segments, sorted, the last one active; never empty.
    pub segments: Vec<Segment>,
    /// The lost ranges its manifest records.
    pub lost: Vec<LostRange>,
    /// The manifest's identity when it was read.
    pub manifest_id: Option<FileId>,
    /// The active segment file's length when it was read (the segment may hold less:
    /// an incomplete batch at its end).
    pub active_len: u64,
    /// What a writer must repair before appending, if anything (the first thing found).
    pub needs_recovery: Option<String>,
}

/// Load the partition in `dir` from its files, changing nothing. Segments of `reuse`
/// (a previous load of the same files) whose file is still the same are taken from it
/// and kept, with what was appended to them since read and indexed, instead of being
/// opened again; on an error they are all given back in `reuse`.
pub(crate) fn load(dir: &Path, config: &TopicConfig, reuse: &mut Vec<Segment>) -> Result<Loaded> {
    let mut segments = Vec::new();
    let loaded = load_into(dir, config, reuse, &mut segments);
    if loaded.is_err() {
        reuse.append(&mut segments);
        reuse.sort_by_key(|s| s.base_offset);
    }
    loaded
}

fn load_into(
    dir: &Path,
    config: &TopicConfig,
    reuse: &mut Vec<Segment>,
    segments: &mut Vec<Segment>,
) -> Result<Loaded> {
    let mut needs = Needs(None);
    let manifest_id = file_id(&manifest_path(dir))?;
    let manifest = match Manifest::read(dir)? {
        Ok(m) => m,
        Err(reason) => {
            needs.note(format!("partition manifest: {reason}"));
            None
        }
    };
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
        let entry = entry.ctx(|| format!("list {}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".tmp") || name.ends_with(".cleaned") {
            needs.note(format!("{name} left by an interrupted write"));
        } else if let Some(base) = parse_segment_name(&name) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    if let Some(m) = &manifest {
        let listed: BTreeSet<u64> = m.closed.iter().map(|c| c.base).collect();
        bases.retain(|&b| {
            let leftover = b < m.start || (b < m.active && !listed.contains(&b));
            if leftover {
                needs.note(format!("segment {b} is no longer in the manifest"));
            }
            !leftover
        });
        if let Some(c) = m.closed.iter().find(|c| !bases.contains(&c.base)) {
            needs.note(format!("closed segment {} is missing", c.base));
        }
    }
    let Some(&active_base) = bases.last() else {
        return Err(LogError::Corrupt {
            file: dir.to_path_buf(),
            position: 0,
            reason: "no segment file (the partition needs recovery by its writer)".into(),
        });
    };
    if manifest.as_ref().is_some_and(|m| active_base < m.active) {
        needs.note("the active segment file is missing".into());
    }
    let mut active_len = 0;
    for &base in &bases {
        let active = base == active_base;
        let path = segment_file(dir, base, "log");
        let id = file_id(&path)?.ok_or_else(|| LogError::Io {
            context: format!("open segment {}", path.display()),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        let kept = reuse
            .iter()
            .position(|s| s.base_offset == base && s.ino == id.ino)
            .map(|i| reuse.swap_remove(i));
        let seg = match kept {
            Some(mut seg) => {
                if let Some(e) = seg.catch_up(id.len, config.index_interval_bytes) {
                    needs.note(format!(
                        "{} at byte {}: {}",
                        path.display(),
                        e.position,
                        e.reason
                    ));
                }
                seg
            }
            None if active => open_active(dir, base, config, &mut needs)?,
            None => open_closed(dir, base, config, &mut needs)?,
        };
        if let Some(e) = manifest
            .as_ref()
            .and_then(|m| m.closed.iter().find(|c| c.base == base))
            .filter(|e| e.bytes != seg.size || e.next != seg.next_offset)
        {
            needs.note(format!(
                "{} holds {} bytes to offset {} where {} bytes to offset {} were recorded",
                path.display(),
                seg.size,
                seg.next_offset,
                e.bytes,
                e.next
            ));
        }
        if active {
            active_len = id.len;
        }
        segments.push(seg);
    }
    let active = segments.last().expect("one segment at least");
    if let Some(m) = &manifest
        && active.next_offset < m.end
        && active.base_offset < m.end
    {
        needs.note(format!(
            "the active segment ends at offset {} where {} was recorded",
            active.next_offset, m.end
        ));
    }
    let lost: Vec<LostRange> = manifest.as_ref().map_or_else(Vec::new, |m| {
        m.lost
            .iter()
            .map(|l| LostRange {
                first: l.first,
                end: l.end,
                reason: l.reason.clone(),
            })
            .collect()
    });
    if !config.compact {
        for pair in segments.windows(2) {
            let (first, end) = (pair[0].next_offset, pair[1].base_offset);
            if first < end && !lost.iter().any(|l| l.first <= first && l.end >= end) {
                needs.note(format!(
                    "offsets {first}..{end} are missing between segments"
                ));
            }
        }
    }
    if manifest.is_none() && needs.0.is_none() {
        if segments.len() > 1 {
            needs.note("partition manifest missing".into());
        } else if quarantine::read(dir)?
            .is_some_and(|q| q.entries.iter().any(|e| e.kind == EntryKind::Lost))
        {
            needs.note("lost ranges recorded in the quarantine file only".into());
        }
    }
    Ok(Loaded {
        segments: std::mem::take(segments),
        lost: normalize(lost),
        manifest_id,
        active_len,
        needs_recovery: needs.0,
    })
}

/// The first thing found that a writer must repair.
struct Needs(Option<String>);

impl Needs {
    fn note(&mut self, why: String) {
        self.0.get_or_insert(why);
    }
}

/// The active segment: from its index files when they serve, else from a scan (its
/// batches up to the first damage).
fn open_active(dir: &Path, base: u64, config: &TopicConfig, needs: &mut Needs) -> Result<Segment> {
    let interval = config.index_interval_bytes;
    let path = segment_file(dir, base, "log");
    let (file, len, _why) = match Segment::open_active(dir, base, interval)? {
        Ok((seg, _, None)) => return Ok(seg),
        Ok((seg, _, Some(e))) => {
            needs.note(format!(
                "{} at byte {}: {}",
                path.display(),
                e.position,
                e.reason
            ));
            return Ok(seg);
        }
        Err(failed) => failed,
    };
    // No index written since appends (a writer that has not closed yet, or crashed):
    // the file is scanned, as recovery would.
    Ok(from_scan(dir, base, file, len, interval, needs))
}

/// A closed segment: from its index files, or when they do not serve, from a scan.
fn open_closed(dir: &Path, base: u64, config: &TopicConfig, needs: &mut Needs) -> Result<Segment> {
    match Segment::open_closed(dir, base)? {
        Ok(seg) => Ok(seg),
        Err((file, len, why)) => {
            needs.note(format!(
                "{}: {why}",
                segment_file(dir, base, "index").display()
            ));
            Ok(from_scan(
                dir,
                base,
                file,
                len,
                config.index_interval_bytes,
                needs,
            ))
        }
    }
}

/// The segment of the valid batches of a scan of `file`, up to the first damage.
fn from_scan(
    dir: &Path,
    base: u64,
    file: Arc<File>,
    len: u64,
    interval: u64,
    needs: &mut Needs,
) -> Segment {
    let scan = scan_file(&file, len, base);
    let (batches, size) = match scan.damaged.first() {
        Some(d) => {
            needs.note(format!(
                "{} at byte {}: {}",
                segment_file(dir, base, "log").display(),
                d.position,
                d.reason
            ));
            let kept: Vec<_> = scan
                .batches
                .iter()
                .copied()
                .take_while(|b| b.position < d.position)
                .collect();
            (kept, d.position)
        }
        None => (scan.batches, len),
    };
    Segment::from_batches(dir, base, file, size, &batches, interval)
}
