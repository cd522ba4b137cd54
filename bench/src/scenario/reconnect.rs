//! Reconnect storm (Confab native protocol only): N clients joined in rooms
//! of K, one publisher per room; the harness process restarts the server
//! (SIGTERM, then the same command again) and every client reconnects with
//! the SDK's backoff and re-joins with `since` = the last position it saw.
//! Figures: time from the kill until 99% (and 100%) have re-joined, and
//! acknowledged messages a client never received, live or from history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use confab_protocol::{decode_server, Position, ServerMsg};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde::Serialize;
use tokio::process::{Child, Command};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use super::Target;
use crate::proto::{client_config, confab_join, confab_welcome, Ws};
use crate::stats::BitSet;
use crate::{now_us, Error, Protocol, Result, Stamp};

/// Reconnect-storm options.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct ReconnectArgs {
    /// Clients (all joined before the restart).
    #[arg(long, default_value_t = 5000)]
    pub clients: usize,
    /// Clients per room; the first of each room publishes.
    #[arg(long, default_value_t = 50)]
    pub per_room: usize,
    /// Messages per second into each room, from its publisher, before, during and after the storm.
    #[arg(long, default_value_t = 2.0)]
    pub rate_per_room: f64,
    /// Seconds of publishing before the restart.
    #[arg(long, default_value_t = 2.0)]
    pub before_secs: f64,
    /// Seconds of publishing after 100% re-joined (or the timeout).
    #[arg(long, default_value_t = 2.0)]
    pub after_secs: f64,
    /// Seconds to wait for deliveries after publishing stops.
    #[arg(long, default_value_t = 2.0)]
    pub drain_secs: f64,
    /// Reconnect backoff as in the SDK (`confab_client::Backoff`): attempt n
    /// (1 after a stable connection) waits uniform(min, min(max, min·2^(n-1))) ms.
    #[arg(long, default_value_t = 250)]
    pub backoff_min_ms: u64,
    /// Largest reconnect delay in ms (the SDK's default is 10 s).
    #[arg(long, default_value_t = 10_000)]
    pub backoff_max_ms: u64,
    /// Give up waiting for re-joins after this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout_secs: f64,
    /// The server command (started, killed with SIGTERM and started again),
    /// e.g. `-- taskset -c 0 target/release/confab-server --bind 127.0.0.1:8000`.
    #[arg(last = true, required = true)]
    pub server_cmd: Vec<String>,
}

/// Reconnect-storm figures.
#[derive(Debug, Clone, Serialize)]
pub struct ReconnectResult {
    /// Options used.
    pub args: ReconnectArgs,
    /// Clients joined before the restart.
    pub joined_before: usize,
    /// Seconds from SIGTERM until the old server exited.
    pub shutdown_secs: f64,
    /// Seconds from SIGTERM until the new server accepted TCP connections.
    pub restart_secs: f64,
    /// Seconds from SIGTERM until 99% of the clients had re-joined.
    pub rejoin_p99_secs: Option<f64>,
    /// Seconds from SIGTERM until every client had re-joined.
    pub rejoin_all_secs: Option<f64>,
    /// Clients that never re-joined within the timeout.
    pub not_rejoined: usize,
    /// Re-joins answered with `recovered: false` (history epoch changed or gap too old).
    pub not_recovered: usize,
    /// Messages acknowledged to publishers.
    pub acked: u64,
    /// (client, acked message) pairs never received live or from history.
    pub lost: u64,
    /// Messages received twice (live + history overlap).
    pub dups: u64,
    /// Connection attempts that failed during the storm.
    pub failed_attempts: u64,
    /// Where the time went: close, failures by kind, TCP connect and join times.
    pub detail: StormDetail,
}

