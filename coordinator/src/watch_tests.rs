//! Watching a sweep, on a real scheduler and embedded store: steps reach only watchers that
//! asked for them, and only from the worker holding the task's lease; results ride their
//! "finished" events; `with_results` replays what is recorded (in chunks), also for a sweep
//! that is already done.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use herd_core::outcome::EndReason;
use herd_core::result::ResultRecord;
use herd_proto::v1::{StepEvent, SweepEvent};

use crate::scheduler::{RESULTS_PER_CHUNK, WatchOptions};
use crate::scheduler_tests::{ONE_ARM, outcome, report, start, submit, sweep_toml};

type Events = Pin<Box<dyn Stream<Item = SweepEvent> + Send>>;

async fn watch(s: &crate::Scheduler, id: &str, with_results: bool, with_steps: bool) -> Events {
    Box::pin(
        s.watch(
            id,
            WatchOptions {
                with_results,
                with_steps,
            },
        )
        .await
        .unwrap(),
    )
}

/// The next event (failing after 30 s: the last result of a sweep writes its outputs first).
async fn next(w: &mut Events) -> SweepEvent {
    tokio::time::timeout(Duration::from_secs(30), w.next())
        .await
        .expect("no event in 30 s")
        .expect("the watch ended")
}

fn step(lease: &str, key: &str, kind: &str) -> StepEvent {
    StepEvent {
        lease_id: lease.into(),
        task_key: key.into(),
        attempt: 1,
        kind: kind.into(),
        task_prompt: if kind == "start" {
            "What is 6 times 7?".into()
        } else {
            String::new()
        },
        step_json: if kind == "step" {
            br#"{"index":1}"#.to_vec()
        } else {
            Vec::new()
        },
        prompt_tokens: 100,
        completion_tokens: 20,
        at_unix_ms: 1,
    }
}

fn record(ev: &SweepEvent) -> ResultRecord {
    assert_eq!(ev.results_json.len(), 1, "{ev:?}");
    serde_json::from_slice(&ev.results_json[0]).unwrap()
}

#[tokio::test]
async fn a_watcher_with_steps_sees_the_lease_holders_steps_and_no_others() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
    let mut steps = watch(&s, &id, false, true).await;
    let mut plain = watch(&s, &id, false, false).await;
    let g1 = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    let g2 = s.lease("w2", 1, Duration::ZERO).await.unwrap().remove(0);
    let (k1, k2) = (g1.spec.key.as_str(), g2.spec.key.as_str());

    let ack = s
        .report_steps(
            "w1".into(),
            vec![
                step(&g1.lease_id, k1, "start"),
                // w2's lease, reported by w1.
                step(&g2.lease_id, k2, "step"),
                // w1's lease, but for another task.
                step(&g1.lease_id, k2, "step"),
                step("no-such-lease", k1, "step"),
                step(&g1.lease_id, k1, "no-such-kind"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((ack.accepted, ack.ignored), (1, 4));
    let ack = s
        .report_steps("w2".into(), vec![step(&g2.lease_id, k2, "step")])
        .await
        .unwrap();
    assert_eq!((ack.accepted, ack.ignored), (1, 0));
    s.report(report(
        "w1",
        &g1.lease_id,
        k1,
        1,
        outcome(EndReason::Submitted, Some("42")),
    ))
    .await
    .unwrap();
    // The lease ended with the result: later steps of it are ignored.
    let ack = s
        .report_steps("w1".into(), vec![step(&g1.lease_id, k1, "step")])
        .await
        .unwrap();
    assert_eq!((ack.accepted, ack.ignored), (0, 1));

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(next(&mut steps).await);
    }
    let kinds: Vec<&str> = seen.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["snapshot", "leased", "leased", "step", "step", "finished"]
    );
    assert_eq!(seen[0].seq, 0, "the snapshot is not a live event");
    assert!(seen[1..].windows(2).all(|w| w[0].seq < w[1].seq));
    let (start, other) = (&seen[3], &seen[4]);
    assert_eq!(
        (start.worker_id.as_str(), start.task_key.as_str()),
        ("w1", k1)
    );
    let start_step = start.step.as_ref().unwrap();
    assert_eq!(start_step.kind, "start");
    assert_eq!(start_step.task_prompt, "What is 6 times 7?");
    assert_eq!(start_step.lease_id, g1.lease_id);
    assert_eq!(
        (other.worker_id.as_str(), other.task_key.as_str()),
        ("w2", k2)
    );
    assert_eq!(other.step.as_ref().unwrap().step_json, br#"{"index":1}"#);
    assert!(start.status.is_none() && other.status.is_none());
    let finished = &seen[5];
    assert_eq!(finished.task_key, k1);
    assert_eq!(finished.status.as_ref().unwrap().done, 1);
    let rec = record(finished);
    assert_eq!(
        (rec.task_key.as_str(), rec.answer.as_deref()),
        (k1, Some("42"))
    );

    // Without `with_steps` the same sweep shows no step.
    let kinds: Vec<String> = [
        next(&mut plain).await,
        next(&mut plain).await,
        next(&mut plain).await,
        next(&mut plain).await,
    ]
    .into_iter()
    .map(|e| e.kind)
    .collect();
    assert_eq!(kinds, ["snapshot", "leased", "leased", "finished"]);
}

#[tokio::test]
async fn steps_without_a_step_watcher_are_taken_but_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
    let mut plain = watch(&s, &id, false, false).await;
    let g = s.lease("w1", 1, Duration::ZERO).await.unwrap().remove(0);
    let ack = s
        .report_steps("w1".into(), vec![step(&g.lease_id, &g.spec.key, "start")])
        .await
        .unwrap();
    assert_eq!((ack.accepted, ack.ignored), (1, 0));
    // A watcher that asks for steps later sees only later steps.
    let mut late = watch(&s, &id, false, true).await;
    s.report_steps("w1".into(), vec![step(&g.lease_id, &g.spec.key, "step")])
        .await
        .unwrap();
    assert_eq!(next(&mut plain).await.kind, "snapshot");
    assert_eq!(next(&mut plain).await.kind, "leased");
    assert_eq!(next(&mut late).await.kind, "snapshot");
    let ev = next(&mut late).await;
    assert_eq!(ev.kind, "step");
    assert_eq!(ev.step.unwrap().kind, "step");
    // Once the step watcher is gone the plain watcher's next event is the result, not a step.
    drop(late);
    s.report_steps("w1".into(), vec![step(&g.lease_id, &g.spec.key, "step")])
        .await
        .unwrap();
    s.report(report(
        "w1",
        &g.lease_id,
        &g.spec.key,
        1,
        outcome(EndReason::Submitted, Some("1")),
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut plain).await.kind, "finished");
}

