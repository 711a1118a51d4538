//! Runs the report benchmark: `cargo run -p herd-report --release --example bench_report -- [tasks]`.

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    match herd_report::bench_report(n) {
        Ok(table) => print!("{table}"),
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            std::process::exit(1);
        }
    }
}
