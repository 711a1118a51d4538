//! Live sweeps: one upstream `WatchSweep` subscription per sweep (with its results and its
//! running tasks' steps), folded into in-memory state and fanned out to Server-Sent Events
//! clients, each event numbered so a reconnecting client resumes where it left off.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::response::sse::Event;
use futures::Stream;
use herd_core::ResultRecord;
use herd_core::trajectory::Step;
use herd_proto::v1::{SweepEvent, SweepStatus};
use herd_report::Report;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::tasks::{MAX_TEXT_PER_TASK, SearchCaps, TaskSet};

/// Events kept per sweep for clients that reconnect.
const RING: usize = 10_000;
/// Steps kept per running task (the finished trajectory has them all).
const MAX_STEPS: usize = 500;
/// Finished task keys kept for the "just finished" feed.
const RECENT: usize = 50;
/// Progress events are coalesced to at most one per this interval.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// Sweeps followed at once; the oldest ended one is dropped past this.
const MAX_SWEEPS: usize = 64;
/// Derived views (task set, report) of a running sweep are rebuilt at most this often.
const REBUILD_EVERY: Duration = Duration::from_secs(2);

/// One event as sent to browsers: its id, SSE event name, the task it is about (for
/// per-task streams) and its JSON data.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    pub id: u64,
    pub name: &'static str,
    pub task_key: Option<String>,
    pub data: String,
}

impl LiveEvent {
    fn to_sse(&self) -> Event {
        Event::default()
            .id(self.id.to_string())
            .event(self.name)
            .data(&self.data)
    }
}

/// A task some worker is running now, as seen from its step events.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunningTask {
    pub task_key: String,
    pub attempt: u32,
    pub worker: String,
    pub task_prompt: String,
    pub steps: Vec<Step>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub started_unix_ms: u64,
}

/// The connection to the coordinator for one sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", content = "message", rename_all = "kebab-case")]
pub enum Link {
    Connecting,
    Live,
    /// The sweep ended (done or cancelled); the state is final.
    Ended,
    /// The stream broke; reconnecting (why).
    Retrying(String),
}

/// Everything known about one sweep.
pub struct SweepState {
    pub status: Option<SweepStatus>,
    pub records: Vec<ResultRecord>,
    index: HashMap<String, usize>,
    pub running: HashMap<String, RunningTask>,
    /// Most recently finished task keys, newest first.
    pub recent: VecDeque<String>,
    pub link: Link,
    /// Search text of finished tasks whose steps were seen live (question, thoughts,
    /// code, observations), for the live task table's search.
    pub texts: HashMap<String, String>,
    /// Bumped whenever `records` changes (for caches of derived views).
    pub version: u64,
    ring: VecDeque<Arc<LiveEvent>>,
    next_id: u64,
    progress_sent: Option<Instant>,
    progress_pending: bool,
}

impl SweepState {
    fn new() -> Self {
        SweepState {
            status: None,
            records: Vec::new(),
            index: HashMap::new(),
            running: HashMap::new(),
            recent: VecDeque::new(),
            link: Link::Connecting,
            texts: HashMap::new(),
            version: 0,
            ring: VecDeque::new(),
            next_id: 1,
            progress_sent: None,
            progress_pending: false,
        }
    }

    /// The recorded result of task `key`, if it has one.
    pub fn record(&self, key: &str) -> Option<&ResultRecord> {
        self.index.get(key).map(|&i| &self.records[i])
    }

    /// Whether the first answer from the coordinator (or a failure to get one) is in.
    pub fn settled(&self) -> bool {
        self.status.is_some() || self.link != Link::Connecting
    }

    /// The id of the newest event (0 before any).
    pub fn last_event_id(&self) -> u64 {
        self.next_id - 1
    }

    fn upsert(&mut self, record: ResultRecord) {
        if let Some(t) = self.running.remove(&record.task_key) {
            let trajectory = herd_core::trajectory::Trajectory {
                task_prompt: t.task_prompt,
                steps: t.steps,
                ..Default::default()
            };
            let text = crate::tasks::trajectory_text(&trajectory, MAX_TEXT_PER_TASK);
            self.texts.insert(record.task_key.clone(), text);
        }
        match self.index.get(&record.task_key) {
            Some(&i) => self.records[i] = record,
            None => {
                self.index
                    .insert(record.task_key.clone(), self.records.len());
                self.records.push(record);
            }
        }
        self.version += 1;
    }