/// The storm's time line, all times in ms from the SIGTERM.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StormDetail {
    /// When clients saw their connection to the old server end: p50, p99, max.
    pub closed_ms: [f64; 3],
    /// Failed attempts after the SIGTERM, by kind.
    pub failed_by_kind: std::collections::BTreeMap<Outcome, u64>,
    /// Frames other than messages and acks (presence, ...) the old server
    /// sent after the SIGTERM, before its close frame: summed over clients.
    pub other_frames_before_close: u64,
    /// Clients by number of failed attempts before re-joining: 0, 1, 2, 3, 4+.
    pub clients_by_failures: [u64; 5],
    /// TCP connect time of attempts after the SIGTERM that got a connection: p50, p99, max.
    pub tcp_connect_ms: [f64; 3],
    /// Attempts whose TCP connect took ≥ 900 ms (a SYN dropped and retransmitted).
    pub tcp_connect_slow: u64,
    /// Start to `joined` of successful re-join attempts: p50, p99, max.
    pub join_attempt_ms: [f64; 3],
    /// Per 250 ms from the SIGTERM: [start ms, attempts started, failed, re-joined].
    pub timeline: Vec<[u64; 4]>,
    /// Clients that, just before the SIGTERM, had not received live some
    /// message acknowledged to their room's publisher since they joined
    /// (durable history hides this at re-join; in memory it is lost).
    pub clients_behind_at_kill: u64,
    /// Those messages, summed over clients (the newest acked one is not
    /// counted: it may still be on its way).
    pub missed_live_at_kill: u64,
    /// Lost messages: "room R old|new epoch offset N" → clients that missed it
    /// ("old": the history epoch before the restart).
    pub lost_where: std::collections::BTreeMap<String, u64>,
}

/// p50, p99 and max of `v` (sorted in place); zeros when empty.
fn p50_p99_max(v: &mut [f64]) -> [f64; 3] {
    if v.is_empty() {
        return [0.0; 3];
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    [at(0.5), at(0.99), v[v.len() - 1]]
}

const BUCKET_MS: u64 = 250;

impl StormDetail {
    fn of(states: &[(usize, Shared<ClientState>)], t_kill: Instant) -> Self {
        let ms = |t: Instant| t.saturating_duration_since(t_kill).as_secs_f64() * 1e3;
        let mut d = Self::default();
        let (mut closed, mut tcp, mut join) = (Vec::new(), Vec::new(), Vec::new());
        let mut timeline: Vec<[u64; 4]> = Vec::new();
        let mut bucket = |t: f64, col: usize| {
            let i = (t as u64 / BUCKET_MS) as usize;
            if timeline.len() <= i {
                timeline.resize_with(i + 1, || [0; 4]);
            }
            timeline[i][col] += 1;
        };
        for (_, st) in states {
            let st = lock(st);
            if let Some(&c) = st.sessions_ended.iter().find(|&&c| c >= t_kill) {
                closed.push(ms(c));
                d.other_frames_before_close += st
                    .others_at
                    .iter()
                    .filter(|&&t| t >= t_kill && t <= c)
                    .count() as u64;
            }
            let mut fails = 0usize;
            for a in st.attempts.iter().filter(|a| a.start >= t_kill) {
                bucket(ms(a.start), 1);
                if let Some(t) = a.tcp {
                    tcp.push(t.as_secs_f64() * 1e3);
                    d.tcp_connect_slow += u64::from(t >= Duration::from_millis(900));
                }
                if a.outcome == Outcome::Joined {
                    join.push((a.end - a.start).as_secs_f64() * 1e3);
                    bucket(ms(a.end), 3);
                    break;
                }
                bucket(ms(a.end), 2);
                fails += 1;
                *d.failed_by_kind.entry(a.outcome).or_default() += 1;
            }
            d.clients_by_failures[fails.min(4)] += 1;
        }
        for (i, row) in timeline.iter_mut().enumerate() {
            row[0] = i as u64 * BUCKET_MS;
        }
        d.closed_ms = p50_p99_max(&mut closed);
        d.tcp_connect_ms = p50_p99_max(&mut tcp);
        d.join_attempt_ms = p50_p99_max(&mut join);
        d.timeline = timeline;
        d
    }

    fn print(&self) {
        let f = |v: [f64; 3]| format!("p50 {:.0} / p99 {:.0} / max {:.0} ms", v[0], v[1], v[2]);
        eprintln!("storm: old connections ended {}", f(self.closed_ms));
        eprintln!(
            "storm: frames other than messages before the close: {}",
            self.other_frames_before_close
        );
        eprintln!("storm: failed attempts by kind {:?}", self.failed_by_kind);
        eprintln!(
            "storm: clients by failed attempts [0,1,2,3,4+] {:?}",
            self.clients_by_failures
        );
        eprintln!(
            "storm: tcp connect {}; {} took >= 900 ms",
            f(self.tcp_connect_ms),
            self.tcp_connect_slow
        );
        eprintln!(
            "storm: successful re-join attempt {}",
            f(self.join_attempt_ms)
        );
        eprintln!("storm: ms from SIGTERM | attempts started | failed | re-joined");
        eprintln!(
            "storm: before the SIGTERM, {} clients were missing {} acked messages live",
            self.clients_behind_at_kill, self.missed_live_at_kill
        );
        for (at, clients) in &self.lost_where {
            eprintln!("storm: lost: {at} (missed by {clients} clients)");
        }
        for r in &self.timeline {
            eprintln!(
                "storm: {:>5} | {:>5} | {:>5} | {:>5}",
                r[0], r[1], r[2], r[3]
            );
        }
    }
}

#[derive(Debug, Default)]
struct EpochSeen {
    join_offset: u64,
    seen: BitSet,
}

#[derive(Debug, Default)]
struct ClientState {
    epochs: HashMap<String, EpochSeen>,
    epoch: String,
    last_offset: u64,
    joins: u32,
    last_join: Option<Instant>,
    not_recovered: u32,
    dups: u64,
    failed_attempts: u64,
    /// When each session ended (the server's close or a broken link).
    sessions_ended: Vec<Instant>,
    /// When each frame other than a room message or ack arrived (presence, ...).
    others_at: Vec<Instant>,
    /// Every connection attempt, for the storm's time line.
    attempts: Vec<Attempt>,
}

/// One connection attempt: when it started, how long TCP connect took, and
/// how it ended.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    start: Instant,
    /// TCP connect duration, if it completed.
    tcp: Option<Duration>,
    end: Instant,
    outcome: Outcome,
}

