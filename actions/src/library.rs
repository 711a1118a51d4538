//! The service layer the coordinator exposes to workers: [`ActionLibrary`] wraps a store and
//! an embedder and enforces the accumulation semantics (who may read and write, what a task
//! may see, dedup and versioning). Its request/response types are serde so they travel over
//! gRPC as JSON.
//!
//! Visibility rule (`online`): every namespace has a monotonic write sequence. A task calls
//! [`ActionLibrary::start_task`] when it starts and keeps the returned `seq`; its retrievals
//! see only actions with `created_seq < seq`, i.e. stored before the task started.
//! `train-then-test`: writes are accepted until [`ActionLibrary::freeze`]; afterwards every
//! write to the namespace is refused by the store itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use herd_core::config::Accumulation;
use herd_core::kernel::FunctionDef;
use herd_core::task::ActionAccess;
use serde::{Deserialize, Serialize};

use crate::action::{Action, action_id, embed_text, prompt_line, source_hash};
use crate::embed::Embedder;
use crate::error::{ActionError, Result};
use crate::load::load_source;
use crate::store::{
    ActionFilter, ActionStore, EmbedderSpec, NamespaceMeta, ScoredAction, StoredAction, read_jsonl,
    write_jsonl,
};

/// Writes a missing docstring for a generated function (the worker implements it with a
/// counted LLM call). `Ok(None)` stores the function without one.
#[async_trait]
pub trait DocstringWriter: Send + Sync {
    async fn write_docstring(
        &self,
        function: &FunctionDef,
    ) -> std::result::Result<Option<String>, String>;
}

/// The `docstring_fix = "skip"` writer: never writes one (the action is embedded by
/// `name(signature)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SkipDocstrings;

#[async_trait]
impl DocstringWriter for SkipDocstrings {
    async fn write_docstring(
        &self,
        _function: &FunctionDef,
    ) -> std::result::Result<Option<String>, String> {
        Ok(None)
    }
}

/// Which task is storing actions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskOrigin {
    pub task_key: String,
    /// The task's split (`train`/`test`/…), recorded with its actions.
    #[serde(default)]
    pub split: Option<String>,
}

impl From<&str> for TaskOrigin {
    fn from(task_key: &str) -> Self {
        TaskOrigin {
            task_key: task_key.to_string(),
            split: None,
        }
    }
}

impl From<&herd_core::task::TaskSpec> for TaskOrigin {
    fn from(t: &herd_core::task::TaskSpec) -> Self {
        TaskOrigin {
            task_key: t.key.clone(),
            split: Some(t.split.clone()),
        }
    }
}

/// What [`ActionLibrary::add_from_cell`] did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AddReport {
    /// Labels (`name@v1`) of actions stored under a new name.
    pub created: Vec<String>,
    /// Names of functions identical (normalised source) to an action already stored.
    pub duplicates: Vec<String>,
    /// Labels (`name@vN`, N ≥ 2) of new versions of existing names.
    pub versions: Vec<String>,
    /// Docstrings written by the [`DocstringWriter`].
    pub docstrings_written: u32,
    /// Functions whose docstring could not be written (stored without), with the reason.
    pub docstring_failures: Vec<String>,
    /// Why nothing was written, when the access did not allow writing.
    pub skipped: Option<String>,
}

impl AddReport {
    /// Actions newly stored (new names and new versions).
    pub fn stored(&self) -> usize {
        self.created.len() + self.versions.len()
    }
}

/// Snapshot of a namespace taken when a task starts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskStart {
    /// Retrievals of this task see actions with `created_seq < seq`.
    pub seq: u64,
    /// Generated actions visible to the task (0 when it may not read).
    pub library_size: u64,
}

/// A retrieved action with its similarity and the line to show the model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetrievedAction {
    pub action: Action,
    pub score: f32,
    pub prompt_line: String,
}

/// What importing a saved library did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportReport {
    pub imported: usize,
    pub duplicates: usize,
    /// Actions embedded again because they were saved with another embedder (or no vector).
    pub reembedded: usize,
}

/// The phase of a task, for [`access_for`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Training split of a train-then-test arm (or any task of an online arm).
    Train,
    /// Test split of a train-then-test arm: read-only.
    Test,
}

