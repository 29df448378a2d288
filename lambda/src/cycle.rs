//! The batch cycle, written once: recompute below a horizon, publish the view
//! atomically (store, then the views queries read, expiring the realtime generations it
//! covers), save the realtime view beside it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use batch_layer::BatchView;
use master_log::Log;
use serving_layer::BatchPart;
use workloads::Workload;

use crate::Result;
use crate::layout::ViewFiles;
use crate::views::LiveViews;

/// What one batch run did.
#[derive(Debug, Clone)]
pub struct BatchRun {
    /// The published version in the view store (`None` without files).
    pub version: Option<u64>,
    /// Per partition, the end offset (exclusive) the view covers.
    pub horizon: Vec<u64>,
    /// When the horizon was taken (the speed layer opened its generation there).
    pub horizon_taken: Instant,
    /// When the recompute started and when the view was published.
    pub started: Instant,
    /// When the view was published (and the realtime generations below it expired).
    pub finished: Instant,
    /// Records read below the horizon (duplicates included).
    pub records_read: u64,
    /// Distinct events below the horizon.
    pub events: u64,
    /// Cells of the view.
    pub cells: usize,
}

/// What a batch run reads and where it publishes.
#[derive(Debug, Clone)]
pub(crate) struct Cycle {
    pub log: Arc<dyn Log>,
    pub workload: Workload,
    pub topic: String,
    pub sidecar_dir: std::path::PathBuf,
    pub files: Option<ViewFiles>,
    pub views: Arc<LiveViews>,
}

impl Cycle {
    /// Whether a run at `horizon` would recompute anything new: not when the served
    /// view has this horizon already, nor when nothing lies below it and nothing is
    /// served.
    pub fn worth_running(&self, horizon: &[u64]) -> bool {
        match self.views.horizon() {
            Some(served) => served != horizon,
            None => horizon.iter().any(|&h| h > 0),
        }
    }

    /// One batch run over `[0, horizon)`, the horizon taken at `taken`; `None` when it
    /// is not [worth running](Cycle::worth_running).
    pub fn run(&self, horizon: &[u64], taken: Instant) -> Result<Option<BatchRun>> {
        if !self.worth_running(horizon) {
            return Ok(None);
        }
        let started = Instant::now();
        let view = batch_layer::recompute_at(
            self.log.as_ref(),
            &self.workload,
            &self.topic,
            &self.sidecar_dir,
            horizon,
        )?;
        let (records_read, events, cells) = (view.records_read, view.events, view.table.len());
        let horizon = view.horizon.clone();
        let version = publish(
            self.views.speed(),
            Some(&self.views),
            self.files.as_ref(),
            view,
        )?;
        Ok(Some(BatchRun {
            version,
            horizon,
            horizon_taken: taken,
            started,
            finished: Instant::now(),
            records_read,
            events,
            cells,
        }))
    }

    /// Save the realtime view (when the pipeline has files).
    pub fn save_realtime(&self) -> Result<()> {
        if let Some(f) = &self.files {
            self.views.speed().save(&f.realtime)?;
        }
        Ok(())
    }
}

/// Publish `view`: into the store (atomically and durably; its version is returned),
/// then to the views queries read in this process, if any (expiring the realtime
/// generations it covers; without views, the speed layer's generations are expired
/// alone), then save the realtime view beside it, so that the files on disk always pair
/// a batch view with the realtime state above its horizon.
pub(crate) fn publish(
    speed: &speed_layer::SpeedLayer,
    views: Option<&LiveViews>,
    files: Option<&ViewFiles>,
    view: BatchView,
) -> Result<Option<u64>> {
    let version = files.map(|f| f.store.publish(&view)).transpose()?;
    match views {
        Some(v) => v.publish(BatchPart {
            horizon: view.horizon,
            table: view.table,
        })?,
        None => {
            speed.expire(&view.horizon)?;
        }
    }
    if let Some(f) = files {
        speed.save(&f.realtime)?;
    }
    Ok(version)
}

/// Recompute `workload` over everything `topic` holds now, from scratch: what Lambda
/// does to apply a changed workload to all of history (the counterpart of Kappa's
/// reprocessing by replay). The view is returned, not published.
pub fn recompute(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
) -> Result<BatchView> {
    Ok(batch_layer::recompute(log, workload, topic, sidecar_dir)?)
}

/// The batch layer alone (`lk lambda batch`): recompute over everything `topic` holds
/// now and publish the view into `store`; the returned view carries its version. A speed
/// layer resuming from the same files later starts at its horizon.
pub fn recompute_and_publish(
    log: &dyn Log,
    workload: &Workload,
    topic: &str,
    sidecar_dir: &Path,
    store: &batch_layer::ViewStore,
) -> Result<BatchView> {
    let mut view = recompute(log, workload, topic, sidecar_dir)?;
    view.version = store.publish(&view)?;
    Ok(view)
}
