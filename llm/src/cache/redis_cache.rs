//! The cluster response cache: replies as JSON strings in Redis, with an optional TTL.

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::{CacheKey, CachedReply, ResponseCache};
use crate::LlmError;

/// Replies shared by every worker connected to the same Redis.
#[derive(Clone)]
pub struct RedisResponseCache {
    conn: ConnectionManager,
    prefix: String,
    ttl_secs: Option<u64>,
}

impl std::fmt::Debug for RedisResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisResponseCache")
            .field("prefix", &self.prefix)
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> LlmError {
    LlmError::Config(format!("redis response cache: {what}: {e}"))
}

impl RedisResponseCache {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/`).
    pub async fn connect(url: &str) -> Result<Self, LlmError> {
        let client = redis::Client::open(url).map_err(|e| err(&format!("bad url `{url}`"), e))?;
        let conn = client
            .get_connection_manager()
            .await
            .map_err(|e| err(&format!("cannot connect to `{url}`"), e))?;
        Ok(Self::from_manager(conn))
    }

    pub fn from_manager(conn: ConnectionManager) -> Self {
        RedisResponseCache {
            conn,
            prefix: "herd:llm-cache".to_string(),
            ttl_secs: None,
        }
    }

    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    /// Entries expire after `secs` (default: never).
    pub fn with_ttl(mut self, secs: u64) -> Self {
        self.ttl_secs = Some(secs);
        self
    }

    fn key(&self, key: &CacheKey) -> String {
        format!("{}:{}", self.prefix, key.as_str())
    }
}

#[async_trait]
impl ResponseCache for RedisResponseCache {
    async fn get(&self, key: &CacheKey) -> Result<Option<CachedReply>, LlmError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = conn
            .get(self.key(key))
            .await
            .map_err(|e| err(&format!("GET `{}` failed", key.as_str()), e))?;
        raw.map(|s| {
            serde_json::from_str(&s)
                .map_err(|e| err(&format!("entry `{}` is corrupt", key.as_str()), e))
        })
        .transpose()
    }

    async fn put(&self, key: &CacheKey, reply: &CachedReply) -> Result<(), LlmError> {
        let mut conn = self.conn.clone();
        let text = serde_json::to_string(reply).map_err(|e| err("cannot encode", e))?;
        let k = self.key(key);
        let res: Result<(), _> = match self.ttl_secs {
            Some(ttl) => conn.set_ex(k, text, ttl).await,
            None => conn.set(k, text).await,
        };
        res.map_err(|e| err(&format!("SET `{}` failed", key.as_str()), e))
    }
}
