//! herd-datasets: benchmark loaders (GAIA, MATH, GPQA, AIME, TabMWP, herd-mini), item
//! selection, task prompts, official-rule scorers and dataset fingerprints.
//!
//! The coordinator calls [`load`] at sweep submission, sends workers only
//! [`task_prompt`] and the attachments (never gold), and calls [`score`] on results.

pub mod bench;
pub mod cli;
pub mod defaults;
pub mod error;
pub mod hf;
pub mod item;
pub mod loaders;
pub mod prompt;
pub mod rng;
pub mod score;
pub mod select;
pub mod source;

use std::path::Path;

use herd_core::config::{BenchmarkConfig, BenchmarkKind};
use sha2::{Digest, Sha256};

pub use bench::bench_datasets;
pub use error::DatasetError;
pub use item::{Attachment, AttachmentData, Dataset, Item};
pub use prompt::{reformulation_prompt, task_prompt};
pub use score::{Score, score};
pub use source::{DATASETS_DIR_ENV, LoadOptions, LocalOverride, datasets_dir};

/// The subset used when the config names none.
pub fn default_subset(kind: BenchmarkKind) -> &'static str {
    match kind {
        BenchmarkKind::Gaia => loaders::gaia::DEFAULT_SUBSET,
        BenchmarkKind::Math => loaders::math::DEFAULT_SUBSET,
        BenchmarkKind::Gpqa => loaders::gpqa::DEFAULT_SUBSET,
        BenchmarkKind::Aime => loaders::aime::DEFAULT_SUBSET,
        BenchmarkKind::Tabmwp => loaders::tabmwp::DEFAULT_SUBSET,
        BenchmarkKind::HerdMini => loaders::mini::DEFAULT_SUBSET,
    }
}

/// The known subsets of a kind.
pub fn subsets(kind: BenchmarkKind) -> &'static [&'static str] {
    match kind {
        BenchmarkKind::Gaia => loaders::gaia::SUBSETS,
        BenchmarkKind::Math => loaders::math::SUBSETS,
        BenchmarkKind::Gpqa => loaders::gpqa::SUBSETS,
        BenchmarkKind::Aime => loaders::aime::SUBSETS,
        BenchmarkKind::Tabmwp => loaders::tabmwp::SUBSETS,
        BenchmarkKind::HerdMini => loaders::mini::SUBSETS,
    }
}

pub const ALL_KINDS: [BenchmarkKind; 6] = [
    BenchmarkKind::Gaia,
    BenchmarkKind::Math,
    BenchmarkKind::Gpqa,
    BenchmarkKind::Aime,
    BenchmarkKind::Tabmwp,
    BenchmarkKind::HerdMini,
];

/// Every item of one source/subset, before selection.
pub(crate) struct RawLoad {
    pub items: Vec<Item>,
    pub fingerprint: String,
    pub source: String,
    pub subset: String,
    pub problems: Vec<DatasetError>,
}

pub(crate) fn load_raw(
    kind: BenchmarkKind,
    source: Option<&str>,
    subset: Option<&str>,
    password_env: Option<&str>,
    base_dir: &Path,
    seed: u64,
    opts: &LoadOptions,
) -> Result<RawLoad, DatasetError> {
    let subset = subset
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default_subset(kind))
        .to_string();
    let (src, via) = source::resolve(kind, source, &subset, base_dir, opts)?;
    let mut rd = source::Reader::new(opts.clone());
    let items = load_items(kind, &src, &subset, password_env, seed, opts, &mut rd)
        .map_err(|e| explain(e, &via))?;
    let (fingerprint, problems) = rd.finish(&subset);
    tracing::info!(kind = kind.as_str(), subset = %subset, source = %src.display(), items = items.len(), fingerprint = %&fingerprint[..16], "loaded benchmark");
    Ok(RawLoad {
        items,
        fingerprint,
        source: src.display(),
        subset,
        problems,
    })
}

/// Adds to a missing-file error what the source's origin means for the fix.
fn explain(err: DatasetError, via: &source::Via) -> DatasetError {
    match (err, via) {
        (
            DatasetError::FileNotFound {
                kind,
                subset,
                root,
                tried,
                ..
            },
            source::Via::Override(dir, from),
        ) => {
            let wanted = ALL_KINDS
                .into_iter()
                .find(|k| k.as_str() == kind)
                .and_then(|k| defaults::find(k, &subset))
                .map(|d| format!("`{}`", d.local_for(&subset)))
                .unwrap_or_else(|| "the file".into());
            DatasetError::FileNotFound {
                hint: format!(
                    "; {from}={} is set, so herd reads only local files and downloads nothing: put {wanted} under it, or unset {from} to use the default source (`herd datasets list`)",
                    dir.display()
                ),
                kind,
                subset,
                root,
                tried,
            }
        }
        (e, _) => e,
    }
}

