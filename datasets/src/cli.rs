//! Support for the `herd` CLI's dataset commands: `list`, `show` and `validate`, each
//! returning printable text. A *spec* is `kind[:subset][=source]`, a sweep TOML file, or a
//! dataset path whose kind is guessed from its name.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use herd_core::config::{BenchmarkConfig, BenchmarkKind, SampleMode, SweepConfig};

use crate::defaults::{self, DefaultSource, Origin};
use crate::error::DatasetError;
use crate::hf::HfRepo;
use crate::item::AttachmentData;
use crate::source::{DATASETS_DIR_ENV, LoadOptions};
use crate::{ALL_KINDS, default_subset, load_raw, load_with, score};

fn kind_from_name(s: &str) -> Option<BenchmarkKind> {
    ALL_KINDS
        .into_iter()
        .find(|k| k.as_str() == s.trim().to_ascii_lowercase())
}

fn bare_config(
    kind: BenchmarkKind,
    subset: Option<String>,
    source: Option<String>,
) -> BenchmarkConfig {
    BenchmarkConfig {
        name: None,
        kind,
        source,
        subset,
        split: None,
        train: None,
        limit: None,
        sample: SampleMode::First,
        stratify_by: None,
        ids: Vec::new(),
        shard: None,
        password_env: None,
    }
}

/// Guesses kind and subset from a dataset path.
fn guess_from_path(path: &str) -> Option<BenchmarkConfig> {
    let p = path.to_ascii_lowercase();
    let (kind, subset) = if p.contains("gaia") || p.ends_with("metadata.jsonl") {
        (
            BenchmarkKind::Gaia,
            if p.contains("test") && !p.contains("validation") {
                Some("test")
            } else {
                None
            },
        )
    } else if p.contains("gpqa") || p.ends_with(".zip") {
        (BenchmarkKind::Gpqa, None)
    } else if p.contains("tabmwp") {
        (
            BenchmarkKind::Tabmwp,
            if p.ends_with(".jsonl") {
                Some("test")
            } else {
                None
            },
        )
    } else if p.contains("aime") || p.ends_with("answers.csv") {
        let s = if p.ends_with(".csv") && p.contains("1983") {
            Some("1983-2024")
        } else if p.contains("qwen") {
            Some("aime24")
        } else if p.ends_with("answers.csv") || p.contains("aime_20") {
            let c = crate::loaders::aime::CONTESTS
                .iter()
                .find(|c| p.contains(&format!("aime_{}", c.to_ascii_lowercase())));
            c.copied()
        } else {
            None
        };
        (BenchmarkKind::Aime, s)
    } else if p.contains("math") {
        let s = if p.contains("math_test_full_answers") {
            Some("full-answers")
        } else if p.contains("math_test_full") {
            Some("full")
        } else {
            None
        };
        (BenchmarkKind::Math, s)
    } else {
        return None;
    };
    Some(bare_config(
        kind,
        subset.map(str::to_string),
        Some(path.to_string()),
    ))
}

/// Turns a spec into benchmark configs.
pub fn parse_spec(spec: &str, base_dir: &Path) -> Result<Vec<BenchmarkConfig>, DatasetError> {
    let spec = spec.trim();
    let as_path = if Path::new(spec).is_absolute() {
        Path::new(spec).to_path_buf()
    } else {
        base_dir.join(spec)
    };
    if spec.ends_with(".toml") && as_path.is_file() {
        let text = std::fs::read_to_string(&as_path)
            .map_err(|e| DatasetError::io(as_path.display(), e))?;
        let sweep = SweepConfig::from_toml_str(&text, &as_path.display().to_string())
            .map_err(|e| DatasetError::Config(e.to_string()))?;
        return Ok(sweep.benchmarks);
    }
    let (head, source) = match spec.split_once('=') {
        Some((h, s)) => (h, Some(s.to_string())),
        None => (spec, None),
    };
    let (kname, subset) = match head.split_once(':') {
        Some((k, s)) => (k, Some(s.to_string())),
        None => (head, None),
    };
    if let Some(kind) = kind_from_name(kname) {
        return Ok(vec![bare_config(kind, subset, source)]);
    }
    guess_from_path(spec).map(|c| vec![c]).ok_or_else(|| {
        DatasetError::Config(format!(
            "cannot tell which benchmark `{spec}` is; write `kind[:subset][=source]` (kinds: {})",
            ALL_KINDS.map(|k| k.as_str()).join(", ")
        ))
    })
}

