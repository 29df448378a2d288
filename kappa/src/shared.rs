//! What a job's handles and worker threads share: the job's fixed parts ([`Inner`]: its
//! log, workload, configuration and names), and, behind one lock, its view of the
//! partitions owned here ([`Shared`]: their table cells, checkpoints, part files and
//! progress).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize};
use std::time::{Duration, Instant};

use event_listener::Event;
use master_log::{GroupMembership, Log};
use parking_lot::{Condvar, Mutex};
use workloads::{PartialTable, Window, Workload};

use crate::config::{JobConfig, OperatorFactory};
use crate::error::{KappaError, Result};
use crate::state::Checkpoint;
use crate::table::EncodedCells;
use crate::task::{RestoreReport, Task};

/// [`Inner::flag`]: the workers run …
pub(crate) const RUN: u8 = 0;
/// … checkpoint every task, write the table and return …
pub(crate) const STOP: u8 = 1;
/// … or return at once, as a crash would.
pub(crate) const ABORT: u8 = 2;

/// One input partition's progress, as its worker last saw it.
#[derive(Debug)]
pub(crate) struct Live {
    pub position: u64,
    pub head: u64,
    pub watermark: Option<i64>,
    pub last_data: Instant,
    pub records: u64,
    pub events: u64,
    pub duplicates: u64,
    pub late_events: u64,
    pub open_cells: u64,
    /// A task of this process has restored the partition and reads it.
    pub opened: bool,
}

impl Live {
    /// A partition nobody has read yet, its last data counted from `now`.
    fn new(now: Instant) -> Live {
        Live {
            position: 0,
            head: 0,
            watermark: None,
            last_data: now,
            records: 0,
            events: 0,
            duplicates: 0,
            late_events: 0,
            open_cells: 0,
            opened: false,
        }
    }

    /// Take the watermark, counters and working-set size of `task`, the partition's task.
    pub fn follow(&mut self, task: &Task) {
        self.watermark = task.state.watermark();
        self.records = task.records;
        self.events = task.state.events;
        self.duplicates = task.state.duplicates;
        self.late_events = task.state.late_events;
        self.open_cells = task.state.open_cells() as u64;
    }
}

/// A job's view of its partitions, behind [`Inner::shared`]: what its table shows, what
/// its part files hold, and the workers' progress.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Per partition owned here: the cells of its closed windows, and of its open ones,
    /// as of its last checkpoint.
    pub closed: BTreeMap<u32, PartialTable>,
    /// Per partition owned here whose closed cells have only grown by later windows
    /// since it opened: those cells, encoded (see [`EncodedCells`]).
    pub closed_encoded: BTreeMap<u32, EncodedCells>,
    /// (A publication replaces a partition's open cells whole; shared, not copied, with
    /// [`PartFileState::open`] once written.)
    pub open: BTreeMap<u32, Arc<PartialTable>>,
    /// Partitions published since their part of the table was last written.
    pub dirty: BTreeSet<u32>,
    /// Per partition owned here, where its last publication is: a checkpoint, or with
    /// `uncommitted_every` what was processed then. What the table shows.
    pub checkpoints: BTreeMap<u32, Checkpoint>,
    /// Per partition owned here, the offset of its last committed checkpoint.
    pub committed: BTreeMap<u32, u64>,
    /// Per partition owned here, the position of its part as last written to its file.
    pub written: BTreeMap<u32, u64>,
    /// Per partition owned here, what its part file holds beyond the cells themselves,
    /// once this job has written it. A partition without an entry (its first write since
    /// its task opened: the file may end in a frame a crash cut short) starts its file
    /// anew.
    pub files: BTreeMap<u32, PartFileState>,
    /// Per partition owned here, the windows finalized since its part was last written
    /// (a delta carries their cells: a task finalizes a window's cells together).
    pub finalized_since: BTreeMap<u32, BTreeSet<Window>>,
    /// Per partition owned here, what its task has processed past the last publication,
    /// in memory only (with [`Inner::fresh`] on): see [`FreshPart`].
    pub fresh: BTreeMap<u32, FreshPart>,
    /// Per partition, the last fresh query ([`Inner::fresh_requests`]) its task
    /// answered.
    pub fresh_answered: BTreeMap<u32, u64>,
    pub live: Vec<Live>,
    pub restores: Vec<RestoreReport>,
    /// Bumped at every publication; a table write carries the value it was built at.
    pub table_writes: u64,
    /// The failures of workers that returned with an error, each with its causes.
    pub errors: Vec<String>,
}

