//! A stored action's load-source defines its imports with their aliases and its generated
//! dependencies, so it runs in a fresh interpreter (host `python3` stands in for the kernel).

mod common;

use std::process::Command;
use std::sync::Arc;

use common::{HashEmbedder, access, fdef};
use herd_actions::{ActionLibrary, ActionStore, EdgeStore, SkipDocstrings};

fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

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
    if python_has("numpy") {
        assert_eq!(
            run_python(&format!("{np_src}\nprint(np_total([1, 2, 3]))")),
            "6"
        );
    } else {
        eprintln!("numpy not installed on the host: checked the numpy load-source as text only");
    }

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
