//! Pure statistics for the report: Wilson score intervals, the exact McNemar test, and a
//! seeded paired bootstrap driven by our own small PRNG (splitmix64), so every figure is
//! deterministic and checkable by hand.

use serde::Serialize;

/// The two-sided 95% normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A closed interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Wilson score interval for `successes` out of `n` at normal quantile `z`; `None` when
/// `n` is zero (no interval exists).
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    let p = successes.min(n) as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denom;
    let margin = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    Some(Interval {
        low: (center - margin).max(0.0),
        high: (center + margin).min(1.0),
    })
}

/// `ln(k!)`: exact summation for small `k`, Stirling's series beyond (error < 1e-14).
pub fn ln_factorial(k: u64) -> f64 {
    if k < 20 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let x = k as f64;
    let x2 = x * x;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x2)
        + 1.0 / (1260.0 * x * x2 * x2)
}

/// `ln C(n, k)`; `k` must not exceed `n`.
pub fn ln_choose(n: u64, k: u64) -> f64 {
    debug_assert!(k <= n);
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// Exact McNemar test: the two-sided binomial p-value of `b` vs `c` discordant pairs under
/// p = 1/2 (`2 * P(X <= min(b, c))`, capped at 1). With no discordant pairs it is 1.
pub fn mcnemar_exact_p(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let m = b.min(c);
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let tail: f64 = (0..=m).map(|k| (ln_choose(n, k) - ln_half_n).exp()).sum();
    (2.0 * tail).min(1.0)
}

/// splitmix64: a tiny, fast, well-mixed 64-bit generator; enough for resampling.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-32 for our sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// A binomial(n, p) draw by inversion searching outward from the mode: exact up to
/// floating-point rounding, with expected cost proportional to the standard deviation.
pub fn binomial(rng: &mut SplitMix64, n: u64, p: f64) -> u64 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    let q = 1.0 - p;
    let mode = (((n + 1) as f64 * p).floor() as u64).min(n);
    let p_mode = (ln_choose(n, mode) + mode as f64 * p.ln() + (n - mode) as f64 * q.ln()).exp();
    let ratio_up = p / q;
    let ratio_down = q / p;
    loop {
        let mut u = rng.next_f64() - p_mode;
        if u < 0.0 {
            return mode;
        }
        let (mut up_k, mut up_p) = (mode, p_mode);
        let (mut dn_k, mut dn_p) = (mode, p_mode);
        loop {
            let mut moved = false;
            if up_k < n && up_p > 0.0 {
                up_p *= (n - up_k) as f64 / (up_k + 1) as f64 * ratio_up;
                up_k += 1;
                u -= up_p;
                if u < 0.0 {
                    return up_k;
                }
                moved = true;
            }
            if dn_k > 0 && dn_p > 0.0 {
                dn_p *= dn_k as f64 / (n - dn_k + 1) as f64 * ratio_down;
                dn_k -= 1;
                u -= dn_p;
                if u < 0.0 {
                    return dn_k;
                }
                moved = true;
            }
            if !moved {
                // Rounding left a sliver of mass unassigned: draw again.
                break;
            }
        }
    }
}

/// The four cells of a paired 2×2 table (A correct/wrong × B correct/wrong).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PairCounts {
    pub both_right: u64,
    pub a_right_b_wrong: u64,
    pub a_wrong_b_right: u64,
    pub both_wrong: u64,
}

impl PairCounts {
    pub fn from_pairs(pairs: &[(bool, bool)]) -> Self {
        let mut c = PairCounts::default();
        for &(a, b) in pairs {
            c.add(a, b);
        }
        c
    }

    pub fn add(&mut self, a: bool, b: bool) {
        match (a, b) {
            (true, true) => self.both_right += 1,
            (true, false) => self.a_right_b_wrong += 1,
            (false, true) => self.a_wrong_b_right += 1,
            (false, false) => self.both_wrong += 1,
        }
    }

    pub fn n(&self) -> u64 {
        self.both_right + self.a_right_b_wrong + self.a_wrong_b_right + self.both_wrong
    }

