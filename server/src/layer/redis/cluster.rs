//! Redis Cluster: the connections and the listener. Rooms fan out by
//! sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`): a message travels only among
//! the nodes serving its room's slot, where classic `PUBLISH` is copied to
//! every node of the cluster. The cluster client keeps one connection per
//! node, follows MOVED/ASK, refreshes the slot map after a failover and
//! re-subscribes every tracked channel to the node now serving its slot;
//! the listener then re-checks each room (epoch, head, gap) when the
//! server confirms the subscription again.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, TlsCertificates, Value};
use tokio::sync::mpsc;

use super::listener::{Core, SubCmd};
use super::OP_TIMEOUT;
use crate::error::Result;

/// How often subscriptions that failed (their slot was down) are retried.
const RETRY_EVERY: Duration = Duration::from_millis(500);

fn builder(urls: &[String], tls: Option<&TlsCertificates>) -> ClusterClientBuilder {
    let mut b = ClusterClientBuilder::new(urls.to_vec())
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(OP_TIMEOUT)
        .retries(4)
        .min_retry_wait(50)
        .max_retry_wait(500);
    if let Some(certs) = tls {
        b = b.certs(certs.clone());
    }
    b
}

/// The command connection of a cluster.
pub(super) async fn command_connection(
    urls: &[String],
    tls: Option<&TlsCertificates>,
) -> redis::RedisResult<ClusterConnection> {
    builder(urls, tls).build()?.get_async_connection().await
}

/// The pub/sub connection of a cluster (RESP3: messages arrive as pushes).
pub(super) async fn pubsub_connection(
    urls: &[String],
    tls: Option<&TlsCertificates>,
) -> redis::RedisResult<(ClusterConnection, mpsc::UnboundedReceiver<PushInfo>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let conn = builder(urls, tls)
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(tx)
        .build()?
        .get_async_connection()
        .await?;
    Ok((conn, rx))
}

/// The listener of a cluster.
pub(super) struct ClusterListener {
    pub(super) core: Core,
    pub(super) conn: ClusterConnection,
    pub(super) pushes: mpsc::UnboundedReceiver<PushInfo>,
    pub(super) cmds: mpsc::UnboundedReceiver<SubCmd>,
    /// Channels to subscribe that failed (their slot's node was down).
    pub(super) pending: HashSet<String>,
    /// Rooms to check again after a resubscription whose check failed.
    pub(super) unsynced: HashSet<String>,
    /// Results of the subscriptions retried off the loop (channel, done),
    /// `None` when a round is over.
    pub(super) retried: mpsc::UnboundedReceiver<Option<(String, bool)>>,
    pub(super) retry_tx: mpsc::UnboundedSender<Option<(String, bool)>>,
    /// A retry round is running.
    pub(super) retrying: bool,
}

/// Channels re-subscribed at once in a retry round.
const RETRY_CONCURRENCY: usize = 32;

