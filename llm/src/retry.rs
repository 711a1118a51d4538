//! The backbone's retry settings: a thin config for the shared schedule of
//! [`herd_core::retry`] (exponential backoff with jitter, `Retry-After` honoured and capped).

use std::time::Duration;

use herd_core::retry::{ExponentialBuilder, honour_retry_after, schedule};
pub use herd_core::retry::{parse_retry_after, parse_retry_after_ms, retry_hint};

/// How long to wait between attempts of one chat call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Backoff before the first retry (before jitter).
    pub base: Duration,
    /// Largest backoff (before jitter).
    pub cap: Duration,
    /// Largest wait honoured from a `Retry-After` header.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: herd_core::retry::MAX_RETRY_AFTER,
        }
    }
}

impl RetryPolicy {
    /// The shared schedule with these delays and at most `max_retries` retries.
    pub fn schedule(&self, max_retries: u32) -> ExponentialBuilder {
        schedule(self.base, self.cap.max(self.base), max_retries as usize)
    }

    /// For backon's `.adjust`: the server's hint (capped) in place of the computed backoff;
    /// `None` once the retries are spent.
    pub fn adjust(&self, hint: Option<Duration>, backoff: Option<Duration>) -> Option<Duration> {
        honour_retry_after(hint, backoff, self.max_retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_core::retry::{BackoffBuilder, Retryable};

    #[test]
    fn the_schedule_has_max_retries_delays_within_the_cap() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(5),
        };
        let d: Vec<Duration> = p.schedule(6).build().collect();
        assert_eq!(d.len(), 6);
        // Jitter adds up to 100%.
        assert!(d.iter().all(|w| *w <= Duration::from_millis(2000)), "{d:?}");
        assert!(d[0] >= Duration::from_millis(100), "{d:?}");
        assert_eq!(p.schedule(0).build().count(), 0);
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(p.adjust(s(60), s(1)), s(5));
        assert_eq!(p.adjust(s(2), s(1)), s(2));
        assert_eq!(p.adjust(s(2), None), None);
    }

    #[tokio::test]
    async fn adjust_substitutes_the_servers_hint_and_notify_sees_each_retry() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let calls = AtomicU32::new(0);
        let mut waits = Vec::new();
        let r: Result<u32, (bool, Option<Duration>)> = (|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err((true, Some(Duration::from_millis(30)))),
                1 => Err((true, None)),
                n => Ok(n),
            }
        })
        .retry(herd_core::retry::schedule(
            Duration::from_millis(1),
            Duration::from_millis(2),
            3,
        ))
        .when(|e| e.0)
        .adjust(|e, d| honour_retry_after(e.1, d, Duration::from_millis(20)))
        .notify(|_, d| waits.push(d))
        .await;
        assert_eq!(r, Ok(2));
        assert_eq!(waits.len(), 2);
        assert_eq!(waits[0], Duration::from_millis(20), "hint capped");
        assert!(waits[1] <= Duration::from_millis(4), "{:?}", waits[1]);
        // An error `.when` rejects is not retried.
        let calls = AtomicU32::new(0);
        let r: Result<(), (bool, Option<Duration>)> = (|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err((false, None))
        })
        .retry(herd_core::retry::quick())
        .when(|e| e.0)
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
