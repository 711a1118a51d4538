//! The OpenAI-compatible client against a scripted server: retries, fail-fast, cache,
//! exact usage and cost, secrets, request shapes.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{LogCapture, Server, Step, backbone, fast_retry, request};
use herd_llm::{
    BackboneDeps, BackboneStats, ChatModel, LlmError, OpenAiClient, RedbResponseCache,
    ResponseCache, build_backbone,
};
use serde_json::json;

fn deps(stats: &Arc<BackboneStats>) -> BackboneDeps {
    BackboneDeps {
        stats: stats.clone(),
        retry: fast_retry(),
        ..BackboneDeps::default()
    }
}

#[tokio::test]
async fn rate_limited_429_waits_the_retry_after_then_succeeds() {
    let server = Server::start(
        vec![Step::error(429, "slow down").with_header("retry-after", "1")],
        Step::ok("hello", 10, 2),
    )
    .await;
    let stats = Arc::new(BackboneStats::new());
    let model = build_backbone(&backbone(&server.base_url(), ""), deps(&stats))
        .await
        .unwrap();
    let started = Instant::now();
    let resp = model.chat(&request("hi")).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    assert_eq!(resp.content, "hello");
    assert_eq!(resp.retries.rate_limited, 1);
    assert_eq!(server.requests(), 2);
    let snap = stats.snapshot();
    assert_eq!(snap.rate_limited, 1);
    assert_eq!(snap.calls, 2);
    assert_eq!(snap.in_retry_now, 0);
    assert_eq!(snap.last_retry.map(|r| r.wait_ms), Some(1000));
}

