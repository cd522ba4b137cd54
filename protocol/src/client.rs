//! Envelopes sent by the client.

use serde::{Deserialize, Serialize};

use crate::{Position, Ref};

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
}

impl ClientType {
    /// All client envelope types.
    pub const ALL: [ClientType; 7] = [
        Self::Join,
        Self::Leave,
        Self::Publish,
        Self::Direct,
        Self::Rename,
        Self::List,
        Self::Ping,
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
        }
    }
}
