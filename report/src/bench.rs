//! The report benchmark: synthetic results for n tasks (several benchmarks, backbones and
//! arms over shared items), the full Polars report built from the Parquet file, and the
//! plain row-by-row baseline timed in the same run; prints time, peak RSS and ratios.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use herd_core::ResultRecord;
use polars::prelude::*;

use crate::baseline;
use crate::error::{PolarsContext, Result, io_err};
use crate::queries::{ReportOptions, build_report};
use crate::stats::SplitMix64;
use crate::store::{self, RESULTS_FILE};

pub const BENCHMARKS: [&str; 4] = ["gaia", "math", "gpqa", "aime"];
pub const BACKBONES: [&str; 3] = ["gpt-4o", "llama-3.1-8b", "qwen2.5-7b"];
pub const ARMS: [&str; 3] = ["off", "online", "train-then-test"];
const ACTIONS: [&str; 6] = [
    "web_search",
    "read_file",
    "visit_page",
    "solve_equation",
    "parse_table",
    "count_items",
];

/// Synthetic result rows `start..start + len` of a deterministic sweep: row i is cell
/// `i % 36` (benchmark × backbone × arm) and item `i / 36`, so every item is paired
/// across all arms and backbones.
pub fn synthetic_chunk(start: usize, len: usize, seed: u64) -> Vec<ResultRecord> {
    let cells = BENCHMARKS.len() * BACKBONES.len() * ARMS.len();
    (start..start + len)
        .map(|i| {
            let cell = i % cells;
            let item = i / cells;
            let bench = BENCHMARKS[cell / (BACKBONES.len() * ARMS.len())];
            let bi = (cell / ARMS.len()) % BACKBONES.len();
            let ai = cell % ARMS.len();
            let mut rng = SplitMix64::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let roll = rng.next_f64();
            let status = match roll {
                x if x < 0.03 => "failed",
                x if x < 0.04 => "timeout",
                x if x < 0.05 => "budget",
                _ => "scored",
            };
            let p_correct = 0.35 + 0.12 * bi as f64 + 0.04 * ai as f64;
            let correct = (status == "scored").then(|| rng.next_f64() < p_correct);
            let steps = 1 + rng.below(12) as u32;
            let gen_calls = if ai == 0 { 0 } else { rng.below(4) as u32 };
            let user_calls = rng.below(5) as u32;
            let a1 = ACTIONS[rng.below(ACTIONS.len() as u64) as usize];
            let a2 = ACTIONS[rng.below(ACTIONS.len() as u64) as usize];
            let prompt_tokens = 500 + rng.below(4000);
            let completion_tokens = 50 + rng.below(800);
            ResultRecord {
                sweep: "bench".to_string(),
                task_key: format!("{bench}-{bi}-{ai}-{item}"),
                benchmark: bench.to_string(),
                split: "test".to_string(),
                item_id: format!("{item}"),
                level: Some(format!("{}", item % 3 + 1)),
                backbone: BACKBONES[bi].to_string(),
                arm: ARMS[ai].to_string(),
                accumulation: ARMS[ai].to_string(),
                status: status.to_string(),
                correct,
                end_reason: if status == "scored" {
                    "answered"
                } else {
                    status
                }
                .to_string(),
                steps,
                llm_calls: steps,
                prompt_tokens,
                completion_tokens,
                cost_usd: (prompt_tokens as f64 * 2.5 + completion_tokens as f64 * 10.0) / 1e6,
                wall_ms: 2000 + rng.below(60_000),
                generated_calls: gen_calls,
                user_calls,
                actions_called: format!("[[\"{a1}\",{user_calls}],[\"{a2}\",1]]"),
                library_size: if ai == 0 { 0 } else { (item / 7) as u64 },
                covered_steps: steps.min(gen_calls + user_calls),
                reused_calls: gen_calls / 2,
                sandbox_kind: "docker".to_string(),
                model_identity: BACKBONES[bi].to_string(),
                herd_version: herd_core::HERD_VERSION.to_string(),
                error_kind: (status == "failed").then(|| "sandbox".to_string()),
                finished_seq: i as u64,
                ..Default::default()
            }
        })
        .collect()
}

