//! The channel layer: where room messages are stored and presence is kept,
//! shared by every server node (Django Channels' channel layer, plus history
//! and presence).
//!
//! A layer delivers what happens to the [`EventSink`] it was built with
//! (the node's hub, handed over by [`crate::AppState`] when it builds the
//! layer), which fans it out to local connections. [`MemoryLayer`] serves
//! one process, [`DurableLayer`] one process with history on disk, and
//! [`RedisLayer`] several nodes, using [`ChannelLayer::subscribe`] to listen
//! to a room only while this node has local members in it.

mod durable;
mod memory;
mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use confab_protocol::{Json, Member, Position};

pub use self::redis::{redact_url, RedisLayer, SideConn, SideConnection};
pub use durable::DurableLayer;
pub use memory::MemoryLayer;

pub use crate::fanout::{Event, EventSink, Payload, PresenceChange, PresenceEvent, StoredMessage};

use crate::error::{Error, Result};

/// Decodes a message as the durable and Redis layers store it (the JSON of
/// a [`confab_protocol::Message`]).
pub(crate) fn decode_stored(json: &[u8]) -> Result<Arc<StoredMessage>> {
    let m: confab_protocol::Message<confab_protocol::RawPayload> = serde_json::from_slice(json)
        .map_err(|source| Error::Corrupt {
            what: "stored message",
            source,
        })?;
    Ok(Arc::new(StoredMessage::new(confab_protocol::Message {
        room: m.room,
        offset: m.offset,
        from: m.from,
        ts: m.ts,
        payload: Arc::from(m.payload),
        cid: m.cid,
    })))
}

/// What a [`ChannelLayer::history`] read asks for.
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery<'a> {
    /// Resume after this position, if it can be done exactly.
    pub since: Option<&'a Position>,
    /// Most messages returned when not resuming.
    pub limit: usize,
    /// Most bytes of messages returned ([`StoredMessage::weight`]): a
    /// resume that would return more is not recovered.
    pub max_bytes: usize,
}

impl HistoryQuery<'_> {
    /// The newest messages of `newest_first` within the limits (at least
    /// one), oldest first.
    pub fn newest<'m>(
        &self,
        newest_first: impl Iterator<Item = &'m Arc<StoredMessage>>,
    ) -> Vec<Arc<StoredMessage>> {
        let mut bytes = 0;
        let mut out: Vec<Arc<StoredMessage>> = newest_first
            .take(self.limit.max(1))
            .take_while(|m| {
                bytes += m.weight();
                bytes <= self.max_bytes || bytes == m.weight()
            })
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// Whether `messages` (a resume's gap) fit in `max_bytes`.
    pub fn fits<'m>(&self, messages: impl Iterator<Item = &'m Arc<StoredMessage>>) -> bool {
        let mut bytes = 0;
        messages.map(|m| m.weight()).all(|w| {
            bytes += w;
            bytes <= self.max_bytes
        })
    }
}

/// A message to store ([`ChannelLayer::publish`]).
#[derive(Debug, Clone)]
pub struct Publication<'a> {
    /// Its room.
    pub room: &'a str,
    /// Its sender.
    pub from: &'a Member,
    /// Its payload.
    pub payload: Payload,
    /// The client's message id, for exactly-once publishing.
    pub cid: Option<&'a str>,
}

/// Where [`ChannelLayer::publish`] stored a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Its offset.
    pub offset: u64,
    /// Its server timestamp (ms).
    pub ts: u64,
    /// False when the `cid` was seen: this is the first publication's place
    /// and nothing was stored now.
    pub fresh: bool,
}

/// Answer of [`ChannelLayer::page`].
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Messages, oldest first.
    pub messages: Vec<Arc<StoredMessage>>,
    /// Whether older messages are still kept.
    pub more: bool,
}

/// How long a layer keeps what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Messages kept per room (`--history-size`).
    pub messages: usize,
    /// Messages older than this are no longer returned and are removed
    /// (`--history-ttl`; `None`: kept until `messages` pushes them out).
    pub ttl: Option<std::time::Duration>,
    /// A client message id is remembered at least this long, and as long
    /// as its message is kept (`--dedup-window`).
    pub dedup_window: std::time::Duration,
}

impl Retention {
    /// The default dedup window (5 minutes).
    pub const DEDUP_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

    /// `messages` per room, no TTL, the default dedup window.
    pub fn messages(messages: usize) -> Self {
        Self {
            messages: messages.max(1),
            ttl: None,
            dedup_window: Self::DEDUP_WINDOW,
        }
    }

