//! The JSON API: runs, one run's summary and report model, a page of its tasks (same
//! parameters as the task table), and the coordinator's live sweeps.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{Pairs, Shared, blocking, find_run, sweeps_view, task_set};
use crate::error::DashboardError;
use crate::format::url_segment;
use crate::runs::RunSummary;
use crate::sweeps::SweepsView;
use crate::tasks::{TaskPage, TaskQuery};

/// A failure of a JSON endpoint, answered as `{"error": "..."}`.
pub(crate) struct ApiError(pub(crate) DashboardError);

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
pub struct RunsReply {
    root: String,
    runs: Vec<RunSummary>,
}

pub async fn runs(State(state): State<Shared>) -> Result<Json<RunsReply>, ApiError> {
    let st = state.clone();
    let runs = blocking("listing runs", move || st.cache.summaries(&st.root)).await?;
    Ok(Json(RunsReply {
        root: state.root.display().to_string(),
        runs,
    }))
}

/// `/api/runs/{name}`: the run's summary and herd-report's report model (`report` is null
/// and `report_error` says why when it cannot be built). Tasks are paged at `tasks_url`.
pub async fn run(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find_run(&state, name).await?;
    let st = state.clone();
    let reply = blocking("summarising a run", move || {
        let summary = st.cache.summaries.summary(&run);
        let (report, report_error) = match st.cache.report(&run) {
            Ok(r) => (serde_json::to_value(&*r).ok(), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(serde_json::json!({
            "summary": summary,
            "report": report,
            "report_error": report_error,
            "tasks_url": format!("/api/runs/{}/tasks", url_segment(&run.name)),
        }))
    })
    .await?;
    Ok(Json(reply))
}

#[derive(Serialize)]
pub struct TasksReply {
    run: String,
    sort: &'static str,
    dir: &'static str,
    q: Option<String>,
    #[serde(flatten)]
    page: TaskPage,
}

/// `/api/runs/{name}/tasks`: one page of the task table as JSON.
pub async fn tasks(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> Result<Json<TasksReply>, ApiError> {
    let query = TaskQuery::from_pairs(&pairs).map_err(DashboardError::BadQuery)?;
    let run = find_run(&state, name).await?;
    let st = state.clone();
    let reply = blocking("listing tasks", move || {
        let set = task_set(&st, &run)?;
        Ok(TasksReply {
            run: run.name.clone(),
            sort: query.sort.param(),
            dir: if query.desc { "desc" } else { "asc" },
            q: query.q.clone(),
            page: set.page(&query),
        })
    })
    .await?;
    Ok(Json(reply))
}

pub async fn sweeps(State(state): State<Shared>) -> Json<SweepsView> {
    Json(sweeps_view(&state).await)
}
