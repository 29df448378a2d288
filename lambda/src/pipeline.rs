//! The Lambda pipeline in one process: the speed layer following the log on tokio, the
//! batch layer recomputing on its own thread every `batch_every`, and the live views a
//! query merges. The counterpart of `kappa::Job` / `kappa::RunningJob`.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use master_log::Log;
use parking_lot::{Condvar, Mutex};
use serving_layer::{BatchPart, LambdaSnapshot};
use speed_layer::{SpeedConfig, SpeedLayer};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;
use workloads::{PartialTable, Workload};

use crate::cycle::{BatchRun, Cycle};
use crate::error::io;
use crate::layout::ViewFiles;
use crate::views::LiveViews;
use crate::{LambdaError, Result};

/// A function run first on each thread the pipeline starts (the speed layer's runtime
/// threads and the batch thread): a harness uses it to charge their work to Lambda.
#[derive(Clone)]
pub struct ThreadHook(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for ThreadHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadHook")
    }
}

/// How a Lambda pipeline runs.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The topic it reads.
    pub topic: String,
    /// The dataset sidecars (`<data>/datasets`: CSV schemas, the YSB campaign table).
    pub sidecar_dir: PathBuf,
    /// A batch run starts this long after the previous one started.
    pub batch_every: Duration,
    /// Where published batch views and the realtime view are kept (`None`: in memory
    /// only; nothing survives the process).
    pub files: Option<ViewFiles>,
    /// Worker threads of the speed layer's own tokio runtime.
    pub speed_threads: usize,
    /// Run the speed layer on this runtime instead of one of its own (several pipelines
    /// of one process sharing a runtime); the caller keeps it alive.
    pub runtime: Option<Handle>,
    /// Run first on each thread the pipeline starts.
    pub on_thread_start: Option<ThreadHook>,
}

impl LambdaConfig {
    /// Defaults: a batch run every minute, views in memory only, two speed threads.
    pub fn new(topic: impl Into<String>, sidecar_dir: impl Into<PathBuf>) -> Self {
        LambdaConfig {
            topic: topic.into(),
            sidecar_dir: sidecar_dir.into(),
            batch_every: Duration::from_secs(60),
            files: None,
            speed_threads: 2,
            runtime: None,
            on_thread_start: None,
        }
    }
}

/// A Lambda pipeline of one workload over one topic, not running yet: its speed layer
/// (resumed from its files when it has some) and the batch view last published.
#[derive(Debug)]
pub struct Lambda {
    log: Arc<dyn Log>,
    config: LambdaConfig,
    views: Arc<LiveViews>,
}

/// What a running or stopped pipeline has done.
#[derive(Debug, Clone)]
pub struct LambdaStatus {
    /// Per partition, the next offset the speed layer reads.
    pub positions: Vec<u64>,
    /// Whether the speed layer had read everything in the log when last checked.
    pub caught_up: bool,
    /// Realtime generations held (one per batch run not yet published, plus the open one).
    pub generations: usize,
    /// The horizon of the batch view being served.
    pub horizon: Option<Vec<u64>>,
    /// Every batch run so far, oldest first.
    pub batch_runs: Vec<BatchRun>,
}

