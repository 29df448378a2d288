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
///
/// `--sql FILE` and `--sql-text 'SELECT …'` are other names of `--workload`: a SQL file
/// (named by its stem) or SQL text (named `sql-<hash>`) is resolved and registered by
/// `Workload::resolve`, like a spec file, so every command that takes a workload takes a
/// query.
#[derive(Debug, Args)]
pub struct WorkloadArgs {
    /// A built-in workload's name, a spec file (.toml), a SQL file (.sql, also `--sql
    /// FILE`), SQL text (`--sql-text 'SELECT …'`), or a registered workload's name.
    #[arg(long, visible_alias = "sql", visible_alias = "sql-text")]
    pub workload: String,
    /// The topic to read (default: the spec's topic, or the built-in's dataset name).
    #[arg(long)]
    pub topic: Option<String>,
}

impl WorkloadArgs {
    /// The workload and the topic it reads. A SQL workload is checked against the
    /// topic's columns here (when the topic has a dataset sidecar), so that a query that
    /// does not fit is a usage error ([`is_usage_error`]) before any pipeline starts.
    pub fn resolve(&self, data: &Path) -> anyhow::Result<(Workload, String)> {
        let w = Workload::resolve(&self.workload, data)?;
        let topic = self.topic.clone().unwrap_or_else(|| w.topic().to_owned());
        if let Workload::Sql(sql) = &w
            && let Err(datasets::DatasetError::Workload(e)) =
                datasets::stream::SqlTopic::new(sql, &topic, &data.join("datasets"))
        {
            return Err(e.into());
        }
        Ok((w, topic))
    }
}

/// Whether `e` is the user's query or workload definition (SQL that does not parse, is
/// not supported or does not fit the topic): `lk` exits 2 for it, as for a command line
/// that does not parse. Looks through the error's chain for a `WorkloadError` that
/// [`workloads::WorkloadError::is_usage`], also inside the datasets' and Kappa's errors.
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        if let Some(w) = c.downcast_ref::<workloads::WorkloadError>() {
            return w.is_usage();
        }
        if let Some(datasets::DatasetError::Workload(w)) = c.downcast_ref() {
            return w.is_usage();
        }
        if let Some(kappa::KappaError::Workload(w)) = c.downcast_ref() {
            return w.is_usage();
        }
        false
    })
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
    Ok(kappa_answer_with_topic(data, workload, log, query)?.map(|(answer, _)| answer))
}

/// [`kappa_answer`], with the topic the serving table was made from (whose offsets its
/// freshness counts).
pub fn kappa_answer_with_topic(
    data: &Path,
    workload: &Workload,
    log: &dyn Log,
    query: &Query,
) -> anyhow::Result<Option<(Answer, String)>> {
    let dir = kappa_dir(data);
    if kappa::serving_version(&dir, workload.name())?.is_none() {
        return Ok(None);
    }
    // Asked for one key of a workload that answers each key alone: the other keys'
    // cells are dropped as the parts are read, never merged or finished.
    let t = match query.key.as_deref() {
        Some(key) if workload.answers_each_key_alone() => kappa::load_serving_where(
            &dir,
            workload.name(),
            Some(&|k: &workloads::GroupKey| serving_layer::key_is(k, key)),
        )?,
        _ => kappa::load_serving(&dir, workload.name())?,
    };
    let head = log.end_offsets(&t.topic)?;
    let answer = serving_layer::answer_table(workload, &t.table, &t.positions, &head, query)?;
    Ok(Some((answer, t.topic)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_sql_is_a_usage_error_and_other_errors_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let args = |text: &str| WorkloadArgs {
            workload: text.to_owned(),
            topic: None,
        };
        let e = args("SELECT window_start, LAG(x) OVER (ORDER BY x) AS l FROM TUMBLE(t, ts, INTERVAL '1' MINUTE) GROUP BY window_start")
            .resolve(dir.path())
            .unwrap_err();
        assert!(is_usage_error(&e), "{e}");
        assert!(e.to_string().contains("line 1, column 22"), "{e}");
        let wrapped = anyhow::Error::new(datasets::DatasetError::Workload(
            workloads::WorkloadError::Sql {
                line: 1,
                column: 1,
                message: "x".into(),
            },
        ))
        .context("running");
        assert!(is_usage_error(&wrapped));
        let e = args("no-such-workload").resolve(dir.path()).unwrap_err();
        assert!(!is_usage_error(&e), "{e}");
    }
}
