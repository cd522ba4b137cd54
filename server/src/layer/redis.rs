//! The Redis channel layer (`--redis-url`): several server nodes share rooms,
//! history, presence and direct messages through one Redis.
//!
//! Data model (every key and channel starts with `--redis-prefix`, `P`):
//!
//! | key / channel        | type    | what                                              |
//! |----------------------|---------|---------------------------------------------------|
//! | `P:epoch`            | string  | history epoch; recreated only when Redis lost it  |
//! | `P:h:{room}`         | string  | newest offset (INCR)                              |
//! | `P:s:{room}`         | stream  | messages, entry id `{offset}-1`, MAXLEN ~ history |
//! | `P:c:{room}`         | channel | the room's messages and presence diffs            |
//! | `P:u:{user}`         | channel | direct messages of a user (joined or not)         |
//! | `P:pm:{room}`        | hash    | user → member JSON                                |
//! | `P:pc:{room}`        | hash    | user → connections, all nodes                     |
//! | `P:pn:{room}`        | hash    | `node|user` → connections on that node            |
//! | `P:nr:{node}`        | hash    | room → connections of the node in it              |
//! | `P:nodes`            | zset    | node → last heartbeat (ms)                        |
//!
//! A publish is one Lua script, O(1) whatever the room size: INCR the head,
//! XADD the message JSON, PUBLISH it once (to the room channel, or for a DM
//! to the two users' channels). The ack is sent after the script returns, so
//! an acknowledged message is in the stream. Each node SUBSCRIBEs to a room's
//! channel only while it has local members there and fans out through the
//! [`Hub`]. The listener remembers the last offset delivered per room: a
//! duplicate is dropped and a gap (a pub/sub connection that dropped and came
//! back) is filled from the stream before the newer message, so local
//! clients see every message once, in order. A history read waits until
//! the listener delivered up to the head it read, so a joining socket's
//! pending buffer (see [`Hub::activate`]) holds exactly the newer messages.
//!
//! Presence is counted per node, and each node refreshes its score in
//! `P:nodes`; any node reaps a node silent for `--presence-ttl-secs`,
//! publishing the leaves. A node that finds itself reaped (or Redis emptied)
//! re-adds its local presence from its own mirror.
//!
//! The scripts build key names from the room, so this layer targets a single
//! Redis (or a primary with replicas), not Redis Cluster. Configure Redis
//! with `maxmemory-policy noeviction`: an evicted stream is lost history.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use confab_protocol::{close, dm_members, Member, Message, Position, Presence, RawPayload};
use futures_util::StreamExt;
use rand::Rng;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};
use redis::{RedisResult, Script};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{ChannelLayer, EventSink, History, LayerEvent, Payload, PresenceEvent, StoredMessage};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::hub::{Flavor, Hub};
use crate::metrics::Metrics;
use crate::Config;

/// Longest wait for one Redis command before answering `unavailable`.
const OP_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the listener pings its pub/sub connection.
const PUBSUB_PING: Duration = Duration::from_secs(5);

/// Reconnect delay after `attempt` failures: [`confab_protocol::backoff_delay`]
/// from 100 ms, capped at 2 s.
///
/// ```
/// use confab_server::layer::redis_backoff;
/// for attempt in 0..20 {
///     assert!(redis_backoff(attempt) <= std::time::Duration::from_secs(2));
/// }
/// ```
pub fn redis_backoff(attempt: u32) -> Duration {
    confab_protocol::backoff_delay(
        Duration::from_millis(100),
        Duration::from_secs(2),
        attempt.saturating_add(1),
        rand::rng().random::<f64>(),
    )
}

fn new_epoch() -> String {
    format!("r{:011x}", rand::rng().random::<u64>() & 0xfff_ffff_ffff)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    confab_protocol::encode(v)
}

/// Key and channel names under one prefix.
#[derive(Debug, Clone)]
struct Keys(String);

impl Keys {
    fn epoch(&self) -> String {
        format!("{}:epoch", self.0)
    }
    fn head(&self, room: &str) -> String {
        format!("{}:h:{room}", self.0)
    }
    fn stream(&self, room: &str) -> String {
        format!("{}:s:{room}", self.0)
    }
    fn room_channel(&self, room: &str) -> String {
        format!("{}:c:{room}", self.0)
    }
    fn user_channel(&self, user: &str) -> String {
        format!("{}:u:{user}", self.0)
    }
    fn members(&self, room: &str) -> String {
        format!("{}:pm:{room}", self.0)
    }
    fn counts(&self, room: &str) -> String {
        format!("{}:pc:{room}", self.0)
    }
    fn node_counts(&self, room: &str) -> String {
        format!("{}:pn:{room}", self.0)
    }
    fn node_rooms(&self, node: &str) -> String {
        format!("{}:nr:{node}", self.0)
    }
    fn nodes(&self) -> String {
        format!("{}:nodes", self.0)
    }
    /// Where a message of `room` is published.
    fn message_channels(&self, room: &str) -> Vec<String> {
        match dm_members(room) {
            Some((a, b)) if a == b => vec![self.user_channel(a)],
            Some((a, b)) => vec![self.user_channel(a), self.user_channel(b)],
            None => vec![self.room_channel(room)],
        }
    }
}

