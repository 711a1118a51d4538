//! Where benchmark files come from: a local file or folder, the Hugging Face hub (`hf://`),
//! or the builtin herd-mini; with no `source`, the offline override folder
//! (`HERD_DATASETS_DIR`) or the benchmark's default ([`crate::defaults`]). Every byte read
//! goes through [`Reader`], which fingerprints it (hub files with their commit).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use herd_core::config::BenchmarkKind;
use sha2::{Digest, Sha256};

use crate::defaults::{self, DefaultSource, Origin};
use crate::error::DatasetError;
use crate::hf::HfRepo;

/// Environment variable naming the offline override: a local folder in the shared layout
/// (`math/math500/test.jsonl`, `gpqa/dataset.zip`, …; `herd datasets list` shows each path).
/// When set, benchmarks without a `source` load from it and never touch the network.
pub const DATASETS_DIR_ENV: &str = "HERD_DATASETS_DIR";

/// The override's former name, still read when `HERD_DATASETS_DIR` is unset.
pub const LEGACY_DATASETS_DIR_ENV: &str = "HERD_SHARED_DATASETS";

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
            Store::Hf(repo) => {
                if self.rel.is_empty() {
                    repo.pinned_uri()
                } else {
                    format!("{}/{}", repo.pinned_uri(), self.rel)
                }
            }
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
                    hint: String::new(),
                })
            }
            Resolved::Builtin => Err(DatasetError::Config(format!(
                "source `builtin` only exists for herd-mini, not {}",
                kind.as_str()
            ))),
        }
    }
}

/// Where benchmarks without a `source` look first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LocalOverride {
    /// `$HERD_DATASETS_DIR` (or the older `$HERD_SHARED_DATASETS`) if set, else none.
    #[default]
    FromEnv,
    /// This folder, whatever the environment says.
    Dir(PathBuf),
    /// No override, whatever the environment says: defaults come from the hub.
    Off,
}

/// Options that override the environment (for tests and embedding programs).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// GPQA zip password; overrides the config's `password_env` variable.
    pub gpqa_password: Option<String>,
    /// Hugging Face endpoint; overrides `HF_ENDPOINT` (default `https://huggingface.co`).
    pub hf_endpoint: Option<String>,
    /// Hugging Face token; overrides `HF_TOKEN` (`Some("")`: send none).
    pub hf_token: Option<String>,
    /// Download cache root; overrides `$HERD_CACHE_DIR/hf` and `~/.cache/herd/hf`.
    pub cache_dir: Option<PathBuf>,
    /// The offline override folder; default: from the environment.
    pub datasets_dir: LocalOverride,
    /// Collect per-line problems instead of failing on the first (used by `validate`).
    pub lenient: bool,
}

/// The offline override folder in effect and what set it (`HERD_DATASETS_DIR`, the older
/// `HERD_SHARED_DATASETS`, or `options`). A relative path is taken from the current directory.
pub fn datasets_dir(opts: &LoadOptions) -> Option<(PathBuf, &'static str)> {
    match &opts.datasets_dir {
        LocalOverride::Dir(p) => Some((p.clone(), "options")),
        LocalOverride::Off => None,
        LocalOverride::FromEnv => [DATASETS_DIR_ENV, LEGACY_DATASETS_DIR_ENV]
            .into_iter()
            .find_map(|var| {
                std::env::var(var)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (PathBuf::from(v.trim()), var))
            }),
    }
}

