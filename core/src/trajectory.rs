//! The record of everything one attempt did: LLM calls, steps, host calls, timings.

use serde::{Deserialize, Serialize};

/// One chat message as sent to a model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// What an LLM call was for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CallPurpose {
    Step,
    Reformulate,
    ReformulateFollowUp,
    Docstring,
    /// A vision-model call made by the `visual_qa` tool during a cell.
    Vision,
    /// A speech-to-text call made by `inspect_file_as_text` on an audio file during a cell.
    Audio,
}

/// One LLM request and its reply (or error).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LlmCall {
    pub purpose: CallPurpose,
    pub step: u32,
    /// The messages sent (the full request).
    pub messages: Vec<Message>,
    pub reply: Option<String>,
    pub error: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub cached: bool,
    pub latency_ms: u64,
    /// Retries before this reply, by cause.
    pub retries: u32,
}

/// A function call from the kernel to the worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostCallRecord {
    pub name: String,
    pub args: serde_json::Value,
    /// Result (truncated for the record) or error.
    pub result: Result<serde_json::Value, String>,
    pub ms: u64,
}

/// One step of the loop: the model's thought and code, and what running it gave.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub index: u32,
    pub thought: String,
    pub code: String,
    /// The observation sent back to the model (after truncation).
    pub observation: String,
    /// The reply could not be parsed: what was wrong.
    pub parse_error: Option<String>,
    /// The cell raised.
    pub cell_error: bool,
    pub exec_ms: u64,
    pub host_calls: Vec<HostCallRecord>,
    /// Generated actions this step's cell defined.
    pub defined: Vec<String>,
    /// Actions this step's cell called.
    pub called: Vec<String>,
}

/// The whole record of one attempt.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Trajectory {
    pub task_key: String,
    pub attempt: u32,
    pub system_prompt: String,
    pub task_prompt: String,
    pub steps: Vec<Step>,
    pub llm_calls: Vec<LlmCall>,
    /// Actions listed in the prompt or retrieved, by name.
    pub retrieved: Vec<String>,
    pub end_reason: String,
    pub notes: Vec<String>,
}

impl Trajectory {
    /// Nothing happened: no prompt, no step, no model call, no note (a task that failed
    /// before its agent ran). Such a trajectory is not written to disk.
    pub fn is_empty(&self) -> bool {
        self.system_prompt.is_empty()
            && self.task_prompt.is_empty()
            && self.steps.is_empty()
            && self.llm_calls.is_empty()
            && self.notes.is_empty()
    }
}
