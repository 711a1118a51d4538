//! The OpenAI-compatible chat-completions client (OpenAI, Azure OpenAI, vLLM, SGLang,
//! llama.cpp server, …) with retries, rate limiting, structured output and exact usage.
//!
//! One [`OpenAiClient`] serves one backbone; it is cheap to share behind an `Arc`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use herd_core::config::{BackboneConfig, StructuredOutput};
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cost::{Usage, price_usage};
use crate::ratelimit::{self, RateLimiter, estimate_tokens, is_limited};
use crate::retry::{RetryPolicy, retry_hint};
use crate::secret::{ApiKey, scrub};
use crate::stats::{BackboneStats, GaugeGuard, RetryCause};
use crate::{ChatModel, ChatRequest, ChatResponse, LlmError, RetryCounts};
use herd_core::retry::Retryable;

/// Longest server message kept in an error.
const MAX_ERROR_CHARS: usize = 2_000;

/// A chat-completions client for one backbone.
pub struct OpenAiClient {
    cfg: BackboneConfig,
    http: reqwest::Client,
    url: Url,
    key: Option<ApiKey>,
    azure: bool,
    timeout: Duration,
    stats: Arc<BackboneStats>,
    limiter: Option<Arc<dyn RateLimiter>>,
    limiter_key: String,
    policy: RetryPolicy,
    server_model: Mutex<Option<String>>,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("backbone", &self.cfg.name)
            .field("model", &self.cfg.model)
            .field("url", &self.url.as_str())
            .field("api_key", &self.key)
            .field("azure", &self.azure)
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The outcome of one HTTP attempt that did not succeed.
enum Failure {
    Retry {
        cause: RetryCause,
        status: Option<u16>,
        hint: Option<Duration>,
        message: String,
    },
    Fatal(LlmError),
}

/// A parsed successful reply.
struct Reply {
    content: String,
    usage: Usage,
    model: Option<String>,
}

impl OpenAiClient {
    /// Builds the client; reads the API key from `cfg.api_key_env` when set.
    pub fn new(
        cfg: &BackboneConfig,
        stats: Arc<BackboneStats>,
        limiter: Option<Arc<dyn RateLimiter>>,
        policy: RetryPolicy,
    ) -> Result<Self, LlmError> {
        let base = cfg.base_url.as_deref().ok_or_else(|| {
            LlmError::Config(format!(
                "backbone `{}` has no `base_url`; set it to the server's URL, e.g. `https://api.openai.com/v1`",
                cfg.name
            ))
        })?;
        let url = endpoint_url(base, &cfg.model, cfg.azure_api_version.as_deref())
            .map_err(|m| LlmError::Config(format!("backbone `{}`: {m}", cfg.name)))?;
        let key = cfg
            .api_key_env
            .as_deref()
            .map(ApiKey::from_env)
            .transpose()?;
        let timeout = Duration::from_secs(cfg.request_timeout_secs.max(1));
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                LlmError::Config(format!(
                    "backbone `{}`: cannot build an HTTP client: {e}",
                    cfg.name
                ))
            })?;
        let limiter_key = rate_limit_key(cfg);
        Ok(OpenAiClient {
            cfg: cfg.clone(),
            http,
            url,
            key,
            azure: cfg.azure_api_version.is_some(),
            timeout,
            stats,
            limiter,
            limiter_key,
            policy,
            server_model: Mutex::new(None),
        })
    }

    /// The chat-completions URL requests go to.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The JSON body sent for `req`.
    pub fn request_body(&self, req: &ChatRequest) -> Value {
        let mut body = serde_json::Map::new();
        if !self.azure {
            body.insert("model".into(), json!(self.cfg.model));
        }
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        body.insert("messages".into(), Value::Array(messages));
        body.insert("temperature".into(), json!(self.cfg.temperature));
        if let Some(p) = self.cfg.top_p {
            body.insert("top_p".into(), json!(p));
        }
        if let Some(m) = req.max_tokens.or(self.cfg.max_tokens) {
            body.insert("max_tokens".into(), json!(m));
        }
        if let Some(seed) = req.seed {
            body.insert("seed".into(), json!(seed));
        }
        if !self.cfg.stop.is_empty() {
            body.insert("stop".into(), json!(self.cfg.stop));
        }
        if let Some(schema) = &req.json_schema {
            match self.cfg.structured_output {
                StructuredOutput::JsonSchema => {
                    let name = schema
                        .get("title")
                        .and_then(Value::as_str)
                        .map(sanitize_schema_name)
                        .unwrap_or_else(|| "reply".to_string());
                    body.insert(
                        "response_format".into(),
                        json!({
                            "type": "json_schema",
                            "json_schema": {"name": name, "schema": schema, "strict": true}
                        }),
                    );
                }
                StructuredOutput::JsonObject => {
                    body.insert("response_format".into(), json!({"type": "json_object"}));
                }
                StructuredOutput::None => {}
            }
        }
        if let Some(extra) = &self.cfg.extra_body
            && let Ok(Value::Object(extra)) = serde_json::to_value(extra)
        {
            for (k, v) in extra {
                body.insert(k, v);
            }
        }
        Value::Object(body)
    }

    fn headers(&self) -> Result<HeaderMap, LlmError> {
        let mut h = HeaderMap::new();
        if let Some(key) = &self.key {
            let (name, value) = if self.azure {
                ("api-key", key.expose().to_string())
            } else {
                ("authorization", format!("Bearer {}", key.expose()))
            };
            let mut v = HeaderValue::from_str(&value).map_err(|_| {
                LlmError::Config(format!(
                    "the API key in `{}` has characters not allowed in an HTTP header",
                    key.env_name()
                ))
            })?;
            v.set_sensitive(true);
            h.insert(name, v);
        }
        Ok(h)
    }

    async fn send_once(&self, body: &Value) -> Result<Reply, Failure> {
        let headers = self.headers().map_err(Failure::Fatal)?;
        let sent = self
            .http
            .post(self.url.clone())
            .headers(headers)
            .timeout(self.timeout)
            .json(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(transport_failure(&e, self.key.as_ref())),
        };
        let status = resp.status();
        let hint = server_hint(resp.headers());
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Err(transport_failure(&e, self.key.as_ref())),
        };
        if status.is_success() {
            return parse_reply(&text).map_err(Failure::Fatal);
        }
        let message = scrub(&server_message(&text, status), self.key.as_ref());
        let retry = |cause| Failure::Retry {
            cause,
            status: Some(status.as_u16()),
            hint,
            message: format!("status {}: {message}", status.as_u16()),
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            Err(retry(RetryCause::RateLimited))
        } else if status.is_server_error() {
            Err(retry(RetryCause::ServerError))
        } else if status == StatusCode::REQUEST_TIMEOUT {
            Err(retry(RetryCause::Timeout))
        } else {
            Err(Failure::Fatal(LlmError::Client {
                status: status.as_u16(),
                message,
            }))
        }
    }
}

