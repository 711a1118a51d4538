//! Retry policy: exponential backoff with full jitter, and `Retry-After` parsing.
//!
//! A server's `Retry-After` (seconds or an HTTP date) or `retry-after-ms` wins over the
//! computed backoff; both are capped so a bad header cannot stall a run for hours.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};

/// How long to wait between attempts.
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
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling before retry number `retry` (0-based): `min(cap, base * 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Full jitter: a uniform wait in `[0, ceiling(retry)]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(random_u64() % (nanos + 1))
    }

    /// The wait before retry number `retry`: the server's hint (capped) when given, else backoff.
    pub fn wait(&self, retry: u32, server_hint: Option<Duration>) -> Duration {
        match server_hint {
            Some(h) => h.min(self.max_retry_after),
            None => self.backoff(retry),
        }
    }
}

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Parses a `Retry-After` value: delay seconds (`"2"`, also `"1.5"`) or an HTTP date
/// (IMF-fixdate, RFC 850 or asctime), relative to `now`. A date in the past gives zero.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = parse_http_date(v)?;
    let now: DateTime<Utc> = now.into();
    let delta = at.signed_duration_since(now);
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Parses a `retry-after-ms` value (milliseconds, as OpenAI and Azure send).
pub fn parse_retry_after_ms(value: &str) -> Option<Duration> {
    let ms = value.trim().parse::<f64>().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0))
}

fn parse_http_date(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc2822(v) {
        return Some(d.with_timezone(&Utc));
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; asctime: "Sun Nov  6 08:49:37 1994".
    let formats = ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"];
    formats
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
            .into()
    }

    #[test]
    fn parses_delay_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn parses_http_dates_in_all_three_forms() {
        let now = at("1994-11-06T08:49:30Z");
        let want = Some(Duration::from_secs(7));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            want
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            want
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), want);
        // In the past: retry at once.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn parses_retry_after_ms() {
        assert_eq!(
            parse_retry_after_ms("250"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after_ms("x"), None);
    }

    #[test]
    fn backoff_is_bounded_by_the_exponential_ceiling() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(5),
        };
        assert_eq!(p.ceiling(0), Duration::from_millis(100));
        assert_eq!(p.ceiling(3), Duration::from_millis(800));
        assert_eq!(p.ceiling(10), Duration::from_millis(1000));
        let mut distinct = std::collections::BTreeSet::new();
        for r in 0..50 {
            let w = p.backoff(r % 5);
            assert!(w <= p.ceiling(r % 5));
            distinct.insert(w);
        }
        assert!(distinct.len() > 10, "jitter should spread the waits");
        assert_eq!(
            p.wait(0, Some(Duration::from_secs(60))),
            Duration::from_secs(5)
        );
        assert_eq!(
            p.wait(0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }
}
