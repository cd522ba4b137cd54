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
//! channel only while it has local members there and hands what arrives to
//! the node's [`EventSink`]. The listener remembers the last offset delivered per room: a
//! duplicate is dropped and a gap (a pub/sub connection that dropped and came
//! back) is filled from the stream before the newer message, so local
//! clients see every message once, in order. A history read waits until
//! the listener delivered up to the head it read, so a joining socket's
//! held-back events (see [`crate::rooms::Rooms`]'s join) are exactly the
//! newer messages.
//!
//! Presence is counted per node, and each node refreshes its score in
//! `P:nodes`; any node reaps a node silent for `--presence-ttl-secs`,
//! publishing the leaves. A node that finds itself reaped (or Redis emptied)
//! re-adds its local presence from its own mirror.
//!
//! Past one Redis (see deploy/README.md for what each topology
//! guarantees):
//!
//! - **TLS**: `rediss://` URLs (rustls), with `--redis-tls-ca` and a client
//!   certificate (`--redis-tls-cert`, `--redis-tls-key`) when Redis asks.
//! - **Shards**: several `--redis-url` values. Each room (a DM room too)
//!   lives on the shard [`topology::shard_of`] picks from its name (jump
//!   consistent hash): its keys, stream, dedup ids, presence and channel.
//!   Every step of a room stays on one Redis, so the Lua scripts are
//!   unchanged. Each shard has its own epoch, node heartbeats and index
//!   (a shard that loses its data resets only its rooms); a user channel
//!   is subscribed on every shard (a DM is published on its room's shard);
//!   the guest key and the webhook queue live on the first shard.
//! - **Sentinel**: `--redis-sentinel-service` names, one shard each; the
//!   primary is asked of the Sentinels at start, polled every
//!   `SENTINEL_POLL`, and on a change the command connection and the
//!   pub/sub listener move to the new primary.
//! - **Cluster**: `--redis-cluster`; every key of a room shares the room
//!   as hash tag (`P:h:{room}`), the scripts publish with `SPUBLISH`, the
//!   listener uses `SSUBSCRIBE` ([`cluster`]), each room has its own epoch,
//!   and a DM is stored by its script then published by the node to the two
//!   users' channels (other slots).
//! - **Replica acks**: `--redis-wait-replicas N` runs `WAIT N` after each
//!   publish on the same connection: the ack means N replicas have it.
//!
//! After any reconnect the listener checks the epoch and each delivered
//! room's head: if Redis lost acknowledged writes (a failover without
//! `WAIT`, a restart without an fsync'd AOF), the epoch changes and clients
//! are told `recovered: false`, rather than offsets being reused silently.
//! Configure Redis with `maxmemory-policy noeviction`: an evicted stream
//! is lost history.

//!
//! Files: [`keys`] (names), [`scripts`] (the `.lua` files), [`frame`] (what
//! pub/sub carries), [`shared`] (one shard's connection, deadline),
//! [`presence`] (per node counts, heartbeat, reaping), [`listener`]
//! (subscriptions, cursors), [`cluster`] (Redis Cluster), [`topology`]
//! (flags, shard choice, Sentinel), [`conn`] (the command connection),
//! [`side`] (a connection of its own for the webhook queue).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use confab_protocol::{dm_members, Json, Member};
use rand::Rng;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{ChannelLayer, EventSink, History, HistoryQuery, Page, Payload, Publication, Stored};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::Config;

mod cluster;
mod conn;
mod frame;
mod keys;
mod listener;
mod presence;
mod scripts;
mod shared;
mod side;
mod topology;
pub use topology::redact as redact_url;

use conn::Conn;
use frame::Frame;
use keys::Keys;
use listener::{Core, Cursors, Listener, SubCmd};
use shared::{decode_entry, Shared, SharedParts};
pub use side::{SideConn, SideConnection};
use topology::{Options, Source};

