//! A plain row-by-row Rust aggregation of the report's core figures (status counts,
//! accuracy, cost sums, paired tables with their tests). It is the baseline the Polars
//! report is timed against, and a cross-check of the Polars queries in tests.

use std::collections::{BTreeMap, HashMap};

use herd_core::ResultRecord;
use polars::prelude::DataFrame;

use crate::error::Result;
use crate::model::{PairKind, PairedRow};
use crate::stats::{self, Interval, PairCounts};
use crate::store::Cols;

/// One row, borrowed: only what the aggregation reads.
#[derive(Debug, Clone, Copy)]
pub struct RowView<'a> {
    pub benchmark: &'a str,
    pub backbone: &'a str,
    pub arm: &'a str,
    pub item_id: &'a str,
    pub epoch: u32,
    pub status: &'a str,
    pub correct: Option<bool>,
    pub cost_usd: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub steps: u64,
    pub wall_ms: u64,
}

/// Totals of one benchmark × backbone × arm.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupTotals {
    pub tasks: u64,
    pub scored: u64,
    pub correct: u64,
    pub failed: u64,
    pub timeout: u64,
    pub budget: u64,
    pub cancelled: u64,
    pub cost_usd: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub steps: u64,
    pub wall_ms: u64,
    pub wilson: Option<Interval>,
}

/// What the baseline computes.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// Keyed by (benchmark, backbone, arm).
    pub groups: BTreeMap<(String, String, String), GroupTotals>,
    /// Arms within a backbone, then backbones within an arm.
    pub paired: Vec<PairedRow>,
}

type PairKey<'a> = (&'a str, &'a str, &'a str, u32);

/// Aggregates rows one by one with hash maps.
pub fn aggregate_rows<'a>(
    rows: impl Iterator<Item = RowView<'a>>,
    resamples: usize,
    seed: u64,
) -> Baseline {
    let mut groups: HashMap<(&str, &str, &str), GroupTotals> = HashMap::new();
    // (benchmark, fixed, item, epoch) -> [(varied, graded)], for both pairing kinds.
    let mut by_backbone: HashMap<PairKey<'a>, Vec<(&'a str, Option<bool>)>> = HashMap::new();
    let mut by_arm: HashMap<PairKey<'a>, Vec<(&'a str, Option<bool>)>> = HashMap::new();
    for r in rows {
        let g = groups.entry((r.benchmark, r.backbone, r.arm)).or_default();
        g.tasks += 1;
        let graded = if r.status == "scored" {
            r.correct
        } else {
            None
        };
        match r.status {
            "scored" if graded.is_some() => g.scored += 1,
            "failed" => g.failed += 1,
            "timeout" => g.timeout += 1,
            "budget" => g.budget += 1,
            "cancelled" => g.cancelled += 1,
            _ => {}
        }
        if graded == Some(true) {
            g.correct += 1;
        }
        g.cost_usd += r.cost_usd;
        g.prompt_tokens += r.prompt_tokens;
        g.completion_tokens += r.completion_tokens;
        g.steps += r.steps;
        g.wall_ms += r.wall_ms;
        by_backbone
            .entry((r.benchmark, r.backbone, r.item_id, r.epoch))
            .or_default()
            .push((r.arm, graded));
        by_arm
            .entry((r.benchmark, r.arm, r.item_id, r.epoch))
            .or_default()
            .push((r.backbone, graded));
    }
    let mut paired = Vec::new();
    for (kind, map) in [(PairKind::Arms, by_backbone), (PairKind::Backbones, by_arm)] {
        let mut tables: HashMap<(&str, &str, &str, &str), (u64, PairCounts)> = HashMap::new();
        for (&(bench, fixed, _, _), sides) in &map {
            for x in sides {
                for y in sides {
                    if x.0 >= y.0 {
                        continue;
                    }
                    let e = tables.entry((bench, fixed, x.0, y.0)).or_default();
                    e.0 += 1;
                    if let (Some(a), Some(b)) = (x.1, y.1) {
                        e.1.add(a, b);
                    }
                }
            }
        }
        let sorted: BTreeMap<_, _> = tables.into_iter().collect();
        for ((bench, fixed, a, b), (matched, counts)) in sorted {
            paired.push(PairedRow::compute(
                kind,
                bench.to_string(),
                fixed.to_string(),
                a.to_string(),
                b.to_string(),
                matched,
                counts,
                resamples,
                seed,
            ));
        }
    }
    let groups = groups
        .into_iter()
        .map(|((b, m, a), mut g)| {
            g.wilson = stats::wilson(g.correct, g.scored, stats::Z95);
            ((b.to_string(), m.to_string(), a.to_string()), g)
        })
        .collect();
    Baseline { groups, paired }
}

/// The baseline over records.
pub fn aggregate_records(records: &[ResultRecord], resamples: usize, seed: u64) -> Baseline {
    aggregate_rows(
        records.iter().map(|r| RowView {
            benchmark: &r.benchmark,
            backbone: &r.backbone,
            arm: &r.arm,
            item_id: &r.item_id,
            epoch: r.epoch,
            status: &r.status,
            correct: r.correct,
            cost_usd: r.cost_usd,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            steps: r.steps as u64,
            wall_ms: r.wall_ms,
        }),
        resamples,
        seed,
    )
}

/// The baseline over a results frame (columns copied out, then one loop over rows).
pub fn aggregate_frame(df: &DataFrame, resamples: usize, seed: u64) -> Result<Baseline> {
    let c = Cols(df);
    let benchmark = c.strs("benchmark")?;
    let backbone = c.strs("backbone")?;
    let arm = c.strs("arm")?;
    let item_id = c.strs("item_id")?;
    let epoch = c.u32s("epoch")?;
    let status = c.strs("status")?;
    let correct = c.opt_bools("correct")?;
    let cost = c.f64s("cost_usd")?;
    let pt = c.u64s("prompt_tokens")?;
    let ct = c.u64s("completion_tokens")?;
    let steps = c.u64s("steps")?;
    let wall = c.u64s("wall_ms")?;
    Ok(aggregate_rows(
        (0..df.height()).map(|i| RowView {
            benchmark: &benchmark[i],
            backbone: &backbone[i],
            arm: &arm[i],
            item_id: &item_id[i],
            epoch: epoch[i],
            status: &status[i],
            correct: correct[i],
            cost_usd: cost[i],
            prompt_tokens: pt[i],
            completion_tokens: ct[i],
            steps: steps[i],
            wall_ms: wall[i],
        }),
        resamples,
        seed,
    ))
}
