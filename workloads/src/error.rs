//! The one error type of the workloads crate.

use std::path::PathBuf;

/// What can be wrong with a workload definition or a query over one.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A spec file that does not parse or makes no sense; `line` when known.
    #[error("workload spec {file}{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Spec {
        /// The spec file.
        file: PathBuf,
        /// The line of the error, when known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A filter expression that does not parse.
    #[error("filter {expr:?} at character {position}: {reason}")]
    Filter {
        /// The expression.
        expr: String,
        /// Where in the expression the error is, in characters.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// SQL that does not parse, that this project does not support (the message names
    /// the construct and what is supported), or that does not fit the topic's columns; at
    /// `line` and `column` of the SQL text (0 when the error is about the whole query).
    #[error("SQL{}: {message}", if *line > 0 { format!(" at line {line}, column {column}") } else { String::new() })]
    Sql {
        /// The line, from 1 (0: the whole query).
        line: u64,
        /// The column, from 1.
        column: u64,
        /// What is wrong, and what is supported.
        message: String,
    },
    /// Neither a built-in workload nor a readable spec file nor a registered name.
    #[error(
        "unknown workload {name:?}: not a built-in ({builtins}), a spec file, or a registered workload"
    )]
    Unknown {
        /// What was typed.
        name: String,
        /// The built-ins' names, comma-separated.
        builtins: String,
    },
    /// A column the workload needs is not in the topic.
    #[error("column {column:?} is not in topic {topic:?} (columns: {available})")]
    UnknownColumn {
        /// The topic.
        topic: String,
        /// The missing column.
        column: String,
        /// The topic's columns, comma-separated.
        available: String,
    },
    /// A value of the wrong type for an aggregate or a comparison.
    #[error("{0}")]
    Type(String),
    /// Partial aggregates of different kinds cannot merge.
    #[error("cannot merge partial aggregates: {0}")]
    Merge(String),
    /// An operating-system error, with what it concerned.
    #[error("{context}")]
    Io {
        /// What the operation concerned (the file and what was done to it).
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The master log refused an operation.
    #[error(transparent)]
    Log(#[from] master_log::LogError),
}

impl WorkloadError {
    /// Whether the error is the user's query or definition (a usage error: `lk` exits 2),
    /// rather than something that went wrong running it: SQL that does not parse, is not
    /// supported or does not fit the topic.
    pub fn is_usage(&self) -> bool {
        matches!(self, WorkloadError::Sql { .. })
    }
}

/// The workloads crate's result type.
pub type Result<T, E = WorkloadError> = std::result::Result<T, E>;
