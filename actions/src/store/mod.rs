//! The action store: one async trait over namespaces of embedded actions, with an embedded
//! qdrant-edge implementation (one on-disk shard per namespace, the default) and a Qdrant
//! server implementation (one collection per namespace). JSONL export/import lives here too.

mod edge;
mod jsonl;
mod server;

pub use edge::{EdgeStore, EdgeStoreOptions};
pub use jsonl::{read_jsonl, write_jsonl};
pub use server::ServerStore;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::error::{ActionError, Result};

/// Which embedder a namespace's vectors come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmbedderSpec {
    pub id: String,
    pub dim: usize,
}

/// What the store records about a namespace besides its actions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamespaceMeta {
    pub namespace: String,
    pub embedder: EmbedderSpec,
    /// Frozen namespaces refuse every write (train-then-test after the barrier).
    pub frozen: bool,
    /// The write sequence value at freezing time (actions with `created_seq` below it).
    pub frozen_at_seq: Option<u64>,
    /// The next value of the namespace's monotonic write sequence.
    pub next_seq: u64,
    pub created_at: String,
}

impl NamespaceMeta {
    pub fn new(namespace: &str, embedder: &EmbedderSpec) -> Self {
        NamespaceMeta {
            namespace: namespace.to_string(),
            embedder: embedder.clone(),
            frozen: false,
            frozen_at_seq: None,
            next_seq: 0,
            created_at: chrono::Utc::now().to_rfc3339(),
        }
    }

    /// Errors unless `embedder` is the one this namespace was built with.
    pub fn check_embedder(&self, embedder: &EmbedderSpec) -> Result<()> {
        if self.embedder != *embedder {
            return Err(ActionError::EmbedderMismatch {
                namespace: self.namespace.clone(),
                stored_id: self.embedder.id.clone(),
                stored_dim: self.embedder.dim,
                id: embedder.id.clone(),
                dim: embedder.dim,
            });
        }
        Ok(())
    }

    /// Errors when the namespace is frozen.
    pub fn check_writable(&self, operation: &str) -> Result<()> {
        if self.frozen {
            return Err(ActionError::Frozen {
                namespace: self.namespace.clone(),
                operation: operation.to_string(),
            });
        }
        Ok(())
    }
}

/// Restricts searches, counts and listings. Empty = everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ActionFilter {
    /// Only actions with `created_seq < before_seq` (stored before a task started, or before
    /// the freeze).
    pub before_seq: Option<u64>,
    /// Only actions created by tasks of this split (e.g. `train`).
    pub split: Option<String>,
    /// Only actions with this name.
    pub name: Option<String>,
    /// Only this version (with `name`).
    pub version: Option<u32>,
    /// Only actions with this normalised-source hash.
    pub source_hash: Option<String>,
}

impl ActionFilter {
    pub fn before(seq: u64) -> Self {
        ActionFilter {
            before_seq: Some(seq),
            ..Default::default()
        }
    }

    pub fn by_name(name: &str) -> Self {
        ActionFilter {
            name: Some(name.to_string()),
            ..Default::default()
        }
    }

    pub fn by_hash(hash: &str) -> Self {
        ActionFilter {
            source_hash: Some(hash.to_string()),
            ..Default::default()
        }
    }

    /// Whether `a` passes (used by backends to double-check and by tests).
    pub fn matches(&self, a: &Action) -> bool {
        self.before_seq.is_none_or(|s| a.created_seq < s)
            && self
                .split
                .as_ref()
                .is_none_or(|s| a.created_split.as_ref() == Some(s))
            && self.name.as_ref().is_none_or(|n| &a.name == n)
            && self.version.is_none_or(|v| a.version == v)
            && self
                .source_hash
                .as_ref()
                .is_none_or(|h| &a.source_hash == h)
    }

    /// The filter in Qdrant's JSON filter language (payload keys are the action's fields).
    pub(crate) fn to_qdrant_json(&self) -> serde_json::Value {
        let mut must = vec![serde_json::json!({"key": "kind", "match": {"value": "action"}})];
        if let Some(s) = self.before_seq {
            must.push(serde_json::json!({"key": "created_seq", "range": {"lt": s as f64}}));
        }
        if let Some(s) = &self.split {
            must.push(serde_json::json!({"key": "created_split", "match": {"value": s}}));
        }
        if let Some(n) = &self.name {
            must.push(serde_json::json!({"key": "name", "match": {"value": n}}));
        }
        if let Some(v) = self.version {
            must.push(serde_json::json!({"key": "version", "match": {"value": v}}));
        }
        if let Some(h) = &self.source_hash {
            must.push(serde_json::json!({"key": "source_hash", "match": {"value": h}}));
        }
        serde_json::json!({ "must": must })
    }
}

