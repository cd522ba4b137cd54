//! The accept loop: the router on hyper, as `axum::serve` does, plus what
//! `axum::serve` lacks — a header read timeout, so a client that never
//! finishes its request headers (slowloris) cannot hold a socket and a task
//! forever — and TCP_NODELAY on every socket (small frames must not wait
//! for Nagle's algorithm behind delayed ACKs).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tower_http::add_extension::AddExtension;

/// Listens on `addr` with an accept queue of `backlog` connections
/// (`tokio::net::TcpListener::bind` always asks for 1024, which a
/// reconnect storm of thousands of clients overflows: the kernel then drops
/// SYNs and each dropped client waits a 1 s retransmit). `SO_REUSEADDR` as
/// `bind` sets it, so a restart does not wait for old sockets in TIME_WAIT.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let l = confab_server::serve::listen("127.0.0.1:0".parse().unwrap(), 4096)?;
/// assert_ne!(l.local_addr()?.port(), 0);
/// # Ok(()) }
/// ```
pub fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    // listen(2) takes an int; the kernel caps it at net.core.somaxconn.
    socket.listen(backlog.clamp(1, i32::MAX as u32))
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for in-flight HTTP requests (upgraded WebSockets
/// are not waited for: [`crate::shutdown::close_all`] closes them).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use std::time::Duration;
/// let state = confab_server::AppState::new(confab_server::Config::default());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// confab_server::serve::serve(listener, confab_server::app(state), Duration::from_secs(10), std::future::pending()).await;
/// # Ok(()) }
/// ```
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    // HTTP/1.1 only: WebSockets upgrade from it, and hyper-util's
    // auto-detecting builder would wait, with no timeout, for a silent
    // client's first bytes.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    // Each connection task holds a receiver: `closed()` on the sender then
    // waits for the last in-flight request.
    let (stop, stopping) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly
                    // instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        // Routes read the peer address as axum's `ConnectInfo`.
        let service =
            TowerToHyperService::new(AddExtension::new(router.clone(), ConnectInfo(peer)));
        let conn = builder
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                _ = stopping.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "http connection ended");
            }
        });
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(());
    stop.closed().await;
}
