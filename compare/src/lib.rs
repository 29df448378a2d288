//! # compare — the Lambda and the Kappa pipeline on one log, measured side by side
//!
//! `lk compare` feeds one topic of the master log at a steady rate while both pipelines
//! follow it in the same process, then measures what each one showed, how fast, at what
//! cost, and how right, against the exact oracle.
//!
//! ```text
//!                      ┌─────────► Lambda: speed layer (tokio) ─┐   observers, 2 per
//!   feed (paced) ──► topic T       + batch layer (own thread,   ├─► pipeline: when is
//!   schedule i·Δt      │             every --batch-every)       │   batch i fresh? stable?
//!   disorder measured  └─────────► Kappa: stream job (workers) ─┘   (latency)
//!   sampler (every 100 ms): staleness, per-thread CPU, heap by pipeline, state, answers
//!   after the feed: catch-up → final answers vs oracle → reprocess both, in turns,
//!   --reprocess-runs times each from fresh state (setup | process | publish timed apart)
//!   × --repeat N, × each --sweep value, + each pipeline --alone, + --find-max-rate probes
//!   → summary (median, min–max per figure) → warnings → verdict
//! ```
//!
//! ## Contract
//! - Both pipelines read the same records of the same topic; neither sees the other.
//!   They are started, observed, queried and stopped through one interface
//!   ([`pipelines::Pipeline`]), the same way.
//! - **Latency**, one definition for both: from a record's *scheduled* append time (the
//!   feed's fixed schedule, so that a feed that falls behind counts its delay against
//!   the pipelines: no coordinated omission) to the first moment a query through the
//!   pipeline's serving interface returns a result that includes it, for every
//!   workload. Measured at two [`report::Visibility`] levels for both pipelines in the
//!   same run: **fresh** (in memory: Lambda's batch view merged with its speed layer's
//!   realtime view; Kappa's table with what its tasks processed, kept in memory by the
//!   job) and **stable** (survives a crash and restart: Lambda's published batch view,
//!   written to files; Kappa's committed checkpoint).
//! - **Lateness from the data**: the feed measures how far each event arrives behind the
//!   newest event time of its partition; Kappa's allowed lateness, unless given, is the
//!   least that covers the data's disorder beyond its watermark bound.
//! - **Correctness** figures are deterministic for the same seed and options: the final
//!   answers are taken after both pipelines have caught up with the whole topic.
//! - **Noise**: with `repeat` runs (each from fresh state: a new topic, new working
//!   files, new jobs), every headline figure is reported as its median and range; a
//!   difference is claimed only where the pipelines' ranges do not overlap.
//! - **Reprocessing**, timed the same way for both: each run from fresh state (a new
//!   directory; for Kappa a new namespace on the log), in three phases — setup,
//!   processing the whole history, publishing until the new version serves queries —
//!   both outputs fsynced; the median and range of every phase over `--reprocess-runs`
//!   runs (see [`report`]).
//! - Ctrl-C ends the feed early; what was measured until then is reported, marked
//!   `interrupted`.
//!
//! The JSON the run writes is [`report::Report`]; its schema is documented there.

#![warn(missing_docs)]

pub mod alloc;
mod arch;
mod assemble;
pub mod complexity;
mod disorder;
/// The error type.
pub mod error;
mod feed;
pub mod format;
pub mod html;
#[doc(hidden)]
pub mod inject;
pub mod leftovers;
mod maxrate;
mod observe;
pub mod options;
pub mod pipelines;
mod plan;
mod provenance;
pub mod report;
mod reprocess;
pub mod resources;
pub mod run;
mod score;
mod summary;
pub mod sweep;
pub mod terminal;
pub mod verdict;
mod warnings;

pub use error::{CompareError, Result};
pub use inject::Injection;
pub use options::MaxRateOptions;
pub use pipelines::Architecture;
pub use plan::run;
pub use provenance::shell_quote;
pub use report::Report;
pub use run::{CompareOptions, Phase, Progress, Source};
pub use summary::summary_of;
pub use sweep::{SweepSetting, SweepSpec};
