//! Cross-process tests: real `herd coordinator` and `herd worker` processes on loopback, a
//! scripted model server, the local-process sandbox. Workers and coordinators are killed,
//! stalled and restarted; every task must end with exactly one result.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use herd_tests::*;

fn coordinator_args<'a>(port: &'a str, state: &'a str, data: &'a str) -> Vec<&'a str> {
    vec![
        "coordinator",
        "--listen",
        port,
        "--state",
        state,
        "--data",
        data,
        "--lease-secs",
        "3",
        "--heartbeat-secs",
        "1",
        "--no-actions",
    ]
}

/// A coordinator on a free port with an embedded store in `d`; returns it, its address and URL.
fn start_coordinator(d: &Path, env: &[(&str, &str)]) -> (Proc, String, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let state = d.join("state.redb");
    let data = d.join("data");
    let args = coordinator_args(&listen, state.to_str().unwrap(), data.to_str().unwrap());
    let proc = spawn_herd(d, "coordinator", &args, env);
    let url = format!("http://{listen}");
    (proc, listen, url)
}

fn submit(url: &str, sweep: &Path, token: Option<&str>) -> String {
    let addr = url.trim_start_matches("http://").to_string();
    wait_until("the coordinator to listen", Duration::from_secs(30), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    let env: Vec<(&str, &str)> = token.map(|t| vec![("HERD_TOKEN", t)]).unwrap_or_default();
    let (ok, out, err) = herd(
        &["submit", sweep.to_str().unwrap(), "--coordinator", url],
        &env,
    );
    assert!(ok, "submit failed: {err}");
    out.trim().to_string()
}

/// Reads the finished sweep's results and attempts from its output directory.
fn results_of(
    status: &serde_json::Value,
) -> (Vec<herd_core::ResultRecord>, Vec<herd_core::AttemptRecord>) {
    let dir = status["out_dir"].as_str().expect("out_dir");
    let path = Path::new(dir).join("results.parquet");
    wait_until(
        "results.parquet to be written",
        Duration::from_secs(30),
        || path.exists(),
    );
    herd_report::read_result_records(Path::new(dir)).expect("read results")
}

fn assert_one_result_each(results: &[herd_core::ResultRecord], expected: usize) {
    let keys: HashSet<&str> = results.iter().map(|r| r.task_key.as_str()).collect();
    assert_eq!(results.len(), expected, "one row per task");
    assert_eq!(keys.len(), expected, "no task recorded twice");
    for r in results {
        assert_eq!(
            r.status, "scored",
            "task {} ended {}: {:?}",
            r.task_key, r.status, r.error_message
        );
    }
}

#[test]
fn worker_killed_mid_task_is_re_leased_and_finishes_on_another_worker() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = FakeModel::start(Duration::from_millis(2500), "7");
    let (_coord, _, url) = start_coordinator(d, &[]);
    let sweep = write_sweep(d, "killed-worker", &model.url, 4, "");
    let mut a = spawn_herd(
        d,
        "worker-a",
        &[
            "worker",
            "--coordinator",
            &url,
            "--slots",
            "2",
            "--id",
            "wa",
        ],
        &[],
    );
    let id = submit(&url, &sweep, None);
    // Worker A is mid-task once the model has been asked.
    wait_until(
        "worker A to call the model",
        Duration::from_secs(60),
        || model.requests.load(Ordering::SeqCst) >= 1,
    );
    a.kill();
    let _b = spawn_herd(
        d,
        "worker-b",
        &[
            "worker",
            "--coordinator",
            &url,
            "--slots",
            "2",
            "--id",
            "wb",
        ],
        &[],
    );
    let st = wait_done(&url, &id, None, Duration::from_secs(120));
    assert_eq!(st["total"], 4);
    let (results, attempts) = results_of(&st);
    assert_one_result_each(&results, 4);
    assert!(results.iter().all(|r| r.worker == "wb"), "A never reported");
    let expired: Vec<_> = attempts
        .iter()
        .filter(|a| a.disposition == "expired")
        .collect();
    assert!(!expired.is_empty(), "A's leases expired: {attempts:?}");
    assert!(expired.iter().all(|a| a.worker == "wa"));
    assert!(
        results.iter().any(|r| r.attempts >= 2),
        "a re-leased task counts its attempts"
    );
}

fn coordinator_restart(state: &str, d: &Path) {
    let model = FakeModel::start(Duration::from_millis(300), "7");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let data = d.join("data");
    let args = coordinator_args(&listen, state, data.to_str().unwrap());
    let mut coord = spawn_herd(d, "coordinator-1", &args, &[]);
    let sweep = write_sweep(d, "restart", &model.url, 8, "");
    let _w = spawn_herd(
        d,
        "worker",
        &[
            "worker",
            "--coordinator",
            &url,
            "--slots",
            "1",
            "--id",
            "w1",
        ],
        &[],
    );
    let id = submit(&url, &sweep, None);
    wait_until("two tasks to finish", Duration::from_secs(60), || {
        let (ok, out, _) = herd(&["status", &id, "--coordinator", &url, "--json"], &[]);
        ok && serde_json::from_str::<serde_json::Value>(&out)
            .is_ok_and(|v| v["done"].as_u64() >= Some(2))
    });
    coord.kill();
    std::thread::sleep(Duration::from_millis(800));
    let _coord2 = spawn_herd(d, "coordinator-2", &args, &[]);
    let st = wait_done(&url, &id, None, Duration::from_secs(120));
    let (results, _) = results_of(&st);
    assert_one_result_each(&results, 8);
}

