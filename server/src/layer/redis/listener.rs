//! The pub/sub listener: one connection subscribed to the room channels
//! this node has local members in (and the user channels of its users),
//! with reference-counted subscriptions, a delivery cursor per room (a
//! duplicate is dropped, a gap is filled from the stream first), and
//! reconnects with backoff.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};

use confab_protocol::{dm_members, Member};
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, oneshot};

use super::frame::Frame;
use super::shared::Shared;
use super::{redis_backoff, OP_TIMEOUT, PUBSUB_PING};
use crate::error::{Error, Result};
use crate::fanout::{Event, StoredMessage};

/// The last offset delivered to local connections per room this node
/// listens to, shared by the listener (writer) and history reads (which wait
/// until it caught up with the head they read, so a joining connection's
/// pending buffer holds every newer message and none older).
#[derive(Default)]
pub(super) struct Cursors {
    map: Mutex<HashMap<String, u64>>,
    moved: tokio::sync::Notify,
    /// The history epoch this node's clients were given; the listener
    /// compares it with what Redis says to detect lost history.
    epoch: Mutex<Option<String>>,
}

impl Cursors {
    pub(super) fn epoch(&self) -> Option<String> {
        self.epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn set_epoch(&self, epoch: Option<String>) {
        *self.epoch.lock().unwrap_or_else(PoisonError::into_inner) = epoch;
    }

    /// Records the epoch a client is given, when none is known yet.
    pub(super) fn learn_epoch(&self, epoch: &str) {
        let mut e = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        if e.is_none() {
            *e = Some(epoch.to_owned());
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn get(&self, room: &str) -> Option<u64> {
        self.lock().get(room).copied()
    }

    pub(super) fn set(&self, room: &str, offset: u64) {
        self.lock().insert(room.to_owned(), offset);
        self.moved.notify_waiters();
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
}

/// What woke the listener.
enum Wake {
    Command(SubCmd),
    Message(redis::Msg),
    Lost,
    Ping,
    Retry,
}

/// Owns the pub/sub connection: reference-counted subscriptions, per-room
/// delivery cursors, reconnects with backoff.
pub(super) struct Listener {
    pub(super) shared: Arc<Shared>,
    pub(super) client: redis::Client,
    pub(super) cmds: mpsc::UnboundedReceiver<SubCmd>,
    /// channel → local references.
    pub(super) counts: HashMap<String, usize>,
    /// room → last offset delivered here.
    pub(super) cursors: Arc<Cursors>,
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
                Wake::Command(cmd) => {
                    if !self.command(cmd, &mut conn).await {
                        self.lost(&mut conn, &mut retry_at);
                    }
                }
                Wake::Message(msg) => self.on_message(&msg).await,
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
        self.shared.sink.history_lost();
    }

    fn deliver(&mut self, m: Arc<StoredMessage>) {
        let last = self.cursors.get(&m.msg.room);
        if last.is_some_and(|l| m.msg.offset <= l) {
            return;
        }
        if self.listens(&m.msg.room) {
            self.shared.sink.deliver(Event::Message(m.clone()));
            self.cursors.set(&m.msg.room, m.msg.offset);
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
        let (epoch, m) = match Frame::parse(msg.get_payload_bytes()) {
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
        match self.cursors.epoch() {
            None => self.cursors.set_epoch(Some(epoch)),
            Some(e) if e != epoch => self.history_lost(Some(epoch)),
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
}
