//! `herd score`: scores a predictions file against a dataset spec or sweep config with the
//! sweep's own scorers, or rescores a run's recorded answers (`--rescore`). Thin: the work is
//! in `herd_report::rescore`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// A dataset spec (`kind[:subset][=source]`) or sweep config, with `--predictions`; or a
    /// run directory, with `--rescore`.
    pub target: String,
    /// JSONL of `{"id": …, "answer": …}` (ids as `herd datasets show` prints them; add
    /// `"benchmark"` where a sweep's benchmarks share an id).
    #[arg(long, conflicts_with = "rescore", required_unless_present = "rescore")]
    pub predictions: Option<PathBuf>,
    /// Rescore the run's recorded answers with today's scorers.
    #[arg(long)]
    pub rescore: bool,
    /// Where to write: the scored JSONL (default `<predictions>.scored.jsonl`), or with
    /// `--rescore` a new run directory (default `<run>/rescored`). Never overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn score(a: ScoreArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || match a.predictions.clone() {
        Some(p) => predictions(&a.target, &p, a.out.as_deref()),
        None => rescore(&a.target, a.out.as_deref()),
    })
    .await?
}

fn predictions(
    spec: &str,
    path: &std::path::Path,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let base = std::env::current_dir()?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read predictions `{}`", path.display()))?;
    let out = out.map(PathBuf::from).unwrap_or_else(|| {
        let mut name = path.file_stem().unwrap_or_default().to_os_string();
        name.push(".scored.jsonl");
        path.with_file_name(name)
    });
    if out.exists() {
        bail!(
            "`{}` already exists; herd score never overwrites: remove it or pass `--out FILE`",
            out.display()
        );
    }
    let mut datasets = Vec::new();
    for mut cfg in herd_datasets::cli::parse_spec(spec, &base)? {
        // Every item of the benchmark can be scored, whatever the sweep selected.
        cfg.limit = None;
        cfg.ids.clear();
        cfg.shard = None;
        datasets.push(herd_datasets::load_with(
            &cfg,
            &base,
            0,
            &herd_datasets::LoadOptions::default(),
        )?);
    }
    let scores = herd_report::rescore::score_predictions(&datasets, &text);
    std::fs::write(&out, scores.to_jsonl())
        .with_context(|| format!("failed to write `{}`", out.display()))?;
    print!("{}", scores.summary(path));
    println!("verdicts written to {}", out.display());
    if !scores.errors.is_empty() {
        bail!(
            "{} lines of `{}` could not be scored (listed above)",
            scores.errors.len(),
            path.display()
        );
    }
    Ok(())
}

fn rescore(run: &str, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let (rescored, before, dir) =
        herd_report::rescore::rescore_run(std::path::Path::new(run), out)?;
    print!("{}", rescored.summary(&before));
    println!(
        "rescored results written to {} (changes in changes.jsonl; `herd report {}` builds its report)",
        dir.display(),
        dir.display()
    );
    Ok(())
}
