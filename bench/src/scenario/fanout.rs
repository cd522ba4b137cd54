//! Fan-out: one room, N members of which P publish. A few fixed rates
//! (meant to be below every server's ceiling) give p50/p99 and the server's
//! CPU per delivery; then the rate steps up until p99 reaches the limit or a
//! message is lost, and the best passing step is the ceiling.

use std::time::Duration;

use serde::Serialize;

use super::{connect_all, log_phase, run_phase, settle, Crowd, Phase, Spec, Target};
use crate::procfs::CpuMeter;
use crate::{Error, Result};

/// Fan-out options.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct FanoutArgs {
    /// Room members (publishers included; every member receives every message).
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// How many of the members publish.
    #[arg(long, default_value_t = 4)]
    pub publishers: usize,
    /// Room name (letters, digits and `_` work on every server).
    #[arg(long, default_value = "fanout")]
    pub room: String,
    /// Messages per second into the room of each fixed-rate phase (latency
    /// and server CPU per delivery), in order; comma-separated, empty skips
    /// them. Pick rates below every ceiling: an overloaded phase leaves a
    /// backlog (the harness then waits for the server to go quiet).
    #[arg(long, value_delimiter = ',', default_values_t = [2.0, 4.0, 12.0])]
    pub fixed_rates: Vec<f64>,
    /// Seconds of each fixed-rate phase.
    #[arg(long, default_value_t = 6.0)]
    pub fixed_secs: f64,
    /// Seconds of unreported warm-up (JITs, allocators, caches), at the
    /// first fixed rate (or `--start-rate`).
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Skip the remaining fixed rates after one that overloads the server
    /// (a delivery lost, or the server's CPU at ≥ 95% of a core): a higher
    /// rate would only grow a backlog.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub fixed_stop_overloaded: bool,
    /// Seconds the server may take to go quiet between phases (no
    /// deliveries and under 5% CPU) before the next phase starts anyway
    /// (recorded in `unsettled`).
    #[arg(long, default_value_t = 30.0)]
    pub settle_max_secs: f64,
    /// First step's publish rate (messages per second into the room).
    #[arg(long, default_value_t = 20.0)]
    pub start_rate: f64,
    /// Each step multiplies the rate by this.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// Seconds each step publishes.
    #[arg(long, default_value_t = 3.0)]
    pub step_secs: f64,
    /// At most this many steps.
    #[arg(long, default_value_t = 14)]
    pub max_steps: usize,
    /// A step passes when p99 is below this (and nothing is lost).
    #[arg(long, default_value_t = 100.0)]
    pub max_p99_ms: f64,
    /// Run a failing step once more before stopping (filters one-off
    /// scheduling hiccups on a shared machine).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub confirm: bool,
    /// After the ladder stops, this many bisection steps at the geometric
    /// middle of the last passing and the first failing rate (each step of
    /// `--factor` 1.5 is a 33% jump; two halve the uncertainty twice).
    #[arg(long, default_value_t = 2)]
    pub refine: usize,
    /// Seconds to wait for deliveries after each phase.
    #[arg(long, default_value_t = 2.0)]
    pub drain_secs: f64,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout_secs: f64,
}

/// Fan-out figures.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutResult {
    /// Options used.
    pub args: FanoutArgs,
    /// Members connected.
    pub connected: usize,
    /// Members that failed to connect.
    pub failed: usize,
    /// Seconds to connect everyone.
    pub connect_secs: f64,
    /// Server CPU over 3 s with every member connected and nobody
    /// publishing, in cores (background work: timers, heartbeats), if known.
    pub idle_server_cpu: Option<f64>,
    /// The fixed-rate phases, in `--fixed-rates` order.
    pub fixed: Vec<Phase>,
    /// Fixed rates not run because a lower one overloaded the server.
    pub fixed_skipped: Vec<f64>,
    /// Every step, in order.
    pub steps: Vec<Phase>,
    /// Highest deliveries/s among passing steps (0 if none passed).
    pub ceiling_deliveries_per_sec: f64,
    /// Why stepping stopped.
    pub stopped_because: String,
    /// Phases that started before the server had gone quiet after the
    /// previous one (`--settle-max-secs` ran out).
    pub unsettled: Vec<String>,
}

