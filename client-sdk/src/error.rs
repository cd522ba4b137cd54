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
    /// The request had been sent but the connection dropped before its
    /// reply, and it is not one the SDK sends again (a `leave`, a token
    /// `refresh`): its outcome is unknown. Publishes, direct messages,
    /// renames, state and history requests are sent again after the
    /// reconnect instead (a publish carries its client message id, so the
    /// server stores it once).
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
    /// automatically on reconnect (`unauthorized`, `forbidden`,
    /// `hook_denied`, `room_name_invalid`): the answer would be the same
    /// until the user's grants change.
    ///
    /// ```
    /// use confab_client::{Error, ErrorCode};
    /// let refused = |code| Error::Server { code, message: String::new(), room: None };
    /// assert!(refused(ErrorCode::Forbidden).is_final_refusal());
    /// assert!(!refused(ErrorCode::HookUnavailable).is_final_refusal());
    /// ```
    pub fn is_final_refusal(&self) -> bool {
        matches!(
            self,
            Self::Server {
                code: ErrorCode::Unauthorized
                    | ErrorCode::Forbidden
                    | ErrorCode::HookDenied
                    | ErrorCode::RoomNameInvalid,
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
    use std::collections::BTreeSet;

    /// One error of each variant. A new variant fails to compile in
    /// `variant` until it is numbered there, and then fails
    /// `every_variant_has_a_sample` until it has a sample here (so its code
    /// is checked against the TypeScript union below).
    fn one_of_each() -> Vec<Error> {
        vec![
            Error::AckTimeout,
            Error::Disconnected,
            Error::Closed,
            Error::BufferFull,
            Error::BufferOverflow,
            Error::Server {
                code: ErrorCode::Internal,
                message: String::new(),
                room: None,
            },
            Error::NotJoined,
            Error::RoomName(RoomNameError::Empty),
            Error::Serde(String::new()),
            Error::InvalidUrl,
            Error::Js(String::new()),
        ]
    }

    const VARIANTS: usize = 11;

    fn variant(e: &Error) -> usize {
        match e {
            Error::AckTimeout => 0,
            Error::Disconnected => 1,
            Error::Closed => 2,
            Error::BufferFull => 3,
            Error::BufferOverflow => 4,
            Error::Server { .. } => 5,
            Error::NotJoined => 6,
            Error::RoomName(_) => 7,
            Error::Serde(_) => 8,
            Error::InvalidUrl => 9,
            Error::Js(_) => 10,
        }
    }

    #[test]
    fn every_variant_has_a_sample() {
        let seen: BTreeSet<usize> = one_of_each().iter().map(variant).collect();
        assert_eq!(seen, (0..VARIANTS).collect());
    }

    /// The string literals of `export type <name> = | "a" | "b" …;`.
    fn ts_union<'a>(dts: &'a str, name: &str) -> Vec<&'a str> {
        let head = format!("export type {name} =");
        let start = dts
            .find(&head)
            .unwrap_or_else(|| panic!("no `{head}` in the .d.ts"))
            + head.len();
        let body = &dts[start..];
        let body = &body[..body.find(';').expect("`;` after the union")];
        body.split('"').skip(1).step_by(2).collect()
    }

    /// `ConfabErrorCode` in the shipped `.d.ts` lists exactly the server's
    /// codes (`ErrorCode::ALL`, declared once in confab-protocol) and the
    /// SDK's own: a code added on either side (or only in the `.d.ts`)
    /// fails here.
    #[test]
    fn typescript_error_codes_match_the_rust_ones() {
        let union = ts_union(include_str!("js/types.d.ts"), "ConfabErrorCode");
        let listed: BTreeSet<&str> = union.iter().copied().collect();
        assert_eq!(
            listed.len(),
            union.len(),
            "a code is listed twice: {union:?}"
        );
        let mut codes: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        codes.extend(
            one_of_each()
                .iter()
                .filter(|e| !matches!(e, Error::Server { .. }))
                .map(Error::code),
        );
        let missing: Vec<_> = codes.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&codes).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "src/js/types.d.ts ConfabErrorCode: missing {missing:?}, not a code {extra:?}"
        );
    }

    #[test]
    fn every_server_code_is_an_error_code() {
        for &code in ErrorCode::ALL {
            let e = Error::Server {
                code,
                message: String::new(),
                room: None,
            };
            assert_eq!(e.code(), code.as_str());
        }
    }

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