/// Longest wait for one Redis command before answering `unavailable`.
const OP_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for the first connections at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the listener pings its pub/sub connection.
const PUBSUB_PING: Duration = Duration::from_secs(5);
/// How often Sentinel is asked where the primary is.
const SENTINEL_POLL: Duration = Duration::from_millis(250);

/// Reconnect delay after `attempt` failures: [`confab_protocol::backoff_delay`]
/// from 100 ms, capped at 2 s.
fn redis_backoff(attempt: u32) -> Duration {
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

/// A duration in whole milliseconds (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn listener_stopped() -> Error {
    Error::Internal("redis listener stopped".into())
}

fn json<T: serde::Serialize>(v: &T) -> String {
    confab_protocol::encode(v)
}

fn connect_err(source: redis::RedisError) -> Error {
    Error::Redis {
        op: "connect",
        source,
    }
}

/// Bounds `fut` by [`CONNECT_TIMEOUT`].
async fn connecting<T>(fut: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T> {
    tokio::time::timeout(CONNECT_TIMEOUT, fut)
        .await
        .map_err(|_| Error::RedisTimeout {
            op: "connect",
            after: CONNECT_TIMEOUT,
        })?
        .map_err(connect_err)
}

/// A command connection to one Redis that reconnects by itself.
async fn manager(client: redis::Client) -> Result<ConnectionManager> {
    let cm_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(OP_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(Duration::from_secs(2));
    connecting(ConnectionManager::new_with_config(client, cm_config)).await
}

/// Every shard's state, by room.
struct Router {
    shards: Vec<Arc<Shared>>,
}

impl Router {
    /// The shard `room` lives on.
    fn for_room(&self, room: &str) -> &Arc<Shared> {
        &self.shards[topology::shard_of(room, self.shards.len())]
    }
}

/// One shard as the layer sees it.
struct Shard {
    shared: Arc<Shared>,
    cursors: Arc<Cursors>,
    subs: mpsc::UnboundedSender<SubCmd>,
}

impl Shard {
    async fn sub(&self, channel: String, room: Option<&str>) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.subs
            .send(SubCmd::Subscribe(channel, room.map(str::to_owned), tx))
            .map_err(|_| listener_stopped())?;
        rx.await.map_err(|_| listener_stopped())?
    }

    fn unsub(&self, channel: String) {
        let _ = self.subs.send(SubCmd::Unsubscribe(channel));
    }
}

/// The Redis implementation of [`ChannelLayer`]; see the module docs.
pub struct RedisLayer {
    shards: Vec<Shard>,
    router: Arc<Router>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RedisLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = &self.shards[0].shared;
        f.debug_struct("RedisLayer")
            .field("node", &first.node)
            .field("prefix", &first.keys.prefix)
            .field("shards", &self.shards.len())
            .field("cluster", &first.keys.cluster)
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

/// What every shard of a layer is built with.
struct Common<'a> {
    config: &'a Config,
    options: &'a Options,
    node: String,
    sink: Arc<dyn EventSink>,
    metrics: Arc<Metrics>,
}

impl Common<'_> {
    fn parts(
        &self,
        label: String,
        conn: Conn,
        source: Option<Source>,
        primary: String,
        cluster: bool,
    ) -> SharedParts {
        SharedParts {
            label,
            conn,
            source,
            primary,
            keys: Keys::new(&self.config.redis_prefix, cluster),
            node: self.node.clone(),
            sink: self.sink.clone(),
            metrics: self.metrics.clone(),
            retention: self.config.retention(),
            ttl: Duration::from_secs(self.config.presence_ttl_secs.max(1)),
            wait: self.options.wait,
        }
    }
}

/// A shard connected, its listener not yet started.
enum Pending {
    Plain(Arc<Shared>, redis::aio::PubSub),
    Cluster(
        Arc<Shared>,
        redis::cluster_async::ClusterConnection,
        mpsc::UnboundedReceiver<redis::PushInfo>,
    ),
}

