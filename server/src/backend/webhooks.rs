//! Webhooks: what happened, told to the application's backend.
//!
//! Events are queued in the order this node saw them and delivered by one
//! worker in batches (`POST <--webhook-url>` `{"events": [...]}`, signed,
//! see [`super::sign`]), at least once: a batch is retried with backoff
//! until the backend answers 2xx, so the backend de-duplicates by each
//! event's `id`. Order is kept (per room and overall) because one worker
//! delivers one queue in order.
//!
//! One node: the queue is in memory. Several nodes on Redis: every node
//! appends to one Redis stream, and one node at a time (the holder of a
//! lease) reads it through a consumer group, so each event is delivered
//! once per cluster, not once per node; a new holder first takes over what
//! the previous one had read and not acknowledged. The queue is bounded
//! (`--webhook-queue`): past it an event is dropped, counted in
//! `confab_webhook_dropped_total` and logged, and rooms never wait for it.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use confab_protocol::{Member, Message};
use rand::Rng;
use serde_json::json;
use tokio::sync::{mpsc, Notify};

use super::sign;
use crate::clock::now_ms;
use crate::fanout::{Payload, PresenceChange};
use crate::layer::SideConnection;
use crate::metrics::Metrics;

/// Most events in one delivery.
const BATCH: usize = 100;

/// The internal room whose presence is "the user has a connection
/// somewhere" (a name no client can use): joins and leaves of it are
/// `user_online` and `user_offline`.
pub const ONLINE_ROOM: &str = "@online";

/// Something the backend is told.
#[derive(Debug, Clone)]
pub enum WebhookEvent {
    /// The user's first connection, on any node.
    UserOnline(Member),
    /// The user's last connection closed, on every node.
    UserOffline(Member),
    /// A user arrived in a room (their first connection in it).
    MemberJoined(String, Member),
    /// A user left a room (their last connection in it).
    MemberLeft(String, Member),
    /// A room got its first member.
    RoomOccupied(String),
    /// A room's last member left.
    RoomVacated(String),
    /// A message was stored (rooms chosen by `--webhook-message-rooms`).
    MessageStored(Message<Payload>),
}

impl WebhookEvent {
    /// The event's name, as configured and as sent.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UserOnline(_) => "user_online",
            Self::UserOffline(_) => "user_offline",
            Self::MemberJoined(..) => "member_joined",
            Self::MemberLeft(..) => "member_left",
            Self::RoomOccupied(_) => "room_occupied",
            Self::RoomVacated(_) => "room_vacated",
            Self::MessageStored(_) => "message_stored",
        }
    }

    /// Every event name.
    pub const KINDS: [&'static str; 7] = [
        "user_online",
        "user_offline",
        "member_joined",
        "member_left",
        "room_occupied",
        "room_vacated",
        "message_stored",
    ];

    /// The events a membership change makes.
    pub fn from_change(change: PresenceChange) -> Vec<Self> {
        match change {
            PresenceChange::Joined { room, member, .. } if room == ONLINE_ROOM => {
                vec![Self::UserOnline(member)]
            }
            PresenceChange::Left { room, member, .. } if room == ONLINE_ROOM => {
                vec![Self::UserOffline(member)]
            }
            PresenceChange::Joined {
                room,
                member,
                first,
            } => {
                let mut out = Vec::with_capacity(2);
                if first {
                    out.push(Self::RoomOccupied(room.clone()));
                }
                out.push(Self::MemberJoined(room, member));
                out
            }
            PresenceChange::Left { room, member, last } => {
                let mut out = vec![Self::MemberLeft(room.clone(), member)];
                if last {
                    out.push(Self::RoomVacated(room));
                }
                out
            }
        }
    }

    /// The event's JSON, without its delivery id (added when delivered).
    fn body(&self) -> serde_json::Value {
        let ts = now_ms();
        let kind = self.kind();
        match self {
            Self::UserOnline(user) | Self::UserOffline(user) => {
                json!({"event": kind, "ts": ts, "user": user})
            }
            Self::MemberJoined(room, user) | Self::MemberLeft(room, user) => {
                json!({"event": kind, "ts": ts, "room": room, "user": user})
            }
            Self::RoomOccupied(room) | Self::RoomVacated(room) => {
                json!({"event": kind, "ts": ts, "room": room})
            }
            Self::MessageStored(m) => {
                json!({"event": kind, "ts": ts, "room": m.room, "message": m})
            }
        }
    }
}

