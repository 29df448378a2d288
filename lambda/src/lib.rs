//! # lambda — the Lambda pipeline's runtime
//!
//! Marz's Lambda architecture over the master log: the batch layer recomputes the
//! workload from scratch below a **horizon**, the speed layer covers the records above
//! it, and the serving layer merges both. The three layers are libraries
//! (`batch_layer`, `speed_layer`, `serving_layer`) that know nothing of each other; this
//! crate runs them together — the counterpart of the `kappa` crate — and is the only
//! place that does: `lk`, `compare` and the benches call it.
//!
//! ```text
//!   master_log topic T (P partitions)
//!   ──────────────[ batch view covers ]│H1 ─── generation 1 ───│H2 ── generation 2 ──▶ head
//!                                       ▲                        ▲
//!   batch thread (polars + rayon):      │                        │ H2 = begin_generation_now()
//!     run n:  recompute [0, H1) ─► publish: store vN (atomic) ─► views: swap batch view +
//!             expire generations below H1 (one step for readers) ─► save realtime view
//!   speed layer (tokio tasks, one per partition): tail from the horizon into generations
//!   query: LiveViews::snapshot = batch view + generations above its horizon (merged)
//! ```
//!
//! ## Contract
//! - **Horizon and hand-off.** A batch run starts by fixing its horizon `H` (per
//!   partition end offsets): the first at the log's end when the pipeline starts, each
//!   next one at the speed layer's positions (`SpeedLayer::begin_generation_now`), where
//!   the speed layer opens a new generation. The run reads exactly `[0, H)`; the speed
//!   layer holds exactly the records at or above the served view's horizon. A run whose
//!   horizon equals the served view's (nothing new arrived), or that would read nothing
//!   with nothing served, is skipped.
//! - **Publishing is atomic for readers** ([`LiveViews::publish`]): the new batch view
//!   replaces the old and the realtime generations below its horizon expire in one step
//!   under a lock that every snapshot takes: a query sees the old pair or the new pair,
//!   never a gap or a record counted twice.
//! - **What a query sees** ([`Lambda::snapshot`], [`LiveViews::table`]): the served batch
//!   view merged with the realtime generations above it — every record the speed layer
//!   has folded, exactly once. *Fresh* visibility ([`RunningLambda::wait_visible`]): a
//!   record is in the answer once the speed layer has folded it (milliseconds).
//!   *Stable* visibility ([`RunningLambda::wait_published`]): once a published batch
//!   view covers it (at most two batch periods plus a run).
//! - **What survives a crash** (with [`LambdaConfig::files`]): the published batch views
//!   (written through a temporary directory and an atomic switch, fsynced) and the
//!   realtime view saved beside each publish and at stop. A restarted pipeline serves the
//!   last published view at once and resumes the speed layer from its saved view
//!   (generations the published view covers are dropped; if its horizon cuts through a
//!   generation, the realtime view restarts at the horizon), then reads what it had not
//!   saved again: nothing is lost, nothing is counted twice. Without files nothing
//!   survives the process. (The comparison harness runs with files: its *stable*
//!   latency is the time to a published batch view on disk, as Kappa's is to a
//!   committed checkpoint.)
//! - **Threads.** The speed layer runs on tokio (its own runtime, or one given); the
//!   batch layer runs on its own thread (`lambda-batch`), never on tokio's threads.
//! - **Across processes** ([`worker`]): the workers of one consumer group split the
//!   partitions; each keeps per-partition views and fences every write by the group.
//! - Bad input is a [`LambdaError`], never a panic.
//!
//! ## Usage
//! ```no_run
//! # fn demo(log: std::sync::Arc<dyn master_log::Log>) -> lambda::Result<()> {
//! use lambda::{Lambda, LambdaConfig, Layout};
//! use workloads::{BuiltIn, Workload};
//!
//! let workload = Workload::BuiltIn(BuiltIn::PageviewsPerMinute);
//! let layout = Layout::new(std::path::Path::new("data/lambda"), &workload);
//! let config = LambdaConfig {
//!     batch_every: std::time::Duration::from_secs(10),
//!     files: Some(layout.files()?),
//!     ..LambdaConfig::new("pageviews", "data/datasets")
//! };
//! let running = Lambda::new(log.clone(), workload.clone(), config)?.start()?;
//! let rows = workload.finish(&running.lambda().table()?)?; // what a query sees now
//! let status = running.stop()?; // batch runs, positions; the views are saved
//! // Any process, later: the saved views.
//! let saved = layout.saved_snapshot(None, workload.topic(), log.as_ref())?;
//! # let _ = (rows, status, saved); Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod cycle;
mod error;
mod layout;
mod pipeline;
mod views;
pub mod worker;

pub use cycle::{BatchRun, recompute, recompute_and_publish};
pub use error::{LambdaError, Result};
pub use layout::{Layout, ViewFiles};
pub use pipeline::{Lambda, LambdaConfig, LambdaStatus, RunningLambda, ThreadHook};
pub use views::LiveViews;
