//! The incremental operator of a workload: the decoder shared with the Kappa job
//! ([`datasets::StreamDecoder`]) turns one record into an event; [`Operator::fold`] adds
//! what the event contributes to every cell it belongs to in a [`PartialTable`].

use std::path::Path;

use datasets::{DatasetError, StreamDecoder, StreamEvent, Update};
use master_log::Record;
use workloads::{Partial, PartialTable, Scalar, WindowSpec, Workload};

use crate::{Result, SpeedError};

/// The incremental form of a workload.
#[derive(Debug)]
pub(crate) struct Operator {
    window: WindowSpec,
    empty: Vec<Partial>,
    decoder: StreamDecoder,
}

/// A decoder's error when it is not about one record: a workload that does not fit the
/// topic is the workloads crate's, one the speed layer cannot run is
/// [`SpeedError::Unsupported`].
fn speed_error(e: DatasetError) -> SpeedError {
    match e {
        DatasetError::Workload(e) => SpeedError::Workload(e),
        e @ (DatasetError::NoSidecar { .. }
        | DatasetError::SpecOverGenerated { .. }
        | DatasetError::UpdateMismatch(_)) => SpeedError::Unsupported(e.to_string()),
        e => SpeedError::Dataset(e),
    }
}

impl Operator {
    pub(crate) fn new(workload: &Workload, topic: &str, sidecar_dir: &Path) -> Result<Self> {
        Ok(Operator {
            window: workload.window(),
            empty: workload.empty_partials(),
            decoder: StreamDecoder::new(workload, topic, sidecar_dir).map_err(speed_error)?,
        })
    }

    /// Decode one record (cheap: postcard, no I/O); one that does not decode is
    /// [`SpeedError::BadRecord`].
    pub(crate) fn decode(&self, r: &Record) -> Result<StreamEvent<'_>> {
        self.decoder
            .decode_record(r.value.as_deref(), r.event_time)
            .map_err(|e| SpeedError::BadRecord {
                offset: r.offset,
                reason: e.to_string(),
            })
    }

    /// Add an event to every cell it belongs to: each window containing its time (a
    /// session event adds a `[t, t + gap)` cell; sessions are coalesced at query time).
    pub(crate) fn fold(
        &self,
        table: &mut PartialTable,
        time: i64,
        key: &[Scalar],
        update: &Update,
    ) -> Result<()> {
        for w in self.window.windows_of(time) {
            let cell = table.cell_mut(w, key.to_vec(), || self.empty.clone());
            self.decoder.fold(cell, update).map_err(speed_error)?;
        }
        Ok(())
    }
}
