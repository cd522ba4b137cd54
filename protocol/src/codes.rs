//! Stable error codes and WebSocket close codes.

use serde::{Deserialize, Serialize};

/// Declares [`ErrorCode`] once: the variants, their wire names and docs,
/// [`ErrorCode::ALL`], [`ErrorCode::as_str`] and [`ErrorCode::parse`] all come
/// from this one list (the SDK's TypeScript union and the server's metrics
/// labels are checked against `ALL` by tests).
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $wire:literal,)+) => {
        /// The `code` of an [`crate::ErrorMsg`]. Stable: clients may match on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[doc = $doc])* #[serde(rename = $wire)] $variant,)+
        }

        impl ErrorCode {
            /// Every error code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant,)+];

            /// The wire name, e.g. `"bad_json"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }
        }
    };
}

error_codes! {
    /// The frame is not valid JSON (or not a JSON object).
    BadJson = "bad_json",
    /// The `type` field is missing or names no envelope.
    UnknownType = "unknown_type",
    /// The envelope's fields are missing or of the wrong type.
    BadRequest = "bad_request",
    /// Publishing to (or leaving) a room the connection has not joined.
    NotJoined = "not_joined",
    /// The room name is empty, too long or has characters outside the allowed set.
    RoomNameInvalid = "room_name_invalid",
    /// The display name is empty or too long.
    NameInvalid = "name_invalid",
    /// A frame or payload over the size limit.
    TooLarge = "too_large",
    /// Too many frames too fast; repeated abuse closes with 1008.
    RateLimited = "rate_limited",
    /// Not allowed (a DM room of other users, a missing or bad token or key).
    Unauthorized = "unauthorized",
    /// The room's permission policy refuses this user this action (join,
    /// publish, presence, history, …). Final: retrying does not help
    /// until the user's grants change.
    Forbidden = "forbidden",
    /// The application's backend refused the request (a hook said deny);
    /// the message comes from the backend.
    HookDenied = "hook_denied",
    /// The application's backend hook could not be asked (timeout, error,
    /// bad answer) and the hook fails closed; nothing happened, retry later.
    HookUnavailable = "hook_unavailable",
    /// The connection already joined the maximum number of rooms.
    TooManyRooms = "too_many_rooms",
    /// The recipient of a direct message does not exist / is unknown.
    UnknownUser = "unknown_user",
    /// The channel layer (e.g. Redis) is unreachable; nothing was stored, retry.
    Unavailable = "unavailable",
    /// The channel layer did not answer in time (or its link dropped while
    /// the request was in flight): the message may or may not have been
    /// stored. A retry is safe only with the same client message id.
    OutcomeUnknown = "outcome_unknown",
    /// An unexpected server fault; nothing was stored.
    Internal = "internal",
}

impl ErrorCode {
    /// Parses a wire name (for decoders that do not go through serde).
    ///
    /// ```
    /// use confab_protocol::ErrorCode;
    /// assert_eq!(ErrorCode::parse("rate_limited"), Some(ErrorCode::RateLimited));
    /// assert_eq!(ErrorCode::parse("nope"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
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
    /// The peer broke the WebSocket protocol (RFC 6455 §7.4.1): reserved
    /// bits or opcodes, an unmasked client frame, a fragmented or oversized
    /// control frame, a stray continuation frame.
    pub const PROTOCOL_ERROR: u16 = 1002;
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
    /// The application disconnected this user (server API): do not
    /// reconnect.
    pub const DISCONNECTED: u16 = 4004;

    /// Whether a client should reconnect after this close code.
    pub const fn should_reconnect(code: u16) -> bool {
        !matches!(
            code,
            NORMAL | POLICY | UNSUPPORTED_DATA | INVALID_PAYLOAD | DISCONNECTED
        )
    }
}
