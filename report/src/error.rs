//! The crate's error type: every failure says what was being done and on which file or
//! column, so a broken results file or run directory can be fixed without a debugger.

use std::path::PathBuf;

use polars::prelude::PolarsError;

/// Errors from writing, reading and reporting on results.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("failed to {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("polars failed while {context}: {source}")]
    Polars {
        context: String,
        #[source]
        source: PolarsError,
    },
    #[error("results column `{column}`: {message}")]
    Schema { column: String, message: String },
    #[error(
        "no results at `{0}`: expected a run directory holding results.parquet, or a .parquet file"
    )]
    NotFound(PathBuf),
    #[error("path `{0}` is not valid UTF-8, which the parquet scanner requires")]
    NonUtf8Path(PathBuf),
    #[error(
        "task key `{0}` cannot name a trajectory file (empty, or holds a path separator or `..`)"
    )]
    BadTaskKey(String),
    #[error("failed to decode trajectory `{path}`: {source}")]
    Trajectory {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to encode {what} as JSON: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to draw chart `{chart}`: {message}")]
    Chart { chart: String, message: String },
    #[error("GAIA submission: {0}")]
    Gaia(String),
    #[error("`{0}` already exists; rescoring never overwrites: remove it or pass `--out DIR`")]
    Exists(PathBuf),
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// Attaches what was being done to a polars error.
pub(crate) trait PolarsContext<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T>;
}

impl<T> PolarsContext<T> for std::result::Result<T, PolarsError> {
    fn ctx(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| ReportError::Polars {
            context: context.into(),
            source,
        })
    }
}

/// Builds an I/O error that names the path.
pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> ReportError {
    let path = path.into();
    move |source| ReportError::Io {
        action,
        path,
        source,
    }
}
