//! Envelopes sent by the client.

use serde::{Deserialize, Serialize};

use crate::{Json, Position, Ref};

/// `{"type":"join","ref":"1","room":"lobby","since":{"epoch":"…","offset":41}}`
///
/// Replied to with [`crate::Joined`] (or an error). With `since`, the reply's
/// history is exactly the messages after that position when the server still
/// has them (`recovered: true`), otherwise the recent history with
/// `recovered: false`. Joining a room already joined is allowed and acts as a
/// resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    /// Correlation id echoed in the reply.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Room name (see [`crate::validate_room_name`]); `dm:<a>:<b>` names a
    /// direct conversation the user is part of.
    pub room: String,
    /// Last position seen, to resume without a gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Position>,
}

/// `{"type":"leave","ref":"2","room":"lobby"}`, replied to with [`crate::Ack`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leave {
    /// Correlation id echoed in the reply.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Room to leave.
    pub room: String,
}

/// `{"type":"publish","ref":"3","room":"lobby","payload":{…}}`: broadcast
/// `payload` to the room (which the sender must have joined). Replied to
/// with [`crate::Ack`] carrying the message's offset once it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish<P> {
    /// Correlation id echoed in the ack.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Target room.
    pub room: String,
    /// Any JSON value.
    pub payload: P,
    /// Client message id: unique per client (the SDK: random + counter).
    /// The server remembers it per room for a while (at least 5 minutes
    /// and the room's kept history); a publish with an id it has seen is
    /// not stored again and gets the first one's ack (same offset and
    /// `ts`), so a retry after a lost ack or a dropped link is safe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// `{"type":"direct","ref":"4","to":"g-7f3a","payload":{…}}`: a direct
/// message to every connection of user `to`. It is stored in the room
/// [`crate::dm_room`]`(sender, to)` and delivered as a [`crate::Message`] of
/// that room to both users (all their connections), joined or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Direct<P> {
    /// Correlation id echoed in the ack.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Recipient user id.
    pub to: String,
    /// Any JSON value.
    pub payload: P,
    /// Client message id, as in [`Publish::cid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// `{"type":"rename","ref":"5","name":"Alice"}`: change the display name;
/// every room the user is in gets a presence update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    /// Correlation id echoed in the reply.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// New display name (1–64 characters after trimming).
    pub name: String,
}

/// `{"type":"list","ref":"6","room":"lobby"}`: who is in a room (joined or
/// not), replied to with [`crate::Members`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    /// Correlation id echoed in the reply.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// Room to list.
    pub room: String,
}

/// `{"type":"ping","ref":"7"}`: application-level heartbeat (browsers cannot
/// send WebSocket pings); replied to with [`crate::Pong`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Correlation id echoed in the pong.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// `{"type":"refresh","ref":"8","token":"…"}`: a new token for this live
/// connection (before the old one expires; the SDK asks its token provider
/// at 80% of the lifetime). Replied to with an [`crate::Ack`] whose
/// `expires` is the new expiry. A token for another user, or an invalid
/// one, is an error (`unauthorized`) and the old token stays in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refresh {
    /// Correlation id echoed in the reply.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// The new token.
    pub token: String,
}

/// `{"type":"signal","room":"lobby","payload":{"typing":true}}`: an
/// ephemeral message to the room's current members (e.g. typing). Never
/// stored, never replayed, no offset, no ack (errors still come back, with
/// the `ref` when given); rate-limited on its own (`signal_rate_per_sec`).
/// Members receive it as a [`crate::Signal`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalReq<P> {
    /// Correlation id for an error reply.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// A joined room.
    pub room: String,
    /// Any JSON value.
    pub payload: P,
}

