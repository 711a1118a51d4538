//! One task, start to end: the prelude, the step loop with its budgets, the wall-time and
//! cancellation guards, reformulation, and the metrics and trajectory of the attempt.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use herd_core::config::{DocstringFix, StructuredOutput};
use herd_core::kernel::{CellOutcome, CodeSession};
use herd_core::outcome::{EndReason, SandboxInfo, TaskError, TaskMetrics, TaskOutcome};
use herd_core::task::TaskSpec;
use herd_core::trajectory::{CallPurpose, LlmCall, Message, Step, Trajectory};
use herd_llm::{ChatModel, ChatRequest, ChatResponse, LlmError};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::actions::ActionSource;
use super::context::{Turn, build_messages};
use super::host::{AgentHost, RETRIEVE, SUBMIT};
use super::observe::{cell_observation, truncate_middle};
use super::parse::parse_reply;
use super::prelude::{HOST_CALL_PRIMITIVE, prelude};
use super::prompt::{
    action_line, builtin_lines, example_exchange, system_prompt, task_prompt, with_loaded,
};
use crate::steps::StepSink;
use crate::tools::ToolBox;

/// The loop's clock (tokio's, so paused-time tests and timeouts agree).
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// Tokio's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Everything one task needs besides its spec.
pub struct AgentDeps {
    pub model: Arc<dyn ChatModel>,
    /// The task's fresh sandbox; `run_task` closes it.
    pub session: Box<dyn CodeSession>,
    pub actions: Arc<dyn ActionSource>,
    /// This task's user tools (ignored when the arm has `user_actions = false`).
    pub tools: Arc<ToolBox>,
    pub cancel: CancellationToken,
    /// The benchmark's answer-format rules for the reformulation call.
    pub reformulation: Option<String>,
    pub clock: Arc<dyn Clock>,
    /// Where the task's start and each completed step are reported for live views (`None`:
    /// nowhere, e.g. without a coordinator).
    pub steps: Option<StepSink>,
}

/// Extra time a session gets past the cell limit before it is declared stuck.
const CELL_GRACE: Duration = Duration::from_secs(30);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs one attempt of `spec` and reports how it ended. Never panics on bad input; every
/// failure becomes an [`EndReason`] with an error.
pub async fn run_task(spec: &TaskSpec, deps: AgentDeps) -> TaskOutcome {
    let AgentDeps {
        model,
        mut session,
        actions,
        tools,
        cancel,
        reformulation,
        clock,
        steps,
    } = deps;
    let started = clock.now();
    let none = ToolBox::none();
    let tools: &ToolBox = if spec.arm.user_actions { &tools } else { &none };
    let workspace = session.workspace();
    let mut run = Run::new(
        spec,
        &*model,
        &*actions,
        tools,
        &*clock,
        reformulation.as_deref(),
        &workspace,
    );
    run.live = steps;
    let wall = Duration::from_secs(spec.limits.wall_time_secs.max(1));
    let end = tokio::select! {
        biased;
        _ = cancel.cancelled() => EndReason::Cancelled,
        r = tokio::time::timeout(wall, run.drive(session.as_mut())) => match r {
            Ok(end) => end,
            Err(_) => EndReason::WallTime,
        },
    };
    let end = match end {
        // The answer was in before the limit; only its reformulation was cut short.
        EndReason::WallTime | EndReason::Cancelled if run.raw_answer.is_some() => {
            run.trajectory.notes.push(format!(
                "{} during reformulation; the submitted answer is kept",
                end.as_str()
            ));
            EndReason::Submitted
        }
        e => e,
    };
    if tokio::time::timeout(CLOSE_TIMEOUT, session.close())
        .await
        .is_err()
    {
        tracing::warn!(task = %spec.key, "closing the sandbox took longer than {CLOSE_TIMEOUT:?}");
        run.trajectory
            .notes
            .push("closing the sandbox timed out".into());
    }
    let wall_ms = clock.now().saturating_duration_since(started).as_millis() as u64;
    run.finish(end, wall_ms, session.info(), model.identity())
}

