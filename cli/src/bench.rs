//! `herd bench …`: benchmarks that print a table. Targets are reported next to a baseline
//! measured in the same run, never asserted: these machines are noisy.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use herd_coordinator::store::{EmbeddedStore, StateStore};
use herd_core::outcome::{EndReason, TaskOutcome};
use herd_proto::v1::{LeaseRequest, ReportBatchRequest, ReportRequest, SubmitSweepRequest};

use crate::local::{Coordinator, CoordinatorParts};

/// Which action stores `herd bench retrieval` measures.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchStore {
    /// The embedded qdrant-edge store only.
    Embedded,
    /// The embedded store and a Qdrant server, on the same vectors.
    Server,
}

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Tasks leased and reported per second over gRPC (embedded store and Redis), lease
    /// latency, memory per queued task.
    Scheduler {
        /// Tasks per throughput run.
        #[arg(long, default_value_t = 20_000)]
        tasks: usize,
        /// Concurrent in-process workers.
        #[arg(long, default_value_t = 8)]
        workers: usize,
        /// Tasks queued for the memory measurement.
        #[arg(long, default_value_t = 1_000_000)]
        queued: usize,
        /// Redis URL; default: start `redis-server` on a free port.
        #[arg(long)]
        redis: Option<String>,
    },
    /// Load and score the full MATH test.
    Datasets {
        /// The local datasets folder (the `HERD_DATASETS_DIR` layout).
        #[arg(long, env = "HERD_DATASETS_DIR", default_value = "../shared/datasets")]
        shared: PathBuf,
    },
    /// Warm pool vs cold container start.
    Sandbox {
        #[arg(long, default_value_t = 30)]
        iterations: usize,
        #[arg(long, default_value_t = 8)]
        burst: usize,
        /// Also measure this Docker runtime (e.g. `runsc`), beside the engine's default.
        #[arg(long)]
        runtime: Option<String>,
    },
    /// Agent loop overhead and 1,000 concurrent tasks against a slow fake model.
    Agent,
    /// Embedding throughput and search latency at 1k/10k/100k actions vs brute force.
    Retrieval {
        /// Library sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000, 100_000])]
        sizes: Vec<usize>,
        /// HNSW graph degree (default: the store's).
        #[arg(long)]
        m: Option<usize>,
        /// HNSW build beam (default: the store's).
        #[arg(long)]
        ef_construct: Option<usize>,
        /// HNSW search beam (default: the store's).
        #[arg(long)]
        ef: Option<usize>,
        /// Only the text-like distribution (skip the uniform stress case).
        #[arg(long)]
        text_only: bool,
        /// `server`: also measure a Qdrant server on the same vectors (the one at
        /// `--qdrant-url`, else a throwaway one started from the herd cache).
        #[arg(long, value_enum, default_value = "embedded")]
        store: BenchStore,
        /// The Qdrant server to measure with `--store server` (key in HERD_QDRANT_API_KEY).
        #[arg(long, env = "HERD_QDRANT_URL")]
        qdrant_url: Option<String>,
    },
    /// N tasks through `herd run` with real Docker sandboxes against a fixed-latency test
    /// double model, beside the latency-bound ideal and the engine's container-start floor.
    E2e {
        #[arg(long, default_value_t = 200)]
        tasks: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// The model's latency per reply, milliseconds.
        #[arg(long, default_value_t = 200)]
        latency_ms: u64,
        /// `sandbox.max_starts_per_second` for the run (default: the config default, a
        /// ceiling over the adaptive rate); e.g. 4 for the fixed rate herd had before.
        #[arg(long)]
        max_starts_per_second: Option<f64>,
        /// Bare containers in flight at once for the floor measurement.
        #[arg(long, default_value_t = 8)]
        floor_concurrency: usize,
    },
    /// Dashboard pages (run, filtered tasks, search, arm comparison) over HTTP for a
    /// synthetic run of N tasks vs a small baseline run, memory, and SSE fan-out to many
    /// clients of one live sweep vs one client.
    Dashboard {
        /// Tasks in the measured run.
        #[arg(long, default_value_t = 1_000_000)]
        tasks: usize,
        /// Tasks in the baseline run (same server, same process).
        #[arg(long, default_value_t = 10_000)]
        baseline: usize,
        /// Timed requests per page kind after its first load.
        #[arg(long, default_value_t = 30)]
        requests: usize,
        /// SSE clients on the live sweep.
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Events applied to the live sweep per SSE measurement.
        #[arg(long, default_value_t = 200)]
        events: usize,
        /// Keep the synthetic runs here (reused by later runs of the same sizes) instead of
        /// a temporary directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The full report from 1 million synthetic results vs a row-by-row loop.
    Report {
        #[arg(long, default_value_t = 1_000_000)]
        tasks: usize,
    },
}