#[test]
fn coordinator_killed_and_restarted_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.redb");
    coordinator_restart(state.to_str().unwrap(), dir.path());
}

#[test]
fn coordinator_killed_and_restarted_redis_store() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start();
    coordinator_restart(&redis.url, dir.path());
}

#[test]
fn wrong_or_missing_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_coord, listen, url) = start_coordinator(d, &[("HERD_TOKEN", "right-token")]);
    let model = FakeModel::start(Duration::from_millis(10), "1");
    let sweep = write_sweep(d, "auth", &model.url, 1, "");
    wait_until("coordinator to listen", Duration::from_secs(30), || {
        std::net::TcpStream::connect(&listen).is_ok()
    });
    let (ok, _, err) = herd(
        &["submit", sweep.to_str().unwrap(), "--coordinator", &url],
        &[("HERD_TOKEN", "wrong-token")],
    );
    assert!(!ok);
    assert!(err.contains("wrong herd token"), "{err}");
    let (ok, _, err) = herd(
        &["submit", sweep.to_str().unwrap(), "--coordinator", &url],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("missing herd token"), "{err}");
    let mut w = spawn_herd(
        d,
        "worker",
        &["worker", "--coordinator", &url, "--id", "bad"],
        &[("HERD_TOKEN", "wrong-token")],
    );
    assert_eq!(
        w.wait_exit(Duration::from_secs(30)),
        Some(false),
        "a worker with a wrong token exits with an error"
    );
    assert!(
        w.log_text().contains("wrong herd token"),
        "{}",
        w.log_text()
    );
    let id = submit(&url, &sweep, Some("right-token"));
    assert!(id.starts_with("auth-"));
}

#[test]
fn stalled_worker_loses_its_lease_and_its_late_report_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = FakeModel::start(Duration::from_millis(4000), "7");
    let (_coord, _, url) = start_coordinator(d, &[]);
    let sweep = write_sweep(d, "stalled", &model.url, 1, "");
    let a = spawn_herd(
        d,
        "worker-a",
        &[
            "worker",
            "--coordinator",
            &url,
            "--slots",
            "1",
            "--id",
            "wa",
        ],
        &[],
    );
    let id = submit(&url, &sweep, None);
    wait_until(
        "worker A to call the model",
        Duration::from_secs(60),
        || model.requests.load(Ordering::SeqCst) >= 1,
    );
    // A stops heartbeating (and everything else) while its model call is in flight.
    a.signal("STOP");
    let _b = spawn_herd(
        d,
        "worker-b",
        &[
            "worker",
            "--coordinator",
            &url,
            "--slots",
            "1",
            "--id",
            "wb",
        ],
        &[],
    );
    let st = wait_done(&url, &id, None, Duration::from_secs(120));
    // A wakes up and reports its (now stale) attempt.
    a.signal("CONT");
    let (results, _) = results_of(&st);
    assert_one_result_each(&results, 1);
    assert_eq!(results[0].worker, "wb");
    wait_until(
        "A's late report to be kept as an attempt",
        Duration::from_secs(30),
        || a.log_text().contains("kept as an attempt"),
    );
    drop(a);
}

#[test]
fn herd_run_end_to_end_then_resume_redoes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = FakeModel::start(Duration::from_millis(50), "7");
    let sweep = write_sweep(d, "local-run", &model.url, 5, "");
    let out = d.join("out");
    let (ok, stdout, stderr) = herd(
        &[
            "run",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--workers",
            "2",
            "--no-progress",
        ],
        &[],
    );
    assert!(ok, "herd run failed: {stderr}");
    assert!(stdout.contains("5/5"), "summary shows all tasks: {stdout}");
    let (results, _) = herd_report::read_result_records(&out).expect("results");
    assert_one_result_each(&results, 5);
    assert!(out.join("report.md").exists() && out.join("report.html").exists());
    for r in &results {
        assert!(
            out.join("trajectories")
                .join(format!("{}.json.gz", r.task_key))
                .exists()
        );
        assert!(!r.dataset_fingerprint.is_empty());
        assert_eq!(r.sandbox_kind, "local");
    }
    let calls = model.requests.load(Ordering::SeqCst);
    // Without --resume the finished run is protected.
    let (ok, _, stderr) = herd(
        &[
            "run",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-progress",
        ],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("--resume"), "{stderr}");
    let (ok, _, stderr) = herd(
        &[
            "run",
            sweep.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--resume",
            "--no-progress",
        ],
        &[],
    );
    assert!(ok, "resume failed: {stderr}");
    assert_eq!(
        model.requests.load(Ordering::SeqCst),
        calls,
        "resume made no new model call"
    );
}

#[test]
fn herd_run_reports_config_errors_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "name = \"x\"\nepochs = 0\n[[benchmarks]]\nkind = \"herd-mini\"\n",
    )
    .unwrap();
    let (ok, _, err) = herd(&["run", p.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(
        err.contains("bad.toml") && err.contains("`epochs`"),
        "{err}"
    );
    std::fs::write(&p, "name = \"x\"\ncolour = 1\n").unwrap();
    let (ok, _, err) = herd(&["run", p.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(err.contains("colour"), "unknown key is named: {err}");
}
