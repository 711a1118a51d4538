//! The local llama.cpp backbone on the real Qwen2.5 0.5B weights (fetched by
//! `scripts/fetch-models.sh`): a short answer, grammar-constrained JSON, KV reuse, identity.

use std::sync::Arc;

use herd_core::config::BackboneConfig;
use herd_core::trajectory::Message;
use herd_llm::{BackboneDeps, BackboneStats, ChatModel, ChatRequest, build_backbone};
use serde_json::{Value, json};

fn config(extra: &str) -> BackboneConfig {
    toml::from_str(&format!(
        "name = \"local\"\nprovider = \"local\"\nmodel = \"qwen2.5-0.5b\"\ntemperature = 0.0\ncache = \"off\"\ncontext_window = 4096\n{extra}"
    ))
    .unwrap()
}

fn msg(role: &str, content: &str) -> Message {
    Message {
        role: role.into(),
        content: content.into(),
    }
}

async fn load(stats: &Arc<BackboneStats>) -> Arc<dyn ChatModel> {
    let deps = BackboneDeps {
        stats: stats.clone(),
        ..BackboneDeps::default()
    };
    match build_backbone(&config(""), deps).await {
        Ok(m) => m,
        Err(e) => panic!(
            "the local model test needs the Qwen2.5 0.5B weights; run `scripts/fetch-models.sh` first: {e}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_model_answers_follows_the_grammar_and_reuses_its_kv_cache() {
    let stats = Arc::new(BackboneStats::new());
    let model = load(&stats).await;

    let identity = model.identity();
    assert!(
        identity.contains("1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
        "{identity}"
    );
    assert!(identity.contains("qwen2"), "{identity}");

    // A small real prompt.
    let mut history = vec![
        msg(
            "system",
            "You are a calculator. Reply with the number only.",
        ),
        msg("user", "What is 2 + 3?"),
    ];
    let req = ChatRequest {
        messages: history.clone(),
        json_schema: None,
        max_tokens: Some(8),
        seed: Some(1),
    };
    let r = model.chat(&req).await.unwrap();
    assert!(r.content.contains('5'), "unexpected answer {:?}", r.content);
    assert!(
        r.prompt_tokens > 10 && r.completion_tokens >= 1 && r.completion_tokens <= 8,
        "{r:?}"
    );
    assert!(!r.cached);

    // The next step of the same task reads only its new tokens.
    let reused_before = stats.snapshot().cached_prompt_tokens;
    history.push(msg("assistant", &r.content));
    history.push(msg("user", "And 4 + 4?"));
    let r2 = model
        .chat(&ChatRequest {
            messages: history,
            json_schema: None,
            max_tokens: Some(8),
            seed: Some(1),
        })
        .await
        .unwrap();
    let reused = stats.snapshot().cached_prompt_tokens - reused_before;
    assert!(
        reused >= r.prompt_tokens,
        "step 2 reused {reused} tokens, step 1's prompt had {}",
        r.prompt_tokens
    );
    assert!(reused < r2.prompt_tokens);

    // Grammar-constrained {thought, code}.
    let schema = json!({
        "type": "object",
        "properties": {"thought": {"type": "string"}, "code": {"type": "string"}},
        "required": ["thought", "code"]
    });
    let max = 96;
    let r3 = model
        .chat(&ChatRequest {
            messages: vec![
                msg(
                    "system",
                    "Answer with a JSON object with keys thought and code. Keep both short.",
                ),
                msg("user", "Print hello in Python."),
            ],
            json_schema: Some(schema),
            max_tokens: Some(max),
            seed: Some(1),
        })
        .await
        .unwrap();
    let text = r3.content.trim_start();
    assert!(
        text.starts_with("{") && text[1..].trim_start().starts_with("\"thought\""),
        "{text}"
    );
    if r3.completion_tokens < u64::from(max) {
        let v: Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        assert!(v["thought"].is_string() && v["code"].is_string(), "{v}");
        assert_eq!(v.as_object().unwrap().len(), 2);
    }
}

/// Benchmark (not a pass/fail test): the latency of an agent's second step with the KV
/// cache reused versus the same step read cold, in this run. Prints a table.
/// `cargo test -p herd-llm --release --test local -- --ignored --nocapture bench_`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly"]
async fn bench_kv_reuse_between_steps() {
    let stats = Arc::new(BackboneStats::new());
    let model = load(&stats).await;
    let system = "You are a careful Python agent. Think step by step, then write code. ".repeat(20);
    let mut history = vec![
        msg("system", &system),
        msg("user", "Compute the 10th Fibonacci number."),
    ];
    let req = |h: &Vec<Message>| ChatRequest {
        messages: h.clone(),
        json_schema: None,
        max_tokens: Some(16),
        seed: Some(3),
    };
    let first = model.chat(&req(&history)).await.unwrap();
    history.push(msg("assistant", &first.content));
    history.push(msg("user", "Observation: 55. Now give the 11th."));
    let t = std::time::Instant::now();
    let warm = model.chat(&req(&history)).await.unwrap();
    let warm_ms = t.elapsed().as_millis();
    // The same step with a different first token: nothing can be reused.
    let mut cold_history = history.clone();
    cold_history[0].content = format!("# {}", system);
    let t = std::time::Instant::now();
    let cold = model.chat(&req(&cold_history)).await.unwrap();
    let cold_ms = t.elapsed().as_millis();
    println!("| step 2 of a task | prompt tokens | ms | ratio to cold |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| cold (baseline) | {} | {cold_ms} | 1.00 |",
        cold.prompt_tokens
    );
    println!(
        "| KV reused | {} | {warm_ms} | {:.2} |",
        warm.prompt_tokens,
        warm_ms as f64 / cold_ms.max(1) as f64
    );
}
