//! An embedder backed by any OpenAI-compatible `POST {base_url}/embeddings` endpoint
//! (OpenAI, vLLM, llama.cpp server, TEI, …). The API key is read from a named env var.

use std::time::Duration;

use async_trait::async_trait;
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
}

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

    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let url = format!("{}/embeddings", self.config.base_url.trim_end_matches('/'));
        let mut req = self.http.post(&url).json(&EmbeddingsRequest {
            model: &self.config.model,
            input: texts,
        });
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.err(format!("POST {url}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            return Err(self.err(format!("POST {url}: HTTP {status}: {body}")));
        }
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}/v1")
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
