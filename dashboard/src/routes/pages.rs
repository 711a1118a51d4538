//! Handlers of the HTML pages: the index, a run, its task table and one task.

use axum::extract::{Path, State};
use axum::response::Html;

use super::{Pairs, Shared, blocking, find_run, sweeps_view, task_set};
use crate::error::DashboardError;
use crate::pages::{self, html};
use crate::runs;
use crate::tasks::TaskQuery;

pub async fn index(State(state): State<Shared>) -> Html<String> {
    let st = state.clone();
    let (runs, sweeps) = tokio::join!(
        blocking("listing runs", move || st.cache.summaries(&st.root)),
        sweeps_view(&state)
    );
    let runs = runs.map_err(|e| {
        tracing::warn!(error = %e, "failed to list runs");
        e.to_string()
    });
    html(pages::index::page(
        &state.root.display().to_string(),
        &runs,
        &sweeps,
    ))
}

pub async fn run(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<Html<String>, DashboardError> {
    let run = find_run(&state, name).await?;
    let st = state.clone();
    blocking("building a run page", move || {
        let report = st.cache.report(&run).map_err(|e| {
            tracing::warn!(run = %run.name, error = %e, "report unavailable");
            e.to_string()
        });
        let other_runs: Vec<String> = runs::discover(&st.root)?
            .into_iter()
            .map(|r| r.name)
            .filter(|n| *n != run.name)
            .collect();
        Ok(html(pages::run::page(&pages::run::RunPage {
            name: &run.name,
            report: report.as_deref().map_err(Clone::clone),
            other_runs: &other_runs,
        })))
    })
    .await
}

pub async fn tasks(
    State(state): State<Shared>,
    Path(name): Path<String>,
    axum::extract::Query(pairs): Pairs,
) -> Result<Html<String>, DashboardError> {
    let query = TaskQuery::from_pairs(&pairs).map_err(DashboardError::BadQuery)?;
    let run = find_run(&state, name).await?;
    let st = state.clone();
    blocking("listing tasks", move || {
        let set = task_set(&st, &run)?;
        let page = set.page(&query);
        Ok(html(pages::tasks::page(&run.name, &query, &page)))
    })
    .await
}

pub async fn trajectory(
    State(state): State<Shared>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Html<String>, DashboardError> {
    runs::check_name("task key", &key)?;
    let run = find_run(&state, name).await?;
    blocking("reading a trajectory", move || {
        let json = herd_report::load_trajectory(&run.path, &key).map_err(|source| match source {
            herd_report::ReportError::Io { source: io, .. }
                if io.kind() == std::io::ErrorKind::NotFound =>
            {
                DashboardError::TrajectoryNotFound {
                    run: run.name.clone(),
                    task: key.clone(),
                }
            }
            herd_report::ReportError::BadTaskKey(k) => DashboardError::BadName {
                what: "task key",
                name: k,
            },
            source => DashboardError::Report {
                run: run.name.clone(),
                source,
            },
        })?;
        // The result row is context only: a run whose results cannot be read still shows
        // its trajectories.
        let record = runs::read_record(&run, &key)
            .map_err(|e| tracing::warn!(run = %run.name, error = %e, "no result row for trajectory page"))
            .ok()
            .flatten();
        Ok(html(pages::trajectory::page(
            &run.name,
            &key,
            record.as_ref(),
            &json,
        )))
    })
    .await
}
