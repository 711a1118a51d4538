//! The llama.cpp engine: one dedicated thread owns the model and one context; jobs arrive
//! over a channel, so the async runtime never blocks and generations run one at a time.
//!
//! The context keeps several sequences (one per recent task, LRU). A new prompt reuses the
//! sequence whose evaluated tokens it extends (a task's next step), or copies the longest
//! shared prefix (the common system prompt) from another, and evaluates only the rest.

use std::collections::HashMap;
use std::io::Read;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use herd_core::trajectory::Message;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::{DecodeError, LogOptions, send_logs_to_tracing};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::template::{default_system_line, with_system};
use crate::LlmError;

/// Tokens decoded per batch while reading a prompt.
const N_BATCH: u32 = 512;

/// How the engine is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngineOptions {
    /// Context size in tokens, shared by all sequences (capped by the model's training context).
    pub n_ctx: u32,
    /// Sequences kept (tasks whose KV cache survives between steps).
    pub n_slots: u32,
    /// Threads for prompt reading and generation.
    pub threads: i32,
}

impl EngineOptions {
    /// `context_window` from the config; `HERD_LOCAL_SLOTS` (default 4) and
    /// `HERD_LOCAL_THREADS` (default: all cores) from the environment.
    pub fn from_env(context_window: u32) -> Self {
        let env_u32 = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2) as u32;
        EngineOptions {
            n_ctx: context_window.max(512),
            n_slots: env_u32("HERD_LOCAL_SLOTS").unwrap_or(4).clamp(1, 64),
            threads: env_u32("HERD_LOCAL_THREADS").unwrap_or(cores).clamp(1, 256) as i32,
        }
    }
}

/// What a GGUF file says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// `general.name`.
    pub name: String,
    /// `general.architecture`.
    pub arch: String,
    /// `general.file_type`, named (e.g. `Q4_K_M`).
    pub file_type: String,
    pub sha256: String,
    pub path: PathBuf,
    /// The context the engine runs with.
    pub n_ctx: u32,
    pub n_ctx_train: u32,
    pub n_params: u64,
    /// The system line added when a chat has none (from the model's template).
    pub default_system: Option<String>,
}

impl ModelInfo {
    /// `"Qwen2.5 Coder 0.5B Instruct AWQ (qwen2, Q4_K_M, sha256 1d96…)"` with the full hash.
    pub fn identity(&self) -> String {
        format!(
            "{} ({}, {}, sha256 {})",
            self.name, self.arch, self.file_type, self.sha256
        )
    }
}

/// One generation request.
#[derive(Debug, Clone)]
pub struct GenerateJob {
    pub messages: Vec<Message>,
    /// A GBNF grammar (root rule `root`) constraining the reply.
    pub grammar: Option<String>,
    pub max_tokens: u32,
    /// 0: greedy.
    pub temperature: f32,
    pub top_p: Option<f32>,
    pub seed: u32,
    pub stop: Vec<String>,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub text: String,
    /// The whole prompt's tokens.
    pub prompt_tokens: u64,
    /// Prompt tokens whose KV was reused (not evaluated again).
    pub reused_tokens: u64,
    pub completion_tokens: u64,
    pub prompt_ms: u64,
    pub generate_ms: u64,
}

struct Work {
    job: GenerateJob,
    reply: oneshot::Sender<Result<Generated, LlmError>>,
}

/// A loaded model and the thread that runs it.
pub struct Engine {
    tx: Mutex<mpsc::Sender<Work>>,
    info: ModelInfo,
}

type Registry = tokio::sync::Mutex<HashMap<(PathBuf, EngineOptions), Weak<Engine>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| tokio::sync::Mutex::new(HashMap::new()))
}

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn backend() -> Result<&'static LlamaBackend, LlmError> {
    BACKEND
        .get_or_init(|| {
            let verbose = std::env::var("HERD_LLAMA_LOGS").is_ok_and(|v| v == "1");
            send_logs_to_tracing(LogOptions::default().with_logs_enabled(verbose));
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Local(format!("cannot start llama.cpp: {e}")))
}

impl Engine {
    /// The engine for `path` with `opts`, loading it unless this process already has it.
    pub async fn shared(
        path: PathBuf,
        expected_sha256: Option<&'static str>,
        opts: EngineOptions,
    ) -> Result<Arc<Engine>, LlmError> {
        let mut reg = registry().lock().await;
        let key = (path.clone(), opts);
        if let Some(e) = reg.get(&key).and_then(Weak::upgrade) {
            return Ok(e);
        }
        let engine = Arc::new(Engine::load(path, expected_sha256, opts).await?);
        reg.retain(|_, w| w.strong_count() > 0);
        reg.insert(key, Arc::downgrade(&engine));
        Ok(engine)
    }