/// What `--webhook-*` configure.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Where events are posted.
    pub url: String,
    /// The HMAC secret that signs them.
    pub secret: String,
    /// The events wanted ([`WebhookEvent::KINDS`]).
    pub events: HashSet<String>,
    /// Rooms whose stored messages are sent: exact names, or `prefix*`.
    pub message_rooms: Vec<String>,
    /// Most events waiting.
    pub queue: usize,
    /// Longest wait for the backend's answer.
    pub timeout: Duration,
}

impl WebhookConfig {
    fn wants(&self, event: &WebhookEvent) -> bool {
        match event {
            WebhookEvent::MessageStored(m) => self.message_room(&m.room),
            e => self.events.contains(e.kind()),
        }
    }

    /// Whether messages stored in `room` are sent.
    pub fn message_room(&self, room: &str) -> bool {
        self.events.contains("message_stored")
            && self
                .message_rooms
                .iter()
                .any(|p| match p.strip_suffix('*') {
                    Some(prefix) => room.starts_with(prefix),
                    None => p == room,
                })
    }

    /// Whether the online/offline events are wanted (each connection then
    /// also counts in [`ONLINE_ROOM`]).
    pub fn tracks_online(&self) -> bool {
        self.events.contains("user_online") || self.events.contains("user_offline")
    }
}

/// Where events wait for delivery.
#[derive(Clone)]
enum Queue {
    /// This node's memory.
    Local(Arc<LocalQueue>),
    /// A Redis stream shared by every node.
    Redis(Arc<RedisQueue>),
}

/// The webhooks of one node.
pub struct Webhooks {
    config: WebhookConfig,
    queue: Queue,
    /// Events handed to the appender (Redis): bounded, never waited on.
    appends: Option<mpsc::Sender<String>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Webhooks queued in this node's memory (one node), with their worker
    /// started.
    pub fn local(config: WebhookConfig, metrics: Arc<Metrics>) -> Arc<Self> {
        let queue = Arc::new(LocalQueue {
            events: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            bound: config.queue.max(1),
            boot: format!("{:08x}", rand::rng().random::<u32>()),
            seq: std::sync::atomic::AtomicU64::new(0),
        });
        let hooks = Arc::new(Self {
            config,
            queue: Queue::Local(queue),
            appends: None,
            metrics,
        });
        tokio::spawn(deliver(hooks.clone()));
        hooks
    }

    /// Webhooks queued in a Redis stream shared by every node, reached
    /// through `redis` (the first shard, or the cluster: one stream, so
    /// one queue, whatever the topology), with the appender and the
    /// (lease-holding) worker started.
    pub async fn redis(
        config: WebhookConfig,
        redis: SideConnection,
        node: String,
        metrics: Arc<Metrics>,
    ) -> crate::Result<Arc<Self>> {
        let queue = Arc::new(RedisQueue::connect(redis, node, config.queue).await?);
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let hooks = Arc::new(Self {
            config,
            queue: Queue::Redis(queue.clone()),
            appends: Some(tx),
            metrics,
        });
        tokio::spawn(append(queue, rx, hooks.metrics.clone()));
        tokio::spawn(deliver(hooks.clone()));
        Ok(hooks)
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Queues `event` if it is wanted; never waits. A full queue drops it
    /// (counted and logged).
    pub fn emit(&self, event: WebhookEvent) {
        if !self.config.wants(&event) {
            return;
        }
        let body = event.body().to_string();
        let queued = match (&self.queue, &self.appends) {
            (Queue::Redis(_), Some(tx)) => tx.try_send(body).is_ok(),
            (Queue::Local(q), _) => q.push(body),
            (Queue::Redis(_), None) => false,
        };
        if queued {
            self.metrics.webhook_queued.fetch_add(1, Relaxed);
        } else {
            self.dropped(event.kind());
        }
    }

    fn dropped(&self, kind: &str) {
        let n = self.metrics.webhook_dropped.fetch_add(1, Relaxed) + 1;
        // One line per 1,000 drops: a full queue must not flood the log.
        if n % 1000 == 1 {
            tracing::warn!(
                event = kind,
                dropped = n,
                "webhook queue full: event dropped"
            );
        }
    }
}

/// Events in this node's memory, with their delivery ids.
struct LocalQueue {
    events: Mutex<VecDeque<(String, String)>>,
    ready: Notify,
    bound: usize,
    /// Tells this process's ids from a restarted one's.
    boot: String,
    seq: std::sync::atomic::AtomicU64,
}

impl LocalQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, String)>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, body: String) -> bool {
        let mut q = self.lock();
        if q.len() >= self.bound {
            return false;
        }
        let id = format!("{}-{}", self.boot, self.seq.fetch_add(1, Relaxed) + 1);
        q.push_back((id, body));
        drop(q);
        self.ready.notify_one();
        true
    }
}

