//! The per-process rate limiter: GCRA budgets in a mutex-guarded map, timed by tokio's
//! clock (so tests can pause it).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{RateLimiter, RateLimits, burst_ms, gcra_adjust, gcra_check};
use crate::LlmError;

/// Budgets of one process (one machine's workers).
#[derive(Debug)]
pub struct LocalRateLimiter {
    epoch: Instant,
    state: Mutex<HashMap<String, (f64, f64)>>,
}

impl Default for LocalRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalRateLimiter {
    pub fn new() -> Self {
        LocalRateLimiter {
            epoch: Instant::now(),
            state: Mutex::new(HashMap::new()),
        }
    }

    fn now_ms(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64() * 1000.0
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn try_acquire(
        &self,
        key: &str,
        limits: &RateLimits,
        tokens: u64,
    ) -> Result<Option<Duration>, LlmError> {
        let now = self.now_ms();
        let mut state = self.state.lock();
        let (req_tat, tok_tat) = state.get(key).copied().unwrap_or((now, now));
        let burst = burst_ms(limits);
        let req = gcra_check(
            req_tat,
            now,
            limits.requests_per_minute.unwrap_or(0),
            1,
            burst,
        );
        let tok = gcra_check(
            tok_tat,
            now,
            limits.tokens_per_minute.unwrap_or(0),
            tokens,
            burst,
        );
        match (req, tok) {
            (Ok(r), Ok(t)) => {
                state.insert(key.to_string(), (r, t));
                Ok(None)
            }
            (r, t) => {
                let wait = r.err().unwrap_or(0.0).max(t.err().unwrap_or(0.0));
                Ok(Some(Duration::from_secs_f64(wait / 1000.0)))
            }
        }
    }

    async fn settle(&self, key: &str, limits: &RateLimits, delta: i64) -> Result<(), LlmError> {
        let now = self.now_ms();
        let mut state = self.state.lock();
        let entry = state.entry(key.to_string()).or_insert((now, now));
        entry.1 = gcra_adjust(entry.1, now, limits.tokens_per_minute.unwrap_or(0), delta);
        Ok(())
    }
}
