//! The crate's error type: every failure names what was being done and where, so a sweep log
//! line is enough to find the cause (a missing model file, a mismatched namespace, …).

use std::path::PathBuf;

/// Anything that can go wrong in the action store, the embedders or the library.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(
        "local embedder model not found: `{path}` is missing; run `scripts/fetch-embedder.sh` \
         (it installs all-MiniLM-L6-v2 into `${{HERD_MODELS:-$HOME/.cache/herd/models}}/all-minilm-l6-v2/`)"
    )]
    EmbedderMissing { path: PathBuf },
    #[error("failed to load the local embedder from `{path}`: {message}")]
    EmbedderLoad { path: PathBuf, message: String },
    #[error("embedder `{embedder}` failed: {message}")]
    Embed { embedder: String, message: String },
    #[error(
        "action store namespace `{namespace}` was built with embedder `{stored_id}` (dim {stored_dim}); \
         this sweep uses `{id}` (dim {dim})"
    )]
    EmbedderMismatch {
        namespace: String,
        stored_id: String,
        stored_dim: usize,
        id: String,
        dim: usize,
    },
    #[error(
        "action store namespace `{namespace}` is frozen (train-then-test); refusing to {operation}"
    )]
    Frozen {
        namespace: String,
        operation: String,
    },
    #[error("action store namespace `{namespace}` does not exist")]
    NoNamespace { namespace: String },
    #[error("vector for action `{name}` has dim {got}; namespace `{namespace}` expects {expected}")]
    BadVector {
        namespace: String,
        name: String,
        got: usize,
        expected: usize,
    },
    #[error("action store ({backend}) failed to {operation} in namespace `{namespace}`: {message}")]
    Store {
        backend: &'static str,
        namespace: String,
        operation: String,
        message: String,
    },
    #[error(
        "the Qdrant server at {url} is unreachable (while trying to {operation} in namespace \
         `{namespace}`): {message}; check that it runs and that the URL names its gRPC port \
         (6334 by default)"
    )]
    Unavailable {
        url: String,
        namespace: String,
        operation: String,
        message: String,
    },
    #[error("failed to {operation} `{path}`: {source}")]
    Io {
        operation: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid action record in `{path}` line {line}: {message}")]
    BadRecord {
        path: String,
        line: usize,
        message: String,
    },
    #[error("environment variable `{name}` holding the embeddings API key is not set")]
    MissingKey { name: String },
    #[error("background task for {what} failed: {message}")]
    Join { what: String, message: String },
}

/// Shorthand for this crate's results.
pub type Result<T, E = ActionError> = std::result::Result<T, E>;

impl ActionError {
    /// Whether the store could not be reached (worth retrying later), as opposed to an answer.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ActionError::Unavailable { .. })
    }

    pub(crate) fn io(
        operation: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ActionError::Io {
            operation: operation.into(),
            path: path.into(),
            source,
        }
    }

    pub(crate) fn join(what: impl Into<String>, err: tokio::task::JoinError) -> Self {
        ActionError::Join {
            what: what.into(),
            message: err.to_string(),
        }
    }
}
