//! `lk compare`: both pipelines on one log, measured side by side (crate `compare`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use compare::{CompareOptions, MaxRateOptions, Phase, Progress, Source, SweepSpec};
use indicatif::{ProgressBar, ProgressStyle};
use master_log::Log;
use workloads::Workload;

use crate::backend::{Backend, LogArgs};
use crate::compare_scratch::Scratch;
use crate::datasets_cmd::sidecar_dir;
use crate::text::duration;

const FEED: &str = "Feed (generated data)";
const PIPELINES: &str = "Pipelines";
const RUNS: &str = "Runs and controls";
const SWEEP: &str = "Sweep and rate search";
const OUTPUT: &str = "Output";

/// The flags of `lk compare`. Its defaults are the benchmark's (README): where one
/// differs from another command's default for the same flag, its help says why.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The dataset to generate and feed (pageviews, ysb, nexmark).
    #[arg(long, default_value = "ysb", conflicts_with = "topic", help_heading = FEED)]
    dataset: String,
    /// Compare over this existing topic instead (no feed: both pipelines process what it
    /// holds; needs --workload). The topic is read, never changed or deleted.
    #[arg(long, help_heading = FEED)]
    topic: Option<String>,
    /// Distinct events to feed (duplicates come on top).
    #[arg(long, default_value_t = 2_000_000, help_heading = FEED)]
    events: u64,
    /// Records appended per second (wall clock; `lk generate` is unpaced without it).
    #[arg(long, value_name = "EVENTS_PER_S", default_value_t = 50_000, help_heading = FEED)]
    rate: u64,
    /// Events per second of event time (default: --rate; event time runs with the
    /// clock). A higher value packs more windows into a short run.
    #[arg(long, value_name = "EVENTS_PER_S", help_heading = FEED)]
    event_rate: Option<u64>,
    /// Partitions of the generated topic.
    #[arg(long, short = 'p', default_value_t = 4, help_heading = FEED)]
    partitions: u32,
    /// The generator's seed (the same seed, the same records).
    #[arg(long, default_value_t = 42, help_heading = FEED)]
    seed: u64,
    /// Fraction of events that arrive out of order, up to --max-delay late (`lk
    /// generate` makes none by default; a comparison needs some disorder).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.05, value_parser = crate::text::fraction,
          help_heading = FEED)]
    out_of_order: f64,
    /// The most an out-of-order event is delayed (`lk generate`: 5s; 2s keeps the
    /// watermark's wait short in a short run).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration,
          help_heading = FEED)]
    max_delay: Duration,
    /// Fraction of events that arrive late: --late-delay to twice that after their time
    /// (`lk generate` makes none by default).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.001, value_parser = crate::text::fraction,
          help_heading = FEED)]
    late: f64,
    /// How late the late events are (`lk generate`: 1m; 15s keeps them within a short
    /// run).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = duration,
          help_heading = FEED)]
    late_delay: Duration,
    /// Fraction of events sent twice (`lk generate` sends none by default).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.001, value_parser = crate::text::fraction,
          help_heading = FEED)]
    duplicates: f64,
    /// A workload both pipelines run (repeatable): a built-in's name, a spec file
    /// (.toml), a SQL file (.sql, also `--sql FILE`), SQL text (`--sql-text 'SELECT …'`),
    /// or a registered workload's name. Default: every built-in of the dataset.
    #[arg(long = "workload", value_name = "WORKLOAD", visible_alias = "sql",
          visible_alias = "sql-text", help_heading = PIPELINES)]
    workloads: Vec<String>,
    /// Lambda: start a batch run this long after the previous one started (`lk lambda
    /// run`: 1m; 10s fits several batch runs into a default run's 40 s of feed).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration,
          help_heading = PIPELINES)]
    batch_every: Duration,
    /// Kappa: late events within this still update their window. Default: the least
    /// that covers the data's disorder beyond the watermark bound (for generated data,
    /// what the generator makes: twice --late-delay, plus a duplicate's delay; for
    /// --topic, measured from its records).
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = PIPELINES)]
    allowed_lateness: Option<Duration>,
    /// Kappa: the watermark's out-of-orderness bound. Default: --max-delay, the disorder
    /// the generator makes (`lk kappa run`, which does not know its data: 5s).
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = PIPELINES)]
    watermark_bound: Option<Duration>,
    /// Kappa: checkpoint (and publish the table) this often (`lk kappa run`: 1s; 250ms
    /// gives a short run enough checkpoints to measure Kappa's stable latency).
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = duration,
          help_heading = PIPELINES)]
    checkpoint_every: Duration,
    /// Kappa: worker threads per job (Lambda's batch layer uses every core).
    #[arg(long, alias = "kappa-workers", default_value_t = 2, help_heading = PIPELINES)]
    workers: usize,
    /// Skip reprocessing the whole history with both pipelines after the live phase.
    #[arg(long, help_heading = RUNS)]
    no_reprocess: bool,
    /// Reprocess the history this many times with each pipeline, each from fresh state
    /// (a new directory per run): every phase (setup, process, publish) is reported as
    /// its median and range.
    #[arg(long, value_name = "N", default_value_t = 3, help_heading = RUNS)]
    reprocess_runs: u32,
    /// Run the whole comparison N times, each from fresh state: every figure is then
    /// its median and range, and a difference is claimed only beyond the noise.
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = RUNS)]
    repeat: u32,
    /// Also run each pipeline by itself on the same feed, as a control for how much
    /// the two slow each other down.
    #[arg(long, help_heading = RUNS)]
    alone: bool,
    /// Run the comparison at each value of one setting: batch-every, checkpoint-every,
    /// allowed-lateness, rate or partitions (e.g. `allowed-lateness=0s,20s`).
    #[arg(long, value_name = "NAME=V1,V2,...", help_heading = SWEEP)]
    sweep: Option<String>,
    /// Then search for the highest rate each pipeline sustains alone (fresh p99 and
    /// catch-up within --max-rate-p99).
    #[arg(long, help_heading = SWEEP)]
    find_max_rate: bool,
    /// With --find-max-rate: the bound on the fresh p99 and on the catch-up.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration,
          help_heading = SWEEP)]
    max_rate_p99: Duration,
    /// With --find-max-rate: how long each probe feeds.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration,
          help_heading = SWEEP)]
    max_rate_probe: Duration,
    /// Write the report as JSON (schema: compare::report).
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report with charts.
    #[arg(long, value_name = "PATH", help_heading = OUTPUT)]
    html: Option<PathBuf>,
    /// Keep what the comparison wrote — its scratch directory in --data (with the
    /// generated topic, on the embedded log), and its topics on a shared log — instead
    /// of removing it at the end; the last line says where it is.
    #[arg(long, help_heading = OUTPUT)]
    keep: bool,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The comparison's options, working in `work` (its scratch directory), with the
