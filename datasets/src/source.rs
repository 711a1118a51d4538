//! Where benchmark files come from: a local file or folder, the Hugging Face hub (`hf://`),
//! or the builtin herd-mini. Every byte read goes through [`Reader`], which fingerprints it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use herd_core::config::BenchmarkKind;
use sha2::{Digest, Sha256};

use crate::error::DatasetError;
use crate::hf::HfRepo;

/// Environment variable naming the folder that holds the shared benchmark files.
pub const SHARED_DATASETS_ENV: &str = "HERD_SHARED_DATASETS";

/// Default source of GAIA (gated: needs `HF_TOKEN`).
pub const GAIA_HF_SOURCE: &str = "hf://gaia-benchmark/GAIA";

/// A root files are fetched from.
#[derive(Debug)]
pub(crate) enum Store {
    Local(PathBuf),
    Hf(HfRepo),
}

/// A location: a store plus a `/`-separated path relative to its root.
#[derive(Debug, Clone)]
pub(crate) struct Loc {
    pub store: Arc<Store>,
    pub rel: String,
}

impl Loc {
    pub fn join(&self, rel: &str) -> Loc {
        let rel = if self.rel.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{}", self.rel.trim_end_matches('/'), rel)
        };
        Loc {
            store: self.store.clone(),
            rel,
        }
    }

    /// The folder this location is in.
    pub fn parent(&self) -> Loc {
        let rel = match self.rel.rfind('/') {
            Some(i) => self.rel[..i].to_string(),
            None => String::new(),
        };
        Loc {
            store: self.store.clone(),
            rel,
        }
    }

    /// Human-readable form for errors and reports.
    pub fn display(&self) -> String {
        match &*self.store {
            Store::Local(root) => {
                if self.rel.is_empty() {
                    root.display().to_string()
                } else {
                    root.join(&self.rel).display().to_string()
                }
            }
            Store::Hf(repo) => format!("{}/{}", repo.uri(), self.rel),
        }
    }

    /// The local file for this location (downloading it for `hf://`), or `None` if absent.
    pub fn fetch(&self) -> Result<Option<PathBuf>, DatasetError> {
        match &*self.store {
            Store::Local(root) => {
                let p = if self.rel.is_empty() {
                    root.clone()
                } else {
                    root.join(&self.rel)
                };
                Ok(p.is_file().then_some(p))
            }
            Store::Hf(repo) => repo.fetch(&self.rel),
        }
    }
}

/// What a benchmark `source` resolved to.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    /// A folder (local or hub repo root) laid out like upstream.
    Dir(Loc),
    /// One file given directly.
    File(Loc),
    /// The data embedded in this crate.
    Builtin,
}

impl Resolved {
    pub fn display(&self) -> String {
        match self {
            Resolved::Dir(l) | Resolved::File(l) => l.display(),
            Resolved::Builtin => "builtin".to_string(),
        }
    }

    /// The first candidate (relative to a folder source) that exists; a file source is used as is.
    pub fn find(
        &self,
        kind: BenchmarkKind,
        subset: &str,
        candidates: &[String],
    ) -> Result<Loc, DatasetError> {
        match self {
            Resolved::File(l) => Ok(l.clone()),
            Resolved::Dir(root) => {
                for c in candidates {
                    let loc = root.join(c);
                    if loc.fetch()?.is_some() {
                        return Ok(loc);
                    }
                }
                Err(DatasetError::FileNotFound {
                    kind: kind.as_str().to_string(),
                    subset: subset.to_string(),
                    root: root.display(),
                    tried: candidates.join(", "),
                })
            }
            Resolved::Builtin => Err(DatasetError::Config(format!(
                "source `builtin` only exists for herd-mini, not {}",
                kind.as_str()
            ))),
        }
    }
}

/// Options that override the environment (for tests and embedding programs).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// GPQA zip password; overrides the config's `password_env` variable.
    pub gpqa_password: Option<String>,
    /// Hugging Face endpoint; overrides `HF_ENDPOINT` (default `https://huggingface.co`).
    pub hf_endpoint: Option<String>,
    /// Hugging Face token; overrides `HF_TOKEN`.
    pub hf_token: Option<String>,
    /// Download cache root; overrides `$HERD_CACHE/hf` and `~/.cache/herd/hf`.
    pub cache_dir: Option<PathBuf>,
    /// Collect per-line problems instead of failing on the first (used by `validate`).
    pub lenient: bool,
}

/// The folder with the shared benchmark files: `$HERD_SHARED_DATASETS`, else the first
/// `shared/datasets` found beside `base_dir` or one of its ancestors (CI keeps the repo at
/// `X/main` and the data at `X/shared/datasets`).
pub fn shared_datasets_dir(base_dir: &Path) -> Option<PathBuf> {
    if let Ok(v) = std::env::var(SHARED_DATASETS_ENV)
        && !v.is_empty()
    {
        return Some(PathBuf::from(v));
    }
    let abs = if base_dir.is_absolute() {
        base_dir.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(base_dir)
    };
    abs.ancestors()
        .map(|a| a.join("shared").join("datasets"))
        .find(|c| c.is_dir())
}

