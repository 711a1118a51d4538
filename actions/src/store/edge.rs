//! The embedded action store: one persistent qdrant-edge shard per namespace, under
//! `<root>/<safe namespace>/shard`, with the namespace's metadata (embedder, dim, frozen flag,
//! write sequence) in `<root>/<safe namespace>/namespace.json`. Everything runs in-process;
//! blocking shard calls go through `spawn_blocking`. Shards are flushed after every write, so
//! a coordinator restart reopens exactly what was stored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use qdrant_edge::{
    CountRequest, CreateIndex, DEFAULT_VECTOR_NAME, Distance, EdgeConfig, EdgeShard,
    EdgeVectorParams, FieldIndexOperations, Filter, HnswIndexConfig, JsonPath, NamedQuery,
    PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStruct, QueryEnum, ScrollRequest, SearchParams, SearchRequest, UpdateOperation,
    VectorInternal, VectorStructInternal, WithPayloadInterface, WithVector,
};

use super::{
    ActionFilter, ActionStore, EmbedderSpec, NamespaceMeta, ScoredAction, StoredAction,
    action_from_payload, action_payload, check_vectors, safe_name,
};
use crate::error::{ActionError, Result};

const BACKEND: &str = "edge";
const META_FILE: &str = "namespace.json";
const SHARD_DIR: &str = "shard";

/// HNSW and housekeeping settings of the embedded store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeStoreOptions {
    /// HNSW graph degree.
    pub hnsw_m: usize,
    pub hnsw_ef_construct: usize,
    /// Beam width at query time (higher: better recall, slower).
    pub search_ef: usize,
    /// Run the shard optimizer (builds HNSW for large segments) after this many new points.
    pub optimize_every: usize,
}

impl Default for EdgeStoreOptions {
    fn default() -> Self {
        // Measured with `herd bench retrieval` on 2 cores: text-like 384-d vectors at 100k
        // give recall@10 1.0 with p99 3.9 ms. Uniform random vectors (no structure, which
        // real embeddings never are) give far lower recall at this beam; see docs/status.md.
        EdgeStoreOptions {
            hnsw_m: 16,
            hnsw_ef_construct: 128,
            search_ef: 128,
            optimize_every: 2_000,
        }
    }
}

struct EdgeNs {
    dir: PathBuf,
    shard: EdgeShard,
    meta: Mutex<NamespaceMeta>,
    /// Serialises writes, flushes and optimisation (the shard's flush must not race a write).
    write: Mutex<()>,
    since_optimize: AtomicUsize,
}

/// The embedded (qdrant-edge) action store. Cheap to share behind an `Arc`.
pub struct EdgeStore {
    root: PathBuf,
    opts: EdgeStoreOptions,
    open: tokio::sync::Mutex<HashMap<String, Arc<EdgeNs>>>,
}

impl std::fmt::Debug for EdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStore")
            .field("root", &self.root)
            .finish()
    }
}

fn store_err(namespace: &str, operation: &str, e: impl std::fmt::Display) -> ActionError {
    ActionError::Store {
        backend: BACKEND,
        namespace: namespace.to_string(),
        operation: operation.to_string(),
        message: e.to_string(),
    }
}

fn point_id(namespace: &str, id: &str) -> Result<PointId> {
    let uuid = qdrant_edge::external::uuid::Uuid::parse_str(id)
        .map_err(|e| store_err(namespace, "parse an action id", format!("`{id}`: {e}")))?;
    Ok(PointId::Uuid(uuid))
}

fn json_path(namespace: &str, key: &str) -> Result<JsonPath> {
    JsonPath::try_from(key)
        .map_err(|_| store_err(namespace, "parse a payload key", format!("`{key}`")))
}

fn to_filter(namespace: &str, f: &ActionFilter) -> Result<Filter> {
    serde_json::from_value(f.to_qdrant_json())
        .map_err(|e| store_err(namespace, "build a filter", e))
}

fn dense(v: Option<VectorStructInternal>) -> Option<Vec<f32>> {
    match v? {
        VectorStructInternal::Single(v) => Some(v),
        VectorStructInternal::Named(mut m) => match m.remove(DEFAULT_VECTOR_NAME)? {
            VectorInternal::Dense(v) => Some(v),
            _ => None,
        },
        VectorStructInternal::MultiDense(_) => None,
    }
}

fn write_meta(dir: &Path, meta: &NamespaceMeta) -> Result<()> {
    let path = dir.join(META_FILE);
    let tmp = dir.join(format!("{META_FILE}.partial"));
    let text = serde_json::to_string_pretty(meta)
        .map_err(|e| store_err(&meta.namespace, "encode metadata", e))?;
    std::fs::write(&tmp, text).map_err(|e| ActionError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| ActionError::io("rename into", &path, e))?;
    Ok(())
}

