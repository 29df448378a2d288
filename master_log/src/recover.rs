//! Opening a partition: what recovery checks, what it repairs, and what it reports.
//!
//! Recovery keeps every intact record and never serves a shorter history as whole:
//!
//! - **The active segment** is scanned batch by batch (see `scan`). A batch that fails
//!   is cut out alone: the scan steps over the damage to the next valid batch, every
//!   batch after it is kept, and the offsets in between are *lost*. Damage at the very
//!   end, with no valid batch after it, is a write torn by a crash when it lies past what
//!   the partition manifest records as appended (`end`): it is cut and its offsets are
//!   written again by the next appends, as Kafka does. Below `end`, the offsets are lost
//!   and the log goes on after them (a new active segment starts at `end`), so no offset
//!   is ever reused.
//! - **A closed segment** loads its indexes and checks them against its log file, and
//!   its size and end against the manifest. When anything disagrees it is scanned like
//!   the active segment: damaged batches are cut alone, a segment that is missing, empty
//!   or shorter than recorded has lost the offsets it no longer holds.
//! - Without a manifest (a partition that never rolled or closed after an append, or a
//!   data directory from an older version), segments of a topic that is not compacted
//!   must follow each other without gaps: a gap is lost offsets too.
//!
//! Cut bytes go to the quarantine file (see `quarantine`) before they leave their
//! segment; lost ranges are recorded in the manifest (and in the quarantine file, so
//! that either one survives the loss of the other), reported as [`SegmentIssue`]s, and
//! turned into [`crate::LogError::LostOffsets`] for readers. Recovery writes only when it
//! finds something to repair: a clean partition is opened without writing a byte.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;

use crate::clock::now_ms;
use crate::config::TopicConfig;
use crate::durable::{Durability, write_atomic};
use crate::error::{IoContext, Result};
use crate::lost::LostRange;
use crate::manifest::{ClosedEntry, Manifest, manifest_path};
use crate::quarantine::{self, EntryKind, quarantine_path};
use crate::scan::{BatchLoc, DamagedRegion, FileScan, scan_file};
use crate::segment::{
    Segment, SegmentIssue, delete_indexes, parse_segment_name, remove_if_present, segment_file,
};

/// What opening a partition found: its segments (the last one active) and lost ranges.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub segments: Vec<Segment>,
    pub lost: Vec<LostRange>,
    /// Something was repaired or found, or the manifest is damaged: the partition must
    /// write its manifest now.
    pub write_manifest: bool,
    /// A segment file was created (the directory needs an fsync under a syncing policy).
    pub created: bool,
}

/// The state of one partition's recovery.
struct Recovery<'a> {
    dir: &'a Path,
    compact: bool,
    interval: u64,
    issues: &'a mut Vec<SegmentIssue>,
    lost: Vec<LostRange>,
    changed: bool,
    created: bool,
}

/// Open the partition in `dir` (which exists), repairing what needs it; see the module
/// docs.
pub(crate) fn open_partition(
    dir: &Path,
    config: &TopicConfig,
    issues: &mut Vec<SegmentIssue>,
) -> Result<Recovered> {
    let mut r = Recovery {
        dir,
        compact: config.compact,
        interval: config.index_interval_bytes,
        issues,
        lost: Vec::new(),
        changed: false,
        created: false,
    };
    let manifest = r.read_manifest()?;
    let mut bases = r.list_segments(manifest.as_ref())?;
    r.lost_from_records(manifest.as_ref())?;
    if let Some(m) = &manifest {
        r.drop_leftovers(m, &mut bases)?;
    }
    let active_base = match (&manifest, bases.last()) {
        (Some(m), Some(&last)) if last < m.active => None,
        (_, last) => last.copied(),
    };
    let closed: Vec<u64> = bases
        .iter()
        .copied()
        .filter(|&b| Some(b) != active_base)
        .collect();
    let mut segments = Vec::with_capacity(bases.len() + 1);
    for &base in &closed {
        let expected = manifest
            .as_ref()
            .and_then(|m| m.closed.iter().find(|c| c.base == base).copied());
        segments.push(r.open_closed(base, expected, &bases)?);
    }
    if let Some(m) = &manifest {
        r.missing_closed(m, &bases)?;
    }
    r.open_active(manifest.as_ref(), active_base, &mut segments)?;
    if !r.compact {
        r.check_continuity(&segments)?;
    }
    if manifest.is_none() && segments.len() > 1 && !r.changed {
        // Every roll writes one: it was deleted, or the directory is from an older
        // version. It is written again from the segments.
        r.issues.push(SegmentIssue::RebuiltIndex {
            file: manifest_path(dir),
            reason: "partition manifest missing".into(),
        });
        r.changed = true;
    }
    let lost = normalize(std::mem::take(&mut r.lost));
    let write_manifest = r.changed
        || manifest
            .as_ref()
            .is_some_and(|m| m.lost.len() != lost.len());
    Ok(Recovered {
        segments,
        lost,
        write_manifest,
        created: r.created,
    })
}

