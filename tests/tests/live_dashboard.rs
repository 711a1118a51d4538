//! A live sweep in a real browser: `herd run --dashboard` runs a sweep against the scripted
//! model (several steps per task, each model call slow enough to watch) on the local-process
//! sandbox, and headless Chromium follows it over Server-Sent Events without reloading: the
//! sweep page's progress and finished feed, then a running task's page growing step by
//! step until it says finished. Needs `chromium` and `chromedriver`
//! (scripts/setup-browser.sh); screenshots go under the browser artifacts directory.

use std::path::Path;
use std::time::Duration;

use herd_tests::browser::{Browser, RunDashboard};
use herd_tests::{FakeModel, write_sweep};

/// Tasks in the sweep; one worker with one slot runs them one after another.
const TASKS: usize = 3;
/// The model's reply per step: three cells, then the answer.
const STEPS: [&str; 4] = [
    "print('step one')",
    "print('step two')",
    "print('step three')",
    "submit_final_answer('7')",
];
/// Each model call's latency: a task takes about `STEPS.len()` times this.
const LATENCY: Duration = Duration::from_millis(1500);
const WAIT: Duration = Duration::from_secs(30);
/// Marks the loaded page: it survives as long as the page is not reloaded.
const MARK: &str = "window.__herdNoReload = 'same page'; return true;";
const MARKED: &str = "return window.__herdNoReload === 'same page';";

/// The first whole number in `text`.
fn number(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number in {text:?}"))
}

/// The `data-index` of each `div.step` on the page, in page order (steps count from 1).
fn step_indices(b: &Browser) -> Vec<u64> {
    let v = b.js(
        "return [...document.querySelectorAll('#steps div.step')].map(d => Number(d.dataset.index));",
    );
    serde_json::from_value(v).unwrap_or_default()
}

fn assert_same_page(b: &Browser, what: &str) {
    assert_eq!(
        b.js(MARKED),
        serde_json::Value::Bool(true),
        "the page was reloaded or left {what}"
    );
}

