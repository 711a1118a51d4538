//! The web dashboard in a real browser: headless Chromium, driven over WebDriver by
//! `herd_tests::browser`, against a `herd dashboard` process serving fixture run
//! directories. Needs `chromium` and `chromedriver` (scripts/setup-browser.sh); each test
//! saves screenshots under the browser artifacts directory (and a screenshot and the page's
//! HTML when it fails).

use std::path::Path;
use std::time::Duration;

use herd_tests::browser::{Browser, Dashboard, fixture_record, trajectory_with, write_run};

const RUN: &str = "fixture-run";
/// Appears in exactly one task's trajectory (`t-online-2`).
const NEEDLE: &str = "zebracorn";
const WAIT: Duration = Duration::from_secs(10);

/// Data rows of the tasks table (its header row has no `<td>`).
const TASK_ROWS: &str = "table#tasks tr:has(> td)";

/// `runs/fixture-run`: items mini-arith-01..03 on arms `off` and `online` (6 tasks, one
/// failed), each with a trajectory; only `t-online-2`'s mentions [`NEEDLE`].
fn fixture(root: &Path) -> std::path::PathBuf {
    let runs = root.join("runs");
    // (task key, item, arm, status, correct)
    #[rustfmt::skip]
    let tasks: [(&str, &str, &str, &str, Option<bool>); 6] = [
        ("t-off-1", "mini-arith-01", "off", "scored", Some(true)),
        ("t-off-2", "mini-arith-02", "off", "scored", Some(false)),
        ("t-off-3", "mini-arith-03", "off", "failed", None),
        ("t-online-1", "mini-arith-01", "online", "scored", Some(true)),
        ("t-online-2", "mini-arith-02", "online", "scored", Some(true)),
        ("t-online-3", "mini-arith-03", "online", "scored", Some(false)),
    ];
    let records: Vec<_> = tasks
        .iter()
        .map(|&(key, item, arm, status, correct)| {
            fixture_record(RUN, key, item, arm, status, correct)
        })
        .collect();
    let trajectories: Vec<_> = records
        .iter()
        .map(|r| {
            let text = if r.task_key == "t-online-2" {
                NEEDLE
            } else {
                "an ordinary observation"
            };
            trajectory_with(&r.task_key, text)
        })
        .collect();
    write_run(&runs, RUN, &records, &trajectories);
    runs
}

/// The texts of the tasks table's data rows.
fn task_rows(b: &Browser) -> Vec<String> {
    b.find_all(TASK_ROWS)
        .iter()
        .map(|r| b.block_on(r.text()).unwrap_or_default())
        .collect()
}

/// Waits until the tasks table has `n` data rows; returns their texts.
fn wait_rows(b: &Browser, n: usize) -> Vec<String> {
    b.poll(&format!("{n} rows in table#tasks"), WAIT, |b| {
        let rows = task_rows(b);
        (rows.len() == n).then_some(rows)
    })
}

/// The first whole number in `text` (`#task-count` reads "3 of 6 tasks", or just "3").
fn first_number(text: &str) -> Option<usize> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
}

#[test]
fn browser_run_list_shows_a_run_and_opens_it() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = fixture(tmp.path());
    let dash = Dashboard::start(tmp.path(), &runs, None);
    let b = Browser::start("browser_run_list_shows_a_run_and_opens_it");

    b.goto(&dash.at("/"));
    let link = format!("a[href=\"/runs/{RUN}\"]");
    b.wait_text_contains(&link, RUN, WAIT);
    b.screenshot("01-run-list");

    b.click(&link);
    b.wait_path("the run page", WAIT, |p| p == format!("/runs/{RUN}"));
    b.wait_text_contains("h1", RUN, WAIT);
    // The run page leads on to its tasks.
    b.wait_for(&format!("a[href^=\"/runs/{RUN}/tasks\"]"), WAIT);
    b.screenshot("02-run-page");
}