impl OpenAiClient {
    /// One attempt: waits for the rate limiter, sends, and on success records the usage and
    /// settles the limiter's estimate.
    async fn attempt(&self, body: &Value, estimate: u64) -> Result<Reply, Failure> {
        let limits = self.cfg.rate_limit;
        if let Some(limiter) = self.limiter.as_deref().filter(|_| is_limited(&limits))
            && let Err(e) = ratelimit::acquire(
                limiter,
                &self.limiter_key,
                &limits,
                estimate,
                &self.stats,
                &self.cfg.name,
            )
            .await
        {
            tracing::warn!(backbone = %self.cfg.name, error = %e, "rate limiter failed; sending without it");
        }
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let reply = {
            let _flight = GaugeGuard::new(&self.stats.in_flight_now);
            self.send_once(body).await?
        };
        let usage = reply.usage;
        self.stats.record_usage(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_prompt_tokens,
            price_usage(&usage, &self.cfg.price),
        );
        if let Some(limiter) = self.limiter.as_deref().filter(|_| is_limited(&limits)) {
            let actual = usage.prompt_tokens + usage.completion_tokens;
            let delta = actual as i64 - estimate as i64;
            if let Err(e) = limiter.settle(&self.limiter_key, &limits, delta).await {
                tracing::warn!(backbone = %self.cfg.name, error = %e, "rate limiter settle failed");
            }
        }
        Ok(reply)
    }
}

