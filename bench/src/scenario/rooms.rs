//! Many rooms: R rooms × K clients, every client publishing at a fixed rate.

use std::time::Duration;

use serde::Serialize;

use super::{connect_all, log_phase, run_phase, settle, warm_up, Phase, Spec, Target};
use crate::Result;

/// Many-rooms options.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct RoomsArgs {
    /// Number of rooms.
    #[arg(long, default_value_t = 500)]
    pub rooms: usize,
    /// Clients per room (all of them publish).
    #[arg(long, default_value_t = 4)]
    pub per_room: usize,
    /// Messages per second each client publishes.
    #[arg(long, default_value_t = 2.0)]
    pub rate_per_client: f64,
    /// Seconds of publishing.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Seconds of unreported warm-up at the same rate first.
    #[arg(long, default_value_t = 1.0)]
    pub warmup_secs: f64,
    /// Seconds to wait for deliveries afterwards.
    #[arg(long, default_value_t = 3.0)]
    pub drain_secs: f64,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout_secs: f64,
}

/// Many-rooms figures.
#[derive(Debug, Clone, Serialize)]
pub struct RoomsResult {
    /// Options used.
    pub args: RoomsArgs,
    /// Clients connected.
    pub connected: usize,
    /// Clients that failed to connect.
    pub failed: usize,
    /// Seconds to connect everyone.
    pub connect_secs: f64,
    /// The publishing phase.
    pub phase: Phase,
}

/// `rooms` × `per_room` publishing clients, room by room: client `k` of
/// room `r` connects to node `r + k` (see [`Target::node_base`]), so with
/// several nodes every room has members on `min(per_room, nodes)` of
/// them and its deliveries cross the channel layer; the rooms' first
/// members are spread over the nodes too.
///
/// ```
/// use confab_bench::scenario::rooms::specs;
/// let s = specs(2, 3);
/// let nodes: Vec<(usize, usize)> = s.iter().map(|s| (s.room_idx, s.node)).collect();
/// assert_eq!(nodes, [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (1, 3)]);
/// assert_eq!(s[4].room, "room1");
/// assert_eq!(s[4].publisher, Some(4));
/// ```
pub fn specs(rooms: usize, per_room: usize) -> Vec<Spec> {
    (0..rooms * per_room)
        .map(|i| Spec {
            node: i / per_room + i % per_room,
            room: format!("room{}", i / per_room),
            room_idx: i / per_room,
            publisher: Some(i as u32),
        })
        .collect()
}

/// Runs the many-rooms scenario.
pub async fn run(target: &Target, args: RoomsArgs) -> Result<RoomsResult> {
    let crowd = connect_all(
        target,
        specs(args.rooms, args.per_room),
        Duration::from_secs_f64(args.connect_timeout_secs),
    )
    .await;
    eprintln!(
        "rooms: {} connected, {} failed in {:.1} s",
        crowd.members.len(),
        crowd.failed,
        crowd.connect_secs
    );
    // Handshakes the server has not finished must not count as the phase's work.
    settle(
        target,
        &crowd,
        Duration::from_millis(500),
        Duration::from_secs(30),
    )
    .await;
    let total = args.rate_per_client * crowd.members.len() as f64;
    let drain = Duration::from_secs_f64(args.drain_secs);
    warm_up(
        target,
        &crowd,
        total,
        args.warmup_secs,
        drain,
        "rooms warm-up",
    )
    .await?;
    let phase = run_phase(target, &crowd, total, args.secs, drain).await?;
    log_phase("rooms", &phase);
    let result = RoomsResult {
        args,
        connected: crowd.members.len(),
        failed: crowd.failed,
        connect_secs: crowd.connect_secs,
        phase,
    };
    crowd.shutdown().await;
    Ok(result)
}
