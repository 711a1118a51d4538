//! Thin gRPC adapters over the scheduler: the worker and control services, the shared-token
//! check, and the standard health and reflection services. No scheduling logic lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use herd_core::outcome::TaskOutcome;
use herd_proto::v1::control_service_server::{ControlService, ControlServiceServer};
use herd_proto::v1::worker_service_server::{WorkerService, WorkerServiceServer};
use herd_proto::v1::*;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

use crate::error::CoordinatorError;
use crate::scheduler::{Report, Scheduler, SubmitOptions, WatchOptions};
use crate::trajectories::TrajectoryWriter;

/// Action-store calls served to workers (`retrieve`, `store`, `size`, …), JSON in and out.
#[async_trait::async_trait]
pub trait ActionBackend: Send + Sync {
    async fn call(
        &self,
        method: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, ActionCallError>;
}

/// Why an action call failed: the store behind it could not be reached (workers may retry
/// later; sent as gRPC `UNAVAILABLE`), or the call itself failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionCallError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

/// Checks `authorization: Bearer <token>` on every call when a token is set.
#[derive(Clone)]
pub struct AuthCheck {
    token: Option<Arc<str>>,
}

impl AuthCheck {
    pub fn new(token: Option<String>) -> Self {
        AuthCheck {
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
        }
    }