#[tokio::test]
async fn a_burst_of_500s_is_retried_and_counted_as_server_errors() {
    let server = Server::start(
        vec![
            Step::error(500, "oops"),
            Step::error(502, "bad gateway"),
            Step::error(503, "busy"),
        ],
        Step::ok("fine", 5, 1),
    )
    .await;
    let stats = Arc::new(BackboneStats::new());
    let model = build_backbone(&backbone(&server.base_url(), ""), deps(&stats))
        .await
        .unwrap();
    let resp = model.chat(&request("hi")).await.unwrap();
    assert_eq!(resp.content, "fine");
    assert_eq!(resp.retries.server_error, 3);
    assert_eq!(resp.retries.rate_limited, 0);
    assert_eq!(stats.snapshot().server_errors, 3);
    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn a_request_timeout_is_retried() {
    let server = Server::start(
        vec![Step::ok("late", 1, 1).delayed(Duration::from_millis(2500))],
        Step::ok("on time", 3, 4),
    )
    .await;
    let stats = Arc::new(BackboneStats::new());
    let cfg = backbone(&server.base_url(), "request_timeout_secs = 1");
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    let started = Instant::now();
    let resp = model.chat(&request("hi")).await.unwrap();
    assert_eq!(resp.content, "on time");
    assert_eq!(resp.retries.timeout, 1);
    assert_eq!(stats.snapshot().timeouts, 1);
    assert!(
        started.elapsed() < Duration::from_millis(2400),
        "the timeout did not cut the slow request"
    );
}

#[tokio::test]
async fn a_400_fails_fast_with_the_servers_message() {
    let server = Server::start(vec![], Step::error(400, "Unsupported parameter: 'top_k'")).await;
    let stats = Arc::new(BackboneStats::new());
    let model = build_backbone(&backbone(&server.base_url(), ""), deps(&stats))
        .await
        .unwrap();
    let err = model.chat(&request("hi")).await.unwrap_err();
    match &err {
        LlmError::Client { status, message } => {
            assert_eq!(*status, 400);
            assert_eq!(message, "Unsupported parameter: 'top_k'");
        }
        other => panic!("expected a client error, got {other:?}"),
    }
    assert_eq!(server.requests(), 1);
    assert_eq!(stats.snapshot().client_errors, 1);
}

#[tokio::test]
async fn exhausted_retries_give_unavailable() {
    let server = Server::start(vec![], Step::error(503, "overloaded")).await;
    let stats = Arc::new(BackboneStats::new());
    let cfg = backbone(&server.base_url(), "max_retries = 2");
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    let err = model.chat(&request("hi")).await.unwrap_err();
    match &err {
        LlmError::Unavailable { attempts, message } => {
            assert_eq!(*attempts, 3);
            assert!(message.contains("overloaded"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(server.requests(), 3);
    let snap = stats.snapshot();
    assert_eq!(snap.server_errors, 3);
    assert_eq!(snap.failures, 1);
}

#[tokio::test]
async fn a_cache_hit_makes_no_call_and_costs_nothing() {
    let server = Server::start(vec![], Step::ok("cached answer", 100, 20)).await;
    let dir = tempfile::tempdir().unwrap();
    let cache: Arc<dyn ResponseCache> = Arc::new(
        RedbResponseCache::open_async(&dir.path().join("c.redb"))
            .await
            .unwrap(),
    );
    let stats = Arc::new(BackboneStats::new());
    let mut cfg = backbone(
        &server.base_url(),
        "temperature = 0.0\nprice = { prompt_per_mtok = 1.0, completion_per_mtok = 2.0 }",
    );
    cfg.cache = herd_core::config::CacheMode::Auto;
    let deps = BackboneDeps {
        cache: Some(cache.clone()),
        ..deps(&stats)
    };
    let model = build_backbone(&cfg, deps.clone()).await.unwrap();
    let first = model.chat(&request("same question")).await.unwrap();
    assert!(!first.cached);
    assert!(first.cost_usd > 0.0);
    assert_eq!(server.requests(), 1);

    // A fresh backbone (a re-run) with the same cache.
    let again = build_backbone(&cfg, deps).await.unwrap();
    let second = again.chat(&request("same question")).await.unwrap();
    assert!(second.cached);
    assert_eq!(second.cost_usd, 0.0);
    assert_eq!(second.content, "cached answer");
    assert_eq!(second.prompt_tokens, 100);
    assert_eq!(server.requests(), 1, "a cache hit must not call the server");
    assert_eq!(stats.snapshot().cache_hits, 1);

    // A different request misses.
    let third = again.chat(&request("another question")).await.unwrap();
    assert!(!third.cached);
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn temperature_above_zero_is_not_cached_in_auto_mode() {
    let server = Server::start(vec![], Step::ok("x", 1, 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let cache: Arc<dyn ResponseCache> = Arc::new(
        RedbResponseCache::open_async(&dir.path().join("c.redb"))
            .await
            .unwrap(),
    );
    let stats = Arc::new(BackboneStats::new());
    let mut cfg = backbone(&server.base_url(), "temperature = 0.7");
    cfg.cache = herd_core::config::CacheMode::Auto;
    let deps = BackboneDeps {
        cache: Some(cache),
        ..deps(&stats)
    };
    let model = build_backbone(&cfg, deps).await.unwrap();
    model.chat(&request("q")).await.unwrap();
    let r = model.chat(&request("q")).await.unwrap();
    assert!(!r.cached);
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn token_and_cost_totals_equal_the_servers_usage() {
    let usages = [(1234u64, 56u64), (999, 1), (77_000, 4321), (5, 0)];
    let steps = usages.iter().map(|(p, c)| Step::ok("r", *p, *c)).collect();
    let server = Server::start(steps, Step::error(500, "no more")).await;
    let stats = Arc::new(BackboneStats::new());
    let cfg = backbone(
        &server.base_url(),
        "price = { prompt_per_mtok = 2.5, completion_per_mtok = 10.0 }",
    );
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    let (mut p, mut c, mut cost) = (0u64, 0u64, 0.0f64);
    for i in 0..usages.len() {
        let r = model.chat(&request(&format!("q{i}"))).await.unwrap();
        p += r.prompt_tokens;
        c += r.completion_tokens;
        cost += r.cost_usd;
    }
    let served_p = server
        .script
        .prompt_tokens_served
        .load(std::sync::atomic::Ordering::SeqCst);
    let served_c = server
        .script
        .completion_tokens_served
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!((p, c), (served_p, served_c));
    let want = (served_p as f64 * 2.5 + served_c as f64 * 10.0) / 1e6;
    assert!((cost - want).abs() < 1e-12, "cost {cost} != {want}");
    let snap = stats.snapshot();
    assert_eq!(
        (snap.prompt_tokens, snap.completion_tokens),
        (served_p, served_c)
    );
}

#[tokio::test]
async fn cached_prompt_tokens_use_the_cached_price() {
    let body = json!({
        "model": "m",
        "choices": [{"message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 10,
                  "prompt_tokens_details": {"cached_tokens": 600}}
    });
    let server = Server::start(vec![], Step::json(200, body)).await;
    let stats = Arc::new(BackboneStats::new());
    let cfg = backbone(
        &server.base_url(),
        "price = { prompt_per_mtok = 1.0, completion_per_mtok = 4.0, cached_prompt_per_mtok = 0.25 }",
    );
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    let r = model.chat(&request("q")).await.unwrap();
    let want = (400.0 * 1.0 + 600.0 * 0.25 + 10.0 * 4.0) / 1e6;
    assert!(
        (r.cost_usd - want).abs() < 1e-15,
        "{} != {want}",
        r.cost_usd
    );
    assert_eq!(stats.snapshot().cached_prompt_tokens, 600);
}

#[tokio::test]
async fn the_api_key_never_appears_in_logs_debug_or_errors() {
    const VAR: &str = "HERD_LLM_TEST_KEY_SECRET_A";
    const KEY: &str = "sk-test-5f2d9c1e8b7a6";
    // SAFETY: this variable is read only by this test.
    unsafe { std::env::set_var(VAR, KEY) };
    let logs = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = Server::start(
        vec![
            Step::error(429, "rate limited").with_header("retry-after", "0"),
            Step::ok("hi", 1, 1),
            Step::error(401, &format!("Incorrect API key provided: {KEY}.")),
        ],
        Step::ok("hi", 1, 1),
    )
    .await;
    let stats = Arc::new(BackboneStats::new());
    let cfg = backbone(&server.base_url(), &format!("api_key_env = \"{VAR}\""));
    let client = OpenAiClient::new(&cfg, stats.clone(), None, fast_retry()).unwrap();
    client.chat(&request("hello")).await.unwrap();
    // The key was really sent.
    assert_eq!(
        server
            .last()
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer {KEY}")
    );
    let err = client.chat(&request("hello")).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Client { status: 401, .. }),
        "{err:?}"
    );
    let err_text = format!("{err} {err:?}");
    assert!(!err_text.contains(KEY), "key in error: {err_text}");
    assert!(err_text.contains("<redacted>"), "{err_text}");
    let debug = format!("{client:?}");
    assert!(!debug.contains(KEY), "key in Debug: {debug}");
    assert!(debug.contains(VAR), "{debug}");
    let text = logs.text();
    assert!(
        text.contains("retrying llm request"),
        "the retry was not logged:\n{text}"
    );
    assert!(!text.contains(KEY), "key in logs:\n{text}");
}

#[tokio::test]
async fn a_missing_key_variable_is_a_config_error_naming_it() {
    let cfg = backbone(
        "http://127.0.0.1:9/v1",
        "api_key_env = \"HERD_LLM_TEST_UNSET_VAR\"",
    );
    let err = build_backbone(&cfg, BackboneDeps::default())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, LlmError::Config(m) if m.contains("HERD_LLM_TEST_UNSET_VAR")),
        "{err:?}"
    );
}

#[tokio::test]
async fn structured_output_sends_the_schema() {
    let schema = json!({
        "title": "step",
        "type": "object",
        "properties": {"thought": {"type": "string"}, "code": {"type": "string"}},
        "required": ["thought", "code"],
        "additionalProperties": false
    });
    let server = Server::start(vec![], Step::ok(r#"{"thought":"t","code":"c"}"#, 1, 1)).await;
    let stats = Arc::new(BackboneStats::new());
    let cfg = backbone(
        &server.base_url(),
        "top_p = 0.9\nmax_tokens = 300\nstop = [\"<end>\"]\nextra_body = { top_k = 20 }",
    );
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    let mut req = request("solve");
    req.json_schema = Some(schema.clone());
    req.seed = Some(42);
    model.chat(&req).await.unwrap();
    let seen = server.last();
    assert_eq!(seen.uri.path(), "/v1/chat/completions");
    let b = &seen.body;
    assert_eq!(b["model"], "test-model");
    assert_eq!(b["response_format"]["type"], "json_schema");
    assert_eq!(b["response_format"]["json_schema"]["schema"], schema);
    assert_eq!(b["response_format"]["json_schema"]["strict"], true);
    assert_eq!(b["response_format"]["json_schema"]["name"], "step");
    assert_eq!(b["seed"], 42);
    assert_eq!(b["top_p"], 0.9);
    assert_eq!(b["max_tokens"], 300);
    assert_eq!(b["stop"], json!(["<end>"]));
    assert_eq!(b["top_k"], 20);
    assert_eq!(
        b["messages"][1],
        json!({"role": "user", "content": "solve"})
    );

    // json_object mode, and no response_format without a schema.
    let cfg = backbone(&server.base_url(), "structured_output = \"json-object\"");
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    model.chat(&req).await.unwrap();
    assert_eq!(
        server.last().body["response_format"],
        json!({"type": "json_object"})
    );
    model.chat(&request("plain")).await.unwrap();
    assert!(server.last().body.get("response_format").is_none());
    let cfg = backbone(&server.base_url(), "structured_output = \"none\"");
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    model.chat(&req).await.unwrap();
    assert!(server.last().body.get("response_format").is_none());
}

#[tokio::test]
async fn azure_uses_the_deployment_url_and_api_key_header() {
    const VAR: &str = "HERD_LLM_TEST_KEY_AZURE";
    // SAFETY: this variable is read only by this test.
    unsafe { std::env::set_var(VAR, "azure-secret-123") };
    let server = Server::start(vec![], Step::ok("hi", 1, 1)).await;
    let base = format!("http://{}", server.addr);
    let mut cfg = backbone(
        &base,
        &format!("api_key_env = \"{VAR}\"\nazure_api_version = \"2024-06-01\""),
    );
    cfg.model = "my-gpt4o".into();
    let stats = Arc::new(BackboneStats::new());
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    model.chat(&request("hi")).await.unwrap();
    let seen = server.last();
    assert_eq!(
        seen.uri.path(),
        "/openai/deployments/my-gpt4o/chat/completions"
    );
    assert_eq!(seen.uri.query(), Some("api-version=2024-06-01"));
    assert_eq!(seen.headers.get("api-key").unwrap(), "azure-secret-123");
    assert!(seen.headers.get("authorization").is_none());
    assert!(seen.body.get("model").is_none());
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stats = Arc::new(BackboneStats::new());
    let cfg = backbone(&format!("http://127.0.0.1:{port}/v1"), "max_retries = 1");
    let model = build_backbone(&cfg, deps(&stats)).await.unwrap();
    let err = model.chat(&request("hi")).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Unavailable { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(stats.snapshot().connection_errors, 2);
}

#[tokio::test]
async fn identity_reports_the_servers_model() {
    let server = Server::start(vec![], Step::ok("hi", 1, 1)).await;
    let stats = Arc::new(BackboneStats::new());
    let model = build_backbone(&backbone(&server.base_url(), ""), deps(&stats))
        .await
        .unwrap();
    assert_eq!(model.identity(), "test-model");
    let r = model.chat(&request("hi")).await.unwrap();
    assert_eq!(r.model, "scripted-model-2024");
    assert_eq!(model.identity(), "scripted-model-2024");
}
