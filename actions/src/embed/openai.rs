//! An embedder backed by any OpenAI-compatible `POST {base_url}/embeddings` endpoint
//! (OpenAI, vLLM, llama.cpp server, TEI, …). The API key is read from a named env var;
//! 429, 5xx and connection errors are retried under the shared policy, each retry logged.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use herd_core::retry::{Retryable, honour_retry_after, retry_hint, schedule};
use serde::{Deserialize, Serialize};

use super::{Embedder, l2_normalise};
use crate::error::{ActionError, Result};

/// How to reach an embeddings endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpenAiEmbedderConfig {
    /// e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    /// Name of the environment variable holding the API key (none: no auth header).
    pub api_key_env: Option<String>,
    /// Vector dimension; probed with one request when not given.
    pub dim: Option<usize>,
    /// Texts per request.
    pub batch_size: usize,
    pub timeout_secs: u64,
    /// Retries of a request that met a 429, a 5xx or a connection error.
    #[serde(default = "default_max_retries")]
    pub max_retries: usize,
}

fn default_max_retries() -> usize {
    6
}

impl OpenAiEmbedderConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiEmbedderConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            dim: None,
            batch_size: 64,
            timeout_secs: 60,
            max_retries: default_max_retries(),
        }
    }
}

/// Embeddings from a remote OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    config: OpenAiEmbedderConfig,
    key: Option<String>,
    dim: usize,
    http: reqwest::Client,
    /// Retries made so far (all requests), for tests and diagnostics.
    retries: std::sync::Arc<AtomicU32>,
}

/// One failed request: the error, whether it is worth retrying, and the server's hint.
struct Failed {
    error: ActionError,
    transient: bool,
    hint: Option<Duration>,
}

/// Longest `Retry-After` honoured: an embedding waits in an agent's cell or a store write.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

impl OpenAiEmbedder {
    /// Reads the key, builds the client and, when `config.dim` is unset, learns the dimension
    /// from one probe request.
    pub async fn connect(config: OpenAiEmbedderConfig) -> Result<Self> {
        let key = match &config.api_key_env {
            Some(name) => Some(
                std::env::var(name).map_err(|_| ActionError::MissingKey { name: name.clone() })?,
            ),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .build()
            .map_err(|e| ActionError::Embed {
                embedder: format!("openai:{}", config.model),
                message: format!("building the HTTP client: {e}"),
            })?;
        let mut this = OpenAiEmbedder {
            dim: config.dim.unwrap_or(0),
            config,
            key,
            http,
            retries: Default::default(),
        };
        if this.dim == 0 {
            let probe = this.request(&["dimension probe".to_string()]).await?;
            this.dim = probe.first().map(Vec::len).unwrap_or(0);
            if this.dim == 0 {
                return Err(this.err("the probe request returned no embedding".into()));
            }
        }
        Ok(this)
    }

    fn err(&self, message: String) -> ActionError {
        ActionError::Embed {
            embedder: self.id(),
            message,
        }
    }

    /// Retries made by this embedder so far.
    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Sends one batch under the shared retry policy (250 ms doubling to 8 s with jitter, or
    /// the server's `Retry-After` up to 60 s; `max_retries` retries).
    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let url = format!("{}/embeddings", self.config.base_url.trim_end_matches('/'));
        let once = || async {
            let mut req = self.http.post(&url).json(&EmbeddingsRequest {
                model: &self.config.model,
                input: texts,
            });
            if let Some(key) = &self.key {
                req = req.bearer_auth(key);
            }
            let resp = req.send().await.map_err(|e| Failed {
                transient: !e.is_timeout() && !e.is_builder(),
                error: self.err(format!("POST {url}: {e}")),
                hint: None,
            })?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let h = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
            let hint = retry_hint(h("retry-after-ms"), h("retry-after"));
            let body = resp.text().await.unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            Err(Failed {
                transient: status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status.is_server_error(),
                error: self.err(format!("POST {url}: HTTP {status}: {body}")),
                hint,
            })
        };
        let resp = once
            .retry(schedule(
                Duration::from_millis(250),
                Duration::from_secs(8),
                self.config.max_retries,
            ))
            .when(|f: &Failed| f.transient)
            .adjust(|f, backoff| honour_retry_after(f.hint, backoff, MAX_RETRY_AFTER))
            .notify(|f, wait| {
                let n = self.retries.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    embedder = %self.id(),
                    url = %url,
                    wait_ms = wait.as_millis() as u64,
                    retry_after_ms = f.hint.map(|h| h.as_millis() as u64),
                    retries = n,
                    max_retries = self.config.max_retries,
                    error = %f.error,
                    "retrying embeddings request"
                );
            })
            .await
            .map_err(|f| f.error)?;
        let parsed: EmbeddingsResponse = resp
            .json()
            .await
            .map_err(|e| self.err(format!("POST {url}: unreadable response: {e}")))?;
        if parsed.data.len() != texts.len() {
            return Err(self.err(format!(
                "POST {url}: sent {} texts, got {} embeddings",
                texts.len(),
                parsed.data.len()
            )));
        }
        let mut items = parsed.data;
        if items.iter().all(|i| i.index.is_some()) {
            items.sort_by_key(|i| i.index);
        }
        Ok(items
            .into_iter()
            .map(|i| {
                let mut v = i.embedding;
                l2_normalise(&mut v);
                v
            })
            .collect())
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn id(&self) -> String {
        format!("openai:{}", self.config.model)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.config.batch_size.max(1)) {
            let vs = self.request(chunk).await?;
            if let Some(bad) = vs.iter().find(|v| v.len() != self.dim) {
                return Err(self.err(format!(
                    "got a vector of dim {}, expected {}",
                    bad.len(),
                    self.dim
                )));
            }
            out.extend(vs);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Json, Router, http::HeaderMap, http::StatusCode, routing::post};
    use serde_json::{Value, json};

    /// A fake embeddings server: vector = [len(text), count of 'a', 1], returned in reverse
    /// order with indices; requires `Bearer sekrit` when `auth` is set.
    /// Serves `app` on a loopback port; returns its `/v1` base URL.
    async fn listen(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}/v1")
    }

