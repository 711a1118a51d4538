//! `/runs/{name}/tasks/{key}`: one task's result row and its trajectory — prompts, each
//! step's thought, code, observation and host calls, and every LLM call with its exchange.
//! A trajectory that does not match today's schema is shown as JSON rather than refused.

use herd_core::ResultRecord;
use herd_core::trajectory::{LlmCall, Step, Trajectory};
use maud::{Markup, html};

use crate::format::{url_segment, usd};

use super::{correct_cell, layout};

fn pre(text: &str) -> Markup {
    html! { pre { (text) } }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_string()
    } else {
        items.join(", ")
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("—")
}

pub(crate) fn record_summary(r: &ResultRecord) -> Markup {
    html! {
        dl {
            dt { "item" } dd { (r.item_id) }
            dt { "benchmark" } dd { (r.benchmark) " / " (r.split) }
            dt { "backbone · arm" } dd { (r.backbone) " · " (r.arm) }
            dt { "epoch" } dd { (r.epoch) }
            @if let Some(l) = &r.level { dt { "level" } dd { (l) } }
            @if let Some(s) = &r.subject { dt { "subject" } dd { (s) } }
            dt { "status" } dd { (r.status) }
            dt { "correct" } dd { (correct_cell(r.correct)) }
            dt { "answer" } dd { (opt(&r.answer)) }
            dt { "extracted answer" } dd { (opt(&r.extracted_answer)) }
            dt { "gold answer" } dd { (opt(&r.gold_answer)) }
            dt { "scorer" } dd { (r.scorer) @if !r.scorer_rule.is_empty() { " (" (r.scorer_rule) ")" } }
            dt { "end reason" } dd { (r.end_reason) }
            dt { "steps · LLM calls" } dd { (r.steps) " · " (r.llm_calls) }
            dt { "tokens (prompt / completion)" } dd { (r.prompt_tokens) " / " (r.completion_tokens) }
            dt { "cost" } dd { (usd(r.cost_usd)) }
            dt { "wall time" } dd { (format!("{:.1} s", r.wall_ms as f64 / 1000.0)) }
            dt { "attempts" } dd { (r.attempts) }
            dt { "error" } dd {
                @if let Some(k) = &r.error_kind { strong { (k) } ": " }
                (opt(&r.error_message))
            }
        }
    }
}

pub(crate) fn step(s: &Step) -> Markup {
    html! {
        div.step data-index=(s.index) {
            h3 {
                "Step " (s.index)
                @if s.parse_error.is_some() { " " span.err { "(unparseable reply)" } }
                @else if s.cell_error { " " span.err { "(cell raised)" } }
                " " span.muted { (s.exec_ms) " ms" }
            }
            h4 { "Thought" } (pre(&s.thought))
            @if let Some(e) = &s.parse_error { p.err { "parse error: " (e) } }
            h4 { "Code" } (pre(&s.code))
            h4 { "Observation" } (pre(&s.observation))
            @if !s.defined.is_empty() || !s.called.is_empty() {
                p { "defined: " (list(&s.defined)) " · called: " (list(&s.called)) }
            }
            @if !s.host_calls.is_empty() {
                details {
                    summary { (s.host_calls.len()) " host calls" }
                    table {
                        tr { th { "call" } th { "args" } th { "result" } th.n { "ms" } }
                        @for h in &s.host_calls {
                            tr {
                                td { (h.name) }
                                td { (h.args.to_string()) }
                                td {
                                    @match &h.result {
                                        Ok(v) => (v.to_string()),
                                        Err(e) => span.err { (e) },
                                    }
                                }
                                td.n { (h.ms) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn llm_call(i: usize, c: &LlmCall) -> Markup {
    let purpose = serde_json::to_value(c.purpose)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    html! {
        tr {
            td.n { (i + 1) } td { (purpose) } td.n { (c.step) }
            td.n { (c.prompt_tokens) } td.n { (c.completion_tokens) } td.n { (usd(c.cost_usd)) }
            td { @if c.cached { "yes" } @else { "no" } }
            td.n { (c.latency_ms) " ms" } td.n { (c.retries) }
            td {
                details {
                    summary { (c.messages.len()) " messages" }
                    @for m in &c.messages { h4 { (m.role) } (pre(&m.content)) }
                    @match (&c.reply, &c.error) {
                        (_, Some(e)) => { h4.err { "error" } (pre(e)) }
                        (Some(r), None) => { h4 { "reply" } (pre(r)) }
                        (None, None) => {}
                    }
                }
            }
        }
    }
}

pub(crate) fn trajectory_body(t: &Trajectory) -> Markup {
    html! {
        p {
            "attempt " (t.attempt) " · ended: " strong { (t.end_reason) }
            " · " (t.steps.len()) " steps · " (t.llm_calls.len()) " LLM calls"
        }
        p { "actions in the prompt or retrieved: " (list(&t.retrieved)) }
        @if !t.notes.is_empty() { p { "notes: " (list(&t.notes)) } }
        details { summary { "system prompt" } (pre(&t.system_prompt)) }
        details open { summary { "task prompt" } (pre(&t.task_prompt)) }
        h2 { "Steps" }
        @for s in &t.steps { (step(s)) }
        h2 { "LLM calls" }
        table {
            tr {
                th.n { "#" } th { "purpose" } th.n { "step" } th.n { "prompt tokens" }
                th.n { "completion tokens" } th.n { "cost" } th { "cached" } th.n { "latency" }
                th.n { "retries" } th { "exchange" }
            }
            @for (i, c) in t.llm_calls.iter().enumerate() { (llm_call(i, c)) }
        }
    }
}

/// The page of task `key` of run `run`: its result row (when found) and trajectory.
pub fn page(
    run: &str,
    key: &str,
    record: Option<&ResultRecord>,
    json: &serde_json::Value,
) -> Markup {
    let run_url = format!("/runs/{}", url_segment(run));
    let body = html! {
        nav.links {
            a href=(run_url) { "back to run " (run) }
            a href={ (run_url) "/tasks" } { "all tasks" }
            @if let Some(r) = record {
                a href=(crate::format::href(&format!("{run_url}/tasks"), &[("q", r.item_id.as_str())])) { "search for this item" }
            }
        }
        @if let Some(r) = record {
            @if r.sandbox_kind == "local" {
                p.partial {
                    strong { "UNISOLATED" } ": this task ran in the local-process sandbox; its code \
                    ran on the host without container isolation."
                }
            }
            (record_summary(r))
        }
        @match serde_json::from_value::<Trajectory>(json.clone()) {
            Ok(t) => (trajectory_body(&t)),
            Err(e) => {
                p.err { "trajectory does not match the expected schema (" (e.to_string()) "); raw JSON:" }
                (pre(&serde_json::to_string_pretty(json).unwrap_or_default()))
            }
        }
    };
    layout(&format!("task {key}"), body, false)
}
