//! Audio transcription for `inspect_file_as_text` against a local test double of
//! `/v1/audio/transcriptions` (the multipart request, a transcript, a 429 retried), and the
//! tools' LLM calls (audio, vision) counted with their retries in the task's metrics.

mod agent_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use herd_core::trajectory::CallPurpose;
use herd_worker::tools::{ToolEnv, ToolSettings, was_warned};
use serde_json::json;

const AUDIO: &[u8] = b"ID3\x03\x00fake mp3 frames \x00\xff\xfe";

/// A transcription server: answers `fail_first` requests with 429 (`Retry-After: 1`), then
/// checks the multipart request (model, file name, type and bytes) and returns a transcript
/// of 30 s of audio.
async fn serve_transcriber(fail_first: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let app = Router::new().route(
        "/v1/audio/transcriptions",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move {
                let n = s.fetch_add(1, Ordering::SeqCst);
                if n < fail_first {
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "1")],
                        axum::Json(json!({"error": {"message": "slow down"}})),
                    )
                        .into_response();
                }
                assert_eq!(
                    headers.get("authorization").and_then(|v| v.to_str().ok()),
                    Some("Bearer audio-key")
                );
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let boundary = ct
                    .strip_prefix("multipart/form-data; boundary=")
                    .unwrap_or_else(|| panic!("not multipart: {ct}"));
                let parts = split_multipart(&body, boundary);
                assert_eq!(parts.len(), 2, "model and file");
                let model = parts
                    .iter()
                    .find(|(h, _)| h.contains("name=\"model\""))
                    .expect("a model field");
                assert_eq!(model.1, b"whisper-test");
                let file = parts
                    .iter()
                    .find(|(h, _)| h.contains("name=\"file\""))
                    .expect("a file field");
                assert!(file.0.contains("filename=\"clip.mp3\""), "{}", file.0);
                assert!(file.0.contains("Content-Type: audio/mpeg"), "{}", file.0);
                assert_eq!(file.1, AUDIO);
                axum::Json(json!({
                    "text": "The cat sat on the mat.",
                    "usage": {"type": "duration", "seconds": 30}
                }))
                .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// The parts of a multipart body: (headers, content).
fn split_multipart(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delim = format!("--{boundary}");
    let text = body.to_vec();
    let mut parts = Vec::new();
    let mut pos = 0;
    let find = |from: usize, pat: &[u8]| {
        text[from..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|i| i + from)
    };
    while let Some(start) = find(pos, delim.as_bytes()) {
        let after = start + delim.len();
        if text[after..].starts_with(b"--") {
            break;
        }
        let head_start = after + 2; // CRLF
        let head_end = find(head_start, b"\r\n\r\n").expect("part headers end");
        let next = find(head_end, format!("\r\n{delim}").as_bytes()).expect("part end");
        parts.push((
            String::from_utf8_lossy(&text[head_start..head_end]).into_owned(),
            text[head_end + 4..next].to_vec(),
        ));
        pos = next + 2;
    }
    parts
}

fn audio_settings(addr: SocketAddr) -> ToolSettings {
    ToolSettings {
        // The base without `/v1`; the tool adds it.
        audio_base_url: Some(format!("http://{addr}")),
        audio_model: Some("whisper-test".into()),
        audio_api_key: Some("audio-key".into()),
        audio_price_per_minute: 0.006,
        ..ToolSettings::default()
    }
}

fn audio_task(
    settings: ToolSettings,
) -> (herd_core::task::TaskSpec, herd_worker::agent::AgentDeps) {
    use agent_common::*;
    use herd_core::kernel::CellOutcome;
    let tools = ToolEnv::new(settings).unwrap().toolbox();
    let data = base64::engine::general_purpose::STANDARD.encode(AUDIO);
    let listen = Cell {
        host_calls: vec![(
            "__herd_host__".into(),
            json!({"args": ["transcribe_audio", {"audio_base64": data, "filename": "clip.mp3"}], "kwargs": {}}),
        )],
        outcome: CellOutcome {
            output: "The cat sat on the mat.".into(),
            called: vec!["inspect_file_as_text".into()],
            ..Default::default()
        },
    };
    let model = ScriptedModel::new(vec![
        step("listen", "inspect_file_as_text('clip.mp3')"),
        step("done", "finish()"),
    ]);
    let session = ScriptedSession::new(vec![
        ("inspect_file_as_text('clip.mp3')", listen),
        ("finish()", submit("mat")),
    ]);
    let mut d = deps(model, session);
    d.tools = Arc::new(tools);
    (spec(), d)
}