/// The state of one attempt.
pub(super) struct Run<'a> {
    pub spec: &'a TaskSpec,
    pub model: &'a dyn ChatModel,
    actions: &'a dyn ActionSource,
    tools: &'a ToolBox,
    clock: &'a dyn Clock,
    pub reformulation: Option<&'a str>,
    workspace: String,
    pub trajectory: Trajectory,
    pub metrics: TaskMetrics,
    turns: Vec<Turn>,
    called: BTreeMap<String, u32>,
    generated_here: HashSet<String>,
    pub raw_answer: Option<String>,
    pub answer: Option<String>,
    error: Option<TaskError>,
    last_prompt_tokens: u64,
    last_completion_tokens: u64,
    last_cost: f64,
    /// Where the attempt reports its start and steps for live views (`None`: nowhere).
    live: Option<StepSink>,
}

fn step_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {"thought": {"type": "string"}, "code": {"type": "string"}},
        "required": ["thought", "code"],
        "additionalProperties": false
    })
}

impl<'a> Run<'a> {
    fn new(
        spec: &'a TaskSpec,
        model: &'a dyn ChatModel,
        actions: &'a dyn ActionSource,
        tools: &'a ToolBox,
        clock: &'a dyn Clock,
        reformulation: Option<&'a str>,
        workspace: &str,
    ) -> Self {
        Run {
            spec,
            model,
            actions,
            tools,
            clock,
            reformulation,
            workspace: workspace.to_string(),
            trajectory: Trajectory {
                task_key: spec.key.clone(),
                attempt: spec.attempt,
                ..Default::default()
            },
            metrics: TaskMetrics::default(),
            turns: Vec::new(),
            called: BTreeMap::new(),
            generated_here: HashSet::new(),
            raw_answer: None,
            answer: None,
            error: None,
            last_prompt_tokens: 0,
            last_completion_tokens: 0,
            last_cost: 0.0,
            live: None,
        }
    }

    fn max_steps(&self) -> u32 {
        self.spec
            .arm
            .max_steps
            .unwrap_or(self.spec.limits.max_steps)
            .max(1)
    }

    fn fail(&mut self, kind: &str, message: String) -> EndReason {
        tracing::warn!(task = %self.spec.key, kind, "{message}");
        self.error = Some(TaskError {
            kind: kind.to_string(),
            message,
        });
        EndReason::Error
    }

    /// The loop, then reformulation of a submitted answer.
    async fn drive(&mut self, session: &mut dyn CodeSession) -> EndReason {
        let end = self.step_loop(session).await;
        if end == EndReason::Submitted {
            let raw = self.raw_answer.clone().unwrap_or_default();
            self.answer = Some(if self.spec.arm.reformulate {
                self.reformulate(&raw).await
            } else {
                raw
            });
        }
        end
    }

    /// One LLM call, recorded and counted (the only place usage is added up).
    pub(super) async fn chat(
        &mut self,
        purpose: CallPurpose,
        step: u32,
        messages: Vec<Message>,
        schema: Option<serde_json::Value>,
    ) -> Result<ChatResponse, LlmError> {
        let req = ChatRequest {
            messages,
            json_schema: schema,
            max_tokens: None,
            seed: Some(self.spec.seed),
        };
        let t0 = self.clock.now();
        let result = self.model.chat(&req).await;
        let ms = self.clock.now().saturating_duration_since(t0).as_millis() as u64;
        self.metrics.llm_calls += 1;
        self.metrics.model_ms += ms;
        let mut call = LlmCall {
            purpose,
            step,
            messages: req.messages,
            reply: None,
            error: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            cached: false,
            latency_ms: ms,
            retries: 0,
        };
        match &result {
            Ok(r) => {
                // A cached reply made no call, so it cost nothing whatever it reports.
                let cost = if r.cached { 0.0 } else { r.cost_usd.max(0.0) };
                call.reply = Some(r.content.clone());
                call.prompt_tokens = r.prompt_tokens;
                call.completion_tokens = r.completion_tokens;
                call.cost_usd = cost;
                call.cached = r.cached;
                call.latency_ms = r.latency_ms;
                call.retries = r.retries.rate_limited
                    + r.retries.server_error
                    + r.retries.connection
                    + r.retries.timeout;
                self.metrics.prompt_tokens += r.prompt_tokens;
                self.metrics.completion_tokens += r.completion_tokens;
                self.metrics.cost_usd += cost;
                if r.cached {
                    self.metrics.cached_calls += 1;
                }
                self.metrics.retries_rate_limited += r.retries.rate_limited;
                self.metrics.retries_server_error += r.retries.server_error;
                // TaskMetrics has no timeout bucket: timeouts are connection-level failures.
                self.metrics.retries_connection += r.retries.connection + r.retries.timeout;
                self.last_prompt_tokens = r.prompt_tokens;
                self.last_completion_tokens = r.completion_tokens;
                self.last_cost = cost;
            }
            Err(e) => call.error = Some(e.to_string()),
        }
        self.trajectory.llm_calls.push(call);
        result
    }

