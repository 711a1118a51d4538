//! The compose deployment itself: `deploy/compose.yaml` brought up as a user does it
//! (docs/deploy.md: `docker compose --env-file ~/.cache/herd/images/tags.env -f
//! deploy/compose.yaml up -d`, secrets in `$HERD_SECRETS_DIR`), under a project name of its
//! own, with two workers and an override file that adds the scripted model
//! (`tests/fixtures/fake_model.py`) on the deployment's internal network. A sweep submitted
//! from the host through the published coordinator port (127.0.0.1 only) must finish with one
//! result per task and the expected accuracy; `docker compose down -v` must then leave no
//! container, network or volume of the project, and no sandbox.
//!
//! Images come from `scripts/build-images.sh runtime redis qdrant` (once per test process; a
//! no-op when up to date), Compose v2 from `scripts/setup-compose.sh`, the sandbox image from
//! `scripts/setup-sandbox.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use herd_core::ResultRecord;
use herd_tests::*;

/// The herd-mini items of the sweep: only mini-arith-01 (37 × 24) has gold answer 888.
const IDS: [&str; 4] = [
    "mini-arith-01",
    "mini-arith-02",
    "mini-arith-03",
    "mini-arith-04",
];

/// One compose project; `down -v` (and the removal of any sandbox of its sweep) on drop.
struct Project {
    name: String,
    dir: tempfile::TempDir,
    override_file: PathBuf,
    token: String,
    coordinator_port: u16,
    env: Vec<(String, String)>,
    sweep: Mutex<Option<String>>,
}

impl Project {
    /// Writes the secrets (`herd_token`, `qdrant_api_key`, readable by uid 10001, as
    /// docs/deploy.md says) and the override file adding the model service.
    fn new(tag: &str) -> Project {
        let images = images();
        let tags = tags_env_path();
        let recorded = std::fs::read_to_string(&tags)
            .unwrap_or_else(|e| panic!("{} (written by build-images.sh): {e}", tags.display()));
        for tag in [&images.runtime, &images.redis, &images.qdrant] {
            assert!(
                recorded.lines().any(|l| l.ends_with(&format!("={tag}"))),
                "{} does not name {tag}:\n{recorded}",
                tags.display()
            );
        }
        let coordinator_port = free_port();
        let name = format!(
            "herdcompose-{tag}-{}-{coordinator_port}",
            std::process::id()
        );
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        let token = format!("compose-test-token-{coordinator_port}");
        for (file, value) in [
            ("herd_token", token.clone()),
            (
                "qdrant_api_key",
                format!("compose-test-qdrant-{coordinator_port}"),
            ),
        ] {
            let p = secrets.join(file);
            std::fs::write(&p, value).unwrap();
            std::os::unix::fs::chown(&p, Some(10001), Some(10001)).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o400)).unwrap();
        }
        // The action embedder, if fetched (this sweep stores no action: an empty dir will do).
        let mut models = models_dir();
        if !models.is_dir() {
            models = dir.path().join("models");
            std::fs::create_dir(&models).unwrap();
        }
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake_model.py");
        let override_file = dir.path().join("test-override.yaml");
        std::fs::write(
            &override_file,
            format!(
                r#"# The scripted model, on the deployment's internal network only.
services:
  model:
    image: ${{HERD_RUNTIME_IMAGE:-herd-runtime:current}}
    entrypoint: ["python3", "/fake_model.py"]
    command: ["8000", "1,1"]
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    volumes: ["{}:/fake_model.py:ro"]
    networks: [internal]
    healthcheck:
      test: ["CMD", "python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 8000), 2)"]
      interval: 1s
      timeout: 3s
      retries: 30
"#,
                fixture.display()
            ),
        )
        .unwrap();
        let env = vec![
            ("HERD_SECRETS_DIR", secrets.display().to_string()),
            ("HERD_COORDINATOR_PORT", coordinator_port.to_string()),
            ("HERD_DASHBOARD_PORT", free_port().to_string()),
            ("HERD_MODELS_DIR", models.display().to_string()),
            ("HERD_WORKER_SLOTS", "1".to_string()),
            ("HERD_LOG", "info".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Project {
            name,
            dir,
            override_file,
            token,
            coordinator_port,
            env,
            sweep: Mutex::new(None),
        }
    }

    /// `docker compose --env-file tags.env -f deploy/compose.yaml -f OVERRIDE -p NAME ARGS…`
    /// with the project's settings as the environment (none of the caller's `HERD_*`).
    fn compose(&self, args: &[&str]) -> (bool, String, String) {
        let compose_file = workspace_root().join("deploy/compose.yaml");
        let mut cmd = Command::new("docker");
        cmd.arg("compose")
            .arg("--env-file")
            .arg(tags_env_path())
            .arg("-f")
            .arg(&compose_file)
            .arg("-f")
            .arg(&self.override_file)
            .args(["-p", &self.name, "--progress", "quiet"])
            .args(args);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("HERD_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .expect("docker compose (scripts/setup-compose.sh) must be installed");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn compose_ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.compose(args);
        assert!(ok, "docker compose {} failed:\n{out}{err}", args.join(" "));
        out
    }

    /// The container ids of `service`.
    fn ids(&self, service: &str) -> Vec<String> {
        self.compose_ok(&["ps", "-q", service])
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    fn label(&self) -> String {
        format!("label=com.docker.compose.project={}", self.name)
    }

    /// What of the project is left: containers, networks, volumes (as `docker … ls` ids).
    fn leftovers(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let ls = |what: &[&str]| -> Vec<String> {
            let mut args = what.to_vec();
            let label = self.label();
            args.extend_from_slice(&["--filter", &label]);
            docker_ok(&args)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        (
            ls(&["ps", "-aq"]),
            ls(&["network", "ls", "-q"]),
            ls(&["volume", "ls", "-q"]),
        )
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let (_, out, err) = self.compose(&["logs", "--no-color", "--tail", "60"]);
            eprintln!("===== docker compose logs =====\n{out}{err}");
        }
        let _ = self.compose(&["down", "-v", "--remove-orphans", "--timeout", "10"]);
        if let Some(sweep) = self.sweep.lock().ok().and_then(|s| s.clone()) {
            let ids = labelled_containers(&format!("herd.sweep={sweep}"));
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids.iter().map(String::as_str));
                let _ = docker(&args);
            }
        }
    }
}