/// Where each benchmark loads from when a sweep gives no `source`: its default (a hub
/// dataset, or the upstream file and how to get it), the offline override in effect
/// (`HERD_DATASETS_DIR`) and whether the data is there (present locally, cached from the hub).
/// Reads only the local disk: never the network.
pub fn list(opts: &LoadOptions) -> String {
    let over = crate::datasets_dir(opts);
    let cache = opts
        .cache_dir
        .clone()
        .unwrap_or_else(crate::hf::default_cache_dir);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Where each benchmark loads from when its `source` is not set (a `source` always wins)."
    );
    match &over {
        Some((dir, from)) => {
            let state = if dir.is_dir() { "" } else { " (NOT a folder)" };
            let _ = writeln!(
                out,
                "offline override: {from}={}{state}: local files win; the network is never used",
                dir.display()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "offline override: none (set {DATASETS_DIR_ENV} to a folder with the `local` paths below to work offline)"
            );
        }
    }
    let _ = writeln!(
        out,
        "hub: {} (HF_ENDPOINT), HF_TOKEN {}; downloads are kept in {} and never fetched again",
        crate::hf::endpoint(opts),
        if crate::hf::token(opts).is_some() {
            "set"
        } else {
            "not set"
        },
        cache.display()
    );
    for k in ALL_KINDS {
        for d in defaults::of_kind(k) {
            out.push('\n');
            list_entry(&mut out, d, over.as_ref(), opts);
        }
    }
    out
}

