//! A run's files to take away: the report as one HTML file (also shown inline) and the
//! results as Parquet, streamed from disk.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use tokio::io::AsyncReadExt as _;

use super::{Shared, blocking, find_run};
use crate::error::DashboardError;

async fn report_html(state: &Shared, name: String) -> Result<(String, String), DashboardError> {
    let run = find_run(state, name).await?;
    let st = state.clone();
    blocking("rendering a report", move || {
        let report = st.cache.report(&run)?;
        let html = report.to_html().map_err(|source| DashboardError::Report {
            run: run.name.clone(),
            source,
        })?;
        Ok((run.name, html))
    })
    .await
}

/// A `Content-Disposition` naming a download `{run}-{what}` (quotes and controls dropped).
fn attachment(run: &str, what: &str) -> String {
    let safe: String = run
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\' && c.is_ascii())
        .collect();
    format!("attachment; filename=\"{safe}-{what}\"")
}

/// `/runs/{name}/report`: herd-report's self-contained page.
pub async fn report_page(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<Html<String>, DashboardError> {
    Ok(Html(report_html(&state, name).await?.1))
}

/// `/runs/{name}/report.html`: the same page as a download.
pub async fn report_file(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, DashboardError> {
    let (run, html) = report_html(&state, name).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, attachment(&run, "report.html")),
        ],
        html,
    )
        .into_response())
}

/// `/runs/{name}/results.parquet`: the results file, streamed.
pub async fn results_file(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, DashboardError> {
    let run = find_run(&state, name).await?;
    let path = run.results_path();
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| DashboardError::RunNotFound(run.name.clone()))?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let stream = futures::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.apache.parquet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                attachment(&run.name, "results.parquet"),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response();
    if let Some(len) = len
        && let Ok(v) = len.to_string().parse()
    {
        response.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    Ok(response)
}
