//! Prints the sandbox benchmark table (warm pool vs cold start-up, start-up burst rate).
//! Usage: `cargo run -p herd-sandbox --example bench_sandbox -- [iterations] [burst]`.
//! Needs Docker and the image (scripts/setup-sandbox.sh).

use herd_core::config::SandboxConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let iterations = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let burst = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let cfg = SandboxConfig {
        pool_size: 2,
        ..SandboxConfig::default()
    };
    print!(
        "{}",
        herd_sandbox::bench_sandbox(&cfg, iterations, burst).await?
    );
    Ok(())
}
