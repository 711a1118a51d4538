//! The embedded state store: one redb file, one table per record kind, values as JSON.
//! Each `apply` is a single durable write transaction run off the async runtime; `load`
//! reads every table in one read transaction. Also holds the record codec both stores share
//! and `bench_store_apply`, the group-commit throughput benchmark for any store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::de::DeserializeOwned;

use herd_core::result::{AttemptRecord, ResultRecord};

use super::{LeaseRecord, Mutation, Snapshot, StateStore, StoreError, SweepRecord, TaskProgress};

/// Sweeps by `sweep_id`.
pub(crate) const SWEEPS: TableDefinition<&str, &[u8]> = TableDefinition::new("sweeps");
/// Leases by `sweep_id/task_key`.
pub(crate) const LEASES: TableDefinition<&str, &[u8]> = TableDefinition::new("leases");
/// Progress by `sweep_id/task_key`.
pub(crate) const PROGRESS: TableDefinition<&str, &[u8]> = TableDefinition::new("progress");
/// Results by `sweep_id/task_key`; the first value written for a key is kept.
pub(crate) const RESULTS: TableDefinition<&str, &[u8]> = TableDefinition::new("results");
/// Attempts by a store-wide append sequence number, so they load in append order.
pub(crate) const ATTEMPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("attempts");

/// The state store in one local redb file (the single-machine default).
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (or creates, with its parent directories) the store file at `path`.
    ///
    /// Fails with [`StoreError::Open`] when the file is locked by another process (another
    /// coordinator), is not a redb file, or needs an upgrade.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let db = tokio::task::spawn_blocking(move || open_database(&opened))
            .await
            .map_err(|e| StoreError::Open {
                location: path.display().to_string(),
                message: format!("the open task failed: {e}"),
            })??;
        tracing::info!(path = %path.display(), "opened embedded state store");
        Ok(Self {
            db: Arc::new(db),
            path,
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_database(path: &Path) -> Result<Database, StoreError> {
    let location = path.display().to_string();
    let open_err = |message: String| StoreError::Open {
        location: location.clone(),
        message,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            open_err(format!(
                "cannot create its directory `{}`: {e}",
                parent.display()
            ))
        })?;
    }
    let db = Database::create(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => open_err(
            "the file is locked by another process: another herd coordinator is using it \
             (stop it, or give this one a different --state)"
                .to_string(),
        ),
        redb::DatabaseError::UpgradeRequired(v) => open_err(format!(
            "the file uses redb file format {v}, which this herd cannot read without an upgrade"
        )),
        other => open_err(format!("not a readable state file: {other}")),
    })?;
    // Create every table up front so that `load` on a fresh store finds them all.
    let io = |op: &'static str, e: &dyn std::fmt::Display| StoreError::Io {
        location: location.clone(),
        op,
        message: e.to_string(),
    };
    let txn = db
        .begin_write()
        .map_err(|e| io("begin the table-creating transaction", &e))?;
    for table in [SWEEPS, LEASES, PROGRESS, RESULTS] {
        txn.open_table(table)
            .map_err(|e| io("create its tables", &e))?;
    }
    txn.open_table(ATTEMPTS)
        .map_err(|e| io("create its tables", &e))?;
    txn.commit()
        .map_err(|e| io("commit the table-creating transaction", &e))?;
    Ok(db)
}

#[async_trait]
impl StateStore for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn apply(&self, batch: std::sync::Arc<Vec<Mutation>>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let db = Arc::clone(&self.db);
        let location = self.location();
        let n = batch.len();
        let started = Instant::now();
        tokio::task::spawn_blocking(move || write_batch(&db, &location, &batch))
            .await
            .map_err(|e| StoreError::Io {
                location: self.location(),
                op: "apply a batch",
                message: format!("the write task failed: {e}"),
            })??;
        tracing::trace!(
            mutations = n,
            elapsed_us = started.elapsed().as_micros() as u64,
            "applied batch"
        );
        Ok(())
    }

    async fn load(&self) -> Result<Snapshot, StoreError> {
        let db = Arc::clone(&self.db);
        let location = self.location();
        tokio::task::spawn_blocking(move || read_all(&db, &location))
            .await
            .map_err(|e| StoreError::Io {
                location: self.location(),
                op: "load",
                message: format!("the read task failed: {e}"),
            })?
    }
}