/// The sweep file: herd-mini's first `TASKS` items, the scripted model, the local sandbox,
/// room for every scripted step.
fn sweep(dir: &Path, model_url: &str) -> std::path::PathBuf {
    let path = write_sweep(dir, "live", model_url, TASKS, "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("max_steps = 3", "max_steps = 8");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn browser_live_sweep_page_and_running_task_update_without_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let model = FakeModel::script(vec![LATENCY], STEPS.iter().map(|s| s.to_string()).collect());
    let sweep = sweep(d, &model.url);
    let mut run = RunDashboard::start(d, &sweep, &d.join("runs/live"), 1);
    let b = Browser::start("browser_live_sweep_page_and_running_task_update_without_reload");

    // The sweep page, opened while the first task runs.
    b.goto(&run.sweep_page());
    b.wait_for("main[data-sweep]", WAIT);
    b.js(MARK);
    b.wait_text_contains("#live-status", "live", WAIT);
    let total = number(&b.text("[data-field=total]"));
    assert_eq!(total, TASKS, "the sweep's task count");
    let done_at_open = number(&b.text("[data-field=done]"));
    assert!(
        done_at_open < TASKS,
        "the sweep ended before the page opened (done {done_at_open}): too fast to watch"
    );
    let feed_at_open = b.count("#feed li");

    // (a) The page follows the sweep: a running task shows, its step count rises, then a
    // task finishes into the feed and the done count rises.
    b.wait_for("#running tbody tr[data-task]", WAIT);
    b.poll("a running task's step count to rise", WAIT, |b| {
        b.find_all("#running tbody tr[data-task] [data-cell=steps]")
            .iter()
            .filter_map(|c| b.block_on(c.text()).ok())
            .any(|t| t.trim().parse::<usize>().is_ok_and(|n| n >= 1))
            .then_some(())
    });
    b.screenshot("01-sweep-running");
    let done = b.poll("[data-field=done] to rise", WAIT, |b| {
        let done = number(&b.text("[data-field=done]"));
        (done > done_at_open && b.count("#feed li") > feed_at_open).then_some(done)
    });
    assert!(done <= TASKS);
    let progress = b.js("return document.getElementById('progress').value;");
    assert_eq!(
        progress.as_u64(),
        Some(done as u64),
        "the progress bar follows the done count"
    );
    // The summary fragment is fetched again (a couple of seconds after a result).
    b.poll("the summary to show the first results", WAIT, |b| {
        let summary = b.text("#summary");
        (!summary.contains("No summary yet") && summary.contains("scored:")).then_some(())
    });
    assert_same_page(&b, "while following the sweep");
    b.screenshot("02-sweep-progress");
    b.assert_no_js_errors("on the live sweep page");

    // (b) A running task's page, opened from the running table (before the last task
    // finishes): its steps arrive one by one, then it says finished.
    let key = b.poll("a task running after the first finished", WAIT, |b| {
        let rows = b.find_all("#running tbody tr[data-task]");
        let row = rows.first()?;
        b.block_on(row.attr("data-task")).ok().flatten()
    });
    b.click(&format!("#running tbody tr[data-task=\"{key}\"] a"));
    b.wait_path("the running task's page", WAIT, |p| {
        p.ends_with(&format!("/tasks/{key}"))
    });
    b.wait_for("#steps", WAIT);
    b.js(MARK);
    let state = b.text("#task-state");
    assert!(
        state.starts_with("running"),
        "task {key} from the running table is {state:?}"
    );
    let at_open = b.count("#steps div.step");
    assert!(
        at_open + 2 <= STEPS.len(),
        "task {key} had {at_open} steps when its page opened: too fast to watch"
    );
    let mut seen = vec![at_open];
    b.poll("steps to arrive without reload", WAIT, |b| {
        let n = b.count("#steps div.step");
        if seen.last() != Some(&n) {
            seen.push(n);
        }
        (n >= at_open + 2).then_some(())
    });
    assert_same_page(&b, "while its steps arrived");
    b.screenshot("03-task-running");
    let finished = b.wait_text_contains("#task-state", "finished", WAIT);
    assert!(finished.contains("scored"), "task {key} ended {finished:?}");
    assert_same_page(&b, "until the task finished");
    let indices = step_indices(&b);
    assert_eq!(
        indices,
        (1..=STEPS.len() as u64).collect::<Vec<_>>(),
        "each step once, in order (counts seen as they arrived: {seen:?})"
    );
    assert!(
        b.js("return !document.getElementById('finished-link').hidden;") == true,
        "the finished task's page offers its trajectory"
    );
    b.screenshot("04-task-finished");
    b.assert_no_js_errors("on the running task's page");

    // The finished trajectory, now rendered by the server.
    b.click("#finished-link a");
    b.poll("the finished task's trajectory", WAIT, |b| {
        (b.count("#task-state") == 0 && b.count("div.step") == STEPS.len()).then_some(())
    });

    // The sweep's end reaches the sweep page; the process keeps serving until SIGINT.
    b.goto(&run.sweep_page());
    b.js(MARK);
    b.poll("the sweep to end", Duration::from_secs(60), |b| {
        let status = b.text("#live-status");
        (number(&b.text("[data-field=done]")) == TASKS
            && (status.contains("ended") || status.contains("done")))
        .then_some(())
    });
    assert_eq!(
        b.count("#running tbody tr"),
        0,
        "nothing runs after the end"
    );
    // The summary is refreshed after the end: every task, not a partial run.
    let all = format!("scored: {TASKS}");
    b.poll("the summary to cover every task", WAIT, |b| {
        let summary = b.text("#summary");
        (summary.contains(&all) && !summary.contains("partial run")).then_some(())
    });
    assert_same_page(&b, "while the sweep ended");
    b.screenshot("05-sweep-ended");
    b.assert_no_js_errors("when the sweep ended");
    herd_tests::wait_until(
        "herd run to say its dashboard still serves",
        Duration::from_secs(30),
        || run.proc.log_text().contains("herd: dashboard still on"),
    );
    run.proc.signal("INT");
    assert_eq!(
        run.proc.wait_exit(Duration::from_secs(20)),
        Some(true),
        "herd run exits cleanly on SIGINT:\n{}",
        run.proc.log_text()
    );
}
