//! Small hand-made result tables for the unit tests.

use herd_core::ResultRecord;

/// A scored/failed row of benchmark `math`, backbone `m1`.
pub fn row(arm: &str, item: u32, status: &str, correct: Option<bool>) -> ResultRecord {
    ResultRecord {
        sweep: "s1".to_string(),
        task_key: format!("math-m1-{arm}-{item}"),
        benchmark: "math".to_string(),
        split: "test".to_string(),
        item_id: format!("i{item}"),
        level: (item <= 5).then(|| "1".to_string()),
        backbone: "m1".to_string(),
        arm: arm.to_string(),
        status: status.to_string(),
        correct,
        end_reason: status.to_string(),
        steps: 2,
        prompt_tokens: 100,
        completion_tokens: 10,
        cost_usd: 0.01 * item as f64,
        wall_ms: 1000,
        generated_calls: if arm == "on" { 1 } else { 0 },
        user_calls: 1,
        covered_steps: 1,
        // Arm `on`: items 1–4 call an action an earlier task stored.
        reused_calls: if arm == "on" && item <= 4 { 1 } else { 0 },
        library_size: if arm == "on" { item as u64 } else { 0 },
        actions_called: if arm == "on" {
            "[[\"web_search\",2],[\"gen_sum\",1]]".to_string()
        } else {
            "[[\"web_search\",1]]".to_string()
        },
        finished_seq: item as u64,
        herd_version: "0.1.0".to_string(),
        model_identity: "m1@q4".to_string(),
        dataset_fingerprint: "sha256:abc".to_string(),
        sandbox_kind: "docker".to_string(),
        sandbox_image: "herd-sandbox:1".to_string(),
        error_kind: (status == "failed").then(|| "sandbox".to_string()),
        ..Default::default()
    }
}

/// Arm `off`: items 1–2 correct, 3–8 wrong, 9 failed, 10 timeout.
/// Arm `on`: items 1–9 correct, 10 over budget.
pub fn small_table() -> Vec<ResultRecord> {
    let mut rows = Vec::new();
    for item in 1..=10 {
        rows.push(match item {
            1..=2 => row("off", item, "scored", Some(true)),
            3..=8 => row("off", item, "scored", Some(false)),
            9 => row("off", item, "failed", None),
            _ => row("off", item, "timeout", None),
        });
        rows.push(match item {
            1..=9 => row("on", item, "scored", Some(true)),
            _ => row("on", item, "budget", None),
        });
    }
    rows
}
