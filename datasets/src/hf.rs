//! Downloads dataset files from the Hugging Face hub (`hf://owner/name[@revision]`) into a
//! local cache, using the hub's plain HTTP layout and `HF_TOKEN` as a bearer token:
//!
//! - the revision (a branch or tag, default `main`) is resolved to a commit once, through
//!   `{endpoint}/api/datasets/{owner}/{name}/revision/{revision}` (the `sha` field), and the
//!   answer is kept in `{cache}/datasets/{owner}/{name}/refs/{revision}`: later loads use that
//!   commit without asking the hub again (pin another with `@commit`, or delete the ref file);
//! - files come from `{endpoint}/datasets/{owner}/{name}/resolve/{commit}/{path}` into
//!   `{cache}/datasets/{owner}/{name}/snapshots/{commit}/{path}` and are never downloaded
//!   again; a 404 at a commit is remembered too (`no_exist/{commit}/{path}`), since a commit
//!   never changes.
//!
//! So a dataset loaded once loads again with no network at all.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::DatasetError;
use crate::source::{DATASETS_DIR_ENV, LoadOptions};

/// Default hub endpoint (override with `HF_ENDPOINT`).
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// One dataset repository on the hub.
#[derive(Debug, Clone)]
pub struct HfRepo {
    pub owner: String,
    pub name: String,
    /// As written: a branch, a tag or a commit.
    pub revision: String,
    pub endpoint: String,
    token: Option<String>,
    pub cache_root: PathBuf,
    /// How to do without the hub, appended to download errors (herd's default sources name
    /// the local file that `HERD_DATASETS_DIR` should hold).
    pub(crate) offline_hint: Option<String>,
    /// The commit `revision` resolved to (shared by clones).
    commit: Arc<OnceLock<String>>,
}

