//! The channel layer: where room messages are stored and presence is kept,
//! shared by every server node (Django Channels' channel layer, plus history
//! and presence).
//!
//! A layer delivers what happens to the [`EventSink`] it was built with (the
//! node's [`crate::hub::Hub`]), which fans it out to local connections. The
//! in-memory [`MemoryLayer`] serves one process; a Redis layer can implement
//! the same trait, using [`ChannelLayer::subscribe`] to listen to a room only
//! while this node has local members in it.

mod durable;
mod memory;
mod redis;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use confab_protocol::{encode, Member, Message, Position, Presence, ServerMsg};
use serde_json::value::RawValue;

pub use self::redis::{redis_backoff, RedisLayer};
pub use durable::DurableLayer;
pub use memory::MemoryLayer;

use crate::error::Result;

/// A payload as the exact JSON text received, shared between recipients.
pub type Payload = Arc<RawValue>;

/// A stored room message plus its wire encodings, computed once on first use
/// and shared by every recipient.
#[derive(Debug)]
pub struct StoredMessage {
    /// The message.
    pub msg: Message<Payload>,
    native: OnceLock<Utf8Bytes>,
    compat: OnceLock<Utf8Bytes>,
}

impl StoredMessage {
    /// Wraps a message.
    pub fn new(msg: Message<Payload>) -> Self {
        Self {
            msg,
            native: OnceLock::new(),
            compat: OnceLock::new(),
        }
    }

    /// The native `message` envelope text.
    pub fn native_text(&self) -> Utf8Bytes {
        self.native
            .get_or_init(|| encode(&ServerMsg::Message(self.msg.clone())).into())
            .clone()
    }

    /// The text a seed-compatible socket receives: the payload's JSON, or the
    /// bare string when the payload is a JSON string (a raw frame).
    pub fn compat_text(&self) -> Utf8Bytes {
        self.compat
            .get_or_init(|| {
                let raw = self.msg.payload.get();
                match serde_json::from_str::<String>(raw) {
                    Ok(s) if raw.starts_with('"') => s.into(),
                    _ => raw.to_owned().into(),
                }
            })
            .clone()
    }
}

/// A presence diff of one room, with its encoding computed once.
#[derive(Debug)]
pub struct PresenceEvent {
    /// The diff.
    pub diff: Presence,
    text: OnceLock<Utf8Bytes>,
}

impl PresenceEvent {
    /// Wraps a diff.
    pub fn new(diff: Presence) -> Self {
        Self {
            diff,
            text: OnceLock::new(),
        }
    }

    /// The native `presence` envelope text.
    pub fn text(&self) -> Utf8Bytes {
        self.text
            .get_or_init(|| encode(&ServerMsg::<Payload>::Presence(self.diff.clone())).into())
            .clone()
    }
}

/// What a layer tells the node.
#[derive(Debug, Clone)]
pub enum LayerEvent {
    /// A message was stored in a room.
    Message(Arc<StoredMessage>),
    /// A room's presence changed.
    Presence(Arc<PresenceEvent>),
}

/// Receives layer events, in order per room. Must not block.
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn deliver(&self, event: LayerEvent);
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
    /// Stores `payload` as the next message of `room` (assigning its offset
    /// and server timestamp), delivers it to every node, and returns it.
    async fn publish(
        &self,
        room: &str,
        from: &Member,
        payload: Payload,
    ) -> Result<Arc<StoredMessage>>;

    /// Messages after `since` (`recovered: true` when the gap can be filled
    /// exactly), else the newest `limit` messages.
    async fn history(&self, room: &str, since: Option<&Position>, limit: usize) -> Result<History>;

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
