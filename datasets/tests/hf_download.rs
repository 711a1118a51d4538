//! `hf://` sources against a local HTTP server that serves the hub layout and checks the token.

mod common;

use std::collections::BTreeMap;

use common::hub::{FakeRepo, TOKEN, commit, start_hub};
use common::*;
use herd_core::config::BenchmarkKind;
use herd_datasets::{DatasetError, LoadOptions, LocalOverride, load_with};

/// Load options that download from the test hub into `cache` with `token`.
fn hub_options(endpoint: &str, cache: &std::path::Path, token: &str) -> LoadOptions {
    LoadOptions {
        hf_endpoint: Some(endpoint.to_string()),
        hf_token: Some(token.into()),
        cache_dir: Some(cache.to_path_buf()),
        datasets_dir: LocalOverride::Off,
        ..LoadOptions::default()
    }
}

fn gaia_files() -> BTreeMap<String, Vec<u8>> {
    let root = crate_dir().join("fixtures/gaia");
    let mut m = BTreeMap::new();
    for split in ["validation", "test"] {
        for e in std::fs::read_dir(root.join("2023").join(split)).expect("dir") {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            m.insert(
                format!("2023/{split}/{name}"),
                std::fs::read(e.path()).expect("read"),
            );
        }
    }
    m
}

fn gaia_repo(id: &str, c: &str) -> FakeRepo {
    let mut r = FakeRepo::new(id, c).gated();
    r.files = gaia_files();
    r
}

#[test]
fn hf_source_downloads_with_token_and_caches() {
    let c1 = commit('1');
    let hub = start_hub(vec![gaia_repo("testorg/gaia-mini", &c1).revision("v1.0")]);
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_options(&hub.endpoint, cache.path(), TOKEN);
    let c = cfg(
        BenchmarkKind::Gaia,
        Some("validation"),
        Some("hf://testorg/gaia-mini@v1.0".into()),
    );
    let d = load_with(&c, &crate_dir(), 0, &opts).expect("hf load");
    assert_eq!(d.items.len(), 6);
    // The source names the commit the tag resolved to: what was read.
    assert!(
        d.source
            .starts_with(&format!("hf://testorg/gaia-mini@{c1}")),
        "{}",
        d.source
    );
    let with_file: Vec<_> = d
        .items
        .iter()
        .filter(|i| !i.attachments.is_empty())
        .collect();
    assert_eq!(with_file.len(), 2);
    for it in &with_file {
        let p = it.attachments[0].path().expect("file");
        assert!(
            p.starts_with(cache.path()) && p.is_file(),
            "{}",
            p.display()
        );
    }
    let repo_cache = cache.path().join("datasets/testorg/gaia-mini");
    assert!(
        repo_cache
            .join(format!("snapshots/{c1}/2023/validation/metadata.jsonl"))
            .is_file()
    );
    assert_eq!(
        std::fs::read_to_string(repo_cache.join("refs/v1.0")).expect("ref"),
        c1
    );
    // Same content as the local fixtures ⇒ same item ids and golds.
    let local = herd_datasets::load(
        &cfg(
            BenchmarkKind::Gaia,
            Some("validation"),
            Some("fixtures/gaia".into()),
        ),
        &crate_dir(),
        0,
    )
    .expect("local");
    assert_eq!(
        d.items.iter().map(|i| (&i.id, &i.gold)).collect::<Vec<_>>(),
        local
            .items
            .iter()
            .map(|i| (&i.id, &i.gold))
            .collect::<Vec<_>>()
    );
    let hits = hub.hits();
    assert_eq!(
        hub.downloads(),
        3,
        "metadata + 2 attachments; hits: {hits:?}"
    );
    assert_eq!(
        hits[0], "/api/datasets/testorg/gaia-mini/revision/v1.0",
        "{hits:?}"
    );
    assert!(
        hits[1..]
            .iter()
            .all(|h| h.contains(&format!("/resolve/{c1}/"))),
        "files are fetched at the resolved commit: {hits:?}"
    );

    // Second load comes from the cache: no request at all.
    let again = load_with(&c, &crate_dir(), 0, &opts).expect("cached");
    assert_eq!(again.fingerprint, d.fingerprint);
    assert_eq!(hub.hits(), hits);
}

