//! Durable coordinator state behind one trait, with two real implementations: an embedded
//! single-file store (redb, the default) and Redis (clusters). The scheduler owns all live
//! state in memory and writes every change through `apply` in batches (group commit);
//! `load` rebuilds it after a restart.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use herd_core::result::{AttemptRecord, ResultRecord};

pub mod embedded;
pub mod redis_store;
#[cfg(test)]
mod tests;

pub use embedded::EmbeddedStore;
pub use redis_store::RedisStore;

/// An error of the state store: which store and what failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open state store `{location}`: {message}")]
    Open { location: String, message: String },
    #[error("state store `{location}` failed to {op}: {message}")]
    Io {
        location: String,
        op: &'static str,
        message: String,
    },
    #[error("state store `{location}` holds a corrupt {what} record `{key}`: {message}")]
    Corrupt {
        location: String,
        what: &'static str,
        key: String,
        message: String,
    },
}

/// A submitted sweep as stored: enough to expand it again after a restart.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SweepRecord {
    pub sweep_id: String,
    pub name: String,
    pub config_toml: String,
    pub origin: String,
    pub base_dir: String,
    /// Where results, trajectories and reports go.
    pub out_dir: String,
    /// `running`, `done`, `cancelled`.
    pub state: String,
    pub created_unix_ms: u64,
    /// Fingerprint per benchmark name, checked on re-expansion.
    pub fingerprints: Vec<(String, String)>,
    /// Train-then-test namespaces already frozen.
    pub frozen: Vec<String>,
    /// Next completion sequence number.
    pub next_seq: u64,
    pub actions_from: String,
}

/// A live lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaseRecord {
    pub sweep_id: String,
    pub task_key: String,
    pub lease_id: String,
    pub worker_id: String,
    pub attempt: u32,
    pub deadline_unix_ms: u64,
    pub started_unix_ms: u64,
}

/// Attempts spent on a task that has no result yet, and its last error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskProgress {
    pub sweep_id: String,
    pub task_key: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// One change to durable state.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    PutSweep(SweepRecord),
    PutLease(LeaseRecord),
    DeleteLease {
        sweep_id: String,
        task_key: String,
    },
    PutProgress(TaskProgress),
    /// A task's one result; the store keeps the first it is given for a key.
    PutResult(Box<ResultRecord>),
    /// Removes a task's result (`--retry-failed` gives a failed task a fresh budget).
    DeleteResult {
        sweep_id: String,
        task_key: String,
    },
    /// Appended, never replaced.
    PutAttempt(Box<AttemptRecord>),
}

/// Everything stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub sweeps: Vec<SweepRecord>,
    pub leases: Vec<LeaseRecord>,
    pub progress: Vec<TaskProgress>,
    pub results: Vec<ResultRecord>,
    pub attempts: Vec<AttemptRecord>,
}

/// Durable state of one coordinator.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// `embedded` or `redis`, for logs and reports.
    fn kind(&self) -> &'static str;
    /// Where it lives (file path or URL without password).
    fn location(&self) -> String;
    /// Applies all mutations atomically and durably, in order.
    async fn apply(&self, batch: std::sync::Arc<Vec<Mutation>>) -> Result<(), StoreError>;
    /// Reads everything back.
    async fn load(&self) -> Result<Snapshot, StoreError>;
}

/// Opens the store a `--state` argument names: `redis://…` or a file path.
pub async fn open(spec: &str) -> Result<std::sync::Arc<dyn StateStore>, StoreError> {
    if spec.starts_with("redis://") || spec.starts_with("rediss://") {
        Ok(std::sync::Arc::new(RedisStore::connect(spec).await?))
    } else {
        Ok(std::sync::Arc::new(
            EmbeddedStore::open(std::path::Path::new(spec)).await?,
        ))
    }
}
