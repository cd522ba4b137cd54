//! `ConfabClient`: the JS face of [`Client`].

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::convert::{ack_js, member_js, message_js, opt_str, state_info};
use super::glue::{ack_promise, promise, require_websocket, to_js_error, Listeners};
use super::options::{client_options, JsClientOptions};
use super::room::JsRoom;
use crate::{Client, ClientEvent, Payload, Subscription};

/// A Confab connection (see the Rust [`Client`]).
///
/// ```js
/// const client = new ConfabClient("ws://127.0.0.1:8000/ws", { name: "Alice" });
/// const room = await client.join("lobby");
/// room.on("message", m => console.log(m.from.name, m.payload));
/// await room.publish({ message: "hi" });
/// ```
#[wasm_bindgen(js_name = ConfabClient)]
pub struct JsClient {
    client: Client,
    listeners: Rc<Listeners>,
    _sub: Subscription,
}

#[wasm_bindgen(js_class = ConfabClient)]
impl JsClient {
    /// Connects (in the background) to the native endpoint `url`. Throws
    /// a `ConfabError` (`no_websocket`) where there is no `WebSocket`.
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, options: Option<JsClientOptions>) -> Result<JsClient, JsValue> {
        require_websocket()?;
        let client = Client::connect(client_options(url, options));
        let listeners = Rc::new(Listeners::default());
        let l = listeners.clone();
        let sub = client.on_event(move |ev| match ev {
            ClientEvent::StateChanged(st) => l.emit("state", || state_info(st)),
            ClientEvent::Welcome(m) => l.emit("welcome", || member_js(m)),
            ClientEvent::Direct(m) => l.emit("direct", || message_js(m)),
            ClientEvent::Error(e) => l.emit("error", || to_js_error(e)),
        });
        Ok(JsClient {
            client,
            listeners,
            _sub: sub,
        })
    }

    /// `"connecting" | "open" | "reconnecting" | "closed"`.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionStateName")]
    pub fn state(&self) -> JsValue {
        JsValue::from_str(self.client.state().name())
    }

    /// The state with its details (attempt, retry delay, close code).
    #[wasm_bindgen(getter, js_name = stateInfo, unchecked_return_type = "ConnectionStateInfo")]
    pub fn state_info(&self) -> JsValue {
        state_info(&self.client.state())
    }

    /// This connection's user (after `welcome`).
    #[wasm_bindgen(getter, unchecked_return_type = "Member | undefined")]
    pub fn me(&self) -> JsValue {
        self.client
            .me()
            .map_or(JsValue::UNDEFINED, |m| member_js(&m))
    }

    /// This guest identity's credential from the latest `welcome`
    /// (undefined for token users): save it and pass it back as the
    /// `guestToken` option to be the same guest after a reload.
    #[wasm_bindgen(getter, js_name = guestToken, unchecked_return_type = "string | undefined")]
    pub fn guest_token(&self) -> JsValue {
        opt_str(self.client.guest_token())
    }

    /// The server's id for the current connection.
    #[wasm_bindgen(getter, js_name = sessionId, unchecked_return_type = "string | undefined")]
    pub fn session_id(&self) -> JsValue {
        opt_str(self.client.session_id())
    }

    /// Requests waiting for their ack (queued offline or in flight).
    #[wasm_bindgen(getter)]
    pub fn pending(&self) -> u32 {
        self.client.pending() as u32
    }

    /// Joins a room and resolves once the server confirmed it.
    #[wasm_bindgen(unchecked_return_type = "Promise<ConfabRoom>")]
    pub fn join(&self, room: String) -> Promise {
        let fut = self.client.join(&room);
        promise(async move { fut.await.map(|room| JsRoom::new(room).into()) })
    }

    /// Registers a room without waiting (joined whenever connected).
    pub fn room(&self, room: String) -> Result<JsRoom, JsValue> {
        self.client
            .room(&room)
            .map(JsRoom::new)
            .map_err(|e| to_js_error(&e))
    }

    /// Sends a direct message to user `to`.
    #[wasm_bindgen(skip_typescript)]
    pub fn direct(
        &self,
        to: String,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
    ) -> Promise {
        ack_promise(self.client.direct_payload(&to, Payload::from_js(payload)))
    }

    /// Changes the display name.
    #[wasm_bindgen(unchecked_return_type = "Promise<Ack>")]
    pub fn rename(&self, name: String) -> Promise {
        let fut = self.client.rename(&name);
        promise(async move { fut.await.map(|a| ack_js(&a)) })
    }

    /// Closes for good (no reconnect).
    pub fn close(&self) {
        self.client.close();
    }

    /// Drops the current link and reconnects now (rooms are resumed).
    pub fn reconnect(&self) {
        self.client.socket().reconnect();
    }

    /// Adds a listener (`state`, `welcome`, `direct`, `error`).
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: JsValue, listener: JsValue) {
        self.listeners.on(event, listener);
    }

    /// Removes a listener.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: JsValue, listener: JsValue) {
        self.listeners.off(event, listener);
    }
}
