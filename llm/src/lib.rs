//! LLM backbones: the `ChatModel` contract the agent loop calls, an OpenAI-compatible client
//! with retries, rate limits and a response cache, and the local llama.cpp backbone.
//!
//! [`build_backbone`] turns a [`BackboneConfig`] into a ready `Arc<dyn ChatModel>`.

pub mod backbone;
pub mod cache;
pub mod cost;
pub mod local;
pub mod openai;
pub mod ratelimit;
pub mod retry;
pub mod secret;
pub mod stats;

pub use backbone::{BackboneDeps, build_backbone, default_response_cache};
pub use cache::{
    CacheKey, CachedModel, CachedReply, RedbResponseCache, RedisResponseCache, ResponseCache,
};
pub use cost::{Usage, price_usage};
pub use herd_core::config::BackboneConfig;
pub use local::{LocalModel, resolve_local_model};
pub use openai::OpenAiClient;
pub use ratelimit::{LocalRateLimiter, RateLimiter, RateLimits, RedisRateLimiter};
pub use retry::{RetryPolicy, parse_retry_after};
pub use stats::{BackboneStats, RetryCause, StatsSnapshot};

use async_trait::async_trait;
use herd_core::trajectory::Message;
use serde::{Deserialize, Serialize};

/// One chat request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    /// When set, ask for a JSON object of this schema (structured output / grammar).
    pub json_schema: Option<serde_json::Value>,
    /// Overrides the backbone's `max_tokens`.
    pub max_tokens: Option<u32>,
    /// Overrides the backbone's seed (derived per task).
    pub seed: Option<u64>,
}

/// Retries made before a reply, by cause.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RetryCounts {
    pub rate_limited: u32,
    pub server_error: u32,
    pub connection: u32,
    pub timeout: u32,
}

/// A reply with its exact usage and cost.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatResponse {
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// Served from the response cache: no call was made and it cost nothing.
    pub cached: bool,
    pub latency_ms: u64,
    pub retries: RetryCounts,
    /// Model identity the server (or GGUF metadata) reported.
    pub model: String,
}

/// Why a chat call failed for good.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LlmError {
    /// A 4xx other than 429: the request is wrong; retrying will not help.
    #[error("llm request rejected with status {status}: {message}")]
    Client { status: u16, message: String },
    /// Retries spent on 429/5xx/connection errors/timeouts.
    #[error("llm unavailable after {attempts} attempts: {message}")]
    Unavailable { attempts: u32, message: String },
    #[error("llm reply malformed: {0}")]
    Malformed(String),
    #[error("llm backbone misconfigured: {0}")]
    Config(String),
    #[error("local model error: {0}")]
    Local(String),
}

/// A backbone the agent loop can talk to.
#[async_trait]
pub trait ChatModel: Send + Sync {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError>;
    /// Exact model identity for results (server model name or GGUF metadata).
    fn identity(&self) -> String;
}
