//! Cross-process tests: real `herd coordinator` and `herd worker` processes on loopback, a
//! scripted model server, the local-process sandbox (Docker where containers are the point).
//! Workers and coordinators are killed, stalled and restarted; every task must end with
//! exactly one result, and no container may outlive its task.

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

/// A coordinator on a free port with an embedded store in `d`, without an action store;
/// returns it, its address and URL.
fn start_coordinator(d: &Path, env: &[(&str, &str)]) -> (Proc, String, String) {
    start_coordinator_with(d, env, false)
}

/// Like [`start_coordinator`], hosting the action store when `actions` is set.
fn start_coordinator_with(d: &Path, env: &[(&str, &str)], actions: bool) -> (Proc, String, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let state = d.join("state.redb");
    let data = d.join("data");
    let mut args = coordinator_args(&listen, state.to_str().unwrap(), data.to_str().unwrap());
    if actions {
        args.retain(|a| *a != "--no-actions");
    }
    let proc = spawn_herd(d, "coordinator", &args, env);
    let url = format!("http://{listen}");
    (proc, listen, url)
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
    let (ok, stdout, stderr) = herd_run(&sweep, &out, 2);
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

/// Ids of the containers (running or not) carrying the Docker label `label=value`.
fn containers(label: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={label}")])
        .output()
        .expect("docker must be installed for the sandbox lifecycle tests");
    assert!(
        out.status.success(),
        "docker ps failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A sweep like [`write_sweep`]'s but running its tasks in Docker with `pool_size` warm
/// containers per worker.
fn docker_sweep(
    d: &Path,
    name: &str,
    model_url: &str,
    limit: usize,
    pool_size: u32,
) -> std::path::PathBuf {
    let p = write_sweep(d, name, model_url, limit, "");
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "[sandbox]\nkind = \"local\"\npool_size = 0",
        &format!("[sandbox]\nkind = \"docker\"\npool_size = {pool_size}"),
    );
    assert!(text.contains("kind = \"docker\""), "sweep template changed");
    std::fs::write(&p, text).unwrap();
    p
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), free_port())
}

#[test]
fn a_cancelled_sweep_leaves_no_container() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The model never answers in time: both tasks sit in their containers until cancelled.
    let model = FakeModel::start(Duration::from_secs(120), "7");
    let (_coord, _, url) = start_coordinator(d, &[]);
    let sweep = docker_sweep(d, "cancelled", &model.url, 2, 0);
    let wid = unique("wc");
    let mut w = spawn_herd(
        d,
        "worker",
        &[
            "worker",
            "--coordinator",
            &url,
            "--slots",
            "2",
            "--id",
            &wid,
        ],
        &[],
    );
    let id = submit(&url, &sweep, None);
    let sweep_label = format!("herd.sweep={id}");
    wait_until(
        "both tasks to ask the model",
        Duration::from_secs(90),
        || model.requests.load(Ordering::SeqCst) >= 2,
    );
    assert_eq!(
        containers(&sweep_label).len(),
        2,
        "one container per running task; worker log:\n{}",
        w.log_text()
    );
    let (ok, _, err) = herd(&["cancel", &id, "--coordinator", &url], &[]);
    assert!(ok, "cancel failed: {err}");
    wait_until(
        "the cancelled tasks' containers to be removed",
        Duration::from_secs(30),
        || containers(&sweep_label).is_empty(),
    );
    // A cancelled task is handed back, not finished: the sweep ends cancelled, nothing runs.
    let mut last = serde_json::Value::Null;
    wait_until(
        "the sweep to settle as cancelled",
        Duration::from_secs(30),
        || {
            let (ok, out, _) = herd(&["status", &id, "--coordinator", &url, "--json"], &[]);
            if let (true, Ok(v)) = (ok, serde_json::from_str::<serde_json::Value>(&out)) {
                last = v;
            }
            last["state"] == "cancelled" && last["running"] == 0
        },
    );
    assert_eq!(last["total"], 2);
    assert_eq!(last["done"], 0, "no task was recorded as a result: {last}");
    // The worker is still up and idle; a graceful stop leaves nothing either.
    w.signal("TERM");
    assert_eq!(
        w.wait_exit(Duration::from_secs(60)),
        Some(true),
        "{}",
        w.log_text()
    );
    assert!(containers(&format!("herd.worker={wid}")).is_empty());
}

