//! `herd datasets list` and `show` as a user runs them: the offline override comes from
//! `HERD_DATASETS_DIR`, and without it the defaults point at the hub. The hub endpoint is a
//! port where nothing listens, so any network use would fail loudly.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The shared datasets folder: `$HERD_DATASETS_DIR`, else `<repo>/../shared/datasets`.
fn shared() -> PathBuf {
    let p = std::env::var("HERD_DATASETS_DIR")
        .ok()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    assert!(
        p.join("SOURCES.md").is_file(),
        "shared datasets not found at {} (CI sets HERD_DATASETS_DIR)",
        p.display()
    );
    p
}

fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

/// Runs `herd ARGS` with a private cache, no token, an unreachable hub and `datasets_dir`.
fn herd(args: &[&str], datasets_dir: Option<&PathBuf>, cache: &std::path::Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herd"));
    cmd.args(args)
        .env("HERD_CACHE_DIR", cache)
        .env("HF_ENDPOINT", dead_endpoint())
        .env_remove("HF_TOKEN")
        .env_remove("HERD_DATASETS_DIR")
        .env_remove("HERD_SHARED_DATASETS")
        .env("NO_COLOR", "1");
    if let Some(d) = datasets_dir {
        cmd.env("HERD_DATASETS_DIR", d);
    }
    cmd.output().expect("run herd")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "herd failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn datasets_list_shows_the_defaults_and_the_override_in_effect() {
    let cache = tempfile::tempdir().expect("cache");
    let shared = shared();

    let with = stdout(&herd(&["datasets", "list"], Some(&shared), cache.path()));
    for want in [
        format!("offline override: HERD_DATASETS_DIR={}", shared.display()),
        "hf://HuggingFaceH4/MATH-500@main, file test.jsonl".to_string(),
        "math/math500/test.jsonl".to_string(),
        "in HERD_DATASETS_DIR: present".to_string(),
        "uses     the local copy in HERD_DATASETS_DIR".to_string(),
        "https://github.com/lupantech/PromptPG".to_string(),
    ] {
        assert!(with.contains(&want), "`{want}` missing from:\n{with}");
    }

    let without = stdout(&herd(&["datasets", "list"], None, cache.path()));
    for want in [
        "offline override: none",
        "HF_TOKEN not set",
        "not downloaded yet",
        "the hub dataset: downloaded on first use, then cached",
        "nothing yet: get the file as above, then set HERD_DATASETS_DIR",
    ] {
        assert!(without.contains(want), "`{want}` missing from:\n{without}");
    }
}

#[test]
fn datasets_show_reads_herd_datasets_dir_offline() {
    let cache = tempfile::tempdir().expect("cache");
    let shared = shared();
    let out = stdout(&herd(
        &["datasets", "show", "math"],
        Some(&shared),
        cache.path(),
    ));
    assert!(
        out.contains("500 selected of 500")
            && out.contains(&format!("source:      {}", shared.display())),
        "{out}"
    );

    // Without the override the default is the hub, which is unreachable here: the error
    // names the offline fix.
    let o = herd(&["datasets", "show", "math"], None, cache.path());
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot reach the Hugging Face hub") && err.contains("HERD_DATASETS_DIR"),
        "{err}"
    );
}
