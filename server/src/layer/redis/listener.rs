//! The pub/sub listener of one shard: subscribed to the room channels this
//! node has local members in (and the user channels of its users), with
//! reference-counted subscriptions, a delivery cursor per room (a duplicate
//! is dropped, a gap is filled from the stream first), and reconnects with
//! backoff. [`Core`] is what every topology shares; [`Listener`] drives it
//! with one pub/sub connection (a single Redis, a shard, a Sentinel
//! primary), `cluster::ClusterListener` with sharded pub/sub on a cluster.
//!
//! After a reconnect the listener checks, per epoch scope, that Redis still
//! has what this node delivered: a changed epoch (Redis lost its data) or a
//! head below a room's cursor (a failover or restart lost the newest
//! acknowledged writes, whose offsets would be reused) changes the epoch
//! and closes native connections, so clients rejoin and are told
//! `recovered: false` instead of silently missing messages.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};

use confab_protocol::{dm_members, Member};
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, oneshot};

use super::frame::Frame;
use super::shared::Shared;
use super::{new_epoch, redis_backoff, Router, OP_TIMEOUT, PUBSUB_PING};
use crate::error::{Error, Result};
use crate::fanout::{Event, StoredMessage};

/// The last offset delivered to local connections per room this node
/// listens to, shared by the listener (writer) and history reads (which wait
/// until it caught up with the head they read, so a joining connection's
/// pending buffer holds every newer message and none older).
#[derive(Default)]
pub(super) struct Cursors {
    map: Mutex<HashMap<String, u64>>,
    /// Room → (ts, sender) of the message delivered at its cursor: after a
    /// failover the new primary may hold *another* message at that offset
    /// (the lost one's offset reused before this node looked), which the
    /// head alone cannot tell.
    stamps: Mutex<HashMap<String, (u64, String)>>,
    moved: tokio::sync::Notify,
    /// Epoch scope (the epoch key) → the history epoch this node's clients
    /// were given; the listener compares it with what Redis says to detect
    /// lost history.
    epochs: Mutex<HashMap<String, String>>,
    /// (scope, epoch) pairs replaced since: a frame still in flight from
    /// before the change is dropped, not taken for another change.
    retired: Mutex<std::collections::HashSet<(String, String)>>,
}

impl Cursors {
    fn epochs(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.epochs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn epoch(&self, scope: &str) -> Option<String> {
        self.epochs().get(scope).cloned()
    }

    pub(super) fn set_epoch(&self, scope: &str, epoch: Option<String>) {
        let old = match epoch {
            Some(e) => self
                .epochs()
                .insert(scope.to_owned(), e.clone())
                .filter(|o| *o != e),
            None => self.epochs().remove(scope),
        };
        if let Some(old) = old {
            let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
            if retired.len() > 4096 {
                retired.clear();
            }
            retired.insert((scope.to_owned(), old));
        }
    }

    /// Whether `epoch` of `scope` was replaced by another one.
    fn retired(&self, scope: &str, epoch: &str) -> bool {
        self.retired
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(scope.to_owned(), epoch.to_owned()))
    }

