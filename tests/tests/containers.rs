//! Fault tests across hosts: herd runs as separate containers (each one stands for a host) on
//! an internal Docker network the test creates — Redis (`herd-redis`, AOF with fsync always),
//! a coordinator and two workers (`herd-runtime`; the workers start their tasks' sandboxes on
//! the host's engine through its socket, as `deploy/compose.yaml` does) and a scripted
//! OpenAI-compatible model (`tests/fixtures/fake_model.py`, in the runtime image's python3).
//! The test process reaches only the coordinator, published on 127.0.0.1 through a second,
//! non-internal network; everything else talks on the internal one. Containers are killed,
//! partitioned and restarted; every task must end with exactly one result, the expected
//! accuracy, its attempts recorded, nothing acknowledged lost and no sandbox left behind.
//!
//! Two clusters have more: a Qdrant server (`herd-qdrant`) holding the coordinator's action
//! store, restarted mid-sweep under an online arm; a worker whose Docker engine refuses to
//! start containers (`tests/fixtures/fake_engine.py`, on a unix socket its `DOCKER_HOST`
//! names). The compose deployment itself is tested in `compose.rs`.
//!
//! Images come from `scripts/build-images.sh runtime redis qdrant` (run once per test process;
//! a no-op when up to date); the sandbox image must exist (`scripts/setup-sandbox.sh`), and
//! the action embedder (`scripts/fetch-embedder.sh`) for the Qdrant test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use herd_core::{AttemptRecord, ResultRecord};
use herd_tests::*;

/// The herd-mini items of every sweep: only mini-arith-01 (37 × 24) has gold answer 888.
const IDS: [&str; 4] = [
    "mini-arith-01",
    "mini-arith-02",
    "mini-arith-03",
    "mini-arith-04",
];
const TOKEN: &str = "container-test-token";

/// The group owning the host's Docker socket (the workers join it, as in compose).
fn docker_gid() -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/var/run/docker.sock")
        .expect("the host's Docker socket /var/run/docker.sock")
        .gid()
        .to_string()
}

/// One cluster of containers on its own networks; everything it created is removed on drop.
struct Cluster {
    name: String,
    /// The first three octets of the internal network's /24 (workers get fixed addresses so
    /// a partitioned one comes back as the same host).
    net: String,
    dir: tempfile::TempDir,
    data: PathBuf,
    url: String,
    port: u16,
    images: &'static Images,
    lease_secs: String,
    workers: Mutex<Vec<String>>,
    /// The API key of the cluster's Qdrant server (none: the coordinator hosts no actions).
    qdrant_key: Option<String>,
}

/// What a cluster has beyond Redis, the model and a coordinator.
#[derive(Default)]
struct Setup<'a> {
    /// A Qdrant server (`herd-qdrant`, alias `qdrant`) holding the coordinator's action store
    /// (else the coordinator runs with `--no-actions`).
    qdrant: bool,
    /// The model's code cells, one per step (default: fake_model.py's).
    steps: Option<&'a [&'a str]>,
}

impl Cluster {
    /// Networks, Redis, the model (`latency`: seconds per step, e.g. `"2,2"`) and a coordinator.
    /// Leases last `lease_secs` (heartbeats every second).
    fn start(tag: &str, latency: &str, lease_secs: u32) -> Cluster {
        Cluster::start_with(tag, latency, lease_secs, Setup::default())
    }

    /// [`Cluster::start`] with the extras of `setup`.
    fn start_with(tag: &str, latency: &str, lease_secs: u32, setup: Setup) -> Cluster {
        let images = images();
        let port = free_port();
        let name = format!("herdct-{tag}-{}-{port}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(10001), Some(10001)).unwrap();
        let mut c = Cluster {
            name: name.clone(),
            net: String::new(),
            dir,
            data,
            url: format!("http://127.0.0.1:{port}"),
            port,
            images,
            lease_secs: lease_secs.to_string(),
            workers: Mutex::new(Vec::new()),
            qdrant_key: setup.qdrant.then(|| format!("qdrant-key-{name}")),
        };
        // A /24 of our own: try a few until one does not overlap another network.
        let label = format!("herd-test={name}");
        let mut last = String::new();
        for i in 0..40u32 {
            let third = (std::process::id() + port as u32 + i * 7) % 250 + 1;
            let net = format!("10.213.{third}");
            let (ok, _, err) = docker(&[
                "network",
                "create",
                "--internal",
                "--label",
                &label,
                "--subnet",
                &format!("{net}.0/24"),
                "--ip-range",
                &format!("{net}.128/25"),
                &c.int_net(),
            ]);
            if ok {
                c.net = net;
                break;
            }
            last = err;
        }
        assert!(
            !c.net.is_empty(),
            "no free subnet for the test network: {last}"
        );
        docker_ok(&["network", "create", "--label", &label, &c.pub_net()]);
        docker_ok(&["volume", "create", "--label", &label, &c.redis_volume()]);
        c.start_redis();
        if c.qdrant_key.is_some() {
            let embedder = models_dir().join("all-minilm-l6-v2/model.safetensors");
            assert!(
                embedder.is_file(),
                "no action embedder at {} (run scripts/fetch-embedder.sh)",
                embedder.display()
            );
            docker_ok(&["volume", "create", "--label", &label, &c.qdrant_volume()]);
            c.start_qdrant();
        }
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake_model.py");
        let mount = format!("{}:/fake_model.py:ro", fixture.display());
        let mut opts = vec!["--network-alias", "model", "-v", &mount];
        let steps = setup
            .steps
            .map(|s| format!("FAKE_MODEL_STEPS={}", serde_json::to_string(s).unwrap()));
        if let Some(steps) = &steps {
            opts.extend_from_slice(&["-e", steps]);
        }
        opts.extend_from_slice(&["--entrypoint", "python3"]);
        c.run(
            "model",
            &opts,
            &[&images.runtime, "/fake_model.py", "8000", latency],
        );
        c.start_coordinator("coordinator");
        c
    }

    fn int_net(&self) -> String {
        format!("{}-int", self.name)
    }
    fn pub_net(&self) -> String {
        format!("{}-pub", self.name)
    }
    fn redis_volume(&self) -> String {
        format!("{}-redis", self.name)
    }
    fn qdrant_volume(&self) -> String {
        format!("{}-qdrant", self.name)
    }
    fn container(&self, role: &str) -> String {
        format!("{}-{role}", self.name)
    }
    fn worker_id(&self, role: &str) -> String {
        format!("{}-{role}", self.name)
    }

    /// `docker run -d` a hardened container named after `role` on the internal network.
    fn run(&self, role: &str, opts: &[&str], image_and_args: &[&str]) {
        let name = self.container(role);
        let label = format!("herd-test={}", self.name);
        let net = self.int_net();
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &label,
            "--network",
            &net,
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges:true",
        ];
        args.extend_from_slice(opts);
        args.extend_from_slice(image_and_args);
        docker_ok(&args);
    }

