//! Offline commands: `herd report`, `herd datasets`, `herd sandbox`, `herd actions`,
//! `herd dashboard`. Each parses flags and calls its crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

use crate::signals::Shutdown;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Md,
    Html,
    Json,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A run directory or a results.parquet.
    pub input: PathBuf,
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write `report.<ext>` (with `--compare`: `comparison.<ext>`) here instead of printing.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compare with a second run of the same items (paired statistics).
    #[arg(long)]
    pub compare: Option<PathBuf>,
    /// Tasks the sweep expected (to say how partial a run is).
    #[arg(long)]
    pub expected: Option<u64>,
}

pub async fn report(a: ReportArgs) -> anyhow::Result<()> {
    let text = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let opts = herd_report::ReportOptions {
            expected_tasks: a.expected,
            ..Default::default()
        };
        let (name, text, ext) = if let Some(b) = &a.compare {
            let c = herd_report::compare_runs(&a.input, b, &opts)?;
            let (text, ext) = match a.format {
                Format::Md => (c.to_markdown(), "md"),
                Format::Html => (c.to_html()?, "html"),
                Format::Json => (serde_json::to_string_pretty(&c)?, "json"),
            };
            ("comparison", text, ext)
        } else {
            let r = herd_report::build_report(&a.input, &opts)?;
            let (text, ext) = match a.format {
                Format::Md => (r.to_markdown(), "md"),
                Format::Html => (r.to_html()?, "html"),
                Format::Json => (r.to_json()?, "json"),
            };
            ("report", text, ext)
        };
        match &a.out {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("failed to create `{}`", dir.display()))?;
                let p = dir.join(format!("{name}.{ext}"));
                std::fs::write(&p, &text)
                    .with_context(|| format!("failed to write `{}`", p.display()))?;
                Ok(format!("wrote {}", p.display()))
            }
            None => Ok(text),
        }
    })
    .await??;
    println!("{text}");
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum DatasetsCmd {
    /// Each benchmark's default source (a Hugging Face dataset, or the upstream file and how
    /// to get it), the offline override in effect (`HERD_DATASETS_DIR`) and whether the data
    /// is present locally or cached. Never uses the network.
    List,
    /// Items, metadata and examples of a sweep config's benchmarks or a dataset path.
    Show {
        /// A sweep config (`.toml`), `KIND[:SUBSET][=SOURCE]` (no source: the default that
        /// `herd datasets list` shows), or a dataset path.
        spec: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Loads and checks every item; problems name their file and line.
    Validate { spec: String },
}

pub async fn datasets(cmd: DatasetsCmd) -> anyhow::Result<()> {
    let base = std::env::current_dir()?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        match cmd {
            DatasetsCmd::List => println!(
                "{}",
                herd_datasets::cli::list(&herd_datasets::LoadOptions::default())
            ),
            DatasetsCmd::Show { spec, seed } => {
                println!("{}", herd_datasets::cli::show(&spec, &base, seed)?)
            }
            DatasetsCmd::Validate { spec } => {
                let v = herd_datasets::cli::validate(
                    &spec,
                    &base,
                    &herd_datasets::LoadOptions::default(),
                )?;
                println!("{}", v.report);
                if !v.ok() {
                    for p in &v.problems {
                        eprintln!("problem: {p}");
                    }
                    bail!("{} problems in {} items", v.problems.len(), v.items);
                }
            }
        }
        Ok(())
    })
    .await?
}

#[derive(Subcommand, Debug)]
pub enum SandboxCmd {
    /// Builds the sandbox image from Debian's packages (no registry); skips when it exists.
    Build {
        /// Rebuild even if the image exists.
        #[arg(long)]
        force: bool,
    },
    /// Prints the image tag this herd uses.
    Tag,
    /// Removes containers a crashed worker left behind.
    Clean {
        /// The worker id whose containers to remove.
        #[arg(long)]
        worker: String,
    },
}