/// Every task answered `888`: right exactly where the gold answer is 888 (mini-arith-01),
/// with two model calls of 100 + 20 tokens, in a docker sandbox, on its first attempt.
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
        assert_eq!(r.attempts, 1, "{r:?}");
    }
    let mut items: Vec<&str> = results.iter().map(|r| r.item_id.as_str()).collect();
    items.sort();
    assert_eq!(items, IDS.to_vec(), "the sweep's items");
}

#[test]
fn a_sweep_on_the_compose_deployment_completes_and_down_leaves_nothing() {
    let p = Project::new("sweep");
    p.compose_ok(&["up", "-d", "--wait", "--scale", "worker=2"]);
    let workers = p.ids("worker");
    assert_eq!(workers.len(), 2, "two worker replicas");
    // Only the coordinator and the dashboard publish a port, on 127.0.0.1.
    let coordinator = p
        .ids("coordinator")
        .pop()
        .expect("the coordinator container");
    let published = docker_ok(&["port", &coordinator, "7700/tcp"]);
    assert_eq!(
        published.trim(),
        format!("127.0.0.1:{}", p.coordinator_port),
        "the coordinator is published on loopback only"
    );
    for service in ["redis", "qdrant", "worker", "model"] {
        for id in p.ids(service) {
            assert_eq!(
                docker_ok(&["port", &id]).trim(),
                "",
                "{service} publishes no port"
            );
        }
    }

    let url = format!("http://127.0.0.1:{}", p.coordinator_port);
    let sweep = p.dir.path().join("compose-sweep.toml");
    std::fs::write(
        &sweep,
        mini_docker_sweep("compose-sweep", &IDS, "off", "http://model:8000/v1"),
    )
    .unwrap();
    let id = submit(&url, &sweep, Some(&p.token));
    *p.sweep.lock().unwrap() = Some(id.clone());
    let st = wait_done(&url, &id, Some(&p.token), Duration::from_secs(180));
    assert_eq!(st["total"], 4, "{st}");
    assert_eq!(st["correct"], 1, "{st}");

    // The outputs, copied out of the coordinator's volume.
    let out_dir = st["out_dir"].as_str().expect("out_dir").to_string();
    let local = p.dir.path().join("out");
    std::fs::create_dir(&local).unwrap();
    let src = format!("{coordinator}:{out_dir}/.");
    let dest = local.display().to_string();
    wait_until("the sweep's outputs", Duration::from_secs(60), || {
        docker(&["cp", &src, &dest]).0 && local.join("results.parquet").exists()
    });
    let mut local_st = st.clone();
    local_st["out_dir"] = dest.clone().into();
    let (results, attempts) = results_of(&local_st);
    assert_one_result_each(&results, IDS.len());
    assert_expected_accuracy(&results);
    assert!(
        attempts.iter().all(|a| a.disposition == "recorded"),
        "{attempts:?}"
    );
    let worker_ids: Vec<String> = results.iter().map(|r| r.worker.clone()).collect();

    let (ok, out, err) = p.compose(&["down", "-v"]);
    assert!(ok, "docker compose down -v:\n{out}{err}");
    let (containers, networks, volumes) = p.leftovers();
    assert_eq!(containers, Vec::<String>::new(), "containers left");
    assert_eq!(networks, Vec::<String>::new(), "networks left");
    assert_eq!(volumes, Vec::<String>::new(), "volumes left");
    let mut sandboxes = labelled_containers(&format!("herd.sweep={id}"));
    for w in &worker_ids {
        sandboxes.extend(labelled_containers(&format!("herd.worker={w}")));
    }
    assert_eq!(sandboxes, Vec::<String>::new(), "sandbox containers left");
}
