//! `/`: the runs under the root (tasks, accuracy, cost, age) and, with a coordinator, its
//! live sweeps with per-group progress, refreshed in place every two seconds.

use maud::{Markup, html};

use crate::format::{accuracy, eta, url_segment, usd};
use crate::runs::RunSummary;
use crate::sweeps::SweepsView;

use super::layout;

pub fn page(root: &str, runs: &Result<Vec<RunSummary>, String>, sweeps: &SweepsView) -> Markup {
    let body = html! {
        section #runs {
            h2 { "Runs" }
            p.muted { "under " code { (root) } }
            @match runs {
                Err(e) => p.err { (e) },
                Ok(runs) if runs.is_empty() => p {
                    "No runs yet (a run is a directory holding " code { "results.parquet" } ")."
                },
                Ok(runs) => (runs_table(runs)),
            }
        }
        @if sweeps.coordinator.is_some() {
            (sweeps_section(sweeps))
        }
    };
    layout("dashboard", body, sweeps.coordinator.is_some())
}

fn runs_table(runs: &[RunSummary]) -> Markup {
    html! {
        table {
            tr {
                th { "run" } th.n { "tasks" } th.n { "accuracy" } th.n { "not scored" }
                th.n { "cost" } th { "last modified (UTC)" } th { "" }
            }
            @for r in runs {
                @let base = format!("/runs/{}", url_segment(&r.name));
                tr {
                    td {
                        a href=(base) { (r.name) }
                        @if r.unisolated > 0 {
                            " "
                            span.partial title={ (r.unisolated) " tasks ran without container isolation" } { "unisolated" }
                        }
                    }
                    td.n { (r.tasks) }
                    @match &r.error {
                        Some(e) => { td.n { span.err { (e) } } td.n {} }
                        None => { td.n { (accuracy(r.correct, r.scored)) } td.n { (r.unscored) } }
                    }
                    td.n { (usd(r.cost_usd)) }
                    td { (r.last_modified) }
                    td { a href={ (base) "/tasks" } { "tasks" } }
                }
            }
        }
    }
}

fn progress_bar(done: u64, total: u64) -> Markup {
    let pct = if total == 0 {
        0.0
    } else {
        100.0 * done as f64 / total as f64
    };
    html! {
        span.bar { span style={ "width:" (format!("{pct:.1}")) "%" } {} }
        " " (done) "/" (total)
    }
}

fn sweeps_section(view: &SweepsView) -> Markup {
    html! {
        section #sweeps {
            h2 { "Live sweeps" }
            @if let Some(url) = &view.coordinator {
                p.muted { "coordinator " code { (url) } ", refreshed every 2 s" }
            }
            @if let Some(e) = &view.error {
                p.err { (e) }
            } @else if view.sweeps.is_empty() {
                p { "The coordinator has no sweeps." }
            } @else {
                table {
                    tr {
                        th { "sweep" } th { "state" } th { "progress" } th.n { "running" } th.n { "queued" }
                        th.n { "failed" } th.n { "accuracy" } th.n { "cost" } th.n { "ETA" }
                    }
                    @for s in &view.sweeps {
                        tr {
                            td {
                                strong { a href={ "/sweeps/" (crate::format::url_segment(&s.sweep_id)) } { (s.name) } }
                                br; span.muted { (s.sweep_id) }
                            }
                            td {
                                (s.state)
                                @if !s.phase.is_empty() { " (" (s.phase) ")" }
                            }
                            td { (progress_bar(s.done, s.total)) }
                            td.n { (s.running) }
                            td.n { (s.queued) }
                            td.n { (s.failed) }
                            td.n { (accuracy(s.correct, s.scored)) }
                            td.n { (usd(s.cost_usd)) }
                            td.n { (eta(s.eta_secs)) }
                        }
                        @for g in &s.groups {
                            tr.muted {
                                td { "\u{a0}\u{a0}" (g.benchmark) " · " (g.backbone) " · " (g.arm) }
                                td {}
                                td { (progress_bar(g.done, g.total)) }
                                td.n { (g.running) }
                                td {}
                                td.n { (g.failed) }
                                td.n { (accuracy(g.correct, g.scored)) }
                                td.n { (usd(g.cost_usd)) }
                                td {}
                            }
                        }
                    }
                }
            }
        }
    }
}
