//! A run's summary from herd-report's [`Report`] model: what was measured, accuracy with
//! Wilson intervals, paired comparisons, cost, library growth and reuse, failures and
//! training phases. Shared by the run page and the live sweep page.

use herd_report::charts;
use herd_report::{AccuracyRow, Header, PairedRow, Report};
use maud::{Markup, PreEscaped, html};

use crate::format::{num, pct, pct_interval, pts_interval, pval, usd};

/// The whole summary of a report, as one section.
pub(crate) fn summary_section(report: &Report) -> Markup {
    html! {
        section #summary {
            (header(&report.header))
            (chart_row(report))
            h2 { "Accuracy" }
            p.note {
                "Accuracy is correct / scored, with its Wilson 95% interval. Failed, timed-out, \
                 over-budget and cancelled tasks are counted apart, never as wrong answers; the \
                 last column counts them as wrong."
            }
            (accuracy_table(&report.accuracy, None))
            @if !report.accuracy_by_level.is_empty() {
                details {
                    summary { "Accuracy by level (" (report.accuracy_by_level.len()) " rows)" }
                    (accuracy_table(&report.accuracy_by_level, Some("level")))
                }
            }
            @if !report.accuracy_by_subject.is_empty() {
                details {
                    summary { "Accuracy by subject (" (report.accuracy_by_subject.len()) " rows)" }
                    (accuracy_table(&report.accuracy_by_subject, Some("subject")))
                }
            }
            h2 { "Paired comparisons" }
            p.note {
                "Same items (benchmark, item, epoch) on both sides, test splits only; pairs where \
                 a side was not scored are left out and counted. Δ = accuracy(A) − accuracy(B) in \
                 points with a paired bootstrap 95% interval; p = exact McNemar."
            }
            (paired_table(&report.paired))
            h2 { "Cost, tokens, steps and time" }
            (cost_table(report))
            h2 { "Action library growth and reuse" }
            (reuse_table(report))
            @if !report.top_actions.is_empty() {
                details {
                    summary { "Most reused actions" }
                    table {
                        tr { th { "backbone" } th { "arm" } th { "action" } th.n { "calls" } th.n { "tasks" } }
                        @for a in &report.top_actions {
                            tr { td { (a.backbone) } td { (a.arm) } td { code { (a.action) } } td.n { (a.calls) } td.n { (a.tasks) } }
                        }
                    }
                }
            }
            @if report.malformed_actions_called > 0 {
                p.note { (report.malformed_actions_called) " rows had an unreadable actions_called value and are not counted." }
            }
            h2 { "Failures by kind" }
            (failure_table(report))
            @if !report.training.is_empty() {
                h2 { "Training phases (train-then-test arms, not in the tables above)" }
                (training_table(report))
            }
        }
    }
}

fn joined(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_string()
    } else {
        items.join(", ")
    }
}

