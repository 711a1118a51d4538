//! Polars lazy queries that turn a results table into the report's sections. Non-scored tasks
//! keep their own counts; train-then-test training phases go to their own section instead of
//! the arm-level tables (see [`crate::phases`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;

use crate::error::{PolarsContext, ReportError, Result};
use crate::model::*;
use crate::phases::{self, is_training};
use crate::stats::PairCounts;
use crate::store::{self, Cols};

/// Knobs for [`build_report`].
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Tasks the sweep was expected to run; enables "partial run: N of M".
    pub expected_tasks: Option<u64>,
    /// Bootstrap resamples per paired comparison.
    pub bootstrap_resamples: usize,
    /// Base seed of every bootstrap (each comparison derives its own from its labels).
    pub seed: u64,
    /// How many most-called actions to list per backbone × arm.
    pub top_actions: usize,
    /// Points kept per library growth curve.
    pub growth_points: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            expected_tasks: None,
            bootstrap_resamples: 10_000,
            seed: 0x5EED_4E2D,
            top_actions: 10,
            growth_points: 200,
        }
    }
}

/// Builds the report for a run directory or a results.parquet file.
pub fn build_report(input: &Path, opts: &ReportOptions) -> Result<Report> {
    let (dir, results_path) = store::resolve_input(input)?;
    let path_str = results_path
        .to_str()
        .ok_or_else(|| ReportError::NonUtf8Path(results_path.clone()))?;
    let lf = LazyFrame::scan_parquet(PlPath::new(path_str), ScanArgsParquet::default())
        .ctx(format!("scanning `{path_str}`"))?;
    // A file from before a late column reads it as zeros.
    let lf = store::with_late_columns(lf)?;
    // Read the columns the report uses once; every section then queries memory.
    let frame = lf
        .select(REPORT_COLUMNS.iter().map(|c| col(*c)).collect::<Vec<_>>())
        .collect()
        .ctx(format!("reading the report's columns from `{path_str}`"))?;
    let attempts = store::read_attempts(&dir)?;
    let mut report = report_from_lazy(frame.lazy(), attempts.as_ref(), opts)?;
    report.header.source = results_path.display().to_string();
    Ok(report)
}

/// The results columns the report reads.
pub const REPORT_COLUMNS: &[&str] = &[
    "sweep",
    "task_key",
    "benchmark",
    "item_id",
    "split",
    "level",
    "subject",
    "backbone",
    "arm",
    "accumulation",
    "epoch",
    "status",
    "correct",
    "end_reason",
    "steps",
    "llm_calls",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "wall_ms",
    "actions_created",
    "actions_retrieved",
    "generated_calls",
    "user_calls",
    "actions_called",
    "library_size",
    "covered_steps",
    "reused_calls",
    "sandbox_kind",
    "sandbox_image",
    "model_identity",
    "dataset_fingerprint",
    "herd_version",
    "error_kind",
    "finished_seq",
];

/// Builds the report from in-memory results (and attempts, when known).
pub fn report_from_frames(
    results: DataFrame,
    attempts: Option<&DataFrame>,
    opts: &ReportOptions,
) -> Result<Report> {
    report_from_lazy(store::with_late_columns(results.lazy())?, attempts, opts)
}

fn report_from_lazy(
    lf: LazyFrame,
    attempts: Option<&DataFrame>,
    opts: &ReportOptions,
) -> Result<Report> {
    let all = with_graded(lf);
    let mut header = header(&all, attempts, opts)?;
    header.scopes = phases::scopes(&all)?;
    // Every arm-level table counts the scored split only; training phases go apart.
    let lf = all.clone().filter(is_training().not());
    let train = all.filter(is_training());
    let accuracy = accuracy_table(&lf, None)?;
    let accuracy_by_level = accuracy_table(&lf, Some("level"))?;
    let accuracy_by_subject = accuracy_table(&lf, Some("subject"))?;
    let mut paired = paired_within(&lf, PairKind::Arms, opts)?;
    paired.extend(paired_within(&lf, PairKind::Backbones, opts)?);
    let training = phases::training(&train, &header.scopes)?;
    let mut cost = cost(&lf)?;
    phases::add_training_cost(&mut cost, &training);
    let library_growth = growth(&lf, opts.growth_points)?;
    let reuse = reuse(&lf)?;
    let (top_actions, malformed_actions_called) = top_actions(&lf, opts.top_actions)?;
    let failures = failures(&lf)?;
    Ok(Report {
        training,
        header,
        accuracy,
        accuracy_by_level,
        accuracy_by_subject,
        paired,
        cost,
        library_growth,
        reuse,
        top_actions,
        malformed_actions_called,
        failures,
    })
}

/// Adds `graded`: the correctness of scored tasks, null for every other status (so a
/// failed task can never count as a wrong answer).
pub(crate) fn with_graded(lf: LazyFrame) -> LazyFrame {
    lf.with_column(
        when(col("status").eq(lit("scored")))
            .then(col("correct"))
            .otherwise(lit(NULL).cast(DataType::Boolean))
            .alias("graded"),
    )
}

fn count_if(e: Expr) -> Expr {
    e.cast(DataType::UInt64).sum()
}

