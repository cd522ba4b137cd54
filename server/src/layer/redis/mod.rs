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
//! The scripts build key names from the room, so this layer targets a single
//! Redis (or a primary with replicas), not Redis Cluster. Configure Redis
//! with `maxmemory-policy noeviction`: an evicted stream is lost history.

//!
//! Files: [`keys`] (names), [`scripts`] (the `.lua` files), [`frame`] (what
//! pub/sub carries), [`shared`] (connection, deadline), [`presence`] (per
//! node counts, heartbeat, reaping), [`listener`] (subscriptions, cursors).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use confab_protocol::{Json, Member};
use rand::Rng;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{ChannelLayer, EventSink, History, HistoryQuery, Page, Payload, Publication, Stored};
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::Config;

mod frame;
mod keys;
mod listener;
mod presence;
mod scripts;
mod shared;

use frame::Frame;
use keys::Keys;
use listener::{Cursors, Listener, SubCmd};
use scripts::Scripts;
use shared::{decode_entry, Local, Shared};

/// Longest wait for one Redis command before answering `unavailable`.
const OP_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for the first connections at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the listener pings its pub/sub connection.
const PUBSUB_PING: Duration = Duration::from_secs(5);

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
        sink: Arc<dyn EventSink>,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let connect_err = |source| Error::Redis {
            op: "connect",
            source,
        };
        let connect_timeout = Error::RedisTimeout {
            op: "connect",
            after: CONNECT_TIMEOUT,
        };
        let client = redis::Client::open(url).map_err(connect_err)?;
        let cm_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(2));
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            ConnectionManager::new_with_config(client.clone(), cm_config),
        )
        .await
        .map_err(|_| connect_timeout)?
        .map_err(connect_err)?;
        let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
            .await
            .map_err(|_| Error::RedisTimeout {
                op: "connect",
                after: CONNECT_TIMEOUT,
            })?
            .map_err(connect_err)?;
        let node = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("n-{:08x}", rand::rng().random::<u32>()));
        let ttl = Duration::from_secs(config.presence_ttl_secs.max(1));
        let shared = Arc::new(Shared {
            conn,
            keys: Keys(config.redis_prefix.clone()),
            node,
            sink,
            metrics,
            retention: config.retention(),
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

    /// Publishes a server-API notice on `user_id`'s channel: every node
    /// with a connection of theirs acts on it.
    async fn notice(&self, user_id: &str, frame: String) -> Result<()> {
        let s = &self.shared;
        let mut conn = s.conn.clone();
        s.call(
            "user notice",
            redis::cmd("PUBLISH")
                .arg(s.keys.user_channel(user_id))
                .arg(frame)
                .query_async::<i64>(&mut conn),
        )
        .await
        .map(drop)
    }

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

#[async_trait]
impl ChannelLayer for RedisLayer {
    async fn publish(&self, p: Publication<'_>) -> Result<Stored> {
        let s = &self.shared;
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
        let mut inv = s.scripts.publish.prepare_invoke();
        inv.key(s.keys.epoch())
            .key(s.keys.head(p.room))
            .key(s.keys.stream(p.room))
            .key(s.keys.cids(p.room))
            .key(s.keys.cid_times(p.room));
        for ch in s.keys.message_channels(p.room) {
            inv.key(ch);
        }
        inv.arg(new_epoch())
            .arg(head)
            .arg(rest)
            .arg(s.retention.messages)
            .arg(p.cid.unwrap_or(""))
            .arg(ts)
            .arg(millis(s.retention.dedup_window))
            .arg(s.retention.ttl.map_or(0, millis));
        let mut conn = s.conn.clone();
        let (offset, _epoch, ts, fresh): (u64, String, u64, u8) =
            (s.call("publish", inv.invoke_async(&mut conn)).await).map_err(Error::sent)?;
        Ok(Stored {
            offset,
            ts,
            fresh: fresh == 1,
        })
    }

    async fn history(&self, room: &str, query: HistoryQuery<'_>) -> Result<History> {
        let since = query.since;
        let s = &self.shared;
        let mut inv = s.scripts.history.prepare_invoke();
        inv.key(s.keys.epoch())
            .key(s.keys.head(room))
            .key(s.keys.stream(room))
            .arg(new_epoch())
            .arg(since.map_or("", |p| p.epoch.as_str()))
            .arg(since.map_or(0, |p| p.offset))
            .arg(query.limit.max(1))
            .arg(query.max_bytes)
            .arg(s.retention.oldest_ts(now_ms()));
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

    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        let s = &self.shared;
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
        let mut conn = s.conn.clone();
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
        let s = &self.shared;
        let frame = Frame::signal(room, from, &payload);
        for channel in s.keys.message_channels(room) {
            let mut conn = s.conn.clone();
            s.call(
                "signal",
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(&frame)
                    .query_async::<i64>(&mut conn),
            )
            .await?;
        }
        Ok(())
    }

    async fn rooms(&self) -> Result<Vec<(String, usize)>> {
        // Rooms with members are the presence hashes that exist (an empty
        // hash is no key): SCAN them, then count each (an admin call, not
        // a hot path).
        let s = &self.shared;
        let prefix = s.keys.members("");
        let mut conn = s.conn.clone();
        let mut cursor = 0u64;
        let mut names = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = s
                .call(
                    "scan rooms",
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{prefix}*"))
                        .arg("COUNT")
                        .arg(500)
                        .query_async(&mut conn),
                )
                .await?;
            names.extend(
                keys.into_iter()
                    .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned)),
            );
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut out = Vec::with_capacity(names.len());
        for room in names {
            let n: usize = s
                .call(
                    "count members",
                    redis::cmd("HLEN")
                        .arg(s.keys.members(&room))
                        .query_async(&mut conn),
                )
                .await?;
            if n > 0 {
                out.push((room, n));
            }
        }
        out.sort();
        Ok(out)
    }

    async fn disconnect_user(&self, user_id: &str) -> Result<()> {
        self.notice(user_id, format!("k{user_id}")).await
    }

    async fn remove_member(&self, room: &str, user_id: &str) -> Result<()> {
        self.notice(user_id, format!("x{user_id}|{room}")).await
    }

    async fn set_state(&self, room: &str, user_id: &str, state: Option<Json>) -> Result<()> {
        self.shared.set_state(room, user_id, state.as_ref()).await
    }

    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        // Direct messages to this user reach this node while it is in a room.
        self.sub(self.shared.keys.user_channel(&member.id), None)
            .await?;
        let members = match self.shared.join_script(room, member, 1).await {
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
        let notice = Frame::renamed(member);
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
