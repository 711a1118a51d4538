//! Downloads dataset files from the Hugging Face hub (`hf://owner/name[@revision]`) into a
//! local cache, using the hub's plain HTTP layout
//! `{endpoint}/datasets/{owner}/{name}/resolve/{revision}/{path}` and `HF_TOKEN` as a bearer token.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::DatasetError;
use crate::source::LoadOptions;

/// Default hub endpoint (override with `HF_ENDPOINT`).
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// One dataset repository on the hub.
#[derive(Debug, Clone)]
pub struct HfRepo {
    pub owner: String,
    pub name: String,
    pub revision: String,
    pub endpoint: String,
    token: Option<String>,
    pub cache_root: PathBuf,
}

/// The download cache root: `$HERD_CACHE/hf`, else `~/.cache/herd/hf`.
pub fn default_cache_dir() -> PathBuf {
    if let Ok(c) = std::env::var("HERD_CACHE")
        && !c.is_empty()
    {
        return PathBuf::from(c).join("hf");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".to_string());
    PathBuf::from(home).join(".cache").join("herd").join("hf")
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl HfRepo {
    /// Parses `owner/name[@revision]` (the part after `hf://`).
    pub fn parse(spec: &str, opts: &LoadOptions) -> Result<HfRepo, DatasetError> {
        let (repo, revision) = match spec.split_once('@') {
            Some((r, rev)) => (r, rev.to_string()),
            None => (spec, "main".to_string()),
        };
        let bad = || {
            DatasetError::Config(format!(
                "invalid hub source `hf://{spec}`: expected `hf://owner/dataset[@revision]`"
            ))
        };
        let (owner, name) = repo.trim_end_matches('/').split_once('/').ok_or_else(bad)?;
        if !valid_segment(owner) || !valid_segment(name) || !valid_segment(&revision) {
            return Err(bad());
        }
        let endpoint = opts
            .hf_endpoint
            .clone()
            .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| DEFAULT_HF_ENDPOINT.to_string());
        let token = opts
            .hf_token
            .clone()
            .or_else(|| std::env::var("HF_TOKEN").ok().filter(|s| !s.is_empty()));
        Ok(HfRepo {
            owner: owner.to_string(),
            name: name.to_string(),
            revision,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            cache_root: opts.cache_dir.clone().unwrap_or_else(default_cache_dir),
        })
    }

    pub fn uri(&self) -> String {
        format!("hf://{}/{}@{}", self.owner, self.name, self.revision)
    }

    pub fn url(&self, rel: &str) -> String {
        format!(
            "{}/datasets/{}/{}/resolve/{}/{}",
            self.endpoint, self.owner, self.name, self.revision, rel
        )
    }

    fn cache_path(&self, rel: &str) -> PathBuf {
        let mut p = self
            .cache_root
            .join("datasets")
            .join(&self.owner)
            .join(&self.name)
            .join(&self.revision);
        for seg in rel.split('/') {
            p.push(seg);
        }
        p
    }

    /// The cached local copy of `rel`, downloading it first if needed; `None` on 404.
    pub fn fetch(&self, rel: &str) -> Result<Option<PathBuf>, DatasetError> {
        if rel.is_empty()
            || rel
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(DatasetError::Config(format!(
                "invalid path `{rel}` in hub repo {}",
                self.uri()
            )));
        }
        let dest = self.cache_path(rel);
        if dest.is_file() {
            return Ok(Some(dest));
        }
        let url = self.url(rel);
        let Some(bytes) = download(&url, self.token.as_deref())? else {
            return Ok(None);
        };
        let dir = dest
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| self.cache_root.clone());
        std::fs::create_dir_all(&dir).map_err(|e| DatasetError::io(dir.display(), e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| DatasetError::io(dir.display(), e))?;
        std::io::Write::write_all(&mut tmp, &bytes)
            .map_err(|e| DatasetError::io(dest.display(), e))?;
        tmp.persist(&dest)
            .map_err(|e| DatasetError::io(dest.display(), e.error))?;
        tracing::info!(url = %url, bytes = bytes.len(), path = %dest.display(), "downloaded dataset file");
        Ok(Some(dest))
    }
}

/// GETs `url` on a private thread with its own runtime, so callers may be sync or async.
fn download(url: &str, token: Option<&str>) -> Result<Option<Vec<u8>>, DatasetError> {
    let url_s = url.to_string();
    let token = token.map(str::to_string);
    let handle = std::thread::spawn(move || -> Result<Option<Vec<u8>>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .map_err(|e| e.to_string())?;
            let mut req = client.get(&url_s);
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            if status == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
                return Err(format!(
                    "HTTP {status}: the dataset is gated or private; accept its terms on the hub and set HF_TOKEN{}",
                    if token.is_some() { " (a token was sent but refused)" } else { " (no token was set)" }
                ));
            }
            if !status.is_success() {
                return Err(format!("HTTP {status}"));
            }
            let b = resp.bytes().await.map_err(|e| e.to_string())?;
            Ok(Some(b.to_vec()))
        })
    });
    handle
        .join()
        .map_err(|_| DatasetError::Download {
            url: url.to_string(),
            message: "download thread panicked".into(),
        })?
        .map_err(|message| DatasetError::Download {
            url: url.to_string(),
            message,
        })
}