pub(crate) fn sum_u64(name: &str) -> Expr {
    col(name).cast(DataType::UInt64).sum().alias(name)
}

fn status_is(s: &str) -> Expr {
    col("status").eq(lit(s))
}

pub(crate) fn collect(lf: LazyFrame, what: &str) -> Result<DataFrame> {
    lf.collect().ctx(format!("computing {what}"))
}

pub(crate) fn keys(names: &[&str]) -> Vec<Expr> {
    names.iter().map(|n| col(*n)).collect()
}

pub(crate) fn sort_by(lf: LazyFrame, names: &[&str]) -> LazyFrame {
    lf.sort(
        names
            .iter()
            .map(|s| PlSmallStr::from(*s))
            .collect::<Vec<_>>(),
        SortMultipleOptions::default(),
    )
}

const FINAL_STATUSES: [&str; 4] = ["scored", "failed", "timeout", "budget"];

fn header(lf: &LazyFrame, attempts: Option<&DataFrame>, opts: &ReportOptions) -> Result<Header> {
    let distinct = |names: &[&str]| -> Result<DataFrame> {
        let q = lf
            .clone()
            .group_by(keys(names))
            .agg([len().cast(DataType::UInt64).alias("n")]);
        collect(sort_by(q, names), "header values")
    };
    let singles = |name: &str| -> Result<Vec<String>> {
        let df = distinct(&[name])?;
        Ok(Cols(&df)
            .opt_strs(name)?
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect())
    };
    let pairs = |a: &str, b: &str| -> Result<Vec<(String, String)>> {
        let df = distinct(&[a, b])?;
        let c = Cols(&df);
        Ok(c.strs(a)?.into_iter().zip(c.strs(b)?).collect())
    };
    let status_df = distinct(&["status"])?;
    let c = Cols(&status_df);
    let statuses: Vec<(String, u64)> = c.strs("status")?.into_iter().zip(c.u64s("n")?).collect();
    let tasks: u64 = statuses.iter().map(|s| s.1).sum();
    let kinds_df = distinct(&["sandbox_kind"])?;
    let c = Cols(&kinds_df);
    let unisolated_tasks: u64 = c
        .strs("sandbox_kind")?
        .into_iter()
        .zip(c.u64s("n")?)
        .filter(|(k, _)| k == "local")
        .map(|(_, n)| n)
        .sum();
    let finished: u64 = statuses
        .iter()
        .filter(|(s, _)| FINAL_STATUSES.contains(&s.as_str()))
        .map(|s| s.1)
        .sum();
    let unfinished_rows = tasks - finished;
    let attempted_without_result = match attempts {
        Some(att) if att.height() > 0 => {
            let keys_df = collect(lf.clone().select([col("task_key")]), "task keys")?;
            let present: HashSet<String> = Cols(&keys_df).strs("task_key")?.into_iter().collect();
            let attempted: HashSet<String> = Cols(att).strs("task_key")?.into_iter().collect();
            attempted.iter().filter(|k| !present.contains(*k)).count() as u64
        }
        _ => 0,
    };
    let expected = opts
        .expected_tasks
        .unwrap_or(tasks + attempted_without_result);
    let partial = (expected > finished || unfinished_rows > 0 || attempted_without_result > 0)
        .then(|| PartialRun {
            finished,
            expected: expected.max(finished),
            unfinished_rows,
            attempted_without_result,
        });
    Ok(Header {
        source: String::new(),
        sweeps: singles("sweep")?,
        herd_versions: singles("herd_version")?,
        dataset_fingerprints: pairs("benchmark", "dataset_fingerprint")?,
        models: pairs("backbone", "model_identity")?,
        sandboxes: pairs("sandbox_kind", "sandbox_image")?,
        unisolated_tasks,
        tasks,
        statuses,
        partial,
        scopes: Vec::new(),
    })
}

pub(crate) fn accuracy_table(lf: &LazyFrame, dim: Option<&str>) -> Result<Vec<AccuracyRow>> {
    let mut group = keys(&["benchmark", "backbone", "arm"]);
    let mut sort_keys = vec!["benchmark", "backbone", "arm"];
    if let Some(d) = dim {
        group.push(col(d).fill_null(lit("(none)")).alias("group"));
        sort_keys.push("group");
    }
    let q = lf.clone().group_by(group).agg([
        len().cast(DataType::UInt64).alias("tasks"),
        count_if(col("graded").is_not_null()).alias("scored"),
        count_if(col("graded")).alias("correct"),
        count_if(status_is("scored").and(col("graded").is_null())).alias("no_gold"),
        count_if(status_is("failed")).alias("failed"),
        count_if(status_is("timeout")).alias("timeout"),
        count_if(status_is("budget")).alias("budget"),
        count_if(status_is("cancelled")).alias("cancelled"),
    ]);
    let df = collect(sort_by(q, &sort_keys), "accuracy")?;
    let c = Cols(&df);
    let benchmark = c.strs("benchmark")?;
    let backbone = c.strs("backbone")?;
    let arm = c.strs("arm")?;
    let group = match dim {
        Some(_) => c.opt_strs("group")?,
        None => vec![None; df.height()],
    };
    if dim.is_some() && group.iter().all(|g| g.as_deref() == Some("(none)")) {
        return Ok(Vec::new());
    }
    let [
        tasks,
        scored,
        correct,
        no_gold,
        failed,
        timeout,
        budget,
        cancelled,
    ] = [
        "tasks",
        "scored",
        "correct",
        "no_gold",
        "failed",
        "timeout",
        "budget",
        "cancelled",
    ]
    .map(|n| c.u64s(n));
    let (tasks, scored, correct, no_gold) = (tasks?, scored?, correct?, no_gold?);
    let (failed, timeout, budget, cancelled) = (failed?, timeout?, budget?, cancelled?);
    Ok((0..df.height())
        .map(|i| {
            AccuracyRow {
                benchmark: benchmark[i].clone(),
                backbone: backbone[i].clone(),
                arm: arm[i].clone(),
                group: group[i].clone(),
                tasks: tasks[i],
                scored: scored[i],
                correct: correct[i],
                no_gold: no_gold[i],
                failed: failed[i],
                timeout: timeout[i],
                budget: budget[i],
                cancelled: cancelled[i],
                ..Default::default()
            }
            .finish()
        })
        .collect())
}

