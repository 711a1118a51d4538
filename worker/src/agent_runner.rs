//! The real [`TaskRunner`]: for each leased task it takes a sandbox from the worker's pool,
//! copies the attachments in, picks the backbone (built once per process), connects the
//! action store through the coordinator, and runs the agent loop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use herd_actions::{LibraryRequest, LibraryResponse, RetrievedAction, TaskOrigin};
use herd_core::config::{BackboneConfig, SandboxConfig};
use herd_core::kernel::FunctionDef;
use herd_core::outcome::TaskOutcome;
use herd_core::task::{ActionAccess, TaskSpec};
use herd_llm::{BackboneDeps, BackboneStats, ChatModel, ResponseCache, RetryPolicy};
use herd_sandbox::{SandboxProvider, TaskLabels};
use parking_lot::Mutex;
use tracing::warn;

use crate::agent::{ActionSource, ActionView, AgentDeps, NoActions, TokioClock, run_task};
use crate::runtime::{ActionClient, TaskContext, TaskRunner};
use crate::tools::{ToolBox, ToolEnv};

/// How a worker process runs tasks.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    pub worker_id: String,
    /// For the response cache file.
    pub work_dir: PathBuf,
    /// Redis for the shared response cache and rate limits (`HERD_REDIS_URL`).
    pub redis_url: Option<String>,
}

impl RunnerOptions {
    /// Options for a worker whose caches live under `dir`; Redis from `HERD_REDIS_URL`.
    pub fn for_local_run(dir: &Path) -> Self {
        RunnerOptions {
            worker_id: format!("worker-{}", std::process::id()),
            work_dir: dir.to_path_buf(),
            redis_url: std::env::var("HERD_REDIS_URL")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }
}

/// Runs tasks through the agent loop.
pub struct AgentRunner {
    opts: RunnerOptions,
    sandboxes: tokio::sync::Mutex<HashMap<String, Arc<SandboxProvider>>>,
    backbones: tokio::sync::Mutex<HashMap<String, Arc<dyn ChatModel>>>,
    stats: Mutex<HashMap<String, Arc<BackboneStats>>>,
    cache: Option<Arc<dyn ResponseCache>>,
    limiter: Option<Arc<dyn herd_llm::RateLimiter>>,
    tools: ToolEnv,
    /// The sandbox settings of the last task that could not get a sandbox (what `probe` tries).
    failed_sandbox: Mutex<Option<SandboxConfig>>,
}

/// The response cache and the shared rate limiter a runner uses, when it has them.
type CacheAndLimiter = (
    Option<Arc<dyn ResponseCache>>,
    Option<Arc<dyn herd_llm::RateLimiter>>,
);

impl AgentRunner {
    /// Connects the runner's cache and rate limiter (Redis when `redis_url` is set, else a
    /// local cache file) and returns it ready to run tasks.
    pub async fn connect(opts: RunnerOptions) -> Result<Arc<dyn TaskRunner>, String> {
        let (cache, limiter): CacheAndLimiter = match &opts.redis_url {
            Some(url) => (
                Some(Arc::new(
                    herd_llm::RedisResponseCache::connect(url)
                        .await
                        .map_err(|e| e.to_string())?,
                )),
                Some(Arc::new(
                    herd_llm::RedisRateLimiter::connect(url)
                        .await
                        .map_err(|e| e.to_string())?,
                )),
            ),
            None => {
                let path = opts.work_dir.join("llm-cache.redb");
                let cache = match herd_llm::RedbResponseCache::open_async(&path).await {
                    Ok(c) => Some(Arc::new(c) as Arc<dyn ResponseCache>),
                    Err(e) => {
                        warn!(path = %path.display(), error = %e, "response cache unavailable; running uncached");
                        None
                    }
                };
                (cache, None)
            }
        };
        let tools = ToolEnv::from_env().map_err(|e| e.to_string())?;
        Ok(Arc::new(AgentRunner {
            opts,
            sandboxes: tokio::sync::Mutex::new(HashMap::new()),
            backbones: tokio::sync::Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
            cache,
            limiter,
            tools,
            failed_sandbox: Mutex::new(None),
        }))
    }

