//! Several nodes on one channel layer: the many-rooms crowd of
//! [`rooms`](super::rooms) (R rooms × K publishing clients) with every
//! room's clients spread over the nodes, so most deliveries cross the layer
//! (Redis); publishing at a few fixed rates in turn. Reports per phase the
//! nodes' CPU and, given `--layer-pid`, the layer's (Redis) CPU per
//! delivered message.

use std::time::Duration;

use serde::Serialize;

use super::rooms::specs;
use super::{between_phases, connect_all, log_phase, run_phase, settle, warm_up, Phase, Target};
use crate::{Error, Result};

/// Multi-node options.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct MultinodeArgs {
    /// Number of rooms.
    #[arg(long, default_value_t = 200)]
    pub rooms: usize,
    /// Clients per room (all of them publish); client k of room r connects
    /// to node (r + k) mod nodes.
    #[arg(long, default_value_t = 4)]
    pub per_room: usize,
    /// Messages per second each client publishes, one phase per rate, in
    /// order (comma-separated). Phases stop after the first that loses a
    /// message or whose p99 is above `--max-p99-ms`.
    #[arg(long, value_delimiter = ',', default_value = "0.5,2,8")]
    pub rates_per_client: Vec<f64>,
    /// Seconds of publishing per phase.
    #[arg(long, default_value_t = 5.0)]
    pub secs: f64,
    /// Seconds of unreported warm-up at the first rate.
    #[arg(long, default_value_t = 1.0)]
    pub warmup_secs: f64,
    /// Seconds to wait for deliveries after each phase.
    #[arg(long, default_value_t = 3.0)]
    pub drain_secs: f64,
    /// A phase with a p99 above this (ms) ends the run.
    #[arg(long, default_value_t = 500.0)]
    pub max_p99_ms: f64,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout_secs: f64,
}

/// Multi-node figures.
#[derive(Debug, Clone, Serialize)]
pub struct MultinodeResult {
    /// Options used.
    pub args: MultinodeArgs,
    /// Nodes the clients were spread over.
    pub nodes: usize,
    /// Server processes measured (all nodes).
    pub server_processes: usize,
    /// Channel-layer processes measured.
    pub layer_processes: usize,
    /// Clients connected.
    pub connected: usize,
    /// Clients that failed to connect.
    pub failed: usize,
    /// First connection error, if any.
    pub first_error: Option<String>,
    /// Clients connected to each node.
    pub clients_per_node: Vec<usize>,
    /// Rooms whose clients are on more than one node.
    pub rooms_across_nodes: usize,
    /// Seconds to connect everyone.
    pub connect_secs: f64,
    /// One phase per rate, in order (the run stops after an overloaded one).
    pub phases: Vec<Phase>,
    /// The rate of the last phase that lost nothing with p99 under the
    /// limit, as deliveries per second (`None`: even the first failed).
    pub best_clean_deliveries_per_sec: Option<f64>,
}

/// Whether a phase kept up: nothing lost, p99 under `max_p99_ms`.
pub fn clean(p: &Phase, max_p99_ms: f64) -> bool {
    p.lost == 0 && p.delivered > 0 && p.latency.p99_ms <= max_p99_ms
}

/// Runs the multi-node scenario.
pub async fn run(target: &Target, args: MultinodeArgs) -> Result<MultinodeResult> {
    if args.rates_per_client.is_empty() || args.rates_per_client.iter().any(|r| *r <= 0.0) {
        return Err(Error::Usage("need positive --rates-per-client".into()));
    }
    if args.rooms == 0 || args.per_room == 0 {
        return Err(Error::Usage("need --rooms and --per-room > 0".into()));
    }
    let specs = specs(args.rooms, args.per_room);
    let nodes = target.nodes();
    let mut clients_per_node = vec![0; nodes];
    for s in &specs {
        clients_per_node[s.node % nodes] += 1;
    }
    let rooms_across_nodes = if nodes > 1 && args.per_room > 1 {
        args.rooms
    } else {
        0
    };
    let crowd = connect_all(
        target,
        specs,
        Duration::from_secs_f64(args.connect_timeout_secs),
    )
    .await;
    eprintln!(
        "multinode: {} connected over {nodes} node(s), {} failed in {:.1} s{}",
        crowd.members.len(),
        crowd.failed,
        crowd.connect_secs,
        crowd
            .first_error
            .as_deref()
            .map(|e| format!(" (first error: {e})"))
            .unwrap_or_default()
    );
    if crowd.members.is_empty() {
        return Err(Error::Protocol(format!(
            "no client connected: {}",
            crowd.first_error.as_deref().unwrap_or("?")
        )));
    }
    settle(
        target,
        &crowd,
        Duration::from_millis(500),
        Duration::from_secs(30),
    )
    .await;
    let clients = crowd.members.len() as f64;
    let drain = Duration::from_secs_f64(args.drain_secs);
    let first = args.rates_per_client[0] * clients;
    warm_up(
        target,
        &crowd,
        first,
        args.warmup_secs,
        drain,
        "multinode warm-up",
    )
    .await?;
    let mut phases = Vec::new();
    let mut best = None;
    for &rate in &args.rates_per_client {
        let phase = run_phase(target, &crowd, rate * clients, args.secs, drain).await?;
        log_phase(&format!("multinode {rate}/s per client"), &phase);
        let ok = clean(&phase, args.max_p99_ms);
        if ok {
            best = Some(phase.deliveries_per_sec);
        }
        phases.push(phase);
        if !ok {
            break;
        }
        between_phases(target, &crowd).await;
    }
    let result = MultinodeResult {
        args,
        nodes,
        server_processes: target.server_pids().len(),
        layer_processes: target.layer_pids.len(),
        connected: crowd.members.len(),
        failed: crowd.failed,
        first_error: crowd.first_error.clone(),
        clients_per_node,
        rooms_across_nodes,
        connect_secs: crowd.connect_secs,
        phases,
        best_clean_deliveries_per_sec: best,
    };
    crowd.shutdown().await;
    Ok(result)
}
