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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use master_log::Log;
use parking_lot::RwLock;
use serving_layer::{BatchPart, Generation, LambdaSnapshot};
use speed_layer::SpeedLayer;
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

/// The views of a Lambda pipeline running in this process: the batch view last published
/// and the speed layer's realtime view, read together so that a query never sees a new
/// realtime view (generations expired) with an old batch view (a gap) — publishing a
/// batch view and expiring the generations it covers is one step under the write lock.
#[derive(Debug)]
pub struct LiveLambda {
    pub workload: Workload,
    pub topic: String,
    pub speed: SpeedLayer,
    batch: RwLock<Option<Arc<BatchPart>>>,
}

impl LiveLambda {
    pub fn new(workload: Workload, topic: String, speed: SpeedLayer) -> Self {
        LiveLambda {
            workload,
            topic,
            speed,
            batch: RwLock::new(None),
        }
    }

    /// Serve `part` from now on and expire the realtime generations it covers.
    pub fn publish(&self, part: BatchPart) -> anyhow::Result<()> {
        let mut slot = self.batch.write();
        let horizon = part.horizon.clone();
        *slot = Some(Arc::new(part));
        self.speed.expire(&horizon)?;
        Ok(())
    }

    /// One consistent snapshot: batch view, realtime generations and positions, and the
    /// head of the log.
    pub fn snapshot(&self, log: &dyn Log) -> anyhow::Result<LambdaSnapshot> {
        let slot = self.batch.read();
        let rt = self.speed.snapshot();
        let head = log.end_offsets(&self.topic)?;
        Ok(LambdaSnapshot {
            batch: slot.as_deref().cloned(),
            realtime: generations(rt.generations),
            positions: rt.positions,
            head,
        })
    }
}
