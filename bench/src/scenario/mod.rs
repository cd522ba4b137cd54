//! Scenarios and the machinery they share: connecting a crowd of members and
//! running a measured publishing phase over it.

pub mod fanout;
pub mod idle;
pub mod multinode;
pub mod reconnect;
pub mod rooms;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;

use crate::member::{lock, Burst, Member, SharedStats};
use crate::procfs::{CpuGroup, CpuUse};
use crate::stats::{new_histogram, Latency, RecvStats};
use crate::{Error, Protocol, Result};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// `ws://host:port` of the server (its first node).
    pub base: String,
    /// Further nodes of the same deployment (`ws://host:port` each), which
    /// share rooms through their channel layer; [`Spec::node`] picks one.
    pub more_bases: Vec<String>,
    /// Wire protocol.
    pub proto: Protocol,
    /// Server process to read CPU and memory from, when known.
    pub server_pid: Option<u32>,
    /// Further server processes (the other nodes, or more worker processes
    /// of one server): their CPU counts as the server's.
    pub more_server_pids: Vec<u32>,
    /// Channel-layer processes (Redis servers) whose CPU is reported on its
    /// own (`layer_cpu*` of a [`Phase`]).
    pub layer_pids: Vec<u32>,
    /// Connections opened at once.
    pub connect_concurrency: usize,
    /// Whether a publisher receives its own messages (all three protocols
    /// deliver to the whole room including the sender).
    pub self_echo: bool,
}

impl Target {
    /// One node: `base`, no further server or layer processes.
    pub fn single(base: &str, proto: Protocol, server_pid: Option<u32>) -> Self {
        Self {
            base: base.to_owned(),
            more_bases: Vec::new(),
            proto,
            server_pid,
            more_server_pids: Vec::new(),
            layer_pids: Vec::new(),
            connect_concurrency: 64,
            self_echo: true,
        }
    }

    /// How many nodes the clients can connect to.
    pub fn nodes(&self) -> usize {
        1 + self.more_bases.len()
    }

    /// The base URL of node `i` (modulo the number of nodes).
    ///
    /// ```
    /// use confab_bench::{scenario::Target, Protocol};
    /// let mut t = Target::single("ws://127.0.0.1:1", Protocol::Seed, None);
    /// t.more_bases.push("ws://127.0.0.1:2".into());
    /// assert_eq!((t.node_base(1), t.node_base(2)), ("ws://127.0.0.1:2", "ws://127.0.0.1:1"));
    /// ```
    pub fn node_base(&self, i: usize) -> &str {
        match i % self.nodes() {
            0 => &self.base,
            k => &self.more_bases[k - 1],
        }
    }

    /// Every server process: `server_pid` and `more_server_pids`.
    pub fn server_pids(&self) -> Vec<u32> {
        self.server_pid
            .into_iter()
            .chain(self.more_server_pids.iter().copied())
            .collect()
    }

    /// Starts measuring the CPU of every server process, if any is known.
    pub fn server_meter(&self) -> Option<CpuGroup> {
        CpuGroup::start(&self.server_pids())
    }

    /// Starts measuring the server and layer processes together (whether
    /// the deployment is idle).
    fn busy_meter(&self) -> Option<CpuGroup> {
        let mut pids = self.server_pids();
        pids.extend(&self.layer_pids);
        CpuGroup::start(&pids)
    }
}

/// One client to connect: its room and whether it publishes.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Which node to connect to (see [`Target::node_base`]); 0 with one node.
    pub node: usize,
    /// Room name.
    pub room: String,
    /// Index of the room (for loss accounting).
    pub room_idx: usize,
    /// Publisher id, if this client publishes.
    pub publisher: Option<u32>,
}

/// A connected member as the coordinator sees it.
#[derive(Debug)]
pub struct Handle {
    /// Room index.
    pub room_idx: usize,
    /// Publisher id and its burst channel.
    pub publisher: Option<(u32, mpsc::Sender<Burst>)>,
    /// Its counters.
    pub stats: SharedStats,
}

