//! One behavioural suite for `StateStore`, run against both implementations (a temp redb
//! file, and a `redis-server` child process on a free loopback port), plus tests specific
//! to each store and an ignored throughput benchmark.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use herd_core::result::{AttemptRecord, ResultRecord};

use super::embedded::bench_store_apply;
use super::{
    EmbeddedStore, LeaseRecord, Mutation, RedisStore, Snapshot, StateStore, StoreError,
    SweepRecord, TaskProgress,
};

// ---------------------------------------------------------------- fixtures

/// A place a store lives; `open` may be called again (after dropping the last store) to
/// check what a restarted coordinator sees.
#[async_trait]
trait Backend: Send + Sync {
    async fn open(&self) -> Arc<dyn StateStore>;
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "herd-store-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            name
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct EmbeddedBackend {
    dir: TempDir,
}

impl EmbeddedBackend {
    fn new(name: &str) -> Self {
        Self {
            dir: TempDir::new(name),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.0.join("nested").join("state.redb")
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn open(&self) -> Arc<dyn StateStore> {
        Arc::new(
            EmbeddedStore::open(&self.file())
                .await
                .expect("open embedded store"),
        )
    }
}

/// A `redis-server` child process on a free loopback port, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    async fn start() -> Self {
        let binary = find_on_path("redis-server").unwrap_or_else(|| {
            panic!(
                "`redis-server` is not on PATH; the Redis state-store tests need it. \
                 Install it with `sudo scripts/setup-redis.sh`"
            )
        });
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("failed to start `{}`: {e}", binary.display()));
            for _ in 0..200 {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!("redis-server on port {port} exited with {status}");
                    break;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Self { child, port };
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
            if last_error.is_empty() {
                last_error = format!("redis-server did not listen on port {port} within 5 s");
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

struct RedisBackend {
    server: RedisServer,
    prefix: String,
}

impl RedisBackend {
    async fn new(name: &str) -> Self {
        Self {
            server: RedisServer::start().await,
            prefix: format!("test-{}-{}:", name, uuid::Uuid::new_v4()),
        }
    }

    async fn connect(&self) -> RedisStore {
        RedisStore::connect_with_prefix(&self.server.url(), &self.prefix)
            .await
            .expect("connect to redis")
    }

    async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.server.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection")
    }
}

#[async_trait]
impl Backend for RedisBackend {
    async fn open(&self) -> Arc<dyn StateStore> {
        Arc::new(self.connect().await)
    }
}

// ---------------------------------------------------------------- records

fn sweep(id: &str, state: &str) -> SweepRecord {
    SweepRecord {
        sweep_id: id.to_string(),
        name: format!("{id} name"),
        config_toml: "[sweep]\nname = \"x\"\n".to_string(),
        origin: "cli".to_string(),
        base_dir: "/data/base".to_string(),
        out_dir: format!("/data/out/{id}"),
        state: state.to_string(),
        created_unix_ms: 1_700_000_000_000,
        fingerprints: vec![("gaia".to_string(), "sha256:aa".to_string())],
        frozen: vec!["arm-a".to_string()],
        next_seq: 17,
        actions_from: String::new(),
    }
}

fn lease(sweep: &str, task: &str, attempt: u32) -> LeaseRecord {
    LeaseRecord {
        sweep_id: sweep.to_string(),
        task_key: task.to_string(),
        lease_id: format!("lease-{task}-{attempt}"),
        worker_id: "w1".to_string(),
        attempt,
        deadline_unix_ms: 2_000 + u64::from(attempt),
        started_unix_ms: 1_000,
    }
}

fn progress(sweep: &str, task: &str, attempts: u32) -> TaskProgress {
    TaskProgress {
        sweep_id: sweep.to_string(),
        task_key: task.to_string(),
        attempts,
        last_error: (attempts > 1).then(|| format!("error after {attempts} attempts")),
    }
}

fn result(sweep: &str, task: &str, answer: &str) -> ResultRecord {
    ResultRecord {
        sweep: sweep.to_string(),
        task_key: task.to_string(),
        benchmark: "gaia".to_string(),
        status: "scored".to_string(),
        answer: Some(answer.to_string()),
        correct: Some(true),
        score: Some(0.5),
        cost_usd: 0.25,
        metadata: r#"{"level":"1","note":"ünïcødé ✓"}"#.to_string(),
        finished_seq: 3,
        ..ResultRecord::default()
    }
}

fn attempt(sweep: &str, task: &str, n: u32, disposition: &str) -> AttemptRecord {
    AttemptRecord {
        sweep: sweep.to_string(),
        task_key: task.to_string(),
        attempt: n,
        worker: "w1".to_string(),
        disposition: disposition.to_string(),
        end_reason: "final-answer".to_string(),
        error_kind: None,
        error_message: None,
        wall_ms: 10 * u64::from(n),
        started_at: "2026-01-01T00:00:00Z".to_string(),
        finished_at: "2026-01-01T00:00:01Z".to_string(),
    }
}

fn put_result(r: ResultRecord) -> Mutation {
    Mutation::PutResult(Box::new(r))
}

fn put_attempt(a: AttemptRecord) -> Mutation {
    Mutation::PutAttempt(Box::new(a))
}

fn delete_lease(sweep: &str, task: &str) -> Mutation {
    Mutation::DeleteLease {
        sweep_id: sweep.to_string(),
        task_key: task.to_string(),
    }
}

// ---------------------------------------------------------------- the shared suite

async fn round_trip_every_record_type(b: &dyn Backend) {
    let store = b.open().await;
    let empty = store.load().await.expect("load empty");
    assert_eq!(empty, Snapshot::default());
    store
        .apply(std::sync::Arc::new(vec![
            Mutation::PutSweep(sweep("s2", "running")),
            Mutation::PutSweep(sweep("s1", "running")),
            Mutation::PutLease(lease("s1", "b/item-2/e0", 1)),
            Mutation::PutLease(lease("s1", "a/item-1/e0", 2)),
            Mutation::PutProgress(progress("s1", "a/item-1/e0", 1)),
            put_result(result("s2", "a/item-1/e0", "42")),
            put_result(result("s1", "a/item-1/e0", "7")),
            put_attempt(attempt("s1", "a/item-1/e0", 1, "error")),
            put_attempt(attempt("s1", "a/item-1/e0", 2, "recorded")),
        ]))
        .await
        .expect("apply");
    // Replacing puts: the latest sweep state and progress win.
    store
        .apply(std::sync::Arc::new(vec![
            Mutation::PutSweep(sweep("s1", "done")),
            Mutation::PutProgress(progress("s1", "a/item-1/e0", 3)),
        ]))
        .await
        .expect("apply update");
    let got = store.load().await.expect("load");
    let want = Snapshot {
        sweeps: vec![sweep("s1", "done"), sweep("s2", "running")],
        leases: vec![lease("s1", "a/item-1/e0", 2), lease("s1", "b/item-2/e0", 1)],
        progress: vec![progress("s1", "a/item-1/e0", 3)],
        results: vec![
            result("s1", "a/item-1/e0", "7"),
            result("s2", "a/item-1/e0", "42"),
        ],
        attempts: vec![
            attempt("s1", "a/item-1/e0", 1, "error"),
            attempt("s1", "a/item-1/e0", 2, "recorded"),
        ],
    };
    assert_eq!(got, want);
}

async fn put_result_keeps_the_first(b: &dyn Backend) {
    let store = b.open().await;
    store
        .apply(std::sync::Arc::new(vec![
            put_result(result("s", "t1", "first")),
            put_result(result("s", "t1", "second in the same batch")),
        ]))
        .await
        .expect("apply");
    store
        .apply(std::sync::Arc::new(vec![
            put_result(result("s", "t1", "third, a later batch")),
            put_result(result("s", "t2", "other task")),
        ]))
        .await
        .expect("apply");
    let got = store.load().await.expect("load").results;
    let answers: Vec<_> = got
        .iter()
        .map(|r| (r.task_key.as_str(), r.answer.as_deref()))
        .collect();
    assert_eq!(
        answers,
        vec![("t1", Some("first")), ("t2", Some("other task"))]
    );
}

async fn attempts_append_in_order(b: &dyn Backend) {
    let store = b.open().await;
    let mut want = Vec::new();
    for batch in 0..5u32 {
        let mut mutations = Vec::new();
        for i in 0..4u32 {
            // Same tasks again and again, and an identical record twice: nothing is merged.
            let a = attempt("s", &format!("t{}", i % 2), batch * 4 + i, "expired");
            want.push(a.clone());
            mutations.push(put_attempt(a));
        }
        store
            .apply(std::sync::Arc::new(mutations))
            .await
            .expect("apply");
    }
    let dup = attempt("s", "t0", 0, "expired");
    store
        .apply(std::sync::Arc::new(vec![put_attempt(dup.clone())]))
        .await
        .expect("apply dup");
    want.push(dup);
    assert_eq!(store.load().await.expect("load").attempts, want);
}

async fn delete_lease_removes_it(b: &dyn Backend) {
    let store = b.open().await;
    store
        .apply(std::sync::Arc::new(vec![
            Mutation::PutLease(lease("s", "t1", 1)),
            Mutation::PutLease(lease("s", "t2", 1)),
            Mutation::PutLease(lease("s", "t3", 1)),
        ]))
        .await
        .expect("apply");
    store
        .apply(std::sync::Arc::new(vec![
            delete_lease("s", "t1"),
            delete_lease("s", "never-leased"),
            // In-order application: put then delete leaves nothing, delete then put leaves it.
            Mutation::PutLease(lease("s", "t4", 1)),
            delete_lease("s", "t4"),
            delete_lease("s", "t3"),
            Mutation::PutLease(lease("s", "t3", 2)),
        ]))
        .await
        .expect("apply deletes");
    let leases = store.load().await.expect("load").leases;
    assert_eq!(leases, vec![lease("s", "t2", 1), lease("s", "t3", 2)]);
}

async fn failed_batch_applies_nothing(b: &dyn Backend) {
    let store = b.open().await;
    store
        .apply(std::sync::Arc::new(vec![Mutation::PutSweep(sweep(
            "s", "running",
        ))]))
        .await
        .expect("apply good batch");
    let before = store.load().await.expect("load");
    let mut bad = result("s", "t9", "unstorable");
    bad.cost_usd = f64::NAN;
    let err = store
        .apply(std::sync::Arc::new(vec![
            Mutation::PutSweep(sweep("s", "done")),
            Mutation::PutLease(lease("s", "t1", 1)),
            put_attempt(attempt("s", "t1", 1, "recorded")),
            put_result(result("s", "t1", "fine")),
            put_result(bad),
            delete_lease("s", "t1"),
        ]))
        .await
        .expect_err("a batch with a NaN cost must be refused");
    let text = err.to_string();
    assert!(
        text.contains("mutation 4") && text.contains("s/t9") && text.contains("cost_usd"),
        "{text}"
    );
    assert_eq!(store.load().await.expect("load"), before);
    drop(store);
    let reopened = b.open().await;
    assert_eq!(reopened.load().await.expect("load after reopen"), before);
}

async fn reopen_sees_everything(b: &dyn Backend) {
    let store = b.open().await;
    let batch = vec![
        Mutation::PutSweep(sweep("s", "running")),
        Mutation::PutLease(lease("s", "t1", 1)),
        Mutation::PutProgress(progress("s", "t2", 2)),
        put_result(result("s", "t2", "x")),
        put_attempt(attempt("s", "t2", 1, "error")),
        put_attempt(attempt("s", "t2", 2, "recorded")),
    ];
    store
        .apply(std::sync::Arc::new(batch))
        .await
        .expect("apply");
    let before = store.load().await.expect("load");
    assert_eq!(before.attempts.len(), 2);
    drop(store);
    let reopened = b.open().await;
    assert_eq!(reopened.load().await.expect("load after reopen"), before);
    // Appending after a reopen continues the sequence rather than overwriting.
    reopened
        .apply(std::sync::Arc::new(vec![put_attempt(attempt(
            "s",
            "t2",
            3,
            "duplicate",
        ))]))
        .await
        .expect("apply after reopen");
    let after = reopened.load().await.expect("load").attempts;
    let numbers: Vec<u32> = after.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, vec![1, 2, 3]);
}

async fn ten_thousand_mutations_in_one_batch(b: &dyn Backend) {
    let store = b.open().await;
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..2_500u32 {
        let task = format!("bench/item-{i:05}/e0");
        batch.push(Mutation::PutLease(lease("s", &task, 1)));
        batch.push(Mutation::PutProgress(progress("s", &task, 1)));
        batch.push(put_result(result("s", &task, &i.to_string())));
        batch.push(put_attempt(attempt("s", &task, i, "recorded")));
    }
    store
        .apply(std::sync::Arc::new(batch))
        .await
        .expect("apply 10k");
    let got = store.load().await.expect("load");
    assert_eq!(got.leases.len(), 2_500);
    assert_eq!(got.progress.len(), 2_500);
    assert_eq!(got.results.len(), 2_500);
    assert_eq!(got.attempts.len(), 2_500);
    assert_eq!(got.results[1_234].answer.as_deref(), Some("1234"));
    assert!(
        got.attempts
            .iter()
            .enumerate()
            .all(|(i, a)| a.attempt == i as u32)
    );
}

async fn empty_batch_is_a_no_op(b: &dyn Backend) {
    let store = b.open().await;
    store
        .apply(std::sync::Arc::new(Vec::new()))
        .await
        .expect("apply empty");
    assert_eq!(store.load().await.expect("load"), Snapshot::default());
    assert!(!store.location().is_empty());
}

/// Runs each shared test against both stores.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded_suite {
            $(
                #[tokio::test]
                async fn $name() {
                    let backend = super::EmbeddedBackend::new(stringify!($name));
                    super::$name(&backend).await;
                }
            )*
        }
        mod redis_suite {
            $(
                #[tokio::test]
                async fn $name() {
                    let backend = super::RedisBackend::new(stringify!($name)).await;
                    super::$name(&backend).await;
                }
            )*
        }
    };
}

