//! herd-dashboard: a server-rendered web dashboard over run directories (summaries,
//! paginated and searchable task tables, comparisons, trajectories, downloads) and,
//! optionally, a live coordinator's sweeps. No external assets; most pages have a JSON twin
//! under `/api/`. With a token configured, every page sits behind it.

mod auth;
mod cache;
mod compare;
mod error;
mod format;
pub mod live;
mod pages;
mod routes;
mod runs;
mod sweeps;
mod tasks;

use std::future::Future;

pub use compare::{Flip, FlipRow, PairGroup, Pairing, Side, pair};
pub use error::DashboardError;
pub use runs::{RunSummary, is_safe_name};
pub use sweeps::{GroupRow, SweepRow, SweepsView};
pub use tasks::{
    Bitset, DEFAULT_PER_PAGE, Facet, FacetCounts, FacetValue, MAX_PER_PAGE, MAX_TEXT_PER_TASK,
    SearchCaps, SortKey, TEXT_BUDGET, TaskPage, TaskQuery, TaskRow, TaskSet, trajectory_text,
    trajectory_text_from_json, trajectory_text_from_reader,
};

/// What the dashboard shows.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// Directory holding run directories (each with results.parquet, report files, trajectories/), or one run directory.
    pub runs: std::path::PathBuf,
    /// A live coordinator to show sweeps from (gRPC URL), optional.
    pub coordinator: Option<String>,
    /// Shared token (from HERD_TOKEN), optional: for the coordinator, and when set the
    /// dashboard's own pages require it (bearer header, or the cookie `/login` sets).
    pub token: Option<String>,
}

/// The dashboard's routes:
///
/// - pages: `/`, `/runs/{name}`, `/runs/{name}/tasks` (filters, search, sort, pages),
///   `/runs/{name}/tasks/{key}`, `/runs/{name}/compare?base=ARM&arms=…`,
///   `/compare?base=RUN&runs=…`, `/runs/{name}/report`;
/// - downloads: `/runs/{name}/report.html`, `/runs/{name}/results.parquet`;
/// - JSON: `/api/runs`, `/api/runs/{name}`, `/api/runs/{name}/tasks`,
///   `/api/runs/{name}/compare`, `/api/compare`, `/api/sweeps`;
/// - open without the token: `/healthz`, `/login` (GET form, POST), `/logout` (POST),
///   `/assets/…`;
/// - live sweeps (with a coordinator): `/sweeps/{id}` (progress, running tasks, summary),
///   `/sweeps/{id}/events` (Server-Sent Events; `?task=KEY`, `?after=ID` or
///   `Last-Event-ID` to resume), `/sweeps/{id}/summary`, `/sweeps/{id}/tasks`,
///   `/sweeps/{id}/tasks/{key}`, `/api/sweeps/{id}`.
pub fn router(opts: DashboardOptions) -> axum::Router {
    routes::router(opts).0
}

/// Loads the task set of the run directory `dir` as the dashboard does on a run's first
/// task page (results plus every trajectory's search text); blocking.
pub fn load_task_set(dir: &std::path::Path) -> Result<TaskSet, DashboardError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    runs::load_task_set(&runs::RunDir {
        name,
        path: dir.to_path_buf(),
    })
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
    let (router, live) = routes::router(opts);
    // Open event streams never end by themselves: the hub's token ends them (and its
    // followers) when shutdown begins, so the graceful drain can finish.
    let cancel = live.as_ref().map(|h| h.cancel_token());
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            if let Some(c) = cancel {
                c.cancel();
            }
        })
        .await
        .map_err(DashboardError::Serve)?;
    if let Some(hub) = live {
        hub.shutdown().await;
    }
    tracing::info!(%addr, "dashboard stopped");
    Ok(())
}