impl RedisLayer {
    /// Connects to every shard (or the cluster), each with a command and a
    /// pub/sub connection, and starts the listener and heartbeat tasks.
    /// Fails at once, with the reason, when a Redis cannot be reached.
    pub async fn connect(
        config: &Config,
        sink: Arc<dyn EventSink>,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let options = Options::from_config(config)?;
        let node = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("n-{:08x}", rand::rng().random::<u32>()));
        let common = Common {
            config,
            options: &options,
            node,
            sink,
            metrics,
        };
        let pending: Vec<Pending> = match &options.cluster {
            Some(urls) => {
                let conn =
                    connecting(cluster::command_connection(urls, options.tls.as_ref())).await?;
                let (pubsub, pushes) =
                    connecting(cluster::pubsub_connection(urls, options.tls.as_ref())).await?;
                let label = format!("cluster ({})", topology::redact(&urls[0]));
                let shared = Arc::new(Shared::new(common.parts(
                    label,
                    Conn::Cluster(conn),
                    None,
                    String::new(),
                    true,
                )));
                vec![Pending::Cluster(shared, pubsub, pushes)]
            }
            None => {
                let n = options.shards.len();
                let connects = options.shards.iter().enumerate().map(|(i, spec)| {
                    let common = &common;
                    async move {
                        let source =
                            Source::new(spec, common.options.tls.as_ref()).map_err(connect_err)?;
                        let (client, primary) = connecting(source.client()).await?;
                        let conn = manager(client.clone()).await?;
                        let pubsub = connecting(client.get_async_pubsub()).await?;
                        let label = if n > 1 {
                            format!("shard {}/{n} ({})", i + 1, spec.label())
                        } else {
                            spec.label()
                        };
                        let shared = Arc::new(Shared::new(common.parts(
                            label,
                            Conn::One(conn),
                            Some(source),
                            primary,
                            false,
                        )));
                        Ok::<_, Error>(Pending::Plain(shared, pubsub))
                    }
                });
                futures_util::future::try_join_all(connects).await?
            }
        };
        let shareds: Vec<Arc<Shared>> = pending
            .iter()
            .map(|p| match p {
                Pending::Plain(s, _) | Pending::Cluster(s, ..) => s.clone(),
            })
            .collect();
        let router = Arc::new(Router { shards: shareds });
        let mut shards = Vec::new();
        let mut tasks = Vec::new();
        for p in pending {
            let (tx, rx) = mpsc::unbounded_channel();
            let cursors = Arc::new(Cursors::default());
            let shared = match &p {
                Pending::Plain(s, _) | Pending::Cluster(s, ..) => s.clone(),
            };
            shared.heartbeat(0).await?;
            let core = Core {
                shared: shared.clone(),
                router: router.clone(),
                counts: HashMap::new(),
                cursors: cursors.clone(),
            };
            match p {
                Pending::Plain(shared, pubsub) => {
                    // The epoch clients of this node will be given: a change
                    // later means Redis lost the history.
                    let scope = shared.keys.epoch("");
                    let mut conn = shared.conn();
                    let epoch: Option<String> = shared
                        .call(
                            "get epoch",
                            redis::cmd("GET").arg(&scope).query_async(&mut conn),
                        )
                        .await?;
                    cursors.set_epoch(&scope, epoch);
                    let listener = Listener {
                        core,
                        cmds: rx,
                        attempt: 0,
                    };
                    tasks.push(tokio::spawn(listener.run(pubsub.split())));
                    if shared.source.as_ref().is_some_and(Source::moves) {
                        tasks.push(tokio::spawn(follow_primary(shared.clone(), tx.clone())));
                    }
                }
                Pending::Cluster(_, conn, pushes) => {
                    let (retry_tx, retried) = mpsc::unbounded_channel();
                    let listener = cluster::ClusterListener {
                        retried,
                        retry_tx,
                        retrying: false,
                        core,
                        conn,
                        pushes,
                        cmds: rx,
                        pending: HashSet::new(),
                        unsynced: HashSet::new(),
                    };
                    tasks.push(tokio::spawn(listener.run()));
                }
            }
            tasks.push(tokio::spawn(heartbeat(shared.clone())));
            tracing::info!(node = %shared.node, prefix = %shared.keys.prefix, shard = %shared.label, primary = %shared.primary(), "redis channel layer connected");
            shards.push(Shard {
                shared,
                cursors,
                subs: tx,
            });
        }
        Ok(Self {
            shards,
            router,
            tasks,
        })
    }

    /// This node's id in Redis presence.
    pub fn node_id(&self) -> &str {
        &self.shards[0].shared.node
    }

    /// The guest-token secret every node shares (`P:guest-key` on the
    /// first shard): the first node to start sets it to `candidate`.
    pub async fn guest_secret(&self, candidate: &str) -> Result<String> {
        let s = &self.shards[0].shared;
        let key = s.keys.guest_key();
        let mut conn = s.conn();
        let _: Option<String> = s
            .call(
                "guest key",
                redis::cmd("SET")
                    .arg(&key)
                    .arg(candidate)
                    .arg("NX")
                    .query_async(&mut conn),
            )
            .await?;
        s.call(
            "guest key",
            redis::cmd("GET").arg(&key).query_async(&mut conn),
        )
        .await
    }

    /// Publishes a server-API notice on `user_id`'s channel (on the shard
    /// of the user's name; every node listens to it on every shard): every
    /// node with a connection of theirs acts on it.
    async fn notice(&self, user_id: &str, frame: &str) -> Result<()> {
        let s = self.router.for_room(&format!("u:{user_id}"));
        s.publish_frame("user notice", &s.keys.user_channel(user_id), frame)
            .await
    }

    /// The shard of `room`.
    fn shard(&self, room: &str) -> &Shard {
        &self.shards[topology::shard_of(room, self.shards.len())]
    }

    /// Subscribes a user channel on every shard (a DM room of the user may
    /// live on any of them). A shard that is down subscribes it when it is
    /// back; this never fails for that.
    async fn sub_user(&self, user: &str) -> Result<()> {
        for shard in &self.shards {
            shard
                .sub(shard.shared.keys.user_channel(user), None)
                .await?;
        }
        Ok(())
    }

    fn unsub_user(&self, user: &str) {
        for shard in &self.shards {
            shard.unsub(shard.shared.keys.user_channel(user));
        }
    }
}

