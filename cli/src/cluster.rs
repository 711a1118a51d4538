//! Cluster commands: `herd coordinator`, `herd worker`, `herd submit`, `herd status`,
//! `herd cancel`. Thin: they parse flags, start the library parts and print.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use herd_coordinator::TlsFiles;
use herd_proto::v1::{CancelSweepRequest, GetSweepRequest, SubmitSweepRequest, WatchSweepRequest};
use herd_worker::runtime::{TaskRunner, WorkerSettings, run_worker};

use crate::local::{Coordinator, CoordinatorParts, open_action_host, worker_id};
use crate::progress::Progress;
use crate::signals::Shutdown;
use crate::summary::closing_summary;
use crate::token_from_env;

#[derive(Args, Debug)]
pub struct CoordinatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7700")]
    pub listen: String,
    /// State store: a file path (embedded) or `redis://host:port/db`.
    #[arg(long, default_value = "herd-data/state.redb")]
    pub state: String,
    /// Directory for sweep outputs and the embedded action store.
    #[arg(long, default_value = "herd-data")]
    pub data: PathBuf,
    /// Lease length, seconds.
    #[arg(long, default_value_t = 30)]
    pub lease_secs: u64,
    /// Heartbeat interval workers are told to use, seconds.
    #[arg(long, default_value_t = 5)]
    pub heartbeat_secs: u64,
    /// Serve TLS with this certificate (PEM) …
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// … and this key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Do not host an action store (sweeps with accumulation then fail their action calls).
    #[arg(long)]
    pub no_actions: bool,
    /// Keep actions in this Qdrant server (its gRPC URL, e.g. `http://qdrant:6334`) instead
    /// of the embedded store. Checked at start: a wrong URL or key stops the coordinator.
    #[arg(long, env = "HERD_QDRANT_URL")]
    pub qdrant_url: Option<String>,
    /// The environment variable holding the Qdrant API key (default: HERD_QDRANT_API_KEY).
    #[arg(long, requires = "qdrant_url")]
    pub qdrant_api_key_env: Option<String>,
    /// Also serve the web dashboard on this address (e.g. `0.0.0.0:7780`): live sweeps and
    /// the finished runs under `DATA/sweeps`. With `HERD_TOKEN` set it asks for the token.
    #[arg(long, value_name = "ADDR")]
    pub dashboard: Option<String>,
}

pub async fn coordinator(a: CoordinatorArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::install();
    if a.heartbeat_secs == 0 || a.lease_secs <= a.heartbeat_secs {
        anyhow::bail!(
            "`--lease-secs` ({}) must be larger than `--heartbeat-secs` ({})",
            a.lease_secs,
            a.heartbeat_secs
        );
    }
    std::fs::create_dir_all(&a.data)
        .with_context(|| format!("failed to create `{}`", a.data.display()))?;
    let store = herd_coordinator::store::open(&a.state).await?;
    let actions = if a.no_actions {
        None
    } else {
        let stores = herd_core::config::StoresConfig {
            qdrant_url: a.qdrant_url.clone(),
            qdrant_api_key_env: a.qdrant_api_key_env.clone(),
            ..Default::default()
        };
        Some(open_action_host(&a.data.join("actions"), &stores).await?)
    };
    let tls = a.tls_cert.is_some();
    let coord = Coordinator::start(
        &a.listen,
        CoordinatorParts {
            store,
            actions,
            data_dir: a.data.canonicalize()?,
            lease: Duration::from_secs(a.lease_secs),
            heartbeat: Duration::from_secs(a.heartbeat_secs),
            token: token_from_env(),
            tls: a
                .tls_cert
                .zip(a.tls_key)
                .map(|(cert, key)| TlsFiles { cert, key }),
        },
    )
    .await?;
    eprintln!("herd: coordinator listening on {}", coord.addr);
    let dashboard = match &a.dashboard {
        Some(listen) => {
            // The dashboard is the coordinator's own client: over TLS it names the host the
            // certificate is for (trusted through HERD_TLS_CA, like every client).
            let own = if tls {
                format!("https://localhost:{}", coord.addr.port())
            } else {
                coord.url()
            };
            let d = crate::web::serve(listen, a.data.join("sweeps"), Some(own), token_from_env())
                .await?;
            eprintln!("herd: dashboard on {}", d.url);
            Some(d)
        }
        None => None,
    };
    shutdown.drain.cancelled().await;
    eprintln!("herd: coordinator stopping");
    if let Some(d) = dashboard {
        d.stop().await;
    }
    coord.stop().await;
    Ok(())
}

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Coordinator URL, e.g. `http://10.0.0.5:7700`.
    #[arg(long, env = "HERD_COORDINATOR")]
    pub coordinator: String,
    /// Tasks run at once.
    #[arg(long, default_value_t = 2)]
    pub slots: u32,
    /// A stable worker id (default: host name and a random suffix). A worker that restarts
    /// with the same id removes the sandboxes its earlier self left behind.
    #[arg(long, env = "HERD_WORKER_ID")]
    pub id: Option<String>,
    /// Seconds running tasks may go on after SIGTERM before they are handed back.
    #[arg(long, default_value_t = 60)]
    pub grace_secs: u64,
    /// Working directory for caches (response cache, models).
    #[arg(long, default_value = "herd-worker")]
    pub work_dir: PathBuf,
    /// Exit after this many seconds without work (default: run until stopped).
    #[arg(long)]
    pub exit_when_idle_secs: Option<u64>,
    /// Start without a Docker engine: only sweeps with `sandbox.kind = "local"` (unisolated)
    /// can run here; tasks of other sweeps are handed back.
    #[arg(long)]
    pub without_docker: bool,
}

