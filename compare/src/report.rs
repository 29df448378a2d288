//! The measured result of one `lk compare` run: what `--json` writes (schema version
//! [`SCHEMA_VERSION`]) and what the terminal table and the HTML report show.
//!
//! ## Stability
//! The field names below are the JSON schema. A field is never renamed or given another
//! meaning without raising [`SCHEMA_VERSION`]; new fields may be added. Times are in
//! seconds (`_s`, `_seconds`) or milliseconds (`_ms`) as their names say; sizes in bytes;
//! rates in events per second (`_eps`). A figure that could not be measured in a run
//! (e.g. latency when `--topic` names a topic that is not fed) is `null`.
//!
//! ## Latency and its two visibility levels
//! A record's latency runs from the log's acknowledgement of its append (measured from
//! its *scheduled* append time, so that a feed that falls behind counts against the
//! pipelines) to the first moment a query through the pipeline's serving interface
//! returns a result that includes it, for every workload. Both pipelines are measured at
//! both [`Visibility`] levels in the same run: **fresh** (in memory: Lambda's batch view
//! merged with the speed layer's realtime view; Kappa's results of what its tasks have
//! processed, before a checkpoint) and **stable** (what survives a crash and a restart:
//! Lambda's published batch view, written to files; Kappa's committed checkpoint).
//!
//! ## Runs, repeats and the summary
//! One invocation runs the comparison `params.repeat` times (`--repeat`), each from
//! fresh state; `--alone` adds a run of each pipeline by itself per repeat, `--sweep` a
//! set of runs per value, and `--find-max-rate` short runs of each pipeline alone at
//! rising rates. The details (`run`, `pipelines`, `workloads`, `batch_runs`) are those of
//! the first run of the first sweep value; `summary` gives the median, smallest and
//! largest value of every headline figure over that value's repeats, and says whether
//! the two pipelines differ beyond the noise (their ranges do not overlap).
//!
//! ```text
//! { "schema_version": 3,
//!   "provenance": { version, commit, command, reproduce },
//!   "params":   { dataset, topic, workloads, events, rate_eps, partitions, seed,
//!                 allowed_lateness_ms, allowed_lateness_from, repeat, … },
//!   "machine":  { os, arch, cpus, memory_bytes, cpu_model, lk_version },
//!   "run":      { started, wall_seconds, records_fed, feed_behind_ms, interrupted, … },
//!   "disorder": { max_ms, p99_ms, records, behind_watermark, beyond_allowed_lateness },
//!   "pipelines": {
//!     "lambda": { fresh {what, latency_ms {p50,p95,p99,max,samples}, latency_cdf,
//!                 catch_up_seconds}, stable {the same}, throughput_eps, cpu_seconds,
//!                 peak_heap_bytes, stable_updates, peak_state_cells,
//!                 correctness {exact_fraction, max_abs_error, late_dropped, …},
//!                 reprocess_seconds, reprocess_eps,
//!                 reprocess { runs, durability, setup, process, publish, total,
//!                   records, bytes, process_eps, process_mb_s, total_eps, total_mb_s },
//!                 complexity {loc, functions, cyclomatic},
//!                 timeline […] },
//!     "kappa":  { the same } },
//!   "summary":  { runs, figures: [ { key, label, group, level, better,
//!                 lambda {median,min,max,values}, kappa {…}, difference } ] },
//!   "alone":    null | { summary },             each pipeline by itself, same feed
//!   "sweep":    null | { name, points: [ { value, x, summary } ] },
//!   "max_rate": null | { p99_bound_ms, probe_seconds, lambda {sustained_eps,
//!                 per_core_eps, probes […]}, kappa {…} },
//!   "workloads": [ { name, lambda {…}, kappa {…} } ],   per-workload breakdown
//!   "batch_runs": [ { started_s, finished_s, horizon_records } ],
//!   "warnings": [ "…" ],
//!   "verdict": [ "…" ] }
//! ```
//!
//! ## Reprocessing (schema 3)
//! After the live phase each pipeline recomputes the whole history of every workload,
//! `reprocess.runs` times (`--reprocess-runs`, at least 3 by default), Lambda and Kappa
//! taking turns, each run from fresh state: a new directory per run and pipeline (and for
//! Kappa a new namespace on the log: its own changelog, late-events topic and consumer
//! group), removed after the run. Nothing warm is carried from one run to the next but
//! the operating system's page cache (the history was read by the live phase, so it is
//! warm for every run alike) and the process's started thread pools. Both pipelines are
//! timed by the same clock in the same three phases, back to back (so that
//! `setup + process + publish = total` in every run):
//! - **setup**: Lambda: its view store opened (`Layout::files`: the directories
//!   created). Kappa: `Job::new` (the workload checked, the changelog and late-events
//!   topics created) and `Job::start` (the consumer group joined, the workers started).
//! - **process**: reading the whole history and computing. Lambda: `lambda::recompute`
//!   (the batch layer over every record). Kappa: until every task has caught up with the
//!   head (its state store opened and restored by the worker, the records read and
//!   folded; the checkpoints of the interval and their table writes included).
//! - **publish**: until the new version serves queries. Lambda: `ViewStore::publish`
//!   (what `lambda::recompute_and_publish` and the batch cycle do: the view written to a
//!   new version directory and `CURRENT` switched to it). Kappa: as `kappa::reprocess`
//!   times it, `RunningJob::checkpoint_now` (every task's checkpoint: changelog and group
//!   offsets, table parts written) and the alias switched to the new version; the job's
//!   stop after the switch (its local stores taking in the checkpoints the changelog
//!   already holds) is in no phase.
//!
//! `reprocess.durability` states how the output is written: both are `synced` (Lambda's
//! view files, `CURRENT` and directories fsynced; Kappa's table parts and alias
//! fsynced, its state on the changelog under the log's `--fsync`), so the two are timed to
//! the same durability; a report where they differ says so in the verdict. Each phase is
//! a [`Stat`] over the runs (median, range, every run's value); the rates divide the
//! history read (`records`, and `bytes`: the topic's partitions' size on disk, `null`
//! where the log cannot tell, e.g. on Kafka) by the median process and total times.
//! `reprocess_seconds` is the median total and `reprocess_eps` the records per second of
//! it, as before. Reports of schema 2 read with `reprocess: null`.
//!
//! `correctness` (schema 1, fields added): `exact_fraction_na` is `true` when the
//! oracle's answer has no cell (show "n/a", whatever `exact_fraction` holds);
//! `duplicate_rows` counts rows repeating a (window, key) cell of the same answer;
//! `missing_listed`, `extra_listed` and `duplicates_listed` list the first 20 such cells
//! of a workload's final answer, each `{ window: {start, end}, key: [scalar…],
//! values: [scalar…] }` (a duplicate: `{ answer: "expected" | "actual", window, key,
//! rows: [[scalar…]…] }`), a scalar in its serde form (`"Null"`, `{"Int": 3}`,
//! `{"Float": 1.5}`, `{"Str": "a"}`, `{"Bool": true}`, `{"Timestamp": µs}`). Reports
//! written before these fields read with `false`, 0 and empty lists.

