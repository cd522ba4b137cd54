//! Application JSON as the SDK hands it out: message payloads, and the
//! members and messages that carry them. Every application value (a
//! payload, a member's `info` and `state`) is a [`Payload`]: the `JsValue`
//! the browser parsed, read with [`Payload::get`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::Result;

/// A user as the SDK delivers it (the wire's `Member`): stable id, display
/// name, and the application's JSON about them.
///
/// `info` is what the application attached to the user (a token's `info`
/// claim, e.g. `{"avatar": "https://…"}`), the same in every room; `state`
/// is the member's own JSON in one room, set with
/// [`crate::Room::set_member_state`] (e.g. read receipts `{"read": 42}`),
/// present in member lists and presence diffs.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Member {
    /// Stable user id (`g-…` for guests, the token's user otherwise).
    pub id: String,
    /// Current display name.
    pub name: String,
    /// The application's JSON about the user, if any.
    pub info: Option<Payload>,
    /// The member's JSON state in this room, if any.
    pub state: Option<Payload>,
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

/// A message in a room (or a `dm:` conversation), as delivered by the server.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RoomMessage {
    /// Room (or `dm:<a>:<b>` conversation) it belongs to.
    pub room: String,
    /// Per-room offset: 1 for the first message, then +1 per message.
    pub offset: u64,
    /// Sender.
    pub from: Member,
    /// Server time it was stored, ms since the Unix epoch.
    pub ts: u64,
    /// The publisher's payload.
    pub payload: Payload,
    /// The publisher's client message id (every SDK publish has one; see
    /// [`crate::AckFuture::cid`]).
    pub cid: Option<String>,
}

/// A page of older messages ([`crate::Room::history`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HistoryPage {
    /// Messages before the requested offset, oldest first.
    pub messages: Vec<RoomMessage>,
    /// Whether the server keeps older messages still (`false`: nothing
    /// older is kept; a first message at offset 1 is the beginning of the
    /// conversation).
    pub more: bool,
}

/// A message payload: any JSON value, held as the `JsValue` the browser
/// parsed (no copy through Rust JSON). Read it with [`Payload::get`].
///
/// ```no_run
/// # fn f(m: confab_client::RoomMessage) -> confab_client::Result<()> {
/// #[derive(serde::Deserialize)]
/// struct Chat { message: String }
/// let chat: Chat = m.payload.get()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Payload(#[serde(with = "serde_wasm_bindgen::preserve")] JsValue);

impl Payload {
    /// Wraps a JS value (it must be JSON-compatible to be sent).
    pub fn from_js(value: JsValue) -> Self {
        Self(value)
    }

    /// Converts any serializable value (maps become plain JS objects).
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        Ok(Self(to_js(value)?))
    }

    /// Deserializes the payload into `T`.
    pub fn get<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_wasm_bindgen::from_value(self.0.clone())?)
    }

    /// The underlying JS value.
    pub fn as_js(&self) -> &JsValue {
        &self.0
    }

    /// The payload as JSON text (`JSON.stringify`).
    pub fn to_json(&self) -> String {
        js_sys::JSON::stringify(&self.0)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }
}

impl PartialEq for Payload {
    /// Compares the JSON texts.
    fn eq(&self, other: &Self) -> bool {
        self.to_json() == other.to_json()
    }
}

impl From<Payload> for JsValue {
    fn from(p: Payload) -> Self {
        p.0
    }
}

/// Serializes to a plain JS value (objects, not `Map`s).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue> {
    Ok(value.serialize(&serde_wasm_bindgen::Serializer::json_compatible())?)
}

/// Serializes to JSON text via the browser's `JSON.stringify`.
pub(crate) fn to_json_text<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let js = to_js(value)?;
    js_sys::JSON::stringify(&js)
        .map(String::from)
        .map_err(|e| crate::Error::js(&e))
}
