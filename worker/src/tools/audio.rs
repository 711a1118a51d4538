//! Audio transcription for `inspect_file_as_text`: the kernel-side helper sends the file
//! base64-encoded; the worker posts it to an OpenAI-compatible `/v1/audio/transcriptions`
//! (`HERD_AUDIO_*`), retried under the shared policy and logged as an LLM call of the task.
//!
//! Cost: `HERD_AUDIO_PRICE_PER_MINUTE` times the duration the server reports (`usage.seconds`
//! or `duration`); token usage, when reported, is recorded (and counts towards the token
//! budgets) but not priced. A reply with no duration costs 0, with one warning per process.

use std::time::Instant;

use async_trait::async_trait;
use base64::Engine;
use herd_core::trajectory::{CallPurpose, LlmCall, Message};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::retry::{self, ToolRetries, ToolRetry};
use super::{CallLog, Tool, ToolArgs, ToolError, ToolSettings, truncate_json, warn_once};

/// The host tool the kernel-side helper calls (not listed in the prompt).
pub(crate) const NAME: &str = "transcribe_audio";
/// The largest file sent (OpenAI's limit for transcriptions).
pub const MAX_AUDIO_BYTES: usize = 25 * 1024 * 1024;

/// The transcriber (one per task: its calls go to that task's log).
#[derive(Clone)]
pub struct AudioTranscriber {
    client: reqwest::Client,
    endpoint: String,
    model: String,
    api_key: Option<String>,
    price_per_minute: f64,
    retry: ToolRetry,
    log: CallLog,
}

impl std::fmt::Debug for AudioTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioTranscriber")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// `{base}/audio/transcriptions` when `base` already ends in `/v1`, else
/// `{base}/v1/audio/transcriptions`.
pub fn transcriptions_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/audio/transcriptions")
    } else {
        format!("{base}/v1/audio/transcriptions")
    }
}

/// What a transcription reply says.
#[derive(Debug, Clone, PartialEq)]
struct Transcript {
    text: String,
    seconds: Option<f64>,
    input_tokens: u64,
    output_tokens: u64,
}

impl AudioTranscriber {
    pub fn new(
        client: reqwest::Client,
        base_url: &str,
        model: String,
        api_key: Option<String>,
    ) -> Self {
        AudioTranscriber {
            client,
            endpoint: transcriptions_url(base_url),
            model,
            api_key,
            price_per_minute: 0.0,
            retry: ToolRetry::default(),
            log: CallLog::default(),
        }
    }

    /// Sets the price, in dollars per minute of audio.
    pub fn with_price_per_minute(mut self, price: f64) -> Self {
        self.price_per_minute = if price.is_finite() {
            price.max(0.0)
        } else {
            0.0
        };
        self
    }

    /// Sets how failed requests are retried.
    pub fn with_retry(mut self, retry: ToolRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The same tool, logging its calls to `log` (one task's).
    pub fn with_log(&self, log: CallLog) -> Self {
        AudioTranscriber {
            log,
            ..self.clone()
        }
    }

    async fn transcribe(
        &self,
        filename: &str,
        audio: &[u8],
    ) -> (Result<Transcript, ToolError>, ToolRetries) {
        let (boundary, body) = multipart_body(&self.model, filename, audio);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let endpoint = self.endpoint.as_str();
        let (resp, retries) = retry::send(NAME, endpoint, &self.retry, || {
            let req = self
                .client
                .post(endpoint)
                .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                .body(body.clone());
            match &self.api_key {
                Some(k) => req.bearer_auth(k),
                None => req,
            }
        })
        .await;
        let parsed = match resp {
            Ok(resp) => match resp.text().await {
                Ok(text) => parse_transcript(&text),
                Err(e) => Err(retry::transport(NAME, endpoint, &e).error),
            },
            Err(e) => Err(e),
        };
        (parsed, retries)
    }
}

/// The transcriber, or `None` (warned once per process) when its URL or model is not set.
pub(crate) fn from_settings(
    settings: &ToolSettings,
    client: &reqwest::Client,
) -> Option<AudioTranscriber> {
    match (&settings.audio_base_url, &settings.audio_model) {
        (Some(url), Some(model)) => Some(
            AudioTranscriber::new(
                client.clone(),
                url,
                model.clone(),
                settings.audio_api_key.clone(),
            )
            .with_price_per_minute(settings.audio_price_per_minute)
            .with_retry(settings.retry),
        ),
        _ => {
            warn_once(
                NAME,
                "audio transcription is disabled (inspect_file_as_text will say audio files cannot be read): set HERD_AUDIO_BASE_URL and HERD_AUDIO_MODEL (and HERD_AUDIO_API_KEY if the server needs one)",
            );
            None
        }
    }
}

/// A `multipart/form-data` body with the `model` and `file` fields, and its boundary.
fn multipart_body(model: &str, filename: &str, audio: &[u8]) -> (String, Vec<u8>) {
    // Derived from the content, so it cannot occur inside it.
    let boundary = format!(
        "herd-{}",
        hex::encode(&Sha256::digest([model.as_bytes(), filename.as_bytes(), audio].concat())[..16])
    );
    let filename: String = filename
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut body = Vec::with_capacity(audio.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {}\r\n\r\n",
            audio_mime(&filename)
        )
        .as_bytes(),
    );
    body.extend_from_slice(audio);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

fn audio_mime(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "flac" => "audio/flac",
        "ogg" => "audio/ogg",
        _ => "application/octet-stream",
    }
}

/// A JSON reply (`text`, `usage.seconds` or `duration`, token usage) or plain text.
fn parse_transcript(body: &str) -> Result<Transcript, ToolError> {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Ok(Transcript {
            text: body.trim().to_string(),
            seconds: None,
            input_tokens: 0,
            output_tokens: 0,
        });
    };
    let text = v
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::Failed {
            tool: NAME,
            message: "the transcription reply has no `text`".into(),
        })?;
    let num = |p: &str| v.pointer(p).and_then(Value::as_f64);
    let seconds = num("/usage/seconds")
        .or_else(|| num("/duration"))
        .filter(|s| s.is_finite() && *s >= 0.0);
    let tokens = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    Ok(Transcript {
        text: text.trim().to_string(),
        seconds,
        input_tokens: tokens("/usage/input_tokens"),
        output_tokens: tokens("/usage/output_tokens"),
    })
}

