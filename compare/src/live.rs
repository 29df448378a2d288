//! The Lambda pipeline's live views in one process: the batch view last published and
//! the speed layer's realtime view, read together.

use std::sync::Arc;

use master_log::Log;
use parking_lot::RwLock;
use serving_layer::{BatchPart, Generation, LambdaSnapshot};
use speed_layer::SpeedLayer;
use workloads::Workload;

use crate::Result;

/// The views of a Lambda pipeline running in this process. A query never sees a new
/// realtime view (generations expired) with an old batch view (a gap): publishing a
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
    pub fn publish(&self, part: BatchPart) -> Result<()> {
        let mut slot = self.batch.write();
        let horizon = part.horizon.clone();
        *slot = Some(Arc::new(part));
        self.speed.expire(&horizon)?;
        Ok(())
    }

    /// One consistent snapshot: batch view, realtime generations and positions, and the
    /// head of the log.
    pub fn snapshot(&self, log: &dyn Log) -> Result<LambdaSnapshot> {
        let slot = self.batch.read();
        let rt = self.speed.snapshot();
        let head = log.end_offsets(&self.topic)?;
        Ok(LambdaSnapshot {
            batch: slot.as_deref().cloned(),
            realtime: rt
                .generations
                .into_iter()
                .map(|g| Generation {
                    from: g.from,
                    table: g.table,
                })
                .collect(),
            positions: rt.positions,
            head,
        })
    }
}
