//! Handlers for live sweeps: the sweep page and its summary fragment, the live task table,
//! a task's page (growing step by step while it runs), the Server-Sent Events stream and
//! the JSON twin. All read from the [`LiveHub`](crate::live::LiveHub).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{Pairs, Shared, blocking};
use crate::error::DashboardError;
use crate::live::LiveSweep;
use crate::pages::{self, html};
use crate::runs;
use crate::tasks::TaskQuery;

/// The followed sweep `id`, or an error when the dashboard has no coordinator.
fn sweep(state: &Shared, id: &str) -> Result<Arc<LiveSweep>, DashboardError> {
    runs::check_name("sweep id", id)?;
    let hub = state.live.as_ref().ok_or(DashboardError::NoCoordinator)?;
    Ok(hub.sweep(id))
}

/// Waits (briefly) for a newly followed sweep's first snapshot, so a first page view shows
/// the sweep rather than "connecting".
async fn settled(sweep: &LiveSweep) {
    for _ in 0..40 {
        if sweep.state().settled() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub async fn page(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Html<String>, DashboardError> {
    let sweep = sweep(&state, &id)?;
    settled(&sweep).await;
    let root = state.root.clone();
    blocking("building a sweep page", move || {
        let derived = sweep.derived();
        let st = sweep.state();
        Ok(html(pages::live::sweep_page(
            &sweep.id, &st, &derived, &root,
        )))
    })
    .await
}

pub async fn summary(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Html<String>, DashboardError> {
    let sweep = sweep(&state, &id)?;
    blocking("building a sweep summary", move || {
        let derived = sweep.derived();
        Ok(html(pages::live::summary(&derived)))
    })
    .await
}

pub async fn tasks(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> Result<Html<String>, DashboardError> {
    let query = TaskQuery::from_pairs(&pairs).map_err(DashboardError::BadQuery)?;
    let sweep = sweep(&state, &id)?;
    settled(&sweep).await;
    blocking("listing a sweep's tasks", move || {
        let derived = sweep.derived();
        let page = derived.tasks.page(&query);
        Ok(html(pages::live::tasks_page(&sweep.id, &query, &page)))
    })
    .await
}

pub async fn task(
    State(state): State<Shared>,
    Path((id, key)): Path<(String, String)>,
) -> Result<Html<String>, DashboardError> {
    runs::check_name("task key", &key)?;
    let sweep = sweep(&state, &id)?;
    settled(&sweep).await;
    blocking("building a task page", move || {
        let st = sweep.state();
        if let Some(running) = st.running.get(&key) {
            return Ok(html(pages::live::running_task(
                &sweep.id,
                running,
                st.last_event_id(),
            )));
        }
        let record = st.record(&key).cloned();
        let out_dir = st
            .status
            .as_ref()
            .map(|s| s.out_dir.clone())
            .unwrap_or_default();
        let last = st.last_event_id();
        drop(st);
        let trajectory = (!out_dir.is_empty())
            .then(|| herd_report::load_trajectory(std::path::Path::new(&out_dir), &key).ok())
            .flatten();
        match record {
            Some(record) => Ok(html(pages::live::finished_task(
                &sweep.id,
                &record,
                trajectory.as_ref(),
            ))),
            None => Ok(html(pages::live::waiting_task(&sweep.id, &key, last))),
        }
    })
    .await
}

#[derive(Deserialize)]
pub struct EventsParams {
    /// Only this task's events (and the sweep's end).
    task: Option<String>,
    /// Resume after this event id (the page's id at render time; a reconnecting
    /// EventSource sends `Last-Event-ID` instead, which wins).
    after: Option<u64>,
}

pub async fn events(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(params): Query<EventsParams>,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    if let Some(t) = &params.task {
        runs::check_name("task key", t)?;
    }
    let sweep = sweep(&state, &id)?;
    let hub = state.live.as_ref().ok_or(DashboardError::NoCoordinator)?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(params.after);
    let stream = sweep.subscribe(resume, params.task, hub.cancel_token());
    Ok((
        [(header::CACHE_CONTROL, "no-cache")],
        Sse::new(stream).keep_alive(KeepAlive::default()),
    )
        .into_response())
}

pub async fn api(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, DashboardError> {
    let sweep = sweep(&state, &id)?;
    settled(&sweep).await;
    let st = sweep.state();
    let mut running: Vec<_> = st.running.values().cloned().collect();
    running.sort_by(|a, b| a.task_key.cmp(&b.task_key));
    let body = serde_json::json!({
        "sweep_id": sweep.id,
        "link": st.link,
        "last_event_id": st.last_event_id(),
        "status": st.status.clone().map(crate::sweeps::SweepRow::from),
        "results": st.records.len(),
        "running": running,
        "recent": st.recent,
        "tasks_url": format!("/sweeps/{}/tasks", crate::format::url_segment(&sweep.id)),
    });
    Ok(axum::Json(body).into_response())
}

/// The live pages' script (plain JavaScript module, no build step).
pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../assets/live.js"),
    )
}