#[tokio::test]
async fn with_results_replays_the_recorded_results_in_chunks_then_goes_live() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 60_000, None).await;
    // 24 herd-mini items × 43 epochs: 1032 tasks, more than one replay chunk.
    let toml = "name = \"t\"\nseed = 5\nepochs = 43\n[[benchmarks]]\nkind = \"herd-mini\"\n[[backbones]]\nname = \"b\"\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1/v1\"\n[[arms]]\nname = \"a\"\n";
    let id = submit(&s, dir.path(), toml.into()).await;
    let grants = s.lease("w1", 2000, Duration::ZERO).await.unwrap();
    assert_eq!(grants.len(), 1032);
    let (open, rest) = grants.split_last().unwrap();
    let answers = s
        .report_many(
            rest.iter()
                .map(|g| {
                    report(
                        "w1",
                        &g.lease_id,
                        &g.spec.key,
                        1,
                        outcome(EndReason::Submitted, Some("1")),
                    )
                })
                .collect(),
        )
        .await
        .unwrap();
    assert!(answers.iter().all(|a| a.is_ok()));

    let mut replay = watch(&s, &id, true, false).await;
    let mut plain = watch(&s, &id, false, false).await;
    let snap = next(&mut replay).await;
    assert_eq!(snap.kind, "snapshot");
    assert_eq!(snap.status.as_ref().unwrap().done, 1031);
    let first = next(&mut replay).await;
    let second = next(&mut replay).await;
    assert_eq!(
        (first.kind.as_str(), second.kind.as_str()),
        ("results", "results")
    );
    assert_eq!(first.results_json.len(), RESULTS_PER_CHUNK);
    assert_eq!(second.results_json.len(), 1031 - RESULTS_PER_CHUNK);
    assert_eq!((first.seq, second.seq), (0, 0));
    let mut keys: Vec<String> = first
        .results_json
        .iter()
        .chain(&second.results_json)
        .map(|j| serde_json::from_slice::<ResultRecord>(j).unwrap().task_key)
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 1031, "every recorded result once");
    assert!(!keys.contains(&open.spec.key));

    // Then live: the last result arrives on its "finished" event, and the sweep ends.
    s.report(report(
        "w1",
        &open.lease_id,
        &open.spec.key,
        1,
        outcome(EndReason::Submitted, Some("1")),
    ))
    .await
    .unwrap();
    let finished = next(&mut replay).await;
    assert_eq!(finished.kind, "finished");
    assert_eq!(record(&finished).task_key, open.spec.key);
    assert_eq!(next(&mut replay).await.kind, "done");
    assert!(
        tokio::time::timeout(Duration::from_secs(5), replay.next())
            .await
            .unwrap()
            .is_none(),
        "the watch ends with the sweep"
    );
    // A watcher that did not ask gets no replay.
    assert_eq!(next(&mut plain).await.kind, "snapshot");
    assert_eq!(next(&mut plain).await.kind, "finished");
}

#[tokio::test]
async fn a_done_sweep_gives_its_snapshot_and_results_then_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = start(dir.path(), 10_000, None).await;
    let id = submit(&s, dir.path(), sweep_toml("", ONE_ARM, "")).await;
    let grants = s.lease("w1", 10, Duration::ZERO).await.unwrap();
    for g in &grants {
        s.report(report(
            "w1",
            &g.lease_id,
            &g.spec.key,
            1,
            outcome(EndReason::Submitted, Some("1")),
        ))
        .await
        .unwrap();
    }
    let mut w = watch(&s, &id, true, true).await;
    let snap = next(&mut w).await;
    assert_eq!(snap.status.as_ref().unwrap().state, "done");
    let results = next(&mut w).await;
    assert_eq!(results.kind, "results");
    assert_eq!(results.results_json.len(), 3);
    assert!(
        tokio::time::timeout(Duration::from_secs(5), w.next())
            .await
            .unwrap()
            .is_none(),
        "nothing live follows a finished sweep"
    );
    // Without `with_results`: the snapshot alone.
    let mut w = watch(&s, &id, false, false).await;
    assert_eq!(next(&mut w).await.kind, "snapshot");
    assert!(w.next().await.is_none());
}
