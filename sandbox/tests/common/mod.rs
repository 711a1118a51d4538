//! Test doubles and helpers shared by the sandbox's integration tests.
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use herd_core::config::{SandboxConfig, SandboxKind};
use herd_core::kernel::{CellOutcome, CodeSession, HostCalls};
use serde_json::{Value, json};

/// A host with two functions: `echo` returns its arguments, `fail` raises; records every call.
#[derive(Default)]
pub struct TestHost {
    pub calls: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl HostCalls for TestHost {
    async fn call(&self, name: &str, args: Value) -> Result<Value, String> {
        self.calls
            .lock()
            .unwrap()
            .push((name.to_owned(), args.clone()));
        match name {
            "echo" => Ok(json!({"echoed": args})),
            "fail" => Err("the worker refused: quota exceeded".into()),
            other => Err(format!("unknown host function {other}")),
        }
    }
}

pub const CELL_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(session: &mut Box<dyn CodeSession>, code: &str) -> CellOutcome {
    session
        .run_cell(code, CELL_TIMEOUT, &TestHost::default())
        .await
        .expect("sandbox failure")
}

/// Runs `code` and asserts it raised no error; returns its outcome.
pub async fn run_ok(session: &mut Box<dyn CodeSession>, code: &str) -> CellOutcome {
    let out = run(session, code).await;
    assert!(
        out.error.is_none(),
        "cell `{code}` failed: {:?}\noutput: {}",
        out.error,
        out.output
    );
    out
}

pub fn local_config() -> SandboxConfig {
    SandboxConfig {
        kind: SandboxKind::Local,
        memory_mb: 1024,
        ..SandboxConfig::default()
    }
}

pub fn docker_config(pool_size: u32) -> SandboxConfig {
    SandboxConfig {
        kind: SandboxKind::Docker,
        image: None,
        pool_size,
        memory_mb: 256,
        cpus: 1.0,
        pids_limit: 64,
        max_starts_per_second: 20.0,
        runtime: test_runtime(),
    }
}

/// The runtime the Docker suite runs under: `HERD_TEST_SANDBOX_RUNTIME` (scripts/test.sh
/// runs the suite again with `runsc` when it is registered), else the engine's default.
pub fn test_runtime() -> Option<String> {
    std::env::var("HERD_TEST_SANDBOX_RUNTIME")
        .ok()
        .filter(|r| !r.is_empty())
}

static IMAGE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// Builds the sandbox image once per test process (idempotent; minutes the very first time).
pub async fn ensure_image() -> String {
    IMAGE
        .get_or_init(|| async {
            herd_sandbox::build_image(&herd_sandbox::BuildOptions::default())
                .await
                .expect("building the sandbox image")
        })
        .await
        .clone()
}

/// A worker id no other test uses.
pub fn worker_id(test: &str) -> String {
    format!(
        "test-{test}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

/// Ids of containers (any state) labelled with this worker id, via the docker CLI-free API.
pub async fn containers_of(worker: &str) -> Vec<String> {
    use bollard::query_parameters::ListContainersOptions;
    let docker = bollard::Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let mut filters = std::collections::HashMap::new();
    filters.insert("label".to_owned(), vec![format!("herd.worker={worker}")]);
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .unwrap();
    list.into_iter().filter_map(|c| c.id).collect()
}
