//! `bench_agent`: the loop's own overhead per step (model and execution excluded) against a
//! bare baseline, and many concurrent tasks against a slow scripted model, with peak RSS.
//! The scripted model and session here are benchmark fixtures, never used by the product.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant as StdInstant};

use async_trait::async_trait;
use herd_core::config::{ArmConfig, BackboneConfig, BenchmarkKind, LimitsConfig, SandboxConfig};
use herd_core::kernel::{CellOutcome, CodeSession, HostCalls, SessionError};
use herd_core::outcome::{EndReason, SandboxInfo};
use herd_core::task::{ActionAccess, TaskSpec};
use herd_core::trajectory::Message;
use herd_llm::{ChatModel, ChatRequest, ChatResponse, LlmError, RetryCounts};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::actions::NoActions;
use super::run::{AgentDeps, TokioClock, run_task};
use crate::tools::ToolBox;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Tasks timed for the per-step overhead.
    pub overhead_tasks: usize,
    /// Steps per overhead task (none submits, so each runs to the step limit).
    pub overhead_steps: u32,
    /// Tasks run at once against the slow model.
    pub concurrent_tasks: usize,
    /// Steps per concurrent task (the last one submits).
    pub concurrent_steps: u32,
    pub model_latency: Duration,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            overhead_tasks: 50,
            overhead_steps: 20,
            concurrent_tasks: 1000,
            concurrent_steps: 3,
            model_latency: Duration::from_millis(500),
        }
    }
}

/// Replies `steps - 1` plain cells, then a submitting one; sleeps `latency` per call and
/// counts the nanoseconds spent inside itself.
struct BenchModel {
    latency: Duration,
    submit_at: u32,
    inside_ns: AtomicU64,
}

#[async_trait]
impl ChatModel for BenchModel {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let t0 = StdInstant::now();
        let step = (req.messages.len().saturating_sub(2) / 2) as u32 + 1;
        let code = if step >= self.submit_at {
            "submit_final_answer(42)"
        } else {
            "x = 1\nprint(x)"
        };
        let content = json!({"thought": "bench", "code": code}).to_string();
        self.inside_ns
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        Ok(ChatResponse {
            content,
            prompt_tokens: 100,
            completion_tokens: 10,
            cost_usd: 0.0,
            cached: false,
            latency_ms: self.latency.as_millis() as u64,
            retries: RetryCounts::default(),
            model: "bench".into(),
        })
    }
    fn identity(&self) -> String {
        "bench-model".into()
    }
}

/// Answers every cell at once; forwards `submit_final_answer(…)` as a host call.
struct BenchSession {
    inside_ns: Arc<AtomicU64>,
}

#[async_trait]
impl CodeSession for BenchSession {
    async fn run_cell(
        &mut self,
        code: &str,
        _t: Duration,
        host: &dyn HostCalls,
    ) -> Result<CellOutcome, SessionError> {
        let t0 = StdInstant::now();
        if code.starts_with("submit_final_answer(") {
            host.call("submit_final_answer", json!({"answer": "42"}))
                .await
                .map_err(SessionError::Protocol)?;
        }
        let out = CellOutcome {
            output: "1\n".into(),
            called: vec!["print".into()],
            ..Default::default()
        };
        self.inside_ns
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(out)
    }
    async fn define_host_functions(&mut self, _names: &[String]) -> Result<(), SessionError> {
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
            kind: "bench".into(),
            image: String::new(),
        }
    }
    async fn close(&mut self) {}
}

fn bench_spec(max_steps: u32) -> anyhow::Result<TaskSpec> {
    let backbone: BackboneConfig =
        serde_json::from_value(json!({"name": "bench", "model": "bench"}))?;
    let arm: ArmConfig = serde_json::from_value(json!({"name": "bench", "user_actions": false}))?;
    Ok(TaskSpec {
        key: "bench".into(),
        sweep_id: "bench".into(),
        benchmark: "bench".into(),
        kind: BenchmarkKind::HerdMini,
        split: "test".into(),
        item_id: "0".into(),
        prompt: "What is six times seven?".into(),
        attachments: Vec::new(),
        backbone,
        arm,
        epoch: 0,
        seed: 1,
        limits: LimitsConfig {
            max_steps,
            ..LimitsConfig::default()
        },
        sandbox: SandboxConfig::default(),
        actions: ActionAccess {
            namespace: "bench".into(),
            read: false,
            write: false,
        },
        attempt: 1,
    })
}

fn deps(model: Arc<BenchModel>, session_ns: Arc<AtomicU64>) -> AgentDeps {
    AgentDeps {
        model,
        session: Box::new(BenchSession {
            inside_ns: session_ns,
        }),
        actions: Arc::new(NoActions),
        tools: Arc::new(ToolBox::none()),
        cancel: CancellationToken::new(),
        reformulation: None,
        clock: Arc::new(TokioClock),
        steps: None,
    }
}