#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use workloads::{DuplicateCell, ListedCell};

/// Raised whenever a field changes name or meaning.
pub const SCHEMA_VERSION: u32 = 3;

/// Everything one invocation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// How the report was made: the program's version and commit, and the command.
    pub provenance: Provenance,
    /// The options of the run.
    pub params: Params,
    /// What the run ran on.
    pub machine: Machine,
    /// The (first) run as a whole.
    pub run: RunInfo,
    /// How far behind the newest event of its partition each event arrived during the
    /// feed; `null` without a feed.
    pub disorder: Option<Disorder>,
    /// Each pipeline's figures over all workloads, in the first run.
    pub pipelines: Pipelines,
    /// Every headline figure over the repeats: median, smallest, largest.
    pub summary: Summary,
    /// Each pipeline run by itself on the same feed (`--alone`), as a control (at the
    /// first sweep value).
    pub alone: Option<Alone>,
    /// The runs over a range of one setting (`--sweep`).
    pub sweep: Option<Sweep>,
    /// The highest rate each pipeline sustains (`--find-max-rate`).
    pub max_rate: Option<MaxRate>,
    /// The same figures per workload (correctness, reprocessing and complexity are per
    /// workload; latency, throughput and resources are the pipeline's as a whole).
    pub workloads: Vec<WorkloadReport>,
    /// The Lambda batch layer's runs during the live phase, for marking on charts.
    pub batch_runs: Vec<BatchRun>,
    /// Why the figures may not be enough to judge by (a run too short, one run only, a
    /// feed that fell behind, …).
    pub warnings: Vec<String>,
    /// Plain-language sentences: which pipeline did better on what, in this run.
    pub verdict: Vec<String>,
}

