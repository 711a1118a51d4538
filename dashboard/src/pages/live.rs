//! Pages of a live sweep: its progress, running tasks, just-finished feed and summary
//! (kept current by `assets/live.js` over Server-Sent Events), its task table, and a
//! task's page, which grows step by step while the task runs.

use std::path::Path;

use herd_core::ResultRecord;
use maud::{Markup, html};

use super::layout;
use crate::format::{accuracy, eta, url_segment, usd};
use crate::live::{Derived, Link, RunningTask, SweepState};
use crate::tasks::{TaskPage, TaskQuery};

fn base(id: &str) -> String {
    format!("/sweeps/{}", url_segment(id))
}

fn script() -> Markup {
    html! { script type="module" src="/assets/live.js" {} }
}

fn link_text(link: &Link) -> String {
    match link {
        Link::Connecting => "connecting…".into(),
        Link::Live => "live".into(),
        Link::Ended => "sweep ended".into(),
        Link::Retrying(why) => format!("reconnecting to the coordinator… ({why})"),
    }
}

/// The summary section's content: the report over the results so far.
pub fn summary(derived: &Derived) -> Markup {
    html! {
        @match &derived.report {
            Ok(r) => (super::summary_section(r)),
            Err(e) => p.muted { "No summary yet: " (e) "." },
        }
    }
}

/// `/sweeps/{id}`.
pub fn sweep_page(id: &str, st: &SweepState, derived: &Derived, runs_root: &Path) -> Markup {
    let b = base(id);
    let s = st.status.clone().unwrap_or_default();
    let name = if s.name.is_empty() {
        id
    } else {
        s.name.as_str()
    };
    // When the sweep's output directory is one of the dashboard's runs, link it.
    let run_name = Path::new(&s.out_dir)
        .parent()
        .zip(Path::new(&s.out_dir).file_name())
        .filter(|(parent, _)| parent.canonicalize().ok() == runs_root.canonicalize().ok())
        .map(|(_, n)| n.to_string_lossy().into_owned());
    let mut running: Vec<&RunningTask> = st.running.values().collect();
    running.sort_by(|a, b| {
        a.started_unix_ms
            .cmp(&b.started_unix_ms)
            .then(a.task_key.cmp(&b.task_key))
    });
    let body = html! {
        main data-sweep=(id) data-last-event=(st.last_event_id()) {
            p {
                strong { (name) } " · " span.muted { (id) } " · state "
                strong data-field="state" { (if s.state.is_empty() { "unknown" } else { s.state.as_str() }) }
                @if !s.phase.is_empty() { " (" (s.phase) ")" }
                " · " span #live-status { (link_text(&st.link)) }
            }
            p {
                progress #progress value=(s.done) max=(s.total.max(1)) {}
                " " span data-field="done" { (s.done) } "/" span data-field="total" { (s.total) } " done · "
                span data-field="running" { (s.running) } " running · "
                span data-field="queued" { (s.queued) } " queued · "
                span data-field="failed" { (s.failed) } " not scored · accuracy "
                span #accuracy { (accuracy(s.correct, s.scored)) } " · cost "
                span data-field="cost_usd" { (usd(s.cost_usd)) } " · ETA "
                span data-field="eta_secs" { (eta(s.eta_secs)) }
            }
            nav.links {
                a href={ (b) "/tasks" } { "task table (" (st.records.len()) " results)" }
                a href={ "/api" (b) } { "as JSON" }
                @if let Some(run) = &run_name {
                    a href={ "/runs/" (url_segment(run)) } { "run directory " (run) }
                }
            }
            h2 { "Running" }
            table #running {
                thead { tr { th { "task" } th { "worker" } th.n { "steps" } th.n { "tokens" } } }
                tbody {
                    @for t in &running {
                        tr data-task=(t.task_key) {
                            td { a href={ (b) "/tasks/" (url_segment(&t.task_key)) } { (t.task_key) } }
                            td { (t.worker) }
                            td.n data-cell="steps" { (t.steps.len()) }
                            td.n data-cell="tokens" { (t.prompt_tokens + t.completion_tokens) }
                        }
                    }
                }
            }
            h2 { "Just finished" }
            ol #feed {
                @for key in &st.recent {
                    @if let Some(r) = st.record(key) {
                        li data-task=(key) {
                            a href={ (b) "/tasks/" (url_segment(key)) } { (key) }
                            " · " (r.arm) " · " (r.status)
                            @match r.correct { Some(true) => " ✓", Some(false) => " ✗", None => "" }
                            " · " (usd(r.cost_usd))
                        }
                    }
                }
            }
            h2 { "Summary so far" }
            section #summary { (summary(derived)) }
        }
        (script())
    };
    layout(&format!("sweep {name}"), body, false)
}

