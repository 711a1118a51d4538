//! The worker runtime: registers with a coordinator, leases up to its free slots, runs each
//! task through a [`TaskRunner`], heartbeats its leases, and reports outcomes (retrying until
//! the coordinator takes them). On shutdown it stops leasing, lets running tasks finish within
//! a grace period, then cancels and hands back the rest.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use herd_core::outcome::{EndReason, TaskOutcome};
use herd_core::task::TaskSpec;
use herd_proto::v1::*;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::reporter::Reporter;
use crate::steps::{StepReporter, StepSink};

/// A worker runtime error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("failed to connect to coordinator `{url}`: {message}")]
    Connect { url: String, message: String },
    #[error("coordinator `{url}` refused registration: {message}")]
    Register { url: String, message: String },
    #[error("failed to prepare the worker: {0}")]
    Setup(String),
}

/// Everything a runner gets besides the spec.
pub struct TaskContext {
    /// Attachment bytes by name, fetched from the coordinator.
    pub attachments: Vec<(String, Vec<u8>)>,
    /// Cancelled when the sweep is cancelled, the lease is lost, or the worker stops.
    pub cancel: CancellationToken,
    pub worker_id: String,
    /// Calls the coordinator's action store.
    pub actions: ActionClient,
    /// Where the agent loop reports its start and steps for live views (best effort).
    pub steps: Option<StepSink>,
}

/// Runs one task attempt. The real runner is the agent loop; tests and benchmarks plug in others.
#[async_trait::async_trait]
pub trait TaskRunner: Send + Sync + 'static {
    async fn run(&self, spec: TaskSpec, ctx: TaskContext) -> TaskOutcome;
    /// Capabilities announced at registration.
    fn capabilities(&self) -> Vec<String> {
        Vec::new()
    }
    /// Removes what an earlier crash of this worker left behind (called before leasing).
    async fn cleanup_at_start(&self) {}
    /// Releases every sandbox the runner holds (called by the runner's owner at exit).
    async fn shutdown_sandboxes(&self) {}
    /// Checks that the runner can get a sandbox again after an attempt came back
    /// [`TaskOutcome::is_sandbox_unavailable`]; leasing resumes once this succeeds.
    async fn probe(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Whether this worker can run tasks now. A task whose runner could not get a sandbox marks
/// it paused; leasing waits, probing the runner with backoff, until the engine answers again,
/// and tasks leased meanwhile go straight back to the coordinator.
#[derive(Default)]
struct Health {
    paused: Mutex<Option<String>>,
}

impl Health {
    fn paused(&self) -> Option<String> {
        self.paused.lock().clone()
    }

    fn pause(&self, reason: &str) {
        let mut p = self.paused.lock();
        if p.is_none() {
            warn!(
                reason,
                "sandbox engine unavailable: handing tasks back and pausing leasing until it answers"
            );
            *p = Some(reason.to_string());
        }
    }

    /// Probes `runner` until it can get a sandbox (true), or until `shutdown` (false).
    async fn recover(&self, runner: &dyn TaskRunner, shutdown: &CancellationToken) -> bool {
        use herd_core::retry::{self, Retryable};
        let probe = (|| runner.probe())
            .retry(retry::probe())
            .notify(|e: &String, after| {
                warn!(error = %e, retry_in = ?after, "sandbox engine still unavailable");
            });
        tokio::select! {
            r = probe => {
                if r.is_ok() {
                    info!("sandbox engine answers again; leasing resumes");
                    *self.paused.lock() = None;
                }
                r.is_ok()
            }
            _ = shutdown.cancelled() => false,
        }
    }
}

pub use herd_proto::client::WorkerClient as Client;

/// Connects a worker-service client (lazily: the coordinator may come up later).
pub fn connect(url: &str, token: Option<&str>) -> Result<Client, WorkerError> {
    herd_proto::client::worker_client(url, token, None).map_err(|message| WorkerError::Connect {
        url: url.into(),
        message,
    })
}

/// Action-store calls through the coordinator.
#[derive(Clone)]
pub struct ActionClient {
    client: Client,
}

impl ActionClient {
    pub fn new(client: Client) -> Self {
        ActionClient { client }
    }

    /// One call; any failure is returned at once (an agent's tool call reports it).
    pub async fn call(
        &self,
        method: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let req = Self::request(method, &body)?;
        self.call_once(req)
            .await
            .map_err(|s| s.message().to_string())
    }

    /// A call that must not be lost (storing actions, starting a task): repeated with the
    /// patient schedule while the coordinator or the store behind it is unavailable. Only for
    /// idempotent calls.
    pub async fn call_retrying(
        &self,
        method: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        use herd_core::retry::{self, Retryable};
        let req = Self::request(method, &body)?;
        (|| self.call_once(req.clone()))
            .retry(retry::patient())
            .when(|s: &tonic::Status| s.code() == tonic::Code::Unavailable)
            .notify(|s, after| {
                warn!(method, retry_in = ?after, error = %s.message(), "action call unavailable; retrying");
            })
            .await
            .map_err(|s| s.message().to_string())
    }

    fn request(method: &str, body: &serde_json::Value) -> Result<ActionRequest, String> {
        Ok(ActionRequest {
            method: method.to_string(),
            body_json: serde_json::to_vec(body).map_err(|e| e.to_string())?,
        })
    }

    async fn call_once(&self, req: ActionRequest) -> Result<serde_json::Value, tonic::Status> {
        let resp = self.client.clone().action_call(req).await?;
        serde_json::from_slice(&resp.into_inner().body_json)
            .map_err(|e| tonic::Status::internal(format!("malformed action-store reply: {e}")))
    }
}

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub coordinator: String,
    pub token: Option<String>,
    pub worker_id: String,
    pub slots: u32,
    /// How long running tasks may go on after a shutdown request.
    pub grace: Duration,
    /// Long-poll wait for leases.
    pub lease_wait: Duration,
    /// Stop when the coordinator has had no work for this long (None: run until told).
    pub exit_when_idle: Option<Duration>,
}

