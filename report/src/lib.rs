//! herd-report: results files (Parquet), Polars reports that answer "is A better than B?"
//! (accuracy with Wilson intervals, paired bootstrap and McNemar tests, cost, action
//! accumulation, failures) rendered as Markdown, one self-contained HTML file, or JSON.

pub mod baseline;
pub mod bench;
pub mod charts;
pub mod error;
pub mod gaia;
pub mod model;
pub(crate) mod phases;
pub mod queries;
pub mod render;
pub mod rescore;
pub mod stats;
pub mod store;
#[cfg(test)]
pub(crate) mod testutil;

pub use bench::bench_report;
pub use error::{ReportError, Result};
pub use gaia::{write_gaia_submission, write_gaia_submissions};
pub use model::*;
pub use queries::{ReportOptions, build_report, compare_runs, report_from_frames};
pub use store::{
    RunFrames, load_trajectory, read_result_records, read_results, results_frame,
    results_from_frame, write_results,
};
