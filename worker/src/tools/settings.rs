//! Tool configuration, read once from `HERD_*` environment variables (keys stay on the worker).

use std::time::Duration;

use super::retry::ToolRetry;

/// Which web-search API `web_search` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    /// A SearxNG instance's JSON API (`HERD_SEARCH_URL`; key optional, sent as a bearer token).
    Searxng,
    /// Brave Search API (`HERD_SEARCH_API_KEY` required; URL defaults to Brave's).
    Brave,
}

/// Everything the user tools are configured with.
#[derive(Debug, Clone)]
pub struct ToolSettings {
    pub search_kind: SearchKind,
    pub search_url: Option<String>,
    pub search_api_key: Option<String>,
    pub search_results: usize,
    /// Base of the Wayback Machine availability API (`HERD_WAYBACK_URL`).
    pub wayback_url: String,
    pub vision_base_url: Option<String>,
    pub vision_model: Option<String>,
    pub vision_api_key: Option<String>,
    /// Price of the vision model, dollars per million prompt / completion tokens.
    pub vision_prompt_per_mtok: f64,
    pub vision_completion_per_mtok: f64,
    /// An OpenAI-compatible transcription server (`POST {base}/v1/audio/transcriptions`);
    /// without it and a model, `inspect_file_as_text` says audio cannot be transcribed.
    pub audio_base_url: Option<String>,
    pub audio_model: Option<String>,
    pub audio_api_key: Option<String>,
    /// Price of transcription, dollars per minute of audio.
    pub audio_price_per_minute: f64,
    /// How the tools' requests (search, pages, vision, audio) are retried.
    pub retry: ToolRetry,
    pub http_timeout: Duration,
    pub user_agent: String,
    pub max_page_bytes: usize,
    pub max_download_bytes: usize,
}

impl Default for ToolSettings {
    fn default() -> Self {
        ToolSettings {
            search_kind: SearchKind::Searxng,
            search_url: None,
            search_api_key: None,
            search_results: 8,
            wayback_url: "https://archive.org".into(),
            vision_base_url: None,
            vision_model: None,
            vision_api_key: None,
            vision_prompt_per_mtok: 0.0,
            vision_completion_per_mtok: 0.0,
            audio_base_url: None,
            audio_model: None,
            audio_api_key: None,
            audio_price_per_minute: 0.0,
            retry: ToolRetry::default(),
            http_timeout: Duration::from_secs(30),
            user_agent: format!(
                "herd/{} (research agent evaluation)",
                env!("CARGO_PKG_VERSION")
            ),
            max_page_bytes: 8 * 1024 * 1024,
            max_download_bytes: 25 * 1024 * 1024,
        }
    }
}

/// A price in dollars per `unit`; unset is 0, a bad value is 0 with one warning.
fn price(name: &str, unit: &str) -> f64 {
    let Some(v) = env(name) else { return 0.0 };
    match v.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => p,
        _ => {
            super::warn_once(
                name,
                &format!("{name}=`{v}` is not a price (dollars per {unit}, 0 or more); using 0"),
            );
            0.0
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl ToolSettings {
    /// Reads `HERD_SEARCH_PROVIDER` (`searxng` or `brave`), `HERD_SEARCH_URL`,
    /// `HERD_SEARCH_API_KEY`, `HERD_WAYBACK_URL`, `HERD_VISION_BASE_URL`, `HERD_VISION_MODEL`,
    /// `HERD_VISION_API_KEY`, `HERD_VISION_PROMPT_PER_MTOK`, `HERD_VISION_COMPLETION_PER_MTOK`,
    /// `HERD_AUDIO_BASE_URL`, `HERD_AUDIO_MODEL`, `HERD_AUDIO_API_KEY`,
    /// `HERD_AUDIO_PRICE_PER_MINUTE`.
    pub fn from_env() -> Self {
        let d = ToolSettings::default();
        let search_kind = match env("HERD_SEARCH_PROVIDER")
            .map(|s| s.to_ascii_lowercase())
            .as_deref()
        {
            Some("brave") => SearchKind::Brave,
            Some("searxng") => SearchKind::Searxng,
            Some(other) => {
                super::warn_once(
                    "search-provider",
                    &format!(
                        "unknown HERD_SEARCH_PROVIDER `{other}`; expected `searxng` or `brave`; using `searxng`"
                    ),
                );
                SearchKind::Searxng
            }
            // A key without a URL can only be meant for Brave.
            None if env("HERD_SEARCH_URL").is_none() && env("HERD_SEARCH_API_KEY").is_some() => {
                SearchKind::Brave
            }
            None => SearchKind::Searxng,
        };
        ToolSettings {
            search_kind,
            search_url: env("HERD_SEARCH_URL"),
            search_api_key: env("HERD_SEARCH_API_KEY"),
            wayback_url: env("HERD_WAYBACK_URL").unwrap_or(d.wayback_url.clone()),
            vision_base_url: env("HERD_VISION_BASE_URL"),
            vision_model: env("HERD_VISION_MODEL"),
            vision_api_key: env("HERD_VISION_API_KEY"),
            vision_prompt_per_mtok: price("HERD_VISION_PROMPT_PER_MTOK", "million tokens"),
            vision_completion_per_mtok: price("HERD_VISION_COMPLETION_PER_MTOK", "million tokens"),
            audio_base_url: env("HERD_AUDIO_BASE_URL"),
            audio_model: env("HERD_AUDIO_MODEL"),
            audio_api_key: env("HERD_AUDIO_API_KEY"),
            audio_price_per_minute: price("HERD_AUDIO_PRICE_PER_MINUTE", "minute of audio"),
            ..d
        }
    }
}