    async fn provider(&self, cfg: &SandboxConfig) -> Result<Arc<SandboxProvider>, String> {
        let key = serde_json::to_string(cfg).unwrap_or_default();
        let mut map = self.sandboxes.lock().await;
        if let Some(p) = map.get(&key) {
            return Ok(p.clone());
        }
        let p = Arc::new(
            SandboxProvider::new(cfg, &self.opts.worker_id)
                .await
                .map_err(|e| e.to_string())?,
        );
        map.insert(key, p.clone());
        Ok(p)
    }

    /// A fresh sandbox from the provider for `cfg` (opened on first use).
    async fn sandbox(
        &self,
        cfg: &SandboxConfig,
        labels: TaskLabels,
        network: bool,
    ) -> Result<Box<dyn herd_core::kernel::CodeSession>, String> {
        let provider = self.provider(cfg).await?;
        provider
            .acquire(labels, network)
            .await
            .map_err(|e| e.to_string())
    }

    async fn backbone(&self, cfg: &BackboneConfig) -> Result<Arc<dyn ChatModel>, String> {
        let key = serde_json::to_string(cfg).unwrap_or_default();
        let mut map = self.backbones.lock().await;
        if let Some(m) = map.get(&key) {
            return Ok(m.clone());
        }
        let stats = self
            .stats
            .lock()
            .entry(cfg.name.clone())
            .or_insert_with(|| Arc::new(BackboneStats::new()))
            .clone();
        let deps = BackboneDeps {
            cache: self.cache.clone(),
            rate_limiter: self.limiter.clone(),
            stats,
            retry: RetryPolicy::default(),
        };
        let m = herd_llm::build_backbone(cfg, deps)
            .await
            .map_err(|e| e.to_string())?;
        map.insert(key, m.clone());
        Ok(m)
    }
}

#[async_trait]
impl TaskRunner for AgentRunner {
    async fn run(&self, spec: TaskSpec, ctx: TaskContext) -> TaskOutcome {
        let model = match self.backbone(&spec.backbone).await {
            Ok(m) => m,
            Err(e) => {
                return TaskOutcome::failure(
                    "llm-config",
                    format!("backbone `{}`: {e}", spec.backbone.name),
                );
            }
        };
        let labels = TaskLabels {
            sweep: spec.sweep_id.clone(),
            task: spec.key.clone(),
        };
        let mut session = match self.sandbox(&spec.sandbox, labels, spec.arm.network).await {
            Ok(s) => s,
            Err(e) => {
                *self.failed_sandbox.lock() = Some(spec.sandbox.clone());
                return TaskOutcome::sandbox_unavailable(e);
            }
        };
        for (name, bytes) in &ctx.attachments {
            if let Err(e) = session.put_file(name, bytes).await {
                session.close().await;
                return TaskOutcome::failure(
                    "attachment",
                    format!("failed to copy `{name}` into the sandbox: {e}"),
                );
            }
        }
        let actions: Arc<dyn ActionSource> = if spec.actions.read || spec.actions.write {
            match RemoteActions::start(ctx.actions.clone(), &spec).await {
                Ok(a) => Arc::new(a),
                Err(e) => {
                    session.close().await;
                    return TaskOutcome::failure("action-store", e);
                }
            }
        } else {
            Arc::new(NoActions)
        };
        let tools = Arc::new(if spec.arm.user_actions {
            self.tools.toolbox()
        } else {
            ToolBox::kernel_helpers_only()
        });
        let reformulation = if spec.arm.reformulate {
            herd_datasets::reformulation_prompt(spec.kind)
        } else {
            None
        };
        run_task(
            &spec,
            AgentDeps {
                model,
                session,
                actions,
                tools,
                cancel: ctx.cancel.clone(),
                reformulation,
                clock: Arc::new(TokioClock),
                steps: ctx.steps,
            },
        )
        .await
    }

    fn capabilities(&self) -> Vec<String> {
        vec!["agent".into(), "local-llm".into()]
    }

    /// Starts (and closes) one sandbox with the settings that last failed.
    async fn probe(&self) -> Result<(), String> {
        let Some(cfg) = self.failed_sandbox.lock().clone() else {
            return Ok(());
        };
        let labels = TaskLabels {
            sweep: "probe".into(),
            task: "probe".into(),
        };
        let mut session = self.sandbox(&cfg, labels, false).await?;
        session.close().await;
        *self.failed_sandbox.lock() = None;
        Ok(())
    }

    async fn shutdown_sandboxes(&self) {
        let map = std::mem::take(&mut *self.sandboxes.lock().await);
        for p in map.values() {
            p.shutdown().await;
        }
    }

