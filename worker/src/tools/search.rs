//! `web_search(query)` over a pluggable search API: a SearxNG instance's JSON endpoint or
//! the Brave Search API. Left out of the prompt (one warning) when not configured.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::retry::{self, ToolRetry};
use super::{SearchKind, Tool, ToolArgs, ToolError, ToolSettings, text_wrapper, warn_once};

const NAME: &str = "web_search";

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub title: String,
    pub url: String,
    pub snippet: String,
}

/// A web-search API.
#[async_trait]
pub trait SearchProvider: Send + Sync {
    fn name(&self) -> &'static str;
    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, ToolError>;
}

/// GETs JSON under the shared retry policy (429, 5xx and connection errors retried).
async fn get_json(req: reqwest::RequestBuilder, url: &str) -> Result<Value, ToolError> {
    let (resp, _) = retry::send(NAME, url, &ToolRetry::default(), || {
        req.try_clone()
            .expect("a GET request has no streaming body, so it can be cloned")
    })
    .await;
    resp?.json::<Value>().await.map_err(|e| ToolError::Http {
        tool: NAME,
        url: url.to_string(),
        message: format!("reply is not JSON: {e}"),
    })
}

fn s(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A SearxNG instance (`GET {base}/search?q=…&format=json`).
pub struct SearxngSearch {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<String>,
}

impl SearxngSearch {
    pub fn new(client: reqwest::Client, base_url: String, api_key: Option<String>) -> Self {
        SearxngSearch {
            client,
            base_url,
            api_key,
        }
    }
}

#[async_trait]
impl SearchProvider for SearxngSearch {
    fn name(&self) -> &'static str {
        "searxng"
    }
    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, ToolError> {
        let base = self.base_url.trim_end_matches('/');
        let endpoint = if base.ends_with("/search") {
            base.to_string()
        } else {
            format!("{base}/search")
        };
        let url = reqwest::Url::parse_with_params(&endpoint, &[("q", query), ("format", "json")])
            .map_err(|e| ToolError::Failed {
            tool: NAME,
            message: format!("bad search URL `{endpoint}`: {e}"),
        })?;
        let mut req = self.client.get(url);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let v = get_json(req, &endpoint).await?;
        let hits = v
            .get("results")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .take(limit)
                    .map(|r| SearchHit {
                        title: s(r, "title"),
                        url: s(r, "url"),
                        snippet: s(r, "content"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(hits)
    }
}

/// The Brave Search API (`X-Subscription-Token` header).
pub struct BraveSearch {
    client: reqwest::Client,
    url: String,
    api_key: String,
}

impl BraveSearch {
    pub const DEFAULT_URL: &'static str = "https://api.search.brave.com/res/v1/web/search";

    pub fn new(client: reqwest::Client, url: Option<String>, api_key: String) -> Self {
        BraveSearch {
            client,
            url: url.unwrap_or_else(|| Self::DEFAULT_URL.to_string()),
            api_key,
        }
    }
}

#[async_trait]
impl SearchProvider for BraveSearch {
    fn name(&self) -> &'static str {
        "brave"
    }
    async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, ToolError> {
        let count = limit.clamp(1, 20).to_string();
        let url =
            reqwest::Url::parse_with_params(&self.url, &[("q", query), ("count", count.as_str())])
                .map_err(|e| ToolError::Failed {
                    tool: NAME,
                    message: format!("bad search URL `{}`: {e}", self.url),
                })?;
        let req = self
            .client
            .get(url)
            .header("X-Subscription-Token", &self.api_key)
            .header("Accept", "application/json");
        let v = get_json(req, &self.url).await?;
        let hits = v
            .pointer("/web/results")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .take(limit)
                    .map(|r| SearchHit {
                        title: s(r, "title"),
                        url: s(r, "url"),
                        snippet: s(r, "description"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(hits)
    }
}

/// The provider the settings describe, or `None` (warned once) when a key or URL is missing.
pub(crate) fn provider_from_settings(
    settings: &ToolSettings,
    client: &reqwest::Client,
) -> Option<Arc<dyn SearchProvider>> {
    match settings.search_kind {
        SearchKind::Searxng => match &settings.search_url {
            Some(url) => Some(Arc::new(SearxngSearch::new(
                client.clone(),
                url.clone(),
                settings.search_api_key.clone(),
            ))),
            None => {
                warn_once(
                    NAME,
                    "web_search is disabled: set HERD_SEARCH_URL to a SearxNG instance, or HERD_SEARCH_PROVIDER=brave with HERD_SEARCH_API_KEY",
                );
                None
            }
        },
        SearchKind::Brave => match &settings.search_api_key {
            Some(key) => Some(Arc::new(BraveSearch::new(
                client.clone(),
                settings.search_url.clone(),
                key.clone(),
            ))),
            None => {
                warn_once(
                    NAME,
                    "web_search is disabled: HERD_SEARCH_PROVIDER=brave needs HERD_SEARCH_API_KEY",
                );
                None
            }
        },
    }
}

/// The `web_search` tool.
pub struct WebSearch {
    provider: Arc<dyn SearchProvider>,
    limit: usize,
}

impl WebSearch {
    pub fn new(provider: Arc<dyn SearchProvider>, limit: usize) -> Self {
        WebSearch { provider, limit }
    }
}

#[async_trait]
impl Tool for WebSearch {
    fn name(&self) -> &'static str {
        NAME
    }
    fn prompt_line(&self) -> String {
        "- web_search(query: str) -> str: Search the web; returns titles, addresses and snippets of the top results.".into()
    }
    fn python_wrapper(&self) -> String {
        text_wrapper(
            NAME,
            &[("query", "str", None)],
            "Search the web; returns titles, addresses and snippets of the top results.",
        )
    }
    async fn call(&self, args: &ToolArgs<'_>) -> Result<Value, ToolError> {
        let query = args.text(NAME, 0, "query")?;
        if query.trim().is_empty() {
            return Err(ToolError::BadArg {
                tool: NAME,
                arg: "query",
                problem: "is empty".into(),
            });
        }
        let hits = self.provider.search(&query, self.limit).await?;
        if hits.is_empty() {
            return Ok(Value::String(format!(
                "No results for `{query}`. Try a shorter or different query."
            )));
        }
        let mut out = format!("Search results for `{query}`:\n");
        for (i, h) in hits.iter().enumerate() {
            out.push_str(&format!("{}. {}\n   {}\n", i + 1, h.title, h.url));
            if !h.snippet.is_empty() {
                out.push_str(&format!("   {}\n", h.snippet));
            }
        }
        Ok(Value::String(out))
    }
}
