//! `herd bench e2e`: N tasks through `herd run` — real Docker sandboxes, one fresh container
//! per task — against a test double model with a fixed latency, beside two floors measured in
//! the same run: the latency-bound ideal and the engine's bare container-lifecycle rate.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// What `herd bench e2e` runs.
#[derive(Debug, Clone)]
pub struct E2eOptions {
    pub tasks: usize,
    /// Tasks in flight at once (two workers, half the slots each).
    pub concurrency: usize,
    /// The model's latency per reply.
    pub latency: Duration,
    /// `sandbox.max_starts_per_second` (the adaptive rate's ceiling); `None`: the default.
    pub ceiling: Option<f64>,
    /// Containers in flight at once for the engine floor.
    pub floor_concurrency: usize,
}

/// The test double: every request is answered after `latency` with a step that submits.
async fn start_model(latency: Duration) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: axum::Json<serde_json::Value>| async move {
            tokio::time::sleep(latency).await;
            let content = serde_json::json!({
                "thought": "The product is known.",
                "code": "submit_final_answer(\"888\")",
            })
            .to_string();
            let model = body.0["model"].as_str().unwrap_or("fake").to_string();
            axum::Json(serde_json::json!({
                "id": "bench",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, server))
}

/// Busy CPU time of the whole machine (every core, user + system + irq …), from /proc/stat.
fn machine_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …: all but idle and iowait are busy.
    let busy: u64 = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(busy * 10))
}

fn sweep_toml(model_url: &str, tasks: usize, ceiling: Option<f64>) -> (String, usize) {
    // herd-mini has 24 items: `epochs` × `limit` tasks, exactly `tasks` where a divisor
    // allows, else just above it.
    let tasks = tasks.max(1);
    let first = tasks.div_ceil(24);
    let epochs = (first..=tasks)
        .find(|e| tasks.is_multiple_of(*e) && tasks / e <= 24)
        .unwrap_or(first);
    let limit = tasks.div_ceil(epochs).clamp(1, 24);
    let ceiling = ceiling
        .map(|c| format!("max_starts_per_second = {c}\n"))
        .unwrap_or_default();
    (
        format!(
            r#"name = "bench-e2e"
seed = 1
epochs = {epochs}

[[benchmarks]]
kind = "herd-mini"
source = "builtin"
limit = {limit}

[[backbones]]
name = "fake"
provider = "openai"
model = "fake-model"
base_url = "{model_url}"
temperature = 0.0
cache = "off"
max_retries = 1
request_timeout_secs = 60

[[arms]]
name = "base"
accumulation = "off"
user_actions = false
max_steps = 2

[sandbox]
kind = "docker"
{ceiling}
[limits]
wall_time_secs = 300
max_attempts = 2
"#
        ),
        epochs * limit,
    )
}

