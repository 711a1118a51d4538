//! A task's steps reach the coordinator's watchers live: a worker runs the real agent loop
//! (scripted model and sandbox) against a real coordinator over loopback gRPC, and a
//! WatchSweep watcher that asked for steps sees the task's start, then each step in order,
//! all before the task's result; a watcher that did not ask sees none.

mod agent_common;

use std::sync::Arc;
use std::time::Duration;

use agent_common::*;
use herd_coordinator::store::{EmbeddedStore, StateStore};
use herd_coordinator::{Scheduler, SchedulerSettings, SubmitOptions};
use herd_core::outcome::TaskOutcome;
use herd_core::result::ResultRecord;
use herd_core::task::TaskSpec;
use herd_core::trajectory::Step;
use herd_proto::v1::{SweepEvent, WatchSweepRequest};
use herd_worker::agent::{AgentDeps, NoActions, TokioClock, run_task};
use herd_worker::runtime::{TaskContext, TaskRunner, WorkerSettings, run_worker};
use herd_worker::tools::ToolBox;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

const SWEEP: &str = r#"name = "live"
seed = 1
[[benchmarks]]
kind = "herd-mini"
limit = 1
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

/// Runs the agent loop with a scripted model and sandbox: two steps, then the answer.
#[derive(Default)]
struct Scripted {
    prompts: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl TaskRunner for Scripted {
    async fn run(&self, spec: TaskSpec, ctx: TaskContext) -> TaskOutcome {
        self.prompts.lock().push(spec.prompt.clone());
        let model = ScriptedModel::new(vec![
            step("multiply", "b = 6 * 7\nprint(b)"),
            step("submit", "submit_final_answer(b)"),
        ]);
        let session = ScriptedSession::new(vec![
            ("b = 6 * 7\nprint(b)", ok("42\n")),
            ("submit_final_answer(b)", submit("42")),
        ]);
        run_task(
            &spec,
            AgentDeps {
                model,
                session: Box::new(session),
                actions: Arc::new(NoActions),
                tools: Arc::new(ToolBox::none()),
                cancel: ctx.cancel.clone(),
                reformulation: None,
                clock: Arc::new(TokioClock),
                steps: ctx.steps,
            },
        )
        .await
    }
}

/// Reads a watch stream until the sweep is done.
async fn until_done(mut stream: tonic::Streaming<SweepEvent>) -> Vec<SweepEvent> {
    let mut events = Vec::new();
    let read = async {
        while let Some(ev) = stream.message().await.expect("the watch stream broke") {
            let done = ev.kind == "done";
            events.push(ev);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the sweep did not finish in 30 s");
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_with_steps_sees_the_start_then_each_step_in_order_before_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn StateStore> = Arc::new(
        EmbeddedStore::open(&dir.path().join("state.redb"))
            .await
            .unwrap(),
    );
    let scheduler = Scheduler::start(
        store,
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
    let stop_server = CancellationToken::new();
    tokio::spawn({
        let s = scheduler.clone();
        let st = stop_server.clone();
        async move {
            herd_coordinator::serve(listener, s, None, None, None, st.cancelled_owned())
                .await
                .unwrap();
        }
    });
    let sweep_id = scheduler
        .submit(
            SWEEP.into(),
            "live.toml".into(),
            ".".into(),
            SubmitOptions {
                out_dir: Some(dir.path().join("out")),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sweep_id;

    // Both watchers are open before the worker starts.
    let control = herd_proto::client::control_client(&url, None, None).unwrap();
    let with_steps = control
        .clone()
        .watch_sweep(WatchSweepRequest {
            sweep_id: sweep_id.clone(),
            with_steps: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let plain = control
        .clone()
        .watch_sweep(WatchSweepRequest {
            sweep_id: sweep_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let with_steps = tokio::spawn(until_done(with_steps));
    let plain = tokio::spawn(until_done(plain));

    let runner = Arc::new(Scripted::default());
    let stop = CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        WorkerSettings {
            coordinator: url.clone(),
            token: None,
            worker_id: "w-live".into(),
            slots: 1,
            grace: Duration::from_secs(5),
            lease_wait: Duration::from_millis(200),
            exit_when_idle: None,
        },
        runner.clone(),
        stop.clone(),
        CancellationToken::new(),
    ));
    let events = with_steps.await.unwrap();
    let plain = plain.await.unwrap();
    stop.cancel();
    worker.await.unwrap().unwrap();
    stop_server.cancel();

    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"snapshot"), "{kinds:?}");
    let live = &events[1..];
    assert!(
        live.windows(2).all(|w| w[0].seq < w[1].seq),
        "live events are numbered in order: {:?}",
        live.iter().map(|e| (&e.kind, e.seq)).collect::<Vec<_>>()
    );
    let steps: Vec<&SweepEvent> = live.iter().filter(|e| e.kind == "step").collect();
    assert_eq!(steps.len(), 3, "start and two steps: {kinds:?}");
    let finished = live
        .iter()
        .position(|e| e.kind == "finished")
        .expect("the task finished");
    let last_step = live.iter().rposition(|e| e.kind == "step").unwrap();
    assert!(
        last_step < finished,
        "every step before the result: {kinds:?}"
    );
    let task_key = &live[finished].task_key;
    for ev in &steps {
        assert_eq!(ev.worker_id, "w-live");
        assert_eq!(&ev.task_key, task_key);
        assert!(
            ev.status.is_none(),
            "steps come without the status round trip"
        );
        let s = ev.step.as_ref().expect("a step event carries its step");
        assert_eq!((&s.task_key, s.attempt), (task_key, 1));
        assert!(!s.lease_id.is_empty());
    }

    let start = steps[0].step.as_ref().unwrap();
    assert_eq!(start.kind, "start");
    let prompt = runner.prompts.lock()[0].clone();
    assert!(
        start.task_prompt.contains(&prompt),
        "the start carries the task prompt: {:?}",
        start.task_prompt
    );
    let mut tokens = Vec::new();
    for (i, ev) in steps[1..].iter().enumerate() {
        let s = ev.step.as_ref().unwrap();
        assert_eq!(s.kind, "step");
        let step: Step = serde_json::from_slice(&s.step_json).unwrap();
        assert_eq!(step.index, i as u32 + 1, "steps in order");
        tokens.push((s.prompt_tokens, s.completion_tokens));
    }
    assert_eq!(
        tokens,
        vec![(100, 20), (200, 40)],
        "tokens so far, per step"
    );
    let code: Step = serde_json::from_slice(&steps[1].step.as_ref().unwrap().step_json).unwrap();
    assert_eq!(code.code, "b = 6 * 7\nprint(b)");

    let rec: ResultRecord = serde_json::from_slice(&live[finished].results_json[0]).unwrap();
    assert_eq!(&rec.task_key, task_key);
    assert_eq!(rec.answer.as_deref(), Some("42"));

    // The watcher that did not ask sees the same sweep without steps, to its end.
    let plain_kinds: Vec<&str> = plain.iter().map(|e| e.kind.as_str()).collect();
    assert!(!plain_kinds.contains(&"step"), "{plain_kinds:?}");
    assert!(plain_kinds.contains(&"finished"), "{plain_kinds:?}");
    assert_eq!(plain_kinds.last(), Some(&"done"));
}