/// `/sweeps/{id}/tasks`: the live task table.
pub fn tasks_page(id: &str, query: &TaskQuery, page: &TaskPage) -> Markup {
    let b = base(id);
    let body = html! {
        nav.links { a href=(b) { "back to sweep " (id) } }
        p.muted { "Results recorded so far; reload for newer ones." }
        (super::task_table(query, page, &b))
    };
    layout(&format!("tasks of sweep {id}"), body, false)
}

/// A running task: its question and steps so far; new steps arrive over the event stream.
pub fn running_task(id: &str, t: &RunningTask, last_event: u64) -> Markup {
    let b = base(id);
    let body = html! {
        main data-sweep=(id) data-task=(t.task_key) data-last-event=(last_event) {
            nav.links { a href=(b) { "back to sweep " (id) } }
            p {
                "task " strong { (t.task_key) } " · attempt " (t.attempt) " on " (t.worker) " · "
                span #task-state { "running" } " · tokens " span #tokens { (t.prompt_tokens + t.completion_tokens) }
                " · " span #live-status { "connecting…" }
            }
            p #finished-link hidden { a href={ (b) "/tasks/" (url_segment(&t.task_key)) } { "open the finished trajectory" } }
            h2 { "Question" }
            pre { (t.task_prompt) }
            h2 { "Steps" }
            div #steps {
                @for s in &t.steps { (super::trajectory::step(s)) }
            }
        }
        (script())
    };
    layout(&format!("task {} (running)", t.task_key), body, false)
}

/// A task known to the sweep but neither running nor finished yet (queued): the page
/// waits for it to start.
pub fn waiting_task(id: &str, key: &str, last_event: u64) -> Markup {
    let b = base(id);
    let body = html! {
        main data-sweep=(id) data-task=(key) data-last-event=(last_event) {
            nav.links { a href=(b) { "back to sweep " (id) } }
            p { "task " strong { (key) } " · " span #task-state { "not started (queued, or unknown to this sweep)" }
                " · tokens " span #tokens { "0" } " · " span #live-status { "connecting…" } }
            p #finished-link hidden { a href={ (b) "/tasks/" (url_segment(key)) } { "open the finished trajectory" } }
            div #steps {}
        }
        (script())
    };
    layout(&format!("task {key}"), body, false)
}

/// A finished task: its result and, when this process can read the sweep's trajectory
/// file, its whole trajectory.
pub fn finished_task(id: &str, r: &ResultRecord, trajectory: Option<&serde_json::Value>) -> Markup {
    let b = base(id);
    let body = html! {
        nav.links {
            a href=(b) { "back to sweep " (id) }
            a href={ (b) "/tasks" } { "all tasks" }
        }
        (super::trajectory::record_summary(r))
        @match trajectory.map(|j| serde_json::from_value::<herd_core::trajectory::Trajectory>(j.clone())) {
            Some(Ok(t)) => (super::trajectory::trajectory_body(&t)),
            Some(Err(e)) => p.err { "unreadable trajectory: " (e.to_string()) },
            None => p.muted { "The trajectory file is on the coordinator's host, not readable from this dashboard." },
        }
    };
    layout(&format!("task {}", r.task_key), body, false)
}
