//! Graceful shutdown: stop accepting, close every socket with 1012, wait a
//! bounded time.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use confab_protocol::close;

use crate::AppState;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Asks every connection to close with 1012 and waits until all are gone or
/// `grace` has passed. Returns the number still open.
pub async fn close_all(state: &AppState, grace: Duration) -> i64 {
    (state.rooms).close_all(close::SERVICE_RESTART, "server shutting down");
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let open = state.metrics.connections.load(Relaxed);
        if open <= 0 || tokio::time::Instant::now() >= deadline {
            return open.max(0);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
