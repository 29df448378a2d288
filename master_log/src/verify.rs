//! `lk log verify`: check every batch of every segment without changing anything.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::validate_name;
use crate::embedded::{lock_dir, read_topic_config, topics_dir};
use crate::error::{IoContext, Result};
use crate::segment::{Segment, parse_segment_name, segment_file};

/// One problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// Byte position in the file, when the problem is in the log file itself.
    pub position: Option<u64>,
    /// What is wrong.
    pub reason: String,
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
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing was found wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check every batch (framing, CRC32C, record encoding, offset and time order) of every
/// segment of every partition in the data directory `dir`, and every index against its
/// log file. Reads only; takes the directory's lock so that no writer runs meanwhile.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let _lock = lock_dir(dir)?;
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
            Err(e) => {
                report.problems.push(Problem {
                    file: topic_dir.join("topic.json"),
                    position: None,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        report.topics += 1;
        for p in 0..config.partitions {
            let pdir = topic_dir.join(p.to_string());
            report.partitions += 1;
            check_partition(&pdir, config.index_interval_bytes, &mut report)?;
        }
    }
    Ok(report)
}

fn check_partition(pdir: &Path, interval: u64, report: &mut VerifyReport) -> Result<()> {
    if !pdir.exists() {
        report.problems.push(Problem {
            file: pdir.to_path_buf(),
            position: None,
            reason: "partition directory is missing".into(),
        });
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
    let mut min_offset = 0;
    for base in bases {
        let check = Segment::check(pdir, base, interval, min_offset)?;
        report.segments += 1;
        report.batches += check.batches;
        report.records += check.records;
        report.bytes += check.bytes;
        let file = segment_file(pdir, base, "log");
        for (position, reason) in check.problems {
            report.problems.push(Problem {
                file: if position.is_some() {
                    file.clone()
                } else {
                    segment_file(pdir, base, "index")
                },
                position,
                reason,
            });
        }
        min_offset = check.next_offset.max(base);
    }
    Ok(())
}
