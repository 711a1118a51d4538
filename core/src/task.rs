//! What a task is: its stable key, and the spec a worker receives (never the gold answer).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{ArmConfig, BackboneConfig, BenchmarkKind, LimitsConfig, SandboxConfig};

/// The stable key of a task: a hash of (benchmark, split, item, backbone, arm, epoch).
///
/// The same sweep config always yields the same keys, so `--resume` and re-runs find
/// finished tasks.
pub fn task_key(
    benchmark: &str,
    split: &str,
    item_id: &str,
    backbone: &str,
    arm: &str,
    epoch: u32,
) -> String {
    let mut h = Sha256::new();
    for part in [benchmark, split, item_id, backbone, arm] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update(epoch.to_le_bytes());
    hex::encode(&h.finalize()[..12])
}

/// A file attached to a benchmark item, as the worker sees it before fetching.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttachmentRef {
    /// File name as the agent will see it in `/workspace`.
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// How the task may use the action store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionAccess {
    /// Namespace (sweep × arm × backbone) in the action store.
    pub namespace: String,
    /// Retrieval of generated actions allowed.
    pub read: bool,
    /// Storing new generated actions allowed.
    pub write: bool,
}

/// Everything a worker needs to run one attempt. Holds no gold answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskSpec {
    pub key: String,
    pub sweep_id: String,
    pub benchmark: String,
    pub kind: BenchmarkKind,
    pub split: String,
    pub item_id: String,
    /// The task text given to the agent, with the benchmark's answer-format instructions.
    pub prompt: String,
    pub attachments: Vec<AttachmentRef>,
    pub backbone: BackboneConfig,
    pub arm: ArmConfig,
    pub epoch: u32,
    /// Seed for this task (derived from the sweep seed and the key).
    pub seed: u64,
    /// Limits with the arm's overrides applied.
    pub limits: LimitsConfig,
    pub sandbox: SandboxConfig,
    pub actions: ActionAccess,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// Derives a task seed from the sweep seed and the task key.
pub fn task_seed(sweep_seed: u64, key: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(sweep_seed.to_le_bytes());
    h.update(key.as_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}