/// `VmHWM` and `VmRSS` of this process in KiB, from `/proc/self/status`.
fn rss_kib() -> (Option<u64>, Option<u64>) {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs both measurements and returns a printed table.
pub async fn bench_agent(opts: &BenchOptions) -> anyhow::Result<String> {
    let spec = bench_spec(opts.overhead_steps.max(1))?;
    // Baseline: the same model and session driven by a bare loop with no agent logic.
    let mut baseline = Vec::with_capacity(opts.overhead_tasks);
    for _ in 0..opts.overhead_tasks.max(1) {
        let model = BenchModel {
            latency: Duration::ZERO,
            submit_at: u32::MAX,
            inside_ns: AtomicU64::new(0),
        };
        let mut session = BenchSession {
            inside_ns: Arc::new(AtomicU64::new(0)),
        };
        let host = NullHost;
        let t0 = StdInstant::now();
        let mut messages = vec![Message {
            role: "user".into(),
            content: spec.prompt.clone(),
        }];
        for _ in 0..spec.limits.max_steps {
            let r = model
                .chat(&ChatRequest {
                    messages: messages.clone(),
                    json_schema: None,
                    max_tokens: None,
                    seed: None,
                })
                .await?;
            let o = session
                .run_cell("x = 1", Duration::from_secs(1), &host)
                .await?;
            messages.push(Message {
                role: "assistant".into(),
                content: r.content,
            });
            messages.push(Message {
                role: "user".into(),
                content: o.output,
            });
        }
        baseline.push(t0.elapsed().as_secs_f64() * 1e3 / f64::from(spec.limits.max_steps));
    }
    let mut overhead = Vec::with_capacity(opts.overhead_tasks);
    for _ in 0..opts.overhead_tasks.max(1) {
        let model = Arc::new(BenchModel {
            latency: Duration::ZERO,
            submit_at: u32::MAX,
            inside_ns: AtomicU64::new(0),
        });
        let session_ns = Arc::new(AtomicU64::new(0));
        let t0 = StdInstant::now();
        let out = run_task(&spec, deps(model.clone(), session_ns.clone())).await;
        let total_ns = t0.elapsed().as_nanos() as f64;
        anyhow::ensure!(
            out.end == EndReason::StepLimit,
            "overhead task ended with {:?}",
            out.end
        );
        let inside =
            (model.inside_ns.load(Ordering::Relaxed) + session_ns.load(Ordering::Relaxed)) as f64;
        overhead.push((total_ns - inside) / 1e6 / f64::from(out.metrics.steps.max(1)));
    }
    let base_ms = median(&mut baseline);
    let over_ms = median(&mut overhead);

    let (hwm_before, rss_before) = rss_kib();
    let cspec = Arc::new(bench_spec(opts.concurrent_steps.max(1))?);
    let t0 = StdInstant::now();
    let mut handles = Vec::with_capacity(opts.concurrent_tasks);
    for _ in 0..opts.concurrent_tasks {
        let spec = cspec.clone();
        let latency = opts.model_latency;
        let submit_at = opts.concurrent_steps.max(1);
        handles.push(tokio::spawn(async move {
            let model = Arc::new(BenchModel {
                latency,
                submit_at,
                inside_ns: AtomicU64::new(0),
            });
            run_task(&spec, deps(model, Arc::new(AtomicU64::new(0))))
                .await
                .end
        }));
    }
    let mut submitted = 0usize;
    for h in handles {
        if h.await? == EndReason::Submitted {
            submitted += 1;
        }
    }
    let elapsed = t0.elapsed();
    let ideal = opts.model_latency * opts.concurrent_steps.max(1);
    let ratio = elapsed.as_secs_f64() / ideal.as_secs_f64().max(1e-9);
    let (hwm_after, rss_after) = rss_kib();
    let kib = |v: Option<u64>| {
        v.map_or("n/a".to_string(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };

    let mut t = String::new();
    t.push_str("| measurement | value | baseline / target | ratio |\n|---|---|---|---|\n");
    t.push_str(&format!(
        "| loop overhead per step (median, model + exec excluded) | {over_ms:.4} ms | bare loop {base_ms:.4} ms | {:.2}x bare |\n",
        over_ms / base_ms.max(1e-9)
    ));
    t.push_str(&format!(
        "| loop overhead vs 1 ms target | {over_ms:.4} ms | < 1 ms | {:.3} of target |\n",
        over_ms / 1.0
    ));
    t.push_str(&format!(
        "| {} concurrent tasks × {} steps, model {} ms | {:.3} s ({submitted} submitted) | ideal {:.3} s, target ≤ 1.10x | {ratio:.3}x ideal |\n",
        opts.concurrent_tasks,
        opts.concurrent_steps,
        opts.model_latency.as_millis(),
        elapsed.as_secs_f64(),
        ideal.as_secs_f64()
    ));
    t.push_str(&format!(
        "| peak RSS (VmHWM) before → after | {} → {} | | |\n",
        kib(hwm_before),
        kib(hwm_after)
    ));
    t.push_str(&format!(
        "| RSS (VmRSS) before → after | {} → {} | | |\n",
        kib(rss_before),
        kib(rss_after)
    ));
    Ok(t)
}

struct NullHost;

#[async_trait]
impl HostCalls for NullHost {
    async fn call(
        &self,
        name: &str,
        _args: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        Err(format!("no host function `{name}` in the baseline"))
    }
}
