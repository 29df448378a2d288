//! `lk query`: a workload's answer from one pipeline's views, with their freshness.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use master_log::Log;
use workloads::Workload;

use crate::answers::{WorkloadArgs, kappa_answer, lambda_snapshot};

/// Which pipeline's views a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pipeline {
    /// Lambda's batch view merged with its realtime view.
    Lambda,
    /// Kappa's serving table.
    Kappa,
}

/// How `lk query` prints the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns.
    Table,
    /// CSV with a header.
    Csv,
    /// JSON: columns, rows and freshness.
    Json,
}

/// The flags of `lk query`.
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

/// `lk query`.
pub fn query(a: QueryArgs, data: &Path, log: Arc<dyn Log>) -> anyhow::Result<ExitCode> {
    let workload = Workload::resolve(&a.w.workload, data)?;
    let time = |s: &Option<String>| s.as_deref().map(crate::text::parse_rfc3339).transpose();
    let q = serving_layer::Query {
        key: a.key,
        from_ms: time(&a.from)?,
        to_ms: time(&a.to)?,
    };
    let answer = match a.pipeline {
        Pipeline::Lambda => {
            let Some(snapshot) =
                lambda_snapshot(data, &workload, a.w.topic.as_deref(), log.as_ref(), None)?
            else {
                anyhow::bail!(
                    "workload {} has no Lambda views yet: run `lk lambda run --workload {}` (or `lk lambda batch` / `lk lambda speed`) first",
                    workload.name(),
                    a.w.workload
                );
            };
            snapshot.answer(&workload, &q)?
        }
        Pipeline::Kappa => {
            let Some(answer) = kappa_answer(data, &workload, log.as_ref(), &q)? else {
                anyhow::bail!(
                    "workload {} has no Kappa table yet: run `lk kappa run --workload {}` first",
                    workload.name(),
                    a.w.workload
                );
            };
            answer
        }
    };
    let format = match a.format {
        QueryFormat::Table => serving_layer::Format::Table,
        QueryFormat::Csv => serving_layer::Format::Csv,
        QueryFormat::Json => serving_layer::Format::Json,
    };
    print!("{}", serving_layer::render(&answer, format));
    Ok(ExitCode::SUCCESS)
}