/// Aggregations of a joined pair frame with boolean columns `ga` and `gb`.
pub(crate) fn pair_aggs() -> [Expr; 5] {
    [
        len().cast(DataType::UInt64).alias("matched"),
        count_if(col("ga").and(col("gb"))).alias("both_right"),
        count_if(col("ga").and(col("gb").not())).alias("a_only"),
        count_if(col("ga").not().and(col("gb"))).alias("b_only"),
        count_if(col("ga").not().and(col("gb").not())).alias("both_wrong"),
    ]
}

pub(crate) fn pair_counts(c: &Cols<'_>) -> Result<(Vec<u64>, Vec<PairCounts>)> {
    let matched = c.u64s("matched")?;
    let both_right = c.u64s("both_right")?;
    let a_only = c.u64s("a_only")?;
    let b_only = c.u64s("b_only")?;
    let both_wrong = c.u64s("both_wrong")?;
    let counts = (0..matched.len())
        .map(|i| PairCounts {
            both_right: both_right[i],
            a_right_b_wrong: a_only[i],
            a_wrong_b_right: b_only[i],
            both_wrong: both_wrong[i],
        })
        .collect();
    Ok((matched, counts))
}

/// Every pair of arms within a backbone, or of backbones within an arm, per benchmark.
fn paired_within(lf: &LazyFrame, kind: PairKind, opts: &ReportOptions) -> Result<Vec<PairedRow>> {
    let (fixed, varied) = match kind {
        PairKind::Arms => ("backbone", "arm"),
        _ => ("arm", "backbone"),
    };
    let on = ["benchmark", fixed, "item_id", "epoch"];
    let side = |label: &str, graded: &str| {
        let mut cols = keys(&on);
        cols.push(col(varied).alias(label));
        cols.push(col("graded").alias(graded));
        lf.clone().select(cols)
    };
    let joined = side("a", "ga").join(
        side("b", "gb"),
        keys(&on),
        keys(&on),
        JoinArgs::new(JoinType::Inner),
    );
    let q = joined
        .filter(col("a").lt(col("b")))
        .group_by([
            col("benchmark"),
            col(fixed).alias("within"),
            col("a"),
            col("b"),
        ])
        .agg(pair_aggs());
    let df = collect(
        sort_by(q, &["benchmark", "within", "a", "b"]),
        "paired comparisons",
    )?;
    let c = Cols(&df);
    let (benchmark, within, a, b) = (
        c.strs("benchmark")?,
        c.strs("within")?,
        c.strs("a")?,
        c.strs("b")?,
    );
    let (matched, counts) = pair_counts(&c)?;
    Ok((0..df.height())
        .map(|i| {
            PairedRow::compute(
                kind,
                benchmark[i].clone(),
                within[i].clone(),
                a[i].clone(),
                b[i].clone(),
                matched[i],
                counts[i],
                opts.bootstrap_resamples,
                opts.seed,
            )
        })
        .collect())
}

pub(crate) fn cost(lf: &LazyFrame) -> Result<Vec<CostRow>> {
    let q = lf
        .clone()
        .group_by(keys(&["benchmark", "backbone", "arm"]))
        .agg([
            len().cast(DataType::UInt64).alias("tasks"),
            count_if(col("graded")).alias("correct"),
            col("cost_usd")
                .cast(DataType::Float64)
                .sum()
                .alias("cost_usd"),
            sum_u64("prompt_tokens"),
            sum_u64("completion_tokens"),
            sum_u64("llm_calls"),
            sum_u64("steps"),
            sum_u64("wall_ms"),
        ]);
    let df = collect(sort_by(q, &["benchmark", "backbone", "arm"]), "cost")?;
    let c = Cols(&df);
    let (benchmark, backbone, arm) = (c.strs("benchmark")?, c.strs("backbone")?, c.strs("arm")?);
    let (tasks, correct, cost) = (c.u64s("tasks")?, c.u64s("correct")?, c.f64s("cost_usd")?);
    let (pt, ct, calls) = (
        c.u64s("prompt_tokens")?,
        c.u64s("completion_tokens")?,
        c.u64s("llm_calls")?,
    );
    let (steps, wall) = (c.u64s("steps")?, c.u64s("wall_ms")?);
    Ok((0..df.height())
        .map(|i| {
            CostRow {
                benchmark: benchmark[i].clone(),
                backbone: backbone[i].clone(),
                arm: arm[i].clone(),
                tasks: tasks[i],
                correct: correct[i],
                cost_usd: cost[i],
                prompt_tokens: pt[i],
                completion_tokens: ct[i],
                llm_calls: calls[i],
                steps: steps[i],
                wall_ms: wall[i],
                ..Default::default()
            }
            .finish()
        })
        .collect())
}