/// Events in a Redis stream, read by one node at a time.
struct RedisQueue {
    /// Its own connection (the reads block), following Sentinel and
    /// routing by slot on a cluster.
    redis: SideConnection,
    stream: String,
    lease: String,
    node: String,
    bound: usize,
}

const GROUP: &str = "webhooks";

/// One stream of an `XREADGROUP` reply: its key and its entries (id and
/// field/value pairs).
type StreamReply = (String, Vec<(String, Vec<(String, String)>)>);
/// How long a lease lasts without renewal.
const LEASE: Duration = Duration::from_secs(10);

impl RedisQueue {
    async fn connect(redis: SideConnection, node: String, bound: usize) -> crate::Result<Self> {
        let err = |source| crate::Error::Redis {
            op: "webhook queue",
            source,
        };
        let mut conn = redis.conn();
        // `P:webhooks` (`P:{webhooks}` on a cluster: the lease shares its
        // slot).
        let stream = redis.key("webhooks");
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        if let Err(e) = created {
            if e.code() != Some("BUSYGROUP") {
                return Err(err(e));
            }
        }
        Ok(Self {
            redis,
            lease: format!("{stream}:lease"),
            stream,
            node,
            bound: bound.max(1),
        })
    }

    /// Appends events unless the stream holds its bound already; returns
    /// how many were dropped.
    async fn append(&self, bodies: &[String]) -> redis::RedisResult<usize> {
        let mut conn = self.redis.conn();
        let len: usize = redis::cmd("XLEN")
            .arg(&self.stream)
            .query_async(&mut conn)
            .await?;
        let room = self.bound.saturating_sub(len);
        let mut pipe = redis::pipe();
        for body in bodies.iter().take(room) {
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("*")
                .arg("e")
                .arg(body)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
        Ok(bodies.len().saturating_sub(room))
    }

    /// Takes or renews the lease; whether this node holds it.
    async fn lead(&self) -> redis::RedisResult<bool> {
        let mut conn = self.redis.conn();
        let script = redis::Script::new(
            "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 2 end \
             if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end \
             return 0",
        );
        let got: i64 = script
            .key(&self.lease)
            .arg(&self.node)
            .arg(u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut conn)
            .await?;
        if got == 2 {
            // A new holder: what the previous one read and did not
            // acknowledge comes first (it is older than anything new).
            let _: redis::Value = redis::cmd("XAUTOCLAIM")
                .arg(&self.stream)
                .arg(GROUP)
                .arg(&self.node)
                .arg(0)
                .arg("0")
                .arg("COUNT")
                .arg(self.bound)
                .query_async(&mut conn)
                .await?;
        }
        Ok(got > 0)
    }

    /// Up to `max` events: this node's unacknowledged ones first, then new
    /// ones (waiting up to a second).
    async fn read(&self, max: usize) -> redis::RedisResult<Vec<(String, String)>> {
        let mut conn = self.redis.conn();
        for (from, block) in [("0", None), (">", Some(1000))] {
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP")
                .arg(GROUP)
                .arg(&self.node)
                .arg("COUNT")
                .arg(max);
            if let Some(ms) = block {
                cmd.arg("BLOCK").arg(ms);
            }
            cmd.arg("STREAMS").arg(&self.stream).arg(from);
            let reply: Option<Vec<StreamReply>> = cmd.query_async(&mut conn).await?;
            let events: Vec<(String, String)> = reply
                .into_iter()
                .flatten()
                .flat_map(|(_, entries)| entries)
                .filter_map(|(id, fields)| {
                    fields
                        .into_iter()
                        .find(|(k, _)| k == "e")
                        .map(|(_, v)| (id, v))
                })
                .collect();
            if !events.is_empty() {
                return Ok(events);
            }
        }
        Ok(Vec::new())
    }

    async fn ack(&self, ids: &[String]) -> redis::RedisResult<()> {
        let mut conn = self.redis.conn();
        redis::pipe()
            .cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(ids)
            .ignore()
            .cmd("XDEL")
            .arg(&self.stream)
            .arg(ids)
            .ignore()
            .query_async(&mut conn)
            .await
    }
}

/// Moves events from the node's hand-off channel to the Redis stream, in
/// order, a batch at a time.
async fn append(queue: Arc<RedisQueue>, mut rx: mpsc::Receiver<String>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut attempt = 0;
        loop {
            match queue.append(&batch).await {
                Ok(dropped) => {
                    if dropped > 0 {
                        metrics.webhook_dropped.fetch_add(dropped as u64, Relaxed);
                        tracing::warn!(dropped, "webhook queue (redis) full: events dropped");
                    }
                    break;
                }
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(error = %e, "webhook queue (redis): append failed; retrying");
                    tokio::time::sleep(retry_delay(attempt)).await;
                }
            }
        }
        batch.clear();
    }
}

