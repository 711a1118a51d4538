//! The scheduler: one task owns every sweep's live state (queues, leases, results) and
//! handles commands sent by the gRPC adapters, nextest-style. Every change is written through
//! the state store in pipelined group commits: replies wait for the commit that holds their
//! change, so an acknowledged result is durable and a restart loses nothing, while the actor
//! goes on with the next batch during the write.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herd_core::config::{Accumulation, Sweep, SweepConfig};
use herd_core::outcome::{EndReason, TaskOutcome};
use herd_core::result::{AttemptRecord, HERD_VERSION, ResultRecord, Status};
use herd_core::retry::{self, BackoffBuilder};
use herd_core::task::{ActionAccess, AttachmentRef, TaskSpec, task_seed};
use herd_proto::v1::{Disposition, GroupStatus, StepAck, StepEvent, SweepEvent, SweepStatus};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{error, info, warn};

use crate::error::CoordinatorError;
use crate::expand::{self, ExpandedSweep, Phase, PlannedTask};
use crate::intake;
use crate::outputs;
use crate::store::{LeaseRecord, Mutation, StateStore, SweepRecord, TaskProgress};

// The actor's work, by concern; each adds methods to [`State`].
mod barrier;
mod feed;
mod leasing;
mod recovery;
mod reports;
mod watch;

use feed::Feed;
pub use watch::{RESULTS_PER_CHUNK, WatchOptions};

use leasing::{requeue_back, requeue_front};
use recovery::recover_expansion;
use reports::{count_result, uncount_result};

/// Settings of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Lease length granted on lease and on each heartbeat.
    pub lease: Duration,
    pub heartbeat: Duration,
    /// Where sweeps without an explicit output directory write results.
    pub data_dir: PathBuf,
}

/// A granted lease, ready for the wire.
#[derive(Debug, Clone)]
pub struct Grant {
    pub lease_id: String,
    pub sweep_id: String,
    pub spec: TaskSpec,
    pub deadline_unix_ms: u64,
}

/// What a heartbeat learns.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatReply {
    pub deadline_unix_ms: u64,
    pub lost: Vec<String>,
    pub cancel: Vec<String>,
}

/// A worker's report of one attempt.
#[derive(Debug, Clone)]
pub struct Report {
    pub worker_id: String,
    pub lease_id: String,
    pub task_key: String,
    pub attempt: u32,
    pub outcome: TaskOutcome,
    pub hand_back: bool,
}

/// Where an attachment's bytes are.
pub type AttachmentBytes = Arc<Vec<u8>>;

/// How a sweep is submitted.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// Output directory (default: under the coordinator's data directory).
    pub out_dir: Option<PathBuf>,
    /// Continue the sweep with the same id instead of refusing.
    pub resume: bool,
    /// With `resume`: tasks recorded `failed` get a fresh attempt budget (their earlier
    /// attempts stay in the attempt log).
    pub retry_failed: bool,
    /// A JSONL action library every accumulating arm starts from (empty: none).
    pub actions_from: String,
}

/// The result of a submit.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub sweep_id: String,
    pub tasks: u64,
    pub resumed: bool,
}

type Reply<T> = oneshot::Sender<T>;

/// How a report was taken: its disposition, a message, and the sweep's output directory.
pub type ReportAnswer = Result<(Disposition, String, PathBuf), CoordinatorError>;

enum Cmd {
    Submit {
        exp: Box<ExpandedSweep>,
        opts: SubmitOptions,
        reply: Reply<Result<Submitted, CoordinatorError>>,
    },
    Lease {
        worker: String,
        max: u32,
        reply: Reply<Vec<Grant>>,
    },
    Heartbeat {
        worker: String,
        leases: Vec<String>,
        reply: Reply<HeartbeatReply>,
    },
    Report {
        report: Box<Report>,
        reply: Reply<Result<(Disposition, String, PathBuf), CoordinatorError>>,
    },
    ReportMany {
        reports: Vec<Report>,
        reply: Reply<Vec<ReportAnswer>>,
    },
    Status {
        sweep: String,
        reply: Reply<Result<SweepStatus, CoordinatorError>>,
    },
    List {
        reply: Reply<Vec<SweepStatus>>,
    },
    Cancel {
        sweep: String,
        reply: Reply<Result<u64, CoordinatorError>>,
    },
    Watch {
        sweep: String,
        opts: WatchOptions,
        reply: Reply<Result<watch::WatchStart, CoordinatorError>>,
    },
    Steps {
        worker: String,
        steps: Vec<StepEvent>,
        reply: Reply<StepAck>,
    },
    Attachment {
        task: String,
        name: String,
        reply: Reply<Result<AttachmentBytes, CoordinatorError>>,
    },
    Export {
        sweep: String,
        reply: Reply<Result<PathBuf, CoordinatorError>>,
    },
}

