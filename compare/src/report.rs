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
//! ```text
//! { "schema_version": 1,
//!   "params":   { dataset, topic, workloads, events, rate_eps, partitions, seed, … },
//!   "machine":  { os, arch, cpus, memory_bytes, cpu_model, lk_version },
//!   "run":      { started, wall_seconds, records_fed, interrupted, peak_rss_bytes, … },
//!   "pipelines": {
//!     "lambda": { latency_ms {p50,p95,p99,max}, throughput_eps, cpu_seconds,
//!                 peak_heap_bytes, correctness {exact_fraction, max_abs_error,
//!                 mean_abs_error, late_dropped, …}, reprocess_seconds,
//!                 complexity {loc, functions, cyclomatic}, timeline […], … },
//!     "kappa":  { the same } },
//!   "workloads": [ { name, lambda {…}, kappa {…} } ],   per-workload breakdown
//!   "batch_runs": [ { started_s, finished_s, horizon_records } ],
//!   "verdict": [ "…" ] }
//! ```
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
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The options of the run.
    pub params: Params,
    /// What the run ran on.
    pub machine: Machine,
    /// The run as a whole.
    pub run: RunInfo,
    /// Each pipeline's figures over all workloads.
    pub pipelines: Pipelines,
    /// The same figures per workload (correctness, reprocessing and complexity are per
    /// workload; latency, throughput and resources are the pipeline's as a whole).
    pub workloads: Vec<WorkloadReport>,
    /// The Lambda batch layer's runs during the live phase, for marking on charts.
    pub batch_runs: Vec<BatchRun>,
    /// Plain-language sentences: which pipeline did better on what, in this run.
    pub verdict: Vec<String>,
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
    /// Kappa: the watermark's out-of-orderness bound.
    pub watermark_bound_ms: i64,
    /// Kappa: a checkpoint (and the table published) this often.
    pub checkpoint_interval_ms: u64,
    /// Kappa showed uncommitted results this often (`None`: checkpointed ones only).
    #[serde(default)]
    pub kappa_uncommitted_every_ms: Option<u64>,
    /// Kappa: worker threads.
    pub kappa_workers: usize,
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
    /// Stopped by Ctrl-C: the figures cover what ran until then.
    pub interrupted: bool,
    /// Peak resident memory of the whole process (both pipelines, the log, the harness).
    pub peak_rss_bytes: Option<u64>,
    /// CPU seconds of the harness itself (feed, observers, oracle), not in either pipeline.
    pub harness_cpu_seconds: f64,
}

/// The two pipelines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipelines {
    /// The Lambda pipeline (batch + speed + serving layer).
    pub lambda: PipelineReport,
    /// The Kappa pipeline (one stream job).
    pub kappa: PipelineReport,
}

/// One pipeline's figures (all workloads together).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineReport {
    /// From a record's scheduled append time to the moment its effect is visible to a
    /// query of every workload of the pipeline.
    pub latency_ms: Option<Latency>,
    /// The latency distribution: (latency in ms, fraction of records at or below it).
    pub latency_cdf: Vec<CdfPoint>,
    /// Records processed per second from the start of the feed until the pipeline had
    /// caught up with its end.
    pub throughput_eps: Option<f64>,
    /// Seconds from the end of the feed until the pipeline showed every record.
    pub catch_up_seconds: Option<f64>,
    /// CPU time (user + system) of the pipeline's threads during the live phase.
    pub cpu_seconds: f64,
    /// Largest heap the pipeline's threads held at once (bytes allocated by them and not
    /// yet freed); `null` when the counting allocator is not installed.
    pub peak_heap_bytes: Option<u64>,
    /// Final answers against the oracle, all workloads' cells together.
    pub correctness: Correctness,
    /// Full recomputation of the same history after the run: Lambda's batch layer from
    /// scratch, Kappa's replay from offset 0 into a new version (all workloads).
    pub reprocess_seconds: Option<f64>,
    /// Records per second of that recomputation.
    pub reprocess_eps: Option<f64>,
    /// Source code the pipeline needs for the run's workloads.
    pub complexity: Complexity,
    /// Samples during the live phase.
    pub timeline: Vec<Sample>,
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
    /// How long the oldest record not yet visible has been waiting (0 when everything
    /// appended is visible).
    pub staleness_ms: f64,
    /// Records visible to queries so far.
    pub visible_records: u64,
    /// Lambda: age of the batch view being served (since its horizon was taken);
    /// `null` before the first batch view and for Kappa.
    pub batch_view_age_ms: Option<f64>,
    /// The answer at this moment against the oracle, over the windows that were complete
    /// by then (every window whose end is at least `max_delay` of event time behind the
    /// newest event appended); `null` when not evaluated at this sample.
    pub correctness: Option<Correctness>,
    /// p99 latency (ms) of the batches that became visible since the previous sample.
    pub latency_p99_ms: Option<f64>,
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
    /// Full recomputation of the history for this workload alone; `null` when not run.
    pub reprocess_seconds: Option<f64>,
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
