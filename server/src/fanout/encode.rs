//! Every text frame the server writes to a WebSocket is made here: room
//! events (encoded once per event, see [`super::event`]) and the replies a
//! connection gets for its own requests.

use axum::extract::ws::Utf8Bytes;
use confab_protocol::{encode, Member, Message, Presence, ServerMsg, Signal};
use serde::Serialize;
use serde_json::value::RawValue;

/// A native `message` envelope.
pub(crate) fn native_message<P: Serialize + Clone>(msg: &Message<P>) -> Utf8Bytes {
    encode(&ServerMsg::Message(msg.clone())).into()
}

/// What a seed-compatible socket receives for a message: the payload's
/// JSON, or the bare string when the payload is a JSON string (a raw frame).
pub(crate) fn compat_message(payload: &RawValue) -> Utf8Bytes {
    let raw = payload.get();
    match serde_json::from_str::<String>(raw) {
        Ok(s) if raw.starts_with('"') => s.into(),
        _ => raw.to_owned().into(),
    }
}

/// A native `presence` envelope.
pub(crate) fn presence(diff: &Presence) -> Utf8Bytes {
    encode(&ServerMsg::<()>::Presence(diff.clone())).into()
}

/// A native `signal` envelope.
pub(crate) fn signal<P: Serialize + Clone>(room: &str, from: &Member, payload: &P) -> Utf8Bytes {
    encode(&ServerMsg::Signal(Signal {
        room: room.to_owned(),
        from: from.clone(),
        payload: payload.clone(),
    }))
    .into()
}

/// A reply envelope for one connection (`welcome`, `joined`, `ack`,
/// `error`, `pong`, ...).
pub fn reply<P: Serialize>(msg: &ServerMsg<P>) -> Utf8Bytes {
    encode(msg).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).expect("json")
    }

    #[test]
    fn compat_text_unwraps_json_strings_only() {
        assert_eq!(
            compat_message(&raw(r#""plain \"q\"""#)).as_str(),
            r#"plain "q""#
        );
        assert_eq!(
            compat_message(&raw(r#"{"message":"hi"}"#)).as_str(),
            r#"{"message":"hi"}"#
        );
        assert_eq!(compat_message(&raw("42")).as_str(), "42");
    }
}
