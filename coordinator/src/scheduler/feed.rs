//! A sweep's event feed: one broadcast per sweep that numbers its events in the order they
//! are produced (`SweepEvent::seq`), and knows whether any watcher asked for running tasks'
//! steps, so the scheduler builds step events only when someone will read them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use herd_proto::v1::SweepEvent;
use parking_lot::Mutex;
use tokio::sync::broadcast;

/// How far a watcher may fall behind before it skips ahead (a lagging watcher loses the
/// oldest events, never the newest).
const CAPACITY: usize = 1024;

/// The sending side of a sweep's events; cheap to clone (the export task that ends a sweep
/// holds one).
#[derive(Clone)]
pub(crate) struct Feed {
    tx: broadcast::Sender<SweepEvent>,
    /// The last sequence number given. Held while sending, so events enter the channel in
    /// the order of their numbers even when two tasks send at once.
    seq: Arc<Mutex<u64>>,
    /// Watchers that asked for steps, alive now.
    step_watchers: Arc<AtomicUsize>,
}

impl Feed {
    pub(crate) fn new() -> Feed {
        let (tx, _) = broadcast::channel(CAPACITY);
        Feed {
            tx,
            seq: Arc::new(Mutex::new(0)),
            step_watchers: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Numbers the event and sends it to every watcher (none: it is dropped).
    pub(crate) fn send(&self, mut ev: SweepEvent) {
        let mut seq = self.seq.lock();
        *seq += 1;
        ev.seq = *seq;
        let _ = self.tx.send(ev);
    }

    /// Someone watches this sweep now (else an event's payload need not be built).
    pub(crate) fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Some watcher asked for steps.
    pub(crate) fn wants_steps(&self) -> bool {
        self.step_watchers.load(Ordering::Relaxed) > 0
    }

    /// A new watcher; with `steps` it counts as wanting steps until it is dropped.
    pub(crate) fn subscribe(&self, steps: bool) -> Subscription {
        let interest = steps.then(|| {
            self.step_watchers.fetch_add(1, Ordering::Relaxed);
            StepInterest(self.step_watchers.clone())
        });
        Subscription {
            rx: self.tx.subscribe(),
            _steps: interest,
        }
    }
}

/// One watcher's receiving side.
pub(crate) struct Subscription {
    pub(crate) rx: broadcast::Receiver<SweepEvent>,
    _steps: Option<StepInterest>,
}

/// Counts its watcher among those wanting steps while it lives.
struct StepInterest(Arc<AtomicUsize>);

impl Drop for StepInterest {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
