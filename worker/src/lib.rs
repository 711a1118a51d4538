//! The worker: the DynaSaur agent loop and its user-defined tools, and the runtime that
//! registers with a coordinator, leases tasks, heartbeats and reports (results, and steps
//! for live views).

pub mod agent;
pub mod agent_runner;
pub mod reporter;
pub mod runtime;
pub mod steps;
pub mod tools;