fn retry_delay(attempt: u32) -> Duration {
    confab_protocol::backoff_delay(
        Duration::from_millis(500),
        Duration::from_secs(30),
        attempt,
        rand::rng().random::<f64>(),
    )
}

/// The worker: takes a batch in order, posts it until the backend takes
/// it, acknowledges it, and so on.
async fn deliver(hooks: Arc<Webhooks>) {
    let client = match reqwest::Client::builder()
        .timeout(hooks.config.timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the HTTP client");
            return;
        }
    };
    loop {
        let batch = match &hooks.queue {
            Queue::Local(q) => {
                let batch: Vec<(String, String)> = q.lock().iter().take(BATCH).cloned().collect();
                if batch.is_empty() {
                    q.ready.notified().await;
                    continue;
                }
                batch
            }
            Queue::Redis(q) => match q.lead().await {
                Ok(true) => match q.read(BATCH).await {
                    Ok(b) if b.is_empty() => continue,
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook queue (redis): read failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
                Ok(false) => {
                    tokio::time::sleep(LEASE / 3).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "webhook queue (redis): lease failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        post_until_taken(&hooks, &client, &batch).await;
        match &hooks.queue {
            Queue::Local(q) => {
                q.lock().drain(..batch.len());
            }
            Queue::Redis(q) => {
                let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
                if let Err(e) = q.ack(&ids).await {
                    // Delivered but not acknowledged: it will be sent again
                    // (the backend de-duplicates by id).
                    tracing::warn!(error = %e, "webhook queue (redis): ack failed");
                }
            }
        }
        hooks
            .metrics
            .webhook_delivered
            .fetch_add(batch.len() as u64, Relaxed);
    }
}

/// The request body of a batch: `{"events": [{"id", "event", "ts", ...}]}`.
fn batch_body(batch: &[(String, String)]) -> String {
    let mut body = String::from("{\"events\":[");
    for (i, (id, event)) in batch.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        // `event` is a JSON object: put the id first.
        body.push_str(&format!("{{\"id\":{},", json!(id)));
        body.push_str(event.trim_start_matches('{'));
    }
    body.push_str("]}");
    body
}

async fn post_until_taken(hooks: &Webhooks, client: &reqwest::Client, batch: &[(String, String)]) {
    let body = batch_body(batch);
    let mut attempt = 0;
    loop {
        let post = client.post(&hooks.config.url);
        let sent = sign::signed(post, &hooks.config.secret, body.as_bytes())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::warn!(status = %r.status(), events = batch.len(), "webhook refused; retrying")
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "webhook not delivered; retrying")
            }
        }
        hooks.metrics.webhook_failures.fetch_add(1, Relaxed);
        attempt += 1;
        tokio::time::sleep(retry_delay(attempt)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_make_the_documented_events() {
        let m = Member::new("u", "U");
        let kinds = |c| {
            WebhookEvent::from_change(c)
                .iter()
                .map(WebhookEvent::kind)
                .collect::<Vec<_>>()
        };
        let joined = |room: &str, first| PresenceChange::Joined {
            room: room.into(),
            member: m.clone(),
            first,
        };
        let left = |room: &str, last| PresenceChange::Left {
            room: room.into(),
            member: m.clone(),
            last,
        };
        assert_eq!(kinds(joined("r", true)), ["room_occupied", "member_joined"]);
        assert_eq!(kinds(joined("r", false)), ["member_joined"]);
        assert_eq!(kinds(left("r", true)), ["member_left", "room_vacated"]);
        assert_eq!(kinds(joined(ONLINE_ROOM, true)), ["user_online"]);
        assert_eq!(kinds(left(ONLINE_ROOM, true)), ["user_offline"]);
    }

    #[test]
    fn a_batch_is_one_json_document_with_ids_first() {
        let batch = vec![
            (
                "a-1".to_owned(),
                r#"{"event":"room_occupied","ts":1,"room":"r"}"#.to_owned(),
            ),
            (
                "a-2".to_owned(),
                r#"{"event":"room_vacated","ts":2,"room":"r"}"#.to_owned(),
            ),
        ];
        let v: serde_json::Value = serde_json::from_str(&batch_body(&batch)).unwrap();
        assert_eq!(v["events"][1]["id"], "a-2");
        assert_eq!(v["events"][1]["event"], "room_vacated");
    }
}