/// Writes a batch in one write transaction (one durable commit). On any error the
/// transaction is dropped uncommitted, so nothing of the batch is applied.
fn write_batch(db: &Database, location: &str, batch: &[Mutation]) -> Result<(), StoreError> {
    let io = |op: &'static str, e: &dyn std::fmt::Display| StoreError::Io {
        location: location.to_string(),
        op,
        message: e.to_string(),
    };
    let txn = db
        .begin_write()
        .map_err(|e| io("begin a write transaction", &e))?;
    {
        let open = |def| txn.open_table(def).map_err(|e| io("open a table", &e));
        let mut sweeps = open(SWEEPS)?;
        let mut leases = open(LEASES)?;
        let mut progress = open(PROGRESS)?;
        let mut results = open(RESULTS)?;
        let mut attempts = txn
            .open_table(ATTEMPTS)
            .map_err(|e| io("open a table", &e))?;
        let mut next_seq = attempts
            .last()
            .map_err(|e| io("read the last attempt", &e))?
            .map(|(k, _)| k.value() + 1)
            .unwrap_or(0);
        for (index, mutation) in batch.iter().enumerate() {
            let write = codec::encode(mutation).map_err(|message| StoreError::Io {
                location: location.to_string(),
                op: "encode a batch",
                message: format!("mutation {index}: {message}; nothing in the batch was applied"),
            })?;
            let put = |e: &dyn std::fmt::Display| io("write a record", e);
            match (write.kind, write.op) {
                (codec::Kind::Attempt, _) => {
                    attempts
                        .insert(next_seq, write.value.as_slice())
                        .map_err(|e| put(&e))?;
                    next_seq += 1;
                }
                (kind, op) => {
                    let table = match kind {
                        codec::Kind::Sweep => &mut sweeps,
                        codec::Kind::Lease => &mut leases,
                        codec::Kind::Progress => &mut progress,
                        _ => &mut results,
                    };
                    match op {
                        codec::Op::Put => {
                            table
                                .insert(write.key.as_str(), write.value.as_slice())
                                .map_err(|e| put(&e))?;
                        }
                        codec::Op::PutFirst => {
                            let exists = table
                                .get(write.key.as_str())
                                .map_err(|e| put(&e))?
                                .is_some();
                            if !exists {
                                table
                                    .insert(write.key.as_str(), write.value.as_slice())
                                    .map_err(|e| put(&e))?;
                            }
                        }
                        codec::Op::Delete => {
                            table
                                .remove(write.key.as_str())
                                .map_err(|e| io("delete a record", &e))?;
                        }
                        codec::Op::Append => unreachable!("only attempts are appended"),
                    }
                }
            }
        }
    }
    txn.commit().map_err(|e| io("commit a batch", &e))
}

