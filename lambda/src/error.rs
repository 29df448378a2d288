//! The one error type of the Lambda runtime.

/// What can stop a Lambda pipeline: its layers' errors (each with its cause as
/// `source()`), its files, and its threads.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// The master log refused an operation.
    #[error(transparent)]
    Log(#[from] master_log::LogError),
    /// The batch layer failed (recompute or view store).
    #[error("batch layer")]
    Batch(#[from] batch_layer::BatchError),
    /// The speed layer failed.
    #[error("speed layer")]
    Speed(#[from] speed_layer::SpeedError),
    /// The serving layer refused to merge or answer.
    #[error("serving layer")]
    Serving(#[from] serving_layer::ServingError),
    /// A workload definition problem.
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
    /// Views in a data directory that this command cannot use as they are.
    #[error("{0}")]
    Layout(String),
    /// A saved view that fails its checks — a published batch view or a saved realtime
    /// view damaged or missing — and that could not be rebuilt here (see
    /// [`crate::Layout::rebuilding_with`]): never served.
    #[error("damaged Lambda view")]
    Damaged(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A setting that makes no sense.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// One of the pipeline's threads or tasks panicked or could not start.
    #[error("{0}")]
    Thread(String),
    /// An operating-system error, with what it concerned.
    #[error("{context}")]
    Io {
        /// What was being done (and to which file).
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The Lambda runtime's result type.
pub type Result<T, E = LambdaError> = std::result::Result<T, E>;

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> LambdaError {
    let context = context.into();
    move |source| LambdaError::Io { context, source }
}
