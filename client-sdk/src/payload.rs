//! Application payloads: any JSON value, kept as a JavaScript value.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::Result;

/// A message in a room (or a `dm:` conversation), as delivered by the server.
pub type RoomMessage = confab_protocol::Message<Payload>;

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
