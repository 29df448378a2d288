//! `lk kappa run`, `lk kappa reprocess`, `lk kappa versions`, `lk kappa reset` and `lk
//! kappa delete`: the Kappa pipeline from the command line. A job's state, changelogs and
//! tables live under `<data>/kappa/` and in the master log (see the `kappa` crate's docs).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use master_log::Log;
use workloads::Workload;

use crate::answers::{WorkloadArgs, kappa_dir};
use crate::datasets_cmd::sidecar_dir;
use crate::text::{self, duration};

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
    /// Checkpoint every task this often (and after `--checkpoint-records`): a checkpoint
    /// makes results visible and bounds what a crash makes the job read again.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration)]
    checkpoint_every: Duration,
    /// Also checkpoint a task once it has read this many records since its last
    /// checkpoint (bounds the work a crash loses while the job catches up).
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_records: u64,
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
            checkpoint_interval: self.checkpoint_every,
            checkpoint_records: self.checkpoint_records,
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
    /// Reset a workload's job so that the next run starts from scratch: delete every
    /// version's table, local state, changelog and late-events topic and the serving
    /// alias, and move the job's consumer-group offsets back to the start. Refused while
    /// the job runs.
    Reset {
        #[command(flatten)]
        w: WorkloadArgs,
        /// The job's namespace, as given to `lk kappa run --namespace`.
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
    },
    /// Delete one version of a workload's job that is not serving: its table, local
    /// state, changelog and late-events topic (its consumer-group offsets move back to
    /// the start). Refused while that version runs.
    #[command(disable_version_flag = true)]
    Delete {
        #[command(flatten)]
        w: WorkloadArgs,
        /// The version to delete.
        #[arg(long)]
        version: u32,
        /// The job's namespace, as given to `lk kappa run --namespace`.
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
    },
}

/// One line of a job's progress: what it read, where it is, its watermark.
fn status_line(s: &kappa::JobStatus) -> String {
    let sum = |f: fn(&kappa::PartitionStatus) -> u64| s.partitions.iter().map(f).sum::<u64>();
    let positions: Vec<u64> = s.partitions.iter().map(|p| p.position).collect();
    let owned: Vec<u32> = s
        .partitions
        .iter()
        .filter(|p| p.owned)
        .map(|p| p.partition)
        .collect();
    format!(
        "{} ({} {} here): {} read ({}, {} dropped as duplicates, {} late to the side topic), positions {}, lag {}, watermark {}",
        s.job,
        if owned.len() == 1 {
            "partition"
        } else {
            "partitions"
        },
        text::join(&owned),
        text::count(sum(|p| p.records), "record"),
        text::count(sum(|p| p.events), "event"),
        compare::format::count(sum(|p| p.duplicates)),
        compare::format::count(sum(|p| p.late_events)),
        text::join(&positions),
        text::count(s.lag, "record"),
        s.watermark
            .map(text::rfc3339_ms)
            .unwrap_or_else(|| "none".into())
    )
}

/// How a task got its state back, in words.
pub fn restore_line(r: &kappa::RestoreReport) -> String {
    let from = match r.source {
        kappa::RestoreSource::Fresh => {
            return format!(
                "partition {}: no checkpoint yet, starts at offset 0 with empty state",
                r.partition
            );
        }
        kappa::RestoreSource::LocalStore => "its local store",
        kappa::RestoreSource::Changelog => "the changelog",
    };
    let mut line = format!(
        "partition {}: state restored from {from} (checkpoint {} at input offset {}; {} read)",
        r.partition,
        r.checkpoint.seq,
        r.checkpoint.offset,
        text::count(r.changelog_records, "changelog record"),
    );
    if r.torn_records > 0 {
        line.push_str(&format!(
            "; {} after the last checkpoint ignored and repaired",
            text::plural(r.torn_records, "torn record", "torn records")
        ));
    }
    line
}