    /// Accuracy of A, B and their difference A − B; `None` with no pairs.
    pub fn accuracies(&self) -> Option<(f64, f64, f64)> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let n = n as f64;
        let a = (self.both_right + self.a_right_b_wrong) as f64 / n;
        let b = (self.both_right + self.a_wrong_b_right) as f64 / n;
        Some((a, b, a - b))
    }
}

/// A bootstrap percentile interval for the accuracy difference A − B.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BootstrapCi {
    pub diff: f64,
    pub low: f64,
    pub high: f64,
    pub resamples: usize,
}

/// Paired bootstrap 95% interval of accuracy(A) − accuracy(B).
///
/// Resampling n pairs with replacement only changes how many discordant pairs of each kind
/// are drawn, so each resample draws those counts from the multinomial distribution the
/// n-index resample induces (two binomial draws): the same distribution as index
/// resampling, at a cost independent of n. Percentiles use linear interpolation.
pub fn paired_bootstrap(counts: &PairCounts, resamples: usize, seed: u64) -> Option<BootstrapCi> {
    let n = counts.n();
    let (_, _, diff) = counts.accuracies()?;
    let resamples = resamples.max(1);
    let p10 = counts.a_right_b_wrong as f64 / n as f64;
    let p01 = counts.a_wrong_b_right as f64 / n as f64;
    let mut rng = SplitMix64::new(seed);
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let k10 = binomial(&mut rng, n, p10);
        let rest = n - k10;
        let p01_given = if p10 < 1.0 {
            (p01 / (1.0 - p10)).min(1.0)
        } else {
            0.0
        };
        let k01 = binomial(&mut rng, rest, p01_given);
        diffs.push((k10 as f64 - k01 as f64) / n as f64);
    }
    diffs.sort_by(f64::total_cmp);
    Some(BootstrapCi {
        diff,
        low: quantile_sorted(&diffs, 0.025),
        high: quantile_sorted(&diffs, 0.975),
        resamples,
    })
}

/// The textbook paired bootstrap by index resampling (O(n) per resample). Kept as the
/// reference the count-based [`paired_bootstrap`] is checked against.
pub fn paired_bootstrap_by_index(
    pairs: &[(bool, bool)],
    resamples: usize,
    seed: u64,
) -> Option<BootstrapCi> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as u64;
    let diff = PairCounts::from_pairs(pairs).accuracies()?.2;
    let resamples = resamples.max(1);
    let mut rng = SplitMix64::new(seed);
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let mut d: i64 = 0;
        for _ in 0..n {
            let (a, b) = pairs[rng.below(n) as usize];
            d += a as i64 - b as i64;
        }
        diffs.push(d as f64 / n as f64);
    }
    diffs.sort_by(f64::total_cmp);
    Some(BootstrapCi {
        diff,
        low: quantile_sorted(&diffs, 0.025),
        high: quantile_sorted(&diffs, 0.975),
        resamples,
    })
}

