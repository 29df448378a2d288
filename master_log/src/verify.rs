//! `lk log verify`: check every file of the log without changing anything.
//!
//! For each topic: its metadata file (checksum); for each partition: every batch of
//! every segment (framing, CRC32C, record encoding, offset and time order — stepping
//! over damage to report each damaged stretch with the offsets it lost), the index
//! files of every closed segment against its log file (the active segment's are never
//! read: they are rebuilt whenever the partition is opened), the segments against the partition manifest (missing, empty
//! or shorter than recorded), the offsets between segments, the quarantine file, and
//! the ranges recorded as lost by an earlier recovery (which stay problems until
//! retention deletes past them: the history they belonged to is incomplete).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{TopicConfig, validate_name};
use crate::embedded::{holds_records, read_topic_config, topics_dir};
use crate::error::{IoContext, Result};
use crate::manifest::{Manifest, manifest_path};
use crate::quarantine::{self, EntryKind, quarantine_path};
use crate::scan::DamagedRegion;
use crate::segment::{Segment, SegmentCheck, parse_segment_name, segment_file};
use crate::topic_meta::TOPIC_META;

/// One problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// Byte position in the file, when the problem is at a place in it.
    pub position: Option<u64>,
    /// What is wrong.
    pub reason: String,
    /// How many bytes are damaged from `position`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// The offsets lost to it, `first..end` (half-open), when it lost any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<(u64, u64)>,
}

impl Problem {
    fn at(file: PathBuf, position: Option<u64>, reason: impl Into<String>) -> Self {
        Problem {
            file,
            position,
            reason: reason.into(),
            length: None,
            lost: None,
        }
    }
}