/// How a report was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Version of the program (the workspace's version).
    pub version: String,
    /// The git commit it was built from (`-dirty` when the tree had changes); `null`
    /// when built outside a git checkout (a source tarball).
    pub commit: Option<String>,
    /// The command line as it was typed; `null` when the library was called directly.
    pub command: Option<String>,
    /// A command line that reproduces the run: every setting written out, so that it
    /// means the same with another version's defaults.
    pub reproduce: String,
}

/// The options of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// `pageviews`, `ysb` or `nexmark`; `null` with `--topic`.
    pub dataset: Option<String>,
    /// The topic both pipelines read.
    pub topic: String,
    /// Whether the run fed the topic (false with `--topic EXISTING`).
    pub fed: bool,
    /// The workloads both pipelines ran, by name.
    pub workloads: Vec<String>,
    /// Distinct events generated (duplicates come on top).
    pub events: u64,
    /// Records appended per second of wall clock during the feed.
    pub rate_eps: u64,
    /// Events per second of event time (the modelled clock).
    pub event_rate_eps: u64,
    /// Partitions of the topic.
    pub partitions: u32,
    /// Seed of the generated data.
    pub seed: u64,
    /// Fraction of events that arrived out of order, up to `max_delay_ms` after their time.
    pub out_of_order: f64,
    /// How late an out-of-order event arrived at most.
    pub max_delay_ms: u64,
    /// Fraction of events that arrived late: `late_delay_ms` to twice that after their time.
    pub late: f64,
    /// How late a late event arrived at least.
    pub late_delay_ms: u64,
    /// Fraction of events sent twice.
    pub duplicates: f64,
    /// Lambda: a batch run started this long after the previous one started.
    pub batch_every_ms: u64,
    /// Kappa: late events within this still updated their window.
    pub allowed_lateness_ms: i64,
    /// Where the allowed lateness came from: `option` (given) or `data` (the least
    /// that covers the data's disorder beyond the watermark bound).
    pub allowed_lateness_from: LatenessSource,
    /// Kappa: the watermark's out-of-orderness bound.
    pub watermark_bound_ms: i64,
    /// Kappa: a checkpoint this often.
    pub checkpoint_interval_ms: u64,
    /// Kappa: worker threads.
    pub kappa_workers: usize,
    /// Runs of the whole comparison (`--repeat`), each from fresh state.
    pub repeat: u32,
}

/// Where the allowed lateness came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatenessSource {
    /// Given as an option.
    Option,
    /// The least that covers the data's disorder: for generated data what the
    /// generator makes (twice the late delay, or the out-of-order delay), for an
    /// existing topic what its records show; minus the watermark bound.
    Data,
}

/// What the run ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Operating system (`std::env::consts::OS`).
    pub os: String,
    /// CPU architecture (`std::env::consts::ARCH`).
    pub arch: String,
    /// CPUs available to the process.
    pub cpus: usize,
    /// The machine's memory; `null` where it could not be read.
    pub memory_bytes: Option<u64>,
    /// The CPU's model name; `null` where it could not be read.
    pub cpu_model: Option<String>,
    /// Version of `lk` that ran.
    pub lk_version: String,
}

/// The run as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// RFC 3339, UTC.
    pub started: String,
    /// Seconds from the start of the run to its report.
    pub wall_seconds: f64,
    /// Seconds the feed took (0 without a feed).
    pub feed_seconds: f64,
    /// Records appended (events plus duplicates).
    pub records_fed: u64,
    /// Records in the topic at the end.
    pub records_total: u64,
    /// How the fed records arrived (all zero without a feed).
    pub arrivals: Arrivals,
    /// The most an append was acknowledged after its scheduled time (ms): the feed's
    /// own delay, counted in every latency.
    pub feed_behind_ms: f64,
    /// Stopped by Ctrl-C: the figures cover what ran until then.
    pub interrupted: bool,
    /// Peak resident memory of the whole process (both pipelines, the log, the harness).
    pub peak_rss_bytes: Option<u64>,
    /// CPU seconds of the harness itself (feed, observers, oracle), not in either pipeline.
    pub harness_cpu_seconds: f64,
}

