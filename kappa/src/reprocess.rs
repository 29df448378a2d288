//! Reprocessing (Kreps' recipe): a new job version replays the retained log from offset 0
//! into a new table while the old version keeps serving; when it has caught up, the alias
//! switches atomically; the old version is retired on request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use master_log::{Log, LogError};
use serde::Serialize;
use workloads::Workload;

use crate::config::{JobConfig, changelog_topic, job_name, late_topic, state_dir};
use crate::error::{KappaError, Result, error_chain, io_err};
use crate::job::{Job, RunningJob};
use crate::status::{JobReport, JobStatus};
use crate::table;

/// What a reprocessing run did.
#[derive(Debug, Clone, Serialize)]
pub struct ReprocessReport {
    /// The version serving before the switch (if any).
    pub old_version: Option<u32>,
    /// The new version, serving after the switch.
    pub new_version: u32,
    /// The new version's run, to its stop after the switch.
    pub run: JobReport,
    /// Input records read by the new version when it was switched to.
    pub records: u64,
    /// From the start of the reprocessing until the new version's job had started (its
    /// topics made, its group joined), in ms.
    pub setup_ms: u64,
    /// From the start until the new version had caught up, in ms.
    pub caught_up_ms: u64,
    /// From the start of the reprocessing to the alias switch, in ms: the job set up,
    /// its replay until caught up, a checkpoint of every task with the table written,
    /// and the switch.
    pub elapsed_ms: u64,
    /// The new version's reading rate: [`ReprocessReport::records`] per second of
    /// [`ReprocessReport::elapsed_ms`].
    pub records_per_s: f64,
    /// Wall-clock time of the alias switch (ms since the epoch).
    pub switched_at_ms: i64,
    /// From the switch until the job had stopped, in ms: a last checkpoint of any
    /// records that came meanwhile, and the local stores taking in the checkpoints.
    pub stopped_ms: u64,
}

/// Run `workload` as version `config.version` from the beginning of the topic (or from
/// its own checkpoints, if an earlier reprocessing of this version was interrupted) until
/// its lag is at most `max_lag` records, checkpoint it, then make it the serving version
/// with one atomic rename of the alias. The old version keeps serving until that rename.
///
/// `progress` is called about twice a second with the new version's status (positions,
/// lag, records read: enough for a rate and an ETA).
///
/// The switch waits for what serving needs: the checkpoints on the changelog and the
/// group's offsets, and the table's files. The job is stopped after it: its tasks'
/// local stores then take in their last checkpoints (a copy of what the changelog holds,
/// which only spares the next open a catch-up), timed in
/// [`ReprocessReport::stopped_ms`]. An error from that stop comes after the switch: the
/// new version serves. Run the job again (same version) to keep it current: it resumes
/// from its checkpoints.
pub fn reprocess(
    log: Arc<dyn Log>,
    workload: Workload,
    mut config: JobConfig,
    max_lag: u64,
    timeout: Duration,
    progress: &mut dyn FnMut(&JobStatus),
) -> Result<ReprocessReport> {
    let old_version = table::serving_version(&config.dir, workload.name())?;
    if old_version == Some(config.version) {
        return Err(KappaError::Config(format!(
            "{} is already the serving version; reprocess into a new version",
            job_name(workload.name(), config.version)
        )));
    }
    config.serve_if_none = false;
    let dir = config.dir.clone();
    let started = Instant::now();
    let deadline = started + timeout;
    let job = Job::new(log, workload, config)?;
    let running = job.start()?;
    let setup = started.elapsed();
    let timed_out = |running: RunningJob| {
        running.stop()?;
        Err(KappaError::Worker(format!(
            "{} did not catch up and checkpoint within {:.1} s",
            job.name(),
            timeout.as_secs_f64()
        )))
    };
    // Phase 1: replay until caught up (or within `max_lag`).
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let caught_up = running.wait_caught_up(left.min(Duration::from_millis(500)))?;
        let s = running.status();
        progress(&s);
        if caught_up || (s.ready && s.lag <= max_lag) {
            break;
        }
        if left.is_zero() {
            return timed_out(running);
        }
    }
    let caught_up = started.elapsed();
    // Phase 2: checkpoint every task where it is, and write the table.
    let left = deadline.saturating_duration_since(Instant::now());
    if !running.checkpoint_now(left)? {
        return timed_out(running);
    }
    // Phase 3: switch the alias to the new version.
    let new_version = job.config().version;
    let status = running.status();
    let written: Vec<u32> = status.partitions.iter().map(|p| p.partition).collect();
    if let Err(e) = table::set_serving_written(&dir, job.workload().name(), new_version, &written) {
        // The old version still serves; the new one keeps what it checkpointed.
        if let Err(stop) = running.stop() {
            tracing::warn!(
                "after a failed switch, stopping the job failed too: {}",
                error_chain(&stop)
            );
        }
        return Err(e);
    }
    let switched_at_ms = master_log::now_ms();
    let elapsed = started.elapsed();
    // Phase 4: stop the job (a last checkpoint of what came meanwhile; the stores).
    let run = running.stop()?;
    let records: u64 = status.partitions.iter().map(|p| p.records).sum();
    Ok(ReprocessReport {
        old_version,
        new_version,
        records,
        setup_ms: setup.as_millis() as u64,
        caught_up_ms: caught_up.as_millis() as u64,
        elapsed_ms: elapsed.as_millis() as u64,
        records_per_s: records as f64 / elapsed.as_secs_f64().max(1e-9),
        switched_at_ms,
        stopped_ms: (started.elapsed() - elapsed).as_millis() as u64,
        run,
    })
}

/// Retire a version that is not serving: delete its table, its local stores, its
/// changelog and its late-events topic.
pub fn retire(log: &dyn Log, config: &JobConfig, workload: &str, version: u32) -> Result<()> {
    table::delete_version(&config.dir, workload, version)?;
    let job = job_name(workload, version);
    let state = state_dir(&config.dir, &job);
    match std::fs::remove_dir_all(&state) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("delete {}", state.display()))(e)),
    }
    let on_log = config.log_name(&job);
    for topic in [changelog_topic(&on_log), late_topic(&on_log)] {
        match log.delete_topic(&topic) {
            Ok(()) | Err(LogError::UnknownTopic(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
