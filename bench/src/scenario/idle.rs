//! Idle connections: N clients connect (and join their room) and stay
//! silent; the server's RSS growth over its zero-client baseline, per
//! connection, is the figure.

use std::time::Duration;

use serde::Serialize;

use super::{connect_all, Spec, Target};
use crate::procfs::rss_bytes;
use crate::{Error, Result};

/// Idle-connection options.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct IdleArgs {
    /// Idle connections to open.
    #[arg(long, default_value_t = 10_000)]
    pub conns: usize,
    /// Connections per room.
    #[arg(long, default_value_t = 100)]
    pub per_room: usize,
    /// Seconds to wait after connecting before reading RSS.
    #[arg(long, default_value_t = 3.0)]
    pub settle_secs: f64,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    pub connect_timeout_secs: f64,
}

/// Idle-connection figures.
#[derive(Debug, Clone, Serialize)]
pub struct IdleResult {
    /// Options used.
    pub args: IdleArgs,
    /// Connections open when RSS was read.
    pub connected: usize,
    /// Connections that failed to open.
    pub failed: usize,
    /// First connection error.
    pub first_error: Option<String>,
    /// Seconds to connect everyone.
    pub connect_secs: f64,
    /// Server RSS before any client connected.
    pub baseline_rss: u64,
    /// Server RSS with every client connected and idle.
    pub loaded_rss: u64,
    /// `(loaded - baseline) / open connections`.
    pub bytes_per_conn: f64,
}

/// Runs the idle scenario against the server process `pid`.
pub async fn run(target: &Target, args: IdleArgs) -> Result<IdleResult> {
    let pid = target
        .server_pid
        .ok_or_else(|| Error::Usage("idle needs --server-pid".into()))?;
    let baseline_rss = rss_bytes(pid)?;
    let per_room = args.per_room.max(1);
    let specs = (0..args.conns)
        .map(|i| Spec {
            node: i,
            room: format!("idle{}", i / per_room),
            room_idx: i / per_room,
            publisher: None,
        })
        .collect();
    let crowd = connect_all(
        target,
        specs,
        Duration::from_secs_f64(args.connect_timeout_secs),
    )
    .await;
    tokio::time::sleep(Duration::from_secs_f64(args.settle_secs)).await;
    let loaded_rss = rss_bytes(pid)?;
    let open = crowd.members.len() - crowd.closed();
    let result = IdleResult {
        connected: open,
        failed: crowd.failed,
        first_error: crowd
            .first_error
            .clone()
            .or_else(|| crowd.first_close_reason()),
        connect_secs: crowd.connect_secs,
        baseline_rss,
        loaded_rss,
        bytes_per_conn: loaded_rss.saturating_sub(baseline_rss) as f64 / open.max(1) as f64,
        args,
    };
    eprintln!(
        "idle: {} open ({} failed) in {:.1} s; RSS {:.1} MiB -> {:.1} MiB = {:.1} KiB per connection",
        result.connected,
        result.failed,
        result.connect_secs,
        baseline_rss as f64 / 1048576.0,
        loaded_rss as f64 / 1048576.0,
        result.bytes_per_conn / 1024.0
    );
    crowd.shutdown().await;
    Ok(result)
}