/// Runs one step at `rate` (and, if it fails, once more when `--confirm`:
/// the retry decides), records its phases in `steps` and returns the
/// deciding phase with its failure, if any.
async fn run_step(
    target: &Target,
    crowd: &Crowd,
    args: &FanoutArgs,
    rate: f64,
    label: &str,
    steps: &mut Vec<Phase>,
    unsettled: &mut Vec<String>,
) -> Result<(Phase, Option<String>)> {
    let drain = Duration::from_secs_f64(args.drain_secs);
    let refine = label.contains("refine");
    let mut p = run_phase(target, crowd, rate, args.step_secs, drain).await?;
    p.refine = refine;
    log_phase(label, &p);
    let mut fail = verdict(&p, args);
    if fail.is_some() && args.confirm && p.closed_conns == 0 {
        // The machine is shared: one scheduling hiccup must not end the
        // search. A failing rate is run once more; the retry decides.
        steps.push(p);
        settle_before(
            target,
            crowd,
            args,
            500,
            &format!("{label} (retry)"),
            unsettled,
        )
        .await;
        p = run_phase(target, crowd, rate, args.step_secs, drain).await?;
        log_phase(&format!("{label} (retry)"), &p);
        p.retry = true;
        p.refine = refine;
        fail = verdict(&p, args);
    }
    steps.push(p.clone());
    Ok((p, fail))
}

/// Waits for the server to go quiet (see [`settle`]) before the phase
/// `next`, and notes `next` in `unsettled` if `--settle-max-secs` ran out.
async fn settle_before(
    target: &Target,
    crowd: &Crowd,
    args: &FanoutArgs,
    quiet_ms: u64,
    next: &str,
    unsettled: &mut Vec<String>,
) {
    let max = Duration::from_secs_f64(args.settle_max_secs.max(0.0));
    if !settle(target, crowd, Duration::from_millis(quiet_ms), max).await {
        unsettled.push(next.to_owned());
    }
}

/// Whether a phase overloaded the server: deliveries lost, or its core full.
fn overloaded(p: &Phase) -> bool {
    p.lost > 0 || p.server_cpu.is_some_and(|c| c >= 0.95)
}

fn verdict(p: &Phase, args: &FanoutArgs) -> Option<String> {
    if p.lost > 0 {
        Some(format!("{} of {} deliveries lost", p.lost, p.expected))
    } else if p.latency.p99_ms >= args.max_p99_ms {
        Some(format!(
            "p99 {:.1} ms >= {} ms",
            p.latency.p99_ms, args.max_p99_ms
        ))
    } else if (p.published as f64) < 0.9 * p.planned as f64 {
        Some(format!(
            "load generator published only {} of {} messages (client-bound)",
            p.published, p.planned
        ))
    } else {
        None
    }
}