/// How a benchmark's source was chosen.
#[derive(Debug, Clone)]
pub(crate) enum Via {
    /// The config's `source` (or herd-mini's builtin).
    Explicit,
    /// The offline override folder, and the variable that named it.
    Override(PathBuf, &'static str),
    /// herd's default for the benchmark.
    Default,
}

/// Resolves a config `source` against `base_dir`; with none, the offline override folder,
/// else the benchmark's default (see [`crate::defaults`]).
pub(crate) fn resolve(
    kind: BenchmarkKind,
    source: Option<&str>,
    subset: &str,
    base_dir: &Path,
    opts: &LoadOptions,
) -> Result<(Resolved, Via), DatasetError> {
    let source = match source {
        Some(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return resolve_default(kind, subset, opts),
    };
    if source == "builtin" {
        return if kind == BenchmarkKind::HerdMini {
            Ok((Resolved::Builtin, Via::Explicit))
        } else {
            Err(DatasetError::Config(format!(
                "source `builtin` only exists for herd-mini, not {}",
                kind.as_str()
            )))
        };
    }
    if let Some(rest) = source.strip_prefix("hf://") {
        let repo = HfRepo::parse(rest, opts)?;
        return Ok((
            Resolved::Dir(Loc {
                store: Arc::new(Store::Hf(repo)),
                rel: String::new(),
            }),
            Via::Explicit,
        ));
    }
    let p = PathBuf::from(&source);
    let p = if p.is_absolute() { p } else { base_dir.join(p) };
    if p.is_file() {
        let parent = p.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((
            Resolved::File(Loc {
                store: Arc::new(Store::Local(parent)),
                rel: name,
            }),
            Via::Explicit,
        ))
    } else if p.is_dir() {
        Ok((
            Resolved::Dir(Loc {
                store: Arc::new(Store::Local(p)),
                rel: String::new(),
            }),
            Via::Explicit,
        ))
    } else {
        Err(DatasetError::SourceNotFound {
            source_desc: source.clone(),
            message: format!("`{}` is neither a file nor a folder", p.display()),
        })
    }
}

fn resolve_default(
    kind: BenchmarkKind,
    subset: &str,
    opts: &LoadOptions,
) -> Result<(Resolved, Via), DatasetError> {
    if kind == BenchmarkKind::HerdMini {
        return Ok((Resolved::Builtin, Via::Explicit));
    }
    if let Some((dir, from)) = datasets_dir(opts) {
        if !dir.is_dir() {
            return Err(DatasetError::SourceNotFound {
                source_desc: format!("{from}={}", dir.display()),
                message: "is not a folder: point it at a folder in the layout `herd datasets list` shows, or unset it to use the defaults".into(),
            });
        }
        // GAIA's local copy is a copy of its hub repo, in a folder of its own.
        let root = if kind == BenchmarkKind::Gaia {
            dir.join("gaia")
        } else {
            dir.clone()
        };
        return Ok((
            Resolved::Dir(Loc {
                store: Arc::new(Store::Local(root)),
                rel: String::new(),
            }),
            Via::Override(dir, from),
        ));
    }
    let Some(def) = defaults::find(kind, subset) else {
        return Err(DatasetError::UnknownSubset {
            kind: kind.as_str().to_string(),
            subset: subset.to_string(),
            known: crate::subsets(kind).join(", "),
        });
    };
    let subset = defaults::canonical_subset(kind, subset);
    match def.origin {
        Origin::Builtin => Ok((Resolved::Builtin, Via::Default)),
        Origin::Hub(h) => {
            let mut repo = HfRepo::parse(&format!("{}@{}", h.repo, h.revision), opts)?;
            repo.offline_hint = Some(crate::hf::offline_hint(&def.local_for(&subset)));
            let store = Arc::new(Store::Hf(repo));
            let resolved = match h.file {
                Some(f) => Resolved::File(Loc {
                    store,
                    rel: DefaultSource::expand(f, &subset),
                }),
                None => Resolved::Dir(Loc {
                    store,
                    rel: String::new(),
                }),
            };
            Ok((resolved, Via::Default))
        }
        Origin::Upstream(u) => Err(DatasetError::NotDownloadable {
            what: format!("{} `{subset}`", kind.as_str()),
            url: u.url.to_string(),
            local: def.local_for(&subset),
            how: u.how.to_string(),
        }),
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
            None => Err(match &*loc.store {
                Store::Hf(repo) => repo.missing_file(&loc.rel),
                Store::Local(_) => DatasetError::Io {
                    path: loc.display(),
                    message: "file does not exist".into(),
                },
            }),
        }
    }

    /// Reads a file if it exists.
    pub fn read_opt(&mut self, loc: &Loc) -> Result<Option<(PathBuf, Vec<u8>)>, DatasetError> {
        let Some(path) = loc.fetch()? else {
            return Ok(None);
        };
        let bytes = std::fs::read(&path).map_err(|e| DatasetError::io(loc.display(), e))?;
        // A hub file is fingerprinted with the commit it was read at.
        let label = match &*loc.store {
            Store::Hf(repo) => format!("{}/{}", repo.pinned_uri(), loc.rel),
            Store::Local(_) => loc.rel.clone(),
        };
        self.add_bytes(&label, &bytes);
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
