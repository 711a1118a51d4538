//! The comparison pages — two arms of a run, or runs against a base run — item by item:
//! the paired counts with McNemar p and a bootstrap interval per pair and per benchmark ×
//! backbone, then paginated lists of the items that flipped, linking both trajectories.

use maud::{Markup, html};

use crate::compare::{FlipRow, Pairing};
use crate::format::{pct, pts_interval, pval, signed_pts};

use super::{layout, pager, trajectory_link};

/// One base-vs-other pair as shown.
pub struct PairSection {
    pub pairing: std::sync::Arc<Pairing>,
    /// Base of the base side's trajectory links (`/runs/NAME`).
    pub base_url: String,
    /// Base of the other side's trajectory links.
    pub other_url: String,
    pub fixed: Vec<FlipRow>,
    pub broken: Vec<FlipRow>,
}

/// A whole comparison page.
pub struct CompareView<'a> {
    pub title: String,
    /// The form (and any words) above the results.
    pub intro: Markup,
    pub sections: Vec<PairSection>,
    pub page: usize,
    pub pages: usize,
    pub per: usize,
    pub link: &'a dyn Fn(usize) -> String,
    /// Whether sides differ by run (lists then show each side's arm).
    pub across_runs: bool,
}

pub fn page(v: &CompareView<'_>) -> Markup {
    let body = html! {
        (v.intro)
        @if !v.sections.is_empty() {
            h2 { "Summary" }
            p.note {
                "Items are paired on benchmark, item, backbone and epoch"
                @if v.across_runs { " and arm" }
                "; only test splits count. A pair counts when both sides were scored with a gold \
                 answer. Δ = accuracy(other) − accuracy(base) in points with a paired bootstrap \
                 95% interval; p = exact McNemar on the flipped items."
            }
            (summary_table(&v.sections))
            @if v.pages > 1 { (pager(v.page, v.pages, v.link)) }
            @for s in &v.sections {
                (section(s, v))
            }
            @if v.pages > 1 { (pager(v.page, v.pages, v.link)) }
        }
    };
    layout(&v.title, body, false)
}

fn summary_table(sections: &[PairSection]) -> Markup {
    html! {
        table {
            tr {
                th { "base" } th { "other" } th.n { "graded pairs" } th.n { "both right" }
                th.n { "both wrong" } th.n { "wrong → right" } th.n { "right → wrong" }
                th.n { "unscored pairs" } th.n { "only in base" } th.n { "only in other" }
                th.n { "acc base" } th.n { "acc other" } th.n { "Δ (pts)" } th.n { "95% CI (pts)" }
                th.n { "McNemar p" }
            }
            @for s in sections {
                @let p = &s.pairing;
                tr {
                    td { (p.base) } td { (p.other) } td.n { (p.counts.n()) }
                    td.n { (p.counts.both_right) } td.n { (p.counts.both_wrong) }
                    td.n { strong { (p.counts.a_wrong_b_right) } }
                    td.n { strong { (p.counts.a_right_b_wrong) } }
                    td.n { (p.unscored_pairs) } td.n { (p.only_base) } td.n { (p.only_other) }
                    td.n { (pct(p.accuracy_base)) } td.n { (pct(p.accuracy_other)) }
                    td.n { (signed_pts(p.diff)) } td.n { (pts_interval(p.ci)) }
                    td.n { (pval(p.mcnemar_p)) }
                }
            }
        }
    }
}

fn section(s: &PairSection, v: &CompareView<'_>) -> Markup {
    let p = &s.pairing;
    let start = (v.page - 1) * v.per;
    html! {
        section.pair {
            h2 { (p.base) " → " (p.other) }
            @if p.groups.len() > 1 {
                details {
                    summary { "by benchmark × backbone" @if v.across_runs { " × arm" } " (" (p.groups.len()) ")" }
                    table {
                        tr {
                            th { "benchmark" } th { "backbone" } @if v.across_runs { th { "arm" } }
                            th.n { "graded pairs" } th.n { "wrong → right" } th.n { "right → wrong" }
                            th.n { "unscored pairs" } th.n { "acc base" } th.n { "acc other" } th.n { "McNemar p" }
                        }
                        @for g in &p.groups {
                            tr {
                                td { (g.benchmark) } td { (g.backbone) }
                                @if v.across_runs { td { (g.arm.as_deref().unwrap_or("")) } }
                                td.n { (g.counts.n()) } td.n { (g.counts.a_wrong_b_right) }
                                td.n { (g.counts.a_right_b_wrong) } td.n { (g.unscored_pairs) }
                                td.n { (pct(g.accuracy_base)) } td.n { (pct(g.accuracy_other)) }
                                td.n { (pval(g.mcnemar_p)) }
                            }
                        }
                    }
                }
            }
            (flip_list("Wrong → right", "wrong in the base, right in the other", p.fixed.len(), &s.fixed, start, s, v.across_runs))
            (flip_list("Right → wrong", "right in the base, wrong in the other", p.broken.len(), &s.broken, start, s, v.across_runs))
        }
    }
}

fn flip_list(
    title: &str,
    what: &str,
    total: usize,
    rows: &[FlipRow],
    start: usize,
    s: &PairSection,
    across_runs: bool,
) -> Markup {
    html! {
        h3 { (title) " (" (total) ")" }
        @if total == 0 {
            p.muted { "No item was " (what) "." }
        } @else if rows.is_empty() {
            p.muted { "None on this page (" (total) " in all)." }
        } @else {
            p.muted { (what) ": items " (start + 1) "–" (start + rows.len()) " of " (total) }
            table.flips {
                tr {
                    th { "benchmark" } th { "item" } th { "backbone" }
                    @if across_runs { th { "arm" } }
                    th.n { "epoch" } th { "base" } th { "other" }
                }
                @for f in rows {
                    tr {
                        td { (f.benchmark) } td { (f.item_id) } td { (f.backbone) }
                        @if across_runs { td { (f.base_arm) } }
                        td.n { (f.epoch) }
                        td { (trajectory_link(&s.base_url, &f.base_key, f.base_has_trajectory, &f.base_key)) }
                        td { (trajectory_link(&s.other_url, &f.other_key, f.other_has_trajectory, &f.other_key)) }
                    }
                }
            }
        }
    }
}
