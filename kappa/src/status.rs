//! A job's progress as it reports it: per partition ([`PartitionStatus`]), for the job
//! ([`JobStatus`]), and for a finished run ([`JobReport`]).

use serde::Serialize;

use crate::shared::{Inner, Shared};
use crate::table::combine_watermarks;
use crate::task::RestoreReport;

/// One input partition as the job sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionStatus {
    /// The input partition.
    pub partition: u32,
    /// Next offset to read.
    pub position: u64,
    /// The log end offset when last looked at.
    pub head: u64,
    /// Offset of the last checkpoint.
    pub checkpointed: u64,
    /// Checkpoints of the partition's state so far (its last checkpoint's sequence
    /// number; 0 before the first).
    pub checkpoints: u64,
    /// The partition's watermark: its largest event time minus the bound.
    pub watermark: Option<i64>,
    /// Caught up and without a new record for `idle_timeout`.
    pub idle: bool,
    /// A task of this process reads the partition now (with
    /// [`crate::JobConfig::distributed`], the others are other processes').
    pub owned: bool,
    /// Input records read.
    pub records: u64,
    /// Events folded into the windows.
    pub events: u64,
    /// Events dropped as duplicates (an id seen within the de-duplication window).
    pub duplicates: u64,
    /// Events too late for their windows (written to the late-events topic).
    pub late_events: u64,
}

/// A job's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    /// The job's name, `WORKLOAD.vN`.
    pub job: String,
    /// Every input partition, in order.
    pub partitions: Vec<PartitionStatus>,
    /// Min over non-idle partitions (max over all when every one is idle).
    pub watermark: Option<i64>,
    /// Every task has restored its state and started reading.
    pub ready: bool,
    /// Every partition has read to the head it last saw.
    pub caught_up: bool,
    /// Records between the positions and the heads.
    pub lag: u64,
    /// Cells of open windows, over all tasks.
    pub open_cells: u64,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// The job's progress at the end.
    pub status: JobStatus,
    /// How each task got its state back when it opened, by partition.
    pub restores: Vec<RestoreReport>,
    /// Wall-clock time from the start of the workers to the end.
    pub elapsed_ms: u64,
    /// Table writes made (each writes the parts published since the previous one).
    pub table_writes: u64,
}

impl Inner {
    /// One partition's progress as of `shared` (its head looked up on the log now).
    pub(crate) fn partition_status(&self, shared: &Shared, partition: u32) -> PartitionStatus {
        let l = &shared.live[partition as usize];
        // The log's end now (the worker's last look may be older).
        let head = self
            .log
            .offsets(&self.config.topic, partition)
            .map_or(l.head, |(_, latest)| latest.max(l.head));
        PartitionStatus {
            partition,
            position: l.position,
            head,
            checkpointed: shared.committed.get(&partition).copied().unwrap_or(0),
            checkpoints: shared.checkpoints.get(&partition).map_or(0, |c| c.seq),
            watermark: l.watermark,
            idle: l.opened
                && l.position >= head
                && l.last_data.elapsed() >= self.config.idle_timeout,
            owned: l.opened,
            records: l.records,
            events: l.events,
            duplicates: l.duplicates,
            late_events: l.late_events,
        }
    }

    /// The job's progress as of `shared` (the heads looked up on the log now).
    pub(crate) fn status_of(&self, shared: &Shared) -> JobStatus {
        let partitions: Vec<PartitionStatus> = (0..shared.live.len() as u32)
            .map(|p| self.partition_status(shared, p))
            .collect();
        let watermark = combine_watermarks(
            partitions
                .iter()
                .map(|p| (p.watermark, p.idle || (p.head == 0 && p.position == 0))),
        );
        // Distributed, the partitions owned here; else all of them.
        let mine = |p: &PartitionStatus| {
            !self.config.distributed || shared.live[p.partition as usize].opened
        };
        let ready = if self.config.distributed {
            shared.live.iter().any(|l| l.opened)
        } else {
            shared.live.iter().all(|l| l.opened)
        };
        JobStatus {
            job: self.name.clone(),
            ready,
            caught_up: ready
                && partitions
                    .iter()
                    .filter(|p| mine(p))
                    .all(|p| p.position >= p.head),
            lag: partitions
                .iter()
                .filter(|p| mine(p))
                .map(|p| p.head.saturating_sub(p.position))
                .sum(),
            open_cells: shared.live.iter().map(|l| l.open_cells).sum(),
            watermark,
            partitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_watermark_is_the_min_over_partitions_not_idle() {
        let c = |v: &[(Option<i64>, bool)]| combine_watermarks(v.iter().copied());
        assert_eq!(c(&[(Some(10), false), (Some(5), false)]), Some(5));
        // An idle partition does not hold it back …
        assert_eq!(c(&[(Some(10), false), (Some(5), true)]), Some(10));
        // … a busy one without any event yet does.
        assert_eq!(c(&[(Some(10), false), (None, false)]), None);
        // All idle: the largest.
        assert_eq!(c(&[(Some(10), true), (Some(5), true)]), Some(10));
        assert_eq!(c(&[]), None);
    }
}