/// How a connection attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Joined.
    Joined,
    /// TCP connect refused (nothing listening).
    Refused,
    /// Connection reset (RST) or closed without a close frame.
    Reset,
    /// A step exceeded its time limit.
    Timeout,
    /// The HTTP upgrade was answered with a 5xx.
    Handshake5xx,
    /// The HTTP upgrade failed some other way.
    HandshakeOther,
    /// Closed (close frame or EOF) before `welcome`.
    CloseBeforeWelcome,
    /// Closed (close frame or EOF) before `joined`.
    CloseDuringJoin,
    /// The server refused the join.
    JoinRefused,
    /// Anything else.
    Other,
}

impl Outcome {
    fn of(e: &Error, stage: Stage) -> Self {
        use tokio_tungstenite::tungstenite::Error as WsError;
        let io = |e: &std::io::Error| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => Self::Refused,
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::UnexpectedEof => Self::Reset,
            std::io::ErrorKind::TimedOut => Self::Timeout,
            _ => Self::Other,
        };
        match (e, stage) {
            (Error::Io(e), _) => io(e),
            (Error::Ws(WsError::Io(e)), _) => io(e),
            (Error::Ws(WsError::Http(r)), _) if r.status().is_server_error() => Self::Handshake5xx,
            (Error::Ws(WsError::Http(_) | WsError::HttpFormat(_) | WsError::Url(_)), _) => {
                Self::HandshakeOther
            }
            (
                Error::Ws(
                    WsError::ConnectionClosed
                    | WsError::AlreadyClosed
                    | WsError::Protocol(
                        tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ),
                ),
                Stage::Upgrade,
            ) => Self::Reset,
            (Error::Timeout(_), _) => Self::Timeout,
            (Error::Protocol(m), _) if m.starts_with("join refused") => Self::JoinRefused,
            (_, Stage::Welcome) => Self::CloseBeforeWelcome,
            (_, Stage::Join) => Self::CloseDuringJoin,
            _ => Self::Other,
        }
    }
}

/// Where a connection attempt was when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Tcp,
    Upgrade,
    Welcome,
    Join,
}

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Shared<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Offsets acknowledged to a room's publisher, per history epoch.
type Acked = HashMap<String, BitSet>;

impl ClientState {
    fn see(&mut self, offset: u64) {
        let e = self.epochs.entry(self.epoch.clone()).or_default();
        if e.seen.insert(offset) {
            self.dups += 1;
        }
        self.last_offset = self.last_offset.max(offset);
    }
}

