//! Runs a small `bench_agent` and prints its table (no timing is asserted).

use std::time::Duration;

use herd_worker::agent::{BenchOptions, bench_agent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_agent_prints_a_table() {
    let opts = BenchOptions {
        overhead_tasks: 5,
        overhead_steps: 10,
        concurrent_tasks: 200,
        concurrent_steps: 2,
        model_latency: Duration::from_millis(100),
    };
    let table = bench_agent(&opts).await.unwrap();
    println!("{table}");
    assert!(table.contains("loop overhead per step"));
    assert!(table.contains("200 concurrent tasks"));
    assert!(
        table.contains("(200 submitted)"),
        "every concurrent task must submit:\n{table}"
    );
}
