//! The README's main job as a user runs it: `examples/quickstart.toml` on the offline
//! Qwen2.5-Coder 1.5B, one Docker sandbox per task, accumulation off vs online. Real counts
//! from a real run: the online arm stores the functions its tasks write, later tasks get
//! them back and at least one calls one; the off arm stores nothing; the closing summary and
//! report.md say what the results say.

use std::path::{Path, PathBuf};

use herd_tests::*;

fn model_file() -> PathBuf {
    let dir = std::env::var_os("HERD_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/herd/models")
        });
    dir.join("qwen2.5-coder-1.5b-instruct-q4.gguf")
}

#[test]
fn the_quickstart_online_arm_stores_and_reuses_actions_and_the_summary_matches_the_results() {
    let model = model_file();
    assert!(
        model.is_file(),
        "the quickstart's model is missing at {}: run scripts/fetch-models.sh qwen2.5-coder-1.5b",
        model.display()
    );
    let sweep = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (ok, stdout, stderr) = herd(
        &[
            "run",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--workers",
            "1",
            "--no-progress",
        ],
        &[("NO_COLOR", "1")],
    );
    assert!(ok, "the quickstart failed:\n{stdout}\n{stderr}");

    let (results, _) = herd_report::read_result_records(&out).unwrap();
    assert_eq!(results.len(), 8, "2 items × 2 epochs × 2 arms");
    let arm = |name: &'static str| results.iter().filter(move |r| r.arm == name);
    assert_eq!(arm("off").count(), 4);
    assert_eq!(
        arm("off").map(|r| r.actions_created).sum::<u32>(),
        0,
        "the off arm stores nothing"
    );
    assert_eq!(arm("off").map(|r| r.actions_retrieved).sum::<u32>(), 0);
    assert_eq!(arm("off").map(|r| r.reused_calls).sum::<u32>(), 0);
    let created: u32 = arm("online").map(|r| r.actions_created).sum();
    let retrieved: u32 = arm("online").map(|r| r.actions_retrieved).sum();
    let reused: u32 = arm("online").map(|r| r.reused_calls).sum();
    assert!(
        created >= 1,
        "the online arm stored no action: the quickstart no longer shows accumulation\n{stdout}"
    );
    assert!(
        retrieved >= 1,
        "no online task got a stored action back\n{stdout}"
    );
    assert!(
        reused >= 1,
        "no online task called a stored action: the quickstart no longer shows reuse\n{stdout}"
    );
    let reusing = arm("online").filter(|r| r.reused_calls > 0).count();
    // The first online task finds an empty library.
    let first = arm("online").min_by_key(|r| r.finished_seq).unwrap();
    assert_eq!(first.actions_retrieved, 0, "{first:?}");

    // The closing summary says the same, under the report's names.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("actions · ") && l.contains(" · online: "))
        .unwrap_or_else(|| panic!("no actions line for the online arm:\n{stdout}"));
    assert!(
        line.contains(&format!("online: {created} created")),
        "{line}"
    );
    let calls = if reused == 1 { "call" } else { "calls" };
    assert!(
        line.contains(&format!(
            "{reused} {calls} to stored actions in {reusing} of 4 tasks"
        )),
        "{line}"
    );
    assert!(
        !stdout
            .lines()
            .any(|l| l.starts_with("actions · ") && l.contains(" · off: ")),
        "the off arm gets no actions line:\n{stdout}"
    );
    let scored = results.iter().filter(|r| r.status == "scored").count();
    let correct = results.iter().filter(|r| r.correct == Some(true)).count();
    assert!(
        stdout.contains(&format!("{scored} scored ({correct} correct)")),
        "closing line disagrees with the results ({scored} scored):\n{stdout}"
    );

    // And report.md's reuse table.
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let row = report
        .lines()
        .find(|l| l.starts_with("| qwen2.5-coder-1.5b | online | 4 |"))
        .unwrap_or_else(|| panic!("no reuse row for the online arm:\n{report}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // | backbone | arm | tasks | final library size | actions created | actions retrieved |
    // generated calls | user calls | generated share | tasks calling generated |
    // calls to stored actions | tasks reusing a stored action | coverage |
    assert_eq!(cells[5], created.to_string(), "{row}");
    assert_eq!(cells[6], retrieved.to_string(), "{row}");
    assert_eq!(cells[11], reused.to_string(), "{row}");
    assert_eq!(cells[12], reusing.to_string(), "{row}");
}
