//! User-defined actions (Au): web search, a paged text browser, downloads, Wayback lookups,
//! visual QA and audio transcription run on the worker (they may hold keys) and are called
//! from the kernel as host calls; `inspect_file_as_text` runs inside the sandbox as Python.

mod archive;
mod args;
mod audio;
mod browser;
mod download;
mod html;
mod http;
mod inspect;
mod retry;
mod search;
mod settings;
mod vision;

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use herd_core::trajectory::LlmCall;
use parking_lot::Mutex;
use serde_json::Value;

pub use archive::FindArchivedUrl;
pub use args::ToolArgs;
pub use audio::{AudioTranscriber, MAX_AUDIO_BYTES, transcriptions_url};
pub use browser::{BrowserState, FindOnPage, PAGE_CHARS, VisitPage};
pub use download::DownloadFile;
pub use html::html_to_text;
pub use retry::{ToolRetries, ToolRetry};
pub use search::{BraveSearch, SearchHit, SearchProvider, SearxngSearch, WebSearch};
pub use settings::{SearchKind, ToolSettings};
pub use vision::VisualQa;

/// Why a tool call failed; the message is raised in the kernel for the model to read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ToolError {
    #[error("{tool}: missing argument `{arg}`")]
    MissingArg {
        tool: &'static str,
        arg: &'static str,
    },
    #[error("{tool}: argument `{arg}` {problem}")]
    BadArg {
        tool: &'static str,
        arg: &'static str,
        problem: String,
    },
    #[error("{tool}: request to {url} failed: {message}")]
    Http {
        tool: &'static str,
        url: String,
        message: String,
    },
    #[error("{tool}: {url} answered with HTTP status {status}")]
    Status {
        tool: &'static str,
        url: String,
        status: u16,
    },
    #[error("{tool}: {message}")]
    Failed { tool: &'static str, message: String },
}

/// One user-defined action served on the worker.
#[async_trait]
pub trait Tool: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether the prompt lists it (a helper of another tool is not listed).
    fn listed(&self) -> bool {
        true
    }
    /// The `- name(args) -> type: description` line for the prompt.
    fn prompt_line(&self) -> String;
    /// Python defining the kernel-side function that forwards to this tool.
    fn python_wrapper(&self) -> String;
    async fn call(&self, args: &ToolArgs<'_>) -> Result<Value, ToolError>;
    /// What the trajectory keeps of a result (large payloads summarised).
    fn summarise(&self, result: &Value) -> Value {
        truncate_json(result, 2000)
    }
}

/// LLM calls a task's tools make on its behalf (visual_qa's vision model, audio
/// transcription) and their retries by cause. The agent loop drains them after every cell
/// into the task's counts, budgets, metrics and trajectory.
#[derive(Clone, Default, Debug)]
pub struct CallLog(Arc<Mutex<(Vec<LlmCall>, ToolRetries)>>);

impl CallLog {
    pub fn push(&self, call: LlmCall) {
        self.0.lock().0.push(call);
    }

    /// Counts the retries one call made.
    pub fn count_retries(&self, retries: ToolRetries) {
        self.0.lock().1.add(retries);
    }

    /// The calls logged since the last `take`.
    pub fn take(&self) -> Vec<LlmCall> {
        std::mem::take(&mut self.0.lock().0)
    }

    /// The retries counted since the last `take_retries`.
    pub fn take_retries(&self) -> ToolRetries {
        std::mem::take(&mut self.0.lock().1)
    }
}

/// The user-defined actions of one task (the browser state and the call log are per task).
#[derive(Clone, Default)]
pub struct ToolBox {
    tools: Vec<Arc<dyn Tool>>,
    /// Whether kernel-side helpers (`inspect_file_as_text`) are defined and listed.
    kernel_helpers: bool,
    calls: CallLog,
}

impl std::fmt::Debug for ToolBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolBox")
            .field("tools", &self.names())
            .field("kernel_helpers", &self.kernel_helpers)
            .finish()
    }
}

impl ToolBox {
    /// No user-defined actions (an arm with `user_actions = false`).
    pub fn none() -> Self {
        ToolBox::default()
    }

    /// Only the kernel-side helpers, no host tools.
    pub fn kernel_helpers_only() -> Self {
        ToolBox {
            kernel_helpers: true,
            ..ToolBox::default()
        }
    }

    /// A toolbox of the given host tools, plus the kernel-side helpers when asked.
    pub fn from_tools(tools: Vec<Arc<dyn Tool>>, kernel_helpers: bool) -> Self {
        ToolBox {
            tools,
            kernel_helpers,
            calls: CallLog::default(),
        }
    }

    /// The LLM calls the tools made since the last take (see [`CallLog`]).
    pub fn take_llm_calls(&self) -> Vec<LlmCall> {
        self.calls.take()
    }

    /// The retries the tools' LLM calls made since the last take, by cause.
    pub fn take_tool_retries(&self) -> ToolRetries {
        self.calls.take_retries()
    }

    /// Whether audio files can be transcribed (a transcription model is configured).
    pub fn transcribes_audio(&self) -> bool {
        self.get(audio::NAME).is_some()
    }

