//! `SandboxProvider`: hands out one fresh kernel per task. With Docker it keeps a warm pool of
//! started, ready containers (refilled in the background under the start throttle; each serves
//! exactly one task and is never reused), otherwise it starts local-process kernels.
//!
//! Pooled containers are created before their task is known, so they carry `herd.worker` and
//! `herd.pool=true` labels only; on acquire the worker records the task assignment in memory
//! and renames the container `herd-<worker>-<task>-<id>` so `docker ps` shows it. Containers
//! created for a task directly (empty pool, network on, restarts) carry `herd.sweep`/`herd.task`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_core::config::{SandboxConfig, SandboxKind};
use herd_core::kernel::CodeSession;
use herd_core::retry::{self, Retryable};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::docker::{
    DockerBackend, DockerShared, ReadyContainer, StartThrottle, TaskLabels, remove_container,
    remove_orphans_with, rename_for_task, start_container,
};
use crate::error::{Result, SandboxError};
use crate::image::{connect, image_exists, image_tag};
use crate::local::start_local;
use crate::session::KernelSession;

/// Concurrent container creations per provider.
const MAX_CONCURRENT_CREATES: usize = 2;

/// Hands out sandboxes to one worker's tasks.
pub struct SandboxProvider {
    inner: Inner,
}

enum Inner {
    Docker(DockerProvider),
    Local { cfg: SandboxConfig },
}

struct DockerProvider {
    shared: Arc<DockerShared>,
    pool: Arc<Pool>,
    refill: Mutex<Option<JoinHandle<()>>>,
}

struct Pool {
    ready: Mutex<VecDeque<ReadyContainer>>,
    size: usize,
    wake: Notify,
    stop: CancellationToken,
}

impl Pool {
    fn pop(&self) -> Option<ReadyContainer> {
        self.ready.lock().ok()?.pop_front()
    }

    fn len(&self) -> usize {
        self.ready.lock().map(|q| q.len()).unwrap_or(0)
    }

