//! The embedded response cache: one redb file, written on blocking threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, TableDefinition};

use super::{CacheKey, CachedReply, ResponseCache};
use crate::LlmError;

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("llm_responses");

/// Replies in a single redb file (one machine).
#[derive(Clone)]
pub struct RedbResponseCache {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for RedbResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbResponseCache")
            .field("path", &self.path)
            .finish()
    }
}

fn err(path: &Path, what: &str, e: impl std::fmt::Display) -> LlmError {
    LlmError::Config(format!("response cache `{}`: {what}: {e}", path.display()))
}

impl RedbResponseCache {
    /// Opens (or creates) the cache file at `path`; blocking, call it from a blocking context
    /// or use [`RedbResponseCache::open_async`].
    pub fn open(path: &Path) -> Result<Self, LlmError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| err(path, "cannot create its folder", e))?;
        }
        let db = Database::create(path).map_err(|e| err(path, "cannot open", e))?;
        let tx = db.begin_write().map_err(|e| err(path, "cannot write", e))?;
        tx.open_table(TABLE)
            .map_err(|e| err(path, "cannot create table", e))?;
        tx.commit().map_err(|e| err(path, "cannot commit", e))?;
        Ok(RedbResponseCache {
            db: Arc::new(db),
            path: path.to_path_buf(),
        })
    }

    /// [`RedbResponseCache::open`] on a blocking thread.
    pub async fn open_async(path: &Path) -> Result<Self, LlmError> {
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open(&p))
            .await
            .map_err(|e| err(path, "open task failed", e))?
    }
}

#[async_trait]
impl ResponseCache for RedbResponseCache {
    async fn get(&self, key: &CacheKey) -> Result<Option<CachedReply>, LlmError> {
        let db = self.db.clone();
        let path = self.path.clone();
        let k = key.as_str().to_string();
        tokio::task::spawn_blocking(move || {
            let tx = db.begin_read().map_err(|e| err(&path, "cannot read", e))?;
            let table = tx
                .open_table(TABLE)
                .map_err(|e| err(&path, "cannot open table", e))?;
            let Some(v) = table
                .get(k.as_str())
                .map_err(|e| err(&path, "cannot get", e))?
            else {
                return Ok(None);
            };
            serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| err(&path, &format!("entry `{k}` is corrupt"), e))
        })
        .await
        .map_err(|e| err(&self.path, "read task failed", e))?
    }

    async fn put(&self, key: &CacheKey, reply: &CachedReply) -> Result<(), LlmError> {
        let db = self.db.clone();
        let path = self.path.clone();
        let k = key.as_str().to_string();
        let bytes = serde_json::to_vec(reply).map_err(|e| err(&self.path, "cannot encode", e))?;
        tokio::task::spawn_blocking(move || {
            let tx = db
                .begin_write()
                .map_err(|e| err(&path, "cannot write", e))?;
            {
                let mut table = tx
                    .open_table(TABLE)
                    .map_err(|e| err(&path, "cannot open table", e))?;
                table
                    .insert(k.as_str(), bytes.as_slice())
                    .map_err(|e| err(&path, "cannot insert", e))?;
            }
            tx.commit().map_err(|e| err(&path, "cannot commit", e))
        })
        .await
        .map_err(|e| err(&self.path, "write task failed", e))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_and_reads_back_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cache.redb");
        let key = CacheKey("abc".into());
        let reply = CachedReply {
            content: "hello".into(),
            prompt_tokens: 3,
            completion_tokens: 4,
            model: "m".into(),
        };
        {
            let c = RedbResponseCache::open_async(&path).await.unwrap();
            assert_eq!(c.get(&key).await.unwrap(), None);
            c.put(&key, &reply).await.unwrap();
        }
        let c = RedbResponseCache::open_async(&path).await.unwrap();
        assert_eq!(c.get(&key).await.unwrap(), Some(reply));
    }
}