/// The store access a task gets under an arm's accumulation mode: `off` reads and writes
/// nothing; `online` reads and writes; `train-then-test` writes only in the training phase.
pub fn access_for(accumulation: Accumulation, namespace: &str, phase: Phase) -> ActionAccess {
    let (read, write) = match (accumulation, phase) {
        (Accumulation::Off, _) => (false, false),
        (Accumulation::Online, _) => (true, true),
        (Accumulation::TrainThenTest, Phase::Train) => (true, true),
        (Accumulation::TrainThenTest, Phase::Test) => (true, false),
    };
    ActionAccess {
        namespace: namespace.to_string(),
        read,
        write,
    }
}

/// One request to the library, for transport as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum LibraryRequest {
    StartTask {
        access: ActionAccess,
    },
    /// Docstrings must already be filled in by the worker (the coordinator writes none).
    Add {
        access: ActionAccess,
        task: TaskOrigin,
        functions: Vec<FunctionDef>,
    },
    Retrieve {
        access: ActionAccess,
        query: String,
        k: usize,
        started_seq: u64,
    },
    /// Python defining these actions (by label `name@vN` or plain name = latest) and their
    /// dependencies.
    LoadSource {
        access: ActionAccess,
        names: Vec<String>,
    },
    Size {
        namespace: String,
    },
    Freeze {
        namespace: String,
    },
}

/// The answer to a [`LibraryRequest`], variant by variant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum LibraryResponse {
    StartTask(TaskStart),
    Add(AddReport),
    Retrieve {
        actions: Vec<RetrievedAction>,
    },
    LoadSource {
        source: String,
        actions: Vec<String>,
    },
    Size {
        count: u64,
    },
    Freeze {
        meta: NamespaceMeta,
    },
}

