//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use herd_core::config::{BenchmarkConfig, BenchmarkKind, SampleMode};
use herd_datasets::LoadOptions;

pub mod hub;

/// The shared datasets folder: `$HERD_DATASETS_DIR` (or the older `$HERD_SHARED_DATASETS`),
/// else `<repo root>/../shared/datasets`. Tests that need it fail (not skip) when it is absent.
pub fn shared() -> PathBuf {
    let p = ["HERD_DATASETS_DIR", "HERD_SHARED_DATASETS"]
        .into_iter()
        .find_map(|v| std::env::var(v).ok().filter(|v| !v.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    assert!(
        p.join("SOURCES.md").is_file(),
        "shared datasets not found at {} (CI must place them beside the repo clone)",
        p.display()
    );
    p
}

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn cfg(kind: BenchmarkKind, subset: Option<&str>, source: Option<String>) -> BenchmarkConfig {
    BenchmarkConfig {
        name: None,
        kind,
        source,
        subset: subset.map(str::to_string),
        split: None,
        train: None,
        limit: None,
        sample: SampleMode::First,
        stratify_by: None,
        ids: Vec::new(),
        shard: None,
        password_env: Some("HERD_TEST_UNSET_GPQA_PASSWORD".into()),
    }
}

pub fn shared_cfg(kind: BenchmarkKind, subset: &str) -> BenchmarkConfig {
    cfg(kind, Some(subset), Some(shared().display().to_string()))
}

/// The password published in the GPQA README (see SOURCES.md).
pub fn gpqa_opts() -> LoadOptions {
    LoadOptions {
        gpqa_password: Some(
            std::env::var("GPQA_PASSWORD").unwrap_or_else(|_| "deserted-untie-orchid".to_string()),
        ),
        ..LoadOptions::default()
    }
}

/// The GAIA hub layout in its parquet form, as `(path in the repo, file)`: each split's
/// `metadata.parquet` (from `fixtures/gaia-parquet`) with the attachments of `fixtures/gaia`.
pub fn gaia_parquet_layout() -> Vec<(String, PathBuf)> {
    let dir = crate_dir();
    let mut files = Vec::new();
    for split in ["validation", "test"] {
        files.push((
            format!("2023/{split}/metadata.parquet"),
            dir.join(format!("fixtures/gaia-parquet/{split}.parquet")),
        ));
        let src = dir.join("fixtures/gaia/2023").join(split);
        for e in std::fs::read_dir(&src).expect("fixture dir") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            if name != "metadata.jsonl" {
                files.push((format!("2023/{split}/{name}"), src.join(&name)));
            }
        }
    }
    files
}
