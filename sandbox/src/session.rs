//! `CodeSession` over any kernel backend (docker container or local process): runs cells,
//! and when a kernel is stuck past its grace or dies (e.g. out of memory) restarts it, then
//! replays the host-function declarations and workspace files so the task can go on.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use herd_core::kernel::{CellError, CellOutcome, CodeSession, HostCalls, SessionError};
use herd_core::outcome::SandboxInfo;

use crate::protocol::{ConnError, KernelConn};

/// How long a cell may run past its time limit (after the kernel's interrupt) before the
/// kernel is killed and restarted.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

/// Why a kernel's channel closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExitCause {
    OutOfMemory,
    Exited(String),
}

/// What a session needs from where its kernel runs.
#[async_trait]
pub(crate) trait Backend: Send {
    /// Kills the current kernel (if any) and starts a fresh one (empty namespace).
    async fn restart(&mut self) -> Result<KernelConn, SessionError>;
    /// Why the kernel's channel closed (call after it did).
    async fn exit_cause(&mut self) -> ExitCause;
    /// Stops and removes everything. Idempotent.
    async fn close(&mut self);
    fn info(&self) -> SandboxInfo;
    fn workspace(&self) -> String;
    fn memory_mb(&self) -> u64;
}

/// One task's kernel.
pub(crate) struct KernelSession<B: Backend> {
    backend: B,
    conn: Option<KernelConn>,
    host_functions: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
    closed: bool,
}

impl<B: Backend> KernelSession<B> {
    pub(crate) fn new(backend: B, conn: KernelConn) -> Self {
        KernelSession {
            backend,
            conn: Some(conn),
            host_functions: Vec::new(),
            files: Vec::new(),
            closed: false,
        }
    }

    fn conn(&mut self) -> Result<&mut KernelConn, SessionError> {
        if self.closed {
            return Err(SessionError::Died("the session is closed".into()));
        }
        self.conn.as_mut().ok_or_else(|| {
            SessionError::Died("the kernel is gone and could not be restarted".into())
        })
    }

    /// Restarts the kernel and replays host functions and files into it.
    async fn recover(&mut self) -> Result<(), SessionError> {
        self.conn = None;
        let mut conn = self.backend.restart().await?;
        if !self.host_functions.is_empty() {
            conn.define_host_functions(&self.host_functions)
                .await
                .map_err(to_session_error)?;
        }
        for (name, bytes) in &self.files {
            conn.put_file(name, bytes).await.map_err(to_session_error)?;
        }
        self.conn = Some(conn);
        Ok(())
    }

    async fn failed_cell(
        &mut self,
        started: Instant,
        timeout: Duration,
        err: ConnError,
    ) -> Result<CellOutcome, SessionError> {
        let (ename, evalue, timed_out, oom) = match err {
            ConnError::Timeout => (
                "TimeoutError",
                format!(
                    "the cell did not stop within {}s after its time limit of {}s; the kernel was \
                     killed and restarted, all state was lost",
                    INTERRUPT_GRACE.as_secs(),
                    timeout.as_secs_f64()
                ),
                true,
                false,
            ),
            ConnError::Closed => match self.backend.exit_cause().await {
                ExitCause::OutOfMemory => (
                    "MemoryError",
                    format!(
                        "the kernel was killed for exceeding its memory limit of {} MB; it was \
                         restarted, all state was lost",
                        self.backend.memory_mb()
                    ),
                    false,
                    true,
                ),
                ExitCause::Exited(how) => (
                    "KernelDied",
                    format!("the kernel died ({how}); it was restarted, all state was lost"),
                    false,
                    false,
                ),
            },
            other => return Err(to_session_error(other)),
        };
        tracing::warn!(reason = %evalue, "restarting the kernel");
        if let Err(e) = self.recover().await {
            tracing::error!(error = %e, "kernel restart failed");
            return Err(if oom { SessionError::OutOfMemory } else { e });
        }
        Ok(CellOutcome {
            output: String::new(),
            result: None,
            error: Some(CellError {
                ename: ename.into(),
                evalue: evalue.clone(),
                traceback: String::new(),
            }),
            functions: Vec::new(),
            called: Vec::new(),
            timed_out,
            restarted: Some(evalue),
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }
}

pub(crate) fn to_session_error(e: ConnError) -> SessionError {
    match e {
        ConnError::Closed => SessionError::Died("the kernel's channel closed".into()),
        ConnError::Timeout => SessionError::Died("the kernel did not answer".into()),
        ConnError::Io(m) => SessionError::Io(m),
        ConnError::Protocol(m) | ConnError::Remote(m) => SessionError::Protocol(m),
    }
}

#[async_trait]
impl<B: Backend> CodeSession for KernelSession<B> {
    async fn run_cell(
        &mut self,
        code: &str,
        timeout: Duration,
        host: &dyn HostCalls,
    ) -> Result<CellOutcome, SessionError> {
        let started = Instant::now();
        let result = self
            .conn()?
            .run_cell(code, timeout, timeout + INTERRUPT_GRACE, host)
            .await;
        match result {
            Ok(outcome) => Ok(outcome),
            Err(e) => self.failed_cell(started, timeout, e).await,
        }
    }

    async fn define_host_functions(&mut self, names: &[String]) -> Result<(), SessionError> {
        self.conn()?
            .define_host_functions(names)
            .await
            .map_err(to_session_error)?;
        for name in names {
            if !self.host_functions.contains(name) {
                self.host_functions.push(name.clone());
            }
        }
        Ok(())
    }

    async fn put_file(&mut self, name: &str, bytes: &[u8]) -> Result<String, SessionError> {
        let path = self
            .conn()?
            .put_file(name, bytes)
            .await
            .map_err(to_session_error)?;
        self.files.retain(|(n, _)| n != name);
        self.files.push((name.to_owned(), bytes.to_vec()));
        Ok(path)
    }

    fn workspace(&self) -> String {
        self.backend.workspace()
    }

    fn info(&self) -> SandboxInfo {
        self.backend.info()
    }

    async fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.conn = None;
        self.backend.close().await;
    }
}
