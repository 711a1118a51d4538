//! The dashboard served by `herd dashboard` or beside a coordinator (`herd coordinator
//! --dashboard ADDR`, `herd run --dashboard ADDR`): bound before anything else starts, so a
//! bad address fails early, and stopped with its owner.

use std::path::PathBuf;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running dashboard and how to stop it.
pub struct ServedDashboard {
    /// Base URL, e.g. `http://127.0.0.1:7780`.
    pub url: String,
    stop: CancellationToken,
    task: JoinHandle<Result<(), herd_dashboard::DashboardError>>,
}

/// Binds `listen` and serves the dashboard over `runs` and (when given) the coordinator at
/// `coordinator` until [`ServedDashboard::stop`].
pub async fn serve(
    listen: &str,
    runs: PathBuf,
    coordinator: Option<String>,
    token: Option<String>,
) -> anyhow::Result<ServedDashboard> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("failed to listen on `{listen}` for the dashboard (`--dashboard`)")
        })?;
    let url = format!("http://{}", listener.local_addr()?);
    let stop = CancellationToken::new();
    let opts = herd_dashboard::DashboardOptions {
        runs,
        coordinator,
        token,
    };
    let s = stop.clone();
    let task = tokio::spawn(herd_dashboard::serve(listener, opts, async move {
        s.cancelled().await
    }));
    Ok(ServedDashboard { url, stop, task })
}

impl ServedDashboard {
    /// Ends open pages' event streams, finishes in-flight requests and waits.
    pub async fn stop(self) {
        self.stop.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("herd: dashboard error: {e}"),
            Err(e) => eprintln!("herd: dashboard task failed: {e}"),
        }
    }
}
