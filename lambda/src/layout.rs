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
//!
//! **Damaged views** are never served, nor an older version in their place. Every file is
//! checksummed (`batch_layer::ViewStore`, `speed_layer::RealtimeSnapshot::load`); a
//! published batch view that fails its checks, a missing one below a saved realtime view,
//! or a saved realtime view that fails its checks, is *damage*. A reader that knows the
//! dataset sidecars ([`Layout::rebuilding_with`]) warns and rebuilds: it recomputes the
//! batch view from the log up to its end as of then and publishes it as a new version
//! (the batch layer's job), and the realtime view restarts at that horizon (nothing is
//! above it yet). Without the sidecars, the damage is the reader's error
//! ([`LambdaError::Damaged`]). A rebuilding reader publishes into the store as a writer
//! would: run it while no pipeline of the workload publishes.

use std::path::{Path, PathBuf};

use batch_layer::{BatchError, BatchView, ViewStore};
use master_log::Log;
use serving_layer::{BatchPart, LambdaSnapshot};
use speed_layer::{RealtimeSnapshot, SpeedError};
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
    workload: Workload,
    dir: PathBuf,
    /// The dataset sidecars, when damaged views may be rebuilt from the log.
    sidecar_dir: Option<PathBuf>,
}

impl Layout {
    /// The views of `workload` under `root` (`<data>/lambda` for `lk`).
    pub fn new(root: &Path, workload: &Workload) -> Layout {
        Layout {
            workload: workload.clone(),
            dir: root.join(workload.name()),
            sidecar_dir: None,
        }
    }

    /// Let [`Layout::saved_snapshot`] rebuild a damaged view from the log (see the
    /// module's documentation); a recompute needs the dataset sidecars in `sidecar_dir`
    /// (`<data>/datasets` for `lk`).
    pub fn rebuilding_with(mut self, sidecar_dir: impl Into<PathBuf>) -> Layout {
        self.sidecar_dir = Some(sidecar_dir.into());
        self
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
        let name = self.workload.name();
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
    /// computed over, else from the workload's default `default_topic`. Damaged views are
    /// rebuilt, or an error (see the module's documentation).
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
        let read_topic = topic.unwrap_or(default_topic);
        let views = match read_views(&files.store, &files.realtime) {
            Ok(views) => views,
            Err(damage) => {
                Views::rebuilt(self.rebuild(&files.store, read_topic, None, log, damage)?)
            }
        };
        let topic = topic
            .or(views.batch.as_ref().map(|b| b.topic.as_str()))
            .unwrap_or(default_topic);
        let head = log.end_offsets(topic)?;
        Ok(views.snapshot(head))
    }

    /// The workers' per-partition views, merged into one snapshot.
    fn partitioned_snapshot(
        &self,
        topic: Option<&str>,
        default_topic: &str,
        log: &dyn Log,
        partitions: &[u32],
    ) -> Result<Option<LambdaSnapshot>> {
        let read_topic = topic.unwrap_or(default_topic);
        let mut views = Vec::new();
        for &p in partitions {
            let files = self.partition_files(p)?;
            let v = match read_views(&files.store, &files.realtime) {
                Ok(v) => v,
                Err(damage) => {
                    Views::rebuilt(self.rebuild(&files.store, read_topic, Some(p), log, damage)?)
                }
            };
            views.push((p, v));
        }
        let topic = topic
            .or(views
                .iter()
                .find_map(|(_, v)| v.batch.as_ref().map(|b| b.topic.as_str())))
            .unwrap_or(default_topic)
            .to_owned();
        let head = log.end_offsets(&topic)?;
        let mut parts: Vec<Option<LambdaSnapshot>> = vec![None; head.len()];
        for (p, v) in views {
            let Some(slot) = parts.get_mut(p as usize) else {
                return Err(LambdaError::Layout(format!(
                    "{} holds views of partition {p}, but topic {topic} has {} partition(s)",
                    self.dir.display(),
                    head.len()
                )));
            };
            *slot = v.snapshot(head.clone());
        }
        Ok(LambdaSnapshot::from_partitions(parts, head)?)
    }

    /// Rebuild damaged views (a reader's part, see the module's documentation): recompute
    /// the batch view over `topic` (partition `partition` only, for a worker's views) up
    /// to the log's end and publish it into `store`. Without the sidecars, the damage.
    fn rebuild(
        &self,
        store: &ViewStore,
        topic: &str,
        partition: Option<u32>,
        log: &dyn Log,
        damage: LambdaError,
    ) -> Result<BatchView> {
        let Some(sidecar_dir) = &self.sidecar_dir else {
            return Err(damage);
        };
        tracing::warn!(
            "{}; recomputing the batch view of {} from the log",
            master_log::error_chain(&damage),
            self.workload.name()
        );
        rebuild_batch_view(log, &self.workload, topic, sidecar_dir, store, partition)
    }
}