#[async_trait]
impl Tool for AudioTranscriber {
    fn name(&self) -> &'static str {
        NAME
    }
    fn listed(&self) -> bool {
        false
    }
    fn prompt_line(&self) -> String {
        format!(
            "- {NAME}(path: str) -> str: Transcribe an audio file (used by inspect_file_as_text)."
        )
    }
    fn python_wrapper(&self) -> String {
        format!(
            r#"def _herd_transcribe_audio(path: str) -> str:
    """Transcribe an audio file with the worker's speech-to-text model."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) > {MAX_AUDIO_BYTES}:
        raise ValueError(f"{{path}} is {{len(raw)}} bytes; audio files over {MAX_AUDIO_BYTES} bytes cannot be transcribed")
    data = _herd_b64.b64encode(raw).decode("ascii")
    return _herd_call("{NAME}", audio_base64=data, filename=_herd_os.path.basename(path))
"#
        )
    }
    async fn call(&self, args: &ToolArgs<'_>) -> Result<Value, ToolError> {
        let data = args.text(NAME, 0, "audio_base64")?;
        let filename = args
            .text(NAME, 1, "filename")
            .unwrap_or_else(|_| "audio.mp3".into());
        let audio = base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .map_err(|e| ToolError::BadArg {
                tool: NAME,
                arg: "audio_base64",
                problem: format!("is not base64: {e}"),
            })?;
        if audio.len() > MAX_AUDIO_BYTES {
            return Err(ToolError::BadArg {
                tool: NAME,
                arg: "audio_base64",
                problem: format!("is {} bytes; the limit is {MAX_AUDIO_BYTES}", audio.len()),
            });
        }
        let t0 = Instant::now();
        let (result, retries) = self.transcribe(&filename, &audio).await;
        self.log.count_retries(retries);
        let (seconds, input_tokens, output_tokens) = match &result {
            Ok(t) => (t.seconds, t.input_tokens, t.output_tokens),
            Err(_) => (None, 0, 0),
        };
        if result.is_ok() && seconds.is_none() && self.price_per_minute > 0.0 {
            warn_once(
                "transcribe_audio_duration",
                "the transcription server reports no audio duration; transcriptions are counted at $0",
            );
        }
        // The record keeps the file's name and size, never the audio itself.
        self.log.push(LlmCall {
            purpose: CallPurpose::Audio,
            step: 0,
            messages: vec![Message {
                role: "user".into(),
                content: format!("[audio: {filename}, {} bytes]", audio.len()),
            }],
            reply: result.as_ref().ok().map(|t| t.text.clone()),
            error: result.as_ref().err().map(ToString::to_string),
            prompt_tokens: input_tokens,
            completion_tokens: output_tokens,
            cost_usd: seconds.unwrap_or(0.0) / 60.0 * self.price_per_minute,
            cached: false,
            latency_ms: t0.elapsed().as_millis() as u64,
            retries: retries.total(),
        });
        result.map(|t| Value::String(t.text))
    }
    fn summarise(&self, result: &Value) -> Value {
        truncate_json(result, 2000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_accepts_a_base_with_or_without_v1() {
        assert_eq!(
            transcriptions_url("http://h:1/v1/"),
            "http://h:1/v1/audio/transcriptions"
        );
        assert_eq!(
            transcriptions_url("http://h:1"),
            "http://h:1/v1/audio/transcriptions"
        );
    }

    #[test]
    fn the_multipart_body_has_the_model_and_the_file() {
        let (b, body) = multipart_body("whisper-1", "a\"b.mp3", b"ID3\x00data");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{b}\r\n")));
        assert!(text.contains("name=\"model\"\r\n\r\nwhisper-1\r\n"));
        assert!(text.contains("name=\"file\"; filename=\"a_b.mp3\"\r\nContent-Type: audio/mpeg"));
        assert!(text.ends_with(&format!("\r\n--{b}--\r\n")));
    }

    #[test]
    fn replies_in_json_or_text_are_read() {
        let t = parse_transcript(r#"{"text":" hello ","usage":{"type":"duration","seconds":90}}"#)
            .unwrap();
        assert_eq!((t.text.as_str(), t.seconds), ("hello", Some(90.0)));
        let t = parse_transcript(r#"{"text":"x","duration":3.5}"#).unwrap();
        assert_eq!(t.seconds, Some(3.5));
        let t = parse_transcript(
            r#"{"text":"x","usage":{"type":"tokens","input_tokens":12,"output_tokens":3}}"#,
        )
        .unwrap();
        assert_eq!((t.seconds, t.input_tokens, t.output_tokens), (None, 12, 3));
        assert_eq!(
            parse_transcript("plain words\n").unwrap().text,
            "plain words"
        );
        assert!(parse_transcript(r#"{"error":"x"}"#).is_err());
    }
}
