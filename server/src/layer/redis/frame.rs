//! What travels on the layer's pub/sub channels. A frame is one tag byte
//! and a body; the Lua scripts write `m` and `p` frames (`publish.lua`,
//! `join.lua`, `leave.lua`, `restore.lua`, `update.lua`, `reap.lua`), the
//! rename notice is written here.

use std::sync::Arc;

use confab_protocol::{Member, Presence, RawPayload, Signal};
use serde_json::value::RawValue;

use super::json;
use crate::error::{Error, Result};
use crate::fanout::StoredMessage;
use crate::layer::decode_stored;

/// One pub/sub frame.
#[derive(Debug)]
pub(super) enum Frame {
    /// `m<epoch>|<message JSON>`: a message stored in the history `epoch`.
    Message {
        /// The history epoch when it was stored.
        epoch: String,
        /// The message.
        message: Arc<StoredMessage>,
    },
    /// `p<presence diff JSON>`.
    Presence(Presence),
    /// `r<member JSON>`: a user renamed themselves (on their user channel).
    Renamed(Member),
    /// `s<signal JSON>`: an ephemeral message (`{"room","from","payload"}`).
    Signal(Signal<RawPayload>),
    /// `k<user id>` (on the user's channel): close every connection of the
    /// user (server API).
    Disconnect(String),
    /// `x<user>|<room>` (on the user's channel): the user leaves the room
    /// on every connection (server API).
    Remove {
        /// The user.
        user: String,
        /// The room.
        room: String,
    },
}

impl Frame {
    /// Decodes a frame received on a channel.
    pub(super) fn parse(bytes: &[u8]) -> Result<Self> {
        let corrupt = |source| Error::Corrupt {
            what: "pub/sub frame",
            source,
        };
        let unknown = || Error::Internal("unknown pub/sub frame".into());
        let (tag, body) = bytes.split_first().ok_or_else(unknown)?;
        match tag {
            b'm' => {
                let bar = body.iter().position(|b| *b == b'|').ok_or_else(unknown)?;
                let epoch = std::str::from_utf8(&body[..bar]).map_err(|_| unknown())?;
                Ok(Self::Message {
                    epoch: epoch.to_owned(),
                    message: decode_stored(&body[bar + 1..])?,
                })
            }
            b'p' => serde_json::from_slice(body)
                .map(Self::Presence)
                .map_err(corrupt),
            b'r' => serde_json::from_slice(body)
                .map(Self::Renamed)
                .map_err(corrupt),
            b's' => serde_json::from_slice(body)
                .map(Self::Signal)
                .map_err(corrupt),
            b'k' => Ok(Self::Disconnect(
                std::str::from_utf8(body).map_err(|_| unknown())?.to_owned(),
            )),
            b'x' => {
                let text = std::str::from_utf8(body).map_err(|_| unknown())?;
                let (user, room) = text.split_once('|').ok_or_else(unknown)?;
                Ok(Self::Remove {
                    user: user.to_owned(),
                    room: room.to_owned(),
                })
            }
            _ => Err(unknown()),
        }
    }

    /// The signal frame.
    pub(super) fn signal(room: &str, from: &Member, payload: &RawValue) -> String {
        format!(
            "s{{\"room\":{},\"from\":{},\"payload\":{}}}",
            json(&room),
            json(from),
            payload.get()
        )
    }

    /// The rename notice for `member`.
    pub(super) fn renamed(member: &Member) -> String {
        format!("r{}", json(member))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_refuses_garbage() {
        let m = br#"mr0123|{"room":"lobby","offset":7,"from":{"id":"u","name":"U"},"ts":1,"payload":{"x":1}}"#;
        match Frame::parse(m).expect("message") {
            Frame::Message { epoch, message } => {
                assert_eq!(epoch, "r0123");
                assert_eq!(message.msg.offset, 7);
                assert_eq!(message.msg.payload.get(), r#"{"x":1}"#);
            }
            other => panic!("{other:?}"),
        }
        let p = br#"p{"room":"lobby","leaves":[{"id":"u","name":"U"}]}"#;
        assert!(matches!(Frame::parse(p), Ok(Frame::Presence(d)) if d.leaves.len() == 1));
        let member = Member::new("u", "Ü");
        let payload = RawValue::from_string(r#"{"typing":true}"#.into()).unwrap();
        let s = Frame::signal("lobby", &member, &payload);
        match Frame::parse(s.as_bytes()) {
            Ok(Frame::Signal(sig)) => {
                assert_eq!((sig.room.as_str(), sig.from.name.as_str()), ("lobby", "Ü"));
                assert_eq!(sig.payload.get(), r#"{"typing":true}"#);
            }
            other => panic!("{other:?}"),
        }
        let r = Frame::renamed(&member);
        assert!(matches!(Frame::parse(r.as_bytes()), Ok(Frame::Renamed(m)) if m == member));
        for bad in [&b""[..], b"x{}", b"mno-bar", b"p{", b"m|{"] {
            assert!(
                Frame::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
