//! Docker containers running the kernel: the locked-down container spec, create-attach-start
//! with a ready check, removal guards (close, Drop, shutdown, orphan sweep) and the session
//! backend that replaces a dead or stuck container with a fresh one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
    RenameContainerOptions, StartContainerOptions,
};
use futures::StreamExt;
use herd_core::config::SandboxConfig;
use herd_core::kernel::SessionError;
use herd_core::outcome::SandboxInfo;
use tokio::sync::mpsc;

use crate::error::{Result, SandboxError};
use crate::image::KERNEL_PATH_IN_IMAGE;
use crate::protocol::{KernelConn, LineSplitter};
use crate::session::{Backend, ExitCause};
pub(crate) use crate::throttle::StartThrottle;

pub const LABEL_MANAGED: &str = "herd.managed";
pub const LABEL_WORKER: &str = "herd.worker";
pub const LABEL_SWEEP: &str = "herd.sweep";
pub const LABEL_TASK: &str = "herd.task";
pub const LABEL_POOL: &str = "herd.pool";
/// The workspace inside containers.
pub const WORKSPACE: &str = "/workspace";

/// Which task a sandbox serves (container labels / names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskLabels {
    pub sweep: String,
    pub task: String,
}

/// What every container of one provider shares.
pub(crate) struct DockerShared {
    pub(crate) docker: Docker,
    pub(crate) image: String,
    pub(crate) worker_id: String,
    pub(crate) cfg: SandboxConfig,
    pub(crate) throttle: StartThrottle,
    /// Containers this worker owns now (id -> task key, empty while pooled).
    pub(crate) live: Mutex<HashMap<String, String>>,
}

impl DockerShared {
    fn track(&self, id: &str, task: &str) {
        if let Ok(mut live) = self.live.lock() {
            live.insert(id.to_owned(), task.to_owned());
        }
    }

    fn untrack(&self, id: &str) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(id);
        }
    }

    pub(crate) fn tracked(&self) -> Vec<String> {
        self.live
            .lock()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// Removes its container when dropped unless removed explicitly first.
pub(crate) struct ContainerGuard {
    shared: Arc<DockerShared>,
    id: Option<String>,
}

impl ContainerGuard {
    pub(crate) fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub(crate) async fn remove(&mut self) {
        if let Some(id) = self.id.take() {
            remove_container(&self.shared.docker, &id).await;
            self.shared.untrack(&id);
        }
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let shared = self.shared.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    remove_container(&shared.docker, &id).await;
                    shared.untrack(&id);
                });
            }
            Err(_) => {
                tracing::warn!(container = %id, "dropped outside a runtime: container left for the orphan sweep")
            }
        }
    }
}

pub(crate) async fn remove_container(docker: &Docker, id: &str) {
    let opts = RemoveContainerOptions {
        force: true,
        v: true,
        link: false,
    };
    match docker.remove_container(id, Some(opts)).await {
        Ok(()) => tracing::debug!(container = %id, "container removed"),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        // 409: removal already in progress
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => {}
        Err(e) => tracing::warn!(container = %id, error = %e, "failed to remove container"),
    }
}

/// A started container with a kernel that answered.
pub(crate) struct ReadyContainer {
    pub(crate) guard: ContainerGuard,
    pub(crate) conn: KernelConn,
    pub(crate) name: String,
}

