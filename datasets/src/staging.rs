//! Atomic imports: what `ingest csv` and `generate` write goes to a staging topic first,
//! and is published into the target topic only after a commit marker is on disk.
//!
//! ```text
//!  begin ──► staging topic <topic>.staging-<id> (the target's partitions and config)
//!    │  the import appends its records there (the target is not touched)
//!    ▼
//!  commit ──► <dir>/<topic>.commit.json, checksummed, written synced: the staging topic,
//!    │        the target, the target's end offsets now (`start`), the records staged per
//!    │        partition, and the sidecar to write
//!    ▼
//!  finish ──► copy staging partition p into target partition p, in order, from
//!             (target end − start) on; then the campaign table (YSB) and the sidecar;
//!             then delete the staging topic, then the marker
//! ```
//!
//! [`recover`] runs before every import into a topic: a staging topic that no marker
//! names belongs to an import that never committed and is deleted (the target never saw
//! it); a marker means the import committed, and [`finish`] rolls it forward. Since a
//! partition's records are copied in order and nothing else writes the target meanwhile
//! (the data directory is locked by one process), the target's end minus the marker's
//! `start` is exactly how many records of that partition were copied, so the roll
//! forward copies each staged record once. A SIGKILL at any point therefore leaves,
//! after the next import into the topic, either nothing of the import or all of it.
//!
//! Why a staging topic and a copy, not a rename: the log is append-only and a topic's
//! records cannot be taken back, so an import cannot write its target first and undo on
//! failure; and publishing by renaming a topic directory would need a `Log` operation the
//! Kafka backend cannot offer. Copying costs a second write of the records; it works on
//! every backend through the `Log` trait alone. Staging names are reserved: an import or
//! generator refuses a target topic whose name contains [`STAGING_INFIX`].

use std::fmt;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use master_log::durable::{self, Durability};
use master_log::{FetchLimits, Log, LogError, NewRecord, TopicConfig};
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, IoContext, Result};
use crate::sidecar::{self, TopicContent};
use crate::topic::ensure_topic;

/// What separates a target topic's name from its staging topic's id:
/// `<topic>.staging-<id>`.
pub const STAGING_INFIX: &str = ".staging-";

/// Version of the commit marker format.
const MARKER_FORMAT: u32 = 1;

/// Records copied per append when publishing.
const COPY_BATCH: usize = 2_000;

/// Where the commit marker of imports into `topic` lives in `dir`.
pub fn marker_path(dir: &Path, topic: &str) -> PathBuf {
    dir.join(format!("{topic}.commit.json"))
}

/// Refuse a target topic whose name is reserved for staging topics.
pub(crate) fn check_target_name(topic: &str) -> Result<()> {
    if topic.contains(STAGING_INFIX) {
        return Err(DatasetError::InvalidOptions(format!(
            "topic {topic:?}: names containing {STAGING_INFIX:?} are reserved for the \
             staging topics of imports"
        )));
    }
    Ok(())
}

/// What [`recover`] did about one earlier, interrupted import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Recovery {
    /// An import that never committed: its staging topic was deleted, the target was
    /// not touched.
    Discarded {
        /// The staging topic deleted.
        staging: String,
        /// The records it held.
        records: u64,
    },
    /// A committed import that was interrupted while publishing: finished.
    RolledForward {
        /// The staging topic it was published from.
        staging: String,
        /// The target topic.
        target: String,
        /// Records copied now.
        copied: u64,
        /// Records of the import in all.
        records: u64,
    },
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recovery::Discarded { staging, records } => write!(
                f,
                "deleted staging topic {staging} ({records} records) of an interrupted \
                 import that never committed"
            ),
            Recovery::RolledForward {
                staging,
                target,
                copied,
                records,
            } => write!(
                f,
                "finished publishing a committed import from {staging} into {target}: \
                 copied the {copied} of its {records} records that were missing"
            ),
        }
    }
}

/// The commit marker: everything needed to finish publishing an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Marker {
    format: u32,
    /// The staging topic.
    pub staging: String,
    /// The target topic.
    pub target: String,
    /// The target's configuration, for creating it when it does not exist.
    pub config: TopicConfig,
    /// The target's end offset of each partition when the import committed (all 0 when
    /// it did not exist).
    pub start: Vec<u64>,
    /// Records staged in each partition.
    pub staged: Vec<u64>,
    /// The sidecar to write once the records are published.
    pub sidecar: TopicContent,
    /// The rejects file of a CSV import, written to its temporary path
    /// ([`durable::temp_path`]) and renamed into place when published.
    pub rejects: Option<PathBuf>,
}