/// The heartbeat of one shard.
async fn heartbeat(shared: Arc<Shared>) {
    let every = (shared.ttl / 3).clamp(Duration::from_millis(200), Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut beat = 1u64;
    loop {
        tick.tick().await;
        if let Err(e) = shared.heartbeat(beat).await {
            tracing::warn!(shard = %shared.label, error = %e, "redis presence heartbeat failed");
        }
        beat = beat.wrapping_add(1);
    }
}

/// Sentinel: asks where the primary is every [`SENTINEL_POLL`]; when it
/// moved, connects to the new one, switches the shard's command connection
/// to it and has the listener reconnect (and check what it delivered).
async fn follow_primary(shared: Arc<Shared>, subs: mpsc::UnboundedSender<SubCmd>) {
    let Some(source) = shared.source.as_ref() else {
        return;
    };
    let mut tick = tokio::time::interval(SENTINEL_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok((host, port)) = source.master_addr().await else {
            continue;
        };
        let addr = format!("{host}:{port}");
        if addr == shared.primary() {
            continue;
        }
        tracing::warn!(shard = %shared.label, old = %shared.primary(), new = %addr, "sentinel moved the primary; following it");
        let connected = async {
            let (client, primary) = connecting(source.client()).await?;
            Ok::<_, Error>((manager(client).await?, primary))
        };
        match connected.await {
            Ok((conn, primary)) => {
                shared.replace_conn(Conn::One(conn), primary);
                shared
                    .metrics
                    .layer_reconnects
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = subs.send(SubCmd::Reconnect);
            }
            Err(e) => {
                tracing::warn!(shard = %shared.label, new = %addr, error = %e, "cannot connect to the new primary yet");
            }
        }
    }
}

#[async_trait]
impl ChannelLayer for RedisLayer {
    async fn publish(&self, p: Publication<'_>) -> Result<Stored> {
        let s = &self.shard(p.room).shared;
        let ts = now_ms();
        let head = format!("{{\"room\":{},\"offset\":", json(&p.room));
        let cid = p
            .cid
            .map_or_else(String::new, |c| format!(",\"cid\":{}", json(&c)));
        let rest = format!(
            ",\"from\":{},\"ts\":{ts},\"payload\":{}{cid}}}",
            json(p.from),
            p.payload.get()
        );
        let mut keys = vec![
            s.keys.epoch(p.room),
            s.keys.head(p.room),
            s.keys.stream(p.room),
            s.keys.cids(p.room),
            s.keys.cid_times(p.room),
        ];
        keys.extend(s.keys.script_channels(p.room));
        let args = [
            new_epoch(),
            head.clone(),
            rest.clone(),
            s.retention.messages.to_string(),
            p.cid.unwrap_or("").to_owned(),
            ts.to_string(),
            millis(s.retention.dedup_window).to_string(),
            s.retention.ttl.map_or(0, millis).to_string(),
        ];
        let (offset, epoch, ts, fresh): (u64, String, u64, u8) = s
            .eval_durable("publish", &s.scripts.publish, &keys, &args)
            .await
            .map_err(Error::sent)?;
        if fresh == 1 && s.keys.cluster && dm_members(p.room).is_some() {
            // The users' channels are in other slots than the DM room: the
            // message is stored; it goes out now (a crash here leaves it to
            // the next gap fill or join).
            let frame = format!("m{epoch}|{head}{offset}{rest}");
            for channel in s.keys.message_channels(p.room) {
                if let Err(e) = s.publish_frame("publish dm", &channel, &frame).await {
                    tracing::warn!(room = p.room, error = %e, "a stored direct message was not published");
                }
            }
        }
        Ok(Stored {
            offset,
            ts,
            fresh: fresh == 1,
        })
    }

    async fn history(&self, room: &str, query: HistoryQuery<'_>) -> Result<History> {
        let since = query.since;
        let shard = self.shard(room);
        let s = &shard.shared;
        let mut inv = s.scripts.history.prepare_invoke();
        inv.key(s.keys.epoch(room))
            .key(s.keys.head(room))
            .key(s.keys.stream(room))
            .arg(new_epoch())
            .arg(since.map_or("", |p| p.epoch.as_str()))
            .arg(since.map_or(0, |p| p.offset))
            .arg(query.limit.max(1))
            .arg(query.max_bytes)
            .arg(s.retention.oldest_ts(now_ms()));
        let mut conn = s.conn();
        let (epoch, head, recovered, rows): (String, u64, u8, Vec<(String, Vec<String>)>) =
            s.call("history", inv.invoke_async(&mut conn)).await?;
        let mut messages = rows
            .iter()
            .map(|(_, f)| decode_entry(f))
            .collect::<Result<Vec<_>>>()?;
        if recovered == 0 {
            messages.reverse();
        }
        shard.cursors.learn_epoch(&s.keys.epoch(room), &epoch);
        shard.cursors.caught_up(room, head).await;
        Ok(History {
            epoch,
            head,
            recovered: recovered == 1,
            messages,
        })
    }

    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        let s = &self.shard(room).shared;
        let newest = match before {
            None => "+".to_owned(),
            Some(0 | 1) => return Ok(Page::default()),
            Some(b) => format!("{}-1", b - 1),
        };
        let mut inv = s.scripts.page.prepare_invoke();
        inv.key(s.keys.stream(room))
            .arg(newest)
            .arg(limit.max(1))
            .arg(max_bytes)
            .arg(s.retention.oldest_ts(now_ms()));
        let mut conn = s.conn();
        let (more, rows): (u8, Vec<(String, Vec<String>)>) =
            s.call("history page", inv.invoke_async(&mut conn)).await?;
        let mut messages = rows
            .iter()
            .map(|(_, f)| decode_entry(f))
            .collect::<Result<Vec<_>>>()?;
        messages.reverse();
        Ok(Page {
            messages,
            more: more == 1,
        })
    }

    async fn signal(&self, room: &str, from: &Member, payload: Payload) -> Result<()> {
        let s = &self.shard(room).shared;
        let frame = Frame::signal(room, from, &payload);
        for channel in s.keys.message_channels(room) {
            s.publish_frame("signal", &channel, &frame).await?;
        }
        Ok(())
    }

    async fn rooms(&self) -> Result<Vec<(String, usize)>> {
        let mut out = Vec::new();
        for shard in &self.shards {
            out.extend(shard.shared.rooms().await?);
        }
        out.sort();
        Ok(out)
    }

    async fn disconnect_user(&self, user_id: &str) -> Result<()> {
        self.notice(user_id, &format!("k{user_id}")).await
    }

    async fn remove_member(&self, room: &str, user_id: &str) -> Result<()> {
        self.notice(user_id, &format!("x{user_id}|{room}")).await
    }

    async fn set_state(&self, room: &str, user_id: &str, state: Option<Json>) -> Result<()> {
        self.shard(room)
            .shared
            .set_state(room, user_id, state.as_ref())
            .await
    }

    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        // Direct messages to this user reach this node while it is in a room.
        self.sub_user(&member.id).await?;
        match self.shard(room).shared.join(room, member).await {
            Ok(members) => Ok(members),
            Err(e) => {
                self.unsub_user(&member.id);
                Err(e)
            }
        }
    }

    async fn presence_leave(&self, room: &str, user_id: &str) -> Result<()> {
        let shared = &self.shard(room).shared;
        let key = (room.to_owned(), user_id.to_owned());
        let known = {
            let mut local = shared.local();
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
        self.unsub_user(user_id);
        if let Err(e) = shared.leave_script(room, user_id).await {
            // The connection is gone whatever Redis says: fix it later.
            shared.local().dirty.insert(key);
            return Err(e);
        }
        Ok(())
    }

    async fn presence_update(&self, room: &str, member: &Member) -> Result<()> {
        self.shard(room).shared.update_presence(room, member).await
    }

    async fn renamed(&self, member: &Member) -> Result<()> {
        // Every node listens to the user's channel on every shard: the
        // shard of the user's own name carries the notice.
        let s = self.router.for_room(&format!("u:{}", member.id));
        s.publish_frame(
            "rename notice",
            &s.keys.user_channel(&member.id),
            &Frame::renamed(member),
        )
        .await
    }

    async fn members(&self, room: &str) -> Result<Vec<Member>> {
        let s = &self.shard(room).shared;
        let mut conn = s.conn();
        let (members, states): (Vec<String>, Vec<String>) = s
            .call(
                "members",
                redis::pipe()
                    .cmd("HVALS")
                    .arg(s.keys.members(room))
                    .cmd("HGETALL")
                    .arg(s.keys.states(room))
                    .query_async(&mut conn),
            )
            .await?;
        Ok(presence::with_states(&members, &states))
    }

    async fn subscribe(&self, room: &str) -> Result<()> {
        let shard = self.shard(room);
        shard
            .sub(shard.shared.keys.room_channel(room), Some(room))
            .await
    }

    async fn unsubscribe(&self, room: &str) -> Result<()> {
        let shard = self.shard(room);
        shard.unsub(shard.shared.keys.room_channel(room));
        Ok(())
    }

    async fn connected(&self, user_id: &str) -> Result<()> {
        self.sub_user(user_id).await
    }

    async fn disconnected(&self, user_id: &str) -> Result<()> {
        self.unsub_user(user_id);
        Ok(())
    }
}