#[async_trait]
impl ChatModel for OpenAiClient {
    /// Sends under the shared retry policy: 429, 5xx, 408, connection errors and timeouts are
    /// retried up to `max_retries` times (the server's `Retry-After` in place of the backoff,
    /// capped), each retry counted in the reply, the stats and the log; another 4xx or a
    /// malformed reply fails at once.
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        let body = self.request_body(req);
        let prompt_chars: usize = req.messages.iter().map(|m| m.content.len()).sum();
        let estimate = estimate_tokens(prompt_chars, req.max_tokens.or(self.cfg.max_tokens));
        let retries = Mutex::new(RetryCounts::default());
        let attempts = AtomicU32::new(0);
        let stats = self.stats.clone();
        let outcome = (|| {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(&body, estimate)
        })
        .retry(self.policy.schedule(self.cfg.max_retries))
        .when(|f: &Failure| matches!(f, Failure::Retry { .. }))
        .adjust(|f, backoff| match f {
            Failure::Retry { hint, .. } => self.policy.adjust(*hint, backoff),
            Failure::Fatal(_) => None,
        })
        .notify(|f, wait| {
            let Failure::Retry {
                cause,
                status,
                hint,
                message,
            } = f
            else {
                return;
            };
            let cause = *cause;
            {
                let mut r = retries.lock();
                match cause {
                    RetryCause::RateLimited => r.rate_limited += 1,
                    RetryCause::ServerError => r.server_error += 1,
                    RetryCause::Connection => r.connection += 1,
                    RetryCause::Timeout => r.timeout += 1,
                }
            }
            let wait_ms = wait.as_millis() as u64;
            self.stats.record_retry(cause, *status, wait_ms);
            tracing::warn!(
                backbone = %self.cfg.name,
                cause = cause.as_str(),
                status = status.unwrap_or(0),
                wait_ms,
                retry_after_ms = hint.map(|h| h.as_millis() as u64),
                attempt = attempts.load(Ordering::Relaxed),
                max_retries = self.cfg.max_retries,
                error = %message,
                "retrying llm request"
            );
        })
        .sleep(move |wait: Duration| {
            // The wait shows in the live stats as a call in retry.
            let stats = stats.clone();
            async move {
                let _retrying = GaugeGuard::new(&stats.in_retry_now);
                tokio::time::sleep(wait).await;
            }
        })
        .await;
        let attempts = attempts.load(Ordering::Relaxed);
        match outcome {
            Ok(reply) => {
                let usage = reply.usage;
                let model = reply.model.unwrap_or_else(|| self.cfg.model.clone());
                *self.server_model.lock() = Some(model.clone());
                Ok(ChatResponse {
                    content: reply.content,
                    prompt_tokens: usage.prompt_tokens,
                    completion_tokens: usage.completion_tokens,
                    cost_usd: price_usage(&usage, &self.cfg.price),
                    cached: false,
                    latency_ms: started.elapsed().as_millis() as u64,
                    retries: retries.into_inner(),
                    model,
                })
            }
            Err(Failure::Fatal(e)) => {
                if matches!(e, LlmError::Client { .. }) {
                    self.stats.client_errors.fetch_add(1, Ordering::Relaxed);
                }
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(backbone = %self.cfg.name, error = %e, "llm request failed; not retrying");
                Err(e)
            }
            Err(Failure::Retry { cause, message, .. }) => {
                self.stats.count_cause(cause);
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    backbone = %self.cfg.name,
                    cause = cause.as_str(),
                    attempts,
                    error = %message,
                    "llm request gave up after its retries"
                );
                Err(LlmError::Unavailable {
                    attempts,
                    message: format!("backbone `{}`: last error: {message}", self.cfg.name),
                })
            }
        }
    }

    fn identity(&self) -> String {
        self.server_model
            .lock()
            .clone()
            .unwrap_or_else(|| self.cfg.model.clone())
    }
}

/// The chat-completions URL: `{base}/chat/completions`, or for Azure
/// `{base}/openai/deployments/{model}/chat/completions?api-version={v}`.
pub fn endpoint_url(
    base: &str,
    model: &str,
    azure_api_version: Option<&str>,
) -> Result<Url, String> {
    let trimmed = base.trim_end_matches('/');
    let mut url =
        Url::parse(trimmed).map_err(|e| format!("`base_url` `{base}` is not a URL: {e}"))?;
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|_| format!("`base_url` `{base}` cannot have a path"))?;
        segs.pop_if_empty();
        match azure_api_version {
            Some(_) => {
                if trimmed.ends_with("/openai") {
                    segs.pop();
                }
                segs.extend(["openai", "deployments", model, "chat", "completions"]);
            }
            None => {
                segs.extend(["chat", "completions"]);
            }
        }
    }
    if let Some(v) = azure_api_version {
        url.query_pairs_mut().append_pair("api-version", v);
    }
    Ok(url)
}

/// The key rate budgets are shared under: the endpoint and model, so every sweep and worker
/// calling the same deployment draws from one budget.
pub fn rate_limit_key(cfg: &BackboneConfig) -> String {
    use sha2::{Digest, Sha256};
    let material = format!(
        "{}\n{}\n{}",
        cfg.base_url.as_deref().unwrap_or("local"),
        cfg.model,
        cfg.azure_api_version.as_deref().unwrap_or("")
    );
    hex::encode(&Sha256::digest(material.as_bytes())[..12])
}

fn sanitize_schema_name(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if n.is_empty() { "reply".into() } else { n }
}