#[test]
fn browser_login_refuses_a_wrong_token_and_lands_on_the_page_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = fixture(tmp.path());
    let token = "s3cret-browser-token";
    let dash = Dashboard::start(tmp.path(), &runs, Some(token));
    let b = Browser::start("browser_login_refuses_a_wrong_token_and_lands_on_the_page_asked_for");

    let asked = format!("/runs/{RUN}/tasks?arm=online");
    b.goto(&dash.at(&asked));
    b.wait_path("the login page", WAIT, |p| p.starts_with("/login"));
    b.wait_for("input[name=\"token\"]", WAIT);
    assert!(
        !b.source().contains("mini-arith-0"),
        "the login page must not show the run's tasks"
    );
    b.screenshot("01-login");

    b.set_field("token", "not-the-token");
    b.submit_form_of("token");
    let error = b.poll("an error on the login page", WAIT, |b| {
        let path = b.path_and_query();
        if !path.starts_with("/login") {
            panic!("a wrong token was accepted: the browser went on to {path}");
        }
        b.find_all(".err, .error, #error, [role=alert]")
            .iter()
            .filter_map(|e| b.block_on(e.text()).ok())
            .find(|t| !t.trim().is_empty())
    });
    b.wait_for("input[name=\"token\"]", WAIT);
    b.screenshot("02-wrong-token");
    assert!(
        !error.contains(token),
        "the error must not echo the real token: {error}"
    );

    b.set_field("token", token);
    b.submit_form_of("token");
    b.wait_path(&format!("to land on {asked}"), WAIT, |p| p == asked);
    b.wait_for("table#tasks", WAIT);
    b.screenshot("03-logged-in");

    // The session holds: another page opens without asking again.
    b.goto(&dash.at(&format!("/runs/{RUN}")));
    b.wait_path("the run page", WAIT, |p| p == format!("/runs/{RUN}"));
}

#[test]
fn browser_task_filters_and_search_narrow_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = fixture(tmp.path());
    let dash = Dashboard::start(tmp.path(), &runs, None);
    let b = Browser::start("browser_task_filters_and_search_narrow_the_table");

    b.goto(&dash.at(&format!("/runs/{RUN}/tasks")));
    let all = wait_rows(&b, 6);
    let count = b.text("#task-count");
    assert_eq!(first_number(&count), Some(6), "#task-count shows {count:?}");
    assert!(all.iter().any(|r| r.contains("off")), "rows: {all:?}");
    b.screenshot("01-all-tasks");

    // A filter: only the `online` arm.
    b.set_field("arm", "online");
    b.submit_form_of("arm");
    b.wait_path("arm=online in the URL", WAIT, |p| p.contains("arm=online"));
    let online = wait_rows(&b, 3);
    for r in &online {
        assert!(r.contains("online"), "a row of another arm: {r:?}");
    }
    let count = b.text("#task-count");
    assert_eq!(first_number(&count), Some(3), "#task-count shows {count:?}");
    b.screenshot("02-arm-online");

    // A search: the one task whose trajectory mentions the needle.
    b.type_and_enter("q", NEEDLE);
    b.wait_path("q in the URL", WAIT, |p| p.contains(&format!("q={NEEDLE}")));
    let found = wait_rows(&b, 1);
    assert!(
        found[0].contains("mini-arith-02") || found[0].contains("t-online-2"),
        "the search found {found:?}, not t-online-2"
    );
    let count = b.text("#task-count");
    assert_eq!(first_number(&count), Some(1), "#task-count shows {count:?}");
    b.screenshot("03-search");
}

/// `runs/arms-run`: items mini-arith-01..05 on arms `off` and `online`; 02 and 05 go
/// wrong → right, 03 right → wrong, 01 stays right and 04 stays wrong.
const ARMS_RUN: &str = "arms-run";