fn read_all(db: &Database, location: &str) -> Result<Snapshot, StoreError> {
    let io = |op: &'static str, e: &dyn std::fmt::Display| StoreError::Io {
        location: location.to_string(),
        op,
        message: e.to_string(),
    };
    let txn = db
        .begin_read()
        .map_err(|e| io("begin a read transaction", &e))?;
    let keyed = |def: TableDefinition<'static, &'static str, &'static [u8]>| -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let table = txn
            .open_table(def)
            .map_err(|e| io("open a table", &e))?;
        let mut rows = Vec::with_capacity(table.len().unwrap_or(0) as usize);
        for row in table.iter().map_err(|e| io("scan a table", &e))? {
            let (k, v) = row.map_err(|e| io("scan a table", &e))?;
            rows.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(rows)
    };
    let sweeps = decode_rows::<SweepRecord>(location, codec::Kind::Sweep, keyed(SWEEPS)?)?;
    let leases = decode_rows::<LeaseRecord>(location, codec::Kind::Lease, keyed(LEASES)?)?;
    let progress = decode_rows::<TaskProgress>(location, codec::Kind::Progress, keyed(PROGRESS)?)?;
    let results = decode_rows::<ResultRecord>(location, codec::Kind::Result, keyed(RESULTS)?)?;
    let table = txn
        .open_table(ATTEMPTS)
        .map_err(|e| io("open a table", &e))?;
    let mut attempts = Vec::with_capacity(table.len().unwrap_or(0) as usize);
    for row in table.iter().map_err(|e| io("scan a table", &e))? {
        let (k, v) = row.map_err(|e| io("scan a table", &e))?;
        let record: AttemptRecord = codec::decode(
            location,
            codec::Kind::Attempt,
            &format!("#{}", k.value()),
            v.value(),
        )?;
        attempts.push(record);
    }
    Ok(Snapshot {
        sweeps,
        leases,
        progress,
        results,
        attempts,
    })
}

fn decode_rows<T: DeserializeOwned>(
    location: &str,
    kind: codec::Kind,
    rows: Vec<(String, Vec<u8>)>,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|(key, value)| codec::decode(location, kind, key, value))
        .collect()
}

/// The record encoding both stores share: which table a mutation touches, under which key,
/// and its JSON bytes.
pub(crate) mod codec {
    use serde::de::DeserializeOwned;

    use super::super::{Mutation, StoreError};