    /// Counts the LLM calls the tools made during the last cell (visual_qa, audio) like the
    /// loop's own: tokens, cost, retries and calls towards the budgets and metrics, each
    /// recorded in the trajectory. Their time is already in the cell's execution time.
    fn absorb_tool_llm_calls(&mut self) {
        let r = self.tools.take_tool_retries();
        self.metrics.retries_rate_limited += r.rate_limited;
        self.metrics.retries_server_error += r.server_error;
        self.metrics.retries_connection += r.connection;
        for mut call in self.tools.take_llm_calls() {
            call.step = self.metrics.steps;
            let m = &mut self.metrics;
            m.llm_calls += 1;
            m.prompt_tokens += call.prompt_tokens;
            m.completion_tokens += call.completion_tokens;
            if call.cached {
                m.cached_calls += 1;
                call.cost_usd = 0.0;
            }
            m.cost_usd += call.cost_usd.max(0.0);
            self.trajectory.llm_calls.push(call);
        }
    }

    /// A budget the next step call would break, if any.
    fn budget_hit(&self) -> Option<EndReason> {
        let l = &self.spec.limits;
        let m = &self.metrics;
        if let Some(max) = l.max_prompt_tokens
            && (m.prompt_tokens >= max || m.prompt_tokens + self.last_prompt_tokens > max)
        {
            return Some(EndReason::PromptTokenBudget);
        }
        if let Some(max) = l.max_completion_tokens
            && (m.completion_tokens >= max
                || m.completion_tokens + self.last_completion_tokens > max)
        {
            return Some(EndReason::CompletionTokenBudget);
        }
        if let Some(max) = l.max_cost_usd
            && (m.cost_usd >= max || m.cost_usd + self.last_cost > max)
        {
            return Some(EndReason::CostBudget);
        }
        None
    }

    fn context_budget(&self) -> u64 {
        let window = u64::from(self.spec.backbone.context_window.max(1024));
        let reserve = self
            .spec
            .backbone
            .max_tokens
            .map_or(window / 8, u64::from)
            .min(window / 2);
        window - reserve
    }

    async fn run_prelude(
        &mut self,
        session: &mut dyn CodeSession,
        host: &AgentHost<'_>,
    ) -> Result<(), String> {
        let code = prelude(
            self.tools,
            &self.workspace,
            self.spec.arm.retrieval_k,
            &host.loaded_sources(),
        );
        let timeout = Duration::from_secs(self.spec.limits.cell_timeout_secs.max(1));
        let t0 = self.clock.now();
        let r = tokio::time::timeout(timeout + CELL_GRACE, session.run_cell(&code, timeout, host))
            .await;
        self.metrics.exec_ms += self.clock.now().saturating_duration_since(t0).as_millis() as u64;
        let _ = host.take_cell();
        match r {
            Err(_) => Err("the sandbox did not answer while the prelude ran".into()),
            Ok(Err(e)) => Err(format!("the sandbox failed while the prelude ran: {e}")),
            Ok(Ok(o)) => {
                if let Some(e) = o.error {
                    let note = format!(
                        "the prelude cell raised {}: {}; host functions may be missing",
                        e.ename, e.evalue
                    );
                    tracing::warn!(task = %self.spec.key, "{note}");
                    self.trajectory.notes.push(note);
                }
                Ok(())
            }
        }
    }

