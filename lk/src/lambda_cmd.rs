//! `lk lambda batch`, `lk lambda speed` and `lk query`: the Lambda pipeline from the
//! command line, one layer per command, sharing files in `<data>/lambda/<workload>/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use master_log::{EmbeddedLog, Log};
use workloads::Workload;

use crate::datasets_cmd::sidecar_dir;

fn lambda_dir(data: &Path, workload: &Workload) -> PathBuf {
    data.join("lambda").join(workload.name())
}

fn batch_store(data: &Path, workload: &Workload) -> anyhow::Result<batch_layer::ViewStore> {
    Ok(batch_layer::ViewStore::open(
        lambda_dir(data, workload).join("batch"),
    )?)
}

fn realtime_file(data: &Path, workload: &Workload) -> PathBuf {
    lambda_dir(data, workload).join("realtime.view")
}

#[derive(Debug, Args)]
pub struct WorkloadArgs {
    /// A built-in workload's name, a spec file, or a registered spec's name.
    #[arg(long)]
    workload: String,
    /// The topic to read (default: the spec's topic, or the built-in's dataset name).
    #[arg(long)]
    topic: Option<String>,
}

impl WorkloadArgs {
    fn resolve(&self, data: &Path) -> anyhow::Result<(Workload, String)> {
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
}

pub fn lambda(cmd: LambdaCommand, data: &Path, log: EmbeddedLog) -> anyhow::Result<ExitCode> {
    match cmd {
        LambdaCommand::Batch { w, every } => {
            let (workload, topic) = w.resolve(data)?;
            let every = every
                .as_deref()
                .map(master_log::parse_duration)
                .transpose()?;
            let store = batch_store(data, &workload)?;
            let stop = crate::stop_flag()?;
            loop {
                let started = Instant::now();
                let view = batch_layer::recompute(&log, &workload, &topic, &sidecar_dir(data))?;
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
            let published = batch_store(data, &workload)?.current()?.map(|v| v.horizon);
            let log: Arc<dyn Log> = Arc::new(log);
            let config = speed_layer::SpeedConfig::new(&topic, sidecar_dir(data));
            let file = realtime_file(data, &workload);
            let speed = if file.exists() {
                speed_layer::SpeedLayer::load(
                    log.clone(),
                    workload.clone(),
                    config,
                    &file,
                    published.as_deref(),
                )?
            } else {
                let horizon = match published {
                    Some(h) => h,
                    None => vec![0; log.partition_count(&topic)? as usize],
                };
                speed_layer::SpeedLayer::new(log.clone(), workload.clone(), config, horizon)?
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("start the tokio runtime")?;
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
            std::fs::create_dir_all(lambda_dir(data, &workload))
                .with_context(|| format!("create {}", lambda_dir(data, &workload).display()))?;
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
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pipeline {
    Lambda,
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

pub fn query(a: QueryArgs, data: &Path, log: EmbeddedLog) -> anyhow::Result<ExitCode> {
    let (workload, topic) = a.w.resolve(data)?;
    let Pipeline::Lambda = a.pipeline;
    let head = log.end_offsets(&topic)?;
    let batch = batch_store(data, &workload)?.current()?;
    let horizon = batch.as_ref().map(|b| b.horizon.clone());
    let file = realtime_file(data, &workload);
    let (realtime, positions) = if file.exists() {
        let snap = speed_layer::RealtimeSnapshot::load(&file, horizon.as_deref())?;
        let gens = snap
            .generations
            .into_iter()
            .map(|g| serving_layer::Generation {
                from: g.from,
                table: g.table,
            })
            .collect();
        (gens, snap.positions)
    } else {
        (
            Vec::new(),
            horizon.clone().unwrap_or_else(|| vec![0; head.len()]),
        )
    };
    if batch.is_none() && realtime.is_empty() {
        anyhow::bail!(
            "workload {} has no views yet: run `lk lambda batch --workload {}` or `lk lambda speed --workload {}` first",
            workload.name(),
            a.w.workload,
            a.w.workload
        );
    }
    let snapshot = serving_layer::LambdaSnapshot {
        batch: batch.map(|b| serving_layer::BatchPart {
            horizon: b.horizon,
            table: b.table,
        }),
        realtime,
        positions,
        head,
    };
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
    let answer = snapshot.answer(&workload, &q)?;
    let format = match a.format {
        QueryFormat::Table => serving_layer::Format::Table,
        QueryFormat::Csv => serving_layer::Format::Csv,
        QueryFormat::Json => serving_layer::Format::Json,
    };
    print!("{}", serving_layer::render(&answer, format));
    Ok(ExitCode::SUCCESS)
}
