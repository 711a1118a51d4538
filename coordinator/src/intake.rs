//! Result intake: turns a worker's outcome into the task's one result row, scoring the answer
//! against the gold that never left the coordinator. Also serves attachment bytes.

use std::sync::Arc;

use herd_core::config::Sweep;
use herd_core::outcome::TaskOutcome;
use herd_core::result::{HERD_VERSION, ResultRecord, Status};
use herd_core::task::{AttachmentRef, task_seed};
use herd_datasets::{Dataset, Item};

use crate::expand::PlannedTask;

/// Everything intake needs to build a result row.
pub struct IntakeInput<'a> {
    pub sweep: &'a Sweep,
    pub sweep_id: &'a str,
    pub dataset: &'a Dataset,
    pub item: &'a Item,
    pub plan: &'a PlannedTask,
    pub outcome: &'a TaskOutcome,
    pub status: Status,
    pub worker: &'a str,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub seq: u64,
    pub finished_ms: u64,
}

/// Builds the result row; scores the answer when the task ended with one.
pub fn result_record(i: IntakeInput<'_>) -> ResultRecord {
    let cfg = &i.sweep.config;
    let bench = &cfg.benchmarks[i.plan.bench as usize];
    let backbone = &cfg.backbones[i.plan.backbone as usize];
    let arm = &cfg.arms[i.plan.arm as usize];
    let o = i.outcome;
    let m = &o.metrics;
    let mut rec = ResultRecord {
        sweep: i.sweep_id.to_string(),
        task_key: i.plan.key.clone(),
        benchmark: bench.display_name(),
        split: if i.plan.phase == crate::expand::Phase::Train {
            "train".into()
        } else {
            i.item.split.clone()
        },
        item_id: i.item.id.clone(),
        metadata: serde_json::to_string(&i.item.metadata).unwrap_or_default(),
        level: i.item.meta("level").map(str::to_string),
        subject: i
            .item
            .meta("subject")
            .or_else(|| i.item.meta("domain"))
            .map(str::to_string),
        backbone: backbone.name.clone(),
        arm: arm.name.clone(),
        accumulation: arm.accumulation.as_str().to_string(),
        epoch: i.plan.epoch,
        seed: task_seed(cfg.seed, &i.plan.key),
        status: i.status.as_str().to_string(),
        correct: None,
        score: None,
        answer: o.answer.clone(),
        extracted_answer: None,
        gold_answer: i.item.gold.clone(),
        scorer: String::new(),
        scorer_rule: String::new(),
        end_reason: o.end.as_str().to_string(),
        steps: m.steps,
        llm_calls: m.llm_calls,
        cached_calls: m.cached_calls,
        prompt_tokens: m.prompt_tokens,
        completion_tokens: m.completion_tokens,
        cost_usd: m.cost_usd,
        wall_ms: m.wall_ms,
        model_ms: m.model_ms,
        exec_ms: m.exec_ms,
        actions_created: m.actions_created,
        actions_retrieved: m.actions_retrieved,
        generated_calls: m.generated_calls,
        user_calls: m.user_calls,
        actions_called: serde_json::to_string(&m.actions_called).unwrap_or_else(|_| "[]".into()),
        library_size: m.library_size,
        covered_steps: m.covered_steps,
        reused_calls: m.reused_calls,
        sandbox_kind: o.sandbox.kind.clone(),
        sandbox_image: o.sandbox.image.clone(),
        model_identity: o.model_identity.clone(),
        dataset_fingerprint: i.dataset.fingerprint.clone(),
        herd_version: HERD_VERSION.to_string(),
        worker: i.worker.to_string(),
        attempts: i.attempts,
        error_kind: o.error.as_ref().map(|e| e.kind.clone()),
        error_message: o.error.as_ref().map(|e| e.message.clone()).or(i.last_error),
        finished_seq: i.seq,
        finished_at: chrono::DateTime::from_timestamp_millis(i.finished_ms as i64)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default(),
    };
    if i.status == Status::Scored {
        let answer = o.answer.clone().unwrap_or_default();
        let s = herd_datasets::score(bench.kind, i.item, &answer);
        rec.scorer = format!("{}@{}", s.scorer, s.scorer_version);
        rec.scorer_rule = s.rule.clone();
        rec.extracted_answer = s.extracted.clone();
        if i.item.gold.is_some() {
            rec.correct = Some(s.correct);
            rec.score = Some(s.score);
        }
    }
    rec
}

/// References to an item's attachments, as sent to workers.
pub fn attachment_refs(item: &Item) -> Vec<AttachmentRef> {
    item.attachments.iter().map(|a| a.to_ref()).collect()
}

/// The bytes of one attachment, by name.
pub fn attachment_bytes(item: &Item, name: &str) -> Option<Arc<Vec<u8>>> {
    let a = item.attachments.iter().find(|a| a.name == name)?;
    a.bytes().ok().map(Arc::new)
}