/// KEYS: epoch, head, stream, channel… ARGV: candidate epoch, JSON up to the
/// offset, JSON after it, MAXLEN.
const PUBLISH_LUA: &str = r"
local epoch = redis.call('GET', KEYS[1])
local off = redis.call('INCR', KEYS[2])
if off == 1 and redis.call('EXISTS', KEYS[3]) == 1 then
  -- the head was lost but not the stream: history is not continuous
  redis.call('DEL', KEYS[3])
  epoch = nil
end
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local body = ARGV[2] .. off .. ARGV[3]
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], off .. '-1', 'm', body)
local out = 'm' .. epoch .. '|' .. body
for i = 4, #KEYS do
  redis.call('PUBLISH', KEYS[i], out)
end
return {off, epoch}
";

/// KEYS: epoch, head, stream. ARGV: candidate epoch, since epoch ('' =
/// none), since offset, limit. Returns {epoch, head, recovered, entries}.
const HISTORY_LUA: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
local oldest = head + 1
if #first > 0 then
  oldest = tonumber(string.match(first[1][1], '^(%d+)'))
end
local since = tonumber(ARGV[3])
if ARGV[2] == epoch and since <= head and since + 1 >= oldest then
  return {epoch, head, 1, redis.call('XRANGE', KEYS[3], string.format('%d', since + 1), '+')}
end
return {epoch, head, 0, redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ARGV[4])}
";

/// KEYS: members, counts, node counts, node rooms, room channel. ARGV: user,
/// node, member JSON, room, connections to add, join diff JSON.
const JOIN_LUA: &str = r"
local n = tonumber(ARGV[5])
redis.call('HINCRBY', KEYS[3], ARGV[2] .. '|' .. ARGV[1], n)
redis.call('HINCRBY', KEYS[4], ARGV[4], n)
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], n)
if total == n then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[6])
end
return redis.call('HVALS', KEYS[1])
";

/// KEYS: members, counts, node counts, node rooms, room channel. ARGV: user,
/// node, room, leave diff JSON up to the member list.
const LEAVE_LUA: &str = r"
local f = ARGV[2] .. '|' .. ARGV[1]
local c = tonumber(redis.call('HGET', KEYS[3], f) or '0')
if c <= 0 then return 0 end
if c == 1 then redis.call('HDEL', KEYS[3], f) else redis.call('HINCRBY', KEYS[3], f, -1) end
if redis.call('HINCRBY', KEYS[4], ARGV[3], -1) <= 0 then redis.call('HDEL', KEYS[4], ARGV[3]) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if total <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  local m = redis.call('HGET', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  if m then redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[4] .. m .. ']}') end
end
return 1
";

/// KEYS: members, counts, node counts, node rooms, room channel. ARGV: user,
/// node, member JSON, room, this node's connections (absolute), join diff
/// JSON, leave diff JSON up to the member list. Idempotent: sets the node's
/// count for the user instead of adding to it.
const RESTORE_LUA: &str = r"
local f = ARGV[2] .. '|' .. ARGV[1]
local n = tonumber(ARGV[5])
local old = tonumber(redis.call('HGET', KEYS[3], f) or '0')
local d = n - old
if d == 0 then return 0 end
if n == 0 then redis.call('HDEL', KEYS[3], f) else redis.call('HSET', KEYS[3], f, n) end
if redis.call('HINCRBY', KEYS[4], ARGV[4], d) <= 0 then redis.call('HDEL', KEYS[4], ARGV[4]) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], d)
if total <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  local m = redis.call('HGET', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  if m then redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[7] .. m .. ']}') end
elseif total == d then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('PUBLISH', KEYS[5], 'p' .. ARGV[6])
end
return 1
";

/// KEYS: members, room channel. ARGV: user, member JSON, update diff JSON.
const UPDATE_LUA: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and old ~= ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PUBLISH', KEYS[2], 'p' .. ARGV[3])
  return 1
end
return 0
";

/// KEYS: nodes. ARGV: prefix, dead node, cutoff (ms). Removes every
/// connection of a node whose heartbeat is older than the cutoff, once.
const REAP_LUA: &str = r#"
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if (not score) or tonumber(score) > tonumber(ARGV[3]) then return -1 end
redis.call('ZREM', KEYS[1], ARGV[2])
local P = ARGV[1]
local nr = P .. ':nr:' .. ARGV[2]
local rooms = redis.call('HKEYS', nr)
local mine = ARGV[2] .. '|'
for _, room in ipairs(rooms) do
  local pn = P .. ':pn:' .. room
  local pc = P .. ':pc:' .. room
  local pm = P .. ':pm:' .. room
  local fields = redis.call('HGETALL', pn)
  local leaves = {}
  for i = 1, #fields, 2 do
    local f = fields[i]
    if string.sub(f, 1, #mine) == mine then
      local user = string.sub(f, #mine + 1)
      redis.call('HDEL', pn, f)
      local total = redis.call('HINCRBY', pc, user, -tonumber(fields[i + 1]))
      if total <= 0 then
        redis.call('HDEL', pc, user)
        local m = redis.call('HGET', pm, user)
        redis.call('HDEL', pm, user)
        if m then table.insert(leaves, m) end
      end
    end
  end
  if #leaves > 0 then
    redis.call('PUBLISH', P .. ':c:' .. room,
      'p{"room":"' .. room .. '","leaves":[' .. table.concat(leaves, ',') .. ']}')
  end
end
redis.call('DEL', nr)
return #rooms
"#;

struct Scripts {
    publish: Script,
    history: Script,
    join: Script,
    leave: Script,
    update: Script,
    restore: Script,
    reap: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            publish: Script::new(PUBLISH_LUA),
            history: Script::new(HISTORY_LUA),
            join: Script::new(JOIN_LUA),
            leave: Script::new(LEAVE_LUA),
            update: Script::new(UPDATE_LUA),
            restore: Script::new(RESTORE_LUA),
            reap: Script::new(REAP_LUA),
        }
    }
}

