//! Per-backbone rate limits (requests and tokens per minute) shared by every call.
//!
//! Both implementations run the same GCRA, a token bucket refilling at the per-minute rate
//! and holding `burst_secs` of budget (default 5 s, so a quiet minute cannot be spent in one
//! burst): [`LocalRateLimiter`] in this process, [`RedisRateLimiter`] across the workers.

mod local;
mod redis_gcra;

use std::time::Duration;

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
    let start = tokio::time::Instant::now();
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

/// The bucket's size in milliseconds of budget: `burst_secs` (at least 1 ms).
pub fn burst_ms(limits: &RateLimits) -> f64 {
    let b = limits.burst_secs * 1000.0;
    if b.is_finite() { b.max(1.0) } else { WINDOW_MS }
}

/// One GCRA budget: the theoretical arrival time (ms) after which the bucket is full again.
/// The bucket holds `burst_ms` of budget, or one request's cost when that is more (so any
/// request can pass once the bucket is full). Returns the new TAT, or the wait in ms.
pub(crate) fn gcra_check(
    tat_ms: f64,
    now_ms: f64,
    limit: u32,
    cost: u64,
    burst_ms: f64,
) -> Result<f64, f64> {
    if limit == 0 || cost == 0 {
        return Ok(tat_ms);
    }
    let cost = cost.min(u64::from(limit)) as f64;
    let interval = WINDOW_MS / f64::from(limit);
    let new_tat = tat_ms.max(now_ms) + cost * interval;
    let allow_at = new_tat - burst_ms.max(cost * interval);
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
    fn gcra_grants_the_burst_then_spaces_requests() {
        let mut tat = 0.0;
        let now = 1_000_000.0;
        for _ in 0..6 {
            tat = gcra_check(tat, now, 6, 1, WINDOW_MS).expect("within budget");
        }
        let wait = gcra_check(tat, now, 6, 1, WINDOW_MS).expect_err("over budget");
        assert!(
            (wait - 10_000.0).abs() < 1e-6,
            "one request refills every 10 s, got {wait}"
        );
        // 10 s later one more fits.
        assert!(gcra_check(tat, now + 10_000.0, 6, 1, WINDOW_MS).is_ok());
    }

    #[test]
    fn a_burst_shorter_than_one_request_still_lets_one_through() {
        // 6 a minute is one request per 10 s; a 5 s bucket still holds one request.
        let tat = gcra_check(0.0, 0.0, 6, 1, 5_000.0).expect("one fits");
        let wait = gcra_check(tat, 0.0, 6, 1, 5_000.0).expect_err("the second waits");
        assert!((wait - 10_000.0).abs() < 1e-6, "{wait}");
    }

    #[test]
    fn a_cost_above_the_limit_is_clamped_so_it_can_ever_pass() {
        assert!(gcra_check(0.0, 5.0, 100, 1_000, 5_000.0).is_ok());
    }

    #[test]
    fn settling_gives_tokens_back() {
        let now = 0.0;
        let tat = gcra_check(0.0, now, 100, 100, WINDOW_MS).unwrap();
        assert!(gcra_check(tat, now, 100, 1, WINDOW_MS).is_err());
        let tat = gcra_adjust(tat, now, 100, -50);
        assert!(gcra_check(tat, now, 100, 50, WINDOW_MS).is_ok());
    }

    fn rpm_with_burst(rpm: u32, burst_secs: f64) -> RateLimits {
        RateLimits {
            requests_per_minute: Some(rpm),
            tokens_per_minute: None,
            burst_secs,
        }
    }

    /// 60 a minute with a 5 s burst: 5 requests pass at once, then one a second; 70 callers
    /// arriving together see at most 15 requests through in the first 10 s (a whole-minute
    /// bucket let 60 through), and over two minutes the rate stays 60 a minute.
    #[tokio::test(start_paused = true)]
    async fn a_burst_is_a_few_seconds_of_budget_and_the_long_run_rate_holds() {
        use std::sync::Arc;
        let limits = rpm_with_burst(60, 5.0);
        assert!(is_limited(&limits));
        let l = LocalRateLimiter::new();
        let mut at_once = 0;
        while l.try_acquire("k", &limits, 0).await.unwrap().is_none() {
            at_once += 1;
            assert!(at_once <= 100, "the bucket never empties");
        }
        assert_eq!(at_once, 5);

        let l = Arc::new(LocalRateLimiter::new());
        let stats = Arc::new(BackboneStats::new());
        let t0 = tokio::time::Instant::now();
        let callers: Vec<_> = (0..70)
            .map(|_| {
                let (l, stats) = (l.clone(), stats.clone());
                tokio::spawn(async move {
                    acquire(l.as_ref(), "k", &limits, 0, &stats, "b")
                        .await
                        .unwrap();
                    t0.elapsed()
                })
            })
            .collect();
        let mut granted = Vec::new();
        for c in callers {
            granted.push(c.await.unwrap());
        }
        let in_first_10s = granted
            .iter()
            .filter(|t| **t < Duration::from_secs(10))
            .count();
        assert!(
            (14..=16).contains(&in_first_10s),
            "{in_first_10s} requests in the first 10 s"
        );
        // No 10 s window anywhere holds more than the burst plus 10 s of budget.
        granted.sort();
        for (i, t) in granted.iter().enumerate() {
            let window = granted[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(10))
                .count();
            assert!(window <= 16, "{window} requests in the 10 s after {t:?}");
        }
        // Long run: 70 requests took about 65 s (5 at once, then one a second).
        let last = *granted.last().unwrap();
        assert!(
            last >= Duration::from_secs(64) && last <= Duration::from_secs(67),
            "{last:?}"
        );

        // Steady demand for two minutes: about 60 a minute plus the one burst.
        let l = LocalRateLimiter::new();
        let t0 = tokio::time::Instant::now();
        let mut n = 0u32;
        while t0.elapsed() < Duration::from_secs(120) {
            acquire(&l, "k", &limits, 0, &stats, "b").await.unwrap();
            n += 1;
        }
        assert!((120..=127).contains(&n), "{n} requests in 120 s");
    }
}