    /// Names of the host tools.
    pub fn names(&self) -> Vec<&'static str> {
        self.tools.iter().map(|t| t.name()).collect()
    }

    /// Whether `name` is a user-defined action here (host tool or kernel helper).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some() || (self.kernel_helpers && name == inspect::NAME)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.iter().find(|t| t.name() == name)
    }

    /// Prompt lines of every enabled tool.
    pub fn prompt_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .tools
            .iter()
            .filter(|t| t.listed())
            .map(|t| t.prompt_line())
            .collect();
        if self.kernel_helpers {
            lines.push(inspect::prompt_line(self.transcribes_audio()));
        }
        lines
    }

    /// Python for the kernel: wrappers of the host tools and the kernel-side helpers.
    pub fn python_wrappers(&self) -> Vec<String> {
        let mut out: Vec<String> = self.tools.iter().map(|t| t.python_wrapper()).collect();
        if self.kernel_helpers {
            out.push(inspect::PYTHON.to_string());
        }
        out
    }

    /// Runs host tool `name`.
    pub async fn call(&self, name: &str, args: &Value) -> Result<Value, String> {
        let Some(tool) = self.get(name) else {
            return Err(format!("no host function named `{name}`"));
        };
        tool.call(&ToolArgs::new(args))
            .await
            .map_err(|e| e.to_string())
    }

    /// The part of a result kept in the trajectory.
    pub fn summarise(&self, name: &str, result: &Value) -> Value {
        match self.get(name) {
            Some(t) => t.summarise(result),
            None => truncate_json(result, 2000),
        }
    }
}

/// Process-wide tool configuration and the shared HTTP client; makes per-task toolboxes.
pub struct ToolEnv {
    settings: ToolSettings,
    client: reqwest::Client,
    search: Option<Arc<dyn SearchProvider>>,
    vision: Option<VisualQa>,
    audio: Option<AudioTranscriber>,
}

impl ToolEnv {
    /// Builds the tools from `settings`; a tool whose key or URL is missing is left out with
    /// one warning per process.
    pub fn new(settings: ToolSettings) -> Result<Self, ToolError> {
        let client = http::client(&settings)?;
        let search = search::provider_from_settings(&settings, &client);
        let vision = vision::from_settings(&settings, &client);
        let audio = audio::from_settings(&settings, &client);
        Ok(ToolEnv {
            settings,
            client,
            search,
            vision,
            audio,
        })
    }

    /// Settings from the `HERD_*` environment variables.
    pub fn from_env() -> Result<Self, ToolError> {
        Self::new(ToolSettings::from_env())
    }

    /// A fresh toolbox for one task (its own browser state and call log).
    pub fn toolbox(&self) -> ToolBox {
        let calls = CallLog::default();
        let browser = Arc::new(Mutex::new(BrowserState::default()));
        let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
        if let Some(p) = &self.search {
            tools.push(Arc::new(WebSearch::new(
                p.clone(),
                self.settings.search_results,
            )));
        }
        tools.push(Arc::new(VisitPage::new(
            self.client.clone(),
            browser.clone(),
            self.settings.max_page_bytes,
        )));
        tools.push(Arc::new(FindOnPage::new(browser)));
        tools.push(Arc::new(DownloadFile::new(
            self.client.clone(),
            self.settings.max_download_bytes,
        )));
        tools.push(Arc::new(FindArchivedUrl::new(
            self.client.clone(),
            self.settings.wayback_url.clone(),
        )));
        if let Some(v) = &self.vision {
            tools.push(Arc::new(v.with_log(calls.clone())));
        }
        if let Some(a) = &self.audio {
            tools.push(Arc::new(a.with_log(calls.clone())));
        }
        ToolBox {
            tools,
            kernel_helpers: true,
            calls,
        }
    }
}

static WARNED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(|| Mutex::new(HashSet::new()));

/// Logs `message` once per process for `key`; returns whether it was logged now.
pub fn warn_once(key: &str, message: &str) -> bool {
    let first = WARNED.lock().insert(key.to_string());
    if first {
        tracing::warn!(tool = key, "{message}");
    }
    first
}

/// Whether a warning for `key` was logged in this process.
pub fn was_warned(key: &str) -> bool {
    WARNED.lock().contains(key)
}

/// Cuts long strings inside a JSON value for the record.
pub(crate) fn truncate_json(v: &Value, max: usize) -> Value {
    match v {
        Value::String(s) if s.chars().count() > max => {
            let head: String = s.chars().take(max).collect();
            Value::String(format!(
                "{head}[... {} more characters]",
                s.chars().count() - max
            ))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| truncate_json(x, max)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), truncate_json(x, max)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A Python wrapper forwarding all parameters to host tool `name` and returning its text.
/// `params` are `(name, annotation, default)`.
pub(crate) fn text_wrapper(name: &str, params: &[(&str, &str, Option<&str>)], doc: &str) -> String {
    let sig: Vec<String> = params
        .iter()
        .map(|(p, ty, d)| match d {
            Some(d) => format!("{p}: {ty} = {d}"),
            None => format!("{p}: {ty}"),
        })
        .collect();
    let fwd: Vec<String> = params.iter().map(|(p, _, _)| format!("{p}={p}")).collect();
    format!(
        "def {name}({}) -> str:\n    \"\"\"{doc}\"\"\"\n    return _HerdText(_herd_call({:?}, {}))\n",
        sig.join(", "),
        name,
        fwd.join(", ")
    )
}