struct Client {
    base: String,
    room: String,
    publisher: Option<u32>,
    state: Shared<ClientState>,
    acked: Shared<Acked>,
    publishing: watch::Receiver<bool>,
    rate: f64,
    backoff: (u64, u64),
}

impl Client {
    /// One connection attempt, logged in the client's state.
    async fn connect(&self) -> Result<Ws> {
        let start = Instant::now();
        let mut tcp = None;
        let mut stage = Stage::Tcp;
        let res = self.try_connect(&mut stage, &mut tcp).await;
        let outcome = match &res {
            Ok(_) => Outcome::Joined,
            Err(e) => Outcome::of(e, stage),
        };
        lock(&self.state).attempts.push(Attempt {
            start,
            tcp,
            end: Instant::now(),
            outcome,
        });
        res
    }

    /// TCP connect, upgrade, `welcome`, `join`: what
    /// `connect_async_with_config(url, config, true)` does, in steps so the
    /// storm report can say where an attempt failed and how long TCP took.
    async fn try_connect(&self, stage: &mut Stage, tcp: &mut Option<Duration>) -> Result<Ws> {
        let url = Protocol::Confab.url(&self.base, &self.room);
        let t = Instant::now();
        let stream = tokio::net::TcpStream::connect(host_port(&self.base)).await?;
        *tcp = Some(t.elapsed());
        stream.set_nodelay(true)?;
        *stage = Stage::Upgrade;
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(
            url,
            tokio_tungstenite::MaybeTlsStream::Plain(stream),
            Some(client_config()),
        )
        .await?;
        *stage = Stage::Welcome;
        confab_welcome(&mut ws).await?;
        *stage = Stage::Join;
        let since = {
            let s = lock(&self.state);
            (s.joins > 0).then(|| Position {
                epoch: s.epoch.clone(),
                offset: s.last_offset,
            })
        };
        let resuming = since.is_some();
        let (joined, early) = confab_join(&mut ws, &self.room, since).await?;
        let mut s = lock(&self.state);
        if resuming && (!joined.recovered || joined.epoch != s.epoch) {
            s.not_recovered += 1;
        }
        if joined.epoch != s.epoch {
            s.epoch = joined.epoch.clone();
            s.last_offset = 0;
        }
        let join_offset = joined.offset;
        s.epochs
            .entry(joined.epoch.clone())
            .or_insert_with(|| EpochSeen {
                join_offset,
                seen: BitSet::default(),
            });
        for m in &joined.history {
            s.see(m.offset);
        }
        for text in early {
            if let Ok(ServerMsg::Message(m)) = decode_server(&text) {
                s.see(m.offset);
            }
        }
        s.joins += 1;
        s.last_join = Some(Instant::now());
        Ok(ws)
    }