pub async fn worker(a: WorkerArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::install();
    if !a.without_docker {
        herd_sandbox::check_engine().await.context(
            "the worker starts its tasks' sandboxes on a local Docker engine (pass \
             `--without-docker` to serve only sweeps with `sandbox.kind = \"local\"`)",
        )?;
    }
    std::fs::create_dir_all(&a.work_dir)?;
    let id = a.id.clone().unwrap_or_else(|| worker_id(""));
    let mut opts =
        herd_worker::agent_runner::RunnerOptions::for_local_run(&a.work_dir.canonicalize()?);
    opts.worker_id = id.clone();
    let runner: Arc<dyn TaskRunner> = herd_worker::agent_runner::AgentRunner::connect(opts)
        .await
        .map_err(anyhow::Error::msg)
        .context("failed to prepare the worker")?;
    eprintln!("herd: worker {id} → {} ({} slots)", a.coordinator, a.slots);
    run_worker(
        WorkerSettings {
            coordinator: a.coordinator,
            token: token_from_env(),
            worker_id: id,
            slots: a.slots,
            grace: Duration::from_secs(a.grace_secs),
            lease_wait: Duration::from_secs(5),
            exit_when_idle: a.exit_when_idle_secs.map(Duration::from_secs),
        },
        runner.clone(),
        shutdown.drain.clone(),
        shutdown.kill.clone(),
    )
    .await?;
    runner.shutdown_sandboxes().await;
    Ok(())
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    pub sweep: PathBuf,
    #[arg(long, env = "HERD_COORDINATOR")]
    pub coordinator: String,
    /// Resume the sweep if the coordinator already has it.
    #[arg(long)]
    pub resume: bool,
    /// Start accumulating arms from a saved action library (JSONL path on the coordinator host).
    #[arg(long)]
    pub actions_from: Option<String>,
    /// With `--resume`: give tasks recorded `failed` a fresh attempt budget (their earlier
    /// attempts stay in the attempt log and the report).
    #[arg(long, requires = "resume")]
    pub retry_failed: bool,
}

