//! The sweep config: the raw TOML shape (serde, unknown keys rejected) and its checked form.
//!
//! `SweepConfig::from_toml_str` parses; `SweepConfig::validate` turns it into a [`Sweep`],
//! whose invariants every other crate may rely on. Errors name the file, the key and the fix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// An error in a sweep config: where it is and how to fix it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("failed to read sweep config `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("invalid sweep config `{path}`: {message}")]
    Parse { path: String, message: String },
    #[error("invalid sweep config `{path}`: key `{key}`: {problem}; fix: {fix}")]
    Invalid {
        path: String,
        key: String,
        problem: String,
        fix: String,
    },
}

/// The whole sweep file as written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// A short name for the sweep; used in ids, paths and reports.
    pub name: String,
    /// Master seed: sampling, option shuffles and model seeds derive from it.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How many times each (item, backbone, arm) runs.
    #[serde(default = "one")]
    pub epochs: u32,
    #[serde(default)]
    pub benchmarks: Vec<BenchmarkConfig>,
    #[serde(default)]
    pub backbones: Vec<BackboneConfig>,
    #[serde(default)]
    pub arms: Vec<ArmConfig>,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub sandbox: SandboxConfig,
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    #[serde(default)]
    pub stores: StoresConfig,
}

fn default_seed() -> u64 {
    0
}
fn one() -> u32 {
    1
}

/// Which benchmark family an entry loads and how it is scored.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum BenchmarkKind {
    Gaia,
    Math,
    Gpqa,
    Aime,
    Tabmwp,
    /// herd's own small benchmark, shipped inside the binary.
    HerdMini,
}

impl BenchmarkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BenchmarkKind::Gaia => "gaia",
            BenchmarkKind::Math => "math",
            BenchmarkKind::Gpqa => "gpqa",
            BenchmarkKind::Aime => "aime",
            BenchmarkKind::Tabmwp => "tabmwp",
            BenchmarkKind::HerdMini => "herd-mini",
        }
    }
}

/// How items are picked from a loaded benchmark.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SampleMode {
    /// The first `limit` items in file order.
    #[default]
    First,
    /// A seeded random sample of `limit` items.
    Random,
    /// A seeded sample spread evenly over the values of `stratify_by`.
    Stratified,
}

/// One benchmark of a sweep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkConfig {
    /// Name used in reports; defaults to the kind.
    #[serde(default)]
    pub name: Option<String>,
    pub kind: BenchmarkKind,
    /// `builtin` (herd-mini only), a local file or folder, or `hf://owner/dataset[@revision]`.
    /// None: the folder `HERD_DATASETS_DIR` names, else the benchmark's default (a Hugging
    /// Face dataset downloaded once into the cache; `herd datasets list` shows each).
    #[serde(default)]
    pub source: Option<String>,
    /// Which part of the source: e.g. `validation`/`test` (GAIA), `main`/`diamond`/`extended`
    /// (GPQA), `2024_I` or `1983-2024` (AIME), `test1k`/`test` (TabMWP), `math500`/`full` (MATH).
    #[serde(default)]
    pub subset: Option<String>,
    /// The split this benchmark's items belong to (`test` unless told); `train` items are run
    /// first by train-then-test arms.
    #[serde(default)]
    pub split: Option<String>,
    /// For train-then-test arms: a second source/subset whose items form the training split.
    #[serde(default)]
    pub train: Option<TrainSplitConfig>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub sample: SampleMode,
    /// Metadata key to stratify by (e.g. `level`, `subject`).
    #[serde(default)]
    pub stratify_by: Option<String>,
    /// Explicit item ids; when set only these run.
    #[serde(default)]
    pub ids: Vec<String>,
    /// `K/N`: keep only the K-th of N shards (0-based).
    #[serde(default)]
    pub shard: Option<String>,
    /// Environment variable holding the GPQA zip password.
    #[serde(default)]
    pub password_env: Option<String>,
}

impl BenchmarkConfig {
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.kind.as_str().to_string())
    }
}

/// The training split of a benchmark for train-then-test arms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainSplitConfig {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub subset: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub ids: Vec<String>,
}

/// Where a backbone's model runs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// Any OpenAI-compatible chat-completions endpoint.
    #[default]
    Openai,
    /// The offline GGUF model run in-process by llama.cpp.
    Local,
}

/// How the backbone is asked for the `{thought, code}` object.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StructuredOutput {
    /// `response_format: json_schema` (OpenAI, vLLM, SGLang, llama.cpp server).
    #[default]
    JsonSchema,
    /// `response_format: json_object`.
    JsonObject,
    /// Plain text; the reply is parsed tolerantly.
    None,
}

