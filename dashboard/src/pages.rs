//! Server-rendered HTML for the index, a run and one trajectory. Everything taken from
//! results, trajectories or the coordinator goes through [`esc`]: model output is untrusted.

use std::collections::HashSet;
use std::fmt::Write as _;

use herd_core::ResultRecord;
use herd_core::trajectory::Trajectory;

use crate::html::{accuracy, esc, eta, page, url_segment, usd};
use crate::runs::{RunSummary, body_of};
use crate::sweeps::SweepsView;

/// `/`: the runs under the root and, with a coordinator, the live sweeps.
pub fn index(root: &str, runs: &Result<Vec<RunSummary>, String>, sweeps: &SweepsView) -> String {
    let mut b = String::new();
    b.push_str("<section id=\"runs\">\n<h2>Runs</h2>\n");
    let _ = writeln!(b, "<p class=\"muted\">under <code>{}</code></p>", esc(root));
    match runs {
        Err(e) => {
            let _ = writeln!(b, "<p class=\"err\">{}</p>", esc(e));
        }
        Ok(runs) if runs.is_empty() => b.push_str(
            "<p>No runs yet (a run is a directory holding <code>results.parquet</code>).</p>\n",
        ),
        Ok(runs) => {
            b.push_str("<table><tr><th>run</th><th>tasks</th><th>accuracy</th><th>not scored</th><th>cost</th><th>last modified (UTC)</th></tr>\n");
            for r in runs {
                let href = format!("/runs/{}", url_segment(&r.name));
                let (acc, unscored) = match &r.error {
                    Some(e) => (
                        format!("<span class=\"err\">{}</span>", esc(e)),
                        String::new(),
                    ),
                    None => (esc(&accuracy(r.correct, r.scored)), r.unscored.to_string()),
                };
                let unisolated = if r.unisolated > 0 {
                    format!(
                        " <span class=\"partial\" title=\"{} tasks ran without container isolation\">unisolated</span>",
                        r.unisolated
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    b,
                    "<tr><td><a href=\"{}\">{}</a>{unisolated}</td><td class=\"n\">{}</td><td class=\"n\">{acc}</td><td class=\"n\">{unscored}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    esc(&href),
                    esc(&r.name),
                    r.tasks,
                    esc(&usd(r.cost_usd)),
                    esc(&r.last_modified),
                );
            }
            b.push_str("</table>\n");
        }
    }
    b.push_str("</section>\n");
    if sweeps.coordinator.is_some() {
        sweeps_section(sweeps, &mut b);
    }
    page("dashboard", &b, sweeps.coordinator.is_some())
}

fn progress_bar(done: u64, total: u64) -> String {
    let pct = if total == 0 {
        0.0
    } else {
        100.0 * done as f64 / total as f64
    };
    format!("<span class=\"bar\"><span style=\"width:{pct:.1}%\"></span></span> {done}/{total}")
}

fn sweeps_section(view: &SweepsView, b: &mut String) {
    b.push_str("<section id=\"sweeps\">\n<h2>Live sweeps</h2>\n");
    if let Some(url) = &view.coordinator {
        let _ = writeln!(
            b,
            "<p class=\"muted\">coordinator <code>{}</code>, refreshed every 2 s</p>",
            esc(url)
        );
    }
    if let Some(e) = &view.error {
        let _ = writeln!(b, "<p class=\"err\">{}</p>", esc(e));
    } else if view.sweeps.is_empty() {
        b.push_str("<p>The coordinator has no sweeps.</p>\n");
    } else {
        b.push_str("<table><tr><th>sweep</th><th>state</th><th>progress</th><th>running</th><th>queued</th><th>failed</th><th>accuracy</th><th>cost</th><th>ETA</th></tr>\n");
        for s in &view.sweeps {
            let state = if s.phase.is_empty() {
                s.state.clone()
            } else {
                format!("{} ({})", s.state, s.phase)
            };
            let _ = writeln!(
                b,
                "<tr><td><strong>{}</strong><br><span class=\"muted\">{}</span></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&s.name),
                esc(&s.sweep_id),
                esc(&state),
                progress_bar(s.done, s.total),
                s.running,
                s.queued,
                s.failed,
                esc(&accuracy(s.correct, s.scored)),
                esc(&usd(s.cost_usd)),
                esc(&eta(s.eta_secs)),
            );
            for g in &s.groups {
                let _ = writeln!(
                    b,
                    "<tr class=\"muted\"><td>&nbsp;&nbsp;{} · {} · {}</td><td></td><td>{}</td><td class=\"n\">{}</td><td></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td></td></tr>",
                    esc(&g.benchmark),
                    esc(&g.backbone),
                    esc(&g.arm),
                    progress_bar(g.done, g.total),
                    g.running,
                    g.failed,
                    esc(&accuracy(g.correct, g.scored)),
                    esc(&usd(g.cost_usd)),
                );
            }
        }
        b.push_str("</table>\n");
    }
    b.push_str("</section>\n");
}

fn correct_cell(c: Option<bool>) -> &'static str {
    match c {
        Some(true) => "<span class=\"ok\">yes</span>",
        Some(false) => "<span class=\"err\">no</span>",
        None => "—",
    }
}