    /// Records the epoch a client is given, when none is known yet.
    pub(super) fn learn_epoch(&self, scope: &str, epoch: &str) {
        self.epochs()
            .entry(scope.to_owned())
            .or_insert_with(|| epoch.to_owned());
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn get(&self, room: &str) -> Option<u64> {
        self.lock().get(room).copied()
    }

    pub(super) fn set(&self, room: &str, offset: u64) {
        self.lock().insert(room.to_owned(), offset);
        self.stamps().remove(room);
        self.moved.notify_waiters();
    }

    fn stamps(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, String)>> {
        self.stamps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves `room`'s cursor to the message `m` just delivered.
    fn delivered(&self, m: &StoredMessage) {
        self.lock().insert(m.msg.room.clone(), m.msg.offset);
        self.stamps()
            .insert(m.msg.room.clone(), (m.msg.ts, m.msg.from.id.clone()));
        self.moved.notify_waiters();
    }

    /// What was delivered at `room`'s cursor, if this node delivered it.
    fn stamp(&self, room: &str) -> Option<(u64, String)> {
        self.stamps().get(room).cloned()
    }

    /// Waits (bounded) until `room` was delivered up to `head`; returns
    /// at once for a room this node does not listen to.
    pub(super) async fn caught_up(&self, room: &str, head: u64) {
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
pub(super) enum SubCmd {
    /// A channel, the room when it is a room channel, the reply.
    Subscribe(String, Option<String>, oneshot::Sender<Result<()>>),
    Unsubscribe(String),
    /// The primary moved (Sentinel): drop the connection, connect anew.
    Reconnect,
}

/// What every listener does with what arrives: cursors, gap fills, epoch
/// checks, delivery to the node's sink.
pub(super) struct Core {
    pub(super) shared: Arc<Shared>,
    /// Every shard, to update presence in rooms of other shards.
    pub(super) router: Arc<Router>,
    /// channel → local references.
    pub(super) counts: HashMap<String, usize>,
    /// room → last offset delivered here.
    pub(super) cursors: Arc<Cursors>,
}

impl Core {
    /// A room channel was just subscribed: every message after the head read
    /// now will arrive, and those before are in any later history read.
    pub(super) async fn floor(&mut self, room: &str) -> Result<()> {
        if self.cursors.get(room).is_some() {
            return Ok(());
        }
        let mut conn = self.shared.conn();
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

    pub(super) fn forget_cursors(&mut self) {
        let rooms: Vec<String> = self.cursors.lock().keys().cloned().collect();
        let keep: Vec<String> = rooms.into_iter().filter(|r| self.listens(r)).collect();
        self.cursors.lock().retain(|r, _| keep.contains(r));
        self.cursors.stamps().retain(|r, _| keep.contains(r));
    }

    /// The rooms with a cursor whose messages travel on `channel`.
    pub(super) fn rooms_on(&self, channel: &str) -> Vec<String> {
        let k = &self.shared.keys;
        self.cursors
            .lock()
            .keys()
            .filter(|r| k.message_channels(r).iter().any(|c| c == channel))
            .cloned()
            .collect()
    }

    /// Redis lost history in `scope` (restarted empty, flushed, or a
    /// failover lost acknowledged writes): offsets restart or would be
    /// reused, so every native client must rejoin and be told it could not
    /// recover.
    fn history_lost(&mut self, scope: &str, epoch: Option<String>) {
        tracing::error!(shard = %self.shared.label, scope, old = ?self.cursors.epoch(scope), new = ?epoch, "redis history epoch changed: history was lost; closing native connections so clients rejoin");
        self.cursors.set_epoch(scope, epoch);
        let keys = &self.shared.keys;
        self.cursors.lock().retain(|r, _| keys.epoch(r) != scope);
        self.cursors.stamps().retain(|r, _| keys.epoch(r) != scope);
        self.shared.sink.history_lost();
    }

    fn deliver(&mut self, m: Arc<StoredMessage>) {
        let last = self.cursors.get(&m.msg.room);
        if last.is_some_and(|l| m.msg.offset <= l) {
            return;
        }
        if self.listens(&m.msg.room) {
            self.shared.sink.deliver(Event::Message(m.clone()));
            self.cursors.delivered(&m);
        } else {
            self.shared.sink.deliver(Event::Message(m));
        }
    }

    /// A user with connections here renamed themselves on another node:
    /// their connections here take the name, and the rooms they are in here
    /// get the `updates` diff. The node that renamed already did both.
    fn renamed_elsewhere(&self, member: Member) {
        let rooms = self.shared.sink.renamed(&member);
        if rooms.is_empty() {
            return;
        }
        let router = self.router.clone();
        // Off the subscription loop: these are round trips to Redis.
        tokio::spawn(async move {
            for room in rooms {
                let shared = router.for_room(&room);
                if let Err(e) = shared.update_presence(&room, &member).await {
                    tracing::warn!(room, error = %e, "presence update after a rename elsewhere");
                }
            }
        });
    }

    /// A frame arrived on a channel.
    pub(super) async fn on_frame(&mut self, payload: &[u8]) {
        let (epoch, m) = match Frame::parse(payload) {
            Ok(Frame::Message { epoch, message }) => (epoch, message),
            Ok(Frame::Presence(diff)) => return self.shared.sink.deliver(Event::presence(diff)),
            Ok(Frame::Renamed(member)) => return self.renamed_elsewhere(member),
            Ok(Frame::Signal(s)) => {
                let event = Event::signal(s.room, s.from, std::sync::Arc::from(s.payload));
                return self.shared.sink.deliver(event);
            }
            Ok(Frame::Disconnect(user)) => return self.shared.sink.disconnect_user(&user),
            Ok(Frame::Remove { user, room }) => {
                return self.shared.sink.remove_member(&room, &user)
            }
            Err(e) => {
                tracing::warn!(error = %e, "bad pub/sub frame from redis");
                return;
            }
        };
        let scope = self.shared.keys.epoch(&m.msg.room);
        if self.cursors.retired(&scope, &epoch) {
            // Published before the epoch changed (clients rejoin anyway).
            return;
        }
        match self.cursors.epoch(&scope) {
            None => self.cursors.set_epoch(&scope, Some(epoch)),
            Some(e) if e != epoch => self.history_lost(&scope, Some(epoch)),
            Some(_) => {}
        }
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

    /// After a (re)subscription: checks the epoch of `scope` and that Redis
    /// still has every offset delivered here in `rooms` (all of that
    /// scope), then delivers what was missed meanwhile from the streams.
    pub(super) async fn resync(&mut self, scope: &str, rooms: &[String]) -> Result<()> {
        let s = self.shared.clone();
        let mut conn = s.conn();
        let epoch: Option<String> = s
            .call(
                "get epoch",
                redis::cmd("GET").arg(scope).query_async(&mut conn),
            )
            .await?;
        let known = self.cursors.epoch(scope);
        if known.is_some() && epoch != known {
            self.history_lost(scope, epoch);
            return Ok(());
        }
        self.cursors.set_epoch(scope, epoch.clone());
        let rooms: Vec<(String, u64)> = rooms
            .iter()
            .filter_map(|r| self.cursors.get(r).map(|c| (r.clone(), c)))
            .collect();
        let mut heads = Vec::with_capacity(rooms.len());
        for chunk in rooms.chunks(512) {
            let got: Vec<Option<u64>> = if s.keys.cluster {
                // Each room in its own slot: one GET each.
                let mut got = Vec::with_capacity(chunk.len());
                for (room, _) in chunk {
                    got.push(
                        s.call(
                            "get head",
                            redis::cmd("GET")
                                .arg(s.keys.head(room))
                                .query_async(&mut conn),
                        )
                        .await?,
                    );
                }
                got
            } else {
                let mut pipe = redis::pipe();
                for (room, _) in chunk {
                    pipe.cmd("GET").arg(s.keys.head(room));
                }
                s.call("get heads", pipe.query_async(&mut conn)).await?
            };
            heads.extend(got.into_iter().map(Option::unwrap_or_default));
        }
        let mut rolled_back: Vec<(&String, u64, u64)> = rooms
            .iter()
            .zip(&heads)
            .filter(|((_, c), h)| **h < *c)
            .map(|((r, c), h)| (r, *c, *h))
            .collect();
        if rolled_back.is_empty() {
            // The head may be back at (or past) the cursor with other
            // messages: the offsets of lost ones reused since. The entry at
            // the cursor must be the one delivered here.
            for ((room, c), head) in rooms.iter().zip(&heads) {
                let Some((ts, from)) = self.cursors.stamp(room) else {
                    continue;
                };
                if let Some(there) = s.range(room, *c, Some(*c)).await?.first() {
                    if there.msg.ts != ts || there.msg.from.id != from {
                        rolled_back.push((room, *c, *head));
                    }
                }
            }
        }
        if !rolled_back.is_empty() {
            tracing::error!(shard = %s.label, rooms = ?rolled_back, "redis no longer has offsets this node delivered (room, delivered, head): acknowledged writes were lost");
            let mut inv = s.scripts.fence.prepare_invoke();
            inv.key(scope)
                .arg(epoch.as_deref().unwrap_or(""))
                .arg(new_epoch());
            let fenced: String = s.call("fence epoch", inv.invoke_async(&mut conn)).await?;
            self.history_lost(scope, Some(fenced));
            return Ok(());
        }
        for ((room, last), head) in rooms.iter().zip(heads) {
            if head > *last {
                for m in s.range(room, last + 1, None).await? {
                    self.deliver(m);
                }
            }
        }
        Ok(())
    }
}

/// What woke the listener.
enum Wake {
    Command(SubCmd),
    Message(redis::Msg),
    Lost,
    Ping,
    Retry,
}

/// Owns one pub/sub connection: reference-counted subscriptions, per-room
/// delivery cursors, reconnects with backoff (to wherever the shard's
/// primary now is).
pub(super) struct Listener {
    pub(super) core: Core,
    pub(super) cmds: mpsc::UnboundedReceiver<SubCmd>,
    pub(super) attempt: u32,
}

impl Listener {
    pub(super) async fn run(mut self, first: (PubSubSink, PubSubStream)) {
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
                        tracing::warn!(shard = %self.core.shared.label, error = %e, retry_in_ms = delay.as_millis() as u64, "redis pub/sub reconnect failed");
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
                        Some(cmd) => Wake::Command(cmd),
                    },
                    msg = next => match msg {
                        Some(msg) => Wake::Message(msg),
                        None => Wake::Lost,
                    },
                    _ = ping.tick(), if connected => Wake::Ping,
                    () = tokio::time::sleep_until(retry_at), if !connected => Wake::Retry,
                }
            };
            match event {
                Wake::Command(SubCmd::Reconnect) => {
                    if conn.take().is_some() {
                        tracing::warn!(shard = %self.core.shared.label, "redis primary moved; reconnecting pub/sub");
                    }
                    retry_at = tokio::time::Instant::now();
                }
                Wake::Command(cmd) => {
                    if !self.command(cmd, &mut conn).await {
                        self.lost(&mut conn, &mut retry_at);
                    }
                }
                Wake::Message(msg) => self.core.on_frame(msg.get_payload_bytes()).await,
                Wake::Lost => self.lost(&mut conn, &mut retry_at),
                // Any reply will do: in subscribed mode Redis answers
                // ["pong", ""] rather than +PONG.
                Wake::Ping => {
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
                Wake::Retry => {}
            }
        }
    }

    fn lost(
        &mut self,
        conn: &mut Option<(PubSubSink, PubSubStream)>,
        retry_at: &mut tokio::time::Instant,
    ) {
        if conn.take().is_some() {
            tracing::warn!(shard = %self.core.shared.label, "redis pub/sub connection lost; reconnecting");
            self.core.shared.metrics.layer_errors.fetch_add(1, Relaxed);
            *retry_at = tokio::time::Instant::now();
        }
    }

    /// A new pub/sub connection with every channel re-subscribed, then the
    /// messages missed meanwhile delivered from the streams.
    async fn reconnect(&mut self) -> Result<(PubSubSink, PubSubStream)> {
        let shared = self.core.shared.clone();
        let source = shared
            .source
            .as_ref()
            .ok_or_else(|| Error::Internal("pub/sub without a source".into()))?;
        let (client, primary) = shared.call("find primary", source.client()).await?;
        let pubsub = shared
            .call("pub/sub connect", client.get_async_pubsub())
            .await?;
        let (mut sink, stream) = pubsub.split();
        let channels: Vec<String> = self.core.counts.keys().cloned().collect();
        if !channels.is_empty() {
            shared
                .call("resubscribe", sink.subscribe(&channels))
                .await?;
        }
        shared.metrics.layer_reconnects.fetch_add(1, Relaxed);
        tracing::info!(shard = %shared.label, %primary, channels = channels.len(), "redis pub/sub reconnected");
        // Did Redis lose history meanwhile? (One epoch for the whole shard.)
        let rooms: Vec<String> = self.core.cursors.lock().keys().cloned().collect();
        let scope = shared.keys.epoch("");
        self.core.resync(&scope, &rooms).await?;
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
                let count = self.core.counts.get(&channel).copied().unwrap_or(0);
                if count > 0 {
                    self.core.counts.insert(channel, count + 1);
                    let _ = reply.send(Ok(()));
                    return true;
                }
                let Some((sink, _)) = conn.as_mut() else {
                    if room.is_none() {
                        // A user channel: subscribed when the connection is
                        // back (a DM room of this shard is down meanwhile,
                        // rooms of other shards are not).
                        self.core.counts.insert(channel, 1);
                        let _ = reply.send(Ok(()));
                    } else {
                        let _ = reply.send(Err(Error::Unavailable(
                            "redis pub/sub is reconnecting".into(),
                        )));
                    }
                    return true;
                };
                match self
                    .core
                    .shared
                    .call("subscribe", sink.subscribe(&channel))
                    .await
                {
                    Ok(()) => {
                        let floor = match &room {
                            Some(room) => self.core.floor(room).await,
                            None => Ok(()),
                        };
                        if floor.is_ok() {
                            self.core.counts.insert(channel, 1);
                        } else {
                            let _ = sink.unsubscribe(&channel).await;
                        }
                        let _ = reply.send(floor);
                        true
                    }
                    Err(e) => {
                        if room.is_none() {
                            self.core.counts.insert(channel, 1);
                            let _ = reply.send(Ok(()));
                        } else {
                            let _ = reply.send(Err(e));
                        }
                        false
                    }
                }
            }
            SubCmd::Unsubscribe(channel) => {
                let Some(count) = self.core.counts.get_mut(&channel) else {
                    return true;
                };
                *count -= 1;
                if *count > 0 {
                    return true;
                }
                self.core.counts.remove(&channel);
                self.core.forget_cursors();
                match conn.as_mut() {
                    Some((sink, _)) => self
                        .core
                        .shared
                        .call("unsubscribe", sink.unsubscribe(&channel))
                        .await
                        .is_ok(),
                    None => true,
                }
            }
            SubCmd::Reconnect => true,
        }
    }
}