/// Price per million tokens, in US dollars.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    #[serde(default)]
    pub prompt_per_mtok: f64,
    #[serde(default)]
    pub completion_per_mtok: f64,
    /// Price of prompt tokens the server reports as cached (defaults to the prompt price).
    #[serde(default)]
    pub cached_prompt_per_mtok: Option<f64>,
}

/// Requests and tokens per minute allowed for one backbone, across the whole cluster.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
    /// How many seconds of budget may be spent at once (the bucket's size): with 60 requests
    /// a minute and 5 s, at most 5 requests go out together; the long-run rate is unchanged.
    /// A single request always fits, however large.
    #[serde(default = "default_burst_secs")]
    pub burst_secs: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_minute: None,
            tokens_per_minute: None,
            burst_secs: default_burst_secs(),
        }
    }
}

fn default_burst_secs() -> f64 {
    5.0
}

/// One LLM endpoint + model + generation settings + price.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackboneConfig {
    pub name: String,
    #[serde(default)]
    pub provider: Provider,
    /// Model name sent to the server; for `local`, a model id (`qwen2.5-0.5b`, `qwen2.5-coder-1.5b`)
    /// or a path to a `.gguf` file.
    pub model: String,
    /// e.g. `https://api.openai.com/v1`; required for `openai`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Name of the environment variable that holds the API key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Show worked examples as earlier exchanges in the conversation before the real task:
    /// one task that writes a documented function and submits, then a later task whose
    /// message lists that function and which calls it. The real task's message then also
    /// lists the functions earlier tasks wrote. Small local models follow a demonstrated turn
    /// where they ignore a rule.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub example_exchange: bool,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub stop: Vec<String>,
    /// The model's context window in tokens.
    #[serde(default = "default_context")]
    pub context_window: u32,
    #[serde(default)]
    pub structured_output: StructuredOutput,
    #[serde(default)]
    pub price: PriceConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// At most this many tasks of this backbone run at once in the whole cluster.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Per-request timeout, seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Retries for 429, 5xx, connection errors and timeouts.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Response cache: `auto` (on when temperature is 0), `on`, `off`.
    #[serde(default)]
    pub cache: CacheMode,
    /// For Azure OpenAI: the `api-version` query parameter (switches to Azure's URL and header).
    #[serde(default)]
    pub azure_api_version: Option<String>,
    /// Extra JSON merged into each request body (e.g. vendor options).
    #[serde(default)]
    pub extra_body: Option<toml::Table>,
}

fn default_temperature() -> f64 {
    0.5
}
fn default_context() -> u32 {
    32768
}
fn default_request_timeout() -> u64 {
    120
}
fn default_retries() -> u32 {
    6
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    #[default]
    Auto,
    On,
    Off,
}

/// Action accumulation mode of an arm.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Accumulation {
    /// Only user-defined actions; nothing written, no generated action retrievable.
    #[default]
    Off,
    /// Actions stored by any task become retrievable to tasks that start later.
    Online,
    /// Accumulate over the training split, freeze, evaluate the test split read-only.
    TrainThenTest,
}

impl Accumulation {
    pub fn as_str(self) -> &'static str {
        match self {
            Accumulation::Off => "off",
            Accumulation::Online => "online",
            Accumulation::TrainThenTest => "train-then-test",
        }
    }
}

/// What to do with a generated function that has no docstring.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DocstringFix {
    /// Ask the backbone for one (a counted call).
    #[default]
    Llm,
    /// Store the function without a docstring (embedded by its name and signature).
    Skip,
}

/// One agent configuration under test.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArmConfig {
    pub name: String,
    #[serde(default)]
    pub accumulation: Accumulation,
    /// Offer the user-defined actions (web search, files, …).
    #[serde(default = "yes")]
    pub user_actions: bool,
    /// Overrides `limits.max_steps` for this arm.
    #[serde(default)]
    pub max_steps: Option<u32>,
    /// How many actions `get_relevant_tools` returns.
    #[serde(default = "default_k")]
    pub retrieval_k: u32,
    /// How many retrieved actions are listed in the system prompt (0: none).
    #[serde(default)]
    pub prompt_actions: u32,
    /// Run the answer-reformulation call after the loop.
    #[serde(default)]
    pub reformulate: bool,
    #[serde(default)]
    pub docstring_fix: DocstringFix,
    /// Give the sandbox network access (off by default).
    #[serde(default)]
    pub network: bool,
}

