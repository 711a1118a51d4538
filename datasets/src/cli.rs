//! Support for the `herd` CLI's dataset commands: `list`, `show` and `validate`, each
//! returning printable text. A *spec* is `kind[:subset][=source]`, a sweep TOML file, or a
//! dataset path whose kind is guessed from its name.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use herd_core::config::{BenchmarkConfig, BenchmarkKind, SampleMode, SweepConfig};

use crate::error::DatasetError;
use crate::item::AttachmentData;
use crate::source::LoadOptions;
use crate::{ALL_KINDS, default_subset, load_raw, load_with, score, subsets};

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

/// Known kinds, their subsets and where each loads from by default.
pub fn list(base_dir: &Path) -> String {
    let shared = crate::shared_datasets_dir(base_dir);
    let shared_s = shared
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(not found; set HERD_SHARED_DATASETS)".into());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<14} {:<70} default source",
        "kind", "default", "subsets"
    );
    for k in ALL_KINDS {
        let src = match k {
            BenchmarkKind::HerdMini => "builtin (embedded, 24 tasks)".to_string(),
            BenchmarkKind::Gaia => format!(
                "{} (gated: HF_TOKEN), or a local copy in the HF layout",
                crate::source::GAIA_HF_SOURCE
            ),
            BenchmarkKind::Gpqa => {
                format!("{shared_s}/gpqa/dataset.zip (password from $GPQA_PASSWORD)")
            }
            _ => format!("{shared_s}/{}", k.as_str()),
        };
        let _ = writeln!(
            out,
            "{:<10} {:<14} {:<70} {}",
            k.as_str(),
            default_subset(k),
            subsets(k).join(", "),
            src
        );
    }
    out
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
