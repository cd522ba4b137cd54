//! `ConfabSocket`: the JS face of [`Socket`].

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::convert::state_info;
use super::glue::{promise, require_websocket, to_js_error, Listeners};
use super::options::{socket_options_of, JsSocketOptions};
use crate::{Socket, Subscription};

#[wasm_bindgen(module = "/src/js/glue.js")]
extern "C" {
    /// `for await (const m of sock.messages())` over `sock.wait()`.
    #[wasm_bindgen(js_name = asyncIterable)]
    fn async_iterable(sock: JsSocket) -> JsValue;
}

/// A reconnecting JSON WebSocket for any server (see the Rust [`Socket`]).
///
/// ```js
/// const sock = new ConfabSocket("ws://127.0.0.1:8000/ws/chat/lobby/");
/// sock.send({ message: "hi" });
/// for await (const msg of sock.messages()) console.log(msg);
/// ```
#[wasm_bindgen(js_name = ConfabSocket)]
pub struct JsSocket {
    socket: Socket,
    listeners: Rc<Listeners>,
    _subs: Vec<Subscription>,
}

#[wasm_bindgen(js_class = ConfabSocket)]
impl JsSocket {
    /// Opens (in the background) and keeps reconnecting until `close()`.
    /// Throws a `ConfabError` (`no_websocket`) where there is no `WebSocket`.
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, options: Option<JsSocketOptions>) -> Result<JsSocket, JsValue> {
        require_websocket()?;
        let socket = Socket::open(socket_options_of(url, options));
        let listeners = Rc::new(Listeners::default());
        let l = listeners.clone();
        let s1 = socket.on_message(move |v| l.emit("message", || v.clone()));
        let l = listeners.clone();
        let s2 = socket.on_state(move |st| l.emit("state", || state_info(st)));
        Ok(JsSocket {
            socket,
            listeners,
            _subs: vec![s1, s2],
        })
    }

    /// `"connecting" | "open" | "reconnecting" | "closed"`.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnectionStateName")]
    pub fn state(&self) -> JsValue {
        JsValue::from_str(self.socket.state().name())
    }

    /// The state with its details.
    #[wasm_bindgen(getter, js_name = stateInfo, unchecked_return_type = "ConnectionStateInfo")]
    pub fn state_info(&self) -> JsValue {
        state_info(&self.socket.state())
    }

    /// Sends a JSON-compatible value (queued while offline). Throws a
    /// `ConfabError` (`closed`, `buffer_full`).
    pub fn send(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
    ) -> Result<(), JsValue> {
        self.socket.send_js(&value).map_err(|e| to_js_error(&e))
    }

    /// Sends a text frame as is.
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(&self, text: String) -> Result<(), JsValue> {
        self.socket.send_text(text).map_err(|e| to_js_error(&e))
    }

    /// Frames waiting in the offline buffer.
    #[wasm_bindgen(getter)]
    pub fn buffered(&self) -> u32 {
        self.socket.buffered() as u32
    }

    /// Whether unread messages are queued.
    #[wasm_bindgen(js_name = hasMessages)]
    pub fn has_messages(&self) -> bool {
        self.socket.has_messages()
    }

    /// Number of unread messages.
    #[wasm_bindgen(js_name = countMessages)]
    pub fn count_messages(&self) -> u32 {
        self.socket.count_messages() as u32
    }

    /// Next unread message, or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "unknown")]
    pub fn read(&self) -> JsValue {
        self.socket.read().unwrap_or(JsValue::UNDEFINED)
    }

    /// Next message (waits); `undefined` once closed for good.
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown>")]
    pub fn wait(&self) -> Promise {
        let next = self.socket.wait();
        promise(async move { Ok(next.await.unwrap_or(JsValue::UNDEFINED)) })
    }

    /// The messages as an async iterable: `for await (const m of sock.messages())`.
    #[wasm_bindgen(unchecked_return_type = "AsyncIterable<unknown>")]
    pub fn messages(&self) -> JsValue {
        async_iterable(JsSocket {
            socket: self.socket.clone(),
            listeners: Rc::new(Listeners::default()),
            _subs: Vec::new(),
        })
    }

    /// Drops the current link and reconnects now.
    pub fn reconnect(&self) {
        self.socket.reconnect();
    }

    /// Closes for good.
    pub fn close(&self) {
        self.socket.close();
    }

    /// Adds a listener (`message`, `state`).
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