    fn check(&self, req: &tonic::metadata::MetadataMap) -> Result<(), Status> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let got = req
            .get(herd_proto::AUTH_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match got {
            Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => Ok(()),
            Some(_) => Err(Status::unauthenticated("wrong herd token")),
            None => Err(Status::unauthenticated(
                "missing herd token: set HERD_TOKEN to the coordinator's token",
            )),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The worker service.
pub struct WorkerApi {
    scheduler: Scheduler,
    actions: Option<Arc<dyn ActionBackend>>,
    auth: AuthCheck,
    trajectories: TrajectoryWriter,
}

/// The control service.
pub struct ControlApi {
    scheduler: Scheduler,
    auth: AuthCheck,
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl WorkerService for WorkerApi {
    async fn register(
        &self,
        req: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        self.auth.check(req.metadata())?;
        let r = req.into_inner();
        info!(worker = %r.worker_id, host = %r.hostname, slots = r.slots, caps = ?r.capabilities, "worker registered");
        let s = self.scheduler.settings();
        Ok(Response::new(RegisterResponse {
            heartbeat_ms: s.heartbeat.as_millis() as u64,
            lease_ms: s.lease.as_millis() as u64,
            coordinator_version: crate::scheduler::version().to_string(),
        }))
    }

    async fn lease_tasks(
        &self,
        req: Request<LeaseRequest>,
    ) -> Result<Response<LeaseResponse>, Status> {
        self.auth.check(req.metadata())?;
        let r = req.into_inner();
        let wait = Duration::from_millis(r.wait_ms.min(30_000));
        let grants = self
            .scheduler
            .lease(&r.worker_id, r.max_tasks.max(1), wait)
            .await?;
        let mut leases = Vec::with_capacity(grants.len());
        for g in grants {
            let spec_json =
                serde_json::to_vec(&g.spec).map_err(|e| Status::internal(e.to_string()))?;
            leases.push(Lease {
                lease_id: g.lease_id,
                task_key: g.spec.key.clone(),
                sweep_id: g.sweep_id,
                attempt: g.spec.attempt,
                deadline_unix_ms: g.deadline_unix_ms,
                spec_json,
            });
        }
        let idle = leases.is_empty();
        Ok(Response::new(LeaseResponse { leases, idle }))
    }

    type HeartbeatStream = BoxStream<HeartbeatResponse>;

    async fn heartbeat(
        &self,
        req: Request<Streaming<HeartbeatRequest>>,
    ) -> Result<Response<Self::HeartbeatStream>, Status> {
        self.auth.check(req.metadata())?;
        let mut inbound = req.into_inner();
        let scheduler = self.scheduler.clone();
        let out = async_stream(move |tx| async move {
            while let Some(msg) = inbound.next().await {
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => {
                        warn!(error = %e, "heartbeat stream broke");
                        break;
                    }
                };
                let reply = match scheduler.heartbeat(&msg.worker_id, msg.lease_ids).await {
                    Ok(r) => Ok(HeartbeatResponse {
                        deadline_unix_ms: r.deadline_unix_ms,
                        lost: r.lost,
                        cancel: r.cancel,
                    }),
                    Err(e) => Err(Status::from(e)),
                };
                if tx.send(reply).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(out))
    }

    async fn report_result(
        &self,
        req: Request<ReportRequest>,
    ) -> Result<Response<ReportResponse>, Status> {
        self.auth.check(req.metadata())?;
        let r = req.into_inner();
        let (report, trajectory) = decode_report(r)?;
        let key = report.task_key.clone();
        let (disposition, message, out_dir) = self.scheduler.report(report).await?;
        if keeps_trajectory(disposition) {
            self.trajectories
                .write(vec![(out_dir, key, trajectory)])
                .await;
        }
        Ok(Response::new(ReportResponse {
            disposition: disposition as i32,
            message,
        }))
    }

    async fn report_results(
        &self,
        req: Request<ReportBatchRequest>,
    ) -> Result<Response<ReportBatchResponse>, Status> {
        self.auth.check(req.metadata())?;
        let reports = req.into_inner().reports;
        let mut items: Vec<Option<ReportBatchItem>> = Vec::with_capacity(reports.len());
        let mut decoded = Vec::with_capacity(reports.len());
        let mut trajectories = Vec::with_capacity(reports.len());
        for r in reports {
            match decode_report(r) {
                Ok((report, trajectory)) => {
                    items.push(None);
                    trajectories.push((report.task_key.clone(), trajectory));
                    decoded.push(report);
                }
                Err(status) => items.push(Some(batch_error(status))),
            }
        }
        let answers = self.scheduler.report_many(decoded).await?;
        let mut writes = Vec::new();
        let mut answers = answers.into_iter().zip(trajectories);
        for slot in items.iter_mut().filter(|i| i.is_none()) {
            let Some((answer, (key, trajectory))) = answers.next() else {
                break;
            };
            *slot = Some(match answer {
                Ok((disposition, message, out_dir)) => {
                    if keeps_trajectory(disposition) {
                        writes.push((out_dir, key, trajectory));
                    }
                    ReportBatchItem {
                        response: Some(ReportResponse {
                            disposition: disposition as i32,
                            message,
                        }),
                        error_code: 0,
                        error: String::new(),
                    }
                }
                Err(e) => batch_error(Status::from(e)),
            });
        }
        self.trajectories.write(writes).await;
        Ok(Response::new(ReportBatchResponse {
            items: items
                .into_iter()
                .map(|i| {
                    i.unwrap_or_else(|| batch_error(Status::internal("report was not answered")))
                })
                .collect(),
        }))
    }

    type FetchAttachmentStream = BoxStream<AttachmentChunk>;

    async fn fetch_attachment(
        &self,
        req: Request<FetchAttachmentRequest>,
    ) -> Result<Response<Self::FetchAttachmentStream>, Status> {
        self.auth.check(req.metadata())?;
        let r = req.into_inner();
        let bytes = self.scheduler.attachment(&r.task_key, &r.name).await?;
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(bytes.as_slice()))
        };
        const CHUNK: usize = 256 * 1024;
        let total = bytes.len() as u64;
        let out = async_stream(move |tx| async move {
            let mut offset = 0usize;
            loop {
                let end = (offset + CHUNK).min(bytes.len());
                let chunk = AttachmentChunk {
                    data: bytes[offset..end].to_vec(),
                    offset: offset as u64,
                    total_size: total,
                    sha256: if offset == 0 {
                        sha.clone()
                    } else {
                        String::new()
                    },
                };
                if tx.send(Ok(chunk)).await.is_err() {
                    break;
                }
                offset = end;
                if offset >= bytes.len() {
                    break;
                }
            }
        });
        Ok(Response::new(out))
    }

    async fn action_call(
        &self,
        req: Request<ActionRequest>,
    ) -> Result<Response<ActionResponse>, Status> {
        self.auth.check(req.metadata())?;
        let r = req.into_inner();
        let Some(actions) = &self.actions else {
            return Err(Status::failed_precondition(
                "this coordinator hosts no action store",
            ));
        };
        let body: serde_json::Value = serde_json::from_slice(&r.body_json).map_err(|e| {
            Status::invalid_argument(format!("malformed action call `{}`: {e}", r.method))
        })?;
        let out = actions.call(&r.method, body).await.map_err(|e| {
            let message = format!("action call `{}` failed: {e}", r.method);
            match e {
                ActionCallError::Unavailable(_) => Status::unavailable(message),
                ActionCallError::Failed(_) => Status::internal(message),
            }
        })?;
        Ok(Response::new(ActionResponse {
            body_json: serde_json::to_vec(&out).map_err(|e| Status::internal(e.to_string()))?,
        }))
    }

    async fn report_steps(&self, req: Request<StepBatch>) -> Result<Response<StepAck>, Status> {
        self.auth.check(req.metadata())?;
        let b = req.into_inner();
        Ok(Response::new(
            self.scheduler.report_steps(b.worker_id, b.steps).await?,
        ))
    }
}

/// Turns a wire report into the scheduler's, with the trajectory as JSON for its file.
fn decode_report(r: ReportRequest) -> Result<(Report, Vec<u8>), Status> {
    let outcome: TaskOutcome = serde_json::from_slice(&r.outcome_json).map_err(|e| {
        Status::invalid_argument(format!("malformed outcome for task `{}`: {e}", r.task_key))
    })?;
    // An empty trajectory (the agent never ran) gets no file.
    let trajectory = if outcome.trajectory.is_empty() {
        Vec::new()
    } else {
        serde_json::to_vec(&outcome.trajectory).unwrap_or_default()
    };
    Ok((
        Report {
            worker_id: r.worker_id,
            lease_id: r.lease_id,
            task_key: r.task_key,
            attempt: r.attempt,
            outcome,
            hand_back: r.hand_back,
        },
        trajectory,
    ))
}

/// A task's trajectory file is written when its report became the task's result.
fn keeps_trajectory(d: Disposition) -> bool {
    matches!(d, Disposition::Recorded | Disposition::Failed)
}

fn batch_error(status: Status) -> ReportBatchItem {
    ReportBatchItem {
        response: None,
        error_code: status.code() as i32,
        error: status.message().to_string(),
    }
}

#[tonic::async_trait]
impl ControlService for ControlApi {
    async fn submit_sweep(
        &self,
        req: Request<SubmitSweepRequest>,
    ) -> Result<Response<SubmitSweepResponse>, Status> {
        self.auth.check(req.metadata())?;
        let r = req.into_inner();
        let origin = if r.origin.is_empty() {
            "sweep.toml".to_string()
        } else {
            r.origin
        };
        let s = self
            .scheduler
            .submit(
                r.config_toml,
                origin,
                PathBuf::from(r.base_dir),
                SubmitOptions {
                    out_dir: (!r.out_dir.is_empty()).then(|| PathBuf::from(r.out_dir)),
                    resume: r.resume,
                    retry_failed: r.retry_failed,
                    actions_from: r.actions_from,
                },
            )
            .await?;
        Ok(Response::new(SubmitSweepResponse {
            sweep_id: s.sweep_id,
            tasks: s.tasks,
            resumed: s.resumed,
        }))
    }

    async fn get_sweep(
        &self,
        req: Request<GetSweepRequest>,
    ) -> Result<Response<SweepStatus>, Status> {
        self.auth.check(req.metadata())?;
        Ok(Response::new(
            self.scheduler.status(&req.into_inner().sweep_id).await?,
        ))
    }

    async fn list_sweeps(
        &self,
        req: Request<ListSweepsRequest>,
    ) -> Result<Response<ListSweepsResponse>, Status> {
        self.auth.check(req.metadata())?;
        Ok(Response::new(ListSweepsResponse {
            sweeps: self.scheduler.list().await?,
        }))
    }

    type WatchSweepStream = BoxStream<SweepEvent>;

    async fn watch_sweep(
        &self,
        req: Request<WatchSweepRequest>,
    ) -> Result<Response<Self::WatchSweepStream>, Status> {
        self.auth.check(req.metadata())?;
        let r = req.into_inner();
        let opts = WatchOptions {
            with_results: r.with_results,
            with_steps: r.with_steps,
        };
        let events = self.scheduler.watch(&r.sweep_id, opts).await?;
        Ok(Response::new(Box::pin(
            events.map(Ok::<SweepEvent, Status>),
        )))
    }

    async fn cancel_sweep(
        &self,
        req: Request<CancelSweepRequest>,
    ) -> Result<Response<CancelSweepResponse>, Status> {
        self.auth.check(req.metadata())?;
        let n = self.scheduler.cancel(&req.into_inner().sweep_id).await?;
        Ok(Response::new(CancelSweepResponse {
            cancelled_leases: n,
        }))
    }
}

/// Runs a producer that sends into a channel, as a response stream.
fn async_stream<T, F, Fut>(f: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// TLS files for the server.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A certificate chain and key, read and checked, ready to serve.
#[derive(Clone)]
pub struct TlsIdentity {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl TlsFiles {
    /// Reads both PEM files: an unreadable or empty file, or one that holds no PEM block, is
    /// an error naming it (never an empty identity that fails at the first handshake).
    pub fn read(&self) -> Result<TlsIdentity, CoordinatorError> {
        let read = |what: &'static str, path: &PathBuf, marker: &str| {
            let bytes = std::fs::read(path).map_err(|e| CoordinatorError::Tls {
                what,
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let text = String::from_utf8_lossy(&bytes);
            if !text.contains("-----BEGIN ") || !text.contains(marker) {
                return Err(CoordinatorError::Tls {
                    what,
                    path: path.display().to_string(),
                    message: format!("no PEM `{marker}` block in it"),
                });
            }
            Ok(bytes)
        };
        Ok(TlsIdentity {
            cert: read("certificate", &self.cert, "CERTIFICATE")?,
            key: read("key", &self.key, "PRIVATE KEY")?,
        })
    }
}

/// Serves the worker, control, health and reflection services on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    scheduler: Scheduler,
    actions: Option<Arc<dyn ActionBackend>>,
    token: Option<String>,
    tls: Option<TlsIdentity>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let auth = AuthCheck::new(token);
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<WorkerServiceServer<WorkerApi>>()
        .await;
    health_reporter
        .set_serving::<ControlServiceServer<ControlApi>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(herd_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("embedded descriptor sets are valid");
    let worker = WorkerApi {
        scheduler: scheduler.clone(),
        actions,
        auth: auth.clone(),
        trajectories: TrajectoryWriter::start(),
    };
    let control = ControlApi { scheduler, auth };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        herd_proto::install_tls_provider();
        builder = builder.tls_config(
            tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(tls.cert, tls.key)),
        )?;
    }
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    // Accepted sockets get TCP_NODELAY: without it small gRPC replies wait ~40 ms on
    // Nagle's algorithm and the delayed ACK of the peer.
    let incoming = TcpListenerStream::new(listener).map(|s| {
        if let Ok(s) = &s {
            let _ = s.set_nodelay(true);
        }
        s
    });
    info!(addr = ?addr, "coordinator listening");
    builder
        .add_service(health)
        .add_service(reflection)
        .add_service(WorkerServiceServer::new(worker).max_decoding_message_size(256 * 1024 * 1024))
        .add_service(ControlServiceServer::new(control))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
