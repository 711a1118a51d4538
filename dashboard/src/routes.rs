//! The HTTP routes: shared state, handlers for the pages and their JSON twins, and the
//! glue that runs file and Parquet work on the blocking pool.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use herd_core::ResultRecord;
use serde::Serialize;

use crate::DashboardOptions;
use crate::error::DashboardError;
use crate::runs::{self, RunCache, RunSummary};
use crate::sweeps::{Coordinator, SweepsView};
use crate::{html, pages};

struct AppState {
    root: PathBuf,
    coordinator: Option<Coordinator>,
    cache: RunCache,
}

type Shared = Arc<AppState>;

pub fn router(opts: DashboardOptions) -> Router {
    let state = Arc::new(AppState {
        root: opts.runs,
        coordinator: opts
            .coordinator
            .filter(|u| !u.trim().is_empty())
            .map(|url| Coordinator::new(url, opts.token)),
        cache: RunCache::default(),
    });
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/runs/{name}", get(run_page))
        .route("/runs/{name}/report", get(run_report))
        .route("/runs/{name}/tasks/{key}", get(task_page))
        .route("/api/runs", get(api_runs))
        .route("/api/runs/{name}", get(api_run))
        .route("/api/sweeps", get(api_sweeps))
        .fallback(not_found)
        .with_state(state)
}

/// Runs file and Parquet work on the blocking pool.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, DashboardError> + Send + 'static,
) -> Result<T, DashboardError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DashboardError::Background {
            what,
            message: e.to_string(),
        })?
}

async fn sweeps_view(state: &AppState) -> SweepsView {
    match &state.coordinator {
        Some(c) => c.list().await,
        None => SweepsView {
            coordinator: None,
            sweeps: Vec::new(),
            error: None,
        },
    }
}

async fn summaries(state: &Shared) -> Result<Vec<RunSummary>, DashboardError> {
    let st = state.clone();
    blocking("listing runs", move || st.cache.summaries(&st.root)).await
}

async fn index(State(state): State<Shared>) -> Html<String> {
    let (runs, sweeps) = tokio::join!(summaries(&state), sweeps_view(&state));
    let runs = runs.map_err(|e| {
        tracing::warn!(error = %e, "failed to list runs");
        e.to_string()
    });
    Html(pages::index(
        &state.root.display().to_string(),
        &runs,
        &sweeps,
    ))
}

/// A run's records, the task keys with a trajectory, and its report (or why there is none).
struct RunData {
    name: String,
    records: Vec<ResultRecord>,
    trajectories: HashSet<String>,
}

async fn run_data(state: &Shared, name: String) -> Result<(RunData, runs::RunDir), DashboardError> {
    runs::check_name("run name", &name)?;
    let st = state.clone();
    blocking("reading a run", move || {
        let run = runs::find(&st.root, &name)?;
        let records = runs::read_records(&run)?;
        let trajectories = runs::trajectory_keys(&run);
        Ok((
            RunData {
                name: run.name.clone(),
                records,
                trajectories,
            },
            run,
        ))
    })
    .await
}

async fn report_html(state: &Shared, run: runs::RunDir) -> Result<Arc<String>, DashboardError> {
    let st = state.clone();
    blocking("building a report", move || st.cache.report_html(&run)).await
}

async fn run_page(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<Html<String>, DashboardError> {
    let (data, run) = run_data(&state, name).await?;
    let report = report_html(&state, run).await.map_err(|e| {
        tracing::warn!(run = %data.name, error = %e, "report unavailable");
        e.to_string()
    });
    Ok(Html(pages::run(
        &data.name,
        &data.records,
        &data.trajectories,
        report.as_ref().map(|h| h.as_str()).map_err(Clone::clone),
    )))
}

async fn run_report(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<Html<String>, DashboardError> {
    runs::check_name("run name", &name)?;
    let st = state.clone();
    let run = blocking("finding a run", move || runs::find(&st.root, &name)).await?;
    let html = report_html(&state, run).await?;
    Ok(Html(html.as_str().to_string()))
}

async fn task_page(
    State(state): State<Shared>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Html<String>, DashboardError> {
    runs::check_name("run name", &name)?;
    runs::check_name("task key", &key)?;
    let st = state.clone();
    blocking("reading a trajectory", move || {
        let run = runs::find(&st.root, &name)?;
        let json = herd_report::load_trajectory(&run.path, &key).map_err(|source| match source {
            herd_report::ReportError::Io { source: io, .. } if io.kind() == std::io::ErrorKind::NotFound => {
                DashboardError::TrajectoryNotFound {
                    run: run.name.clone(),
                    task: key.clone(),
                }
            }
            herd_report::ReportError::BadTaskKey(k) => DashboardError::BadName { what: "task key", name: k },
            source => DashboardError::Report {
                run: run.name.clone(),
                source,
            },
        })?;
        // The result row is context only: a run whose results cannot be read still shows
        // its trajectories.
        let record = runs::read_records(&run)
            .map_err(|e| tracing::warn!(run = %run.name, error = %e, "no result rows for trajectory page"))
            .ok()
            .and_then(|rs| rs.into_iter().find(|r| r.task_key == key));
        Ok(Html(pages::trajectory(&run.name, &key, record.as_ref(), &json)))
    })
    .await
}

/// A failure of a JSON endpoint, answered as `{"error": "..."}`.
struct ApiError(DashboardError);

impl From<DashboardError> for ApiError {
    fn from(e: DashboardError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status.is_server_error() {
            tracing::error!(error = %self.0, "dashboard API request failed");
        }
        (
            status,
            Json(serde_json::json!({ "error": self.0.to_string() })),
        )
            .into_response()
    }
}

#[derive(Serialize)]
struct RunsReply {
    root: String,
    runs: Vec<RunSummary>,
}

async fn api_runs(State(state): State<Shared>) -> Result<Json<RunsReply>, ApiError> {
    let runs = summaries(&state).await?;
    Ok(Json(RunsReply {
        root: state.root.display().to_string(),
        runs,
    }))
}

#[derive(Serialize)]
struct RunReply {
    summary: RunSummary,
    tasks: Vec<ResultRecord>,
    /// Task keys with a trajectory, sorted.
    trajectories: Vec<String>,
}

async fn api_run(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<RunReply>, ApiError> {
    let (data, run) = run_data(&state, name).await?;
    let st = state.clone();
    let summary = blocking("summarising a run", move || Ok(st.cache.summary(&run))).await?;
    let mut trajectories: Vec<String> = data.trajectories.into_iter().collect();
    trajectories.sort();
    Ok(Json(RunReply {
        summary,
        tasks: data.records,
        trajectories,
    }))
}

async fn api_sweeps(State(state): State<Shared>) -> Json<SweepsView> {
    Json(sweeps_view(&state).await)
}

async fn not_found() -> (StatusCode, Html<String>) {
    (
        StatusCode::NOT_FOUND,
        Html(html::page(
            "Not Found",
            "<p>No such page. <a href=\"/\">Back to the run list.</a></p>",
            false,
        )),
    )
}
