//! The one error type of the batch layer.

use std::path::PathBuf;

/// What can stop a recomputation or a view store operation. Bad input (an unknown column
/// of a spec, a column of the wrong type, a corrupt artifact) is one of these, never a
/// panic.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
    #[error("polars")]
    Polars(#[from] polars::prelude::PolarsError),
    #[error("column {column:?} is not in topic {topic:?} (columns: {available})")]
    UnknownColumn {
        topic: String,
        column: String,
        available: String,
    },
    #[error("type error: {0}")]
    Type(String),
    #[error("horizon has {got} partitions but topic {topic:?} has {expected}")]
    Horizon {
        topic: String,
        got: usize,
        expected: usize,
    },
    #[error("topic {topic:?} has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        topic: String,
        partition: u32,
        partitions: usize,
    },
    #[error("corrupt batch view artifact {}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// The batch layer's result type.
pub type Result<T, E = BatchError> = std::result::Result<T, E>;

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BatchError {
    let context = context.into();
    move |source| BatchError::Io { context, source }
}