    async fn step_loop(&mut self, session: &mut dyn CodeSession) -> EndReason {
        let spec = self.spec;
        let (tools, actions, clock) = (self.tools, self.actions, self.clock);
        let host = AgentHost::new(
            tools,
            actions,
            clock,
            spec.actions.read,
            spec.arm.retrieval_k,
        );
        self.metrics.library_size = actions.library_size().await;

        let mut lines = builtin_lines(spec.arm.retrieval_k);
        lines.extend(tools.prompt_lines());
        let mut loaded = Vec::new();
        if spec.arm.prompt_actions > 0 && spec.actions.read {
            match actions
                .retrieve(&spec.prompt, spec.arm.prompt_actions as usize)
                .await
            {
                Ok(views) => {
                    let listed = host.preload(&views);
                    for v in views.iter().filter(|v| listed.contains(&v.name)) {
                        loaded.push(action_line(v));
                    }
                    lines.extend(loaded.iter().cloned());
                }
                Err(e) => self
                    .trajectory
                    .notes
                    .push(format!("retrieving actions for the prompt failed: {e}")),
            }
        }
        let max_steps = self.max_steps();
        let system = system_prompt(&lines, max_steps, &self.workspace, spec.arm.network);
        let task = task_prompt(spec, &self.workspace);
        // With the example exchange, the task message also names the functions earlier tasks
        // wrote, in the form the reuse example shows.
        let (task, examples) = if spec.backbone.example_exchange {
            (with_loaded(task, &loaded), example_exchange())
        } else {
            (task, Vec::new())
        };
        self.trajectory.system_prompt = system.clone();
        self.trajectory.task_prompt = task.clone();
        if let Some(live) = &self.live {
            live.start(
                &task,
                self.metrics.prompt_tokens,
                self.metrics.completion_tokens,
            );
        }

        if let Err(e) = session
            .define_host_functions(&[HOST_CALL_PRIMITIVE.to_string()])
            .await
        {
            return self.fail(
                "sandbox",
                format!("the sandbox cannot expose host functions: {e}"),
            );
        }
        if let Err(e) = self.run_prelude(session, &host).await {
            self.sync_retrieved(&host);
            return self.fail("sandbox", e);
        }
        let schema = (spec.backbone.structured_output != StructuredOutput::None).then(step_schema);
        let obs_chars = spec.limits.observation_chars.max(200);
        let cell_timeout = Duration::from_secs(spec.limits.cell_timeout_secs.max(1));
        let budget = self.context_budget();

        for step in 1..=max_steps {
            self.absorb_tool_llm_calls();
            if let Some(reason) = self.budget_hit() {
                self.sync_retrieved(&host);
                return reason;
            }
            let (messages, shortened) =
                build_messages(&system, &examples, &task, &self.turns, budget);
            if shortened > 0 {
                tracing::debug!(task = %spec.key, step, shortened, "observations shortened to fit the context window");
            }
            let reply = match self
                .chat(CallPurpose::Step, step, messages, schema.clone())
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    self.sync_retrieved(&host);
                    return self.fail(llm_error_kind(&e), format!("step {step}: {e}"));
                }
            };
            self.metrics.steps += 1;
            let parsed = match parse_reply(&reply.content) {
                Ok(p) => p,
                Err(problem) => {
                    let observation = format!(
                        "Your reply could not be used: {problem}. Reply with exactly one JSON object: {{\"thought\": \"...\", \"code\": \"...\"}}."
                    );
                    self.turns.push(Turn {
                        assistant: truncate_middle(&reply.content, obs_chars),
                        observation: observation.clone(),
                    });
                    self.push_step(Step {
                        index: step,
                        thought: String::new(),
                        code: String::new(),
                        observation,
                        parse_error: Some(problem),
                        cell_error: false,
                        exec_ms: 0,
                        host_calls: Vec::new(),
                        defined: Vec::new(),
                        called: Vec::new(),
                    });
                    continue;
                }
            };

