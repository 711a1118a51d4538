//! Builds a ready backbone from its config: the OpenAI-compatible client or the local
//! model, behind the response cache when caching is on, sharing the given rate limiter.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use herd_core::config::{BackboneConfig, Provider};
use tokio::sync::OnceCell;

use crate::cache::{CachedModel, RedbResponseCache, ResponseCache, cache_enabled};
use crate::local::LocalModel;
use crate::openai::OpenAiClient;
use crate::ratelimit::{LocalRateLimiter, RateLimiter, is_limited};
use crate::retry::RetryPolicy;
use crate::stats::BackboneStats;
use crate::{ChatModel, LlmError};

/// What a backbone shares with the rest of the worker.
#[derive(Clone, Default)]
pub struct BackboneDeps {
    /// The response cache (embedded redb or Redis). `None` with caching on: the process-wide
    /// default file cache ([`default_response_cache`]).
    pub cache: Option<Arc<dyn ResponseCache>>,
    /// The rate limiter (Redis in a cluster). `None` with limits set: a per-process limiter.
    pub rate_limiter: Option<Arc<dyn RateLimiter>>,
    /// Live counters of this backbone, for progress displays.
    pub stats: Arc<BackboneStats>,
    /// Backoff between retries.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for BackboneDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackboneDeps")
            .field("cache", &self.cache.is_some())
            .field("rate_limiter", &self.rate_limiter.is_some())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

fn process_limiter() -> Arc<dyn RateLimiter> {
    static L: OnceLock<Arc<LocalRateLimiter>> = OnceLock::new();
    L.get_or_init(|| Arc::new(LocalRateLimiter::new())).clone()
}

/// The response cache file of this process: `$HERD_CACHE_DIR/llm-responses.redb`, else
/// `$HOME/.cache/herd/llm-responses.redb`; opened once and shared.
pub async fn default_response_cache() -> Result<Arc<dyn ResponseCache>, LlmError> {
    static C: OnceCell<Arc<RedbResponseCache>> = OnceCell::const_new();
    let c = C
        .get_or_try_init(|| async {
            let dir = std::env::var_os("HERD_CACHE_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    std::env::var_os("HOME")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| PathBuf::from("."))
                        .join(".cache/herd")
                });
            RedbResponseCache::open_async(&dir.join("llm-responses.redb"))
                .await
                .map(Arc::new)
        })
        .await?;
    Ok(c.clone() as Arc<dyn ResponseCache>)
}

/// A ready backbone for `cfg`.
///
/// `provider = "openai"`: the chat-completions client (Azure when `azure_api_version` is
/// set); `provider = "local"`: the GGUF model, loaded once per process. Caching follows
/// `cfg.cache` (`auto`: on at temperature 0).
pub async fn build_backbone(
    cfg: &BackboneConfig,
    deps: BackboneDeps,
) -> Result<Arc<dyn ChatModel>, LlmError> {
    let inner: Arc<dyn ChatModel> = match cfg.provider {
        Provider::Openai => {
            let limiter = match (&deps.rate_limiter, is_limited(&cfg.rate_limit)) {
                (Some(l), _) => Some(l.clone()),
                (None, true) => Some(process_limiter()),
                (None, false) => None,
            };
            Arc::new(OpenAiClient::new(
                cfg,
                deps.stats.clone(),
                limiter,
                deps.retry,
            )?)
        }
        Provider::Local => Arc::new(LocalModel::load(cfg, deps.stats.clone()).await?),
    };
    if !cache_enabled(cfg) {
        return Ok(inner);
    }
    let cache = match deps.cache {
        Some(c) => c,
        None => match default_response_cache().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(backbone = %cfg.name, error = %e, "response cache unavailable; running uncached");
                return Ok(inner);
            }
        },
    };
    let key_identity = match cfg.provider {
        Provider::Local => inner.identity(),
        Provider::Openai => String::new(),
    };
    Ok(Arc::new(CachedModel::new(
        inner,
        cache,
        cfg.clone(),
        key_identity,
        deps.stats,
    )))
}
