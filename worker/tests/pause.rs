//! A worker that cannot get sandboxes (its engine is down or refuses containers) hands its
//! tasks back without spending their attempts, pauses leasing while it probes the engine, and
//! resumes once the probe succeeds; a healthy worker beside it runs the tasks. Real gRPC on
//! loopback against a real coordinator; the runners are test doubles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use herd_coordinator::store::{EmbeddedStore, StateStore};
use herd_coordinator::{Scheduler, SchedulerSettings, SubmitOptions};
use herd_core::outcome::{EndReason, TaskOutcome};
use herd_core::task::TaskSpec;
use herd_worker::runtime::{TaskContext, TaskRunner, WorkerSettings, run_worker};
use tokio_util::sync::CancellationToken;

/// Answers every task at once.
struct Healthy {
    ran: AtomicU32,
}

#[async_trait::async_trait]
impl TaskRunner for Healthy {
    async fn run(&self, _spec: TaskSpec, _ctx: TaskContext) -> TaskOutcome {
        self.ran.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut o = TaskOutcome::failure("unused", String::new());
        o.end = EndReason::Submitted;
        o.error = None;
        o.answer = Some("888".into());
        o
    }
}

/// Cannot get a sandbox until `heal_after` probes have failed (never, when `u32::MAX`).
struct NoSandbox {
    runs: AtomicU32,
    probes: AtomicU32,
    heal_after: u32,
}

#[async_trait::async_trait]
impl TaskRunner for NoSandbox {
    async fn run(&self, _spec: TaskSpec, _ctx: TaskContext) -> TaskOutcome {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if self.probes.load(Ordering::SeqCst) > self.heal_after {
            let mut o = TaskOutcome::failure("unused", String::new());
            o.end = EndReason::Submitted;
            o.error = None;
            o.answer = Some("1".into());
            return o;
        }
        TaskOutcome::sandbox_unavailable(
            "docker call `create container` failed: refusing to start containers (test engine)"
                .into(),
        )
    }

    async fn probe(&self) -> Result<(), String> {
        let n = self.probes.fetch_add(1, Ordering::SeqCst) + 1;
        if n > self.heal_after {
            Ok(())
        } else {
            Err(format!("probe {n}: refusing to start containers"))
        }
    }
}

const SWEEP: &str = r#"name = "pause"
seed = 1
[[benchmarks]]
kind = "herd-mini"
limit = 4
[[backbones]]
name = "b"
provider = "openai"
model = "m"
base_url = "http://127.0.0.1:1/v1"
[[arms]]
name = "a"
[limits]
max_attempts = 1
"#;