/// Runs the fan-out scenario.
pub async fn run(target: &Target, args: FanoutArgs) -> Result<FanoutResult> {
    if args.publishers == 0 || args.publishers > args.subscribers {
        return Err(Error::Usage("need 1 <= publishers <= subscribers".into()));
    }
    let specs = (0..args.subscribers)
        .map(|i| Spec {
            // With several nodes the room's members take turns.
            node: i,
            room: args.room.clone(),
            room_idx: 0,
            publisher: (i < args.publishers).then_some(i as u32),
        })
        .collect();
    let crowd = connect_all(
        target,
        specs,
        Duration::from_secs_f64(args.connect_timeout_secs),
    )
    .await;
    eprintln!(
        "fanout: {} connected, {} failed in {:.1} s{}",
        crowd.members.len(),
        crowd.failed,
        crowd.connect_secs,
        crowd
            .first_error
            .as_ref()
            .map_or(String::new(), |e| format!(" (first error: {e})"))
    );
    if crowd.members.iter().all(|m| m.publisher.is_none()) {
        return Err(Error::Protocol(format!(
            "no publisher connected: {}",
            crowd.first_error.clone().unwrap_or_default()
        )));
    }
    let drain = Duration::from_secs_f64(args.drain_secs);
    let mut unsettled = Vec::new();
    // Connecting is work too (Socket.IO and Django finish handshakes after
    // the client saw them): nothing is measured until the server is quiet.
    settle_before(target, &crowd, &args, 500, "warm-up", &mut unsettled).await;
    if args.warmup_secs > 0.0 {
        let rate = args.fixed_rates.first().copied().unwrap_or(args.start_rate);
        let p = run_phase(target, &crowd, rate, args.warmup_secs, drain).await?;
        log_phase("fanout warm-up", &p);
        settle_before(target, &crowd, &args, 500, "idle", &mut unsettled).await;
    }
    let idle_server_cpu = match target.server_pid.and_then(CpuMeter::start) {
        Some(m) => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            m.cores()
        }
        None => None,
    };
    let mut fixed: Vec<Phase> = Vec::new();
    let mut fixed_skipped = Vec::new();
    for (i, &rate) in args.fixed_rates.iter().enumerate() {
        if args.fixed_stop_overloaded && fixed.last().is_some_and(overloaded) {
            fixed_skipped.push(rate);
            continue;
        }
        if i > 0 {
            let next = format!("fixed {rate}");
            settle_before(target, &crowd, &args, 500, &next, &mut unsettled).await;
        }
        let p = run_phase(target, &crowd, rate, args.fixed_secs, drain).await?;
        log_phase(&format!("fanout fixed {rate}"), &p);
        fixed.push(p);
    }
    let mut steps = Vec::new();
    let mut ceiling: f64 = 0.0;
    let mut rate = args.start_rate;
    let mut stopped_because = format!("reached --max-steps {}", args.max_steps);
    // The rate of the first step that failed for good, if any.
    let mut failed_at = None;
    for i in 0..args.max_steps {
        if i > 0 || !fixed.is_empty() {
            settle_before(
                target,
                &crowd,
                &args,
                200,
                &format!("step {i}"),
                &mut unsettled,
            )
            .await;
        }
        let (p, fail) = run_step(
            target,
            &crowd,
            &args,
            rate,
            &format!("fanout step {i}"),
            &mut steps,
            &mut unsettled,
        )
        .await?;
        if let Some(why) = fail {
            stopped_because = why;
            failed_at = Some(rate);
            break;
        }
        ceiling = ceiling.max(p.deliveries_per_sec);
        if p.closed_conns > 0 {
            stopped_because = format!("{} connections closed", p.closed_conns);
            break;
        }
        rate *= args.factor;
    }
    if let (Some(mut hi), true) = (failed_at, ceiling > 0.0) {
        let mut lo = hi / args.factor;
        for k in 0..args.refine {
            settle_before(
                target,
                &crowd,
                &args,
                500,
                &format!("refine {k}"),
                &mut unsettled,
            )
            .await;
            let mid = (lo * hi).sqrt();
            let (p, fail) = run_step(
                target,
                &crowd,
                &args,
                mid,
                &format!("fanout refine {k}"),
                &mut steps,
                &mut unsettled,
            )
            .await?;
            if fail.is_some() || p.closed_conns > 0 {
                hi = mid;
            } else {
                ceiling = ceiling.max(p.deliveries_per_sec);
                lo = mid;
            }
        }
    }
    let result = FanoutResult {
        args,
        connected: crowd.members.len(),
        failed: crowd.failed,
        connect_secs: crowd.connect_secs,
        idle_server_cpu,
        fixed,
        fixed_skipped,
        steps,
        ceiling_deliveries_per_sec: ceiling,
        stopped_because,
        unsettled,
    };
    crowd.shutdown().await;
    Ok(result)
}
