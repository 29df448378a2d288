//! The one error type of the Kappa pipeline.

use std::path::PathBuf;

/// Everything that can stop a Kappa job, typed so that callers can tell bad input (a
/// record that does not decode, a bad configuration) from storage trouble.
#[derive(Debug, thiserror::Error)]
pub enum KappaError {
    /// The master log failed.
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    /// Events could not be decoded, or a dataset's sidecar read.
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    /// A workload definition, or an operation over one, that is wrong.
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
    /// A record of the input topic that the workload cannot read.
    #[error("{topic}/{partition} offset {offset}: {reason}")]
    BadRecord {
        /// The input topic.
        topic: String,
        /// The record's partition.
        partition: u32,
        /// The record's offset.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration or an argument that makes no sense.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A workload this pipeline cannot run over this topic.
    #[error("{0}")]
    Unsupported(String),
    /// The local state store (redb) failed.
    #[error("state store {path}: {reason}")]
    Store {
        /// The store's file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The local state store is open in another process: the same job (its task of
    /// this partition) is running there.
    #[error(
        "state store {path} is open in another process: this job is already running there (stop it first, or run another version)"
    )]
    StoreBusy {
        /// The store's file.
        path: PathBuf,
    },
    /// A changelog record, checkpoint or table file that does not decode.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What does not decode (and where).
        what: String,
        /// Why.
        reason: String,
    },
    /// The checkpointed input offset is no longer in the log (retention deleted it).
    #[error(
        "{topic}/{partition}: the checkpoint resumes at offset {offset}, but the log starts at {earliest}"
    )]
    OffsetGone {
        /// The input topic.
        topic: String,
        /// The task's partition.
        partition: u32,
        /// The checkpoint's offset.
        offset: u64,
        /// The first offset the partition still holds.
        earliest: u64,
    },
    /// No serving table (no alias, or the aliased version has no table yet).
    #[error("no table for workload {workload:?}: {reason}")]
    NoTable {
        /// The workload's name.
        workload: String,
        /// Why there is none.
        reason: String,
    },
    /// An operating-system error, with what was being done (and to which path).
    #[error("{context}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A worker thread panicked or stopped unexpectedly.
    #[error("worker failed: {0}")]
    Worker(String),
}

/// The Kappa pipeline's result type.
pub type Result<T, E = KappaError> = std::result::Result<T, E>;

pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> KappaError {
    let context = context.into();
    move |source| KappaError::Io { context, source }
}

pub(crate) fn corrupt(what: impl Into<String>, reason: impl ToString) -> KappaError {
    KappaError::Corrupt {
        what: what.into(),
        reason: reason.to_string(),
    }
}

pub(crate) use master_log::error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_names_the_error_and_every_cause_once() {
        let e = KappaError::Log(master_log::LogError::Io {
            context: "append to kappa.w.v1.changelog/0".into(),
            source: std::io::Error::other("no space left on device"),
        });
        assert_eq!(
            error_chain(&e),
            "append to kappa.w.v1.changelog/0: no space left on device"
        );
    }
}
