//! Confab's wire protocol: the JSON envelopes exchanged over the native
//! WebSocket endpoint `/ws`, shared by the server and the client SDK so the
//! two cannot drift. `docs/PROTOCOL.md` is the prose version of this crate.
//!
//! Every frame is one JSON object with a `type` field. Envelopes are generic
//! over the payload type `P` (any JSON value the application chooses): the
//! server uses [`serde_json::value::RawValue`] so a payload is parsed once and
//! copied verbatim, the wasm SDK uses a wrapper around a `JsValue`.
//!
//! Decoding goes in two steps, [`peek_type`] then the struct of that type,
//! because serde's internally-tagged enums cannot carry raw/JS payloads.
//!
//! ```
//! # #[cfg(feature = "json")] {
//! use confab_protocol::{decode_client, ClientMsg};
//! let msg = decode_client(r#"{"type":"publish","ref":"1","room":"lobby","payload":{"text":"hi"}}"#).unwrap();
//! let ClientMsg::Publish(p) = msg else { panic!() };
//! assert_eq!(p.room, "lobby");
//! assert_eq!(p.payload.get(), r#"{"text":"hi"}"#);
//! # }
//! ```

mod backoff;
mod client;
mod codes;
#[cfg(feature = "json")]
mod json;
mod jsonvalue;
mod names;
mod server;

pub use backoff::backoff_delay;
pub use client::*;
pub use codes::*;
#[cfg(feature = "json")]
pub use json::*;
pub use jsonvalue::Json;
pub use names::*;
pub use server::*;

use serde::{Deserialize, Serialize};

/// Protocol version carried in [`Welcome::version`].
pub const PROTOCOL_VERSION: u32 = 1;
/// WebSocket subprotocol a client may request (`Sec-WebSocket-Protocol`).
pub const SUBPROTOCOL: &str = "confab.v1";

/// A client-chosen correlation id, echoed in the reply (`ack`, `joined`,
/// `error`, `pong`, ...). Any short string; the SDK uses a counter.
pub type Ref = String;

/// A user as seen by others: stable id, current display name, and what the
/// application attached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Member {
    /// Stable user id (`g-…` for guests, the token's user for signed-in users).
    pub id: String,
    /// Display name; changed with [`Rename`].
    pub name: String,
    /// Small JSON the application gave the user (the token's `info` claim,
    /// or a backend hook), shown to everyone: e.g. an avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Json>,
    /// The member's own small JSON state in this room (see
    /// [`SetState`]): e.g. `{"read": 42}` for read receipts. Only in a
    /// room's member lists and presence diffs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Json>,
}

impl Member {
    /// A member with just an id and a name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            info: None,
            state: None,
        }
    }
}

/// Position in a room's history: the history `epoch` and the last `offset`
/// seen. Offsets are per room, start at 1 and increase by 1 per message. The
/// epoch changes only when history is lost (e.g. an in-memory server
/// restarted), and a resume across epochs is reported as not recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// History epoch the offset belongs to.
    pub epoch: String,
    /// Last offset the client has seen (0 = none yet).
    pub offset: u64,
}

/// Reads only the `type` field of a JSON envelope, so the caller can decode
/// the matching struct. Works with any serde deserializer.
#[derive(Debug, Deserialize)]
pub struct TypeTag<'a> {
    /// The envelope's `type`.
    #[serde(rename = "type", borrow)]
    pub ty: std::borrow::Cow<'a, str>,
}