fn yes() -> bool {
    true
}
fn default_k() -> u32 {
    10
}

/// Per-task budgets. Hitting one ends the task with a result that names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    #[serde(default = "default_steps")]
    pub max_steps: u32,
    #[serde(default)]
    pub max_prompt_tokens: Option<u64>,
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    #[serde(default = "default_wall")]
    pub wall_time_secs: u64,
    #[serde(default = "default_cell_timeout")]
    pub cell_timeout_secs: u64,
    /// Observation budget in characters (head and tail kept).
    #[serde(default = "default_obs")]
    pub observation_chars: usize,
    /// Attempts per task before it is marked failed.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

fn default_steps() -> u32 {
    20
}
fn default_wall() -> u64 {
    1800
}
fn default_cell_timeout() -> u64 {
    60
}
fn default_obs() -> usize {
    4000
}
fn default_attempts() -> u32 {
    3
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_steps: default_steps(),
            max_prompt_tokens: None,
            max_completion_tokens: None,
            max_cost_usd: None,
            wall_time_secs: default_wall(),
            cell_timeout_secs: default_cell_timeout(),
            observation_chars: default_obs(),
            max_attempts: default_attempts(),
        }
    }
}

/// Which sandbox runs code cells.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxKind {
    /// Docker; when no engine answers, an error that names the fix. Never a silent fallback
    /// to the unisolated local sandbox.
    #[default]
    Auto,
    Docker,
    /// A local Python process in a temporary directory (no container isolation).
    Local,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    #[serde(default)]
    pub kind: SandboxKind,
    /// Image to run; default: the image `herd sandbox build` makes for this herd version.
    #[serde(default)]
    pub image: Option<String>,
    /// Warm containers kept started per worker.
    #[serde(default = "default_pool")]
    pub pool_size: u32,
    #[serde(default = "default_mem")]
    pub memory_mb: u64,
    #[serde(default = "default_cpus")]
    pub cpus: f64,
    #[serde(default = "default_pids")]
    pub pids_limit: i64,
    /// The ceiling of a worker's container start rate. The rate itself adapts to the engine:
    /// it starts at 4 per second, rises while starts stay fast and succeed, and backs off on
    /// errors or rising start latency.
    #[serde(default = "default_starts")]
    pub max_starts_per_second: f64,
    /// The OCI runtime Docker runs sandboxes with, e.g. `runsc` (gVisor, registered by
    /// `scripts/setup-runsc.sh`) for a second wall; default: the engine's (runc).
    #[serde(default)]
    pub runtime: Option<String>,
}

fn default_pool() -> u32 {
    2
}
fn default_mem() -> u64 {
    1024
}
fn default_cpus() -> f64 {
    1.0
}
fn default_pids() -> i64 {
    256
}
fn default_starts() -> f64 {
    50.0
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            kind: SandboxKind::Auto,
            image: None,
            pool_size: default_pool(),
            memory_mb: default_mem(),
            cpus: default_cpus(),
            pids_limit: default_pids(),
            max_starts_per_second: default_starts(),
            runtime: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// How long a lease lasts without a heartbeat.
    #[serde(default = "default_lease")]
    pub lease_secs: u64,
    /// How often workers heartbeat.
    #[serde(default = "default_hb")]
    pub heartbeat_secs: u64,
}

fn default_lease() -> u64 {
    30
}
fn default_hb() -> u64 {
    5
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            lease_secs: default_lease(),
            heartbeat_secs: default_hb(),
        }
    }
}

/// Which embedder turns docstrings into vectors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmbedderConfig {
    /// `minilm` (local all-MiniLM-L6-v2, the default) or `openai`.
    #[serde(default = "default_embedder")]
    pub kind: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_key_env: Option<String>,
}

