//! `herd bench dashboard` at tiny sizes: it runs end to end and prints every row. No
//! timings are checked (those are the benchmark's report, not a test).

use std::process::Command;

#[test]
fn the_dashboard_bench_prints_every_row() {
    let out = Command::new(env!("CARGO_BIN_EXE_herd"))
        .args([
            "bench",
            "dashboard",
            "--tasks",
            "2000",
            "--baseline",
            "200",
            "--requests",
            "3",
            "--clients",
            "3",
            "--events",
            "8",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("run herd");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "herd bench dashboard failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "run page",
        "filtered task page",
        "search",
        "arm comparison",
        "SSE fan-out ×3",
        "peak RSS",
        "task set heap",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "no `{row}` row in:\n{stdout}"
        );
    }
}
