//! Scheduler tests on a real embedded store: leases, expiry, duplicate and late reports,
//! attempts, hand-back, per-backbone caps, cancellation, the train-then-test barrier and
//! recovery after a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use herd_core::outcome::{EndReason, TaskError, TaskOutcome};
use herd_proto::v1::Disposition;
use parking_lot::Mutex;

use crate::scheduler::{ActionHooks, Report, Scheduler, SchedulerSettings, SubmitOptions};
use crate::store::{EmbeddedStore, StateStore};

pub(crate) fn sweep_toml(extra_backbone: &str, arms: &str, bench_extra: &str) -> String {
    let bench_extra = if bench_extra.starts_with("limit") {
        bench_extra.to_string()
    } else {
        format!("limit = 3\n{bench_extra}")
    };
    format!(
        r#"name = "t"
seed = 5
[[benchmarks]]
kind = "herd-mini"
{bench_extra}
[[backbones]]
name = "b"
provider = "openai"
model = "m"
base_url = "http://127.0.0.1:1/v1"
{extra_backbone}
{arms}
[limits]
max_attempts = 2
"#
    )
}

pub(crate) const ONE_ARM: &str = "[[arms]]\nname = \"a\"";

pub(crate) async fn start(
    dir: &std::path::Path,
    lease_ms: u64,
    hooks: Option<Arc<dyn ActionHooks>>,
) -> (Scheduler, Arc<dyn StateStore>) {
    let store: Arc<dyn StateStore> =
        Arc::new(EmbeddedStore::open(&dir.join("state.redb")).await.unwrap());
    let s = Scheduler::start(
        store.clone(),
        hooks,
        SchedulerSettings {
            lease: Duration::from_millis(lease_ms),
            heartbeat: Duration::from_millis(lease_ms / 3),
            data_dir: dir.to_path_buf(),
        },
    )
    .await
    .unwrap();
    (s, store)
}

pub(crate) async fn submit(s: &Scheduler, dir: &std::path::Path, toml: String) -> String {
    s.submit(
        toml,
        "t.toml".into(),
        PathBuf::from("."),
        SubmitOptions {
            out_dir: Some(dir.join("out")),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .sweep_id
}

pub(crate) fn outcome(end: EndReason, answer: Option<&str>) -> TaskOutcome {
    TaskOutcome {
        end,
        answer: answer.map(str::to_string),
        raw_answer: answer.map(str::to_string),
        metrics: Default::default(),
        sandbox: Default::default(),
        model_identity: "m".into(),
        error: (end == EndReason::Error).then(|| TaskError {
            kind: "llm-unavailable".into(),
            message: "server down".into(),
        }),
        trajectory: Default::default(),
    }
}

pub(crate) fn report(worker: &str, lease: &str, key: &str, attempt: u32, o: TaskOutcome) -> Report {
    Report {
        worker_id: worker.into(),
        lease_id: lease.into(),
        task_key: key.into(),
        attempt,
        outcome: o,
        hand_back: false,
    }
}

#[tokio::test]
async fn results_are_recorded_once_and_duplicates_are_kept_as_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
    let grants = s.lease("w1", 10, Duration::ZERO).await.unwrap();
    assert_eq!(grants.len(), 3);
    // Gold answers never leave the coordinator.
    for g in &grants {
        let json = serde_json::to_string(&g.spec).unwrap();
        assert!(!json.contains("\"gold"), "{json}");
    }
    let g = &grants[0];
    let (d, _, _) = s
        .report(report(
            "w1",
            &g.lease_id,
            &g.spec.key,
            1,
            outcome(EndReason::Submitted, Some("x")),
        ))
        .await
        .unwrap();
    assert_eq!(d, Disposition::Recorded);
    let (d, msg, _) = s
        .report(report(
            "w1",
            &g.lease_id,
            &g.spec.key,
            1,
            outcome(EndReason::Submitted, Some("y")),
        ))
        .await
        .unwrap();
    assert_eq!(d, Disposition::Duplicate, "{msg}");
    let st = s.status(&id).await.unwrap();
    assert_eq!((st.done, st.running, st.total), (1, 2, 3));
    assert_eq!(st.scored, 1, "a wrong answer is scored, not failed");
}

#[tokio::test]
async fn a_batch_of_reports_answers_each_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store) = start(dir.path(), 10_000, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
    let g = s.lease("w1", 10, Duration::ZERO).await.unwrap();
    assert_eq!(g.len(), 3);
    let ok = |i: usize, answer: &str| {
        report(
            "w1",
            &g[i].lease_id,
            &g[i].spec.key,
            1,
            outcome(EndReason::Submitted, Some(answer)),
        )
    };
    let answers = s
        .report_many(vec![
            ok(0, "first"),
            report(
                "w1",
                "no-lease",
                "no/such/task",
                1,
                outcome(EndReason::Submitted, Some("x")),
            ),
            ok(0, "same task again in the same batch"),
            ok(1, "second"),
        ])
        .await
        .unwrap();
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0].as_ref().unwrap().0, Disposition::Recorded);
    let err = answers[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("no/such/task"), "{err}");
    assert_eq!(answers[2].as_ref().unwrap().0, Disposition::Duplicate);
    assert_eq!(answers[3].as_ref().unwrap().0, Disposition::Recorded);
    let st = s.status(&id).await.unwrap();
    assert_eq!((st.done, st.running, st.total), (2, 1, 3));
    // Answered means durable: both results and the duplicate attempt are in the store.
    let snap = store.load().await.unwrap();
    assert_eq!(snap.results.len(), 2);
    assert!(snap.attempts.iter().any(|a| a.disposition == "duplicate"));
    assert!(
        snap.results
            .iter()
            .any(|r| r.answer.as_deref() == Some("first"))
    );
}

