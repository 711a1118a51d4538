//! The dashboard's error type: what failed and on which run, task or address, and how each
//! failure maps to an HTTP status when it ends a request.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Errors from serving the dashboard and from building its pages.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("dashboard server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error(
        "{what} `{name}` is not a valid name (empty, too long, or holds `/`, `\\`, `:`, `..` or a control character)"
    )]
    BadName { what: &'static str, name: String },
    #[error("no run named `{0}` under the runs directory")]
    RunNotFound(String),
    #[error("run `{run}` has no trajectory for task `{task}`")]
    TrajectoryNotFound { run: String, task: String },
    #[error("failed to list runs under `{path}`: {source}")]
    ListRuns {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read run `{run}`: {source}")]
    Report {
        run: String,
        #[source]
        source: herd_report::ReportError,
    },
    #[error("bad request: {0}")]
    BadQuery(String),
    #[error(
        "this dashboard follows no coordinator: start it with `--coordinator URL` (or use `herd coordinator --dashboard` / `herd run --dashboard`) to see live sweeps"
    )]
    NoCoordinator,
    #[error("background task for {what} failed: {message}")]
    Background { what: &'static str, message: String },
}

impl DashboardError {
    /// The HTTP status a request that failed with this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            DashboardError::BadName { .. } | DashboardError::BadQuery(_) => StatusCode::BAD_REQUEST,
            DashboardError::RunNotFound(_)
            | DashboardError::TrajectoryNotFound { .. }
            | DashboardError::NoCoordinator => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "dashboard request failed");
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "dashboard request refused");
        }
        let body = crate::pages::error_page(
            status.canonical_reason().unwrap_or("error"),
            &self.to_string(),
        );
        (status, crate::pages::html(body)).into_response()
    }
}