/// A cheap, cloneable handle to the scheduler task.
#[derive(Clone)]
pub struct Scheduler {
    tx: mpsc::Sender<Cmd>,
    /// Signalled whenever tasks may have become leasable.
    work: Arc<Notify>,
    settings: SchedulerSettings,
}

macro_rules! ask {
    ($self:ident, $variant:ident { $($field:ident : $value:expr),* }) => {{
        let (reply, rx) = oneshot::channel();
        $self.tx.send(Cmd::$variant { $($field: $value,)* reply }).await.map_err(|_| CoordinatorError::ShuttingDown)?;
        rx.await.map_err(|_| CoordinatorError::ShuttingDown)?
    }};
}

impl Scheduler {
    /// Recovers every stored sweep and starts the scheduler task. The task ends when the
    /// last handle is dropped.
    pub async fn start(
        store: Arc<dyn StateStore>,
        actions: Option<Arc<dyn ActionHooks>>,
        settings: SchedulerSettings,
    ) -> Result<Scheduler, CoordinatorError> {
        let snapshot = store.load().await?;
        let mut state = State {
            sweeps: Vec::new(),
            by_id: HashMap::new(),
            task_index: HashMap::new(),
            store,
            actions,
            pending: Vec::new(),
            settings: settings.clone(),
            work: Arc::new(Notify::new()),
            running_per_backbone: HashMap::new(),
            leases: HashMap::new(),
            dirty: Default::default(),
            next_lease: 0,
        };
        let mut results_by_sweep: HashMap<String, Vec<ResultRecord>> = HashMap::new();
        for r in snapshot.results {
            results_by_sweep.entry(r.sweep.clone()).or_default().push(r);
        }
        let mut attempts_by_sweep: HashMap<String, Vec<AttemptRecord>> = HashMap::new();
        for a in snapshot.attempts {
            attempts_by_sweep
                .entry(a.sweep.clone())
                .or_default()
                .push(a);
        }
        for rec in snapshot.sweeps {
            let sweep_id = rec.sweep_id.clone();
            let exp = {
                let rec = rec.clone();
                tokio::task::spawn_blocking(move || recover_expansion(&rec))
                    .await
                    .map_err(|e| CoordinatorError::Output {
                        path: sweep_id.clone(),
                        message: e.to_string(),
                    })?
            };
            match exp {
                Ok(exp) => {
                    let results = results_by_sweep.remove(&sweep_id).unwrap_or_default();
                    let attempts = attempts_by_sweep.remove(&sweep_id).unwrap_or_default();
                    state.install(exp, rec, results, attempts);
                }
                Err(e) => {
                    warn!(sweep = %sweep_id, error = %e, "cannot recover sweep; it stays stored but inactive")
                }
            }
        }
        for p in snapshot.progress {
            if let Some((si, ti)) = state.locate(&p.task_key) {
                let t = &mut state.sweeps[si].tasks[ti];
                t.attempts = t.attempts.max(p.attempts);
                t.last_error = p.last_error;
            }
        }
        let now = now_ms();
        for l in snapshot.leases {
            state.restore_lease(l, now);
        }
        let (tx, rx) = mpsc::channel(4096);
        let work = state.work.clone();
        let recovered = state.sweeps.len();
        tokio::spawn(state.run(rx));
        info!(recovered, "scheduler started");
        Ok(Scheduler { tx, work, settings })
    }

    pub fn settings(&self) -> &SchedulerSettings {
        &self.settings
    }