            let t0 = self.clock.now();
            let ran = tokio::time::timeout(
                cell_timeout + CELL_GRACE,
                session.run_cell(&parsed.code, cell_timeout, &host),
            )
            .await;
            let exec_ms = self.clock.now().saturating_duration_since(t0).as_millis() as u64;
            self.metrics.exec_ms += exec_ms;
            let report = host.take_cell();
            let outcome = match ran {
                Ok(Ok(o)) => o,
                failed => {
                    let message = match failed {
                        Ok(Err(e)) => format!("step {step}: {e}"),
                        _ => format!(
                            "step {step}: the sandbox did not return within {:?} of the cell limit",
                            CELL_GRACE
                        ),
                    };
                    self.push_step(Step {
                        index: step,
                        thought: parsed.thought,
                        code: parsed.code,
                        observation: String::new(),
                        parse_error: None,
                        cell_error: true,
                        exec_ms,
                        host_calls: report.records,
                        defined: Vec::new(),
                        called: Vec::new(),
                    });
                    self.sync_retrieved(&host);
                    return self.fail("sandbox", message);
                }
            };
            let errored = outcome.error.is_some() || outcome.timed_out;
            let submit_rejected = report.submitted.is_some() && errored;
            let mut observation =
                cell_observation(&outcome, cell_timeout.as_secs(), submit_rejected, obs_chars);
            if report.submitted.is_none() {
                observation.push_str(&submit_reminder(max_steps.saturating_sub(step)));
            }
            let defined = self.store_functions(&outcome, errored, step, &host).await;
            let called = self.count_calls(&outcome, &report.tool_calls, &defined, &host);
            let assistant =
                serde_json::to_string(&json!({"thought": parsed.thought, "code": parsed.code}))
                    .unwrap_or_else(|_| parsed.code.clone());
            self.turns.push(Turn {
                assistant,
                observation: observation.clone(),
            });
            self.push_step(Step {
                index: step,
                thought: parsed.thought,
                code: parsed.code,
                observation,
                parse_error: None,
                cell_error: errored,
                exec_ms,
                host_calls: report.records,
                defined,
                called,
            });
            if let (Some(answer), false) = (report.submitted, errored) {
                self.raw_answer = Some(answer);
                self.sync_retrieved(&host);
                return EndReason::Submitted;
            }
            if let Some(why) = &outcome.restarted {
                self.trajectory.notes.push(format!(
                    "step {step}: the kernel restarted ({why}); prelude run again"
                ));
                if let Err(e) = self.run_prelude(session, &host).await {
                    self.sync_retrieved(&host);
                    return self.fail("sandbox", e);
                }
            }
        }
        self.sync_retrieved(&host);
        EndReason::StepLimit
    }

    /// Records a completed step and reports it, with the tokens used so far (the tools'
    /// calls during its cell included), to the live view.
    fn push_step(&mut self, step: Step) {
        self.absorb_tool_llm_calls();
        if let Some(live) = &self.live {
            live.step(
                &step,
                self.metrics.prompt_tokens,
                self.metrics.completion_tokens,
            );
        }
        self.trajectory.steps.push(step);
    }

    fn sync_retrieved(&mut self, host: &AgentHost<'_>) {
        self.trajectory.retrieved = host.retrieved();
        self.metrics.actions_retrieved = self.trajectory.retrieved.len() as u32;
    }

    /// Stores the functions of a cell that ran cleanly; returns the names it defined.
    async fn store_functions(
        &mut self,
        outcome: &CellOutcome,
        errored: bool,
        step: u32,
        host: &AgentHost<'_>,
    ) -> Vec<String> {
        let fns: Vec<_> = outcome
            .functions
            .iter()
            .filter(|f| {
                !(f.name == SUBMIT
                    || f.name == RETRIEVE
                    || self.tools.has(&f.name)
                    || f.name.starts_with("_herd"))
            })
            .cloned()
            .collect();
        let defined: Vec<String> = fns.iter().map(|f| f.name.clone()).collect();
        if errored || fns.is_empty() {
            return defined;
        }
        let _ = host;
        for f in &fns {
            self.generated_here.insert(f.name.clone());
        }
        if self.spec.actions.write {
            let mut fns = fns;
            if self.spec.arm.docstring_fix == DocstringFix::Llm {
                for f in fns
                    .iter_mut()
                    .filter(|f| f.docstring.as_deref().is_none_or(|d| d.trim().is_empty()))
                {
                    f.docstring = self.write_docstring(step, &f.source).await;
                }
            }
            match self.actions.store(&fns, step).await {
                Ok(n) => self.metrics.actions_created += n,
                Err(e) => {
                    tracing::warn!(task = %self.spec.key, step, "storing actions failed: {e}");
                    self.trajectory
                        .notes
                        .push(format!("step {step}: storing actions failed: {e}"));
                }
            }
        }
        defined
    }

    /// Asks the backbone for a one-line docstring (a counted call); `None` when it fails.
    async fn write_docstring(&mut self, step: u32, source: &str) -> Option<String> {
        let messages = vec![
            Message {
                role: "system".into(),
                content: "You write one-line Python docstrings.".into(),
            },
            Message {
                role: "user".into(),
                content: format!(
                    "Write a one-line docstring (under 100 characters, starting with a verb) that says what this function does. Reply with the docstring text only.\n\n```python\n{}\n```",
                    source.trim_end()
                ),
            },
        ];
        match self
            .chat(CallPurpose::Docstring, step, messages, None)
            .await
        {
            Ok(r) => {
                let line = r
                    .content
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'' || c == '`')
                    .trim();
                let line = line.lines().next().unwrap_or("").trim().to_string();
                (!line.is_empty()).then_some(line)
            }
            Err(e) => {
                self.trajectory
                    .notes
                    .push(format!("step {step}: writing a docstring failed: {e}"));
                None
            }
        }
    }

    /// Counts the actions a cell called; returns their names (once each, in order). A call
    /// of a generated action is also a reused call when this task did not define the name
    /// (in this cell or an earlier one): the action came from the library, written by an
    /// earlier task.
    fn count_calls(
        &mut self,
        outcome: &CellOutcome,
        tool_calls: &[String],
        defined: &[String],
        host: &AgentHost<'_>,
    ) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut names = Vec::new();
        for n in outcome.called.iter().chain(tool_calls) {
            if n == SUBMIT || n == RETRIEVE || !seen.insert(n.clone()) {
                continue;
            }
            let user = self.tools.has(n);
            let own = self.generated_here.contains(n) || defined.contains(n);
            let stored = self.actions.is_generated(n) || host.is_loaded(n);
            if user {
                self.metrics.user_calls += 1;
            } else if own || stored {
                self.metrics.generated_calls += 1;
                if !own {
                    self.metrics.reused_calls += 1;
                }
            } else {
                continue;
            }
            *self.called.entry(n.clone()).or_insert(0) += 1;
            names.push(n.clone());
        }
        if defined.is_empty() && !names.is_empty() {
            self.metrics.covered_steps += 1;
        }
        names
    }

    fn finish(
        mut self,
        end: EndReason,
        wall_ms: u64,
        sandbox: SandboxInfo,
        model_identity: String,
    ) -> TaskOutcome {
        self.absorb_tool_llm_calls();
        self.metrics.wall_ms = wall_ms;
        self.metrics.actions_called = std::mem::take(&mut self.called).into_iter().collect();
        self.trajectory.end_reason = end.as_str().to_string();
        let (answer, raw_answer) = if end == EndReason::Submitted {
            let raw = self.raw_answer.take();
            (self.answer.take().or_else(|| raw.clone()), raw)
        } else {
            (None, None)
        };
        let error = match end {
            EndReason::Error => self.error.take(),
            _ => None,
        };
        TaskOutcome {
            end,
            answer,
            raw_answer,
            metrics: self.metrics,
            sandbox,
            model_identity,
            error,
            trajectory: self.trajectory,
        }
    }
}

fn llm_error_kind(e: &LlmError) -> &'static str {
    match e {
        LlmError::Client { .. } => "llm-client",
        LlmError::Unavailable { .. } => "llm-unavailable",
        LlmError::Malformed(_) => "llm-malformed",
        LlmError::Config(_) => "llm-config",
        LlmError::Local(_) => "llm-local",
    }
}

/// Said after every cell that did not submit: small models often compute the answer and
/// forget to hand it in, so the observation says how many steps are left and how to finish.
fn submit_reminder(steps_left: u32) -> String {
    match steps_left {
        0 => String::new(),
        1 => "\nOne step left: call submit_final_answer(answer) with your best answer now."
            .to_string(),
        n => format!(
            "\n(Not submitted yet; {n} steps left. When you have the answer, call submit_final_answer(answer).)"
        ),
    }
}

#[cfg(test)]
mod reminder_tests {
    use super::submit_reminder;

    #[test]
    fn the_reminder_counts_down_and_says_when_the_last_step_comes() {
        assert!(submit_reminder(5).contains("5 steps left"));
        assert!(submit_reminder(1).contains("One step left"));
        assert_eq!(submit_reminder(0), "", "nothing after the last step");
    }
}
