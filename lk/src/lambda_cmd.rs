//! `lk lambda batch|speed|run|reset`: the Lambda pipeline from the command line, one
//! layer per command or all three in one process (the `lambda` crate runs them), sharing
//! files in `<data>/lambda/<workload>/` (see `lambda::Layout`).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Subcommand;
use lambda::{BatchRun, Lambda, LambdaConfig, LambdaStatus};
use master_log::Log;
use workloads::Workload;

use crate::answers::{WorkloadArgs, lambda_layout};
use crate::datasets_cmd::sidecar_dir;
use crate::text::duration;

/// `lk lambda …`.
#[derive(Debug, Subcommand)]
pub enum LambdaCommand {
    /// Recompute the batch view from scratch up to the current end of the log, and
    /// publish it (atomically; older versions beyond the last 3 are deleted).
    Batch {
        #[command(flatten)]
        w: WorkloadArgs,
        /// Recompute again this long after the previous run started, until interrupted
        /// (as `lk lambda run --batch-every`); without it, once.
        #[arg(long, alias = "every", value_name = "DURATION", value_parser = duration)]
        batch_every: Option<Duration>,
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
        #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = duration)]
        batch_every: Duration,
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
            requires = "worker",
            value_parser = duration
        )]
        save_every: Duration,
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