#[tokio::test]
async fn audio_is_transcribed_through_the_configured_server_and_counted_as_an_llm_call() {
    let (addr, seen) = serve_transcriber(0).await;
    let settings = audio_settings(addr);
    let tools = ToolEnv::new(settings.clone()).unwrap().toolbox();
    let inspect = tools
        .prompt_lines()
        .into_iter()
        .find(|l| l.starts_with("- inspect_file_as_text("))
        .expect("inspect_file_as_text is listed");
    assert!(inspect.contains("audio"), "{inspect}");
    assert!(
        !tools
            .prompt_lines()
            .iter()
            .any(|l| l.contains("transcribe_audio")),
        "the helper is not a tool of its own in the prompt"
    );
    assert!(
        tools
            .python_wrappers()
            .iter()
            .any(|w| w.contains("def _herd_transcribe_audio(path: str) -> str:"))
    );

    let (spec, d) = audio_task(settings);
    let out = herd_worker::agent::run_task(&spec, d).await;
    assert_eq!(out.answer.as_deref(), Some("mat"), "{:?}", out.error);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    // Two step calls ($0.001 each) and one transcription: 30 s at $0.006 a minute.
    let m = &out.metrics;
    assert_eq!(m.llm_calls, 3);
    assert!(
        (m.cost_usd - (0.002 + 0.003)).abs() < 1e-12,
        "{}",
        m.cost_usd
    );
    let calls: Vec<_> = out
        .trajectory
        .llm_calls
        .iter()
        .filter(|c| c.purpose == CallPurpose::Audio)
        .collect();
    assert_eq!(calls.len(), 1);
    let a = calls[0];
    assert_eq!(a.reply.as_deref(), Some("The cat sat on the mat."));
    assert_eq!((a.step, a.retries), (1, 0));
    assert!(
        a.messages[0].content.contains("clip.mp3") && !a.messages[0].content.contains("ID3"),
        "the audio itself is never recorded: {}",
        a.messages[0].content
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_counted_in_the_metrics() {
    let (addr, seen) = serve_transcriber(1).await;
    let (spec, d) = audio_task(audio_settings(addr));
    let t0 = Instant::now();
    let out = herd_worker::agent::run_task(&spec, d).await;
    assert_eq!(out.answer.as_deref(), Some("mat"), "{:?}", out.error);
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({:?})",
        t0.elapsed()
    );
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    assert_eq!(out.metrics.retries_rate_limited, 1);
    let a = out
        .trajectory
        .llm_calls
        .iter()
        .find(|c| c.purpose == CallPurpose::Audio)
        .expect("the transcription is recorded");
    assert_eq!(a.retries, 1);
    assert_eq!(a.reply.as_deref(), Some("The cat sat on the mat."));
}

#[tokio::test]
async fn without_audio_settings_audio_is_not_promised_and_one_warning_is_logged() {
    let tools = ToolEnv::new(ToolSettings::default()).unwrap().toolbox();
    assert!(!tools.transcribes_audio());
    let lines = tools.prompt_lines();
    let inspect = lines
        .iter()
        .find(|l| l.starts_with("- inspect_file_as_text("))
        .expect("inspect_file_as_text is listed");
    assert!(
        !inspect.to_lowercase().contains("audio") && !inspect.contains("MP3"),
        "{inspect}"
    );
    assert!(was_warned("transcribe_audio"));
    let py = tools.python_wrappers().join("\n");
    assert!(!py.contains("def _herd_transcribe_audio"));
    assert!(py.contains("audio cannot be transcribed in this run"));
    // A second toolbox in the same process warns no more (warn_once keys on the tool).
    let _ = ToolEnv::new(ToolSettings::default()).unwrap().toolbox();
    assert!(was_warned("transcribe_audio"));
}

/// A vision server answering 503 once, then a reply.
async fn serve_flaky_vision() -> (SocketAddr, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let app = Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |_body: Bytes| {
            let s = s.clone();
            async move {
                if s.fetch_add(1, Ordering::SeqCst) == 0 {
                    return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
                }
                axum::Json(json!({
                    "choices": [{"message": {"role": "assistant", "content": "a red square"}}],
                    "usage": {"prompt_tokens": 1200, "completion_tokens": 5}
                }))
                .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

#[tokio::test]
async fn visual_qa_retries_a_503_and_counts_it_in_the_metrics() {
    use agent_common::*;
    use herd_core::kernel::CellOutcome;
    let (addr, seen) = serve_flaky_vision().await;
    let tools = ToolEnv::new(ToolSettings {
        vision_base_url: Some(format!("http://{addr}/v1")),
        vision_model: Some("vis-1".into()),
        ..ToolSettings::default()
    })
    .unwrap()
    .toolbox();
    let image = base64::engine::general_purpose::STANDARD.encode([137u8, 80, 78, 71]);
    let look = Cell {
        host_calls: vec![(
            "__herd_host__".into(),
            json!({"args": ["visual_qa", {"image_base64": image, "mime": "image/png", "question": "What colour?"}], "kwargs": {}}),
        )],
        outcome: CellOutcome {
            output: "a red square".into(),
            called: vec!["visual_qa".into()],
            ..Default::default()
        },
    };
    let model = ScriptedModel::new(vec![step("look", "look()"), step("done", "finish()")]);
    let session = ScriptedSession::new(vec![("look()", look), ("finish()", submit("red"))]);
    let mut d = deps(model, session);
    d.tools = Arc::new(tools);
    let out = herd_worker::agent::run_task(&spec(), d).await;
    assert_eq!(out.answer.as_deref(), Some("red"), "{:?}", out.error);
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    assert_eq!(out.metrics.retries_server_error, 1);
    let v = out
        .trajectory
        .llm_calls
        .iter()
        .find(|c| c.purpose == CallPurpose::Vision)
        .expect("the vision call is recorded");
    assert_eq!((v.retries, v.prompt_tokens), (1, 1200));
}
