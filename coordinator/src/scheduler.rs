//! The scheduler: one task owns every sweep's live state (queues, leases, results) and
//! handles commands sent by the gRPC adapters, nextest-style. Every change is written through
//! the state store in group commits: replies wait for the commit that holds their change,
//! so an acknowledged result is durable and a restart loses nothing.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herd_core::config::{Accumulation, Sweep, SweepConfig};
use herd_core::outcome::{EndReason, TaskOutcome};
use herd_core::result::{AttemptRecord, HERD_VERSION, ResultRecord, Status};
use herd_core::task::{ActionAccess, AttachmentRef, TaskSpec, task_seed};
use herd_proto::v1::{Disposition, GroupStatus, SweepEvent, SweepStatus};
use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tracing::{info, warn};

use crate::error::CoordinatorError;
use crate::expand::{self, ExpandedSweep, Phase, PlannedTask};
use crate::intake;
use crate::outputs;
use crate::store::{LeaseRecord, Mutation, StateStore, SweepRecord, TaskProgress};

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

/// The result of a submit.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub sweep_id: String,
    pub tasks: u64,
    pub resumed: bool,
}

type Reply<T> = oneshot::Sender<T>;

enum Cmd {
    Submit {
        exp: Box<ExpandedSweep>,
        out_dir: Option<PathBuf>,
        resume: bool,
        actions_from: String,
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
        reply: Reply<Result<(SweepStatus, broadcast::Receiver<SweepEvent>), CoordinatorError>>,
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
        out_dir: Option<PathBuf>,
        resume: bool,
        actions_from: String,
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
                out_dir: out_dir,
                resume: resume,
                actions_from: actions_from
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

    pub async fn watch(
        &self,
        sweep: &str,
    ) -> Result<(SweepStatus, broadcast::Receiver<SweepEvent>), CoordinatorError> {
        ask!(
            self,
            Watch {
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
    failed: u64,
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
    /// (bench, backbone, arm) → group.
    groups: HashMap<(u16, u16, u16), Group>,
    results: Vec<ResultRecord>,
    attempts: Vec<AttemptRecord>,
    events: broadcast::Sender<SweepEvent>,
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

fn recover_expansion(rec: &SweepRecord) -> Result<ExpandedSweep, CoordinatorError> {
    let cfg = SweepConfig::from_toml_str(&rec.config_toml, &rec.origin)?;
    let sweep = cfg.validate(&rec.origin, PathBuf::from(&rec.base_dir))?;
    let exp = expand::expand(sweep, rec.config_toml.clone(), rec.origin.clone())?;
    for (name, was) in &rec.fingerprints {
        if let Some((i, _)) = exp
            .sweep
            .config
            .benchmarks
            .iter()
            .enumerate()
            .find(|(_, b)| &b.display_name() == name)
        {
            let now = &exp.datasets[i].fingerprint;
            if now != was {
                return Err(CoordinatorError::DatasetChanged {
                    sweep: rec.sweep_id.clone(),
                    benchmark: name.clone(),
                    was: was.clone(),
                    now: now.clone(),
                });
            }
        }
    }
    Ok(exp)
}

impl State {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut replies: Vec<Box<dyn FnOnce(Option<String>) + Send>> = Vec::new();
        loop {
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { break };
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
                _ = tick.tick() => {
                    self.expire(now_ms());
                    self.check_barriers().await;
                }
            }
            self.commit(&mut replies).await;
        }
        // Last handle gone: flush what is left.
        self.commit(&mut replies).await;
    }

    /// Writes pending mutations; then releases the replies waiting on them.
    async fn commit(&mut self, replies: &mut Vec<Box<dyn FnOnce(Option<String>) + Send>>) {
        for si in std::mem::take(&mut self.dirty) {
            self.pending
                .push(Mutation::PutSweep(self.sweeps[si].record.clone()));
        }
        let error = if self.pending.is_empty() {
            None
        } else {
            let batch = std::mem::take(&mut self.pending);
            match self.store.apply(batch.clone()).await {
                Ok(()) => None,
                Err(e) => {
                    warn!(error = %e, mutations = batch.len(), "state store write failed; will retry with the next commit");
                    // Keep them: nothing acknowledged is lost; they go out with the next commit.
                    let mut rest = std::mem::take(&mut self.pending);
                    self.pending = batch;
                    self.pending.append(&mut rest);
                    Some(e.to_string())
                }
            }
        };
        for r in replies.drain(..) {
            r(error.clone());
        }
    }

    fn locate(&self, key: &str) -> Option<(usize, usize)> {
        self.task_index
            .get(key)
            .map(|&(s, t)| (s as usize, t as usize))
    }

    fn install(
        &mut self,
        exp: ExpandedSweep,
        record: SweepRecord,
        results: Vec<ResultRecord>,
        attempts: Vec<AttemptRecord>,
    ) -> usize {
        let si = self.sweeps.len();
        let mut queues: Vec<Queue> = Vec::new();
        let mut qindex: HashMap<(u16, u16, Phase), usize> = HashMap::new();
        let mut groups: HashMap<(u16, u16, u16), Group> = HashMap::new();
        let mut train_open: HashMap<(u16, u16), u64> = HashMap::new();
        let done: std::collections::HashSet<&str> =
            results.iter().map(|r| r.task_key.as_str()).collect();
        let mut tasks = Vec::with_capacity(exp.tasks.len());
        for (ti, plan) in exp.tasks.into_iter().enumerate() {
            let g = groups
                .entry((plan.bench, plan.backbone, plan.arm))
                .or_default();
            g.total += 1;
            let is_done = done.contains(plan.key.as_str());
            if !is_done {
                let qi = *qindex
                    .entry((plan.backbone, plan.arm, plan.phase))
                    .or_insert_with(|| {
                        queues.push(Queue {
                            backbone: plan.backbone,
                            arm: plan.arm,
                            phase: plan.phase,
                            ready: VecDeque::new(),
                        });
                        queues.len() - 1
                    });
                queues[qi].ready.push_back(ti as u32);
                if plan.phase == Phase::Train {
                    *train_open.entry((plan.backbone, plan.arm)).or_default() += 1;
                }
            }
            self.task_index
                .insert(plan.key.clone(), (si as u32, ti as u32));
            tasks.push(TaskEntry {
                plan,
                state: if is_done {
                    TState::Done
                } else {
                    TState::Queued
                },
                attempts: 0,
                last_error: None,
            });
        }
        for r in &results {
            if let Some(&(_, ti)) = self.task_index.get(&r.task_key) {
                let p = &tasks[ti as usize].plan;
                let g = groups.entry((p.bench, p.backbone, p.arm)).or_default();
                count_result(g, r);
            }
        }
        let (events, _) = broadcast::channel(1024);
        self.by_id.insert(record.sweep_id.clone(), si);
        self.sweeps.push(SweepState {
            record,
            sweep: exp.sweep,
            datasets: exp.datasets,
            tasks,
            queues,
            groups,
            results,
            attempts,
            events,
            started: Instant::now(),
            finished_this_run: 0,
            train_open,
            rr: 0,
        });
        self.work.notify_waiters();
        si
    }

    fn restore_lease(&mut self, l: LeaseRecord, _now: u64) {
        let Some((si, ti)) = self.locate(&l.task_key) else {
            return;
        };
        let s = &mut self.sweeps[si];
        let t = &mut s.tasks[ti];
        if t.state != TState::Queued {
            return;
        }
        // Remove it from its ready queue.
        if let Some(q) = queue_of(&mut s.queues, &t.plan) {
            q.ready.retain(|&x| x as usize != ti);
        }
        t.state = TState::Leased {
            lease_id: l.lease_id.clone(),
            worker: l.worker_id.clone(),
            attempt: l.attempt,
            deadline_ms: l.deadline_unix_ms,
            started_ms: l.started_unix_ms,
        };
        t.attempts = t.attempts.max(l.attempt);
        self.leases
            .insert(l.lease_id.clone(), (si as u32, ti as u32));
        let backbone = s.sweep.config.backbones[t.plan.backbone as usize]
            .name
            .clone();
        if let Some(g) = s
            .groups
            .get_mut(&(t.plan.bench, t.plan.backbone, t.plan.arm))
        {
            g.running += 1;
        }
        *self.running_per_backbone.entry(backbone).or_default() += 1;
    }

    async fn handle(
        &mut self,
        cmd: Cmd,
        replies: &mut Vec<Box<dyn FnOnce(Option<String>) + Send>>,
    ) {
        match cmd {
            Cmd::Submit {
                exp,
                out_dir,
                resume,
                actions_from,
                reply,
            } => {
                let r = self.submit(*exp, out_dir, resume, actions_from).await;
                replies.push(Box::new(move |err| {
                    let _ = reply.send(match (r, err) {
                        (Ok(v), None) => Ok(v),
                        (Ok(_), Some(e)) => Err(CoordinatorError::Output {
                            path: "state store".into(),
                            message: e,
                        }),
                        (Err(e), _) => Err(e),
                    });
                }));
            }
            Cmd::Lease { worker, max, reply } => {
                let grants = self.lease(&worker, max);
                replies.push(Box::new(move |err| {
                    // An uncommitted lease is not handed out; the task expires back to the queue.
                    let _ = reply.send(if err.is_none() { grants } else { Vec::new() });
                }));
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
                    let _ = reply.send(match (r, err) {
                        (Ok(v), None) => Ok(v),
                        (Ok(_), Some(e)) => Err(CoordinatorError::Output {
                            path: "state store".into(),
                            message: e,
                        }),
                        (Err(e), _) => Err(e),
                    });
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
            Cmd::Watch { sweep, reply } => {
                let r = match self.by_id.get(&sweep).copied() {
                    None => Err(CoordinatorError::UnknownSweep(sweep)),
                    Some(si) => Ok((self.status(si), self.sweeps[si].events.subscribe())),
                };
                let _ = reply.send(r);
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

    async fn submit(
        &mut self,
        exp: ExpandedSweep,
        out_dir: Option<PathBuf>,
        resume: bool,
        actions_from: String,
    ) -> Result<Submitted, CoordinatorError> {
        if let Some(&si) = self.by_id.get(&exp.sweep_id) {
            if !resume {
                return Err(CoordinatorError::SweepExists(exp.sweep_id));
            }
            let s = &mut self.sweeps[si];
            for (i, b) in exp.sweep.config.benchmarks.iter().enumerate() {
                let now = &exp.datasets[i].fingerprint;
                if let Some((_, was)) = s
                    .record
                    .fingerprints
                    .iter()
                    .find(|(n, _)| *n == b.display_name())
                    && was != now
                {
                    return Err(CoordinatorError::DatasetChanged {
                        sweep: exp.sweep_id.clone(),
                        benchmark: b.display_name(),
                        was: was.clone(),
                        now: now.clone(),
                    });
                }
            }
            if s.record.state == "cancelled" {
                s.record.state = "running".into();
                self.pending.push(Mutation::PutSweep(s.record.clone()));
            }
            let tasks = s.tasks.len() as u64;
            self.work.notify_waiters();
            return Ok(Submitted {
                sweep_id: exp.sweep_id,
                tasks,
                resumed: true,
            });
        }
        let out_dir =
            out_dir.unwrap_or_else(|| self.settings.data_dir.join("sweeps").join(&exp.sweep_id));
        let record = SweepRecord {
            sweep_id: exp.sweep_id.clone(),
            name: exp.sweep.config.name.clone(),
            config_toml: exp.config_toml.clone(),
            origin: exp.origin.clone(),
            base_dir: exp.sweep.base_dir.display().to_string(),
            out_dir: out_dir.display().to_string(),
            state: "running".into(),
            created_unix_ms: now_ms(),
            fingerprints: exp
                .sweep
                .config
                .benchmarks
                .iter()
                .zip(&exp.datasets)
                .map(|(b, d)| (b.display_name(), d.fingerprint.clone()))
                .collect(),
            frozen: Vec::new(),
            next_seq: 0,
            actions_from: actions_from.clone(),
        };
        if !actions_from.is_empty() {
            let Some(actions) = self.actions.clone() else {
                return Err(CoordinatorError::Actions(
                    "`--actions-from` needs the action store, which this coordinator does not host"
                        .into(),
                ));
            };
            for backbone in &exp.sweep.config.backbones {
                for arm in &exp.sweep.config.arms {
                    if arm.accumulation == Accumulation::Off {
                        continue;
                    }
                    let ns = namespace(&exp.sweep_id, &arm.name, &backbone.name);
                    actions
                        .import(&ns, &actions_from)
                        .await
                        .map_err(CoordinatorError::Actions)?;
                }
            }
        }
        let tasks = exp.tasks.len() as u64;
        let id = exp.sweep_id.clone();
        info!(sweep = %id, tasks, counts = ?expand::counts(&exp.sweep, &exp.tasks), "sweep submitted");
        self.pending.push(Mutation::PutSweep(record.clone()));
        self.install(exp, record, Vec::new(), Vec::new());
        Ok(Submitted {
            sweep_id: id,
            tasks,
            resumed: false,
        })
    }

    fn lease(&mut self, worker: &str, max: u32) -> Vec<Grant> {
        let mut grants = Vec::new();
        let now = now_ms();
        let lease_ms = self.settings.lease.as_millis() as u64;
        for si in 0..self.sweeps.len() {
            if grants.len() as u32 >= max {
                break;
            }
            if self.sweeps[si].record.state != "running" {
                continue;
            }
            let nq = self.sweeps[si].queues.len();
            let mut idle_rounds = 0;
            // Round-robin over the sweep's queues so every arm and backbone progresses.
            while (grants.len() as u32) < max && idle_rounds < nq {
                let s = &mut self.sweeps[si];
                let qi = s.rr % nq.max(1);
                s.rr = s.rr.wrapping_add(1);
                let q = &s.queues[qi];
                let backbone = &s.sweep.config.backbones[q.backbone as usize];
                let cap = backbone.max_concurrency.unwrap_or(u32::MAX);
                let running = self
                    .running_per_backbone
                    .get(&backbone.name)
                    .copied()
                    .unwrap_or(0);
                let blocked = q.phase == Phase::Test
                    && s.sweep.config.arms[q.arm as usize].accumulation
                        == Accumulation::TrainThenTest
                    && !s.record.frozen.contains(&namespace(
                        &s.record.sweep_id,
                        &s.sweep.config.arms[q.arm as usize].name,
                        &backbone.name,
                    ));
                if q.ready.is_empty() || running >= cap || blocked {
                    idle_rounds += 1;
                    continue;
                }
                idle_rounds = 0;
                let backbone_name = backbone.name.clone();
                let ti = s.queues[qi].ready.pop_front().expect("non-empty") as usize;
                self.next_lease += 1;
                let lease_id = format!("{:x}-{:x}", now, self.next_lease);
                let t = &mut s.tasks[ti];
                t.attempts += 1;
                let attempt = t.attempts;
                t.state = TState::Leased {
                    lease_id: lease_id.clone(),
                    worker: worker.to_string(),
                    attempt,
                    deadline_ms: now + lease_ms,
                    started_ms: now,
                };
                let plan = t.plan.clone();
                if let Some(g) = s.groups.get_mut(&(plan.bench, plan.backbone, plan.arm)) {
                    g.running += 1;
                }
                self.leases.insert(lease_id.clone(), (si as u32, ti as u32));
                *self.running_per_backbone.entry(backbone_name).or_default() += 1;
                let spec = build_spec(s, &plan, attempt);
                self.pending.push(Mutation::PutLease(LeaseRecord {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: plan.key.clone(),
                    lease_id: lease_id.clone(),
                    worker_id: worker.to_string(),
                    attempt,
                    deadline_unix_ms: now + lease_ms,
                    started_unix_ms: now,
                }));
                let _ = s.events.send(event(
                    "leased",
                    &plan.key,
                    &format!("attempt {attempt} on {worker}"),
                    None,
                ));
                grants.push(Grant {
                    lease_id,
                    sweep_id: s.record.sweep_id.clone(),
                    spec,
                    deadline_unix_ms: now + lease_ms,
                });
            }
        }
        grants
    }

    fn heartbeat(&mut self, worker: &str, leases: &[String]) -> HeartbeatReply {
        let now = now_ms();
        let deadline = now + self.settings.lease.as_millis() as u64;
        let mut reply = HeartbeatReply {
            deadline_unix_ms: deadline,
            ..Default::default()
        };
        for l in leases {
            let Some(&(si, ti)) = self.leases.get(l) else {
                reply.lost.push(l.clone());
                continue;
            };
            let s = &mut self.sweeps[si as usize];
            let cancelled = s.record.state == "cancelled";
            match &mut s.tasks[ti as usize].state {
                TState::Leased {
                    worker: w,
                    deadline_ms,
                    ..
                } if w == worker => {
                    if cancelled {
                        reply.cancel.push(l.clone());
                    } else {
                        *deadline_ms = deadline;
                    }
                }
                _ => reply.lost.push(l.clone()),
            }
        }
        reply
    }

    /// One running task of this group and backbone is no longer running.
    fn release_running(&mut self, si: usize, plan: &PlannedTask) {
        let s = &mut self.sweeps[si];
        if let Some(g) = s.groups.get_mut(&(plan.bench, plan.backbone, plan.arm)) {
            g.running = g.running.saturating_sub(1);
        }
        let backbone = &s.sweep.config.backbones[plan.backbone as usize].name;
        if let Some(n) = self.running_per_backbone.get_mut(backbone) {
            *n = n.saturating_sub(1);
        }
    }

    /// Forgets the live lease of a task, if it has one.
    fn clear_lease(&mut self, si: usize, ti: usize) {
        if let TState::Leased { lease_id, .. } = &self.sweeps[si].tasks[ti].state {
            self.leases.remove(lease_id);
        }
    }

    fn report(&mut self, r: Report) -> Result<(Disposition, String, PathBuf), CoordinatorError> {
        let key = r.task_key.clone();
        let (d, m) = self.report_inner(r)?;
        let out = self
            .locate(&key)
            .map(|(si, _)| PathBuf::from(&self.sweeps[si].record.out_dir))
            .unwrap_or_default();
        Ok((d, m, out))
    }

    fn report_inner(&mut self, r: Report) -> Result<(Disposition, String), CoordinatorError> {
        let (si, ti) = self
            .locate(&r.task_key)
            .ok_or_else(|| CoordinatorError::UnknownTask(r.task_key.clone()))?;
        let now = now_ms();
        let s = &mut self.sweeps[si];
        let plan = s.tasks[ti].plan.clone();
        // Does this report hold the live lease?
        let (holds, started_ms) = match &s.tasks[ti].state {
            TState::Leased {
                lease_id,
                started_ms,
                ..
            } => (lease_id == &r.lease_id, *started_ms),
            _ => (false, now.saturating_sub(r.outcome.metrics.wall_ms)),
        };
        let already_done = s.tasks[ti].state == TState::Done;
        let mut attempt = AttemptRecord {
            sweep: s.record.sweep_id.clone(),
            task_key: r.task_key.clone(),
            attempt: r.attempt,
            worker: r.worker_id.clone(),
            disposition: String::new(),
            end_reason: r.outcome.end.as_str().to_string(),
            error_kind: r.outcome.error.as_ref().map(|e| e.kind.clone()),
            error_message: r.outcome.error.as_ref().map(|e| e.message.clone()),
            wall_ms: r.outcome.metrics.wall_ms,
            started_at: rfc3339(started_ms),
            finished_at: rfc3339(now),
        };
        if already_done {
            attempt.disposition = "duplicate".into();
            s.attempts.push(attempt.clone());
            self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
            return Ok((
                Disposition::Duplicate,
                "the task already has a result; kept as an attempt".into(),
            ));
        }
        // Release the lease if this report holds it (or the task is leased to this report's
        // lease); a late report from an expired lease still counts when no result exists.
        let was_leased = matches!(s.tasks[ti].state, TState::Leased { .. });
        let transient = matches!(r.outcome.end, EndReason::Cancelled) || r.hand_back;
        let retryable_error = r.outcome.end == EndReason::Error;
        if transient || retryable_error {
            // Only the lease holder can give the task back.
            if !holds {
                let s = &mut self.sweeps[si];
                attempt.disposition = "stale".into();
                s.attempts.push(attempt.clone());
                self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
                return Ok((
                    Disposition::Duplicate,
                    "stale report: the lease is no longer held".into(),
                ));
            }
            self.release_running(si, &plan);
            self.clear_lease(si, ti);
            let s = &mut self.sweeps[si];
            let t = &mut s.tasks[ti];
            if transient {
                // Give back the attempt: a shutdown or cancel is not the task's fault.
                t.attempts = t.attempts.saturating_sub(1);
                t.state = TState::Queued;
                attempt.disposition = "released".into();
                s.attempts.push(attempt.clone());
                self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
                self.pending.push(Mutation::DeleteLease {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: r.task_key.clone(),
                });
                requeue_front(s, ti);
                self.work.notify_waiters();
                return Ok((Disposition::Released, "task handed back".into()));
            }
            let msg = r
                .outcome
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.kind, e.message))
                .unwrap_or_else(|| "error".into());
            t.last_error = Some(msg.clone());
            let max = s.sweep.config.limits.max_attempts;
            if t.attempts < max {
                t.state = TState::Queued;
                attempt.disposition = "requeued".into();
                self.pending.push(Mutation::PutProgress(TaskProgress {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: r.task_key.clone(),
                    attempts: t.attempts,
                    last_error: Some(msg.clone()),
                }));
                s.attempts.push(attempt.clone());
                self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
                self.pending.push(Mutation::DeleteLease {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: r.task_key.clone(),
                });
                requeue_back(s, ti);
                let _ = s.events.send(event("requeued", &r.task_key, &msg, None));
                self.work.notify_waiters();
                return Ok((
                    Disposition::Requeued,
                    format!("attempt failed ({msg}); queued again"),
                ));
            }
            // Out of attempts: record it failed, with its last error.
            let rec = self.finish(si, ti, &r, Status::Failed, now);
            let s = &mut self.sweeps[si];
            attempt.disposition = "recorded".into();
            s.attempts.push(attempt.clone());
            self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
            let _ = s.events.send(event("failed", &r.task_key, &msg, None));
            drop(rec);
            return Ok((
                Disposition::Failed,
                format!("out of attempts; recorded as failed: {msg}"),
            ));
        }
        if was_leased {
            self.release_running(si, &plan);
            self.clear_lease(si, ti);
        }
        let status = match r.outcome.end {
            EndReason::Submitted => Status::Scored,
            EndReason::WallTime => Status::Timeout,
            EndReason::StepLimit
            | EndReason::PromptTokenBudget
            | EndReason::CompletionTokenBudget
            | EndReason::CostBudget => Status::Budget,
            EndReason::Error => Status::Failed,
            EndReason::Cancelled => Status::Cancelled,
        };
        self.finish(si, ti, &r, status, now);
        let s = &mut self.sweeps[si];
        attempt.disposition = if holds {
            "recorded".into()
        } else {
            "recorded-late".into()
        };
        s.attempts.push(attempt.clone());
        self.pending.push(Mutation::PutAttempt(Box::new(attempt)));
        Ok((Disposition::Recorded, "recorded".into()))
    }

    /// Records a task's one result and updates counters, phase barriers and completion.
    fn finish(
        &mut self,
        si: usize,
        ti: usize,
        r: &Report,
        status: Status,
        now: u64,
    ) -> ResultRecord {
        let s = &mut self.sweeps[si];
        let plan = s.tasks[ti].plan.clone();
        let ds = s.datasets[plan.bench as usize].clone();
        let item = item_of(&ds, &plan);
        let seq = s.record.next_seq;
        s.record.next_seq += 1;
        let rec = intake::result_record(intake::IntakeInput {
            sweep: &s.sweep,
            sweep_id: &s.record.sweep_id,
            dataset: &ds,
            item,
            plan: &plan,
            outcome: &r.outcome,
            status,
            worker: &r.worker_id,
            attempts: s.tasks[ti].attempts.max(r.attempt),
            last_error: s.tasks[ti].last_error.clone(),
            seq,
            finished_ms: now,
        });
        s.tasks[ti].state = TState::Done;
        let g = s
            .groups
            .entry((plan.bench, plan.backbone, plan.arm))
            .or_default();
        count_result(g, &rec);
        s.finished_this_run += 1;
        if plan.phase == Phase::Train
            && let Some(n) = s.train_open.get_mut(&(plan.backbone, plan.arm))
        {
            *n = n.saturating_sub(1);
        }
        s.results.push(rec.clone());
        self.pending
            .push(Mutation::PutResult(Box::new(rec.clone())));
        self.pending.push(Mutation::DeleteLease {
            sweep_id: s.record.sweep_id.clone(),
            task_key: plan.key.clone(),
        });
        let msg = match rec.correct {
            Some(true) => "correct".to_string(),
            Some(false) => "wrong".to_string(),
            None => rec.status.clone(),
        };
        let _ = s.events.send(event("finished", &plan.key, &msg, None));
        if s.results.len() == s.tasks.len() && s.record.state == "running" {
            s.record.state = "done".into();
            self.pending.push(Mutation::PutSweep(s.record.clone()));
            info!(sweep = %s.record.sweep_id, "sweep finished");
            let status = self.status(si);
            let job = self.export_job(si);
            let events = self.sweeps[si].events.clone();
            tokio::spawn(async move {
                let msg = match job.await {
                    Ok(p) => format!("outputs written to {}", p.display()),
                    Err(e) => format!("failed to write outputs: {e}"),
                };
                let _ = events.send(event("done", "", &msg, Some(status)));
            });
        } else {
            // The sweep record (its completion counter) is written once per commit.
            self.dirty.insert(si);
        }
        rec
    }

    fn expire(&mut self, now: u64) {
        let mut freed = false;
        let mut expired: Vec<(usize, usize)> = Vec::new();
        for &(si, ti) in self.leases.values() {
            if let TState::Leased { deadline_ms, .. } =
                self.sweeps[si as usize].tasks[ti as usize].state
                && deadline_ms <= now
            {
                expired.push((si as usize, ti as usize));
            }
        }
        expired.sort_unstable();
        {
            for (si, ti) in expired {
                self.clear_lease(si, ti);
                let s = &mut self.sweeps[si];
                let (worker, attempt, started) = match &s.tasks[ti].state {
                    TState::Leased {
                        worker,
                        attempt,
                        started_ms,
                        ..
                    } => (worker.clone(), *attempt, *started_ms),
                    _ => continue,
                };
                let plan = s.tasks[ti].plan.clone();
                let msg = format!("lease expired on worker {worker} (no heartbeat)");
                warn!(task = %plan.key, %worker, attempt, "lease expired; task goes back to the queue");
                let t = &mut s.tasks[ti];
                t.last_error = Some(msg.clone());
                let rec = AttemptRecord {
                    sweep: s.record.sweep_id.clone(),
                    task_key: plan.key.clone(),
                    attempt,
                    worker: worker.clone(),
                    disposition: "expired".into(),
                    end_reason: "lease-expired".into(),
                    error_kind: Some("lease-expired".into()),
                    error_message: Some(msg.clone()),
                    wall_ms: now.saturating_sub(started),
                    started_at: rfc3339(started),
                    finished_at: rfc3339(now),
                };
                s.attempts.push(rec.clone());
                self.pending.push(Mutation::PutAttempt(Box::new(rec)));
                self.pending.push(Mutation::DeleteLease {
                    sweep_id: s.record.sweep_id.clone(),
                    task_key: plan.key.clone(),
                });
                let out_of_attempts = t.attempts >= s.sweep.config.limits.max_attempts;
                self.release_running(si, &plan);
                if out_of_attempts {
                    let r = Report {
                        worker_id: worker.clone(),
                        lease_id: String::new(),
                        task_key: plan.key.clone(),
                        attempt,
                        outcome: TaskOutcome {
                            end: EndReason::Error,
                            answer: None,
                            raw_answer: None,
                            metrics: Default::default(),
                            sandbox: Default::default(),
                            model_identity: String::new(),
                            error: Some(herd_core::outcome::TaskError {
                                kind: "lease-expired".into(),
                                message: msg.clone(),
                            }),
                            trajectory: Default::default(),
                        },
                        hand_back: false,
                    };
                    self.finish(si, ti, &r, Status::Failed, now);
                } else {
                    let s = &mut self.sweeps[si];
                    s.tasks[ti].state = TState::Queued;
                    self.pending.push(Mutation::PutProgress(TaskProgress {
                        sweep_id: s.record.sweep_id.clone(),
                        task_key: plan.key.clone(),
                        attempts: s.tasks[ti].attempts,
                        last_error: Some(msg.clone()),
                    }));
                    requeue_front(s, ti);
                    let _ = s.events.send(event("requeued", &plan.key, &msg, None));
                }
                freed = true;
            }
        }
        if freed {
            self.work.notify_waiters();
        }
    }

    /// Freezes train-then-test namespaces whose training split is finished, opening their tests.
    async fn check_barriers(&mut self) {
        let mut to_freeze = Vec::new();
        for (si, s) in self.sweeps.iter().enumerate() {
            if s.record.state != "running" {
                continue;
            }
            for (&(b, a), &open) in &s.train_open {
                let ns = namespace(
                    &s.record.sweep_id,
                    &s.sweep.config.arms[a as usize].name,
                    &s.sweep.config.backbones[b as usize].name,
                );
                if open == 0 && !s.record.frozen.contains(&ns) {
                    to_freeze.push((si, ns));
                }
            }
        }
        for (si, ns) in to_freeze {
            if let Some(actions) = &self.actions
                && let Err(e) = actions.freeze(&ns).await
            {
                warn!(namespace = %ns, error = %e, "failed to freeze the action library; test split stays blocked");
                continue;
            }
            let s = &mut self.sweeps[si];
            info!(namespace = %ns, "training split finished; library frozen; test split opens");
            s.record.frozen.push(ns.clone());
            self.pending.push(Mutation::PutSweep(s.record.clone()));
            let _ = s
                .events
                .send(event("phase", "", &format!("{ns}: test split opens"), None));
            self.work.notify_waiters();
        }
    }

    fn cancel(&mut self, si: usize) -> u64 {
        let s = &mut self.sweeps[si];
        if s.record.state != "running" {
            return 0;
        }
        s.record.state = "cancelled".into();
        self.pending.push(Mutation::PutSweep(s.record.clone()));
        let leased = s
            .tasks
            .iter()
            .filter(|t| matches!(t.state, TState::Leased { .. }))
            .count() as u64;
        let status = self.status(si);
        let _ = self.sweeps[si].events.send(event(
            "cancelled",
            "",
            &format!("{leased} running tasks told to stop"),
            Some(status),
        ));
        leased
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
            st.total += g.total;
            st.done += g.done;
            st.running += g.running;
            st.failed += g.failed;
            st.scored += g.scored;
            st.correct += g.correct;
            st.cost_usd += g.cost;
            st.groups.push(GroupStatus {
                benchmark: s.sweep.config.benchmarks[k.0 as usize].display_name(),
                backbone: s.sweep.config.backbones[k.1 as usize].name.clone(),
                arm: s.sweep.config.arms[k.2 as usize].name.clone(),
                total: g.total,
                done: g.done,
                running: g.running,
                failed: g.failed,
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

fn count_result(g: &mut Group, r: &ResultRecord) {
    g.done += 1;
    g.cost += r.cost_usd;
    if r.status == Status::Scored.as_str() {
        if r.correct.is_some() {
            g.scored += 1;
        }
        if r.correct == Some(true) {
            g.correct += 1;
        }
    } else {
        g.failed += 1;
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

fn requeue_front(s: &mut SweepState, ti: usize) {
    if let Some(q) = queue_of(&mut s.queues, &s.tasks[ti].plan) {
        q.ready.push_front(ti as u32);
    }
}

fn requeue_back(s: &mut SweepState, ti: usize) {
    if let Some(q) = queue_of(&mut s.queues, &s.tasks[ti].plan) {
        q.ready.push_back(ti as u32);
    }
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