/// A search hit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScoredAction {
    pub action: Action,
    /// Cosine similarity to the query.
    pub score: f32,
}

/// An action with its stored vector (for export, copying and re-indexing).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredAction {
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
}

/// Storage of embedded actions, partitioned into namespaces (one per sweep × arm × backbone).
///
/// Implementations are safe to share between tasks; writes to one namespace should come from
/// one process (the coordinator) — [`crate::ActionLibrary`] serialises them.
#[async_trait]
pub trait ActionStore: Send + Sync {
    /// `edge` or `server`, for logs.
    fn backend(&self) -> &'static str;

    /// Opens or creates `namespace` for `embedder`; refuses a namespace built with another
    /// embedder or dimension.
    async fn ensure_namespace(
        &self,
        namespace: &str,
        embedder: &EmbedderSpec,
    ) -> Result<NamespaceMeta>;

    /// The namespace's metadata, or `None` if it does not exist.
    async fn meta(&self, namespace: &str) -> Result<Option<NamespaceMeta>>;

    /// All namespaces in the store.
    async fn namespaces(&self) -> Result<Vec<String>>;

    /// Reserves `n` consecutive sequence numbers and returns the first. Refused when frozen.
    async fn allocate_seq(&self, namespace: &str, n: u64) -> Result<u64>;

    /// Marks the namespace read-only (idempotent); returns the updated metadata.
    async fn freeze(&self, namespace: &str) -> Result<NamespaceMeta>;

    /// Inserts or replaces actions (by id) with their vectors. Refused when frozen.
    async fn upsert(&self, namespace: &str, items: Vec<StoredAction>) -> Result<()>;

    /// The `k` actions most similar to `vector` that pass `filter`, best first.
    async fn search(
        &self,
        namespace: &str,
        vector: &[f32],
        k: usize,
        filter: &ActionFilter,
    ) -> Result<Vec<ScoredAction>>;

    /// Every action passing `filter` (order unspecified), with vectors when asked.
    async fn list(
        &self,
        namespace: &str,
        filter: &ActionFilter,
        with_vectors: bool,
    ) -> Result<Vec<StoredAction>>;

    /// How many actions pass `filter`.
    async fn count(&self, namespace: &str, filter: &ActionFilter) -> Result<u64>;

    /// Deletes the namespace and everything in it (idempotent).
    async fn drop_namespace(&self, namespace: &str) -> Result<()>;
}

/// Checks that every vector has the namespace's dimension.
pub(crate) fn check_vectors(meta: &NamespaceMeta, items: &[StoredAction]) -> Result<()> {
    for it in items {
        let got = it.vector.as_ref().map(Vec::len).unwrap_or(0);
        if got != meta.embedder.dim {
            return Err(ActionError::BadVector {
                namespace: meta.namespace.clone(),
                name: it.action.name.clone(),
                got,
                expected: meta.embedder.dim,
            });
        }
    }
    Ok(())
}

/// The action's payload as stored: its fields plus `kind: "action"`.
pub(crate) fn action_payload(a: &Action) -> serde_json::Map<String, serde_json::Value> {
    let mut map = match serde_json::to_value(a) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    map.insert("kind".into(), serde_json::Value::String("action".into()));
    map
}

/// Reads an action back from a stored payload.
pub(crate) fn action_from_payload(
    backend: &'static str,
    namespace: &str,
    mut map: serde_json::Map<String, serde_json::Value>,
) -> Result<Action> {
    map.remove("kind");
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| ActionError::Store {
        backend,
        namespace: namespace.to_string(),
        operation: "decode a stored action".into(),
        message: e.to_string(),
    })
}

/// A file/collection-safe rendering of a namespace: `[a-z0-9_-]`, plus a short hash of the
/// original so distinct namespaces never collide.
pub(crate) fn safe_name(namespace: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut s: String = namespace
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let h = hex::encode(&Sha256::digest(namespace.as_bytes())[..4]);
    s.push('-');
    s.push_str(&h);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_are_distinct_and_clean() {
        let a = safe_name("sweep/arm:online/gpt-4o");
        let b = safe_name("sweep_arm_online_gpt-4o");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{a}"
        );
    }

    #[test]
    fn mismatch_message_names_both_embedders() {
        let meta = NamespaceMeta::new(
            "x",
            &EmbedderSpec {
                id: "a".into(),
                dim: 384,
            },
        );
        let err = meta
            .check_embedder(&EmbedderSpec {
                id: "b".into(),
                dim: 1536,
            })
            .expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "action store namespace `x` was built with embedder `a` (dim 384); this sweep uses `b` (dim 1536)"
        );
        assert!(
            meta.check_embedder(&EmbedderSpec {
                id: "a".into(),
                dim: 384
            })
            .is_ok()
        );
    }
}