fn print_report(r: &kappa::JobReport) {
    for restore in &r.restores {
        println!("  restore: {}", restore_line(restore));
    }
    println!("{}", status_line(&r.status));
    println!(
        "  {:.2} s, {}",
        r.elapsed_ms as f64 / 1000.0,
        text::count(r.table_writes, "table write")
    );
}

/// `lk kappa …`.
pub fn kappa(cmd: KappaCommand, data: &Path, log: Arc<dyn Log>) -> anyhow::Result<ExitCode> {
    match cmd {
        KappaCommand::Run {
            job,
            version,
            until_caught_up,
            worker,
            addr,
        } => run(data, log, &job, version, until_caught_up, worker, addr),
        KappaCommand::Reprocess {
            job,
            version,
            max_lag,
            timeout,
            keep_old,
        } => reprocess(data, log, &job, version, max_lag, timeout, keep_old),
        KappaCommand::Versions { w } => versions(data, &w),
        KappaCommand::Reset { w, namespace } => reset(data, log.as_ref(), &w, namespace),
        KappaCommand::Delete {
            w,
            version,
            namespace,
        } => delete(data, log.as_ref(), &w, version, namespace),
    }
}

/// `lk kappa run`.
fn run(
    data: &Path,
    log: Arc<dyn Log>,
    job: &JobArgs,
    version: Option<u32>,
    until_caught_up: bool,
    worker: bool,
    addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
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
            println!("{}", status_line(&running.status()));
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

/// `lk kappa reprocess`.
fn reprocess(
    data: &Path,
    log: Arc<dyn Log>,
    job: &JobArgs,
    version: Option<u32>,
    max_lag: u64,
    timeout: Duration,
    keep_old: bool,
) -> anyhow::Result<ExitCode> {
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
        "reprocessed {} into v{}: {} in {:.2} s ({}; caught up at {:.2} s); serving v{} (was {}); \
         job stopped {:.2} s after the switch (its local stores took in the checkpoints)",
        workload.name(),
        report.new_version,
        text::count(report.records, "record"),
        report.elapsed_ms as f64 / 1000.0,
        compare::format::rate(report.records_per_s),
        report.caught_up_ms as f64 / 1000.0,
        report.new_version,
        report
            .old_version
            .map_or_else(|| "none".to_string(), |v| format!("v{v}")),
        report.stopped_ms as f64 / 1000.0,
    );
    if let Some(old) = report.old_version.filter(|_| !keep_old) {
        kappa::retire(log.as_ref(), &config, workload.name(), old)?;
        println!("retired v{old} (its table, state, changelog and late-events topic)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `lk kappa versions`.
fn versions(data: &Path, w: &WorkloadArgs) -> anyhow::Result<ExitCode> {
    let workload = Workload::resolve(&w.workload, data)?;
    let dir = kappa_dir(data);
    let serving = kappa::serving_version(&dir, workload.name())?;
    let versions = kappa::list_versions(&dir, workload.name())?;
    if versions.is_empty() {
        println!("{} has no Kappa table yet", workload.name());
    }
    for v in versions {
        let mark = if Some(v) == serving { " (serving)" } else { "" };
        let name = kappa::job_name(workload.name(), v);
        match kappa::load_version(&dir, workload.name(), v) {
            Ok(t) => println!(
                "{name}{mark}: positions {}; {}, {}, {} late",
                text::join(&t.positions),
                text::count(t.table.len() as u64, "cell"),
                text::count(t.events, "event"),
                t.late_events
            ),
            Err(e) => println!("{name}{mark}: {}", master_log::error_chain(&e)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The configuration naming a job's parts, for removing them.
fn removal_config(
    data: &Path,
    w: &WorkloadArgs,
    namespace: Option<String>,
) -> anyhow::Result<(Workload, kappa::JobConfig)> {
    let (workload, topic) = w.resolve(data)?;
    let config = kappa::JobConfig {
        namespace,
        ..kappa::JobConfig::new(topic, kappa_dir(data), sidecar_dir(data))
    };
    Ok((workload, config))
}

/// What was removed, in words: `2 tables, 1 state directory, 4 topics (…)`.
fn removed_text(r: &kappa::Removed) -> String {
    let mut parts = Vec::new();
    if r.tables > 0 {
        parts.push(text::count(r.tables as u64, "table"));
    }
    if r.state_dirs > 0 {
        parts.push(text::plural(
            r.state_dirs as u64,
            "state directory",
            "state directories",
        ));
    }
    if !r.topics.is_empty() {
        parts.push(format!(
            "{} ({})",
            text::count(r.topics.len() as u64, "topic"),
            r.topics.join(", ")
        ));
    }
    if r.alias {
        parts.push("the serving alias".to_owned());
    }
    let mut line = if parts.is_empty() {
        "nothing on disk or on the log".to_owned()
    } else {
        parts.join(", ")
    };
    if !r.groups_reset.is_empty() {
        line.push_str(&format!(
            "; the committed offsets of {} ({}) moved back to the start",
            text::count(r.groups_reset.len() as u64, "group"),
            r.groups_reset.join(", ")
        ));
    }
    line
}

/// The error of a removal refused because the job runs.
fn running_error(job: &str, stores: &[std::path::PathBuf], what: &str) -> anyhow::Error {
    let stores: Vec<String> = stores.iter().map(|p| p.display().to_string()).collect();
    anyhow::anyhow!(
        "{job} is running (its state {} {} open in another process): stop it first (Ctrl-C), then {what}",
        if stores.len() == 1 { "store" } else { "stores" },
        if stores.len() == 1 {
            format!("{} is", stores[0])
        } else {
            format!("{} are", stores.join(", "))
        }
    )
}

/// `lk kappa reset`.
fn reset(
    data: &Path,
    log: &dyn Log,
    w: &WorkloadArgs,
    namespace: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (workload, config) = removal_config(data, w, namespace)?;
    match kappa::reset_job(log, &config, workload.name())? {
        kappa::Removal::Running { job, stores } => Err(running_error(&job, &stores, "reset")),
        kappa::Removal::Removed(r) if r.versions.is_empty() && r.groups_reset.is_empty() => {
            println!(
                "{} has no Kappa job to reset (no table, state or topic of it)",
                workload.name()
            );
            Ok(ExitCode::SUCCESS)
        }
        kappa::Removal::Removed(r) => {
            let versions: Vec<String> = r.versions.iter().map(|v| format!("v{v}")).collect();
            println!(
                "reset {} ({} {}): removed {}",
                workload.name(),
                if versions.len() == 1 {
                    "version"
                } else {
                    "versions"
                },
                versions.join(", "),
                removed_text(&r)
            );
            println!(
                "the next `lk kappa run --workload {}` starts from offset 0 with empty state",
                w.workload
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `lk kappa delete`.
fn delete(
    data: &Path,
    log: &dyn Log,
    w: &WorkloadArgs,
    version: u32,
    namespace: Option<String>,
) -> anyhow::Result<ExitCode> {
    let (workload, config) = removal_config(data, w, namespace)?;
    let existing = kappa::job_versions(log, &config, workload.name())?;
    let name = kappa::job_name(workload.name(), version);
    if !existing.contains(&version) {
        let have: Vec<String> = existing.iter().map(|v| format!("v{v}")).collect();
        anyhow::bail!(
            "{name} does not exist (versions of {}: {})",
            workload.name(),
            text::join(&have)
        );
    }
    match kappa::delete_job_version(log, &config, workload.name(), version)? {
        kappa::Removal::Running { job, stores } => Err(running_error(&job, &stores, "delete it")),
        kappa::Removal::Removed(r) => {
            println!("deleted {name}: {}", removed_text(&r));
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