#[tokio::test]
async fn an_expired_lease_puts_the_task_back_and_a_late_report_still_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 300, None).await;
    let _id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "limit = 1")).await;
    let first = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    assert!(
        s.lease("w2", 1, Duration::ZERO).await.unwrap().is_empty(),
        "leased tasks are not handed out twice"
    );
    // No heartbeat: the lease expires and the task is leased again (a new attempt).
    let second = s
        .lease("w2", 1, Duration::from_secs(3))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.spec.key, first.spec.key);
    assert_eq!(second.spec.attempt, 2);
    // w1's heartbeat now learns the lease is lost.
    let hb = s
        .heartbeat("w1", vec![first.lease_id.clone()])
        .await
        .unwrap();
    assert_eq!(hb.lost, vec![first.lease_id.clone()]);
    // w1's late report arrives first: it is the result (work done is not thrown away).
    let (d, _, _) = s
        .report(report(
            "w1",
            &first.lease_id,
            &first.spec.key,
            1,
            outcome(EndReason::Submitted, Some("a")),
        ))
        .await
        .unwrap();
    assert_eq!(d, Disposition::Recorded);
    let (d, _, _) = s
        .report(report(
            "w2",
            &second.lease_id,
            &second.spec.key,
            2,
            outcome(EndReason::Submitted, Some("b")),
        ))
        .await
        .unwrap();
    assert_eq!(d, Disposition::Duplicate);
}

#[tokio::test]
async fn a_task_recorded_by_a_late_report_while_queued_is_never_leased_again() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 300, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "limit = 2")).await;
    let first = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    // No heartbeat: the lease expires and the task goes back to its queue, unleased (as after
    // a coordinator restart that outlived the lease).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (d, _, _) = s
        .report(report(
            "w1",
            &first.lease_id,
            &first.spec.key,
            1,
            outcome(EndReason::Submitted, Some("a")),
        ))
        .await
        .unwrap();
    assert_eq!(d, Disposition::Recorded, "the late report is the result");
    // The recorded task is still in the queue; it must not be handed out again.
    let grants = s.lease("w2", 10, Duration::ZERO).await.unwrap();
    let keys: Vec<&str> = grants.iter().map(|g| g.spec.key.as_str()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_ne!(keys[0], first.spec.key, "a recorded task was leased again");
    let st = s.status(&id).await.unwrap();
    assert_eq!((st.done, st.total, st.state.as_str()), (1, 2, "running"));
    let g = &grants[0];
    s.report(report(
        "w2",
        &g.lease_id,
        &g.spec.key,
        1,
        outcome(EndReason::Submitted, Some("b")),
    ))
    .await
    .unwrap();
    let st = s.status(&id).await.unwrap();
    assert_eq!((st.done, st.total, st.state.as_str()), (2, 2, "done"));
}

#[tokio::test]
async fn heartbeats_keep_a_lease_alive() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 400, None).await;
    submit(&s, dir.path(), sweep_toml("", ONE_ARM, "limit = 1")).await;
    let g = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let hb = s.heartbeat("w1", vec![g.lease_id.clone()]).await.unwrap();
        assert!(hb.lost.is_empty() && hb.cancel.is_empty());
    }
    assert!(
        s.lease("w2", 1, Duration::ZERO).await.unwrap().is_empty(),
        "a heartbeating lease is not re-leased"
    );
    // Another worker cannot extend it.
    let hb = s.heartbeat("w2", vec![g.lease_id.clone()]).await.unwrap();
    assert_eq!(hb.lost.len(), 1);
}

