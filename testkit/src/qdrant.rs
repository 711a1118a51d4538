//! A throwaway Qdrant server for one test: loopback only, free ports for REST and gRPC, its
//! own storage in a temp dir, telemetry off, an API key, readiness awaited on `/readyz`; the
//! process is killed and its directory removed on drop (so also when the test panics).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to answer `/readyz` (it usually takes well under 1 s).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The Qdrant server binary: `$HERD_QDRANT_BIN`, else the copy `scripts/setup-qdrant.sh`
/// installed under `${HERD_CACHE_DIR:-$HOME/.cache/herd}/qdrant/current/`.
pub fn qdrant_bin() -> Result<PathBuf, String> {
    let cache = std::env::var_os("HERD_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/herd")));
    find_bin(
        std::env::var_os("HERD_QDRANT_BIN").map(PathBuf::from),
        cache,
    )
}

fn find_bin(explicit: Option<PathBuf>, cache: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "HERD_QDRANT_BIN points at `{}`, which is not a file",
                p.display()
            ))
        };
    }
    let cache = cache.ok_or("neither HERD_CACHE_DIR nor HOME is set")?;
    let p = cache.join("qdrant/current/qdrant");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "the Qdrant server binary is not installed (looked for `{}`): run \
             `scripts/setup-qdrant.sh` (it installs ../shared/qdrant/bin/qdrant, or says how to \
             build it), or set HERD_QDRANT_BIN, or point QDRANT_URL at a running server",
            p.display()
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind a free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("read a free port: {e}"))
}

/// `GET path` on loopback; the status code, if anything answered.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 16];
    let n = s.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A Qdrant server process owned by a test.
pub struct QdrantServer {
    /// The gRPC URL (what `qdrant-client` and herd's `--qdrant-url` take).
    pub url: String,
    /// The REST URL.
    pub rest_url: String,
    /// The API key every request must carry.
    pub api_key: String,
    http_port: u16,
    grpc_port: u16,
    bin: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for QdrantServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantServer")
            .field("url", &self.url)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl QdrantServer {
    /// Starts a server, or panics with what is missing and how to fix it.
    pub fn start() -> QdrantServer {
        QdrantServer::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a server on free loopback ports with its own storage directory.
    pub fn try_start() -> Result<QdrantServer, String> {
        let bin = qdrant_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("herd-qdrant-")
            .tempdir()
            .map_err(|e| format!("create a temp dir for Qdrant: {e}"))?;
        let api_key = format!("test-key-{}", std::process::id());
        let mut s = QdrantServer {
            url: String::new(),
            rest_url: String::new(),
            api_key,
            http_port: 0,
            grpc_port: 0,
            bin,
            child: None,
            dir,
        };
        let mut last = String::new();
        // Ports picked now may be taken before the server binds them; try a few pairs.
        for _ in 0..3 {
            let (http_port, grpc_port) = (free_port()?, free_port()?);
            if http_port == grpc_port {
                continue;
            }
            s.http_port = http_port;
            s.grpc_port = grpc_port;
            s.url = format!("http://127.0.0.1:{grpc_port}");
            s.rest_url = format!("http://127.0.0.1:{http_port}");
            match s.spawn_and_wait() {
                Ok(()) => return Ok(s),
                Err(e) => {
                    last = e;
                    s.kill();
                }
            }
        }
        Err(last)
    }

    /// The server's storage and log directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("qdrant.log")
    }

    /// Everything the server printed (across restarts).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("open the Qdrant log: {e}"))?;
        let log2 = log
            .try_clone()
            .map_err(|e| format!("open the Qdrant log: {e}"))?;
        let d = self.dir.path();
        let child = Command::new(&self.bin)
            .current_dir(d)
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http_port.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc_port.to_string())
            .env("QDRANT__SERVICE__API_KEY", &self.api_key)
            .env("QDRANT__STORAGE__STORAGE_PATH", d.join("storage"))
            .env("QDRANT__STORAGE__SNAPSHOTS_PATH", d.join("snapshots"))
            .env("QDRANT__LOG_LEVEL", "WARN")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("failed to start `{}`: {e}", self.bin.display()))?;
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            // REST answers first; gRPC (what herd uses) listens a moment later.
            if http_status(self.http_port, "/readyz") == Some(200)
                && TcpStream::connect(("127.0.0.1", self.grpc_port)).is_ok()
            {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(format!(
                    "the Qdrant server exited ({status}) before it was ready; its log:\n{}",
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "the Qdrant server did not answer /readyz on port {} within {READY_TIMEOUT:?}; its log:\n{}",
            self.http_port,
            self.log_text()
        ))
    }

    /// Kills the process (SIGKILL); its storage stays for [`QdrantServer::restart`].
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Starts the server again on the same ports and storage (after [`QdrantServer::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        let start = Instant::now();
        // The old process's ports can take a moment to free.
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(e) if start.elapsed() > READY_TIMEOUT => panic!("restart Qdrant: {e}"),
                Err(_) => {
                    self.kill();
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

impl Drop for QdrantServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where a test finds a Qdrant server: `QDRANT_URL` (with `QDRANT_API_KEY`) when set, else a
/// throwaway [`QdrantServer`] owned by this value.
#[derive(Debug)]
pub struct QdrantEndpoint {
    pub url: String,
    pub api_key: Option<String>,
    /// The throwaway server, when one was started.
    pub server: Option<QdrantServer>,
}

impl QdrantEndpoint {
    /// The external server from the environment, or a fresh throwaway one (panics with the
    /// fix when neither is available: a missing binary is a failure, never a skip).
    pub fn from_env_or_start() -> QdrantEndpoint {
        match std::env::var("QDRANT_URL") {
            Ok(url) if !url.is_empty() => QdrantEndpoint {
                url,
                api_key: std::env::var("QDRANT_API_KEY")
                    .ok()
                    .filter(|k| !k.is_empty()),
                server: None,
            },
            _ => {
                let server = QdrantServer::start();
                QdrantEndpoint {
                    url: server.url.clone(),
                    api_key: Some(server.api_key.clone()),
                    server: Some(server),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_starts_requires_its_key_and_leaves_nothing_behind() {
        let mut s = QdrantServer::start();
        assert!(s.is_running());
        assert_eq!(http_status(s.http_port, "/readyz"), Some(200));
        // Collections need the API key.
        assert_eq!(http_status(s.http_port, "/collections"), Some(401));
        let dir = s.dir().to_path_buf();
        assert!(dir.join("storage").is_dir(), "storage in the temp dir");
        s.kill();
        assert!(!s.is_running());
        assert_eq!(http_status(s.http_port, "/readyz"), None);
        s.restart();
        assert_eq!(http_status(s.http_port, "/readyz"), Some(200));
        drop(s);
        assert!(!dir.exists(), "the directory is removed on drop");
    }

    #[test]
    fn a_missing_binary_names_the_fix() {
        let empty = tempfile::tempdir().expect("tempdir");
        let e = find_bin(None, Some(empty.path().to_path_buf())).expect_err("missing");
        assert!(e.contains("scripts/setup-qdrant.sh"), "{e}");
        assert!(e.contains(&empty.path().display().to_string()), "{e}");
        let e = find_bin(Some(empty.path().join("nope")), None).expect_err("missing");
        assert!(e.contains("HERD_QDRANT_BIN"), "{e}");
        let bin = empty.path().join("qdrant/current/qdrant");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, b"").unwrap();
        assert_eq!(find_bin(None, Some(empty.path().to_path_buf())), Ok(bin));
    }
}
