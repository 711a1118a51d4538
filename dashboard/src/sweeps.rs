//! Live sweeps from a coordinator over gRPC (`ListSweeps`). Failure is soft: the view
//! carries the reason ("coordinator unreachable: …") instead of failing the page.

use std::time::Duration;

use herd_proto::client::{ControlClient, control_client};
use herd_proto::v1::{GroupStatus, ListSweepsRequest, SweepStatus};
use serde::Serialize;
use tokio::sync::OnceCell;

/// Longest a page waits for the coordinator.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Progress of one backbone × arm group of a sweep.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupRow {
    pub benchmark: String,
    pub backbone: String,
    /// The arm, marked `(training)` for a train-then-test arm's training phase.
    pub arm: String,
    pub training: bool,
    pub total: u64,
    pub done: u64,
    pub running: u64,
    pub failed: u64,
    pub scored: u64,
    pub correct: u64,
    pub accuracy: Option<f64>,
    pub cost_usd: f64,
}

impl From<GroupStatus> for GroupRow {
    fn from(g: GroupStatus) -> Self {
        GroupRow {
            accuracy: ratio(g.correct, g.scored),
            arm: g.arm_label(),
            training: g.training,
            benchmark: g.benchmark,
            backbone: g.backbone,
            total: g.total,
            done: g.done,
            running: g.running,
            failed: g.failed,
            scored: g.scored,
            correct: g.correct,
            cost_usd: g.cost_usd,
        }
    }
}

/// Progress of one sweep as the coordinator reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SweepRow {
    pub sweep_id: String,
    pub name: String,
    /// `running`, `done` or `cancelled`.
    pub state: String,
    pub phase: String,
    pub total: u64,
    pub done: u64,
    pub running: u64,
    pub failed: u64,
    pub queued: u64,
    pub scored: u64,
    pub correct: u64,
    pub accuracy: Option<f64>,
    pub cost_usd: f64,
    /// Estimated seconds left (0 when unknown).
    pub eta_secs: u64,
    pub created_unix_ms: u64,
    pub out_dir: String,
    pub groups: Vec<GroupRow>,
}

impl From<SweepStatus> for SweepRow {
    fn from(s: SweepStatus) -> Self {
        SweepRow {
            accuracy: ratio(s.correct, s.scored),
            sweep_id: s.sweep_id,
            name: s.name,
            state: s.state,
            phase: s.phase,
            total: s.total,
            done: s.done,
            running: s.running,
            failed: s.failed,
            queued: s.queued,
            scored: s.scored,
            correct: s.correct,
            cost_usd: s.cost_usd,
            eta_secs: s.eta_secs,
            created_unix_ms: s.created_unix_ms,
            out_dir: s.out_dir,
            groups: s.groups.into_iter().map(GroupRow::from).collect(),
        }
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// What the index shows (and `/api/sweeps` returns) about live sweeps.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SweepsView {
    /// The coordinator's URL; `None` when the dashboard has none.
    pub coordinator: Option<String>,
    pub sweeps: Vec<SweepRow>,
    /// Why the sweeps could not be listed (`coordinator unreachable: …`).
    pub error: Option<String>,
}

/// A coordinator connection, made on first use and reused.
pub struct Coordinator {
    url: String,
    token: Option<String>,
    client: OnceCell<Result<ControlClient, String>>,
}

impl Coordinator {
    pub fn new(url: String, token: Option<String>) -> Self {
        Coordinator {
            url,
            token,
            client: OnceCell::new(),
        }
    }

    /// Lists the coordinator's sweeps, newest first; never fails (errors go in the view).
    pub async fn list(&self) -> SweepsView {
        let mut view = SweepsView {
            coordinator: Some(self.url.clone()),
            sweeps: Vec::new(),
            error: None,
        };
        match self.fetch().await {
            Ok(mut sweeps) => {
                sweeps.sort_by(|a, b| {
                    b.created_unix_ms
                        .cmp(&a.created_unix_ms)
                        .then(a.sweep_id.cmp(&b.sweep_id))
                });
                view.sweeps = sweeps;
            }
            Err(e) => {
                tracing::warn!(coordinator = %self.url, error = %e, "failed to list sweeps");
                view.error = Some(format!("coordinator unreachable: {e}"));
            }
        }
        view
    }

    async fn fetch(&self) -> Result<Vec<SweepRow>, String> {
        let client = self
            .client
            .get_or_init(|| async { control_client(&self.url, self.token.as_deref(), None) })
            .await
            .clone()?;
        let mut client = client;
        let reply = tokio::time::timeout(CALL_TIMEOUT, client.list_sweeps(ListSweepsRequest {}))
            .await
            .map_err(|_| {
                format!(
                    "no answer from `{}` within {} s",
                    self.url,
                    CALL_TIMEOUT.as_secs()
                )
            })?
            .map_err(|s| format!("`{}` answered {:?}: {}", self.url, s.code(), s.message()))?;
        Ok(reply
            .into_inner()
            .sweeps
            .into_iter()
            .map(SweepRow::from)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_is_correct_over_scored() {
        let row = SweepRow::from(SweepStatus {
            sweep_id: "s".into(),
            scored: 4,
            correct: 3,
            groups: vec![GroupStatus::default()],
            ..Default::default()
        });
        assert_eq!(row.accuracy, Some(0.75));
        assert_eq!(row.groups[0].accuracy, None);
    }

    #[tokio::test]
    async fn an_unreachable_coordinator_is_reported_not_fatal() {
        // Bind then drop a listener so the port is (very likely) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let c = Coordinator::new(format!("http://127.0.0.1:{port}"), Some("t".into()));
        let view = c.list().await;
        assert!(view.sweeps.is_empty());
        let err = view.error.expect("error");
        assert!(err.starts_with("coordinator unreachable: "), "{err}");
        let bad = Coordinator::new("not a url".into(), None).list().await;
        assert!(
            bad.error
                .expect("error")
                .contains("invalid coordinator URL")
        );
    }
}
