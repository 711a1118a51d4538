//! herd-dashboard: a small server-rendered web dashboard over run directories (results,
//! reports, trajectories) and, optionally, a live coordinator's sweeps. No external assets;
//! every page also exists as JSON under `/api/`.

mod error;
mod html;
mod pages;
mod routes;
mod runs;
mod sweeps;

use std::future::Future;

pub use error::DashboardError;
pub use runs::{RunSummary, is_safe_name};
pub use sweeps::{GroupRow, SweepRow, SweepsView};

/// What the dashboard shows.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// Directory holding run directories (each with results.parquet, report files, trajectories/), or one run directory.
    pub runs: std::path::PathBuf,
    /// A live coordinator to show sweeps from (gRPC URL), optional.
    pub coordinator: Option<String>,
    /// Shared token for the coordinator (from HERD_TOKEN), optional.
    pub token: Option<String>,
}

/// The dashboard's routes (`/`, `/runs/{name}`, `/runs/{name}/report`,
/// `/runs/{name}/tasks/{key}`, `/api/runs`, `/api/runs/{name}`, `/api/sweeps`, `/healthz`).
pub fn router(opts: DashboardOptions) -> axum::Router {
    routes::router(opts)
}

/// Serves the dashboard on `listener` until `shutdown` completes, then finishes in-flight
/// requests and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    opts: DashboardOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DashboardError> {
    let addr = listener.local_addr().map_err(DashboardError::Serve)?;
    tracing::info!(%addr, runs = %opts.runs.display(), coordinator = ?opts.coordinator, "dashboard listening");
    axum::serve(listener, router(opts))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(DashboardError::Serve)?;
    tracing::info!(%addr, "dashboard stopped");
    Ok(())
}
