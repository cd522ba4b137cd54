//! The SDK's error type.

use confab_protocol::ErrorCode;

/// Everything that can go wrong in the SDK.
///
/// "Closed normally" is not an error: a closed client simply has
/// [`crate::ConnectionState::Closed`]. In JavaScript every variant becomes an
/// `Error` whose `code` property is [`Error::code`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No ack (or reply) arrived within the ack timeout; the request may or
    /// may not have reached the server if it was already sent.
    #[error("no ack within the timeout")]
    AckTimeout,
    /// The request had been sent but the connection dropped before its ack:
    /// the outcome is unknown (the server may have stored it). The SDK never
    /// re-sends such a request, so it is never duplicated.
    #[error("connection lost before the ack; outcome unknown")]
    Disconnected,
    /// The client or socket was closed with `close()`; nothing more is sent.
    #[error("closed")]
    Closed,
    /// The offline send buffer is full (see [`crate::OverflowPolicy`]).
    #[error("send buffer full")]
    BufferFull,
    /// Dropped from a full offline buffer to make room for a newer message
    /// ([`crate::OverflowPolicy::DropOldest`]).
    #[error("dropped from the full send buffer")]
    BufferOverflow,
    /// The server answered with an `error` envelope.
    #[error("server error {code}: {message}")]
    Server {
        /// Stable machine-readable code.
        code: ErrorCode,
        /// Human-readable explanation from the server.
        message: String,
        /// The room concerned, when the server named one (a refused
        /// join, a publish to a room not joined, …).
        room: Option<String>,
    },
    /// The room is not joined (left or never joined).
    #[error("room not joined")]
    NotJoined,
    /// The room name is invalid (checked before anything is sent).
    #[error("invalid room name: {0}")]
    RoomName(#[from] confab_protocol::RoomNameError),
    /// A value could not be converted to or from JSON / JavaScript.
    #[error("serialization: {0}")]
    Serde(String),
    /// The URL was refused by the browser's `WebSocket` constructor.
    #[error("invalid url")]
    InvalidUrl,
    /// A JavaScript exception from a browser API.
    #[error("javascript error: {0}")]
    Js(String),
}

impl Error {
    /// Stable code for this error (also the `code` of JS errors), e.g.
    /// `"ack_timeout"`; server errors use the server's code
    /// (`"not_joined"`, `"rate_limited"`, …).
    ///
    /// ```
    /// assert_eq!(confab_client::Error::AckTimeout.code(), "ack_timeout");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::AckTimeout => "ack_timeout",
            Self::Disconnected => "disconnected",
            Self::Closed => "closed",
            Self::BufferFull => "buffer_full",
            Self::BufferOverflow => "buffer_overflow",
            Self::Server { code, .. } => code.as_str(),
            Self::NotJoined => "not_joined",
            Self::RoomName(_) => "room_name_invalid",
            Self::Serde(_) => "serde",
            Self::InvalidUrl => "invalid_url",
            Self::Js(_) => "js",
        }
    }

    /// The room a server error names (`None` for other errors).
    ///
    /// ```
    /// use confab_client::{Error, ErrorCode};
    /// let e = Error::Server { code: ErrorCode::Unauthorized, message: "no".into(), room: Some("dm:a:b".into()) };
    /// assert_eq!(e.room(), Some("dm:a:b"));
    /// assert_eq!(Error::AckTimeout.room(), None);
    /// ```
    pub fn room(&self) -> Option<&str> {
        match self {
            Self::Server { room, .. } => room.as_deref(),
            _ => None,
        }
    }

    /// Whether a join refused with this error must not be retried
    /// automatically on reconnect (`unauthorized`, `room_name_invalid`):
    /// the answer would be the same.
    pub fn is_final_refusal(&self) -> bool {
        matches!(
            self,
            Self::Server {
                code: ErrorCode::Unauthorized | ErrorCode::RoomNameInvalid,
                ..
            } | Self::RoomName(_)
        )
    }

    pub(crate) fn js(value: &wasm_bindgen::JsValue) -> Self {
        let text = js_sys::JSON::stringify(value)
            .ok()
            .and_then(|s| s.as_string())
            .or_else(|| value.as_string())
            .unwrap_or_default();
        Self::Js(text)
    }
}

impl From<serde_wasm_bindgen::Error> for Error {
    fn from(e: serde_wasm_bindgen::Error) -> Self {
        Self::Serde(e.to_string())
    }
}

impl From<confab_protocol::ErrorMsg> for Error {
    fn from(e: confab_protocol::ErrorMsg) -> Self {
        Self::Server {
            code: e.code,
            message: e.message,
            room: e.room,
        }
    }
}

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
