//! herd's shared domain: the sweep config, tasks, outcomes, trajectories, result rows and
//! the sandbox kernel's cell types. Every other crate builds on these; nothing here does I/O
//! beyond reading a config file.

pub mod config;
pub mod kernel;
pub mod outcome;
pub mod result;
pub mod retry;
pub mod task;
pub mod trajectory;

pub use config::{ConfigError, Sweep, SweepConfig};
pub use outcome::{EndReason, TaskMetrics, TaskOutcome};
pub use result::{AttemptRecord, HERD_VERSION, ResultRecord, Status};
pub use task::{TaskSpec, task_key};
