//! Where the pipelines' views live in a data directory, and how `lk query` and `lk serve`
//! read them back:
//!
//! ```text
//!   <data>/lambda/<workload>/batch/      the batch layer's ViewStore (CURRENT → vN)
//!   <data>/lambda/<workload>/realtime.view   the speed layer's saved realtime view
//! ```
//!
//! A process running the pipeline (`lk lambda run`) serves its live views instead; see
//! [`LiveLambda`].

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
    let batch = batch_store(data, workload)?.current()?;
    let topic = topic
        .or(batch.as_ref().map(|b| b.topic.as_str()))
        .unwrap_or(workload.topic());
    let head = log.end_offsets(topic)?;
    let horizon = batch.as_ref().map(|b| b.horizon.clone());
    let file = realtime_file(data, workload);
    let (realtime, positions) = if file.exists() {
        let snap = speed_layer::RealtimeSnapshot::load(&file, horizon.as_deref())?;
        (generations(snap.generations), snap.positions)
    } else {
        (
            Vec::new(),
            horizon.clone().unwrap_or_else(|| vec![0; head.len()]),
        )
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