/// This node's own presence, the truth it restores Redis from.
#[derive(Default)]
struct Local {
    /// (room, user) → (member, local connections).
    presence: HashMap<(String, String), (Member, u64)>,
    /// Entries whose Redis count may differ from ours (an operation failed
    /// or its reply was lost); the heartbeat sets them to our count.
    dirty: HashSet<(String, String)>,
}

struct Shared {
    conn: ConnectionManager,
    keys: Keys,
    node: String,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    history_size: usize,
    ttl: Duration,
    scripts: Scripts,
    local: Mutex<Local>,
}

impl Shared {
    /// Runs one Redis operation with a deadline; failures count in
    /// `/metrics` and become [`Error::Unavailable`].
    async fn call<T>(&self, what: &str, fut: impl Future<Output = RedisResult<T>>) -> Result<T> {
        match tokio::time::timeout(OP_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.metrics.layer_errors.fetch_add(1, Relaxed);
                Err(Error::Unavailable(format!("redis {what}: {e}")))
            }
            Err(_) => {
                self.metrics.layer_errors.fetch_add(1, Relaxed);
                Err(Error::Unavailable(format!("redis {what}: timed out")))
            }
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes a present user's name in `room` (an `updates` diff).
    async fn update_presence(&self, room: &str, member: &Member) -> Result<()> {
        if let Some(e) = (self.local().presence).get_mut(&(room.to_owned(), member.id.clone())) {
            e.0 = member.clone();
        }
        let diff = json(&Presence {
            room: room.to_owned(),
            updates: vec![member.clone()],
            ..Presence::default()
        });
        let mut inv = self.scripts.update.prepare_invoke();
        inv.key(self.keys.members(room))
            .key(self.keys.room_channel(room))
            .arg(&member.id)
            .arg(json(member))
            .arg(diff);
        let mut conn = self.conn.clone();
        self.call("presence update", inv.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    async fn join_script(&self, room: &str, member: &Member, n: u64) -> Result<Vec<String>> {
        let k = &self.keys;
        let diff = json(&Presence {
            room: room.to_owned(),
            joins: vec![member.clone()],
            ..Presence::default()
        });
        let mut inv = self.scripts.join.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(k.node_rooms(&self.node))
            .key(k.room_channel(room))
            .arg(&member.id)
            .arg(&self.node)
            .arg(json(member))
            .arg(room)
            .arg(n)
            .arg(diff);
        let mut conn = self.conn.clone();
        self.call("presence join", inv.invoke_async(&mut conn))
            .await
    }

    async fn restore_script(&self, room: &str, member: &Member, n: u64) -> Result<()> {
        let k = &self.keys;
        let joins = json(&Presence {
            room: room.to_owned(),
            joins: vec![member.clone()],
            ..Presence::default()
        });
        let leaves = format!("{{\"room\":{},\"leaves\":[", json(&room));
        let mut inv = self.scripts.restore.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(k.node_rooms(&self.node))
            .key(k.room_channel(room))
            .arg(&member.id)
            .arg(&self.node)
            .arg(json(member))
            .arg(room)
            .arg(n)
            .arg(joins)
            .arg(leaves);
        let mut conn = self.conn.clone();
        self.call("presence restore", inv.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    async fn leave_script(&self, room: &str, user_id: &str) -> Result<()> {
        let k = &self.keys;
        let prefix = format!("{{\"room\":{},\"leaves\":[", json(&room));
        let mut inv = self.scripts.leave.prepare_invoke();
        inv.key(k.members(room))
            .key(k.counts(room))
            .key(k.node_counts(room))
            .key(k.node_rooms(&self.node))
            .key(k.room_channel(room))
            .arg(user_id)
            .arg(&self.node)
            .arg(room)
            .arg(prefix);
        let mut conn = self.conn.clone();
        self.call("presence leave", inv.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    /// One heartbeat: refresh this node, restore its presence if it was
    /// reaped (or Redis lost it), retry failed leaves, reap dead nodes.
    async fn heartbeat(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        let now = now_ms();
        let added: i64 = self
            .call(
                "heartbeat",
                redis::cmd("ZADD")
                    .arg(self.keys.nodes())
                    .arg(now)
                    .arg(&self.node)
                    .query_async(&mut conn),
            )
            .await?;
        let keys: Vec<(String, String)> = {
            let mut local = self.local();
            let mut keys: Vec<_> = local.dirty.drain().collect();
            if added == 1 {
                // Reaped meanwhile, or Redis lost its data: re-add everything.
                if !local.presence.is_empty() {
                    tracing::warn!(
                        node = %self.node,
                        entries = local.presence.len(),
                        "this node was missing from Redis presence; restoring it"
                    );
                }
                keys.extend(local.presence.keys().cloned());
            }
            keys
        };
        for (i, (room, user)) in keys.iter().enumerate() {
            let entry = self
                .local()
                .presence
                .get(&(room.clone(), user.clone()))
                .cloned();
            let (member, n) = entry.unwrap_or_else(|| {
                (
                    Member {
                        id: user.clone(),
                        name: user.clone(),
                    },
                    0,
                )
            });
            if let Err(e) = self.restore_script(room, &member, n).await {
                self.local().dirty.extend(keys[i..].iter().cloned());
                return Err(e);
            }
        }
        let cutoff = now.saturating_sub(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        let dead: Vec<String> = self
            .call(
                "find dead nodes",
                redis::cmd("ZRANGEBYSCORE")
                    .arg(self.keys.nodes())
                    .arg("-inf")
                    .arg(cutoff)
                    .query_async(&mut conn),
            )
            .await?;
        for node in dead.into_iter().filter(|n| *n != self.node) {
            let mut inv = self.scripts.reap.prepare_invoke();
            inv.key(self.keys.nodes())
                .arg(&self.keys.0)
                .arg(&node)
                .arg(cutoff);
            let rooms: i64 = self.call("reap", inv.invoke_async(&mut conn)).await?;
            if rooms >= 0 {
                tracing::info!(dead = %node, rooms, "reaped the presence of a silent node");
            }
        }
        Ok(())
    }

    /// Entries of `room`'s stream with offsets in `from..=to` (`to` = None:
    /// to the end).
    async fn range(
        &self,
        room: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<Arc<StoredMessage>>> {
        let mut conn = self.conn.clone();
        let end = to.map_or_else(|| "+".to_owned(), |t| format!("{t}-1"));
        let rows: Vec<(String, Vec<String>)> = self
            .call(
                "xrange",
                redis::cmd("XRANGE")
                    .arg(self.keys.stream(room))
                    .arg(format!("{from}"))
                    .arg(end)
                    .query_async(&mut conn),
            )
            .await?;
        rows.iter().map(|(_, f)| decode_entry(f)).collect()
    }
}

fn decode_message(body: &str) -> Result<Arc<StoredMessage>> {
    let m: Message<RawPayload> = serde_json::from_str(body)
        .map_err(|e| Error::Internal(format!("bad message in redis: {e}")))?;
    Ok(Arc::new(StoredMessage::new(Message {
        room: m.room,
        offset: m.offset,
        from: m.from,
        ts: m.ts,
        payload: Arc::from(m.payload),
    })))
}

fn decode_entry(fields: &[String]) -> Result<Arc<StoredMessage>> {
    match fields {
        [k, body, ..] if k == "m" => decode_message(body),
        _ => Err(Error::Internal("stream entry without a message".into())),
    }
}

/// The last offset delivered to local connections per room this node
/// listens to, shared by the listener (writer) and history reads (which wait
/// until it caught up with the head they read, so a joining connection's
/// pending buffer holds every newer message and none older).
#[derive(Default)]
struct Cursors {
    map: Mutex<HashMap<String, u64>>,
    moved: tokio::sync::Notify,
    /// The history epoch this node's clients were given; the listener
    /// compares it with what Redis says to detect lost history.
    epoch: Mutex<Option<String>>,
}

impl Cursors {
    fn epoch(&self) -> Option<String> {
        self.epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_epoch(&self, epoch: Option<String>) {
        *self.epoch.lock().unwrap_or_else(PoisonError::into_inner) = epoch;
    }

    /// Records the epoch a client is given, when none is known yet.
    fn learn_epoch(&self, epoch: &str) {
        let mut e = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        if e.is_none() {
            *e = Some(epoch.to_owned());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, room: &str) -> Option<u64> {
        self.lock().get(room).copied()
    }

    fn set(&self, room: &str, offset: u64) {
        self.lock().insert(room.to_owned(), offset);
        self.moved.notify_waiters();
    }

    /// Waits (bounded) until `room` was delivered up to `head`; returns
    /// at once for a room this node does not listen to.
    async fn caught_up(&self, room: &str, head: u64) {
        let deadline = tokio::time::Instant::now() + OP_TIMEOUT;
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            match self.get(room) {
                Some(c) if c < head => {}
                _ => return,
            }
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                tracing::warn!(room, head, "pub/sub delivery lags behind history");
                return;
            }
        }
    }
}

/// Requests from the layer to the pub/sub listener.
enum SubCmd {
    /// A channel, the room when it is a room channel, the reply.
    Subscribe(String, Option<String>, oneshot::Sender<Result<()>>),
    Unsubscribe(String),
}

/// What woke the listener.
enum Event {
    Command(SubCmd),
    Message(redis::Msg),
    Lost,
    Ping,
    Retry,
}

/// Owns the pub/sub connection: reference-counted subscriptions, per-room
/// delivery cursors, reconnects with backoff.
struct Listener {
    shared: Arc<Shared>,
    client: redis::Client,
    cmds: mpsc::UnboundedReceiver<SubCmd>,
    /// channel → local references.
    counts: HashMap<String, usize>,
    /// room → last offset delivered here.
    cursors: Arc<Cursors>,
    attempt: u32,
}

impl Listener {
    async fn run(mut self, first: (PubSubSink, PubSubStream)) {
        let mut conn = Some(first);
        let mut retry_at = tokio::time::Instant::now();
        let mut ping = tokio::time::interval(PUBSUB_PING);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if conn.is_none() && tokio::time::Instant::now() >= retry_at {
                match self.reconnect().await {
                    Ok(c) => {
                        conn = Some(c);
                        self.attempt = 0;
                    }
                    Err(e) => {
                        let delay = redis_backoff(self.attempt);
                        self.attempt = self.attempt.saturating_add(1);
                        tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "redis pub/sub reconnect failed");
                        retry_at = tokio::time::Instant::now() + delay;
                    }
                }
            }
            let event = {
                let connected = conn.is_some();
                let next = async {
                    match conn.as_mut() {
                        Some((_, stream)) => stream.next().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    cmd = self.cmds.recv() => match cmd {
                        None => return,
                        Some(cmd) => Event::Command(cmd),
                    },
                    msg = next => match msg {
                        Some(msg) => Event::Message(msg),
                        None => Event::Lost,
                    },
                    _ = ping.tick(), if connected => Event::Ping,
                    () = tokio::time::sleep_until(retry_at), if !connected => Event::Retry,
                }
            };
            match event {
                Event::Command(cmd) => {
                    if !self.command(cmd, &mut conn).await {
                        self.lost(&mut conn, &mut retry_at);
                    }
                }
                Event::Message(msg) => self.on_message(&msg).await,
                Event::Lost => self.lost(&mut conn, &mut retry_at),
                // Any reply will do: in subscribed mode Redis answers
                // ["pong", ""] rather than +PONG.
                Event::Ping => {
                    let ok = match conn.as_mut() {
                        Some((sink, _)) => matches!(
                            tokio::time::timeout(OP_TIMEOUT, sink.ping::<redis::Value>()).await,
                            Ok(Ok(_))
                        ),
                        None => true,
                    };
                    if !ok {
                        self.lost(&mut conn, &mut retry_at);
                    }
                }
                Event::Retry => {}
            }
        }
    }

    fn lost(
        &mut self,
        conn: &mut Option<(PubSubSink, PubSubStream)>,
        retry_at: &mut tokio::time::Instant,
    ) {
        if conn.take().is_some() {
            tracing::warn!("redis pub/sub connection lost; reconnecting");
            self.shared.metrics.layer_errors.fetch_add(1, Relaxed);
            *retry_at = tokio::time::Instant::now();
        }
    }

    /// A new pub/sub connection with every channel re-subscribed, then the
    /// messages missed meanwhile delivered from the streams.
    async fn reconnect(&mut self) -> Result<(PubSubSink, PubSubStream)> {
        let pubsub = self
            .shared
            .call("pub/sub connect", self.client.get_async_pubsub())
            .await?;
        let (mut sink, stream) = pubsub.split();
        let channels: Vec<String> = self.counts.keys().cloned().collect();
        if !channels.is_empty() {
            self.shared
                .call("resubscribe", sink.subscribe(&channels))
                .await?;
        }
        self.shared.metrics.layer_reconnects.fetch_add(1, Relaxed);
        tracing::info!(channels = channels.len(), "redis pub/sub reconnected");
        // Did Redis lose the history meanwhile?
        let mut conn = self.shared.conn.clone();
        let epoch: Option<String> = self
            .shared
            .call(
                "get epoch",
                redis::cmd("GET")
                    .arg(self.shared.keys.epoch())
                    .query_async(&mut conn),
            )
            .await?;
        let known = self.cursors.epoch();
        if known.is_some() && epoch != known {
            self.history_lost(epoch);
        } else {
            self.cursors.set_epoch(epoch);
            let rooms: Vec<(String, u64)> = self
                .cursors
                .lock()
                .iter()
                .map(|(r, o)| (r.clone(), *o))
                .collect();
            for (room, last) in rooms {
                for m in self.shared.range(&room, last + 1, None).await? {
                    self.deliver(m);
                }
            }
        }
        Ok((sink, stream))
    }

    /// Handles a request; false when the connection failed.
    async fn command(
        &mut self,
        cmd: SubCmd,
        conn: &mut Option<(PubSubSink, PubSubStream)>,
    ) -> bool {
        match cmd {
            SubCmd::Subscribe(channel, room, reply) => {
                let count = self.counts.get(&channel).copied().unwrap_or(0);
                if count > 0 {
                    self.counts.insert(channel, count + 1);
                    let _ = reply.send(Ok(()));
                    return true;
                }
                let Some((sink, _)) = conn.as_mut() else {
                    let _ = reply.send(Err(Error::Unavailable(
                        "redis pub/sub is reconnecting".into(),
                    )));
                    return true;
                };
                match self
                    .shared
                    .call("subscribe", sink.subscribe(&channel))
                    .await
                {
                    Ok(()) => {
                        let floor = match &room {
                            Some(room) => self.floor(room).await,
                            None => Ok(()),
                        };
                        if floor.is_ok() {
                            self.counts.insert(channel, 1);
                        } else {
                            let _ = sink.unsubscribe(&channel).await;
                        }
                        let _ = reply.send(floor);
                        true
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        false
                    }
                }
            }
            SubCmd::Unsubscribe(channel) => {
                let Some(count) = self.counts.get_mut(&channel) else {
                    return true;
                };
                *count -= 1;
                if *count > 0 {
                    return true;
                }
                self.counts.remove(&channel);
                self.forget_cursors();
                match conn.as_mut() {
                    Some((sink, _)) => self
                        .shared
                        .call("unsubscribe", sink.unsubscribe(&channel))
                        .await
                        .is_ok(),
                    None => true,
                }
            }
        }
    }

    /// A room channel was just subscribed: every message after the head read
    /// now will arrive, and those before are in any later history read.
    async fn floor(&mut self, room: &str) -> Result<()> {
        if self.cursors.get(room).is_some() {
            return Ok(());
        }
        let mut conn = self.shared.conn.clone();
        let head: Option<u64> = self
            .shared
            .call(
                "get head",
                redis::cmd("GET")
                    .arg(self.shared.keys.head(room))
                    .query_async(&mut conn),
            )
            .await?;
        self.cursors.set(room, head.unwrap_or(0));
        Ok(())
    }

    /// Whether this node still listens to `room`'s messages.
    fn listens(&self, room: &str) -> bool {
        let k = &self.shared.keys;
        match dm_members(room) {
            Some((a, b)) => {
                self.counts.contains_key(&k.user_channel(a))
                    || self.counts.contains_key(&k.user_channel(b))
            }
            None => self.counts.contains_key(&k.room_channel(room)),
        }
    }

    fn forget_cursors(&mut self) {
        let rooms: Vec<String> = self.cursors.lock().keys().cloned().collect();
        let keep: Vec<String> = rooms.into_iter().filter(|r| self.listens(r)).collect();
        self.cursors.lock().retain(|r, _| keep.contains(r));
    }

    /// Redis lost the history (restarted empty, flushed): offsets restart,
    /// so every native client must rejoin and be told it could not recover.
    fn history_lost(&mut self, epoch: Option<String>) {
        tracing::error!(old = ?self.cursors.epoch(), new = ?epoch, "redis history epoch changed: history was lost; closing native connections so clients rejoin");
        self.cursors.set_epoch(epoch);
        self.cursors.lock().clear();
        for c in self.shared.hub.connections() {
            if c.flavor == Flavor::Native {
                c.close(close::SERVICE_RESTART, "history lost; rejoin");
            }
        }
    }

    fn deliver(&mut self, m: Arc<StoredMessage>) {
        let last = self.cursors.get(&m.msg.room);
        if last.is_some_and(|l| m.msg.offset <= l) {
            return;
        }
        if self.listens(&m.msg.room) {
            self.shared.hub.deliver(LayerEvent::Message(m.clone()));
            self.cursors.set(&m.msg.room, m.msg.offset);
        } else {
            self.shared.hub.deliver(LayerEvent::Message(m));
        }
    }

    /// A user with connections here renamed themselves on another node:
    /// their connections here take the name, and the rooms they are in here
    /// get the `updates` diff. The node that renamed already did both.
    fn renamed_elsewhere(&self, member: Member) {
        let hub = &self.shared.hub;
        if hub.user_name(&member.id).as_deref() == Some(member.name.as_str()) {
            return;
        }
        hub.rename_user(&member.id, &member.name);
        let rooms = hub.rooms_of_user(&member.id);
        let shared = self.shared.clone();
        // Off the subscription loop: these are round trips to Redis.
        tokio::spawn(async move {
            for room in rooms {
                if let Err(e) = shared.update_presence(&room, &member).await {
                    tracing::warn!(room, error = %e, "presence update after a rename elsewhere");
                }
            }
        });
    }

    async fn on_message(&mut self, msg: &redis::Msg) {
        let Ok(text) = std::str::from_utf8(msg.get_payload_bytes()) else {
            return;
        };
        if let Some(rest) = text.strip_prefix('p') {
            match serde_json::from_str::<Presence>(rest) {
                Ok(diff) => self
                    .shared
                    .hub
                    .deliver(LayerEvent::Presence(Arc::new(PresenceEvent::new(diff)))),
                Err(e) => tracing::warn!(error = %e, "bad presence diff from redis"),
            }
            return;
        }
        if let Some(rest) = text.strip_prefix('r') {
            match serde_json::from_str::<Member>(rest) {
                Ok(member) => self.renamed_elsewhere(member),
                Err(e) => tracing::warn!(error = %e, "bad rename notice from redis"),
            }
            return;
        }
        let Some((epoch, body)) = text.strip_prefix('m').and_then(|r| r.split_once('|')) else {
            tracing::warn!("unknown pub/sub frame from redis");
            return;
        };
        match self.cursors.epoch() {
            None => self.cursors.set_epoch(Some(epoch.to_owned())),
            Some(e) if e != epoch => self.history_lost(Some(epoch.to_owned())),
            Some(_) => {}
        }
        let m = match decode_message(body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "bad message from redis");
                return;
            }
        };
        if let Some(last) = self.cursors.get(&m.msg.room) {
            if m.msg.offset > last + 1 {
                // Missed while the subscription was down: fill from the stream.
                match self
                    .shared
                    .range(&m.msg.room, last + 1, Some(m.msg.offset - 1))
                    .await
                {
                    Ok(gap) => {
                        for g in gap {
                            self.deliver(g);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(room = %m.msg.room, error = %e, "cannot fill a delivery gap")
                    }
                }
            }
        }
        self.deliver(m);
    }
}

/// The Redis implementation of [`ChannelLayer`]; see the module docs.
pub struct RedisLayer {
    shared: Arc<Shared>,
    cursors: Arc<Cursors>,
    subs: mpsc::UnboundedSender<SubCmd>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RedisLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLayer")
            .field("node", &self.shared.node)
            .field("prefix", &self.shared.keys.0)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisLayer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl RedisLayer {
    /// Connects to `url` (both the command and the pub/sub connection) and
    /// starts the listener and heartbeat tasks. Fails at once, with the
    /// reason, when Redis cannot be reached.
    pub async fn connect(
        config: &Config,
        url: &str,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::Unavailable(format!("bad redis url: {e}")))?;
        let cm_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(2));
        let unreachable =
            |e: redis::RedisError| Error::Unavailable(format!("cannot reach redis at {url}: {e}"));
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            ConnectionManager::new_with_config(client.clone(), cm_config),
        )
        .await
        .map_err(|_| Error::Unavailable(format!("cannot reach redis at {url}: timed out")))?
        .map_err(unreachable)?;
        let pubsub = tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub())
            .await
            .map_err(|_| Error::Unavailable(format!("cannot reach redis at {url}: timed out")))?
            .map_err(unreachable)?;
        let node = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("n-{:08x}", rand::rng().random::<u32>()));
        let ttl = Duration::from_secs(config.presence_ttl_secs.max(1));
        let shared = Arc::new(Shared {
            conn,
            keys: Keys(config.redis_prefix.clone()),
            node,
            hub,
            metrics,
            history_size: config.history_size.max(1),
            ttl,
            scripts: Scripts::new(),
            local: Mutex::new(Local::default()),
        });
        shared.heartbeat().await?;
        // The epoch clients of this node will be given: a change later means
        // Redis lost the history.
        let epoch: Option<String> = {
            let mut conn = shared.conn.clone();
            shared
                .call(
                    "get epoch",
                    redis::cmd("GET")
                        .arg(shared.keys.epoch())
                        .query_async(&mut conn),
                )
                .await?
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let cursors = Arc::new(Cursors::default());
        cursors.set_epoch(epoch);
        let listener = Listener {
            shared: shared.clone(),
            client,
            cmds: rx,
            counts: HashMap::new(),
            cursors: cursors.clone(),
            attempt: 0,
        };
        let listen = tokio::spawn(listener.run(pubsub.split()));
        let beat = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let every =
                    (shared.ttl / 3).clamp(Duration::from_millis(200), Duration::from_secs(5));
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) = shared.heartbeat().await {
                        tracing::warn!(error = %e, "redis presence heartbeat failed");
                    }
                }
            })
        };
        tracing::info!(node = %shared.node, prefix = %shared.keys.0, "redis channel layer connected");
        Ok(Self {
            shared,
            cursors,
            subs: tx,
            tasks: vec![listen, beat],
        })
    }

    /// This node's id in Redis presence.
    pub fn node_id(&self) -> &str {
        &self.shared.node
    }

    async fn sub(&self, channel: String, room: Option<&str>) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.subs
            .send(SubCmd::Subscribe(channel, room.map(str::to_owned), tx))
            .map_err(|_| Error::Internal("redis listener stopped".into()))?;
        rx.await
            .map_err(|_| Error::Internal("redis listener stopped".into()))?
    }

    fn unsub(&self, channel: String) {
        let _ = self.subs.send(SubCmd::Unsubscribe(channel));
    }
}