    /// Validates, loads and plans a sweep, then installs it (or resumes it).
    pub async fn submit(
        &self,
        config_toml: String,
        origin: String,
        base_dir: PathBuf,
        opts: SubmitOptions,
    ) -> Result<Submitted, CoordinatorError> {
        let exp =
            tokio::task::spawn_blocking(move || -> Result<ExpandedSweep, CoordinatorError> {
                let cfg = SweepConfig::from_toml_str(&config_toml, &origin)?;
                let sweep = cfg.validate(&origin, base_dir)?;
                expand::expand(sweep, config_toml, origin)
            })
            .await
            .map_err(|e| CoordinatorError::Output {
                path: "sweep expansion".into(),
                message: e.to_string(),
            })??;
        let exp = Box::new(exp);
        ask!(
            self,
            Submit {
                exp: exp,
                opts: opts
            }
        )
    }

    /// Leases up to `max` tasks, waiting up to `wait` for one when none is ready.
    pub async fn lease(
        &self,
        worker: &str,
        max: u32,
        wait: Duration,
    ) -> Result<Vec<Grant>, CoordinatorError> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.work.notified();
            let grants: Vec<Grant> = ask!(
                self,
                Lease {
                    worker: worker.to_string(),
                    max: max
                }
            );
            if !grants.is_empty() || Instant::now() >= deadline {
                return Ok(grants);
            }
            let _ = tokio::time::timeout_at(deadline.into(), notified).await;
        }
    }

    pub async fn heartbeat(
        &self,
        worker: &str,
        leases: Vec<String>,
    ) -> Result<HeartbeatReply, CoordinatorError> {
        Ok(ask!(
            self,
            Heartbeat {
                worker: worker.to_string(),
                leases: leases
            }
        ))
    }

    pub async fn report(
        &self,
        report: Report,
    ) -> Result<(Disposition, String, PathBuf), CoordinatorError> {
        ask!(
            self,
            Report {
                report: Box::new(report)
            }
        )
    }

    /// Takes several reports in one scheduler turn and one commit; each gets its own
    /// answer, in order, once the commit holding it is durable.
    pub async fn report_many(
        &self,
        reports: Vec<Report>,
    ) -> Result<Vec<ReportAnswer>, CoordinatorError> {
        Ok(ask!(self, ReportMany { reports: reports }))
    }

    pub async fn status(&self, sweep: &str) -> Result<SweepStatus, CoordinatorError> {
        ask!(
            self,
            Status {
                sweep: sweep.to_string()
            }
        )
    }

    pub async fn list(&self) -> Result<Vec<SweepStatus>, CoordinatorError> {
        Ok(ask!(self, List {}))
    }

    pub async fn cancel(&self, sweep: &str) -> Result<u64, CoordinatorError> {
        ask!(
            self,
            Cancel {
                sweep: sweep.to_string()
            }
        )
    }

    pub async fn attachment(
        &self,
        task: &str,
        name: &str,
    ) -> Result<AttachmentBytes, CoordinatorError> {
        ask!(
            self,
            Attachment {
                task: task.to_string(),
                name: name.to_string()
            }
        )
    }

    /// Writes results, trajectories index and report for a sweep now (also a partial one).
    pub async fn export(&self, sweep: &str) -> Result<PathBuf, CoordinatorError> {
        ask!(
            self,
            Export {
                sweep: sweep.to_string()
            }
        )
    }
}

/// What the scheduler needs from the action store (hosted beside it).
#[async_trait::async_trait]
pub trait ActionHooks: Send + Sync {
    /// Freezes a train-then-test namespace after its training split.
    async fn freeze(&self, namespace: &str) -> Result<(), String>;
    /// Imports a saved library (JSONL) into a namespace before the sweep starts.
    async fn import(&self, namespace: &str, path: &str) -> Result<u64, String>;
}

#[derive(Debug, Clone, PartialEq)]
enum TState {
    Queued,
    Leased {
        lease_id: String,
        worker: String,
        attempt: u32,
        deadline_ms: u64,
        started_ms: u64,
    },
    Done,
}

struct TaskEntry {
    plan: PlannedTask,
    state: TState,
    attempts: u32,
    last_error: Option<String>,
}

struct Queue {
    backbone: u16,
    arm: u16,
    phase: Phase,
    ready: VecDeque<u32>,
}

#[derive(Default, Clone)]
struct Group {
    total: u64,
    done: u64,
    running: u64,
    /// Finished without a scored answer (any status but `scored`); the next three break it down.
    failed: u64,
    timeout: u64,
    budget: u64,
    cancelled: u64,
    scored: u64,
    correct: u64,
    cost: f64,
}