    fn push(
        &mut self,
        name: &'static str,
        task_key: Option<String>,
        data: String,
    ) -> Arc<LiveEvent> {
        let ev = Arc::new(LiveEvent {
            id: self.next_id,
            name,
            task_key,
            data,
        });
        self.next_id += 1;
        if self.ring.len() == RING {
            self.ring.pop_front();
        }
        self.ring.push_back(ev.clone());
        ev
    }

    /// The progress event for the current status (not recorded in the ring).
    fn progress_event(&self) -> LiveEvent {
        LiveEvent {
            id: self.last_event_id(),
            name: "progress",
            task_key: None,
            data: progress_json(self.status.as_ref(), &self.link, self.running.len()),
        }
    }
}

fn progress_json(status: Option<&SweepStatus>, link: &Link, running_seen: usize) -> String {
    #[derive(Serialize)]
    struct Progress<'a> {
        state: &'a str,
        phase: &'a str,
        total: u64,
        done: u64,
        running: u64,
        queued: u64,
        failed: u64,
        scored: u64,
        correct: u64,
        cost_usd: f64,
        eta_secs: u64,
        running_seen: usize,
        link: &'a Link,
    }
    let d = SweepStatus::default();
    let s = status.unwrap_or(&d);
    serde_json::to_string(&Progress {
        state: if status.is_some() {
            &s.state
        } else {
            "unknown"
        },
        phase: &s.phase,
        total: s.total,
        done: s.done,
        running: s.running,
        queued: s.queued,
        failed: s.failed,
        scored: s.scored,
        correct: s.correct,
        cost_usd: s.cost_usd,
        eta_secs: s.eta_secs,
        running_seen,
        link,
    })
    .unwrap_or_default()
}

/// What a `task` event says about a finished task.
#[derive(Serialize)]
struct TaskDone<'a> {
    task_key: &'a str,
    status: &'a str,
    correct: Option<bool>,
    cost_usd: f64,
    benchmark: &'a str,
    backbone: &'a str,
    arm: &'a str,
    item_id: &'a str,
    steps: u32,
    end_reason: &'a str,
}

/// Views derived from a sweep's results (the task table's set and the report), rebuilt
/// when results changed, at most every [`REBUILD_EVERY`].
pub struct Derived {
    pub version: u64,
    built: Instant,
    pub tasks: Arc<TaskSet>,
    /// The report, or why there is none (no results yet, or it failed).
    pub report: Result<Arc<Report>, String>,
}

/// One sweep followed live: its state and the channel its events fan out on.
pub struct LiveSweep {
    pub id: String,
    state: Mutex<SweepState>,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    derived: Mutex<Option<Arc<Derived>>>,
}

impl LiveSweep {
    fn new(id: String) -> Self {
        let (tx, _) = broadcast::channel(1024);
        LiveSweep {
            id,
            state: Mutex::new(SweepState::new()),
            tx,
            derived: Mutex::new(None),
        }
    }

    /// A sweep fed only by [`LiveSweep::apply`], with no coordinator behind it (for
    /// benchmarks and tests that drive the SSE fan-out directly).
    pub fn detached(id: impl Into<String>) -> Self {
        LiveSweep::new(id.into())
    }

    /// The task set and report over the results so far; blocking (call it on the
    /// blocking pool). Finished tasks whose steps were not seen live get their search text
    /// from the sweep's trajectory files when this process can read them.
    pub fn derived(&self) -> Arc<Derived> {
        let mut slot = self.derived.lock().unwrap_or_else(|p| p.into_inner());
        let (version, ended) = {
            let st = self.state();
            (st.version, st.link == Link::Ended)
        };
        if let Some(d) = slot.as_ref()
            && (d.version == version || (!ended && d.built.elapsed() < REBUILD_EVERY))
        {
            return d.clone();
        }
        let (records, mut texts, out_dir, expected) = {
            let st = self.state();
            let out_dir = st
                .status
                .as_ref()
                .map(|s| PathBuf::from(&s.out_dir))
                .filter(|p| !p.as_os_str().is_empty());
            let texts: Vec<Option<String>> = st
                .records
                .iter()
                .map(|r| st.texts.get(&r.task_key).cloned())
                .collect();
            (
                st.records.clone(),
                texts,
                out_dir,
                st.status.as_ref().map(|s| s.total),
            )
        };
        let caps = SearchCaps::for_tasks(records.len());
        if let Some(dir) = &out_dir {
            let mut read = Vec::new();
            for (r, text) in records.iter().zip(texts.iter_mut()) {
                if text.is_some() {
                    continue;
                }
                let Ok(path) = herd_report::store::trajectory_path(dir, &r.task_key) else {
                    continue;
                };
                let Ok(file) = std::fs::File::open(&path) else {
                    continue;
                };
                let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
                if let Ok(t) = crate::tasks::trajectory_text_from_reader(gz, caps.per_task) {
                    read.push((r.task_key.clone(), t.clone()));
                    *text = Some(t);
                }
            }
            let mut st = self.state();
            st.texts.extend(read);
        }
        let tasks = Arc::new(TaskSet::from_records(&records, &texts));
        let report = if records.is_empty() {
            Err("no results yet".to_string())
        } else {
            herd_report::results_frame(&records)
                .and_then(|frame| {
                    let opts = herd_report::ReportOptions {
                        expected_tasks: expected,
                        ..Default::default()
                    };
                    herd_report::report_from_frames(frame, None, &opts)
                })
                .map(Arc::new)
                .map_err(|e| e.to_string())
        };
        let d = Arc::new(Derived {
            version,
            built: Instant::now(),
            tasks,
            report,
        });
        *slot = Some(d.clone());
        d
    }

