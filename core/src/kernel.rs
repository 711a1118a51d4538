//! The contract between the agent loop and a sandbox: a code session that runs cells in one
//! persistent Python namespace and forwards host calls (retrieval, final answer, keyed tools)
//! to the worker. The sandbox crate implements it; the worker's agent loop consumes it.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::outcome::SandboxInfo;

/// A top-level function a cell defined, as the kernel's AST pass reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FunctionDef {
    pub name: String,
    /// Argument list as written, with annotations and defaults, e.g. `(x: int, y: float = 1.0)`.
    pub signature: String,
    /// Return annotation as written, if any.
    pub returns: Option<String>,
    /// First line of the docstring, if any.
    pub docstring: Option<String>,
    /// The function's exact source (decorators included).
    pub source: String,
    /// The cell's import statements, aliases kept (`import numpy as np`).
    pub imports: Vec<String>,
    /// Names this function calls (plain names and attribute roots), for dependency tracking.
    pub calls: Vec<String>,
}

/// A cell's error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    /// A clean traceback (kernel frames removed).
    pub traceback: String,
}

/// What running one cell gave.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CellOutcome {
    /// stdout and stderr interleaved in the order written.
    pub output: String,
    /// `repr` of the last expression's value (IPython's display), if any.
    pub result: Option<String>,
    pub error: Option<CellError>,
    /// Top-level functions defined by this cell (reported also on error; the action store
    /// keeps only those of cells without error).
    pub functions: Vec<FunctionDef>,
    /// Top-level names the cell called (for action-use measurements).
    pub called: Vec<String>,
    /// The cell hit its time limit and was interrupted.
    pub timed_out: bool,
    /// The kernel had to be killed and restarted (state lost); the message says why.
    pub restarted: Option<String>,
    pub duration_ms: u64,
}

/// A failure of the sandbox itself (not of the user's code).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionError {
    #[error("sandbox died: {0}")]
    Died(String),
    #[error("sandbox was killed for exceeding its memory limit")]
    OutOfMemory,
    #[error("sandbox protocol error: {0}")]
    Protocol(String),
    #[error("sandbox i/o error: {0}")]
    Io(String),
}

/// Functions the kernel can call on the worker. Secrets live behind this, never in the sandbox.
#[async_trait]
pub trait HostCalls: Send + Sync {
    /// Runs host function `name` with JSON `args`; an `Err` is raised in the kernel as an exception.
    async fn call(&self, name: &str, args: serde_json::Value) -> Result<serde_json::Value, String>;
}

/// One task's live kernel. Dropping it must not leak the container; call `close` to remove it.
#[async_trait]
pub trait CodeSession: Send {
    /// Runs one cell. Host calls made during the cell go to `host`.
    async fn run_cell(
        &mut self,
        code: &str,
        timeout: Duration,
        host: &dyn HostCalls,
    ) -> Result<CellOutcome, SessionError>;
    /// Declares the host functions the kernel exposes to cell code (Python stubs named `names`
    /// that forward their `{"args": [...], "kwargs": {...}}` to [`HostCalls::call`]). A session
    /// re-declares them after a kernel restart. The default refuses: a sandbox must opt in.
    async fn define_host_functions(&mut self, names: &[String]) -> Result<(), SessionError> {
        let _ = names;
        Err(SessionError::Protocol(
            "this sandbox does not support host functions".into(),
        ))
    }
    /// Writes a file into the task's workspace; returns its path as the kernel sees it.
    async fn put_file(&mut self, name: &str, bytes: &[u8]) -> Result<String, SessionError>;
    /// The workspace directory as the kernel sees it (e.g. `/workspace`).
    fn workspace(&self) -> String;
    fn info(&self) -> SandboxInfo;
    /// Stops and removes the sandbox. Idempotent.
    async fn close(&mut self);
}
