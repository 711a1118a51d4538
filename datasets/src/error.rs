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
    #[error("no {kind} data for subset `{subset}` in `{root}`; looked for: {tried}{hint}")]
    FileNotFound {
        kind: String,
        subset: String,
        root: String,
        tried: String,
        /// Empty, or `; ` and what to do.
        hint: String,
    },
    #[error(
        "no `source` is given for {what} and herd cannot download it: it is the upstream file {url}. Get it with\n    {how}\nthen set HERD_DATASETS_DIR to that folder (the file goes at `{local}` in it), or set the benchmark's `source` to the file"
    )]
    NotDownloadable {
        what: String,
        url: String,
        local: String,
        how: String,
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
