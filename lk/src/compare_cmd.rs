//! `lk compare`: both pipelines on one log, measured side by side (crate `compare`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use clap::Args;
use compare::{CompareOptions, MaxRateOptions, Phase, Progress, Source, SweepSpec};
use indicatif::{ProgressBar, ProgressStyle};
use master_log::Log;
use workloads::Workload;

use crate::datasets_cmd::sidecar_dir;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The dataset to generate and feed (pageviews, ysb, nexmark).
    #[arg(long, default_value = "ysb", conflicts_with = "topic")]
    dataset: String,
    /// Compare over this existing topic instead (no feed: both pipelines process what it
    /// holds; needs --workload).
    #[arg(long)]
    topic: Option<String>,
    /// A workload both pipelines run (repeatable; a built-in's name, a spec file or a
    /// registered spec). Default: every built-in of the dataset.
    #[arg(long = "workload", value_name = "W")]
    workloads: Vec<String>,
    /// Distinct events to feed (duplicates come on top).
    #[arg(long, default_value_t = 2_000_000)]
    events: u64,
    /// Records appended per second (wall clock).
    #[arg(long, value_name = "EVENTS_PER_S", default_value_t = 50_000)]
    rate: u64,
    /// Events per second of event time (default: --rate; event time runs with the
    /// clock). A higher value packs more windows into a short run.
    #[arg(long, value_name = "EVENTS_PER_S")]
    event_rate: Option<u64>,
    #[arg(long, default_value_t = 4)]
    partitions: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Fraction of events that arrive out of order, up to --max-delay late.
    #[arg(long, default_value_t = 0.05)]
    out_of_order: f64,
    #[arg(long, value_name = "DURATION", default_value = "2s")]
    max_delay: String,
    /// Fraction of events that arrive late: --late-delay to twice that after their time.
    #[arg(long, default_value_t = 0.001)]
    late: f64,
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    late_delay: String,
    /// Fraction of events sent twice.
    #[arg(long, default_value_t = 0.001)]
    duplicates: f64,
    /// Lambda: start a batch run this long after the previous one started.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    batch_every: String,
    /// Kappa: late events within this still update their window. Default: the least
    /// that covers the data's disorder beyond the watermark bound (for generated data,
    /// what the generator makes: twice --late-delay, plus a duplicate's delay; for
    /// --topic, measured from its records).
    #[arg(long, value_name = "DURATION")]
    allowed_lateness: Option<String>,
    /// Kappa: the watermark's out-of-orderness bound (default: --max-delay).
    #[arg(long, value_name = "DURATION")]
    watermark_bound: Option<String>,
    /// Kappa: checkpoint (and publish the table) this often.
    #[arg(long, value_name = "DURATION", default_value = "250ms")]
    checkpoint_every: String,
    /// Kappa: worker threads.
    #[arg(long, default_value_t = 2)]
    kappa_workers: usize,
    /// Skip reprocessing the whole history with both pipelines after the live phase.
    #[arg(long)]
    no_reprocess: bool,
    /// Reprocess the history this many times with each pipeline, each from fresh state
    /// (a new directory per run): every phase (setup, process, publish) is reported as
    /// its median and range.
    #[arg(long, value_name = "N", default_value_t = 3)]
    reprocess_runs: u32,
    /// Run the whole comparison N times, each from fresh state: every figure is then
    /// its median and range, and a difference is claimed only beyond the noise.
    #[arg(long, value_name = "N", default_value_t = 1)]
    repeat: u32,
    /// Also run each pipeline by itself on the same feed, as a control for how much
    /// the two slow each other down.
    #[arg(long)]
    alone: bool,
    /// Run the comparison at each value of one setting: batch-every, checkpoint-every,
    /// allowed-lateness, rate or partitions (e.g. `allowed-lateness=0s,20s`).
    #[arg(long, value_name = "NAME=V1,V2,...")]
    sweep: Option<String>,
    /// Then search for the highest rate each pipeline sustains alone (fresh p99 and
    /// catch-up within --max-rate-p99).
    #[arg(long)]
    find_max_rate: bool,
    /// With --find-max-rate: the bound on the fresh p99 and on the catch-up.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    max_rate_p99: String,
    /// With --find-max-rate: how long each probe feeds.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    max_rate_probe: String,
    /// Write the report as JSON (schema: compare::report).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report with charts.
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
}

fn millis(flag: &str, s: &str) -> anyhow::Result<u64> {
    Ok(master_log::parse_duration(s)
        .with_context(|| format!("--{flag}"))?
        .as_millis() as u64)
}