#[test]
fn a_killed_worker_removes_its_containers_when_it_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = FakeModel::start(Duration::from_secs(4), "7");
    let (_coord, _, url) = start_coordinator(d, &[]);
    let sweep = docker_sweep(d, "restarted", &model.url, 2, 1);
    let wid = unique("wk");
    let worker_label = format!("herd.worker={wid}");
    let args = [
        "worker",
        "--coordinator",
        &url,
        "--slots",
        "1",
        "--id",
        &wid,
    ];
    let mut first = spawn_herd(d, "worker-1", &args, &[]);
    let id = submit(&url, &sweep, None);
    wait_until("a task to ask the model", Duration::from_secs(90), || {
        model.requests.load(Ordering::SeqCst) >= 1
    });
    // SIGKILL: nothing runs on the way out, so the task's container and the warm one stay.
    first.kill();
    let orphans = containers(&worker_label);
    assert!(!orphans.is_empty(), "the crash left containers behind");
    let mut second = spawn_herd(d, "worker-2", &args, &[]);
    wait_until(
        "the restarted worker to remove what the crash left",
        Duration::from_secs(60),
        || {
            let now = containers(&worker_label);
            orphans.iter().all(|o| !now.contains(o))
        },
    );
    let st = wait_done(&url, &id, None, Duration::from_secs(120));
    let (results, _) = results_of(&st);
    assert_one_result_each(&results, 2);
    second.signal("TERM");
    assert_eq!(
        second.wait_exit(Duration::from_secs(60)),
        Some(true),
        "{}",
        second.log_text()
    );
    assert!(
        containers(&worker_label).is_empty(),
        "a graceful stop removes the warm pool too"
    );
}

#[test]
fn online_actions_are_shared_across_worker_processes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Step 1 looks for tools, defines an action and uses it; step 2 submits (after a pause,
    // so the test can stop the first worker while its task is still running).
    let step1 = "print(get_relevant_tools('add two numbers', 3))\n\
def add_two_numbers(a: int, b: int) -> int:\n    \"\"\"Add two whole numbers.\"\"\"\n    return a + b\n\
print(add_two_numbers(3, 4))";
    let model = FakeModel::script(
        vec![Duration::ZERO, Duration::from_secs(3)],
        vec![step1.to_string(), "submit_final_answer('7')".to_string()],
    );
    let (_coord, _, url) = start_coordinator_with(d, &[], true);
    let sweep = write_sweep(d, "online", &model.url, 2, "");
    let text = std::fs::read_to_string(&sweep)
        .unwrap()
        .replace("accumulation = \"off\"", "accumulation = \"online\"");
    std::fs::write(&sweep, text).unwrap();
    let args = |id: &'static str| {
        ["worker", "--coordinator", &url, "--slots", "1", "--id", id].map(str::to_string)
    };
    let a_args = args("wa");
    let a_args: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let mut a = spawn_herd(d, "worker-a", &a_args, &[]);
    let id = submit(&url, &sweep, None);
    // Task 1's second request means its first cell ran and its action was stored. Stop A
    // there: it finishes task 1 and takes no more, so task 2 starts on B afterwards.
    wait_until(
        "task 1 to reach its second step",
        Duration::from_secs(120),
        || model.requests.load(Ordering::SeqCst) >= 2,
    );
    a.signal("TERM");
    assert_eq!(
        a.wait_exit(Duration::from_secs(60)),
        Some(true),
        "{}",
        a.log_text()
    );
    let b_args = args("wb");
    let b_args: Vec<&str> = b_args.iter().map(String::as_str).collect();
    let _b = spawn_herd(d, "worker-b", &b_args, &[]);
    let st = wait_done(&url, &id, None, Duration::from_secs(120));
    let (results, _) = results_of(&st);
    assert_one_result_each(&results, 2);
    let on = |w: &str| {
        results
            .iter()
            .find(|r| r.worker == w)
            .unwrap_or_else(|| panic!("no task on {w}: {results:?}"))
    };
    let (first, second) = (on("wa"), on("wb"));
    assert_eq!(
        (
            first.actions_created,
            first.actions_retrieved,
            first.library_size
        ),
        (1, 0, 0)
    );
    assert!(
        second.library_size >= 1 && second.actions_retrieved >= 1,
        "B's task saw A's action: {second:?}"
    );
    assert_eq!(
        second.actions_created, 0,
        "the same function is stored once"
    );
}