/// The marker file: the marker's JSON text and its CRC-32C.
#[derive(Serialize, Deserialize)]
struct MarkerFile {
    crc32c: u32,
    marker: String,
}

/// An import being staged: its records go to [`Stage::topic`].
#[derive(Debug)]
pub(crate) struct Stage {
    /// The staging topic.
    pub topic: String,
    /// The target topic.
    pub target: String,
    /// The target's configuration (its own, or the one it will be created with).
    pub config: TopicConfig,
}

impl Stage {
    /// Partitions of the staging topic (the target's).
    pub fn partitions(&self) -> u32 {
        self.config.partitions
    }

    /// Give up the import: delete the staging topic.
    pub fn abort(self, log: &dyn Log) -> Result<()> {
        log.delete_topic(&self.topic)?;
        Ok(())
    }
}

/// Start an import into `target`: create its staging topic with the target's
/// configuration (or, for a new target, `partitions` partitions).
pub(crate) fn begin(log: &dyn Log, target: &str, partitions: u32) -> Result<Stage> {
    let config = match log.describe_topic(target) {
        Ok(d) => d.info.config,
        Err(LogError::UnknownTopic(_)) => TopicConfig::with_partitions(partitions),
        Err(e) => return Err(e.into()),
    };
    let id = format!(
        "{:x}{:05x}",
        master_log::now_ms().max(0),
        std::process::id() & 0xf_ffff
    );
    let topic = format!("{target}{STAGING_INFIX}{id}");
    log.create_topic(&topic, config.clone())?;
    Ok(Stage {
        topic,
        target: target.to_owned(),
        config,
    })
}

/// Commit a staged import: write its marker (synced: once this returns, the import
/// survives a crash), then publish it ([`finish`]). Returns the sidecar's path.
pub(crate) fn commit(
    log: &dyn Log,
    dir: &Path,
    stage: Stage,
    sidecar: TopicContent,
    rejects: Option<PathBuf>,
) -> Result<PathBuf> {
    let marker = write_marker(log, dir, stage, sidecar, rejects)?;
    finish(log, dir, &marker)?;
    Ok(sidecar::sidecar_path(dir, &marker.target))
}

/// Write the commit marker of `stage`: after it, the import is committed.
///
/// Written with [`durable::write_atomic`], [`Durability::Synced`]: the marker is the
/// commit point, so it must not be lost or torn once an import reported success.
pub(crate) fn write_marker(
    log: &dyn Log,
    dir: &Path,
    stage: Stage,
    sidecar: TopicContent,
    rejects: Option<PathBuf>,
) -> Result<Marker> {
    let start = match log.end_offsets(&stage.target) {
        Ok(ends) => ends,
        Err(LogError::UnknownTopic(_)) => vec![0; stage.partitions() as usize],
        Err(e) => return Err(e.into()),
    };
    let staged = log.end_offsets(&stage.topic)?;
    let marker = Marker {
        format: MARKER_FORMAT,
        staging: stage.topic,
        target: stage.target,
        config: stage.config,
        start,
        staged,
        sidecar,
        rejects,
    };
    let path = marker_path(dir, &marker.target);
    let text = serde_json::to_string(&marker).map_err(|e| marker_error(&path, e.to_string()))?;
    let file = MarkerFile {
        crc32c: crc32c::crc32c(text.as_bytes()),
        marker: text,
    };
    let bytes = serde_json::to_vec_pretty(&file).map_err(|e| marker_error(&path, e.to_string()))?;
    std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
    durable::write_atomic(&path, &bytes, Durability::Synced)
        .ctx(|| format!("write {}", path.display()))?;
    Ok(marker)
}

fn marker_error(path: &Path, reason: String) -> DatasetError {
    DatasetError::CommitMarker {
        file: path.to_owned(),
        reason,
    }
}

