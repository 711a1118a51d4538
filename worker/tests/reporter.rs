//! The worker's report senders against a recording coordinator double: reports that finish
//! while a call is in flight share the next call, and each caller gets its own answer; live
//! steps go out in bounded batches, on demand (before a result), and what is buffered at
//! shutdown is sent before the sender ends.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use herd_proto::v1::worker_service_server::{WorkerService, WorkerServiceServer};
use herd_proto::v1::*;
use herd_worker::reporter::Reporter;
use herd_worker::steps::StepReporter;
use parking_lot::Mutex;
use tonic::{Request, Response, Status, Streaming};

type Chunks = Pin<Box<dyn Stream<Item = Result<AttachmentChunk, Status>> + Send>>;
type Beats = Pin<Box<dyn Stream<Item = Result<HeartbeatResponse, Status>> + Send>>;

/// Records the size of every batch; each report call takes 200 ms; task `bad` is refused.
/// Step batches are recorded whole.
#[derive(Clone, Default)]
struct Recorder {
    batches: Arc<Mutex<Vec<usize>>>,
    steps: Arc<Mutex<Vec<StepBatch>>>,
}

#[tonic::async_trait]
impl WorkerService for Recorder {
    async fn register(
        &self,
        _: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn lease_tasks(
        &self,
        _: Request<LeaseRequest>,
    ) -> Result<Response<LeaseResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    type HeartbeatStream = Beats;
    async fn heartbeat(
        &self,
        _: Request<Streaming<HeartbeatRequest>>,
    ) -> Result<Response<Beats>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn report_result(
        &self,
        _: Request<ReportRequest>,
    ) -> Result<Response<ReportResponse>, Status> {
        Err(Status::unimplemented(
            "the reporter must use the batch call",
        ))
    }
    async fn report_results(
        &self,
        req: Request<ReportBatchRequest>,
    ) -> Result<Response<ReportBatchResponse>, Status> {
        let reports = req.into_inner().reports;
        self.batches.lock().push(reports.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let items = reports
            .into_iter()
            .map(|r| {
                if r.task_key == "bad" {
                    ReportBatchItem {
                        response: None,
                        error_code: tonic::Code::InvalidArgument as i32,
                        error: "malformed outcome for task `bad`".into(),
                    }
                } else {
                    ReportBatchItem {
                        response: Some(ReportResponse {
                            disposition: Disposition::Recorded as i32,
                            message: r.task_key,
                        }),
                        error_code: 0,
                        error: String::new(),
                    }
                }
            })
            .collect();
        Ok(Response::new(ReportBatchResponse { items }))
    }
    type FetchAttachmentStream = Chunks;
    async fn fetch_attachment(
        &self,
        _: Request<FetchAttachmentRequest>,
    ) -> Result<Response<Chunks>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn action_call(
        &self,
        _: Request<ActionRequest>,
    ) -> Result<Response<ActionResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn report_steps(&self, req: Request<StepBatch>) -> Result<Response<StepAck>, Status> {
        let batch = req.into_inner();
        let accepted = batch.steps.len() as u32;
        self.steps.lock().push(batch);
        Ok(Response::new(StepAck {
            accepted,
            ignored: 0,
        }))
    }
}

/// Serves the recorder on a free local port; returns its client.
async fn serve(
    recorder: &Recorder,
) -> (
    herd_proto::client::WorkerClient,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn({
        let svc = WorkerServiceServer::new(recorder.clone());
        async move {
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        }
    });
    let client = herd_proto::client::worker_client(&format!("http://{addr}"), None, None).unwrap();
    (client, server)
}

fn report(key: &str) -> ReportRequest {
    ReportRequest {
        worker_id: "w".into(),
        lease_id: format!("lease-{key}"),
        task_key: key.into(),
        attempt: 1,
        outcome_json: b"{}".to_vec(),
        hand_back: false,
    }
}

#[tokio::test]
async fn reports_that_finish_together_share_a_call_and_each_gets_its_answer() {
    let recorder = Recorder::default();
    let (client, server) = serve(&recorder).await;
    let (reporter, sender) = Reporter::start(client);

    // The first report goes out alone; the ten sent while it is in flight share one call.
    let first = {
        let r = reporter.clone();
        tokio::spawn(async move { r.report(report("t0")).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut rest = Vec::new();
    for i in 1..=10 {
        let r = reporter.clone();
        let key = if i == 5 {
            "bad".to_string()
        } else {
            format!("t{i}")
        };
        rest.push((
            key.clone(),
            tokio::spawn(async move { r.report(report(&key)).await }),
        ));
    }
    assert_eq!(first.await.unwrap().unwrap().message, "t0");
    for (key, h) in rest {
        match h.await.unwrap() {
            Ok(r) => {
                assert_eq!(r.message, key, "each caller gets its own answer");
                assert_eq!(r.disposition, Disposition::Recorded as i32);
            }
            Err(s) => {
                assert_eq!(key, "bad", "only the refused report fails: {s:?}");
                assert_eq!(s.code(), tonic::Code::InvalidArgument);
                assert!(s.message().contains("`bad`"), "{}", s.message());
            }
        }
    }
    assert_eq!(*recorder.batches.lock(), vec![1, 10]);

    // The sender task ends with its last handle.
    drop(reporter);
    tokio::time::timeout(Duration::from_secs(5), sender)
        .await
        .expect("the sender stops when the last handle is dropped")
        .unwrap();
    server.abort();
}

fn a_step(index: u32) -> herd_core::trajectory::Step {
    herd_core::trajectory::Step {
        index,
        thought: format!("thought {index}"),
        code: format!("x = {index}"),
        observation: String::new(),
        parse_error: None,
        cell_error: false,
        exec_ms: 1,
        host_calls: Vec::new(),
        defined: Vec::new(),
        called: Vec::new(),
    }
}

#[tokio::test]
async fn live_steps_go_out_in_bounded_batches_in_order_and_shutdown_sends_the_rest() {
    let recorder = Recorder::default();
    let (client, server) = serve(&recorder).await;
    let (steps, sender) = StepReporter::start(client, "w1".into());
    let sink = steps.sink("lease-1", "task-1", 2);
    sink.start("What is 6 times 7?", 0, 0);
    for i in 1..=150 {
        sink.step(&a_step(i), 100 * u64::from(i), 20 * u64::from(i));
    }
    // A flush returns once everything reported so far has gone out.
    steps.flush().await;
    let sent: usize = recorder.steps.lock().iter().map(|b| b.steps.len()).sum();
    assert_eq!(sent, 151);
    assert!(
        recorder.steps.lock().len() >= 3,
        "at most 64 events per call"
    );
    sink.step(&a_step(151), 0, 0);
    // Shutdown sends what is buffered, then the sender ends.
    tokio::time::timeout(Duration::from_secs(10), sender.shutdown())
        .await
        .expect("the step sender stops at shutdown");
    // A sink that outlives the sender drops its events without blocking or failing.
    sink.step(&a_step(152), 0, 0);

    let batches = recorder.steps.lock().clone();
    assert!(
        batches
            .iter()
            .all(|b| b.worker_id == "w1" && b.steps.len() <= 64)
    );
    let events: Vec<StepEvent> = batches.into_iter().flat_map(|b| b.steps).collect();
    assert_eq!(
        events.len(),
        152,
        "every event sent once, the last one at shutdown"
    );
    assert_eq!(events[0].kind, "start");
    assert_eq!(events[0].task_prompt, "What is 6 times 7?");
    for (i, ev) in events.iter().enumerate().skip(1) {
        assert_eq!(
            (ev.lease_id.as_str(), ev.task_key.as_str(), ev.attempt),
            ("lease-1", "task-1", 2)
        );
        assert_eq!(ev.kind, "step");
        let step: herd_core::trajectory::Step = serde_json::from_slice(&ev.step_json).unwrap();
        assert_eq!(step.index, i as u32, "in the order they were reported");
        assert!(ev.at_unix_ms > 0);
    }
    assert_eq!(
        (events[3].prompt_tokens, events[3].completion_tokens),
        (300, 60)
    );
    server.abort();
}
