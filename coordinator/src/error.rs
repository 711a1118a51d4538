//! The coordinator's one error enum; gRPC adapters map it to status codes.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error(transparent)]
    Config(#[from] herd_core::ConfigError),
    #[error("failed to load benchmark `{benchmark}`: {message}")]
    Dataset { benchmark: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no sweep `{0}` is known to this coordinator")]
    UnknownSweep(String),
    #[error("sweep `{0}` already exists; resume it (`--resume`) or change its config")]
    SweepExists(String),
    #[error(
        "sweep `{sweep}` cannot resume: benchmark `{benchmark}` changed since it was submitted (fingerprint {was} → {now})"
    )]
    DatasetChanged {
        sweep: String,
        benchmark: String,
        was: String,
        now: String,
    },
    #[error("task `{0}` is not known")]
    UnknownTask(String),
    #[error("task `{task}` has no attachment `{name}`")]
    UnknownAttachment { task: String, name: String },
    #[error("malformed report for task `{task}`: {message}")]
    BadReport { task: String, message: String },
    #[error("action store: {0}")]
    Actions(String),
    #[error("failed to write outputs to `{path}`: {message}")]
    Output { path: String, message: String },
    #[error("the coordinator is shutting down")]
    ShuttingDown,
    #[error("cannot serve TLS: the {what} `{path}`: {message}")]
    Tls {
        what: &'static str,
        path: String,
        message: String,
    },
}

impl From<CoordinatorError> for tonic::Status {
    fn from(e: CoordinatorError) -> Self {
        use CoordinatorError::*;
        let msg = e.to_string();
        match e {
            Config(_) | BadReport { .. } | DatasetChanged { .. } => {
                tonic::Status::invalid_argument(msg)
            }
            Dataset { .. } => tonic::Status::failed_precondition(msg),
            UnknownSweep(_) | UnknownTask(_) | UnknownAttachment { .. } => {
                tonic::Status::not_found(msg)
            }
            SweepExists(_) => tonic::Status::already_exists(msg),
            Store(_) | Output { .. } | Actions(_) => tonic::Status::unavailable(msg),
            ShuttingDown => tonic::Status::unavailable(msg),
            Tls { .. } => tonic::Status::failed_precondition(msg),
        }
    }
}
