//! Benchmarks without a `source`: the hub default (downloaded once, pinned to a commit that
//! enters the fingerprint), the offline override `HERD_DATASETS_DIR` (wins, no network), the
//! upstream-only defaults, the errors, and `herd datasets list`. All against a local server in
//! the hub's layout; the real hub is never contacted.

mod common;

use std::io::{Cursor, Read};
use std::path::Path;

use common::hub::{FakeRepo, TOKEN, commit, dead_endpoint, start_hub};
use common::*;
use herd_core::config::BenchmarkKind;
use herd_datasets::{DatasetError, LoadOptions, LocalOverride, cli, load_with};

/// Defaults from the hub at `endpoint` into `cache`, no override, no token.
fn hub_opts(endpoint: &str, cache: &Path) -> LoadOptions {
    LoadOptions {
        hf_endpoint: Some(endpoint.to_string()),
        hf_token: Some(String::new()),
        cache_dir: Some(cache.to_path_buf()),
        datasets_dir: LocalOverride::Off,
        ..LoadOptions::default()
    }
}

fn math500_bytes() -> Vec<u8> {
    std::fs::read(shared().join("math/math500/test.jsonl")).expect("shared MATH-500")
}

fn math500_repo(c: &str) -> FakeRepo {
    FakeRepo::new("HuggingFaceH4/MATH-500", c).file("test.jsonl", math500_bytes())
}

fn ids_and_golds(d: &herd_datasets::Dataset) -> Vec<(String, Option<String>)> {
    d.items
        .iter()
        .map(|i| (i.id.clone(), i.gold.clone()))
        .collect()
}

#[test]
fn math500_default_downloads_once_into_the_cache() {
    let c1 = commit('a');
    let hub = start_hub(vec![math500_repo(&c1)]);
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_opts(&hub.endpoint, cache.path());
    let c = cfg(BenchmarkKind::Math, None, None);

    let d = load_with(&c, &crate_dir(), 0, &opts).expect("MATH-500 from the hub");
    assert_eq!((d.subset.as_str(), d.items.len()), ("math500", 500));
    assert_eq!(
        d.source,
        format!("hf://HuggingFaceH4/MATH-500@{c1}/test.jsonl")
    );
    assert_eq!(
        hub.hits(),
        vec![
            "/api/datasets/HuggingFaceH4/MATH-500/revision/main".to_string(),
            format!("/datasets/HuggingFaceH4/MATH-500/resolve/{c1}/test.jsonl"),
        ]
    );
    let repo_cache = cache.path().join("datasets/HuggingFaceH4/MATH-500");
    assert_eq!(
        std::fs::read(repo_cache.join(format!("snapshots/{c1}/test.jsonl"))).expect("cached"),
        math500_bytes()
    );
    assert_eq!(
        std::fs::read_to_string(repo_cache.join("refs/main")).expect("ref"),
        c1
    );

    // Loaded again: no request at all, same fingerprint.
    let again = load_with(&c, &crate_dir(), 0, &opts).expect("cached");
    assert_eq!(hub.requests(), 2, "{:?}", hub.hits());
    assert_eq!(again.fingerprint, d.fingerprint);

    // Even when the hub's `main` has moved on, the cache keeps the commit it resolved: a sweep
    // loads the same data until the cache is told otherwise.
    let moved = start_hub(vec![math500_repo(&commit('b'))]);
    let pinned = load_with(
        &c,
        &crate_dir(),
        0,
        &hub_opts(&moved.endpoint, cache.path()),
    )
    .expect("pinned");
    assert_eq!(moved.requests(), 0, "{:?}", moved.hits());
    assert_eq!(pinned.fingerprint, d.fingerprint);
    assert!(pinned.source.contains(&c1));

    // The hub's file is the shared copy: the same items as the local override.
    let local = load_with(
        &c,
        &crate_dir(),
        0,
        &LoadOptions {
            datasets_dir: LocalOverride::Dir(shared()),
            ..LoadOptions::default()
        },
    )
    .expect("local");
    assert_eq!(ids_and_golds(&d), ids_and_golds(&local));
}