/// Resolves a config `source` against `base_dir`.
pub(crate) fn resolve(
    kind: BenchmarkKind,
    source: Option<&str>,
    base_dir: &Path,
    opts: &LoadOptions,
) -> Result<Resolved, DatasetError> {
    let source = match source {
        Some(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => match kind {
            BenchmarkKind::HerdMini => return Ok(Resolved::Builtin),
            BenchmarkKind::Gaia => GAIA_HF_SOURCE.to_string(),
            _ => {
                let dir = shared_datasets_dir(base_dir).ok_or_else(|| DatasetError::SourceNotFound {
                    source_desc: "(default)".into(),
                    message: format!(
                        "no `source` given and no shared datasets folder found: set {SHARED_DATASETS_ENV} or put `shared/datasets` beside `{}`",
                        base_dir.display()
                    ),
                })?;
                return Ok(Resolved::Dir(Loc {
                    store: Arc::new(Store::Local(dir)),
                    rel: String::new(),
                }));
            }
        },
    };
    if source == "builtin" {
        return if kind == BenchmarkKind::HerdMini {
            Ok(Resolved::Builtin)
        } else {
            Err(DatasetError::Config(format!(
                "source `builtin` only exists for herd-mini, not {}",
                kind.as_str()
            )))
        };
    }
    if let Some(rest) = source.strip_prefix("hf://") {
        let repo = HfRepo::parse(rest, opts)?;
        return Ok(Resolved::Dir(Loc {
            store: Arc::new(Store::Hf(repo)),
            rel: String::new(),
        }));
    }
    let p = PathBuf::from(&source);
    let p = if p.is_absolute() { p } else { base_dir.join(p) };
    if p.is_file() {
        let parent = p.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Resolved::File(Loc {
            store: Arc::new(Store::Local(parent)),
            rel: name,
        }))
    } else if p.is_dir() {
        Ok(Resolved::Dir(Loc {
            store: Arc::new(Store::Local(p)),
            rel: String::new(),
        }))
    } else {
        Err(DatasetError::SourceNotFound {
            source_desc: source.clone(),
            message: format!("`{}` is neither a file nor a folder", p.display()),
        })
    }
}

/// Reads source files and fingerprints every byte read.
pub(crate) struct Reader {
    hasher: Sha256,
    /// Files read, in order (display form).
    pub files: Vec<String>,
    pub opts: LoadOptions,
    /// Problems collected in lenient mode.
    pub problems: Vec<DatasetError>,
}

impl Reader {
    pub fn new(opts: LoadOptions) -> Reader {
        Reader {
            hasher: Sha256::new(),
            files: Vec::new(),
            opts,
            problems: Vec::new(),
        }
    }

    fn absorb(&mut self, label: &str, bytes: &[u8]) {
        self.hasher.update((label.len() as u64).to_le_bytes());
        self.hasher.update(label.as_bytes());
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    /// Reads a required file: `(local path, bytes)`.
    pub fn read(&mut self, loc: &Loc) -> Result<(PathBuf, Vec<u8>), DatasetError> {
        match self.read_opt(loc)? {
            Some(x) => Ok(x),
            None => Err(DatasetError::Io {
                path: loc.display(),
                message: "file does not exist".into(),
            }),
        }
    }

    /// Reads a file if it exists.
    pub fn read_opt(&mut self, loc: &Loc) -> Result<Option<(PathBuf, Vec<u8>)>, DatasetError> {
        let Some(path) = loc.fetch()? else {
            return Ok(None);
        };
        let bytes = std::fs::read(&path).map_err(|e| DatasetError::io(loc.display(), e))?;
        self.add_bytes(&loc.rel, &bytes);
        Ok(Some((path, bytes)))
    }

    /// Fingerprints bytes that did not come from a file (embedded data).
    pub fn add_bytes(&mut self, label: &str, bytes: &[u8]) {
        self.absorb(label, bytes);
        self.files.push(label.to_string());
    }

    /// Records a per-item problem: an error in strict mode, a note in lenient mode.
    pub fn problem(&mut self, err: DatasetError) -> Result<(), DatasetError> {
        if self.opts.lenient {
            self.problems.push(err);
            Ok(())
        } else {
            Err(err)
        }
    }

    pub fn finish(mut self, subset: &str) -> (String, Vec<DatasetError>) {
        self.absorb("subset", subset.as_bytes());
        (hex::encode(self.hasher.finalize()), self.problems)
    }
}
