//! `visual_qa(image_path, question)`: the kernel-side wrapper reads the image from the
//! workspace and sends it base64-encoded; the worker asks an OpenAI-compatible vision model
//! (`HERD_VISION_BASE_URL`, `HERD_VISION_MODEL`, `HERD_VISION_API_KEY`). Every request is
//! logged with its usage, cost and retries in the task's [`CallLog`], so it counts like any
//! LLM call; 429, 5xx and connection errors are retried under the shared policy.

use std::time::Instant;

use async_trait::async_trait;
use herd_core::trajectory::{CallPurpose, LlmCall, Message};
use serde_json::{Value, json};

use super::retry::{self, ToolRetries, ToolRetry};
use super::{CallLog, Tool, ToolArgs, ToolError, ToolSettings, truncate_json, warn_once};

const NAME: &str = "visual_qa";
const DOC: &str =
    "Answer a question about an image file (path in the workspace) using a vision model.";

/// The `visual_qa` tool (one per task: its calls go to that task's log).
#[derive(Clone)]
pub struct VisualQa {
    client: reqwest::Client,
    base_url: String,
    model: String,
    api_key: Option<String>,
    /// Dollars per million prompt and completion tokens.
    price: (f64, f64),
    retry: ToolRetry,
    log: CallLog,
}

impl std::fmt::Debug for VisualQa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisualQa")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl VisualQa {
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        model: String,
        api_key: Option<String>,
    ) -> Self {
        VisualQa {
            client,
            base_url,
            model,
            api_key,
            price: (0.0, 0.0),
            retry: ToolRetry::default(),
            log: CallLog::default(),
        }
    }

    /// Sets the price, in dollars per million prompt and completion tokens.
    pub fn with_price(mut self, prompt_per_mtok: f64, completion_per_mtok: f64) -> Self {
        self.price = (prompt_per_mtok.max(0.0), completion_per_mtok.max(0.0));
        self
    }

    /// Sets how failed requests are retried.
    pub fn with_retry(mut self, retry: ToolRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The same tool, logging its calls to `log` (one task's).
    pub fn with_log(&self, log: CallLog) -> Self {
        VisualQa {
            log,
            ..self.clone()
        }
    }

    /// Asks the vision model under the shared retry policy; returns its answer and usage
    /// `(prompt, completion)`, and the retries made.
    async fn ask(
        &self,
        endpoint: &str,
        body: &Value,
    ) -> (Result<(String, u64, u64), ToolError>, ToolRetries) {
        let (resp, retries) = retry::send(NAME, endpoint, &self.retry, || {
            let req = self.client.post(endpoint).json(body);
            match &self.api_key {
                Some(k) => req.bearer_auth(k),
                None => req,
            }
        })
        .await;
        let parsed = match resp {
            Ok(resp) => parse_answer(endpoint, resp).await,
            Err(e) => Err(e),
        };
        (parsed, retries)
    }
}

async fn parse_answer(
    endpoint: &str,
    resp: reqwest::Response,
) -> Result<(String, u64, u64), ToolError> {
    let v: Value = resp.json().await.map_err(|e| ToolError::Http {
        tool: NAME,
        url: endpoint.to_string(),
        message: format!("reply is not JSON: {e}"),
    })?;
    let usage = |k: &str| {
        v.pointer(&format!("/usage/{k}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let (prompt, completion) = (usage("prompt_tokens"), usage("completion_tokens"));
    let answer = v
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::Failed {
            tool: NAME,
            message: "the vision model's reply has no message content".into(),
        })?;
    Ok((answer.to_string(), prompt, completion))
}

/// The vision tool, or `None` (warned once) when its URL or model is not configured.
pub(crate) fn from_settings(settings: &ToolSettings, client: &reqwest::Client) -> Option<VisualQa> {
    match (&settings.vision_base_url, &settings.vision_model) {
        (Some(url), Some(model)) => Some(
            VisualQa::new(
                client.clone(),
                url.clone(),
                model.clone(),
                settings.vision_api_key.clone(),
            )
            .with_price(
                settings.vision_prompt_per_mtok,
                settings.vision_completion_per_mtok,
            )
            .with_retry(settings.retry),
        ),
        _ => {
            warn_once(
                NAME,
                "visual_qa is disabled: set HERD_VISION_BASE_URL and HERD_VISION_MODEL (and HERD_VISION_API_KEY if the server needs one)",
            );
            None
        }
    }
}

#[async_trait]
impl Tool for VisualQa {
    fn name(&self) -> &'static str {
        NAME
    }
    fn prompt_line(&self) -> String {
        format!("- visual_qa(image_path: str, question: str) -> str: {DOC}")
    }
    fn python_wrapper(&self) -> String {
        format!(
            r#"def visual_qa(image_path: str, question: str) -> str:
    """{DOC}"""
    import mimetypes as _herd_mt
    mime = _herd_mt.guess_type(image_path)[0] or "image/png"
    with open(image_path, "rb") as fh:
        data = _herd_b64.b64encode(fh.read()).decode("ascii")
    return _HerdText(_herd_call("visual_qa", image_base64=data, mime=mime, question=question))
"#
        )
    }
    async fn call(&self, args: &ToolArgs<'_>) -> Result<Value, ToolError> {
        let data = args.text(NAME, 0, "image_base64")?;
        let mime = args
            .text(NAME, 1, "mime")
            .unwrap_or_else(|_| "image/png".into());
        let question = args.text(NAME, 2, "question")?;
        let endpoint = format!("{}/chat/completions", self.base_url.trim_end_matches('/'));
        let body = json!({
            "model": self.model,
            "max_tokens": 1000,
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "text", "text": question},
                    {"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{data}")}}
                ]
            }]
        });
        let t0 = Instant::now();
        let (result, retries) = self.ask(&endpoint, &body).await;
        self.log.count_retries(retries);
        let (prompt_tokens, completion_tokens) = match &result {
            Ok((_, p, c)) => (*p, *c),
            Err(_) => (0, 0),
        };
        // The record keeps the question and the image's size, never the image itself.
        self.log.push(LlmCall {
            purpose: CallPurpose::Vision,
            step: 0,
            messages: vec![Message {
                role: "user".into(),
                content: format!("{question}\n[image: {mime}, {} bytes]", data.len() / 4 * 3),
            }],
            reply: result.as_ref().ok().map(|(a, _, _)| a.clone()),
            error: result.as_ref().err().map(ToString::to_string),
            prompt_tokens,
            completion_tokens,
            cost_usd: (prompt_tokens as f64 * self.price.0
                + completion_tokens as f64 * self.price.1)
                / 1e6,
            cached: false,
            latency_ms: t0.elapsed().as_millis() as u64,
            retries: retries.total(),
        });
        result.map(|(answer, _, _)| Value::String(answer))
    }
    fn summarise(&self, result: &Value) -> Value {
        truncate_json(result, 2000)
    }
}