fn server_hint(h: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    retry_hint(get("retry-after-ms"), get("retry-after"))
}

fn transport_failure(e: &reqwest::Error, key: Option<&ApiKey>) -> Failure {
    let mut message = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    let message = scrub(&message, key);
    if e.is_timeout() {
        Failure::Retry {
            cause: RetryCause::Timeout,
            status: None,
            hint: None,
            message,
        }
    } else if e.is_decode() || e.is_builder() {
        Failure::Fatal(LlmError::Malformed(message))
    } else {
        Failure::Retry {
            cause: RetryCause::Connection,
            status: None,
            hint: None,
            message,
        }
    }
}

/// The server's own error text: `error.message` of an OpenAI error body, else the raw body.
fn server_message(text: &str, status: StatusCode) -> String {
    let from_json = serde_json::from_str::<Value>(text).ok().and_then(|v| {
        let e = v.get("error")?;
        e.get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| e.as_str().map(str::to_string))
    });
    let msg = from_json.unwrap_or_else(|| text.trim().to_string());
    let msg = if msg.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        msg
    };
    truncate_chars(&msg, MAX_ERROR_CHARS)
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[derive(Deserialize)]
struct CompletionBody {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<UsageBody>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct UsageBody {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u64>,
}

fn parse_reply(text: &str) -> Result<Reply, LlmError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        LlmError::Malformed(format!(
            "reply is not JSON ({e}): {}",
            truncate_chars(text, 200)
        ))
    })?;
    if let Some(err) = value.get("error").filter(|e| !e.is_null()) {
        return Err(LlmError::Malformed(format!(
            "server answered 200 with an error: {}",
            truncate_chars(&err.to_string(), MAX_ERROR_CHARS)
        )));
    }
    let body: CompletionBody = serde_json::from_value(value).map_err(|e| {
        LlmError::Malformed(format!(
            "reply does not have the chat-completions shape: {e}"
        ))
    })?;
    let choice = body
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::Malformed("reply has no choices".into()))?;
    let content = match (choice.message.content, choice.message.refusal) {
        (Some(c), _) => c,
        (None, Some(r)) => return Err(LlmError::Malformed(format!("the model refused: {r}"))),
        (None, None) => String::new(),
    };
    let usage = match body.usage {
        Some(u) => Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cached_prompt_tokens: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        },
        None => {
            tracing::warn!("chat reply has no `usage`; its tokens and cost are counted as 0");
            Usage::default()
        }
    };
    Ok(Reply {
        content,
        usage,
        model: body.model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_and_azure_urls() {
        assert_eq!(
            endpoint_url("https://api.openai.com/v1/", "gpt-4o", None)
                .unwrap()
                .as_str(),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            endpoint_url("https://r.openai.azure.com", "dep 1", Some("2024-06-01"))
                .unwrap()
                .as_str(),
            "https://r.openai.azure.com/openai/deployments/dep%201/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(
            endpoint_url("https://r.openai.azure.com/openai/", "d", Some("v"))
                .unwrap()
                .as_str(),
            "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=v"
        );
    }

    #[test]
    fn parses_usage_with_cached_tokens() {
        let r = parse_reply(
            r#"{"model":"m-1","choices":[{"message":{"role":"assistant","content":"hi"}}],
               "usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,
                        "prompt_tokens_details":{"cached_tokens":4}}}"#,
        )
        .unwrap();
        assert_eq!(r.content, "hi");
        assert_eq!(r.model.as_deref(), Some("m-1"));
        assert_eq!(
            r.usage,
            Usage {
                prompt_tokens: 11,
                completion_tokens: 7,
                cached_prompt_tokens: 4
            }
        );
    }

    #[test]
    fn malformed_replies_are_named() {
        assert!(matches!(parse_reply("<html>"), Err(LlmError::Malformed(_))));
        assert!(
            matches!(parse_reply(r#"{"choices":[]}"#), Err(LlmError::Malformed(m)) if m.contains("no choices"))
        );
        assert!(matches!(
            parse_reply(r#"{"error":{"message":"boom"}}"#),
            Err(LlmError::Malformed(m)) if m.contains("boom")
        ));
    }

    #[test]
    fn server_message_prefers_the_error_message() {
        assert_eq!(
            server_message(
                r#"{"error":{"message":"bad param `x`","type":"invalid"}}"#,
                StatusCode::BAD_REQUEST
            ),
            "bad param `x`"
        );
        assert_eq!(server_message("plain", StatusCode::BAD_REQUEST), "plain");
        assert_eq!(server_message("", StatusCode::NOT_FOUND), "Not Found");
    }
}
