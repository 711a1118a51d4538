//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use herd_core::config::{BenchmarkConfig, BenchmarkKind, SampleMode};
use herd_datasets::LoadOptions;

/// The shared datasets folder: `$HERD_SHARED_DATASETS`, else `<repo root>/../shared/datasets`.
/// Tests that need it fail (not skip) when it is absent.
pub fn shared() -> PathBuf {
    let p = match std::env::var("HERD_SHARED_DATASETS") {
        Ok(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"),
    };
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