fn load_items(
    kind: BenchmarkKind,
    src: &source::Resolved,
    subset: &str,
    password_env: Option<&str>,
    seed: u64,
    opts: &LoadOptions,
    rd: &mut source::Reader,
) -> Result<Vec<Item>, DatasetError> {
    Ok(match kind {
        BenchmarkKind::Gaia => loaders::gaia::load(src, subset, rd)?,
        BenchmarkKind::Math => loaders::math::load(src, subset, rd)?,
        BenchmarkKind::Gpqa => {
            let env = password_env.unwrap_or(loaders::gpqa::DEFAULT_PASSWORD_ENV);
            let password = opts
                .gpqa_password
                .clone()
                .or_else(|| std::env::var(env).ok().filter(|p| !p.is_empty()));
            loaders::gpqa::load(src, subset, password.as_deref(), env, seed, rd)?
        }
        BenchmarkKind::Aime => loaders::aime::load(src, subset, rd)?,
        BenchmarkKind::Tabmwp => loaders::tabmwp::load(src, subset, rd)?,
        BenchmarkKind::HerdMini => loaders::mini::load(src, rd)?,
    })
}

/// Loads a benchmark and applies the config's selection. Relative sources resolve against
/// `base_dir`; with no source, the offline override folder (`HERD_DATASETS_DIR`, see
/// [`datasets_dir`]) if set, else the benchmark's default (see [`defaults`]): a hub dataset
/// downloaded once into the herd cache.
/// Blocking (file reads, `hf://` downloads): call it from `spawn_blocking` in async code.
pub fn load(cfg: &BenchmarkConfig, base_dir: &Path, seed: u64) -> Result<Dataset, DatasetError> {
    load_with(cfg, base_dir, seed, &LoadOptions::default())
}

/// [`load`] with explicit overrides (GPQA password, hub endpoint/token, cache folder).
pub fn load_with(
    cfg: &BenchmarkConfig,
    base_dir: &Path,
    seed: u64,
    opts: &LoadOptions,
) -> Result<Dataset, DatasetError> {
    let kind = cfg.kind;
    let raw = load_raw(
        kind,
        cfg.source.as_deref(),
        cfg.subset.as_deref(),
        cfg.password_env.as_deref(),
        base_dir,
        seed,
        opts,
    )?;
    let total_items = raw.items.len();
    let label = format!("{}/{}", kind.as_str(), raw.subset);
    let split = cfg.split.clone().unwrap_or_else(|| "test".to_string());
    let mut items = select::select(raw.items, cfg, seed, &label)?;
    for it in &mut items {
        it.split = split.clone();
    }
    let mut fingerprint = raw.fingerprint;
    let mut train_items = Vec::new();
    if let Some(train) = &cfg.train {
        let traw = load_raw(
            kind,
            train.source.as_deref().or(cfg.source.as_deref()),
            train.subset.as_deref().or(cfg.subset.as_deref()),
            cfg.password_env.as_deref(),
            base_dir,
            seed,
            opts,
        )?;
        let test_ids: std::collections::BTreeSet<&str> =
            items.iter().map(|i| i.id.as_str()).collect();
        let pool: Vec<Item> = traw
            .items
            .into_iter()
            .filter(|i| !test_ids.contains(i.id.as_str()))
            .collect();
        let mut chosen = select::filter_ids(pool, &train.ids)?;
        if let Some(l) = train.limit {
            chosen.truncate(l);
        }
        for it in &mut chosen {
            it.split = "train".to_string();
        }
        train_items = chosen;
        let mut h = Sha256::new();
        h.update(fingerprint.as_bytes());
        h.update(b"+train:");
        h.update(traw.fingerprint.as_bytes());
        fingerprint = hex::encode(h.finalize());
    }
    Ok(Dataset {
        name: cfg.display_name(),
        kind,
        subset: raw.subset,
        source: raw.source,
        fingerprint,
        items,
        train_items,
        total_items,
    })
}