fn growth(lf: &LazyFrame, max_points: usize) -> Result<Vec<GrowthSeries>> {
    let q = lf
        .clone()
        .select(keys(&["backbone", "arm", "finished_seq", "library_size"]));
    let df = collect(
        sort_by(q, &["backbone", "arm", "finished_seq"]),
        "library growth",
    )?;
    let c = Cols(&df);
    let (backbone, arm, size) = (c.strs("backbone")?, c.strs("arm")?, c.u64s("library_size")?);
    let mut out: Vec<GrowthSeries> = Vec::new();
    let mut start = 0;
    while start < df.height() {
        let mut end = start;
        while end < df.height() && backbone[end] == backbone[start] && arm[end] == arm[start] {
            end += 1;
        }
        let n = end - start;
        let keep = max_points.max(2);
        let mut points = Vec::with_capacity(keep.min(n));
        for j in 0..n {
            // Keep the first, the last and evenly spaced points between.
            let bucket = j * keep / n;
            let next_bucket = (j + 1) * keep / n;
            if j == 0 || j + 1 == n || bucket != next_bucket {
                points.push(((j + 1) as u64, size[start + j]));
            }
        }
        points.dedup_by_key(|p| p.0);
        out.push(GrowthSeries {
            backbone: backbone[start].clone(),
            arm: arm[start].clone(),
            tasks: n as u64,
            final_size: size[end - 1],
            points,
        });
        start = end;
    }
    Ok(out)
}

fn reuse(lf: &LazyFrame) -> Result<Vec<ReuseRow>> {
    let q = lf.clone().group_by(keys(&["backbone", "arm"])).agg([
        len().cast(DataType::UInt64).alias("tasks"),
        sum_u64("generated_calls"),
        sum_u64("user_calls"),
        count_if(col("generated_calls").gt(lit(0))).alias("tasks_calling_generated"),
        sum_u64("reused_calls"),
        count_if(col("reused_calls").gt(lit(0))).alias("tasks_reusing"),
        sum_u64("actions_created"),
        sum_u64("actions_retrieved"),
        sum_u64("steps"),
        sum_u64("covered_steps"),
    ]);
    let df = collect(sort_by(q, &["backbone", "arm"]), "action reuse")?;
    let c = Cols(&df);
    let (backbone, arm, tasks) = (c.strs("backbone")?, c.strs("arm")?, c.u64s("tasks")?);
    let (gen_calls, user_calls, tcg) = (
        c.u64s("generated_calls")?,
        c.u64s("user_calls")?,
        c.u64s("tasks_calling_generated")?,
    );
    let (reused, reusing) = (c.u64s("reused_calls")?, c.u64s("tasks_reusing")?);
    let (created, retrieved) = (c.u64s("actions_created")?, c.u64s("actions_retrieved")?);
    let (steps, covered) = (c.u64s("steps")?, c.u64s("covered_steps")?);
    Ok((0..df.height())
        .map(|i| {
            ReuseRow {
                backbone: backbone[i].clone(),
                arm: arm[i].clone(),
                tasks: tasks[i],
                generated_calls: gen_calls[i],
                user_calls: user_calls[i],
                tasks_calling_generated: tcg[i],
                reused_calls: reused[i],
                tasks_reusing: reusing[i],
                actions_created: created[i],
                actions_retrieved: retrieved[i],
                steps: steps[i],
                covered_steps: covered[i],
                ..Default::default()
            }
            .finish()
        })
        .collect())
}

