//! The behaviour suite every `ActionStore` must pass, run through `ActionLibrary`: on the
//! embedded qdrant-edge store and on a real Qdrant server (`QDRANT_URL` when set, else a
//! throwaway server from the herd cache; a missing binary fails the test, naming the fix).

mod common;

use std::sync::Arc;

use common::{CountingWriter, HashEmbedder, access, fdef};
use herd_actions::{
    ActionError, ActionFilter, ActionLibrary, ActionStore, EdgeStore, EmbedderSpec, ServerStore,
    SkipDocstrings, StoredAction, TaskOrigin,
};

fn lib(store: &Arc<dyn ActionStore>) -> ActionLibrary {
    ActionLibrary::new(store.clone(), HashEmbedder::new("test-hash", 64))
}

async fn dedup_and_versioning(store: Arc<dyn ActionStore>, ns: &str) {
    let lib = lib(&store);
    let a = access(ns, true, true);
    let f1 = fdef(
        "area",
        "(r)",
        Some("Area of a circle of radius r."),
        "return 3.14159 * r * r",
        &[],
        &[],
    );
    let r = lib
        .add_from_cell(&a, "task-1", std::slice::from_ref(&f1), &SkipDocstrings)
        .await
        .expect("add");
    assert_eq!(r.created, vec!["area@v1"]);

    // Same function, different comments/indentation: a duplicate, nothing stored.
    let mut same = f1.clone();
    same.source = "def area(r):\n  \"\"\"Area of a circle of radius r.\"\"\"\n  # pi r^2\n  return 3.14159 * r * r\n".into();
    let r = lib
        .add_from_cell(&a, "task-2", &[same], &SkipDocstrings)
        .await
        .expect("add dup");
    assert_eq!(r.duplicates, vec!["area"]);
    assert_eq!(r.stored(), 0);
    assert_eq!(lib.size(ns).await.expect("size"), 1);

    // A different function under the same name: version 2; both retrievable.
    let f2 = fdef(
        "area",
        "(w, h)",
        Some("Area of a w by h rectangle."),
        "return w * h",
        &[],
        &[],
    );
    let r = lib
        .add_from_cell(&a, "task-3", &[f2], &SkipDocstrings)
        .await
        .expect("add v2");
    assert_eq!(r.versions, vec!["area@v2"]);
    assert_eq!(lib.size(ns).await.expect("size"), 2);
    let v1 = lib
        .get(ns, "area", Some(1))
        .await
        .expect("get")
        .expect("v1");
    let latest = lib
        .get(ns, "area", None)
        .await
        .expect("get")
        .expect("latest");
    assert_eq!(v1.signature, "(r)");
    assert_eq!(latest.version, 2);
    assert_eq!(latest.signature, "(w, h)");
    assert_eq!(latest.created_by_task, "task-3");
    assert!(latest.created_seq > v1.created_seq);
    let start = lib.start_task(&a).await.expect("start");
    let hits = lib
        .retrieve(&a, "area of a rectangle", 5, start.seq)
        .await
        .expect("retrieve");
    let labels: Vec<String> = hits.iter().map(|h| h.label()).collect();
    assert!(
        labels.contains(&"area@v1".to_string()) && labels.contains(&"area@v2".to_string()),
        "{labels:?}"
    );
    assert_eq!(labels[0], "area@v2", "{labels:?}");

    // A third version in one cell together with a duplicate of v1.
    let f3 = fdef(
        "area",
        "(s)",
        Some("Area of a square."),
        "return s * s",
        &[],
        &[],
    );
    let r = lib
        .add_from_cell(&a, "task-4", &[f3, f1], &SkipDocstrings)
        .await
        .expect("add");
    // f1 replaces f3 within the cell (later def wins): a duplicate of v1.
    assert_eq!(r.duplicates, vec!["area"]);
    assert_eq!(lib.size(ns).await.expect("size"), 2);
}

