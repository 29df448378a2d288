use thiserror::Error;

/// Everything `compare` can fail with.
#[derive(Debug, Error)]
pub enum CompareError {
    #[error("invalid options: {0}")]
    Options(String),
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
    #[error("batch layer")]
    Batch(#[from] batch_layer::BatchError),
    #[error("speed layer")]
    Speed(#[from] speed_layer::SpeedError),
    #[error("serving layer")]
    Serving(#[from] serving_layer::ServingError),
    #[error("kappa")]
    Kappa(#[from] kappa::KappaError),
    #[error("lambda")]
    Lambda(#[from] lambda::LambdaError),
    #[error("code metrics")]
    Metrics(#[from] code_metrics::MetricsError),
    #[error("oracle")]
    Oracle(#[from] oracle::OracleError),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Run(String),
}

pub type Result<T, E = CompareError> = std::result::Result<T, E>;

impl CompareError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CompareError {
        let what = what.into();
        move |source| CompareError::Io { what, source }
    }
}
