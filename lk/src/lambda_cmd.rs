//! `lk lambda batch`, `lk lambda speed`, `lk lambda run` and `lk query`: the Lambda
//! pipeline from the command line, one layer per command or all three in one process,
//! sharing files in `<data>/lambda/<workload>/` (see [`crate::views`]).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use master_log::Log;
use workloads::Workload;

use crate::datasets_cmd::sidecar_dir;
use crate::views::{
    LiveLambda, batch_store, check_layout, lambda_dir, lambda_from_files, realtime_file,
};

#[derive(Debug, Args)]
pub struct WorkloadArgs {
    /// A built-in workload's name, a spec file, or a registered spec's name.
    #[arg(long)]
    pub workload: String,
    /// The topic to read (default: the spec's topic, or the built-in's dataset name).
    #[arg(long)]
    pub topic: Option<String>,
}

impl WorkloadArgs {
    pub fn resolve(&self, data: &Path) -> anyhow::Result<(Workload, String)> {
        let w = Workload::resolve(&self.workload, data)?;
        let topic = self.topic.clone().unwrap_or_else(|| w.topic().to_owned());
        Ok((w, topic))
    }
}

#[derive(Debug, Subcommand)]
pub enum LambdaCommand {
    /// Recompute the batch view from scratch up to the current end of the log, and
    /// publish it (atomically; older versions beyond the last 3 are deleted).
    Batch {
        #[command(flatten)]
        w: WorkloadArgs,
        /// Recompute again every DURATION until interrupted.
        #[arg(long, value_name = "DURATION")]
        every: Option<String>,
    },
    /// Bring the realtime view up to date from the batch horizon, and save it.
    Speed {
        #[command(flatten)]
        w: WorkloadArgs,
        /// Stop once the end of the log (as of the start) is read; without it, follow the
        /// log until interrupted.
        #[arg(long)]
        until_caught_up: bool,
    },
    /// Run the batch, speed and serving layers together in one process: the speed layer
    /// follows the log while the batch layer recomputes every `--batch-every`; each
    /// published batch view expires the realtime state it covers.
    Run {
        #[command(flatten)]
        w: WorkloadArgs,
        /// Start a batch run this long after the previous one started.
        #[arg(long, value_name = "DURATION", default_value = "1m")]
        batch_every: String,
        /// Process what the log holds at the start (one batch run, the speed layer up to
        /// the same end), save the views and stop.
        #[arg(long, conflicts_with = "worker")]
        until_caught_up: bool,
        /// Also serve the live views over HTTP on this address (see `lk serve`).
        #[arg(long, conflicts_with = "worker")]
        addr: Option<std::net::SocketAddr>,
        /// Run as one of several processes of this pipeline (start it once per process,
        /// on one machine or several, with the same --log and --namespace): a consumer
        /// group spreads the partitions over them; each process runs the batch and the
        /// speed layer of its partitions and keeps their views per partition in --data
        /// (give them one shared directory; `lk query` and `lk serve` merge every
        /// partition's views). When a process joins or dies, its partitions move and
        /// their new owner resumes from the views saved there. Runs until Ctrl-C.
        #[arg(long)]
        worker: bool,
        /// With --worker: save each partition's realtime view (what `lk query` reads)
        /// this often.
        #[arg(
            long,
            value_name = "DURATION",
            default_value = "1s",
            requires = "worker"
        )]
        save_every: String,
        /// With --worker: name the consumer group `lambda.NS.…` instead of `lambda.…`,
        /// to keep deployments of the same workload apart on a shared log. Every process
        /// of one deployment must use the same.
        #[arg(long, value_name = "NS", requires = "worker")]
        namespace: Option<String>,
    },
    /// Delete a workload's Lambda views (batch views and realtime views, of one process
    /// or of workers) from the data directory; the log is untouched.
    Reset {
        #[command(flatten)]
        w: WorkloadArgs,
    },
}