/// The event-time disorder of the fed records: how far each arrived behind the newest
/// event time appended to its partition before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disorder {
    /// Records measured.
    pub records: u64,
    /// The most a record arrived behind (ms of event time).
    pub max_ms: i64,
    /// The 99th percentile of how far records arrived behind (0 for records in order).
    pub p99_ms: f64,
    /// Records more than Kappa's watermark bound behind: past the watermark on arrival.
    pub behind_watermark: u64,
    /// Records more than the watermark bound plus the allowed lateness behind: those
    /// whose windows may have closed (Kappa counts what it drops in `late_dropped`).
    pub beyond_allowed_lateness: u64,
}

/// The two pipelines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipelines {
    /// The Lambda pipeline (batch + speed + serving layer).
    pub lambda: PipelineReport,
    /// The Kappa pipeline (one stream job).
    pub kappa: PipelineReport,
}

/// A visibility level: how durable the results a query sees are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// In memory: Lambda's merged speed + batch view, Kappa's results of what its
    /// tasks processed. Lost in a crash, until recomputed.
    Fresh,
    /// Survives a crash and restart (never moves back): Lambda's published batch view
    /// (on disk), Kappa's committed checkpoint.
    Stable,
}

impl Visibility {
    /// Both, in report order.
    pub const BOTH: [Visibility; 2] = [Visibility::Fresh, Visibility::Stable];

    /// `fresh` or `stable`.
    pub fn name(self) -> &'static str {
        match self {
            Visibility::Fresh => "fresh",
            Visibility::Stable => "stable",
        }
    }

    /// What the level means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            Visibility::Fresh => "in memory",
            Visibility::Stable => "survives a crash and restart",
        }
    }
}

/// One pipeline's figures (all workloads together).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineReport {
    /// Latency to fresh results (in memory).
    pub fresh: Level,
    /// Latency to stable results (surviving a crash and restart).
    pub stable: Level,
    /// Records processed per second from the start of the feed until the pipeline had
    /// caught up with its end (fresh level): the feed's rate while the pipeline keeps
    /// up. What it sustains at most is `max_rate`.
    pub throughput_eps: Option<f64>,
    /// CPU time (user + system) of the pipeline's threads during the live phase.
    pub cpu_seconds: f64,
    /// Largest heap the pipeline's threads held at once (bytes allocated by them and not
    /// yet freed); `null` when the counting allocator is not installed.
    pub peak_heap_bytes: Option<u64>,
    /// How often results became stable during the live phase: Lambda's published batch
    /// runs (fewest of a workload), Kappa's checkpoints (fewest of a task).
    pub stable_updates: u64,
    /// Kappa: the most cells of open windows held at once over all tasks (the state the
    /// allowed lateness keeps); `null` for Lambda.
    pub peak_state_cells: Option<u64>,
    /// Final answers against the oracle, all workloads' cells together.
    pub correctness: Correctness,
    /// Full recomputation of the same history after the run: Lambda's batch layer from
    /// scratch, Kappa's replay from offset 0 into a new version (all workloads): the
    /// median total of `reprocess`.
    pub reprocess_seconds: Option<f64>,
    /// Records per second of that recomputation.
    pub reprocess_eps: Option<f64>,
    /// The recomputation in its phases over the fresh runs (all workloads: a run's time
    /// is the sum of its workloads'); `null` when not run.
    #[serde(default)]
    pub reprocess: Option<Reprocess>,
    /// Source code the pipeline needs for the run's workloads.
    pub complexity: Complexity,
    /// Samples during the live phase.
    pub timeline: Vec<Sample>,
}

/// Recomputing the whole history, timed in phases over fresh runs (see the module's
/// documentation for what each phase covers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reprocess {
    /// Fresh runs timed (`--reprocess-runs`).
    pub runs: u32,
    /// How the output is written: `synced` (fsynced before the phase ends) or
    /// `unsynced`.
    pub durability: String,
    /// Seconds to set up (stores and directories opened, a job created).
    pub setup: Stat,
    /// Seconds to read the whole history and compute.
    pub process: Stat,
    /// Seconds from the computed result until the new version serves queries.
    pub publish: Stat,
    /// Seconds of the three together.
    pub total: Stat,
    /// Records read in one run (the topic's records, once per workload).
    pub records: u64,
    /// Bytes of history read in one run (the topic's partitions' size, once per
    /// workload); `null` where the log cannot tell.
    pub bytes: Option<u64>,
    /// Records per second of the median process time.
    pub process_eps: Option<f64>,
    /// Megabytes (10^6 bytes) per second of the median process time.
    pub process_mb_s: Option<f64>,
    /// Records per second of the median total time.
    pub total_eps: Option<f64>,
    /// Megabytes per second of the median total time.
    pub total_mb_s: Option<f64>,
}

