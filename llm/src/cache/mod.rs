//! Response cache: a reply stored under a hash of the full request, so a re-run of a
//! deterministic (temperature 0) sweep makes no call and costs nothing.
//!
//! [`RedbResponseCache`] is one embedded file; [`RedisResponseCache`] is shared by a cluster.
//! [`CachedModel`] puts a cache in front of any [`ChatModel`].

mod redb_cache;
mod redis_cache;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use async_trait::async_trait;
use herd_core::config::{BackboneConfig, CacheMode, StructuredOutput};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use self::redb_cache::RedbResponseCache;
pub use self::redis_cache::RedisResponseCache;
use crate::stats::BackboneStats;
use crate::{ChatModel, ChatRequest, ChatResponse, LlmError, RetryCounts};

/// Version of the key recipe; bump when what goes into the key changes.
const KEY_VERSION: u32 = 1;

/// The hex sha256 of everything that determines a reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// Hashes the backbone's model, endpoint and parameters with the request (messages,
    /// schema, limits, seed). `identity` pins the exact model (for local backbones, the GGUF
    /// sha256).
    pub fn for_request(cfg: &BackboneConfig, identity: &str, req: &ChatRequest) -> CacheKey {
        let structured = match cfg.structured_output {
            StructuredOutput::JsonSchema => "json-schema",
            StructuredOutput::JsonObject => "json-object",
            StructuredOutput::None => "none",
        };
        let material = serde_json::json!({
            "v": KEY_VERSION,
            "provider": format!("{:?}", cfg.provider),
            "model": cfg.model,
            "identity": identity,
            "base_url": cfg.base_url,
            "azure_api_version": cfg.azure_api_version,
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "max_tokens": req.max_tokens.or(cfg.max_tokens),
            "stop": cfg.stop,
            "structured_output": structured,
            "extra_body": cfg.extra_body,
            "messages": req.messages,
            "json_schema": req.json_schema,
            "seed": req.seed,
        });
        // serde_json maps are ordered by key, so this text is canonical.
        let text = material.to_string();
        CacheKey(hex::encode(Sha256::digest(text.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the cache keeps of a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedReply {
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub model: String,
}

/// A store of replies by request hash.
#[async_trait]
pub trait ResponseCache: Send + Sync {
    async fn get(&self, key: &CacheKey) -> Result<Option<CachedReply>, LlmError>;
    async fn put(&self, key: &CacheKey, reply: &CachedReply) -> Result<(), LlmError>;
}

/// Whether a backbone's replies are cached: `on`, or `auto` at temperature 0.
pub fn cache_enabled(cfg: &BackboneConfig) -> bool {
    match cfg.cache {
        CacheMode::On => true,
        CacheMode::Off => false,
        CacheMode::Auto => cfg.temperature == 0.0,
    }
}

/// A backbone behind a response cache.
///
/// A hit returns `cached: true`, `cost_usd: 0` and the token counts of the original call
/// (so budgets behave the same on a re-run); a miss calls the backbone and stores the reply.
/// Cache failures are logged and never fail a call.
pub struct CachedModel {
    inner: Arc<dyn ChatModel>,
    cache: Arc<dyn ResponseCache>,
    cfg: BackboneConfig,
    /// Fixed model identity in the key (the GGUF hash for local models; empty for servers,
    /// whose model and URL are already in the key).
    key_identity: String,
    stats: Arc<BackboneStats>,
}

impl CachedModel {
    pub fn new(
        inner: Arc<dyn ChatModel>,
        cache: Arc<dyn ResponseCache>,
        cfg: BackboneConfig,
        key_identity: String,
        stats: Arc<BackboneStats>,
    ) -> Self {
        CachedModel {
            inner,
            cache,
            cfg,
            key_identity,
            stats,
        }
    }
}

#[async_trait]
impl ChatModel for CachedModel {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        let key = CacheKey::for_request(&self.cfg, &self.key_identity, req);
        match self.cache.get(&key).await {
            Ok(Some(hit)) => {
                self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(backbone = %self.cfg.name, key = key.as_str(), "response cache hit");
                return Ok(ChatResponse {
                    content: hit.content,
                    prompt_tokens: hit.prompt_tokens,
                    completion_tokens: hit.completion_tokens,
                    cost_usd: 0.0,
                    cached: true,
                    latency_ms: started.elapsed().as_millis() as u64,
                    retries: RetryCounts::default(),
                    model: hit.model,
                });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(backbone = %self.cfg.name, error = %e, "response cache read failed; calling the backbone");
            }
        }
        let resp = self.inner.chat(req).await?;
        let reply = CachedReply {
            content: resp.content.clone(),
            prompt_tokens: resp.prompt_tokens,
            completion_tokens: resp.completion_tokens,
            model: resp.model.clone(),
        };
        if let Err(e) = self.cache.put(&key, &reply).await {
            tracing::warn!(backbone = %self.cfg.name, error = %e, "response cache write failed");
        }
        Ok(resp)
    }

    fn identity(&self) -> String {
        self.inner.identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_core::trajectory::Message;

    fn cfg() -> BackboneConfig {
        toml::from_str(
            r#"
            name = "b"
            model = "gpt-x"
            base_url = "http://127.0.0.1:1/v1"
            temperature = 0.0
            "#,
        )
        .unwrap()
    }

    fn req(text: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![Message {
                role: "user".into(),
                content: text.into(),
            }],
            json_schema: None,
            max_tokens: None,
            seed: Some(1),
        }
    }

    #[test]
    fn key_changes_with_every_part_of_the_request() {
        let c = cfg();
        let base = CacheKey::for_request(&c, "id", &req("hi"));
        assert_eq!(base, CacheKey::for_request(&c, "id", &req("hi")));
        assert_ne!(base, CacheKey::for_request(&c, "id", &req("ho")));
        let mut r = req("hi");
        r.seed = Some(2);
        assert_ne!(base, CacheKey::for_request(&c, "id", &r));
        let mut r = req("hi");
        r.json_schema = Some(serde_json::json!({"type": "object"}));
        assert_ne!(base, CacheKey::for_request(&c, "id", &r));
        let mut c2 = c.clone();
        c2.base_url = Some("http://127.0.0.1:2/v1".into());
        assert_ne!(base, CacheKey::for_request(&c2, "id", &req("hi")));
        let mut c3 = c.clone();
        c3.temperature = 0.7;
        assert_ne!(base, CacheKey::for_request(&c3, "id", &req("hi")));
        assert_ne!(
            base,
            CacheKey::for_request(&c, "other-model-file", &req("hi"))
        );
    }

    #[test]
    fn auto_mode_caches_only_at_temperature_zero() {
        let mut c = cfg();
        assert!(cache_enabled(&c));
        c.temperature = 0.3;
        assert!(!cache_enabled(&c));
        c.cache = CacheMode::On;
        assert!(cache_enabled(&c));
        c.cache = CacheMode::Off;
        c.temperature = 0.0;
        assert!(!cache_enabled(&c));
    }
}
