//! Rooms: the one API every endpoint uses to join, leave, publish, rename
//! and list (Django Channels' `group_add`, `group_discard`, `group_send`,
//! plus presence and history). It combines the channel layer (storage,
//! presence, delivery across nodes) with this node's hub (local fan-out):
//! endpoint → [`Rooms`] → layer → [`crate::fanout`] → the members' writers.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use confab_protocol::{Json, Member, Position};

use crate::backend::webhooks::ONLINE_ROOM;
use crate::backend::{WebhookEvent, Webhooks};
use crate::error::{Error, Result};
use crate::fanout::{ConnHandle, Hub, Payload};
use crate::layer::{ChannelLayer, History, HistoryQuery, Page, Publication, Stored};
use crate::limits::{nesting_exceeds, MAX_PAYLOAD_DEPTH};
use crate::metrics::Metrics;

/// Most messages one `history` request returns.
pub const MAX_PAGE: usize = 100;

/// Longest client message id (`cid`), in bytes.
pub const MAX_CID: usize = 64;

/// A client message id must be 1–[`MAX_CID`] printable ASCII characters.
fn check_cid(cid: Option<&str>) -> Result<()> {
    match cid {
        Some(c)
            if c.is_empty() || c.len() > MAX_CID || !c.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Err(Error::BadRequest(format!(
                "cid must be 1-{MAX_CID} printable ASCII characters"
            )))
        }
        _ => Ok(()),
    }
}

/// The rooms of one node: a channel layer and the node's local hub.
#[derive(Clone)]
pub struct Rooms {
    layer: Arc<dyn ChannelLayer>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    webhooks: Option<Arc<Webhooks>>,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms").finish_non_exhaustive()
    }
}

/// What a native join's `joined` reply is made of.
#[derive(Debug)]
pub struct JoinSnapshot {
    /// History (and epoch/head).
    pub history: History,
    /// Members after the join.
    pub members: Vec<Member>,
}

/// A native join request.
#[derive(Debug, Clone, Copy)]
pub struct JoinRequest<'a> {
    /// The room.
    pub room: &'a str,
    /// Whether this connection is already in the room (a re-join only
    /// refreshes the snapshot; presence is unchanged).
    pub rejoin: bool,
    /// Resume after this position.
    pub since: Option<&'a Position>,
    /// History returned when the resume is not exact.
    pub limit: usize,
    /// Most bytes of history in the reply; a resume needing more is not
    /// recovered (the client is told, and pages older history itself).
    pub max_bytes: usize,
    /// Whether the connection receives the room's presence diffs (the
    /// room policy's `presence`, decided here, never per delivery).
    pub presence: bool,
}

impl Rooms {
    pub(crate) fn new(
        layer: Arc<dyn ChannelLayer>,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        webhooks: Option<Arc<Webhooks>>,
    ) -> Self {
        Self {
            layer,
            hub,
            metrics,
            webhooks,
        }
    }

    /// Whether this node counts every connection in [`ONLINE_ROOM`] (for
    /// the `user_online` / `user_offline` webhooks).
    fn tracks_online(&self) -> bool {
        self.webhooks
            .as_ref()
            .is_some_and(|w| w.config().tracks_online())
    }

    /// A connection opened: it can now be reached as its user (direct
    /// messages, renames) on every node, and is closed on shutdown.
    pub(crate) async fn connect(&self, conn: &Arc<ConnHandle>, member: &Member) {
        self.hub.register(conn);
        if let Err(e) = self.layer.connected(&conn.user_id).await {
            tracing::warn!(user = %conn.user_id, error = %e, "layer: connected");
        }
        if self.tracks_online() {
            if let Err(e) = self.layer.presence_join(ONLINE_ROOM, member).await {
                tracing::warn!(user = %conn.user_id, error = %e, "online presence");
            }
        }
    }

    /// A connection closed (after it left its rooms).
    pub(crate) async fn disconnect(&self, conn: &ConnHandle) {
        self.hub.unregister(conn);
        if self.tracks_online() {
            if let Err(e) = self.layer.presence_leave(ONLINE_ROOM, &conn.user_id).await {
                tracing::warn!(user = %conn.user_id, error = %e, "online presence");
            }
        }
        if let Err(e) = self.layer.disconnected(&conn.user_id).await {
            tracing::warn!(user = %conn.user_id, error = %e, "layer: disconnected");
        }
    }