/// The shared action library: a store plus an embedder, with accumulation rules enforced.
pub struct ActionLibrary {
    store: Arc<dyn ActionStore>,
    embedder: Arc<dyn Embedder>,
    /// One write lock per namespace: dedup, versioning and sequence allocation are atomic.
    locks: parking_lot::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ActionLibrary {
    pub fn new(store: Arc<dyn ActionStore>, embedder: Arc<dyn Embedder>) -> Self {
        ActionLibrary {
            store,
            embedder,
            locks: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Arc<dyn ActionStore> {
        &self.store
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    pub fn embedder_spec(&self) -> EmbedderSpec {
        EmbedderSpec {
            id: self.embedder.id(),
            dim: self.embedder.dim(),
        }
    }

    fn lock_for(&self, namespace: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .entry(namespace.to_string())
            .or_default()
            .clone()
    }

    /// Opens or creates the namespace for this library's embedder (refusing a mismatch).
    pub async fn ensure(&self, namespace: &str) -> Result<NamespaceMeta> {
        self.store
            .ensure_namespace(namespace, &self.embedder_spec())
            .await
    }

    /// The existing namespace's metadata, checked against this embedder.
    async fn existing(&self, namespace: &str) -> Result<Option<NamespaceMeta>> {
        let meta = self.store.meta(namespace).await?;
        if let Some(m) = &meta {
            m.check_embedder(&self.embedder_spec())?;
        }
        Ok(meta)
    }

    /// Records where a task starts in its namespace's write sequence.
    pub async fn start_task(&self, access: &ActionAccess) -> Result<TaskStart> {
        let Some(meta) = self.existing(&access.namespace).await? else {
            return Ok(TaskStart::default());
        };
        let library_size = if access.read {
            self.store
                .count(&access.namespace, &ActionFilter::before(meta.next_seq))
                .await?
        } else {
            0
        };
        Ok(TaskStart {
            seq: meta.next_seq,
            library_size,
        })
    }

    /// Stores the functions a successful cell defined. Identical functions are stored once;
    /// a different function under an existing name becomes its next version. Functions without
    /// a docstring get one from `docstrings` (or are stored without).
    pub async fn add_from_cell(
        &self,
        access: &ActionAccess,
        task: impl Into<TaskOrigin>,
        fns: &[FunctionDef],
        docstrings: &dyn DocstringWriter,
    ) -> Result<AddReport> {
        let task = task.into();
        let ns = access.namespace.as_str();
        if !access.write {
            return Ok(AddReport {
                skipped: Some(format!(
                    "writes to namespace `{ns}` are not allowed for this task"
                )),
                ..AddReport::default()
            });
        }
        if fns.is_empty() {
            return Ok(AddReport::default());
        }
        let meta = self.ensure(ns).await?;
        meta.check_writable("store actions")?;

        // In a cell, a later `def` of the same name replaces an earlier one.
        let mut last: BTreeMap<&str, &FunctionDef> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for f in fns {
            if last.insert(f.name.as_str(), f).is_none() {
                order.push(f.name.as_str());
            }
        }
        let cell_names: HashSet<&str> = order.iter().copied().collect();

        // Phase 1, unlocked: drop known duplicates and write missing docstrings (LLM calls
        // must not hold the namespace's write lock).
        let mut report = AddReport::default();
        let mut candidates: Vec<(&FunctionDef, String, Option<String>)> = Vec::new();
        for name in order {
            let f = last[name];
            let hash = source_hash(&f.source);
            if self.store.count(ns, &ActionFilter::by_hash(&hash)).await? > 0 {
                report.duplicates.push(f.name.clone());
                continue;
            }
            let mut docstring = f.docstring.clone().filter(|d| !d.trim().is_empty());
            if docstring.is_none() {
                match docstrings.write_docstring(f).await {
                    Ok(Some(d)) if !d.trim().is_empty() => {
                        report.docstrings_written += 1;
                        docstring = Some(first_line(&d));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(namespace = ns, function = %f.name, error = %e, "docstring writer failed; storing without");
                        report.docstring_failures.push(format!("{}: {e}", f.name));
                    }
                }
            }
            candidates.push((f, hash, docstring));
        }
        if candidates.is_empty() {
            return Ok(report);
        }

        // Phase 2, under the namespace's write lock: re-check duplicates (another task may
        // have stored the same function meanwhile), assign versions and sequence numbers.
        let lock = self.lock_for(ns);
        let _guard = lock.lock().await;
        let mut pending: Vec<(Action, String)> = Vec::new();
        let mut known_generated: HashMap<String, bool> = HashMap::new();
        for (f, hash, docstring) in candidates {
            if self.store.count(ns, &ActionFilter::by_hash(&hash)).await? > 0 {
                report.duplicates.push(f.name.clone());
                continue;
            }
            let existing = self
                .store
                .list(ns, &ActionFilter::by_name(&f.name), false)
                .await?;
            let version = existing.iter().map(|s| s.action.version).max().unwrap_or(0) + 1;

            let mut calls_generated = Vec::new();
            for c in &f.calls {
                if c == &f.name || calls_generated.contains(c) {
                    continue;
                }
                let is_generated = if cell_names.contains(c.as_str()) {
                    true
                } else if let Some(&known) = known_generated.get(c) {
                    known
                } else {
                    let known = self.store.count(ns, &ActionFilter::by_name(c)).await? > 0;
                    known_generated.insert(c.clone(), known);
                    known
                };
                if is_generated {
                    calls_generated.push(c.clone());
                }
            }

            let action = Action {
                id: action_id(ns, &f.name, version),
                namespace: ns.to_string(),
                name: f.name.clone(),
                version,
                signature: f.signature.clone(),
                returns: f.returns.clone(),
                docstring,
                source: f.source.clone(),
                imports: f.imports.clone(),
                calls_generated,
                source_hash: hash,
                created_by_task: task.task_key.clone(),
                created_split: task.split.clone(),
                created_seq: 0,
                created_at: chrono::Utc::now().to_rfc3339(),
                embedder: self.embedder.id(),
            };
            let text = embed_text(&action.name, &action.signature, action.docstring.as_deref());
            if version == 1 {
                report.created.push(action.label());
            } else {
                report.versions.push(action.label());
            }
            pending.push((action, text));
        }
        if pending.is_empty() {
            return Ok(report);
        }
        let texts: Vec<String> = pending.iter().map(|(_, t)| t.clone()).collect();
        let vectors = self.embedder.embed(&texts).await?;
        let first = self.store.allocate_seq(ns, pending.len() as u64).await?;
        let items: Vec<StoredAction> = pending
            .into_iter()
            .zip(vectors)
            .enumerate()
            .map(|(i, ((mut action, _), vector))| {
                action.created_seq = first + i as u64;
                StoredAction {
                    action,
                    vector: Some(vector),
                }
            })
            .collect();
        self.store.upsert(ns, items).await?;
        tracing::info!(
            namespace = ns,
            task = %task.task_key,
            created = report.created.len(),
            versions = report.versions.len(),
            duplicates = report.duplicates.len(),
            "stored generated actions"
        );
        Ok(report)
    }

    /// The `k` actions most relevant to `query` among those stored before the task started
    /// (`created_seq < started_seq`). Empty when the access does not allow reading.
    pub async fn retrieve(
        &self,
        access: &ActionAccess,
        query: &str,
        k: usize,
        started_seq: u64,
    ) -> Result<Vec<Action>> {
        Ok(self
            .retrieve_scored(access, query, k, started_seq)
            .await?
            .into_iter()
            .map(|r| r.action)
            .collect())
    }

    /// Like [`Self::retrieve`], with scores and prompt lines.
    pub async fn retrieve_scored(
        &self,
        access: &ActionAccess,
        query: &str,
        k: usize,
        started_seq: u64,
    ) -> Result<Vec<RetrievedAction>> {
        self.retrieve_filtered(access, query, k, &ActionFilter::before(started_seq))
            .await
    }

    /// Retrieval with an explicit filter (e.g. only the training split's actions).
    pub async fn retrieve_filtered(
        &self,
        access: &ActionAccess,
        query: &str,
        k: usize,
        filter: &ActionFilter,
    ) -> Result<Vec<RetrievedAction>> {
        if !access.read || k == 0 {
            return Ok(vec![]);
        }
        if self.existing(&access.namespace).await?.is_none() {
            return Ok(vec![]);
        }
        let vector = self
            .embedder
            .embed(&[query.to_string()])
            .await?
            .pop()
            .ok_or_else(|| ActionError::Embed {
                embedder: self.embedder.id(),
                message: "no vector returned for the query".into(),
            })?;
        let hits: Vec<ScoredAction> = self
            .store
            .search(&access.namespace, &vector, k, filter)
            .await?;
        Ok(hits
            .into_iter()
            .map(|h| RetrievedAction {
                prompt_line: prompt_line(&h.action),
                action: h.action,
                score: h.score,
            })
            .collect())
    }

    /// Number of actions in the namespace (0 if it does not exist).
    pub async fn size(&self, namespace: &str) -> Result<u64> {
        if self.store.meta(namespace).await?.is_none() {
            return Ok(0);
        }
        self.store.count(namespace, &ActionFilter::default()).await
    }

    /// Makes the namespace read-only (creating it empty if needed). Idempotent.
    pub async fn freeze(&self, namespace: &str) -> Result<NamespaceMeta> {
        self.ensure(namespace).await?;
        let lock = self.lock_for(namespace);
        let _guard = lock.lock().await;
        self.store.freeze(namespace).await
    }

    /// One action: `version` or the latest.
    pub async fn get(
        &self,
        namespace: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<Action>> {
        if self.store.meta(namespace).await?.is_none() {
            return Ok(None);
        }
        let filter = ActionFilter {
            name: Some(name.to_string()),
            version,
            ..Default::default()
        };
        let found = self.store.list(namespace, &filter, false).await?;
        Ok(found
            .into_iter()
            .map(|s| s.action)
            .max_by_key(|a| a.version))
    }

    /// Every action of the namespace, by sequence.
    pub async fn list(&self, namespace: &str) -> Result<Vec<Action>> {
        if self.store.meta(namespace).await?.is_none() {
            return Ok(vec![]);
        }
        let mut all: Vec<Action> = self
            .store
            .list(namespace, &ActionFilter::default(), false)
            .await?
            .into_iter()
            .map(|s| s.action)
            .collect();
        all.sort_by_key(|a| a.created_seq);
        Ok(all)
    }

    /// `actions` plus every generated action they call, transitively. A dependency resolves to
    /// the newest version stored before its dependant (or the newest, if none was).
    pub async fn with_dependencies(
        &self,
        namespace: &str,
        actions: &[Action],
    ) -> Result<Vec<Action>> {
        let mut out: Vec<Action> = actions.to_vec();
        let mut have: HashSet<String> = out.iter().map(|a| a.name.clone()).collect();
        let mut i = 0;
        while i < out.len() {
            let deps = out[i].calls_generated.clone();
            let before = out[i].created_seq;
            for dep in deps {
                if have.contains(&dep) {
                    continue;
                }
                let versions = self
                    .store
                    .list(namespace, &ActionFilter::by_name(&dep), false)
                    .await?;
                let chosen = versions
                    .iter()
                    .filter(|s| s.action.created_seq < before)
                    .max_by_key(|s| s.action.version)
                    .or_else(|| versions.iter().max_by_key(|s| s.action.version));
                if let Some(c) = chosen {
                    have.insert(dep.clone());
                    out.push(c.action.clone());
                }
            }
            i += 1;
        }
        Ok(out)
    }

    /// Python defining `actions`, their imports and their generated dependencies.
    pub async fn load_bundle(&self, namespace: &str, actions: &[Action]) -> Result<String> {
        Ok(load_source(
            &self.with_dependencies(namespace, actions).await?,
        ))
    }

    /// Writes the namespace (actions and vectors) to a JSONL file; returns how many.
    pub async fn export(&self, namespace: &str, path: &Path) -> Result<usize> {
        let mut items = if self.store.meta(namespace).await?.is_some() {
            self.store
                .list(namespace, &ActionFilter::default(), true)
                .await?
        } else {
            vec![]
        };
        items.sort_by_key(|s| s.action.created_seq);
        write_jsonl(path, &items).await?;
        Ok(items.len())
    }

    /// Loads a saved library (`--actions-from`) into `namespace`, deduplicating against what
    /// is there; names keep their versions order. Vectors from another embedder are recomputed.
    pub async fn import(&self, namespace: &str, path: &Path) -> Result<ImportReport> {
        let items = read_jsonl(path).await?;
        self.import_items(namespace, items).await
    }

    /// Copies `from` into `to` (e.g. a frozen snapshot of a training library); `to` is frozen
    /// afterwards when `freeze` is set.
    pub async fn snapshot(&self, from: &str, to: &str, freeze: bool) -> Result<ImportReport> {
        self.existing(from)
            .await?
            .ok_or_else(|| ActionError::NoNamespace {
                namespace: from.to_string(),
            })?;
        let items = self
            .store
            .list(from, &ActionFilter::default(), true)
            .await?;
        let report = self.import_items(to, items).await?;
        if freeze {
            self.freeze(to).await?;
        }
        Ok(report)
    }

    async fn import_items(
        &self,
        namespace: &str,
        mut items: Vec<StoredAction>,
    ) -> Result<ImportReport> {
        let meta = self.ensure(namespace).await?;
        meta.check_writable("import actions")?;
        let lock = self.lock_for(namespace);
        let _guard = lock.lock().await;
        items.sort_by_key(|s| (s.action.created_seq, s.action.version));
        let spec = self.embedder_spec();
        let mut report = ImportReport::default();
        let mut next_version: HashMap<String, u32> = HashMap::new();
        let mut seen_hashes: HashSet<String> = HashSet::new();
        let mut keep: Vec<StoredAction> = Vec::new();
        let mut to_embed: Vec<usize> = Vec::new();
        for mut it in items {
            let hash = source_hash(&it.action.source);
            if !seen_hashes.insert(hash.clone())
                || self
                    .store
                    .count(namespace, &ActionFilter::by_hash(&hash))
                    .await?
                    > 0
            {
                report.duplicates += 1;
                continue;
            }
            let version = match next_version.get(&it.action.name) {
                Some(v) => *v,
                None => {
                    let existing = self
                        .store
                        .list(namespace, &ActionFilter::by_name(&it.action.name), false)
                        .await?;
                    existing.iter().map(|s| s.action.version).max().unwrap_or(0) + 1
                }
            };
            next_version.insert(it.action.name.clone(), version + 1);
            let a = &mut it.action;
            a.version = version;
            a.namespace = namespace.to_string();
            a.id = action_id(namespace, &a.name, version);
            a.source_hash = hash;
            let vector_ok =
                a.embedder == spec.id && it.vector.as_ref().is_some_and(|v| v.len() == spec.dim);
            if !vector_ok {
                a.embedder = spec.id.clone();
                it.vector = None;
                to_embed.push(keep.len());
            }
            keep.push(it);
        }
        if !to_embed.is_empty() {
            let texts: Vec<String> = to_embed
                .iter()
                .map(|&i| {
                    let a = &keep[i].action;
                    embed_text(&a.name, &a.signature, a.docstring.as_deref())
                })
                .collect();
            let vectors = self.embedder.embed(&texts).await?;
            for (&i, v) in to_embed.iter().zip(vectors) {
                keep[i].vector = Some(v);
            }
            report.reembedded = to_embed.len();
        }
        if keep.is_empty() {
            return Ok(report);
        }
        let first = self
            .store
            .allocate_seq(namespace, keep.len() as u64)
            .await?;
        for (i, it) in keep.iter_mut().enumerate() {
            it.action.created_seq = first + i as u64;
        }
        report.imported = keep.len();
        self.store.upsert(namespace, keep).await?;
        tracing::info!(
            namespace,
            imported = report.imported,
            duplicates = report.duplicates,
            "imported actions"
        );
        Ok(report)
    }

    /// Serves one transported request (the coordinator's gRPC handler calls this).
    pub async fn handle(&self, request: LibraryRequest) -> Result<LibraryResponse> {
        Ok(match request {
            LibraryRequest::StartTask { access } => {
                LibraryResponse::StartTask(self.start_task(&access).await?)
            }
            LibraryRequest::Add {
                access,
                task,
                functions,
            } => LibraryResponse::Add(
                self.add_from_cell(&access, task, &functions, &SkipDocstrings)
                    .await?,
            ),
            LibraryRequest::Retrieve {
                access,
                query,
                k,
                started_seq,
            } => LibraryResponse::Retrieve {
                actions: self
                    .retrieve_scored(&access, &query, k, started_seq)
                    .await?,
            },
            LibraryRequest::LoadSource { access, names } => {
                if !access.read {
                    LibraryResponse::LoadSource {
                        source: String::new(),
                        actions: vec![],
                    }
                } else {
                    let mut actions = Vec::new();
                    for n in &names {
                        let (name, version) = parse_label(n);
                        if let Some(a) = self.get(&access.namespace, name, version).await? {
                            actions.push(a);
                        }
                    }
                    let all = self.with_dependencies(&access.namespace, &actions).await?;
                    LibraryResponse::LoadSource {
                        source: load_source(&all),
                        actions: all.iter().map(Action::label).collect(),
                    }
                }
            }
            LibraryRequest::Size { namespace } => LibraryResponse::Size {
                count: self.size(&namespace).await?,
            },
            LibraryRequest::Freeze { namespace } => LibraryResponse::Freeze {
                meta: self.freeze(&namespace).await?,
            },
        })
    }
}

/// `name@v3` → (`name`, Some(3)); `name` → (`name`, None).
fn parse_label(label: &str) -> (&str, Option<u32>) {
    if let Some((name, v)) = label.rsplit_once("@v")
        && let Ok(v) = v.parse()
    {
        return (name, Some(v));
    }
    (label, None)
}

fn first_line(doc: &str) -> String {
    doc.trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse() {
        assert_eq!(parse_label("f@v3"), ("f", Some(3)));
        assert_eq!(parse_label("f"), ("f", None));
        assert_eq!(parse_label("a@vx"), ("a@vx", None));
    }

    #[test]
    fn access_follows_accumulation_mode() {
        let off = access_for(Accumulation::Off, "n", Phase::Train);
        assert!(!off.read && !off.write);
        let on = access_for(Accumulation::Online, "n", Phase::Test);
        assert!(on.read && on.write);
        let train = access_for(Accumulation::TrainThenTest, "n", Phase::Train);
        assert!(train.read && train.write);
        let test = access_for(Accumulation::TrainThenTest, "n", Phase::Test);
        assert!(test.read && !test.write);
    }

    #[test]
    fn requests_round_trip_as_json() {
        let req = LibraryRequest::Retrieve {
            access: ActionAccess {
                namespace: "s/a/b".into(),
                read: true,
                write: false,
            },
            query: "mean of a column".into(),
            k: 5,
            started_seq: 7,
        };
        let text = serde_json::to_string(&req).expect("encode");
        assert!(text.contains("\"op\":\"retrieve\""), "{text}");
        let back: LibraryRequest = serde_json::from_str(&text).expect("decode");
        assert_eq!(back, req);
    }

    #[test]
    fn docstring_first_line_is_kept() {
        assert_eq!(
            first_line("\"\"\"Adds two numbers.\n\nMore.\"\"\""),
            "Adds two numbers."
        );
    }
}