pub async fn submit(a: SubmitArgs) -> anyhow::Result<()> {
    // Validate here first, for errors that name the local file.
    herd_core::SweepConfig::load(&a.sweep)?;
    let text = std::fs::read_to_string(&a.sweep)?;
    let url = a.coordinator.clone();
    let mut c =
        herd_proto::client::control_client(&a.coordinator, token_from_env().as_deref(), None)
            .map_err(anyhow::Error::msg)?;
    let base = a
        .sweep
        .canonicalize()?
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let r = c
        .submit_sweep(SubmitSweepRequest {
            config_toml: text,
            base_dir: base,
            origin: a.sweep.display().to_string(),
            resume: a.resume,
            actions_from: a.actions_from.unwrap_or_default(),
            out_dir: String::new(),
            retry_failed: a.retry_failed,
        })
        .await
        .map_err(|s| rpc_error(&url, s))?
        .into_inner();
    println!("{}", r.sweep_id);
    eprintln!(
        "herd: {} tasks{}",
        r.tasks,
        if r.resumed { " (resumed)" } else { "" }
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    pub sweep_id: String,
    #[arg(long, env = "HERD_COORDINATOR")]
    pub coordinator: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Follow progress live until the sweep ends.
    #[arg(long)]
    pub watch: bool,
}

pub async fn status(a: StatusArgs) -> anyhow::Result<()> {
    let url = a.coordinator.clone();
    let mut c =
        herd_proto::client::control_client(&a.coordinator, token_from_env().as_deref(), None)
            .map_err(anyhow::Error::msg)?;
    if a.watch && !a.json {
        let shutdown = Shutdown::install();
        let mut stream = c
            .watch_sweep(WatchSweepRequest {
                sweep_id: a.sweep_id.clone(),
                ..Default::default()
            })
            .await
            .map_err(|s| rpc_error(&url, s))?
            .into_inner();
        let mut p = Progress::new(false);
        let mut last = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => p.tick(),
                ev = stream.message() => match ev {
                    Ok(Some(ev)) => {
                        if let Some(st) = ev.status { p.update(&st); last = Some(st); }
                        if ev.kind == "done" || ev.kind == "cancelled" { break; }
                    }
                    _ => break,
                },
                _ = shutdown.drain.cancelled() => break,
            }
        }
        p.finish();
        if let Some(st) = last {
            println!("{}", closing_summary(&st).await);
        }
        return Ok(());
    }
    let st = c
        .get_sweep(GetSweepRequest {
            sweep_id: a.sweep_id,
        })
        .await
        .map_err(|s| rpc_error(&url, s))?
        .into_inner();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&status_json(&st))?);
    } else {
        println!("{}", closing_summary(&st).await);
    }
    Ok(())
}

fn status_json(st: &herd_proto::v1::SweepStatus) -> serde_json::Value {
    serde_json::json!({
        "sweep_id": st.sweep_id, "name": st.name, "state": st.state, "phase": st.phase,
        "total": st.total, "done": st.done, "running": st.running, "failed": st.failed,
        "queued": st.queued, "scored": st.scored, "correct": st.correct, "cost_usd": st.cost_usd,
        "eta_secs": st.eta_secs, "out_dir": st.out_dir,
        "groups": st.groups.iter().map(|g| serde_json::json!({
            "benchmark": g.benchmark, "backbone": g.backbone, "arm": g.arm, "total": g.total,
            "done": g.done, "running": g.running, "failed": g.failed, "timeout": g.timeout,
            "budget": g.budget, "cancelled": g.cancelled, "scored": g.scored,
            "correct": g.correct, "cost_usd": g.cost_usd, "training": g.training,
        })).collect::<Vec<_>>(),
    })
}

#[derive(Args, Debug)]
pub struct CancelArgs {
    pub sweep_id: String,
    #[arg(long, env = "HERD_COORDINATOR")]
    pub coordinator: String,
}

pub async fn cancel(a: CancelArgs) -> anyhow::Result<()> {
    let url = a.coordinator.clone();
    let mut c =
        herd_proto::client::control_client(&a.coordinator, token_from_env().as_deref(), None)
            .map_err(anyhow::Error::msg)?;
    let r = c
        .cancel_sweep(CancelSweepRequest {
            sweep_id: a.sweep_id.clone(),
        })
        .await
        .map_err(|s| rpc_error(&url, s))?
        .into_inner();
    eprintln!(
        "herd: sweep {} cancelled; {} running tasks told to stop",
        a.sweep_id, r.cancelled_leases
    );
    Ok(())
}

/// A failed call, said plainly: an unreachable coordinator names its URL.
fn rpc_error(url: &str, s: tonic::Status) -> anyhow::Error {
    match s.code() {
        tonic::Code::Unavailable => {
            anyhow::anyhow!("coordinator `{url}` is unreachable: {}", s.message())
        }
        _ => anyhow::anyhow!("{}", s.message()),
    }
}
