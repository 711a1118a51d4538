//! The action store on a Qdrant server (cluster mode), via `qdrant-client`: one collection per
//! namespace (`herd_actions-<safe namespace>`). The namespace metadata lives in a reserved
//! point of the collection (`kind: "meta"`), which every action query filters out. Only the
//! coordinator writes, so read-modify-write of that point is serialised in-process. Every call
//! is retried briefly when the server cannot be reached ([`herd_core::retry::quick`]); past
//! that it fails with [`ActionError::Unavailable`], which callers may retry longer.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use herd_core::retry::{self, Retryable};
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    Distance, FieldType, Filter, GetPointsBuilder, HnswConfigDiffBuilder, PointId, PointStruct,
    QueryPointsBuilder, Range, RetrievedPoint, ScrollPointsBuilder, SearchParamsBuilder,
    UpsertPointsBuilder, VectorParamsBuilder, vector_output::Vector,
};
use qdrant_client::{Qdrant, QdrantError};

use super::{
    ActionFilter, ActionStore, EmbedderSpec, NamespaceMeta, ScoredAction, StoredAction,
    action_from_payload, action_payload, check_vectors, safe_name,
};
use crate::error::{ActionError, Result};

const BACKEND: &str = "server";
const PREFIX: &str = "herd_actions-";
/// The reserved point holding a namespace's metadata.
const META_ID: &str = "00000000-0000-4000-8000-000000000000";
/// The `qdrant-client` version pinned in the workspace (checked against `Cargo.lock` in a
/// test). Qdrant supports a client within one minor version of its server.
const CLIENT_VERSION: (u64, u64) = (1, 19);
/// Points per page when listing a namespace.
const LIST_PAGE: u32 = 512;

/// The Qdrant-server action store.
pub struct ServerStore {
    client: Qdrant,
    url: String,
    search_ef: u64,
    /// Serialises metadata read-modify-write (sequence allocation, freezing).
    meta_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ServerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStore")
            .field("url", &self.url)
            .finish()
    }
}

/// Whether a failed call may succeed if repeated: the server was unreachable, restarting,
/// overloaded or timed out. Answers (not found, bad request, wrong key) are final.
fn is_transient(e: &QdrantError) -> bool {
    use tonic::Code;
    match e {
        QdrantError::ResponseError { status } => {
            matches!(
                status.code(),
                Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Unknown
                    | Code::Aborted
                    | Code::Cancelled
            )
            // The client's channel pool reports a refused or reset connection as INTERNAL.
            || (status.code() == Code::Internal && status.message().starts_with("Failed to connect"))
        }
        QdrantError::ResourceExhaustedError { .. } | QdrantError::Io(_) => true,
        _ => false,
    }
}

fn is_auth(e: &QdrantError) -> bool {
    matches!(e, QdrantError::ResponseError { status }
        if matches!(status.code(), tonic::Code::Unauthenticated | tonic::Code::PermissionDenied))
}

