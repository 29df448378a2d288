//! Where the pipelines' views live in a data directory, and how `lk query` and `lk serve`
//! read them back:
//!
//! ```text
//!   one process (`lk lambda batch|speed|run`):
//!   <data>/lambda/<workload>/batch/      the batch layer's ViewStore (CURRENT → vN)
//!   <data>/lambda/<workload>/realtime.view   the speed layer's saved realtime view
//!
//!   the workers of a group (`lk lambda run --worker`), one directory per partition:
//!   <data>/lambda/<workload>/partitions/<p>/batch/          partition p's batch views
//!   <data>/lambda/<workload>/partitions/<p>/realtime.view   partition p's realtime view
//! ```
//!
//! A workload's views have one layout or the other (each command refuses to mix them;
//! `lk lambda reset` removes both). Queries merge the per-partition views into one
//! snapshot ([`serving_layer::LambdaSnapshot::from_partitions`]). A process running the
//! pipeline (`lk lambda run`) serves its live views instead; see [`LiveLambda`].

use anyhow::Context as _;
use master_log::Log;
use serving_layer::{BatchPart, Generation, LambdaSnapshot};
use std::path::{Path, PathBuf};

pub use compare::LiveLambda;
use workloads::Workload;

pub fn lambda_dir(data: &Path, workload: &Workload) -> PathBuf {
    data.join("lambda").join(workload.name())
}

pub fn batch_store(data: &Path, workload: &Workload) -> anyhow::Result<batch_layer::ViewStore> {
    Ok(batch_layer::ViewStore::open(
        lambda_dir(data, workload).join("batch"),
    )?)
}

pub fn realtime_file(data: &Path, workload: &Workload) -> PathBuf {
    lambda_dir(data, workload).join("realtime.view")
}

/// Where the workers of a Lambda group keep partition `p`'s views.
pub fn partition_dir(data: &Path, workload: &Workload, p: u32) -> PathBuf {
    lambda_dir(data, workload)
        .join("partitions")
        .join(p.to_string())
}

pub fn partition_store(
    data: &Path,
    workload: &Workload,
    p: u32,
) -> anyhow::Result<batch_layer::ViewStore> {
    Ok(batch_layer::ViewStore::open(
        partition_dir(data, workload, p).join("batch"),
    )?)
}

pub fn partition_realtime_file(data: &Path, workload: &Workload, p: u32) -> PathBuf {
    partition_dir(data, workload, p).join("realtime.view")
}

/// The partitions that have a directory of per-partition views (workers' layout),
/// ascending; empty for the one-process layout.
pub fn worker_partitions(data: &Path, workload: &Workload) -> anyhow::Result<Vec<u32>> {
    let dir = lambda_dir(data, workload).join("partitions");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("list {}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("list {}", dir.display()))?;
        let name = entry.file_name();
        let p = name
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .with_context(|| {
                format!("{} is not a partition's directory", entry.path().display())
            })?;
        out.push(p);
    }
    out.sort_unstable();
    Ok(out)
}

/// Whether the one-process layout holds views (a published batch view or a saved
/// realtime view).
pub fn has_single_process_views(data: &Path, workload: &Workload) -> anyhow::Result<bool> {
    let dir = lambda_dir(data, workload).join("batch");
    let published = dir.is_dir() && batch_store(data, workload)?.current_version()?.is_some();
    Ok(published || realtime_file(data, workload).exists())
}

/// Fail when `workload`'s views are in the other layout than the one a command writes.
pub fn check_layout(data: &Path, workload: &Workload, workers: bool) -> anyhow::Result<()> {
    let name = workload.name();
    let dir = lambda_dir(data, workload);
    if workers && has_single_process_views(data, workload)? {
        anyhow::bail!(
            "workload {name} has Lambda views of one process in {} (from `lk lambda run`, `batch` or `speed`); the workers of a group keep theirs per partition: remove the old ones first with `lk lambda reset --workload {name}`",
            dir.display()
        );
    }
    if !workers && !worker_partitions(data, workload)?.is_empty() {
        anyhow::bail!(
            "workload {name} has per-partition Lambda views of workers (`lk lambda run --worker`) in {}: keep running workers, or remove them first with `lk lambda reset --workload {name}`",
            dir.display()
        );
    }
    Ok(())
}

fn generations(gens: Vec<speed_layer::Generation>) -> Vec<Generation> {
    gens.into_iter()
        .map(|g| Generation {
            from: g.from,
            table: g.table,
        })
        .collect()
}

/// The Lambda views of `workload` as saved in `data`, or `None` when neither layer has
/// written one yet. The head is read from `topic`, else from the topic the batch view
/// was computed over, else from the workload's default topic.
pub fn lambda_from_files(
    data: &Path,
    workload: &Workload,
    topic: Option<&str>,
    log: &dyn Log,
) -> anyhow::Result<Option<LambdaSnapshot>> {
    let partitions = worker_partitions(data, workload)?;
    if !partitions.is_empty() {
        return partitioned_from_files(data, workload, topic, log, &partitions);
    }
    let batch = batch_store(data, workload)?.current()?;
    let topic = topic
        .or(batch.as_ref().map(|b| b.topic.as_str()))
        .unwrap_or(workload.topic());
    let head = log.end_offsets(topic)?;
    saved_snapshot(batch, &realtime_file(data, workload), head)
}

/// The workers' per-partition views, merged into one snapshot.
fn partitioned_from_files(
    data: &Path,
    workload: &Workload,
    topic: Option<&str>,
    log: &dyn Log,
    partitions: &[u32],
) -> anyhow::Result<Option<LambdaSnapshot>> {
    let mut batches = Vec::new();
    for &p in partitions {
        batches.push((p, partition_store(data, workload, p)?.current()?));
    }
    let topic = topic
        .or(batches
            .iter()
            .find_map(|(_, b)| b.as_ref().map(|b| b.topic.as_str())))
        .unwrap_or(workload.topic())
        .to_owned();
    let head = log.end_offsets(&topic)?;
    let mut parts: Vec<Option<LambdaSnapshot>> = vec![None; head.len()];
    for (p, batch) in batches {
        let Some(slot) = parts.get_mut(p as usize) else {
            anyhow::bail!(
                "{} holds views of partition {p}, but topic {topic} has {} partition(s)",
                lambda_dir(data, workload).display(),
                head.len()
            );
        };
        let file = partition_realtime_file(data, workload, p);
        *slot = saved_snapshot(batch, &file, head.clone())?;
    }
    Ok(LambdaSnapshot::from_partitions(parts, head)?)
}

/// A published batch view and the realtime view saved in `file` (when it exists) as one
/// snapshot; `None` when neither holds anything.
fn saved_snapshot(
    batch: Option<batch_layer::BatchView>,
    file: &Path,
    head: Vec<u64>,
) -> anyhow::Result<Option<LambdaSnapshot>> {
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
