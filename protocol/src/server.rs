//! Envelopes sent by the server.

use serde::{Deserialize, Serialize};

use crate::{ErrorCode, Member, Ref};

/// First frame on every native connection:
/// `{"type":"welcome","version":1,"session_id":"…","user":{"id":"g-…","name":"…"},"heartbeat_ms":25000,…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// [`crate::PROTOCOL_VERSION`] spoken by the server.
    pub version: u32,
    /// This connection's id (unique per connection).
    pub session_id: String,
    /// Who this connection is.
    pub user: Member,
    /// The client should send a [`crate::Ping`] at least this often; the
    /// server closes a connection silent for about twice this long.
    pub heartbeat_ms: u64,
    /// Limits this server enforces.
    pub limits: Limits,
    /// Guests only: a signed credential for this guest id. Present it on the
    /// next connection as `?guest=<token>` to keep the same id (and so the
    /// same presence entry and direct-message history) across reconnects
    /// and server restarts; a fresh one comes with every `welcome`. An
    /// invalid or expired one is ignored (the connection gets a new guest
    /// id, never an error). Absent for token users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_token: Option<String>,
    /// Token users: when the token expires (seconds since the Unix epoch).
    /// Send a [`crate::Refresh`] before then, or the connection is closed
    /// with 4003.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
}

/// Server limits announced in [`Welcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest accepted frame in bytes (larger: close 1009).
    pub max_message_bytes: u64,
    /// Rooms one connection may be joined to at once.
    pub max_rooms: u32,
    /// Sustained frames per second per connection before `rate_limited`.
    pub rate_per_sec: u32,
}

/// Reply to [`crate::Join`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined<P> {
    /// The join's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Room joined.
    pub room: String,
    /// The room's history epoch.
    pub epoch: String,
    /// Offset of the newest message in the room (0 = empty).
    pub offset: u64,
    /// True when the join carried `since` in the current epoch and `history`
    /// holds every message after it; false when there was nothing to resume
    /// or the gap could not be filled (then `history` is the recent history
    /// and the client must treat earlier state as possibly incomplete).
    pub recovered: bool,
    /// Who is in the room now (one entry per user).
    pub members: Vec<Member>,
    /// Messages, oldest first.
    pub history: Vec<Message<P>>,
}

/// A room message:
/// `{"type":"message","room":"lobby","offset":42,"from":{…},"ts":1763777000000,"payload":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message<P> {
    /// Room (or `dm:<a>:<b>` conversation) it belongs to.
    pub room: String,
    /// Per-room offset, monotonically increasing by 1.
    pub offset: u64,
    /// Sender.
    pub from: Member,
    /// Server time the message was stored, milliseconds since the Unix epoch.
    pub ts: u64,
    /// The publisher's payload, verbatim.
    pub payload: P,
    /// The publisher's client message id ([`crate::Publish::cid`]), so a
    /// sender recognises its own message (e.g. in history after a dropped
    /// link) without waiting for the ack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// Success reply to publish, direct, leave and rename:
/// `{"type":"ack","ref":"3","room":"lobby","offset":42,"ts":…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Room the message was stored in (publish, direct) or left (leave).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Offset assigned to the stored message (publish, direct).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Server timestamp of the stored message (publish, direct).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    /// The new token's expiry, seconds since the Unix epoch (refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
}

/// Presence diff for a room the client has joined:
/// `{"type":"presence","room":"lobby","joins":[…],"leaves":[…],"updates":[…]}`.
/// Empty lists are omitted. A user joins with their first connection and
/// leaves with their last; `updates` carries renamed members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// Room the diff applies to.
    pub room: String,
    /// Users who arrived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joins: Vec<Member>,
    /// Users who left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaves: Vec<Member>,
    /// Users whose name, info or room state changed (the whole member).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<Member>,
}

/// An ephemeral message from a member ([`crate::SignalReq`]):
/// `{"type":"signal","room":"lobby","from":{…},"payload":{"typing":true}}`.
/// No offset, never stored or replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal<P> {
    /// Room it was sent to.
    pub room: String,
    /// Sender.
    pub from: Member,
    /// The sender's payload, verbatim.
    pub payload: P,
}

/// Reply to [`crate::HistoryReq`]:
/// `{"type":"history","ref":"9","room":"lobby","messages":[…],"more":true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage<P> {
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// The room.
    pub room: String,
    /// Messages before the requested offset, oldest first.
    pub messages: Vec<Message<P>>,
    /// Whether older messages are kept still (false: this page starts at
    /// the beginning of what the server keeps; offset 1 is the beginning
    /// of the conversation).
    pub more: bool,
}

/// Reply to [`crate::List`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    /// The list request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Room listed.
    pub room: String,
    /// Who is in it.
    pub members: Vec<Member>,
}

/// Reply to [`crate::Ping`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The ping's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Server time, milliseconds since the Unix epoch.
    pub ts: u64,
}

/// `{"type":"error","ref":"3","code":"not_joined","message":"…"}`: a request
/// failed; the connection stays open unless a close frame follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMsg {
    /// The failed request's `ref`, when it could be read.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation (not stable).
    pub message: String,
    /// Room concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

/// Every envelope the server sends. Serializes with its `type` tag; decode
/// with [`crate::decode_server`] (native) or by [`ServerType`] (SDK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerMsg<P> {
    /// See [`Welcome`].
    Welcome(Welcome),
    /// See [`Joined`].
    Joined(Joined<P>),
    /// See [`Message`].
    Message(Message<P>),
    /// See [`Ack`].
    Ack(Ack),
    /// See [`Presence`].
    Presence(Presence),
    /// See [`Members`].
    Members(Members),
    /// See [`Pong`].
    Pong(Pong),
    /// See [`ErrorMsg`].
    Error(ErrorMsg),
    /// See [`Signal`].
    Signal(Signal<P>),
    /// See [`HistoryPage`].
    History(HistoryPage<P>),
}

/// The `type` names of server envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerType {
    /// `welcome`
    Welcome,
    /// `joined`
    Joined,
    /// `message`
    Message,
    /// `ack`
    Ack,
    /// `presence`
    Presence,
    /// `members`
    Members,
    /// `pong`
    Pong,
    /// `error`
    Error,
    /// `signal`
    Signal,
    /// `history`
    History,
}

impl ServerType {
    /// All server envelope types.
    pub const ALL: [ServerType; 10] = [
        Self::Welcome,
        Self::Joined,
        Self::Message,
        Self::Ack,
        Self::Presence,
        Self::Members,
        Self::Pong,
        Self::Error,
        Self::Signal,
        Self::History,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::Joined => "joined",
            Self::Message => "message",
            Self::Ack => "ack",
            Self::Presence => "presence",
            Self::Members => "members",
            Self::Pong => "pong",
            Self::Error => "error",
            Self::Signal => "signal",
            Self::History => "history",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl<P> ServerMsg<P> {
    /// The envelope's type.
    pub fn kind(&self) -> ServerType {
        match self {
            Self::Welcome(_) => ServerType::Welcome,
            Self::Joined(_) => ServerType::Joined,
            Self::Message(_) => ServerType::Message,
            Self::Ack(_) => ServerType::Ack,
            Self::Presence(_) => ServerType::Presence,
            Self::Members(_) => ServerType::Members,
            Self::Pong(_) => ServerType::Pong,
            Self::Error(_) => ServerType::Error,
            Self::Signal(_) => ServerType::Signal,
            Self::History(_) => ServerType::History,
        }
    }
}
