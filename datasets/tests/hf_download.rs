//! `hf://` sources against a local HTTP server that serves the hub layout and checks the token.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use herd_core::config::BenchmarkKind;
use herd_datasets::{DatasetError, LoadOptions, load_with};

const TOKEN: &str = "hf_test_token_123";

struct Hub {
    endpoint: String,
    hits: Arc<Mutex<Vec<String>>>,
    served: Arc<AtomicUsize>,
}

/// Serves `files` (url path → bytes); 401 without the bearer token, 404 for unknown paths.
/// Load options that download from the test hub into `cache` with `token`.
fn hub_options(hub: &Hub, cache: &std::path::Path, token: &str) -> LoadOptions {
    LoadOptions {
        hf_endpoint: Some(hub.endpoint.clone()),
        hf_token: Some(token.into()),
        cache_dir: Some(cache.to_path_buf()),
        ..LoadOptions::default()
    }
}

fn start_hub(files: BTreeMap<String, Vec<u8>>) -> Hub {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::new(AtomicUsize::new(0));
    let (h, s) = (hits.clone(), served.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut auth = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    auth = Some(v.trim().to_string());
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            h.lock().expect("lock").push(path.clone());
            let (status, body): (&str, Vec<u8>) =
                if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
                    ("401 Unauthorized", b"unauthorized".to_vec())
                } else if let Some(b) = files.get(&path) {
                    s.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", b.clone())
                } else {
                    ("404 Not Found", b"not found".to_vec())
                };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
            let mut sink = [0u8; 1];
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(10)));
            let _ = stream.read(&mut sink);
        }
    });
    Hub {
        endpoint,
        hits,
        served,
    }
}

fn gaia_files(prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let root = crate_dir().join("fixtures/gaia");
    let mut m = BTreeMap::new();
    for split in ["validation", "test"] {
        for e in std::fs::read_dir(root.join("2023").join(split)).expect("dir") {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            m.insert(
                format!("{prefix}/2023/{split}/{name}"),
                std::fs::read(e.path()).expect("read"),
            );
        }
    }
    m
}

#[test]
fn hf_source_downloads_with_token_and_caches() {
    let prefix = "/datasets/testorg/gaia-mini/resolve/v1.0";
    let hub = start_hub(gaia_files(prefix));
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_options(&hub, cache.path(), TOKEN);
    let c = cfg(
        BenchmarkKind::Gaia,
        Some("validation"),
        Some("hf://testorg/gaia-mini@v1.0".into()),
    );
    let d = load_with(&c, &crate_dir(), 0, &opts).expect("hf load");
    assert_eq!(d.items.len(), 6);
    assert!(d.source.starts_with("hf://testorg/gaia-mini@v1.0"));
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
    assert!(
        cache
            .path()
            .join("datasets/testorg/gaia-mini/v1.0/2023/validation/metadata.jsonl")
            .is_file()
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
    let served = hub.served.load(Ordering::SeqCst);
    assert_eq!(
        served,
        3,
        "metadata + 2 attachments; hits: {:?}",
        hub.hits.lock().expect("lock")
    );

    // Second load comes from the cache: no new downloads.
    let again = load_with(&c, &crate_dir(), 0, &opts).expect("cached");
    assert_eq!(again.fingerprint, d.fingerprint);
    assert_eq!(hub.served.load(Ordering::SeqCst), served);
}

#[test]
fn hf_source_without_token_is_a_clear_error() {
    let prefix = "/datasets/testorg/gaia-mini/resolve/main";
    let hub = start_hub(gaia_files(prefix));
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_options(&hub, cache.path(), "wrong-token");
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
            && msg.contains("HF_TOKEN")
            && msg.contains("/resolve/main/2023/test/metadata.jsonl"),
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

    // A repo with none of the candidate files: lists what was tried.
    let c = cfg(
        BenchmarkKind::Gaia,
        Some("validation"),
        Some("hf://testorg/empty".into()),
    );
    let err = load_with(&c, &crate_dir(), 0, &ok).expect_err("404");
    assert!(
        err.to_string().contains("2023/validation/metadata.jsonl"),
        "{err}"
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
fn hf_source_reads_the_parquet_layout() {
    let prefix = "/datasets/testorg/gaia-pq/resolve/main";
    let files = gaia_parquet_layout()
        .into_iter()
        .map(|(rel, p)| (format!("{prefix}/{rel}"), std::fs::read(p).expect("read")))
        .collect();
    let hub = start_hub(files);
    let cache = tempfile::tempdir().expect("cache");
    let opts = hub_options(&hub, cache.path(), TOKEN);
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
    let hits = hub.hits.lock().expect("lock").clone();
    assert!(
        hits.iter()
            .any(|h| h.ends_with("/2023/validation/metadata.parquet")),
        "{hits:?}"
    );
}