pub async fn bench(cmd: BenchCmd) -> anyhow::Result<()> {
    let table = match cmd {
        BenchCmd::Scheduler {
            tasks,
            workers,
            queued,
            redis,
        } => scheduler(tasks, workers, queued, redis).await?,
        BenchCmd::Datasets { shared } => {
            tokio::task::spawn_blocking(move || herd_datasets::bench_datasets(&shared)).await??
        }
        BenchCmd::Sandbox {
            iterations,
            burst,
            runtime,
        } => {
            let mut out = String::from("## runtime: the engine's default (runc)\n\n");
            out.push_str(
                &herd_sandbox::bench_sandbox(&Default::default(), iterations, burst).await?,
            );
            if let Some(rt) = runtime {
                let cfg = herd_core::config::SandboxConfig {
                    runtime: Some(rt.clone()),
                    ..Default::default()
                };
                out.push_str(&format!("\n## runtime: {rt} (same run)\n\n"));
                out.push_str(&herd_sandbox::bench_sandbox(&cfg, iterations, burst).await?);
            }
            out
        }
        BenchCmd::Agent => herd_worker::agent::bench::bench_agent(&Default::default()).await?,
        BenchCmd::E2e {
            tasks,
            concurrency,
            latency_ms,
            max_starts_per_second,
            floor_concurrency,
        } => {
            crate::bench_e2e::bench_e2e(&crate::bench_e2e::E2eOptions {
                tasks,
                concurrency,
                latency: Duration::from_millis(latency_ms),
                ceiling: max_starts_per_second,
                floor_concurrency,
            })
            .await?
        }
        BenchCmd::Retrieval {
            sizes,
            m,
            ef_construct,
            ef,
            text_only,
            store,
            qdrant_url,
        } => {
            let e = herd_coordinator::actions_host::open_embedder(&Default::default())
                .await
                .map_err(anyhow::Error::msg)?;
            let dir = tempfile::tempdir()?;
            let mut opts = herd_actions::BenchOptions::new(dir.path());
            opts.sizes = sizes;
            if let Some(m) = m {
                opts.store.hnsw_m = m;
            }
            if let Some(x) = ef_construct {
                opts.store.hnsw_ef_construct = x;
            }
            if let Some(x) = ef {
                opts.store.search_ef = x;
            }
            if text_only {
                opts.distributions = vec![herd_actions::bench::Distribution::Clustered];
            }
            // Kept alive until the benchmark ends; killed and removed on drop.
            let mut _throwaway = None;
            if store == BenchStore::Server {
                opts.server = Some(match qdrant_url {
                    Some(url) => (
                        url,
                        herd_core::config::StoresConfig::default()
                            .qdrant_api_key()
                            .map_err(anyhow::Error::msg)?,
                    ),
                    None => {
                        let s = tokio::task::spawn_blocking(herd_testkit::QdrantServer::try_start)
                            .await?
                            .map_err(anyhow::Error::msg)?;
                        let target = (s.url.clone(), Some(s.api_key.clone()));
                        _throwaway = Some(s);
                        target
                    }
                });
            }
            herd_actions::bench_retrieval(&opts, Some(e)).await?
        }
        BenchCmd::Dashboard {
            tasks,
            baseline,
            requests,
            clients,
            events,
            dir,
        } => {
            crate::bench_dashboard::bench_dashboard(
                &crate::bench_dashboard::DashboardBenchOptions {
                    tasks,
                    baseline,
                    requests,
                    clients,
                    events,
                    dir,
                },
            )
            .await?
        }
        BenchCmd::Report { tasks } => {
            tokio::task::spawn_blocking(move || herd_report::bench_report(tasks)).await??
        }
    };
    println!("{table}");
    Ok(())
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// A sweep of herd-mini repeated over epochs: `n` tasks with no dataset beyond the builtin one.
fn bench_sweep(name: &str, n: usize) -> String {
    let epochs = n.div_ceil(24).max(1);
    format!(
        "name = \"{name}\"\nepochs = {epochs}\n[[benchmarks]]\nkind = \"herd-mini\"\n\
         [[backbones]]\nname = \"b\"\nprovider = \"local\"\nmodel = \"x\"\n[[arms]]\nname = \"a\"\n"
    )
}

struct Throughput {
    tasks: usize,
    secs: f64,
    lease_p50: Duration,
    lease_p99: Duration,
}

async fn throughput(
    store: Arc<dyn StateStore>,
    dir: &std::path::Path,
    tasks: usize,
    workers: usize,
    with_trajectories: bool,
) -> anyhow::Result<Throughput> {
    let coord = Coordinator::start(
        "127.0.0.1:0",
        CoordinatorParts {
            store,
            actions: None,
            data_dir: dir.to_path_buf(),
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(10),
            token: None,
            tls: None,
        },
    )
    .await?;
    let url = coord.url();
    let mut control =
        herd_proto::client::control_client(&url, None, None).map_err(anyhow::Error::msg)?;
    let sub = control
        .submit_sweep(SubmitSweepRequest {
            config_toml: bench_sweep("bench", tasks),
            base_dir: ".".into(),
            origin: "bench.toml".into(),
            out_dir: dir.join("out").display().to_string(),
            retry_failed: false,
            ..Default::default()
        })
        .await?
        .into_inner();
    let total = sub.tasks as usize;
    let outcome = serde_json::to_vec(&TaskOutcome {
        end: EndReason::Submitted,
        answer: Some("1".into()),
        raw_answer: Some("1".into()),
        metrics: Default::default(),
        sandbox: Default::default(),
        model_identity: "bench".into(),
        error: None,
        // Tasks that finish at once have no trajectory; the `+ trajectories` row gives each
        // a small one, so the coordinator also writes a file per task.
        trajectory: herd_core::trajectory::Trajectory {
            task_prompt: if with_trajectories {
                "What is 1 + 0?".into()
            } else {
                String::new()
            },
            ..Default::default()
        },
    })?;
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let mut client =
            herd_proto::client::worker_client(&url, None, None).map_err(anyhow::Error::msg)?;
        let outcome = outcome.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let id = format!("bench-{w}");
            loop {
                let t = Instant::now();
                let leases = client
                    .lease_tasks(LeaseRequest {
                        worker_id: id.clone(),
                        max_tasks: 16,
                        wait_ms: 0,
                    })
                    .await?
                    .into_inner()
                    .leases;
                lat.push(t.elapsed());
                if leases.is_empty() {
                    break;
                }
                // Tasks that finish at once go back in one call, as the worker's reporter
                // sends them.
                let reports = leases
                    .into_iter()
                    .map(|l| ReportRequest {
                        worker_id: id.clone(),
                        lease_id: l.lease_id,
                        task_key: l.task_key,
                        attempt: l.attempt,
                        outcome_json: outcome.clone(),
                        hand_back: false,
                    })
                    .collect();
                let items = client
                    .report_results(ReportBatchRequest { reports })
                    .await?
                    .into_inner()
                    .items;
                if let Some(bad) = items.iter().find(|i| i.response.is_none()) {
                    anyhow::bail!("the coordinator refused a report: {}", bad.error);
                }
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    coord.stop().await;
    Ok(Throughput {
        tasks: total,
        secs,
        lease_p50: percentile(&lat, 0.5),
        lease_p99: percentile(&lat, 0.99),
    })
}

/// The same lease → report cycle on a plain in-memory queue: no store, no gRPC.
fn baseline(n: usize) -> f64 {
    let start = Instant::now();
    let mut q: VecDeque<usize> = (0..n).collect();
    let mut leased = std::collections::HashMap::new();
    let mut done = Vec::with_capacity(n);
    while let Some(t) = q.pop_front() {
        leased.insert(t, format!("lease-{t}"));
        let l = leased.remove(&t);
        done.push((t, l));
    }
    std::hint::black_box(&done);
    n as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

async fn scheduler(
    tasks: usize,
    workers: usize,
    queued: usize,
    redis: Option<String>,
) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let mut out = String::from(
        "herd bench scheduler (lease + report over gRPC on loopback; tasks finish at once)\n\n",
    );
    out.push_str(&format!(
        "{:<12} {:>8} {:>9} {:>11} {:>12} {:>12}\n",
        "store", "tasks", "seconds", "tasks/s", "lease p50", "lease p99"
    ));
    let embedded: Arc<dyn StateStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("bench.redb")).await?);
    let e = throughput(embedded, dir.path(), tasks, workers, false).await?;
    let row = |name: &str, t: &Throughput| {
        format!(
            "{:<12} {:>8} {:>9.2} {:>11.0} {:>12?} {:>12?}\n",
            name,
            t.tasks,
            t.secs,
            t.tasks as f64 / t.secs,
            t.lease_p50,
            t.lease_p99
        )
    };
    out.push_str(&row("embedded", &e));
    let embedded: Arc<dyn StateStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("bench-traj.redb")).await?);
    let et = throughput(embedded, &dir.path().join("traj"), tasks, workers, true).await?;
    out.push_str(&row("  + traj", &et));
    let mut redis_server = None;
    let url = match redis {
        Some(u) => Some(u),
        None => match start_redis() {
            Ok((child, url)) => {
                redis_server = Some(child);
                Some(url)
            }
            Err(err) => {
                out.push_str(&format!("{:<12} skipped: {err}\n", "redis"));
                None
            }
        },
    };
    if let Some(url) = url {
        let store = herd_coordinator::store::open(&url).await?;
        let r = throughput(store, &dir.path().join("redis"), tasks, workers, false).await?;
        out.push_str(&row("redis", &r));
    }
    if let Some(mut c) = redis_server {
        let _ = c.kill();
        let _ = c.wait();
    }
    let base = baseline(tasks.max(100_000));
    out.push_str(&format!(
        "{:<12} {:>8} {:>9} {:>11.0}   (in-memory queue, no store, no gRPC: the ceiling)\n",
        "baseline",
        tasks.max(100_000),
        "",
        base
    ));
    out.push_str(&format!(
        "\nembedded reaches {:.1}% of the in-memory ceiling; targets: ≥10,000 tasks/s embedded, ≥3,000 with Redis\n",
        100.0 * (e.tasks as f64 / e.secs) / base
    ));
    out.push_str(
        "`+ traj`: the same with a trajectory file (trajectories/<key>.json.gz) written per task, \
         which the filesystem's file creation bounds\n",
    );

    // Memory per queued task: RSS before and after queueing `queued` tasks.
    let store: Arc<dyn StateStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("mem.redb")).await?);
    let s = herd_coordinator::Scheduler::start(
        store,
        None,
        herd_coordinator::SchedulerSettings {
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(10),
            data_dir: dir.path().to_path_buf(),
        },
    )
    .await?;
    let before = rss_mib();
    let t = Instant::now();
    let sub = s
        .submit(
            bench_sweep("mem", queued),
            "mem.toml".into(),
            PathBuf::from("."),
            herd_coordinator::scheduler::SubmitOptions {
                out_dir: Some(dir.path().join("mem")),
                ..Default::default()
            },
        )
        .await
        .context("queueing tasks")?;
    let after = rss_mib();
    out.push_str(&format!(
        "\nqueued {} tasks in {:.2}s: RSS {:.0} MiB → {:.0} MiB, {:.0} bytes per queued task (target: 1M tasks under 2 GB)\n",
        sub.tasks,
        t.elapsed().as_secs_f64(),
        before,
        after,
        (after - before).max(0.0) * 1024.0 * 1024.0 / sub.tasks.max(1) as f64
    ));
    Ok(out)
}

fn start_redis() -> anyhow::Result<(std::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("redis-server not found (scripts/setup-redis.sh installs it)")?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((child, format!("redis://127.0.0.1:{port}/0")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("redis-server did not start")
}