/// Linear-interpolation quantile of sorted, non-empty data.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// A stable 64-bit FNV-1a hash, used to derive per-comparison bootstrap seeds that do not
/// depend on the order comparisons are computed in.
pub fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn wilson_matches_hand_computation() {
        // 8/10: center 0.992080/1.38416 = 0.716737, margin 0.313624/1.38416 = 0.226581.
        let i = wilson(8, 10, 1.96).expect("n > 0");
        assert!(close(i.low, 0.490156, 1e-5), "{i:?}");
        assert!(close(i.high, 0.943318, 1e-5), "{i:?}");
        // 0/4: low is 0, high = z²/n / (1 + z²/n) = 0.9604/1.9604.
        let i = wilson(0, 4, 1.96).expect("n > 0");
        assert!(close(i.low, 0.0, 1e-12));
        assert!(close(i.high, 0.9604 / 1.9604, 1e-9), "{i:?}");
        assert!(wilson(0, 0, Z95).is_none());
    }

    #[test]
    fn ln_factorial_is_accurate_on_both_branches() {
        assert!(close(ln_factorial(0), 0.0, 1e-15));
        assert!(close(ln_factorial(5), 120f64.ln(), 1e-12));
        let exact: f64 = (2..=30u64).map(|i| (i as f64).ln()).sum();
        assert!(close(ln_factorial(30), exact, 1e-10));
    }

    #[test]
    fn mcnemar_matches_binomial_by_hand() {
        // n = 6, P(X <= 1) = 7/64, two-sided = 14/64.
        assert!(close(mcnemar_exact_p(1, 5), 14.0 / 64.0, 1e-12));
        assert!(close(mcnemar_exact_p(5, 1), 14.0 / 64.0, 1e-12));
        // n = 10, P(X = 0) = 1/1024.
        assert!(close(mcnemar_exact_p(0, 10), 2.0 / 1024.0, 1e-12));
        assert_eq!(mcnemar_exact_p(3, 3), 1.0);
        assert_eq!(mcnemar_exact_p(0, 0), 1.0);
        // n = 20, P(X <= 5) = (1+20+190+1140+4845+15504)/2^20 = 21700/1048576.
        assert!(close(
            mcnemar_exact_p(5, 15),
            2.0 * 21700.0 / 1048576.0,
            1e-12
        ));
    }

    #[test]
    fn binomial_draws_have_the_right_mean_and_spread() {
        let mut rng = SplitMix64::new(7);
        let (n, p) = (1000u64, 0.3);
        let draws: Vec<f64> = (0..20_000)
            .map(|_| binomial(&mut rng, n, p) as f64)
            .collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(close(mean, 300.0, 0.5), "mean {mean}");
        assert!(close(var, 210.0, 10.0), "var {var}");
        assert_eq!(binomial(&mut rng, 10, 0.0), 0);
        assert_eq!(binomial(&mut rng, 10, 1.0), 10);
    }

    #[test]
    fn bootstrap_interval_matches_normal_approximation() {
        // 100 pairs: 20 A-only, 10 B-only. d = 0.1, Var(D) = 0.30 - 0.01 = 0.29,
        // se = sqrt(0.29/100) = 0.05385, so 95% ≈ 0.1 ± 0.1055 = [-0.0055, 0.2055].
        let counts = PairCounts {
            both_right: 40,
            a_right_b_wrong: 20,
            a_wrong_b_right: 10,
            both_wrong: 30,
        };
        let ci = paired_bootstrap(&counts, 10_000, 42).expect("pairs");
        assert!(close(ci.diff, 0.1, 1e-12));
        assert!(close(ci.low, -0.0055, 0.012), "{ci:?}");
        assert!(close(ci.high, 0.2055, 0.012), "{ci:?}");
        // Deterministic for a seed.
        assert_eq!(paired_bootstrap(&counts, 10_000, 42), Some(ci));

        let mut pairs = Vec::new();
        pairs.extend(std::iter::repeat_n((true, true), 40));
        pairs.extend(std::iter::repeat_n((true, false), 20));
        pairs.extend(std::iter::repeat_n((false, true), 10));
        pairs.extend(std::iter::repeat_n((false, false), 30));
        let by_index = paired_bootstrap_by_index(&pairs, 10_000, 9).expect("pairs");
        assert!(close(by_index.low, ci.low, 0.012), "{by_index:?} vs {ci:?}");
        assert!(
            close(by_index.high, ci.high, 0.012),
            "{by_index:?} vs {ci:?}"
        );
    }

    #[test]
    fn bootstrap_degenerate_tables() {
        let all_agree = PairCounts {
            both_right: 5,
            both_wrong: 5,
            ..Default::default()
        };
        let ci = paired_bootstrap(&all_agree, 1000, 1).expect("pairs");
        assert_eq!((ci.low, ci.diff, ci.high), (0.0, 0.0, 0.0));
        let a_wins = PairCounts {
            a_right_b_wrong: 4,
            ..Default::default()
        };
        let ci = paired_bootstrap(&a_wins, 1000, 1).expect("pairs");
        assert_eq!((ci.low, ci.diff, ci.high), (1.0, 1.0, 1.0));
        assert!(paired_bootstrap(&PairCounts::default(), 1000, 1).is_none());
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.5), 2.0);
        assert_eq!(quantile_sorted(&v, 0.125), 0.5);
        assert_eq!(quantile_sorted(&v, 1.0), 4.0);
    }
}
