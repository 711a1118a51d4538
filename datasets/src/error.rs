//! The crate's error type: every variant names the file (and line or member) it is about
//! and, where there is one, the fix.

/// Why a benchmark could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("failed to read dataset file `{path}`: {message}")]
    Io { path: String, message: String },
    #[error("dataset source `{source_desc}` not found: {message}")]
    SourceNotFound {
        source_desc: String,
        message: String,
    },
    #[error("no {kind} data for subset `{subset}` in `{root}`; looked for: {tried}")]
    FileNotFound {
        kind: String,
        subset: String,
        root: String,
        tried: String,
    },
    #[error("failed to parse dataset `{path}` line {line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("unknown subset `{subset}` for {kind}; known subsets: {known}")]
    UnknownSubset {
        kind: String,
        subset: String,
        known: String,
    },
    #[error("failed to open zip `{path}`: {message}")]
    Zip { path: String, message: String },
    #[error(
        "GPQA zip `{path}` member `{member}` is encrypted but no password was given; set the environment variable `{env}` or pass the password explicitly"
    )]
    MissingPassword {
        path: String,
        member: String,
        env: String,
    },
    #[error("wrong password for zip `{path}` member `{member}`: {message}")]
    WrongPassword {
        path: String,
        member: String,
        message: String,
    },
    #[error("failed to download `{url}`: {message}")]
    Download { url: String, message: String },
    #[error("invalid benchmark config: {0}")]
    Config(String),
}

impl DatasetError {
    pub(crate) fn io(path: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        DatasetError::Io {
            path: path.to_string(),
            message: err.to_string(),
        }
    }

    pub(crate) fn parse(
        path: impl std::fmt::Display,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        DatasetError::Parse {
            path: path.to_string(),
            line,
            message: message.into(),
        }
    }
}
