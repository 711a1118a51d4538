//! Tests of the live state: folding coordinator events, SSE streams, resumption.

use super::*;
use futures::StreamExt as _;
use herd_proto::v1::StepEvent;

fn record(key: &str, status: &str, correct: Option<bool>) -> Vec<u8> {
    serde_json::to_vec(&ResultRecord {
        task_key: key.into(),
        status: status.into(),
        correct,
        arm: "online".into(),
        ..Default::default()
    })
    .unwrap()
}

fn status(state: &str, done: u64) -> SweepStatus {
    SweepStatus {
        sweep_id: "s1".into(),
        state: state.into(),
        total: 4,
        done,
        ..Default::default()
    }
}

fn step_event(key: &str, kind: &str, index: u32) -> SweepEvent {
    let step = Step {
        index,
        thought: format!("thinking {index}"),
        code: "print(1)".into(),
        observation: "1".into(),
        parse_error: None,
        cell_error: false,
        exec_ms: 1,
        host_calls: vec![],
        defined: vec![],
        called: vec![],
    };
    SweepEvent {
        kind: "step".into(),
        task_key: key.into(),
        worker_id: "w1".into(),
        step: Some(StepEvent {
            task_key: key.into(),
            attempt: 1,
            kind: kind.into(),
            task_prompt: if kind == "start" {
                "what is 2+2?".into()
            } else {
                String::new()
            },
            step_json: if kind == "step" {
                serde_json::to_vec(&step).unwrap()
            } else {
                vec![]
            },
            prompt_tokens: 10 * index as u64,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn results_steps_and_finishes_fold_into_state() {
    let s = LiveSweep::new("s1".into());
    assert!(!s.apply(SweepEvent {
        kind: "snapshot".into(),
        status: Some(status("running", 1)),
        ..Default::default()
    }));
    s.apply(SweepEvent {
        kind: "results".into(),
        results_json: vec![record("a", "scored", Some(true))],
        ..Default::default()
    });
    s.apply(step_event("b", "start", 0));
    s.apply(step_event("b", "step", 0));
    s.apply(step_event("b", "step", 1));
    {
        let st = s.state();
        assert_eq!(st.records.len(), 1);
        let b = &st.running["b"];
        assert_eq!(b.task_prompt, "what is 2+2?");
        assert_eq!(b.steps.len(), 2);
        assert_eq!(b.steps[1].thought, "thinking 1");
        assert_eq!(b.worker, "w1");
    }
    s.apply(SweepEvent {
        kind: "finished".into(),
        task_key: "b".into(),
        results_json: vec![record("b", "scored", Some(false))],
        ..Default::default()
    });
    let st = s.state();
    assert_eq!(st.records.len(), 2);
    assert!(
        st.running.is_empty(),
        "a finished task is no longer running"
    );
    assert_eq!(st.recent.front().map(String::as_str), Some("b"));
    // Re-sent results (a reconnect's replay) replace, never duplicate.
    drop(st);
    s.apply(SweepEvent {
        kind: "results".into(),
        results_json: vec![
            record("a", "scored", Some(true)),
            record("b", "scored", Some(false)),
        ],
        ..Default::default()
    });
    assert_eq!(s.state().records.len(), 2);
}

#[test]
fn a_done_snapshot_or_done_event_ends_the_sweep() {
    let s = LiveSweep::new("s1".into());
    assert!(s.apply(SweepEvent {
        kind: "snapshot".into(),
        status: Some(status("done", 4)),
        ..Default::default()
    }));
    assert_eq!(s.state().link, Link::Ended);
    let s = LiveSweep::new("s2".into());
    assert!(s.apply(SweepEvent {
        kind: "done".into(),
        status: Some(status("done", 4)),
        ..Default::default()
    }));
}

async fn collect(stream: impl Stream<Item = Result<Event, Infallible>>, n: usize) -> Vec<String> {
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            // The event's wire text, from its Debug form (the buffer is private).
            Ok(Some(Ok(e))) => {
                out.push(format!("{e:?}").replace("\\n", "\n").replace("\\\"", "\""))
            }
            _ => break,
        }
    }
    out
}

#[tokio::test]
async fn clients_get_a_snapshot_then_live_events_and_resume_after_an_id() {
    let s = Arc::new(LiveSweep::new("s1".into()));
    s.apply(SweepEvent {
        kind: "snapshot".into(),
        status: Some(status("running", 0)),
        ..Default::default()
    });
    let cancel = CancellationToken::new();
    let fresh = s.subscribe(None, None, cancel.clone());
    let task_stream = s.subscribe(None, Some("b".into()), cancel.clone());
    s.apply(step_event("b", "start", 0));
    s.apply(step_event("c", "start", 0));
    s.apply(step_event("b", "step", 0));
    s.apply(SweepEvent {
        kind: "finished".into(),
        task_key: "b".into(),
        results_json: vec![record("b", "scored", Some(true))],
        ..Default::default()
    });
    let got = collect(fresh, 5).await;
    assert!(got[0].contains("progress"), "{got:?}");
    assert!(
        got.iter().any(|e| e.contains("\"task_key\":\"c\"")),
        "{got:?}"
    );
    assert!(got.iter().any(|e| e.contains("event: task")), "{got:?}");
    let got = collect(task_stream, 4).await;
    let names: Vec<&str> = got
        .iter()
        .map(|e| {
            ["progress", "start", "step", "task"]
                .into_iter()
                .find(|n| e.contains(&format!("event: {n}\n")))
                .unwrap_or("?")
        })
        .collect();
    assert_eq!(names, ["progress", "start", "step", "task"], "{got:?}");
    assert!(
        got.iter().all(|e| !e.contains("\"task_key\":\"c\"")),
        "{got:?}"
    );

    // A client that saw up to the `start` of b resumes with b's step and finish only.
    let start_id = s
        .state()
        .ring
        .iter()
        .find(|e| e.name == "start" && e.task_key.as_deref() == Some("b"))
        .map(|e| e.id)
        .unwrap();
    let resumed = collect(
        s.subscribe(Some(start_id), Some("b".into()), cancel.clone()),
        2,
    )
    .await;
    assert!(resumed[0].contains("event: step"), "{resumed:?}");
    assert!(resumed[1].contains("event: task"), "{resumed:?}");
    // Shutdown ends open streams.
    let last = s.state().last_event_id();
    let open = s.subscribe(Some(last), None, cancel.clone());
    cancel.cancel();
    assert!(collect(open, 1).await.is_empty());
}

#[tokio::test]
async fn a_resume_id_no_longer_held_gets_a_fresh_snapshot() {
    let s = Arc::new(LiveSweep::new("s1".into()));
    for i in 0..(RING + 10) {
        s.apply(step_event("b", "step", i as u32));
    }
    {
        let st = s.state();
        assert_eq!(st.ring.len(), RING);
        assert!(st.ring.front().unwrap().id > 2);
        assert_eq!(st.running["b"].steps.len(), MAX_STEPS);
    }
    let got = collect(s.subscribe(Some(1), None, CancellationToken::new()), 1).await;
    assert!(got[0].contains("event: progress"), "{got:?}");
    // An id still held resumes instead.
    let last = s.state().last_event_id();
    let got = collect(
        s.subscribe(Some(last - 1), None, CancellationToken::new()),
        1,
    )
    .await;
    assert!(got[0].contains("event: step"), "{got:?}");
}