    async fn serve(auth: bool) -> String {
        let app = Router::new().route(
            "/v1/embeddings",
            post(
                move |headers: HeaderMap, Json(body): Json<Value>| async move {
                    if auth
                        && headers.get("authorization").and_then(|v| v.to_str().ok())
                            != Some("Bearer sekrit")
                    {
                        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad key"})));
                    }
                    let inputs = body["input"].as_array().cloned().unwrap_or_default();
                    let mut data: Vec<Value> = inputs
                        .iter()
                        .enumerate()
                        .map(|(i, t)| {
                            let t = t.as_str().unwrap_or("");
                            let a = t.matches('a').count() as f32;
                            json!({"index": i, "embedding": [t.len() as f32, a, 1.0]})
                        })
                        .collect();
                    data.reverse();
                    (
                        StatusCode::OK,
                        Json(json!({"data": data, "model": body["model"]})),
                    )
                },
            ),
        );
        listen(app).await
    }

    #[tokio::test]
    async fn probes_dim_orders_by_index_and_batches() {
        let base = serve(false).await;
        let mut cfg = OpenAiEmbedderConfig::new(base, "fake-embed");
        cfg.batch_size = 2;
        let e = OpenAiEmbedder::connect(cfg).await.expect("connect");
        assert_eq!(e.dim(), 3);
        assert_eq!(e.id(), "openai:fake-embed");
        let texts: Vec<String> = ["a", "bbbb", "aa", "c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let v = e.embed(&texts).await.expect("embed");
        assert_eq!(v.len(), 4);
        // "a": [1,1,1] normalised; "bbbb": [4,0,1] normalised.
        let k = 1.0 / 3f32.sqrt();
        assert!((v[0][0] - k).abs() < 1e-5 && (v[0][1] - k).abs() < 1e-5);
        assert!(v[1][1].abs() < 1e-6 && v[1][0] > 0.9);
    }

    /// Answers 429 with `Retry-After: 1`, then 503, then embeddings.
    async fn serve_flaky(seen: std::sync::Arc<AtomicU32>) -> String {
        let app = Router::new().route(
            "/v1/embeddings",
            post(move |Json(body): Json<Value>| {
                let seen = seen.clone();
                async move {
                    match seen.fetch_add(1, Ordering::SeqCst) {
                        0 => (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "1")],
                            Json(json!({"error": "slow down"})),
                        ),
                        1 => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            [("retry-after", "0")],
                            Json(json!({"error": "busy"})),
                        ),
                        _ => {
                            let n = body["input"].as_array().map_or(0, Vec::len);
                            let data: Vec<Value> = (0..n)
                                .map(|i| json!({"index": i, "embedding": [1.0, 0.0]}))
                                .collect();
                            (StatusCode::OK, [("x-ok", "1")], Json(json!({"data": data})))
                        }
                    }
                }
            }),
        );
        listen(app).await
    }

    #[tokio::test]
    async fn a_429_and_a_503_are_retried_honouring_retry_after() {
        let seen = std::sync::Arc::new(AtomicU32::new(0));
        let base = serve_flaky(seen.clone()).await;
        let mut cfg = OpenAiEmbedderConfig::new(base, "fake-embed");
        cfg.dim = Some(2);
        let e = OpenAiEmbedder::connect(cfg).await.expect("connect");
        let t0 = std::time::Instant::now();
        let v = e
            .embed(&["x".to_string()])
            .await
            .expect("embed after retries");
        assert_eq!(v.len(), 1);
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        assert_eq!(e.retries(), 2);
        assert!(
            t0.elapsed() >= Duration::from_secs(1),
            "Retry-After: 1 was not honoured"
        );
    }

    #[tokio::test]
    async fn sends_the_key_from_the_named_env_var() {
        let base = serve(true).await;
        let mut cfg = OpenAiEmbedderConfig::new(base.clone(), "fake-embed");
        cfg.api_key_env = Some("HERD_ACTIONS_TEST_EMBED_KEY_UNSET".into());
        let err = OpenAiEmbedder::connect(cfg)
            .await
            .expect_err("env var unset");
        assert!(
            err.to_string()
                .contains("HERD_ACTIONS_TEST_EMBED_KEY_UNSET"),
            "{err}"
        );

        // SAFETY: set once in this test, read only by this test.
        unsafe { std::env::set_var("HERD_ACTIONS_TEST_EMBED_KEY", "sekrit") };
        let mut cfg = OpenAiEmbedderConfig::new(base.clone(), "fake-embed");
        cfg.api_key_env = Some("HERD_ACTIONS_TEST_EMBED_KEY".into());
        let e = OpenAiEmbedder::connect(cfg).await.expect("right key");
        assert_eq!(e.dim(), 3);

        let mut cfg = OpenAiEmbedderConfig::new(base, "fake-embed");
        cfg.dim = Some(3);
        let e = OpenAiEmbedder::connect(cfg)
            .await
            .expect("no probe when dim given");
        let err = e.embed(&["x".to_string()]).await.expect_err("no key: 401");
        assert!(err.to_string().contains("401"), "{err}");
    }
}