fn options(a: &CompareArgs, data: &Path) -> anyhow::Result<CompareOptions> {
    let mut o = CompareOptions::new(data.join("compare"), sidecar_dir(data));
    o.source = match &a.topic {
        Some(t) => Source::Topic(t.clone()),
        None => Source::Generate(a.dataset.parse()?),
    };
    o.workloads = a
        .workloads
        .iter()
        .map(|w| Workload::resolve(w, data))
        .collect::<Result<_, _>>()?;
    o.events = a.events;
    o.rate = a.rate;
    o.event_rate = a.event_rate;
    o.partitions = a.partitions;
    o.seed = a.seed;
    for (flag, f) in [
        ("out-of-order", a.out_of_order),
        ("late", a.late),
        ("duplicates", a.duplicates),
    ] {
        anyhow::ensure!(
            (0.0..=1.0).contains(&f),
            "--{flag} must be a fraction between 0 and 1, not {f}"
        );
    }
    o.out_of_order = a.out_of_order;
    o.late = a.late;
    o.duplicates = a.duplicates;
    o.max_delay_ms = millis("max-delay", &a.max_delay)?;
    o.late_delay_ms = millis("late-delay", &a.late_delay)?;
    o.batch_every = master_log::parse_duration(&a.batch_every).context("--batch-every")?;
    o.allowed_lateness_ms = a
        .allowed_lateness
        .as_deref()
        .map(|s| millis("allowed-lateness", s).map(|m| m as i64))
        .transpose()?;
    o.watermark_bound_ms = a
        .watermark_bound
        .as_deref()
        .map(|s| millis("watermark-bound", s).map(|m| m as i64))
        .transpose()?;
    o.checkpoint_interval =
        master_log::parse_duration(&a.checkpoint_every).context("--checkpoint-every")?;
    o.kappa_workers = a.kappa_workers;
    o.reprocess = !a.no_reprocess;
    o.reprocess_runs = a.reprocess_runs;
    o.repeat = a.repeat;
    o.alone = a.alone;
    o.sweep = a.sweep.as_deref().map(SweepSpec::parse).transpose()?;
    // Parsed whether or not --find-max-rate is given: a bad value is an error either way.
    let max_rate = MaxRateOptions {
        p99_bound: master_log::parse_duration(&a.max_rate_p99).context("--max-rate-p99")?,
        probe: master_log::parse_duration(&a.max_rate_probe).context("--max-rate-probe")?,
    };
    o.find_max_rate = a.find_max_rate.then_some(max_rate);
    o.command = Some(
        std::env::args()
            .map(|a| compare::shell_quote(&a))
            .collect::<Vec<_>>()
            .join(" "),
    );
    Ok(o)
}

/// The progress display: one bar for the feed, a spinner-like line after it.
struct Bar {
    bar: ProgressBar,
    phase: Option<(Phase, u32)>,
}

impl Bar {
    fn update(&mut self, p: &Progress) {
        if self.phase != Some((p.phase, p.run)) {
            self.phase = Some((p.phase, p.run));
            self.bar.set_length(p.total);
            let msg = match p.phase {
                Phase::Feed => "feeding",
                Phase::CatchUp => "catching up",
                Phase::Oracle => "checking answers against the oracle",
                Phase::Reprocess => "reprocessing the history with both pipelines",
            };
            self.bar
                .set_message(format!("run {}/{} ({}): {msg}", p.run, p.runs, p.what));
        }
        self.bar.set_position(p.fed);
        self.bar.set_prefix(format!(
            "fresh: Lambda {} · Kappa {}",
            compare::format::count(p.lambda_visible),
            compare::format::count(p.kappa_visible)
        ));
    }
}

pub fn run(a: CompareArgs, data: &Path, log: Arc<dyn Log>) -> anyhow::Result<ExitCode> {
    let opts = options(&a, data)?;
    let stop = crate::stop_flag()?;
    let bar = ProgressBar::new(opts.events);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {human_pos}/{human_len} ({per_sec}, ETA {eta}) {prefix}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut display = Bar { bar, phase: None };
    let report = compare::run(log, &opts, &stop, &mut |p| display.update(p))?;
    display.bar.finish_and_clear();
    print!("{}", compare::terminal::render_table(&report));
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("write {}", path.display()))?;
        println!("JSON report written to {}", path.display());
    }
    if let Some(path) = &a.html {
        std::fs::write(path, compare::html::render(&report))
            .with_context(|| format!("write {}", path.display()))?;
        println!("HTML report written to {}", path.display());
    }
    Ok(if stop.load(Ordering::SeqCst) {
        // Interrupted, but the report was written: the conventional status of SIGINT.
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