#[test]
fn the_fingerprint_includes_the_resolved_commit() {
    let (ca, cb) = (commit('a'), commit('b'));
    let hub_a = start_hub(vec![math500_repo(&ca)]);
    let hub_b = start_hub(vec![math500_repo(&cb)]);
    let (cache_a, cache_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let c = cfg(BenchmarkKind::Math, None, None);
    let a = load_with(
        &c,
        &crate_dir(),
        0,
        &hub_opts(&hub_a.endpoint, cache_a.path()),
    )
    .expect("a");
    let b = load_with(
        &c,
        &crate_dir(),
        0,
        &hub_opts(&hub_b.endpoint, cache_b.path()),
    )
    .expect("b");
    // Same bytes, another commit: another fingerprint.
    assert_eq!(ids_and_golds(&a), ids_and_golds(&b));
    assert_ne!(a.fingerprint, b.fingerprint);

    // Naming the commit explicitly reads the same thing as the default did.
    let pinned = cfg(
        BenchmarkKind::Math,
        Some("math500"),
        Some(format!("hf://HuggingFaceH4/MATH-500@{ca}")),
    );
    let p = load_with(
        &pinned,
        &crate_dir(),
        0,
        &hub_opts(&hub_a.endpoint, cache_a.path()),
    )
    .expect("pinned");
    assert_eq!(p.fingerprint, a.fingerprint);
}

#[test]
fn herd_datasets_dir_wins_over_the_hub() {
    // The hub would serve something else entirely; the local folder must win, with no request.
    let hub = start_hub(vec![
        FakeRepo::new("HuggingFaceH4/MATH-500", &commit('c')).file(
            "test.jsonl",
            br#"{"problem": "1+1?", "answer": "2", "unique_id": "hub/1"}"#.to_vec(),
        ),
    ]);
    let cache = tempfile::tempdir().expect("cache");
    let opts = LoadOptions {
        datasets_dir: LocalOverride::Dir(shared()),
        ..hub_opts(&hub.endpoint, cache.path())
    };
    let d = load_with(
        &cfg(BenchmarkKind::Math, None, None),
        &crate_dir(),
        0,
        &opts,
    )
    .expect("local MATH-500");
    assert_eq!(d.items.len(), 500);
    assert!(
        d.source.starts_with(&shared().display().to_string()),
        "{}",
        d.source
    );
    // Benchmarks the hub has no default for load from the folder too.
    let t = load_with(
        &cfg(BenchmarkKind::Tabmwp, None, None),
        &crate_dir(),
        0,
        &opts,
    )
    .expect("local TabMWP");
    assert_eq!(t.items.len(), 1000);
    let a = load_with(
        &cfg(BenchmarkKind::Aime, None, None),
        &crate_dir(),
        0,
        &opts,
    )
    .expect("local AIME");
    assert_eq!(a.items.len(), 60);
    assert_eq!(hub.requests(), 0, "{:?}", hub.hits());

    // A part the folder lacks is an error that says why nothing was downloaded.
    let empty = tempfile::tempdir().expect("empty");
    let msg = load_with(
        &cfg(BenchmarkKind::Math, None, None),
        &crate_dir(),
        0,
        &LoadOptions {
            datasets_dir: LocalOverride::Dir(empty.path().to_path_buf()),
            ..hub_opts(&hub.endpoint, cache.path())
        },
    )
    .expect_err("missing locally")
    .to_string();
    assert!(
        msg.contains("math/math500/test.jsonl")
            && msg.contains("reads only local files and downloads nothing")
            && msg.contains("unset"),
        "{msg}"
    );
    assert_eq!(hub.requests(), 0, "{:?}", hub.hits());
}

/// The GPQA diamond table, decrypted in memory from the shared zip (never written to the repo).
fn gpqa_diamond_csv() -> Vec<u8> {
    let zip = std::fs::read(shared().join("gpqa/dataset.zip")).expect("zip");
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("archive");
    let name = archive
        .file_names()
        .find(|n| n.ends_with("/gpqa_diamond.csv"))
        .expect("member")
        .to_string();
    let idx = archive.index_for_name(&name).expect("index");
    let password = gpqa_opts().gpqa_password.expect("password");
    let mut f = archive
        .by_index_decrypt(idx, password.as_bytes())
        .expect("decrypt");
    let mut out = Vec::new();
    f.read_to_end(&mut out).expect("read");
    out
}

#[test]
fn gated_default_without_a_token_is_a_clear_error() {
    let hub = start_hub(vec![
        FakeRepo::new("Idavidrein/gpqa", &commit('d'))
            .gated()
            .file("gpqa_diamond.csv", gpqa_diamond_csv()),
    ]);
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_opts(&hub.endpoint, cache.path());
    let c = cfg(BenchmarkKind::Gpqa, None, None);
    let err = load_with(&c, &crate_dir(), 0, &opts).expect_err("401 without a token");
    assert!(matches!(err, DatasetError::Download { .. }), "{err:?}");
    let msg = err.to_string();
    for want in [
        "401",
        "Idavidrein/gpqa",
        "gated",
        "no HF_TOKEN is set",
        "set HF_TOKEN",
        "HERD_DATASETS_DIR",
        "gpqa/dataset.zip",
    ] {
        assert!(msg.contains(want), "`{want}` missing from: {msg}");
    }

    // With the token: the hub's plain CSV gives the same items as the encrypted zip.
    let with_token = LoadOptions {
        hf_token: Some(TOKEN.into()),
        ..opts
    };
    let hub_d = load_with(&c, &crate_dir(), 0, &with_token).expect("with the token");
    assert_eq!(hub_d.items.len(), 198);
    assert!(
        hub_d.source.ends_with("/gpqa_diamond.csv"),
        "{}",
        hub_d.source
    );
    let zip_d = load_with(
        &c,
        &crate_dir(),
        0,
        &LoadOptions {
            datasets_dir: LocalOverride::Dir(shared()),
            ..gpqa_opts()
        },
    )
    .expect("zip");
    assert_eq!(ids_and_golds(&hub_d), ids_and_golds(&zip_d));
    assert_eq!(hub_d.items[0].metadata, zip_d.items[0].metadata);
}

#[test]
fn no_network_names_the_offline_fix() {
    let cache = tempfile::tempdir().expect("cache");
    let msg = load_with(
        &cfg(BenchmarkKind::Math, None, None),
        &crate_dir(),
        0,
        &hub_opts(&dead_endpoint(), cache.path()),
    )
    .expect_err("no network")
    .to_string();
    assert!(
        msg.contains("cannot reach the Hugging Face hub")
            && msg.contains("HERD_DATASETS_DIR")
            && msg.contains("math/math500/test.jsonl"),
        "{msg}"
    );
}

#[test]
fn a_missing_hub_file_names_the_repo_and_the_file() {
    let hub = start_hub(vec![FakeRepo::new("HuggingFaceH4/MATH-500", &commit('e'))]);
    let cache = tempfile::tempdir().expect("cache");
    let err = load_with(
        &cfg(BenchmarkKind::Math, None, None),
        &crate_dir(),
        0,
        &hub_opts(&hub.endpoint, cache.path()),
    )
    .expect_err("404");
    let msg = err.to_string();
    assert!(
        msg.contains("404")
            && msg.contains("`HuggingFaceH4/MATH-500`")
            && msg.contains("no file `test.jsonl`"),
        "{msg}"
    );
}

#[test]
fn aime_csv_default_comes_from_the_hub() {
    // The hub's copy starts with a byte-order mark; the loader reads past it.
    let mut csv = "\u{feff}".as_bytes().to_vec();
    csv.extend(std::fs::read(shared().join("aime/AIME_Dataset_1983_2024.csv")).expect("csv"));
    let hub = start_hub(vec![
        FakeRepo::new("di-zhang-fdu/AIME_1983_2024", &commit('f'))
            .file("AIME_Dataset_1983_2024.csv", csv),
    ]);
    let cache = tempfile::tempdir().expect("cache");
    let d = load_with(
        &cfg(BenchmarkKind::Aime, Some("1983-2024"), None),
        &crate_dir(),
        0,
        &hub_opts(&hub.endpoint, cache.path()),
    )
    .expect("AIME 1983-2024 from the hub");
    assert_eq!(d.items.len(), 933);
}

#[test]
fn gaia_default_is_the_benchmark_repo() {
    let mut repo = FakeRepo::new("gaia-benchmark/GAIA", &commit('9')).gated();
    for (rel, p) in gaia_parquet_layout() {
        repo = repo.file(&rel, std::fs::read(p).expect("read"));
    }
    let hub = start_hub(vec![repo]);
    let cache = tempfile::tempdir().expect("cache");
    let opts = LoadOptions {
        hf_token: Some(TOKEN.into()),
        ..hub_opts(&hub.endpoint, cache.path())
    };
    let c = cfg(BenchmarkKind::Gaia, None, None);
    let d = load_with(&c, &crate_dir(), 0, &opts).expect("GAIA from the hub");
    assert_eq!(d.items.len(), 6);
    let n = hub.requests();
    load_with(&c, &crate_dir(), 0, &opts).expect("again");
    assert_eq!(hub.requests(), n, "{:?}", hub.hits());
}

#[test]
fn upstream_only_defaults_say_how_to_get_the_file() {
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_opts(&dead_endpoint(), cache.path());
    let err = load_with(
        &cfg(BenchmarkKind::Tabmwp, None, None),
        &crate_dir(),
        0,
        &opts,
    )
    .expect_err("no hub default");
    assert!(
        matches!(err, DatasetError::NotDownloadable { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    for want in [
        "tabmwp `test1k`",
        "github.com/lupantech/PromptPG",
        "curl",
        "HERD_DATASETS_DIR",
        "tabmwp/problems_test1k.json",
    ] {
        assert!(msg.contains(want), "`{want}` missing from: {msg}");
    }
    let msg = load_with(
        &cfg(BenchmarkKind::Aime, None, None),
        &crate_dir(),
        0,
        &opts,
    )
    .expect_err("matharena")
    .to_string();
    assert!(
        msg.contains("eth-sri/matharena") && msg.contains("git clone"),
        "{msg}"
    );
}

#[test]
fn datasets_list_shows_the_default_the_override_and_the_cache() {
    let c1 = commit('a');
    let hub = start_hub(vec![math500_repo(&c1)]);
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_opts(&hub.endpoint, cache.path());

    let before = cli::list(&opts);
    for want in [
        "offline override: none",
        "hf://HuggingFaceH4/MATH-500@main, file test.jsonl",
        "hf://Idavidrein/gpqa@main, file gpqa_<subset>.csv",
        "hf://gaia-benchmark/GAIA@main",
        "https://github.com/lupantech/PromptPG",
        "not downloaded yet",
        "the hub dataset: downloaded on first use, then cached",
    ] {
        assert!(before.contains(want), "`{want}` missing from:\n{before}");
    }
    load_with(
        &cfg(BenchmarkKind::Math, None, None),
        &crate_dir(),
        0,
        &opts,
    )
    .expect("load");
    let after = cli::list(&opts);
    assert!(
        after.contains(&format!("cached at commit {}", &c1[..12]))
            && after.contains("the hub dataset, from the cache (no network)"),
        "{after}"
    );

    let local = cli::list(&LoadOptions {
        datasets_dir: LocalOverride::Dir(shared()),
        ..opts.clone()
    });
    for want in [
        format!("offline override: options={}", shared().display()),
        "in options: present".to_string(),
        "uses     the local copy in options".to_string(),
        // The default is still shown beside the override.
        "hf://HuggingFaceH4/MATH-500@main".to_string(),
    ] {
        assert!(local.contains(&want), "`{want}` missing from:\n{local}");
    }
    // GAIA is not in the shared folder: its block says so.
    let gaia = local
        .split("\n\n")
        .find(|b| b.starts_with("gaia:"))
        .expect("gaia block");
    assert!(
        gaia.contains("in options: MISSING") && gaia.contains("loading a missing part fails"),
        "{gaia}"
    );
    // Listing never touches the network.
    assert_eq!(hub.requests(), 2, "{:?}", hub.hits());
}
