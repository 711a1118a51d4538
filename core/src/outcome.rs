//! What a worker reports for one attempt: how it ended, the answer, metrics and trajectory.

use serde::{Deserialize, Serialize};

use crate::trajectory::Trajectory;

/// Why an attempt ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// `submit_final_answer` was called by a successful cell.
    Submitted,
    /// The step limit was reached without an answer.
    StepLimit,
    PromptTokenBudget,
    CompletionTokenBudget,
    CostBudget,
    /// The task's wall-clock limit.
    WallTime,
    /// An error the agent could not recover from (LLM down, sandbox died, …).
    Error,
    /// The sweep was cancelled or the worker shut down.
    Cancelled,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Submitted => "submitted",
            EndReason::StepLimit => "step-limit",
            EndReason::PromptTokenBudget => "prompt-token-budget",
            EndReason::CompletionTokenBudget => "completion-token-budget",
            EndReason::CostBudget => "cost-budget",
            EndReason::WallTime => "wall-time",
            EndReason::Error => "error",
            EndReason::Cancelled => "cancelled",
        }
    }
}

/// Counted work of one attempt. Every LLM call is in here, hidden ones included.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskMetrics {
    pub steps: u32,
    pub llm_calls: u32,
    pub cached_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub wall_ms: u64,
    pub model_ms: u64,
    pub exec_ms: u64,
    pub retries_rate_limited: u32,
    pub retries_server_error: u32,
    pub retries_connection: u32,
    pub actions_created: u32,
    pub actions_retrieved: u32,
    /// Calls of generated actions (the task's own functions and stored actions alike).
    pub generated_calls: u32,
    /// Calls of user-defined actions.
    pub user_calls: u32,
    /// Names of actions called, with counts.
    pub actions_called: Vec<(String, u32)>,
    /// Generated actions in the namespace when the task started.
    pub library_size: u64,
    /// Steps whose code called only actions that already existed (and built no new ones).
    pub covered_steps: u32,
    /// The part of `generated_calls` that called an action an earlier task wrote (loaded
    /// or retrieved from the library), not a function this task defined itself.
    #[serde(default)]
    pub reused_calls: u32,
}

/// A classified error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskError {
    /// e.g. `llm-client`, `llm-unavailable`, `sandbox`, `attachment`, `internal`.
    pub kind: String,
    pub message: String,
}

/// Which sandbox ran the attempt.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SandboxInfo {
    /// `docker` or `local`.
    pub kind: String,
    /// Image tag (with its recipe hash) for docker.
    pub image: String,
}

/// The report of one attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskOutcome {
    pub end: EndReason,
    /// The final answer (after reformulation when the arm asks for it).
    pub answer: Option<String>,
    /// The answer as `submit_final_answer` received it.
    pub raw_answer: Option<String>,
    pub metrics: TaskMetrics,
    pub sandbox: SandboxInfo,
    /// Exact model identity (server model name or GGUF metadata).
    pub model_identity: String,
    pub error: Option<TaskError>,
    pub trajectory: Trajectory,
}

/// The error kind of an attempt that never started because its worker cannot run sandboxes
/// now (the engine is unreachable or refuses to start containers). The worker hands such a
/// task back without spending an attempt and pauses leasing until its engine answers again.
pub const SANDBOX_UNAVAILABLE: &str = "sandbox-unavailable";

impl TaskOutcome {
    /// An attempt this worker could not start for want of a sandbox: not the task's fault.
    pub fn sandbox_unavailable(message: String) -> TaskOutcome {
        TaskOutcome::failure(SANDBOX_UNAVAILABLE, message)
    }

    /// Whether the attempt failed for want of a sandbox on its worker (see
    /// [`SANDBOX_UNAVAILABLE`]).
    pub fn is_sandbox_unavailable(&self) -> bool {
        self.end == EndReason::Error
            && self
                .error
                .as_ref()
                .is_some_and(|e| e.kind == SANDBOX_UNAVAILABLE)
    }

    /// An attempt that failed before its agent ran (or never reported): an error of `kind`
    /// and nothing else.
    pub fn failure(kind: &str, message: String) -> TaskOutcome {
        TaskOutcome {
            end: EndReason::Error,
            answer: None,
            raw_answer: None,
            metrics: Default::default(),
            sandbox: Default::default(),
            model_identity: String::new(),
            error: Some(TaskError {
                kind: kind.to_string(),
                message,
            }),
            trajectory: Default::default(),
        }
    }
}