/// Recompute `workload`'s batch view over `topic` up to the log's end now (partition
/// `partition` alone, for a worker's views) and publish it into `store` as a new
/// version; the returned view carries its version. polars and rayon run on a thread of
/// their own (the caller may be on tokio).
pub(crate) fn rebuild_batch_view(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
    store: &ViewStore,
    partition: Option<u32>,
) -> Result<BatchView> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut view = match partition {
                None => batch_layer::recompute(log, workload, topic, sidecar_dir)?,
                Some(p) => {
                    let end = log.end_offsets(topic)?;
                    let views = batch_layer::recompute_partitions_at(
                        log,
                        workload,
                        topic,
                        sidecar_dir,
                        &end,
                        &[p],
                    )?;
                    views.into_iter().next().ok_or_else(|| {
                        LambdaError::Layout(format!("no view of partition {p} of {topic}"))
                    })?
                }
            };
            view.version = store.publish(&view)?;
            Ok(view)
        })
        .join()
        .map_err(|_| LambdaError::Thread("the recompute of a damaged view panicked".into()))?
    })
}

/// The published batch view of `files` for a pipeline that starts (`Lambda::new`): when
/// it is damaged, or missing below a saved realtime view that starts above offset 0,
/// it is recomputed from `topic` up to the log's end and published, with a warning. (A
/// damaged realtime view is the speed layer's to discard: `SpeedLayer::resume`.)
pub(crate) fn published_or_rebuilt(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
    files: &ViewFiles,
) -> Result<Option<BatchView>> {
    let damage: LambdaError = match files.store.current() {
        Ok(Some(view)) => return Ok(Some(view)),
        // No batch view: a saved realtime view must start at offset 0, else the batch
        // view below it is gone. (A damaged one is the speed layer's to discard; a
        // missing one is no error.)
        Ok(None) => match RealtimeSnapshot::load(&files.realtime, None) {
            Ok(snap) => match missing_below(&files.realtime, &snap) {
                Some(damage) => damage,
                None => return Ok(None),
            },
            Err(_) => return Ok(None),
        },
        Err(e @ BatchError::Corrupt { .. }) => LambdaError::Damaged(e.into()),
        Err(e) => return Err(e.into()),
    };
    tracing::warn!(
        "{}; recomputing the batch view of {} from the log",
        master_log::error_chain(&damage),
        workload.name()
    );
    rebuild_batch_view(log, workload, topic, sidecar_dir, &files.store, None).map(Some)
}

/// A batch view and a realtime view as saved (either may be missing).
struct Views {
    batch: Option<BatchView>,
    realtime: Option<RealtimeSnapshot>,
}

impl Views {
    /// A batch view just rebuilt at the log's end: no realtime view above it yet.
    fn rebuilt(batch: BatchView) -> Views {
        Views {
            batch: Some(batch),
            realtime: None,
        }
    }

    /// The pair as one snapshot against the log's `head`; `None` when neither holds
    /// anything.
    fn snapshot(self, head: Vec<u64>) -> Option<LambdaSnapshot> {
        let horizon = self.batch.as_ref().map(|b| b.horizon.clone());
        let (realtime, positions) = match self.realtime {
            Some(snap) => (generations(snap.generations), snap.positions),
            None => (Vec::new(), horizon.unwrap_or_else(|| vec![0; head.len()])),
        };
        if self.batch.is_none() && realtime.is_empty() {
            return None;
        }
        Some(LambdaSnapshot {
            batch: self.batch.map(|b| BatchPart {
                horizon: b.horizon,
                table: b.table,
            }),
            realtime,
            positions,
            head,
        })
    }
}

/// The published batch view of `store` and the realtime view saved in `file` (when it
/// exists), checked: `Err` with the damage when either is damaged, or when a realtime
/// view starts above offset 0 with no batch view below it (the batch view is gone).
fn read_views(store: &ViewStore, file: &Path) -> Result<Views> {
    let batch = store.current().map_err(|e| match e {
        e @ BatchError::Corrupt { .. } => LambdaError::Damaged(e.into()),
        e => e.into(),
    })?;
    let horizon = batch.as_ref().map(|b| b.horizon.clone());
    if !file.exists() {
        return Ok(Views {
            batch,
            realtime: None,
        });
    }
    let snap = RealtimeSnapshot::load(file, horizon.as_deref()).map_err(|e| match e {
        e @ SpeedError::BadSave { .. } => LambdaError::Damaged(e.into()),
        e => e.into(),
    })?;
    if batch.is_none()
        && let Some(damage) = missing_below(file, &snap)
    {
        return Err(damage);
    }
    Ok(Views {
        batch,
        realtime: Some(snap),
    })
}

/// The damage of a realtime view (saved in `file`) that starts above offset 0 while no
/// batch view covers the records below it; `None` when it starts at 0.
fn missing_below(file: &Path, snap: &RealtimeSnapshot) -> Option<LambdaError> {
    let base = snap.base().filter(|b| b.iter().any(|&o| o > 0))?;
    Some(LambdaError::Damaged(
        format!(
            "the realtime view {} starts at {base:?}, but no batch view covers the records \
             below",
            file.display()
        )
        .into(),
    ))
}
