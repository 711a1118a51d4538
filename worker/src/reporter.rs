//! Sends task reports to the coordinator several per call: reports that finish while a call
//! is in flight go out together in the next one, so a busy worker makes one call per batch
//! instead of one per task. Every caller still gets its own answer.

use herd_proto::v1::{ReportBatchRequest, ReportRequest, ReportResponse};
use tokio::sync::{mpsc, oneshot};
use tonic::{Code, Status};

use crate::runtime::Client;

/// At most this many reports share one call.
const MAX_REPORTS: usize = 256;
/// A call stops taking reports once their outcomes reach this many bytes.
const MAX_BYTES: usize = 16 * 1024 * 1024;

struct Pending {
    req: ReportRequest,
    reply: oneshot::Sender<Result<ReportResponse, Status>>,
}

/// A handle to the report sender. The sender task ends when the last handle is dropped.
#[derive(Clone)]
pub struct Reporter {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Reporter {
    /// Starts the sender task on the current runtime.
    pub fn start(client: Client) -> (Reporter, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Reporter { tx }, tokio::spawn(send_loop(client, rx)))
    }

    /// Sends one report (with others that are ready) and waits for its answer. A transport
    /// error comes back as the call's status, for the caller to retry.
    pub async fn report(&self, req: ReportRequest) -> Result<ReportResponse, Status> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Pending { req, reply })
            .map_err(|_| Status::unavailable("the worker's report sender has stopped"))?;
        rx.await
            .map_err(|_| Status::unavailable("the worker's report sender has stopped"))?
    }
}

async fn send_loop(client: Client, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut held: Option<Pending> = None;
    loop {
        let first = match held.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let mut bytes = first.req.outcome_json.len();
        let mut batch = vec![first];
        while batch.len() < MAX_REPORTS {
            match rx.try_recv() {
                Ok(p) if bytes + p.req.outcome_json.len() > MAX_BYTES => {
                    held = Some(p);
                    break;
                }
                Ok(p) => {
                    bytes += p.req.outcome_json.len();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let (reports, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.req, p.reply)).unzip();
        match client
            .clone()
            .report_results(ReportBatchRequest { reports })
            .await
        {
            Ok(resp) => {
                let mut items = resp.into_inner().items.into_iter();
                for reply in replies {
                    let answer = match items.next() {
                        Some(item) => match item.response {
                            Some(r) => Ok(r),
                            None => Err(Status::new(Code::from(item.error_code), item.error)),
                        },
                        None => Err(Status::internal(
                            "the coordinator answered fewer reports than were sent",
                        )),
                    };
                    let _ = reply.send(answer);
                }
            }
            Err(s) => {
                for reply in replies {
                    let _ = reply.send(Err(Status::new(s.code(), s.message())));
                }
            }
        }
    }
}
