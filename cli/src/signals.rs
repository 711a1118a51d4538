//! Shutdown by signal: the first Ctrl-C or SIGTERM starts a drain, the second exits now.

use tokio_util::sync::CancellationToken;

/// Tokens cancelled by the first and the second signal.
#[derive(Clone)]
pub struct Shutdown {
    pub drain: CancellationToken,
    pub kill: CancellationToken,
}

impl Shutdown {
    /// Installs the signal handlers.
    pub fn install() -> Shutdown {
        let s = Shutdown {
            drain: CancellationToken::new(),
            kill: CancellationToken::new(),
        };
        let t = s.clone();
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                wait_signal().await;
                n += 1;
                if n == 1 {
                    eprintln!(
                        "\nherd: stopping — finishing running tasks; press Ctrl-C again to exit now"
                    );
                    t.drain.cancel();
                } else {
                    eprintln!("\nherd: exiting now; `--resume` continues where this left off");
                    t.kill.cancel();
                    t.drain.cancel();
                    break;
                }
            }
        });
        s
    }
}

async fn wait_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
