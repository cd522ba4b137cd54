//! One `WebSocket` (the browser's, or any host's global one, e.g.
//! Node.js 22's) and the closures attached to it.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use crate::debug::Tracked;
use crate::runtime::callback::{callback, Callback};
use crate::Error;

/// Whether this JavaScript environment has a global `WebSocket` (Node.js
/// 20 has none without `--experimental-websocket`).
pub(crate) fn available() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("WebSocket"))
        .is_ok_and(|v| v.is_function())
}

/// What the socket reports to its owner.
pub(crate) enum WsEvent {
    Open,
    Message(JsValue),
    Close { code: u16, reason: String },
}

/// A WebSocket whose `onopen`/`onmessage`/`onclose` closures are owned
/// here. Dropping it clears the handlers first, then closes the socket, so
/// no callback can run into freed state and nothing leaks.
pub(crate) struct WsConn {
    ws: WebSocket,
    /// One handler for `open`, `message` and `close` (by event type).
    _on_event: Callback,
    _tracked: Tracked,
}

impl WsConn {
    pub(crate) fn open(
        url: &str,
        protocols: &[String],
        on_event: impl Fn(WsEvent) + 'static,
    ) -> Result<Self, Error> {
        if !available() {
            return Err(Error::NoWebSocket);
        }
        let ws = if protocols.is_empty() {
            WebSocket::new(url)
        } else {
            let list: js_sys::Array = protocols.iter().map(|p| JsValue::from_str(p)).collect();
            WebSocket::new_with_str_sequence(url, &list)
        }
        .map_err(|_| Error::InvalidUrl)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let handler = callback(Box::new(move |e: JsValue| {
            // Events are told apart by `type`, and read by property: not
            // every host's events are instances of the page's `MessageEvent`
            // / `CloseEvent` (Node.js's WebSocket has its own classes).
            let kind = e.unchecked_ref::<Event>().type_();
            if kind == "message" {
                let data = e.unchecked_ref::<MessageEvent>().data();
                let value = match data.as_string() {
                    // JSON frames become JS values; other text stays a string.
                    Some(text) => js_sys::JSON::parse(&text).unwrap_or(data),
                    None => data,
                };
                on_event(WsEvent::Message(value));
            } else if kind == "close" {
                let c = e.unchecked_ref::<CloseEvent>();
                on_event(WsEvent::Close {
                    code: c.code(),
                    reason: c.reason(),
                });
            } else {
                on_event(WsEvent::Open);
            }
        }));
        let f = Some(handler.as_ref().unchecked_ref());
        ws.set_onopen(f);
        ws.set_onmessage(f);
        ws.set_onclose(f);
        Ok(Self {
            ws,
            _on_event: handler,
            _tracked: Tracked::new(),
        })
    }

    /// Sends a text frame; false if the browser refused (not open).
    pub(crate) fn send(&self, text: &str) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_str(text).is_ok()
    }

    /// Closes with `code` (1000 or 3000–4999) when dropped.
    pub(crate) fn close(self, code: u16, reason: &str) {
        self.clear();
        let _ = self.ws.close_with_code_and_reason(code, reason);
    }

    fn clear(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
    }
}

impl Drop for WsConn {
    fn drop(&mut self) {
        self.clear();
        if matches!(
            self.ws.ready_state(),
            WebSocket::CONNECTING | WebSocket::OPEN
        ) {
            let _ = self.ws.close_with_code(1000);
        }
    }
}