struct SweepState {
    record: SweepRecord,
    sweep: Sweep,
    datasets: Vec<Arc<herd_datasets::Dataset>>,
    tasks: Vec<TaskEntry>,
    queues: Vec<Queue>,
    /// (bench, backbone, arm, phase) → group.
    groups: HashMap<GroupKey, Group>,
    results: Vec<ResultRecord>,
    attempts: Vec<AttemptRecord>,
    events: Feed,
    started: Instant,
    finished_this_run: u64,
    /// Train tasks still open per (backbone, arm) of train-then-test arms.
    train_open: HashMap<(u16, u16), u64>,
    rr: usize,
}

struct State {
    sweeps: Vec<SweepState>,
    by_id: HashMap<String, usize>,
    /// task key → (sweep index, task index)
    task_index: HashMap<String, (u32, u32)>,
    store: Arc<dyn StateStore>,
    actions: Option<Arc<dyn ActionHooks>>,
    pending: Vec<Mutation>,
    settings: SchedulerSettings,
    work: Arc<Notify>,
    /// backbone name → tasks running cluster-wide.
    running_per_backbone: HashMap<String, u32>,
    /// live lease id → (sweep index, task index)
    leases: HashMap<String, (u32, u32)>,
    /// Sweeps whose record changed since the last commit.
    dirty: std::collections::BTreeSet<usize>,
    next_lease: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

/// A reply as its caller sees it once the commit it waited for ended: the commit's error,
/// if any, replaces a success (the change is kept and written with a later commit).
fn once_durable<T>(
    r: Result<T, CoordinatorError>,
    commit_error: Option<&str>,
) -> Result<T, CoordinatorError> {
    match (r, commit_error) {
        (Ok(_), Some(e)) => Err(CoordinatorError::Output {
            path: "state store".into(),
            message: e.to_string(),
        }),
        (r, _) => r,
    }
}

/// Write attempts at shutdown before the scheduler gives up on a failing store.
const SHUTDOWN_WRITE_ATTEMPTS: u32 = 5;

/// The longest wait between two attempts to write a failed commit.
const COMMIT_RETRY_MAX_DELAY: Duration = Duration::from_secs(5);

/// The shared schedule a failed commit is retried on: 100 ms doubling to 5 s, jitter adding
/// up to 100% (100–200 ms, 200–400 ms, …), without end (at shutdown it stops after
/// `SHUTDOWN_WRITE_ATTEMPTS`).
fn commit_retry_schedule() -> retry::ExponentialBuilder {
    retry::schedule(Duration::from_millis(100), COMMIT_RETRY_MAX_DELAY, 1).without_max_times()
}

/// Replies that wait for the commit holding their changes; each gets the commit's error.
type Replies = Vec<Box<dyn FnOnce(Option<String>) + Send>>;

/// The store write in flight: its mutations (kept for a retry) and the replies waiting on it.
struct InFlight {
    batch: Arc<Vec<Mutation>>,
    replies: Replies,
    write: tokio::task::JoinHandle<Result<(), String>>,
}

impl State {
    /// The actor loop. Commits are pipelined: while one batch is being written the actor
    /// goes on handling commands, whose changes form the next batch; a reply is released
    /// only once the batch holding its changes (and every earlier one) is durable.
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut replies: Replies = Vec::new();
        let mut inflight: Option<InFlight> = None;
        let mut open = true;
        // After a failed write the next one waits on the shared retry schedule (100 ms
        // doubling to 5 s, with jitter, without end), so a dead store is retried without
        // spinning; a successful write starts the schedule afresh.
        let mut failures = 0u32;
        let mut backoff: Option<retry::ExponentialBackoff> = None;
        let mut retry_at: Option<tokio::time::Instant> = None;
        while open || inflight.is_some() || !replies.is_empty() || !self.pending.is_empty() {
            if !open && inflight.is_none() && failures >= SHUTDOWN_WRITE_ATTEMPTS {
                error!(
                    mutations = self.pending.len(),
                    attempts = failures,
                    "state store still failing at shutdown; these changes are not written: their callers were told, and their tasks run again after a restart"
                );
                for r in replies.drain(..) {
                    r(Some("the state store is unavailable".into()));
                }
                break;
            }
            tokio::select! {
                cmd = rx.recv(), if open => {
                    match cmd {
                        Some(cmd) => {
                            self.handle(cmd, &mut replies).await;
                            // Drain what is queued so it shares one commit.
                            let mut n = 0;
                            while n < 2048 {
                                match rx.try_recv() {
                                    Ok(cmd) => { self.handle(cmd, &mut replies).await; n += 1; }
                                    Err(_) => break,
                                }
                            }
                        }
                        // Last handle gone: flush what is left, then stop.
                        None => open = false,
                    }
                }
                done = async { (&mut inflight.as_mut().expect("guarded").write).await }, if inflight.is_some() => {
                    let f = inflight.take().expect("guarded");
                    let error = match done {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e),
                        Err(e) => Some(format!("the store write task failed: {e}")),
                    };
                    let mut wait = Duration::ZERO;
                    if error.is_some() {
                        failures += 1;
                        wait = backoff
                            .get_or_insert_with(|| commit_retry_schedule().build())
                            .next()
                            .unwrap_or(COMMIT_RETRY_MAX_DELAY);
                        retry_at = Some(tokio::time::Instant::now() + wait);
                    } else {
                        failures = 0;
                        backoff = None;
                    }
                    if let Some(e) = &error {
                        warn!(error = %e, mutations = f.batch.len(), failures, retry_in = ?wait, "state store write failed; will retry with the next commit");
                        // Keep them, oldest first: nothing acknowledged is lost.
                        let mut retry = Arc::try_unwrap(f.batch).unwrap_or_else(|b| (*b).clone());
                        retry.append(&mut self.pending);
                        self.pending = retry;
                    }
                    for r in f.replies {
                        r(error.clone());
                    }
                }
                _ = tick.tick(), if open => {
                    self.expire(now_ms());
                    self.check_barriers().await;
                }
                _ = tokio::time::sleep_until(retry_at.unwrap_or_else(tokio::time::Instant::now)), if retry_at.is_some() && inflight.is_none() => {
                    retry_at = None;
                }
            }
            if inflight.is_none() && retry_at.is_none() {
                inflight = self.start_commit(&mut replies);
            }
        }
    }

    /// Starts writing the pending mutations, taking the replies that wait on them; replies
    /// with nothing to wait for are released at once. `None` when nothing was written.
    fn start_commit(&mut self, replies: &mut Replies) -> Option<InFlight> {
        for si in std::mem::take(&mut self.dirty) {
            self.pending
                .push(Mutation::PutSweep(self.sweeps[si].record.clone()));
        }
        if self.pending.is_empty() {
            for r in replies.drain(..) {
                r(None);
            }
            return None;
        }
        let batch = Arc::new(std::mem::take(&mut self.pending));
        let store = self.store.clone();
        let write = {
            let batch = batch.clone();
            tokio::spawn(async move { store.apply(batch).await.map_err(|e| e.to_string()) })
        };
        Some(InFlight {
            batch,
            replies: std::mem::take(replies),
            write,
        })
    }

    fn locate(&self, key: &str) -> Option<(usize, usize)> {
        self.task_index
            .get(key)
            .map(|&(s, t)| (s as usize, t as usize))
    }

    async fn handle(
        &mut self,
        cmd: Cmd,
        replies: &mut Vec<Box<dyn FnOnce(Option<String>) + Send>>,
    ) {
        match cmd {
            Cmd::Submit { exp, opts, reply } => {
                let r = self.submit(*exp, opts).await;
                replies.push(Box::new(move |err| {
                    let _ = reply.send(once_durable(r, err.as_deref()));
                }));
            }
            Cmd::Lease { worker, max, reply } => {
                // Leases are answered before their commit: a lease is not a result. If the
                // coordinator dies before the lease is durable, the restarted one queues the
                // task again and tells the worker its lease is lost at the next heartbeat; a
                // report that still arrives is taken like any late one (one result per task).
                let grants = self.lease(&worker, max);
                let _ = reply.send(grants);
            }
            Cmd::Heartbeat {
                worker,
                leases,
                reply,
            } => {
                let r = self.heartbeat(&worker, &leases);
                let _ = reply.send(r);
            }
            Cmd::Report { report, reply } => {
                let r = self.report(*report);
                replies.push(Box::new(move |err| {
                    let _ = reply.send(once_durable(r, err.as_deref()));
                }));
            }
            Cmd::ReportMany { reports, reply } => {
                let answers: Vec<ReportAnswer> =
                    reports.into_iter().map(|r| self.report(r)).collect();
                replies.push(Box::new(move |err| {
                    let answers = answers
                        .into_iter()
                        .map(|a| once_durable(a, err.as_deref()))
                        .collect();
                    let _ = reply.send(answers);
                }));
            }
            Cmd::Status { sweep, reply } => {
                let r = self
                    .by_id
                    .get(&sweep)
                    .map(|&si| self.status(si))
                    .ok_or(CoordinatorError::UnknownSweep(sweep));
                let _ = reply.send(r);
            }
            Cmd::List { reply } => {
                let _ = reply.send((0..self.sweeps.len()).map(|si| self.status(si)).collect());
            }
            Cmd::Cancel { sweep, reply } => {
                let r = match self.by_id.get(&sweep).copied() {
                    None => Err(CoordinatorError::UnknownSweep(sweep)),
                    Some(si) => Ok(self.cancel(si)),
                };
                replies.push(Box::new(move |_| {
                    let _ = reply.send(r);
                }));
            }
            Cmd::Watch { sweep, opts, reply } => {
                let r = match self.by_id.get(&sweep).copied() {
                    None => Err(CoordinatorError::UnknownSweep(sweep)),
                    Some(si) => Ok(self.watch_start(si, opts)),
                };
                let _ = reply.send(r);
            }
            Cmd::Steps {
                worker,
                steps,
                reply,
            } => {
                // Steps are not state: answered at once, never written.
                let _ = reply.send(self.take_steps(&worker, steps));
            }
            Cmd::Attachment { task, name, reply } => {
                let r = self.attachment(&task, &name);
                let _ = reply.send(r);
            }
            Cmd::Export { sweep, reply } => {
                let r = match self.by_id.get(&sweep).copied() {
                    None => Err(CoordinatorError::UnknownSweep(sweep)),
                    Some(si) => Ok(self.export_job(si)),
                };
                match r {
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Ok(job) => {
                        tokio::spawn(async move {
                            let _ = reply.send(job.await);
                        });
                    }
                }
            }
        }
    }

    fn attachment(&self, task: &str, name: &str) -> Result<AttachmentBytes, CoordinatorError> {
        let (si, ti) = self
            .locate(task)
            .ok_or_else(|| CoordinatorError::UnknownTask(task.into()))?;
        let s = &self.sweeps[si];
        let plan = &s.tasks[ti].plan;
        let ds = &s.datasets[plan.bench as usize];
        intake::attachment_bytes(item_of(ds, plan), name).ok_or_else(|| {
            CoordinatorError::UnknownAttachment {
                task: task.into(),
                name: name.into(),
            }
        })
    }

    fn export_job(
        &self,
        si: usize,
    ) -> impl std::future::Future<Output = Result<PathBuf, CoordinatorError>> + Send + 'static {
        let s = &self.sweeps[si];
        let out = PathBuf::from(&s.record.out_dir);
        let results = s.results.clone();
        let attempts = s.attempts.clone();
        let expected = s.tasks.len() as u64;
        async move {
            let out2 = out.clone();
            tokio::task::spawn_blocking(move || {
                outputs::write_all(&out2, &results, &attempts, expected)
            })
            .await
            .map_err(|e| CoordinatorError::Output {
                path: out.display().to_string(),
                message: e.to_string(),
            })??;
            Ok(out)
        }
    }

    fn status(&self, si: usize) -> SweepStatus {
        let s = &self.sweeps[si];
        let mut st = SweepStatus {
            sweep_id: s.record.sweep_id.clone(),
            name: s.record.name.clone(),
            state: s.record.state.clone(),
            created_unix_ms: s.record.created_unix_ms,
            out_dir: s.record.out_dir.clone(),
            ..Default::default()
        };
        let mut keys: Vec<_> = s.groups.keys().copied().collect();
        keys.sort();
        for k in keys {
            let g = &s.groups[&k];
            let training = k.3 == Phase::Train;
            st.total += g.total;
            st.done += g.done;
            st.running += g.running;
            st.failed += g.failed;
            // The headline accuracy counts scored splits; training phases are shown apart.
            if !training {
                st.scored += g.scored;
                st.correct += g.correct;
            }
            st.cost_usd += g.cost;
            st.groups.push(GroupStatus {
                training,
                benchmark: s.sweep.config.benchmarks[k.0 as usize].display_name(),
                backbone: s.sweep.config.backbones[k.1 as usize].name.clone(),
                arm: s.sweep.config.arms[k.2 as usize].name.clone(),
                total: g.total,
                done: g.done,
                running: g.running,
                failed: g.failed,
                timeout: g.timeout,
                budget: g.budget,
                cancelled: g.cancelled,
                scored: g.scored,
                correct: g.correct,
                cost_usd: g.cost,
            });
        }
        st.queued = st.total.saturating_sub(st.done + st.running);
        let elapsed = s.started.elapsed().as_secs_f64();
        if s.finished_this_run > 0 && st.done < st.total {
            let rate = s.finished_this_run as f64 / elapsed.max(1e-3);
            st.eta_secs = ((st.total - st.done) as f64 / rate).ceil() as u64;
        }
        let open_train: u64 = s.train_open.values().sum();
        if !s.train_open.is_empty() {
            st.phase = if open_train > 0 {
                "train".into()
            } else {
                "test".into()
            };
        }
        st
    }
}