    /// A kind of record, i.e. a table (redb) or hash/list (Redis).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Kind {
        Sweep,
        Lease,
        Progress,
        Result,
        Attempt,
    }

    impl Kind {
        /// The table / hash name.
        pub(crate) fn table(self) -> &'static str {
            match self {
                Kind::Sweep => "sweeps",
                Kind::Lease => "leases",
                Kind::Progress => "progress",
                Kind::Result => "results",
                Kind::Attempt => "attempts",
            }
        }

        /// The record name used in errors.
        pub(crate) fn record(self) -> &'static str {
            match self {
                Kind::Sweep => "sweep",
                Kind::Lease => "lease",
                Kind::Progress => "progress",
                Kind::Result => "result",
                Kind::Attempt => "attempt",
            }
        }
    }

    /// What to do with the key.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Op {
        /// Insert or replace.
        Put,
        /// Insert unless present (results: the first is kept).
        PutFirst,
        Delete,
        /// Append at the end (attempts).
        Append,
    }

    /// One mutation, encoded.
    #[derive(Debug)]
    pub(crate) struct Write {
        pub(crate) kind: Kind,
        pub(crate) op: Op,
        /// `sweep_id` or `sweep_id/task_key`.
        pub(crate) key: String,
        /// JSON; empty for deletes.
        pub(crate) value: Vec<u8>,
    }

    pub(crate) fn task_key(sweep_id: &str, task_key: &str) -> String {
        let mut key = String::with_capacity(sweep_id.len() + task_key.len() + 1);
        key.push_str(sweep_id);
        key.push('/');
        key.push_str(task_key);
        key
    }

    /// Encodes a mutation. Fails (with a message naming the record) for records that could
    /// not be read back, such as a result with a non-finite cost, which JSON writes as `null`.
    pub(crate) fn encode(mutation: &Mutation) -> Result<Write, String> {
        let json = |kind: Kind, key: &str, value: Result<Vec<u8>, serde_json::Error>| {
            value.map_err(|e| format!("cannot encode {} `{key}`: {e}", kind.record()))
        };
        Ok(match mutation {
            Mutation::PutSweep(s) => Write {
                kind: Kind::Sweep,
                op: Op::Put,
                value: json(Kind::Sweep, &s.sweep_id, serde_json::to_vec(s))?,
                key: s.sweep_id.clone(),
            },
            Mutation::PutLease(l) => {
                let key = task_key(&l.sweep_id, &l.task_key);
                Write {
                    kind: Kind::Lease,
                    op: Op::Put,
                    value: json(Kind::Lease, &key, serde_json::to_vec(l))?,
                    key,
                }
            }
            Mutation::DeleteLease {
                sweep_id,
                task_key: task,
            } => Write {
                kind: Kind::Lease,
                op: Op::Delete,
                key: task_key(sweep_id, task),
                value: Vec::new(),
            },
            Mutation::DeleteResult {
                sweep_id,
                task_key: task,
            } => Write {
                kind: Kind::Result,
                op: Op::Delete,
                key: task_key(sweep_id, task),
                value: Vec::new(),
            },
            Mutation::PutProgress(p) => {
                let key = task_key(&p.sweep_id, &p.task_key);
                Write {
                    kind: Kind::Progress,
                    op: Op::Put,
                    value: json(Kind::Progress, &key, serde_json::to_vec(p))?,
                    key,
                }
            }
            Mutation::PutResult(r) => {
                let key = task_key(&r.sweep, &r.task_key);
                if !r.cost_usd.is_finite() {
                    return Err(format!(
                        "result `{key}` has a non-finite cost_usd ({}), which cannot be stored",
                        r.cost_usd
                    ));
                }
                if let Some(score) = r.score.filter(|s| !s.is_finite()) {
                    return Err(format!(
                        "result `{key}` has a non-finite score ({score}), which cannot be stored"
                    ));
                }
                Write {
                    kind: Kind::Result,
                    op: Op::PutFirst,
                    value: json(Kind::Result, &key, serde_json::to_vec(&**r))?,
                    key,
                }
            }
            Mutation::PutAttempt(a) => {
                let key = task_key(&a.sweep, &a.task_key);
                Write {
                    kind: Kind::Attempt,
                    op: Op::Append,
                    value: json(Kind::Attempt, &key, serde_json::to_vec(&**a))?,
                    key,
                }
            }
        })
    }

    /// Decodes one stored value; a failure is [`StoreError::Corrupt`] naming table and key.
    pub(crate) fn decode<T: DeserializeOwned>(
        location: &str,
        kind: Kind,
        key: &str,
        value: &[u8],
    ) -> Result<T, StoreError> {
        serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
            location: location.to_string(),
            what: kind.record(),
            key: key.to_string(),
            message: format!("in table `{}`: {e}", kind.table()),
        })
    }
}