/// `major.minor` of a version string such as `1.18.3`.
fn major_minor(v: &str) -> Option<(u64, u64)> {
    let mut it = v.trim().trim_start_matches('v').split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Whether a server of this version works with the pinned client (same major, minor ±1).
fn compatible(server: (u64, u64)) -> bool {
    server.0 == CLIENT_VERSION.0 && server.1.abs_diff(CLIENT_VERSION.1) <= 1
}

/// A short description of a client error (the status message, not its metadata dump).
fn describe(e: &QdrantError) -> String {
    match e {
        QdrantError::ResponseError { status } => {
            let m = status.message();
            // A transport error's debug dump ends in the OS error's text; that is the news.
            if m.starts_with("Failed to connect")
                && let Some(at) = m.rfind("message: \"")
            {
                let rest = &m[at + "message: \"".len()..];
                return format!("cannot connect: {}", rest.split('"').next().unwrap_or(rest));
            }
            format!("{:?}: {m}", status.code())
        }
        other => other.to_string(),
    }
}

fn collection(namespace: &str) -> String {
    format!("{PREFIX}{}", safe_name(namespace))
}

fn to_filter(f: &ActionFilter) -> Filter {
    let mut must = vec![Condition::matches("kind", "action".to_string())];
    if let Some(s) = f.before_seq {
        must.push(Condition::range(
            "created_seq",
            Range {
                lt: Some(s as f64),
                ..Default::default()
            },
        ));
    }
    if let Some(s) = &f.split {
        must.push(Condition::matches("created_split", s.clone()));
    }
    if let Some(n) = &f.name {
        must.push(Condition::matches("name", n.clone()));
    }
    if let Some(v) = f.version {
        must.push(Condition::matches("version", v as i64));
    }
    if let Some(h) = &f.source_hash {
        must.push(Condition::matches("source_hash", h.clone()));
    }
    Filter::must(must)
}

fn payload_json(
    p: std::collections::HashMap<String, qdrant_client::qdrant::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    p.into_iter().map(|(k, v)| (k, v.into_json())).collect()
}

impl ServerStore {
    /// Connects to the Qdrant server at `url` (gRPC, e.g. `http://localhost:6334`) with
    /// `api_key`, and checks that it answers, accepts the key and runs a compatible version.
    pub async fn connect(url: &str, api_key: Option<String>) -> Result<Self> {
        let fail = |message: String| ActionError::Store {
            backend: BACKEND,
            namespace: "*".into(),
            operation: format!("connect to the Qdrant server at {url}"),
            message,
        };
        let client = Qdrant::from_url(url)
            .api_key(api_key.clone())
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(3))
            // The client's own check blocks the runtime and prints to stdout; ours is below.
            .skip_compatibility_check()
            .build()
            .map_err(|e| {
                fail(format!(
                    "{e}; give the server's gRPC URL, e.g. http://qdrant:6334"
                ))
            })?;
        let store = ServerStore {
            client,
            url: url.to_string(),
            search_ef: 128,
            meta_lock: tokio::sync::Mutex::new(()),
        };
        let health = store
            .call("*", "check the server's health", || {
                store.client.health_check()
            })
            .await?;
        match major_minor(&health.version) {
            Some(v) if compatible(v) => {}
            _ => {
                return Err(fail(format!(
                    "the server runs Qdrant {}, but herd's client ({}.{}) works with servers \
                     {}.{}–{}.{}; run Qdrant 1.18.3 (the build in ../shared/qdrant)",
                    health.version,
                    CLIENT_VERSION.0,
                    CLIENT_VERSION.1,
                    CLIENT_VERSION.0,
                    CLIENT_VERSION.1.saturating_sub(1),
                    CLIENT_VERSION.0,
                    CLIENT_VERSION.1 + 1
                )));
            }
        }
        // The health check needs no key; listing collections does.
        store
            .client
            .list_collections()
            .await
            .map_err(|e| {
                if is_auth(&e) {
                    fail(format!(
                        "the server refused the API key ({}); set the key it was started with \
                         in HERD_QDRANT_API_KEY (or the variable `stores.qdrant_api_key_env` names)",
                        if api_key.is_some() { "a key was sent" } else { "none was sent" }
                    ))
                } else {
                    fail(describe(&e))
                }
            })?;
        tracing::info!(url, server_version = %health.version, "connected to the Qdrant server");
        Ok(store)
    }

    /// Runs one client call, retrying it briefly while the server is unreachable.
    async fn call<T, F, Fut>(&self, namespace: &str, operation: &str, f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, QdrantError>>,
    {
        f.retry(retry::quick())
            .when(is_transient)
            .notify(|e, after| {
                tracing::warn!(url = %self.url, namespace, operation, retry_in = ?after, error = %describe(e), "Qdrant call failed; retrying");
            })
            .await
            .map_err(|e| self.error(namespace, operation, &e))
    }

    fn error(&self, namespace: &str, operation: &str, e: &QdrantError) -> ActionError {
        if is_transient(e) {
            ActionError::Unavailable {
                url: self.url.clone(),
                namespace: namespace.to_string(),
                operation: operation.to_string(),
                message: describe(e),
            }
        } else {
            ActionError::Store {
                backend: BACKEND,
                namespace: namespace.to_string(),
                operation: operation.to_string(),
                message: describe(e),
            }
        }
    }

    async fn collection_exists(&self, namespace: &str, coll: &str) -> Result<bool> {
        self.call(namespace, "check the collection", || {
            self.client.collection_exists(coll)
        })
        .await
    }

    async fn read_meta(&self, namespace: &str) -> Result<Option<NamespaceMeta>> {
        let coll = collection(namespace);
        if !self.collection_exists(namespace, &coll).await? {
            return Ok(None);
        }
        self.read_meta_of(&coll, namespace).await
    }

    async fn read_meta_of(&self, coll: &str, namespace: &str) -> Result<Option<NamespaceMeta>> {
        let req = GetPointsBuilder::new(coll, vec![PointId::from(META_ID)])
            .with_payload(true)
            .build();
        let resp = self
            .call(namespace, "read the namespace metadata", || {
                self.client.get_points(req.clone())
            })
            .await?;
        let Some(point) = resp.result.into_iter().next() else {
            return Ok(None);
        };
        let mut payload = payload_json(point.payload);
        let meta = payload.remove("meta").unwrap_or_default();
        serde_json::from_value(meta)
            .map(Some)
            .map_err(|e| self.error_msg(namespace, "decode the namespace metadata", e))
    }

    fn error_msg(
        &self,
        namespace: &str,
        operation: &str,
        e: impl std::fmt::Display,
    ) -> ActionError {
        ActionError::Store {
            backend: BACKEND,
            namespace: namespace.to_string(),
            operation: operation.to_string(),
            message: e.to_string(),
        }
    }

    async fn write_meta(&self, meta: &NamespaceMeta) -> Result<()> {
        let coll = collection(&meta.namespace);
        let mut unit = vec![0.0f32; meta.embedder.dim.max(1)];
        unit[0] = 1.0;
        let payload = serde_json::json!({ "kind": "meta", "meta": meta });
        let payload = qdrant_client::Payload::try_from(payload)
            .map_err(|e| self.error_msg(&meta.namespace, "encode metadata", e))?;
        let req = UpsertPointsBuilder::new(coll, vec![PointStruct::new(META_ID, unit, payload)])
            .wait(true)
            .build();
        self.call(&meta.namespace, "write the namespace metadata", || {
            self.client.upsert_points(req.clone())
        })
        .await?;
        Ok(())
    }

    async fn require(&self, namespace: &str) -> Result<NamespaceMeta> {
        self.read_meta(namespace)
            .await?
            .ok_or_else(|| ActionError::NoNamespace {
                namespace: namespace.to_string(),
            })
    }

    fn decode(namespace: &str, p: RetrievedPoint, with_vectors: bool) -> Result<StoredAction> {
        let vector = if with_vectors {
            p.vectors
                .and_then(|v| v.get_vector())
                .and_then(|v| match v {
                    Vector::Dense(d) => Some(d.data),
                    _ => None,
                })
        } else {
            None
        };
        Ok(StoredAction {
            action: action_from_payload(BACKEND, namespace, payload_json(p.payload))?,
            vector,
        })
    }

    /// Waits until the server has finished optimising (indexing) the namespace's collection,
    /// so that measurements see the built index; errors after `timeout`.
    pub async fn wait_until_indexed(&self, namespace: &str, timeout: Duration) -> Result<()> {
        use qdrant_client::qdrant::CollectionStatus;
        let coll = collection(namespace);
        let start = std::time::Instant::now();
        let mut grey_since: Option<std::time::Instant> = None;
        loop {
            let info = self
                .call(namespace, "read the collection's status", || {
                    self.client.collection_info(coll.as_str())
                })
                .await?;
            let status = info.result.map(|r| r.status).unwrap_or_default();
            if status == CollectionStatus::Green as i32 {
                return Ok(());
            }
            // Grey: optimisation pending but not started; nothing will change by waiting.
            if status == CollectionStatus::Grey as i32 {
                let since = *grey_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > Duration::from_secs(5) {
                    return Ok(());
                }
            } else {
                grey_since = None;
            }
            if start.elapsed() > timeout {
                return Err(self.error_msg(
                    namespace,
                    "wait for indexing",
                    format!("the collection is still not green after {timeout:?}"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Creates the collection and its payload indexes. Safe to repeat: a collection that a
    /// retried call already created, or an index that exists, is not an error.
    async fn create_collection(&self, namespace: &str, coll: &str, dim: usize) -> Result<()> {
        let req = CreateCollectionBuilder::new(coll)
            .vectors_config(VectorParamsBuilder::new(dim as u64, Distance::Cosine))
            .hnsw_config(HnswConfigDiffBuilder::default().m(16).ef_construct(128))
            .build();
        if let Err(e) = self
            .call(namespace, "create the collection", || {
                self.client.create_collection(req.clone())
            })
            .await
            && !self.collection_exists(namespace, coll).await?
        {
            return Err(e);
        }
        for (key, kind) in [
            ("kind", FieldType::Keyword),
            ("name", FieldType::Keyword),
            ("source_hash", FieldType::Keyword),
            ("created_split", FieldType::Keyword),
            ("created_seq", FieldType::Integer),
            ("version", FieldType::Integer),
        ] {
            let req = CreateFieldIndexCollectionBuilder::new(coll, key, kind)
                .wait(true)
                .build();
            self.call(namespace, &format!("index payload field `{key}`"), || {
                self.client.create_field_index(req.clone())
            })
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ActionStore for ServerStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ensure_namespace(
        &self,
        namespace: &str,
        embedder: &EmbedderSpec,
    ) -> Result<NamespaceMeta> {
        let _g = self.meta_lock.lock().await;
        if let Some(meta) = self.read_meta(namespace).await? {
            meta.check_embedder(embedder)?;
            return Ok(meta);
        }
        let coll = collection(namespace);
        self.create_collection(namespace, &coll, embedder.dim)
            .await?;
        let meta = NamespaceMeta::new(namespace, embedder);
        self.write_meta(&meta).await?;
        tracing::info!(namespace, collection = %coll, embedder = %embedder.id, "created action namespace");
        Ok(meta)
    }

    async fn meta(&self, namespace: &str) -> Result<Option<NamespaceMeta>> {
        self.read_meta(namespace).await
    }

    async fn namespaces(&self) -> Result<Vec<String>> {
        let resp = self
            .call("*", "list collections", || self.client.list_collections())
            .await?;
        let mut out = Vec::new();
        for c in resp.collections {
            if c.name.starts_with(PREFIX)
                && let Some(meta) = self.read_meta_of(&c.name, &c.name).await?
            {
                out.push(meta.namespace);
            }
        }
        out.sort();
        Ok(out)
    }

    async fn allocate_seq(&self, namespace: &str, n: u64) -> Result<u64> {
        let _g = self.meta_lock.lock().await;
        let mut meta = self.require(namespace).await?;
        meta.check_writable("store actions")?;
        let first = meta.next_seq;
        meta.next_seq += n;
        self.write_meta(&meta).await?;
        Ok(first)
    }

    async fn freeze(&self, namespace: &str) -> Result<NamespaceMeta> {
        let _g = self.meta_lock.lock().await;
        let mut meta = self.require(namespace).await?;
        if !meta.frozen {
            meta.frozen = true;
            meta.frozen_at_seq = Some(meta.next_seq);
            self.write_meta(&meta).await?;
            tracing::info!(namespace, at_seq = meta.next_seq, "froze action namespace");
        }
        Ok(meta)
    }

    async fn upsert(&self, namespace: &str, items: Vec<StoredAction>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let meta = self.require(namespace).await?;
        meta.check_writable("store actions")?;
        check_vectors(&meta, &items)?;
        let mut points = Vec::with_capacity(items.len());
        for it in items {
            let payload = qdrant_client::Payload::from(action_payload(&it.action));
            points.push(PointStruct::new(
                it.action.id.clone(),
                it.vector.unwrap_or_default(),
                payload,
            ));
        }
        // Points are keyed by action id, so a repeated upsert replaces rather than adds.
        let req = UpsertPointsBuilder::new(collection(namespace), points)
            .wait(true)
            .build();
        self.call(namespace, "upsert actions", || {
            self.client.upsert_points(req.clone())
        })
        .await?;
        Ok(())
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
        // No metadata read first (one round trip per search): a missing collection is
        // recognised from the server's answer.
        let req = QueryPointsBuilder::new(collection(namespace))
            .query(vector.to_vec())
            .limit(k as u64)
            .filter(to_filter(filter))
            .with_payload(true)
            .params(SearchParamsBuilder::default().hnsw_ef(self.search_ef.max(k as u64)))
            .build();
        let resp = match self
            .call(namespace, "search", || self.client.query(req.clone()))
            .await
        {
            Ok(r) => r,
            Err(e) if self.meta(namespace).await?.is_none() => {
                drop(e);
                return Err(ActionError::NoNamespace {
                    namespace: namespace.to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        resp.result
            .into_iter()
            .map(|p| {
                Ok(ScoredAction {
                    action: action_from_payload(BACKEND, namespace, payload_json(p.payload))?,
                    score: p.score,
                })
            })
            .collect()
    }

    async fn list(
        &self,
        namespace: &str,
        filter: &ActionFilter,
        with_vectors: bool,
    ) -> Result<Vec<StoredAction>> {
        self.require(namespace).await?;
        let coll = collection(namespace);
        let filter = to_filter(filter);
        let mut out = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut req = ScrollPointsBuilder::new(&coll)
                .filter(filter.clone())
                .limit(LIST_PAGE)
                .with_payload(true)
                .with_vectors(with_vectors);
            if let Some(o) = offset.take() {
                req = req.offset(o);
            }
            let req = req.build();
            let resp = self
                .call(namespace, "list actions", || {
                    self.client.scroll(req.clone())
                })
                .await?;
            for p in resp.result {
                out.push(Self::decode(namespace, p, with_vectors)?);
            }
            match resp.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        Ok(out)
    }

    async fn count(&self, namespace: &str, filter: &ActionFilter) -> Result<u64> {
        self.require(namespace).await?;
        let req = CountPointsBuilder::new(collection(namespace))
            .filter(to_filter(filter))
            .exact(true)
            .build();
        let resp = self
            .call(namespace, "count actions", || {
                self.client.count(req.clone())
            })
            .await?;
        Ok(resp.result.map(|r| r.count).unwrap_or(0))
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<()> {
        let _g = self.meta_lock.lock().await;
        let coll = collection(namespace);
        if self.collection_exists(namespace, &coll).await? {
            self.call(namespace, "delete the collection", || {
                self.client.delete_collection(coll.as_str())
            })
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_within_one_minor_of_the_client_are_compatible() {
        assert_eq!(major_minor("1.18.3"), Some((1, 18)));
        assert_eq!(major_minor("v1.19.0"), Some((1, 19)));
        assert_eq!(major_minor("dev"), None);
        assert!(compatible((1, 18)) && compatible((1, 19)) && compatible((1, 20)));
        assert!(!compatible((1, 17)) && !compatible((1, 21)) && !compatible((2, 19)));
    }

    #[test]
    fn the_client_version_constant_matches_the_lock_file() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
            .expect("read Cargo.lock");
        let at = lock
            .find("name = \"qdrant-client\"\nversion = \"")
            .expect("qdrant-client in Cargo.lock");
        let rest = &lock[at + "name = \"qdrant-client\"\nversion = \"".len()..];
        let version = &rest[..rest.find('"').expect("end quote")];
        assert_eq!(
            major_minor(version),
            Some(CLIENT_VERSION),
            "update CLIENT_VERSION with the qdrant-client pin"
        );
    }
}