fn pairs(items: &[(String, String)]) -> String {
    if items.is_empty() {
        return "—".to_string();
    }
    items
        .iter()
        .map(|(a, b)| format!("{a}: {}", if b.is_empty() { "—" } else { b }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn header(h: &Header) -> Markup {
    let statuses = h
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        dl {
            @if let Some(w) = h.unisolated_warning() {
                dt.partial { "UNISOLATED" } dd.partial { (w) }
            }
            @if let Some(p) = &h.partial {
                dt.partial { "PARTIAL" }
                dd.partial {
                    (p.summary())
                    @if p.unfinished_rows > 0 { " (" (p.unfinished_rows) " rows cancelled or unfinished)" }
                    @if p.attempted_without_result > 0 { " (" (p.attempted_without_result) " tasks attempted without a result)" }
                }
            }
            dt { "sweep" } dd { (joined(&h.sweeps)) }
            dt { "herd version" } dd { (joined(&h.herd_versions)) }
            dt { "tasks" } dd { (h.tasks) }
            dt { "statuses" } dd { (statuses) }
            dt { "dataset fingerprints" } dd { (pairs(&h.dataset_fingerprints)) }
            dt { "models" } dd { (pairs(&h.models)) }
            dt { "sandboxes" } dd { (pairs(&h.sandboxes)) }
            @if h.scopes.iter().any(|s| s.accumulation == "train-then-test") {
                dt { "scored splits" }
                dd { @for s in &h.scopes { (s.describe()) br; } }
            }
        }
    }
}

/// herd-report's SVG charts (plotters escapes their labels): accuracy per benchmark,
/// library growth, cost vs accuracy.
fn chart_row(report: &Report) -> Markup {
    let mut svgs = Vec::new();
    let mut errors = Vec::new();
    match charts::accuracy_charts(&report.accuracy) {
        Ok(v) => svgs.extend(v),
        Err(e) => errors.push(e.to_string()),
    }
    if !report.library_growth.is_empty() {
        match charts::growth_chart(&report.library_growth) {
            Ok(v) => svgs.push(v),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !report.accuracy.is_empty() {
        match charts::cost_accuracy_chart(&report.accuracy, &report.cost) {
            Ok(v) => svgs.push(v),
            Err(e) => errors.push(e.to_string()),
        }
    }
    html! {
        div.charts {
            @for svg in &svgs { (PreEscaped(svg)) }
        }
        @for e in &errors { p.err { (e) } }
    }
}

fn accuracy_table(rows: &[AccuracyRow], group: Option<&str>) -> Markup {
    html! {
        @if rows.is_empty() {
            p { em { "no rows" } }
        } @else {
            table {
                tr {
                    th { "benchmark" } th { "backbone" } th { "arm" }
                    @if let Some(g) = group { th { (g) } }
                    th.n { "tasks" } th.n { "scored" } th.n { "correct" } th.n { "wrong" }
                    th.n { "accuracy" } th.n { "Wilson 95%" } th.n { "failed" } th.n { "timeout" }
                    th.n { "budget" } th.n { "cancelled" } th.n { "no gold" } th.n { "other" }
                    th.n { "accuracy over all tasks" }
                }
                @for r in rows {
                    tr {
                        td { (r.benchmark) } td { (r.backbone) } td { (r.arm) }
                        @if group.is_some() { td { (r.group.as_deref().unwrap_or("—")) } }
                        td.n { (r.tasks) } td.n { (r.scored) } td.n { (r.correct) } td.n { (r.wrong) }
                        td.n { strong { (pct(r.accuracy)) } }
                        td.n { (pct_interval(r.wilson.map(|w| (w.low, w.high)))) }
                        td.n { (r.failed) } td.n { (r.timeout) } td.n { (r.budget) }
                        td.n { (r.cancelled) } td.n { (r.no_gold) } td.n { (r.other_status) }
                        td.n { (pct(r.accuracy_all_tasks)) }
                    }
                }
            }
        }
    }
}

/// Paired comparisons (the report's A − B rows), shared with the comparison pages.
pub(crate) fn paired_table(rows: &[PairedRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p { em { "no pairs (a comparison needs two arms or backbones on the same items)" } }
        } @else {
            table {
                tr {
                    th { "kind" } th { "benchmark" } th { "within" } th { "A" } th { "B" }
                    th.n { "pairs" } th.n { "unscored pairs" } th.n { "acc A" } th.n { "acc B" }
                    th.n { "Δ (pts)" } th.n { "95% CI (pts)" } th.n { "A right, B wrong" }
                    th.n { "A wrong, B right" } th.n { "McNemar p" }
                }
                @for r in rows {
                    tr {
                        td { (r.kind.as_str()) } td { (r.benchmark) } td { (r.within) }
                        td { (r.a) } td { (r.b) }
                        td.n { (r.n) } td.n { (r.unscored_pairs) }
                        td.n { (pct(r.accuracy_a)) } td.n { (pct(r.accuracy_b)) }
                        td.n { (crate::format::signed_pts(r.diff)) }
                        td.n { (pts_interval(r.ci_low.zip(r.ci_high))) }
                        td.n { (r.counts.a_right_b_wrong) } td.n { (r.counts.a_wrong_b_right) }
                        td.n { (pval(r.mcnemar_p)) }
                    }
                }
            }
        }
    }
}

fn cost_table(report: &Report) -> Markup {
    let training = !report.training.is_empty();
    html! {
        table {
            tr {
                th { "benchmark" } th { "backbone" } th { "arm" } th.n { "tasks" } th.n { "cost" }
                th.n { "prompt tokens" } th.n { "completion tokens" } th.n { "LLM calls" }
                th.n { "steps" } th.n { "wall s" } th.n { "$ / task" } th.n { "tokens / task" }
                th.n { "steps / task" } th.n { "s / task" } th.n { "correct per $" }
                @if training { th.n { "training $" } th.n { "cost incl. training" } }
            }
            @for r in &report.cost {
                tr {
                    td { (r.benchmark) } td { (r.backbone) } td { (r.arm) } td.n { (r.tasks) }
                    td.n { (usd(r.cost_usd)) } td.n { (r.prompt_tokens) } td.n { (r.completion_tokens) }
                    td.n { (r.llm_calls) } td.n { (r.steps) }
                    td.n { (format!("{:.1}", r.wall_ms as f64 / 1000.0)) }
                    td.n { (num(r.mean_cost_usd, 5)) } td.n { (num(r.mean_tokens, 1)) }
                    td.n { (num(r.mean_steps, 2)) } td.n { (num(r.mean_wall_s, 2)) }
                    td.n { (num(r.correct_per_usd, 2)) }
                    @if training {
                        td.n { (usd(r.training_cost_usd)) } td.n { (usd(r.cost_with_training_usd)) }
                    }
                }
            }
        }
    }
}

fn reuse_table(report: &Report) -> Markup {
    let size = |backbone: &str, arm: &str| {
        report
            .library_growth
            .iter()
            .find(|g| g.backbone == backbone && g.arm == arm)
            .map_or_else(|| "—".to_string(), |g| g.final_size.to_string())
    };
    html! {
        p.note {
            "Generated share = calls to generated actions / all action calls; coverage = steps \
             that called an action / steps. Calls to stored actions = calls to actions an earlier \
             task wrote and the library handed back (a task calling functions it wrote itself is \
             not counted); tasks reusing a stored action = tasks with at least one such call. The \
             growth curve is in the charts above."
        }
        table {
            tr {
                th { "backbone" } th { "arm" } th.n { "tasks" } th.n { "final library size" }
                th.n { "actions created" } th.n { "actions retrieved" } th.n { "generated calls" }
                th.n { "user calls" } th.n { "generated share" } th.n { "tasks calling generated" }
                th.n { "calls to stored actions" } th.n { "tasks reusing a stored action" }
                th.n { "coverage" }
            }
            @for r in &report.reuse {
                tr {
                    td { (r.backbone) } td { (r.arm) } td.n { (r.tasks) }
                    td.n { (size(&r.backbone, &r.arm)) } td.n { (r.actions_created) }
                    td.n { (r.actions_retrieved) } td.n { (r.generated_calls) } td.n { (r.user_calls) }
                    td.n { (pct(r.generated_share)) } td.n { (r.tasks_calling_generated) }
                    td.n { (r.reused_calls) } td.n { (r.tasks_reusing) }
                    td.n { (pct(r.coverage)) }
                }
            }
        }
    }
}

fn failure_table(report: &Report) -> Markup {
    html! {
        table {
            tr { th { "backbone" } th { "arm" } th { "status" } th { "end reason" } th { "error kind" } th.n { "tasks" } }
            @for r in &report.failures {
                tr {
                    td { (r.backbone) } td { (r.arm) } td { (r.status) } td { (r.end_reason) }
                    td { (r.error_kind.as_deref().unwrap_or("—")) } td.n { (r.count) }
                }
            }
        }
    }
}

fn training_table(report: &Report) -> Markup {
    html! {
        p.note {
            "These tasks filled each arm's library before it was frozen; their verdicts are not \
             the arm's result, which is its test split's."
        }
        table {
            tr {
                th { "benchmark" } th { "backbone" } th { "arm" } th.n { "training tasks" }
                th.n { "scored" } th.n { "correct" } th.n { "accuracy" } th.n { "cost" }
                th.n { "tokens" } th.n { "actions created" } th.n { "library when frozen" }
            }
            @for t in &report.training {
                tr {
                    td { (t.accuracy.benchmark) } td { (t.accuracy.backbone) } td { (t.accuracy.arm) }
                    td.n { (t.accuracy.tasks) } td.n { (t.accuracy.scored) } td.n { (t.accuracy.correct) }
                    td.n { (pct(t.accuracy.accuracy)) } td.n { (usd(t.cost.cost_usd)) }
                    td.n { (t.cost.prompt_tokens + t.cost.completion_tokens) }
                    td.n { (t.actions_created) }
                    td.n { (t.frozen_library.map_or_else(|| "—".to_string(), |n| n.to_string())) }
                }
            }
        }
    }
}