/// The commit marker of imports into `topic`, if there is one; a marker that does not
/// parse or fails its checksum is an error (nothing is rolled forward or deleted then).
pub(crate) fn read_marker(dir: &Path, topic: &str) -> Result<Option<Marker>> {
    let path = marker_path(dir, topic);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
    };
    let file: MarkerFile =
        serde_json::from_slice(&bytes).map_err(|e| marker_error(&path, e.to_string()))?;
    if crc32c::crc32c(file.marker.as_bytes()) != file.crc32c {
        return Err(marker_error(&path, "its checksum does not match".into()));
    }
    let marker: Marker =
        serde_json::from_str(&file.marker).map_err(|e| marker_error(&path, e.to_string()))?;
    if marker.target != topic
        || marker.start.len() != marker.staged.len()
        || marker.start.len() != marker.config.partitions as usize
    {
        return Err(marker_error(
            &path,
            format!("it does not describe an import into {topic:?}"),
        ));
    }
    Ok(Some(marker))
}

/// Publish a committed import (again, after a crash): copy what the target lacks of
/// each staged partition, write the campaign table and the sidecar, rename the rejects
/// file into place, delete the staging topic, then the marker. Returns the records
/// copied.
pub(crate) fn finish(log: &dyn Log, dir: &Path, marker: &Marker) -> Result<u64> {
    let staging_exists = match log.describe_topic(&marker.staging) {
        Ok(_) => true,
        Err(LogError::UnknownTopic(_)) => false,
        Err(e) => return Err(e.into()),
    };
    let copied = copy_missing(log, dir, marker, staging_exists)?;
    write_outputs(dir, marker)?;
    if staging_exists {
        log.delete_topic(&marker.staging)?;
    }
    let path = marker_path(dir, &marker.target);
    std::fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
    Ok(copied)
}

/// Copy into the target what it lacks of each staged partition; returns the records
/// copied. Without the staging topic (deleted once published), checks that nothing is
/// missing.
fn copy_missing(log: &dyn Log, dir: &Path, marker: &Marker, staging_exists: bool) -> Result<u64> {
    ensure_topic(log, &marker.target, marker.config.partitions)?;
    let ends = log.end_offsets(&marker.target)?;
    let path = marker_path(dir, &marker.target);
    let mut copied = 0;
    for (p, ((&start, &staged), &end)) in marker
        .start
        .iter()
        .zip(&marker.staged)
        .zip(&ends)
        .enumerate()
    {
        let done = end
            .checked_sub(start)
            .filter(|&d| d <= staged)
            .ok_or_else(|| {
                marker_error(
                    &path,
                    format!(
                        "partition {p} of {} ends at {end}, outside the import's range {start}..{}",
                        marker.target,
                        start + staged
                    ),
                )
            })?;
        if done == staged {
            continue;
        }
        if !staging_exists {
            return Err(marker_error(
                &path,
                format!("its staging topic {} is gone", marker.staging),
            ));
        }
        copied += copy_partition(log, marker, p as u32, done, staged)?;
    }
    Ok(copied)
}

/// Copy records `from..to` of staging partition `p` to the same partition of the
/// target, in order; returns how many.
pub(crate) fn copy_partition(
    log: &dyn Log,
    marker: &Marker,
    p: u32,
    from: u64,
    to: u64,
) -> Result<u64> {
    let mut next = from;
    let mut batch = Vec::with_capacity(COPY_BATCH);
    while next < to {
        let limits = FetchLimits {
            max_records: COPY_BATCH.min(usize::try_from(to - next).unwrap_or(COPY_BATCH)),
            ..FetchLimits::default()
        };
        batch.clear();
        log.fetch_each(&marker.staging, p, next, limits, &mut |r| {
            let r = r.to_record();
            batch.push(NewRecord {
                key: r.key,
                value: r.value,
                event_time: r.event_time,
                headers: r.headers,
            });
            ControlFlow::Continue(())
        })?;
        if batch.is_empty() {
            return Err(DatasetError::CommitMarker {
                file: PathBuf::from(&marker.staging),
                reason: format!("staging partition {p} ends before offset {to}"),
            });
        }
        log.append(&marker.target, p, &batch)?;
        next += batch.len() as u64;
    }
    Ok(to - from)
}

/// The files published with the records: the YSB campaign table, the rejects file
/// (renamed from its temporary path), then the sidecar.
fn write_outputs(dir: &Path, marker: &Marker) -> Result<()> {
    if let TopicContent::Generated(g) = &marker.sidecar
        && g.options.dataset == crate::DatasetKind::Ysb
        && let Some(path) = &g.campaigns_file
    {
        crate::ysb::YsbCampaigns::new(g.options.seed).write_csv(path)?;
    }
    if let Some(rejects) = &marker.rejects {
        let tmp = durable::temp_path(rejects);
        if tmp.exists() {
            std::fs::rename(&tmp, rejects).ctx(|| format!("rename {}", tmp.display()))?;
        }
    }
    sidecar::write(dir, &marker.target, &marker.sidecar)?;
    Ok(())
}

