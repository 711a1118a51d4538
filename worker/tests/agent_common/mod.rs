//! Test doubles for the agent loop: a scripted chat model, a scripted code session (code →
//! host calls + outcome), a recording action store, and a task-spec builder.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herd_core::config::{ArmConfig, BackboneConfig, BenchmarkKind, LimitsConfig, SandboxConfig};
use herd_core::kernel::{
    CellError, CellOutcome, CodeSession, FunctionDef, HostCalls, SessionError,
};
use herd_core::outcome::SandboxInfo;
use herd_core::task::{ActionAccess, TaskSpec};
use herd_llm::{ChatModel, ChatRequest, ChatResponse, LlmError, RetryCounts};
use herd_worker::agent::{ActionSource, ActionView, AgentDeps, NoActions, TokioClock};
use herd_worker::tools::ToolBox;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub fn spec() -> TaskSpec {
    let backbone: BackboneConfig =
        serde_json::from_value(json!({"name": "b", "model": "m"})).unwrap();
    let arm: ArmConfig = serde_json::from_value(json!({"name": "a"})).unwrap();
    TaskSpec {
        key: "task-1".into(),
        sweep_id: "s".into(),
        benchmark: "herd-mini".into(),
        kind: BenchmarkKind::HerdMini,
        split: "test".into(),
        item_id: "1".into(),
        prompt: "What is 6 times 7?".into(),
        attachments: Vec::new(),
        backbone,
        arm,
        epoch: 0,
        seed: 7,
        limits: LimitsConfig::default(),
        sandbox: SandboxConfig::default(),
        actions: ActionAccess {
            namespace: "ns".into(),
            read: true,
            write: true,
        },
        attempt: 1,
    }
}

/// A scripted reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub cached: bool,
}

pub fn step(thought: &str, code: &str) -> Reply {
    text(&json!({"thought": thought, "code": code}).to_string())
}

pub fn text(content: &str) -> Reply {
    Reply {
        content: content.into(),
        prompt_tokens: 100,
        completion_tokens: 20,
        cost_usd: 0.001,
        cached: false,
    }
}

/// Answers with the scripted replies in order (the last one repeats); records requests.
pub struct ScriptedModel {
    replies: Vec<Reply>,
    next: Mutex<usize>,
    pub requests: Mutex<Vec<ChatRequest>>,
    pub latency: Duration,
}

impl ScriptedModel {
    pub fn new(replies: Vec<Reply>) -> Arc<Self> {
        Arc::new(ScriptedModel {
            replies,
            next: Mutex::new(0),
            requests: Mutex::new(Vec::new()),
            latency: Duration::ZERO,
        })
    }
    pub fn slow(replies: Vec<Reply>, latency: Duration) -> Arc<Self> {
        Arc::new(ScriptedModel {
            replies,
            next: Mutex::new(0),
            requests: Mutex::new(Vec::new()),
            latency,
        })
    }
    pub fn calls(&self) -> usize {
        self.requests.lock().len()
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.requests.lock().push(req.clone());
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let r = {
            let mut i = self.next.lock();
            let r = self.replies[(*i).min(self.replies.len() - 1)].clone();
            *i += 1;
            r
        };
        Ok(ChatResponse {
            content: r.content,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cost_usd: r.cost_usd,
            cached: r.cached,
            latency_ms: 5,
            retries: RetryCounts::default(),
            model: "scripted".into(),
        })
    }
    fn identity(&self) -> String {
        "scripted-model".into()
    }
}

/// What the scripted session does for one code cell.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub host_calls: Vec<(String, Value)>,
    pub outcome: CellOutcome,
}

pub fn ok(output: &str) -> Cell {
    Cell {
        host_calls: Vec::new(),
        outcome: CellOutcome {
            output: output.into(),
            ..Default::default()
        },
    }
}

/// A cell that submits through the prelude's wrapper, as a real kernel would: the wrapper
/// calls the host-call primitive, whose stub sends `{"args": [name, kwargs], "kwargs": {}}`.
pub fn submit(answer: &str) -> Cell {
    Cell {
        host_calls: vec![(
            "__herd_host__".into(),
            json!({"args": ["submit_final_answer", {"answer": answer}], "kwargs": {}}),
        )],
        outcome: CellOutcome {
            called: vec!["submit_final_answer".into()],
            ..Default::default()
        },
    }
}