/// Cut out of the closed segment `seg` the damage a reader found in it after open, as
/// recovery does at open (its bytes kept in the quarantine file first; a damaged tail
/// loses the offsets up to where the segment ended). Returns the segment of what is
/// left, with its indexes written, the offsets lost, and what was done.
pub(crate) fn repair_closed(
    dir: &Path,
    config: &TopicConfig,
    seg: Segment,
) -> Result<(Segment, Vec<LostRange>, Vec<SegmentIssue>)> {
    let (base, end, path) = (seg.base_offset, seg.next_offset, seg.log_path());
    drop(seg);
    let file = Segment::open_file(&path)?;
    let len = file
        .metadata()
        .ctx(|| format!("stat {}", path.display()))?
        .len();
    let mut issues = Vec::new();
    let mut r = Recovery {
        dir,
        compact: config.compact,
        interval: config.index_interval_bytes,
        issues: &mut issues,
        lost: Vec::new(),
        changed: false,
        created: false,
    };
    let scan = scan_file(&file, len, base);
    let seg = r.repair(Arc::new(file), base, len, scan, Some(end), "")?;
    seg.write_indexes()?;
    let lost = std::mem::take(&mut r.lost);
    Ok((seg, lost, issues))
}

/// Sort lost ranges and merge those that overlap.
pub(crate) fn normalize(mut lost: Vec<LostRange>) -> Vec<LostRange> {
    lost.retain(|l| l.end > l.first);
    lost.sort_by_key(|l| (l.first, l.end));
    let mut out: Vec<LostRange> = Vec::with_capacity(lost.len());
    for l in lost {
        match out.last_mut() {
            Some(prev) if l.first <= prev.end => {
                if l.end > prev.end {
                    prev.end = l.end;
                }
                if !prev.reason.contains(&l.reason) {
                    prev.reason = format!("{}; {}", prev.reason, l.reason);
                }
            }
            _ => out.push(l),
        }
    }
    out
}

