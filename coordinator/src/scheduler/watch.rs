//! Watching a sweep, and the steps of its running tasks. A watcher gets a snapshot of the
//! sweep's status, optionally every result recorded so far (in chunks), then the sweep's
//! live events until it ends; steps, which workers report best effort for live views, reach
//! only watchers that asked for them, and only from the worker that holds the task's lease.

use futures::Stream;
use herd_proto::v1::{StepAck, StepEvent};
use tokio::sync::broadcast::error::RecvError;
use tracing::debug;

use super::feed::Subscription;
use super::*;

/// At most this many results share one replay event.
pub const RESULTS_PER_CHUNK: usize = 1000;

/// What a watcher asks for besides the snapshot and the live events.
#[derive(Debug, Clone, Copy, Default)]
pub struct WatchOptions {
    /// Replay every result recorded so far (kind `results`) right after the snapshot.
    pub with_results: bool,
    /// Also receive running tasks' steps (kind `step`).
    pub with_steps: bool,
}

/// A new watcher's start, taken in one scheduler turn: the results replayed are exactly the
/// ones recorded before its subscription, so none is missed or sent twice.
pub(super) struct WatchStart {
    status: SweepStatus,
    results: Vec<ResultRecord>,
    sub: Subscription,
}

impl Scheduler {
    /// Watches a sweep: its snapshot, the replayed results (with `with_results`), then one
    /// event per change, each with the sweep's status at that moment (steps excepted), until
    /// the sweep is done or cancelled. A sweep that already ended gives its snapshot and
    /// replay, then ends. A watcher that falls behind skips the events it missed.
    pub async fn watch(
        &self,
        sweep: &str,
        opts: WatchOptions,
    ) -> Result<impl Stream<Item = SweepEvent> + Send + 'static, CoordinatorError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Watch {
                sweep: sweep.to_string(),
                opts,
                reply,
            })
            .await
            .map_err(|_| CoordinatorError::ShuttingDown)?;
        let start = rx.await.map_err(|_| CoordinatorError::ShuttingDown)??;
        let watcher = Watcher {
            scheduler: self.clone(),
            sweep: sweep.to_string(),
            with_steps: opts.with_steps,
            ends_after_replay: start.status.state != "running",
            snapshot: Some(start.status),
            results: start.results.into_iter(),
            sub: start.sub,
            ended: false,
        };
        Ok(futures::stream::unfold(watcher, |mut w| async move {
            w.next().await.map(|ev| (ev, w))
        }))
    }

    /// Passes a worker's steps to the watchers of their sweeps; steps of leases this worker
    /// does not hold for that task (expired, foreign, unknown) are ignored and counted.
    pub async fn report_steps(
        &self,
        worker: String,
        steps: Vec<StepEvent>,
    ) -> Result<StepAck, CoordinatorError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Steps {
                worker,
                steps,
                reply,
            })
            .await
            .map_err(|_| CoordinatorError::ShuttingDown)?;
        rx.await.map_err(|_| CoordinatorError::ShuttingDown)
    }
}

impl State {
    pub(super) fn watch_start(&self, si: usize, opts: WatchOptions) -> WatchStart {
        let s = &self.sweeps[si];
        WatchStart {
            status: self.status(si),
            results: if opts.with_results {
                s.results.clone()
            } else {
                Vec::new()
            },
            sub: s.events.subscribe(opts.with_steps),
        }
    }

    pub(super) fn take_steps(&mut self, worker: &str, steps: Vec<StepEvent>) -> StepAck {
        let mut ack = StepAck::default();
        for step in steps {
            let Some(si) = self.step_holder(worker, &step) else {
                ack.ignored += 1;
                continue;
            };
            ack.accepted += 1;
            let feed = &self.sweeps[si].events;
            if feed.wants_steps() {
                feed.send(SweepEvent {
                    kind: "step".into(),
                    task_key: step.task_key.clone(),
                    worker_id: worker.to_string(),
                    step: Some(step),
                    ..Default::default()
                });
            }
        }
        if ack.ignored > 0 {
            debug!(
                worker,
                accepted = ack.accepted,
                ignored = ack.ignored,
                "steps of leases this worker does not hold were ignored"
            );
        }
        ack
    }

    /// The sweep of a step whose lease `worker` holds now for the step's task.
    fn step_holder(&self, worker: &str, step: &StepEvent) -> Option<usize> {
        if step.kind != "start" && step.kind != "step" {
            return None;
        }
        let &(si, ti) = self.leases.get(&step.lease_id)?;
        let t = &self.sweeps[si as usize].tasks[ti as usize];
        let held = t.plan.key == step.task_key
            && matches!(&t.state, TState::Leased { lease_id, worker: w, .. }
                if *lease_id == step.lease_id && w == worker);
        held.then_some(si as usize)
    }
}

/// One watcher's position: snapshot, then replay, then live events.
struct Watcher {
    scheduler: Scheduler,
    sweep: String,
    with_steps: bool,
    /// The sweep had ended at the snapshot: nothing live follows the replay.
    ends_after_replay: bool,
    snapshot: Option<SweepStatus>,
    results: std::vec::IntoIter<ResultRecord>,
    sub: Subscription,
    ended: bool,
}

impl Watcher {
    async fn next(&mut self) -> Option<SweepEvent> {
        if let Some(status) = self.snapshot.take() {
            return Some(SweepEvent {
                kind: "snapshot".into(),
                status: Some(status),
                ..Default::default()
            });
        }
        if !self.results.as_slice().is_empty() {
            let results_json = self
                .results
                .by_ref()
                .take(RESULTS_PER_CHUNK)
                .filter_map(|r| serde_json::to_vec(&r).ok())
                .collect();
            return Some(SweepEvent {
                kind: "results".into(),
                results_json,
                ..Default::default()
            });
        }
        if self.ended || self.ends_after_replay {
            return None;
        }
        loop {
            match self.sub.rx.recv().await {
                Ok(ev) if ev.kind == "step" => {
                    if self.with_steps {
                        return Some(ev);
                    }
                }
                Ok(mut ev) => {
                    if ev.status.is_none() {
                        ev.status = self.scheduler.status(&self.sweep).await.ok();
                    }
                    self.ended = ev.kind == "done" || ev.kind == "cancelled";
                    return Some(ev);
                }
                Err(RecvError::Lagged(skipped)) => {
                    debug!(sweep = %self.sweep, skipped, "a watcher fell behind; it skips ahead");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
