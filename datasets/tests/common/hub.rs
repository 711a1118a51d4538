//! A local HTTP server in the Hugging Face hub's layout, for the `hf://` and default-source
//! tests (the real hub is never contacted):
//!
//! - `GET /api/datasets/{owner}/{name}/revision/{rev}` → `{"id": …, "sha": commit}`, or 404;
//! - `GET /datasets/{owner}/{name}/resolve/{rev or commit}/{path}` → the file (with
//!   `x-repo-commit`), 404 if the repo has no such file, 401 for a gated repo without the
//!   token. As on the hub, a wrong token is refused (401) everywhere, and a gated repo's API
//!   answers without one.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// The only token the server accepts.
pub const TOKEN: &str = "hf_test_token_123";

/// One dataset repo on the fake hub.
#[derive(Clone)]
pub struct FakeRepo {
    /// `owner/name`.
    pub id: String,
    /// What every revision in `revisions` resolves to.
    pub commit: String,
    pub revisions: Vec<String>,
    /// Path in the repo → bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    pub gated: bool,
}

impl FakeRepo {
    pub fn new(id: &str, commit: &str) -> FakeRepo {
        FakeRepo {
            id: id.to_string(),
            commit: commit.to_string(),
            revisions: vec!["main".to_string()],
            files: BTreeMap::new(),
            gated: false,
        }
    }

    pub fn gated(mut self) -> FakeRepo {
        self.gated = true;
        self
    }

    pub fn revision(mut self, rev: &str) -> FakeRepo {
        self.revisions.push(rev.to_string());
        self
    }

    pub fn file(mut self, path: &str, bytes: Vec<u8>) -> FakeRepo {
        self.files.insert(path.to_string(), bytes);
        self
    }
}

/// A running fake hub.
pub struct Hub {
    pub endpoint: String,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Hub {
    /// Every request path so far, in order.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("lock").clone()
    }

    /// How many requests were made.
    pub fn requests(&self) -> usize {
        self.hits.lock().expect("lock").len()
    }

    /// File downloads (not API calls) so far.
    pub fn downloads(&self) -> usize {
        self.hits()
            .iter()
            .filter(|h| h.contains("/resolve/"))
            .count()
    }
}

/// A 40-hex commit made of one repeated digit, e.g. `commit('a')`.
pub fn commit(c: char) -> String {
    std::iter::repeat_n(c, 40).collect()
}

/// An endpoint where nothing listens (connections are refused): "no network".
pub fn dead_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

fn answer(
    path: &str,
    auth: Option<&str>,
    repos: &[FakeRepo],
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let ok_token = format!("Bearer {TOKEN}");
    let has_token = auth.is_some();
    let good_token = auth == Some(ok_token.as_str());
    let status = |s: &str, body: &str| (s.to_string(), Vec::new(), body.as_bytes().to_vec());
    if has_token && !good_token {
        return status(
            "401 Unauthorized",
            r#"{"error":"Invalid credentials in Authorization header"}"#,
        );
    }
    let path = path.split('?').next().unwrap_or("");
    if let Some(rest) = path.strip_prefix("/api/datasets/") {
        let parts: Vec<&str> = rest.splitn(4, '/').collect();
        if let [owner, name, "revision", rev] = parts[..] {
            let id = format!("{owner}/{name}");
            if let Some(r) = repos.iter().find(|r| r.id == id)
                && (r.revisions.iter().any(|x| x == rev) || r.commit == rev)
            {
                let body = format!(
                    r#"{{"id":"{id}","sha":"{}","gated":{}}}"#,
                    r.commit, r.gated
                );
                return ("200 OK".into(), Vec::new(), body.into_bytes());
            }
        }
        return status("404 Not Found", r#"{"error":"Revision Not Found"}"#);
    }
    if let Some(rest) = path.strip_prefix("/datasets/") {
        let parts: Vec<&str> = rest.splitn(5, '/').collect();
        if let [owner, name, "resolve", rev, file] = parts[..] {
            let id = format!("{owner}/{name}");
            if let Some(r) = repos.iter().find(|r| r.id == id)
                && (r.revisions.iter().any(|x| x == rev) || r.commit == rev)
            {
                if r.gated && !good_token {
                    return status(
                        "401 Unauthorized",
                        "Access to this dataset is restricted. You must be authenticated.",
                    );
                }
                if let Some(b) = r.files.get(file) {
                    return (
                        "200 OK".into(),
                        vec![("x-repo-commit".into(), r.commit.clone())],
                        b.clone(),
                    );
                }
                return status("404 Not Found", "Entry not found");
            }
        }
    }
    status("404 Not Found", "Repository not found")
}

/// Starts the fake hub with these repos.
pub fn start_hub(repos: Vec<FakeRepo>) -> Hub {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = hits.clone();
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
            let (status, headers, body) = answer(&path, auth.as_deref(), &repos);
            let mut head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
            let _ = stream.flush();
            let mut sink = [0u8; 1];
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(10)));
            let _ = stream.read(&mut sink);
        }
    });
    Hub { endpoint, hits }
}
