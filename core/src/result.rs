//! The result row recorded once per task (and the attempt rows beside it): the schema
//! `results.parquet` and the report are built on.

use serde::{Deserialize, Serialize};

/// Final status of a task.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// An answer (possibly none) was scored.
    Scored,
    /// Failed after all attempts (errors, not wrong answers).
    Failed,
    /// Hit its wall-clock limit.
    Timeout,
    /// Ran out of steps, tokens or cost.
    Budget,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scored => "scored",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Budget => "budget",
            Status::Cancelled => "cancelled",
        }
    }
}

/// One row per task.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResultRecord {
    pub sweep: String,
    pub task_key: String,
    pub benchmark: String,
    pub split: String,
    pub item_id: String,
    /// Item metadata as JSON object text (level, subject, …).
    pub metadata: String,
    pub level: Option<String>,
    pub subject: Option<String>,
    pub backbone: String,
    pub arm: String,
    pub accumulation: String,
    pub epoch: u32,
    pub seed: u64,
    /// `Status::as_str`.
    pub status: String,
    /// None unless status is `scored` (and gold exists).
    pub correct: Option<bool>,
    pub score: Option<f64>,
    pub answer: Option<String>,
    pub extracted_answer: Option<String>,
    pub gold_answer: Option<String>,
    pub scorer: String,
    pub scorer_rule: String,
    pub end_reason: String,
    pub steps: u32,
    pub llm_calls: u32,
    pub cached_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub wall_ms: u64,
    pub model_ms: u64,
    pub exec_ms: u64,
    pub actions_created: u32,
    pub actions_retrieved: u32,
    pub generated_calls: u32,
    pub user_calls: u32,
    /// JSON list of `[name, count]`.
    pub actions_called: String,
    pub library_size: u64,
    pub covered_steps: u32,
    /// Calls of actions an earlier task wrote (part of `generated_calls`); 0 in results
    /// written before it was recorded.
    #[serde(default)]
    pub reused_calls: u32,
    pub sandbox_kind: String,
    pub sandbox_image: String,
    pub model_identity: String,
    pub dataset_fingerprint: String,
    pub herd_version: String,
    pub worker: String,
    pub attempts: u32,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    /// Completion order within the sweep (for library growth curves).
    pub finished_seq: u64,
    pub finished_at: String,
}

impl ResultRecord {
    /// Whether this task belongs to a train-then-test arm's training phase (its `train`
    /// split). Such tasks fill the arm's library; they are never part of the arm's result,
    /// which is its test split's. The report's Polars query `is_training` mirrors this rule.
    pub fn is_training_phase(&self) -> bool {
        self.accumulation == "train-then-test" && self.split == "train"
    }
}

/// One row per attempt (including ones superseded by a duplicate report).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AttemptRecord {
    pub sweep: String,
    pub task_key: String,
    pub attempt: u32,
    pub worker: String,
    /// `recorded`, `duplicate`, `expired`, `error`, `abandoned`.
    pub disposition: String,
    pub end_reason: String,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub wall_ms: u64,
    pub started_at: String,
    pub finished_at: String,
}

/// The herd version string recorded with every result.
pub const HERD_VERSION: &str = env!("CARGO_PKG_VERSION");
