//! The local-process fallback: the same kernel and protocol, run by the host's python3 in a
//! temporary directory with an empty environment and an address-space rlimit. It isolates
//! nothing else (no network or filesystem isolation): herd warns whenever it is used.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use herd_core::config::SandboxConfig;
use herd_core::kernel::SessionError;
use herd_core::outcome::SandboxInfo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{OnceCell, mpsc};

use crate::KERNEL_SOURCE;
use crate::error::{Result, SandboxError};
use crate::protocol::{KernelConn, LineSplitter};
use crate::session::{Backend, ExitCause, KernelSession};

static PYTHON: OnceCell<PathBuf> = OnceCell::const_new();

/// The host interpreter: `$HERD_SANDBOX_PYTHON`, else the real path behind `python3` on PATH
/// (shims like pyenv's need an environment the kernel does not get).
pub async fn host_python() -> Result<PathBuf> {
    PYTHON.get_or_try_init(find_python).await.cloned()
}

async fn find_python() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HERD_SANDBOX_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| SandboxError::NoPython(format!("running `python3`: {e}")))?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || path.is_empty() {
        return Err(SandboxError::NoPython(format!(
            "`python3` exited with {}",
            out.status
        )));
    }
    Ok(PathBuf::from(path))
}

pub(crate) struct LocalBackend {
    dir: tempfile::TempDir,
    python: PathBuf,
    memory_mb: u64,
    child: Option<Child>,
}

impl LocalBackend {
    fn kernel_path(&self) -> PathBuf {
        self.dir.path().join("kernel").join("herd_kernel.py")
    }

    fn workspace_path(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    async fn spawn(&mut self) -> Result<KernelConn> {
        let workspace = self.workspace_path();
        let mut cmd = Command::new(&self.python);
        cmd.arg("-u")
            .arg(self.kernel_path())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &workspace)
            .env("LANG", "C.UTF-8")
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("MPLBACKEND", "Agg")
            .env("MPLCONFIGDIR", self.dir.path().join("mpl"))
            .env("HERD_WORKSPACE", &workspace)
            .env("HERD_RLIMIT_AS_MB", self.memory_mb.to_string())
            .current_dir(&workspace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(SandboxError::io("starting python", &self.python))?;
        let (Some(stdin), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::KernelStart(
                "kernel process has no stdio pipes".into(),
            ));
        };
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(line, "local kernel stderr");
            }
        });
        let (tx, rx) = mpsc::channel(256);
        let reader = tokio::spawn(async move {
            let mut splitter = LineSplitter::new(tx);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stdout.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if !splitter.push(&buf[..n]).await {
                            return;
                        }
                    }
                }
            }
        });
        self.child = Some(child);
        let mut conn = KernelConn::new(Box::pin(stdin), rx, reader);
        conn.ping(Duration::from_secs(30))
            .await
            .map_err(|e| SandboxError::KernelStart(e.to_string()))?;
        Ok(conn)
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// Starts a local-process session (no container). `cfg.memory_mb` becomes an address-space limit.
pub(crate) async fn start_local(cfg: &SandboxConfig) -> Result<KernelSession<LocalBackend>> {
    let python = host_python().await?;
    let dir = tempfile::Builder::new()
        .prefix("herd-local-sandbox-")
        .tempdir()
        .map_err(SandboxError::io(
            "creating a temporary directory in",
            std::env::temp_dir(),
        ))?;
    for sub in ["kernel", "workspace", "mpl"] {
        let p = dir.path().join(sub);
        tokio::fs::create_dir_all(&p)
            .await
            .map_err(SandboxError::io("creating", &p))?;
    }
    let mut backend = LocalBackend {
        dir,
        python,
        memory_mb: cfg.memory_mb,
        child: None,
    };
    let kernel = backend.kernel_path();
    tokio::fs::write(&kernel, KERNEL_SOURCE)
        .await
        .map_err(SandboxError::io("writing", &kernel))?;
    let conn = backend.spawn().await?;
    Ok(KernelSession::new(backend, conn))
}

#[async_trait]
impl Backend for LocalBackend {
    async fn restart(&mut self) -> Result<KernelConn, SessionError> {
        self.kill().await;
        self.spawn()
            .await
            .map_err(|e| SessionError::Died(e.to_string()))
    }

    async fn exit_cause(&mut self) -> ExitCause {
        let Some(child) = self.child.as_mut() else {
            return ExitCause::Exited("no process".into());
        };
        match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(Ok(status)) => {
                use std::os::unix::process::ExitStatusExt;
                match status.signal() {
                    // SIGKILL without our asking: on Linux, the OOM killer's signature.
                    Some(9) => ExitCause::OutOfMemory,
                    Some(sig) => ExitCause::Exited(format!("killed by signal {sig}")),
                    None => {
                        ExitCause::Exited(format!("exit status {}", status.code().unwrap_or(-1)))
                    }
                }
            }
            Ok(Err(e)) => ExitCause::Exited(format!("waiting for it failed: {e}")),
            Err(_) => ExitCause::Exited("its output closed but it did not exit".into()),
        }
    }

    async fn close(&mut self) {
        self.kill().await;
    }

    fn info(&self) -> SandboxInfo {
        SandboxInfo {
            kind: "local".into(),
            image: String::new(),
        }
    }

    fn workspace(&self) -> String {
        path_string(&self.workspace_path())
    }

    fn memory_mb(&self) -> u64 {
        self.memory_mb
    }
}

fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