/// Writes `n` synthetic rows to `path` in chunks (bounded memory).
pub fn write_synthetic(path: &Path, n: usize, seed: u64) -> Result<()> {
    const CHUNK: usize = 100_000;
    let first = store::results_frame(&synthetic_chunk(0, n.min(CHUNK), seed))?;
    let file = File::create(path).map_err(io_err("create", path))?;
    let mut writer = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .batched(first.schema())
        .ctx("opening the synthetic results writer")?;
    writer
        .write_batch(&first)
        .ctx("writing synthetic results")?;
    drop(first);
    let mut start = CHUNK;
    while start < n {
        let len = CHUNK.min(n - start);
        let df = store::results_frame(&synthetic_chunk(start, len, seed))?;
        writer.write_batch(&df).ctx("writing synthetic results")?;
        start += len;
    }
    writer.finish().ctx("finishing synthetic results")?;
    Ok(())
}

/// Peak resident set size of this process so far (VmHWM), in MiB; `None` off Linux.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Runs the benchmark over `n` synthetic tasks and returns the printed table.
pub fn bench_report(n: usize) -> Result<String> {
    let dir = std::env::temp_dir().join(format!("herd-report-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
    let path = dir.join(RESULTS_FILE);
    let outcome = run(&path, n);
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn run(path: &Path, n: usize) -> Result<String> {
    let opts = ReportOptions::default();
    let t = Instant::now();
    write_synthetic(path, n, 17)?;
    let gen_time = t.elapsed();
    let rss_gen = peak_rss_mib();

    let t = Instant::now();
    let report = build_report(path, &opts)?;
    let polars_time = t.elapsed();
    let rss_polars = peak_rss_mib();

    let t = Instant::now();
    let df = store::read_parquet(path)?;
    let read_time = t.elapsed();
    let t = Instant::now();
    let base = baseline::aggregate_frame(&df, opts.bootstrap_resamples, opts.seed)?;
    let loop_time = t.elapsed();
    drop(df);
    let rss_base = peak_rss_mib();

    let t = Instant::now();
    let html_len = report.to_html()?.len();
    let md_len = report.to_markdown().len();
    let render_time = t.elapsed();

    let agree = report.accuracy.len() == base.groups.len()
        && report.accuracy.iter().all(|r| {
            base.groups
                .get(&(r.benchmark.clone(), r.backbone.clone(), r.arm.clone()))
                .is_some_and(|g| {
                    g.correct == r.correct && g.scored == r.scored && g.tasks == r.tasks
                })
        })
        && report.paired.len() == base.paired.len()
        && report
            .paired
            .iter()
            .zip(&base.paired)
            .all(|(x, y)| x.counts == y.counts && x.matched == y.matched);

    let mib = |x: Option<f64>| x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.0}"));
    let baseline_total = read_time + loop_time;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "herd-report benchmark: {n} tasks, {} paired comparisons, {} resamples each",
        report.paired.len(),
        opts.bootstrap_resamples
    );
    let _ = writeln!(
        out,
        "{:<44} {:>9} {:>14}",
        "phase", "time s", "peak RSS MiB"
    );
    let _ = writeln!(
        out,
        "{:<44} {:>9.3} {:>14}",
        "generate + write results.parquet",
        secs(gen_time),
        mib(rss_gen)
    );
    let _ = writeln!(
        out,
        "{:<44} {:>9.3} {:>14}",
        "polars report (scan + all sections)",
        secs(polars_time),
        mib(rss_polars)
    );
    let _ = writeln!(
        out,
        "{:<44} {:>9.3} {:>14}",
        "baseline: read parquet",
        secs(read_time),
        ""
    );
    let _ = writeln!(
        out,
        "{:<44} {:>9.3} {:>14}",
        "baseline: row-by-row loop (core figures)",
        secs(loop_time),
        mib(rss_base)
    );
    let _ = writeln!(
        out,
        "{:<44} {:>9.3} {:>14}",
        "render HTML + Markdown",
        secs(render_time),
        ""
    );
    let _ = writeln!(
        out,
        "ratio polars report / baseline (read + loop): {:.2}",
        secs(polars_time) / secs(baseline_total).max(1e-9)
    );
    let _ = writeln!(
        out,
        "ratio polars report / baseline loop only:     {:.2}",
        secs(polars_time) / secs(loop_time).max(1e-9)
    );
    let _ = writeln!(
        out,
        "target: polars report < 5 s and peak RSS < 2048 MiB; figures agree with baseline: {}",
        if agree { "yes" } else { "NO" }
    );
    let _ = writeln!(
        out,
        "rendered: HTML {html_len} bytes, Markdown {md_len} bytes"
    );
    Ok(out)
}
