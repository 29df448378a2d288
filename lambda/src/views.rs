//! The views a query merges: the batch view last published and the speed layer's
//! realtime view, swapped together so that a reader never sees a gap or a double count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use master_log::Log;
use parking_lot::{Condvar, Mutex, RwLock};
use serving_layer::{BatchPart, Generation, LambdaSnapshot};
use speed_layer::{RealtimeSnapshot, SpeedLayer};
use workloads::{PartialTable, Workload};

use crate::Result;

/// The live views of one Lambda pipeline in this process.
///
/// Publishing a batch view and expiring the realtime generations it covers is one step
/// under the write lock, and a snapshot reads both under the read lock: a query never
/// sees new realtime state (generations expired) with an old batch view (a gap), nor a
/// new batch view with realtime state it covers (a double count).
#[derive(Debug)]
pub struct LiveViews {
    workload: Workload,
    topic: String,
    speed: SpeedLayer,
    batch: RwLock<Option<Arc<BatchPart>>>,
    /// Bumped at each publish, to wake [`LiveViews::wait_horizon`].
    published: Mutex<u64>,
    on_publish: Condvar,
}

impl LiveViews {
    /// The views of `speed` (the speed layer of `workload` over `topic`), with no batch
    /// view yet.
    pub fn new(workload: Workload, topic: String, speed: SpeedLayer) -> Self {
        LiveViews {
            workload,
            topic,
            speed,
            batch: RwLock::new(None),
            published: Mutex::new(0),
            on_publish: Condvar::new(),
        }
    }

    /// The workload these views answer.
    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// The topic the pipeline reads.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The speed layer (its realtime view, positions and generations).
    pub fn speed(&self) -> &SpeedLayer {
        &self.speed
    }

    /// The horizon of the batch view being served, if any.
    pub fn horizon(&self) -> Option<Vec<u64>> {
        self.batch.read().as_ref().map(|b| b.horizon.clone())
    }

    /// Serve `part` from now on and expire the realtime generations it covers.
    pub fn publish(&self, part: BatchPart) -> Result<()> {
        let mut slot = self.batch.write();
        let horizon = part.horizon.clone();
        *slot = Some(Arc::new(part));
        self.speed.expire(&horizon)?;
        drop(slot);
        *self.published.lock() += 1;
        self.on_publish.notify_all();
        Ok(())
    }

    /// Wait up to `timeout` until the served batch view covers every record below
    /// `target` (its horizon is at or past `target` in every partition); `false` on
    /// time-out.
    pub fn wait_horizon(&self, target: &[u64], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let covers = || {
            self.horizon().is_some_and(|h| {
                h.len() == target.len() && h.iter().zip(target).all(|(h, t)| h >= t)
            })
        };
        let mut published = self.published.lock();
        loop {
            if covers() {
                return true;
            }
            if self
                .on_publish
                .wait_until(&mut published, deadline)
                .timed_out()
            {
                return covers();
            }
        }
    }

    /// One consistent snapshot: batch view, realtime generations and positions, and the
    /// head of the log.
    pub fn snapshot(&self, log: &dyn Log) -> Result<LambdaSnapshot> {
        let slot = self.batch.read();
        let realtime = self.speed.snapshot();
        let head = log.end_offsets(&self.topic)?;
        Ok(snapshot_of(slot.as_deref().cloned(), realtime, head))
    }

    /// What a query sees now: the batch view merged with the realtime generations above
    /// its horizon.
    pub fn table(&self, log: &dyn Log) -> Result<PartialTable> {
        Ok(self.snapshot(log)?.merged()?)
    }
}

/// A batch part and a realtime snapshot as the serving layer's snapshot.
pub(crate) fn snapshot_of(
    batch: Option<BatchPart>,
    realtime: RealtimeSnapshot,
    head: Vec<u64>,
) -> LambdaSnapshot {
    LambdaSnapshot {
        batch,
        realtime: generations(realtime.generations),
        positions: realtime.positions,
        head,
    }
}

/// The speed layer's generations as the serving layer's.
pub(crate) fn generations(gens: Vec<speed_layer::Generation>) -> Vec<Generation> {
    gens.into_iter()
        .map(|g| Generation {
            from: g.from,
            table: g.table,
        })
        .collect()
}
