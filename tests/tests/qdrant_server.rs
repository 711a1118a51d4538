//! herd against a real Qdrant server: the same sweep on the embedded store and on the server
//! gives the same results and library; the server killed mid-sweep loses no acknowledged
//! action and the sweep completes; a wrong key or URL stops the coordinator at start.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use herd_testkit::QdrantServer;
use herd_tests::*;

/// A cell that looks for a tool, defines one and calls it; then a cell that submits.
const DEFINE: &str = "print(get_relevant_tools('add two numbers', 3))\n\
def add_two_numbers(a: int, b: int) -> int:\n    \"\"\"Add two whole numbers.\"\"\"\n    return a + b\n\
print(add_two_numbers(3, 4))";
const SUBMIT: &str = "submit_final_answer('888')";

/// An online sweep over herd-mini whose tasks all run the two cells above.
fn online_sweep(d: &Path, limit: usize, model_url: &str) -> std::path::PathBuf {
    let sweep = write_sweep(d, "online", model_url, limit, "");
    let text = std::fs::read_to_string(&sweep)
        .unwrap()
        .replace("accumulation = \"off\"", "accumulation = \"online\"");
    std::fs::write(&sweep, text).unwrap();
    sweep
}

/// A coordinator hosting the action store (on `qdrant` when given), with short leases.
fn coordinator(d: &Path, name: &str, qdrant: Option<&QdrantServer>) -> (Proc, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let state = d.join(format!("{name}-state.redb"));
    let data = d.join(format!("{name}-data"));
    let mut args = vec![
        "coordinator".to_string(),
        "--listen".into(),
        listen.clone(),
        "--state".into(),
        state.display().to_string(),
        "--data".into(),
        data.display().to_string(),
        "--lease-secs".into(),
        "10".into(),
        "--heartbeat-secs".into(),
        "1".into(),
    ];
    let mut env = vec![];
    if let Some(q) = qdrant {
        args.extend(["--qdrant-url".to_string(), q.url.clone()]);
        env.push(("HERD_QDRANT_API_KEY", q.api_key.as_str()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let proc = spawn_herd(d, name, &args, &env);
    (proc, format!("http://{listen}"))
}

fn worker(d: &Path, url: &str, id: &str) -> Proc {
    spawn_herd(
        d,
        id,
        &["worker", "--coordinator", url, "--slots", "1", "--id", id],
        &[],
    )
}

/// The verdicts and usage of each task, by task key.
type Verdicts = BTreeMap<String, (String, Option<bool>, Option<String>, u32, u64, u64)>;

fn verdicts(results: &[herd_core::ResultRecord]) -> Verdicts {
    results
        .iter()
        .map(|r| {
            (
                r.task_key.clone(),
                (
                    r.status.clone(),
                    r.correct,
                    r.answer.clone(),
                    r.llm_calls,
                    r.prompt_tokens,
                    r.completion_tokens,
                ),
            )
        })
        .collect()
}

/// Every task answered `888`: right exactly where the gold answer is 888.
fn assert_expected_accuracy(results: &[herd_core::ResultRecord]) {
    for r in results {
        assert_eq!(
            r.correct,
            Some(r.gold_answer.as_deref() == Some("888")),
            "task {} (gold {:?})",
            r.task_key,
            r.gold_answer
        );
        assert_eq!((r.prompt_tokens, r.completion_tokens), (200, 40), "{r:?}");
    }
}

/// The library in `store` (a directory or a Qdrant URL), through `herd actions`: each
/// namespace with its actions' (name, version, signature, docstring, source, imports).
fn library(d: &Path, store: &str, env: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    let (ok, out, err) = herd(&["actions", "list", store], env);
    assert!(ok, "herd actions list {store}: {err}");
    let mut libs = BTreeMap::new();
    for line in out.lines().filter(|l| !l.starts_with(' ') && !l.is_empty()) {
        let ns = line.rsplit_once(" (").map(|(n, _)| n).unwrap_or(line);
        let file = d.join(format!("export-{}.jsonl", libs.len()));
        let (ok, _, err) = herd(
            &["actions", "export", store, ns, file.to_str().unwrap()],
            env,
        );
        assert!(ok, "herd actions export {store} {ns}: {err}");
        let mut actions: Vec<String> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let a = &v["action"];
                serde_json::json!([
                    a["namespace"],
                    a["name"],
                    a["version"],
                    a["signature"],
                    a["docstring"],
                    a["source"],
                    a["imports"],
                    a["source_hash"],
                    a["embedder"],
                    v["vector"].as_array().map(Vec::len)
                ])
                .to_string()
            })
            .collect();
        actions.sort();
        libs.insert(ns.to_string(), actions);
    }
    libs
}

fn stop(p: &mut Proc) {
    p.signal("TERM");
    assert_eq!(
        p.wait_exit(Duration::from_secs(60)),
        Some(true),
        "{}",
        p.log_text()
    );
}

#[test]
fn a_sweep_on_the_qdrant_server_matches_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = FakeModel::script(
        vec![Duration::from_millis(100), Duration::from_millis(300)],
        vec![DEFINE.to_string(), SUBMIT.to_string()],
    );
    // One sweep file for both runs: the same sweep id, so the same namespaces.
    let sweep = online_sweep(d, 6, &model.url);
    let qdrant = QdrantServer::start();
    let key_env = [("HERD_QDRANT_API_KEY", qdrant.api_key.as_str())];

    let mut runs = Vec::new();
    for (name, server) in [("embedded", None), ("server", Some(&qdrant))] {
        let (mut coord, url) = coordinator(d, name, server);
        let id = submit(&url, &sweep, None);
        let _a = worker(d, &url, &format!("{name}-wa"));
        let _b = worker(d, &url, &format!("{name}-wb"));
        let st = wait_done(&url, &id, None, Duration::from_secs(180));
        let (results, _) = results_of(&st);
        assert_one_result_each(&results, 6);
        assert_expected_accuracy(&results);
        let created: u32 = results.iter().map(|r| r.actions_created).sum();
        assert_eq!(
            created, 1,
            "the shared function is stored once: {results:?}"
        );
        stop(&mut coord);
        let store = match server {
            Some(q) => q.url.clone(),
            None => d.join(format!("{name}-data/actions")).display().to_string(),
        };
        runs.push((verdicts(&results), library(d, &store, &key_env)));
    }
    let (embedded, server) = (&runs[0], &runs[1]);
    assert_eq!(embedded.0, server.0, "the same verdicts, answers and usage");
    assert_eq!(embedded.1.len(), 1, "one namespace: {:?}", embedded.1);
    assert_eq!(embedded.1, server.1, "the same library");
    assert!(
        embedded.1.values().next().unwrap()[0].contains("add_two_numbers"),
        "{:?}",
        embedded.1
    );

    // `herd actions search` and `import` work against the server too.
    let ns = server.1.keys().next().unwrap().clone();
    let (ok, out, err) = herd(
        &["actions", "search", &qdrant.url, &ns, "sum of two integers"],
        &key_env,
    );
    assert!(ok && out.contains("add_two_numbers"), "{out}{err}");
    let file = d.join("export-0.jsonl");
    let copy = format!("{ns}-copy");
    let (ok, _, err) = herd(
        &[
            "actions",
            "import",
            &qdrant.url,
            &copy,
            file.to_str().unwrap(),
        ],
        &key_env,
    );
    assert!(ok, "{err}");
    let (ok, out, _) = herd(&["actions", "list", &qdrant.url], &key_env);
    assert!(ok && out.contains(&format!("{copy} (1 actions)")), "{out}");
}