/// Every connected member; dropping it aborts their tasks (and closes
/// their sockets).
#[derive(Debug)]
pub struct Crowd {
    /// The members, in spec order (failed connections are left out).
    pub members: Vec<Handle>,
    /// Connections that could not be opened, with the first error seen.
    pub failed: usize,
    /// First connection error, if any.
    pub first_error: Option<String>,
    /// Time taken to connect everyone.
    pub connect_secs: f64,
    tasks: JoinSet<()>,
}

/// Connects every spec (at most `target.connect_concurrency` handshakes at
/// once, each retried up to 3 times within `timeout`) and starts its task.
pub async fn connect_all(target: &Target, specs: Vec<Spec>, timeout: Duration) -> Crowd {
    let t0 = Instant::now();
    let sem = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut pending = Vec::with_capacity(specs.len());
    for spec in specs {
        let (ready_tx, ready_rx) = oneshot::channel::<Result<Handle, String>>();
        pending.push(ready_rx);
        let sem = sem.clone();
        let proto = target.proto;
        let base = target.node_base(spec.node).to_owned();
        tasks.spawn(async move {
            let permit = sem.acquire_owned().await;
            let deadline = tokio::time::Instant::now() + timeout;
            let mut last = String::new();
            let mut ws = None;
            for _ in 0..3 {
                match tokio::time::timeout_at(deadline, proto.connect(&base, &spec.room)).await {
                    Ok(Ok(s)) => {
                        ws = Some(s);
                        break;
                    }
                    Ok(Err(e)) => last = e.to_string(),
                    Err(_) => {
                        last = "connect timed out".into();
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            drop(permit);
            let Some(ws) = ws else {
                let _ = ready_tx.send(Err(last));
                return;
            };
            let stats: SharedStats = Arc::new(Mutex::new(RecvStats::default()));
            let (tx, rx) = match spec.publisher {
                Some(_) => {
                    let (tx, rx) = mpsc::channel(4);
                    (Some(tx), Some(rx))
                }
                None => (None, None),
            };
            let _ = ready_tx.send(Ok(Handle {
                room_idx: spec.room_idx,
                publisher: spec.publisher.zip(tx),
                stats: stats.clone(),
            }));
            Member {
                ws,
                proto,
                room: spec.room,
                publisher: spec.publisher,
                stats,
                bursts: rx,
            }
            .run()
            .await;
        });
    }
    let mut crowd = Crowd {
        members: Vec::with_capacity(pending.len()),
        failed: 0,
        first_error: None,
        connect_secs: 0.0,
        tasks,
    };
    for rx in pending {
        match rx.await {
            Ok(Ok(h)) => crowd.members.push(h),
            Ok(Err(e)) => {
                crowd.failed += 1;
                crowd.first_error.get_or_insert(e);
            }
            Err(_) => crowd.failed += 1,
        }
    }
    crowd.connect_secs = t0.elapsed().as_secs_f64();
    crowd
}

impl Crowd {
    /// Members whose connection has ended.
    pub fn closed(&self) -> usize {
        self.members
            .iter()
            .filter(|m| lock(&m.stats).closed.is_some())
            .count()
    }

    /// First reason a member's connection ended, if any.
    pub fn first_close_reason(&self) -> Option<String> {
        self.members
            .iter()
            .find_map(|m| lock(&m.stats).closed.clone())
    }

    /// Total stamped deliveries so far.
    pub fn delivered(&self) -> u64 {
        self.members.iter().map(|m| lock(&m.stats).delivered).sum()
    }

    /// Aborts every member task (closing their sockets).
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Figures for one publishing phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// Target publish rate, messages per second into the server (all publishers).
    pub target_rate: f64,
    /// Messages the publishers were asked to send (each publisher sends
    /// `round(rate / publishers × secs)`).
    pub planned: u64,
    /// Messages published.
    pub published: u64,
    /// Publish duration, seconds.
    pub publish_secs: f64,
    /// Achieved publish rate.
    pub publish_rate: f64,
    /// Deliveries that should have happened (published × room members).
    pub expected: u64,
    /// Distinct deliveries seen by the end of the drain.
    pub delivered: u64,
    /// `expected - delivered`.
    pub lost: u64,
    /// Deliveries received more than once.
    pub dups: u64,
    /// `delivered / publish_secs`.
    pub deliveries_per_sec: f64,
    /// End-to-end latency of the deliveries received in this phase.
    pub latency: Latency,
    /// Server CPU over publish + drain, in cores (1.0 = one core), if known.
    pub server_cpu: Option<f64>,
    /// Server CPU seconds over publish + drain (every thread's scheduler
    /// runtime; see [`CpuMeter`]), if known.
    pub server_cpu_secs: Option<f64>,
    /// Whether `server_cpu_secs` is the precise per-thread figure (else
    /// 10 ms ticks: a server thread exited during the phase).
    pub server_cpu_precise: bool,
    /// Server CPU per delivered message, µs (`server_cpu_secs / delivered`):
    /// what a delivery costs the server, whichever side runs out of CPU
    /// first. Includes the server's background work over the window.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Load generator CPU over publish + drain, in cores.
    pub loadgen_cpu: Option<f64>,
    /// Each server process's CPU seconds over publish + drain, in the order
    /// of [`Target::server_pids`] (only with several server processes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_secs_each: Option<Vec<f64>>,
    /// Channel-layer (Redis) CPU over publish + drain, in cores: every
    /// process of [`Target::layer_pids`] together (only when given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_cpu: Option<f64>,
    /// Channel-layer CPU seconds over publish + drain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_cpu_secs: Option<f64>,
    /// Each layer process's CPU seconds, in the order of `layer_pids`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_cpu_secs_each: Option<Vec<f64>>,
    /// Channel-layer CPU per delivered message, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_cpu_us_per_delivery: Option<f64>,
    /// Server CPU while the publishers were publishing (drain left out), in
    /// cores: whether the server's core was full under the offered rate.
    pub server_cpu_publishing: Option<f64>,
    /// Load generator CPU while publishing, in cores.
    pub loadgen_cpu_publishing: Option<f64>,
    /// CPU the rest of the machine used over publish + drain, in cores
    /// (every core's busy time minus the server's, the channel layer's and
    /// the load generator's):
    /// other people's work competing for the cores. 10 ms ticks.
    pub others_cpu: Option<f64>,
    /// CPU the hypervisor took from this machine over publish + drain, in cores.
    pub steal_cpu: Option<f64>,
    /// Connections that have ended so far.
    pub closed_conns: usize,
    /// Publish acks so far (Confab).
    pub acks: u64,
    /// Error envelopes so far.
    pub errors: u64,
    /// Whether this phase re-ran a rate that had just failed.
    pub retry: bool,
    /// Whether this phase narrowed the ceiling between the last passing
    /// and the first failing step (`--refine`).
    pub refine: bool,
}

/// When publisher `k` of `n`, each publishing `rate` messages per second,
/// sends its first message: spread over one interval, so together they send
/// one message every 1 / (n × rate) s instead of n at the same instant.
///
/// ```
/// use confab_bench::scenario::stagger;
/// use std::time::Duration;
/// // 4 publishers at 2.5 msg/s each: one message into the room every 100 ms.
/// let offsets: Vec<Duration> = (0..4).map(|k| stagger(k, 4, 2.5)).collect();
/// assert_eq!(offsets, [0, 100, 200, 300].map(Duration::from_millis));
/// ```
pub fn stagger(k: usize, n: usize, rate: f64) -> Duration {
    if n == 0 || rate <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(k as f64 / n as f64 / rate)
}

/// Runs one phase: every publisher publishes `total_rate / publishers`
/// messages per second for `secs`; then waits up to `drain` for
/// deliveries to finish and counts what arrived.
pub async fn run_phase(
    target: &Target,
    crowd: &Crowd,
    total_rate: f64,
    secs: f64,
    drain: Duration,
) -> Result<Phase> {
    let publishers: Vec<&Handle> = crowd
        .members
        .iter()
        .filter(|m| m.publisher.is_some())
        .collect();
    if publishers.is_empty() {
        return Err(Error::Usage("no connected publisher".into()));
    }
    // Discard latencies recorded before this phase.
    let mut scratch = new_histogram();
    for m in &crowd.members {
        lock(&m.stats).drain_latencies(&mut scratch);
    }
    let dups0: u64 = crowd.members.iter().map(|m| lock(&m.stats).dups).sum();
    let delivered0 = crowd.delivered();
    let server_cpu = target.server_meter();
    let layer_cpu = CpuGroup::start(&target.layer_pids);
    let own_cpu = crate::procfs::CpuMeter::start(std::process::id());
    let machine0 = crate::procfs::machine_cpu_seconds().ok();
    let per_pub = total_rate / publishers.len() as f64;
    let duration = Duration::from_secs_f64(secs);
    let planned = publishers.len() as u64 * (per_pub * secs).round() as u64;
    let mut waits = Vec::new();
    for (k, p) in publishers.iter().enumerate() {
        let Some((id, tx)) = &p.publisher else {
            continue;
        };
        let (done, rx) = oneshot::channel();
        let burst = Burst {
            rate: per_pub,
            duration,
            offset: stagger(k, publishers.len(), per_pub),
            done,
        };
        if tx.send(burst).await.is_ok() {
            waits.push((*id, p.room_idx, rx));
        }
    }
    let mut ranges = Vec::new();
    let mut publish_secs: f64 = 0.0;
    for (id, room, rx) in waits {
        // A publisher whose socket died reports what it sent; one whose task
        // is gone sent nothing we can account for.
        if let Ok(Ok(r)) = tokio::time::timeout(duration * 3 + drain, rx).await {
            publish_secs = publish_secs.max(r.elapsed.as_secs_f64());
            ranges.push((id, room, r.first_seq, r.end_seq));
        }
    }
    let server_publishing = server_cpu
        .as_ref()
        .and_then(CpuGroup::read)
        .map(|u| u.cores());
    let loadgen_publishing = own_cpu.as_ref().and_then(|m| m.cores());
    // A burst spans its whole window even though its last message leaves
    // 1/rate before the end.
    let publish_secs = publish_secs.max(secs);
    let receivers_in = |room: usize| crowd.members.iter().filter(move |m| m.room_idx == room);
    let expected: u64 = ranges
        .iter()
        .map(|&(id, room, a, b)| {
            let n = receivers_in(room)
                .filter(|m| target.self_echo || m.publisher.as_ref().map(|p| p.0) != Some(id))
                .count() as u64;
            (b - a) * n
        })
        .sum();
    let drain_end = Instant::now() + drain;
    while Instant::now() < drain_end && crowd.delivered() - delivered0 < expected {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server_each = server_cpu.and_then(|m| m.read_each());
    let server_use = server_each.as_deref().map(crate::procfs::sum_uses);
    let layer_each = layer_cpu.and_then(|m| m.read_each());
    let layer_use = layer_each.as_deref().map(crate::procfs::sum_uses);
    let own_use = own_cpu.and_then(|m| m.read());
    let loadgen_cpu = own_use.map(|u| u.cores());
    let machine = match (machine0, crate::procfs::machine_cpu_seconds().ok(), own_use) {
        (Some((b0, s0)), Some((b1, s1)), Some(own)) if own.wall_secs > 0.0 => {
            let server = server_use.map_or(0.0, |u| u.secs);
            let layer = layer_use.map_or(0.0, |u| u.secs);
            let others = (b1 - b0 - server - layer - own.secs).max(0.0) / own.wall_secs;
            Some((others, (s1 - s0) / own.wall_secs))
        }
        _ => None,
    };
    let mut delivered = 0;
    for &(id, room, a, b) in &ranges {
        for m in receivers_in(room) {
            if !target.self_echo && m.publisher.as_ref().map(|p| p.0) == Some(id) {
                continue;
            }
            delivered += lock(&m.stats).got(id, a, b);
        }
    }
    let mut hist = new_histogram();
    let (mut dups, mut acks, mut errors) = (0, 0, 0);
    for m in &crowd.members {
        let mut s = lock(&m.stats);
        s.drain_latencies(&mut hist);
        dups += s.dups;
        acks += s.acks;
        errors += s.errors;
    }
    let published: u64 = ranges.iter().map(|r| r.3 - r.2).sum();
    Ok(Phase {
        target_rate: total_rate,
        planned,
        published,
        publish_secs,
        publish_rate: published as f64 / publish_secs,
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        dups: dups - dups0,
        deliveries_per_sec: delivered as f64 / publish_secs,
        latency: Latency::of(&hist),
        server_cpu: server_use.map(|u| u.cores()),
        server_cpu_secs: server_use.map(|u| u.secs),
        server_cpu_precise: server_use.is_some_and(|u| u.precise),
        server_cpu_us_per_delivery: per_delivery(server_use, delivered),
        loadgen_cpu,
        server_cpu_secs_each: server_each
            .filter(|e| e.len() > 1)
            .map(|e| e.iter().map(|u| u.secs).collect()),
        layer_cpu: layer_use.map(|u| u.cores()),
        layer_cpu_secs: layer_use.map(|u| u.secs),
        layer_cpu_secs_each: layer_each.map(|e| e.iter().map(|u| u.secs).collect()),
        layer_cpu_us_per_delivery: per_delivery(layer_use, delivered),
        server_cpu_publishing: server_publishing,
        loadgen_cpu_publishing: loadgen_publishing,
        others_cpu: machine.map(|m| m.0),
        steal_cpu: machine.map(|m| m.1),
        closed_conns: crowd.closed(),
        acks,
        errors,
        retry: false,
        refine: false,
    })
}

/// CPU µs per delivered message.
fn per_delivery(cpu: Option<CpuUse>, delivered: u64) -> Option<f64> {
    cpu.filter(|_| delivered > 0)
        .map(|u| u.secs * 1e6 / delivered as f64)
}

/// Waits until no delivery has arrived for `quiet` and, when the server's
/// pid is known, the server (with its channel-layer processes, if given)
/// used under 5% of a core over the last `quiet`
/// (at most `max`), so a backlog from an overloaded phase (deliveries still
/// queued in the server, or work it has not finished) does not leak into
/// the next one. Returns whether it settled before `max`.
pub async fn settle(target: &Target, crowd: &Crowd, quiet: Duration, max: Duration) -> bool {
    let end = Instant::now() + max;
    let mut last = crowd.delivered();
    let mut since = Instant::now();
    let mut meter = target.busy_meter();
    loop {
        if since.elapsed() >= quiet {
            match &meter {
                Some(m) if m.read().is_some_and(|u| u.cores() >= 0.05) => {
                    // Deliveries stopped but the server is still busy.
                    meter = target.busy_meter();
                    since = Instant::now();
                }
                _ => return true,
            }
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = crowd.delivered();
        if now != last {
            last = now;
            since = Instant::now();
            meter = target.busy_meter();
        }
    }
}

/// Waits between the phases of the rooms and multi-node scenarios: until
/// the server is quiet for 300 ms ([`settle`], at most 30 s).
pub async fn between_phases(target: &Target, crowd: &Crowd) {
    settle(
        target,
        crowd,
        Duration::from_millis(300),
        Duration::from_secs(30),
    )
    .await;
}

/// An unrecorded phase at `total_rate` for `secs` (none when `secs` is 0),
/// logged as `label`, then [`between_phases`]: connections, caches and the
/// server's buffers reach their steady state before anything is measured.
pub async fn warm_up(
    target: &Target,
    crowd: &Crowd,
    total_rate: f64,
    secs: f64,
    drain: Duration,
    label: &str,
) -> Result<()> {
    if secs > 0.0 {
        let p = run_phase(target, crowd, total_rate, secs, drain).await?;
        log_phase(label, &p);
        between_phases(target, crowd).await;
    }
    Ok(())
}

/// Logs a phase on stderr in one line.
pub fn log_phase(label: &str, p: &Phase) {
    eprintln!(
        "{label}: rate {:.0}/s (achieved {:.0}/s) -> {:.0} deliveries/s, lost {}/{}, dups {}, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, server cpu {}, loadgen cpu {}, others {}",
        p.target_rate,
        p.publish_rate,
        p.deliveries_per_sec,
        p.lost,
        p.expected,
        p.dups,
        p.latency.p50_ms,
        p.latency.p99_ms,
        p.latency.max_ms,
        p.server_cpu.map_or("?".into(), |c| format!("{:.0}%", c * 100.0)),
        p.loadgen_cpu.map_or("?".into(), |c| format!("{:.0}%", c * 100.0)),
        p.others_cpu.map_or("?".into(), |c| format!("{:.0}%", c * 100.0)),
    );
}