/// Clean up after interrupted imports into `topic` (run before each import): roll a
/// committed one forward, delete the staging topics of the others. Returns what was
/// done, one entry per interrupted import.
pub fn recover(log: &dyn Log, dir: &Path, topic: &str) -> Result<Vec<Recovery>> {
    master_log::validate_name(topic)?;
    let mut done = Vec::new();
    let marker = read_marker(dir, topic)?;
    if let Some(m) = &marker {
        let copied = finish(log, dir, m)?;
        done.push(Recovery::RolledForward {
            staging: m.staging.clone(),
            target: m.target.clone(),
            copied,
            records: m.staged.iter().sum(),
        });
    }
    let prefix = format!("{topic}{STAGING_INFIX}");
    let mut stagings: Vec<String> = log
        .list_topics()?
        .into_iter()
        .map(|t| t.name)
        .filter(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect();
    stagings.sort();
    for staging in stagings {
        let records = crate::topic::topic_records(log, &staging)?;
        log.delete_topic(&staging)?;
        done.push(Recovery::Discarded { staging, records });
    }
    Ok(done)
}

/// Interrupted imports seen from the files alone, without opening the log (for a
/// report such as `lk log verify`'s): a line per staging topic directory in
/// `topics_dir` and per commit marker in `sidecar_dir`. Each is finished or discarded by
/// the next import or generate into its topic.
pub fn interrupted(topics_dir: &Path, sidecar_dir: &Path) -> Vec<String> {
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for name in names(topics_dir) {
        if let Some((target, _)) = name.split_once(STAGING_INFIX) {
            out.push(format!(
                "staging topic {name}: an interrupted import into {target} (the next import \
                 or generate into {target} finishes or discards it)"
            ));
        }
    }
    for name in names(sidecar_dir) {
        if let Some(target) = name.strip_suffix(".commit.json") {
            out.push(format!(
                "commit marker {}: a committed import into {target} not yet published \
                 whole (the next import or generate into {target} finishes it)",
                sidecar_dir.join(&name).display()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::{Column, ColumnType, Schema};
    use master_log::EmbeddedLog;

    struct Fixture {
        _dir: tempfile::TempDir,
        log: EmbeddedLog,
        sidecars: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path().join("log")).unwrap();
        let sidecars = dir.path().join("datasets");
        Fixture {
            _dir: dir,
            log,
            sidecars,
        }
    }

    fn content() -> TopicContent {
        TopicContent::Csv {
            schema: Schema {
                columns: vec![Column {
                    name: "ts".into(),
                    ty: ColumnType::Timestamp,
                }],
                time_column: "ts".into(),
                key_column: None,
            },
            imports: Vec::new(),
        }
    }

    /// Record `i` of partition `p` of a test: its value says which.
    fn record(tag: &str, p: u32, i: u64) -> NewRecord {
        NewRecord::value(format!("{tag}-{p}-{i}").into_bytes(), i as i64)
    }

    /// Append `n` records tagged `tag` to each partition of `topic`.
    fn fill(log: &dyn Log, topic: &str, tag: &str, n: u64) {
        for p in 0..log.partition_count(topic).unwrap() {
            let recs: Vec<NewRecord> = (0..n).map(|i| record(tag, p, i)).collect();
            log.append(topic, p, &recs).unwrap();
        }
    }

    /// The values of every partition of `topic`, in offset order.
    fn values(log: &dyn Log, topic: &str) -> Vec<Vec<String>> {
        (0..log.partition_count(topic).unwrap())
            .map(|p| {
                let mut out = Vec::new();
                let end = log.offsets(topic, p).unwrap().1;
                while (out.len() as u64) < end {
                    let got = log
                        .fetch(topic, p, out.len() as u64, FetchLimits::default())
                        .unwrap();
                    out.extend(
                        got.iter()
                            .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap()),
                    );
                }
                out
            })
            .collect()
    }

    fn topics(log: &dyn Log) -> Vec<String> {
        let mut names: Vec<String> = log
            .list_topics()
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .filter(|n| !n.starts_with("__"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_crash_before_the_marker_leaves_the_target_untouched_and_the_staging_deleted() {
        let f = fixture();
        f.log
            .create_topic("t", TopicConfig::with_partitions(2))
            .unwrap();
        fill(&f.log, "t", "old", 5);
        let before = values(&f.log, "t");
        let stage = begin(&f.log, "t", 4).unwrap();
        assert_eq!(stage.partitions(), 2, "the target's partitions");
        fill(&f.log, &stage.topic, "new", 100);
        // The process dies here: no marker.
        drop(stage);
        let done = recover(&f.log, &f.sidecars, "t").unwrap();
        assert!(
            matches!(&done[..], [Recovery::Discarded { records: 200, .. }]),
            "{done:?}"
        );
        assert_eq!(values(&f.log, "t"), before);
        assert_eq!(topics(&f.log), ["t"]);
        assert!(recover(&f.log, &f.sidecars, "t").unwrap().is_empty());
    }

    #[test]
    fn a_crash_after_the_marker_mid_copy_rolls_forward_every_record_once_in_order() {
        let f = fixture();
        f.log
            .create_topic("t", TopicConfig::with_partitions(3))
            .unwrap();
        fill(&f.log, "t", "old", 4);
        let old = values(&f.log, "t");
        let stage = begin(&f.log, "t", 3).unwrap();
        fill(&f.log, &stage.topic, "new", 5_000);
        let staged = values(&f.log, &stage.topic);
        let marker = write_marker(&f.log, &f.sidecars, stage, content(), None).unwrap();
        // The process dies mid-copy: partition 0 copied in part, 1 whole, 2 not at all.
        copy_partition(&f.log, &marker, 0, 0, 1_234).unwrap();
        copy_partition(&f.log, &marker, 1, 0, 5_000).unwrap();
        let done = recover(&f.log, &f.sidecars, "t").unwrap();
        assert_eq!(
            done,
            [Recovery::RolledForward {
                staging: marker.staging.clone(),
                target: "t".into(),
                copied: 5_000 - 1_234 + 5_000,
                records: 15_000,
            }]
        );
        let want: Vec<Vec<String>> = old
            .iter()
            .zip(&staged)
            .map(|(o, s)| o.iter().chain(s).cloned().collect())
            .collect();
        assert_eq!(values(&f.log, "t"), want);
        assert_eq!(topics(&f.log), ["t"]);
        assert!(!marker_path(&f.sidecars, "t").exists());
        assert_eq!(
            crate::sidecar::read_sidecar(&f.sidecars, "t")
                .unwrap()
                .unwrap()
                .content,
            content()
        );
        // Recovered once: a second recovery finds nothing to do.
        assert!(recover(&f.log, &f.sidecars, "t").unwrap().is_empty());
        assert_eq!(values(&f.log, "t"), want);
    }

    #[test]
    fn a_committed_import_into_a_new_topic_is_published_after_a_crash_before_the_copy() {
        let f = fixture();
        let stage = begin(&f.log, "fresh", 2).unwrap();
        fill(&f.log, &stage.topic, "new", 10);
        let staged = values(&f.log, &stage.topic);
        write_marker(&f.log, &f.sidecars, stage, content(), None).unwrap();
        let done = recover(&f.log, &f.sidecars, "fresh").unwrap();
        assert!(
            matches!(&done[..], [Recovery::RolledForward { copied: 20, .. }]),
            "{done:?}"
        );
        assert_eq!(values(&f.log, "fresh"), staged);
        assert_eq!(topics(&f.log), ["fresh"]);
    }

    #[test]
    fn a_damaged_marker_is_an_error_and_nothing_is_deleted() {
        let f = fixture();
        let stage = begin(&f.log, "t", 1).unwrap();
        fill(&f.log, &stage.topic, "new", 3);
        write_marker(&f.log, &f.sidecars, stage, content(), None).unwrap();
        let path = marker_path(&f.sidecars, "t");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen("new", "nEw", 1)
                .replacen("\\\"t\\\"", "\\\"u\\\"", 1),
        )
        .unwrap();
        let err = recover(&f.log, &f.sidecars, "t").unwrap_err();
        assert!(matches!(err, DatasetError::CommitMarker { .. }), "{err}");
        assert!(err.to_string().contains("checksum"), "{err}");
        assert_eq!(topics(&f.log).len(), 1, "the staging topic is kept");
    }

    #[test]
    fn reserved_staging_names_are_refused_as_targets() {
        assert!(check_target_name("t.staging-1a").is_err());
        assert!(check_target_name("t.staging").is_ok());
    }
}
