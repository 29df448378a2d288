//! The one error type of the workloads crate.

use std::path::PathBuf;

/// What can be wrong with a workload definition or a query over one.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A spec file that does not parse or makes no sense; `line` when known.
    #[error("workload spec {file}{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Spec {
        file: PathBuf,
        line: Option<usize>,
        reason: String,
    },
    /// A filter expression that does not parse.
    #[error("filter {expr:?} at character {position}: {reason}")]
    Filter {
        expr: String,
        position: usize,
        reason: String,
    },
    /// Neither a built-in workload nor a readable spec file nor a registered name.
    #[error(
        "unknown workload {name:?}: not a built-in ({builtins}), a spec file, or a registered workload"
    )]
    Unknown { name: String, builtins: String },
    /// A column the workload needs is not in the topic.
    #[error("column {column:?} is not in topic {topic:?} (columns: {available})")]
    UnknownColumn {
        topic: String,
        column: String,
        available: String,
    },
    /// A value of the wrong type for an aggregate or a comparison.
    #[error("{0}")]
    Type(String),
    /// Partial aggregates of different kinds cannot merge.
    #[error("cannot merge partial aggregates: {0}")]
    Merge(String),
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Log(#[from] master_log::LogError),
}

/// The workloads crate's result type.
pub type Result<T, E = WorkloadError> = std::result::Result<T, E>;