impl Recovery<'_> {
    /// The manifest, or `None` when there is none or it is damaged (reported; it is
    /// written again from what is found).
    fn read_manifest(&mut self) -> Result<Option<Manifest>> {
        match Manifest::read(self.dir)? {
            Ok(m) => Ok(m),
            Err(reason) => {
                self.issues.push(SegmentIssue::RebuiltIndex {
                    file: manifest_path(self.dir),
                    reason: format!("partition manifest: {reason}"),
                });
                self.changed = true;
                Ok(None)
            }
        }
    }

    /// The base offsets of the segment files, sorted. Leftovers of an interrupted
    /// atomic replace are removed; a compacted segment written before a crash is put in
    /// place when the manifest already records it (else the original stays).
    fn list_segments(&mut self, manifest: Option<&Manifest>) -> Result<Vec<u64>> {
        let dir = self.dir;
        let mut bases = Vec::new();
        let mut cleaned = Vec::new();
        for entry in fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
            let entry = entry.ctx(|| format!("list {}", dir.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // Left over by a crash in the middle of an atomic replace: the original is
                // still in place.
                remove_if_present(&entry.path())?;
            } else if let Some(stem) = name.strip_suffix(".cleaned") {
                cleaned.push((entry.path(), stem.to_owned()));
            } else if let Some(base) = parse_segment_name(&name) {
                bases.push(base);
            }
        }
        for (path, stem) in cleaned {
            self.finish_compaction(manifest, &path, &stem)?;
        }
        bases.sort_unstable();
        Ok(bases)
    }

    /// A compacted segment (`NAME.log.cleaned`) left by a crash: put in place when the
    /// manifest records its size (the compaction was committed), else removed.
    fn finish_compaction(&mut self, m: Option<&Manifest>, path: &Path, stem: &str) -> Result<()> {
        let len = fs::metadata(path)
            .ctx(|| format!("stat {}", path.display()))?
            .len();
        let committed = parse_segment_name(stem).and_then(|base| {
            m?.closed
                .iter()
                .find(|c| c.base == base && c.bytes == len)
                .map(|c| c.base)
        });
        match committed {
            Some(base) => {
                delete_indexes(self.dir, base)?;
                let target = segment_file(self.dir, base, "log");
                fs::rename(path, &target).ctx(|| format!("replace {}", target.display()))?;
                crate::durable::sync_dir(self.dir)
                    .ctx(|| format!("sync directory {}", self.dir.display()))?;
            }
            None => remove_if_present(path)?,
        }
        Ok(())
    }

    /// The lost ranges recorded: the manifest's, or, without one, the quarantine file's.
    fn lost_from_records(&mut self, m: Option<&Manifest>) -> Result<()> {
        if let Some(m) = m {
            self.lost = m
                .lost
                .iter()
                .map(|l| LostRange {
                    first: l.first,
                    end: l.end,
                    reason: l.reason.clone(),
                })
                .collect();
            return Ok(());
        }
        if let Some(q) = quarantine::read(self.dir)? {
            for e in q.entries {
                if e.kind == EntryKind::Lost && e.end > e.first {
                    self.lost.push(LostRange {
                        first: e.first,
                        end: e.end,
                        reason: e.reason,
                    });
                }
            }
            self.changed |= !self.lost.is_empty();
        }
        Ok(())
    }

    /// Remove segment files the manifest no longer lists: before its start (retention
    /// deleted them, then crashed) or between its closed segments (compaction emptied
    /// them).
    fn drop_leftovers(&mut self, m: &Manifest, bases: &mut Vec<u64>) -> Result<()> {
        let listed: BTreeSet<u64> = m.closed.iter().map(|c| c.base).collect();
        let mut kept = Vec::with_capacity(bases.len());
        for &base in bases.iter() {
            if base < m.start || (base < m.active && !listed.contains(&base)) {
                delete_indexes(self.dir, base)?;
                remove_if_present(&segment_file(self.dir, base, "log"))?;
                self.changed = true;
            } else {
                kept.push(base);
            }
        }
        *bases = kept;
        Ok(())
    }

    /// Record lost offsets `first..end` with the bytes `data` that held them (kept in the
    /// quarantine file), and report them.
    fn lose(
        &mut self,
        at: Place<'_>,
        first: u64,
        end: u64,
        reason: &str,
        data: &[u8],
    ) -> Result<()> {
        let what = if end > first {
            format!("offsets {first}..{end} lost")
        } else {
            "no offsets lost".to_owned()
        };
        let kept = if data.is_empty() {
            String::new()
        } else {
            format!(
                ", its {} bytes kept in {}",
                data.len(),
                quarantine_path(self.dir).display()
            )
        };
        let full = format!("{reason} ({what}{kept})");
        quarantine::append(
            self.dir,
            &quarantine::Entry {
                kind: EntryKind::Lost,
                segment: at.base,
                position: at.position,
                first,
                end,
                time_ms: now_ms(),
                reason: full.clone(),
                data_len: 0,
                data_at: 0,
            },
            data,
        )?;
        self.issues.push(SegmentIssue::DamagedBatch {
            file: at.file.to_path_buf(),
            position: at.position,
            reason: full.clone(),
        });
        if end > first {
            self.lost.push(LostRange {
                first,
                end,
                reason: format!(
                    "{reason} (at byte {} of {})",
                    at.position,
                    at.file.display()
                ),
            });
        }
        self.changed = true;
        Ok(())
    }

    /// Open the closed segment at `base`: from its indexes when they, its size and its
    /// end agree with the log file and the manifest's `expected` entry; else rebuilt from
    /// a scan, damage cut out.
    fn open_closed(
        &mut self,
        base: u64,
        expected: Option<ClosedEntry>,
        bases: &[u64],
    ) -> Result<Segment> {
        let path = segment_file(self.dir, base, "log");
        let (file, len, reason) = match Segment::open_closed(self.dir, base)? {
            Ok(seg) => match expected {
                Some(e) if e.bytes != seg.size => {
                    let reason = format!("{} bytes where {} were recorded", seg.size, e.bytes);
                    (Arc::new(Segment::open_file(&path)?), seg.size, reason)
                }
                Some(e) if e.next != seg.next_offset => {
                    let reason = format!(
                        "ends at offset {} where {} was recorded",
                        seg.next_offset, e.next
                    );
                    (Arc::new(Segment::open_file(&path)?), seg.size, reason)
                }
                _ => return Ok(seg),
            },
            Err(failed) => failed,
        };
        let scan = scan_file(&file, len, base);
        // What the segment should reach: the manifest's record, or the next segment.
        let next_segment = bases.iter().copied().find(|&b| b > base);
        let should_end = match expected {
            Some(e) => Some(e.next),
            None if !self.compact => next_segment,
            None => None,
        };
        self.changed = true;
        if scan.damaged.is_empty() && scan.next_offset(base) >= should_end.unwrap_or(0) {
            let seg =
                Segment::from_batches(self.dir, base, file, len, &scan.batches, self.interval);
            seg.write_indexes()?;
            self.issues
                .push(SegmentIssue::RebuiltIndex { file: path, reason });
            return Ok(seg);
        }
        let seg = self.repair(file, base, len, scan, should_end, &reason)?;
        let next = seg.next_offset;
        let known = |end: u64| self.lost.iter().any(|l| l.first <= next && l.end >= end);
        if let Some(end) = should_end.filter(|&e| e > next && !known(e)) {
            let at = Place {
                file: &path,
                base,
                position: seg.size,
            };
            let why = format!("segment file {reason}");
            self.lose(at, seg.next_offset, end, &why, &[])?;
        }
        seg.write_indexes()?;
        Ok(seg)
    }

    /// Cut the damaged regions of a scanned segment file out alone (their bytes kept in
    /// the quarantine file first) and return the segment of what is left. A damaged tail
    /// has lost the offsets up to `tail_end` when that is beyond it; else it is a torn
    /// write, cut.
    fn repair(
        &mut self,
        file: Arc<File>,
        base: u64,
        len: u64,
        scan: FileScan,
        tail_end: Option<u64>,
        context: &str,
    ) -> Result<Segment> {
        let path = segment_file(self.dir, base, "log");
        let mut data = vec![0u8; len as usize];
        std::os::unix::fs::FileExt::read_exact_at(&*file, &mut data, 0)
            .ctx(|| format!("read {}", path.display()))?;
        for d in &scan.damaged {
            self.quarantine_region(&path, base, d, tail_end, &data, context)?;
        }
        let only_tail = matches!(scan.damaged.as_slice(), [d] if d.next_base.is_none());
        if scan.damaged.is_empty() {
            return Ok(Segment::from_batches(
                self.dir,
                base,
                file,
                len,
                &scan.batches,
                self.interval,
            ));
        }
        if only_tail {
            let cut = scan.damaged[0].position;
            file.set_len(cut)
                .and_then(|()| file.sync_all())
                .ctx(|| format!("truncate {}", path.display()))?;
            return Ok(Segment::from_batches(
                self.dir,
                base,
                file,
                cut,
                &scan.batches,
                self.interval,
            ));
        }
        // Damage in the middle: the file becomes its valid batches, back to back.
        let mut kept = Vec::with_capacity(data.len());
        let mut batches = Vec::with_capacity(scan.batches.len());
        for b in &scan.batches {
            let start = b.position as usize;
            batches.push(BatchLoc {
                position: kept.len() as u64,
                header: b.header,
            });
            kept.extend_from_slice(&data[start..start + b.header.total_len]);
        }
        drop(file);
        write_atomic(&path, &kept, Durability::Synced)
            .ctx(|| format!("write {}", path.display()))?;
        let file = Segment::open_file(&path)?;
        Ok(Segment::from_batches(
            self.dir,
            base,
            file,
            kept.len() as u64,
            &batches,
            self.interval,
        ))
    }

    /// Keep one damaged region in the quarantine file and account for its offsets.
    fn quarantine_region(
        &mut self,
        path: &Path,
        base: u64,
        d: &DamagedRegion,
        tail_end: Option<u64>,
        data: &[u8],
        context: &str,
    ) -> Result<()> {
        let bytes = &data[d.position as usize..(d.position + d.len) as usize];
        let at = Place {
            file: path,
            base,
            position: d.position,
        };
        let reason = if context.is_empty() {
            d.reason.clone()
        } else {
            format!("{}; segment file {context}", d.reason)
        };
        match d.next_base.or(tail_end.filter(|&e| e > d.first_offset)) {
            Some(end) => self.lose(at, d.first_offset, end, &reason, bytes),
            None => {
                quarantine::append(
                    self.dir,
                    &quarantine::Entry {
                        kind: EntryKind::TornTail,
                        segment: base,
                        position: d.position,
                        first: d.first_offset,
                        end: d.first_offset,
                        time_ms: now_ms(),
                        reason: d.reason.clone(),
                        data_len: 0,
                        data_at: 0,
                    },
                    bytes,
                )?;
                self.issues.push(SegmentIssue::TruncatedTail {
                    file: path.to_path_buf(),
                    position: d.position,
                    bytes_cut: d.len,
                    reason: d.reason.clone(),
                });
                self.changed = true;
                Ok(())
            }
        }
    }

    /// Closed segments the manifest lists whose files are gone, and offsets before the
    /// first segment that the manifest says the partition held.
    fn missing_closed(&mut self, m: &Manifest, bases: &[u64]) -> Result<()> {
        for c in &m.closed {
            if !bases.contains(&c.base) {
                let path = segment_file(self.dir, c.base, "log");
                delete_indexes(self.dir, c.base)?;
                let at = Place {
                    file: &path,
                    base: c.base,
                    position: 0,
                };
                self.lose(at, c.base, c.next, "segment file missing", &[])?;
            }
        }
        Ok(())
    }

    /// Open the active segment (the last file, `base`), or start a new one when there is
    /// none or its file is gone; see the module docs for what a damaged tail means.
    fn open_active(
        &mut self,
        m: Option<&Manifest>,
        base: Option<u64>,
        segments: &mut Vec<Segment>,
    ) -> Result<()> {
        let end = m.map_or(0, |m| m.end);
        let Some(base) = base else {
            let start = m.map_or(0, |m| m.active);
            if end > start {
                let path = segment_file(self.dir, start, "log");
                let at = Place {
                    file: &path,
                    base: start,
                    position: 0,
                };
                self.lose(at, start, end, "active segment file missing", &[])?;
            }
            return self.start_active(end, segments);
        };
        let path = segment_file(self.dir, base, "log");
        let file = Segment::open_file(&path)?;
        let len = file
            .metadata()
            .ctx(|| format!("stat {}", path.display()))?
            .len();
        let scan = scan_file(&file, len, base);
        let seg = self.repair(Arc::new(file), base, len, scan, Some(end), "")?;
        if seg.next_offset >= end || base >= end {
            segments.push(seg);
            return Ok(());
        }
        // It holds less than was appended: the rest is lost, and the log goes on after it.
        if !self
            .lost
            .iter()
            .any(|l| l.first <= seg.next_offset && l.end >= end)
        {
            let at = Place {
                file: &path,
                base,
                position: seg.size,
            };
            let why = format!(
                "segment file ends at offset {} ({} bytes)",
                seg.next_offset, seg.size
            );
            self.lose(at, seg.next_offset, end, &why, &[])?;
        }
        if seg.is_empty() {
            seg.delete()?;
        } else {
            seg.write_indexes()?;
            segments.push(seg);
        }
        self.start_active(end, segments)
    }

    /// Start a new, empty active segment at `base`.
    fn start_active(&mut self, base: u64, segments: &mut Vec<Segment>) -> Result<()> {
        segments.push(Segment::create(self.dir, base)?);
        self.created = true;
        Ok(())
    }

    /// In a topic that is not compacted, each segment starts where the one before ends:
    /// offsets missing in between (not already known lost) are lost.
    fn check_continuity(&mut self, segments: &[Segment]) -> Result<()> {
        for pair in segments.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.next_offset >= b.base_offset {
                continue;
            }
            let (first, end) = (a.next_offset, b.base_offset);
            if self.lost.iter().any(|l| l.first <= first && l.end >= end) {
                continue;
            }
            let path = a.log_path();
            let at = Place {
                file: &path,
                base: a.base_offset,
                position: a.size,
            };
            let why = format!(
                "offsets missing between segments {} and {}",
                a.base_offset, b.base_offset
            );
            self.lose(at, first, end, &why, &[])?;
        }
        Ok(())
    }
}

/// Where damage was found: a segment's log file and a byte position in it.
#[derive(Clone, Copy)]
struct Place<'a> {
    file: &'a Path,
    base: u64,
    position: u64,
}
