//! Safe defaults and checkable scores, through the `herd` binary: no silent unisolated run
//! without a Docker engine, `herd score` on predictions and `--rescore` on a run, and
//! `herd run --resume --retry-failed` giving failed tasks a fresh attempt budget.

use std::path::Path;
use std::time::Duration;

use herd_tests::*;

const NO_ENGINE: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/herd-test-docker.sock");

#[test]
fn herd_run_without_a_docker_engine_stops_naming_the_fix_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = sweep_text(
        "no-engine",
        "limit = 1",
        &fake_backbone("http://127.0.0.1:1/v1"),
        &arm_text("base", "off"),
        "auto",
    );
    let sweep = dir.path().join("no-engine.toml");
    std::fs::write(&sweep, text).unwrap();
    let out = dir.path().join("out");
    let (ok, _, err) = herd(
        &[
            "run",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-progress",
        ],
        &[NO_ENGINE],
    );
    assert!(
        !ok,
        "herd run must not fall back to unisolated cells:\n{err}"
    );
    assert!(
        err.contains("no docker engine answers at `unix:///nonexistent/herd-test-docker.sock`"),
        "{err}"
    );
    assert!(err.contains("start Docker"), "{err}");
    assert!(err.contains("sandbox.kind = \"local\""), "{err}");
    assert!(!out.exists(), "nothing is created before the check");

    let (ok, _, err) = herd(
        &["worker", "--coordinator", "http://127.0.0.1:1"],
        &[NO_ENGINE],
    );
    assert!(!ok);
    assert!(err.contains("--without-docker"), "{err}");
    assert!(err.contains("no docker engine answers"), "{err}");
}

#[test]
fn herd_score_scores_predictions_and_names_every_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("preds.jsonl");
    std::fs::write(
        &preds,
        [
            // 37 × 24: the gold is 888.
            r#"{"id": "mini-arith-01", "answer": "888"}"#,
            r#"{"id": "mini-arith-02", "answer": "-1"}"#,
            r#"{"id": "mini-arith-01", "answer": "1"}"#,
            r#"{"id": "no-such-item", "answer": "1"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let (ok, out, err) = herd(
        &[
            "score",
            "herd-mini",
            "--predictions",
            preds.to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("scored 2 predictions: 1 correct, accuracy 50.0%"),
        "{out}"
    );
    assert!(
        out.contains("1 unknown ids · 1 duplicates · 0 bad lines"),
        "{out}"
    );
    assert!(out.contains("preds.jsonl:4: unknown id"), "{out}");
    let scored = std::fs::read_to_string(dir.path().join("preds.scored.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = scored
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "mini-arith-01");
    assert_eq!(lines[0]["correct"], true);
    assert_eq!(lines[0]["gold_answer"], "888");
    assert_eq!(lines[1]["correct"], false);
    for key in ["extracted_answer", "scorer", "scorer_rule"] {
        assert!(lines[0].get(key).is_some(), "missing `{key}` in {scored}");
    }

    // Never overwritten; a malformed line is an error naming its line.
    let (ok, _, err) = herd(
        &[
            "score",
            "herd-mini",
            "--predictions",
            preds.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok && err.contains("already exists"), "{err}");
    std::fs::write(
        &preds,
        "{\"id\": \"mini-arith-01\", \"answer\": \"888\"}\n{oops\n",
    )
    .unwrap();
    let out_file = dir.path().join("second.jsonl");
    let (ok, out, err) = herd(
        &[
            "score",
            "herd-mini",
            "--predictions",
            preds.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("preds.jsonl:2: error: not a prediction"),
        "{out}"
    );
    assert!(err.contains("1 lines of"), "{err}");
}

/// Forwards TCP connections from `port` to `target` (a model appearing at the address the
/// sweep names, after it was down).
fn forward(port: u16, target: &str) -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let target = target.to_string();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    rt.spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    rt
}

fn results(out: &Path) -> (Vec<herd_core::ResultRecord>, Vec<herd_core::AttemptRecord>) {
    herd_report::read_result_records(out).unwrap()
}

#[test]
fn retry_failed_gives_failed_tasks_a_fresh_budget_and_rescore_lists_changes() {
    let dir = tempfile::tempdir().unwrap();
    // The model is down for the first run: every task fails its one attempt.
    let port = free_port();
    let model_url = format!("http://127.0.0.1:{port}/v1");
    let mut text = sweep_text(
        "retry-failed",
        "limit = 2",
        &fake_backbone(&model_url),
        &arm_text("base", "off"),
        "local",
    );
    text = text.replace("max_attempts = 3", "max_attempts = 1");
    let sweep = dir.path().join("retry-failed.toml");
    std::fs::write(&sweep, &text).unwrap();
    let out = dir.path().join("out");
    let (ok, stdout, err) = herd_run(&sweep, &out, 1);
    assert!(ok, "{stdout}{err}");
    let (r, _) = results(&out);
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|r| r.status == "failed"), "{r:?}");

    // A plain resume leaves them failed.
    let resume = |extra: &[&str]| {
        let mut args = vec![
            "run",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--workers",
            "1",
            "--no-progress",
            "--resume",
        ];
        args.extend_from_slice(extra);
        herd(&args, &[])
    };
    let (ok, stdout, err) = resume(&[]);
    assert!(ok, "{stdout}{err}");
    assert!(results(&out).0.iter().all(|r| r.status == "failed"));

    // The model is back; `--retry-failed` runs both again.
    let model = FakeModel::start(Duration::from_millis(10), "888");
    let _fwd = forward(
        port,
        model
            .url
            .trim_start_matches("http://")
            .trim_end_matches("/v1"),
    );
    let (ok, stdout, err) = resume(&["--retry-failed"]);
    assert!(ok, "{stdout}{err}");
    let (r, attempts) = results(&out);
    assert_one_result_each(&r, 2);
    assert!(r.iter().all(|r| r.status == "scored"), "{r:?}");
    assert_eq!(
        r.iter().filter(|r| r.correct == Some(true)).count(),
        1,
        "only mini-arith-01's gold is 888"
    );
    for res in &r {
        let dispositions: Vec<&str> = attempts
            .iter()
            .filter(|a| a.task_key == res.task_key)
            .map(|a| a.disposition.as_str())
            .collect();
        assert_eq!(
            dispositions,
            ["recorded", "recorded"],
            "the failed attempt is kept"
        );
    }
    let (ok, _, err) = herd(
        &[
            "run",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--retry-failed",
        ],
        &[],
    );
    assert!(
        !ok && err.contains("--resume"),
        "--retry-failed needs --resume: {err}"
    );

    // Rescoring with today's scorers changes nothing here, and says so; the run is untouched.
    let (ok, stdout, err) = herd(&["score", out.to_str().unwrap(), "--rescore"], &[]);
    assert!(ok, "{stdout}{err}");
    assert!(
        stdout.contains("rescored 2 scored results: 0 changed"),
        "{stdout}"
    );
    assert!(out.join("rescored/results.parquet").is_file());
    assert_eq!(results(&out.join("rescored")).0.len(), 2);
}