struct Cluster {
    url: String,
    scheduler: Scheduler,
    store: Arc<dyn StateStore>,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> = Arc::new(
        EmbeddedStore::open(&dir.path().join("state.redb"))
            .await
            .unwrap(),
    );
    let scheduler = Scheduler::start(
        store.clone(),
        None,
        SchedulerSettings {
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(1),
            data_dir: dir.path().to_path_buf(),
        },
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let s = scheduler.clone();
    let st = stop.clone();
    tokio::spawn(async move {
        herd_coordinator::serve(listener, s, None, None, None, st.cancelled_owned())
            .await
            .unwrap();
    });
    Cluster {
        url,
        scheduler,
        store,
        stop,
        _dir: dir,
    }
}

fn settings(url: &str, id: &str) -> WorkerSettings {
    WorkerSettings {
        coordinator: url.into(),
        token: None,
        worker_id: id.into(),
        slots: 1,
        grace: Duration::from_secs(5),
        lease_wait: Duration::from_millis(200),
        exit_when_idle: None,
    }
}

async fn submit(c: &Cluster) -> String {
    c.scheduler
        .submit(
            SWEEP.into(),
            "pause.toml".into(),
            ".".into(),
            SubmitOptions::default(),
        )
        .await
        .unwrap()
        .sweep_id
}

async fn wait_done(c: &Cluster, id: &str, limit: Duration) {
    let t = tokio::time::Instant::now();
    loop {
        let st = c.scheduler.status(id).await.unwrap();
        if st.done == st.total {
            return;
        }
        assert!(t.elapsed() < limit, "sweep not done in {limit:?}: {st:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_sandboxes_hands_tasks_back_and_pauses_while_another_runs_them() {
    let c = cluster().await;
    let id = submit(&c).await;
    let broken = Arc::new(NoSandbox {
        runs: AtomicU32::new(0),
        probes: AtomicU32::new(0),
        heal_after: u32::MAX,
    });
    let healthy = Arc::new(Healthy {
        ran: AtomicU32::new(0),
    });
    let stop = CancellationToken::new();
    let kill = CancellationToken::new();
    // The broken worker starts alone, so it leases (and hands back) first.
    let b = tokio::spawn(run_worker(
        settings(&c.url, "broken"),
        broken.clone(),
        stop.clone(),
        kill.clone(),
    ));
    let t = tokio::time::Instant::now();
    while broken.runs.load(Ordering::SeqCst) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the broken worker never leased"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let h = tokio::spawn(run_worker(
        settings(&c.url, "healthy"),
        healthy.clone(),
        stop.clone(),
        kill.clone(),
    ));
    wait_done(&c, &id, Duration::from_secs(30)).await;
    stop.cancel();
    b.await.unwrap().unwrap();
    h.await.unwrap().unwrap();

    let st = c.scheduler.status(&id).await.unwrap();
    assert_eq!(
        (st.done, st.failed),
        (4, 0),
        "no task burned its one attempt: {st:?}"
    );
    assert_eq!(healthy.ran.load(Ordering::SeqCst), 4);
    // Paused after its first failure: at most one more lease slipped through (leased while
    // its first hand-back was in flight), and it probed instead of leasing.
    let runs = broken.runs.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&runs),
        "the broken worker kept leasing: {runs} runs"
    );
    assert!(
        broken.probes.load(Ordering::SeqCst) >= 1,
        "it never probed its engine"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let snap = c.store.load().await.unwrap();
    assert_eq!(snap.results.len(), 4);
    assert!(
        snap.results
            .iter()
            .all(|r| r.worker == "healthy" && r.attempts == 1)
    );
    let by_broken: Vec<_> = snap
        .attempts
        .iter()
        .filter(|a| a.worker == "broken")
        .collect();
    assert!(!by_broken.is_empty());
    for a in &by_broken {
        assert_eq!(a.disposition, "released", "{a:?}");
        assert_eq!(
            a.error_kind.as_deref(),
            Some("sandbox-unavailable"),
            "{a:?}"
        );
        assert!(
            a.error_message
                .as_deref()
                .unwrap_or("")
                .contains("refusing to start containers"),
            "{a:?}"
        );
    }
    c.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_resumes_leasing_once_its_engine_answers() {
    let c = cluster().await;
    let id = submit(&c).await;
    // Fails two probes (about 1 + 2 s with the probe schedule), then heals.
    let w = Arc::new(NoSandbox {
        runs: AtomicU32::new(0),
        probes: AtomicU32::new(0),
        heal_after: 2,
    });
    let stop = CancellationToken::new();
    let kill = CancellationToken::new();
    let h = tokio::spawn(run_worker(
        settings(&c.url, "flaky"),
        w.clone(),
        stop.clone(),
        kill.clone(),
    ));
    wait_done(&c, &id, Duration::from_secs(60)).await;
    stop.cancel();
    h.await.unwrap().unwrap();
    let st = c.scheduler.status(&id).await.unwrap();
    assert_eq!((st.done, st.failed), (4, 0), "{st:?}");
    assert_eq!(
        w.probes.load(Ordering::SeqCst),
        3,
        "two failed probes, one good"
    );
    // One hand-back, then four real runs.
    assert_eq!(w.runs.load(Ordering::SeqCst), 5);
    c.stop.cancel();
}
