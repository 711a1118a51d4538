//! The retry schedules herd's outbound calls share: exponential backoff with jitter, built
//! on `backon`, and the server's `Retry-After` in place of the backoff (capped). Callers pick
//! a schedule by what a failure costs them and say which errors are worth retrying (`.when`).

use std::time::{Duration, SystemTime};

pub use backon::{Backoff, BackoffBuilder, ExponentialBackoff, ExponentialBuilder, Retryable};
use chrono::{DateTime, NaiveDateTime, Utc};

/// The longest `Retry-After` an outbound call honours by default, so a bad header cannot
/// stall a run for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Retries inside one request: 4 retries, 100 ms doubling to 800 ms (1.5–3 s in all), so a
/// caller waiting on the answer (an agent's tool call) hears of an outage quickly.
pub fn quick() -> ExponentialBuilder {
    schedule(Duration::from_millis(100), Duration::from_secs(1), 4)
}

/// Retries where giving up would lose work (storing an agent's actions, starting a task):
/// 12 retries, 250 ms doubling to 5 s (43–86 s in all), enough to ride out a restart
/// of the service behind the call.
pub fn patient() -> ExponentialBuilder {
    schedule(Duration::from_millis(250), Duration::from_secs(5), 12)
}

/// Probing a dependency until it recovers (a worker's sandbox engine): 1 s doubling to 30 s,
/// without end; the caller stops it (shutdown) by dropping the future.
pub fn probe() -> ExponentialBuilder {
    schedule(Duration::from_secs(1), Duration::from_secs(30), 1).without_max_times()
}

/// A schedule: `first` doubling up to `max_delay`, at most `max_times` retries; jitter adds
/// up to 100% to each delay.
pub fn schedule(first: Duration, max_delay: Duration, max_times: usize) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(max_delay)
        .with_factor(2.0)
        .with_max_times(max_times)
        .with_jitter()
}

/// The wait before the next retry, for backon's `.adjust`: the server's `hint` (capped at
/// `cap`) in place of the computed `backoff`. `None` (the retries are spent) stays `None`,
/// so a server that keeps sending `Retry-After` cannot make a call retry for ever.
pub fn honour_retry_after(
    hint: Option<Duration>,
    backoff: Option<Duration>,
    cap: Duration,
) -> Option<Duration> {
    let computed = backoff?;
    Some(hint.map_or(computed, |h| h.min(cap)))
}

/// The server's hint from a response's `retry-after-ms` (OpenAI, Azure) or `Retry-After`
/// header values, the first one that parses.
pub fn retry_hint(retry_after_ms: Option<&str>, retry_after: Option<&str>) -> Option<Duration> {
    retry_after_ms
        .and_then(parse_retry_after_ms)
        .or_else(|| retry_after.and_then(|v| parse_retry_after(v, SystemTime::now())))
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
    fn parses_retry_after_ms_first() {
        assert_eq!(
            parse_retry_after_ms("250"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after_ms("x"), None);
        assert_eq!(
            retry_hint(Some("250"), Some("9")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_hint(Some("x"), Some("9")),
            Some(Duration::from_secs(9))
        );
        assert_eq!(retry_hint(None, None), None);
    }

    #[test]
    fn retry_after_replaces_the_backoff_capped_but_never_extends_the_retries() {
        let s = |n| Some(Duration::from_secs(n));
        let cap = Duration::from_secs(30);
        assert_eq!(honour_retry_after(s(2), s(1), cap), s(2));
        assert_eq!(honour_retry_after(s(600), s(1), cap), s(30));
        assert_eq!(honour_retry_after(None, s(1), cap), s(1));
        assert_eq!(honour_retry_after(s(2), None, cap), None);
    }

    #[test]
    fn schedules_are_bounded() {
        let total = |b: ExponentialBuilder| -> (usize, Duration) {
            let d: Vec<Duration> = b.build().collect();
            (d.len(), d.iter().sum())
        };
        let (n, t) = total(quick());
        assert_eq!(n, 4);
        // With jitter each delay is between the delay and twice it.
        assert!(
            t <= Duration::from_millis(2 * (100 + 200 + 400 + 800)),
            "{t:?}"
        );
        let (n, t) = total(patient());
        assert_eq!(n, 12);
        assert!(
            t >= Duration::from_secs(40) && t <= Duration::from_secs(2 * 60),
            "{t:?}"
        );
    }
}
