//! The coordinator: expands sweeps into tasks, schedules them with leases, records each
//! task's one result (scoring it against gold that never leaves this process), keeps durable
//! state in an embedded file or Redis, and serves workers and users over gRPC.

pub mod actions_host;
pub mod error;
pub mod expand;
pub mod intake;
pub mod outputs;
pub mod scheduler;
pub mod service;
pub mod store;
pub mod trajectories;

pub use error::CoordinatorError;
pub use scheduler::{ActionHooks, Scheduler, SchedulerSettings, SubmitOptions};
pub use service::{ActionBackend, ActionCallError, AuthCheck, TlsFiles, TlsIdentity, serve};

#[cfg(test)]
mod scheduler_tests;
#[cfg(test)]
mod watch_tests;