fn default_embedder() -> String {
    "minilm".into()
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        EmbedderConfig {
            kind: default_embedder(),
            model: None,
            base_url: None,
            api_key_env: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct StoresConfig {
    /// Qdrant server URL for the action store; unset: the embedded store hosted by the coordinator.
    #[serde(default)]
    pub qdrant_url: Option<String>,
    /// Name of the environment variable holding the Qdrant server's API key (the key itself
    /// is never written in a config or logged). Unset: `HERD_QDRANT_API_KEY`, when set.
    #[serde(default)]
    pub qdrant_api_key_env: Option<String>,
    #[serde(default)]
    pub embedder: EmbedderConfig,
}

/// The environment variable read for the Qdrant API key when no `qdrant_api_key_env` is set.
pub const QDRANT_API_KEY_ENV: &str = "HERD_QDRANT_API_KEY";

impl StoresConfig {
    /// The Qdrant server's API key: from the variable `qdrant_api_key_env` names (which must
    /// then be set), else from `HERD_QDRANT_API_KEY` when set, else none.
    pub fn qdrant_api_key(&self) -> Result<Option<String>, String> {
        match &self.qdrant_api_key_env {
            Some(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Some(v)),
                _ => Err(format!(
                    "environment variable `{name}` (stores.qdrant_api_key_env) is not set; \
                     export the Qdrant server's API key in it"
                )),
            },
            None => Ok(std::env::var(QDRANT_API_KEY_ENV)
                .ok()
                .filter(|v| !v.is_empty())),
        }
    }
}

/// A checked sweep: every invariant below holds.
///
/// - at least one benchmark, backbone and arm; names unique within each list;
/// - limits positive; sandbox sizes sane; shards well formed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sweep {
    pub config: SweepConfig,
    /// Directory of the config file; relative dataset paths resolve against it.
    pub base_dir: PathBuf,
}

impl Sweep {
    pub fn arm(&self, name: &str) -> Option<&ArmConfig> {
        self.config.arms.iter().find(|a| a.name == name)
    }
    pub fn backbone(&self, name: &str) -> Option<&BackboneConfig> {
        self.config.backbones.iter().find(|b| b.name == name)
    }
    /// The step limit of an arm (its own, else the sweep's).
    pub fn max_steps(&self, arm: &ArmConfig) -> u32 {
        arm.max_steps.unwrap_or(self.config.limits.max_steps)
    }
}

