//! `visual_qa(image_path, question)`: the kernel-side wrapper reads the image from the
//! workspace and sends it base64-encoded; the worker asks an OpenAI-compatible vision model
//! (`HERD_VISION_BASE_URL`, `HERD_VISION_MODEL`, `HERD_VISION_API_KEY`).

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Tool, ToolArgs, ToolError, ToolSettings, truncate_json, warn_once};

const NAME: &str = "visual_qa";
const DOC: &str =
    "Answer a question about an image file (path in the workspace) using a vision model.";

/// The `visual_qa` tool.
pub struct VisualQa {
    client: reqwest::Client,
    base_url: String,
    model: String,
    api_key: Option<String>,
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
        }
    }
}

/// The vision tool, or `None` (warned once) when its URL or model is not configured.
pub(crate) fn from_settings(settings: &ToolSettings, client: &reqwest::Client) -> Option<VisualQa> {
    match (&settings.vision_base_url, &settings.vision_model) {
        (Some(url), Some(model)) => Some(VisualQa::new(
            client.clone(),
            url.clone(),
            model.clone(),
            settings.vision_api_key.clone(),
        )),
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
        let mut req = self.client.post(&endpoint).json(&body);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| ToolError::Http {
            tool: NAME,
            url: endpoint.clone(),
            message: e.to_string(),
        })?;
        if !resp.status().is_success() {
            return Err(ToolError::Status {
                tool: NAME,
                url: endpoint,
                status: resp.status().as_u16(),
            });
        }
        let v: Value = resp.json().await.map_err(|e| ToolError::Http {
            tool: NAME,
            url: endpoint.clone(),
            message: format!("reply is not JSON: {e}"),
        })?;
        let answer = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| ToolError::Failed {
                tool: NAME,
                message: "the vision model's reply has no message content".into(),
            })?;
        Ok(Value::String(answer.to_string()))
    }
    fn summarise(&self, result: &Value) -> Value {
        truncate_json(result, 2000)
    }
}
