//! Writes a sweep's outputs into its directory: `results.parquet`, `attempts.parquet`, the
//! report in Markdown, HTML and JSON, and the GAIA submission file where it applies.

use std::path::Path;

use herd_core::result::{AttemptRecord, ResultRecord};

use crate::error::CoordinatorError;

/// Writes every output file; blocking (run it on `spawn_blocking`).
pub fn write_all(
    dir: &Path,
    results: &[ResultRecord],
    attempts: &[AttemptRecord],
    expected: u64,
) -> Result<(), CoordinatorError> {
    let err = |e: &dyn std::fmt::Display| CoordinatorError::Output {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    herd_report::write_results(dir, results, attempts).map_err(|e| err(&e))?;
    let opts = herd_report::ReportOptions {
        expected_tasks: Some(expected),
        ..Default::default()
    };
    let report = herd_report::build_report(dir, &opts).map_err(|e| err(&e))?;
    write_atomic(&dir.join("report.md"), report.to_markdown().as_bytes()).map_err(|e| err(&e))?;
    let html = report.to_html().map_err(|e| err(&e))?;
    write_atomic(&dir.join("report.html"), html.as_bytes()).map_err(|e| err(&e))?;
    let json = report.to_json().map_err(|e| err(&e))?;
    write_atomic(&dir.join("report.json"), json.as_bytes()).map_err(|e| err(&e))?;
    if results
        .iter()
        .any(|r| r.benchmark.starts_with("gaia") && r.gold_answer.is_none())
    {
        herd_report::write_gaia_submission(dir, results).map_err(|e| err(&e))?;
    }
    Ok(())
}

/// Writes a file through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
