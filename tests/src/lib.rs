//! Helpers for herd's cross-process tests: locating the `herd` binary, starting coordinator
//! and worker processes on loopback, a scripted OpenAI-compatible model server, a Redis
//! server, and polling a sweep until it ends. Test doubles live here, never in the product.
//! [`browser`] drives headless Chromium against the web dashboard.

pub mod browser;

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The `herd` binary built beside this test executable (`target/<profile>/herd`).
pub fn herd_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/herd
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("herd");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "herd"])
            .status()
            .expect("cargo build -p herd");
        assert!(status.success(), "failed to build the herd binary");
    }
    bin
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process killed when dropped; its output goes to a log file.
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub log: PathBuf,
}

impl Proc {
    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal (e.g. `libc::SIGSTOP`) by number through `kill(1)`.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for exit up to `timeout`; returns the exit success.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<bool> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s.success());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `herd ARGS…` with extra environment, logging to `dir/<name>.log`.
pub fn spawn_herd(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    let mut cmd = Command::new(herd_bin());
    // Relative paths (a worker's default work dir) land in the test's directory.
    cmd.args(args)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env_remove("HERD_TOKEN")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn herd");
    Proc {
        child,
        name: name.into(),
        log,
    }
}

/// Runs `herd ARGS…` to completion; returns (success, stdout, stderr).
pub fn herd(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(herd_bin());
    cmd.args(args).env_remove("HERD_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run herd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `herd status --json` until `done == total` or the timeout; returns the last status.
pub fn wait_done(
    url: &str,
    sweep: &str,
    token: Option<&str>,
    timeout: Duration,
) -> serde_json::Value {
    let end = Instant::now() + timeout;
    let env: Vec<(&str, &str)> = token.map(|t| vec![("HERD_TOKEN", t)]).unwrap_or_default();
    let mut last = serde_json::Value::Null;
    while Instant::now() < end {
        let (ok, out, _) = herd(&["status", sweep, "--coordinator", url, "--json"], &env);
        if ok && let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) {
            let done = v["done"].as_u64().unwrap_or(0);
            let total = v["total"].as_u64().unwrap_or(u64::MAX);
            last = v;
            if done == total {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("sweep {sweep} did not finish in {timeout:?}; last status: {last}");
}

/// Waits until `f` returns true, or panics with `what`.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for: {what}");
}

/// A scripted OpenAI-compatible chat server. Step `i` of a task (counted by the assistant
/// turns already in the request) is answered with `steps[i]` (the last one repeats) after
/// `latency[i]` (likewise). Counts requests.
pub struct FakeModel {
    pub url: String,
    pub requests: Arc<AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

impl FakeModel {
    /// Every task submits `answer` at its first step, after `latency`.
    pub fn start(latency: Duration, answer: &str) -> FakeModel {
        FakeModel::script(
            vec![latency],
            vec![format!("submit_final_answer({answer:?})")],
        )
    }

    /// Replies with the code cells `steps`, one per step, each after its `latency`.
    pub fn script(latency: Vec<Duration>, steps: Vec<String>) -> FakeModel {
        assert!(!latency.is_empty() && !steps.is_empty());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let requests = Arc::new(AtomicU64::new(0));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let reqs = requests.clone();
        let script = Arc::new((latency, steps));
        rt.spawn(async move {
            use axum::routing::post;
            let app = axum::Router::new().route(
                "/v1/chat/completions",
                post(move |body: axum::Json<serde_json::Value>| {
                    let reqs = reqs.clone();
                    let script = script.clone();
                    async move {
                        reqs.fetch_add(1, Ordering::SeqCst);
                        let step = body.0["messages"]
                            .as_array()
                            .map(|m| m.iter().filter(|m| m["role"] == "assistant").count())
                            .unwrap_or(0);
                        let (latency, steps) = &*script;
                        tokio::time::sleep(latency[step.min(latency.len() - 1)]).await;
                        let content = serde_json::json!({
                            "thought": "Next step.",
                            "code": steps[step.min(steps.len() - 1)],
                        })
                        .to_string();
                        let model = body.0["model"].as_str().unwrap_or("fake").to_string();
                        axum::Json(serde_json::json!({
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "model": model,
                            "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content}}],
                            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
                        }))
                    }
                }),
            );
            let _ = axum::serve(listener, app).await;
        });
        FakeModel {
            url: format!("http://{addr}/v1"),
            requests,
            _rt: rt,
        }
    }
}

/// The `[[backbones]]` entry of the scripted model at `model_url` (no cache, one retry).
pub fn fake_backbone(model_url: &str) -> String {
    format!(
        r#"[[backbones]]
name = "fake"
provider = "openai"
model = "fake-model"
base_url = "{model_url}"
temperature = 0.0
cache = "off"
max_retries = 1
request_timeout_secs = 30
"#
    )
}

/// `herd run SWEEP --out OUT --workers N --no-progress` to completion: (success, stdout, stderr).
pub fn herd_run(sweep: &Path, out: &Path, workers: u32) -> (bool, String, String) {
    herd(
        &[
            "run",
            sweep.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8 path"),
            "--workers",
            &workers.to_string(),
            "--no-progress",
        ],
        &[],
    )
}

/// A sweep config: `benchmark` (the `[[benchmarks]]` body after `kind`/`source`, e.g.
/// `limit = 3`), a backbone entry, arm entries and the sandbox kind, with the tests' limits.
pub fn sweep_text(
    name: &str,
    benchmark: &str,
    backbone: &str,
    arms: &str,
    sandbox: &str,
) -> String {
    format!(
        r#"name = "{name}"
seed = 3

[[benchmarks]]
kind = "herd-mini"
source = "builtin"
{benchmark}

{backbone}
{arms}
[sandbox]
kind = "{sandbox}"
pool_size = 0

[limits]
cell_timeout_secs = 20
wall_time_secs = 120
max_attempts = 3
"#
    )
}

/// One arm with user actions off and 3 steps.
pub fn arm_text(name: &str, accumulation: &str) -> String {
    format!(
        "[[arms]]\nname = \"{name}\"\naccumulation = \"{accumulation}\"\nuser_actions = false\nmax_steps = 3\n"
    )
}

/// A sweep file using herd-mini, the fake model and the local-process sandbox.
pub fn write_sweep(dir: &Path, name: &str, model_url: &str, limit: usize, extra: &str) -> PathBuf {
    let mut text = sweep_text(
        name,
        &format!("limit = {limit}"),
        &fake_backbone(model_url),
        &arm_text("base", "off"),
        "local",
    );
    text.push_str(extra);
    text.push('\n');
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).expect("write sweep");
    p
}

/// A Redis server on a free loopback port, killed when dropped.
pub struct Redis {
    pub url: String,
    child: Child,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is missing: run scripts/setup-redis.sh");
        let url = format!("redis://127.0.0.1:{port}/0");
        wait_until(
            "redis to accept connections",
            Duration::from_secs(10),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        Redis { url, child }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Submits `sweep` to the coordinator at `url` (waiting for it to listen); returns the id.
pub fn submit(url: &str, sweep: &Path, token: Option<&str>) -> String {
    let addr = url.rsplit("://").next().unwrap_or(url).to_string();
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
pub fn results_of(
    status: &serde_json::Value,
) -> (Vec<herd_core::ResultRecord>, Vec<herd_core::AttemptRecord>) {
    let dir = status["out_dir"].as_str().expect("out_dir");
    // The export writes results.parquet, then attempts.parquet (each renamed into place).
    let results = Path::new(dir).join("results.parquet");
    let attempts = Path::new(dir).join("attempts.parquet");
    wait_until(
        "results.parquet and attempts.parquet to be written",
        Duration::from_secs(30),
        || results.exists() && attempts.exists(),
    );
    herd_report::read_result_records(Path::new(dir)).expect("read results")
}

/// Asserts one scored result per task, `expected` tasks in all.
pub fn assert_one_result_each(results: &[herd_core::ResultRecord], expected: usize) {
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

/// herd's deployment images, as `scripts/build-images.sh` tagged them.
pub struct Images {
    pub runtime: String,
    pub redis: String,
    pub qdrant: String,
}

/// Builds (or finds up to date) the runtime, Redis and Qdrant images with
/// `scripts/build-images.sh`, once per test process (the script also writes the tags to
/// `tags.env`, see [`tags_env_path`]).
pub fn images() -> &'static Images {
    static IMAGES: std::sync::OnceLock<Images> = std::sync::OnceLock::new();
    IMAGES.get_or_init(|| {
        let script = workspace_root().join("scripts/build-images.sh");
        let out = Command::new(&script)
            .args(["runtime", "redis", "qdrant"])
            .env("HERD_BIN", herd_bin())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "scripts/build-images.sh runtime redis qdrant failed (the container tests need its \
             herd-runtime, herd-redis and herd-qdrant images):\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tag = |repo: &str| {
            stdout
                .split_whitespace()
                .find(|w| w.starts_with(&format!("{repo}:")))
                .unwrap_or_else(|| {
                    panic!("scripts/build-images.sh printed no {repo} tag: {stdout}")
                })
                .to_string()
        };
        Images {
            runtime: tag("herd-runtime"),
            redis: tag("herd-redis"),
            qdrant: tag("herd-qdrant"),
        }
    })
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The file in which `scripts/build-images.sh` records the image tags for
/// `docker compose --env-file` (`$HERD_CACHE_DIR/images/tags.env`).
pub fn tags_env_path() -> PathBuf {
    let cache = std::env::var_os("HERD_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/herd")))
        .expect("HERD_CACHE_DIR or HOME");
    cache.join("images/tags.env")
}

/// The host's models directory (`$HERD_MODELS`, else `~/.cache/herd/models`), which holds the
/// action embedder (`all-minilm-l6-v2`, from scripts/fetch-embedder.sh).
pub fn models_dir() -> PathBuf {
    std::env::var_os("HERD_MODELS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/herd/models")))
        .expect("HERD_MODELS or HOME")
}

/// Runs `docker ARGS…`; returns (success, stdout, stderr).
pub fn docker(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker must be installed for the container tests");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `docker ARGS…`, panicking on failure; returns its stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let (ok, out, err) = docker(args);
    assert!(ok, "docker {} failed: {err}", args.join(" "));
    out
}

/// Ids of the containers (running or not) carrying the Docker label `label`.
pub fn labelled_containers(label: &str) -> Vec<String> {
    docker_ok(&["ps", "-aq", "--filter", &format!("label={label}")])
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A docker-sandbox herd-mini sweep over the items `ids`, one arm (`accumulation`: `off`,
/// `online`, …) and the scripted model at `model_url` (as the containers reach it, e.g.
/// `http://model:8000/v1`; no cache, two retries).
pub fn mini_docker_sweep(name: &str, ids: &[&str], accumulation: &str, model_url: &str) -> String {
    let ids = ids
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let backbone = format!(
        "[[backbones]]\nname = \"fake\"\nprovider = \"openai\"\nmodel = \"fake-model\"\n\
         base_url = \"{model_url}\"\ntemperature = 0.0\ncache = \"off\"\nmax_retries = 2\n\
         request_timeout_secs = 20\n"
    );
    sweep_text(
        name,
        &format!("ids = [{ids}]"),
        &backbone,
        &arm_text("base", accumulation),
        "docker",
    )
}