/// The speed layer of `workload`, resuming its saved view if there is one, else starting
/// at the published batch horizon (or offset 0).
fn open_speed(
    data: &Path,
    log: Arc<dyn Log>,
    workload: &Workload,
    topic: &str,
) -> anyhow::Result<speed_layer::SpeedLayer> {
    let published = batch_store(data, workload)?.current()?.map(|v| v.horizon);
    let config = speed_layer::SpeedConfig::new(topic, sidecar_dir(data));
    Ok(speed_layer::SpeedLayer::resume(
        log,
        workload.clone(),
        config,
        &realtime_file(data, workload),
        published.as_deref(),
    )?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the tokio runtime")
}

pub fn lambda(cmd: LambdaCommand, data: &Path, log: Arc<dyn Log>) -> anyhow::Result<ExitCode> {
    match cmd {
        LambdaCommand::Batch { w, every } => {
            let (workload, topic) = w.resolve(data)?;
            let every = every
                .as_deref()
                .map(master_log::parse_duration)
                .transpose()?;
            check_layout(data, &workload, false)?;
            let store = batch_store(data, &workload)?;
            let stop = crate::stop_flag()?;
            loop {
                let started = Instant::now();
                let view =
                    batch_layer::recompute(log.as_ref(), &workload, &topic, &sidecar_dir(data))?;
                let version = store.publish(&view)?;
                println!(
                    "published batch view v{version} of {} over {topic}: horizon {:?}, {} records read, {} events, {} cells, in {:.2} s",
                    workload.name(),
                    view.horizon,
                    view.records_read,
                    view.events,
                    view.table.len(),
                    started.elapsed().as_secs_f64()
                );
                let Some(period) = every else { break };
                let deadline = Instant::now() + period;
                while Instant::now() < deadline {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return Ok(ExitCode::SUCCESS);
                    }
                    std::thread::sleep(Duration::from_millis(100).min(deadline - Instant::now()));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        LambdaCommand::Speed { w, until_caught_up } => {
            let (workload, topic) = w.resolve(data)?;
            check_layout(data, &workload, false)?;
            let speed = open_speed(data, log, &workload, &topic)?;
            let file = realtime_file(data, &workload);
            let runtime = runtime()?;
            let started = Instant::now();
            if until_caught_up {
                runtime.block_on(speed.run_until_caught_up())?;
            } else {
                let stop = crate::stop_flag()?;
                let (tx, rx) = tokio::sync::watch::channel(false);
                runtime.spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    let _ = tx.send(true);
                });
                runtime.block_on(speed.run(rx))?;
            }
            speed.save(&file)?;
            let snap = speed.snapshot();
            println!(
                "realtime view of {} over {topic}: from {:?} to {:?} in {} generation(s), {:.2} s; saved to {}",
                workload.name(),
                snap.base().unwrap_or_default(),
                snap.positions,
                snap.generations.len(),
                started.elapsed().as_secs_f64(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        LambdaCommand::Run {
            w,
            batch_every,
            until_caught_up,
            addr,
            worker,
            save_every,
            namespace,
        } => {
            let (workload, topic) = w.resolve(data)?;
            let period = master_log::parse_duration(&batch_every)?;
            if worker {
                let opts = crate::lambda_worker::WorkerOptions {
                    batch_every: period,
                    save_every: master_log::parse_duration(&save_every)?,
                    namespace,
                };
                if opts.batch_every.is_zero() || opts.save_every.is_zero() {
                    anyhow::bail!("--batch-every and --save-every must be longer than zero");
                }
                return crate::lambda_worker::run_worker(data, log, workload, topic, opts);
            }
            check_layout(data, &workload, false)?;
            run_all(data, log, workload, topic, period, until_caught_up, addr)
        }
        LambdaCommand::Reset { w } => {
            let workload = Workload::resolve(&w.workload, data)?;
            let dir = lambda_dir(data, &workload);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("remove {}", dir.display()))?;
                println!(
                    "removed the Lambda views of {} ({})",
                    workload.name(),
                    dir.display()
                );
            } else {
                println!("workload {} has no Lambda views", workload.name());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `lk lambda run`: the three layers in one process.
///
/// ```text
///   start:   H1 = end of the log; speed.begin_generation(H1)   (speed starts below H1)
///   tokio:   speed layer tasks follow the log ──────────────────────────────►
///            HTTP (--addr) answers from LiveLambda::snapshot
///   thread:  batch run over [0, H1) ─► publish v(n) + expire ─► wait ─► H2 = begin_generation_now ─► …
/// ```
///
/// The batch layer runs on its own thread (polars and rayon never run on tokio's
/// threads); each published view is also written to the view store and the realtime view
/// saved, so `lk query` and `lk serve` read the same answers after the process stops.
fn run_all(
    data: &Path,
    log: Arc<dyn Log>,
    workload: Workload,
    topic: String,
    period: Duration,
    until_caught_up: bool,
    addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let speed = open_speed(data, log.clone(), &workload, &topic)?;
    let store = batch_store(data, &workload)?;
    let file = realtime_file(data, &workload);
    // The first batch run reads up to the end of the log as of now; the speed layer
    // has not read past it (it has not started), so the hand-off is exact.
    let first = log.end_offsets(&topic)?;
    speed.begin_generation(&first)?;
    let live = Arc::new(LiveLambda::new(
        workload.clone(),
        topic.clone(),
        speed.clone(),
    ));
    if let Some(current) = store.current()? {
        live.publish(serving_layer::BatchPart {
            horizon: current.horizon,
            table: current.table,
        })?;
    }
    let runtime = runtime()?;
    let shutdown = crate::shutdown_signal()?;
    let speed_task = {
        let speed = speed.clone();
        let shutdown = shutdown.clone();
        let end = first.clone();
        runtime.spawn(async move {
            if until_caught_up {
                speed.run_until(&end).await
            } else {
                speed.run(shutdown).await
            }
        })
    };
    let server = addr.map(|addr| {
        let state = Arc::new(crate::serve::ServeState {
            data: data.to_path_buf(),
            log: log.clone(),
            live: Some(live.clone()),
        });
        runtime.spawn(crate::serve::serve(state, addr, shutdown.clone()))
    });
    let handle = runtime.handle().clone();
    let mut horizon = first;
    let mut runs = 0u64;
    let outcome: anyhow::Result<()> = std::thread::scope(|scope| {
        scope
            .spawn(|| -> anyhow::Result<()> {
                loop {
                    let started = Instant::now();
                    let view = batch_layer::recompute_at(
                        log.as_ref(),
                        &workload,
                        &topic,
                        &sidecar_dir(data),
                        &horizon,
                    )?;
                    let version = store.publish(&view)?;
                    live.publish(serving_layer::BatchPart {
                        horizon: view.horizon.clone(),
                        table: view.table,
                    })?;
                    speed.save(&file)?;
                    runs += 1;
                    let snap = speed.snapshot();
                    println!(
                        "batch view v{version} of {} published: horizon {:?} ({} records) in {:.2} s; speed layer at {:?}",
                        workload.name(),
                        view.horizon,
                        view.records_read,
                        started.elapsed().as_secs_f64(),
                        snap.positions
                    );
                    if until_caught_up {
                        return Ok(());
                    }
                    let deadline = tokio::time::Instant::from_std(started + period);
                    let mut stop = shutdown.clone();
                    let stopped = handle.block_on(async {
                        tokio::select! {
                            _ = tokio::time::sleep_until(deadline) => false,
                            _ = stop.wait_for(|s| *s) => true,
                        }
                    });
                    if stopped {
                        return Ok(());
                    }
                    horizon = speed.begin_generation_now();
                }
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the batch thread panicked"))?
    });
    // The batch loop ended (done, stopped, or failed): stop the speed layer and server.
    if outcome.is_err() || !until_caught_up {
        crate::request_shutdown();
    }
    let speed_result = runtime
        .block_on(speed_task)
        .map_err(|e| anyhow::anyhow!("speed layer task: {e}"))?;
    if until_caught_up {
        crate::request_shutdown();
    }
    if let Some(server) = server {
        runtime
            .block_on(server)
            .map_err(|e| anyhow::anyhow!("HTTP server task: {e}"))??;
    }
    outcome?;
    speed_result?;
    speed.save(&file)?;
    let snap = speed.snapshot();
    println!(
        "lambda run of {} over {topic} stopped after {runs} batch run(s); realtime view at {:?} in {} generation(s), saved to {}",
        workload.name(),
        snap.positions,
        snap.generations.len(),
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pipeline {
    Lambda,
    Kappa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    w: WorkloadArgs,
    /// Which pipeline's views to read.
    #[arg(long, value_enum, default_value_t = Pipeline::Lambda)]
    pipeline: Pipeline,
    /// Only this key (the group-by values joined by commas).
    #[arg(long)]
    key: Option<String>,
    /// Only windows ending after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    from: Option<String>,
    /// Only windows starting before this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    to: Option<String>,
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    format: QueryFormat,
}

pub fn query(a: QueryArgs, data: &Path, log: Arc<dyn Log>) -> anyhow::Result<ExitCode> {
    let workload = Workload::resolve(&a.w.workload, data)?;
    let q = serving_layer::Query {
        key: a.key,
        from_ms: a
            .from
            .as_deref()
            .map(crate::text::parse_rfc3339)
            .transpose()?,
        to_ms: a
            .to
            .as_deref()
            .map(crate::text::parse_rfc3339)
            .transpose()?,
    };
    let answer = match a.pipeline {
        Pipeline::Lambda => {
            let Some(snapshot) =
                lambda_from_files(data, &workload, a.w.topic.as_deref(), log.as_ref())?
            else {
                anyhow::bail!(
                    "workload {} has no Lambda views yet: run `lk lambda run --workload {}` (or `lk lambda batch` / `lk lambda speed`) first",
                    workload.name(),
                    a.w.workload
                );
            };
            snapshot.answer(&workload, &q)?
        }
        Pipeline::Kappa => {
            let Some(answer) = crate::kappa_cmd::kappa_answer(data, &workload, log.as_ref(), &q)?
            else {
                anyhow::bail!(
                    "workload {} has no Kappa table yet: run `lk kappa run --workload {}` first",
                    workload.name(),
                    a.w.workload
                );
            };
            answer
        }
    };
    let format = match a.format {
        QueryFormat::Table => serving_layer::Format::Table,
        QueryFormat::Csv => serving_layer::Format::Csv,
        QueryFormat::Json => serving_layer::Format::Json,
    };
    print!("{}", serving_layer::render(&answer, format));
    Ok(ExitCode::SUCCESS)
}