fn read_meta(dir: &Path) -> Result<Option<NamespaceMeta>> {
    let path = dir.join(META_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ActionError::BadRecord {
                path: path.display().to_string(),
                line: 1,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ActionError::io("read", &path, e)),
    }
}

impl EdgeStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Self::open_with(root, EdgeStoreOptions::default()).await
    }

    pub async fn open_with(root: impl Into<PathBuf>, opts: EdgeStoreOptions) -> Result<Self> {
        let root = root.into();
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|e| ActionError::io("create the action store directory", &root, e))?;
        Ok(EdgeStore {
            root,
            opts,
            open: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ns_dir(&self, namespace: &str) -> PathBuf {
        self.root.join(safe_name(namespace))
    }

    fn edge_config(&self, dim: usize) -> EdgeConfig {
        let hnsw = HnswIndexConfig {
            m: self.opts.hnsw_m,
            ef_construct: self.opts.hnsw_ef_construct,
            ..HnswIndexConfig::default()
        };
        EdgeConfig {
            vectors: HashMap::from([(
                DEFAULT_VECTOR_NAME.to_string(),
                EdgeVectorParams {
                    size: dim,
                    distance: Distance::Cosine,
                    on_disk: None,
                    multivector_config: None,
                    datatype: None,
                    quantization_config: None,
                    hnsw_config: None,
                },
            )]),
            hnsw_config: hnsw,
            ..EdgeConfig::default()
        }
    }

    /// The open namespace, loading it from disk on first use; `None` if it does not exist.
    async fn get(&self, namespace: &str) -> Result<Option<Arc<EdgeNs>>> {
        let mut open = self.open.lock().await;
        if let Some(ns) = open.get(namespace) {
            return Ok(Some(ns.clone()));
        }
        let dir = self.ns_dir(namespace);
        let ns_name = namespace.to_string();
        let loaded = tokio::task::spawn_blocking(move || -> Result<Option<EdgeNs>> {
            let Some(meta) = read_meta(&dir)? else {
                return Ok(None);
            };
            let shard = EdgeShard::load(&dir.join(SHARD_DIR), None)
                .map_err(|e| store_err(&ns_name, "open the shard", e))?;
            Ok(Some(EdgeNs {
                dir,
                shard,
                meta: Mutex::new(meta),
                write: Mutex::new(()),
                since_optimize: AtomicUsize::new(0),
            }))
        })
        .await
        .map_err(|e| ActionError::join("opening an edge shard", e))??;
        Ok(loaded.map(|ns| {
            let ns = Arc::new(ns);
            open.insert(namespace.to_string(), ns.clone());
            tracing::debug!(namespace, dir = %ns.dir.display(), "opened action namespace");
            ns
        }))
    }

    async fn require(&self, namespace: &str) -> Result<Arc<EdgeNs>> {
        self.get(namespace)
            .await?
            .ok_or_else(|| ActionError::NoNamespace {
                namespace: namespace.to_string(),
            })
    }

    /// Runs the shard optimizer now (builds HNSW indexes for large segments). Blocking work
    /// runs off the async runtime.
    pub async fn optimize(&self, namespace: &str) -> Result<()> {
        let ns = self.require(namespace).await?;
        let name = namespace.to_string();
        tokio::task::spawn_blocking(move || {
            let _w = ns.write.lock();
            ns.shard
                .optimize()
                .map_err(|e| store_err(&name, "optimize", e))?;
            ns.since_optimize.store(0, Ordering::Relaxed);
            ns.shard.flush();
            Ok(())
        })
        .await
        .map_err(|e| ActionError::join("optimizing an edge shard", e))?
    }

    /// Search with an explicit HNSW beam (`None`: the store default); `exact` scans everything.
    pub async fn search_with(
        &self,
        namespace: &str,
        vector: &[f32],
        k: usize,
        filter: &ActionFilter,
        ef: Option<usize>,
        exact: bool,
    ) -> Result<Vec<ScoredAction>> {
        let ns = self.require(namespace).await?;
        let name = namespace.to_string();
        let filter = to_filter(namespace, filter)?;
        let request = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery {
                query: VectorInternal::Dense(vector.to_vec()),
                using: None,
            }),
            filter: Some(filter),
            params: Some(SearchParams {
                hnsw_ef: Some(ef.unwrap_or(self.opts.search_ef).max(k)),
                exact,
                ..SearchParams::default()
            }),
            limit: k,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: None,
            score_threshold: None,
        };
        tokio::task::spawn_blocking(move || {
            let points = ns
                .shard
                .search(request)
                .map_err(|e| store_err(&name, "search", e))?;
            points
                .into_iter()
                .map(|p| {
                    let payload = p.payload.map(|p| p.0).unwrap_or_default();
                    Ok(ScoredAction {
                        action: action_from_payload(BACKEND, &name, payload)?,
                        score: p.score,
                    })
                })
                .collect()
        })
        .await
        .map_err(|e| ActionError::join("searching an edge shard", e))?
    }
}

