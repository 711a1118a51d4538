//! The action store the coordinator hosts for its workers: an [`ActionLibrary`] over the
//! embedded qdrant-edge shard (or a Qdrant server), opened on first use so sweeps without
//! accumulation never load the embedder. A Qdrant server is connected to at open, so a wrong
//! URL or key stops the coordinator at start. Serves `ActionCall` and the scheduler's hooks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use herd_actions::{
    ActionLibrary, ActionStore, EdgeStore, Embedder, LibraryRequest, MiniLmEmbedder, ServerStore,
};
use herd_core::config::StoresConfig;
use tokio::sync::OnceCell;

use crate::scheduler::ActionHooks;
use crate::service::{ActionBackend, ActionCallError};

/// The hosted action library.
pub struct ActionHost {
    dir: PathBuf,
    stores: StoresConfig,
    /// The Qdrant server store, connected at open (none: the embedded store, opened lazily).
    server: Option<Arc<ServerStore>>,
    library: OnceCell<Arc<ActionLibrary>>,
}

/// Connects to the Qdrant server a stores config names (its API key from the environment).
pub async fn connect_server(stores: &StoresConfig) -> Result<Option<ServerStore>, String> {
    let Some(url) = &stores.qdrant_url else {
        return Ok(None);
    };
    let key = stores.qdrant_api_key()?;
    ServerStore::connect(url, key)
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}

impl ActionHost {
    /// Prepares the host: connects to a Qdrant server now (a wrong URL or key is an error
    /// here); the embedded store and the embedder open on first use.
    pub async fn open(dir: &Path, stores: &StoresConfig) -> Result<ActionHost, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("failed to create `{}`: {e}", dir.display()))?;
        let server = connect_server(stores).await?.map(Arc::new);
        Ok(ActionHost {
            dir: dir.to_path_buf(),
            stores: stores.clone(),
            server,
            library: OnceCell::new(),
        })
    }

    /// The library, opening store and embedder the first time.
    pub async fn library(&self) -> Result<Arc<ActionLibrary>, String> {
        self.library
            .get_or_try_init(|| async {
                let store: Arc<dyn ActionStore> = match &self.server {
                    Some(server) => server.clone(),
                    None => Arc::new(
                        EdgeStore::open(self.dir.clone())
                            .await
                            .map_err(|e| e.to_string())?,
                    ),
                };
                let embedder = open_embedder(&self.stores).await?;
                Ok::<_, String>(Arc::new(ActionLibrary::new(store, embedder)))
            })
            .await
            .cloned()
    }
}

/// Opens the embedder a stores config names.
pub async fn open_embedder(stores: &StoresConfig) -> Result<Arc<dyn Embedder>, String> {
    let e = &stores.embedder;
    match e.kind.as_str() {
        "openai" => {
            let mut cfg = herd_actions::OpenAiEmbedderConfig::new(
                e.base_url
                    .clone()
                    .unwrap_or_else(|| "https://api.openai.com/v1".into()),
                e.model
                    .clone()
                    .unwrap_or_else(|| "text-embedding-3-large".into()),
            );
            cfg.api_key_env = e.api_key_env.clone();
            Ok(Arc::new(
                herd_actions::OpenAiEmbedder::connect(cfg)
                    .await
                    .map_err(|x| x.to_string())?,
            ))
        }
        _ => {
            let m = tokio::task::spawn_blocking(MiniLmEmbedder::load_default)
                .await
                .map_err(|x| x.to_string())?
                .map_err(|x| x.to_string())?;
            Ok(Arc::new(m))
        }
    }
}

#[async_trait::async_trait]
impl ActionBackend for ActionHost {
    async fn call(
        &self,
        method: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, ActionCallError> {
        let req: LibraryRequest = serde_json::from_value(body)
            .map_err(|e| ActionCallError::Failed(format!("malformed `{method}` request: {e}")))?;
        let lib = self.library().await.map_err(ActionCallError::Failed)?;
        let resp = lib.handle(req).await.map_err(|e| {
            if e.is_unavailable() {
                ActionCallError::Unavailable(e.to_string())
            } else {
                ActionCallError::Failed(e.to_string())
            }
        })?;
        serde_json::to_value(resp).map_err(|e| ActionCallError::Failed(e.to_string()))
    }
}

#[async_trait::async_trait]
impl ActionHooks for ActionHost {
    async fn freeze(&self, namespace: &str) -> Result<(), String> {
        let lib = self.library().await?;
        lib.ensure(namespace).await.map_err(|e| e.to_string())?;
        lib.freeze(namespace)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn import(&self, namespace: &str, path: &str) -> Result<u64, String> {
        let lib = self.library().await?;
        lib.import(namespace, Path::new(path))
            .await
            .map(|r| r.imported as u64)
            .map_err(|e| e.to_string())
    }
}