    async fn subscribe(
        &self,
        room: &str,
        conn: &Arc<ConnHandle>,
        pending: bool,
        presence: bool,
    ) -> Result<()> {
        if self.hub.add(room, conn, pending, presence) {
            if let Err(e) = self.layer.subscribe(room).await {
                self.hub.remove(room, conn);
                return Err(e);
            }
        }
        Ok(())
    }

    async fn unsubscribe(&self, room: &str, conn: &ConnHandle) {
        if self.hub.remove(room, conn) {
            if let Err(e) = self.layer.unsubscribe(room).await {
                tracing::warn!(room, error = %e, "layer unsubscribe failed");
            }
        }
    }

    /// Adds a seed-compatible connection to `room` (live at once) and to the
    /// room's presence.
    pub(crate) async fn join_live(
        &self,
        room: &str,
        conn: &Arc<ConnHandle>,
        member: &Member,
    ) -> Result<()> {
        self.subscribe(room, conn, false, true).await?;
        if let Err(e) = self.layer.presence_join(room, member).await {
            self.unsubscribe(room, conn).await;
            return Err(e);
        }
        Ok(())
    }

    /// A native join: subscribes `conn` with room events held back, adds
    /// presence (unless a re-join) and reads history, queues the reply
    /// `reply` makes of that snapshot, then lets the held-back events
    /// through (only messages newer than the snapshot's head), so no live
    /// event overtakes the reply and none is seen twice.
    pub(crate) async fn join(
        &self,
        request: JoinRequest<'_>,
        conn: &Arc<ConnHandle>,
        member: &Member,
        reply: impl FnOnce(JoinSnapshot) -> Utf8Bytes,
    ) -> Result<()> {
        let JoinRequest {
            room,
            rejoin,
            since,
            limit,
            max_bytes,
            presence,
        } = request;
        self.subscribe(room, conn, true, presence).await?;
        let members = if rejoin {
            self.layer.members(room).await
        } else {
            self.layer.presence_join(room, member).await
        };
        let members = match members {
            Ok(m) => {
                // The member list already reflects the diffs held so far.
                self.hub.clear_pending_presence(room, conn);
                m
            }
            Err(e) => {
                self.unsubscribe(room, conn).await;
                return Err(e);
            }
        };
        let query = HistoryQuery {
            since,
            limit,
            max_bytes,
        };
        let history = match self.layer.history(room, query).await {
            Ok(h) => h,
            Err(e) => {
                if !rejoin {
                    let _ = self.layer.presence_leave(room, &member.id).await;
                }
                self.unsubscribe(room, conn).await;
                return Err(e);
            }
        };
        let head = history.head;
        conn.send_text(reply(JoinSnapshot { history, members }));
        self.hub.activate(room, conn, head);
        Ok(())
    }

    /// Removes `conn` from `room` and from its presence.
    pub(crate) async fn leave(&self, room: &str, conn: &ConnHandle) -> Result<()> {
        self.unsubscribe(room, conn).await;
        self.layer.presence_leave(room, &conn.user_id).await
    }

    /// Stores and broadcasts a message (Channels' `group_send`). Every
    /// publish path (native publish and direct, the HTTP API, seed frames)
    /// comes through here: a payload nested deeper than
    /// [`MAX_PAYLOAD_DEPTH`] is refused with [`Error::BadRequest`], and
    /// once the node is shutting down every publish is refused with
    /// [`Error::ShuttingDown`].
    pub async fn publish(
        &self,
        room: &str,
        from: &Member,
        payload: Payload,
        cid: Option<&str>,
    ) -> Result<Stored> {
        // Members are being closed: a message stored now could be acked
        // after some of them got their close frame, and an in-memory node
        // would take it down with it. The sender retries after reconnecting.
        if self.hub.is_shutting_down() {
            return Err(Error::ShuttingDown);
        }
        if nesting_exceeds(payload.get(), MAX_PAYLOAD_DEPTH) {
            return Err(Error::BadRequest(format!(
                "payload nests deeper than {MAX_PAYLOAD_DEPTH} levels of arrays/objects"
            )));
        }
        check_cid(cid)?;
        let publication = Publication {
            room,
            from,
            payload,
            cid,
        };
        let webhook = (self.webhooks.as_ref()).filter(|w| w.config().message_room(room));
        let message = webhook.map(|_| (from.clone(), publication.payload.clone()));
        let stored = self.layer.publish(publication).await?;
        if stored.fresh {
            self.metrics.messages_in.fetch_add(1, Relaxed);
            if let (Some(w), Some((from, payload))) = (webhook, message) {
                w.emit(WebhookEvent::MessageStored(confab_protocol::Message {
                    room: room.to_owned(),
                    offset: stored.offset,
                    from,
                    ts: stored.ts,
                    payload,
                    cid: cid.map(str::to_owned),
                }));
            }
        } else {
            self.metrics.duplicates.fetch_add(1, Relaxed);
        }
        Ok(stored)
    }