#[test]
fn hf_source_without_token_is_a_clear_error() {
    let hub = start_hub(vec![gaia_repo("testorg/gaia-mini", &commit('2'))]);
    let cache = tempfile::tempdir().expect("cache");
    // No token: the gated repo's files answer 401.
    let opts = hub_options(&hub.endpoint, cache.path(), "");
    let c = cfg(
        BenchmarkKind::Gaia,
        Some("test"),
        Some("hf://testorg/gaia-mini".into()),
    );
    let err = load_with(&c, &crate_dir(), 0, &opts).expect_err("401");
    assert!(matches!(err, DatasetError::Download { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("401")
            && msg.contains("no HF_TOKEN is set")
            && msg.contains("testorg/gaia-mini")
            && msg.contains("/2023/test/metadata.jsonl"),
        "{msg}"
    );
    // A wrong token: refused, and the message says so.
    let wrong = LoadOptions {
        hf_token: Some("wrong-token".into()),
        ..opts.clone()
    };
    let msg = load_with(&c, &crate_dir(), 0, &wrong)
        .expect_err("401")
        .to_string();
    assert!(
        msg.contains("401") && msg.contains("HF_TOKEN sent was refused"),
        "{msg}"
    );

    // With the right token the test split loads (no gold).
    let ok = LoadOptions {
        hf_token: Some(TOKEN.into()),
        ..opts
    };
    let d = load_with(&c, &crate_dir(), 0, &ok).expect("test split");
    assert_eq!(d.items.len(), 3);
    assert!(d.items.iter().all(|i| i.gold.is_none()));

    // A repo the hub does not have: names it and the revision.
    let c = cfg(
        BenchmarkKind::Gaia,
        Some("validation"),
        Some("hf://testorg/empty".into()),
    );
    let msg = load_with(&c, &crate_dir(), 0, &ok)
        .expect_err("404")
        .to_string();
    assert!(
        msg.contains("404") && msg.contains("`testorg/empty`") && msg.contains("`main`"),
        "{msg}"
    );
    assert!(
        load_with(
            &cfg(BenchmarkKind::Gaia, None, Some("hf://bad".into())),
            &crate_dir(),
            0,
            &ok
        )
        .is_err()
    );
}

#[test]
fn hf_repo_without_the_files_lists_what_was_tried() {
    let hub = start_hub(vec![FakeRepo::new("testorg/other", &commit('3'))]);
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_options(&hub.endpoint, cache.path(), TOKEN);
    let c = cfg(
        BenchmarkKind::Gaia,
        Some("validation"),
        Some("hf://testorg/other".into()),
    );
    let err = load_with(&c, &crate_dir(), 0, &opts).expect_err("no files");
    assert!(
        err.to_string().contains("2023/validation/metadata.jsonl")
            && err.to_string().contains("hf://testorg/other@"),
        "{err}"
    );
    // The 404s are remembered for the commit: trying again makes no request.
    let n = hub.requests();
    load_with(&c, &crate_dir(), 0, &opts).expect_err("still no files");
    assert_eq!(hub.requests(), n, "{:?}", hub.hits());
}

#[test]
fn hf_source_reads_the_parquet_layout() {
    let mut repo = FakeRepo::new("testorg/gaia-pq", &commit('4')).gated();
    for (rel, p) in gaia_parquet_layout() {
        repo = repo.file(&rel, std::fs::read(p).expect("read"));
    }
    let hub = start_hub(vec![repo]);
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_options(&hub.endpoint, cache.path(), TOKEN);
    let c = cfg(
        BenchmarkKind::Gaia,
        Some("validation"),
        Some("hf://testorg/gaia-pq".into()),
    );
    let d = load_with(&c, &crate_dir(), 0, &opts).expect("hf parquet");
    assert_eq!(d.items.len(), 6);
    assert_eq!(
        d.items.iter().filter(|i| !i.attachments.is_empty()).count(),
        2
    );
    let hits = hub.hits();
    assert!(
        hits.iter()
            .any(|h| h.ends_with("/2023/validation/metadata.parquet")),
        "{hits:?}"
    );
    // Loaded again: the jsonl candidate's 404 and the parquet file are both cached.
    load_with(&c, &crate_dir(), 0, &opts).expect("again");
    assert_eq!(hub.hits(), hits);
}
