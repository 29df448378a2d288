//! # compare — the Lambda and the Kappa pipeline on one log, measured side by side
//!
//! `lk compare` feeds one topic of the master log at a steady rate while both pipelines
//! follow it in the same process, then measures what each one showed, how fast, at what
//! cost, and how right, against the exact oracle.
//!
//! ```text
//!                      ┌─────────► Lambda: speed layer (tokio) ─┐
//!   feed (paced) ──► topic T       + batch layer (own thread,   ├─► observers: when is
//!   schedule i·Δt      │             every --batch-every)       │   batch i visible?
//!                      └─────────► Kappa: stream job (workers) ─┘   (latency, freshness)
//!   sampler (every 100 ms): staleness, per-thread CPU, heap by pipeline, answers
//!   after the feed: catch-up → final answers vs oracle → reprocess both → complexity
//! ```
//!
//! ## Contract
//! - Both pipelines read the same records of the same topic; neither sees the other.
//! - **Latency** of a batch of records is measured from its *scheduled* append time (the
//!   feed's fixed schedule), so a feed that falls behind counts its delay against the
//!   pipelines (no coordinated omission), to the moment every workload of the pipeline
//!   shows it: Lambda when the speed layer has folded it into the realtime view that
//!   queries merge with the batch view; Kappa when every task's checkpoint covers it
//!   (the output table is published per checkpoint).
//! - **Correctness** figures are deterministic for the same seed and options: the final
//!   answers are taken after both pipelines have caught up with the whole topic.
//! - Ctrl-C ends the feed early; what was measured until then is reported, marked
//!   `interrupted`.
//!
//! The JSON the run writes is [`report::Report`]; its schema is documented there.

#![warn(missing_docs)]

pub mod alloc;
mod assemble;
pub mod complexity;
/// The error type.
pub mod error;
mod feed;
pub mod format;
pub mod html;
mod observe;
pub mod options;
pub mod pipelines;
pub mod report;
pub mod resources;
pub mod run;
mod score;
pub mod verdict;

pub use error::{CompareError, Result};
pub use pipelines::Architecture;
pub use report::Report;
pub use run::{CompareOptions, Phase, Progress, Source, run};
