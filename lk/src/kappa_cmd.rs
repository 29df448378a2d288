//! `lk kappa run`, `lk kappa reprocess` and `lk kappa versions`: the Kappa pipeline from
//! the command line. A job's state, changelogs and tables live under `<data>/kappa/` and
//! in the master log (see the `kappa` crate's docs).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use master_log::Log;
use workloads::Workload;

use crate::answers::{WorkloadArgs, kappa_dir};
use crate::datasets_cmd::sidecar_dir;
use crate::text::duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Store {
    /// A redb file per task (survives the process: restart restores locally).
    Redb,
    /// In memory (every start restores from the changelog).
    Memory,
}

#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(flatten)]
    w: WorkloadArgs,
    /// Events up to this late (event time behind the watermark) still update their
    /// window; later ones go to the late-events topic.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = duration)]
    allowed_lateness: Duration,
    /// The watermark trails the largest event time seen by this much.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    watermark_bound: Duration,
    /// Worker threads (tasks are spread over them by the consumer group).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    #[arg(long, value_enum, default_value_t = Store::Redb)]
    store: Store,
    /// Name the job's changelog, late-events topic and consumer group `kappa.NS.…`
    /// instead of `kappa.…`: keeps jobs of the same workload apart on a shared log
    /// (Kafka Streams' application.id). Every process of one job must use the same.
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Also show results before their checkpoint (read-uncommitted): write the table
    /// parts this often with what the tasks have processed (`0s`: after every read), so
    /// a result is visible in milliseconds instead of after the next checkpoint. The
    /// table files are then not fsynced, and after a crash the table can step back to
    /// the last checkpoint until the job has read those records again. Without it, the
    /// table shows checkpointed results only.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    uncommitted_every: Option<Duration>,
}

