//! Room-group operations shared by every endpoint (Channels' `group_add`,
//! `group_discard`, `group_send`), combining the node-local [`Hub`] with the
//! [`ChannelLayer`].

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use confab_protocol::{Member, Position};

use crate::error::{Error, Result};
use crate::hub::{ConnHandle, Hub};
use crate::layer::{ChannelLayer, History, Payload, StoredMessage};
use crate::limits::{nesting_exceeds, MAX_PAYLOAD_DEPTH};
use crate::metrics::Metrics;

/// Groups over a layer and a hub.
#[derive(Clone)]
pub struct Groups {
    /// The channel layer.
    pub layer: Arc<dyn ChannelLayer>,
    /// This node's local fan-out.
    pub hub: Arc<Hub>,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups").finish_non_exhaustive()
    }
}

/// What a native join needs for its `joined` reply.
#[derive(Debug)]
pub struct JoinSnapshot {
    /// History (and epoch/head).
    pub history: History,
    /// Members after the join.
    pub members: Vec<Member>,
}

impl Groups {
    async fn add(&self, room: &str, conn: &Arc<ConnHandle>, pending: bool) -> Result<()> {
        if self.hub.add(room, conn, pending) {
            if let Err(e) = self.layer.subscribe(room).await {
                self.hub.remove(room, conn);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Adds a seed-compatible connection to `room` (live at once) and to the
    /// room's presence.
    pub async fn join_live(
        &self,
        room: &str,
        conn: &Arc<ConnHandle>,
        member: &Member,
    ) -> Result<()> {
        self.add(room, conn, false).await?;
        if let Err(e) = self.layer.presence_join(room, member).await {
            self.discard(room, conn).await;
            return Err(e);
        }
        Ok(())
    }

    /// First half of a native join: subscribes `conn` in pending mode, adds
    /// presence (unless `rejoin`) and reads history. The caller queues the
    /// `joined` reply, then calls [`Groups::activate`].
    pub async fn join_pending(
        &self,
        room: &str,
        conn: &Arc<ConnHandle>,
        member: &Member,
        rejoin: bool,
        since: Option<&Position>,
        limit: usize,
    ) -> Result<JoinSnapshot> {
        self.add(room, conn, true).await?;
        let members = if rejoin {
            self.layer.members(room).await
        } else {
            self.layer.presence_join(room, member).await
        };
        let members = match members {
            Ok(m) => {
                self.hub.clear_pending_presence(room, conn);
                m
            }
            Err(e) => {
                self.discard(room, conn).await;
                return Err(e);
            }
        };
        let history = match self.layer.history(room, since, limit).await {
            Ok(h) => h,
            Err(e) => {
                if !rejoin {
                    let _ = self.layer.presence_leave(room, &member.id).await;
                }
                self.discard(room, conn).await;
                return Err(e);
            }
        };
        Ok(JoinSnapshot { history, members })
    }

    /// Makes a pending subscription live (see [`Hub::activate`]).
    pub fn activate(&self, room: &str, conn: &Arc<ConnHandle>, head: u64) {
        self.hub.activate(room, conn, head);
    }

    async fn discard(&self, room: &str, conn: &ConnHandle) {
        if self.hub.remove(room, conn) {
            if let Err(e) = self.layer.unsubscribe(room).await {
                tracing::warn!(room, error = %e, "layer unsubscribe failed");
            }
        }
    }

    /// Removes `conn` from `room` and from its presence.
    pub async fn leave(&self, room: &str, conn: &ConnHandle) -> Result<()> {
        self.discard(room, conn).await;
        self.layer.presence_leave(room, &conn.user_id).await
    }

    /// Stores and broadcasts a message (Channels' `group_send`). Every
    /// publish path (native publish and direct, the HTTP API, seed frames)
    /// comes through here: a payload nested deeper than
    /// [`MAX_PAYLOAD_DEPTH`] is refused with [`Error::BadRequest`], and
    /// once the node is shutting down every publish is refused with
    /// [`Error::Unavailable`].
    pub async fn publish(
        &self,
        room: &str,
        from: &Member,
        payload: Payload,
    ) -> Result<Arc<StoredMessage>> {
        // Members are being closed: a message stored now could be acked
        // after some of them got their close frame, and an in-memory node
        // would take it down with it. The sender retries after reconnecting.
        if self.hub.is_shutting_down() {
            return Err(Error::Unavailable("server is restarting".into()));
        }
        if nesting_exceeds(payload.get(), MAX_PAYLOAD_DEPTH) {
            return Err(Error::BadRequest(format!(
                "payload nests deeper than {MAX_PAYLOAD_DEPTH} levels of arrays/objects"
            )));
        }
        let stored = self.layer.publish(room, from, payload).await?;
        self.metrics.messages_in.fetch_add(1, Relaxed);
        Ok(stored)
    }
}