impl Lambda {
    /// Open the pipeline of `workload`: with files, the speed layer resumes its saved
    /// realtime view (or starts at the published batch horizon) and the published batch
    /// view is served at once; without, it starts at offset 0 with no batch view. A
    /// damaged published view (or one missing below the saved realtime view) is
    /// recomputed from the log up to its end and published first, with a warning; a
    /// damaged realtime view is discarded by the speed layer, which reads again from the
    /// published horizon.
    pub fn new(log: Arc<dyn Log>, workload: Workload, config: LambdaConfig) -> Result<Lambda> {
        if config.batch_every.is_zero() {
            return Err(LambdaError::Config(
                "the batch period must be longer than zero".into(),
            ));
        }
        let speed_config = SpeedConfig::new(&config.topic, &config.sidecar_dir);
        let (speed, published) = match &config.files {
            Some(files) => {
                // A damaged published view is recomputed here, never served.
                let published = crate::layout::published_or_rebuilt(
                    log.as_ref(),
                    &workload,
                    &config.topic,
                    &config.sidecar_dir,
                    files,
                )?;
                let horizon = published.as_ref().map(|v| v.horizon.as_slice());
                let speed = SpeedLayer::resume(
                    log.clone(),
                    workload.clone(),
                    speed_config,
                    &files.realtime,
                    horizon,
                )?;
                (speed, published)
            }
            None => {
                let start = vec![0; log.partition_count(&config.topic)? as usize];
                let speed = SpeedLayer::new(log.clone(), workload.clone(), speed_config, start)?;
                (speed, None)
            }
        };
        let views = Arc::new(LiveViews::new(workload, config.topic.clone(), speed));
        if let Some(v) = published {
            views.publish(BatchPart {
                horizon: v.horizon,
                table: v.table,
            })?;
        }
        Ok(Lambda { log, config, views })
    }

    /// The workload it answers.
    pub fn workload(&self) -> &Workload {
        self.views.workload()
    }

    /// The live views (shared with an HTTP server, say).
    pub fn views(&self) -> &Arc<LiveViews> {
        &self.views
    }

    /// What a query sees now, with the positions and the log's head.
    pub fn snapshot(&self) -> Result<LambdaSnapshot> {
        self.views.snapshot(self.log.as_ref())
    }

    /// What a query sees now, merged.
    pub fn table(&self) -> Result<PartialTable> {
        self.views.table(self.log.as_ref())
    }

    fn cycle(&self) -> Cycle {
        Cycle {
            log: self.log.clone(),
            workload: self.views.workload().clone(),
            topic: self.config.topic.clone(),
            sidecar_dir: self.config.sidecar_dir.clone(),
            files: self.config.files.clone(),
            views: self.views.clone(),
        }
    }

    /// Process what the log holds now and stop: one batch run up to the log's end as of
    /// this call while the speed layer reads up to the same end; the views are saved
    /// (with files).
    pub fn run_until_caught_up(self) -> Result<LambdaStatus> {
        let runtime = SpeedRuntime::new(&self.config)?;
        let end = self.log.end_offsets(&self.config.topic)?;
        let taken = Instant::now();
        self.views.speed().begin_generation(&end)?;
        let speed = self.views.speed().clone();
        let target = end.clone();
        let task = runtime
            .handle()
            .spawn(async move { speed.run_until(&target).await });
        let cycle = self.cycle();
        let run = run_on_thread(&self.config, move || cycle.run(&end, taken));
        let speed_result = runtime
            .handle()
            .block_on(task)
            .map_err(|e| LambdaError::Thread(format!("speed layer task: {e}")));
        let run = run?;
        speed_result??;
        let cycle = self.cycle();
        cycle.save_realtime()?;
        Ok(status_of(&self.views, run.into_iter().collect()))
    }

    /// The speed layer alone (no batch run): follow the log until `stop()` is true, or,
    /// with `until_caught_up`, up to the log's end as of this call; then save the
    /// realtime view (with files).
    pub fn follow(&self, stop: &dyn Fn() -> bool, until_caught_up: bool) -> Result<LambdaStatus> {
        let runtime = SpeedRuntime::new(&self.config)?;
        let speed = self.views.speed().clone();
        let outcome = if until_caught_up {
            runtime.handle().block_on(speed.run_until_caught_up())
        } else {
            let (shutdown, rx) = watch::channel(false);
            let task = runtime.handle().spawn(async move { speed.run(rx).await });
            while !stop() && !task.is_finished() {
                thread::sleep(Duration::from_millis(100));
            }
            shutdown.send_replace(true);
            runtime
                .handle()
                .block_on(task)
                .map_err(|e| LambdaError::Thread(format!("speed layer task: {e}")))?
        };
        outcome?;
        self.cycle().save_realtime()?;
        Ok(status_of(&self.views, Vec::new()))
    }

    /// Start the pipeline: the speed layer follows the log, and a batch run starts now
    /// (over what the log holds at this moment) and then every `batch_every`.
    pub fn start(self) -> Result<RunningLambda> {
        self.start_with(|_| {})
    }

