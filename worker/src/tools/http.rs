//! The tools' HTTP client and a size-capped body reader.

use super::retry::{self, ToolRetry};
use super::{ToolError, ToolSettings};

pub(crate) fn client(settings: &ToolSettings) -> Result<reqwest::Client, ToolError> {
    reqwest::Client::builder()
        .timeout(settings.http_timeout)
        .user_agent(settings.user_agent.clone())
        .redirect(reqwest::redirect::Policy::limited(8))
        .build()
        .map_err(|e| ToolError::Failed {
            tool: "tools",
            message: format!("cannot build the http client: {e}"),
        })
}

/// A fetched response body with its type.
pub(crate) struct Fetched {
    pub content_type: String,
    pub disposition: Option<String>,
    pub bytes: Vec<u8>,
}

/// GETs `url` under the shared retry policy (429, 5xx and connection errors retried),
/// failing on another non-2xx status or a body over `max_bytes`.
pub(crate) async fn get_capped(
    client: &reqwest::Client,
    tool: &'static str,
    url: &str,
    max_bytes: usize,
) -> Result<Fetched, ToolError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| ToolError::BadArg {
        tool,
        arg: "url",
        problem: format!("`{url}` is not a valid URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ToolError::BadArg {
            tool,
            arg: "url",
            problem: format!("`{url}` is not an http(s) URL"),
        });
    }
    let (resp, _) = retry::send(tool, url, &ToolRetry::default(), || {
        client.get(parsed.clone())
    })
    .await;
    let mut resp = resp?;
    let header = |name: reqwest::header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(reqwest::header::CONTENT_TYPE)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let disposition = header(reqwest::header::CONTENT_DISPOSITION);
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| ToolError::Http {
        tool,
        url: url.to_string(),
        message: e.to_string(),
    })? {
        if bytes.len() + chunk.len() > max_bytes {
            return Err(ToolError::Failed {
                tool,
                message: format!("{url} is larger than the limit of {max_bytes} bytes"),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        content_type,
        disposition,
        bytes,
    })
}
