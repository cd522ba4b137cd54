//! Fan-out: one room, N members of which P publish. A fixed moderate rate
//! gives p50/p99; then the rate steps up until p99 reaches the limit or a
//! message is lost, and the best passing step is the ceiling.

use std::time::Duration;

use serde::Serialize;

use super::{connect_all, log_phase, run_phase, settle, Crowd, Phase, Spec, Target};
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
    /// Messages per second into the room for the fixed-rate latency phase (0 skips it).
    #[arg(long, default_value_t = 10.0)]
    pub fixed_rate: f64,
    /// Seconds of the fixed-rate phase.
    #[arg(long, default_value_t = 5.0)]
    pub fixed_secs: f64,
    /// Seconds of unreported warm-up at the fixed rate (JITs, allocators, caches).
    #[arg(long, default_value_t = 1.0)]
    pub warmup_secs: f64,
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
    /// The fixed-rate phase.
    pub fixed: Option<Phase>,
    /// Every step, in order.
    pub steps: Vec<Phase>,
    /// Highest deliveries/s among passing steps (0 if none passed).
    pub ceiling_deliveries_per_sec: f64,
    /// Why stepping stopped.
    pub stopped_because: String,
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
        settle(crowd, Duration::from_millis(500), Duration::from_secs(10)).await;
        p = run_phase(target, crowd, rate, args.step_secs, drain).await?;
        log_phase(&format!("{label} (retry)"), &p);
        p.retry = true;
        p.refine = refine;
        fail = verdict(&p, args);
    }
    steps.push(p.clone());
    Ok((p, fail))
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    let drain = Duration::from_secs_f64(args.drain_secs);
    if args.warmup_secs > 0.0 {
        let rate = if args.fixed_rate > 0.0 {
            args.fixed_rate
        } else {
            args.start_rate
        };
        let p = run_phase(target, &crowd, rate, args.warmup_secs, drain).await?;
        log_phase("fanout warm-up", &p);
        settle(&crowd, Duration::from_millis(300), Duration::from_secs(10)).await;
    }
    let fixed = if args.fixed_rate > 0.0 {
        let p = run_phase(target, &crowd, args.fixed_rate, args.fixed_secs, drain).await?;
        log_phase("fanout fixed", &p);
        settle(&crowd, Duration::from_millis(500), Duration::from_secs(10)).await;
        Some(p)
    } else {
        None
    };
    let mut steps = Vec::new();
    let mut ceiling: f64 = 0.0;
    let mut rate = args.start_rate;
    let mut stopped_because = format!("reached --max-steps {}", args.max_steps);
    // The rate of the first step that failed for good, if any.
    let mut failed_at = None;
    for i in 0..args.max_steps {
        let (p, fail) = run_step(
            target,
            &crowd,
            &args,
            rate,
            &format!("fanout step {i}"),
            &mut steps,
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
        settle(&crowd, Duration::from_millis(200), Duration::from_secs(10)).await;
    }
    if let (Some(mut hi), true) = (failed_at, ceiling > 0.0) {
        let mut lo = hi / args.factor;
        for k in 0..args.refine {
            settle(&crowd, Duration::from_millis(500), Duration::from_secs(10)).await;
            let mid = (lo * hi).sqrt();
            let (p, fail) = run_step(
                target,
                &crowd,
                &args,
                mid,
                &format!("fanout refine {k}"),
                &mut steps,
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
        fixed,
        steps,
        ceiling_deliveries_per_sec: ceiling,
        stopped_because,
    };
    crowd.shutdown().await;
    Ok(result)
}
