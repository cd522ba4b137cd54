//! What happens in a room, as the channel layer reports it to this node:
//! a stored message or a presence diff. Each event carries its wire texts,
//! encoded once on first use (by [`super::encode`]) and shared by every
//! connection that receives it.

use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use confab_protocol::{Member, Message, Presence};
use serde_json::value::RawValue;

use super::encode;

/// A payload as the exact JSON text received, shared between recipients.
pub type Payload = Arc<RawValue>;

/// What a connection receives of room traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Native `/ws` envelopes, presence included.
    Native,
    /// Seed-compatible sockets: message payloads only.
    Compat,
}

/// A stored room message plus its wire encodings.
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

    /// About how many bytes this message is on the wire and in storage
    /// (its JSON), without encoding it: what byte limits count.
    pub fn weight(&self) -> usize {
        let m = &self.msg;
        m.payload.get().len() + m.room.len() + m.from.id.len() + m.from.name.len() + 64
    }

    /// The native `message` envelope text.
    pub fn native_text(&self) -> Utf8Bytes {
        (self
            .native
            .get_or_init(|| encode::native_message(&self.msg)))
        .clone()
    }

    /// The text a seed-compatible socket receives (see
    /// [`encode::compat_message`]).
    pub fn compat_text(&self) -> Utf8Bytes {
        (self
            .compat
            .get_or_init(|| encode::compat_message(&self.msg.payload)))
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
        (self.text.get_or_init(|| encode::presence(&self.diff))).clone()
    }
}

/// An ephemeral message of one room ([`confab_protocol::Signal`]), with its
/// encoding computed once.
#[derive(Debug)]
pub struct SignalEvent {
    /// The room.
    pub room: String,
    /// Sender.
    pub from: Member,
    /// The sender's payload, verbatim.
    pub payload: Payload,
    text: OnceLock<Utf8Bytes>,
}

impl SignalEvent {
    /// Wraps a signal.
    pub fn new(room: String, from: Member, payload: Payload) -> Self {
        Self {
            room,
            from,
            payload,
            text: OnceLock::new(),
        }
    }

    /// The native `signal` envelope text.
    pub fn text(&self) -> Utf8Bytes {
        (self
            .text
            .get_or_init(|| encode::signal(&self.room, &self.from, &self.payload)))
        .clone()
    }
}

/// What a channel layer tells the node, in order per room.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message was stored in a room.
    Message(Arc<StoredMessage>),
    /// A room's presence changed.
    Presence(Arc<PresenceEvent>),
    /// An ephemeral message for a room's current members.
    Signal(Arc<SignalEvent>),
}

impl Event {
    /// A presence event for `diff`.
    pub fn presence(diff: Presence) -> Self {
        Self::Presence(Arc::new(PresenceEvent::new(diff)))
    }

    /// A signal event.
    pub fn signal(room: String, from: Member, payload: Payload) -> Self {
        Self::Signal(Arc::new(SignalEvent::new(room, from, payload)))
    }

    /// The room (or `dm:` conversation) the event belongs to.
    pub fn room(&self) -> &str {
        match self {
            Self::Message(m) => &m.msg.room,
            Self::Presence(p) => &p.diff.room,
            Self::Signal(s) => &s.room,
        }
    }

    /// About how many bytes this event is on the wire (what the feed's byte
    /// bound counts).
    pub fn weight(&self) -> usize {
        match self {
            Self::Message(m) => m.weight(),
            Self::Presence(p) => {
                let d = &p.diff;
                let members = d.joins.iter().chain(&d.leaves).chain(&d.updates);
                members.map(member_weight).sum::<usize>() + d.room.len() + 48
            }
            Self::Signal(s) => s.payload.get().len() + s.room.len() + member_weight(&s.from) + 48,
        }
    }

    /// The text a connection of `flavor` receives for this event, if
    /// anything: seed-compatible sockets get messages only.
    pub(crate) fn text_for(&self, flavor: Flavor) -> Option<Utf8Bytes> {
        match (self, flavor) {
            (Self::Message(m), Flavor::Native) => Some(m.native_text()),
            (Self::Message(m), Flavor::Compat) => Some(m.compat_text()),
            (Self::Presence(p), Flavor::Native) => Some(p.text()),
            (Self::Signal(s), Flavor::Native) => Some(s.text()),
            (Self::Presence(_) | Self::Signal(_), Flavor::Compat) => None,
        }
    }
}

/// A change of a room's membership, reported once per cluster by the node
/// that made it (for the application's webhooks), not per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceChange {
    /// `member` arrived in `room` with their first connection; `first`:
    /// nobody else was there (the room became occupied).
    Joined {
        /// The room.
        room: String,
        /// Who.
        member: Member,
        /// The room had nobody before.
        first: bool,
    },
    /// `member` left `room` with their last connection; `last`: nobody is
    /// left (the room became vacant).
    Left {
        /// The room.
        room: String,
        /// Who.
        member: Member,
        /// Nobody is left.
        last: bool,
    },
}

/// Where a channel layer delivers what happens. A layer is given one when
/// [`crate::AppState`] builds it, so it cannot be wired to the wrong node.
/// No method may block.
pub trait EventSink: Send + Sync {
    /// Fans one event out to this node's connections.
    fn deliver(&self, event: Event);

    /// A user renamed themselves on another node: their connections here
    /// take `member.name`. Returns the rooms those connections are in here
    /// (whose shared presence must then be updated), or nothing when the
    /// user has no connection here or already had this name.
    fn renamed(&self, _member: &Member) -> Vec<String> {
        Vec::new()
    }

    /// A membership change this node made (see [`PresenceChange`]).
    fn presence_changed(&self, _change: PresenceChange) {}

    /// The application disconnected `user_id` (server API): close every
    /// connection of theirs here with 4004.
    fn disconnect_user(&self, _user_id: &str) {}

    /// The application removed `user_id` from `room` (server API): their
    /// connections here leave it and are told.
    fn remove_member(&self, _room: &str, _user_id: &str) {}

    /// The layer lost its history (offsets restart): every native
    /// connection here is closed with 1012 so its client rejoins and is
    /// told it could not recover.
    fn history_lost(&self) {}
}

/// About how many bytes a member takes in an encoded frame.
fn member_weight(m: &Member) -> usize {
    let json = |j: &Option<confab_protocol::Json>| j.as_ref().map_or(0, |j| j.text().len() + 10);
    m.id.len() + m.name.len() + json(&m.info) + json(&m.state) + 24
}