/// Latency to one visibility level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// What a query at this level reads, for this pipeline.
    pub what: String,
    /// From a record's scheduled append time to the moment a query of every workload at
    /// this level includes it.
    pub latency_ms: Option<Latency>,
    /// The latency distribution: (latency in ms, fraction of records at or below it).
    pub latency_cdf: Vec<CdfPoint>,
    /// Seconds from the end of the feed until the level showed every record.
    pub catch_up_seconds: Option<f64>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Batches of records measured.
    pub samples: u64,
}

/// One point of a latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CdfPoint {
    /// A latency, in milliseconds.
    pub latency_ms: f64,
    /// Fraction of records visible within `latency_ms`.
    pub fraction: f64,
}

/// Answers against the oracle.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Correctness {
    /// (window, key) cells in the oracle's answer or the pipeline's.
    pub cells: u64,
    /// Cells in both answers with every value equal (floats within 1e-9 relative).
    pub exact_cells: u64,
    /// `exact_cells / cells` (1 when there are no cells). Not applicable when the
    /// oracle's answer has no cell: see `exact_fraction_na`.
    pub exact_fraction: f64,
    /// `true` when the oracle's answer has no cell, so that `exact_fraction` says nothing
    /// (it keeps its old value, 1 or 0, for readers that do not know this field); show
    /// "n/a" then.
    #[serde(default)]
    pub exact_fraction_na: bool,
    /// Cells the oracle has and the pipeline does not, and the reverse.
    pub missing_cells: u64,
    /// See `missing_cells`.
    pub extra_cells: u64,
    /// Rows of an answer (the pipeline's, or the oracle's) repeating a (window, key) cell
    /// an earlier row of the same answer has: a fault, never merged into one row. A
    /// repeated cell is not exact.
    #[serde(default)]
    pub duplicate_rows: u64,
    /// The first 20 missing cells (in window, key order), with the oracle's values.
    /// Listed in a workload's final figures only: empty in the pooled figures and over
    /// time.
    #[serde(default)]
    pub missing_listed: Vec<ListedCell>,
    /// The first 20 extra cells, with the pipeline's values (listed as `missing_listed`).
    #[serde(default)]
    pub extra_listed: Vec<ListedCell>,
    /// The first 20 repeated cells, with the values of each of their rows and which
    /// answer repeats them (listed as `missing_listed`).
    #[serde(default)]
    pub duplicates_listed: Vec<DuplicateCell>,
    /// Largest absolute difference over numeric values of cells in both answers.
    pub max_abs_error: f64,
    /// Mean absolute difference over numeric values of cells in both answers.
    pub mean_abs_error: f64,
    /// Largest relative difference (|a − e| / |e|) over numeric values of cells in both.
    pub max_rel_error: f64,
    /// Events the pipeline did not count because they came later than it accepts
    /// (Kappa: beyond the allowed lateness; Lambda drops none).
    pub late_dropped: u64,
    /// Duplicate records (same event id) the pipeline removed; `null` where the
    /// pipeline does not count them (Lambda's speed layer drops them without counting).
    pub duplicates_removed: Option<u64>,
}

/// The code charged to one pipeline: every item (function, method, type, impl block…)
/// that the public API of its crate (`lambda`, `kappa`) reaches through the workspace's
/// call graph, less what the other pipeline's API reaches too, which is `shared` and
/// charged to neither. `compare::complexity` states the rule, `code_metrics` how the
/// graph is followed and each figure counted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Complexity {
    /// Lines with code, without comments and blank lines (the sum over `items`).
    pub loc: u64,
    /// Functions counted (the sum over `items`).
    pub functions: u64,
    /// Sum of the functions' cyclomatic complexity (McCabe: 1 + decision points).
    pub cyclomatic: u64,
    /// Sum of the functions' cognitive complexity (SonarSource's definition).
    #[serde(default)]
    pub cognitive: u64,
    /// Every item charged, by file and line. Empty in the per-workload breakdown
    /// (`workloads[].*.complexity`): the same code serves every workload (the graph has
    /// every workload's `match` arms), so the figures there are the pipeline's and the
    /// items are listed once, here.
    pub items: Vec<CodeItem>,
    /// The code both pipelines reach, charged to neither: the same in both pipelines'
    /// reports; `null` in the per-workload breakdown.
    #[serde(default)]
    pub shared: Option<SharedCode>,
}