#[async_trait]
impl ActionStore for EdgeStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ensure_namespace(
        &self,
        namespace: &str,
        embedder: &EmbedderSpec,
    ) -> Result<NamespaceMeta> {
        if let Some(ns) = self.get(namespace).await? {
            let meta = ns.meta.lock().clone();
            meta.check_embedder(embedder)?;
            return Ok(meta);
        }
        let mut open = self.open.lock().await;
        if let Some(ns) = open.get(namespace) {
            let meta = ns.meta.lock().clone();
            meta.check_embedder(embedder)?;
            return Ok(meta);
        }
        let dir = self.ns_dir(namespace);
        let meta = NamespaceMeta::new(namespace, embedder);
        let config = self.edge_config(embedder.dim);
        let ns_name = namespace.to_string();
        let meta2 = meta.clone();
        let ns = tokio::task::spawn_blocking(move || -> Result<EdgeNs> {
            let shard_dir = dir.join(SHARD_DIR);
            std::fs::create_dir_all(&shard_dir)
                .map_err(|e| ActionError::io("create", &shard_dir, e))?;
            let shard = EdgeShard::new(&shard_dir, config)
                .map_err(|e| store_err(&ns_name, "create the shard", e))?;
            for (key, kind) in [
                ("kind", PayloadSchemaType::Keyword),
                ("name", PayloadSchemaType::Keyword),
                ("source_hash", PayloadSchemaType::Keyword),
                ("created_split", PayloadSchemaType::Keyword),
                ("created_seq", PayloadSchemaType::Integer),
                ("version", PayloadSchemaType::Integer),
            ] {
                shard
                    .update(UpdateOperation::FieldIndexOperation(
                        FieldIndexOperations::CreateIndex(CreateIndex {
                            field_name: json_path(&ns_name, key)?,
                            field_schema: Some(PayloadFieldSchema::FieldType(kind)),
                        }),
                    ))
                    .map_err(|e| store_err(&ns_name, &format!("index payload field `{key}`"), e))?;
            }
            shard.flush();
            // The metadata file marks the namespace as complete: written last.
            write_meta(&dir, &meta2)?;
            Ok(EdgeNs {
                dir,
                shard,
                meta: Mutex::new(meta2),
                write: Mutex::new(()),
                since_optimize: AtomicUsize::new(0),
            })
        })
        .await
        .map_err(|e| ActionError::join("creating an edge shard", e))??;
        tracing::info!(namespace, embedder = %embedder.id, dim = embedder.dim, "created action namespace");
        open.insert(namespace.to_string(), Arc::new(ns));
        Ok(meta)
    }

    async fn meta(&self, namespace: &str) -> Result<Option<NamespaceMeta>> {
        Ok(self.get(namespace).await?.map(|ns| ns.meta.lock().clone()))
    }

    async fn namespaces(&self) -> Result<Vec<String>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let entries =
                std::fs::read_dir(&root).map_err(|e| ActionError::io("list", &root, e))?;
            for entry in entries.flatten() {
                if let Some(meta) = read_meta(&entry.path())? {
                    out.push(meta.namespace);
                }
            }
            out.sort();
            Ok(out)
        })
        .await
        .map_err(|e| ActionError::join("listing namespaces", e))?
    }

    async fn allocate_seq(&self, namespace: &str, n: u64) -> Result<u64> {
        let ns = self.require(namespace).await?;
        tokio::task::spawn_blocking(move || {
            let mut meta = ns.meta.lock();
            meta.check_writable("store actions")?;
            let first = meta.next_seq;
            let mut next = meta.clone();
            next.next_seq = first + n;
            write_meta(&ns.dir, &next)?;
            *meta = next;
            Ok(first)
        })
        .await
        .map_err(|e| ActionError::join("allocating sequence numbers", e))?
    }

    async fn freeze(&self, namespace: &str) -> Result<NamespaceMeta> {
        let ns = self.require(namespace).await?;
        tokio::task::spawn_blocking(move || {
            let _w = ns.write.lock();
            let mut meta = ns.meta.lock();
            if !meta.frozen {
                let mut next = meta.clone();
                next.frozen = true;
                next.frozen_at_seq = Some(next.next_seq);
                write_meta(&ns.dir, &next)?;
                *meta = next;
                tracing::info!(namespace = %meta.namespace, at_seq = meta.next_seq, "froze action namespace");
            }
            Ok(meta.clone())
        })
        .await
        .map_err(|e| ActionError::join("freezing a namespace", e))?
    }

    async fn upsert(&self, namespace: &str, items: Vec<StoredAction>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let ns = self.require(namespace).await?;
        let name = namespace.to_string();
        let optimize_every = self.opts.optimize_every;
        tokio::task::spawn_blocking(move || {
            let _w = ns.write.lock();
            {
                let meta = ns.meta.lock();
                meta.check_writable("store actions")?;
                check_vectors(&meta, &items)?;
            }
            let n = items.len();
            let mut points = Vec::with_capacity(n);
            for it in items {
                let id = point_id(&name, &it.action.id)?;
                let payload = serde_json::Value::Object(action_payload(&it.action));
                points.push(PointStruct::new(id, it.vector.unwrap_or_default(), payload).into());
            }
            ns.shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
                ))
                .map_err(|e| store_err(&name, "upsert actions", e))?;
            if ns.since_optimize.fetch_add(n, Ordering::Relaxed) + n >= optimize_every {
                ns.shard
                    .optimize()
                    .map_err(|e| store_err(&name, "optimize", e))?;
                ns.since_optimize.store(0, Ordering::Relaxed);
            }
            ns.shard.flush();
            Ok(())
        })
        .await
        .map_err(|e| ActionError::join("upserting into an edge shard", e))?
    }

    async fn search(
        &self,
        namespace: &str,
        vector: &[f32],
        k: usize,
        filter: &ActionFilter,
    ) -> Result<Vec<ScoredAction>> {
        if k == 0 {
            return Ok(vec![]);
        }
        self.search_with(namespace, vector, k, filter, None, false)
            .await
    }

    async fn list(
        &self,
        namespace: &str,
        filter: &ActionFilter,
        with_vectors: bool,
    ) -> Result<Vec<StoredAction>> {
        let ns = self.require(namespace).await?;
        let name = namespace.to_string();
        let filter = to_filter(namespace, filter)?;
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut offset = None;
            loop {
                let (records, next) = ns
                    .shard
                    .scroll(ScrollRequest {
                        offset,
                        limit: Some(512),
                        filter: Some(filter.clone()),
                        with_payload: Some(WithPayloadInterface::Bool(true)),
                        with_vector: WithVector::Bool(with_vectors),
                        order_by: None,
                    })
                    .map_err(|e| store_err(&name, "list actions", e))?;
                for r in records {
                    let payload = r.payload.map(|p| p.0).unwrap_or_default();
                    out.push(StoredAction {
                        action: action_from_payload(BACKEND, &name, payload)?,
                        vector: if with_vectors { dense(r.vector) } else { None },
                    });
                }
                match next {
                    Some(n) => offset = Some(n),
                    None => break,
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| ActionError::join("listing an edge shard", e))?
    }

    async fn count(&self, namespace: &str, filter: &ActionFilter) -> Result<u64> {
        let ns = self.require(namespace).await?;
        let name = namespace.to_string();
        let filter = to_filter(namespace, filter)?;
        tokio::task::spawn_blocking(move || {
            ns.shard
                .count(CountRequest {
                    filter: Some(filter),
                    exact: true,
                })
                .map(|n| n as u64)
                .map_err(|e| store_err(&name, "count actions", e))
        })
        .await
        .map_err(|e| ActionError::join("counting an edge shard", e))?
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<()> {
        let mut open = self.open.lock().await;
        let dir = self.ns_dir(namespace);
        let mut held = open.remove(namespace);
        // Wait for in-flight operations to release the shard, so it flushes before removal.
        for _ in 0..500 {
            match held.take().map(Arc::try_unwrap) {
                None => break,
                Some(Ok(ns)) => {
                    tokio::task::spawn_blocking(move || drop(ns))
                        .await
                        .map_err(|e| ActionError::join("closing an edge shard", e))?;
                    break;
                }
                Some(Err(ns)) => {
                    held = Some(ns);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        if let Some(ns) = held {
            open.insert(namespace.to_string(), ns);
            return Err(store_err(
                namespace,
                "drop the namespace",
                "it is still in use",
            ));
        }
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ActionError::io("remove", &dir, e)),
        }
    }
}
