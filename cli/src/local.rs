//! Starting herd's parts in this process: a coordinator (state store, optional action host,
//! gRPC server on a socket) and workers. `herd run`, `herd coordinator`, `herd worker` and
//! the benchmarks share these.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herd_coordinator::store::StateStore;
use herd_coordinator::{ActionBackend, ActionHooks, Scheduler, SchedulerSettings, TlsFiles};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running coordinator.
pub struct Coordinator {
    pub addr: SocketAddr,
    pub scheduler: Scheduler,
    stop: CancellationToken,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// What the coordinator hosts besides scheduling.
pub struct CoordinatorParts {
    pub store: Arc<dyn StateStore>,
    pub actions: Option<(Arc<dyn ActionBackend>, Arc<dyn ActionHooks>)>,
    pub data_dir: PathBuf,
    pub lease: Duration,
    pub heartbeat: Duration,
    pub token: Option<String>,
    pub tls: Option<TlsFiles>,
}

impl Coordinator {
    /// Recovers state, binds `listen` and serves until `shutdown`.
    pub async fn start(listen: &str, parts: CoordinatorParts) -> anyhow::Result<Coordinator> {
        // Before anything starts: an unreadable certificate or key stops here, by name.
        let tls = parts.tls.as_ref().map(TlsFiles::read).transpose()?;
        let (backend, hooks) = match parts.actions {
            Some((b, h)) => (Some(b), Some(h)),
            None => (None, None),
        };
        let scheduler = Scheduler::start(
            parts.store,
            hooks,
            SchedulerSettings {
                lease: parts.lease,
                heartbeat: parts.heartbeat,
                data_dir: parts.data_dir,
            },
        )
        .await
        .context("failed to start the scheduler")?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("failed to listen on `{listen}`"))?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let s = stop.clone();
        let server = tokio::spawn(herd_coordinator::serve(
            listener,
            scheduler.clone(),
            backend,
            parts.token,
            tls,
            async move { s.cancelled().await },
        ));
        Ok(Coordinator {
            addr,
            scheduler,
            stop,
            server,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for the server to end.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }
}

/// Opens the action store the coordinator hosts (embedded qdrant-edge shard under `dir`).
pub async fn open_action_host(
    dir: &Path,
    stores: &herd_core::config::StoresConfig,
) -> anyhow::Result<(Arc<dyn ActionBackend>, Arc<dyn ActionHooks>)> {
    let host = herd_coordinator::actions_host::ActionHost::open(dir, stores)
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("failed to open the action store in `{}`", dir.display()))?;
    let host = Arc::new(host);
    Ok((host.clone(), host))
}

/// A new worker id: host name and a random suffix.
pub fn worker_id(prefix: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{prefix}{host}-{suffix}")
}