/// `/runs/<name>`: the report (or why there is none) and the table of tasks.
pub fn run(
    name: &str,
    records: &[ResultRecord],
    with_trajectory: &HashSet<String>,
    report: Result<&str, String>,
) -> String {
    let run_href = format!("/runs/{}", url_segment(name));
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p><a href=\"#tasks\">tasks ({})</a> · <a href=\"{}/report\">report as a standalone page</a></p>",
        records.len(),
        esc(&run_href)
    );
    b.push_str("<section id=\"report\">\n");
    match report {
        Ok(html) => b.push_str(body_of(html)),
        Err(e) => {
            let _ = writeln!(b, "<p class=\"err\">report unavailable: {}</p>", esc(&e));
        }
    }
    b.push_str("</section>\n<section id=\"tasks\">\n<h2>Tasks</h2>\n");
    b.push_str("<table><tr><th>item</th><th>benchmark</th><th>backbone</th><th>arm</th><th>epoch</th><th>status</th><th>correct</th><th>steps</th><th>cost</th><th>trajectory</th></tr>\n");
    for r in records {
        let trajectory = if with_trajectory.contains(&r.task_key) {
            let href = format!("{run_href}/tasks/{}", url_segment(&r.task_key));
            format!("<a href=\"{}\">view</a>", esc(&href))
        } else {
            "<span class=\"muted\">none</span>".to_string()
        };
        let status = match &r.error_message {
            Some(m) => format!("<span title=\"{}\">{}</span>", esc(m), esc(&r.status)),
            None => esc(&r.status),
        };
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{status}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{trajectory}</td></tr>",
            esc(&r.item_id),
            esc(&r.benchmark),
            esc(&r.backbone),
            esc(&r.arm),
            r.epoch,
            correct_cell(r.correct),
            r.steps,
            esc(&usd(r.cost_usd)),
        );
    }
    b.push_str("</table>\n</section>\n");
    page(&format!("run {name}"), &b, false)
}

fn pre(text: &str) -> String {
    format!("<pre>{}</pre>", esc(text))
}

fn details(summary: &str, inner_html: &str) -> String {
    format!(
        "<details><summary>{}</summary>{inner_html}</details>\n",
        esc(summary)
    )
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "—".to_string()
    } else {
        items.iter().map(|s| esc(s)).collect::<Vec<_>>().join(", ")
    }
}