fn list_entry(
    out: &mut String,
    d: &DefaultSource,
    over: Option<&(PathBuf, &'static str)>,
    opts: &LoadOptions,
) {
    let kind = d.kind;
    let names: Vec<String> = d
        .subsets
        .iter()
        .map(|s| {
            if *s == default_subset(kind) {
                format!("{s} (default)")
            } else {
                s.to_string()
            }
        })
        .collect();
    let _ = writeln!(out, "{}: {}", kind.as_str(), names.join(", "));
    // One state for the entry, or one per subset where they differ.
    let per_subset = |f: &dyn Fn(&str) -> String| -> String {
        let states: Vec<String> = d.subsets.iter().map(|s| f(s)).collect();
        if states.iter().all(|x| *x == states[0]) {
            states[0].clone()
        } else {
            d.subsets
                .iter()
                .zip(&states)
                .map(|(s, x)| format!("{s} {x}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    // Whether the default can deliver without a local copy.
    let mut from_default = None;
    match d.origin {
        Origin::Builtin => {
            let _ = writeln!(
                out,
                "  default  builtin: embedded in herd (24 tasks); needs no files"
            );
            let _ = writeln!(out, "  uses     builtin");
            return;
        }
        Origin::Hub(h) => {
            let what = match h.file {
                Some(f) => format!("file {}", f.replace("{subset}", "<subset>")),
                None => "the repo, in GAIA's layout: 2023/<subset>/metadata.parquet or .jsonl, with the attachments".to_string(),
            };
            let _ = writeln!(out, "  default  hf://{}@{}, {what}", h.repo, h.revision);
            if h.gated {
                let _ = writeln!(
                    out,
                    "           gated: accept its terms at {}/datasets/{} and set HF_TOKEN",
                    crate::hf::endpoint(opts),
                    h.repo
                );
            }
            let _ = writeln!(out, "           {}", h.note);
            let repo = HfRepo::parse(&format!("{}@{}", h.repo, h.revision), opts).ok();
            let cached_at = |s: &str| -> Option<String> {
                let repo = repo.as_ref()?;
                let commit = repo.cached_commit()?;
                h.cached
                    .iter()
                    .any(|f| repo.cached_file(&DefaultSource::expand(f, s)).is_some())
                    .then(|| commit[..12.min(commit.len())].to_string())
            };
            let _ = writeln!(
                out,
                "  cache    {}",
                per_subset(&|s| match cached_at(s) {
                    Some(c) => format!("cached at commit {c}"),
                    None => "not downloaded yet".to_string(),
                })
            );
            let all_cached = d.subsets.iter().all(|s| cached_at(s).is_some());
            from_default = Some(if all_cached {
                "the hub dataset, from the cache (no network)".to_string()
            } else if h.gated {
                "the hub dataset: downloaded on first use (needs HF_TOKEN), then cached".to_string()
            } else {
                "the hub dataset: downloaded on first use, then cached".to_string()
            });
        }
        Origin::Upstream(u) => {
            let _ = writeln!(out, "  default  none herd can download: {}", u.note);
            let _ = writeln!(out, "           upstream {}", u.url);
            let _ = writeln!(out, "           get it:  {}", u.how);
        }
    }
    let _ = writeln!(out, "  local    {}", d.local);
    match over {
        Some((dir, from)) => {
            let _ = writeln!(
                out,
                "           in {from}: {}",
                per_subset(&|s| if d.local_present(dir, s) {
                    "present".to_string()
                } else {
                    "MISSING".to_string()
                })
            );
            let all = d.subsets.iter().all(|s| d.local_present(dir, s));
            let _ = writeln!(
                out,
                "  uses     the local copy in {from}{}",
                if all {
                    ""
                } else {
                    " (loading a missing part fails: add the files, or unset it to use the default)"
                }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  uses     {}",
                from_default.unwrap_or_else(|| format!(
                    "nothing yet: get the file as above, then set {DATASETS_DIR_ENV} (or give `source`)"
                ))
            );
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}

/// Items count, metadata distribution and a few examples of each benchmark in the spec.
pub fn show(spec: &str, base_dir: &Path, seed: u64) -> Result<String, DatasetError> {
    let mut out = String::new();
    for cfg in parse_spec(spec, base_dir)? {
        let ds = load_with(&cfg, base_dir, seed, &LoadOptions::default())?;
        let _ = writeln!(out, "{} ({} / {})", ds.name, ds.kind.as_str(), ds.subset);
        let _ = writeln!(out, "  source:      {}", ds.source);
        let _ = writeln!(out, "  fingerprint: {}", ds.fingerprint);
        let _ = writeln!(
            out,
            "  items:       {} selected of {} ({} train)",
            ds.items.len(),
            ds.total_items,
            ds.train_items.len()
        );
        let with_att = ds
            .items
            .iter()
            .filter(|i| !i.attachments.is_empty())
            .count();
        let _ = writeln!(out, "  with files:  {with_att}");
        let mut dist: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
        for it in &ds.items {
            for (k, v) in &it.metadata {
                *dist.entry(k).or_default().entry(v).or_default() += 1;
            }
        }
        for (k, vals) in dist {
            if vals.len() > 25 || k.starts_with("option_") || k == "permutation" || k == "choices" {
                let _ = writeln!(out, "  {k}: {} distinct values", vals.len());
                continue;
            }
            let parts: Vec<String> = vals
                .iter()
                .map(|(v, n)| format!("{}={n}", truncate(v, 30)))
                .collect();
            let _ = writeln!(out, "  {k}: {}", parts.join(", "));
        }
        for it in ds.items.iter().take(3) {
            let _ = writeln!(out, "  - {} [{}]", it.id, it.origin);
            let _ = writeln!(out, "    question: {}", truncate(&it.question, 160));
            let _ = writeln!(
                out,
                "    gold:     {}",
                it.gold
                    .as_deref()
                    .map(|g| truncate(g, 60))
                    .unwrap_or_else(|| "(none)".into())
            );
            for a in &it.attachments {
                let _ = writeln!(out, "    file:     {} ({} bytes)", a.name, a.size);
            }
        }
    }
    Ok(out)
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, Default)]
pub struct Validation {
    pub items: usize,
    /// Each problem names its file and line (or item).
    pub problems: Vec<String>,
    pub report: String,
}

impl Validation {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Loads every item of the spec and checks it: the file parses, the question is non-empty,
/// the gold parses with the scorer, attachments exist. Loading errors that stop a whole file
/// (missing file, bad zip password) are returned as `Err`.
pub fn validate(
    spec: &str,
    base_dir: &Path,
    opts: &LoadOptions,
) -> Result<Validation, DatasetError> {
    let mut v = Validation::default();
    let opts = LoadOptions {
        lenient: true,
        ..opts.clone()
    };
    for cfg in parse_spec(spec, base_dir)? {
        let raw = load_raw(
            cfg.kind,
            cfg.source.as_deref(),
            cfg.subset.as_deref(),
            cfg.password_env.as_deref(),
            base_dir,
            0,
            &opts,
        )?;
        v.problems
            .extend(raw.problems.iter().map(|e| e.to_string()));
        for it in &raw.items {
            if it.question.trim().is_empty() {
                v.problems
                    .push(format!("{}: item {}: empty question", it.origin, it.id));
            }
            if let Err(e) = score::check_gold(cfg.kind, it) {
                v.problems
                    .push(format!("{}: item {}: {e}", it.origin, it.id));
            }
            for a in &it.attachments {
                if let AttachmentData::File(p) = &a.data
                    && !p.is_file()
                {
                    v.problems.push(format!(
                        "{}: item {}: attachment `{}` missing at {}",
                        it.origin,
                        it.id,
                        a.name,
                        p.display()
                    ));
                }
            }
        }
        v.items += raw.items.len();
        let _ = writeln!(
            v.report,
            "{} / {} from {}: {} items, fingerprint {}",
            cfg.kind.as_str(),
            raw.subset,
            raw.source,
            raw.items.len(),
            raw.fingerprint
        );
    }
    let _ = writeln!(v.report, "{} problem(s)", v.problems.len());
    for p in &v.problems {
        let _ = writeln!(v.report, "  {p}");
    }
    Ok(v)
}
