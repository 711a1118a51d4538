//! The task table: a GET form of facet selects (with counts), search, sort and page size,
//! "n of N tasks", sortable column heads and prev/next links that keep every other
//! parameter, so each view is a deep link. Reused by the live sweep page.

use maud::{Markup, html};

use crate::format::{clip, href, secs, url_segment, usd};
use crate::tasks::{Facet, SortKey, TaskPage, TaskQuery};

use super::{correct_cell, layout, pager, trajectory_link};

/// Characters of an answer shown in a cell.
const ANSWER_CHARS: usize = 80;

/// The URL of view `q` of the table at `list`.
fn view_href(list: &str, q: &TaskQuery) -> String {
    href(list, &q.pairs())
}

/// The filter form, counts, pager and table of one page of `set`. The form and links go to
/// `{base}/tasks`, rows link to `{base}/tasks/{key}`.
pub(crate) fn task_table(query: &TaskQuery, page: &TaskPage, base: &str) -> Markup {
    let list = format!("{base}/tasks");
    let current = query.at_page(page.page);
    let link = |n: usize| view_href(&list, &current.at_page(n));
    html! {
        (filter_form(&list, query, page))
        p {
            strong #task-count { (page.matched) } " of " (page.total) " tasks"
            @if page.matched < page.total { " match" }
            @if page.matched > 0 {
                " · showing " ((page.page - 1) * page.per + 1) "–" (((page.page - 1) * page.per + page.tasks.len()))
            }
        }
        @if page.pages > 1 { (pager(page.page, page.pages, link)) }
        @if page.tasks.is_empty() {
            p { em { "No task matches." } }
        } @else {
            table #tasks {
                tr {
                    (sort_head(&list, &current, "item", SortKey::Item))
                    (sort_head(&list, &current, "benchmark", SortKey::Facet(Facet::Benchmark)))
                    (sort_head(&list, &current, "backbone", SortKey::Facet(Facet::Backbone)))
                    (sort_head(&list, &current, "arm", SortKey::Facet(Facet::Arm)))
                    (sort_head(&list, &current, "epoch", SortKey::Epoch))
                    (sort_head(&list, &current, "status", SortKey::Facet(Facet::Status)))
                    (sort_head(&list, &current, "correct", SortKey::Facet(Facet::Correct)))
                    th { "answer" }
                    th { "gold" }
                    (sort_head(&list, &current, "steps", SortKey::Steps))
                    (sort_head(&list, &current, "tokens", SortKey::Tokens))
                    (sort_head(&list, &current, "cost", SortKey::Cost))
                    (sort_head(&list, &current, "wall", SortKey::Wall))
                    (sort_head(&list, &current, "end reason", SortKey::Facet(Facet::End)))
                    th { "trajectory" }
                }
                @for t in &page.tasks {
                    tr {
                        td.clip {
                            (t.item_id)
                            @if let Some(l) = &t.level { br; span.muted { (l) } }
                            @if let Some(s) = &t.subject { br; span.muted { (s) } }
                            @if t.training { br; span.muted { "training phase" } }
                        }
                        td { (t.benchmark) @if !t.split.is_empty() { span.muted { " / " (t.split) } } }
                        td { (t.backbone) }
                        td { (t.arm) }
                        td.n { (t.epoch) }
                        td {
                            @match (&t.error_kind, &t.error_message) {
                                (kind, Some(m)) => span.err title=(m) { (t.status) @if let Some(k) = kind { " (" (k) ")" } },
                                (Some(k), None) => span.err { (t.status) " (" (k) ")" },
                                (None, None) => (t.status),
                            }
                        }
                        td { (correct_cell(t.correct)) }
                        td.clip title=[t.answer.as_deref()] {
                            @if let Some(e) = &t.extracted_answer { (clip(e, ANSWER_CHARS)) }
                            @else if let Some(a) = &t.answer { (clip(a, ANSWER_CHARS)) }
                            @else { "—" }
                        }
                        td.clip { (t.gold_answer.as_deref().map_or_else(|| "—".to_string(), |g| clip(g, ANSWER_CHARS))) }
                        td.n { (t.steps) }
                        td.n { (t.prompt_tokens + t.completion_tokens) }
                        td.n { (usd(t.cost_usd)) }
                        td.n { (secs(t.wall_ms)) }
                        td { (t.end_reason) }
                        td {
                            (trajectory_link(base, &t.key, t.has_trajectory, "view"))
                            br; span.muted { (t.key) }
                        }
                    }
                }
            }
            @if page.pages > 1 { (pager(page.page, page.pages, link)) }
        }
    }
}

fn sort_head(list: &str, q: &TaskQuery, label: &str, key: SortKey) -> Markup {
    let arrow = match (q.sort == key, q.desc) {
        (true, false) => " ▲",
        (true, true) => " ▼",
        _ => "",
    };
    html! {
        th { a href=(view_href(list, &q.sorted_by(key))) title={ "sort by " (label) } { (label) (arrow) } }
    }
}

fn filter_form(list: &str, q: &TaskQuery, page: &TaskPage) -> Markup {
    html! {
        form.filters method="get" action=(list) {
            @for counts in &page.facets {
                @if !counts.values.is_empty() {
                    label {
                        (counts.facet.label())
                        select name=(counts.facet.param()) {
                            option value="" { "any" }
                            @for v in &counts.values {
                                option value=(v.value) selected[v.selected] { (v.value) " (" (v.count) ")" }
                            }
                        }
                    }
                }
            }
            label { "search"
                input type="search" name="q" value=[q.q.as_deref()] placeholder="question, answer, thoughts, code…" size="28";
            }
            label { "sort"
                select name="sort" {
                    @for name in SortKey::names() {
                        option value=(name) selected[q.sort.param() == name] { (name) }
                    }
                }
            }
            label { "order"
                select name="dir" {
                    option value="asc" selected[!q.desc] { "ascending" }
                    option value="desc" selected[q.desc] { "descending" }
                }
            }
            label { "per page"
                select name="per" {
                    @for n in [20usize, 50, 100, 200, 500] {
                        option value=(n) selected[q.per == n] { (n) }
                    }
                    @if ![20usize, 50, 100, 200, 500].contains(&q.per) {
                        option value=(q.per) selected { (q.per) }
                    }
                }
            }
            button type="submit" { "apply" }
            a href=(list) { "clear" }
        }
    }
}

/// `/runs/{name}/tasks`: the run's task table.
pub fn page(run: &str, query: &TaskQuery, page: &TaskPage) -> Markup {
    let base = format!("/runs/{}", url_segment(run));
    let body = html! {
        nav.links {
            a href=(base) { "back to run " (run) }
            a href=(href(&format!("/api/runs/{}/tasks", url_segment(run)), &query.pairs())) { "this view as JSON" }
        }
        (super::task_table(query, page, &base))
    };
    layout(&format!("tasks of {run}"), body, false)
}