pub async fn sandbox(cmd: SandboxCmd) -> anyhow::Result<()> {
    match cmd {
        SandboxCmd::Build { force } => {
            let tag = herd_sandbox::build_image(&herd_sandbox::BuildOptions {
                force,
                cache_dir: None,
            })
            .await?;
            println!("{tag}");
        }
        SandboxCmd::Tag => println!("{}", herd_sandbox::image_tag()),
        SandboxCmd::Clean { worker } => {
            let n = herd_sandbox::remove_orphans(&worker).await?;
            eprintln!("removed {n:?} containers");
        }
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum ActionsCmd {
    /// Namespaces and their actions.
    List {
        /// The action store: a directory (a run's `actions/`) or a Qdrant server's gRPC URL
        /// (`http://host:6334`; its API key from HERD_QDRANT_API_KEY).
        store: String,
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Actions most similar to a query.
    Search {
        store: String,
        namespace: String,
        query: String,
        #[arg(long, default_value_t = 10)]
        k: usize,
    },
    /// One action's source and metadata.
    Show {
        store: String,
        namespace: String,
        name: String,
        #[arg(long)]
        version: Option<u32>,
    },
    /// Writes a namespace as JSONL.
    Export {
        store: String,
        namespace: String,
        out: PathBuf,
    },
    /// Reads a JSONL library into a namespace.
    Import {
        store: String,
        namespace: String,
        input: PathBuf,
    },
}

/// Opens the library in `store`: a Qdrant server URL, or an embedded store's directory
/// (created first when `create` is set).
async fn open_library(store: &str, create: bool) -> anyhow::Result<herd_actions::ActionLibrary> {
    let s: Arc<dyn herd_actions::ActionStore> =
        if store.starts_with("http://") || store.starts_with("https://") {
            let stores = herd_core::config::StoresConfig {
                qdrant_url: Some(store.to_string()),
                ..Default::default()
            };
            let server = herd_coordinator::actions_host::connect_server(&stores)
                .await
                .map_err(anyhow::Error::msg)?
                .expect("a URL was given");
            Arc::new(server)
        } else {
            let dir = Path::new(store);
            if create {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("failed to create `{}`", dir.display()))?;
            } else if !dir.exists() {
                bail!(
                    "no action store at `{}` (give a run's `actions/` directory or a Qdrant URL)",
                    dir.display()
                );
            }
            Arc::new(herd_actions::EdgeStore::open(dir.to_path_buf()).await?)
        };
    let e = herd_coordinator::actions_host::open_embedder(&Default::default())
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(herd_actions::ActionLibrary::new(s, e))
}

pub async fn actions(cmd: ActionsCmd) -> anyhow::Result<()> {
    match cmd {
        ActionsCmd::List { store, namespace } => {
            let lib = open_library(&store, false).await?;
            let namespaces = match namespace {
                Some(n) => vec![n],
                None => lib.store().namespaces().await?,
            };
            for ns in namespaces {
                let actions = lib.list(&ns).await?;
                println!("{ns} ({} actions)", actions.len());
                for a in actions {
                    println!("  {}  {}", a.label(), herd_actions::prompt_line(&a));
                }
            }
        }
        ActionsCmd::Search {
            store,
            namespace,
            query,
            k,
        } => {
            let lib = open_library(&store, false).await?;
            let access = herd_core::task::ActionAccess {
                namespace,
                read: true,
                write: false,
            };
            for r in lib.retrieve_scored(&access, &query, k, u64::MAX).await? {
                println!("{:.3}  {}", r.score, r.prompt_line);
            }
        }
        ActionsCmd::Show {
            store,
            namespace,
            name,
            version,
        } => {
            let lib = open_library(&store, false).await?;
            match lib.get(&namespace, &name, version).await? {
                Some(a) => println!("{}", serde_json::to_string_pretty(&a)?),
                None => bail!("no action `{name}` in `{namespace}`"),
            }
        }
        ActionsCmd::Export {
            store,
            namespace,
            out,
        } => {
            let lib = open_library(&store, false).await?;
            let n = lib.export(&namespace, &out).await?;
            eprintln!("exported {n} actions to {}", out.display());
        }
        ActionsCmd::Import {
            store,
            namespace,
            input,
        } => {
            let lib = open_library(&store, true).await?;
            lib.ensure(&namespace).await?;
            let r = lib.import(&namespace, &input).await?;
            eprintln!(
                "imported {} actions ({} duplicates)",
                r.imported, r.duplicates
            );
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct DashboardArgs {
    /// A directory of run directories (or one run directory).
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    #[arg(long, default_value = "127.0.0.1:7780")]
    pub listen: String,
    /// Also show live sweeps of this coordinator.
    #[arg(long, env = "HERD_COORDINATOR")]
    pub coordinator: Option<String>,
}

pub async fn dashboard(a: DashboardArgs) -> anyhow::Result<()> {
    let shutdown = Shutdown::install();
    let d = crate::web::serve(&a.listen, a.runs, a.coordinator, crate::token_from_env()).await?;
    eprintln!("herd: dashboard on {}", d.url);
    shutdown.drain.cancelled().await;
    d.stop().await;
    Ok(())
}