/// dataset sidecars in `sidecars`.
fn options(
    a: &CompareArgs,
    data: &Path,
    work: &Path,
    sidecars: &Path,
) -> anyhow::Result<CompareOptions> {
    let mut o = CompareOptions::new(work.join("compare"), sidecars);
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
    o.out_of_order = a.out_of_order;
    o.late = a.late;
    o.duplicates = a.duplicates;
    o.max_delay_ms = millis(a.max_delay);
    o.late_delay_ms = millis(a.late_delay);
    o.batch_every = a.batch_every;
    o.allowed_lateness_ms = a.allowed_lateness.map(|d| millis(d) as i64);
    o.watermark_bound_ms = a.watermark_bound.map(|d| millis(d) as i64);
    o.checkpoint_interval = a.checkpoint_every;
    o.kappa_workers = a.workers;
    o.reprocess = !a.no_reprocess;
    o.reprocess_runs = a.reprocess_runs;
    o.repeat = a.repeat;
    o.alone = a.alone;
    o.sweep = a.sweep.as_deref().map(SweepSpec::parse).transpose()?;
    let max_rate = MaxRateOptions {
        p99_bound: a.max_rate_p99,
        probe: a.max_rate_probe,
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

/// `lk compare`: in a scratch directory of `data` (see [`crate::compare_scratch`]); on
/// the embedded log, a generated feed goes to a log of its own there.
pub fn run(a: CompareArgs, data: &Path, log_args: &LogArgs) -> anyhow::Result<ExitCode> {
    // First: a Ctrl-C during the set-up stops the run (and removes the scratch directory)
    // like one during the feed.
    let stop = crate::stop_flag()?;
    let mut scratch = Scratch::create(data, a.keep)?;
    let own_log = a.topic.is_none() && log_args.backend()? == Backend::Embedded;
    let (log, opts): (Arc<dyn Log>, _) = if own_log {
        let dir = scratch.dir().to_path_buf();
        let opts = options(&a, data, &dir, &sidecar_dir(&dir))?;
        scratch.track(None, &opts);
        (Arc::new(log_args.open_embedded(&dir)?), opts)
    } else {
        let log = log_args.open(data)?;
        let sidecars = match &a.topic {
            // An existing topic's own sidecars (its schema, its campaign table).
            Some(_) => sidecar_dir(data),
            None => sidecar_dir(scratch.dir()),
        };
        let opts = options(&a, data, scratch.dir(), &sidecars)?;
        scratch.track(Some(log.clone()), &opts);
        (log, opts)
    };
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
    println!("{}", scratch.finish()?);
    Ok(if stop.load(Ordering::SeqCst) {
        // Interrupted, but the report was written: the conventional status of SIGINT.
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
