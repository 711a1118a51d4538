//! The HTTP routes: shared state, the router (behind the token gate), and the glue that
//! runs file, Parquet and table work on the blocking pool. Handlers live in submodules by
//! what they serve: pages, comparisons, downloads and the JSON API.

mod api;
mod compare;
mod download;
mod live;
mod pages;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};

use crate::DashboardOptions;
use crate::auth::{self, Gate};
use crate::cache::RunCache;
use crate::error::DashboardError;
use crate::live::LiveHub;
use crate::runs::{self, RunDir};
use crate::sweeps::{Coordinator, SweepsView};
use crate::tasks::TaskSet;

pub(crate) struct AppState {
    pub(crate) root: PathBuf,
    pub(crate) coordinator: Option<Coordinator>,
    pub(crate) cache: RunCache,
    /// Live sweeps of the coordinator, when there is one.
    pub(crate) live: Option<Arc<LiveHub>>,
}

pub(crate) type Shared = Arc<AppState>;

/// URL query pairs, in order, repeated keys kept.
pub(crate) type Pairs = axum::extract::Query<Vec<(String, String)>>;

/// The router and the live hub it feeds from (to shut down with the server).
pub fn router(opts: DashboardOptions) -> (Router, Option<Arc<LiveHub>>) {
    let gate = Arc::new(Gate::new(opts.token.as_deref()));
    let url = opts.coordinator.filter(|u| !u.trim().is_empty());
    let live = url
        .clone()
        .map(|url| Arc::new(LiveHub::new(url, opts.token.clone())));
    let state = Arc::new(AppState {
        root: opts.runs,
        coordinator: url.map(|url| Coordinator::new(url, opts.token)),
        cache: RunCache::default(),
        live: live.clone(),
    });
    let login = Router::new()
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .with_state(gate.clone());
    let router = Router::new()
        .route("/", get(pages::index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/runs/{name}", get(pages::run))
        .route("/runs/{name}/report", get(download::report_page))
        .route("/runs/{name}/report.html", get(download::report_file))
        .route("/runs/{name}/results.parquet", get(download::results_file))
        .route("/runs/{name}/tasks", get(pages::tasks))
        .route("/runs/{name}/tasks/{key}", get(pages::trajectory))
        .route("/runs/{name}/compare", get(compare::arms_page))
        .route("/compare", get(compare::runs_page))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{name}", get(api::run))
        .route("/api/runs/{name}/tasks", get(api::tasks))
        .route("/api/runs/{name}/compare", get(compare::arms_json))
        .route("/api/compare", get(compare::runs_json))
        .route("/api/sweeps", get(api::sweeps))
        .route("/sweeps/{id}", get(live::page))
        .route("/sweeps/{id}/summary", get(live::summary))
        .route("/sweeps/{id}/events", get(live::events))
        .route("/sweeps/{id}/tasks", get(live::tasks))
        .route("/sweeps/{id}/tasks/{key}", get(live::task))
        .route("/api/sweeps/{id}", get(live::api))
        .route("/assets/live.js", get(live::script))
        .fallback(not_found)
        .with_state(state)
        .merge(login)
        .layer(axum::middleware::from_fn_with_state(
            gate,
            auth::require_token,
        ));
    (router, live)
}

/// Runs file, Parquet and table work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
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

pub(crate) async fn sweeps_view(state: &AppState) -> SweepsView {
    match &state.coordinator {
        Some(c) => c.list().await,
        None => SweepsView {
            coordinator: None,
            sweeps: Vec::new(),
            error: None,
        },
    }
}

/// The run called `name` (validated, and looked up among the discovered runs).
pub(crate) async fn find_run(state: &Shared, name: String) -> Result<RunDir, DashboardError> {
    runs::check_name("run name", &name)?;
    let st = state.clone();
    blocking("finding a run", move || runs::find(&st.root, &name)).await
}

/// The run's task set (loaded on first use, then cached until its results change).
pub(crate) fn task_set(state: &AppState, run: &RunDir) -> Result<Arc<TaskSet>, DashboardError> {
    state.cache.tasks(run)
}

/// The first value of `key` among query pairs, if not empty.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, v)| k == key && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

async fn not_found() -> (StatusCode, Html<String>) {
    (
        StatusCode::NOT_FOUND,
        crate::pages::html(crate::pages::error_page("Not Found", "No such page.")),
    )
}
