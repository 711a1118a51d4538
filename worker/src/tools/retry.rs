//! The tools' outbound requests under the shared retry policy ([`herd_core::retry`]): 429,
//! 5xx and connection errors are retried with jittered backoff or the server's `Retry-After`
//! (capped); every retry is logged and counted by cause for the task's metrics.

use std::future::Future;
use std::time::Duration;

use herd_core::retry::{ExponentialBuilder, Retryable, honour_retry_after, retry_hint, schedule};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::ToolError;

/// How a tool retries: the schedule's first delay, its ceiling, the number of retries and
/// the longest `Retry-After` honoured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToolRetry {
    pub first: Duration,
    pub max_delay: Duration,
    pub retries: usize,
    pub max_retry_after: Duration,
}

impl Default for ToolRetry {
    /// 4 retries, 250 ms doubling to 4 s (jitter adds up to 100%), `Retry-After` up to 60 s:
    /// a cell waits at most a few minutes on one call.
    fn default() -> Self {
        ToolRetry {
            first: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            retries: 4,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl ToolRetry {
    fn schedule(&self) -> ExponentialBuilder {
        schedule(self.first, self.max_delay.max(self.first), self.retries)
    }
}

/// Why an attempt is worth another try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transient {
    RateLimited,
    ServerError,
    Connection,
}

impl Transient {
    fn as_str(self) -> &'static str {
        match self {
            Transient::RateLimited => "rate-limited (429)",
            Transient::ServerError => "server error (5xx)",
            Transient::Connection => "connection error",
        }
    }
}

/// One failed attempt: the error the tool reports if it is the last, whether it is
/// retried, and the server's hint.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub error: ToolError,
    pub transient: Option<Transient>,
    pub hint: Option<Duration>,
}

/// Retries made before a reply (or before giving up), by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRetries {
    pub rate_limited: u32,
    pub server_error: u32,
    pub connection: u32,
}

impl ToolRetries {
    pub fn total(&self) -> u32 {
        self.rate_limited + self.server_error + self.connection
    }

    pub fn add(&mut self, other: ToolRetries) {
        self.rate_limited += other.rate_limited;
        self.server_error += other.server_error;
        self.connection += other.connection;
    }
}

/// A transport error: connection failures are retried; timeouts are not (a slow server
/// would hold the cell for several timeouts), nor are malformed requests.
pub(crate) fn transport(tool: &'static str, url: &str, e: &reqwest::Error) -> Attempt {
    let transient =
        (!e.is_timeout() && !e.is_builder() && !e.is_decode()).then_some(Transient::Connection);
    Attempt {
        error: ToolError::Http {
            tool,
            url: url.to_string(),
            message: e.to_string(),
        },
        transient,
        hint: None,
    }
}

/// A non-2xx response: 429 and 5xx are retried (with the server's `Retry-After`), other
/// statuses are not.
pub(crate) fn status(tool: &'static str, url: &str, resp: &reqwest::Response) -> Attempt {
    let code = resp.status();
    let transient = if code == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Some(Transient::RateLimited)
    } else if code.is_server_error() {
        Some(Transient::ServerError)
    } else {
        None
    };
    let h = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
    Attempt {
        error: ToolError::Status {
            tool,
            url: url.to_string(),
            status: code.as_u16(),
        },
        transient,
        hint: retry_hint(h("retry-after-ms"), h("retry-after")),
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the retries of `policy` are spent.
/// Returns the outcome and the retries made, each logged at `warn`.
pub(crate) async fn run<T, F, Fut>(
    tool: &'static str,
    url: &str,
    policy: &ToolRetry,
    attempt: F,
) -> (Result<T, ToolError>, ToolRetries)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Attempt>>,
{
    let retries = Mutex::new(ToolRetries::default());
    let result = attempt
        .retry(policy.schedule())
        .when(|a: &Attempt| a.transient.is_some())
        .adjust(|a, backoff| honour_retry_after(a.hint, backoff, policy.max_retry_after))
        .notify(|a, wait| {
            let cause = a.transient.unwrap_or(Transient::Connection);
            let mut r = retries.lock();
            match cause {
                Transient::RateLimited => r.rate_limited += 1,
                Transient::ServerError => r.server_error += 1,
                Transient::Connection => r.connection += 1,
            }
            tracing::warn!(
                tool,
                url,
                cause = cause.as_str(),
                wait_ms = wait.as_millis() as u64,
                retry_after_ms = a.hint.map(|h| h.as_millis() as u64),
                retry = r.total(),
                max_retries = policy.retries,
                error = %a.error,
                "retrying tool request"
            );
        })
        .await;
    let retries = retries.into_inner();
    (result.map_err(|a| a.error), retries)
}

/// Sends the request `make` builds (again for each attempt) and returns the successful
/// response, under `policy`.
pub(crate) async fn send(
    tool: &'static str,
    url: &str,
    policy: &ToolRetry,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> (Result<reqwest::Response, ToolError>, ToolRetries) {
    run(tool, url, policy, || async {
        let resp = make().send().await.map_err(|e| transport(tool, url, &e))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(status(tool, url, &resp))
        }
    })
    .await
}