impl SweepConfig {
    /// Reads and validates a sweep file.
    pub fn load(path: &Path) -> Result<Sweep, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let cfg = Self::from_toml_str(&text, &path.display().to_string())?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.validate(&path.display().to_string(), base)
    }

    /// Parses TOML; `origin` names the file in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })
    }

    /// Checks every invariant of [`Sweep`].
    pub fn validate(self, origin: &str, base_dir: PathBuf) -> Result<Sweep, ConfigError> {
        let bad = |key: &str, problem: &str, fix: &str| ConfigError::Invalid {
            path: origin.to_string(),
            key: key.to_string(),
            problem: problem.to_string(),
            fix: fix.to_string(),
        };
        if self.name.trim().is_empty() {
            return Err(bad("name", "is empty", "give the sweep a short name"));
        }
        if !self
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                "name",
                "has characters other than letters, digits, `-`, `_` and `.`",
                "use a name such as `math-ablation-1`",
            ));
        }
        if self.epochs == 0 {
            return Err(bad("epochs", "is 0", "set `epochs = 1` or more"));
        }
        if self.benchmarks.is_empty() {
            return Err(bad(
                "benchmarks",
                "no benchmark is listed",
                "add a `[[benchmarks]]` table, e.g. `kind = \"herd-mini\"`",
            ));
        }
        if self.backbones.is_empty() {
            return Err(bad(
                "backbones",
                "no backbone is listed",
                "add a `[[backbones]]` table, e.g. `name = \"local\"`, `provider = \"local\"`, `model = \"qwen2.5-0.5b\"`",
            ));
        }
        if self.arms.is_empty() {
            return Err(bad(
                "arms",
                "no arm is listed",
                "add an `[[arms]]` table, e.g. `name = \"base\"`",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, b) in self.benchmarks.iter().enumerate() {
            let key = format!("benchmarks[{i}]");
            if !seen.insert(b.display_name()) {
                return Err(bad(
                    &format!("{key}.name"),
                    &format!("benchmark name `{}` is used twice", b.display_name()),
                    "give each benchmark a distinct `name`",
                ));
            }
            if b.limit == Some(0) {
                return Err(bad(
                    &format!("{key}.limit"),
                    "is 0",
                    "remove `limit` or set it to 1 or more",
                ));
            }
            if b.sample == SampleMode::Stratified && b.stratify_by.is_none() {
                return Err(bad(
                    &format!("{key}.stratify_by"),
                    "is missing while `sample = \"stratified\"`",
                    "set `stratify_by = \"level\"` (or another metadata key)",
                ));
            }
            if let Some(shard) = &b.shard {
                parse_shard(shard).ok_or_else(|| {
                    bad(
                        &format!("{key}.shard"),
                        &format!("`{shard}` is not of the form `K/N` with K < N"),
                        "write e.g. `shard = \"0/4\"`",
                    )
                })?;
            }
            match (b.kind, b.source.as_deref()) {
                (BenchmarkKind::HerdMini, _) => {}
                // No source: the benchmark's default (`HERD_DATASETS_DIR`, else its hub
                // dataset; `herd datasets list`), checked when the sweep loads.
                (_, None) => {}
                (_, Some("builtin")) => {
                    return Err(bad(
                        &format!("{key}.source"),
                        &format!(
                            "`builtin` is only for `herd-mini`, not `{}`",
                            b.kind.as_str()
                        ),
                        "set `source` to a local path or `hf://owner/dataset`",
                    ));
                }
                _ => {}
            }
        }
        let mut seen = BTreeSet::new();
        for (i, b) in self.backbones.iter().enumerate() {
            let key = format!("backbones[{i}]");
            if !seen.insert(b.name.clone()) {
                return Err(bad(
                    &format!("{key}.name"),
                    &format!("backbone name `{}` is used twice", b.name),
                    "give each backbone a distinct `name`",
                ));
            }
            if b.provider == Provider::Openai && b.base_url.is_none() {
                return Err(bad(
                    &format!("{key}.base_url"),
                    "is missing for an `openai` backbone",
                    "set `base_url = \"https://api.openai.com/v1\"` (or your server's URL), or use `provider = \"local\"`",
                ));
            }
            if let Some(url) = &b.base_url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(bad(
                    &format!("{key}.base_url"),
                    &format!("`{url}` is not an http(s) URL"),
                    "write it as `https://host/v1`",
                ));
            }
            if !(0.0..=2.0).contains(&b.temperature) {
                return Err(bad(
                    &format!("{key}.temperature"),
                    &format!("{} is outside 0..=2", b.temperature),
                    "use a temperature between 0 and 2",
                ));
            }
            if b.price.prompt_per_mtok < 0.0 || b.price.completion_per_mtok < 0.0 {
                return Err(bad(
                    &format!("{key}.price"),
                    "has a negative price",
                    "prices are dollars per million tokens, 0 or more",
                ));
            }
            let burst = b.rate_limit.burst_secs;
            if !(burst.is_finite() && burst > 0.0) {
                return Err(bad(
                    &format!("{key}.rate_limit.burst_secs"),
                    &format!("{burst} is not a positive number of seconds"),
                    "set it above 0, e.g. `burst_secs = 5.0` (at most 5 s of the budget at once)",
                ));
            }
            if b.max_concurrency == Some(0) {
                return Err(bad(
                    &format!("{key}.max_concurrency"),
                    "is 0, so no task could ever run",
                    "remove it or set it to 1 or more",
                ));
            }
            if let Some(env) = &b.api_key_env
                && (env.is_empty() || env.starts_with("sk-"))
            {
                return Err(bad(
                    &format!("{key}.api_key_env"),
                    "looks like a key, not the name of an environment variable",
                    "put the key in an environment variable and write its name, e.g. `api_key_env = \"OPENAI_API_KEY\"`",
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, a) in self.arms.iter().enumerate() {
            let key = format!("arms[{i}]");
            if !seen.insert(a.name.clone()) {
                return Err(bad(
                    &format!("{key}.name"),
                    &format!("arm name `{}` is used twice", a.name),
                    "give each arm a distinct `name`",
                ));
            }
            if a.max_steps == Some(0) {
                return Err(bad(
                    &format!("{key}.max_steps"),
                    "is 0",
                    "set it to 1 or more, or remove it to use `limits.max_steps`",
                ));
            }
            if a.retrieval_k == 0 && a.accumulation != Accumulation::Off {
                return Err(bad(
                    &format!("{key}.retrieval_k"),
                    "is 0 while accumulation is on, so no action could be retrieved",
                    "set `retrieval_k = 10` (the paper's value)",
                ));
            }
            if a.accumulation == Accumulation::TrainThenTest
                && !self.benchmarks.iter().any(|b| b.train.is_some())
            {
                return Err(bad(
                    &format!("{key}.accumulation"),
                    "is `train-then-test` but no benchmark has a `train` split",
                    "add `[benchmarks.train]` (source/subset/limit) to a benchmark, or use `online`",
                ));
            }
        }
        let l = &self.limits;
        if l.max_steps == 0 {
            return Err(bad("limits.max_steps", "is 0", "set it to 1 or more"));
        }
        if l.wall_time_secs == 0 {
            return Err(bad("limits.wall_time_secs", "is 0", "set it to 1 or more"));
        }
        if l.cell_timeout_secs == 0 {
            return Err(bad(
                "limits.cell_timeout_secs",
                "is 0",
                "set it to 1 or more",
            ));
        }
        if l.max_attempts == 0 {
            return Err(bad("limits.max_attempts", "is 0", "set it to 1 or more"));
        }
        if l.observation_chars < 200 {
            return Err(bad(
                "limits.observation_chars",
                "is below 200, too little to show an error",
                "set it to 2000 or more",
            ));
        }
        if let Some(c) = l.max_cost_usd
            && c <= 0.0
        {
            return Err(bad(
                "limits.max_cost_usd",
                "is not positive",
                "set a positive dollar amount or remove it",
            ));
        }
        let s = &self.sandbox;
        if s.memory_mb < 64 {
            return Err(bad(
                "sandbox.memory_mb",
                "is below 64",
                "give the sandbox at least 256 MB",
            ));
        }
        if s.cpus <= 0.0 {
            return Err(bad(
                "sandbox.cpus",
                "is not positive",
                "set e.g. `cpus = 1.0`",
            ));
        }
        if s.pids_limit < 16 {
            return Err(bad(
                "sandbox.pids_limit",
                "is below 16, too few for Python",
                "set e.g. `pids_limit = 256`",
            ));
        }
        if s.max_starts_per_second <= 0.0 {
            return Err(bad(
                "sandbox.max_starts_per_second",
                "is not positive",
                "set e.g. `max_starts_per_second = 50` (a ceiling: the rate adapts below it)",
            ));
        }
        let sc = &self.scheduler;
        if sc.heartbeat_secs == 0 || sc.lease_secs <= sc.heartbeat_secs {
            return Err(bad(
                "scheduler.lease_secs",
                &format!(
                    "a lease of {}s does not outlive the heartbeat interval of {}s",
                    sc.lease_secs, sc.heartbeat_secs
                ),
                "make `lease_secs` at least three times `heartbeat_secs`",
            ));
        }
        if let Some(rt) = &self.sandbox.runtime
            && (rt.is_empty()
                || !rt
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(bad(
                "sandbox.runtime",
                &format!("`{rt}` is not the name of a Docker runtime"),
                "name a runtime registered with Docker, e.g. `runtime = \"runsc\"` (scripts/setup-runsc.sh registers it), or remove the key",
            ));
        }
        if let Some(url) = &self.stores.qdrant_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(bad(
                "stores.qdrant_url",
                &format!("`{url}` is not an http(s) URL"),
                "give the server's gRPC address, e.g. `qdrant_url = \"http://qdrant:6334\"`",
            ));
        }
        if let Some(env) = &self.stores.qdrant_api_key_env
            && (env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(bad(
                "stores.qdrant_api_key_env",
                "is not the name of an environment variable",
                "export the key in a variable and write its name, e.g. `qdrant_api_key_env = \"QDRANT_API_KEY\"`",
            ));
        }
        if !["minilm", "openai"].contains(&self.stores.embedder.kind.as_str()) {
            return Err(bad(
                "stores.embedder.kind",
                &format!("`{}` is not a known embedder", self.stores.embedder.kind),
                "use `minilm` (local) or `openai`",
            ));
        }
        Ok(Sweep {
            config: self,
            base_dir,
        })
    }
}

/// Parses `K/N` with K < N.
pub fn parse_shard(s: &str) -> Option<(usize, usize)> {
    let (k, n) = s.split_once('/')?;
    let k: usize = k.trim().parse().ok()?;
    let n: usize = n.trim().parse().ok()?;
    (n > 0 && k < n).then_some((k, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qdrant_api_key_comes_from_the_named_variable() {
        let mut s = StoresConfig {
            qdrant_api_key_env: Some("HERD_CORE_TEST_QDRANT_KEY_UNSET".into()),
            ..Default::default()
        };
        let e = s
            .qdrant_api_key()
            .expect_err("an unset variable is an error");
        assert!(e.contains("`HERD_CORE_TEST_QDRANT_KEY_UNSET`"), "{e}");
        assert!(e.contains("stores.qdrant_api_key_env"), "{e}");
        // SAFETY: nextest runs each test in its own process; no other thread reads it.
        unsafe { std::env::set_var("HERD_CORE_TEST_QDRANT_KEY", "k-1") };
        s.qdrant_api_key_env = Some("HERD_CORE_TEST_QDRANT_KEY".into());
        assert_eq!(s.qdrant_api_key(), Ok(Some("k-1".to_string())));
    }

    const GOOD: &str = r#"
name = "t"
[[benchmarks]]
kind = "herd-mini"
[[backbones]]
name = "local"
provider = "local"
model = "qwen2.5-0.5b"
[[arms]]
name = "base"
"#;

    fn check(text: &str) -> Result<Sweep, ConfigError> {
        SweepConfig::from_toml_str(text, "sweep.toml")?.validate("sweep.toml", PathBuf::from("."))
    }

    #[test]
    fn the_minimal_config_is_valid_and_takes_defaults() {
        let s = check(GOOD).unwrap();
        assert_eq!(s.config.epochs, 1);
        assert_eq!(s.config.limits.max_steps, 20);
        assert_eq!(s.config.arms[0].retrieval_k, 10);
        assert_eq!(s.config.backbones[0].temperature, 0.5);
        assert_eq!(s.max_steps(&s.config.arms[0]), 20);
    }

    #[test]
    fn a_benchmark_without_a_source_takes_its_default() {
        let s = check(&format!(
            "{GOOD}\n[[benchmarks]]\nkind = \"math\"\nname = \"m\"\n"
        ))
        .expect("no source is valid: the default is used");
        assert_eq!(s.config.benchmarks[1].source, None);
    }

    #[test]
    fn the_shipped_example_configs_are_valid() {
        for f in ["../examples/sweep.toml", "../examples/quickstart.toml"] {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
            let s = SweepConfig::load(&p).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!s.config.benchmarks.is_empty());
        }
    }

    /// Each broken config gets its own error, naming the key.
    #[test]
    fn each_malformed_config_gets_its_own_specific_error() {
        let cases: &[(&str, &str, &str)] = &[
            // (edit applied to GOOD, expected key, expected words)
            ("name = \"\"", "name", "is empty"),
            ("name = \"a b\"", "name", "characters other than"),
            ("epochs = 0", "epochs", "is 0"),
            (
                "[[benchmarks]]\nkind = \"herd-mini\"",
                "benchmarks[1].name",
                "used twice",
            ),
            (
                "[[benchmarks]]\nkind = \"math\"\nname = \"m\"\nsource = \"builtin\"",
                "benchmarks[1].source",
                "only for `herd-mini`",
            ),
            (
                "[[benchmarks]]\nkind = \"herd-mini\"\nname = \"m\"\nlimit = 0",
                "benchmarks[1].limit",
                "is 0",
            ),
            (
                "[[benchmarks]]\nkind = \"herd-mini\"\nname = \"m\"\nsample = \"stratified\"",
                "benchmarks[1].stratify_by",
                "is missing",
            ),
            (
                "[[benchmarks]]\nkind = \"herd-mini\"\nname = \"m\"\nshard = \"4/4\"",
                "benchmarks[1].shard",
                "K/N",
            ),
            (
                "[[backbones]]\nname = \"local\"\nprovider = \"local\"\nmodel = \"x\"",
                "backbones[1].name",
                "used twice",
            ),
            (
                "[[backbones]]\nname = \"o\"\nmodel = \"gpt\"",
                "backbones[1].base_url",
                "is missing",
            ),
            (
                "[[backbones]]\nname = \"o\"\nmodel = \"gpt\"\nbase_url = \"ftp://x\"",
                "backbones[1].base_url",
                "not an http(s) URL",
            ),
            (
                "[[backbones]]\nname = \"o\"\nprovider = \"local\"\nmodel = \"x\"\ntemperature = 3.0",
                "backbones[1].temperature",
                "outside 0..=2",
            ),
            (
                "[[backbones]]\nname = \"o\"\nprovider = \"local\"\nmodel = \"x\"\n[backbones.rate_limit]\nburst_secs = 0.0",
                "backbones[1].rate_limit.burst_secs",
                "not a positive number",
            ),
            (
                "[[backbones]]\nname = \"o\"\nprovider = \"local\"\nmodel = \"x\"\nmax_concurrency = 0",
                "backbones[1].max_concurrency",
                "is 0",
            ),
            (
                "[[backbones]]\nname = \"o\"\nprovider = \"local\"\nmodel = \"x\"\napi_key_env = \"sk-abc\"",
                "backbones[1].api_key_env",
                "looks like a key",
            ),
            (
                "[[backbones]]\nname = \"o\"\nprovider = \"local\"\nmodel = \"x\"\n[backbones.price]\nprompt_per_mtok = -1.0",
                "backbones[1].price",
                "negative",
            ),
            ("[[arms]]\nname = \"base\"", "arms[1].name", "used twice"),
            (
                "[[arms]]\nname = \"b\"\nmax_steps = 0",
                "arms[1].max_steps",
                "is 0",
            ),
            (
                "[[arms]]\nname = \"b\"\naccumulation = \"online\"\nretrieval_k = 0",
                "arms[1].retrieval_k",
                "no action could be retrieved",
            ),
            (
                "[[arms]]\nname = \"b\"\naccumulation = \"train-then-test\"",
                "arms[1].accumulation",
                "no benchmark has a `train` split",
            ),
            ("[limits]\nmax_steps = 0", "limits.max_steps", "is 0"),
            (
                "[limits]\nwall_time_secs = 0",
                "limits.wall_time_secs",
                "is 0",
            ),
            (
                "[limits]\ncell_timeout_secs = 0",
                "limits.cell_timeout_secs",
                "is 0",
            ),
            ("[limits]\nmax_attempts = 0", "limits.max_attempts", "is 0"),
            (
                "[limits]\nobservation_chars = 10",
                "limits.observation_chars",
                "below 200",
            ),
            (
                "[limits]\nmax_cost_usd = 0.0",
                "limits.max_cost_usd",
                "not positive",
            ),
            ("[sandbox]\nmemory_mb = 8", "sandbox.memory_mb", "below 64"),
            ("[sandbox]\ncpus = 0.0", "sandbox.cpus", "not positive"),
            (
                "[sandbox]\npids_limit = 2",
                "sandbox.pids_limit",
                "below 16",
            ),
            (
                "[sandbox]\nmax_starts_per_second = 0.0",
                "sandbox.max_starts_per_second",
                "not positive",
            ),
            (
                "[scheduler]\nlease_secs = 5\nheartbeat_secs = 5",
                "scheduler.lease_secs",
                "does not outlive",
            ),
            (
                "[stores.embedder]\nkind = \"bert\"",
                "stores.embedder.kind",
                "not a known embedder",
            ),
            (
                "[sandbox]\nruntime = \"run sc\"",
                "sandbox.runtime",
                "not the name of a Docker runtime",
            ),
            (
                "[stores]\nqdrant_url = \"qdrant:6334\"",
                "stores.qdrant_url",
                "not an http(s) URL",
            ),
            (
                "[stores]\nqdrant_api_key_env = \"my secret key\"",
                "stores.qdrant_api_key_env",
                "not the name of an environment variable",
            ),
        ];
        let mut seen = std::collections::HashSet::new();
        for (edit, key, words) in cases {
            // Top-level keys must come before the tables.
            let text = if edit.starts_with('[') {
                format!("{GOOD}\n{edit}\n")
            } else if edit.starts_with("name") {
                GOOD.replace("name = \"t\"", edit)
            } else {
                GOOD.replace("name = \"t\"", &format!("name = \"t\"\n{edit}"))
            };
            let err = check(&text).expect_err(edit);
            let msg = err.to_string();
            match &err {
                ConfigError::Invalid {
                    key: k, path, fix, ..
                } => {
                    assert_eq!(k, key, "case `{edit}`: {msg}");
                    assert_eq!(path, "sweep.toml");
                    assert!(!fix.is_empty());
                }
                other => panic!("case `{edit}`: expected an invalid-key error, got {other}"),
            }
            assert!(
                msg.contains(words),
                "case `{edit}`: `{msg}` lacks `{words}`"
            );
            assert!(
                seen.insert(msg.clone()),
                "case `{edit}` repeats another's message: {msg}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_parse_errors_naming_the_key() {
        let err = check(&format!("colour = 1\n{GOOD}")).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }));
        assert!(err.to_string().contains("colour"), "{err}");
        let err = check(&GOOD.replace(
            "[[arms]]\nname = \"base\"",
            "[[arms]]\nname = \"base\"\naccumulation = \"sometimes\"",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("sometimes"), "{err}");
        let err = check("name = 3").unwrap_err();
        assert!(err.to_string().contains("sweep.toml"), "{err}");
    }

    #[test]
    fn a_missing_file_names_it() {
        let err = SweepConfig::load(Path::new("/nonexistent/s.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/s.toml"));
    }

    #[test]
    fn shards_parse() {
        assert_eq!(parse_shard("1/4"), Some((1, 4)));
        assert_eq!(parse_shard("4/4"), None);
        assert_eq!(parse_shard("x/4"), None);
        assert_eq!(parse_shard("0/0"), None);
    }
}
