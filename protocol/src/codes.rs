//! Stable error codes and WebSocket close codes.

use serde::{Deserialize, Serialize};

/// The `code` of an [`crate::ErrorMsg`]. Stable: clients may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame is not valid JSON (or not a JSON object).
    BadJson,
    /// The `type` field is missing or names no envelope.
    UnknownType,
    /// The envelope's fields are missing or of the wrong type.
    BadRequest,
    /// Publishing to (or leaving) a room the connection has not joined.
    NotJoined,
    /// The room name is empty, too long or has characters outside the allowed set.
    RoomNameInvalid,
    /// The display name is empty or too long.
    NameInvalid,
    /// A frame or payload over the size limit.
    TooLarge,
    /// Too many frames too fast; repeated abuse closes with 1008.
    RateLimited,
    /// Not allowed (a DM room of other users, a missing or bad token or key).
    Unauthorized,
    /// The connection already joined the maximum number of rooms.
    TooManyRooms,
    /// The recipient of a direct message does not exist / is unknown.
    UnknownUser,
    /// The channel layer (e.g. Redis) is unreachable; nothing was stored, retry.
    Unavailable,
    /// An unexpected server fault; nothing was stored.
    Internal,
}

impl ErrorCode {
    /// Every error code.
    pub const ALL: [ErrorCode; 13] = [
        Self::BadJson,
        Self::UnknownType,
        Self::BadRequest,
        Self::NotJoined,
        Self::RoomNameInvalid,
        Self::NameInvalid,
        Self::TooLarge,
        Self::RateLimited,
        Self::Unauthorized,
        Self::TooManyRooms,
        Self::UnknownUser,
        Self::Unavailable,
        Self::Internal,
    ];

    /// Parses a wire name (for decoders that do not go through serde).
    ///
    /// ```
    /// use confab_protocol::ErrorCode;
    /// assert_eq!(ErrorCode::parse("rate_limited"), Some(ErrorCode::RateLimited));
    /// assert_eq!(ErrorCode::parse("nope"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The wire name, e.g. `"bad_json"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::UnknownType => "unknown_type",
            Self::BadRequest => "bad_request",
            Self::NotJoined => "not_joined",
            Self::RoomNameInvalid => "room_name_invalid",
            Self::NameInvalid => "name_invalid",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::TooManyRooms => "too_many_rooms",
            Self::UnknownUser => "unknown_user",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes Confab uses (see docs/PROTOCOL.md).
pub mod close {
    /// Normal closure (client or server said goodbye).
    pub const NORMAL: u16 = 1000;
    /// A binary frame on an endpoint that speaks JSON text.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A text frame that is not valid UTF-8 (RFC 6455 §8.1). Sending the
    /// same bytes again would fail the same way: do not reconnect.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation: repeated rate-limit abuse or a forbidden action.
    pub const POLICY: u16 = 1008;
    /// Frame larger than the server's `max_message_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// Unexpected server error.
    pub const INTERNAL: u16 = 1011;
    /// Server shutting down or restarting: reconnect (with backoff) and resume.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The client sent nothing (not even a ping) for two heartbeat intervals.
    pub const HEARTBEAT_TIMEOUT: u16 = 4000;
    /// The client did not read fast enough and its outbound queue filled up;
    /// it may reconnect and resume from history.
    pub const SLOW_CONSUMER: u16 = 4001;
    /// The token expired while connected; reconnect with a fresh one.
    pub const TOKEN_EXPIRED: u16 = 4003;

    /// Whether a client should reconnect after this close code.
    pub const fn should_reconnect(code: u16) -> bool {
        !matches!(code, NORMAL | POLICY | UNSUPPORTED_DATA | INVALID_PAYLOAD)
    }
}