/// Runs the benchmark and returns its table.
pub async fn bench_e2e(opts: &E2eOptions) -> anyhow::Result<String> {
    let sandbox = herd_core::config::SandboxConfig::default();
    herd_sandbox::preflight(&sandbox)
        .await
        .context("herd bench e2e runs real Docker sandboxes")?;
    let dir = tempfile::tempdir()?;
    let (model_url, server) = start_model(opts.latency).await?;
    let (toml, tasks) = sweep_toml(&model_url, opts.tasks, opts.ceiling);
    let sweep = dir.path().join("bench-e2e.toml");
    std::fs::write(&sweep, toml)?;

    // The engine's floor first, on the same number of containers.
    let (floor, floor_ok) =
        herd_sandbox::start_floor(&sandbox, tasks, opts.floor_concurrency).await?;
    if floor_ok < tasks {
        bail!("only {floor_ok} of {tasks} bare containers started for the floor measurement");
    }
    // The same burst with herd's container spec, each until its kernel answers.
    let (spec_floor, spec_ok) =
        herd_sandbox::spec_floor(&sandbox, tasks, opts.floor_concurrency).await?;
    if spec_ok < tasks {
        bail!("only {spec_ok} of {tasks} sandboxes started for the spec floor measurement");
    }

    let workers = 2usize.min(opts.concurrency.max(1));
    let slots = opts.concurrency.div_ceil(workers).max(1);
    let out = dir.path().join("out");
    let log = dir.path().join("run.log");
    let exe = std::env::current_exe().context("locating the herd binary")?;
    let cpu0 = machine_cpu();
    let t = Instant::now();
    let status = tokio::process::Command::new(exe)
        .args([
            "run",
            sweep.to_str().context("utf-8 temp path")?,
            "--out",
            out.to_str().context("utf-8 temp path")?,
            "--workers",
            &workers.to_string(),
            "--slots",
            &slots.to_string(),
            "--no-progress",
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(dir.path().join("run.err"))?)
        .status()
        .await?;
    let wall = t.elapsed();
    let cpu = match (cpu0, machine_cpu()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    server.abort();
    if !status.success() {
        let err = std::fs::read_to_string(dir.path().join("run.err")).unwrap_or_default();
        bail!("herd run failed ({status}):\n{err}");
    }
    let (results, _) = herd_report::read_result_records(&out)?;
    let scored = results.iter().filter(|r| r.status == "scored").count();
    Ok(table(
        opts,
        tasks,
        workers * slots,
        wall,
        cpu,
        Floors {
            bare: floor,
            spec: spec_floor,
        },
        scored,
    ))
}

/// The two container-start floors measured in the run.
struct Floors {
    /// Bare `/bin/true` containers: create, start, wait, remove.
    bare: Duration,
    /// herd's sandbox spec: create, attach, start until the kernel answers, remove.
    spec: Duration,
}

fn table(
    opts: &E2eOptions,
    tasks: usize,
    concurrency: usize,
    wall: Duration,
    cpu: Option<Duration>,
    floors: Floors,
    scored: usize,
) -> String {
    // One model call per task (it submits at its first step).
    let ideal = opts.latency.as_secs_f64() * tasks.div_ceil(concurrency) as f64;
    let floor_s = floors.bare.as_secs_f64();
    let spec_s = floors.spec.as_secs_f64();
    let w = wall.as_secs_f64();
    let mut s = String::new();
    s.push_str(&format!(
        "herd bench e2e: {tasks} tasks, concurrency {concurrency}, model latency {} ms, start-rate ceiling {}\n\n",
        opts.latency.as_millis(),
        opts.ceiling
            .map(|c| format!("{c}/s"))
            .unwrap_or_else(|| "default (adaptive)".into())
    ));
    s.push_str("| measure | value | herd / it |\n| --- | ---: | ---: |\n");
    s.push_str(&format!("| herd run wall time | {w:.1} s | — |\n"));
    s.push_str(&format!("| tasks scored | {scored} of {tasks} | — |\n"));
    match cpu {
        Some(c) => s.push_str(&format!(
            "| machine CPU per task (all cores) | {:.0} ms | — |\n",
            c.as_secs_f64() * 1000.0 / tasks.max(1) as f64
        )),
        None => s.push_str("| machine CPU per task | unavailable (/proc/stat) | — |\n"),
    }
    s.push_str(&format!(
        "| latency-bound ideal ({} waves × {} ms) | {ideal:.1} s | {:.2}× |\n",
        tasks.div_ceil(concurrency),
        opts.latency.as_millis(),
        w / ideal.max(1e-9)
    ));
    s.push_str(&format!(
        "| container-start floor ({tasks} bare create/start/rm, {} at once) | {floor_s:.1} s | {:.2}× |\n",
        opts.floor_concurrency,
        w / floor_s.max(1e-9)
    ));
    s.push_str(&format!(
        "| container-start floor, herd's sandbox spec ({tasks} create/attach/start to a kernel that answers/rm, {} at once) | {spec_s:.1} s | {:.2}× |\n",
        opts.floor_concurrency,
        w / spec_s.max(1e-9)
    ));
    s.push_str(&format!(
        "\ntarget: within 1.2× of the bare container floor: {}; of the sandbox-spec floor: {}\n",
        if w <= 1.2 * floor_s { "met" } else { "NOT met" },
        if w <= 1.2 * spec_s { "met" } else { "NOT met" }
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_holds_about_the_asked_number_of_tasks() {
        let (toml, n) = sweep_toml("http://127.0.0.1:1/v1", 200, None);
        assert_eq!(
            n, 200,
            "9 epochs × 23 items would overshoot; 10 × 20 is exact"
        );
        assert!(toml.contains("epochs = 10"), "{toml}");
        let cfg = herd_core::SweepConfig::from_toml_str(&toml, "bench.toml").unwrap();
        assert_eq!(cfg.epochs as usize * cfg.benchmarks[0].limit.unwrap(), n);
        assert_eq!(sweep_toml("u", 10, Some(30.0)).1, 10);
        assert!(
            sweep_toml("u", 10, Some(30.0))
                .0
                .contains("max_starts_per_second = 30")
        );
    }
}