impl JobArgs {
    fn config(&self, data: &Path, topic: &str) -> anyhow::Result<kappa::JobConfig> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Ok(kappa::JobConfig {
            allowed_lateness_ms: ms(self.allowed_lateness),
            watermark_bound_ms: ms(self.watermark_bound),
            workers: self.workers,
            store: match self.store {
                Store::Redb => kappa::StoreKind::Redb,
                Store::Memory => kappa::StoreKind::Memory,
            },
            namespace: self.namespace.clone(),
            uncommitted_every: self.uncommitted_every,
            ..kappa::JobConfig::new(topic, kappa_dir(data), sidecar_dir(data))
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum KappaCommand {
    /// Run the stream job of a workload: one task per partition, local state with a
    /// changelog, checkpoints, event-time windows; its output table is what `lk query
    /// --pipeline kappa` reads.
    #[command(disable_version_flag = true)]
    Run {
        #[command(flatten)]
        job: JobArgs,
        /// The table version to write (default: the serving one, else 1).
        #[arg(long)]
        version: Option<u32>,
        /// Stop once every partition has read the log's end as of the start.
        #[arg(long, conflicts_with = "worker")]
        until_caught_up: bool,
        /// Run as one of several processes of this job (start it once per process, on
        /// one machine or several, with the same --log, --namespace and --version): the
        /// job's consumer group spreads the partitions over them, and when a process
        /// joins or dies its partitions move, restored from their changelogs. Each
        /// process writes the table parts of its partitions into its --data; give them
        /// one shared directory to query the whole table from any of them. Runs until
        /// Ctrl-C.
        #[arg(long)]
        worker: bool,
        /// Also serve the views over HTTP on this address (see `lk serve`).
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
    },
    /// Reprocess history: a new job version replays the topic from offset 0 into a new
    /// table while the serving version keeps answering; once it has caught up, the alias
    /// switches to it atomically, and the old version is retired.
    #[command(disable_version_flag = true)]
    Reprocess {
        #[command(flatten)]
        job: JobArgs,
        /// The new version (default: the highest existing one + 1).
        #[arg(long)]
        version: Option<u32>,
        /// Switch once the new version is at most this many records behind the head.
        #[arg(long, default_value_t = 0)]
        max_lag: u64,
        /// Give up (and keep serving the old version) after this long.
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = duration)]
        timeout: Duration,
        /// Keep the old version's table, state and topics after the switch.
        #[arg(long)]
        keep_old: bool,
    },
    /// The table versions of a workload and which one serves.
    Versions {
        #[command(flatten)]
        w: WorkloadArgs,
    },
}

fn print_status(s: &kappa::JobStatus) {
    let records: u64 = s.partitions.iter().map(|p| p.records).sum();
    let events: u64 = s.partitions.iter().map(|p| p.events).sum();
    let dups: u64 = s.partitions.iter().map(|p| p.duplicates).sum();
    let late: u64 = s.partitions.iter().map(|p| p.late_events).sum();
    let positions: Vec<u64> = s.partitions.iter().map(|p| p.position).collect();
    let owned: Vec<u32> = s
        .partitions
        .iter()
        .filter(|p| p.owned)
        .map(|p| p.partition)
        .collect();
    println!(
        "{} (partitions {owned:?} here): {records} records read ({events} events, {dups} duplicates dropped, {late} late to the side topic), positions {positions:?}, lag {}, watermark {}",
        s.job,
        s.lag,
        s.watermark
            .map(crate::text::rfc3339_ms)
            .unwrap_or_else(|| "none".into())
    );
}

fn print_report(r: &kappa::JobReport) {
    for restore in &r.restores {
        println!("  restore: {restore:?}");
    }
    print_status(&r.status);
    println!(
        "  {:.2} s, {} table writes",
        r.elapsed_ms as f64 / 1000.0,
        r.table_writes
    );
}

pub fn kappa(cmd: KappaCommand, data: &Path, log: Arc<dyn Log>) -> anyhow::Result<ExitCode> {
    match cmd {
        KappaCommand::Run {
            job,
            version,
            until_caught_up,
            worker,
            addr,
        } => {
            let (workload, topic) = job.w.resolve(data)?;
            let mut config = job.config(data, &topic)?;
            config.distributed = worker;
            config.version = match version {
                Some(v) => v,
                None => kappa::serving_version(&config.dir, workload.name())?.unwrap_or(1),
            };
            let j = kappa::Job::new(log.clone(), workload.clone(), config)?;
            if until_caught_up && addr.is_none() {
                let report = j.run_until_caught_up()?;
                print_report(&report);
                return Ok(ExitCode::SUCCESS);
            }
            let shutdown = crate::shutdown_signal()?;
            let server = match addr {
                Some(addr) => Some(crate::serve::spawn(
                    data,
                    log.clone(),
                    None,
                    addr,
                    shutdown.clone(),
                )?),
                None => None,
            };
            let running = j.start()?;
            println!(
                "{} running (Ctrl-C stops it after a final checkpoint)",
                j.name()
            );
            loop {
                // Report progress every few seconds until caught up (if asked) or stopped.
                if wait_for_signal(&shutdown, Duration::from_secs(5)) {
                    break;
                }
                if until_caught_up {
                    if running.wait_caught_up(Duration::ZERO)? {
                        break;
                    }
                } else {
                    print_status(&running.status());
                }
            }
            let report = running.stop()?;
            crate::request_shutdown();
            if let Some(server) = server {
                server.stop()?;
            }
            print_report(&report);
            Ok(ExitCode::SUCCESS)
        }
        KappaCommand::Reprocess {
            job,
            version,
            max_lag,
            timeout,
            keep_old,
        } => {
            let (workload, topic) = job.w.resolve(data)?;
            let mut config = job.config(data, &topic)?;
            let versions = kappa::list_versions(&config.dir, workload.name())?;
            config.version = match version {
                Some(v) => v,
                None => versions.iter().max().map_or(1, |v| v + 1),
            };
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {prefix} [{bar:30}] {pos}/{len} records ({per_sec}, ETA {eta})",
                )?
                .progress_chars("=> "),
            );
            bar.set_prefix(kappa::job_name(workload.name(), config.version));
            let report = kappa::reprocess(
                log.clone(),
                workload.clone(),
                config.clone(),
                max_lag,
                timeout,
                &mut |s| {
                    let read: u64 = s.partitions.iter().map(|p| p.position).sum();
                    let head: u64 = s.partitions.iter().map(|p| p.head).sum();
                    bar.set_length(head);
                    bar.set_position(read);
                },
            )?;
            bar.finish_and_clear();
            println!(
                "reprocessed {} into v{}: {} records in {:.2} s ({:.0} records/s); serving v{} (was {})",
                workload.name(),
                report.new_version,
                report.records,
                report.run.elapsed_ms as f64 / 1000.0,
                report.records_per_s,
                report.new_version,
                report
                    .old_version
                    .map_or_else(|| "none".to_string(), |v| format!("v{v}"))
            );
            if let Some(old) = report.old_version.filter(|_| !keep_old) {
                kappa::retire(log.as_ref(), &config, workload.name(), old)?;
                println!("retired v{old} (its table, state, changelog and late-events topic)");
            }
            Ok(ExitCode::SUCCESS)
        }
        KappaCommand::Versions { w } => {
            let workload = Workload::resolve(&w.workload, data)?;
            let dir = kappa_dir(data);
            let serving = kappa::serving_version(&dir, workload.name())?;
            let versions = kappa::list_versions(&dir, workload.name())?;
            if versions.is_empty() {
                println!("{} has no Kappa table yet", workload.name());
            }
            for v in versions {
                let mark = if Some(v) == serving { " (serving)" } else { "" };
                match kappa::load_version(&dir, workload.name(), v) {
                    Ok(t) => println!(
                        "{}{mark}: positions {:?}, {} cells, {} events, {} late",
                        kappa::job_name(workload.name(), v),
                        t.positions,
                        t.table.len(),
                        t.events,
                        t.late_events
                    ),
                    Err(e) => println!("{}{mark}: {e}", kappa::job_name(workload.name(), v)),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Wait up to `timeout` for `signal` to turn true; whether it did.
fn wait_for_signal(signal: &tokio::sync::watch::Receiver<bool>, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if *signal.borrow() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    *signal.borrow()
}