/// Parses an `actions_called` cell: a JSON list of `[name, count]` (a bare name counts 1).
pub fn parse_actions_called(text: &str) -> Option<Vec<(String, u64)>> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    let value: serde_json::Value = serde_json::from_str(trimmed).ok()?;
    let items = value.as_array()?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            serde_json::Value::String(name) => out.push((name.clone(), 1)),
            serde_json::Value::Array(pair) if pair.len() == 2 => {
                out.push((pair[0].as_str()?.to_string(), pair[1].as_u64()?));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Per action name: (calls, tasks calling it).
type ActionTally = HashMap<String, (u64, u64)>;

fn top_actions(lf: &LazyFrame, per_group: usize) -> Result<(Vec<ActionUse>, u64)> {
    let q = lf
        .clone()
        .select(keys(&["backbone", "arm", "actions_called"]))
        .filter(col("actions_called").str().len_bytes().gt(lit(2u32)));
    let df = collect(q, "called actions")?;
    let c = Cols(&df);
    let (backbone, arm, called) = (
        c.strs("backbone")?,
        c.strs("arm")?,
        c.strs("actions_called")?,
    );
    let mut tally: HashMap<(&str, &str), ActionTally> = HashMap::new();
    let mut malformed = 0u64;
    for i in 0..df.height() {
        let Some(list) = parse_actions_called(&called[i]) else {
            malformed += 1;
            continue;
        };
        let group = tally
            .entry((backbone[i].as_str(), arm[i].as_str()))
            .or_default();
        let mut seen: HashSet<&str> = HashSet::new();
        for (name, count) in &list {
            let e = group.entry(name.clone()).or_default();
            e.0 += count;
            if seen.insert(name.as_str()) {
                e.1 += 1;
            }
        }
    }
    if malformed > 0 {
        tracing::warn!(
            rows = malformed,
            "actions_called cells that are not JSON lists of [name, count]"
        );
    }
    let sorted: BTreeMap<_, _> = tally.into_iter().collect();
    let mut out = Vec::new();
    for ((backbone, arm), actions) in sorted {
        let mut list: Vec<(String, (u64, u64))> = actions.into_iter().collect();
        list.sort_by(|x, y| y.1.0.cmp(&x.1.0).then_with(|| x.0.cmp(&y.0)));
        for (action, (calls, tasks)) in list.into_iter().take(per_group) {
            out.push(ActionUse {
                backbone: backbone.to_string(),
                arm: arm.to_string(),
                action,
                calls,
                tasks,
            });
        }
    }
    Ok((out, malformed))
}

fn failures(lf: &LazyFrame) -> Result<Vec<FailureRow>> {
    let names = ["backbone", "arm", "status", "end_reason", "error_kind"];
    let q = lf
        .clone()
        .group_by(keys(&names))
        .agg([len().cast(DataType::UInt64).alias("count")]);
    let df = collect(sort_by(q, &names), "failure counts")?;
    let c = Cols(&df);
    let (backbone, arm, status) = (c.strs("backbone")?, c.strs("arm")?, c.strs("status")?);
    let (end_reason, error_kind, count) = (
        c.strs("end_reason")?,
        c.opt_strs("error_kind")?,
        c.u64s("count")?,
    );
    let mut rows: Vec<FailureRow> = (0..df.height())
        .map(|i| FailureRow {
            backbone: backbone[i].clone(),
            arm: arm[i].clone(),
            status: status[i].clone(),
            end_reason: end_reason[i].clone(),
            error_kind: error_kind[i].clone(),
            count: count[i],
        })
        .collect();
    rows.sort_by(|x, y| {
        (
            x.backbone.as_str(),
            x.arm.as_str(),
            std::cmp::Reverse(x.count),
        )
            .cmp(&(
                y.backbone.as_str(),
                y.arm.as_str(),
                std::cmp::Reverse(y.count),
            ))
    });
    Ok(rows)
}

/// Pairs the same items (benchmark, item, epoch, backbone, arm) across two runs.
pub fn compare_runs(a: &Path, b: &Path, opts: &ReportOptions) -> Result<Comparison> {
    let report_a = build_report(
        a,
        &ReportOptions {
            bootstrap_resamples: 1,
            ..opts.clone()
        },
    )?;
    let report_b = build_report(
        b,
        &ReportOptions {
            bootstrap_resamples: 1,
            ..opts.clone()
        },
    )?;
    let scan = |p: &Path| -> Result<LazyFrame> {
        let (_, file) = store::resolve_input(p)?;
        let s = file
            .to_str()
            .ok_or_else(|| ReportError::NonUtf8Path(file.clone()))?;
        let lf = LazyFrame::scan_parquet(PlPath::new(s), ScanArgsParquet::default())
            .ctx(format!("scanning `{s}`"))?;
        // Runs are compared on the items each arm is scored on, never on training phases.
        Ok(with_graded(lf).filter(is_training().not()))
    };
    let on = ["benchmark", "backbone", "arm", "item_id", "epoch"];
    let side = |lf: LazyFrame, g: &str| {
        let mut cols = keys(&on);
        cols.push(col("graded").alias(g));
        lf.select(cols)
    };
    let q = side(scan(a)?, "ga")
        .join(
            side(scan(b)?, "gb"),
            keys(&on),
            keys(&on),
            JoinArgs::new(JoinType::Inner),
        )
        .group_by(keys(&["benchmark", "backbone", "arm"]))
        .agg(pair_aggs());
    let df = collect(
        sort_by(q, &["benchmark", "backbone", "arm"]),
        "cross-run pairs",
    )?;
    let c = Cols(&df);
    let (benchmark, backbone, arm) = (c.strs("benchmark")?, c.strs("backbone")?, c.strs("arm")?);
    let (matched, counts) = pair_counts(&c)?;
    let (mut label_a, mut label_b) = (
        run_label(&report_a.header, a),
        run_label(&report_b.header, b),
    );
    if label_a == label_b {
        label_a = format!("A:{}", a.display());
        label_b = format!("B:{}", b.display());
    }
    let rows: Vec<PairedRow> = (0..df.height())
        .map(|i| {
            PairedRow::compute(
                PairKind::Runs,
                benchmark[i].clone(),
                format!("{}/{}", backbone[i], arm[i]),
                label_a.clone(),
                label_b.clone(),
                matched[i],
                counts[i],
                opts.bootstrap_resamples,
                opts.seed,
            )
        })
        .collect();
    let total_matched: u64 = matched.iter().sum();
    let scored_tasks = |h: &Header| h.scopes.iter().map(|s| s.test_tasks).sum::<u64>();
    Ok(Comparison {
        only_in_a: scored_tasks(&report_a.header).saturating_sub(total_matched),
        only_in_b: scored_tasks(&report_b.header).saturating_sub(total_matched),
        run_a: report_a.header,
        run_b: report_b.header,
        rows,
    })
}

fn run_label(header: &Header, path: &Path) -> String {
    match header.sweeps.as_slice() {
        [one] => one.clone(),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::write_results;
    use crate::testutil::{row, small_table};
    use herd_core::AttemptRecord;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn report_of(rows: &[herd_core::ResultRecord], opts: &ReportOptions) -> Report {
        let dir = tempfile::tempdir().expect("tempdir");
        write_results(dir.path(), rows, &[]).expect("write");
        build_report(dir.path(), opts).expect("report")
    }

    fn acc<'a>(r: &'a Report, arm: &str) -> &'a AccuracyRow {
        r.accuracy.iter().find(|a| a.arm == arm).expect("arm row")
    }

    #[test]
    fn accuracy_and_status_columns_match_hand_counts() {
        let r = report_of(&small_table(), &ReportOptions::default());
        assert_eq!(r.accuracy.len(), 2);
        let off = acc(&r, "off");
        assert_eq!(
            (off.tasks, off.scored, off.correct, off.wrong),
            (10, 8, 2, 6)
        );
        assert_eq!(
            (
                off.failed,
                off.timeout,
                off.budget,
                off.cancelled,
                off.other_status
            ),
            (1, 1, 0, 0, 0)
        );
        assert!(close(off.accuracy.expect("acc"), 0.25, 1e-12));
        assert!(close(off.accuracy_all_tasks.expect("acc all"), 0.2, 1e-12));
        // Wilson 2/8 at z = 1.95996: denominator 1.480182, center 0.331102, half-width 0.259623.
        let w = off.wilson.expect("wilson");
        assert!(close(w.low, 0.071479, 1e-5), "{w:?}");
        assert!(close(w.high, 0.590725, 1e-5), "{w:?}");
        let on = acc(&r, "on");
        assert_eq!((on.tasks, on.scored, on.correct, on.budget), (10, 9, 9, 1));
        assert!(close(on.accuracy.expect("acc"), 1.0, 1e-12));
        assert!(close(on.accuracy_all_tasks.expect("acc all"), 0.9, 1e-12));
    }

    #[test]
    fn failed_tasks_are_never_wrong_answers_nor_dropped() {
        let mut rows: Vec<_> = (1..=4).map(|i| row("off", i, "failed", None)).collect();
        // A malformed row claiming correctness with a non-scored status still does not count.
        rows.push(row("off", 5, "timeout", Some(false)));
        rows.push(row("off", 6, "cancelled", None));
        let r = report_of(&rows, &ReportOptions::default());
        let off = acc(&r, "off");
        assert_eq!(
            (off.tasks, off.scored, off.wrong, off.correct),
            (6, 0, 0, 0)
        );
        assert_eq!((off.failed, off.timeout, off.cancelled), (4, 1, 1));
        assert_eq!(off.accuracy, None);
        assert_eq!(off.wilson, None);
        assert_eq!(off.accuracy_all_tasks, Some(0.0));
        let failures: u64 = r.failures.iter().map(|f| f.count).sum();
        assert_eq!(failures, 6);
        assert!(r.failures.iter().any(|f| f.status == "failed"
            && f.error_kind.as_deref() == Some("sandbox")
            && f.count == 4));
    }

    #[test]
    fn paired_comparison_matches_hand_computation() {
        let r = report_of(&small_table(), &ReportOptions::default());
        assert_eq!(r.paired.len(), 1, "{:?}", r.paired);
        let p = &r.paired[0];
        assert_eq!(
            (p.kind, p.a.as_str(), p.b.as_str(), p.within.as_str()),
            (PairKind::Arms, "off", "on", "m1")
        );
        // Items 1–8 are scored on both sides; 9 (off failed) and 10 (neither) are excluded.
        assert_eq!((p.matched, p.n, p.unscored_pairs), (10, 8, 2));
        assert_eq!(
            p.counts,
            PairCounts {
                both_right: 2,
                a_right_b_wrong: 0,
                a_wrong_b_right: 6,
                both_wrong: 0
            }
        );
        assert!(close(p.diff.expect("diff"), -0.75, 1e-12));
        assert!(close(p.accuracy_a.expect("a"), 0.25, 1e-12));
        // McNemar: 0 vs 6 discordant, p = 2 / 2^6.
        assert!(close(p.mcnemar_p, 0.03125, 1e-12));
        // Bootstrap: diff = −k/8 with k ~ Bin(8, 0.75): P(k = 8) = 0.100 > 2.5%, so the low
        // bound is −1; the 2.5% quantile of k is 3 (CDF(2) = 0.004, CDF(3) = 0.027), so the
        // high bound lies between −3/8 and −2/8.
        assert!(close(p.ci_low.expect("low"), -1.0, 1e-12));
        let high = p.ci_high.expect("high");
        assert!(
            (-0.375 - 1e-9..=-0.25 + 1e-9).contains(&high),
            "high {high}"
        );
    }

    #[test]
    fn training_phases_stay_out_of_every_arm_table() {
        // Arm `on` is train-then-test: items 1–10 its test split, plus 4 training tasks
        // (all correct, $1 each) that must not move its accuracy, cost or pairs.
        let mut rows = small_table();
        for r in rows.iter_mut().filter(|r| r.arm == "on") {
            r.accumulation = "train-then-test".into();
            r.library_size = 3;
        }
        for item in 11..=14 {
            let mut t = row("on", item, "scored", Some(true));
            t.accumulation = "train-then-test".into();
            t.split = "train".into();
            t.task_key = format!("train-{item}");
            t.cost_usd = 1.0;
            t.actions_created = 1;
            t.library_size = item as u64 - 11;
            rows.push(t);
        }
        let with = report_of(&rows, &ReportOptions::default());
        let without = report_of(&small_table(), &ReportOptions::default());
        assert_eq!(acc(&with, "on").tasks, 10);
        assert_eq!(acc(&with, "on").correct, acc(&without, "on").correct);
        assert_eq!(with.paired, without.paired, "pairs use test items only");
        let cost = with.cost.iter().find(|c| c.arm == "on").expect("on");
        assert_eq!(cost.tasks, 10);
        assert!(close(cost.training_cost_usd, 4.0, 1e-9));
        assert!(close(
            cost.cost_with_training_usd,
            cost.cost_usd + 4.0,
            1e-9
        ));
        assert_eq!(with.training.len(), 1);
        let t = &with.training[0];
        assert_eq!(
            (
                t.accuracy.arm.as_str(),
                t.accuracy.tasks,
                t.accuracy.correct
            ),
            ("on", 4, 4)
        );
        assert_eq!((t.actions_created, t.frozen_library), (4, Some(3)));
        let scope = with
            .header
            .scopes
            .iter()
            .find(|s| s.arm == "on")
            .expect("scope");
        assert_eq!(
            (
                scope.test_tasks,
                scope.training_tasks,
                scope.scored_splits.clone()
            ),
            (10, 4, vec!["test".to_string()])
        );
        assert!(without.training.is_empty());
        let md = with.to_markdown();
        assert!(
            md.contains("Training phases") && md.contains("library frozen at 3 actions"),
            "{md}"
        );
    }

    #[test]
    fn cost_and_accumulation_sums_match_hand_values() {
        let r = report_of(&small_table(), &ReportOptions::default());
        let off = r.cost.iter().find(|c| c.arm == "off").expect("off");
        // 0.01 × (1 + … + 10) = 0.55.
        assert!(close(off.cost_usd, 0.55, 1e-9));
        assert_eq!(
            (
                off.prompt_tokens,
                off.completion_tokens,
                off.steps,
                off.wall_ms
            ),
            (1000, 100, 20, 10_000)
        );
        assert!(close(off.mean_cost_usd.expect("mean"), 0.055, 1e-9));
        assert!(close(off.mean_tokens.expect("tokens"), 110.0, 1e-9));
        assert!(close(off.correct_per_usd.expect("per $"), 2.0 / 0.55, 1e-9));
        let on = r.reuse.iter().find(|x| x.arm == "on").expect("on");
        assert_eq!(
            (
                on.generated_calls,
                on.user_calls,
                on.steps,
                on.covered_steps
            ),
            (10, 10, 20, 10)
        );
        assert_eq!((on.reused_calls, on.tasks_reusing), (4, 4));
        let off_reuse = r.reuse.iter().find(|x| x.arm == "off").expect("off");
        assert_eq!((off_reuse.reused_calls, off_reuse.tasks_reusing), (0, 0));
        assert!(close(on.generated_share.expect("share"), 0.5, 1e-12));
        assert!(close(on.coverage.expect("coverage"), 0.5, 1e-12));
        let growth = r
            .library_growth
            .iter()
            .find(|g| g.arm == "on")
            .expect("growth");
        assert_eq!(growth.final_size, 10);
        assert_eq!(growth.points.first(), Some(&(1, 1)));
        assert_eq!(growth.points.last(), Some(&(10, 10)));
        let top = r.top_actions.iter().find(|a| a.arm == "on").expect("top");
        assert_eq!(
            (top.action.as_str(), top.calls, top.tasks),
            ("web_search", 20, 10)
        );
        assert_eq!(r.malformed_actions_called, 0);
        let lvl: Vec<_> = r
            .accuracy_by_level
            .iter()
            .filter(|a| a.arm == "off")
            .collect();
        assert_eq!(lvl.len(), 2);
        let one = lvl
            .iter()
            .find(|a| a.group.as_deref() == Some("1"))
            .expect("level 1");
        assert_eq!((one.tasks, one.scored, one.correct), (5, 5, 2));
        assert!(r.accuracy_by_subject.is_empty());
        assert_eq!(
            r.header.models,
            vec![("m1".to_string(), "m1@q4".to_string())]
        );
        assert_eq!(
            r.header.sandboxes,
            vec![("docker".to_string(), "herd-sandbox:1".to_string())]
        );
        assert_eq!(r.header.tasks, 20);
        assert_eq!(r.header.partial, None);
    }

    #[test]
    fn partial_runs_report_what_exists() {
        let rows = small_table();
        let r = report_of(
            &rows,
            &ReportOptions {
                expected_tasks: Some(30),
                ..Default::default()
            },
        );
        let p = r.header.partial.clone().expect("partial");
        assert_eq!((p.finished, p.expected), (20, 30));
        assert!(r.to_markdown().contains("partial run: 20 of 30 tasks"));
        assert_eq!(r.accuracy.iter().map(|a| a.tasks).sum::<u64>(), 20);

        // Without expectations: a task attempted but without a result, and a cancelled row.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rows = small_table();
        rows.push(row("off", 11, "cancelled", None));
        let attempts = vec![
            AttemptRecord {
                task_key: "math-m1-off-1".into(),
                attempt: 1,
                ..Default::default()
            },
            AttemptRecord {
                task_key: "math-m1-off-12".into(),
                attempt: 1,
                ..Default::default()
            },
        ];
        write_results(dir.path(), &rows, &attempts).expect("write");
        let r = build_report(dir.path(), &ReportOptions::default()).expect("report");
        let p = r.header.partial.clone().expect("partial");
        assert_eq!(
            (
                p.finished,
                p.expected,
                p.unfinished_rows,
                p.attempted_without_result
            ),
            (20, 22, 1, 1)
        );
        assert_eq!(acc(&r, "off").cancelled, 1);
    }

    #[test]
    fn polars_report_agrees_with_row_by_row_baseline() {
        let rows = crate::bench::synthetic_chunk(0, 36 * 40, 3);
        let frame = crate::store::results_frame(&rows).expect("frame");
        let opts = ReportOptions {
            bootstrap_resamples: 500,
            ..Default::default()
        };
        let r = report_from_frames(frame, None, &opts).expect("report");
        let base = crate::baseline::aggregate_records(&rows, 500, opts.seed);
        assert_eq!(r.accuracy.len(), 36);
        for a in &r.accuracy {
            let g = &base.groups[&(a.benchmark.clone(), a.backbone.clone(), a.arm.clone())];
            assert_eq!(
                (a.tasks, a.scored, a.correct, a.failed, a.timeout, a.budget),
                (g.tasks, g.scored, g.correct, g.failed, g.timeout, g.budget)
            );
            assert_eq!(a.wilson, g.wilson);
            let c = r
                .cost
                .iter()
                .find(|c| {
                    (&c.benchmark, &c.backbone, &c.arm) == (&a.benchmark, &a.backbone, &a.arm)
                })
                .expect("cost");
            assert!(close(c.cost_usd, g.cost_usd, 1e-9));
            assert_eq!((c.prompt_tokens, c.steps), (g.prompt_tokens, g.steps));
        }
        // 4 benchmarks × (3 backbones × 3 arm pairs + 3 arms × 3 backbone pairs).
        assert_eq!(r.paired.len(), 72);
        assert_eq!(r.paired, base.paired);
    }

    #[test]
    fn compare_runs_pairs_the_same_items() {
        let (da, db) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        let run_a: Vec<_> = small_table()
            .into_iter()
            .filter(|r| r.arm == "off")
            .collect();
        let mut run_b: Vec<_> = run_a
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.sweep = "s2".into();
                // B gets items 3 and 4 right too.
                if r.item_id == "i3" || r.item_id == "i4" {
                    r.correct = Some(true);
                }
                r
            })
            .collect();
        let mut extra = row("off", 12, "scored", Some(true));
        extra.sweep = "s2".into();
        run_b.push(extra);
        write_results(da.path(), &run_a, &[]).expect("write a");
        write_results(db.path(), &run_b, &[]).expect("write b");
        let cmp = compare_runs(da.path(), db.path(), &ReportOptions::default()).expect("compare");
        assert_eq!(cmp.rows.len(), 1);
        let p = &cmp.rows[0];
        assert_eq!(
            (p.kind, p.a.as_str(), p.b.as_str(), p.within.as_str()),
            (PairKind::Runs, "s1", "s2", "m1/off")
        );
        assert_eq!((p.matched, p.n), (10, 8));
        assert_eq!(
            p.counts,
            PairCounts {
                both_right: 2,
                a_right_b_wrong: 0,
                a_wrong_b_right: 2,
                both_wrong: 4
            }
        );
        assert!(close(p.diff.expect("diff"), -0.25, 1e-12));
        assert!(close(p.mcnemar_p, 0.5, 1e-12));
        assert_eq!((cmp.only_in_a, cmp.only_in_b), (0, 1));
        assert!(cmp.to_markdown().contains("m1/off"));
    }

    #[test]
    fn actions_called_parsing() {
        assert_eq!(
            parse_actions_called("[[\"a\",2],\"b\"]"),
            Some(vec![("a".into(), 2), ("b".into(), 1)])
        );
        assert_eq!(parse_actions_called(""), Some(vec![]));
        assert_eq!(parse_actions_called("{\"a\":1}"), None);
        assert_eq!(parse_actions_called("[[\"a\",-1]]"), None);
    }
}
