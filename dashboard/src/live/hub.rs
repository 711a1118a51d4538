//! The hub that follows a coordinator's sweeps: one upstream `WatchSweep` subscription per
//! sweep asked about, reconnecting with the shared backoff policy, ended on shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herd_proto::client::control_client;
use herd_proto::v1::WatchSweepRequest;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Link, LiveSweep, MAX_SWEEPS, PROGRESS_EVERY};

/// Follows sweeps of one coordinator: hands out [`LiveSweep`]s, starting each one's
/// upstream subscription on first use. Owns those tasks; [`LiveHub::shutdown`] ends them.
pub struct LiveHub {
    url: String,
    token: Option<String>,
    sweeps: Mutex<HashMap<String, Arc<LiveSweep>>>,
    tasks: Mutex<JoinSet<()>>,
    cancel: CancellationToken,
}

impl LiveHub {
    pub fn new(url: String, token: Option<String>) -> Self {
        LiveHub {
            url,
            token,
            sweeps: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
            cancel: CancellationToken::new(),
        }
    }

    /// Cancelled when the dashboard shuts down (event streams end on it).
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The sweep `id`, followed from now on if it was not already. Must be called
    /// within a tokio runtime.
    pub fn sweep(&self, id: &str) -> Arc<LiveSweep> {
        let mut sweeps = self.sweeps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = sweeps.get(id) {
            return s.clone();
        }
        if sweeps.len() >= MAX_SWEEPS {
            let ended: Vec<String> = sweeps
                .iter()
                .filter(|(_, s)| s.state().link == Link::Ended)
                .map(|(k, _)| k.clone())
                .collect();
            if let Some(k) = ended.first() {
                sweeps.remove(k);
            }
        }
        let sweep = Arc::new(LiveSweep::new(id.to_string()));
        sweeps.insert(id.to_string(), sweep.clone());
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        // Reap finished followers so the set does not grow.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(follow(
            self.url.clone(),
            self.token.clone(),
            sweep.clone(),
            self.cancel.clone(),
        ));
        sweep
    }

    /// Ends every follower and event stream, and waits for the followers.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        while tasks.join_next().await.is_some() {}
    }
}

/// Follows one sweep until it ends or the hub shuts down, reconnecting with the shared
/// backoff policy when the stream breaks.
async fn follow(
    url: String,
    token: Option<String>,
    sweep: Arc<LiveSweep>,
    cancel: CancellationToken,
) {
    let policy = || {
        herd_core::retry::schedule(
            Duration::from_millis(250),
            Duration::from_secs(10),
            usize::MAX,
        )
        .build()
    };
    use backon::BackoffBuilder as _;
    let mut delays = policy();
    loop {
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            r = follow_once(&url, token.as_deref(), &sweep, &mut delays, &policy) => r,
        };
        match outcome {
            Ok(true) => {
                tracing::debug!(sweep = %sweep.id, "sweep ended; live follower done");
                return;
            }
            Ok(false) => sweep.set_link(Link::Retrying("the coordinator closed the stream".into())),
            Err(e) => {
                tracing::debug!(sweep = %sweep.id, error = %e, "live stream broke; reconnecting");
                sweep.set_link(Link::Retrying(e));
            }
        }
        sweep.flush_progress(true);
        let delay = delays.next().unwrap_or(Duration::from_secs(10));
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// One subscription: Ok(true) when the sweep ended, Ok(false) when the stream closed early.
async fn follow_once<B: Iterator<Item = Duration>>(
    url: &str,
    token: Option<&str>,
    sweep: &LiveSweep,
    delays: &mut B,
    policy: &impl Fn() -> B,
) -> Result<bool, String> {
    let mut client = control_client(url, token, None)?;
    let mut stream = client
        .watch_sweep(WatchSweepRequest {
            sweep_id: sweep.id.clone(),
            with_results: true,
            with_steps: true,
        })
        .await
        .map_err(|s| format!("`{url}` answered {:?}: {}", s.code(), s.message()))?
        .into_inner();
    sweep.set_link(Link::Live);
    *delays = policy();
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tokio::select! {
            msg = stream.message() => match msg {
                Ok(Some(ev)) => if sweep.apply(ev) { return Ok(true) },
                Ok(None) => return Ok(false),
                Err(s) => return Err(format!("stream from `{url}` failed: {:?}: {}", s.code(), s.message())),
            },
            _ = tick.tick() => sweep.flush_progress(false),
        }
    }
}