#[async_trait]
impl ChannelLayer for RedisLayer {
    async fn publish(
        &self,
        room: &str,
        from: &Member,
        payload: Payload,
    ) -> Result<Arc<StoredMessage>> {
        let s = &self.shared;
        let ts = now_ms();
        let head = format!("{{\"room\":{},\"offset\":", json(&room));
        let rest = format!(
            ",\"from\":{},\"ts\":{ts},\"payload\":{}}}",
            json(from),
            payload.get()
        );
        let mut inv = s.scripts.publish.prepare_invoke();
        inv.key(s.keys.epoch())
            .key(s.keys.head(room))
            .key(s.keys.stream(room));
        for ch in s.keys.message_channels(room) {
            inv.key(ch);
        }
        inv.arg(new_epoch()).arg(head).arg(rest).arg(s.history_size);
        let mut conn = s.conn.clone();
        let (offset, _epoch): (u64, String) =
            s.call("publish", inv.invoke_async(&mut conn)).await?;
        Ok(Arc::new(StoredMessage::new(Message {
            room: room.to_owned(),
            offset,
            from: from.clone(),
            ts,
            payload,
        })))
    }

    async fn history(&self, room: &str, since: Option<&Position>, limit: usize) -> Result<History> {
        let s = &self.shared;
        let mut inv = s.scripts.history.prepare_invoke();
        inv.key(s.keys.epoch())
            .key(s.keys.head(room))
            .key(s.keys.stream(room))
            .arg(new_epoch())
            .arg(since.map_or("", |p| p.epoch.as_str()))
            .arg(since.map_or(0, |p| p.offset))
            .arg(limit.max(1));
        let mut conn = s.conn.clone();
        let (epoch, head, recovered, rows): (String, u64, u8, Vec<(String, Vec<String>)>) =
            s.call("history", inv.invoke_async(&mut conn)).await?;
        let mut messages = rows
            .iter()
            .map(|(_, f)| decode_entry(f))
            .collect::<Result<Vec<_>>>()?;
        if recovered == 0 {
            messages.reverse();
        }
        self.cursors.learn_epoch(&epoch);
        self.cursors.caught_up(room, head).await;
        Ok(History {
            epoch,
            head,
            recovered: recovered == 1,
            messages,
        })
    }

    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        // Direct messages to this user reach this node while it is in a room.
        self.sub(self.shared.keys.user_channel(&member.id), None)
            .await?;
        let raw = match self.shared.join_script(room, member, 1).await {
            Ok(r) => r,
            Err(e) => {
                self.unsub(self.shared.keys.user_channel(&member.id));
                // The script may have run with its reply lost.
                self.shared
                    .local()
                    .dirty
                    .insert((room.to_owned(), member.id.clone()));
                return Err(e);
            }
        };
        {
            let mut local = self.shared.local();
            let e = local
                .presence
                .entry((room.to_owned(), member.id.clone()))
                .or_insert_with(|| (member.clone(), 0));
            e.1 += 1;
        }
        let mut members: Vec<Member> = raw
            .iter()
            .filter_map(|m| serde_json::from_str(m).ok())
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(members)
    }

    async fn presence_leave(&self, room: &str, user_id: &str) -> Result<()> {
        let key = (room.to_owned(), user_id.to_owned());
        let known = {
            let mut local = self.shared.local();
            match local.presence.get_mut(&key) {
                Some(e) => {
                    e.1 -= 1;
                    if e.1 == 0 {
                        local.presence.remove(&key);
                    }
                    true
                }
                None => false,
            }
        };
        if !known {
            return Ok(());
        }
        self.unsub(self.shared.keys.user_channel(user_id));
        if let Err(e) = self.shared.leave_script(room, user_id).await {
            // The connection is gone whatever Redis says: fix it later.
            self.shared.local().dirty.insert(key);
            return Err(e);
        }
        Ok(())
    }

    async fn presence_update(&self, room: &str, member: &Member) -> Result<()> {
        self.shared.update_presence(room, member).await
    }

    async fn renamed(&self, member: &Member) -> Result<()> {
        let s = &self.shared;
        let mut conn = s.conn.clone();
        let notice = format!("r{}", json(member));
        s.call(
            "rename notice",
            redis::cmd("PUBLISH")
                .arg(s.keys.user_channel(&member.id))
                .arg(notice)
                .query_async::<i64>(&mut conn),
        )
        .await
        .map(drop)
    }

    async fn members(&self, room: &str) -> Result<Vec<Member>> {
        let s = &self.shared;
        let mut conn = s.conn.clone();
        let raw: Vec<String> = s
            .call(
                "members",
                redis::cmd("HVALS")
                    .arg(s.keys.members(room))
                    .query_async(&mut conn),
            )
            .await?;
        let mut members: Vec<Member> = raw
            .iter()
            .filter_map(|m| serde_json::from_str(m).ok())
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(members)
    }

    async fn subscribe(&self, room: &str) -> Result<()> {
        self.sub(self.shared.keys.room_channel(room), Some(room))
            .await
    }

    async fn unsubscribe(&self, room: &str) -> Result<()> {
        self.unsub(self.shared.keys.room_channel(room));
        Ok(())
    }

    async fn connected(&self, user_id: &str) -> Result<()> {
        self.sub(self.shared.keys.user_channel(user_id), None).await
    }

    async fn disconnected(&self, user_id: &str) -> Result<()> {
        self.unsub(self.shared.keys.user_channel(user_id));
        Ok(())
    }
}