both_stores!(
    round_trip_every_record_type,
    put_result_keeps_the_first,
    attempts_append_in_order,
    delete_lease_removes_it,
    failed_batch_applies_nothing,
    reopen_sees_everything,
    ten_thousand_mutations_in_one_batch,
    empty_batch_is_a_no_op,
);

// ---------------------------------------------------------------- embedded only

#[tokio::test]
async fn embedded_corrupt_value_names_table_and_key() {
    let backend = EmbeddedBackend::new("corrupt");
    let store = backend.open().await;
    store
        .apply(std::sync::Arc::new(vec![
            put_result(result("s", "t1", "ok")),
            put_result(result("s", "t2", "ok")),
        ]))
        .await
        .expect("apply");
    drop(store);
    {
        let db = redb::Database::create(backend.file()).expect("open raw");
        let txn = db.begin_write().expect("begin");
        {
            let mut table = txn.open_table(super::embedded::RESULTS).expect("table");
            table
                .insert("s/t2", br#"{"sweep": "s", "task_key": 5"#.as_slice())
                .expect("insert garbage");
        }
        txn.commit().expect("commit");
    }
    let store = backend.open().await;
    match store.load().await {
        Err(StoreError::Corrupt {
            what, key, message, ..
        }) => {
            assert_eq!(what, "result");
            assert_eq!(key, "s/t2");
            assert!(message.contains("results"), "{message}");
        }
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
}

#[tokio::test]
async fn embedded_second_open_of_a_locked_file_is_refused() {
    let backend = EmbeddedBackend::new("locked");
    let _first = backend.open().await;
    let err = EmbeddedStore::open(&backend.file())
        .await
        .expect_err("a second open of the same file must fail");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("another herd coordinator"), "{text}");
    assert!(text.contains("state.redb"), "{text}");
}

#[tokio::test]
async fn embedded_open_of_a_non_database_file_fails_clearly() {
    let dir = TempDir::new("garbage");
    let file = dir.0.join("state.redb");
    std::fs::write(
        &file,
        b"this is not a redb file, just some text. ".repeat(200),
    )
    .expect("write");
    let err = EmbeddedStore::open(&file)
        .await
        .expect_err("opening a text file must fail");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
}

#[tokio::test]
async fn embedded_open_of_a_path_under_a_file_fails_clearly() {
    let dir = TempDir::new("underfile");
    let blocker = dir.0.join("blocker");
    std::fs::write(&blocker, b"x").expect("write");
    let err = EmbeddedStore::open(&blocker.join("state.redb"))
        .await
        .expect_err("a path under a regular file cannot be created");
    let text = err.to_string();
    assert!(text.contains("cannot create its directory"), "{text}");
}

#[tokio::test]
async fn open_dispatches_on_the_spec() {
    let dir = TempDir::new("dispatch");
    let path = dir.0.join("a").join("b.redb");
    let store = super::open(path.to_str().expect("utf-8 path"))
        .await
        .expect("open file store");
    assert_eq!(store.kind(), "embedded");
    assert_eq!(Path::new(&store.location()), path.as_path());
    let server = RedisServer::start().await;
    let store = super::open(&server.url()).await.expect("open redis store");
    assert_eq!(store.kind(), "redis");
    assert_eq!(store.location(), server.url());
}

// ---------------------------------------------------------------- redis only

#[tokio::test]
async fn redis_corrupt_value_names_table_and_key() {
    let backend = RedisBackend::new("corrupt").await;
    let store = backend.connect().await;
    store
        .apply(std::sync::Arc::new(vec![Mutation::PutLease(lease(
            "s", "t1", 1,
        ))]))
        .await
        .expect("apply");
    let mut raw = backend.raw().await;
    let _: () = redis::cmd("HSET")
        .arg(format!("{}leases", backend.prefix))
        .arg("s/t0")
        .arg("not json")
        .query_async(&mut raw)
        .await
        .expect("hset garbage");
    match store.load().await {
        Err(StoreError::Corrupt {
            what, key, message, ..
        }) => {
            assert_eq!(what, "lease");
            assert_eq!(key, "s/t0");
            assert!(message.contains("leases"), "{message}");
        }
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
}

#[tokio::test]
async fn redis_load_reads_in_chunks() {
    let backend = RedisBackend::new("chunks").await;
    let mut store = backend.connect().await;
    store.set_load_chunk(7);
    let mut batch = Vec::new();
    for i in 0..200u32 {
        let task = format!("t{i:03}");
        batch.push(put_result(result("s", &task, &i.to_string())));
        batch.push(put_attempt(attempt("s", &task, i, "recorded")));
    }
    // 200 attempts end in a partial chunk of 7; 203 (added below) end exactly on a chunk.
    store
        .apply(std::sync::Arc::new(batch))
        .await
        .expect("apply");
    let got = store.load().await.expect("load");
    assert_eq!(got.results.len(), 200);
    assert!(
        got.results
            .windows(2)
            .all(|w| w[0].task_key < w[1].task_key)
    );
    assert!(
        got.attempts
            .iter()
            .enumerate()
            .all(|(i, a)| a.attempt == i as u32)
    );
    let extra: Vec<_> = (200..203u32)
        .map(|i| put_attempt(attempt("s", "t", i, "recorded")))
        .collect();
    store
        .apply(std::sync::Arc::new(extra))
        .await
        .expect("apply extra");
    let attempts = store.load().await.expect("load").attempts;
    assert_eq!(attempts.len(), 203);
    assert_eq!(attempts[202].attempt, 202);
}

#[tokio::test]
async fn redis_prefixes_keep_stores_apart() {
    let server = RedisServer::start().await;
    let a = RedisStore::connect_with_prefix(&server.url(), "a:")
        .await
        .expect("connect a");
    let b = RedisStore::connect_with_prefix(&server.url(), "b:")
        .await
        .expect("connect b");
    a.apply(std::sync::Arc::new(vec![Mutation::PutSweep(sweep(
        "only-in-a",
        "running",
    ))]))
    .await
    .expect("apply");
    assert_eq!(a.load().await.expect("load a").sweeps.len(), 1);
    assert_eq!(b.load().await.expect("load b"), Snapshot::default());
}

#[tokio::test]
async fn redis_connect_failure_names_the_url_without_password() {
    let port = free_port(); // nothing listens there any more
    let url = format!("redis://herd:s3cret@127.0.0.1:{port}/0");
    let err = RedisStore::connect(&url)
        .await
        .expect_err("connecting to a closed port must fail");
    let text = err.to_string();
    assert!(
        matches!(err, StoreError::Io { op: "connect", .. }),
        "{err:?}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[test]
fn redis_location_hides_passwords() {
    use super::redis_store::redact_url;
    assert_eq!(
        redact_url("redis://127.0.0.1:6379/0"),
        "redis://127.0.0.1:6379/0"
    );
    assert_eq!(
        redact_url("redis://user:pa:ss@host:6379/2"),
        "redis://user:***@host:6379/2"
    );
    assert_eq!(redact_url("rediss://:pw@host/"), "rediss://:***@host/");
    assert_eq!(redact_url("redis://pw@host"), "redis://***@host");
    assert_eq!(
        redact_url("redis://host:1/?protocol=resp3&password=x"),
        "redis://host:1/?protocol=resp3&password=***"
    );
}

#[tokio::test]
async fn bench_helper_applies_what_it_measures() {
    let backend = EmbeddedBackend::new("bench-helper");
    let store = backend.open().await;
    let (per_second, spent) = bench_store_apply(store.as_ref(), 4, 30)
        .await
        .expect("bench");
    assert!(per_second > 0.0 && spent > Duration::ZERO);
    let got = store.load().await.expect("load");
    // 120 mutations = 40 cycles: all leases deleted, 20 results and 20 attempts.
    assert!(got.leases.is_empty());
    assert_eq!(got.results.len(), 20);
    assert_eq!(got.attempts.len(), 20);
}

// ---------------------------------------------------------------- benchmark

/// Group-commit throughput of both stores. Run with
/// `cargo test -p herd-coordinator --release store::tests::bench_apply_throughput -- --ignored --nocapture`.
/// The baseline is one mutation per batch on the same store in the same run.
#[tokio::test]
#[ignore = "benchmark; prints a table, asserts nothing about timing"]
async fn bench_apply_throughput() {
    let embedded = EmbeddedBackend::new("bench");
    let redis = RedisBackend::new("bench").await;
    // Target: 10k cycles/s embedded, 3k cycles/s Redis, ~3 mutations per cycle.
    let stores: Vec<(Arc<dyn StateStore>, f64)> = vec![
        (embedded.open().await, 30_000.0),
        (redis.open().await, 9_000.0),
    ];
    println!(
        "{:<9} {:>6} {:>8} {:>12} {:>10} {:>12} {:>10}",
        "store", "batch", "batches", "mutations/s", "elapsed", "x baseline", "x target"
    );
    for (store, target) in stores {
        // Warm up (file growth, connection), then measure one mutation per batch as the
        // baseline every larger batch is compared with.
        bench_store_apply(store.as_ref(), 50, 1)
            .await
            .expect("warm-up");
        let mut baseline = None;
        for (batches, size) in [(300usize, 1usize), (40, 30), (40, 300), (10, 3_000)] {
            let (rate, spent) = bench_store_apply(store.as_ref(), batches, size)
                .await
                .expect("bench");
            let base = *baseline.get_or_insert(rate);
            println!(
                "{:<9} {:>6} {:>8} {:>12.0} {:>9.3}s {:>12.1} {:>10.2}",
                store.kind(),
                size,
                batches,
                rate,
                spent.as_secs_f64(),
                rate / base,
                rate / target
            );
        }
    }
}