    async fn cleanup_at_start(&self) {
        if let Err(e) = herd_sandbox::remove_orphans(&self.opts.worker_id).await {
            warn!(error = %e, "could not check for containers left by an earlier run");
        }
    }
}

/// The coordinator's action store, seen from one task.
struct RemoteActions {
    client: ActionClient,
    access: ActionAccess,
    origin: TaskOrigin,
    started_seq: u64,
    library_size: u64,
    /// Names of generated actions this task has seen (retrieved or stored).
    generated: Mutex<std::collections::HashSet<String>>,
}

impl RemoteActions {
    async fn start(client: ActionClient, spec: &TaskSpec) -> Result<Self, String> {
        let resp = call(
            &client,
            LibraryRequest::StartTask {
                access: spec.actions.clone(),
            },
            Unavailable::Retry,
        )
        .await?;
        let LibraryResponse::StartTask(start) = resp else {
            return Err("unexpected reply to start-task".into());
        };
        Ok(RemoteActions {
            client,
            access: spec.actions.clone(),
            origin: TaskOrigin::from(spec),
            started_seq: start.seq,
            library_size: start.library_size,
            generated: Mutex::new(Default::default()),
        })
    }
}

/// How a library call treats an unavailable store.
#[derive(Clone, Copy, PartialEq)]
enum Unavailable {
    /// Fail at once: the failure goes back to the agent (a tool error).
    Fail,
    /// Retry with the patient schedule: for calls that must not be lost and are idempotent
    /// (starting a task; adding functions, which deduplicates by normalised source).
    Retry,
}

async fn call(
    client: &ActionClient,
    req: LibraryRequest,
    unavailable: Unavailable,
) -> Result<LibraryResponse, String> {
    let body = serde_json::to_value(&req).map_err(|e| e.to_string())?;
    let v = match unavailable {
        Unavailable::Fail => client.call("library", body).await?,
        Unavailable::Retry => client.call_retrying("library", body).await?,
    };
    serde_json::from_value(v).map_err(|e| format!("malformed action-store reply: {e}"))
}

#[async_trait]
impl ActionSource for RemoteActions {
    async fn retrieve(&self, query: &str, k: usize) -> Result<Vec<ActionView>, String> {
        if !self.access.read {
            return Ok(Vec::new());
        }
        let resp = call(
            &self.client,
            LibraryRequest::Retrieve {
                access: self.access.clone(),
                query: query.to_string(),
                k,
                started_seq: self.started_seq,
            },
            Unavailable::Fail,
        )
        .await?;
        let LibraryResponse::Retrieve { actions } = resp else {
            return Err("unexpected reply to retrieve".into());
        };
        let mut views = Vec::with_capacity(actions.len());
        for RetrievedAction { action, .. } in actions {
            let label = action.label();
            let src = call(
                &self.client,
                LibraryRequest::LoadSource {
                    access: self.access.clone(),
                    names: vec![label],
                },
                Unavailable::Fail,
            )
            .await?;
            let LibraryResponse::LoadSource { source, .. } = src else {
                return Err("unexpected reply to load-source".into());
            };
            self.generated.lock().insert(action.name.clone());
            views.push(ActionView {
                name: action.name.clone(),
                signature: action.signature.clone(),
                returns: action.returns.clone(),
                docstring: action.docstring.clone(),
                source_to_load: source,
            });
        }
        Ok(views)
    }

    async fn store(&self, fns: &[FunctionDef], _step: u32) -> Result<u32, String> {
        if !self.access.write || fns.is_empty() {
            return Ok(0);
        }
        // Missing docstrings were already written by the loop (a counted call) when the arm
        // asks for it; the rest are stored without.
        let functions = fns.to_vec();
        let resp = call(
            &self.client,
            LibraryRequest::Add {
                access: self.access.clone(),
                task: self.origin.clone(),
                functions,
            },
            Unavailable::Retry,
        )
        .await?;
        let LibraryResponse::Add(report) = resp else {
            return Err("unexpected reply to add".into());
        };
        let mut g = self.generated.lock();
        for f in fns {
            g.insert(f.name.clone());
        }
        Ok(report.stored() as u32)
    }

    async fn library_size(&self) -> u64 {
        self.library_size
    }

    fn is_generated(&self, name: &str) -> bool {
        self.generated.lock().contains(name)
    }
}
