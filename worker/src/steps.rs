//! Live steps: the agent loop reports each task's start and every step it completes into a
//! [`StepSink`], and one sender per worker sends them to the coordinator in batches
//! (`ReportSteps`) for live views. Best effort throughout: the loop never waits (when the
//! worker's buffer is full the event is dropped and counted), and a failed call is logged
//! and dropped, never failing a task. The coordinator takes a step only while its lease is
//! held, so the runtime flushes a task's steps before reporting its result. The runtime owns
//! the sender and stops it at shutdown, which sends what is buffered first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herd_core::trajectory::Step;
use herd_proto::client::WorkerClient;
use herd_proto::v1::{StepBatch, StepEvent};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

/// Events buffered between the worker's tasks and its sender.
const BUFFER: usize = 1024;
/// A batch goes out once it holds this many events…
const MAX_BATCH: usize = 64;
/// …or once its first event has waited this long.
const FLUSH_AFTER: Duration = Duration::from_millis(250);
/// A `ReportSteps` call that takes longer is given up (its steps are dropped).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a task's report waits for its steps to go out first.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// What the sender task receives: an event, or a request to send the batch now.
enum Item {
    Event(StepEvent),
    Flush(oneshot::Sender<()>),
}

/// Makes the [`StepSink`] of each task a worker runs. Cheap to clone.
#[derive(Clone)]
pub struct StepReporter {
    tx: mpsc::Sender<Item>,
    dropped: Arc<AtomicU64>,
}

/// The worker's step sender task, for its owner to stop.
pub struct StepSenderTask {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl StepReporter {
    /// Starts the sender task on the current runtime.
    pub fn start(client: WorkerClient, worker_id: String) -> (StepReporter, StepSenderTask) {
        let (tx, rx) = mpsc::channel(BUFFER);
        let dropped = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let task = tokio::spawn(send_loop(
            client,
            worker_id,
            rx,
            stop.clone(),
            dropped.clone(),
        ));
        (StepReporter { tx, dropped }, StepSenderTask { stop, task })
    }

    /// The sink of one attempt, held under `lease_id`.
    pub fn sink(&self, lease_id: &str, task_key: &str, attempt: u32) -> StepSink {
        StepSink {
            tx: self.tx.clone(),
            dropped: self.dropped.clone(),
            lease_id: lease_id.to_string(),
            task_key: task_key.to_string(),
            attempt,
        }
    }
}

impl StepReporter {
    /// Sends the events buffered so far and waits (briefly) until they are sent. Best effort:
    /// it returns after [`FLUSH_WAIT`] at the latest, or at once when the sender has stopped.
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        let _ = tokio::time::timeout(FLUSH_WAIT, async {
            if self.tx.send(Item::Flush(reply)).await.is_ok() {
                let _ = done.await;
            }
        })
        .await;
    }
}

impl StepSenderTask {
    /// Stops taking events, sends the ones buffered, and ends.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Where one attempt's agent loop reports its start and steps. Never blocks.
#[derive(Clone)]
pub struct StepSink {
    tx: mpsc::Sender<Item>,
    dropped: Arc<AtomicU64>,
    lease_id: String,
    task_key: String,
    attempt: u32,
}

impl StepSink {
    /// The task began, with this prompt.
    pub fn start(&self, task_prompt: &str, prompt_tokens: u64, completion_tokens: u64) {
        self.offer("start", prompt_tokens, completion_tokens, |ev| {
            ev.task_prompt = task_prompt.to_string();
        });
    }

    /// A step completed; the tokens are the attempt's so far.
    pub fn step(&self, step: &Step, prompt_tokens: u64, completion_tokens: u64) {
        self.offer("step", prompt_tokens, completion_tokens, |ev| {
            ev.step_json = serde_json::to_vec(step).unwrap_or_default();
        });
    }

    /// Builds the event only when the buffer has room for it.
    fn offer(
        &self,
        kind: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
        fill: impl FnOnce(&mut StepEvent),
    ) {
        let permit = match self.tx.try_reserve() {
            Ok(p) => p,
            Err(mpsc::error::TrySendError::Full(())) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            // The worker is shutting down: nothing is sent any more.
            Err(mpsc::error::TrySendError::Closed(())) => return,
        };
        let mut ev = StepEvent {
            lease_id: self.lease_id.clone(),
            task_key: self.task_key.clone(),
            attempt: self.attempt,
            kind: kind.to_string(),
            prompt_tokens,
            completion_tokens,
            at_unix_ms: now_ms(),
            ..Default::default()
        };
        fill(&mut ev);
        permit.send(Item::Event(ev));
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn send_loop(
    client: WorkerClient,
    worker_id: String,
    mut rx: mpsc::Receiver<Item>,
    stop: CancellationToken,
    dropped: Arc<AtomicU64>,
) {
    let mut batch: Vec<StepEvent> = Vec::with_capacity(MAX_BATCH);
    let mut due = tokio::time::Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            item = rx.recv() => match item {
                Some(Item::Event(ev)) => {
                    if batch.is_empty() {
                        due = tokio::time::Instant::now() + FLUSH_AFTER;
                    }
                    batch.push(ev);
                    if batch.len() >= MAX_BATCH {
                        flush(&client, &worker_id, &mut batch).await;
                    }
                }
                Some(Item::Flush(reply)) => {
                    flush(&client, &worker_id, &mut batch).await;
                    let _ = reply.send(());
                }
                None => break,
            },
            _ = tokio::time::sleep_until(due), if !batch.is_empty() => {
                flush(&client, &worker_id, &mut batch).await;
            }
        }
    }
    // Shutdown: take no more, send what is buffered.
    rx.close();
    let mut waiting = Vec::new();
    while let Some(item) = rx.recv().await {
        match item {
            Item::Event(ev) => {
                batch.push(ev);
                if batch.len() >= MAX_BATCH {
                    flush(&client, &worker_id, &mut batch).await;
                }
            }
            Item::Flush(reply) => waiting.push(reply),
        }
    }
    flush(&client, &worker_id, &mut batch).await;
    for reply in waiting {
        let _ = reply.send(());
    }
    let dropped = dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        info!(
            dropped,
            "live steps dropped because the worker's buffer was full (live views only; results are unaffected)"
        );
    }
}

/// Sends the batch (emptying it); a failure is logged and the steps are dropped.
async fn flush(client: &WorkerClient, worker_id: &str, batch: &mut Vec<StepEvent>) {
    if batch.is_empty() {
        return;
    }
    let steps = std::mem::replace(batch, Vec::with_capacity(MAX_BATCH));
    let n = steps.len();
    let mut client = client.clone();
    let call = client.report_steps(StepBatch {
        worker_id: worker_id.to_string(),
        steps,
    });
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(ack)) => {
            let ack = ack.into_inner();
            if ack.ignored > 0 {
                debug!(
                    accepted = ack.accepted,
                    ignored = ack.ignored,
                    "the coordinator ignored steps of leases this worker no longer holds"
                );
            }
        }
        Ok(Err(s)) => {
            debug!(steps = n, code = ?s.code(), error = %s.message(), "sending live steps failed; dropped")
        }
        Err(_) => {
            debug!(steps = n, timeout = ?CALL_TIMEOUT, "sending live steps timed out; dropped")
        }
    }
}
