//! The one error type of the batch layer.

use std::path::PathBuf;

/// What can stop a recomputation or a view store operation. Bad input (an unknown column
/// of a spec, a column of the wrong type, a corrupt artifact) is one of these, never a
/// panic.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    /// Decoding the topic's rows or reading a dataset sidecar failed.
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    /// A workload operation failed (its spec, filter or partials).
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
    /// A polars operation failed (a plan, building or reading a frame, writing Parquet).
    #[error("polars")]
    Polars(#[from] polars::prelude::PolarsError),
    /// The workload names a column the topic's records do not have.
    #[error("column {column:?} is not in topic {topic:?} (columns: {available})")]
    UnknownColumn {
        /// The topic read.
        topic: String,
        /// The column asked for.
        column: String,
        /// The topic's columns, comma-separated.
        available: String,
    },
    /// A value or column of a type the operation cannot take (or encode).
    #[error("type error: {0}")]
    Type(String),
    /// A horizon with one entry per partition, but not as many as the topic has.
    #[error("horizon has {got} partitions but topic {topic:?} has {expected}")]
    Horizon {
        /// The topic read.
        topic: String,
        /// The horizon's length.
        got: usize,
        /// The topic's partition count.
        expected: usize,
    },
    /// A partition asked for that the horizon does not cover.
    #[error("topic {topic:?} has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        /// The topic read.
        topic: String,
        /// The partition asked for.
        partition: u32,
        /// How many partitions the horizon has.
        partitions: usize,
    },
    /// A view store file that cannot be read back as written: damaged (it fails its
    /// checksum, is cut short or zero-filled: a bad pointer, metadata or Parquet file, or
    /// one that disagrees with the other) or missing from a published version. Derived
    /// data: recompute the view from the log.
    #[error("corrupt batch view artifact {}: {reason}", path.display())]
    Corrupt {
        /// The damaged file or version directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file system operation of the view store failed.
    #[error("{context}")]
    Io {
        /// What was being done, and on which path.
        context: String,
        /// The operating system's error.
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
