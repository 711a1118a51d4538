//! `herd run`: a coordinator and N workers in this process, talking real gRPC over loopback,
//! on an embedded state store inside the output directory, so `--resume` can finish a run
//! that was interrupted without redoing finished tasks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use herd_coordinator::store::EmbeddedStore;
use herd_core::SweepConfig;
use herd_proto::v1::{SubmitSweepRequest, SweepStatus, WatchSweepRequest};
use herd_worker::runtime::{TaskRunner, WorkerSettings, run_worker};
use tokio_util::sync::CancellationToken;

use crate::local::{Coordinator, CoordinatorParts, open_action_host, worker_id};
use crate::progress::Progress;
use crate::signals::Shutdown;
use crate::summary::closing_summary;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The sweep config (TOML).
    pub sweep: PathBuf,
    /// Workers to start in this process.
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Tasks each worker runs at once.
    #[arg(long, default_value_t = 1)]
    pub slots: u32,
    /// Output directory (default: `runs/<sweep name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in `--out` instead of refusing to overwrite it.
    #[arg(long)]
    pub resume: bool,
    /// With `--resume`: give tasks recorded `failed` a fresh attempt budget (their earlier
    /// attempts stay in the attempt log and the report).
    #[arg(long, requires = "resume")]
    pub retry_failed: bool,
    /// Start every accumulating arm from this saved action library (JSONL).
    #[arg(long)]
    pub actions_from: Option<PathBuf>,
    /// No progress bars: a plain progress line every few seconds instead (the default when
    /// stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Serve the web dashboard on this address (e.g. `127.0.0.1:7780`) while the sweep
    /// runs — live progress, running tasks' steps, results — and after it ends, until
    /// Ctrl-C.
    #[arg(long, value_name = "ADDR")]
    pub dashboard: Option<String>,
}

