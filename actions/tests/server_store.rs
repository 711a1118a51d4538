//! What only a real Qdrant server shows: paging through a namespace larger than one page,
//! upserts that repeat, a wrong API key or an unreachable URL at connect, and the server
//! killed and restarted under a live store (its storage on disk).

mod common;

use std::sync::Arc;

use common::{HashEmbedder, access, fdef};
use herd_actions::action::action_id;
use herd_actions::{
    Action, ActionFilter, ActionLibrary, ActionStore, EmbedderSpec, ServerStore, SkipDocstrings,
    StoredAction,
};
use herd_testkit::{QdrantEndpoint, QdrantServer};

fn spec() -> EmbedderSpec {
    EmbedderSpec {
        id: "test-hash".into(),
        dim: 8,
    }
}

fn action(ns: &str, i: u64) -> StoredAction {
    let name = format!("f{i}");
    let mut v = vec![0.0f32; 8];
    v[(i % 8) as usize] = 1.0;
    v[((i / 8) % 8) as usize] += 0.5;
    StoredAction {
        action: Action {
            id: action_id(ns, &name, 1),
            namespace: ns.into(),
            name: name.clone(),
            version: 1,
            signature: "()".into(),
            returns: None,
            docstring: Some(format!("Function number {i}.")),
            source: format!("def {name}():\n    return {i}\n"),
            imports: vec![],
            calls_generated: vec![],
            source_hash: format!("hash-{i}"),
            created_by_task: "t".into(),
            created_split: None,
            created_seq: i,
            created_at: "2026-12-01T00:00:00Z".into(),
            embedder: "test-hash".into(),
        },
        vector: Some(v),
    }
}

async fn connect(q: &QdrantEndpoint) -> ServerStore {
    ServerStore::connect(&q.url, q.api_key.clone())
        .await
        .expect("connect to the Qdrant server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_through_more_than_one_page_and_upserts_are_idempotent() {
    let q = QdrantEndpoint::from_env_or_start();
    let store = connect(&q).await;
    let ns = format!("paging-{}", uuid::Uuid::new_v4().simple());
    store.ensure_namespace(&ns, &spec()).await.expect("ensure");
    let items: Vec<StoredAction> = (0..1100).map(|i| action(&ns, i)).collect();
    for chunk in items.chunks(300) {
        store.upsert(&ns, chunk.to_vec()).await.expect("upsert");
    }
    // The same points again: replaced, not added.
    store
        .upsert(&ns, items[..50].to_vec())
        .await
        .expect("upsert again");
    let all = store
        .list(&ns, &ActionFilter::default(), true)
        .await
        .expect("list");
    assert_eq!(all.len(), 1100, "every page of the scroll is read");
    let mut names: Vec<String> = all.iter().map(|a| a.action.name.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 1100, "no point twice");
    assert!(
        all.iter()
            .all(|a| a.vector.as_ref().map(Vec::len) == Some(8))
    );
    assert_eq!(
        store
            .count(&ns, &ActionFilter::default())
            .await
            .expect("count"),
        1100,
        "the metadata point is not counted"
    );
    assert_eq!(
        store
            .count(&ns, &ActionFilter::before(100))
            .await
            .expect("count"),
        100
    );
    // Namespace metadata survives a second connection (a restarted coordinator).
    let again = connect(&q).await;
    let meta = again.meta(&ns).await.expect("meta").expect("exists");
    assert_eq!(meta.embedder, spec());
    assert!(again.namespaces().await.expect("namespaces").contains(&ns));
    again.drop_namespace(&ns).await.expect("drop");
    assert!(again.meta(&ns).await.expect("meta").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_or_an_unreachable_url_is_a_clear_error() {
    let server = QdrantServer::start();
    let err = ServerStore::connect(&server.url, Some("not-the-key".into()))
        .await
        .expect_err("a wrong key is refused");
    let msg = err.to_string();
    assert!(msg.contains(&server.url), "names the URL: {msg}");
    assert!(msg.contains("refused the API key"), "{msg}");
    assert!(msg.contains("HERD_QDRANT_API_KEY"), "names the fix: {msg}");
    let err = ServerStore::connect(&server.url, None)
        .await
        .expect_err("no key is refused");
    assert!(err.to_string().contains("none was sent"), "{err}");

    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let err = ServerStore::connect(&url, None)
        .await
        .expect_err("nothing listens");
    assert!(err.is_unavailable(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&url), "names the URL: {msg}");
    assert!(msg.contains("gRPC port"), "names the fix: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_restarted_server_keeps_every_acknowledged_action() {
    let mut server = QdrantServer::start();
    let store: Arc<dyn ActionStore> = Arc::new(
        ServerStore::connect(&server.url, Some(server.api_key.clone()))
            .await
            .expect("connect"),
    );
    let lib = ActionLibrary::new(store.clone(), HashEmbedder::new("test-hash", 64));
    let ns = "sweep/online/fake";
    let a = access(ns, true, true);
    let f = fdef(
        "add_two_numbers",
        "(a, b)",
        Some("Add two whole numbers."),
        "return a + b",
        &[],
        &[],
    );
    let r = lib
        .add_from_cell(&a, "task-1", &[f], &SkipDocstrings)
        .await
        .expect("add");
    assert_eq!(r.created, vec!["add_two_numbers@v1"]);

    // SIGKILL: no clean shutdown. While it is down, calls fail as unavailable.
    server.kill();
    let start = lib.start_task(&a).await;
    let err = start.expect_err("the server is down");
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains(&server.url), "{err}");

    // The same store object recovers once the server is back on the same storage.
    server.restart();
    let s = lib.start_task(&a).await.expect("start after restart");
    assert_eq!(s.library_size, 1, "the acknowledged action survived");
    let hits = lib
        .retrieve(&a, "add two numbers", 3, s.seq)
        .await
        .expect("retrieve after restart");
    assert_eq!(hits[0].name, "add_two_numbers");
    let g = fdef(
        "double",
        "(x)",
        Some("Double a number."),
        "return 2 * x",
        &[],
        &[],
    );
    let r = lib
        .add_from_cell(&a, "task-2", &[g], &SkipDocstrings)
        .await
        .expect("write after restart");
    assert_eq!(r.created, vec!["double@v1"]);
    assert_eq!(lib.size(ns).await.expect("size"), 2);
    // The sequence went on from where it was, never reusing a value.
    let all = store
        .list(ns, &ActionFilter::default(), false)
        .await
        .expect("list");
    let seqs: std::collections::BTreeSet<u64> = all.iter().map(|a| a.action.created_seq).collect();
    assert_eq!(seqs.len(), 2, "{all:?}");
}