    /// Loads the model on a new thread and waits until it is ready.
    pub async fn load(
        path: PathBuf,
        expected_sha256: Option<&'static str>,
        opts: EngineOptions,
    ) -> Result<Engine, LlmError> {
        let (tx, rx) = mpsc::channel::<Work>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let thread_path = path.clone();
        std::thread::Builder::new()
            .name("herd-llama".into())
            .spawn(move || engine_main(thread_path, expected_sha256, opts, ready_tx, rx))
            .map_err(|e| LlmError::Local(format!("cannot start the local model thread: {e}")))?;
        let info = ready_rx.await.map_err(|_| {
            LlmError::Local(format!(
                "the local model thread for `{}` died while loading",
                path.display()
            ))
        })??;
        tracing::info!(
            model = %info.name,
            file_type = %info.file_type,
            sha256 = %info.sha256,
            n_ctx = info.n_ctx,
            slots = opts.n_slots,
            threads = opts.threads,
            "local model loaded"
        );
        Ok(Engine {
            tx: Mutex::new(tx),
            info,
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Queues a generation and waits for it.
    pub async fn generate(&self, job: GenerateJob) -> Result<Generated, LlmError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .lock()
            .send(Work { job, reply })
            .map_err(|_| LlmError::Local("the local model thread has stopped".into()))?;
        rx.await.map_err(|_| {
            LlmError::Local("the local model thread stopped during generation".into())
        })?
    }
}

fn file_sha256(path: &Path) -> Result<String, LlmError> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| LlmError::Local(format!("cannot open `{}`: {e}", path.display())))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| LlmError::Local(format!("cannot read `{}`: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// llama.cpp's `llama_ftype` numbers, named.
fn file_type_name(v: &str) -> String {
    let name = match v.trim() {
        "0" => "F32",
        "1" => "F16",
        "2" => "Q4_0",
        "3" => "Q4_1",
        "7" => "Q8_0",
        "8" => "Q5_0",
        "9" => "Q5_1",
        "10" => "Q2_K",
        "11" => "Q3_K_S",
        "12" => "Q3_K_M",
        "13" => "Q3_K_L",
        "14" => "Q4_K_S",
        "15" => "Q4_K_M",
        "16" => "Q5_K_S",
        "17" => "Q5_K_M",
        "18" => "Q6_K",
        "32" => "BF16",
        other => return format!("file_type {other}"),
    };
    name.to_string()
}

fn engine_main(
    path: PathBuf,
    expected_sha256: Option<&'static str>,
    opts: EngineOptions,
    ready: oneshot::Sender<Result<ModelInfo, LlmError>>,
    rx: mpsc::Receiver<Work>,
) {
    let started = Instant::now();
    let setup = (|| {
        let backend = backend()?;
        let sha256 = file_sha256(&path)?;
        if let Some(want) = expected_sha256
            && want != sha256
        {
            return Err(LlmError::Local(format!(
                "`{}` has sha256 {sha256}, expected {want}; delete it and run `scripts/fetch-models.sh` again",
                path.display()
            )));
        }
        let model = LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default())
            .map_err(|e| LlmError::Local(format!("cannot load `{}`: {e}", path.display())))?;
        Ok((backend, sha256, model))
    })();
    let (backend, sha256, model) = match setup {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let meta = |k: &str| model.meta_val_str(k).ok().filter(|s| !s.is_empty());
    let template = match model.chat_template(None) {
        Ok(t) => t,
        Err(e) => {
            let _ = ready.send(Err(LlmError::Local(format!(
                "`{}` has no chat template ({e}); use an instruct model",
                path.display()
            ))));
            return;
        }
    };
    let default_system = template.to_str().ok().and_then(default_system_line);
    let n_ctx = opts.n_ctx.min(model.n_ctx_train().max(512));
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(N_BATCH)
        .with_n_ubatch(N_BATCH)
        .with_n_seq_max(opts.n_slots)
        .with_kv_unified(true)
        .with_n_threads(opts.threads)
        .with_n_threads_batch(opts.threads);
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(LlmError::Local(format!(
                "cannot create a llama.cpp context of {n_ctx} tokens: {e}"
            ))));
            return;
        }
    };
    let info = ModelInfo {
        name: meta("general.name").unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
        arch: meta("general.architecture").unwrap_or_else(|| "unknown".into()),
        file_type: meta("general.file_type")
            .map(|v| file_type_name(&v))
            .unwrap_or_else(|| "unknown".into()),
        sha256,
        path: path.clone(),
        n_ctx: ctx.n_ctx(),
        n_ctx_train: model.n_ctx_train(),
        n_params: model.n_params(),
        default_system: default_system.clone(),
    };
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "llama.cpp model and context ready"
    );
    if ready.send(Ok(info)).is_err() {
        return;
    }
    let mut slots = Slots::new(opts.n_slots as usize);
    while let Ok(work) = rx.recv() {
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            generate(
                &model,
                &mut ctx,
                &template,
                default_system.as_deref(),
                &mut slots,
                &work.job,
            )
        }))
        .unwrap_or_else(|_| {
            slots.reset(&mut ctx);
            Err(LlmError::Local(
                "the local model panicked during generation".into(),
            ))
        });
        let _ = work.reply.send(result);
    }
}

