//! Builds the sandbox image idempotently (what `scripts/setup-sandbox.sh` runs) and prints its tag.
//! `--force` rebuilds even when the tagged image exists.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let force = std::env::args().any(|a| a == "--force");
    let tag = herd_sandbox::build_image(&herd_sandbox::BuildOptions {
        force,
        cache_dir: None,
    })
    .await?;
    println!("{tag}");
    Ok(())
}
