use thiserror::Error;

/// Everything `compare` can fail with.
#[derive(Debug, Error)]
pub enum CompareError {
    /// Options that make no sense together.
    #[error("invalid options: {0}")]
    Options(String),
    /// Stopped (Ctrl-C) before any record was fed: there is nothing to compare.
    #[error("interrupted before any record was fed: nothing to compare")]
    Interrupted,
    /// The master log failed.
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    /// Generating or decoding a dataset failed.
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    /// A workload definition problem.
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
    /// The batch layer failed.
    #[error("batch layer")]
    Batch(#[from] batch_layer::BatchError),
    /// The speed layer failed.
    #[error("speed layer")]
    Speed(#[from] speed_layer::SpeedError),
    /// The serving layer failed.
    #[error("serving layer")]
    Serving(#[from] serving_layer::ServingError),
    /// The Kappa pipeline failed.
    #[error("kappa")]
    Kappa(#[from] kappa::KappaError),
    /// The Lambda pipeline failed.
    #[error("lambda")]
    Lambda(#[from] lambda::LambdaError),
    /// Measuring the code failed.
    #[error("code metrics")]
    Metrics(#[from] code_metrics::MetricsError),
    /// The oracle failed.
    #[error("oracle")]
    Oracle(#[from] oracle::OracleError),
    /// An operating-system error.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The run itself failed (a thread, an observer).
    #[error("{0}")]
    Run(String),
}

/// The comparison's result type.
pub type Result<T, E = CompareError> = std::result::Result<T, E>;

impl CompareError {
    /// A closure that wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CompareError {
        let what = what.into();
        move |source| CompareError::Io { what, source }
    }
}