/// The token prefix each sequence of the context holds, and when it was last used.
struct Slots {
    tokens: Vec<Vec<LlamaToken>>,
    last_used: Vec<u64>,
    clock: u64,
}

impl Slots {
    fn new(n: usize) -> Self {
        Slots {
            tokens: vec![Vec::new(); n],
            last_used: vec![0; n],
            clock: 0,
        }
    }

    fn reset(&mut self, ctx: &mut LlamaContext<'_>) {
        ctx.clear_kv_cache();
        self.tokens.iter_mut().for_each(Vec::clear);
    }

    fn clear(&mut self, ctx: &mut LlamaContext<'_>, slot: usize) {
        let _ = ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
        self.tokens[slot].clear();
    }

    /// Picks the sequence for `prompt` and fills it with the longest reusable prefix;
    /// returns `(slot, tokens already in the KV cache)`.
    fn prepare(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        prompt: &[LlamaToken],
    ) -> Result<(usize, usize), LlmError> {
        self.clock += 1;
        let lcps: Vec<usize> = self
            .tokens
            .iter()
            .map(|t| common_prefix(t, prompt))
            .collect();
        // A sequence the prompt extends (the same task's next step), longest first.
        let continuing = (0..self.tokens.len())
            .filter(|&i| !self.tokens[i].is_empty() && lcps[i] == self.tokens[i].len())
            .max_by_key(|&i| lcps[i]);
        let target = continuing.unwrap_or_else(|| {
            (0..self.tokens.len())
                .min_by_key(|&i| (!self.tokens[i].is_empty(), self.last_used[i]))
                .unwrap_or(0)
        });
        let donor = (0..self.tokens.len())
            .max_by_key(|&i| lcps[i])
            .unwrap_or(target);
        // Always evaluate at least the last prompt token, to get its logits.
        let limit = prompt.len().saturating_sub(1);
        let mut keep = lcps[target].min(limit);
        let donor_keep = lcps[donor].min(limit);
        let err =
            |e: &dyn std::fmt::Display| LlmError::Local(format!("kv cache update failed: {e}"));
        if donor != target && donor_keep > keep {
            ctx.clear_kv_cache_seq(Some(target as u32), None, None)
                .map_err(|e| err(&e))?;
            ctx.copy_kv_cache_seq(donor as i32, target as i32, None, Some(donor_keep as u32))
                .map_err(|e| err(&e))?;
            keep = donor_keep;
        } else {
            ctx.clear_kv_cache_seq(Some(target as u32), Some(keep as u32), None)
                .map_err(|e| err(&e))?;
        }
        self.tokens[target].clear();
        self.tokens[target].extend_from_slice(&prompt[..keep]);
        self.last_used[target] = self.clock;
        Ok((target, keep))
    }
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Decodes `batch`; when the KV cache is full, frees the other sequences and tries again.
fn decode(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    slots: &mut Slots,
    slot: usize,
) -> Result<(), LlmError> {
    match ctx.decode(batch) {
        Ok(()) => Ok(()),
        Err(DecodeError::NoKvCacheSlot) => {
            tracing::debug!("local kv cache full; dropping the other tasks' cached prefixes");
            for other in 0..slots.tokens.len() {
                if other != slot {
                    slots.clear(ctx, other);
                }
            }
            ctx.decode(batch).map_err(|e| {
                LlmError::Local(format!(
                    "the local context of {} tokens is full: {e}; raise `context_window` or shorten the prompt",
                    ctx.n_ctx()
                ))
            })
        }
        Err(e) => Err(LlmError::Local(format!("llama.cpp decode failed: {e}"))),
    }
}

fn generate(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    template: &LlamaChatTemplate,
    default_system: Option<&str>,
    slots: &mut Slots,
    job: &GenerateJob,
) -> Result<Generated, LlmError> {
    let started = Instant::now();
    let messages = with_system(&job.messages, default_system);
    let chat = messages
        .iter()
        .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            LlmError::Local(format!("a chat message cannot be passed to llama.cpp: {e}"))
        })?;
    let prompt = model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| LlmError::Local(format!("cannot apply the model's chat template: {e}")))?;
    let vocab = model.vocab();
    let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
    let n_ctx = ctx.n_ctx() as usize;
    if tokens.is_empty() {
        return Err(LlmError::Local("the prompt is empty".into()));
    }
    if tokens.len() + 1 >= n_ctx {
        return Err(LlmError::Local(format!(
            "the prompt has {} tokens but the local context holds {n_ctx}; raise `context_window` or shorten the prompt",
            tokens.len()
        )));
    }
    let max_new = (job.max_tokens as usize).min(n_ctx - tokens.len());

    let (slot, keep) = slots.prepare(ctx, &tokens)?;
    let seq = slot as i32;
    let mut batch = LlamaBatch::new(N_BATCH as usize, 1);
    let batch_err =
        |e: llama_cpp_2::llama_batch::BatchAddError| LlmError::Local(format!("llama batch: {e}"));
    let mut logits_at = 0;
    for (ci, chunk) in tokens[keep..].chunks(N_BATCH as usize).enumerate() {
        batch.clear();
        for (j, t) in chunk.iter().enumerate() {
            let pos = keep + ci * N_BATCH as usize + j;
            batch
                .add(*t, pos as i32, &[seq], pos + 1 == tokens.len())
                .map_err(batch_err)?;
        }
        if let Err(e) = decode(ctx, &mut batch, slots, slot) {
            slots.clear(ctx, slot);
            return Err(e);
        }
        slots.tokens[slot].extend_from_slice(chunk);
        logits_at = batch.n_tokens() - 1;
    }
    let prompt_ms = started.elapsed().as_millis() as u64;

    let mut chain = Vec::new();
    if let Some(g) = &job.grammar {
        chain.push(
            LlamaSampler::grammar(model, g, "root")
                .map_err(|e| LlmError::Local(format!("the reply grammar is invalid: {e}")))?,
        );
    }
    if job.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if let Some(p) = job.top_p.filter(|p| *p > 0.0 && *p < 1.0) {
            chain.push(LlamaSampler::top_p(p, 1));
        }
        chain.push(LlamaSampler::temp(job.temperature));
        chain.push(LlamaSampler::dist(job.seed));
    }
    let mut sampler = LlamaSampler::chain_simple(chain);

    let gen_started = Instant::now();
    let mut out: Vec<u8> = Vec::new();
    let mut generated = 0usize;
    let mut pos = tokens.len();
    while generated < max_new {
        let token = sampler.sample(ctx, logits_at);
        if vocab.is_eog(token) {
            break;
        }
        generated += 1;
        out.extend_from_slice(&vocab.token_to_piece(token, false, None));
        if !job.stop.is_empty() {
            let text = String::from_utf8_lossy(&out).into_owned();
            if let Some(cut) = job
                .stop
                .iter()
                .filter(|s| !s.is_empty())
                .filter_map(|s| text.find(s.as_str()))
                .min()
            {
                out = text.as_bytes()[..cut].to_vec();
                break;
            }
        }
        if generated >= max_new {
            break;
        }
        batch.clear();
        batch
            .add(token, pos as i32, &[seq], true)
            .map_err(batch_err)?;
        if let Err(e) = decode(ctx, &mut batch, slots, slot) {
            slots.clear(ctx, slot);
            return Err(e);
        }
        slots.tokens[slot].push(token);
        pos += 1;
        logits_at = 0;
    }
    Ok(Generated {
        text: String::from_utf8_lossy(&out).into_owned(),
        prompt_tokens: tokens.len() as u64,
        reused_tokens: keep as u64,
        completion_tokens: generated as u64,
        prompt_ms,
        generate_ms: gen_started.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_file_types() {
        assert_eq!(file_type_name("15"), "Q4_K_M");
        assert_eq!(file_type_name("99"), "file_type 99");
    }

    #[test]
    fn common_prefix_counts_equal_leading_tokens() {
        let a = [LlamaToken(1), LlamaToken(2), LlamaToken(3)];
        let b = [LlamaToken(1), LlamaToken(2), LlamaToken(4)];
        assert_eq!(common_prefix(&a, &b), 2);
        assert_eq!(common_prefix(&a, &a[..1]), 1);
        assert_eq!(common_prefix(&[], &a), 0);
    }
}