/// One item of the code, where anyone can find and check it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CodeItem {
    /// Its path: `crate::module::name`, `crate::module::Type::method`,
    /// `crate::module::<Type as Trait>::method`, `crate::module::impl Trait for Type`.
    pub name: String,
    /// `fn`, `method`, `struct`, `enum`, `union`, `trait`, `type`, `const`, `static`,
    /// `macro` or `impl` (an impl block's own lines: its header, associated types and
    /// consts).
    pub kind: String,
    /// Its file, from the workspace root (`kappa/src/task.rs`).
    pub file: String,
    /// Its first line (1-based; doc comments and attributes included).
    pub first_line: u64,
    /// Its last line (inclusive).
    pub last_line: u64,
    /// The code lines it owns (a method's lines are not its impl block's).
    pub loc: u64,
    /// Its functions (nested ones included).
    pub functions: u64,
    /// Their cyclomatic complexity, summed.
    pub cyclomatic: u64,
    /// Their cognitive complexity, summed.
    pub cognitive: u64,
}

/// The code both pipelines reach.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SharedCode {
    /// Lines with code (the sum over `items`).
    pub loc: u64,
    /// Functions (the sum over `items`).
    pub functions: u64,
    /// Cyclomatic complexity, summed.
    pub cyclomatic: u64,
    /// Cognitive complexity, summed.
    pub cognitive: u64,
    /// Every shared item, by file and line.
    pub items: Vec<CodeItem>,
}

/// One moment of the live phase, for one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the feed started.
    pub t_s: f64,
    /// How long the oldest record not yet fresh (visible in memory) has been waiting (0
    /// when everything appended is).
    pub staleness_ms: f64,
    /// The same for stable results.
    pub stable_staleness_ms: f64,
    /// Records visible to fresh queries so far.
    pub visible_records: u64,
    /// Lambda: age of the batch view being served (since its horizon was taken);
    /// `null` before the first batch view and for Kappa.
    pub batch_view_age_ms: Option<f64>,
    /// The fresh answer at this moment against the oracle, over the windows that were
    /// complete by then (every window whose end is at least `max_delay` of event time
    /// behind the newest event appended); `null` when not evaluated at this sample.
    pub correctness: Option<Correctness>,
    /// p99 latency (ms) of the batches that became fresh since the previous sample.
    pub latency_p99_ms: Option<f64>,
    /// p99 latency (ms) of the batches that became stable since the previous sample.
    pub stable_latency_p99_ms: Option<f64>,
}

/// One workload's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadReport {
    /// The workload's name.
    pub name: String,
    /// Cells in the oracle's answer.
    pub oracle_cells: u64,
    /// The Lambda pipeline's figures for this workload.
    pub lambda: WorkloadFigures,
    /// The Kappa pipeline's figures for this workload.
    pub kappa: WorkloadFigures,
}

/// One pipeline's figures for one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadFigures {
    /// The final answer against the oracle's.
    pub correctness: Correctness,
    /// Full recomputation of the history for this workload alone (median total);
    /// `null` when not run.
    pub reprocess_seconds: Option<f64>,
    /// The same in its phases over the fresh runs; `null` when not run.
    #[serde(default)]
    pub reprocess: Option<Reprocess>,
    /// Source code the pipeline needs for this workload.
    pub complexity: Complexity,
}

/// One run of the Lambda batch layer during the live phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRun {
    /// The workload the run computed.
    pub workload: String,
    /// Seconds since the feed started.
    pub started_s: f64,
    /// Seconds since the feed started.
    pub finished_s: f64,
    /// Records below the horizon (what the run read).
    pub horizon_records: u64,
}