    /// [`Lambda::start`], calling `on_run` on the batch thread after each published run.
    pub fn start_with(
        self,
        on_run: impl FnMut(&BatchRun) + Send + 'static,
    ) -> Result<RunningLambda> {
        let runtime = SpeedRuntime::new(&self.config)?;
        // The first batch run reads up to the end of the log as of now; the speed layer
        // has not read past it (it has not started), so the hand-off is exact.
        let first = self.log.end_offsets(&self.config.topic)?;
        self.views.speed().begin_generation(&first)?;
        let (shutdown, rx) = watch::channel(false);
        let speed = self.views.speed().clone();
        let speed_task = runtime.handle().spawn(async move { speed.run(rx).await });
        let stop = Arc::new(StopSignal::default());
        let runs: Arc<Mutex<Vec<BatchRun>>> = Arc::default();
        let batch = BatchLoop {
            cycle: self.cycle(),
            period: self.config.batch_every,
            stop: stop.clone(),
            runs: runs.clone(),
        };
        let hook = self.config.on_thread_start.clone();
        let batch_thread = thread::Builder::new()
            .name("lambda-batch".into())
            .spawn(move || {
                if let Some(h) = hook {
                    (h.0)();
                }
                batch.run(first, on_run)
            })
            .map_err(io("start the batch thread"))?;
        Ok(RunningLambda {
            lambda: self,
            runtime,
            shutdown,
            speed_task: Some(speed_task),
            batch_thread: Some(batch_thread),
            stop,
            runs,
        })
    }
}

/// Run `f` on a thread of the pipeline (polars and rayon never run on tokio's threads;
/// the caller's thread may be one).
fn run_on_thread<T: Send + 'static>(
    config: &LambdaConfig,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let hook = config.on_thread_start.clone();
    thread::Builder::new()
        .name("lambda-batch".into())
        .spawn(move || {
            if let Some(h) = hook {
                (h.0)();
            }
            f()
        })
        .map_err(io("start the batch thread"))?
        .join()
        .map_err(|_| LambdaError::Thread("the batch thread panicked".into()))?
}

fn status_of(views: &LiveViews, batch_runs: Vec<BatchRun>) -> LambdaStatus {
    let snap = views.speed().snapshot();
    LambdaStatus {
        caught_up: snap.caught_up,
        generations: snap.generations.len(),
        positions: snap.positions,
        horizon: views.horizon(),
        batch_runs,
    }
}

/// The speed layer's runtime: its own, or a handle to one the caller keeps.
#[derive(Debug)]
enum SpeedRuntime {
    Own(Runtime),
    Shared(Handle),
}

impl SpeedRuntime {
    fn new(config: &LambdaConfig) -> Result<SpeedRuntime> {
        if let Some(h) = &config.runtime {
            return Ok(SpeedRuntime::Shared(h.clone()));
        }
        let hook = config.on_thread_start.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.speed_threads.max(1))
            .thread_name("lambda-speed")
            .on_thread_start(move || {
                if let Some(h) = &hook {
                    (h.0)();
                }
            })
            .enable_all()
            .build()
            .map_err(io("start the speed layer's runtime"))?;
        Ok(SpeedRuntime::Own(runtime))
    }

    fn handle(&self) -> &Handle {
        match self {
            SpeedRuntime::Own(r) => r.handle(),
            SpeedRuntime::Shared(h) => h,
        }
    }
}

/// A flag that wakes whoever waits on it.
#[derive(Debug, Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    fn stop(&self) {
        *self.stopped.lock() = true;
        self.wake.notify_all();
    }

    /// Wait until `deadline` or a stop; `true` when stopped.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut stopped = self.stopped.lock();
        while !*stopped {
            if self.wake.wait_until(&mut stopped, deadline).timed_out() {
                break;
            }
        }
        *stopped
    }
}

/// The batch thread: a run, a wait, the next horizon from the speed layer, a run, …
struct BatchLoop {
    cycle: Cycle,
    period: Duration,
    stop: Arc<StopSignal>,
    runs: Arc<Mutex<Vec<BatchRun>>>,
}