    fn start_redis(&self) {
        let vol = format!("{}:/data", self.redis_volume());
        self.run(
            "redis",
            &["--network-alias", "redis", "-v", &vol],
            &[
                &self.images.redis,
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
        );
        self.wait_redis();
    }

    fn wait_redis(&self) {
        let redis = self.container("redis");
        wait_until("redis to answer PING", Duration::from_secs(30), || {
            docker(&["exec", &redis, "redis-cli", "ping"])
                .1
                .contains("PONG")
        });
    }

    /// A Qdrant server (alias `qdrant`, its storage on the cluster's volume, the API key
    /// required); waits until it is ready.
    fn start_qdrant(&self) {
        let storage = format!("{}:/qdrant/storage", self.qdrant_volume());
        let key = format!(
            "QDRANT__SERVICE__API_KEY={}",
            self.qdrant_key.as_ref().unwrap()
        );
        self.run(
            "qdrant",
            &[
                "--network-alias",
                "qdrant",
                "-v",
                &storage,
                "--tmpfs",
                "/qdrant/snapshots:size=64m,uid=10001,gid=10001,mode=0750",
                "--tmpfs",
                "/tmp:size=256m",
                "-e",
                &key,
            ],
            &[&self.images.qdrant],
        );
        self.wait_qdrant();
    }

    /// Waits until Qdrant answers `/readyz` (the image's health check).
    fn wait_qdrant(&self) {
        let qdrant = self.container("qdrant");
        wait_until("qdrant to be ready", Duration::from_secs(60), || {
            docker(&["exec", &qdrant, "qdrant-healthcheck"]).0
        });
    }

    /// `herd actions ARGS…` in a one-off runtime container on the internal network (the
    /// Qdrant server is reachable from nowhere else), with the API key and the embedder.
    fn herd_actions(&self, args: &[&str]) -> (bool, String, String) {
        let models = format!("{}:/models:ro", models_dir().display());
        let key = format!("HERD_QDRANT_API_KEY={}", self.qdrant_key.as_ref().unwrap());
        let label = format!("herd-test={}", self.name);
        let net = self.int_net();
        let mut all = vec![
            "run",
            "--rm",
            "--label",
            &label,
            "--network",
            &net,
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges:true",
            "--tmpfs",
            "/tmp:size=256m",
            "-v",
            &models,
            "-e",
            &key,
            "-e",
            "NO_COLOR=1",
            &self.images.runtime,
            "actions",
        ];
        all.extend_from_slice(args);
        docker(&all)
    }

    /// A coordinator on the internal network (alias `coordinator`), published on the test's
    /// fixed loopback port through the outside network; waits until it serves. With a Qdrant
    /// server, it keeps actions there (`--qdrant-url`, the key in the variable
    /// `--qdrant-api-key-env` names) with the host's embedder; else `--no-actions`.
    fn start_coordinator(&self, role: &str) {
        let name = self.container(role);
        let label = format!("herd-test={}", self.name);
        let publish = format!("127.0.0.1:{}:7700", self.port);
        let data = format!("{}:/data", self.data.display());
        let token = format!("HERD_TOKEN={TOKEN}");
        let models = format!("{}:/models:ro", models_dir().display());
        let key = format!(
            "HERD_TEST_QDRANT_KEY={}",
            self.qdrant_key.as_deref().unwrap_or_default()
        );
        let mut store_opts: Vec<&str> = Vec::new();
        let mut store_args = vec!["--no-actions"];
        if self.qdrant_key.is_some() {
            store_opts = vec!["-v", &models, "-e", &key];
            store_args = vec![
                "--qdrant-url",
                "http://qdrant:6334",
                "--qdrant-api-key-env",
                "HERD_TEST_QDRANT_KEY",
            ];
        }
        let pub_net = self.pub_net();
        let mut args = vec![
            "create",
            "--name",
            &name,
            "--label",
            &label,
            "--network",
            &pub_net,
            "-p",
            &publish,
            "--init",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges:true",
            "--tmpfs",
            "/tmp:size=256m",
            "-v",
            &data,
            "-e",
            &token,
            "-e",
            "RUST_LOG=info",
            "-e",
            "NO_COLOR=1",
        ];
        args.extend_from_slice(&store_opts);
        args.extend_from_slice(&[
            self.images.runtime.as_str(),
            "coordinator",
            "--listen",
            "0.0.0.0:7700",
            "--state",
            "redis://redis:6379/0",
            "--data",
            "/data",
            "--lease-secs",
            &self.lease_secs,
            "--heartbeat-secs",
            "1",
        ]);
        args.extend_from_slice(&store_args);
        docker_ok(&args);
        docker_ok(&[
            "network",
            "connect",
            "--alias",
            "coordinator",
            &self.int_net(),
            &name,
        ]);
        docker_ok(&["start", &name]);
        wait_until("the coordinator to serve", Duration::from_secs(60), || {
            docker(&["exec", &name, "herd-healthcheck", "grpc", "127.0.0.1:7700"]).0
        });
    }

    /// A worker container with a fixed address (`.10 + n`), one slot, the host's Docker socket.
    fn start_worker(&self, role: &str, n: u8) {
        let gid = docker_gid();
        self.start_worker_on(
            role,
            n,
            &[
                "--group-add",
                &gid,
                "-v",
                "/var/run/docker.sock:/var/run/docker.sock",
            ],
        );
    }

    /// A worker container with a fixed address (`.10 + n`) and one slot, whose Docker engine
    /// the options `engine` give it (mounts, `DOCKER_HOST`).
    fn start_worker_on(&self, role: &str, n: u8, engine: &[&str]) {
        let id = self.worker_id(role);
        self.workers.lock().unwrap().push(id.clone());
        let ip = format!("{}.{}", self.net, 10 + n);
        let token = format!("HERD_TOKEN={TOKEN}");
        let mut opts = vec!["--ip", &ip, "--init"];
        opts.extend_from_slice(engine);
        opts.extend_from_slice(&[
            "--tmpfs",
            "/tmp:size=256m",
            "--tmpfs",
            "/data:size=2g,uid=10001,gid=10001,mode=0750",
            "-e",
            &token,
            "-e",
            "RUST_LOG=info",
            "-e",
            "NO_COLOR=1",
        ]);
        self.run(
            role,
            &opts,
            &[
                &self.images.runtime,
                "worker",
                "--coordinator",
                "http://coordinator:7700",
                "--slots",
                "1",
                "--id",
                &id,
                "--grace-secs",
                "10",
                "--work-dir",
                "/data/work",
            ],
        );
    }

    fn worker_ip(&self, n: u8) -> String {
        format!("{}.{}", self.net, 10 + n)
    }

    fn logs(&self, role: &str) -> String {
        let (_, out, err) = docker(&["logs", &self.container(role)]);
        out + &err
    }

    /// The model's requests so far, as (step, client address).
    fn model_requests(&self) -> Vec<(u32, String)> {
        self.logs("model")
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("fake-model: request step=")?;
                let (step, ip) = rest.split_once(" from ")?;
                Some((step.parse().ok()?, ip.trim().to_string()))
            })
            .collect()
    }

    /// The running or stopped sandbox containers of worker `role`, with their task labels.
    fn sandboxes(&self, role: &str) -> Vec<(String, String)> {
        labelled_containers(&format!("herd.worker={}", self.worker_id(role)))
            .into_iter()
            .map(|id| {
                let task = docker(&[
                    "inspect",
                    "-f",
                    "{{index .Config.Labels \"herd.task\"}}",
                    &id,
                ])
                .1
                .trim()
                .to_string();
                (id, task)
            })
            .collect()
    }

    /// Submits a docker-sandbox herd-mini sweep over [`IDS`]; returns its id.
    fn submit(&self, name: &str) -> String {
        self.submit_arm(name, "off")
    }

    /// Submits a docker-sandbox herd-mini sweep over [`IDS`] with one arm of `accumulation`.
    fn submit_arm(&self, name: &str, accumulation: &str) -> String {
        let text = mini_docker_sweep(name, &IDS, accumulation, "http://model:8000/v1");
        let p = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        submit(&self.url, &p, Some(TOKEN))
    }

    fn status(&self, sweep: &str) -> Option<serde_json::Value> {
        let (ok, out, _) = herd(
            &["status", sweep, "--coordinator", &self.url, "--json"],
            &[("HERD_TOKEN", TOKEN)],
        );
        if !ok {
            return None;
        }
        serde_json::from_str(&out).ok()
    }

    fn wait_done(&self, sweep: &str, timeout: Duration) -> serde_json::Value {
        wait_done(&self.url, sweep, Some(TOKEN), timeout)
    }

    /// The finished sweep's results and attempts, read from the coordinator's data volume.
    fn results(&self, status: &serde_json::Value) -> (Vec<ResultRecord>, Vec<AttemptRecord>) {
        let out_dir = status["out_dir"].as_str().expect("out_dir");
        let rel = out_dir
            .strip_prefix("/data/")
            .unwrap_or_else(|| panic!("out_dir {out_dir} is not under /data"));
        let mut st = status.clone();
        st["out_dir"] = self.data.join(rel).display().to_string().into();
        results_of(&st)
    }

    /// Every report a worker saw acknowledged as recorded, as (task key, worker id).
    fn acknowledged(&self) -> BTreeSet<(String, String)> {
        let roles: Vec<String> = self.workers.lock().unwrap().clone();
        let mut acked = BTreeSet::new();
        for id in roles {
            let role = id
                .strip_prefix(&format!("{}-", self.name))
                .unwrap()
                .to_string();
            for l in self.logs(&role).lines() {
                if l.contains("reported") && l.contains("disposition=Ok(Recorded)") {
                    let task = l
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("task="))
                        .expect("task= in the report line");
                    acked.insert((task.to_string(), id.clone()));
                }
            }
        }
        acked
    }

    /// The attempts in the state store (Redis list `herd:attempts`, JSON), for `sweep`.
    fn stored_attempts(&self, sweep: &str) -> Vec<AttemptRecord> {
        let out = docker_ok(&[
            "exec",
            &self.container("redis"),
            "redis-cli",
            "--raw",
            "LRANGE",
            "herd:attempts",
            "0",
            "-1",
        ]);
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<AttemptRecord>(l).expect("an attempt record"))
            .filter(|a| a.sweep == sweep)
            .collect()
    }

    /// The results in the state store (Redis hash `herd:results`, JSON), for `sweep`.
    fn stored_results(&self, sweep: &str) -> Vec<ResultRecord> {
        let out = docker_ok(&[
            "exec",
            &self.container("redis"),
            "redis-cli",
            "--raw",
            "HVALS",
            "herd:results",
        ]);
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<ResultRecord>(l).expect("a result record"))
            .filter(|r| r.sweep == sweep)
            .collect()
    }

    /// The state store's results and attempts for `sweep` once it holds a result and its
    /// recording attempt for every task (`herd status` can say done, and the outputs be
    /// written, while a commit that failed is still being retried), or after 30 s.
    fn settled_store(&self, sweep: &str) -> (Vec<ResultRecord>, Vec<AttemptRecord>) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let results = self.stored_results(sweep);
            let attempts = self.stored_attempts(sweep);
            let settled = results.len() >= IDS.len()
                && results.iter().all(|r| {
                    attempts
                        .iter()
                        .any(|a| a.task_key == r.task_key && is_recording(a))
                });
            if settled || Instant::now() > end {
                return (results, attempts);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The common end-of-sweep checks; returns the results and the attempts (from the state
    /// store: `attempts.parquet` misses the last one, see below).
    fn check_sweep(&self, status: &serde_json::Value) -> (Vec<ResultRecord>, Vec<AttemptRecord>) {
        assert_eq!(status["total"], 4, "{status}");
        assert_eq!(status["correct"], 1, "{status}");
        let sweep = status["sweep_id"].as_str().expect("sweep_id");
        let (results, parquet_attempts) = self.results(status);
        let (stored, attempts) = self.settled_store(sweep);
        let keys: BTreeSet<&str> = results.iter().map(|r| r.task_key.as_str()).collect();
        assert_eq!(
            (results.len(), keys.len()),
            (IDS.len(), IDS.len()),
            "one result per task; results (task, item, worker, attempts): {:?}; stored attempts: {attempts:?}",
            results
                .iter()
                .map(|r| (&r.task_key, &r.item_id, &r.worker, r.attempts))
                .collect::<Vec<_>>()
        );
        assert_one_result_each(&results, IDS.len());
        assert_expected_accuracy(&results);
        // Nothing acknowledged lost: every report a worker was told was recorded is the
        // task's result.
        let by_key: BTreeMap<&str, &ResultRecord> =
            results.iter().map(|r| (r.task_key.as_str(), r)).collect();
        // The same in the state store (what a restarted coordinator recovers from).
        let stored_by_key: BTreeMap<&str, &ResultRecord> =
            stored.iter().map(|r| (r.task_key.as_str(), r)).collect();
        assert_eq!(
            (stored.len(), stored_by_key.len()),
            (IDS.len(), IDS.len()),
            "one stored result per task: {:?}; stored attempts: {attempts:?}",
            stored
                .iter()
                .map(|r| (&r.task_key, &r.worker, r.attempts))
                .collect::<Vec<_>>()
        );
        let acked = self.acknowledged();
        assert!(!acked.is_empty(), "no worker logged an acknowledged report");
        for (task, worker) in &acked {
            for (place, map) in [
                ("results.parquet", &by_key),
                ("the state store", &stored_by_key),
            ] {
                let r = map
                    .get(task.as_str())
                    .unwrap_or_else(|| panic!("acknowledged task {task} has no result in {place}"));
                assert_eq!(
                    &r.worker, worker,
                    "acknowledged {task} from {worker}, in {place}: {r:?}"
                );
            }
        }
        // Attempts: each result has exactly one recording attempt, from the worker the result
        // names, whose number is the result's `attempts` column.
        for r in &results {
            let recorded: Vec<&AttemptRecord> = attempts
                .iter()
                .filter(|a| a.task_key == r.task_key && is_recording(a))
                .collect();
            assert_eq!(recorded.len(), 1, "{}: {attempts:?}", r.task_key);
            assert_eq!(recorded[0].worker, r.worker, "{}", r.task_key);
            if recorded[0].disposition == "recorded" {
                assert_eq!(recorded[0].attempt, r.attempts, "{}", r.task_key);
            } else {
                assert!(recorded[0].attempt <= r.attempts, "{}", r.task_key);
            }
        }
        // attempts.parquet is written when the last result lands, with that result's own
        // recording attempt (it is stored before the result); attempts that arrive later
        // (late duplicates) are in the state store only.
        let last = results.iter().max_by_key(|r| r.finished_seq).unwrap();
        let idx = attempts
            .iter()
            .position(|a| a.task_key == last.task_key && is_recording(a))
            .unwrap();
        let keys = |v: &[&AttemptRecord]| {
            let mut k: Vec<(String, u32, String, String)> = v
                .iter()
                .map(|a| {
                    (
                        a.task_key.clone(),
                        a.attempt,
                        a.worker.clone(),
                        a.disposition.clone(),
                    )
                })
                .collect();
            k.sort();
            k
        };
        let all: Vec<&AttemptRecord> = attempts.iter().collect();
        let got = keys(&parquet_attempts.iter().collect::<Vec<_>>());
        assert_eq!(
            got,
            keys(&all[..=idx]),
            "attempts.parquet vs the store {attempts:?}"
        );
        (results, attempts)
    }

    /// No sandbox of any of this cluster's workers, nor of `sweep`, is left (waits up to
    /// `timeout` for the workers to remove them).
    fn assert_no_sandbox_left(&self, sweep: &str, timeout: Duration) {
        let mut labels: Vec<String> = self
            .workers
            .lock()
            .unwrap()
            .iter()
            .map(|w| format!("herd.worker={w}"))
            .collect();
        labels.push(format!("herd.sweep={sweep}"));
        let left =
            || -> Vec<String> { labels.iter().flat_map(|l| labelled_containers(l)).collect() };
        let end = Instant::now() + timeout;
        while Instant::now() < end && !left().is_empty() {
            std::thread::sleep(Duration::from_millis(250));
        }
        assert_eq!(
            left(),
            Vec::<String>::new(),
            "sandbox containers left behind"
        );
    }

    fn dump_logs(&self) {
        for id in labelled_containers(&format!("herd-test={}", self.name)) {
            let name = docker(&["inspect", "-f", "{{.Name}}", &id]).1;
            let (_, out, err) = docker(&["logs", "--tail", "60", &id]);
            eprintln!("===== {} =====\n{out}{err}", name.trim());
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        let mut ids = labelled_containers(&format!("herd-test={}", self.name));
        for w in self.workers.lock().map(|w| w.clone()).unwrap_or_default() {
            ids.extend(labelled_containers(&format!("herd.worker={w}")));
        }
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            let _ = docker(&args);
        }
        let _ = docker(&["network", "rm", &self.int_net(), &self.pub_net()]);
        let _ = docker(&[
            "volume",
            "rm",
            "-f",
            &self.redis_volume(),
            &self.qdrant_volume(),
        ]);
    }
}

/// An attempt that became its task's result: `recorded` (under the live lease) or
/// `recorded-late` (from an expired lease, while the task had no result yet).
fn is_recording(a: &AttemptRecord) -> bool {
    a.disposition == "recorded" || a.disposition == "recorded-late"
}

/// Every task answered `888`: right exactly where the gold answer is 888 (mini-arith-01),
/// with two model calls of 100 + 20 tokens.
fn assert_expected_accuracy(results: &[ResultRecord]) {
    for r in results {
        assert_eq!(
            r.correct,
            Some(r.item_id == "mini-arith-01"),
            "task {} ({}, gold {:?})",
            r.task_key,
            r.item_id,
            r.gold_answer
        );
        assert_eq!(r.answer.as_deref(), Some("888"), "{r:?}");
        assert_eq!((r.prompt_tokens, r.completion_tokens), (200, 40), "{r:?}");
        assert_eq!(r.sandbox_kind, "docker", "{r:?}");
    }
    let items: BTreeSet<&str> = results.iter().map(|r| r.item_id.as_str()).collect();
    assert_eq!(items, IDS.into_iter().collect(), "the sweep's items");
}

/// Waits until worker `role` (address `ip`) is mid-task: it has a sandbox and the model has
/// a request of `step` from it. Returns that task's key.
fn wait_mid_task(c: &Cluster, role: &str, ip: &str, step: u32) -> String {
    let mut task = String::new();
    wait_until(
        &format!("{role} to be mid-task (step {step})"),
        Duration::from_secs(90),
        || {
            let boxes = c.sandboxes(role);
            if boxes.len() != 1 {
                return false;
            }
            let reqs = c.model_requests();
            if !reqs.iter().any(|(s, from)| *s == step && from == ip) {
                return false;
            }
            task = boxes[0].1.clone();
            !task.is_empty()
        },
    );
    task
}

/// Worker A's container is SIGKILLed while its task waits for the model: the lease (3 s)
/// expires, the task runs again on B; A's sandbox stays behind until A's container restarts
/// with the same worker id, which removes it.
#[test]
fn a_worker_killed_mid_task_is_re_leased_and_finishes_on_the_other_worker() {
    let c = Cluster::start("kill", "2,2", 3);
    c.start_worker("wa", 0);
    let id = c.submit("killed-worker");
    // A alone takes the first task; kill it between its two model calls.
    let task = wait_mid_task(&c, "wa", &c.worker_ip(0), 1);
    docker_ok(&["kill", "-s", "KILL", &c.container("wa")]);
    let orphans = c.sandboxes("wa");
    assert!(
        orphans.iter().any(|(_, t)| *t == task),
        "SIGKILL leaves the task's sandbox behind (nothing runs on the way out): {orphans:?}"
    );
    c.start_worker("wb", 1);
    let st = c.wait_done(&id, Duration::from_secs(180));
    let (results, attempts) = c.check_sweep(&st);
    let wa = c.worker_id("wa");
    let wb = c.worker_id("wb");
    let r = results
        .iter()
        .find(|r| r.task_key == task)
        .expect("the killed task's result");
    assert_eq!(r.worker, wb, "the killed task finished on B: {r:?}");
    assert!(r.attempts >= 2, "the re-lease is counted: {r:?}");
    let expired: Vec<&AttemptRecord> = attempts
        .iter()
        .filter(|a| a.task_key == task && a.disposition == "expired")
        .collect();
    assert_eq!(expired.len(), 1, "A's lease expired once: {attempts:?}");
    assert_eq!(expired[0].worker, wa);
    assert!(
        results
            .iter()
            .filter(|r| r.task_key != task)
            .all(|r| r.worker == wb),
        "A finished nothing else: {results:?}"
    );
    // herd removes a crashed worker's sandboxes when it comes back with the same id (no
    // other process owns them: until then the orphan stays, here for the whole sweep).
    // Restart A's container, which runs with the same `--id`.
    docker_ok(&["start", &c.container("wa")]);
    wait_until(
        "the restarted worker to remove its orphaned sandbox",
        Duration::from_secs(60),
        || c.sandboxes("wa").is_empty(),
    );
    c.assert_no_sandbox_left(&id, Duration::from_secs(30));
}

/// Worker A is cut off the network (`docker network disconnect`) while its task waits for
/// the model, for longer than its lease: the task runs on B. A comes back with the same
/// address; the coordinator tells it the lease is lost and its report is kept as an attempt
/// (`duplicate`), not as a second result.
#[test]
fn a_partitioned_worker_loses_its_task_and_its_late_report_is_an_attempt() {
    let c = Cluster::start("part", "1,3", 3);
    c.start_worker("wa", 0);
    let id = c.submit("partitioned-worker");
    // A asks for its task's last step (answered in 3 s); cut it off before the answer.
    let task = wait_mid_task(&c, "wa", &c.worker_ip(0), 1);
    docker_ok(&["network", "disconnect", &c.int_net(), &c.container("wa")]);
    let cut = Instant::now();
    c.start_worker("wb", 1);
    // Everything, A's task included, finishes on B while A is away (longer than the lease).
    let st = c.wait_done(&id, Duration::from_secs(180));
    assert!(
        cut.elapsed() > Duration::from_secs(3),
        "partitioned longer than the lease"
    );
    // A comes back as the same host (same address): its late report is an attempt.
    docker_ok(&[
        "network",
        "connect",
        "--ip",
        &c.worker_ip(0),
        &c.int_net(),
        &c.container("wa"),
    ]);
    wait_until(
        "A's late report to be answered",
        Duration::from_secs(90),
        || {
            c.logs("wa")
                .lines()
                .any(|l| l.contains("reported") && l.contains(&format!("task={task}")))
        },
    );
    let line = c
        .logs("wa")
        .lines()
        .find(|l| l.contains("reported") && l.contains(&format!("task={task}")))
        .unwrap()
        .to_string();
    assert!(
        line.contains("disposition=Ok(Duplicate)"),
        "A's late report is not a second result: {line}"
    );
    let (results, attempts) = c.check_sweep(&st);
    let wa = c.worker_id("wa");
    let wb = c.worker_id("wb");
    assert!(results.iter().all(|r| r.worker == wb), "{results:?}");
    let r = results.iter().find(|r| r.task_key == task).unwrap();
    assert!(r.attempts >= 2, "the re-lease is counted: {r:?}");
    let of_a: Vec<&str> = attempts
        .iter()
        .filter(|a| a.task_key == task && a.worker == wa)
        .map(|a| a.disposition.as_str())
        .collect();
    assert!(of_a.contains(&"expired"), "A's lease expired: {attempts:?}");
    assert!(
        of_a.iter().any(|d| *d == "duplicate" || *d == "stale"),
        "A's late report is kept as an attempt: {attempts:?}"
    );
    // Still one result per task in the state store, after the late report.
    let stored = c.stored_results(&id);
    assert_eq!(stored.len(), IDS.len(), "{stored:?}");
    assert!(stored.iter().all(|r| r.worker == wb));
    c.assert_no_sandbox_left(&id, Duration::from_secs(60));
}

/// Waits until the sweep has at least one result; returns how many it has (fewer than all:
/// the fault lands mid-sweep).
fn wait_first_result(c: &Cluster, sweep: &str) -> u64 {
    let mut done = 0;
    wait_until("a first result", Duration::from_secs(120), || {
        done = c
            .status(sweep)
            .and_then(|v| v["done"].as_u64())
            .unwrap_or(0);
        done >= 1
    });
    assert!(done < IDS.len() as u64, "the sweep ended before the fault");
    done
}

/// A cluster with leases of `lease_secs`, workers `wa` and `wb`, and the sweep `name`
/// submitted and past its first result.
fn two_workers_first_result(tag: &str, lease_secs: u32, name: &str) -> (Cluster, String) {
    let c = Cluster::start(tag, "1,2", lease_secs);
    c.start_worker("wa", 0);
    c.start_worker("wb", 1);
    let id = c.submit(name);
    wait_first_result(&c, &id);
    (c, id)
}

/// The coordinator's container is SIGKILLed mid-sweep and another one (a new host: new
/// container, same Redis, same data volume, same address) takes over. Leases are longer than
/// the outage, as in a deployment (30 s by default): the workers' reports, retried meanwhile,
/// land on the new coordinator under the leases it recovered, so no attempt is lost.
/// With leases shorter than the outage, see the next test.
#[test]
fn the_coordinator_container_killed_and_replaced_on_the_same_redis_completes_the_sweep() {
    let (c, id) = two_workers_first_result("coord", 30, "coordinator-killed");
    docker_ok(&["kill", "-s", "KILL", &c.container("coordinator")]);
    std::thread::sleep(Duration::from_secs(2));
    c.start_coordinator("coordinator-2");
    let st = c.wait_done(&id, Duration::from_secs(180));
    let (results, attempts) = c.check_sweep(&st);
    assert!(
        c.logs("coordinator-2").contains("recovered=1"),
        "the new coordinator recovered the sweep from Redis"
    );
    assert!(
        results.iter().all(|r| r.attempts == 1),
        "no attempt lost to the restart: {results:?}"
    );
    // The only other attempts allowed: a report the old coordinator stored but died before
    // acknowledging, retried by its worker to the new one (same task, attempt and worker).
    for a in attempts.iter().filter(|a| !is_recording(a)) {
        assert_eq!(a.disposition, "duplicate", "{attempts:?}");
        assert!(
            attempts.iter().any(|b| is_recording(b)
                && (&b.task_key, b.attempt, &b.worker) == (&a.task_key, a.attempt, &a.worker)),
            "{attempts:?}"
        );
    }
    c.assert_no_sandbox_left(&id, Duration::from_secs(60));
}

/// The same with leases shorter than the outage (3 s): the new coordinator expires the
/// recovered leases at once and queues their tasks again; a worker's retried report then
/// records a task while it waits in its queue (`recorded-late`). That task must not be leased
/// and recorded a second time (it was, before the fix: one task twice, another missing, and
/// the sweep declared done early).
#[test]
fn the_coordinator_replaced_after_its_leases_expired_still_records_each_task_once() {
    let (c, id) = two_workers_first_result("coord-short", 3, "coordinator-killed-short-leases");
    docker_ok(&["kill", "-s", "KILL", &c.container("coordinator")]);
    std::thread::sleep(Duration::from_secs(5));
    c.start_coordinator("coordinator-2");
    let st = c.wait_done(&id, Duration::from_secs(180));
    c.check_sweep(&st);
    c.assert_no_sandbox_left(&id, Duration::from_secs(60));
}

/// Redis (AOF, fsync always) restarted mid-sweep: the coordinator's writes fail meanwhile and
/// are retried; a report whose write failed is not acknowledged (the worker retries it).
/// Every acknowledged report is a result, in the outputs and in Redis after the restart.
#[test]
fn redis_restarted_mid_sweep_loses_nothing_acknowledged() {
    let (c, id) = two_workers_first_result("redis", 3, "redis-restarted");
    docker_ok(&["restart", &c.container("redis")]);
    c.wait_redis();
    let st = c.wait_done(&id, Duration::from_secs(180));
    c.check_sweep(&st);
    c.assert_no_sandbox_left(&id, Duration::from_secs(60));
}

/// A cell that looks for a tool, defines one and calls it (as in qdrant_server.rs); then a
/// cell that submits.
const DEFINE: &str = "print(get_relevant_tools('add two numbers', 3))\n\
def add_two_numbers(a: int, b: int) -> int:\n    \"\"\"Add two whole numbers.\"\"\"\n    return a + b\n\
print(add_two_numbers(3, 4))";
const SUBMIT: &str = "submit_final_answer('888')";

/// The text of every trajectory of a finished sweep (gzipped, on the coordinator's volume).
fn trajectories_text(c: &Cluster, status: &serde_json::Value) -> String {
    use std::io::Read;
    let out_dir = status["out_dir"].as_str().expect("out_dir");
    let rel = out_dir.strip_prefix("/data/").expect("out_dir under /data");
    let dir = c.data.join(rel).join("trajectories");
    let mut text = String::new();
    for e in std::fs::read_dir(&dir).expect("trajectories") {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
    }
    text
}

/// The coordinator keeps the action library in a Qdrant server container; an online arm
/// stores an action with its first task, and the Qdrant container is SIGKILLed while the
/// second task waits for its first cell, then started again on the same volume. The
/// retrieval made meanwhile is a tool error, the stores and task starts are retried: every
/// task is recorded on its first attempt, the action stored before the outage is still in the
/// library, and the tasks started after it see and retrieve it.
#[test]
fn qdrant_restarted_mid_sweep_with_online_accumulation_loses_no_acknowledged_action() {
    // Step 0 answers after 2 s: time to stop the server between a task's start and its first
    // cell (whose retrieval then finds it down).
    let c = Cluster::start_with(
        "qdrant",
        "2,0.2",
        10,
        Setup {
            qdrant: true,
            steps: Some(&[DEFINE, SUBMIT]),
        },
    );
    c.start_worker("wa", 0);
    let id = c.submit_arm("qdrant-restarted", "online");
    // Task 1 ran both steps and has its result (its action was stored before its report);
    // task 2 has asked for its first cell.
    wait_until(
        "task 1's result and task 2's first request",
        Duration::from_secs(120),
        || {
            c.model_requests().len() >= 3
                && c.status(&id).and_then(|v| v["done"].as_u64()).unwrap_or(0) >= 1
        },
    );
    let qdrant = c.container("qdrant");
    docker_ok(&["kill", "-s", "KILL", &qdrant]);
    // Longer than the coordinator's quick retries, shorter than the worker's patient ones.
    std::thread::sleep(Duration::from_secs(6));
    docker_ok(&["start", &qdrant]);
    c.wait_qdrant();
    let st = c.wait_done(&id, Duration::from_secs(180));
    let (results, attempts) = c.check_sweep(&st);
    for r in &results {
        assert_eq!(r.attempts, 1, "no attempt was burned by the outage: {r:?}");
    }
    assert!(
        attempts.iter().all(|a| a.disposition == "recorded"),
        "every attempt recorded, none handed back, requeued or expired: {attempts:?}"
    );
    assert!(
        trajectories_text(&c, &st).contains("unreachable"),
        "the retrieval made while the server was down came back as a tool error"
    );
    let mut by_seq = results.clone();
    by_seq.sort_by_key(|r| r.finished_seq);
    assert_eq!(by_seq[0].actions_created, 1, "task 1 stored the action");
    assert_eq!(
        results.iter().map(|r| r.actions_created).sum::<u32>(),
        1,
        "the shared function is stored once: {results:?}"
    );
    for r in &by_seq[2..] {
        assert!(
            r.library_size >= 1 && r.actions_retrieved >= 1,
            "tasks started after the restart see the action: {r:?}"
        );
    }
    // The library, read from the restarted server: the one action stored before the outage.
    let (ok, out, err) = c.herd_actions(&["list", "http://qdrant:6334"]);
    assert!(ok, "herd actions list: {err}");
    let namespaces: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    assert_eq!(namespaces.len(), 1, "one namespace: {out}");
    assert!(namespaces[0].ends_with("(1 actions)"), "{out}");
    assert!(out.contains("add_two_numbers"), "{out}");
    c.assert_no_sandbox_left(&id, Duration::from_secs(60));
}

/// What the test engine (`tests/fixtures/fake_engine.py`) answers a container create with.
const REFUSAL: &str = "refusing to start containers (test engine)";

/// A worker whose Docker engine answers pings and image inspections but refuses to create
/// containers (`tests/fixtures/fake_engine.py`, on a unix socket the worker's `DOCKER_HOST`
/// names) leases first, alone. It cannot get a sandbox: it hands the task back (the attempt
/// is `released`, error kind `sandbox-unavailable`, with the engine's message, and not
/// spent), says so in its log and re-probes the engine with backoff instead of leasing more.
/// The healthy worker started next runs every task, each on its one attempt.
#[test]
fn a_worker_whose_engine_refuses_containers_hands_its_tasks_back_without_spending_attempts() {
    let c = Cluster::start("refuse", "1,1", 10);
    let engine_dir = c.dir.path().join("engine");
    std::fs::create_dir(&engine_dir).unwrap();
    std::os::unix::fs::chown(&engine_dir, Some(10001), Some(10001)).unwrap();
    let engine_mount = format!("{}:/engine", engine_dir.display());
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake_engine.py");
    let fixture_mount = format!("{}:/fake_engine.py:ro", fixture.display());
    c.run(
        "engine",
        &[
            "-v",
            &engine_mount,
            "-v",
            &fixture_mount,
            "--entrypoint",
            "python3",
        ],
        &[&c.images.runtime, "/fake_engine.py", "/engine/docker.sock"],
    );
    wait_until("the test engine to listen", Duration::from_secs(30), || {
        c.logs("engine").contains("fake-engine: listening")
    });
    let since = Instant::now();
    c.start_worker_on(
        "broken",
        0,
        &[
            "-v",
            &engine_mount,
            "-e",
            "DOCKER_HOST=unix:///engine/docker.sock",
        ],
    );
    let id = c.submit("refusing-engine");
    let broken = c.worker_id("broken");
    wait_until(
        "the broken worker to hand a task back",
        Duration::from_secs(90),
        || c.stored_attempts(&id).iter().any(|a| a.worker == broken),
    );
    c.start_worker("wb", 1);
    let st = c.wait_done(&id, Duration::from_secs(180));
    let (results, attempts) = c.check_sweep(&st);
    let wb = c.worker_id("wb");
    for r in &results {
        assert_eq!(r.worker, wb, "every task ran on the healthy worker: {r:?}");
        assert_eq!(
            r.attempts, 1,
            "no attempt was spent on the broken worker: {r:?}"
        );
    }
    let of_broken: Vec<&AttemptRecord> = attempts.iter().filter(|a| a.worker == broken).collect();
    assert!(
        !of_broken.is_empty(),
        "the broken worker leased a task: {attempts:?}"
    );
    for a in &of_broken {
        assert_eq!(a.disposition, "released", "handed back: {a:?}");
        assert_eq!(
            a.error_kind.as_deref(),
            Some("sandbox-unavailable"),
            "{a:?}"
        );
        assert!(
            a.error_message
                .as_deref()
                .unwrap_or_default()
                .contains(REFUSAL),
            "the engine's message is recorded: {a:?}"
        );
    }
    for a in &attempts {
        assert!(
            a.disposition == "released" || a.disposition == "recorded",
            "no attempt requeued, failed or expired: {attempts:?}"
        );
    }
    let log = c.logs("broken");
    assert!(
        log.contains(REFUSAL),
        "the engine's message is logged:\n{log}"
    );
    assert!(
        log.lines().any(|l| {
            let l = l.to_lowercase();
            l.contains("warn")
                && l.contains("sandbox engine")
                && l.contains("unavailable")
                && l.contains("pausing leasing")
        }),
        "a warning says the engine is unavailable and leasing pauses:\n{log}"
    );
    // It re-probes with backoff (1 s doubling): no tight loop of container creates.
    let creates = c
        .logs("engine")
        .lines()
        .filter(|l| l.starts_with("fake-engine: POST") && l.contains("/containers/create"))
        .count() as u64;
    assert!(creates >= 1, "the engine was asked for a container");
    assert!(
        creates <= 2 + since.elapsed().as_secs(),
        "{creates} container creates in {:?}: the worker does not back off",
        since.elapsed()
    );
    c.assert_no_sandbox_left(&id, Duration::from_secs(60));
}