struct Running {
    cancel: CancellationToken,
}

/// Runs the worker until `shutdown` is cancelled (drain) and, after that, `kill` (exit now).
pub async fn run_worker(
    settings: WorkerSettings,
    runner: Arc<dyn TaskRunner>,
    shutdown: CancellationToken,
    kill: CancellationToken,
) -> Result<(), WorkerError> {
    let client = connect(&settings.coordinator, settings.token.as_deref())?;
    runner.cleanup_at_start().await;
    let reg = register(&client, &settings, runner.capabilities(), &shutdown).await?;
    let heartbeat = Duration::from_millis(reg.heartbeat_ms.max(100));
    info!(worker = %settings.worker_id, slots = settings.slots, "worker registered");

    let running: Arc<Mutex<HashMap<String, Running>>> = Arc::new(Mutex::new(HashMap::new()));
    let slot_freed = Arc::new(Notify::new());
    let hb_stop = CancellationToken::new();
    let hb = tokio::spawn(heartbeat_loop(
        client.clone(),
        settings.worker_id.clone(),
        running.clone(),
        heartbeat,
        hb_stop.clone(),
    ));

    let (reporter, reporter_task) = Reporter::start(client.clone());
    let (steps, steps_task) = StepReporter::start(client.clone(), settings.worker_id.clone());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let health = Arc::new(Health::default());
    let mut idle_since: Option<tokio::time::Instant> = None;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while let Ok(lease) = done_rx.try_recv() {
            running.lock().remove(&lease);
        }
        if shutdown.is_cancelled() {
            break;
        }
        if health.paused().is_some() && !health.recover(&*runner, &shutdown).await {
            break;
        }
        let free = settings.slots.saturating_sub(running.lock().len() as u32);
        if free == 0 {
            tokio::select! {
                _ = slot_freed.notified() => {}
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        }
        let req = LeaseRequest {
            worker_id: settings.worker_id.clone(),
            max_tasks: free,
            wait_ms: settings.lease_wait.as_millis() as u64,
        };
        let mut c = client.clone();
        let resp = tokio::select! {
            r = c.lease_tasks(req) => r,
            _ = shutdown.cancelled() => break,
        };
        let leases = match resp {
            Ok(r) => r.into_inner().leases,
            Err(e) => {
                warn!(error = %e.message(), code = ?e.code(), "lease request failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
        };
        if leases.is_empty() {
            let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
            if let Some(limit) = settings.exit_when_idle
                && since.elapsed() >= limit
                && running.lock().is_empty()
            {
                info!("no work left; worker exits");
                break;
            }
            continue;
        }
        idle_since = None;
        for lease in leases {
            let cancel = CancellationToken::new();
            running.lock().insert(
                lease.lease_id.clone(),
                Running {
                    cancel: cancel.clone(),
                },
            );
            let ctx = TaskCtx {
                client: client.clone(),
                reporter: reporter.clone(),
                steps: steps.clone(),
                runner: runner.clone(),
                worker_id: settings.worker_id.clone(),
                cancel,
                done: done_tx.clone(),
                slot_freed: slot_freed.clone(),
                stop_reporting: kill.clone(),
                health: health.clone(),
            };
            tasks.spawn(run_one(lease, ctx));
        }
    }

    // Drain: running tasks may finish within the grace period; then they are cancelled and
    // hand their tasks back.
    let n = running.lock().len();
    if n > 0 {
        info!(
            running = n,
            grace_secs = settings.grace.as_secs(),
            "draining running tasks"
        );
    }
    let drained = async { while tasks.join_next().await.is_some() {} };
    tokio::select! {
        _ = drained => {}
        _ = tokio::time::sleep(settings.grace) => {
            warn!("grace period over; cancelling running tasks and handing them back");
            for r in running.lock().values() {
                r.cancel.cancel();
            }
            tokio::select! {
                _ = async { while tasks.join_next().await.is_some() {} } => {}
                _ = kill.cancelled() => { tasks.abort_all(); }
            }
        }
        _ = kill.cancelled() => {
            warn!("second signal: exiting now");
            tasks.abort_all();
        }
    }
    hb_stop.cancel();
    let _ = hb.await;
    // Every task has ended: send the steps still buffered, then stop.
    drop(steps);
    steps_task.shutdown().await;
    // Every task has reported (or was aborted); the last handle goes and the sender ends.
    drop(reporter);
    let _ = reporter_task.await;
    Ok(())
}

async fn register(
    client: &Client,
    settings: &WorkerSettings,
    caps: Vec<String>,
    shutdown: &CancellationToken,
) -> Result<RegisterResponse, WorkerError> {
    let req = RegisterRequest {
        worker_id: settings.worker_id.clone(),
        hostname: hostname(),
        slots: settings.slots,
        capabilities: caps,
        version: herd_core::HERD_VERSION.to_string(),
    };
    use herd_core::retry::{self, Retryable};
    // The coordinator may come up after its workers: retry for about two minutes, except a
    // refused token (no retry helps) or a shutdown.
    let attempt = || {
        let mut c = client.clone();
        let req = req.clone();
        async move { c.register(req).await }
    };
    attempt
        .retry(retry::schedule(
            Duration::from_millis(200),
            Duration::from_secs(3),
            50,
        ))
        .when(|s: &tonic::Status| {
            s.code() != tonic::Code::Unauthenticated && !shutdown.is_cancelled()
        })
        .notify(|s, after| {
            debug!(error = %s.message(), retry_in = ?after, "coordinator not reachable yet");
        })
        .await
        .map(|r| r.into_inner())
        .map_err(|s| {
            if s.code() == tonic::Code::Unauthenticated {
                WorkerError::Register {
                    url: settings.coordinator.clone(),
                    message: s.message().to_string(),
                }
            } else {
                WorkerError::Connect {
                    url: settings.coordinator.clone(),
                    message: s.message().to_string(),
                }
            }
        })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

async fn heartbeat_loop(
    client: Client,
    worker_id: String,
    running: Arc<Mutex<HashMap<String, Running>>>,
    every: Duration,
    stop: CancellationToken,
) {
    // Reconnect the stream whenever it breaks (coordinator restart).
    while !stop.is_cancelled() {
        let (tx, rx) = mpsc::channel::<HeartbeatRequest>(4);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut c = client.clone();
        let resp = tokio::select! {
            r = c.heartbeat(stream) => r,
            _ = stop.cancelled() => return,
        };
        let mut inbound = match resp {
            Ok(r) => r.into_inner(),
            Err(e) => {
                debug!(error = %e.message(), "heartbeat stream not open; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(every) => continue,
                    _ = stop.cancelled() => return,
                }
            }
        };
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    let ids: Vec<String> = running.lock().keys().cloned().collect();
                    if tx.send(HeartbeatRequest { worker_id: worker_id.clone(), lease_ids: ids }).await.is_err() {
                        break;
                    }
                }
                msg = inbound.message() => {
                    match msg {
                        Ok(Some(r)) => {
                            let map = running.lock();
                            for id in r.cancel.iter().chain(r.lost.iter()) {
                                if let Some(t) = map.get(id) {
                                    info!(lease = %id, lost = r.lost.contains(id), "coordinator asked to stop task");
                                    t.cancel.cancel();
                                }
                            }
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
    }
}

struct TaskCtx {
    client: Client,
    reporter: Reporter,
    steps: StepReporter,
    runner: Arc<dyn TaskRunner>,
    worker_id: String,
    cancel: CancellationToken,
    done: mpsc::UnboundedSender<String>,
    slot_freed: Arc<Notify>,
    stop_reporting: CancellationToken,
    health: Arc<Health>,
}

async fn run_one(lease: Lease, ctx: TaskCtx) {
    let lease_id = lease.lease_id.clone();
    let paused = ctx.health.paused();
    let outcome = match serde_json::from_slice::<TaskSpec>(&lease.spec_json) {
        Err(e) => TaskOutcome::failure(
            "protocol",
            format!("malformed task spec for `{}`: {e}", lease.task_key),
        ),
        // Leased while the worker was pausing: straight back.
        Ok(_) if paused.is_some() => TaskOutcome::sandbox_unavailable(format!(
            "worker paused: {}",
            paused.unwrap_or_default()
        )),
        Ok(spec) => match fetch_attachments(&ctx.client, &spec, &lease_id).await {
            Err(e) => TaskOutcome::failure("attachment", e),
            Ok(attachments) => {
                let tctx = TaskContext {
                    attachments,
                    cancel: ctx.cancel.clone(),
                    worker_id: ctx.worker_id.clone(),
                    actions: ActionClient::new(ctx.client.clone()),
                    steps: Some(ctx.steps.sink(&lease_id, &lease.task_key, lease.attempt)),
                };
                ctx.runner.run(spec, tctx).await
            }
        },
    };
    // A cancelled task is handed back unless the sweep itself was cancelled; the coordinator
    // treats both as "not this task's fault". So is a task this worker had no sandbox for:
    // it goes back, and the worker pauses before leasing more.
    let no_sandbox = outcome.is_sandbox_unavailable();
    if no_sandbox && let Some(e) = &outcome.error {
        ctx.health.pause(&e.message);
    }
    let hand_back = outcome.end == EndReason::Cancelled || no_sandbox;
    // The coordinator takes steps only while the lease is held: the task's last steps go out
    // before its result.
    ctx.steps.flush().await;
    let req = ReportRequest {
        worker_id: ctx.worker_id.clone(),
        lease_id: lease_id.clone(),
        task_key: lease.task_key.clone(),
        attempt: lease.attempt,
        outcome_json: serde_json::to_vec(&outcome).unwrap_or_default(),
        hand_back,
    };
    // Until the coordinator takes it (a report is idempotent) or rejects it; a second signal
    // stops trying.
    use herd_core::retry::{self, Retryable};
    let rejected = |s: &tonic::Status| {
        matches!(
            s.code(),
            tonic::Code::InvalidArgument | tonic::Code::NotFound | tonic::Code::Unauthenticated
        )
    };
    let send = (|| ctx.reporter.report(req.clone()))
        .retry(
            retry::schedule(Duration::from_millis(100), Duration::from_secs(5), 1)
                .without_max_times(),
        )
        .when(|s| !rejected(s))
        .notify(|s, after| {
            warn!(task = %lease.task_key, error = %s.message(), retry_in = ?after, "report failed; retrying");
        });
    tokio::select! {
        r = send => match r {
            Ok(r) => {
                info!(task = %lease.task_key, disposition = ?Disposition::try_from(r.disposition), msg = %r.message, "reported");
            }
            Err(s) => {
                warn!(task = %lease.task_key, error = %s.message(), "coordinator rejected the report");
            }
        },
        _ = ctx.stop_reporting.cancelled() => {}
    }
    let _ = ctx.done.send(lease_id);
    ctx.slot_freed.notify_one();
}

async fn fetch_attachments(
    client: &Client,
    spec: &TaskSpec,
    lease_id: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    use sha2::Digest;
    let mut out = Vec::new();
    for a in &spec.attachments {
        let mut stream = client
            .clone()
            .fetch_attachment(FetchAttachmentRequest {
                task_key: spec.key.clone(),
                name: a.name.clone(),
                lease_id: lease_id.to_string(),
            })
            .await
            .map_err(|s| format!("failed to fetch attachment `{}`: {}", a.name, s.message()))?
            .into_inner();
        let mut buf = Vec::with_capacity(a.size as usize);
        while let Some(chunk) = stream
            .message()
            .await
            .map_err(|s| format!("attachment `{}` broke off: {}", a.name, s.message()))?
        {
            buf.extend_from_slice(&chunk.data);
        }
        let sha = hex::encode(sha2::Sha256::digest(&buf));
        if sha != a.sha256 {
            return Err(format!(
                "attachment `{}` arrived corrupted (sha256 {sha}, expected {})",
                a.name, a.sha256
            ));
        }
        out.push((a.name.clone(), buf));
    }
    Ok(out)
}