#[tokio::test]
async fn errors_are_retried_then_recorded_failed_with_the_last_error() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "limit = 1")).await;
    let g = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    let (d, _, _) = s
        .report(report(
            "w1",
            &g.lease_id,
            &g.spec.key,
            1,
            outcome(EndReason::Error, None),
        ))
        .await
        .unwrap();
    assert_eq!(d, Disposition::Requeued);
    let g = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(g.spec.attempt, 2);
    let (d, msg, _) = s
        .report(report(
            "w1",
            &g.lease_id,
            &g.spec.key,
            2,
            outcome(EndReason::Error, None),
        ))
        .await
        .unwrap();
    assert_eq!(d, Disposition::Failed, "{msg}");
    assert!(msg.contains("server down"));
    let st = s.status(&id).await.unwrap();
    assert_eq!(
        (st.done, st.failed, st.scored),
        (1, 1, 0),
        "a failed task is not a wrong answer"
    );
}

#[tokio::test]
async fn a_handed_back_task_is_requeued_without_spending_an_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    submit(&s, dir.path(), sweep_toml("", ONE_ARM, "limit = 1")).await;
    let g = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    let mut r = report(
        "w1",
        &g.lease_id,
        &g.spec.key,
        1,
        outcome(EndReason::Cancelled, None),
    );
    r.hand_back = true;
    let (d, _, _) = s.report(r).await.unwrap();
    assert_eq!(d, Disposition::Released);
    let g2 = s.lease("w2", 1, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(g2.spec.key, g.spec.key);
    assert_eq!(g2.spec.attempt, 1);
}

#[tokio::test]
async fn the_per_backbone_concurrency_cap_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    submit(
        &s,
        dir.path(),
        sweep_toml(
            "max_concurrency = 2",
            "[[arms]]\nname = \"a\"\n[[arms]]\nname = \"c\"",
            "",
        ),
    )
    .await;
    let a = s.lease("w1", 5, Duration::ZERO).await.unwrap();
    let b = s.lease("w2", 5, Duration::ZERO).await.unwrap();
    assert_eq!(a.len() + b.len(), 2);
    let g = &a[0];
    s.report(report(
        "w1",
        &g.lease_id,
        &g.spec.key,
        1,
        outcome(EndReason::Submitted, Some("1")),
    ))
    .await
    .unwrap();
    assert_eq!(
        s.lease("w2", 5, Duration::ZERO).await.unwrap().len(),
        1,
        "a finished task frees one place"
    );
}

#[tokio::test]
async fn cancel_stops_leasing_and_tells_workers() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
    let g = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(s.cancel(&id).await.unwrap(), 1);
    assert!(s.lease("w1", 5, Duration::ZERO).await.unwrap().is_empty());
    let hb = s.heartbeat("w1", vec![g.lease_id.clone()]).await.unwrap();
    assert_eq!(hb.cancel, vec![g.lease_id.clone()]);
    assert_eq!(s.status(&id).await.unwrap().state, "cancelled");
}