pub async fn run(a: RunArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::install();
    let sweep = SweepConfig::load(&a.sweep)?;
    let text = std::fs::read_to_string(&a.sweep)
        .with_context(|| format!("failed to read `{}`", a.sweep.display()))?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&sweep.config.name));
    let state_path = out.join("state.redb");
    if state_path.exists() && !a.resume {
        bail!(
            "`{}` already holds a run; pass `--resume` to finish it, or `--out DIR` to start a new one",
            out.display()
        );
    }
    // Before anything is created: no engine, no image or no runtime is an error naming the
    // fix, never a silent unisolated run.
    herd_sandbox::preflight(&sweep.config.sandbox)
        .await
        .with_context(|| format!("sweep `{}` cannot start its sandboxes", a.sweep.display()))?;
    std::fs::create_dir_all(&out)
        .with_context(|| format!("failed to create `{}`", out.display()))?;
    let out = out.canonicalize()?;
    let store = Arc::new(EmbeddedStore::open(&state_path).await?);
    let actions = open_action_host(&out.join("actions"), &sweep.config.stores).await?;
    let coordinator = Coordinator::start(
        "127.0.0.1:0",
        CoordinatorParts {
            store,
            actions: Some(actions),
            data_dir: out.clone(),
            lease: Duration::from_secs(sweep.config.scheduler.lease_secs),
            heartbeat: Duration::from_secs(sweep.config.scheduler.heartbeat_secs),
            token: None,
            tls: None,
        },
    )
    .await?;
    let url = coordinator.url();
    let mut control =
        herd_proto::client::control_client(&url, None, None).map_err(anyhow::Error::msg)?;
    let base_dir = a
        .sweep
        .canonicalize()?
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let submitted = control
        .submit_sweep(SubmitSweepRequest {
            config_toml: text,
            base_dir,
            origin: a.sweep.display().to_string(),
            resume: a.resume,
            actions_from: a
                .actions_from
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            out_dir: out.display().to_string(),
            retry_failed: a.retry_failed,
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    let sweep_id = submitted.sweep_id.clone();
    let dashboard = match &a.dashboard {
        Some(listen) => {
            let runs = out
                .parent()
                .map(PathBuf::from)
                .unwrap_or_else(|| out.clone());
            let d =
                crate::web::serve(listen, runs, Some(url.clone()), crate::token_from_env()).await?;
            eprintln!("herd: dashboard on {}/sweeps/{sweep_id}", d.url);
            Some(d)
        }
        None => None,
    };
    eprintln!(
        "herd: sweep {sweep_id}: {} tasks{} · {} workers × {} slots · output in {}",
        submitted.tasks,
        if submitted.resumed { " (resumed)" } else { "" },
        a.workers,
        a.slots,
        out.display()
    );

    // A stable worker id per output directory, so a rerun removes sandboxes a crash left.
    let mut opts = herd_worker::agent_runner::RunnerOptions::for_local_run(&out);
    opts.worker_id = format!(
        "run-{}",
        &herd_coordinator::expand::sweep_id("", "", &out.display().to_string())[1..]
    );
    let runner: Arc<dyn TaskRunner> = herd_worker::agent_runner::AgentRunner::connect(opts)
        .await
        .map_err(anyhow::Error::msg)
        .context("failed to prepare workers")?;
    let worker_stop = CancellationToken::new();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..a.workers {
        let settings = WorkerSettings {
            coordinator: url.clone(),
            token: None,
            worker_id: worker_id("local-"),
            slots: a.slots,
            grace: Duration::from_secs(30),
            lease_wait: Duration::from_secs(2),
            exit_when_idle: None,
        };
        workers.spawn(run_worker(
            settings,
            runner.clone(),
            worker_stop.clone(),
            shutdown.kill.clone(),
        ));
    }

    let mut progress = Progress::new(a.no_progress);
    let mut stream = control
        .watch_sweep(WatchSweepRequest {
            sweep_id: sweep_id.clone(),
            ..Default::default()
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    let mut last: Option<SweepStatus> = None;
    let mut finished = false;
    // Plain progress lines are printed on a clock, not only when an event arrives.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => progress.tick(),
            ev = stream.message() => {
                match ev {
                    Ok(Some(ev)) => {
                        if let Some(st) = &ev.status {
                            progress.update(st);
                            last = Some(st.clone());
                        }
                        match ev.kind.as_str() {
                            "requeued" | "failed" => progress.println(&format!("  {} {}: {}", ev.kind, ev.task_key, ev.message)),
                            "phase" => progress.println(&format!("  {}", ev.message)),
                            "done" => { finished = true; progress.println(&format!("  {}", ev.message)); break; }
                            "snapshot" if ev.status.as_ref().is_some_and(|s| s.state == "done") => { finished = true; break; }
                            _ => {}
                        }
                    }
                    Ok(None) => break,
                    Err(e) => { eprintln!("herd: progress stream broke: {}", e.message()); break; }
                }
            }
            _ = shutdown.drain.cancelled() => break,
        }
    }
    progress.finish();
    worker_stop.cancel();
    while let Some(r) = workers.join_next().await {
        if let Ok(Err(e)) = r {
            eprintln!("herd: worker error: {e}");
        }
    }
    runner.shutdown_sandboxes().await;
    if !finished {
        // Partial run: write what exists.
        let p = coordinator.scheduler.export(&sweep_id).await?;
        eprintln!(
            "herd: run stopped early; partial results in {} — `herd run {} --out {} --resume` finishes it",
            p.display(),
            a.sweep.display(),
            out.display()
        );
    }
    let st = coordinator.scheduler.status(&sweep_id).await.ok().or(last);
    if let Some(st) = st {
        println!("{}", closing_summary(&st).await);
    }
    println!("results: {}", out.join("results.parquet").display());
    println!("report:  {}", out.join("report.md").display());
    if let Some(d) = dashboard {
        if !shutdown.drain.is_cancelled() {
            eprintln!(
                "herd: dashboard still on {}/sweeps/{sweep_id} — press Ctrl-C to exit",
                d.url
            );
            shutdown.drain.cancelled().await;
        }
        d.stop().await;
    }
    coordinator.stop().await;
    Ok(())
}
