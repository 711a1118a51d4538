//! The action store on a Qdrant server (cluster mode), via `qdrant-client`: one collection per
//! namespace (`herd_actions-<safe namespace>`). The namespace metadata lives in a reserved
//! point of the collection (`kind: "meta"`), which every action query filters out. Only the
//! coordinator writes, so read-modify-write of that point is serialised in-process.

use async_trait::async_trait;
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    Distance, FieldType, Filter, GetPointsBuilder, HnswConfigDiffBuilder, PointId, PointStruct,
    QueryPointsBuilder, Range, RetrievedPoint, ScrollPointsBuilder, SearchParamsBuilder,
    UpsertPointsBuilder, VectorParamsBuilder, vector_output::Vector,
};

use super::{
    ActionFilter, ActionStore, EmbedderSpec, NamespaceMeta, ScoredAction, StoredAction,
    action_from_payload, action_payload, check_vectors, safe_name,
};
use crate::error::{ActionError, Result};

const BACKEND: &str = "server";
const PREFIX: &str = "herd_actions-";
/// The reserved point holding a namespace's metadata.
const META_ID: &str = "00000000-0000-4000-8000-000000000000";

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

fn err(namespace: &str, operation: &str, e: impl std::fmt::Display) -> ActionError {
    ActionError::Store {
        backend: BACKEND,
        namespace: namespace.to_string(),
        operation: operation.to_string(),
        message: e.to_string(),
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
    /// Connects to the Qdrant server at `url` (gRPC, e.g. `http://localhost:6334`); the API
    /// key, if any, comes from the env var named `api_key_env`.
    pub async fn connect(url: &str, api_key_env: Option<&str>) -> Result<Self> {
        let key = match api_key_env {
            Some(name) => Some(std::env::var(name).map_err(|_| ActionError::MissingKey {
                name: name.to_string(),
            })?),
            None => None,
        };
        let client = Qdrant::from_url(url)
            .api_key(key)
            .build()
            .map_err(|e| err("*", &format!("connect to {url}"), e))?;
        client
            .health_check()
            .await
            .map_err(|e| err("*", &format!("reach the Qdrant server at {url}"), e))?;
        Ok(ServerStore {
            client,
            url: url.to_string(),
            search_ef: 128,
            meta_lock: tokio::sync::Mutex::new(()),
        })
    }

    async fn read_meta(&self, namespace: &str) -> Result<Option<NamespaceMeta>> {
        let coll = collection(namespace);
        let exists = self
            .client
            .collection_exists(&coll)
            .await
            .map_err(|e| err(namespace, "check the collection", e))?;
        if !exists {
            return Ok(None);
        }
        self.read_meta_of(&coll, namespace).await
    }

    async fn read_meta_of(&self, coll: &str, namespace: &str) -> Result<Option<NamespaceMeta>> {
        let resp = self
            .client
            .get_points(
                GetPointsBuilder::new(coll, vec![PointId::from(META_ID)]).with_payload(true),
            )
            .await
            .map_err(|e| err(namespace, "read the namespace metadata", e))?;
        let Some(point) = resp.result.into_iter().next() else {
            return Ok(None);
        };
        let mut payload = payload_json(point.payload);
        let meta = payload.remove("meta").unwrap_or_default();
        serde_json::from_value(meta)
            .map(Some)
            .map_err(|e| err(namespace, "decode the namespace metadata", e))
    }

    async fn write_meta(&self, meta: &NamespaceMeta) -> Result<()> {
        let coll = collection(&meta.namespace);
        let mut unit = vec![0.0f32; meta.embedder.dim.max(1)];
        unit[0] = 1.0;
        let payload = serde_json::json!({ "kind": "meta", "meta": meta });
        let payload = qdrant_client::Payload::try_from(payload)
            .map_err(|e| err(&meta.namespace, "encode metadata", e))?;
        self.client
            .upsert_points(
                UpsertPointsBuilder::new(coll, vec![PointStruct::new(META_ID, unit, payload)])
                    .wait(true),
            )
            .await
            .map_err(|e| err(&meta.namespace, "write the namespace metadata", e))?;
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
        let exists = self
            .client
            .collection_exists(&coll)
            .await
            .map_err(|e| err(namespace, "check the collection", e))?;
        if !exists {
            self.client
                .create_collection(
                    CreateCollectionBuilder::new(&coll)
                        .vectors_config(VectorParamsBuilder::new(
                            embedder.dim as u64,
                            Distance::Cosine,
                        ))
                        .hnsw_config(HnswConfigDiffBuilder::default().m(16).ef_construct(128)),
                )
                .await
                .map_err(|e| err(namespace, "create the collection", e))?;
        }
        for (key, kind) in [
            ("kind", FieldType::Keyword),
            ("name", FieldType::Keyword),
            ("source_hash", FieldType::Keyword),
            ("created_split", FieldType::Keyword),
            ("created_seq", FieldType::Integer),
            ("version", FieldType::Integer),
        ] {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(&coll, key, kind).wait(true),
                )
                .await
                .map_err(|e| err(namespace, &format!("index payload field `{key}`"), e))?;
        }
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
            .client
            .list_collections()
            .await
            .map_err(|e| err("*", "list collections", e))?;
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
        self.client
            .upsert_points(UpsertPointsBuilder::new(collection(namespace), points).wait(true))
            .await
            .map_err(|e| err(namespace, "upsert actions", e))?;
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
        self.require(namespace).await?;
        let resp = self
            .client
            .query(
                QueryPointsBuilder::new(collection(namespace))
                    .query(vector.to_vec())
                    .limit(k as u64)
                    .filter(to_filter(filter))
                    .with_payload(true)
                    .params(SearchParamsBuilder::default().hnsw_ef(self.search_ef.max(k as u64))),
            )
            .await
            .map_err(|e| err(namespace, "search", e))?;
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
                .limit(512)
                .with_payload(true)
                .with_vectors(with_vectors);
            if let Some(o) = offset.take() {
                req = req.offset(o);
            }
            let resp = self
                .client
                .scroll(req)
                .await
                .map_err(|e| err(namespace, "list actions", e))?;
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
        let resp = self
            .client
            .count(
                CountPointsBuilder::new(collection(namespace))
                    .filter(to_filter(filter))
                    .exact(true),
            )
            .await
            .map_err(|e| err(namespace, "count actions", e))?;
        Ok(resp.result.map(|r| r.count).unwrap_or(0))
    }

    async fn drop_namespace(&self, namespace: &str) -> Result<()> {
        let _g = self.meta_lock.lock().await;
        let coll = collection(namespace);
        let exists = self
            .client
            .collection_exists(&coll)
            .await
            .map_err(|e| err(namespace, "check the collection", e))?;
        if exists {
            self.client
                .delete_collection(&coll)
                .await
                .map_err(|e| err(namespace, "delete the collection", e))?;
        }
        Ok(())
    }
}