/// The item a planned task runs (from the training split or the evaluation items).
fn item_of<'a>(ds: &'a herd_datasets::Dataset, plan: &PlannedTask) -> &'a herd_datasets::Item {
    let items = if plan.phase == Phase::Train {
        &ds.train_items
    } else {
        &ds.items
    };
    &items[plan.item as usize]
}

/// The ready queue a task belongs to.
fn queue_of<'a>(queues: &'a mut [Queue], p: &PlannedTask) -> Option<&'a mut Queue> {
    queues
        .iter_mut()
        .find(|q| q.backbone == p.backbone && q.arm == p.arm && q.phase == p.phase)
}

/// A progress group: (benchmark, backbone, arm, phase). A train-then-test arm's training
/// phase is its own group, so status lines never mix it into the arm's result.
pub(crate) type GroupKey = (u16, u16, u16, Phase);

pub(crate) fn group_key(plan: &PlannedTask) -> GroupKey {
    (plan.bench, plan.backbone, plan.arm, plan.phase)
}

/// The action-store namespace of (sweep, arm, backbone).
pub fn namespace(sweep_id: &str, arm: &str, backbone: &str) -> String {
    format!("{sweep_id}/{arm}/{backbone}")
}

fn event(kind: &str, key: &str, message: &str, status: Option<SweepStatus>) -> SweepEvent {
    SweepEvent {
        kind: kind.into(),
        task_key: key.into(),
        message: message.into(),
        status,
        ..Default::default()
    }
}

