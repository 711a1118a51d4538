//! The retry schedules herd's outbound calls share: exponential backoff with full jitter, built
//! on `backon`. Callers pick a schedule by what a failure costs them (a quick one inside a
//! request, a patient one where giving up loses work) and say which errors are worth retrying.

use std::time::Duration;

pub use backon::{ExponentialBuilder, Retryable};

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

#[cfg(test)]
mod tests {
    use super::*;
    use backon::BackoffBuilder;

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