fn record_summary(r: &ResultRecord, b: &mut String) {
    let opt = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_else(|| "—".to_string());
    b.push_str("<dl>\n");
    let rows = [
        ("item", esc(&r.item_id)),
        ("benchmark", esc(&format!("{} / {}", r.benchmark, r.split))),
        (
            "backbone · arm",
            esc(&format!("{} · {}", r.backbone, r.arm)),
        ),
        ("status", esc(&r.status)),
        ("correct", correct_cell(r.correct).to_string()),
        ("answer", opt(&r.answer)),
        ("extracted answer", opt(&r.extracted_answer)),
        ("gold answer", opt(&r.gold_answer)),
        ("end reason", esc(&r.end_reason)),
        (
            "steps · LLM calls",
            format!("{} · {}", r.steps, r.llm_calls),
        ),
        (
            "tokens (prompt / completion)",
            format!("{} / {}", r.prompt_tokens, r.completion_tokens),
        ),
        ("cost", esc(&usd(r.cost_usd))),
        ("wall time", format!("{:.1} s", r.wall_ms as f64 / 1000.0)),
        ("error", opt(&r.error_message)),
    ];
    for (k, v) in rows {
        let _ = writeln!(b, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    }
    b.push_str("</dl>\n");
}

fn trajectory_body(t: &Trajectory, b: &mut String) {
    let _ = writeln!(
        b,
        "<p>attempt {} · ended: <strong>{}</strong> · {} steps · {} LLM calls</p>",
        t.attempt,
        esc(&t.end_reason),
        t.steps.len(),
        t.llm_calls.len()
    );
    let _ = writeln!(
        b,
        "<p>actions in the prompt or retrieved: {}</p>",
        list(&t.retrieved)
    );
    if !t.notes.is_empty() {
        let _ = writeln!(b, "<p>notes: {}</p>", list(&t.notes));
    }
    b.push_str(&details("system prompt", &pre(&t.system_prompt)));
    b.push_str(&details("task prompt", &pre(&t.task_prompt)));
    b.push_str("<h2>Steps</h2>\n");
    for s in &t.steps {
        b.push_str("<div class=\"step\">\n");
        let flags = match (&s.parse_error, s.cell_error) {
            (Some(_), _) => " <span class=\"err\">(unparseable reply)</span>",
            (None, true) => " <span class=\"err\">(cell raised)</span>",
            _ => "",
        };
        let _ = writeln!(
            b,
            "<h3>Step {}{flags} <span class=\"muted\">{} ms</span></h3>",
            s.index, s.exec_ms
        );
        let _ = writeln!(b, "<h4>Thought</h4>{}", pre(&s.thought));
        if let Some(e) = &s.parse_error {
            let _ = writeln!(b, "<p class=\"err\">parse error: {}</p>", esc(e));
        }
        let _ = writeln!(b, "<h4>Code</h4>{}", pre(&s.code));
        let _ = writeln!(b, "<h4>Observation</h4>{}", pre(&s.observation));
        if !s.defined.is_empty() || !s.called.is_empty() {
            let _ = writeln!(
                b,
                "<p>defined: {} · called: {}</p>",
                list(&s.defined),
                list(&s.called)
            );
        }
        if !s.host_calls.is_empty() {
            let mut t = String::from(
                "<table><tr><th>call</th><th>args</th><th>result</th><th>ms</th></tr>\n",
            );
            for h in &s.host_calls {
                let result = match &h.result {
                    Ok(v) => esc(&v.to_string()),
                    Err(e) => format!("<span class=\"err\">{}</span>", esc(e)),
                };
                let _ = writeln!(
                    t,
                    "<tr><td>{}</td><td>{}</td><td>{result}</td><td class=\"n\">{}</td></tr>",
                    esc(&h.name),
                    esc(&h.args.to_string()),
                    h.ms
                );
            }
            t.push_str("</table>\n");
            b.push_str(&details(&format!("{} host calls", s.host_calls.len()), &t));
        }
        b.push_str("</div>\n");
    }
    b.push_str("<h2>LLM calls</h2>\n");
    b.push_str("<table><tr><th>#</th><th>purpose</th><th>step</th><th>prompt tokens</th><th>completion tokens</th><th>cost</th><th>cached</th><th>latency</th><th>retries</th><th>exchange</th></tr>\n");
    for (i, c) in t.llm_calls.iter().enumerate() {
        let purpose = serde_json::to_value(c.purpose)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut exchange = String::new();
        for m in &c.messages {
            let _ = write!(exchange, "<h4>{}</h4>{}", esc(&m.role), pre(&m.content));
        }
        match (&c.reply, &c.error) {
            (_, Some(e)) => {
                let _ = write!(exchange, "<h4 class=\"err\">error</h4>{}", pre(e));
            }
            (Some(r), None) => {
                let _ = write!(exchange, "<h4>reply</h4>{}", pre(r));
            }
            (None, None) => {}
        }
        let _ = writeln!(
            b,
            "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{} ms</td><td class=\"n\">{}</td><td>{}</td></tr>",
            i + 1,
            esc(&purpose),
            c.step,
            c.prompt_tokens,
            c.completion_tokens,
            esc(&usd(c.cost_usd)),
            if c.cached { "yes" } else { "no" },
            c.latency_ms,
            c.retries,
            details(&format!("{} messages", c.messages.len()), &exchange),
        );
    }
    b.push_str("</table>\n");
}

/// `/runs/<name>/tasks/<key>`: the task's result row and its trajectory. A trajectory that
/// does not match today's schema is shown as (escaped) JSON rather than refused.
pub fn trajectory(
    run: &str,
    key: &str,
    record: Option<&ResultRecord>,
    json: &serde_json::Value,
) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p><a href=\"/runs/{}\">back to run {}</a></p>",
        esc(&url_segment(run)),
        esc(run)
    );
    if let Some(r) = record {
        if r.sandbox_kind == "local" {
            b.push_str(
                "<p class=\"partial\"><strong>UNISOLATED</strong>: this task ran in the local-process \
                 sandbox; its code ran on the host without container isolation.</p>\n",
            );
        }
        record_summary(r, &mut b);
    }
    match serde_json::from_value::<Trajectory>(json.clone()) {
        Ok(t) => trajectory_body(&t, &mut b),
        Err(e) => {
            let _ = writeln!(
                b,
                "<p class=\"err\">trajectory does not match the expected schema ({}); raw JSON:</p>",
                esc(&e.to_string())
            );
            b.push_str(&pre(&serde_json::to_string_pretty(json).unwrap_or_default()));
        }
    }
    page(&format!("task {key}"), &b, false)
}
