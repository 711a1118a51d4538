//! The host side of the kernel's JSON-lines channel: send a request, serve the kernel's host
//! calls while waiting, and return the reply with the same id. Transport-agnostic: the docker
//! and local backends feed it lines read from the container's or the process's stdout.

use std::pin::Pin;
use std::time::Duration;

use herd_core::kernel::{CellError, CellOutcome, FunctionDef, HostCalls};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Lines the reader task forwards (one JSON message each).
pub(crate) type LineRx = mpsc::Receiver<Vec<u8>>;
pub(crate) type LineTx = mpsc::Sender<Vec<u8>>;

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnError {
    /// The kernel's output ended (it exited or was killed).
    Closed,
    /// No reply before the deadline.
    Timeout,
    /// Writing to the kernel failed.
    Io(String),
    /// A message was not valid JSON or not what the protocol says.
    Protocol(String),
    /// The kernel answered with an error message.
    Remote(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Closed => write!(f, "kernel channel closed"),
            ConnError::Timeout => write!(f, "kernel did not answer in time"),
            ConnError::Io(e) => write!(f, "writing to the kernel failed: {e}"),
            ConnError::Protocol(e) => write!(f, "bad kernel message: {e}"),
            ConnError::Remote(e) => write!(f, "kernel refused the request: {e}"),
        }
    }
}

/// A live channel to one kernel process.
pub(crate) struct KernelConn {
    writer: Pin<Box<dyn AsyncWrite + Send>>,
    lines: LineRx,
    next_id: u64,
    reader: JoinHandle<()>,
}

impl Drop for KernelConn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Splits a byte stream into lines and forwards complete ones; returns false once the
/// receiver is gone.
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    tx: LineTx,
}

impl LineSplitter {
    pub(crate) fn new(tx: LineTx) -> Self {
        LineSplitter {
            buf: Vec::new(),
            tx,
        }
    }

    pub(crate) async fn push(&mut self, chunk: &[u8]) -> bool {
        self.buf.extend_from_slice(chunk);
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            let line = &line[..line.len() - 1];
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if self.tx.send(line.to_vec()).await.is_err() {
                return false;
            }
        }
        true
    }
}

/// The kernel's `cell_result` message.
#[derive(Debug, Deserialize)]
struct CellReply {
    #[serde(default)]
    output: String,
    result: Option<String>,
    error: Option<CellError>,
    #[serde(default)]
    functions: Vec<FunctionDef>,
    #[serde(default)]
    called: Vec<String>,
    #[serde(default)]
    timed_out: bool,
    #[serde(default)]
    duration_ms: u64,
}

impl KernelConn {
    pub(crate) fn new(
        writer: Pin<Box<dyn AsyncWrite + Send>>,
        lines: LineRx,
        reader: JoinHandle<()>,
    ) -> Self {
        KernelConn {
            writer,
            lines,
            next_id: 0,
            reader,
        }
    }

    async fn send(&mut self, msg: &Value) -> Result<(), ConnError> {
        let mut data = serde_json::to_vec(msg).map_err(|e| ConnError::Protocol(e.to_string()))?;
        data.push(b'\n');
        self.writer
            .write_all(&data)
            .await
            .map_err(|e| ConnError::Io(e.to_string()))?;
        self.writer
            .flush()
            .await
            .map_err(|e| ConnError::Io(e.to_string()))
    }