fn text(v: Option<&Value>) -> Option<&[u8]> {
    match v? {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

impl ClusterListener {
    pub(super) async fn run(mut self) {
        let mut retry = tokio::time::interval(RETRY_EVERY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    None => return,
                    Some(cmd) => self.command(cmd).await,
                },
                push = self.pushes.recv() => match push {
                    None => return,
                    Some(push) => self.on_push(push).await,
                },
                done = self.retried.recv() => match done {
                    Some(Some((channel, true))) => {
                        self.pending.remove(&channel);
                    }
                    Some(Some((_, false))) => {}
                    Some(None) => self.retrying = false,
                    None => return,
                },
                _ = retry.tick(), if !self.pending.is_empty() || !self.unsynced.is_empty() => self.retry().await,
            }
        }
    }

    async fn ssubscribe(&mut self, channel: &str) -> Result<()> {
        let mut conn = self.conn.clone();
        self.core
            .shared
            .call("subscribe", conn.ssubscribe(channel))
            .await
    }

    async fn command(&mut self, cmd: SubCmd) {
        match cmd {
            SubCmd::Subscribe(channel, room, reply) => {
                let count = self.core.counts.get(&channel).copied().unwrap_or(0);
                if count > 0 {
                    self.core.counts.insert(channel, count + 1);
                    let _ = reply.send(Ok(()));
                    return;
                }
                match self.ssubscribe(&channel).await {
                    Ok(()) => {
                        let floor = match &room {
                            Some(room) => self.core.floor(room).await,
                            None => Ok(()),
                        };
                        if floor.is_ok() {
                            self.core.counts.insert(channel, 1);
                        } else {
                            let mut conn = self.conn.clone();
                            let _ = conn.sunsubscribe(&channel).await;
                        }
                        let _ = reply.send(floor);
                    }
                    Err(e) if room.is_none() => {
                        // A user channel whose slot is down: retried, the
                        // rooms this user joins elsewhere keep working.
                        tracing::warn!(error = %e, "user channel subscription deferred");
                        self.core.counts.insert(channel.clone(), 1);
                        self.pending.insert(channel);
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            SubCmd::Unsubscribe(channel) => {
                let Some(count) = self.core.counts.get_mut(&channel) else {
                    return;
                };
                *count -= 1;
                if *count > 0 {
                    return;
                }
                self.core.counts.remove(&channel);
                self.pending.remove(&channel);
                self.core.forget_cursors();
                let mut conn = self.conn.clone();
                let _ = self
                    .core
                    .shared
                    .call("unsubscribe", conn.sunsubscribe(&channel))
                    .await;
            }
            SubCmd::Reconnect => {}
        }
    }

    /// Re-subscribes the pending channels off the loop (a channel whose
    /// slot is failing over may take the whole command timeout, and
    /// deliveries of the other slots go on meanwhile); checks rooms whose
    /// resync failed.
    async fn retry(&mut self) {
        if !self.retrying && !self.pending.is_empty() {
            self.retrying = true;
            let channels: Vec<String> = self.pending.iter().cloned().collect();
            let conn = self.conn.clone();
            let tx = self.retry_tx.clone();
            tokio::spawn(async move {
                use futures_util::StreamExt;
                futures_util::stream::iter(channels)
                    .for_each_concurrent(RETRY_CONCURRENCY, |channel| {
                        let mut conn = conn.clone();
                        let tx = tx.clone();
                        async move {
                            let ok = matches!(
                                tokio::time::timeout(OP_TIMEOUT, conn.ssubscribe(&channel)).await,
                                Ok(Ok(()))
                            );
                            let _ = tx.send(Some((channel, ok)));
                        }
                    })
                    .await;
                let _ = tx.send(None);
            });
        }
        let rooms: Vec<String> = self.unsynced.drain().collect();
        for room in rooms {
            self.resync(room).await;
        }
    }

    /// Checks one room after its channel was (re)subscribed; retried later
    /// if its slot cannot answer yet.
    async fn resync(&mut self, room: String) {
        let scope = self.core.shared.keys.epoch(&room);
        if let Err(e) = self.core.resync(&scope, std::slice::from_ref(&room)).await {
            tracing::warn!(room, error = %e, "cannot resync a room after resubscribing; retrying");
            self.unsynced.insert(room);
        }
    }

    async fn on_push(&mut self, push: PushInfo) {
        let channel = text(push.data.first()).map(|c| String::from_utf8_lossy(c).into_owned());
        match push.kind {
            PushKind::SMessage | PushKind::Message => {
                if let Some(payload) = text(push.data.get(1)) {
                    let payload = payload.to_vec();
                    self.core.on_frame(&payload).await;
                }
            }
            PushKind::SSubscribe => {
                // (Re)subscribed: what was published while the channel was
                // not subscribed is in the streams.
                let Some(channel) = channel else { return };
                for room in self.core.rooms_on(&channel) {
                    self.resync(room).await;
                }
            }
            PushKind::SUnsubscribe => {
                // The server dropped a channel we still want (its slot
                // moved): subscribe again where the slot now is.
                let Some(channel) = channel else { return };
                if self.core.counts.contains_key(&channel) {
                    tracing::info!(
                        channel,
                        "sharded channel dropped by the cluster; resubscribing"
                    );
                    self.pending.insert(channel);
                    self.retry().await;
                }
            }
            PushKind::Disconnection => {
                // The client reconnects that node, but a failed-over slot
                // moves: subscribe every channel again, which routes each to
                // the node serving its slot now (and refreshes the slot map);
                // the confirmations then resync their rooms.
                tracing::warn!(
                    channels = self.core.counts.len(),
                    "redis cluster pub/sub connection to a node lost; resubscribing"
                );
                self.pending.extend(self.core.counts.keys().cloned());
                self.core.shared.metrics.layer_errors.fetch_add(1, Relaxed);
                self.core
                    .shared
                    .metrics
                    .layer_reconnects
                    .fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }
}