/// How the fed records arrived, as the generator made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Arrivals {
    /// Records that arrived in the order of their event time.
    pub in_order: u64,
    /// Up to `max_delay_ms` after their event time.
    pub out_of_order: u64,
    /// `late_delay_ms` to twice that after their event time.
    pub late: u64,
    /// Second copies of an event (same id).
    pub duplicates: u64,
}

/// Every headline figure over the runs of one setting.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Runs summarized.
    pub runs: u32,
    /// The figures, in the order of the headline table.
    pub figures: Vec<FigureSummary>,
}

/// One figure of both pipelines over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureSummary {
    /// Stable name (`latency_fresh_p99_ms`, `cpu_seconds`, …).
    pub key: String,
    /// The figure's name in the tables.
    pub label: String,
    /// The table group it is shown in.
    pub group: String,
    /// The visibility level of a latency figure; `null` for the others.
    pub level: Option<Visibility>,
    /// Which value is the better one.
    pub better: Better,
    /// Lambda's values; `null` when not measured in any run.
    pub lambda: Option<Stat>,
    /// Kappa's values; `null` when not measured in any run.
    pub kappa: Option<Stat>,
    /// Whether one pipeline did better beyond the noise.
    pub difference: Difference,
}

/// Which of two values is the better one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// The lower value.
    Lower,
    /// The higher value.
    Higher,
    /// Neither: the values are only shown.
    Neither,
}

/// A figure over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// Every run's value, in run order (runs where it was not measured left out).
    pub values: Vec<f64>,
}

/// Whether one pipeline did better on a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    /// Lambda's range is better than Kappa's and they do not overlap.
    Lambda,
    /// Kappa's range is better than Lambda's and they do not overlap.
    Kappa,
    /// The ranges overlap: no difference can be claimed.
    WithinNoise,
    /// Both are the same in every run.
    Same,
    /// Not compared: a figure missing, or one that is only shown.
    NotCompared,
}

/// Each pipeline by itself on the same feed (`--alone`): the control for interference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alone {
    /// Lambda's figures from its runs alone, Kappa's from its own, over the repeats
    /// (compare with the report's `summary`, where they ran together).
    pub summary: Summary,
}

/// The runs over a range of one setting (`--sweep NAME=V1,V2,…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// The setting: `batch-every`, `checkpoint-every`, `allowed-lateness`, `rate` or
    /// `partitions`.
    pub name: String,
    /// What `x` is measured in: `ms`, `records/s` or `partitions`.
    pub unit: String,
    /// One point per value, in the order given.
    pub points: Vec<SweepPoint>,
}

/// The runs at one value of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The value as given (`20s`).
    pub value: String,
    /// The value as a number in the sweep's unit.
    pub x: f64,
    /// The figures over this value's repeats.
    pub summary: Summary,
}

/// The highest feed rate each pipeline sustains (Karimov et al., ICDE 2018): with its
/// fresh latency's p99 and its backlog at the end of the feed bounded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxRate {
    /// A probe sustains its rate when its fresh p99 and its catch-up after the feed
    /// are at most this.
    pub p99_bound_ms: f64,
    /// Seconds of feed per probe.
    pub probe_seconds: f64,
    /// Lambda, alone.
    pub lambda: RateSearch,
    /// Kappa, alone.
    pub kappa: RateSearch,
}

/// One pipeline's search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateSearch {
    /// The highest rate sustained; `null` when none of the probes was.
    pub sustained_eps: Option<f64>,
    /// Records per CPU-second the pipeline used at that rate (its rate per core).
    pub per_core_eps: Option<f64>,
    /// The lowest rate not sustained failed because the feed fell behind its schedule
    /// while the pipeline kept up with what was appended: the machine could not feed
    /// faster, and `sustained_eps` is a lower bound of the pipeline's.
    pub feed_limited: bool,
    /// Every probe, in the order run.
    pub probes: Vec<Probe>,
}

/// One probe of a rate search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// The feed rate tried.
    pub rate_eps: f64,
    /// Whether the pipeline sustained it.
    pub sustained: bool,
    /// Its fresh latency's p99 (ms).
    pub fresh_p99_ms: Option<f64>,
    /// Seconds after the feed until it showed every record (fresh).
    pub catch_up_seconds: Option<f64>,
    /// CPU seconds of the pipeline.
    pub cpu_seconds: f64,
    /// Records fed.
    pub records: u64,
    /// The most the feed's appends were behind their schedule (ms).
    pub feed_behind_ms: f64,
}
