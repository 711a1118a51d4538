//! Test doubles shared by the integration tests: a scripted OpenAI-compatible server,
//! a tracing capture, and a throwaway redis-server.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use herd_core::config::BackboneConfig;
use herd_core::trajectory::Message;
use herd_llm::ChatRequest;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Step {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Step {
    pub fn ok(content: &str, prompt_tokens: u64, completion_tokens: u64) -> Step {
        Step::json(
            200,
            json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "scripted-model-2024",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}
            }),
        )
    }
    pub fn json(status: u16, body: Value) -> Step {
        Step {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
    pub fn error(status: u16, message: &str) -> Step {
        Step::json(
            status,
            json!({"error": {"message": message, "type": "test"}}),
        )
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Step {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn delayed(mut self, d: Duration) -> Step {
        self.delay = d;
        self
    }
}

/// A request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Plays its steps in order, then repeats `fallback`; counts every request.
pub struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    fallback: Mutex<Step>,
    pub requests: AtomicUsize,
    pub seen: Mutex<Vec<Seen>>,
    pub prompt_tokens_served: AtomicU64,
    pub completion_tokens_served: AtomicU64,
}

pub struct Server {
    pub addr: SocketAddr,
    pub script: Arc<Scripted>,
}

impl Server {
    pub async fn start(steps: Vec<Step>, fallback: Step) -> Server {
        let script = Arc::new(Scripted {
            steps: Mutex::new(steps.into()),
            fallback: Mutex::new(fallback),
            requests: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            prompt_tokens_served: AtomicU64::new(0),
            completion_tokens_served: AtomicU64::new(0),
        });
        let s = script.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move { s.answer(method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { addr, script }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.script.requests.load(Ordering::SeqCst)
    }

    pub fn last(&self) -> Seen {
        self.script
            .seen
            .lock()
            .last()
            .cloned()
            .expect("the server saw no request")
    }
}

impl Scripted {
    async fn answer(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        self.seen.lock().push(Seen {
            method,
            uri,
            headers,
            body,
        });
        let step = self
            .steps
            .lock()
            .pop_front()
            .unwrap_or_else(|| self.fallback.lock().clone());
        if !step.delay.is_zero() {
            tokio::time::sleep(step.delay).await;
        }
        if step.status == 200
            && let Ok(v) = serde_json::from_str::<Value>(&step.body)
            && let Some(u) = v.get("usage")
        {
            let g = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            self.prompt_tokens_served
                .fetch_add(g("prompt_tokens"), Ordering::SeqCst);
            self.completion_tokens_served
                .fetch_add(g("completion_tokens"), Ordering::SeqCst);
        }
        let mut resp = (StatusCode::from_u16(step.status).unwrap(), step.body).into_response();
        for (k, v) in step.headers {
            resp.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        resp
    }
}

/// A backbone config pointing at `base_url`.
pub fn backbone(base_url: &str, extra_toml: &str) -> BackboneConfig {
    let text = format!(
        "name = \"scripted\"\nmodel = \"test-model\"\nbase_url = \"{base_url}\"\ncache = \"off\"\n{extra_toml}"
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("bad test config: {e}\n{text}"))
}

pub fn request(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message {
                role: "system".into(),
                content: "You are terse.".into(),
            },
            Message {
                role: "user".into(),
                content: text.into(),
            },
        ],
        json_schema: None,
        max_tokens: None,
        seed: None,
    }
}

/// Fast backoff for tests.
pub fn fast_retry() -> herd_llm::RetryPolicy {
    herd_llm::RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    }
}

/// Everything tracing writes while installed.
#[derive(Clone, Default)]
pub struct LogCapture(pub Arc<Mutex<Vec<u8>>>);

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

/// A redis-server on a free loopback port, stopped on drop.
pub struct RedisServer {
    child: std::process::Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .map(str::to_string)
            .or_else(|| {
                std::process::Command::new("which")
                    .arg("redis-server")
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            })
            .expect("redis-server is not installed; run `scripts/setup.sh` (it installs redis-server from Debian)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("cannot start redis-server");
        // Owned at once, so the process is killed and reaped on every path (Drop).
        let server = RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {port}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