fn container_body(
    shared: &DockerShared,
    labels: HashMap<String, String>,
    network: bool,
) -> ContainerCreateBody {
    let cfg = &shared.cfg;
    let memory = (cfg.memory_mb as i64).saturating_mul(1024 * 1024);
    let mut tmpfs = HashMap::new();
    tmpfs.insert(
        WORKSPACE.to_owned(),
        "rw,nosuid,nodev,size=512m,uid=1000,gid=1000,mode=0755".to_owned(),
    );
    tmpfs.insert(
        "/tmp".to_owned(),
        "rw,nosuid,nodev,size=64m,mode=1777".to_owned(),
    );
    ContainerCreateBody {
        image: Some(shared.image.clone()),
        cmd: Some(vec![
            "python3".into(),
            // No `site` at start-up (the kernel adds site-packages itself): a cheaper start.
            "-S".into(),
            "-u".into(),
            KERNEL_PATH_IN_IMAGE.into(),
        ]),
        env: Some(vec![
            "PATH=/usr/local/bin:/usr/bin:/bin".into(),
            format!("HOME={WORKSPACE}"),
            "LANG=C.UTF-8".into(),
            "PYTHONUNBUFFERED=1".into(),
            "PYTHONDONTWRITEBYTECODE=1".into(),
            "MPLBACKEND=Agg".into(),
            "MPLCONFIGDIR=/tmp/matplotlib".into(),
            format!("HERD_WORKSPACE={WORKSPACE}"),
        ]),
        user: Some("1000:1000".into()),
        working_dir: Some(WORKSPACE.into()),
        labels: Some(labels),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(true),
        stdin_once: Some(false),
        tty: Some(false),
        network_disabled: Some(!network),
        host_config: Some(HostConfig {
            network_mode: Some(if network { "bridge" } else { "none" }.into()),
            readonly_rootfs: Some(true),
            tmpfs: Some(tmpfs),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some((cfg.cpus * 1e9) as i64),
            pids_limit: Some(cfg.pids_limit),
            auto_remove: Some(false),
            // docker-init as PID 1 reaps orphans (e.g. after a fork bomb) and forwards signals.
            init: Some(true),
            runtime: cfg.runtime.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A docker-safe container name part.
fn name_part(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if cleaned.is_empty() {
        "x".into()
    } else {
        cleaned
    }
}

/// Creates, attaches and starts a container and waits for its kernel's answer. `task` None
/// makes a pooled container (labelled `herd.pool=true`).
pub(crate) async fn start_container(
    shared: &Arc<DockerShared>,
    task: Option<&TaskLabels>,
    network: bool,
) -> Result<ReadyContainer> {
    let _permit = shared
        .throttle
        .creates
        .acquire()
        .await
        .map_err(|_| SandboxError::ShutDown)?;
    shared.throttle.wait_turn().await;
    let started = std::time::Instant::now();
    let r = create_and_start(shared, task, network).await;
    shared.throttle.observe(started.elapsed(), r.is_ok());
    r
}

pub(crate) async fn create_and_start(
    shared: &Arc<DockerShared>,
    task: Option<&TaskLabels>,
    network: bool,
) -> Result<ReadyContainer> {
    let mut labels = HashMap::new();
    labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
    labels.insert(LABEL_WORKER.to_owned(), shared.worker_id.clone());
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let name = match task {
        Some(t) => {
            labels.insert(LABEL_SWEEP.to_owned(), t.sweep.clone());
            labels.insert(LABEL_TASK.to_owned(), t.task.clone());
            format!(
                "herd-{}-{}-{suffix}",
                name_part(&shared.worker_id),
                name_part(&t.task)
            )
        }
        None => {
            labels.insert(LABEL_POOL.to_owned(), "true".to_owned());
            format!("herd-{}-pool-{suffix}", name_part(&shared.worker_id))
        }
    };
    let body = container_body(shared, labels, network);
    let created = shared
        .docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body,
        )
        .await
        .map_err(SandboxError::docker("create container"))?;
    let id = created.id;
    shared.track(&id, task.map(|t| t.task.as_str()).unwrap_or_default());
    let mut guard = ContainerGuard {
        shared: shared.clone(),
        id: Some(id.clone()),
    };

    match attach_and_start(&shared.docker, &id).await {
        Ok(conn) => Ok(ReadyContainer { guard, conn, name }),
        Err(e) => {
            guard.remove().await;
            Err(e)
        }
    }
}

async fn attach_and_start(docker: &Docker, id: &str) -> Result<KernelConn> {
    let attach = AttachContainerOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        stream: true,
        logs: false,
        detach_keys: None,
    };
    let attached = docker
        .attach_container(id, Some(attach))
        .await
        .map_err(SandboxError::docker("attach container"))?;
    docker
        .start_container(id, None::<StartContainerOptions>)
        .await
        .map_err(SandboxError::docker("start container"))?;
    let (tx, rx) = mpsc::channel(256);
    let mut output = attached.output;
    let container = id.to_owned();
    let reader = tokio::spawn(async move {
        let mut splitter = LineSplitter::new(tx);
        while let Some(item) = output.next().await {
            match item {
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    if !splitter.push(&message).await {
                        return;
                    }
                }
                Ok(LogOutput::StdErr { message }) => {
                    tracing::debug!(container = %container, stderr = %String::from_utf8_lossy(&message), "kernel stderr");
                }
                Ok(LogOutput::StdIn { .. }) => {}
                Err(e) => {
                    tracing::debug!(container = %container, error = %e, "attach stream ended");
                    return;
                }
            }
        }
    });
    let mut conn = KernelConn::new(attached.input, rx, reader);
    conn.ping(Duration::from_secs(60))
        .await
        .map_err(|e| SandboxError::KernelStart(format!("container {id}: {e}")))?;
    Ok(conn)
}

/// Lists this worker's managed containers (all states).
pub(crate) async fn list_worker_containers(
    docker: &Docker,
    worker_id: &str,
) -> Result<Vec<String>> {
    let mut filters = HashMap::new();
    filters.insert(
        "label".to_owned(),
        vec![
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_WORKER}={worker_id}"),
        ],
    );
    let opts = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(SandboxError::docker("list containers"))?;
    Ok(list.into_iter().filter_map(|c| c.id).collect())
}

