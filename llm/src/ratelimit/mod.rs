//! Per-backbone rate limits (requests and tokens per minute) shared by every call.
//!
//! Both implementations run the same GCRA (a token bucket holding one minute of budget):
//! [`LocalRateLimiter`] in this process, [`RedisRateLimiter`] across a cluster's workers.

mod local;
mod redis_gcra;

use std::time::{Duration, Instant};

use async_trait::async_trait;
pub use herd_core::config::RateLimitConfig as RateLimits;

pub use self::local::LocalRateLimiter;
pub use self::redis_gcra::RedisRateLimiter;
use crate::LlmError;
use crate::stats::{BackboneStats, GaugeGuard};

/// The window every budget refills over.
pub const WINDOW_MS: f64 = 60_000.0;

/// A shared budget of requests and tokens per minute, by key.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one request and `tokens` tokens from `key`'s budget when both fit now;
    /// otherwise takes nothing and returns how long to wait before asking again.
    async fn try_acquire(
        &self,
        key: &str,
        limits: &RateLimits,
        tokens: u64,
    ) -> Result<Option<Duration>, LlmError>;

    /// Corrects the token budget once the real usage is known (`delta` = actual − estimated;
    /// negative gives tokens back).
    async fn settle(&self, key: &str, limits: &RateLimits, delta: i64) -> Result<(), LlmError>;
}

/// Whether any limit is set.
pub fn is_limited(limits: &RateLimits) -> bool {
    limits.requests_per_minute.is_some_and(|r| r > 0)
        || limits.tokens_per_minute.is_some_and(|t| t > 0)
}

/// Waits until the limiter grants one request of `tokens` tokens; returns the time waited.
/// While waiting, `stats.waiting_rate_limit_now` counts this call.
pub async fn acquire(
    limiter: &dyn RateLimiter,
    key: &str,
    limits: &RateLimits,
    tokens: u64,
    stats: &BackboneStats,
    backbone: &str,
) -> Result<Duration, LlmError> {
    let start = Instant::now();
    let mut guard = None;
    loop {
        match limiter.try_acquire(key, limits, tokens).await? {
            None => return Ok(start.elapsed()),
            Some(wait) => {
                if guard.is_none() {
                    guard = Some(GaugeGuard::new(&stats.waiting_rate_limit_now));
                    tracing::info!(
                        backbone,
                        wait_ms = wait.as_millis() as u64,
                        tokens,
                        "waiting for the backbone's rate limit"
                    );
                }
                tokio::time::sleep(wait + Duration::from_millis(2)).await;
            }
        }
    }
}

/// One GCRA budget: the theoretical arrival time (ms) after which the bucket is full again.
pub(crate) fn gcra_check(tat_ms: f64, now_ms: f64, limit: u32, cost: u64) -> Result<f64, f64> {
    if limit == 0 || cost == 0 {
        return Ok(tat_ms);
    }
    let cost = cost.min(u64::from(limit)) as f64;
    let interval = WINDOW_MS / f64::from(limit);
    let new_tat = tat_ms.max(now_ms) + cost * interval;
    let allow_at = new_tat - WINDOW_MS;
    if allow_at > now_ms {
        Err(allow_at - now_ms)
    } else {
        Ok(new_tat)
    }
}

/// Moves a TAT by `delta` units (settling an estimate); never below `now`.
pub(crate) fn gcra_adjust(tat_ms: f64, now_ms: f64, limit: u32, delta: i64) -> f64 {
    if limit == 0 {
        return tat_ms;
    }
    let interval = WINDOW_MS / f64::from(limit);
    (tat_ms.max(now_ms) + delta as f64 * interval).max(now_ms)
}

/// A rough token estimate for a request before it is sent: 4 characters a token for the
/// prompt plus the completion cap.
pub fn estimate_tokens(prompt_chars: usize, max_completion: Option<u32>) -> u64 {
    (prompt_chars as u64).div_ceil(4) + u64::from(max_completion.unwrap_or(256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_grants_a_minute_of_budget_then_spaces_requests() {
        let mut tat = 0.0;
        let now = 1_000_000.0;
        for _ in 0..6 {
            tat = gcra_check(tat, now, 6, 1).expect("within budget");
        }
        let wait = gcra_check(tat, now, 6, 1).expect_err("over budget");
        assert!(
            (wait - 10_000.0).abs() < 1e-6,
            "one request refills every 10 s, got {wait}"
        );
        // 10 s later one more fits.
        assert!(gcra_check(tat, now + 10_000.0, 6, 1).is_ok());
    }

    #[test]
    fn a_cost_above_the_limit_is_clamped_so_it_can_ever_pass() {
        assert!(gcra_check(0.0, 5.0, 100, 1_000).is_ok());
    }

    #[test]
    fn settling_gives_tokens_back() {
        let now = 0.0;
        let tat = gcra_check(0.0, now, 100, 100).unwrap();
        assert!(gcra_check(tat, now, 100, 1).is_err());
        let tat = gcra_adjust(tat, now, 100, -50);
        assert!(gcra_check(tat, now, 100, 50).is_ok());
    }
}