fn arms_fixture(root: &Path) -> std::path::PathBuf {
    let runs = root.join("runs");
    // (item, correct on off, correct on online)
    let items = [
        ("mini-arith-01", true, true),
        ("mini-arith-02", false, true),
        ("mini-arith-03", true, false),
        ("mini-arith-04", false, false),
        ("mini-arith-05", false, true),
    ];
    let mut records = Vec::new();
    for (i, &(item, off, online)) in items.iter().enumerate() {
        for (arm, correct) in [("off", off), ("online", online)] {
            let key = format!("t-{arm}-{}", i + 1);
            records.push(fixture_record(
                ARMS_RUN,
                &key,
                item,
                arm,
                "scored",
                Some(correct),
            ));
        }
    }
    let trajectories: Vec<_> = records
        .iter()
        .map(|r| trajectory_with(&r.task_key, "an ordinary observation"))
        .collect();
    write_run(&runs, ARMS_RUN, &records, &trajectories);
    runs
}

/// The rows of the flip table after the `<h3>` starting with `title`: (item, base link,
/// other link), links as their `href`s (`None` for a side with no link).
fn flip_rows(b: &Browser, title: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let script = format!(
        "const h = [...document.querySelectorAll('section.pair h3')]
             .find(h => h.textContent.startsWith({title:?}));
         if (!h) return null;
         let t = h.nextElementSibling;
         while (t && !(t.tagName === 'TABLE' || t.tagName === 'H3')) t = t.nextElementSibling;
         if (!t || t.tagName !== 'TABLE') return [];
         return [...t.querySelectorAll('tr')].filter(r => r.querySelector('td')).map(r => {{
             const c = r.querySelectorAll('td');
             const href = (td) => {{ const a = td.querySelector('a'); return a ? a.getAttribute('href') : null; }};
             return [c[1].textContent.trim(), href(c[c.length - 2]), href(c[c.length - 1])];
         }});"
    );
    let v = b.js(&script);
    assert!(!v.is_null(), "no `{title}` list on the comparison page");
    let mut rows: Vec<(String, Option<String>, Option<String>)> =
        serde_json::from_value(v).expect("flip rows");
    rows.sort();
    rows
}

#[test]
fn browser_compare_arms_lists_flipped_items_both_ways_with_both_trajectories() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = arms_fixture(tmp.path());
    let dash = Dashboard::start(tmp.path(), &runs, None);
    let b =
        Browser::start("browser_compare_arms_lists_flipped_items_both_ways_with_both_trajectories");

    b.goto(&dash.at(&format!("/runs/{ARMS_RUN}/compare?base=off&arms=online")));
    b.wait_for("section.pair table.flips", WAIT);
    b.wait_text_contains("section.pair h2", "off → online", WAIT);
    let run = format!("/runs/{ARMS_RUN}/tasks");
    let link = |key: &str| Some(format!("{run}/{key}"));

    let fixed = flip_rows(&b, "Wrong → right");
    assert_eq!(
        fixed,
        vec![
            ("mini-arith-02".into(), link("t-off-2"), link("t-online-2")),
            ("mini-arith-05".into(), link("t-off-5"), link("t-online-5")),
        ],
        "items wrong on `off`, right on `online`"
    );
    let broken = flip_rows(&b, "Right → wrong");
    assert_eq!(
        broken,
        vec![("mini-arith-03".into(), link("t-off-3"), link("t-online-3"))],
        "items right on `off`, wrong on `online`"
    );
    let text = b.text("section.pair");
    for unflipped in ["mini-arith-01", "mini-arith-04"] {
        assert!(
            !text.contains(unflipped),
            "{unflipped} did not flip, yet it is listed: {text}"
        );
    }
    b.screenshot("01-compare-arms");
    b.assert_no_js_errors("on the comparison page");

    // Both sides' links open their trajectories.
    for key in ["t-online-3", "t-off-3"] {
        b.goto(&dash.at(&format!("/runs/{ARMS_RUN}/compare?base=off&arms=online")));
        b.click(&format!("table.flips a[href=\"{run}/{key}\"]"));
        b.wait_path(&format!("the trajectory of {key}"), WAIT, |p| {
            p == format!("{run}/{key}")
        });
        b.wait_text_contains("body", &format!("Solve task {key}."), WAIT);
    }
    b.screenshot("02-flipped-trajectory");
}