    /// The sweep's state, locked (hold it briefly: the upstream task waits on it).
    pub fn state(&self) -> MutexGuard<'_, SweepState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, ev: Arc<LiveEvent>) {
        let _ = self.tx.send(ev);
    }

    fn set_link(&self, link: Link) {
        let mut st = self.state();
        if st.link != link {
            st.link = link;
            st.progress_pending = true;
        }
    }

    /// Sends the coalesced progress event if one is due (or `force`).
    fn flush_progress(&self, force: bool) {
        let ev = {
            let mut st = self.state();
            let due = st
                .progress_sent
                .is_none_or(|t| t.elapsed() >= PROGRESS_EVERY);
            if !st.progress_pending || !(due || force) {
                return;
            }
            st.progress_pending = false;
            st.progress_sent = Some(Instant::now());
            let data = progress_json(st.status.as_ref(), &st.link, st.running.len());
            st.push("progress", None, data)
        };
        self.send(ev);
    }

    /// Folds one coordinator event into the state and fans out what browsers need.
    /// Returns true when the sweep has ended.
    pub fn apply(&self, ev: SweepEvent) -> bool {
        let mut out = Vec::new();
        let ended;
        {
            let mut st = self.state();
            if let Some(status) = ev.status {
                st.status = Some(status);
                st.progress_pending = true;
            }
            match ev.kind.as_str() {
                "results" => {
                    for rec in ev.results_json.iter().filter_map(|j| decode_record(j)) {
                        st.upsert(rec);
                    }
                    st.progress_pending = true;
                }
                "finished" | "failed" => {
                    for rec in ev.results_json.iter().filter_map(|j| decode_record(j)) {
                        let data = serde_json::to_string(&TaskDone {
                            task_key: &rec.task_key,
                            status: &rec.status,
                            correct: rec.correct,
                            cost_usd: rec.cost_usd,
                            benchmark: &rec.benchmark,
                            backbone: &rec.backbone,
                            arm: &rec.arm,
                            item_id: &rec.item_id,
                            steps: rec.steps,
                            end_reason: &rec.end_reason,
                        })
                        .unwrap_or_default();
                        let key = rec.task_key.clone();
                        st.upsert(rec);
                        st.recent.push_front(key.clone());
                        st.recent.truncate(RECENT);
                        out.push(st.push("task", Some(key), data));
                    }
                }
                "requeued" => {
                    st.running.remove(&ev.task_key);
                }
                "step" => {
                    if let Some(step) = ev.step
                        && let Some(e) = apply_step(&mut st, step, ev.worker_id)
                    {
                        out.push(e);
                    }
                }
                _ => {}
            }
            ended = matches!(ev.kind.as_str(), "done" | "cancelled")
                || (ev.kind == "snapshot"
                    && st.status.as_ref().is_some_and(|s| s.state != "running"));
            if ended {
                st.link = Link::Ended;
                st.running.clear();
                st.progress_pending = true;
            }
        }
        for e in out {
            self.send(e);
        }
        if ended {
            self.flush_progress(true);
            let end = {
                let mut st = self.state();
                let state = st
                    .status
                    .as_ref()
                    .map(|s| s.state.clone())
                    .unwrap_or_default();
                st.push(
                    "end",
                    None,
                    serde_json::json!({ "state": state }).to_string(),
                )
            };
            self.send(end);
        } else {
            self.flush_progress(false);
        }
        ended
    }

    /// A stream of SSE events for one client: a progress snapshot (or, when `resume` is an
    /// id still held, every event after it), then live events, optionally only those
    /// about `task`. Ends on `cancel`.
    pub fn subscribe(
        self: &Arc<Self>,
        resume: Option<u64>,
        task: Option<String>,
        cancel: CancellationToken,
    ) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
        let rx = self.tx.subscribe();
        let (backlog, last) = {
            let st = self.state();
            let wanted = |e: &LiveEvent| wanted(e, task.as_deref());
            let held = |after: u64| st.ring.front().is_none_or(|f| f.id <= after + 1);
            let backlog: Vec<LiveEvent> = match resume {
                Some(after) if after <= st.last_event_id() && held(after) => st
                    .ring
                    .iter()
                    .filter(|e| e.id > after && wanted(e))
                    .map(|e| (**e).clone())
                    .collect(),
                _ => vec![st.progress_event()],
            };
            (backlog, st.last_event_id())
        };
        let me = self.clone();
        let state = Follow {
            backlog: backlog.into(),
            rx,
            last,
            task,
            sweep: me,
        };
        let stream = futures::stream::unfold(state, |mut f| async move {
            if let Some(e) = f.backlog.pop_front() {
                return Some((Ok(e.to_sse()), f));
            }
            loop {
                match f.rx.recv().await {
                    Ok(e) if e.id <= f.last => continue,
                    Ok(e) => {
                        f.last = e.id;
                        if wanted(&e, f.task.as_deref()) {
                            return Some((Ok(e.to_sse()), f));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(sweep = %f.sweep.id, skipped = n, "slow dashboard client skipped events");
                        let snap = f.sweep.state().progress_event();
                        f.last = snap.id;
                        return Some((Ok(snap.to_sse()), f));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        use futures::StreamExt as _;
        stream.take_until(cancel.cancelled_owned())
    }
}

struct Follow {
    backlog: VecDeque<LiveEvent>,
    rx: broadcast::Receiver<Arc<LiveEvent>>,
    last: u64,
    task: Option<String>,
    sweep: Arc<LiveSweep>,
}

/// Whether a per-task stream (or the sweep-wide one, `task = None`, which carries all)
/// carries `e`.
fn wanted(e: &LiveEvent, task: Option<&str>) -> bool {
    match task {
        None => true,
        Some(t) => e.task_key.as_deref() == Some(t) || e.name == "end",
    }
}

fn decode_record(json: &[u8]) -> Option<ResultRecord> {
    serde_json::from_slice(json)
        .map_err(
            |e| tracing::warn!(error = %e, "coordinator sent a result the dashboard cannot read"),
        )
        .ok()
}

fn apply_step(
    st: &mut SweepState,
    step: herd_proto::v1::StepEvent,
    worker: String,
) -> Option<Arc<LiveEvent>> {
    let key = step.task_key.clone();
    match step.kind.as_str() {
        "start" => {
            let task = RunningTask {
                task_key: key.clone(),
                attempt: step.attempt,
                worker,
                task_prompt: step.task_prompt,
                steps: Vec::new(),
                prompt_tokens: step.prompt_tokens,
                completion_tokens: step.completion_tokens,
                started_unix_ms: step.at_unix_ms,
            };
            let data = serde_json::json!({
                "task_key": key, "attempt": task.attempt, "worker": task.worker,
                "task_prompt": task.task_prompt,
            })
            .to_string();
            st.running.insert(key.clone(), task);
            st.progress_pending = true;
            Some(st.push("start", Some(key), data))
        }
        "step" => {
            let parsed: Step = serde_json::from_slice(&step.step_json)
                .map_err(|e| tracing::warn!(task = %key, error = %e, "unreadable step event"))
                .ok()?;
            let data = serde_json::json!({
                "task_key": key, "attempt": step.attempt,
                "prompt_tokens": step.prompt_tokens, "completion_tokens": step.completion_tokens,
                "step": parsed,
            })
            .to_string();
            let task = st
                .running
                .entry(key.clone())
                .or_insert_with(|| RunningTask {
                    task_key: key.clone(),
                    attempt: step.attempt,
                    worker,
                    started_unix_ms: step.at_unix_ms,
                    ..Default::default()
                });
            if task.attempt != step.attempt {
                // A new attempt of the task: its earlier steps are another trajectory.
                task.attempt = step.attempt;
                task.steps.clear();
            }
            if task.steps.len() < MAX_STEPS {
                task.steps.push(parsed);
            }
            task.prompt_tokens = step.prompt_tokens;
            task.completion_tokens = step.completion_tokens;
            Some(st.push("step", Some(key), data))
        }
        _ => None,
    }
}

mod hub;
#[cfg(test)]
mod tests;

pub use hub::LiveHub;