/// What [`verify`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Topics checked.
    pub topics: u64,
    /// Partitions checked.
    pub partitions: u64,
    /// Segments checked.
    pub segments: u64,
    /// Batches read.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// Bytes of the segments' log files.
    pub bytes: u64,
    /// Torn tails that recovery cut earlier (kept in quarantine files; no offsets of
    /// them were recorded as appended, so none is lost): listed, not problems.
    pub torn_tails_cut: u64,
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing was found wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check every file of the log in the data directory `dir` (see the module docs). Reads
/// only; holds each partition's writer lock while checking it, so that no process
/// writes it meanwhile (other processes may have the log open).
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let _lock = crate::locks::lock_data_dir(dir)?;
    let mut report = VerifyReport::default();
    let tdir = topics_dir(dir);
    if !tdir.exists() {
        return Ok(report);
    }
    let mut topics: Vec<PathBuf> = Vec::new();
    for entry in fs::read_dir(&tdir).ctx(|| format!("list {}", tdir.display()))? {
        let entry = entry.ctx(|| format!("list {}", tdir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if validate_name(&name).is_ok() && entry.path().is_dir() {
            topics.push(entry.path());
        }
    }
    topics.sort();
    for topic_dir in topics {
        let config = match read_topic_config(&topic_dir) {
            Ok(c) => c,
            Err(_) if !topic_dir.join(TOPIC_META).exists() && !holds_records(&topic_dir)? => {
                // An interrupted create: nothing was ever in it.
                continue;
            }
            Err(e) => {
                report
                    .problems
                    .push(Problem::at(topic_dir.join(TOPIC_META), None, e.to_string()));
                continue;
            }
        };
        report.topics += 1;
        for p in 0..config.partitions {
            let pdir = topic_dir.join(p.to_string());
            report.partitions += 1;
            let writer = match crate::locks::open_dir(&pdir) {
                Ok(f) => {
                    crate::locks::lock_exclusive(&f, &pdir)?;
                    Some(f)
                }
                Err(_) => None,
            };
            let checked = check_partition(&pdir, &config, &mut report);
            if let Some(f) = writer {
                crate::locks::unlock(&f, &pdir);
            }
            checked?;
        }
    }
    Ok(report)
}

/// Everything checked of one partition.
fn check_partition(pdir: &Path, config: &TopicConfig, report: &mut VerifyReport) -> Result<()> {
    if !pdir.exists() {
        report.problems.push(Problem::at(
            pdir.to_path_buf(),
            None,
            "partition directory is missing",
        ));
        return Ok(());
    }
    let mut bases = Vec::new();
    for entry in fs::read_dir(pdir).ctx(|| format!("list {}", pdir.display()))? {
        let entry = entry.ctx(|| format!("list {}", pdir.display()))?;
        if let Some(b) = parse_segment_name(&entry.file_name().to_string_lossy()) {
            bases.push(b);
        }
    }
    bases.sort_unstable();
    let manifest = check_manifest(pdir, bases.len(), report)?;
    let recorded = check_recorded(pdir, manifest.as_ref(), bases.first().copied(), report)?;
    let mut prev: Option<(u64, u64)> = None;
    for (i, &base) in bases.iter().enumerate() {
        let mut check = Segment::check(pdir, base, config.index_interval_bytes)?;
        if i + 1 == bases.len() {
            // The active segment's index files are never read: they are rebuilt from a
            // scan whenever the partition is opened.
            check.index_problem = None;
        }
        report.segments += 1;
        report.batches += check.batches;
        report.records += check.records;
        report.bytes += check.bytes;
        let expected = segment_end(manifest.as_ref(), base, bases.get(i + 1), config.compact);
        segment_problems(pdir, base, &check, expected, &recorded, report);
        if let Some((pbase, pnext)) = prev {
            between_segments(
                pdir,
                (pbase, pnext),
                base,
                config.compact,
                &recorded,
                report,
            );
        }
        prev = Some((base, check.next_offset.max(base)));
    }
    if let Some(m) = &manifest {
        against_manifest(pdir, m, &bases, prev, &recorded, report);
    }
    Ok(())
}

/// The partition's manifest, with its damage reported (and its absence, where every
/// roll would have written one).
fn check_manifest(
    pdir: &Path,
    segments: usize,
    report: &mut VerifyReport,
) -> Result<Option<Manifest>> {
    let path = manifest_path(pdir);
    Ok(match Manifest::read(pdir)? {
        Ok(Some(m)) => Some(m),
        Ok(None) => {
            if segments > 1 {
                report
                    .problems
                    .push(Problem::at(path, None, "partition manifest missing"));
            }
            None
        }
        Err(reason) => {
            report.problems.push(Problem::at(
                path,
                None,
                format!("partition manifest: {reason}"),
            ));
            None
        }
    })
}

/// The lost ranges recorded (by the manifest, else by the quarantine file), each
/// reported; damage in the quarantine file reported too. Returns the ranges.
fn check_recorded(
    pdir: &Path,
    manifest: Option<&Manifest>,
    first_base: Option<u64>,
    report: &mut VerifyReport,
) -> Result<Vec<(u64, u64)>> {
    let q = quarantine::read(pdir)?.unwrap_or_default();
    let qpath = quarantine_path(pdir);
    for (position, reason) in &q.damage {
        report.problems.push(Problem::at(
            qpath.clone(),
            Some(*position),
            format!("quarantine file: {reason}"),
        ));
    }
    report.torn_tails_cut += q
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::TornTail)
        .count() as u64;
    let ranges: Vec<(u64, u64, String)> = match manifest {
        Some(m) => m
            .lost
            .iter()
            .map(|l| (l.first, l.end, l.reason.clone()))
            .collect(),
        None => q
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Lost && e.end > e.first)
            .filter(|e| first_base.is_none_or(|b| e.end > b))
            .map(|e| (e.first, e.end, e.reason.clone()))
            .collect(),
    };
    for (first, end, reason) in &ranges {
        // The quarantine entry that kept its bytes names the file and where they were.
        let entry = q
            .entries
            .iter()
            .find(|e| e.kind == EntryKind::Lost && e.first < *end && *first < e.end);
        let mut p = Problem::at(
            entry.map_or(pdir.to_path_buf(), |e| segment_file(pdir, e.segment, "log")),
            entry.map(|e| e.position),
            format!("lost to damage found earlier: {reason}"),
        );
        p.length = entry.map(|e| e.data_len);
        p.lost = Some((*first, *end));
        report.problems.push(p);
        if entry.is_none() && manifest.is_some() {
            // Every loss is written to the quarantine file before it is recorded.
            report.problems.push(Problem::at(
                qpath.clone(),
                None,
                format!(
                    "quarantine file: no entry for offsets {first}..{end} (the file is \
                     missing or damaged)"
                ),
            ));
        }
    }
    Ok(ranges.into_iter().map(|(f, e, _)| (f, e)).collect())
}

/// Whether `first..end` is inside a recorded lost range.
fn covered(recorded: &[(u64, u64)], first: u64, end: u64) -> bool {
    recorded.iter().any(|&(f, e)| f <= first && end <= e)
}