fn build_spec(s: &SweepState, plan: &PlannedTask, attempt: u32) -> TaskSpec {
    let cfg = &s.sweep.config;
    let bench = &cfg.benchmarks[plan.bench as usize];
    let ds = &s.datasets[plan.bench as usize];
    let item = item_of(ds, plan);
    let arm = cfg.arms[plan.arm as usize].clone();
    let backbone = cfg.backbones[plan.backbone as usize].clone();
    let mut limits = cfg.limits.clone();
    limits.max_steps = s.sweep.max_steps(&arm);
    let ns = namespace(&s.record.sweep_id, &arm.name, &backbone.name);
    let actions = match arm.accumulation {
        Accumulation::Off => ActionAccess {
            namespace: ns,
            read: false,
            write: false,
        },
        Accumulation::Online => ActionAccess {
            namespace: ns,
            read: true,
            write: true,
        },
        Accumulation::TrainThenTest => ActionAccess {
            namespace: ns,
            read: true,
            write: plan.phase == Phase::Train,
        },
    };
    let attachments: Vec<AttachmentRef> = intake::attachment_refs(item);
    TaskSpec {
        key: plan.key.clone(),
        sweep_id: s.record.sweep_id.clone(),
        benchmark: bench.display_name(),
        kind: bench.kind,
        split: if plan.phase == Phase::Train {
            "train".into()
        } else {
            item.split.clone()
        },
        item_id: item.id.clone(),
        prompt: herd_datasets::task_prompt(bench.kind, item),
        attachments,
        backbone,
        arm,
        epoch: plan.epoch,
        seed: task_seed(cfg.seed, &plan.key),
        limits,
        sandbox: cfg.sandbox.clone(),
        actions,
        attempt,
    }
}

/// The herd version recorded in results.
pub fn version() -> &'static str {
    HERD_VERSION
}
