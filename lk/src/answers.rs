//! Where the pipelines keep their views in a data directory, and the answers read from
//! them: shared by `lk query`, `lk serve` and the commands that run a pipeline.
//!
//! ```text
//!   <data>/lambda/<workload>/…   Lambda's batch and realtime views (lambda::Layout)
//!   <data>/kappa/tables/…        Kappa's table versions and serving alias (kappa::tables_dir)
//!   <data>/datasets/…            the dataset sidecars (schemas, the YSB campaign table)
//! ```

use std::path::{Path, PathBuf};

use clap::Args;
use master_log::Log;
use serving_layer::{Answer, LambdaSnapshot, Query};
use workloads::Workload;

/// Which workload, over which topic (the flags every pipeline command takes).
#[derive(Debug, Args)]
pub struct WorkloadArgs {
    /// A built-in workload's name, a spec file, or a registered spec's name.
    #[arg(long)]
    pub workload: String,
    /// The topic to read (default: the spec's topic, or the built-in's dataset name).
    #[arg(long)]
    pub topic: Option<String>,
}

impl WorkloadArgs {
    /// The workload and the topic it reads.
    pub fn resolve(&self, data: &Path) -> anyhow::Result<(Workload, String)> {
        let w = Workload::resolve(&self.workload, data)?;
        let topic = self.topic.clone().unwrap_or_else(|| w.topic().to_owned());
        Ok((w, topic))
    }
}

/// Where Kappa's jobs keep their state and tables.
pub fn kappa_dir(data: &Path) -> PathBuf {
    data.join("kappa")
}

/// Where `workload`'s Lambda views live.
pub fn lambda_layout(data: &Path, workload: &Workload) -> lambda::Layout {
    lambda::Layout::new(&data.join("lambda"), workload)
}

/// Lambda's views of `workload`: the live ones of a pipeline running in this process,
/// else those saved in `data`; `None` when neither layer has written one yet.
pub fn lambda_snapshot(
    data: &Path,
    workload: &Workload,
    topic: Option<&str>,
    log: &dyn Log,
    live: Option<&lambda::LiveViews>,
) -> anyhow::Result<Option<LambdaSnapshot>> {
    if let Some(live) = live.filter(|l| l.workload().name() == workload.name()) {
        return Ok(Some(live.snapshot(log)?));
    }
    // A damaged batch view is recomputed from the log and published (with a warning),
    // never served.
    let layout = lambda_layout(data, workload).rebuilding_with(data.join("datasets"));
    Ok(layout.saved_snapshot(topic, workload.topic(), log)?)
}

/// Kappa's answer to `query`: the serving table of `workload`, or `None` when it has none.
pub fn kappa_answer(
    data: &Path,
    workload: &Workload,
    log: &dyn Log,
    query: &Query,
) -> anyhow::Result<Option<Answer>> {
    let dir = kappa_dir(data);
    if kappa::serving_version(&dir, workload.name())?.is_none() {
        return Ok(None);
    }
    let t = kappa::load_serving(&dir, workload.name())?;
    let head = log.end_offsets(&t.topic)?;
    Ok(Some(serving_layer::answer_table(
        workload,
        &t.table,
        &t.positions,
        &head,
        query,
    )?))
}