    /// Sends `msg` (an object; its `id` is set here) and waits for the reply with the same id,
    /// serving host calls meanwhile. Time spent in host calls does not count against `wait`.
    pub(crate) async fn request(
        &mut self,
        mut msg: Value,
        wait: Duration,
        host: Option<&dyn HostCalls>,
    ) -> Result<Value, ConnError> {
        self.next_id += 1;
        let id = self.next_id;
        msg["id"] = json!(id);
        self.send(&msg).await?;
        let mut deadline = Instant::now() + wait;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Err(_) => return Err(ConnError::Timeout),
                Ok(None) => return Err(ConnError::Closed),
                Ok(Some(line)) => line,
            };
            let value: Value = serde_json::from_slice(&line).map_err(|e| {
                let text = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
                ConnError::Protocol(format!("{e} in `{text}`"))
            })?;
            match value.get("type").and_then(Value::as_str) {
                Some("host_call") => {
                    let started = Instant::now();
                    let reply = serve_host_call(&value, host).await;
                    deadline += started.elapsed();
                    self.send(&reply).await?;
                }
                Some("log") => {
                    tracing::debug!(kernel_log = %value["message"], "kernel log");
                }
                _ if value.get("id").and_then(Value::as_u64) == Some(id) => {
                    if value.get("type").and_then(Value::as_str) == Some("error") {
                        let message = value["message"].as_str().unwrap_or("unknown error");
                        return Err(ConnError::Remote(message.to_owned()));
                    }
                    return Ok(value);
                }
                _ => {
                    tracing::warn!(kernel_message = %value, "ignoring a kernel message for no pending request")
                }
            }
        }
    }

    /// Checks the kernel answers.
    pub(crate) async fn ping(&mut self, wait: Duration) -> Result<Value, ConnError> {
        self.request(json!({"type": "ping"}), wait, None).await
    }

    pub(crate) async fn run_cell(
        &mut self,
        code: &str,
        timeout: Duration,
        wait: Duration,
        host: &dyn HostCalls,
    ) -> Result<CellOutcome, ConnError> {
        let msg = json!({"type": "run_cell", "code": code, "timeout": timeout.as_secs_f64()});
        let reply = self.request(msg, wait, Some(host)).await?;
        let cell: CellReply = serde_json::from_value(reply)
            .map_err(|e| ConnError::Protocol(format!("cell_result: {e}")))?;
        Ok(CellOutcome {
            output: cell.output,
            result: cell.result,
            error: cell.error,
            functions: cell.functions,
            called: cell.called,
            timed_out: cell.timed_out,
            restarted: None,
            duration_ms: cell.duration_ms,
        })
    }

    pub(crate) async fn define_host_functions(
        &mut self,
        names: &[String],
    ) -> Result<(), ConnError> {
        let msg = json!({"type": "define_host_functions", "names": names});
        self.request(msg, Duration::from_secs(30), None)
            .await
            .map(|_| ())
    }

    /// Writes a workspace file through the kernel; returns its path inside the sandbox.
    pub(crate) async fn put_file(&mut self, name: &str, bytes: &[u8]) -> Result<String, ConnError> {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        let msg = json!({"type": "put_file", "name": name, "data_b64": data});
        let reply = self.request(msg, Duration::from_secs(120), None).await?;
        reply["path"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ConnError::Protocol("put_file reply without a path".into()))
    }
}

async fn serve_host_call(call: &Value, host: Option<&dyn HostCalls>) -> Value {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
    let args = call.get("args").cloned().unwrap_or(Value::Null);
    let result = match host {
        Some(host) => host.call(name, args).await,
        None => Err(format!(
            "host function `{name}` is not available outside a cell"
        )),
    };
    tracing::debug!(name, ok = result.is_ok(), "host call served");
    match result {
        Ok(value) => json!({"type": "host_result", "id": id, "ok": true, "value": value}),
        Err(error) => json!({"type": "host_result", "id": id, "ok": false, "error": error}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splitter_forwards_whole_lines_only() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut s = LineSplitter::new(tx);
        assert!(s.push(b"{\"a\":1}\n{\"b\"").await);
        assert_eq!(rx.recv().await.unwrap(), b"{\"a\":1}".to_vec());
        assert!(rx.try_recv().is_err());
        assert!(s.push(b":2}\n\n").await);
        assert_eq!(rx.recv().await.unwrap(), b"{\"b\":2}".to_vec());
        assert!(rx.try_recv().is_err());
    }
}