/// `{"type":"history","ref":"9","room":"lobby","before":120,"limit":50}`:
/// older messages of a room (or a `dm:` conversation), permission-checked
/// like `join`. Replied to with [`crate::HistoryPage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryReq {
    /// Correlation id echoed in the reply.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// The room.
    pub room: String,
    /// Messages with offsets below this one (default: the newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// How many, at most (default 50; the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `{"type":"state","ref":"10","room":"lobby","state":{"read":42}}`: sets
/// this user's small JSON state in a joined room (last writer wins, size
/// bounded); every member sees it in the room's member list and in a
/// presence `updates` diff. `null` clears it. Replied to with an ack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetState {
    /// Correlation id echoed in the reply.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// A joined room.
    pub room: String,
    /// The new state (`null` clears it).
    pub state: Json,
}

/// Every envelope a client may send. Serializes with its `type` tag; decode
/// with [`crate::decode_client`] (server) or by [`ClientType`] (SDK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientMsg<P> {
    /// See [`Join`].
    Join(Join),
    /// See [`Leave`].
    Leave(Leave),
    /// See [`Publish`].
    Publish(Publish<P>),
    /// See [`Direct`].
    Direct(Direct<P>),
    /// See [`Rename`].
    Rename(Rename),
    /// See [`List`].
    List(List),
    /// See [`Ping`].
    Ping(Ping),
    /// See [`Refresh`].
    Refresh(Refresh),
    /// See [`SignalReq`].
    Signal(SignalReq<P>),
    /// See [`HistoryReq`].
    History(HistoryReq),
    /// See [`SetState`].
    State(SetState),
}

/// The `type` names of client envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientType {
    /// `join`
    Join,
    /// `leave`
    Leave,
    /// `publish`
    Publish,
    /// `direct`
    Direct,
    /// `rename`
    Rename,
    /// `list`
    List,
    /// `ping`
    Ping,
    /// `refresh`
    Refresh,
    /// `signal`
    Signal,
    /// `history`
    History,
    /// `state`
    State,
}

impl ClientType {
    /// All client envelope types.
    pub const ALL: [ClientType; 11] = [
        Self::Join,
        Self::Leave,
        Self::Publish,
        Self::Direct,
        Self::Rename,
        Self::List,
        Self::Ping,
        Self::Refresh,
        Self::Signal,
        Self::History,
        Self::State,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Leave => "leave",
            Self::Publish => "publish",
            Self::Direct => "direct",
            Self::Rename => "rename",
            Self::List => "list",
            Self::Ping => "ping",
            Self::Refresh => "refresh",
            Self::Signal => "signal",
            Self::History => "history",
            Self::State => "state",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl<P> ClientMsg<P> {
    /// The envelope's type.
    pub fn kind(&self) -> ClientType {
        match self {
            Self::Join(_) => ClientType::Join,
            Self::Leave(_) => ClientType::Leave,
            Self::Publish(_) => ClientType::Publish,
            Self::Direct(_) => ClientType::Direct,
            Self::Rename(_) => ClientType::Rename,
            Self::List(_) => ClientType::List,
            Self::Ping(_) => ClientType::Ping,
            Self::Refresh(_) => ClientType::Refresh,
            Self::Signal(_) => ClientType::Signal,
            Self::History(_) => ClientType::History,
            Self::State(_) => ClientType::State,
        }
    }

    /// The client's `ref`, if any.
    pub fn reference(&self) -> Option<&str> {
        match self {
            Self::Join(m) => m.reference.as_deref(),
            Self::Leave(m) => m.reference.as_deref(),
            Self::Publish(m) => m.reference.as_deref(),
            Self::Direct(m) => m.reference.as_deref(),
            Self::Rename(m) => m.reference.as_deref(),
            Self::List(m) => m.reference.as_deref(),
            Self::Ping(m) => m.reference.as_deref(),
            Self::Refresh(m) => m.reference.as_deref(),
            Self::Signal(m) => m.reference.as_deref(),
            Self::History(m) => m.reference.as_deref(),
            Self::State(m) => m.reference.as_deref(),
        }
    }
}