#[derive(Default)]
struct Frozen(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl ActionHooks for Frozen {
    async fn freeze(&self, ns: &str) -> Result<(), String> {
        self.0.lock().push(ns.to_string());
        Ok(())
    }
    async fn import(&self, _: &str, _: &str) -> Result<u64, String> {
        Ok(0)
    }
}

#[tokio::test]
async fn train_then_test_runs_the_training_split_first_then_freezes() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(Frozen::default());
    let (s, _) = start(dir.path(), 10_000, Some(hooks.clone())).await;
    let arms = "[[arms]]\nname = \"ttt\"\naccumulation = \"train-then-test\"";
    let id = submit(
        &s,
        dir.path(),
        sweep_toml("", arms, "limit = 2\n[benchmarks.train]\nlimit = 2"),
    )
    .await;
    let st = s.status(&id).await.unwrap();
    assert_eq!(st.total, 4);
    assert_eq!(st.phase, "train");
    let train = s.lease("w", 10, Duration::ZERO).await.unwrap();
    assert_eq!(
        train.len(),
        2,
        "only the training split is leasable before the barrier"
    );
    for g in &train {
        assert_eq!(g.spec.split, "train");
        assert!(g.spec.actions.write && g.spec.actions.read);
    }
    for g in &train {
        s.report(report(
            "w",
            &g.lease_id,
            &g.spec.key,
            1,
            outcome(EndReason::Submitted, Some("1")),
        ))
        .await
        .unwrap();
    }
    let test = s.lease("w", 10, Duration::from_secs(3)).await.unwrap();
    assert_eq!(test.len(), 2);
    for g in &test {
        assert_ne!(g.spec.split, "train");
        assert!(!g.spec.actions.write, "the test split never writes");
        assert!(g.spec.actions.read);
    }
    assert_eq!(hooks.0.lock().clone(), vec![format!("{id}/ttt/b")]);
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (id, key) = {
        let (s, _) = start(dir.path(), 10_000, None).await;
        let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
        let g = s.lease("w1", 2, Duration::ZERO).await.unwrap();
        s.report(report(
            "w1",
            &g[0].lease_id,
            &g[0].spec.key,
            1,
            outcome(EndReason::Submitted, Some("x")),
        ))
        .await
        .unwrap();
        (id, g[1].spec.key.clone())
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, _) = start(dir.path(), 10_000, None).await;
    let st = s.status(&id).await.unwrap();
    assert_eq!(
        (st.done, st.running, st.total),
        (1, 1, 3),
        "the result and the live lease came back"
    );
    let g = s.lease("w2", 5, Duration::ZERO).await.unwrap();
    assert_eq!(
        g.len(),
        1,
        "the leased task is not handed out again while its lease lives"
    );
    assert_ne!(g[0].spec.key, key);
    // Resubmitting without resume is refused; with resume it continues.
    let toml = sweep_toml("", ONE_ARM, "");
    let err = s
        .submit(
            toml.clone(),
            "t.toml".into(),
            PathBuf::from("."),
            SubmitOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let r = s
        .submit(
            toml,
            "t.toml".into(),
            PathBuf::from("."),
            SubmitOptions {
                resume: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(r.resumed);
}

/// A real embedded store whose next `fail` writes fail, counting every write.
struct FlakyStore {
    inner: EmbeddedStore,
    fail: std::sync::atomic::AtomicU32,
    writes: std::sync::atomic::AtomicU32,
}

#[async_trait::async_trait]
impl StateStore for FlakyStore {
    fn kind(&self) -> &'static str {
        "flaky"
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn apply(
        &self,
        batch: Arc<Vec<crate::store::Mutation>>,
    ) -> Result<(), crate::store::StoreError> {
        use std::sync::atomic::Ordering;
        self.writes.fetch_add(1, Ordering::SeqCst);
        let left = self.fail.load(Ordering::SeqCst);
        if left > 0 {
            self.fail.store(left - 1, Ordering::SeqCst);
            return Err(crate::store::StoreError::Io {
                location: "flaky".into(),
                op: "write",
                message: "disk unplugged".into(),
            });
        }
        self.inner.apply(batch).await
    }
    async fn load(&self) -> Result<crate::store::Snapshot, crate::store::StoreError> {
        self.inner.load().await
    }
}

#[tokio::test]
async fn a_failing_store_is_retried_with_backoff_and_loses_nothing() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(FlakyStore {
        inner: EmbeddedStore::open(&dir.path().join("state.redb"))
            .await
            .unwrap(),
        fail: 0.into(),
        writes: 0.into(),
    });
    let store: Arc<dyn StateStore> = flaky.clone();
    let s = Scheduler::start(
        store.clone(),
        None,
        SchedulerSettings {
            lease: Duration::from_secs(10),
            heartbeat: Duration::from_secs(3),
            data_dir: dir.path().to_path_buf(),
        },
    )
    .await
    .unwrap();
    submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
    let g = s.lease("w1", 1, Duration::ZERO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let kept = || {
        report(
            "w1",
            &g[0].lease_id,
            &g[0].spec.key,
            1,
            outcome(EndReason::Submitted, Some("kept")),
        )
    };
    flaky.fail.store(3, Ordering::SeqCst);
    let before = flaky.writes.load(Ordering::SeqCst);
    let err = s
        .report(kept())
        .await
        .expect_err("an unwritten result is not acknowledged");
    assert!(err.to_string().contains("disk unplugged"), "{err}");
    // Backoff 200 + 400 + 800 ms: the fourth write lands, not dozens of spinning ones.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let writes = flaky.writes.load(Ordering::SeqCst) - before;
    assert!(
        (4..=6).contains(&writes),
        "{writes} writes: the store must be retried with backoff"
    );
    let snap = store.load().await.unwrap();
    assert_eq!(
        snap.results.len(),
        1,
        "the result was kept and written on retry"
    );
    assert_eq!(snap.results[0].answer.as_deref(), Some("kept"));
    // The worker's retry of the same report now finds the result.
    let (d, _, _) = s.report(kept()).await.unwrap();
    assert_eq!(d, Disposition::Duplicate);
}

#[tokio::test]
async fn the_group_status_breaks_unscored_tasks_down_by_status() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
    let grants = s.lease("w1", 10, Duration::ZERO).await.unwrap();
    assert_eq!(grants.len(), 3);
    let ends = [
        EndReason::StepLimit,
        EndReason::WallTime,
        EndReason::Submitted,
    ];
    for (g, end) in grants.iter().zip(ends) {
        let answer = (end == EndReason::Submitted).then_some("x");
        s.report(report(
            "w1",
            &g.lease_id,
            &g.spec.key,
            1,
            outcome(end, answer),
        ))
        .await
        .unwrap();
    }
    let st = s.status(&id).await.unwrap();
    let g = &st.groups[0];
    assert_eq!(
        (g.done, g.scored, g.failed, g.budget, g.timeout, g.cancelled),
        (3, 1, 2, 1, 1, 0),
        "{g:?}"
    );
}

#[tokio::test]
async fn retry_failed_gives_failed_tasks_a_fresh_budget_and_keeps_their_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let toml = sweep_toml("", ONE_ARM, "limit = 2").replace("max_attempts = 2", "max_attempts = 1");
    let (id, failed_key) = {
        let (s, _) = start(dir.path(), 10_000, None).await;
        let id = submit(&s, dir.path(), toml.clone()).await;
        let g = s.lease("w1", 2, Duration::ZERO).await.unwrap();
        let (d, _, _) = s
            .report(report(
                "w1",
                &g[0].lease_id,
                &g[0].spec.key,
                1,
                outcome(EndReason::Error, None),
            ))
            .await
            .unwrap();
        assert_eq!(d, Disposition::Failed);
        s.report(report(
            "w1",
            &g[1].lease_id,
            &g[1].spec.key,
            1,
            outcome(EndReason::Submitted, Some("x")),
        ))
        .await
        .unwrap();
        let st = s.status(&id).await.unwrap();
        assert_eq!((st.state.as_str(), st.done, st.failed), ("done", 2, 1));
        // A plain resume leaves the failed task alone.
        let r = s
            .submit(
                toml.clone(),
                "t.toml".into(),
                PathBuf::from("."),
                SubmitOptions {
                    resume: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(r.resumed);
        assert!(s.lease("w1", 2, Duration::ZERO).await.unwrap().is_empty());
        (id, g[0].spec.key.clone())
    };
    // After a restart (state from the store), `retry_failed` queues the failed task again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, store) = start(dir.path(), 10_000, None).await;
    s.submit(
        toml,
        "t.toml".into(),
        PathBuf::from("."),
        SubmitOptions {
            resume: true,
            retry_failed: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let st = s.status(&id).await.unwrap();
    assert_eq!(
        (st.state.as_str(), st.done, st.failed, st.scored),
        ("running", 1, 0, 1),
        "the failed result is taken out of the counts"
    );
    let g = s.lease("w2", 2, Duration::ZERO).await.unwrap();
    assert_eq!(g.len(), 1, "only the failed task runs again");
    assert_eq!(g[0].spec.key, failed_key);
    let (d, _, _) = s
        .report(report(
            "w2",
            &g[0].lease_id,
            &failed_key,
            g[0].spec.attempt,
            outcome(EndReason::Submitted, Some("y")),
        ))
        .await
        .unwrap();
    assert_eq!(d, Disposition::Recorded, "a fresh budget, not a duplicate");
    let st = s.status(&id).await.unwrap();
    assert_eq!(
        (st.state.as_str(), st.done, st.failed, st.scored),
        ("done", 2, 0, 2)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let snap = store.load().await.unwrap();
    let results: Vec<_> = snap
        .results
        .iter()
        .filter(|r| r.task_key == failed_key)
        .collect();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status, "scored");
    let attempts: Vec<&str> = snap
        .attempts
        .iter()
        .filter(|a| a.task_key == failed_key)
        .map(|a| a.disposition.as_str())
        .collect();
    assert_eq!(
        attempts,
        ["recorded", "recorded"],
        "the failed attempt stays in the log"
    );
}