    /// One connection's life: returns when it ends.
    async fn session(&mut self, mut ws: Ws) {
        let epoch = lock(&self.state).epoch.clone();
        let mut seq = 0u64;
        let period = Duration::from_secs_f64(1.0 / self.rate.max(0.001));
        let mut tick = tokio::time::interval(period);
        let mut hb = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                frame = ws.next() => {
                    let Some(Ok(frame)) = frame else { return };
                    let Message::Text(t) = frame else {
                        if matches!(frame, Message::Close(_)) { return }
                        continue;
                    };
                    match decode_server(t.as_str()) {
                        Ok(ServerMsg::Message(m)) if m.room == self.room => lock(&self.state).see(m.offset),
                        Ok(ServerMsg::Ack(a)) => {
                            if let Some(o) = a.offset {
                                lock(&self.acked).entry(epoch.clone()).or_default().insert(o);
                            }
                        }
                        _ => lock(&self.state).others_at.push(Instant::now()),
                    }
                }
                _ = tick.tick(), if self.publisher.is_some() && *self.publishing.borrow() => {
                    let stamp = Stamp { publisher: self.publisher.unwrap_or(0), seq, sent_us: now_us() };
                    seq += 1;
                    let frame = Protocol::Confab.publish_frame(&self.room, &stamp, seq);
                    if ws.send(Message::text(frame)).await.is_err() { return }
                }
                _ = hb.tick() => {
                    let ping = Protocol::Confab.heartbeat_frame().unwrap_or_default();
                    if ws.send(Message::text(ping)).await.is_err() { return }
                }
            }
        }
    }

    async fn run(mut self, first: Arc<Semaphore>) {
        // 1-based attempt number of the next reconnect, as in the SDK.
        let mut attempt: u32 = 1;
        let mut permit = first.acquire_owned().await.ok();
        loop {
            match self.connect().await {
                Ok(ws) => {
                    permit.take();
                    attempt = 1;
                    self.session(ws).await;
                    lock(&self.state).sessions_ended.push(Instant::now());
                }
                Err(_) => {
                    lock(&self.state).failed_attempts += 1;
                    attempt = attempt.saturating_add(1);
                }
            }
            let (min, max) = self.backoff;
            let delay = backoff_ms(min, max, attempt, rand::rng().random::<f64>());
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
}

/// The SDK's reconnect delay in ms ([`confab_protocol::backoff_delay`]).
///
/// ```
/// use confab_bench::scenario::reconnect::backoff_ms;
/// assert_eq!(backoff_ms(250, 10_000, 1, 0.7), 250);
/// assert_eq!(backoff_ms(250, 10_000, 3, 1.0), 1000);
/// ```
pub fn backoff_ms(min: u64, max: u64, attempt: u32, sample: f64) -> u64 {
    use std::time::Duration;
    let d = confab_protocol::backoff_delay(
        Duration::from_millis(min),
        Duration::from_millis(max),
        attempt,
        sample,
    );
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `host:port` of a `ws://host:port/...` base URL.
fn host_port(base: &str) -> String {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

fn spawn_server(cmd: &[String]) -> Result<Child> {
    let (prog, args) = cmd
        .split_first()
        .ok_or_else(|| Error::Usage("empty server command".into()))?;
    Ok(Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

async fn wait_ready(addr: &str, within: Duration) -> Result<()> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(Error::Timeout(format!("server on {addr} not ready")))
}

async fn stop_server(child: &mut Child) -> Result<()> {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        child.kill().await?;
    }
    Ok(())
}

/// Runs the reconnect storm; it starts and restarts the server itself.
pub async fn run(target: &Target, args: ReconnectArgs) -> Result<ReconnectResult> {
    if target.proto != Protocol::Confab {
        return Err(Error::Usage(
            "reconnect needs --proto confab (resume is a Confab feature)".into(),
        ));
    }
    let addr = host_port(&target.base);
    let mut server = spawn_server(&args.server_cmd)?;
    wait_ready(&addr, Duration::from_secs(20)).await?;
    let (pub_tx, pub_rx) = watch::channel(false);
    let first = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let per_room = args.per_room.max(1);
    let rooms = args.clients.div_ceil(per_room);
    let acked: Vec<Shared<Acked>> = (0..rooms).map(|_| Shared::default()).collect();
    let mut states = Vec::with_capacity(args.clients);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.clients {
        let state: Shared<ClientState> = Shared::default();
        states.push((i / per_room, state.clone()));
        let client = Client {
            base: target.base.clone(),
            room: format!("storm{}", i / per_room),
            publisher: (i % per_room == 0).then_some(i as u32),
            state,
            acked: acked[i / per_room].clone(),
            publishing: pub_rx.clone(),
            rate: args.rate_per_room,
            backoff: (args.backoff_min_ms, args.backoff_max_ms),
        };
        tasks.spawn(client.run(first.clone()));
    }
    let joins_at_least = |n: u32, since: Option<Instant>| {
        states
            .iter()
            .filter(|(_, s)| {
                let s = lock(s);
                s.joins >= n && since.is_none_or(|t| s.last_join.is_some_and(|j| j >= t))
            })
            .count()
    };
    let t0 = Instant::now();
    while joins_at_least(1, None) < args.clients
        && t0.elapsed() < Duration::from_secs_f64(args.timeout_secs * 2.0)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let joined_before = joins_at_least(1, None);
    eprintln!(
        "reconnect: {joined_before}/{} joined in {:.1} s",
        args.clients,
        t0.elapsed().as_secs_f64()
    );
    let _ = pub_tx.send(true);
    tokio::time::sleep(Duration::from_secs_f64(args.before_secs)).await;

    // History epochs before the restart ("old" in `lost_where`).
    let old_epochs: std::collections::HashSet<String> =
        states.iter().map(|(_, s)| lock(s).epoch.clone()).collect();
    let behind = missed_live(&states, &acked);
    let t_kill = Instant::now();
    stop_server(&mut server).await?;
    let shutdown_secs = t_kill.elapsed().as_secs_f64();
    server = spawn_server(&args.server_cmd)?;
    wait_ready(&addr, Duration::from_secs(20)).await?;
    let restart_secs = t_kill.elapsed().as_secs_f64();
    let need99 = (joined_before as f64 * 0.99).ceil() as usize;
    let (mut p99, mut all) = (None, None);
    let deadline = t_kill + Duration::from_secs_f64(args.timeout_secs);
    while Instant::now() < deadline && all.is_none() {
        let n = joins_at_least(2, Some(t_kill));
        if p99.is_none() && n >= need99 {
            p99 = Some(t_kill.elapsed().as_secs_f64());
        }
        if n >= joined_before {
            all = Some(t_kill.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rejoined = joins_at_least(2, Some(t_kill));
    eprintln!(
        "reconnect: restart took {restart_secs:.2} s; 99% re-joined after {p99:?} s, all after {all:?} s ({rejoined}/{joined_before})"
    );
    tokio::time::sleep(Duration::from_secs_f64(args.after_secs)).await;
    let _ = pub_tx.send(false);
    tokio::time::sleep(Duration::from_secs_f64(args.drain_secs)).await;

    let mut lost = 0;
    let mut lost_where: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut dups, mut not_recovered, mut failed_attempts) = (0, 0, 0);
    for (room, state) in &states {
        let s = lock(state);
        dups += s.dups;
        not_recovered += s.not_recovered as usize;
        failed_attempts += s.failed_attempts;
        for (epoch, offsets) in lock(&acked[*room]).iter() {
            let Some(e) = s.epochs.get(epoch) else {
                continue;
            };
            for w in 0..=offsets_max(offsets) {
                if offsets.contains(w) && w > e.join_offset && !e.seen.contains(w) {
                    lost += 1;
                    let when = if old_epochs.contains(epoch) {
                        "old"
                    } else {
                        "new"
                    };
                    *lost_where
                        .entry(format!("room {room} {when} epoch offset {w}"))
                        .or_default() += 1;
                }
            }
        }
    }
    let acked_total = acked
        .iter()
        .map(|a| {
            lock(a)
                .values()
                .map(|b| b.count_in(0, offsets_max(b) + 1))
                .sum::<u64>()
        })
        .sum();
    let mut detail = StormDetail::of(&states, t_kill);
    detail.lost_where = lost_where;
    (detail.clients_behind_at_kill, detail.missed_live_at_kill) = behind;
    detail.print();
    tasks.shutdown().await;
    stop_server(&mut server).await?;
    let result = ReconnectResult {
        joined_before,
        shutdown_secs,
        restart_secs,
        rejoin_p99_secs: p99,
        rejoin_all_secs: all,
        not_rejoined: joined_before.saturating_sub(rejoined),
        not_recovered,
        acked: acked_total,
        lost,
        dups,
        failed_attempts,
        detail,
        args,
    };
    eprintln!(
        "reconnect: acked {}, lost {}, dups {}, not recovered {}",
        result.acked, result.lost, result.dups, result.not_recovered
    );
    Ok(result)
}

/// Clients missing acked messages (older than the newest, which may still
/// be on its way) in their current epoch, and the sum of what they miss.
fn missed_live(states: &[(usize, Shared<ClientState>)], acked: &[Shared<Acked>]) -> (u64, u64) {
    let (mut clients, mut missed) = (0, 0);
    for (room, state) in states {
        let s = lock(state);
        let acked = lock(&acked[*room]);
        let (Some(offsets), Some(e)) = (acked.get(&s.epoch), s.epochs.get(&s.epoch)) else {
            continue;
        };
        let newest = offsets_max(offsets);
        let n = (e.join_offset + 1..newest)
            .filter(|&w| offsets.contains(w) && !e.seen.contains(w))
            .count() as u64;
        if n > 0 {
            clients += 1;
            missed += n;
        }
    }
    (clients, missed)
}

fn offsets_max(b: &BitSet) -> u64 {
    b.max().unwrap_or(0)
}
