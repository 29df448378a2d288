//! Where a workload's Lambda views live in a directory, and how they are read back
//! when no pipeline is running (`lk query`, `lk serve`):
//!
//! ```text
//!   one process (Lambda::start, `lk lambda batch|speed|run`):
//!   <root>/<workload>/batch/                  the batch layer's ViewStore (CURRENT → vN)
//!   <root>/<workload>/realtime.view           the speed layer's saved realtime view
//!
//!   the workers of a group (worker::run, `lk lambda run --worker`), one directory per
//!   partition:
//!   <root>/<workload>/partitions/<p>/batch/          partition p's batch views
//!   <root>/<workload>/partitions/<p>/realtime.view   partition p's realtime view
//! ```
//!
//! A workload's views have one layout or the other ([`Layout::check`] refuses to mix
//! them; [`Layout::reset`] removes both). Reading merges the per-partition views into one
//! snapshot ([`serving_layer::LambdaSnapshot::from_partitions`]).

use std::path::{Path, PathBuf};

use batch_layer::{BatchView, ViewStore};
use master_log::Log;
use serving_layer::{BatchPart, LambdaSnapshot};
use workloads::Workload;

use crate::error::io;
use crate::views::generations;
use crate::{LambdaError, Result};

/// The files of one process's views: the batch view store and the realtime view file.
#[derive(Debug, Clone)]
pub struct ViewFiles {
    /// The published batch views.
    pub store: ViewStore,
    /// The speed layer's saved realtime view.
    pub realtime: PathBuf,
}

/// The directory of one workload's Lambda views.
#[derive(Debug, Clone)]
pub struct Layout {
    workload: String,
    dir: PathBuf,
}

impl Layout {
    /// The views of `workload` under `root` (`<data>/lambda` for `lk`).
    pub fn new(root: &Path, workload: &Workload) -> Layout {
        Layout {
            workload: workload.name().to_owned(),
            dir: root.join(workload.name()),
        }
    }

    /// The workload's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files of the one-process layout.
    pub fn files(&self) -> Result<ViewFiles> {
        Ok(ViewFiles {
            store: ViewStore::open(self.dir.join("batch"))?,
            realtime: self.dir.join("realtime.view"),
        })
    }

    /// Where the workers of a group keep partition `p`'s views.
    pub fn partition_files(&self, p: u32) -> Result<ViewFiles> {
        let dir = self.dir.join("partitions").join(p.to_string());
        Ok(ViewFiles {
            store: ViewStore::open(dir.join("batch"))?,
            realtime: dir.join("realtime.view"),
        })
    }

    /// The partitions that have a directory of per-partition views (the workers'
    /// layout), ascending; empty for the one-process layout.
    pub fn worker_partitions(&self) -> Result<Vec<u32>> {
        let dir = self.dir.join("partitions");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(format!("list {}", dir.display()))(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(format!("list {}", dir.display())))?;
            let p = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or_else(|| {
                    LambdaError::Layout(format!(
                        "{} is not a partition's directory",
                        entry.path().display()
                    ))
                })?;
            out.push(p);
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Whether the one-process layout holds views (a published batch view or a saved
    /// realtime view).
    pub fn has_single_process_views(&self) -> Result<bool> {
        let files = self.files()?;
        let published = self.dir.join("batch").is_dir() && files.store.current_version()?.is_some();
        Ok(published || files.realtime.exists())
    }

    /// Fail when the views are in the other layout than the one a command writes
    /// (`workers`: the per-partition layout).
    pub fn check(&self, workers: bool) -> Result<()> {
        let name = &self.workload;
        if workers && self.has_single_process_views()? {
            return Err(LambdaError::Layout(format!(
                "workload {name} has Lambda views of one process in {} (from `lk lambda run`, `batch` or `speed`); the workers of a group keep theirs per partition: remove the old ones first with `lk lambda reset --workload {name}`",
                self.dir.display()
            )));
        }
        if !workers && !self.worker_partitions()?.is_empty() {
            return Err(LambdaError::Layout(format!(
                "workload {name} has per-partition Lambda views of workers (`lk lambda run --worker`) in {}: keep running workers, or remove them first with `lk lambda reset --workload {name}`",
                self.dir.display()
            )));
        }
        Ok(())
    }

    /// Remove every view of the workload (both layouts); `false` when there was none.
    /// The log is untouched.
    pub fn reset(&self) -> Result<bool> {
        if !self.dir.exists() {
            return Ok(false);
        }
        std::fs::remove_dir_all(&self.dir).map_err(io(format!("remove {}", self.dir.display())))?;
        Ok(true)
    }

    /// The views as saved, as one snapshot, or `None` when neither layer has written one
    /// yet. The head is read from `topic`, else from the topic the batch view was
    /// computed over, else from the workload's default `default_topic`.
    pub fn saved_snapshot(
        &self,
        topic: Option<&str>,
        default_topic: &str,
        log: &dyn Log,
    ) -> Result<Option<LambdaSnapshot>> {
        let partitions = self.worker_partitions()?;
        if !partitions.is_empty() {
            return self.partitioned_snapshot(topic, default_topic, log, &partitions);
        }
        let files = self.files()?;
        let batch = files.store.current()?;
        let topic = topic
            .or(batch.as_ref().map(|b| b.topic.as_str()))
            .unwrap_or(default_topic);
        let head = log.end_offsets(topic)?;
        saved(batch, &files.realtime, head)
    }

    /// The workers' per-partition views, merged into one snapshot.
    fn partitioned_snapshot(
        &self,
        topic: Option<&str>,
        default_topic: &str,
        log: &dyn Log,
        partitions: &[u32],
    ) -> Result<Option<LambdaSnapshot>> {
        let mut batches = Vec::new();
        for &p in partitions {
            let files = self.partition_files(p)?;
            batches.push((p, files.store.current()?, files.realtime));
        }
        let topic = topic
            .or(batches
                .iter()
                .find_map(|(_, b, _)| b.as_ref().map(|b| b.topic.as_str())))
            .unwrap_or(default_topic)
            .to_owned();
        let head = log.end_offsets(&topic)?;
        let mut parts: Vec<Option<LambdaSnapshot>> = vec![None; head.len()];
        for (p, batch, file) in batches {
            let Some(slot) = parts.get_mut(p as usize) else {
                return Err(LambdaError::Layout(format!(
                    "{} holds views of partition {p}, but topic {topic} has {} partition(s)",
                    self.dir.display(),
                    head.len()
                )));
            };
            *slot = saved(batch, &file, head.clone())?;
        }
        Ok(LambdaSnapshot::from_partitions(parts, head)?)
    }
}

/// A published batch view and the realtime view saved in `file` (when it exists) as one
/// snapshot; `None` when neither holds anything.
fn saved(batch: Option<BatchView>, file: &Path, head: Vec<u64>) -> Result<Option<LambdaSnapshot>> {
    let horizon = batch.as_ref().map(|b| b.horizon.clone());
    let (realtime, positions) = if file.exists() {
        let snap = speed_layer::RealtimeSnapshot::load(file, horizon.as_deref())?;
        (generations(snap.generations), snap.positions)
    } else {
        (Vec::new(), horizon.unwrap_or_else(|| vec![0; head.len()]))
    };
    if batch.is_none() && realtime.is_empty() {
        return Ok(None);
    }
    Ok(Some(LambdaSnapshot {
        batch: batch.map(|b| BatchPart {
            horizon: b.horizon,
            table: b.table,
        }),
        realtime,
        positions,
        head,
    }))
}