/// Where the segment at `base` should end: the manifest's record, else (topics that
/// are not compacted) the next segment's base.
fn segment_end(m: Option<&Manifest>, base: u64, next: Option<&u64>, compact: bool) -> Option<u64> {
    m.and_then(|m| m.closed.iter().find(|c| c.base == base).map(|c| c.next))
        .or(if compact { None } else { next.copied() })
}

/// The problems of one segment: damaged stretches (with the offsets they lose) and its
/// indexes.
fn segment_problems(
    pdir: &Path,
    base: u64,
    check: &SegmentCheck,
    expected_end: Option<u64>,
    recorded: &[(u64, u64)],
    report: &mut VerifyReport,
) {
    let file = segment_file(pdir, base, "log");
    for d in &check.damaged {
        let lost = lost_by(d, expected_end);
        if lost.is_some_and(|(f, e)| covered(recorded, f, e)) {
            continue;
        }
        let mut p = Problem::at(file.clone(), Some(d.position), d.reason.clone());
        p.length = Some(d.len);
        p.lost = lost;
        report.problems.push(p);
    }
    if let Some(reason) = &check.index_problem {
        // Named by the offset index, for the pair (the reason says which file).
        report.problems.push(Problem::at(
            segment_file(pdir, base, "index"),
            None,
            format!("index: {reason}"),
        ));
    }
}

/// The offsets a damaged stretch loses: up to the next valid batch, or for one at the
/// end of the file, up to where the segment should end (unknown for the active one).
fn lost_by(d: &DamagedRegion, expected_end: Option<u64>) -> Option<(u64, u64)> {
    let end = d.next_base.or(expected_end)?;
    (end > d.first_offset).then_some((d.first_offset, end))
}

/// Offsets between two segments: a gap in a topic that is not compacted (not already
/// recorded lost) is lost; an overlap is damage in any topic.
fn between_segments(
    pdir: &Path,
    (pbase, pnext): (u64, u64),
    base: u64,
    compact: bool,
    recorded: &[(u64, u64)],
    report: &mut VerifyReport,
) {
    let file = segment_file(pdir, base, "log");
    if base < pnext {
        report.problems.push(Problem::at(
            file,
            Some(0),
            format!(
                "segment starts at offset {base}, inside the previous segment (which ends at {pnext})"
            ),
        ));
    } else if base > pnext && !compact && !covered(recorded, pnext, base) {
        let mut p = Problem::at(
            segment_file(pdir, pbase, "log"),
            None,
            format!("offsets {pnext}..{base} are missing between segments {pbase} and {base}"),
        );
        p.lost = Some((pnext, base));
        report.problems.push(p);
    }
}

/// The segments against what the manifest recorded: missing ones, sizes, and the end.
fn against_manifest(
    pdir: &Path,
    m: &Manifest,
    bases: &[u64],
    last: Option<(u64, u64)>,
    recorded: &[(u64, u64)],
    report: &mut VerifyReport,
) {
    for c in &m.closed {
        let file = segment_file(pdir, c.base, "log");
        if !bases.contains(&c.base) {
            if !covered(recorded, c.base, c.next) {
                let mut p = Problem::at(file, None, "segment file missing");
                p.lost = (c.next > c.base).then_some((c.base, c.next));
                report.problems.push(p);
            }
            continue;
        }
        let size = fs::metadata(&file).map_or(0, |md| md.len());
        if size != c.bytes {
            report.problems.push(Problem::at(
                file,
                None,
                format!("{size} bytes where the manifest records {}", c.bytes),
            ));
        }
    }
    let active_present = bases.last().is_some_and(|&b| b >= m.active);
    if !active_present {
        if m.end > m.active && !covered(recorded, m.active, m.end) {
            let mut p = Problem::at(
                segment_file(pdir, m.active, "log"),
                None,
                "active segment file missing",
            );
            p.lost = Some((m.active, m.end));
            report.problems.push(p);
        }
        return;
    }
    let data_end = last.map_or(m.active, |(_, next)| next);
    if data_end < m.end && !covered(recorded, data_end, m.end) {
        let file = segment_file(pdir, last.map_or(m.active, |(b, _)| b), "log");
        let mut p = Problem::at(
            file,
            None,
            format!(
                "the partition ends at offset {data_end} where the manifest records {}",
                m.end
            ),
        );
        p.lost = Some((data_end, m.end));
        report.problems.push(p);
    }
}
