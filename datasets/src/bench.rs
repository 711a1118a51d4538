//! Throughput benchmark: loads the full MATH test (5000 items) and scores every gold against
//! itself and against a perturbed answer, printing items/s (baseline: the load rate).

use std::path::Path;
use std::time::Instant;

use herd_core::config::BenchmarkKind;

use crate::error::DatasetError;
use crate::source::{LoadOptions, Resolved, Store};
use crate::{loaders, score};

/// A deliberately wrong answer: integers plus one, anything else prefixed with `1+`
/// (a prefix, because Hendrycks' unit rule drops everything after `\text{ `).
pub fn perturb(gold: &str) -> String {
    match gold.trim().parse::<i64>() {
        Ok(v) => (v + 1).to_string(),
        Err(_) => format!("1+{gold}"),
    }
}

/// Runs the benchmark on `shared_dir` (the shared datasets folder) and returns the table.
pub fn bench_datasets(shared_dir: &Path) -> Result<String, DatasetError> {
    let src = Resolved::Dir(crate::source::Loc {
        store: std::sync::Arc::new(Store::Local(shared_dir.to_path_buf())),
        rel: String::new(),
    });
    let t0 = Instant::now();
    let mut rd = crate::source::Reader::new(LoadOptions::default());
    let items = loaders::math::load(&src, "full", &mut rd)?;
    let load_s = t0.elapsed().as_secs_f64();
    let n = items.len();

    let t1 = Instant::now();
    let mut self_ok = 0usize;
    for it in &items {
        if score::score(BenchmarkKind::Math, it, it.gold.as_deref().unwrap_or("")).correct {
            self_ok += 1;
        }
    }
    let self_s = t1.elapsed().as_secs_f64();

    let t2 = Instant::now();
    let mut wrong_ok = 0usize;
    for it in &items {
        let wrong = perturb(it.gold.as_deref().unwrap_or(""));
        if score::score(BenchmarkKind::Math, it, &wrong).correct {
            wrong_ok += 1;
        }
    }
    let wrong_s = t2.elapsed().as_secs_f64();

    let rate = |s: f64| if s > 0.0 { n as f64 / s } else { f64::INFINITY };
    let base = rate(load_s);
    let mut out = String::new();
    out.push_str(&format!(
        "MATH full test: {n} items from {}\n",
        shared_dir.display()
    ));
    out.push_str(&format!(
        "{:<28} {:>10} {:>12} {:>14}\n",
        "phase", "seconds", "items/s", "vs load rate"
    ));
    for (name, s) in [
        ("load (parse + boxed)", load_s),
        ("score gold vs gold", self_s),
        ("score gold vs perturbed", wrong_s),
    ] {
        out.push_str(&format!(
            "{:<28} {:>10.3} {:>12.0} {:>13.2}x\n",
            name,
            s,
            rate(s),
            rate(s) / base
        ));
    }
    out.push_str(&format!(
        "gold vs gold correct: {self_ok}/{n}; perturbed scored correct: {wrong_ok}/{n}; target: scoring 5000 in < 2 s ({})\n",
        if self_s + wrong_s < 4.0 { "met" } else { "missed" }
    ));
    Ok(out)
}