    /// The oldest server timestamp (ms) a message may have to be returned at
    /// `now` (0 without a TTL).
    pub fn oldest_ts(&self, now: u64) -> u64 {
        self.ttl.map_or(0, |t| {
            now.saturating_sub(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
        })
    }

    /// Whether a client id for a message at `offset`, stored at `ts`, may be
    /// forgotten at `now`: out of the window and its message no longer kept
    /// (older than `oldest_kept`).
    pub fn forgets_cid(&self, offset: u64, ts: u64, oldest_kept: u64, now: u64) -> bool {
        let window = u64::try_from(self.dedup_window.as_millis()).unwrap_or(u64::MAX);
        offset < oldest_kept && ts.saturating_add(window) < now
    }
}

/// Answer of [`ChannelLayer::history`].
#[derive(Debug, Clone)]
pub struct History {
    /// The room's history epoch.
    pub epoch: String,
    /// Offset of the newest message (0 = none).
    pub head: u64,
    /// Whether `messages` is exactly everything after the requested position.
    pub recovered: bool,
    /// Messages, oldest first.
    pub messages: Vec<Arc<StoredMessage>>,
}

/// Storage, presence and cross-node delivery of room groups. Every method is
/// fallible so a networked backend can report [`crate::Error::Unavailable`].
#[async_trait]
pub trait ChannelLayer: Send + Sync + 'static {
    /// Stores a message as the next of its room (assigning its offset and
    /// server timestamp) and delivers it to every node; returns its place.
    /// A publication whose `cid` the room has seen within the dedup window
    /// is not stored or delivered again: the first one's place comes back
    /// (`fresh: false`). The check and the append are one atomic step.
    async fn publish(&self, publication: Publication<'_>) -> Result<Stored>;

    /// Messages after `query.since` (`recovered: true` when the gap can be
    /// filled exactly, within `query.max_bytes`), else the newest messages,
    /// at most `query.limit` and `query.max_bytes` of them (at least one).
    async fn history(&self, room: &str, query: HistoryQuery<'_>) -> Result<History>;

    /// The messages of `room` with offsets below `before` (default: all),
    /// newest ones first chosen, at most `limit` and `max_bytes` (at least
    /// one), returned oldest first; `more` when older ones are still kept.
    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page>;

    /// Delivers an ephemeral message to the room's current members on
    /// every node: not stored, no offset.
    async fn signal(&self, room: &str, from: &Member, payload: Payload) -> Result<()>;

    /// Sets (or with `None` clears) `user_id`'s state in `room` (last
    /// writer wins). It is kept while the room exists, shown with the
    /// member in member lists while they are present, and a present
    /// member's change is delivered as an `updates` diff.
    async fn set_state(&self, room: &str, user_id: &str, state: Option<Json>) -> Result<()>;

    /// Every room with members, with how many (the server API's list).
    async fn rooms(&self) -> Result<Vec<(String, usize)>>;

    /// Closes every connection of `user_id`, on every node, with 4004.
    async fn disconnect_user(&self, user_id: &str) -> Result<()>;

    /// Makes every connection of `user_id` in `room`, on every node, leave
    /// it (they are told).
    async fn remove_member(&self, room: &str, user_id: &str) -> Result<()>;

    /// Adds one connection of `member` to the room's presence; the user
    /// joins (a diff is delivered) with their first connection. Returns the
    /// members after the change.
    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>>;

    /// Removes one connection of `user_id`; the user leaves (a diff is
    /// delivered) with their last connection.
    async fn presence_leave(&self, room: &str, user_id: &str) -> Result<()>;

    /// Changes a present user's display name (an `updates` diff).
    async fn presence_update(&self, room: &str, member: &Member) -> Result<()>;

    /// `member` (a user with a connection here) changed their display name
    /// here; nodes where the user has other connections must take the name
    /// and update the rooms those are in. Default (one node): nothing.
    async fn renamed(&self, _member: &Member) -> Result<()> {
        Ok(())
    }

    /// Who is in the room.
    async fn members(&self, room: &str) -> Result<Vec<Member>>;

    /// This node now has local subscribers in `room` (deliver its events
    /// here). The in-memory layer delivers everything anyway.
    async fn subscribe(&self, room: &str) -> Result<()>;

    /// This node no longer has local subscribers in `room`.
    async fn unsubscribe(&self, room: &str) -> Result<()>;

    /// A connection of `user_id` opened on this node, so direct messages to
    /// that user must reach this node even when no room is joined (the
    /// Redis layer subscribes to the user's channel). Default: nothing.
    async fn connected(&self, _user_id: &str) -> Result<()> {
        Ok(())
    }

    /// A connection of `user_id` closed on this node (pairs with
    /// [`ChannelLayer::connected`]). Default: nothing.
    async fn disconnected(&self, _user_id: &str) -> Result<()> {
        Ok(())
    }
}