    /// Older messages of `room` (a `history` request): before `before`, at
    /// most `limit` (capped at [`MAX_PAGE`]) and `max_bytes`.
    pub async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        self.layer
            .page(room, before, limit.clamp(1, MAX_PAGE), max_bytes)
            .await
    }

    /// Sends an ephemeral message to the room's current members.
    pub(crate) async fn signal(&self, room: &str, from: &Member, payload: Payload) -> Result<()> {
        if self.hub.is_shutting_down() {
            return Err(Error::ShuttingDown);
        }
        if nesting_exceeds(payload.get(), MAX_PAYLOAD_DEPTH) {
            return Err(Error::BadRequest(format!(
                "payload nests deeper than {MAX_PAYLOAD_DEPTH} levels of arrays/objects"
            )));
        }
        self.layer.signal(room, from, payload).await
    }

    /// Sets (`None`: clears) the user's state in `room`.
    pub(crate) async fn set_state(
        &self,
        room: &str,
        user_id: &str,
        state: Option<Json>,
    ) -> Result<()> {
        self.layer.set_state(room, user_id, state).await
    }

    /// Who is in `room`.
    pub async fn members(&self, room: &str) -> Result<Vec<Member>> {
        self.layer.members(room).await
    }

    /// `member` (a user with a connection here) takes a new display name.
    /// The name belongs to the user, not to one connection: every room any
    /// of the user's connections here is in gets the `updates` diff, their
    /// other connections here pick the name up ([`Rooms::user_name`]), and
    /// the layer tells the other nodes, which do the same for theirs. In a
    /// room where `info_in` gives an info (a join hook's), the member keeps
    /// that one.
    pub(crate) async fn rename(
        &self,
        member: &Member,
        info_in: impl Fn(&str) -> Option<Json>,
    ) -> Result<()> {
        self.hub.rename_user(&member.id, &member.name);
        for room in self.hub.rooms_of_user(&member.id) {
            match info_in(&room) {
                None => self.layer.presence_update(&room, member).await?,
                Some(info) => {
                    let here = Member {
                        info: Some(info),
                        ..member.clone()
                    };
                    self.layer.presence_update(&room, &here).await?
                }
            }
        }
        self.layer.renamed(member).await
    }

    /// The display name `user_id` renamed themselves to, while any of their
    /// connections is open here.
    pub(crate) fn user_name(&self, user_id: &str) -> Option<String> {
        self.hub.user_name(user_id)
    }

    /// Every room with members, and how many (server API).
    pub async fn list(&self) -> Result<Vec<(String, usize)>> {
        let mut rooms = self.layer.rooms().await?;
        // Internal rooms (a name clients cannot use) are not the API's.
        rooms.retain(|(r, _)| !r.starts_with('@'));
        Ok(rooms)
    }

    /// Closes every connection of `user_id`, on every node, with 4004.
    pub async fn disconnect_user(&self, user_id: &str) -> Result<()> {
        self.layer.disconnect_user(user_id).await
    }

    /// Removes `user_id` from `room` on every connection and node.
    pub async fn remove_member(&self, room: &str, user_id: &str) -> Result<()> {
        self.layer.remove_member(room, user_id).await
    }

    /// The rooms the application removed `conn` from since it last asked.
    pub(crate) fn take_evictions(&self, conn: &ConnHandle) -> Vec<String> {
        self.hub.take_evictions(conn)
    }

    /// Rooms with local subscribers (for `/metrics`).
    pub fn local_room_count(&self) -> usize {
        self.hub.room_count()
    }

    /// Asks every connection here to close with `code` (shutdown); later
    /// connections are closed at once and publishes are refused.
    pub fn close_all(&self, code: u16, reason: &'static str) {
        self.hub.close_all(code, reason);
    }

    /// Every local connection (debug endpoints).
    pub(crate) fn connections(&self) -> Vec<Arc<ConnHandle>> {
        self.hub.connections()
    }

    /// The local connection whose `welcome` carried `session_id`.
    pub(crate) fn by_session(&self, session_id: &str) -> Option<Arc<ConnHandle>> {
        self.hub.by_session(session_id)
    }
}