    fn drain(&self) -> Vec<ReadyContainer> {
        self.ready
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

/// Checks, before any task runs, that sandboxes of `cfg` can start on this host: for `docker`
/// (and `auto`) an engine answers, the image is present and the runtime, when one is set, is
/// registered with the engine. `local` needs nothing. Errors name the fix.
pub async fn preflight(cfg: &SandboxConfig) -> Result<()> {
    if cfg.kind == SandboxKind::Local {
        return Ok(());
    }
    let docker = connect().await?;
    let image = cfg.image.clone().unwrap_or_else(image_tag);
    if !image_exists(&docker, &image).await? {
        return Err(SandboxError::ImageMissing(image));
    }
    if let Some(runtime) = &cfg.runtime {
        let info = docker
            .info()
            .await
            .map_err(SandboxError::docker("engine info"))?;
        let known: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
        if !known.contains(runtime) {
            return Err(SandboxError::RuntimeMissing {
                runtime: runtime.clone(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

/// Checks that a Docker engine answers (a worker's start-up check; sweeps bring their images).
pub async fn check_engine() -> Result<()> {
    connect().await.map(|_| ())
}

impl SandboxProvider {
    /// Opens a provider for `worker_id`. Docker (`docker` or `auto`) first removes containers
    /// an earlier run of this worker id left, then starts filling the warm pool; when no engine
    /// answers it is an error naming the fix: herd never falls back to the unisolated
    /// local-process sandbox unless the config asks for it (`local`).
    pub async fn new(cfg: &SandboxConfig, worker_id: &str) -> Result<Self> {
        let image = cfg.image.clone().unwrap_or_else(image_tag);
        match cfg.kind {
            SandboxKind::Local => {
                tracing::warn!(
                    "using the local-process sandbox: cells run on this host without container isolation"
                );
                Ok(Self::local(cfg))
            }
            SandboxKind::Docker | SandboxKind::Auto => Self::docker(cfg, worker_id, image).await,
        }
    }

    fn local(cfg: &SandboxConfig) -> Self {
        SandboxProvider {
            inner: Inner::Local { cfg: cfg.clone() },
        }
    }

    async fn docker(cfg: &SandboxConfig, worker_id: &str, image: String) -> Result<Self> {
        let docker = connect().await?;
        if !image_exists(&docker, &image).await? {
            return Err(SandboxError::ImageMissing(image));
        }
        remove_orphans_with(&docker, worker_id).await?;
        let shared = Arc::new(DockerShared {
            docker,
            image,
            worker_id: worker_id.to_owned(),
            cfg: cfg.clone(),
            throttle: StartThrottle::new(cfg.max_starts_per_second, MAX_CONCURRENT_CREATES),
            live: Mutex::new(HashMap::new()),
        });
        let pool = Arc::new(Pool {
            ready: Mutex::new(VecDeque::new()),
            size: cfg.pool_size as usize,
            wake: Notify::new(),
            stop: CancellationToken::new(),
        });
        let refill =
            (pool.size > 0).then(|| tokio::spawn(refill_loop(shared.clone(), pool.clone())));
        Ok(SandboxProvider {
            inner: Inner::Docker(DockerProvider {
                shared,
                pool,
                refill: Mutex::new(refill),
            }),
        })
    }

    /// `docker` or `local`.
    pub fn kind(&self) -> &'static str {
        match self.inner {
            Inner::Docker(_) => "docker",
            Inner::Local { .. } => "local",
        }
    }

    /// The image sessions run (empty for the local sandbox).
    pub fn image(&self) -> String {
        match &self.inner {
            Inner::Docker(d) => d.shared.image.clone(),
            Inner::Local { .. } => String::new(),
        }
    }

    /// Ready containers waiting in the pool now.
    pub fn pooled(&self) -> usize {
        match &self.inner {
            Inner::Docker(d) => d.pool.len(),
            Inner::Local { .. } => 0,
        }
    }

    /// Ids of the containers waiting in the pool now.
    pub fn pooled_ids(&self) -> Vec<String> {
        match &self.inner {
            Inner::Docker(d) => d
                .pool
                .ready
                .lock()
                .map(|q| {
                    q.iter()
                        .filter_map(|r| r.guard.id().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            Inner::Local { .. } => Vec::new(),
        }
    }

    /// Waits until the pool holds `n` ready containers (or `timeout` passes); returns how many it holds.
    pub async fn wait_pool(&self, n: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.pooled() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.pooled()
    }

    /// Container ids this provider owns now (pooled and in use).
    pub fn containers(&self) -> Vec<String> {
        match &self.inner {
            Inner::Docker(d) => d.shared.tracked(),
            Inner::Local { .. } => Vec::new(),
        }
    }

    /// A fresh kernel for one task. A pooled container is used when one is ready and the task
    /// runs without network (the pool's containers have none); otherwise one is created.
    pub async fn acquire(&self, labels: TaskLabels, network: bool) -> Result<Box<dyn CodeSession>> {
        match &self.inner {
            Inner::Local { cfg } => Ok(Box::new(start_local(cfg).await?)),
            Inner::Docker(d) => {
                if d.pool.stop.is_cancelled() {
                    return Err(SandboxError::ShutDown);
                }
                if !network {
                    while let Some(mut ready) = d.pool.pop() {
                        d.pool.wake.notify_one();
                        if ready.conn.ping(Duration::from_secs(2)).await.is_err() {
                            tracing::warn!(container = %ready.name, "pooled kernel did not answer; discarding it");
                            ready.guard.remove().await;
                            continue;
                        }
                        if let Some(id) = ready.guard.id().map(str::to_owned) {
                            if let Ok(mut live) = d.shared.live.lock() {
                                live.insert(id.clone(), labels.task.clone());
                            }
                            let shared = d.shared.clone();
                            let task = labels.clone();
                            tokio::spawn(async move {
                                rename_for_task(&shared.docker, &id, &shared.worker_id, &task)
                                    .await;
                            });
                        }
                        return Ok(session(d, ready, labels, network));
                    }
                }
                let ready = start_container(&d.shared, Some(&labels), network).await?;
                Ok(session(d, ready, labels, network))
            }
        }
    }

    /// Stops the refill task and removes every container of this worker (pooled, in use, and
    /// any other labelled with its id). Sessions still open fail from then on.
    pub async fn shutdown(&self) {
        let Inner::Docker(d) = &self.inner else {
            return;
        };
        d.pool.stop.cancel();
        let refill = d.refill.lock().ok().and_then(|mut r| r.take());
        if let Some(handle) = refill {
            let _ = handle.await;
        }
        for mut ready in d.pool.drain() {
            ready.guard.remove().await;
        }
        for id in d.shared.tracked() {
            remove_container(&d.shared.docker, &id).await;
            if let Ok(mut live) = d.shared.live.lock() {
                live.remove(&id);
            }
        }
        if let Err(e) = remove_orphans_with(&d.shared.docker, &d.shared.worker_id).await {
            tracing::warn!(error = %e, "final container sweep failed");
        }
    }
}

impl Drop for SandboxProvider {
    fn drop(&mut self) {
        if let Inner::Docker(d) = &self.inner {
            // Without shutdown(): stop refilling; pooled containers' guards remove them as they drop.
            d.pool.stop.cancel();
            drop(d.pool.drain());
        }
    }
}

fn session(
    d: &DockerProvider,
    ready: ReadyContainer,
    task: TaskLabels,
    network: bool,
) -> Box<dyn CodeSession> {
    let backend = DockerBackend {
        shared: d.shared.clone(),
        guard: ready.guard,
        task,
        network,
    };
    Box::new(KernelSession::new(backend, ready.conn))
}

/// The pool's refill schedule: 500 ms doubling to 30 s with jitter, without end.
fn refill_schedule() -> retry::ExponentialBuilder {
    retry::schedule(Duration::from_millis(500), Duration::from_secs(30), 1).without_max_times()
}

/// Keeps the pool full. A failed start (any engine error) is retried on the shared schedule
/// ([`refill_schedule`]), each failure logged; the schedule starts afresh after a success,
/// and stopping the pool drops the retry at once.
async fn refill_loop(shared: Arc<DockerShared>, pool: Arc<Pool>) {
    loop {
        if pool.stop.is_cancelled() {
            return;
        }
        if pool.len() >= pool.size {
            tokio::select! {
                _ = pool.wake.notified() => continue,
                _ = pool.stop.cancelled() => return,
            }
        }
        let start = (|| start_container(&shared, None, false))
            .retry(refill_schedule())
            .when(|_: &SandboxError| true)
            .notify(|e: &SandboxError, wait: Duration| {
                tracing::warn!(error = %e, retry_in = ?wait, "failed to start a pooled sandbox; retrying");
            });
        let started = tokio::select! {
            r = start => r,
            _ = pool.stop.cancelled() => return,
        };
        match started {
            Ok(mut ready) => {
                if pool.stop.is_cancelled() {
                    ready.guard.remove().await;
                    return;
                }
                if let Ok(mut q) = pool.ready.lock() {
                    q.push_back(ready);
                }
            }
            // Unreachable with an endless schedule; kept so a bounded one cannot spin.
            Err(e) => {
                tracing::warn!(error = %e, "gave up starting a pooled sandbox");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                    _ = pool.stop.cancelled() => return,
                }
            }
        }
    }
}