async fn docstrings_are_written_or_skipped(store: Arc<dyn ActionStore>, ns: &str) {
    let lib = lib(&store);
    let a = access(ns, true, true);
    let writer = CountingWriter::default();
    let f = fdef(
        "slugify",
        "(s)",
        None,
        "return s.lower().replace(' ', '-')",
        &[],
        &[],
    );
    let r = lib
        .add_from_cell(&a, "t", std::slice::from_ref(&f), &writer)
        .await
        .expect("add");
    assert_eq!(r.docstrings_written, 1);
    assert_eq!(writer.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let got = lib
        .get(ns, "slugify", None)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        got.docstring.as_deref(),
        Some("Auto docstring for slugify.")
    );
    // A duplicate costs no docstring call.
    lib.add_from_cell(&a, "t", &[f], &writer)
        .await
        .expect("dup");
    assert_eq!(writer.calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    let g = fdef("undocumented", "(x, y)", None, "return x ** y", &[], &[]);
    lib.add_from_cell(&a, "t", &[g], &SkipDocstrings)
        .await
        .expect("add");
    let got = lib
        .get(ns, "undocumented", None)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(got.docstring, None);
    assert_eq!(
        herd_actions::prompt_line(&got),
        "undocumented(x, y): (no description)"
    );
}

async fn namespaces_are_isolated(store: Arc<dyn ActionStore>, ns_a: &str, ns_b: &str) {
    let lib = lib(&store);
    let a = access(ns_a, true, true);
    let b = access(ns_b, true, true);
    let f = fdef(
        "parse_dates",
        "(col)",
        Some("Parse a column of date strings."),
        "return [d for d in col]",
        &[],
        &[],
    );
    lib.add_from_cell(&a, "t", std::slice::from_ref(&f), &SkipDocstrings)
        .await
        .expect("add a");
    let sb = lib.start_task(&b).await.expect("start b");
    assert_eq!(sb.library_size, 0);
    assert!(
        lib.retrieve(&b, "parse date strings", 5, u64::MAX)
            .await
            .expect("retrieve b")
            .is_empty()
    );
    // The same function stored in b is new there (dedup is per namespace).
    let r = lib
        .add_from_cell(&b, "t", &[f], &SkipDocstrings)
        .await
        .expect("add b");
    assert_eq!(r.created, vec!["parse_dates@v1"]);
    let hits = lib
        .retrieve(&b, "parse date strings", 5, u64::MAX)
        .await
        .expect("retrieve b");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].namespace, ns_b);
    assert_eq!(lib.size(ns_a).await.expect("size"), 1);
    assert_eq!(lib.size(ns_b).await.expect("size"), 1);
}

async fn online_visibility_and_off(store: Arc<dyn ActionStore>, ns: &str) {
    let lib = lib(&store);
    let a = access(ns, true, true);
    let early = lib.start_task(&a).await.expect("start");
    let f = fdef(
        "word_count",
        "(text)",
        Some("Count the words in a text."),
        "return len(text.split())",
        &[],
        &[],
    );
    lib.add_from_cell(&a, "writer", &[f], &SkipDocstrings)
        .await
        .expect("add");
    // A task that started before the write does not see it; one that starts after does.
    assert!(
        lib.retrieve(&a, "count words", 5, early.seq)
            .await
            .expect("early")
            .is_empty()
    );
    let late = lib.start_task(&a).await.expect("start");
    assert_eq!(late.library_size, 1);
    assert_eq!(
        lib.retrieve(&a, "count words", 5, late.seq)
            .await
            .expect("late")
            .len(),
        1
    );

    // `off`: nothing written, nothing retrievable.
    let off = access(ns, false, false);
    let g = fdef(
        "char_count",
        "(text)",
        Some("Count characters."),
        "return len(text)",
        &[],
        &[],
    );
    let r = lib
        .add_from_cell(&off, "t", &[g], &SkipDocstrings)
        .await
        .expect("add off");
    assert!(r.skipped.is_some());
    assert_eq!(r.stored(), 0);
    assert_eq!(lib.size(ns).await.expect("size"), 1);
    assert!(
        lib.retrieve(&off, "count words", 5, u64::MAX)
            .await
            .expect("off")
            .is_empty()
    );
    assert_eq!(lib.start_task(&off).await.expect("start").library_size, 0);
}

