//! The container start rate a worker allows itself, adapted to its Docker engine: it rises
//! while starts succeed and their latency stays near the best seen, and falls on an error or
//! a latency rise (additive increase, multiplicative decrease), up to a configured ceiling.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, Semaphore};
use tokio::time::Instant;

/// Starts per second at the beginning: low enough for a busy engine, found quickly if higher.
pub const INITIAL_RATE: f64 = 4.0;
/// The rate never falls below this (a start every two seconds).
pub const FLOOR_RATE: f64 = 0.5;
/// Added after each start that was fast and succeeded.
const STEP: f64 = 0.5;
/// A start slower than this many times the best recent one means the engine is saturating.
const SLOW: f64 = 2.5;
/// Each new latency sample lets the baseline drift up this much, so it follows a slower host.
const BASELINE_DRIFT: f64 = 1.02;

/// The controller's state: pure, so its rules are testable without an engine.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRate {
    rate: f64,
    ceiling: f64,
    /// The best (lowest) recent start latency, seconds.
    best: Option<f64>,
}

impl StartRate {
    /// A controller starting at [`INITIAL_RATE`] (or the ceiling, if lower).
    pub fn new(ceiling: f64) -> StartRate {
        let ceiling = if ceiling.is_finite() && ceiling > 0.0 {
            ceiling
        } else {
            f64::INFINITY
        };
        StartRate {
            rate: INITIAL_RATE.min(ceiling),
            ceiling,
            best: None,
        }
    }

    /// Starts per second allowed now.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes one start's outcome: its latency (create to ready) and whether it succeeded.
    pub fn observe(&mut self, latency: Duration, ok: bool) {
        let floor = FLOOR_RATE.min(self.ceiling);
        if !ok {
            self.rate = (self.rate * 0.5).max(floor);
            return;
        }
        let l = latency.as_secs_f64();
        let best = match self.best {
            Some(b) => (b * BASELINE_DRIFT).min(l),
            None => l,
        };
        self.best = Some(best);
        if l > SLOW * best {
            self.rate = (self.rate * 0.8).max(floor);
        } else {
            self.rate = (self.rate + STEP).min(self.ceiling);
        }
    }
}

/// Paces container start-ups at the adaptive rate, at most `concurrency` at once.
pub(crate) struct StartThrottle {
    rate: Mutex<StartRate>,
    next: AsyncMutex<Instant>,
    pub(crate) creates: Semaphore,
}

impl StartThrottle {
    pub(crate) fn new(ceiling: f64, concurrency: usize) -> Self {
        StartThrottle {
            rate: Mutex::new(StartRate::new(ceiling)),
            next: AsyncMutex::new(Instant::now()),
            creates: Semaphore::new(concurrency.max(1)),
        }
    }

    /// Starts per second allowed now.
    pub(crate) fn rate(&self) -> f64 {
        self.rate.lock().map(|r| r.rate()).unwrap_or(FLOOR_RATE)
    }

    /// Waits for this start's slot.
    pub(crate) async fn wait_turn(&self) {
        // The rate never falls below min(FLOOR_RATE, ceiling), which is positive.
        let interval = Duration::from_secs_f64(1.0 / self.rate());
        let mut next = self.next.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = Instant::now().max(*next) + interval;
    }

    /// Feeds one start's outcome back into the rate.
    pub(crate) fn observe(&self, latency: Duration, ok: bool) {
        if let Ok(mut r) = self.rate.lock() {
            let before = r.rate();
            r.observe(latency, ok);
            if (r.rate() - before).abs() >= 1.0 || !ok {
                tracing::debug!(
                    rate = r.rate(),
                    latency_ms = latency.as_millis() as u64,
                    ok,
                    "container start rate"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_rate_rises_while_starts_stay_fast_up_to_the_ceiling() {
        let mut r = StartRate::new(30.0);
        assert_eq!(r.rate(), INITIAL_RATE);
        for _ in 0..10 {
            r.observe(ms(200), true);
        }
        assert_eq!(r.rate(), INITIAL_RATE + 10.0 * STEP);
        for _ in 0..200 {
            r.observe(ms(210), true);
        }
        assert_eq!(r.rate(), 30.0, "capped by the configured ceiling");
    }

    #[test]
    fn errors_halve_it_and_slow_starts_cut_it_but_never_below_the_floor() {
        let mut r = StartRate::new(100.0);
        for _ in 0..40 {
            r.observe(ms(200), true);
        }
        let high = r.rate();
        r.observe(ms(200), false);
        assert_eq!(r.rate(), high * 0.5);
        let before = r.rate();
        r.observe(ms(900), true);
        assert!(
            (r.rate() - before * 0.8).abs() < 1e-9,
            "a latency rise backs off"
        );
        for _ in 0..50 {
            r.observe(ms(200), false);
        }
        assert_eq!(r.rate(), FLOOR_RATE);
    }

    #[test]
    fn the_baseline_follows_a_host_that_gets_slower_for_good() {
        let mut r = StartRate::new(100.0);
        r.observe(ms(100), true);
        // Every start now takes 400 ms: at first that is a saturation signal, then the new
        // normal (the baseline drifts up 2% a sample), and the rate climbs again.
        let mut lowest = r.rate();
        for _ in 0..120 {
            r.observe(ms(400), true);
            lowest = lowest.min(r.rate());
        }
        assert!(lowest < INITIAL_RATE, "it backed off first: {lowest}");
        assert!(r.rate() > lowest + 5.0, "then rose again: {}", r.rate());
    }

    #[test]
    fn a_ceiling_below_the_initial_rate_is_the_rate() {
        let r = StartRate::new(1.0);
        assert_eq!(r.rate(), 1.0);
        let r = StartRate::new(0.0);
        assert_eq!(r.rate(), INITIAL_RATE, "no ceiling");
    }
}
