//! The agent loop with the real OpenAI-compatible client (`herd_llm::build_backbone`) against
//! a scripted chat-completions server on loopback: usage totals, the response cache, and the
//! API key staying out of the trajectory.

mod agent_common;

use std::sync::{Arc, Once};

use agent_common::*;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use herd_core::config::BackboneConfig;
use herd_core::outcome::EndReason;
use herd_llm::{BackboneDeps, RedbResponseCache, build_backbone};
use herd_worker::agent::run_task;
use parking_lot::Mutex;
use serde_json::{Value, json};

const KEY_ENV: &str = "HERD_AGENT_LLM_TEST_KEY";
const KEY: &str = "sk-agent-test-SECRET-4f9a2c";

fn set_key() {
    static ONCE: Once = Once::new();
    // SAFETY: set once, before any client of this test binary reads it.
    ONCE.call_once(|| unsafe { std::env::set_var(KEY_ENV, KEY) });
}

#[derive(Clone, Default)]
struct Server {
    usage: Arc<Mutex<Vec<(u64, u64)>>>,
    auth: Arc<Mutex<Vec<String>>>,
}

async fn completions(
    State(s): State<Server>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    s.auth.lock().push(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    );
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let step = messages.iter().filter(|m| m["role"] == "assistant").count();
    let code = if step == 0 {
        "x = 6 * 7\nprint(x)"
    } else {
        "submit_final_answer(x)"
    };
    let content = json!({"thought": format!("step {step}"), "code": code}).to_string();
    let chars: usize = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap_or("").len())
        .sum();
    let prompt = 50 + chars as u64 / 4;
    let completion = 11 + step as u64;
    s.usage.lock().push((prompt, completion));
    axum::Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "scripted-server-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    }))
}

async fn serve() -> (String, Server) {
    let server = Server::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), server)
}

fn backbone(base: &str, cache: &str) -> BackboneConfig {
    serde_json::from_value(json!({
        "name": "scripted",
        "model": "m",
        "base_url": base,
        "api_key_env": KEY_ENV,
        "temperature": 0.0,
        "cache": cache,
        "max_retries": 0,
        "price": {"prompt_per_mtok": 3.0, "completion_per_mtok": 15.0}
    }))
    .unwrap()
}

fn session() -> ScriptedSession {
    ScriptedSession::new(vec![
        ("x = 6 * 7\nprint(x)", ok("42\n")),
        ("submit_final_answer(x)", submit("42")),
    ])
}

#[tokio::test]
async fn totals_match_the_server_usage_and_the_key_stays_out_of_the_trajectory() {
    set_key();
    let (base, server) = serve().await;
    let mut s = spec();
    s.backbone = backbone(&base, "off");
    let model = build_backbone(&s.backbone, BackboneDeps::default())
        .await
        .unwrap();
    let out = run_task(&s, deps(model, session())).await;
    assert_eq!(out.end, EndReason::Submitted, "{:?}", out.error);
    assert_eq!(out.answer.as_deref(), Some("42"));
    let usage = server.usage.lock().clone();
    assert_eq!(usage.len(), 2);
    let m = &out.metrics;
    assert_eq!(m.llm_calls, 2);
    assert_eq!(m.prompt_tokens, usage.iter().map(|u| u.0).sum::<u64>());
    assert_eq!(m.completion_tokens, usage.iter().map(|u| u.1).sum::<u64>());
    let expected_cost: f64 = out.trajectory.llm_calls.iter().map(|c| c.cost_usd).sum();
    assert_eq!(m.cost_usd, expected_cost);
    assert!(m.cost_usd > 0.0);
    let by_price: f64 = usage
        .iter()
        .map(|(p, c)| (*p as f64 * 3.0 + *c as f64 * 15.0) / 1e6)
        .sum();
    assert!(
        (m.cost_usd - by_price).abs() < 1e-12,
        "{} vs {by_price}",
        m.cost_usd
    );
    // The key was sent to the server, and is nowhere in what the worker reports.
    assert!(
        server
            .auth
            .lock()
            .iter()
            .all(|a| a == &format!("Bearer {KEY}"))
    );
    let serialised = serde_json::to_string(&out).unwrap();
    assert!(!serialised.contains(KEY));
    assert!(!serialised.contains("SECRET-4f9a2c"));
}

#[tokio::test]
async fn a_rerun_served_from_the_cache_is_counted_as_cached_and_free() {
    set_key();
    let (base, server) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(RedbResponseCache::open(&dir.path().join("cache.redb")).unwrap());
    let mut s = spec();
    s.backbone = backbone(&base, "on");
    let deps_for = || BackboneDeps {
        cache: Some(cache.clone()),
        ..BackboneDeps::default()
    };
    let first = run_task(
        &s,
        deps(
            build_backbone(&s.backbone, deps_for()).await.unwrap(),
            session(),
        ),
    )
    .await;
    assert_eq!(first.end, EndReason::Submitted, "{:?}", first.error);
    assert_eq!(first.metrics.cached_calls, 0);
    let calls_after_first = server.usage.lock().len();
    let second = run_task(
        &s,
        deps(
            build_backbone(&s.backbone, deps_for()).await.unwrap(),
            session(),
        ),
    )
    .await;
    assert_eq!(second.end, EndReason::Submitted);
    assert_eq!(
        server.usage.lock().len(),
        calls_after_first,
        "the rerun must not reach the server"
    );
    assert_eq!(second.metrics.cached_calls, second.metrics.llm_calls);
    assert_eq!(second.metrics.cost_usd, 0.0);
    assert!(
        second
            .trajectory
            .llm_calls
            .iter()
            .all(|c| c.cached && c.cost_usd == 0.0)
    );
    assert_eq!(second.metrics.prompt_tokens, first.metrics.prompt_tokens);
}
