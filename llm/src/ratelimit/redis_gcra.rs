//! The cluster-wide rate limiter: GCRA budgets in Redis, updated by one atomic Lua script.
//!
//! The script reads Redis' own clock (`TIME`), so workers with skewed clocks share one budget.

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;

use super::{RateLimiter, RateLimits, WINDOW_MS, burst_ms};
use crate::LlmError;

/// KEYS[1]: request TAT, KEYS[2]: token TAT.
/// ARGV: rpm, tpm, tokens (or the settle delta), mode (`acquire`/`settle`), window ms,
/// burst ms (the bucket's size; at least one request's cost).
/// Returns 0 when granted (or settled), else the wait in milliseconds.
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local mode = ARGV[4]
local window = tonumber(ARGV[5])
local burst = tonumber(ARGV[6])
local function tat_of(key)
  local v = redis.call('GET', key)
  if v then return tonumber(v) end
  return now
end
local function store(key, tat)
  local ttl = math.ceil(tat - now + window)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', key, string.format('%.3f', tat), 'PX', ttl)
end
if mode == 'settle' then
  if tpm > 0 then
    local tat = math.max(tat_of(KEYS[2]), now) + amount * (window / tpm)
    if tat < now then tat = now end
    store(KEYS[2], tat)
  end
  return 0
end
local function check(key, limit, cost)
  if limit <= 0 or cost <= 0 then return nil, 0 end
  if cost > limit then cost = limit end
  local new_tat = math.max(tat_of(key), now) + cost * (window / limit)
  local allow_at = new_tat - math.max(burst, cost * (window / limit))
  if allow_at > now then return nil, allow_at - now end
  return new_tat, 0
end
local r_tat, r_wait = check(KEYS[1], rpm, 1)
local t_tat, t_wait = check(KEYS[2], tpm, amount)
local wait = math.max(r_wait, t_wait)
if wait > 0 then return math.ceil(wait) end
if r_tat then store(KEYS[1], r_tat) end
if t_tat then store(KEYS[2], t_tat) end
return 0
"#;

/// Budgets shared by every worker connected to the same Redis.
#[derive(Clone)]
pub struct RedisRateLimiter {
    conn: ConnectionManager,
    script: Script,
    prefix: String,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn redis_err(what: &str, e: redis::RedisError) -> LlmError {
    LlmError::Config(format!("redis rate limiter: {what}: {e}"))
}

impl RedisRateLimiter {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/`).
    pub async fn connect(url: &str) -> Result<Self, LlmError> {
        let client =
            redis::Client::open(url).map_err(|e| redis_err(&format!("bad url `{url}`"), e))?;
        let conn = client
            .get_connection_manager()
            .await
            .map_err(|e| redis_err(&format!("cannot connect to `{url}`"), e))?;
        Ok(Self::from_manager(conn))
    }

    /// Uses an existing connection.
    pub fn from_manager(conn: ConnectionManager) -> Self {
        RedisRateLimiter {
            conn,
            script: Script::new(GCRA_LUA),
            prefix: "herd:ratelimit".to_string(),
        }
    }

    /// Namespaces the keys (e.g. per test or per deployment).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    fn keys(&self, key: &str) -> (String, String) {
        // The hash tag keeps both keys in one slot of a Redis cluster.
        (
            format!("{}:{{{key}}}:req", self.prefix),
            format!("{}:{{{key}}}:tok", self.prefix),
        )
    }

    async fn run(
        &self,
        key: &str,
        limits: &RateLimits,
        amount: i64,
        mode: &str,
    ) -> Result<i64, LlmError> {
        let (rk, tk) = self.keys(key);
        let mut conn = self.conn.clone();
        self.script
            .key(rk)
            .key(tk)
            .arg(limits.requests_per_minute.unwrap_or(0))
            .arg(limits.tokens_per_minute.unwrap_or(0))
            .arg(amount)
            .arg(mode)
            .arg(WINDOW_MS as u64)
            .arg(burst_ms(limits).ceil() as u64)
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(|e| redis_err(&format!("script on key `{key}` failed"), e))
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn try_acquire(
        &self,
        key: &str,
        limits: &RateLimits,
        tokens: u64,
    ) -> Result<Option<Duration>, LlmError> {
        let wait_ms = self
            .run(
                key,
                limits,
                i64::try_from(tokens).unwrap_or(i64::MAX),
                "acquire",
            )
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms as u64)))
    }

    async fn settle(&self, key: &str, limits: &RateLimits, delta: i64) -> Result<(), LlmError> {
        if limits.tokens_per_minute.unwrap_or(0) == 0 || delta == 0 {
            return Ok(());
        }
        self.run(key, limits, delta, "settle").await.map(|_| ())
    }
}
