//! A train-then-test arm is reported on its test split: `off`, `online` and `train-then-test`
//! arms over the same four test items, the third also trained on three other items, with a
//! scripted model whose answers, tokens and price fix every number in advance.

use std::path::Path;
use std::time::Duration;

use herd_tests::*;

/// Every task: a cell that defines an action, then the answer `888` (right only for
/// mini-arith-01, "37 × 24"). Two calls of 100 + 20 tokens at $1000 / $5000 per million:
/// $0.2 + $0.2 = $0.40 per task.
fn sweep(d: &Path, model_url: &str) -> std::path::PathBuf {
    let backbone = format!(
        "{}\n[backbones.price]\nprompt_per_mtok = 1000.0\ncompletion_per_mtok = 5000.0\n",
        fake_backbone(model_url)
    );
    let arms = [
        arm_text("off", "off"),
        arm_text("online", "online"),
        arm_text("ttt", "train-then-test"),
    ]
    .concat();
    let text = sweep_text(
        "ttt-report",
        "ids = [\"mini-arith-01\", \"mini-arith-02\", \"mini-arith-03\", \"mini-arith-04\"]\n\n\
         [benchmarks.train]\nids = [\"mini-arith-05\", \"mini-arith-06\", \"mini-arith-07\"]",
        &backbone,
        &arms,
        "local",
    );
    let p = d.join("ttt.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const DEFINE: &str = "def add_two_numbers(a: int, b: int) -> int:\n    \"\"\"Add two whole numbers.\"\"\"\n    return a + b\n\
print(add_two_numbers(3, 4))";

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn find<'a>(rows: &'a serde_json::Value, arm: &str) -> &'a serde_json::Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["arm"] == arm)
        .unwrap_or_else(|| panic!("no row for arm {arm}: {rows}"))
}

#[test]
fn a_train_then_test_arm_is_reported_on_its_test_split_with_training_apart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = FakeModel::script(
        vec![Duration::from_millis(20)],
        vec![DEFINE.to_string(), "submit_final_answer('888')".to_string()],
    );
    let sweep = sweep(d, &model.url);
    let out = d.join("out");
    let (ok, stdout, stderr) = herd_run(&sweep, &out, 2);
    assert!(ok, "herd run failed: {stderr}");

    // 4 test tasks × 3 arms + 3 training tasks, one result each.
    let (results, _) = herd_report::read_result_records(&out).expect("results");
    assert_one_result_each(&results, 15);
    assert_eq!(results.iter().filter(|r| r.is_training_phase()).count(), 3);

    // The terminal summary: every arm 4/4 with 1 correct; the training phase in its own rows.
    let start = stdout
        .match_indices("sweep ")
        .map(|(i, _)| i)
        .find(|&i| {
            (i == 0 || stdout.as_bytes()[i - 1] == b'\n') && stdout[i..].contains("tasks done")
        })
        .unwrap_or_else(|| panic!("no summary in: {stdout}"));
    let summary = &stdout[start..];
    let (main, training) = summary
        .split_once("training phases")
        .unwrap_or_else(|| panic!("training shown apart: {summary}"));
    for arm in ["off", "online", "ttt"] {
        let line = main
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(arm))
            .unwrap_or_else(|| panic!("no summary line for {arm}: {summary}"));
        assert!(
            line.contains(" 4/4 ") && line.contains("25.0%"),
            "{arm} counts its test split only: {line}"
        );
    }
    assert!(
        main.lines().next().unwrap().contains("accuracy 25.0%"),
        "the headline accuracy counts scored splits: {summary}"
    );
    let tline = training
        .lines()
        .find(|l| l.contains("ttt"))
        .unwrap_or_else(|| panic!("a training row for ttt: {training}"));
    assert!(tline.contains(" 3/3 ") && tline.contains("0.0%"), "{tline}");

    // The report (JSON carries every number the Markdown and HTML show).
    let (ok, json, err) = herd(&["report", out.to_str().unwrap(), "--format", "json"], &[]);
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    for arm in ["off", "online", "ttt"] {
        let a = find(&r["accuracy"], arm);
        assert_eq!(
            (
                a["tasks"].as_u64(),
                a["scored"].as_u64(),
                a["correct"].as_u64()
            ),
            (Some(4), Some(4), Some(1)),
            "{arm}: {a}"
        );
        let c = find(&r["cost"], arm);
        assert_eq!(c["tasks"], 4, "{c}");
        assert!(close(c["cost_usd"].as_f64().unwrap(), 1.6), "{c}");
        let reuse = find(&r["reuse"], arm);
        assert_eq!(reuse["tasks"], 4, "{reuse}");
    }
    let ttt_cost = find(&r["cost"], "ttt");
    assert!(close(ttt_cost["training_cost_usd"].as_f64().unwrap(), 1.2));
    assert!(close(
        ttt_cost["cost_with_training_usd"].as_f64().unwrap(),
        2.8
    ));
    assert!(close(
        find(&r["cost"], "online")["cost_with_training_usd"]
            .as_f64()
            .unwrap(),
        1.6
    ));
    // Training apart: 3 tasks, none right (their gold answers are not 888), one action
    // created, and the frozen library the test split saw.
    let training = r["training"].as_array().unwrap();
    assert_eq!(training.len(), 1, "{training:?}");
    let t = &training[0];
    assert_eq!(t["accuracy"]["arm"], "ttt");
    assert_eq!(
        (
            t["accuracy"]["tasks"].as_u64(),
            t["accuracy"]["correct"].as_u64()
        ),
        (Some(3), Some(0))
    );
    assert!(close(t["cost"]["cost_usd"].as_f64().unwrap(), 1.2));
    assert_eq!(t["actions_created"], 1);
    assert_eq!(t["frozen_library"], 1);
    // The header says what each arm was scored on.
    let scope = find(&r["header"]["scopes"], "ttt");
    assert_eq!(scope["scored_splits"], serde_json::json!(["test"]));
    assert_eq!(
        (
            scope["test_tasks"].as_u64(),
            scope["training_tasks"].as_u64()
        ),
        (Some(4), Some(3))
    );
    assert_eq!(scope["frozen_library"], 1);
    // Paired comparisons pair the 4 test items only.
    for p in r["paired"].as_array().unwrap() {
        assert_eq!(p["n"], 4, "{p}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("Training phases") && md.contains("scored on the test split"),
        "{md}"
    );

    // `--compare B --out DIR` writes its file into DIR; runs pair test items only.
    let cmp = d.join("cmp");
    let (ok, stdout, err) = herd(
        &[
            "report",
            out.to_str().unwrap(),
            "--compare",
            out.to_str().unwrap(),
            "--format",
            "json",
            "--out",
            cmp.to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert!(stdout.contains("comparison.json"), "{stdout}");
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cmp.join("comparison.json")).unwrap())
            .unwrap();
    let rows = c["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for row in rows {
        assert_eq!(row["matched"], 4, "{row}");
    }
    assert_eq!(
        (c["only_in_a"].as_u64(), c["only_in_b"].as_u64()),
        (Some(0), Some(0))
    );
}