/// `lk lambda …`.
pub fn lambda(cmd: LambdaCommand, data: &Path, log: Arc<dyn Log>) -> anyhow::Result<ExitCode> {
    match cmd {
        LambdaCommand::Batch { w, batch_every } => batch(data, log, &w, batch_every),
        LambdaCommand::Speed { w, until_caught_up } => speed(data, log, &w, until_caught_up),
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
            if worker {
                let opts = lambda::worker::WorkerOptions {
                    topic,
                    sidecar_dir: sidecar_dir(data),
                    batch_every,
                    save_every,
                    namespace,
                };
                return run_worker(data, log, workload, opts);
            }
            let run = RunArgs {
                batch_every,
                until_caught_up,
                addr,
            };
            run_all(data, log, workload, topic, run)
        }
        LambdaCommand::Reset { w } => {
            let workload = Workload::resolve(&w.workload, data)?;
            let layout = lambda_layout(data, &workload);
            if layout.reset()? {
                println!(
                    "removed the Lambda views of {} ({})",
                    workload.name(),
                    layout.dir().display()
                );
            } else {
                println!("workload {} has no Lambda views", workload.name());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The pipeline of `workload` with its views in `data`, not started.
fn open(
    data: &Path,
    log: Arc<dyn Log>,
    workload: &Workload,
    topic: &str,
    batch_every: Duration,
) -> anyhow::Result<Lambda> {
    let layout = lambda_layout(data, workload);
    layout.check(false)?;
    let config = LambdaConfig {
        batch_every,
        files: Some(layout.files()?),
        ..LambdaConfig::new(topic, sidecar_dir(data))
    };
    Ok(Lambda::new(log, workload.clone(), config)?)
}

/// `lk lambda batch`: the batch layer alone, once or every `every`.
fn batch(
    data: &Path,
    log: Arc<dyn Log>,
    w: &WorkloadArgs,
    every: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let (workload, topic) = w.resolve(data)?;
    let layout = lambda_layout(data, &workload);
    layout.check(false)?;
    let files = layout.files()?;
    let stop = crate::stop_flag()?;
    loop {
        let started = Instant::now();
        let view = lambda::recompute_and_publish(
            log.as_ref(),
            &workload,
            &topic,
            &sidecar_dir(data),
            &files.store,
        )?;
        println!(
            "published batch view v{} of {} over {topic}: horizon {:?}, {} records read, {} events, {} cells, in {:.2} s",
            view.version,
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
            if stop.load(Ordering::SeqCst) {
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(100).min(deadline - Instant::now()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lk lambda speed`: the speed layer alone, from its saved view.
fn speed(
    data: &Path,
    log: Arc<dyn Log>,
    w: &WorkloadArgs,
    until_caught_up: bool,
) -> anyhow::Result<ExitCode> {
    let (workload, topic) = w.resolve(data)?;
    let lambda = open(data, log, &workload, &topic, Duration::from_secs(60))?;
    let started = Instant::now();
    let from = lambda.views().speed().positions();
    let status = if until_caught_up {
        lambda.follow(&|| false, true)?
    } else {
        let stop = crate::stop_flag()?;
        lambda.follow(&|| stop.load(Ordering::SeqCst), false)?
    };
    println!(
        "realtime view of {} over {topic}: from {from:?} to {:?} in {} generation(s), {:.2} s; saved to {}",
        workload.name(),
        status.positions,
        status.generations,
        started.elapsed().as_secs_f64(),
        lambda_layout(data, &workload).files()?.realtime.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// How `lk lambda run` runs in one process.
struct RunArgs {
    batch_every: Duration,
    until_caught_up: bool,
    addr: Option<std::net::SocketAddr>,
}

fn print_run(workload: &str, run: &BatchRun) {
    println!(
        "batch view v{} of {workload} published: horizon {:?} ({} records) in {:.2} s",
        run.version.unwrap_or(0),
        run.horizon,
        run.records_read,
        run.finished.duration_since(run.started).as_secs_f64(),
    );
}

/// `lk lambda run`: the three layers in one process (see the `lambda` crate), the live
/// views also served over HTTP with `--addr`. The views are saved at every published
/// batch view and at stop, so `lk query` and `lk serve` read the same answers after the
/// process stops.
fn run_all(
    data: &Path,
    log: Arc<dyn Log>,
    workload: Workload,
    topic: String,
    args: RunArgs,
) -> anyhow::Result<ExitCode> {
    let lambda = open(data, log.clone(), &workload, &topic, args.batch_every)?;
    let shutdown = crate::shutdown_signal()?;
    let server = match args.addr {
        Some(addr) => Some(crate::serve::spawn(
            data,
            log.clone(),
            Some(lambda.views().clone()),
            addr,
            shutdown.clone(),
        )?),
        None => None,
    };
    let name = workload.name().to_owned();
    let outcome = if args.until_caught_up {
        lambda.run_until_caught_up().inspect(|s| {
            for run in &s.batch_runs {
                print_run(&name, run);
            }
        })
    } else {
        run_until_stopped(lambda, &name, shutdown)
    };
    crate::request_shutdown();
    if let Some(server) = server {
        server.stop()?;
    }
    let status = outcome?;
    println!(
        "lambda run of {name} over {topic} stopped after {} batch run(s); realtime view at {:?} in {} generation(s), saved to {}",
        status.batch_runs.len(),
        status.positions,
        status.generations,
        lambda_layout(data, &workload).files()?.realtime.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Run until Ctrl-C (or until a layer fails), then stop.
fn run_until_stopped(
    lambda: Lambda,
    name: &str,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> lambda::Result<LambdaStatus> {
    let printed = name.to_owned();
    let running = lambda.start_with(move |run| print_run(&printed, run))?;
    while !*shutdown.borrow() && !running.failed() {
        std::thread::sleep(Duration::from_millis(100));
    }
    running.stop()
}

/// `lk lambda run --worker`: one process of the pipeline's consumer group.
fn run_worker(
    data: &Path,
    log: Arc<dyn Log>,
    workload: Workload,
    opts: lambda::worker::WorkerOptions,
) -> anyhow::Result<ExitCode> {
    if let Some(ns) = &opts.namespace {
        master_log::validate_name(ns).context("--namespace")?;
    }
    // Ctrl-C from here on stops the worker cleanly (joining the group may take a while).
    let stop = crate::stop_flag()?;
    let layout = lambda_layout(data, &workload);
    let runs = lambda::worker::run(
        log,
        workload,
        &layout,
        opts,
        &|| stop.load(Ordering::SeqCst),
        &mut |event| println!("{event}"),
    )?;
    println!("lambda worker stopped after {runs} batch run(s)");
    Ok(ExitCode::SUCCESS)
}