/// Removes every container labelled as this worker's (left by an earlier crash of the same
/// worker id). Returns how many were removed. Call at worker start.
pub async fn remove_orphans(worker_id: &str) -> Result<usize> {
    let docker = crate::image::connect().await?;
    remove_orphans_with(&docker, worker_id).await
}

pub(crate) async fn remove_orphans_with(docker: &Docker, worker_id: &str) -> Result<usize> {
    let ids = list_worker_containers(docker, worker_id).await?;
    for id in &ids {
        remove_container(docker, id).await;
    }
    if !ids.is_empty() {
        tracing::info!(
            worker = worker_id,
            removed = ids.len(),
            "removed orphaned sandbox containers"
        );
    }
    Ok(ids.len())
}

/// Renames a container acquired from the pool after its task (pooled containers cannot be
/// relabelled: the worker keeps the task assignment; the name shows it in `docker ps`).
pub(crate) async fn rename_for_task(docker: &Docker, id: &str, worker_id: &str, task: &TaskLabels) {
    let suffix = &id[..id.len().min(8)];
    let name = format!(
        "herd-{}-{}-{suffix}",
        name_part(worker_id),
        name_part(&task.task)
    );
    if let Err(e) = docker
        .rename_container(id, RenameContainerOptions { name })
        .await
    {
        tracing::debug!(container = %id, error = %e, "rename failed");
    }
}

/// A task's container as a session backend.
pub(crate) struct DockerBackend {
    pub(crate) shared: Arc<DockerShared>,
    pub(crate) guard: ContainerGuard,
    pub(crate) task: TaskLabels,
    pub(crate) network: bool,
}

#[async_trait]
impl Backend for DockerBackend {
    async fn restart(&mut self) -> Result<KernelConn, SessionError> {
        self.guard.remove().await;
        let ready = start_container(&self.shared, Some(&self.task), self.network)
            .await
            .map_err(|e| {
                SessionError::Died(format!("could not start a replacement container: {e}"))
            })?;
        self.guard = ready.guard;
        Ok(ready.conn)
    }

    async fn exit_cause(&mut self) -> ExitCause {
        let Some(id) = self.guard.id().map(str::to_owned) else {
            return ExitCause::Exited("container already removed".into());
        };
        // The attach stream can end a moment before the daemon records the exit.
        for _ in 0..20 {
            match self
                .shared
                .docker
                .inspect_container(
                    &id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
            {
                Ok(info) => {
                    let state = info.state.unwrap_or_default();
                    if state.oom_killed == Some(true) {
                        return ExitCause::OutOfMemory;
                    }
                    if state.running != Some(true) {
                        let code = state.exit_code.unwrap_or(-1);
                        // 137 = SIGKILL; under a memory limit that is the OOM killer even when
                        // the daemon has not flagged it (cgroup v1 races).
                        if code == 137 {
                            return ExitCause::OutOfMemory;
                        }
                        return ExitCause::Exited(format!("exit code {code}"));
                    }
                }
                Err(e) => return ExitCause::Exited(format!("inspect failed: {e}")),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ExitCause::Exited("its channel closed while the container kept running".into())
    }

    async fn close(&mut self) {
        self.guard.remove().await;
    }

    fn info(&self) -> SandboxInfo {
        SandboxInfo {
            kind: "docker".into(),
            image: self.shared.image.clone(),
        }
    }

    fn workspace(&self) -> String {
        WORKSPACE.into()
    }

    fn memory_mb(&self) -> u64 {
        self.shared.cfg.memory_mb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_docker_safe() {
        assert_eq!(name_part("gaia/val:17 x"), "gaia-val-17-x");
        assert_eq!(name_part(""), "x");
        assert!(name_part(&"a".repeat(100)).len() <= 40);
    }
}
