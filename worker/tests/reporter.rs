//! The worker's report sender against a recording coordinator double: reports that finish
//! while a call is in flight share the next call, and each caller gets its own answer.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use herd_proto::v1::worker_service_server::{WorkerService, WorkerServiceServer};
use herd_proto::v1::*;
use herd_worker::reporter::Reporter;
use parking_lot::Mutex;
use tonic::{Request, Response, Status, Streaming};

type Chunks = Pin<Box<dyn Stream<Item = Result<AttachmentChunk, Status>> + Send>>;
type Beats = Pin<Box<dyn Stream<Item = Result<HeartbeatResponse, Status>> + Send>>;

/// Records the size of every batch; each call takes 200 ms; task `bad` is refused.
#[derive(Clone, Default)]
struct Recorder {
    batches: Arc<Mutex<Vec<usize>>>,
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(WorkerServiceServer::new(recorder.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let client = herd_proto::client::worker_client(&format!("http://{addr}"), None, None).unwrap();
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