impl Shared {
    /// Nothing owned yet, over `partitions` input partitions.
    pub fn new(partitions: u32) -> Shared {
        let now = Instant::now();
        Shared {
            closed: BTreeMap::new(),
            closed_encoded: BTreeMap::new(),
            open: BTreeMap::new(),
            dirty: BTreeSet::new(),
            checkpoints: BTreeMap::new(),
            committed: BTreeMap::new(),
            written: BTreeMap::new(),
            files: BTreeMap::new(),
            finalized_since: BTreeMap::new(),
            fresh: BTreeMap::new(),
            fresh_answered: BTreeMap::new(),
            live: (0..partitions).map(|_| Live::new(now)).collect(),
            restores: Vec::new(),
            table_writes: 0,
            errors: Vec::new(),
        }
    }
}

/// What a task had processed since its last checkpoint when a fresh query asked, kept
/// in memory for [`crate::Job::fresh_table`] and written nowhere (no table file,
/// changelog, store or offset): the cells of windows finalized since the checkpoint
/// (they join the checkpointed cells at the next checkpoint), the open cells then, and
/// the position and counters they cover.
#[derive(Debug, Default)]
pub(crate) struct FreshPart {
    pub finalized: PartialTable,
    pub open: PartialTable,
    /// Where the task is (its last checkpoint's fields as of now; not stored anywhere).
    pub checkpoint: Checkpoint,
}

/// A part file as this job last wrote it.
#[derive(Debug, Default)]
pub(crate) struct PartFileState {
    /// The size of its last whole snapshot, and of the deltas appended since.
    pub full_bytes: u64,
    pub delta_bytes: u64,
    /// Its open cells (what a delta is computed against): the table of
    /// [`Shared::open`] it was written from.
    pub open: Arc<PartialTable>,
    /// How much of [`Shared::closed_encoded`] it holds, as (bytes, cells), when the
    /// partition had that encoding then: a delta copies the cells encoded after these.
    pub encoded_upto: Option<(usize, usize)>,
}

/// The parts of a job that its handles ([`crate::Job`] clones, [`crate::RunningJob`]) and
/// its worker threads share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub log: Arc<dyn Log>,
    pub workload: Workload,
    pub config: JobConfig,
    pub name: String,
    pub changelog: String,
    pub late: String,
    pub group: String,
    pub partitions: u32,
    pub shared: Mutex<Shared>,
    /// Notified when the shared state moves (progress, publications, table writes, a
    /// worker's end): wakes [`Inner::wait_for`].
    pub changed: Condvar,
    /// Notified only when parts are written to their files and when a worker ends:
    /// wakes `Job::wait_visible` ([`Inner::wait_written`]) at the moves it waits for,
    /// not at every read of the workers.
    pub table_written: Condvar,
    /// Serializes table file writes.
    pub writing: Mutex<()>,
    /// A serving alias exists (no need to look for it at every table write).
    pub serving_known: AtomicBool,
    /// The group memberships of workers that returned, kept until every worker has: a
    /// worker that finished first must not hand its partitions to the others (they
    /// would restore them for nothing).
    pub finished: Mutex<Vec<Box<dyn GroupMembership>>>,
    pub flag: AtomicU8,
    /// Fresh queries are answered ([`crate::Job::track_fresh`]): the workers publish
    /// what their tasks processed into [`Shared::fresh`] when one asks.
    pub fresh: AtomicBool,
    /// Fresh queries asked so far: a worker that sees more than it answered publishes
    /// its tasks' state and records the number in [`Shared::fresh_answered`].
    pub fresh_requests: AtomicU64,
    /// Checkpoint rounds asked for ([`crate::RunningJob::checkpoint_now`]): a worker
    /// that sees more than it has begun starts a round at once, after the one under way.
    pub checkpoint_requests: AtomicU64,
    /// Worker threads running now (a fresh query waits for their answers only).
    pub workers_running: AtomicUsize,
    pub wake: Event,
    pub factory: Factory,
}

impl Inner {
    /// Block until `done` holds of the shared state (`Ok(true)`), or a worker failed (its
    /// error), or `timeout` passed (`Ok` of `done` then).
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&Shared) -> bool) -> Result<bool> {
        self.wait_on(&self.changed, timeout, done)
    }

    /// [`Inner::wait_for`] for a `done` that only a table write (or a worker's end) can
    /// make true: woken by [`Inner::table_written`] alone.
    pub fn wait_written(&self, timeout: Duration, done: impl Fn(&Shared) -> bool) -> Result<bool> {
        self.wait_on(&self.table_written, timeout, done)
    }

    fn wait_on(
        &self,
        condvar: &Condvar,
        timeout: Duration,
        done: impl Fn(&Shared) -> bool,
    ) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut shared = self.shared.lock();
        loop {
            if let Some(e) = shared.errors.first() {
                return Err(KappaError::Worker(e.clone()));
            }
            if done(&shared) {
                return Ok(true);
            }
            if condvar.wait_until(&mut shared, deadline).timed_out() {
                return Ok(done(&shared));
            }
        }
    }
}

/// The job's [`OperatorFactory`], shown by name in `Debug`.
pub(crate) struct Factory(pub OperatorFactory);

impl std::fmt::Debug for Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorFactory")
    }
}