impl BatchLoop {
    fn run(self, first: Vec<u64>, mut on_run: impl FnMut(&BatchRun)) -> Result<()> {
        let mut horizon = first;
        let mut taken = Instant::now();
        loop {
            let started = Instant::now();
            if let Some(run) = self.cycle.run(&horizon, taken)? {
                on_run(&run);
                self.runs.lock().push(run);
            }
            if self.stop.wait_until(started + self.period) {
                return Ok(());
            }
            taken = Instant::now();
            horizon = self.cycle.views.speed().begin_generation_now();
        }
    }
}

/// A running Lambda pipeline: stop it with [`RunningLambda::stop`].
#[derive(Debug)]
pub struct RunningLambda {
    lambda: Lambda,
    runtime: SpeedRuntime,
    shutdown: watch::Sender<bool>,
    speed_task: Option<tokio::task::JoinHandle<speed_layer::Result<()>>>,
    batch_thread: Option<thread::JoinHandle<Result<()>>>,
    stop: Arc<StopSignal>,
    runs: Arc<Mutex<Vec<BatchRun>>>,
}

impl RunningLambda {
    /// The pipeline (its views, snapshots and tables).
    pub fn lambda(&self) -> &Lambda {
        &self.lambda
    }

    /// Positions, generations, the served horizon and the batch runs so far.
    pub fn status(&self) -> LambdaStatus {
        status_of(&self.lambda.views, self.runs.lock().clone())
    }

    /// The batch runs published so far, oldest first (what [`RunningLambda::status`]
    /// lists, without taking a snapshot of the realtime view).
    pub fn batch_runs(&self) -> Vec<BatchRun> {
        self.runs.lock().clone()
    }

    /// Whether the speed layer or the batch thread stopped by itself (it failed; `stop`
    /// returns why).
    pub fn failed(&self) -> bool {
        self.speed_task.as_ref().is_some_and(|t| t.is_finished())
            || self.batch_thread.as_ref().is_some_and(|t| t.is_finished())
    }

    /// Wait up to `timeout` until a query shows every record below `target` (the speed
    /// layer has folded them into the realtime view): `Ok(false)` on time-out.
    pub fn wait_visible(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        let speed = self.lambda.views.speed().clone();
        let target = target.to_vec();
        Ok(self.runtime.handle().block_on(async move {
            tokio::time::timeout(timeout, speed.wait_for_positions(&target))
                .await
                .is_ok()
        }))
    }

    /// Wait up to `timeout` until a published batch view covers every record below
    /// `target`: `Ok(false)` on time-out.
    pub fn wait_published(&self, target: &[u64], timeout: Duration) -> Result<bool> {
        Ok(self.lambda.views.wait_horizon(target, timeout))
    }

    /// Stop: the batch thread ends (a run in progress is finished and published), then
    /// the speed layer; with files, the realtime view is saved. Returns what it did, or
    /// the first error of either layer.
    pub fn stop(mut self) -> Result<LambdaStatus> {
        self.stop.stop();
        let batch = self
            .batch_thread
            .take()
            .map(|t| {
                t.join()
                    .map_err(|_| LambdaError::Thread("the batch thread panicked".into()))?
            })
            .unwrap_or(Ok(()));
        self.shutdown.send_replace(true);
        let speed = match self.speed_task.take() {
            Some(t) => self
                .runtime
                .handle()
                .block_on(t)
                .map_err(|e| LambdaError::Thread(format!("speed layer task: {e}")))
                .and_then(|r| r.map_err(LambdaError::from)),
            None => Ok(()),
        };
        batch?;
        speed?;
        self.lambda.cycle().save_realtime()?;
        Ok(self.status())
    }
}

impl Drop for RunningLambda {
    fn drop(&mut self) {
        // Dropped without `stop` (an early return): end the threads, ignoring errors.
        self.stop.stop();
        self.shutdown.send_replace(true);
        if let Some(t) = self.batch_thread.take() {
            let _ = t.join();
        }
    }
}