/// The download cache root: `$HERD_CACHE_DIR/hf`, else `~/.cache/herd/hf` (`$HERD_CACHE/hf`
/// is still read, for caches made by older herds).
pub fn default_cache_dir() -> PathBuf {
    for var in ["HERD_CACHE_DIR", "HERD_CACHE"] {
        if let Ok(c) = std::env::var(var)
            && !c.is_empty()
        {
            return PathBuf::from(c).join("hf");
        }
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".to_string());
    PathBuf::from(home).join(".cache").join("herd").join("hf")
}

/// The hub endpoint in effect: the option, else `HF_ENDPOINT`, else huggingface.co.
pub fn endpoint(opts: &LoadOptions) -> String {
    opts.hf_endpoint
        .clone()
        .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_HF_ENDPOINT.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The token in effect: the option (an empty string means "no token"), else `HF_TOKEN`.
pub fn token(opts: &LoadOptions) -> Option<String> {
    match &opts.hf_token {
        Some(t) => Some(t.clone()).filter(|t| !t.is_empty()),
        None => std::env::var("HF_TOKEN").ok().filter(|s| !s.is_empty()),
    }
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn valid_rel(rel: &str) -> bool {
    !rel.is_empty()
        && !rel
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
}

fn join_rel(mut p: PathBuf, rel: &str) -> PathBuf {
    for seg in rel.split('/') {
        p.push(seg);
    }
    p
}

/// Writes `bytes` to `dest` atomically (a temp file in the same folder, then a rename).
fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    let dir = dest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(|e| DatasetError::io(dir.display(), e))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(&dir).map_err(|e| DatasetError::io(dir.display(), e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| DatasetError::io(dest.display(), e))?;
    tmp.persist(dest)
        .map_err(|e| DatasetError::io(dest.display(), e.error))?;
    Ok(())
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
        Ok(HfRepo {
            owner: owner.to_string(),
            name: name.to_string(),
            revision,
            endpoint: endpoint(opts),
            token: token(opts),
            cache_root: opts.cache_dir.clone().unwrap_or_else(default_cache_dir),
            offline_hint: None,
            commit: Arc::new(OnceLock::new()),
        })
    }

    /// `owner/name`.
    pub fn repo_id(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// `hf://owner/name@revision` as written.
    pub fn uri(&self) -> String {
        format!("hf://{}/{}@{}", self.owner, self.name, self.revision)
    }

    /// `hf://owner/name@commit` once the revision is resolved (else as written): what was read.
    pub fn pinned_uri(&self) -> String {
        match self.commit.get() {
            Some(c) => format!("hf://{}/{}@{}", self.owner, self.name, c),
            None => self.uri(),
        }
    }

    /// The repo's page on the hub (where its terms are accepted).
    pub fn page(&self) -> String {
        format!("{}/datasets/{}/{}", self.endpoint, self.owner, self.name)
    }

    /// The commit already resolved in this process, if any.
    pub fn resolved_commit(&self) -> Option<String> {
        self.commit.get().cloned()
    }

    fn repo_cache(&self) -> PathBuf {
        self.cache_root
            .join("datasets")
            .join(&self.owner)
            .join(&self.name)
    }

    fn ref_file(&self) -> PathBuf {
        self.repo_cache().join("refs").join(&self.revision)
    }

    /// The commit the revision resolves to in the cache, without any network.
    pub fn cached_commit(&self) -> Option<String> {
        if let Some(c) = self.commit.get() {
            return Some(c.clone());
        }
        if is_commit(&self.revision) {
            return Some(self.revision.to_ascii_lowercase());
        }
        let s = std::fs::read_to_string(self.ref_file()).ok()?;
        let s = s.trim();
        is_commit(s).then(|| s.to_ascii_lowercase())
    }

    /// Where `rel` of `commit` is (or would be) cached.
    pub fn snapshot_path(&self, commit: &str, rel: &str) -> PathBuf {
        join_rel(self.repo_cache().join("snapshots").join(commit), rel)
    }

    fn missing_marker(&self, commit: &str, rel: &str) -> PathBuf {
        join_rel(self.repo_cache().join("no_exist").join(commit), rel)
    }

    /// The cached copy of `rel`, without any network.
    pub fn cached_file(&self, rel: &str) -> Option<PathBuf> {
        if !valid_rel(rel) {
            return None;
        }
        let p = self.snapshot_path(&self.cached_commit()?, rel);
        p.is_file().then_some(p)
    }

    fn api_url(&self) -> String {
        format!(
            "{}/api/datasets/{}/{}/revision/{}",
            self.endpoint, self.owner, self.name, self.revision
        )
    }

    /// The download URL of `rel` at `commit`.
    pub fn url_at(&self, commit: &str, rel: &str) -> String {
        format!(
            "{}/datasets/{}/{}/resolve/{}/{}",
            self.endpoint, self.owner, self.name, commit, rel
        )
    }

    /// The text appended to errors: what to do without the hub.
    fn offline_fix(&self) -> String {
        match &self.offline_hint {
            Some(h) => h.clone(),
            None => format!(
                "point the benchmark's `source` at a local copy (files read once from the hub \
                 stay in {} and load again without network)",
                self.cache_root.display()
            ),
        }
    }

    fn error(&self, url: &str, failure: Failure) -> DatasetError {
        let message = match failure {
            Failure::Denied(status) => {
                let token_state = if self.token.is_some() {
                    "the HF_TOKEN sent was refused: check that it is valid and that its account has accepted the terms"
                } else {
                    "no HF_TOKEN is set"
                };
                format!(
                    "HTTP {status}: `{}` is gated or private ({token_state}). Accept its terms at {} and set HF_TOKEN to an access token of that account; or, instead of the hub, {}",
                    self.uri(),
                    self.page(),
                    self.offline_fix()
                )
            }
            Failure::Network(e) => format!(
                "cannot reach the Hugging Face hub at {} ({e}). To work offline, {}",
                self.endpoint,
                self.offline_fix()
            ),
            Failure::Status(status, body) => {
                format!(
                    "HTTP {status} from the hub: {body}. Without the hub: {}",
                    self.offline_fix()
                )
            }
            Failure::NotFound => format!(
                "HTTP 404 from the hub. Without the hub: {}",
                self.offline_fix()
            ),
        };
        DatasetError::Download {
            url: url.to_string(),
            message,
        }
    }

    /// The commit the revision resolves to: a commit is used as is; a branch or tag is looked
    /// up once and the answer kept in the cache, so later loads ask nothing.
    pub fn commit(&self) -> Result<String, DatasetError> {
        if let Some(c) = self.cached_commit() {
            let _ = self.commit.set(c.clone());
            return Ok(c);
        }
        let url = self.api_url();
        let body = match http_get(&url, self.token.as_deref()) {
            Ok(b) => b,
            Err(Failure::NotFound) => {
                return Err(DatasetError::Download {
                    url,
                    message: format!(
                        "HTTP 404: the hub has no dataset `{}` with revision `{}` (check the name and the revision; a private repo also needs HF_TOKEN). Without the hub: {}",
                        self.repo_id(),
                        self.revision,
                        self.offline_fix()
                    ),
                });
            }
            Err(f) => return Err(self.error(&url, f)),
        };
        let sha = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("sha").and_then(|s| s.as_str()).map(str::to_string))
            .filter(|s| is_commit(s))
            .ok_or_else(|| DatasetError::Download {
                url: url.clone(),
                message: "the hub's answer has no commit `sha`".into(),
            })?
            .to_ascii_lowercase();
        write_atomic(&self.ref_file(), sha.as_bytes())?;
        tracing::info!(repo = %self.repo_id(), revision = %self.revision, commit = %sha, "resolved hub revision");
        let _ = self.commit.set(sha.clone());
        Ok(sha)
    }

    /// The cached local copy of `rel`, downloading it first if needed; `None` when the repo
    /// has no such file.
    pub fn fetch(&self, rel: &str) -> Result<Option<PathBuf>, DatasetError> {
        if !valid_rel(rel) {
            return Err(DatasetError::Config(format!(
                "invalid path `{rel}` in hub repo {}",
                self.uri()
            )));
        }
        let commit = self.commit()?;
        let dest = self.snapshot_path(&commit, rel);
        if dest.is_file() {
            return Ok(Some(dest));
        }
        let marker = self.missing_marker(&commit, rel);
        if marker.is_file() {
            return Ok(None);
        }
        let url = self.url_at(&commit, rel);
        let bytes = match http_get(&url, self.token.as_deref()) {
            Ok(b) => b,
            Err(Failure::NotFound) => {
                write_atomic(&marker, b"")?;
                return Ok(None);
            }
            Err(f) => return Err(self.error(&url, f)),
        };
        write_atomic(&dest, &bytes)?;
        tracing::info!(url = %url, bytes = bytes.len(), path = %dest.display(), "downloaded dataset file");
        Ok(Some(dest))
    }

    /// The error for a required file the repo does not have.
    pub(crate) fn missing_file(&self, rel: &str) -> DatasetError {
        let commit = self
            .resolved_commit()
            .unwrap_or_else(|| self.revision.clone());
        DatasetError::Download {
            url: self.url_at(&commit, rel),
            message: format!(
                "HTTP 404: dataset repo `{}` (revision `{}`, commit {commit}) has no file `{rel}`. Without the hub: {}",
                self.repo_id(),
                self.revision,
                self.offline_fix()
            ),
        }
    }
}

/// Why a GET failed.
enum Failure {
    NotFound,
    /// 401 or 403.
    Denied(u16),
    Status(u16, String),
    /// No answer at all: DNS, refused connection, timeout.
    Network(String),
}

/// Mentioned in messages where the fix is to work offline.
pub(crate) fn offline_hint(local: &str) -> String {
    format!("set {DATASETS_DIR_ENV} to a folder holding `{local}` (see `herd datasets list`)")
}

/// GETs `url` on a private thread with its own runtime, so callers may be sync or async.
fn http_get(url: &str, token: Option<&str>) -> Result<Vec<u8>, Failure> {
    let url_s = url.to_string();
    let token = token.map(str::to_string);
    let handle = std::thread::spawn(move || -> Result<Vec<u8>, Failure> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Network(format!("cannot start a runtime: {e}")))?;
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(20))
                .timeout(Duration::from_secs(300))
                .build()
                .map_err(|e| Failure::Network(e.to_string()))?;
            let mut req = client.get(&url_s);
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| Failure::Network(error_chain(&e)))?;
            let status = resp.status();
            if status == reqwest::StatusCode::NOT_FOUND {
                return Err(Failure::NotFound);
            }
            if status == reqwest::StatusCode::UNAUTHORIZED
                || status == reqwest::StatusCode::FORBIDDEN
            {
                return Err(Failure::Denied(status.as_u16()));
            }
            if !status.is_success() {
                let body = resp.text().await.unwrap_or_default();
                let body: String = body.chars().take(200).collect();
                return Err(Failure::Status(status.as_u16(), body));
            }
            let b = resp
                .bytes()
                .await
                .map_err(|e| Failure::Network(error_chain(&e)))?;
            Ok(b.to_vec())
        })
    });
    handle
        .join()
        .unwrap_or_else(|_| Err(Failure::Network("download thread panicked".into())))
}

/// An error and its causes, e.g. "error sending request: …: Connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
