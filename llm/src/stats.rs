//! Live counters of one backbone, shared with progress displays.
//!
//! Every call, retry (by cause), rate-limit wait and cache hit is counted as it happens, so
//! a run that is retrying after a 429 shows it instead of looking stuck.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Why a request is being retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryCause {
    RateLimited,
    ServerError,
    Connection,
    Timeout,
}

impl RetryCause {
    pub fn as_str(self) -> &'static str {
        match self {
            RetryCause::RateLimited => "rate-limited (429)",
            RetryCause::ServerError => "server error (5xx)",
            RetryCause::Connection => "connection error",
            RetryCause::Timeout => "timeout",
        }
    }
}

/// The latest retry, for "retrying after 429 (wait 2.0 s)" displays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryNotice {
    pub cause: RetryCause,
    /// HTTP status when there was one.
    pub status: Option<u16>,
    pub wait_ms: u64,
    /// Unix time in milliseconds when the retry was scheduled.
    pub at_unix_ms: u64,
}

/// Shared atomic counters of one backbone (`Arc<BackboneStats>`).
#[derive(Debug, Default)]
pub struct BackboneStats {
    /// HTTP requests (or local generations) started, retries included.
    pub calls: AtomicU64,
    /// Replies served from the response cache.
    pub cache_hits: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    /// 4xx other than 429 (not retried).
    pub client_errors: AtomicU64,
    pub connection_errors: AtomicU64,
    pub timeouts: AtomicU64,
    /// Calls that gave up after all retries.
    pub failures: AtomicU64,
    /// Calls currently sleeping before a retry.
    pub in_retry_now: AtomicI64,
    /// Calls currently waiting for the rate limiter.
    pub waiting_rate_limit_now: AtomicI64,
    /// Calls currently in flight (sending or generating).
    pub in_flight_now: AtomicI64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub cached_prompt_tokens: AtomicU64,
    /// Cost so far in micro-dollars.
    pub cost_micro_usd: AtomicU64,
    last_retry: Mutex<Option<RetryNotice>>,
}

/// A plain copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub cache_hits: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub client_errors: u64,
    pub connection_errors: u64,
    pub timeouts: u64,
    pub failures: u64,
    pub in_retry_now: i64,
    pub waiting_rate_limit_now: i64,
    pub in_flight_now: i64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_prompt_tokens: u64,
    pub cost_usd: f64,
    pub last_retry: Option<RetryNotice>,
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl BackboneStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one failed attempt of `cause` (retried or not).
    pub(crate) fn count_cause(&self, cause: RetryCause) {
        let counter = match cause {
            RetryCause::RateLimited => &self.rate_limited,
            RetryCause::ServerError => &self.server_errors,
            RetryCause::Connection => &self.connection_errors,
            RetryCause::Timeout => &self.timeouts,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed attempt that will be retried after `wait_ms`.
    pub(crate) fn record_retry(&self, cause: RetryCause, status: Option<u16>, wait_ms: u64) {
        self.count_cause(cause);
        *self.last_retry.lock() = Some(RetryNotice {
            cause,
            status,
            wait_ms,
            at_unix_ms: now_unix_ms(),
        });
    }

    pub(crate) fn record_usage(
        &self,
        prompt: u64,
        completion: u64,
        cached_prompt: u64,
        cost_usd: f64,
    ) {
        self.prompt_tokens.fetch_add(prompt, Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(completion, Ordering::Relaxed);
        self.cached_prompt_tokens
            .fetch_add(cached_prompt, Ordering::Relaxed);
        let micro = (cost_usd * 1e6).round();
        if micro.is_finite() && micro > 0.0 {
            self.cost_micro_usd
                .fetch_add(micro as u64, Ordering::Relaxed);
        }
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            calls: r(&self.calls),
            cache_hits: r(&self.cache_hits),
            rate_limited: r(&self.rate_limited),
            server_errors: r(&self.server_errors),
            client_errors: r(&self.client_errors),
            connection_errors: r(&self.connection_errors),
            timeouts: r(&self.timeouts),
            failures: r(&self.failures),
            in_retry_now: self.in_retry_now.load(Ordering::Relaxed),
            waiting_rate_limit_now: self.waiting_rate_limit_now.load(Ordering::Relaxed),
            in_flight_now: self.in_flight_now.load(Ordering::Relaxed),
            prompt_tokens: r(&self.prompt_tokens),
            completion_tokens: r(&self.completion_tokens),
            cached_prompt_tokens: r(&self.cached_prompt_tokens),
            cost_usd: r(&self.cost_micro_usd) as f64 / 1e6,
            last_retry: self.last_retry.lock().clone(),
        }
    }
}

impl StatsSnapshot {
    /// A one-line state for progress displays, e.g. `retrying after rate-limited (429), wait 2.0 s`.
    pub fn status_line(&self) -> String {
        if self.in_retry_now > 0 {
            let why = self
                .last_retry
                .as_ref()
                .map(|r| {
                    format!(
                        "{}, wait {:.1} s",
                        r.cause.as_str(),
                        r.wait_ms as f64 / 1000.0
                    )
                })
                .unwrap_or_else(|| "an error".into());
            format!("{} call(s) retrying after {why}", self.in_retry_now)
        } else if self.waiting_rate_limit_now > 0 {
            format!(
                "{} call(s) waiting for the rate limit",
                self.waiting_rate_limit_now
            )
        } else if self.in_flight_now > 0 {
            format!("{} call(s) in flight", self.in_flight_now)
        } else {
            "idle".to_string()
        }
    }
}

/// Increments a gauge for as long as it lives.
pub(crate) struct GaugeGuard<'a>(&'a AtomicI64);

impl<'a> GaugeGuard<'a> {
    pub(crate) fn new(g: &'a AtomicI64) -> Self {
        g.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(g)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_names_the_retry_cause() {
        let s = BackboneStats::new();
        s.record_retry(RetryCause::RateLimited, Some(429), 2000);
        let _g = GaugeGuard::new(&s.in_retry_now);
        let snap = s.snapshot();
        assert_eq!(snap.rate_limited, 1);
        assert!(snap.status_line().contains("429"), "{}", snap.status_line());
        drop(_g);
        assert_eq!(s.snapshot().status_line(), "idle");
    }
}
