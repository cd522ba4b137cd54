//! The SDK's error type.

use confab_protocol::{ErrorCode, RoomNameError};

/// Everything that can go wrong in the SDK.
///
/// "Closed normally" is not an error: a closed client simply has
/// [`crate::ConnectionState::Closed`]. In JavaScript every variant becomes an
/// `Error` whose `code` property is [`Error::code`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// No ack (or reply) arrived within the ack timeout; the request may or
    /// may not have reached the server if it was already sent.
    AckTimeout,
    /// The request had been sent but the connection dropped before its ack:
    /// the outcome is unknown (the server may have stored it). The SDK never
    /// re-sends such a request, so it is never duplicated.
    Disconnected,
    /// The client or socket was closed with `close()`; nothing more is sent.
    Closed,
    /// The offline send buffer is full (see [`crate::OverflowPolicy`]).
    BufferFull,
    /// Dropped from a full offline buffer to make room for a newer message
    /// ([`crate::OverflowPolicy::DropOldest`]).
    BufferOverflow,
    /// The server answered with an `error` envelope.
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
    NotJoined,
    /// The room name is invalid (checked before anything is sent).
    RoomName(confab_protocol::RoomNameError),
    /// A value could not be converted to or from JSON / JavaScript.
    Serde(String),
    /// The URL was refused by the browser's `WebSocket` constructor.
    InvalidUrl,
    /// A JavaScript exception from a browser API.
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

impl Error {
    /// The human-readable message (also the JS `Error`'s `message`), built
    /// by concatenation: no `core::fmt` in the wasm build's error path.
    ///
    /// ```
    /// use confab_client::{Error, ErrorCode};
    /// let e = Error::Server { code: ErrorCode::RateLimited, message: "slow down".into(), room: None };
    /// assert_eq!(e.message(), "server error rate_limited: slow down");
    /// assert_eq!(e.to_string(), e.message());
    /// ```
    pub fn message(&self) -> String {
        let (head, tail): (&str, &str) = match self {
            Self::AckTimeout => ("no ack within the timeout", ""),
            Self::Disconnected => ("connection lost before the ack; outcome unknown", ""),
            Self::Closed => ("closed", ""),
            Self::BufferFull => ("send buffer full", ""),
            Self::BufferOverflow => ("dropped from the full send buffer", ""),
            Self::Server { code, message, .. } => {
                let mut s = String::from("server error ");
                s.push_str(code.as_str());
                s.push_str(": ");
                s.push_str(message);
                return s;
            }
            Self::NotJoined => ("room not joined", ""),
            Self::RoomName(e) => (
                "invalid room name: ",
                match e {
                    RoomNameError::Empty => "room name is empty",
                    RoomNameError::TooLong => "room name is longer than 100 bytes",
                    _ => "room name may only contain letters, digits, '_', '-' and '.'",
                },
            ),
            Self::Serde(m) => ("serialization: ", m),
            Self::InvalidUrl => ("invalid url", ""),
            Self::Js(m) => ("javascript error: ", m),
        };
        let mut s = String::from(head);
        s.push_str(tail);
        s
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::RoomName(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RoomNameError> for Error {
    fn from(e: RoomNameError) -> Self {
        Self::RoomName(e)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_name_messages_match_the_protocol_text() {
        for e in [
            RoomNameError::Empty,
            RoomNameError::TooLong,
            RoomNameError::BadChar,
        ] {
            assert_eq!(Error::from(e).message(), format!("invalid room name: {e}"));
        }
    }

    #[test]
    fn messages() {
        assert_eq!(Error::AckTimeout.to_string(), "no ack within the timeout");
        assert_eq!(Error::Js("x".into()).message(), "javascript error: x");
        assert_eq!(Error::Serde("y".into()).message(), "serialization: y");
    }
}
