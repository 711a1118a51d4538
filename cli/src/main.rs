//! `herd`: the one binary over herd's libraries. Each subcommand is a thin adapter; the
//! logic lives in the crates (coordinator, worker, datasets, sandbox, actions, report).

use clap::{Parser, Subcommand};

mod bench;
mod bench_dashboard;
mod bench_e2e;
mod cluster;
mod local;
mod progress;
mod run;
mod score;
mod signals;
mod summary;
mod tools;
mod web;

#[derive(Parser)]
#[command(
    name = "herd",
    version,
    about = "A distributed evaluation cluster for code-acting LLM agents"
)]
struct Cli {
    /// Log filter (also RUST_LOG), e.g. `info`, `herd_coordinator=debug`.
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a sweep on this machine: a coordinator and N workers in one process over gRPC on loopback.
    Run(run::RunArgs),
    /// Serve a coordinator for a cluster.
    Coordinator(cluster::CoordinatorArgs),
    /// Run a worker that pulls tasks from a coordinator.
    Worker(cluster::WorkerArgs),
    /// Submit a sweep to a coordinator; prints the sweep id.
    Submit(cluster::SubmitArgs),
    /// Show a sweep's progress.
    Status(cluster::StatusArgs),
    /// Cancel a sweep: no more leases; running tasks are told to stop.
    Cancel(cluster::CancelArgs),
    /// Build the report of a run directory or a results.parquet.
    Report(tools::ReportArgs),
    /// Score predictions (`{"id", "answer"}` JSONL) with herd's scorers, or rescore a run.
    Score(score::ScoreArgs),
    /// Inspect benchmarks: list kinds, show or validate a dataset or sweep config.
    Datasets {
        #[command(subcommand)]
        cmd: tools::DatasetsCmd,
    },
    /// Sandbox image and checks.
    Sandbox {
        #[command(subcommand)]
        cmd: tools::SandboxCmd,
    },
    /// Browse an action library.
    Actions {
        #[command(subcommand)]
        cmd: tools::ActionsCmd,
    },
    /// Benchmarks that print a table (no thresholds asserted).
    Bench {
        #[command(subcommand)]
        cmd: bench::BenchCmd,
    },
    /// Serve the web dashboard over a run directory and (optionally) a live coordinator.
    Dashboard(tools::DashboardArgs),
}

fn init_tracing(filter: &str, json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    // Colour only on a terminal without NO_COLOR: piped logs and files get plain text.
    use std::io::IsTerminal;
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(progress::colour(std::io::stderr().is_terminal()))
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log, cli.log_json);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("herd: failed to start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.cmd {
            Cmd::Run(a) => run::run(a).await,
            Cmd::Coordinator(a) => cluster::coordinator(a).await,
            Cmd::Worker(a) => cluster::worker(a).await,
            Cmd::Submit(a) => cluster::submit(a).await,
            Cmd::Status(a) => cluster::status(a).await,
            Cmd::Cancel(a) => cluster::cancel(a).await,
            Cmd::Report(a) => tools::report(a).await,
            Cmd::Score(a) => score::score(a).await,
            Cmd::Datasets { cmd } => tools::datasets(cmd).await,
            Cmd::Sandbox { cmd } => tools::sandbox(cmd).await,
            Cmd::Actions { cmd } => tools::actions(cmd).await,
            Cmd::Bench { cmd } => bench::bench(cmd).await,
            Cmd::Dashboard(a) => tools::dashboard(a).await,
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herd: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The shared token, from `HERD_TOKEN`.
pub fn token_from_env() -> Option<String> {
    clean_token(std::env::var("HERD_TOKEN").ok())
}

/// A token as written (often read from a secret file with a trailing newline): surrounding
/// whitespace dropped, empty meaning none.
fn clean_token(raw: Option<String>) -> Option<String> {
    raw.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::clean_token;

    #[test]
    fn a_token_from_a_secret_file_loses_its_newline() {
        assert_eq!(clean_token(Some("s3cret\n".into())), Some("s3cret".into()));
        assert_eq!(clean_token(Some(" \n".into())), None);
        assert_eq!(clean_token(None), None);
    }
}