async fn train_then_test_freezes(store: Arc<dyn ActionStore>, ns: &str) {
    let lib = lib(&store);
    let train = herd_actions::access_for(
        herd_core::config::Accumulation::TrainThenTest,
        ns,
        herd_actions::Phase::Train,
    );
    let test = herd_actions::access_for(
        herd_core::config::Accumulation::TrainThenTest,
        ns,
        herd_actions::Phase::Test,
    );
    let origin = TaskOrigin {
        task_key: "train-1".into(),
        split: Some("train".into()),
    };
    let f = fdef(
        "median",
        "(xs)",
        Some("Median of a list of numbers."),
        "xs = sorted(xs)\nreturn xs[len(xs)//2]",
        &[],
        &[],
    );
    lib.add_from_cell(&train, origin, &[f], &SkipDocstrings)
        .await
        .expect("train add");
    let meta = lib.freeze(ns).await.expect("freeze");
    assert!(meta.frozen);
    assert_eq!(meta.frozen_at_seq, Some(1));
    assert!(lib.freeze(ns).await.expect("freeze again").frozen);

    // Test phase: reads see the training actions; its access does not write.
    let s = lib.start_task(&test).await.expect("start");
    assert_eq!(s.library_size, 1);
    let hits = lib
        .retrieve(&test, "median value", 3, s.seq)
        .await
        .expect("retrieve");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].created_split.as_deref(), Some("train"));
    let only_train = ActionFilter {
        split: Some("train".into()),
        ..Default::default()
    };
    assert_eq!(store.count(ns, &only_train).await.expect("count"), 1);
    let g = fdef(
        "mode",
        "(xs)",
        Some("Most common value."),
        "return max(set(xs), key=xs.count)",
        &[],
        &[],
    );
    let r = lib
        .add_from_cell(&test, "test-1", std::slice::from_ref(&g), &SkipDocstrings)
        .await
        .expect("test add");
    assert!(r.skipped.is_some());

    // Even a writer that ignores the barrier is refused, by the library and by the store.
    let err = lib
        .add_from_cell(&train, "late", &[g], &SkipDocstrings)
        .await
        .expect_err("frozen");
    assert!(matches!(err, ActionError::Frozen { .. }), "{err}");
    assert!(err.to_string().contains("is frozen"), "{err}");
    let item = StoredAction {
        action: lib
            .get(ns, "median", None)
            .await
            .expect("get")
            .expect("median"),
        vector: Some(vec![0.125; 64]),
    };
    assert!(matches!(
        store.upsert(ns, vec![item]).await,
        Err(ActionError::Frozen { .. })
    ));
    assert!(matches!(
        store.allocate_seq(ns, 1).await,
        Err(ActionError::Frozen { .. })
    ));
    assert_eq!(lib.size(ns).await.expect("size"), 1);
}

async fn embedder_mismatch_is_refused(store: Arc<dyn ActionStore>, ns: &str) {
    let lib = lib(&store);
    lib.ensure(ns).await.expect("create");
    let other = ActionLibrary::new(store.clone(), HashEmbedder::new("other-model", 32));
    let err = other.ensure(ns).await.expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        format!(
            "action store namespace `{ns}` was built with embedder `test-hash` (dim 64); this sweep uses `other-model` (dim 32)"
        )
    );
    let a = access(ns, true, true);
    assert!(other.retrieve(&a, "anything", 3, u64::MAX).await.is_err());
    let f = fdef("f", "()", Some("F."), "return 1", &[], &[]);
    assert!(
        other
            .add_from_cell(&a, "t", &[f], &SkipDocstrings)
            .await
            .is_err()
    );
    // A vector of the wrong dimension is refused by the store too.
    let err = store
        .ensure_namespace(
            ns,
            &EmbedderSpec {
                id: "test-hash".into(),
                dim: 65,
            },
        )
        .await
        .expect_err("dim mismatch");
    assert!(err.to_string().contains("(dim 65)"), "{err}");
}

