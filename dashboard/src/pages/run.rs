//! `/runs/{name}`: a run's summary (herd-report's model), links to its task table and
//! downloads, and the forms that compare its arms or compare it with other runs.

use herd_report::Report;
use maud::{Markup, html};

use crate::format::url_segment;

use super::{layout, summary_section};

/// What the run page shows besides the report.
pub struct RunPage<'a> {
    pub name: &'a str,
    pub report: Result<&'a Report, String>,
    /// Other runs under the root, for the run comparison form.
    pub other_runs: &'a [String],
}

/// The arms of a report, in table order.
pub fn arms_of(report: &Report) -> Vec<String> {
    let mut arms: Vec<String> = Vec::new();
    for s in &report.header.scopes {
        if !arms.contains(&s.arm) {
            arms.push(s.arm.clone());
        }
    }
    for r in &report.accuracy {
        if !arms.contains(&r.arm) {
            arms.push(r.arm.clone());
        }
    }
    arms
}

pub fn page(p: &RunPage<'_>) -> Markup {
    let base = format!("/runs/{}", url_segment(p.name));
    let arms = p.report.as_ref().map(|r| arms_of(r)).unwrap_or_default();
    let body = html! {
        nav.links {
            a href={ (base) "/tasks" } {
                "tasks"
                @if let Ok(r) = &p.report { " (" (r.header.tasks) ")" }
            }
            a href={ (base) "/report" } { "report as a standalone page" }
            a href={ (base) "/report.html" } download { "download report.html" }
            a href={ (base) "/results.parquet" } download { "download results.parquet" }
            a href={ "/api/runs/" (url_segment(p.name)) } { "JSON" }
        }
        (compare_forms(p.name, &base, &arms, p.other_runs))
        @match &p.report {
            Ok(report) => (summary_section(report)),
            Err(e) => p.err { "report unavailable: " (e) },
        }
    };
    layout(&format!("run {}", p.name), body, false)
}

fn compare_forms(name: &str, base: &str, arms: &[String], other_runs: &[String]) -> Markup {
    html! {
        @if arms.len() >= 2 {
            form.inline method="get" action={ (base) "/compare" } {
                strong { "Compare arms item by item:" }
                label { "base arm"
                    select name="base" {
                        @for a in arms { option value=(a) { (a) } }
                    }
                }
                label { "against (none ticked: every other arm)"
                    span {
                        @for a in arms {
                            label style="display:inline" { input type="checkbox" name="arms" value=(a); " " (a) " " }
                        }
                    }
                }
                button type="submit" { "compare" }
            }
        }
        @if !other_runs.is_empty() {
            form.inline method="get" action="/compare" {
                strong { "Compare with other runs:" }
                input type="hidden" name="base" value=(name);
                label { "runs"
                    select name="runs" multiple size=(other_runs.len().min(5)) required {
                        @for r in other_runs { option value=(r) { (r) } }
                    }
                }
                button type="submit" { "compare" }
            }
        }
    }
}