/// Measures `apply` throughput on `store` with scheduler-like batches: lease+report cycles
/// of `PutLease`, `DeleteLease` and a `PutResult` (even cycles) or `PutAttempt` (odd ones),
/// cut into `batches` batches of `batch_size` mutations applied one after another.
///
/// Returns mutations per second and the total time spent in `apply`. Writes records under a
/// fresh `bench-<uuid>` sweep id, so run it on a scratch store. Building the batches is not
/// timed.
pub async fn bench_store_apply(
    store: &dyn StateStore,
    batches: usize,
    batch_size: usize,
) -> Result<(f64, Duration), StoreError> {
    let sweep = format!("bench-{}", uuid::Uuid::new_v4());
    let total = batches * batch_size;
    let mut mutations = Vec::with_capacity(total);
    let mut cycle = 0u64;
    while mutations.len() < total {
        let task_key = format!("bench/item-{cycle:08}/e0");
        mutations.push(Mutation::PutLease(LeaseRecord {
            sweep_id: sweep.clone(),
            task_key: task_key.clone(),
            lease_id: uuid::Uuid::new_v4().to_string(),
            worker_id: "bench-worker".to_string(),
            attempt: 1,
            deadline_unix_ms: 1_900_000_000_000 + cycle,
            started_unix_ms: 1_800_000_000_000 + cycle,
        }));
        mutations.push(Mutation::DeleteLease {
            sweep_id: sweep.clone(),
            task_key: task_key.clone(),
        });
        if cycle.is_multiple_of(2) {
            mutations.push(Mutation::PutResult(Box::new(bench_result(
                &sweep, &task_key, cycle,
            ))));
        } else {
            mutations.push(Mutation::PutAttempt(Box::new(AttemptRecord {
                sweep: sweep.clone(),
                task_key,
                attempt: 1,
                worker: "bench-worker".to_string(),
                disposition: "recorded".to_string(),
                end_reason: "answered".to_string(),
                error_kind: None,
                error_message: None,
                wall_ms: 12_345,
                started_at: "2026-01-01T00:00:00Z".to_string(),
                finished_at: "2026-01-01T00:00:12Z".to_string(),
            })));
        }
        cycle += 1;
    }
    mutations.truncate(total);
    let mut spent = Duration::ZERO;
    let mut rest = mutations.into_iter();
    for _ in 0..batches {
        let batch: Vec<Mutation> = rest.by_ref().take(batch_size).collect();
        let started = Instant::now();
        store.apply(std::sync::Arc::new(batch)).await?;
        spent += started.elapsed();
    }
    let per_second = if spent.is_zero() {
        0.0
    } else {
        total as f64 / spent.as_secs_f64()
    };
    Ok((per_second, spent))
}

/// A result row of realistic size for the benchmark.
fn bench_result(sweep: &str, task_key: &str, seq: u64) -> ResultRecord {
    ResultRecord {
        sweep: sweep.to_string(),
        task_key: task_key.to_string(),
        benchmark: "gaia".to_string(),
        split: "validation".to_string(),
        item_id: format!("item-{seq:08}"),
        metadata: r#"{"level":"2","subject":"web"}"#.to_string(),
        level: Some("2".to_string()),
        subject: Some("web".to_string()),
        backbone: "qwen2.5-0.5b-instruct".to_string(),
        arm: "accumulate".to_string(),
        accumulation: "train-then-test".to_string(),
        epoch: 0,
        seed: seq,
        status: "scored".to_string(),
        correct: Some(seq.is_multiple_of(3)),
        score: Some(if seq.is_multiple_of(3) { 1.0 } else { 0.0 }),
        answer: Some("The answer is 42 because the search result says so.".to_string()),
        extracted_answer: Some("42".to_string()),
        gold_answer: Some("42".to_string()),
        scorer: "gaia-exact".to_string(),
        scorer_rule: "normalized string match".to_string(),
        end_reason: "final-answer".to_string(),
        steps: 7,
        llm_calls: 8,
        cached_calls: 1,
        prompt_tokens: 12_000,
        completion_tokens: 900,
        cost_usd: 0.0123,
        wall_ms: 45_000,
        model_ms: 30_000,
        exec_ms: 9_000,
        actions_created: 2,
        actions_retrieved: 5,
        generated_calls: 3,
        user_calls: 4,
        actions_called: r#"[["web_search",3],["read_page",2]]"#.to_string(),
        library_size: 120 + seq,
        covered_steps: 3,
        reused_calls: 2,
        sandbox_kind: "docker".to_string(),
        sandbox_image: "herd-sandbox:0.1.0".to_string(),
        model_identity: "sha256:0123456789abcdef".to_string(),
        dataset_fingerprint: "sha256:fedcba9876543210".to_string(),
        herd_version: herd_core::result::HERD_VERSION.to_string(),
        worker: "bench-worker".to_string(),
        attempts: 1,
        error_kind: None,
        error_message: None,
        finished_seq: seq,
        finished_at: "2026-01-01T00:00:12Z".to_string(),
    }
}