/// The text of every trajectory of a finished sweep.
fn trajectories_text(status: &serde_json::Value) -> String {
    let dir = Path::new(status["out_dir"].as_str().expect("out_dir")).join("trajectories");
    let mut text = String::new();
    for e in std::fs::read_dir(&dir).expect("trajectories") {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
    }
    text
}

#[test]
fn qdrant_killed_and_restarted_mid_sweep_loses_no_acknowledged_action() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Step 1 answers after a second: time to kill the server between a task's start and its
    // first cell.
    let model = FakeModel::script(
        vec![Duration::from_secs(1), Duration::from_millis(200)],
        vec![DEFINE.to_string(), SUBMIT.to_string()],
    );
    let sweep = online_sweep(d, 4, &model.url);
    let mut qdrant = QdrantServer::start();
    let (_coord, url) = coordinator(d, "coordinator", Some(&qdrant));
    let id = submit(&url, &sweep, None);
    let _w = worker(d, &url, "w1");
    // Task 1 ran both steps (its action is acknowledged); task 2 has asked for its first cell.
    wait_until(
        "task 2 to ask for its first step",
        Duration::from_secs(120),
        || model.requests.load(Ordering::SeqCst) >= 3,
    );
    qdrant.kill();
    // Longer than the coordinator's quick retries, shorter than the worker's patient ones.
    std::thread::sleep(Duration::from_secs(6));
    qdrant.restart();
    let st = wait_done(&url, &id, None, Duration::from_secs(180));
    let (results, attempts) = results_of(&st);
    assert_one_result_each(&results, 4);
    assert_expected_accuracy(&results);
    for r in &results {
        assert_eq!(r.attempts, 1, "no attempt was burned: {r:?}");
    }
    assert!(
        attempts.iter().all(|a| a.disposition == "recorded"),
        "{attempts:?}"
    );
    let text = trajectories_text(&st);
    assert!(
        text.contains("unreachable"),
        "the retrieval made while the server was down came back as a tool error"
    );
    let mut by_seq = results.clone();
    by_seq.sort_by_key(|r| r.finished_seq);
    assert_eq!(by_seq[0].actions_created, 1, "task 1 stored the action");
    for r in &by_seq[2..] {
        assert!(
            r.library_size >= 1 && r.actions_retrieved >= 1,
            "tasks after the restart see the action: {r:?}"
        );
    }
    let key_env = [("HERD_QDRANT_API_KEY", qdrant.api_key.as_str())];
    let libs = library(d, &qdrant.url, &key_env);
    let all: Vec<&String> = libs.values().flatten().collect();
    assert_eq!(all.len(), 1, "{libs:?}");
    assert!(all[0].contains("add_two_numbers"));
}

#[test]
fn a_wrong_key_or_an_unreachable_qdrant_stops_the_coordinator_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let qdrant = QdrantServer::start();
    let run = |name: &str, url: &str, key: &str| {
        let state = d.join(format!("{name}.redb"));
        let data = d.join(name);
        let listen = format!("127.0.0.1:{}", free_port());
        let mut p = spawn_herd(
            d,
            name,
            &[
                "coordinator",
                "--listen",
                &listen,
                "--state",
                state.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
                "--qdrant-url",
                url,
            ],
            &[("HERD_QDRANT_API_KEY", key)],
        );
        assert_eq!(
            p.wait_exit(Duration::from_secs(30)),
            Some(false),
            "{}",
            p.log_text()
        );
        p.log_text()
    };
    let log = run("wrong-key", &qdrant.url, "not-the-key");
    assert!(
        log.contains(&qdrant.url) && log.contains("refused the API key"),
        "{log}"
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    let log = run("dead-url", &dead, "k");
    assert!(log.contains(&dead) && log.contains("unreachable"), "{log}");
}