pub fn error(ename: &str, evalue: &str) -> Cell {
    Cell {
        host_calls: Vec::new(),
        outcome: CellOutcome {
            error: Some(CellError {
                ename: ename.into(),
                evalue: evalue.into(),
                traceback: format!(
                    "Traceback (most recent call last):\n  File \"<cell>\", line 1\n{ename}: {evalue}"
                ),
            }),
            ..Default::default()
        },
    }
}

pub fn function(name: &str) -> FunctionDef {
    FunctionDef {
        name: name.into(),
        signature: "(x: int)".into(),
        returns: Some("int".into()),
        docstring: Some(format!("Compute {name}.")),
        source: format!(
            "def {name}(x: int) -> int:\n    \"\"\"Compute {name}.\"\"\"\n    return x\n"
        ),
        imports: Vec::new(),
        calls: Vec::new(),
    }
}

/// Runs cells from a code → cell map (unknown code, e.g. the prelude, runs cleanly).
pub struct ScriptedSession {
    pub cells: HashMap<String, Cell>,
    pub ran: Arc<Mutex<Vec<String>>>,
    pub host_results: Arc<Mutex<Vec<Result<Value, String>>>>,
    pub closed: Arc<Mutex<bool>>,
    pub defined: Arc<Mutex<Vec<String>>>,
    pub delay: Duration,
}

impl ScriptedSession {
    pub fn new(cells: Vec<(&str, Cell)>) -> Self {
        ScriptedSession {
            cells: cells.into_iter().map(|(c, o)| (c.to_string(), o)).collect(),
            ran: Arc::new(Mutex::new(Vec::new())),
            host_results: Arc::new(Mutex::new(Vec::new())),
            closed: Arc::new(Mutex::new(false)),
            defined: Arc::new(Mutex::new(Vec::new())),
            delay: Duration::ZERO,
        }
    }
}

#[async_trait]
impl CodeSession for ScriptedSession {
    async fn run_cell(
        &mut self,
        code: &str,
        _timeout: Duration,
        host: &dyn HostCalls,
    ) -> Result<CellOutcome, SessionError> {
        self.ran.lock().push(code.to_string());
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let cell = self.cells.get(code).cloned().unwrap_or_default();
        for (name, args) in &cell.host_calls {
            let r = host.call(name, args.clone()).await;
            self.host_results.lock().push(r);
        }
        Ok(cell.outcome)
    }
    async fn define_host_functions(&mut self, names: &[String]) -> Result<(), SessionError> {
        self.defined.lock().extend(names.iter().cloned());
        Ok(())
    }
    async fn put_file(&mut self, name: &str, _bytes: &[u8]) -> Result<String, SessionError> {
        Ok(format!("/workspace/{name}"))
    }
    fn workspace(&self) -> String {
        "/workspace".into()
    }
    fn info(&self) -> SandboxInfo {
        SandboxInfo {
            kind: "scripted".into(),
            image: String::new(),
        }
    }
    async fn close(&mut self) {
        *self.closed.lock() = true;
    }
}

/// An action store that records what it is given and retrieves fixed views.
#[derive(Default)]
pub struct RecordingActions {
    pub views: Vec<ActionView>,
    pub stored: Mutex<Vec<(u32, Vec<String>)>>,
    pub docstrings: Mutex<Vec<Option<String>>>,
    pub queries: Mutex<Vec<(String, usize)>>,
    pub generated: Vec<String>,
    pub size: u64,
}

#[async_trait]
impl ActionSource for RecordingActions {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<ActionView>, String> {
        self.queries.lock().push((query.to_string(), k));
        Ok(self.views.iter().take(k).cloned().collect())
    }
    async fn store(&self, fns: &[FunctionDef], step: u32) -> Result<u32, String> {
        self.stored
            .lock()
            .push((step, fns.iter().map(|f| f.name.clone()).collect()));
        self.docstrings
            .lock()
            .extend(fns.iter().map(|f| f.docstring.clone()));
        Ok(fns.len() as u32)
    }
    async fn library_size(&self) -> u64 {
        self.size
    }
    fn is_generated(&self, name: &str) -> bool {
        self.generated.iter().any(|g| g == name) || self.views.iter().any(|v| v.name == name)
    }
}

pub fn deps(model: Arc<dyn ChatModel>, session: ScriptedSession) -> AgentDeps {
    AgentDeps {
        model,
        session: Box::new(session),
        actions: Arc::new(NoActions),
        tools: Arc::new(ToolBox::none()),
        cancel: CancellationToken::new(),
        reformulation: None,
        clock: Arc::new(TokioClock),
        steps: None,
    }
}