async fn dependencies_and_export_import(
    store: Arc<dyn ActionStore>,
    ns: &str,
    ns_copy: &str,
    dir: &std::path::Path,
) {
    let lib = lib(&store);
    let a = access(ns, true, true);
    let base = fdef(
        "col_mean",
        "(xs)",
        Some("Mean of a numeric column."),
        "return float(np.mean(xs))",
        &["import numpy as np"],
        &["np", "float"],
    );
    lib.add_from_cell(&a, "t1", &[base], &SkipDocstrings)
        .await
        .expect("add base");
    let helper = fdef(
        "fmt2",
        "(x)",
        Some("Format with two decimals."),
        "return f'{x:.2f}'",
        &[],
        &[],
    );
    let top = fdef(
        "mean_report",
        "(xs)",
        Some("Report the mean of a column as text."),
        "return 'mean=' + fmt2(col_mean(xs))",
        &["import statistics as st"],
        &["fmt2", "col_mean", "print"],
    );
    lib.add_from_cell(&a, "t2", &[helper, top], &SkipDocstrings)
        .await
        .expect("add top");
    let report = lib
        .get(ns, "mean_report", None)
        .await
        .expect("get")
        .expect("stored");
    let mut calls = report.calls_generated.clone();
    calls.sort();
    assert_eq!(calls, vec!["col_mean", "fmt2"]);
    let src = lib.load_bundle(ns, &[report]).await.expect("bundle");
    assert!(src.contains("import numpy as np"), "{src}");
    assert!(src.contains("import statistics as st"), "{src}");
    let (m, f, r) = (
        src.find("def col_mean").expect("col_mean"),
        src.find("def fmt2").expect("fmt2"),
        src.find("def mean_report").expect("mean_report"),
    );
    assert!(m < r && f < r, "{src}");

    // Export and import into a fresh namespace: same actions, same vectors, no re-embedding.
    let path = dir.join("saved.jsonl");
    assert_eq!(lib.export(ns, &path).await.expect("export"), 3);
    let emb = HashEmbedder::new("test-hash", 64);
    let lib2 = ActionLibrary::new(store.clone(), emb.clone());
    let rep = lib2.import(ns_copy, &path).await.expect("import");
    assert_eq!((rep.imported, rep.duplicates, rep.reembedded), (3, 0, 0));
    assert_eq!(emb.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    let orig = lib.list(ns).await.expect("list");
    let copy = lib2.list(ns_copy).await.expect("list");
    let strip = |v: &[herd_actions::Action]| -> Vec<(String, u32, String, Vec<String>)> {
        v.iter()
            .map(|a| {
                (
                    a.name.clone(),
                    a.version,
                    a.source.clone(),
                    a.imports.clone(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&orig), strip(&copy));
    assert!(copy.iter().all(|a| a.namespace == ns_copy));
    let orig_vecs = store
        .list(ns, &ActionFilter::by_name("fmt2"), true)
        .await
        .expect("vec");
    let copy_vecs = store
        .list(ns_copy, &ActionFilter::by_name("fmt2"), true)
        .await
        .expect("vec");
    let (ov, cv) = (
        orig_vecs[0].vector.as_ref().expect("v"),
        copy_vecs[0].vector.as_ref().expect("v"),
    );
    assert!(ov.iter().zip(cv).all(|(x, y)| (x - y).abs() < 1e-5));
    // Importing again adds nothing.
    let rep = lib2.import(ns_copy, &path).await.expect("re-import");
    assert_eq!((rep.imported, rep.duplicates), (0, 3));
    // A library built with another embedder re-embeds on import.
    let other = ActionLibrary::new(store.clone(), HashEmbedder::new("other-model", 32));
    let ns_other = format!("{ns_copy}-other");
    let rep = other.import(&ns_other, &path).await.expect("import other");
    assert_eq!((rep.imported, rep.reembedded), (3, 3));
    let hits = other
        .retrieve(
            &access(&ns_other, true, false),
            "format two decimals",
            1,
            u64::MAX,
        )
        .await
        .expect("retrieve");
    assert_eq!(hits[0].name, "fmt2");
    assert_eq!(hits[0].embedder, "other-model");
}

async fn snapshot_copies_and_freezes(store: Arc<dyn ActionStore>, ns: &str, snap: &str) {
    let lib = lib(&store);
    let a = access(ns, true, true);
    let f = fdef(
        "title_case",
        "(s)",
        Some("Title-case a string."),
        "return s.title()",
        &[],
        &[],
    );
    lib.add_from_cell(&a, "t", &[f], &SkipDocstrings)
        .await
        .expect("add");
    let rep = lib.snapshot(ns, snap, true).await.expect("snapshot");
    assert_eq!(rep.imported, 1);
    let meta = store.meta(snap).await.expect("meta").expect("exists");
    assert!(meta.frozen);
    // The source stays writable.
    let g = fdef(
        "upper",
        "(s)",
        Some("Upper-case."),
        "return s.upper()",
        &[],
        &[],
    );
    lib.add_from_cell(&a, "t", &[g], &SkipDocstrings)
        .await
        .expect("source writable");
    assert_eq!(lib.size(snap).await.expect("size"), 1);
    assert_eq!(lib.size(ns).await.expect("size"), 2);
    let mut all = store.namespaces().await.expect("namespaces");
    all.retain(|n| n == ns || n == snap);
    assert_eq!(all.len(), 2);
}

/// Runs the whole suite on `store`, namespaces prefixed by `prefix`.
async fn run_suite(store: Arc<dyn ActionStore>, prefix: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = |s: &str| format!("{prefix}/{s}");
    dedup_and_versioning(store.clone(), &n("dedup")).await;
    docstrings_are_written_or_skipped(store.clone(), &n("docs")).await;
    namespaces_are_isolated(store.clone(), &n("arm-a"), &n("arm-b")).await;
    online_visibility_and_off(store.clone(), &n("online")).await;
    train_then_test_freezes(store.clone(), &n("ttt")).await;
    embedder_mismatch_is_refused(store.clone(), &n("mismatch")).await;
    dependencies_and_export_import(store.clone(), &n("deps"), &n("deps-copy"), dir.path()).await;
    snapshot_copies_and_freezes(store.clone(), &n("snap-src"), &n("snap-dst")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_store_passes_the_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn ActionStore> = Arc::new(EdgeStore::open(dir.path()).await.expect("open"));
    run_suite(store, "suite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_store_passes_the_suite() {
    let qdrant = herd_testkit::QdrantEndpoint::from_env_or_start();
    let store = ServerStore::connect(&qdrant.url, qdrant.api_key.clone())
        .await
        .expect("connect to the Qdrant server");
    let store: Arc<dyn ActionStore> = Arc::new(store);
    let prefix = format!("suite-{}", uuid::Uuid::new_v4().simple());
    run_suite(store.clone(), &prefix).await;
    for ns in store.namespaces().await.expect("namespaces") {
        if ns.starts_with(&prefix) {
            store.drop_namespace(&ns).await.expect("cleanup");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_shard_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = "sweep/arm/model";
    let a = access(ns, true, true);
    {
        let store: Arc<dyn ActionStore> =
            Arc::new(EdgeStore::open(dir.path()).await.expect("open"));
        let lib = lib(&store);
        let f = fdef(
            "to_celsius",
            "(f)",
            Some("Convert Fahrenheit to Celsius."),
            "return (f - 32) * 5 / 9",
            &[],
            &[],
        );
        let g = fdef(
            "to_kelvin",
            "(c)",
            Some("Convert Celsius to Kelvin."),
            "return c + 273.15",
            &[],
            &[],
        );
        lib.add_from_cell(&a, "t1", &[f, g], &SkipDocstrings)
            .await
            .expect("add");
        lib.freeze("sweep/frozen").await.expect("freeze");
    }
    // A new process: everything is back, including the sequence and the frozen flag.
    let store: Arc<dyn ActionStore> = Arc::new(EdgeStore::open(dir.path()).await.expect("reopen"));
    let lib = lib(&store);
    assert_eq!(lib.size(ns).await.expect("size"), 2);
    let s = lib.start_task(&a).await.expect("start");
    assert_eq!((s.seq, s.library_size), (2, 2));
    let hits = lib
        .retrieve(&a, "fahrenheit to celsius", 1, s.seq)
        .await
        .expect("retrieve");
    assert_eq!(hits[0].name, "to_celsius");
    let h = fdef(
        "to_f",
        "(c)",
        Some("Celsius to Fahrenheit."),
        "return c * 9 / 5 + 32",
        &[],
        &[],
    );
    lib.add_from_cell(&a, "t2", &[h], &SkipDocstrings)
        .await
        .expect("add after reopen");
    assert_eq!(
        lib.get(ns, "to_f", None)
            .await
            .expect("get")
            .expect("to_f")
            .created_seq,
        2
    );
    assert!(
        store
            .meta("sweep/frozen")
            .await
            .expect("meta")
            .expect("exists")
            .frozen
    );
    let mut names = store.namespaces().await.expect("namespaces");
    names.sort();
    assert_eq!(
        names,
        vec!["sweep/arm/model".to_string(), "sweep/frozen".to_string()]
    );
    // Dropping a namespace removes it for good.
    store.drop_namespace("sweep/frozen").await.expect("drop");
    assert!(store.meta("sweep/frozen").await.expect("meta").is_none());
    let _ = store
        .count(ns, &ActionFilter::default())
        .await
        .expect("count");
}
