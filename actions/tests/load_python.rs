//! A stored action's load-source defines its imports with their aliases and its generated
//! dependencies, so it runs in a fresh interpreter: host `python3` for the standard library,
//! and a fresh Docker kernel of the sandbox image for an action that imports numpy.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::{HashEmbedder, access, fdef};
use herd_actions::{ActionLibrary, ActionStore, EdgeStore, SkipDocstrings};

fn run_python(src: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", src])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed:\n{src}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_source_keeps_aliases_and_dependencies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn ActionStore> = Arc::new(EdgeStore::open(dir.path()).await.expect("open"));
    let lib = ActionLibrary::new(store, HashEmbedder::new("test-hash", 32));
    let ns = "py";
    let a = access(ns, true, true);
    let np_fn = fdef(
        "np_total",
        "(xs)",
        Some("Sum of an array with numpy."),
        "return int(np.sum(np.array(xs)))",
        &["import numpy as np"],
        &["int", "np"],
    );
    let st_fn = fdef(
        "median_of",
        "(xs)",
        Some("Median with the statistics module."),
        "return st.median(xs)",
        &["import statistics as st", "from math import floor as fl"],
        &["st"],
    );
    let top = fdef(
        "describe",
        "(xs)",
        Some("Describe a list by its median, rounded down."),
        "return f'median={fl(median_of(xs))}'",
        &["from math import floor as fl"],
        &["fl", "median_of"],
    );
    lib.add_from_cell(&a, "t1", &[np_fn], &SkipDocstrings)
        .await
        .expect("add np");
    lib.add_from_cell(&a, "t2", &[st_fn], &SkipDocstrings)
        .await
        .expect("add st");
    lib.add_from_cell(&a, "t3", &[top], &SkipDocstrings)
        .await
        .expect("add top");

    let np_action = lib
        .get(ns, "np_total", None)
        .await
        .expect("get")
        .expect("np_total");
    let np_src = lib.load_bundle(ns, &[np_action]).await.expect("bundle");
    assert!(np_src.contains("import numpy as np\n"), "{np_src}");
    assert!(!np_src.contains("import numpy\n"), "{np_src}");

    // Only `describe` is asked for; its dependency `median_of` and both aliases come along.
    let describe = lib
        .get(ns, "describe", None)
        .await
        .expect("get")
        .expect("describe");
    let src = lib.load_bundle(ns, &[describe]).await.expect("bundle");
    assert!(src.contains("import statistics as st"), "{src}");
    assert_eq!(
        run_python(&format!("{src}\nprint(describe([3, 1, 4, 1, 5]))")),
        "median=3"
    );
    // And in a fresh interpreter `st` and `fl` are the aliased modules.
    assert_eq!(
        run_python(&format!("{src}\nprint(st.__name__, fl.__name__)")),
        "statistics floor"
    );
}

/// A kernel host with no functions (the test's cells make no host calls).
struct NoHost;

#[async_trait::async_trait]
impl herd_core::kernel::HostCalls for NoHost {
    async fn call(
        &self,
        name: &str,
        _args: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        Err(format!("no host function `{name}` in this test"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_that_imports_numpy_runs_in_a_fresh_docker_kernel() {
    use herd_core::config::{SandboxConfig, SandboxKind};
    use herd_sandbox::{BuildOptions, SandboxProvider, TaskLabels};
    let timeout = std::time::Duration::from_secs(60);
    // Idempotent: the setup script has built the image already.
    herd_sandbox::build_image(&BuildOptions::default())
        .await
        .expect("the sandbox image");
    let cfg = SandboxConfig {
        kind: SandboxKind::Docker,
        pool_size: 0,
        ..SandboxConfig::default()
    };
    let worker = format!("test-actions-np-{}", std::process::id());
    let provider = SandboxProvider::new(&cfg, &worker).await.expect("docker");
    let labels = |task: &str| TaskLabels {
        sweep: "actions-test".into(),
        task: task.into(),
    };

    // The agent defines the action in one task's kernel; the sandbox reports its metadata.
    let mut first = provider
        .acquire(labels("t1"), false)
        .await
        .expect("kernel 1");
    let cell = "import numpy as np\n\
def np_total(xs):\n    \"\"\"Sum a list with numpy.\"\"\"\n    return int(np.sum(np.array(xs)))\n\
np_total([1])";
    let out = first.run_cell(cell, timeout, &NoHost).await.expect("cell");
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.functions.len(), 1, "{:?}", out.functions);
    assert_eq!(
        out.functions[0].imports,
        vec!["import numpy as np".to_string()]
    );
    first.close().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn ActionStore> = Arc::new(EdgeStore::open(dir.path()).await.expect("open"));
    let lib = ActionLibrary::new(store, HashEmbedder::new("test-hash", 32));
    let a = access("np", true, true);
    lib.add_from_cell(&a, "t1", &out.functions, &SkipDocstrings)
        .await
        .expect("add");
    let action = lib
        .get("np", "np_total", None)
        .await
        .expect("get")
        .expect("stored");
    let src = lib.load_bundle("np", &[action]).await.expect("bundle");

    // A later task's fresh kernel, where `np` was never imported, loads and calls it.
    let mut second = provider
        .acquire(labels("t2"), false)
        .await
        .expect("kernel 2");
    let fresh = second
        .run_cell("'np' in globals()", timeout, &NoHost)
        .await
        .expect("cell");
    assert_eq!(fresh.result.as_deref(), Some("False"));
    let out = second
        .run_cell(
            &format!("{src}\nnp_total([1, 2, 3]), np.__name__"),
            timeout,
            &NoHost,
        )
        .await
        .expect("cell");
    assert!(out.error.is_none(), "{src}\n{:?}", out.error);
    assert_eq!(out.result.as_deref(), Some("(6, 'numpy')"));
    second.close().await;
    provider.shutdown().await;
}
