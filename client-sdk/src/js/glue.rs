//! Bindings to `glue.js` (the SDK's JS helpers) and what is built on them:
//! listener lists kept on the JS side, `Error` objects with a `code`, and
//! promises settled from Rust futures.

use std::future::Future;
use std::pin::Pin;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use super::convert::ack_js;
use crate::runtime::executor;
use crate::{AckFuture, Error};

#[wasm_bindgen(module = "/src/js/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = listeners)]
    fn js_listeners() -> JsValue;
    #[wasm_bindgen(js_name = on)]
    fn js_on(l: &JsValue, event: &JsValue, f: &JsValue);
    #[wasm_bindgen(js_name = off)]
    fn js_off(l: &JsValue, event: &JsValue, f: &JsValue);
    #[wasm_bindgen(js_name = listening)]
    fn js_listening(l: &JsValue, event: &JsValue) -> bool;
    #[wasm_bindgen(js_name = emit)]
    fn js_emit(l: &JsValue, event: &JsValue, value: &JsValue);
    #[wasm_bindgen(js_name = jsError)]
    fn js_error(message: &str, code: &str, room: Option<&str>) -> JsValue;
    type Deferred;
    #[wasm_bindgen(js_name = deferred)]
    fn js_deferred() -> Deferred;
    #[wasm_bindgen(method, getter)]
    fn promise(this: &Deferred) -> Promise;
    #[wasm_bindgen(method)]
    fn settle(this: &Deferred, ok: bool, value: &JsValue);
    #[wasm_bindgen(js_name = settle)]
    pub(super) fn js_settle(f: &Function, cb: &JsValue);
}

/// A JS `Error` with `code` set to [`Error::code`] (and `room` when the
/// server named one).
pub(super) fn to_js_error(e: &Error) -> JsValue {
    js_error(&e.message(), e.code(), e.room())
}

/// The constructors' check: without a global `WebSocket` (a server
/// render in Node.js 20, say) they throw a `no_websocket` error at once
/// instead of a client that never connects.
pub(super) fn require_websocket() -> Result<(), JsValue> {
    if crate::transport::ws::available() {
        Ok(())
    } else {
        Err(to_js_error(&Error::NoWebSocket))
    }
}

/// Listeners by event name (a JS `Map`, see `glue.js`).
pub(super) struct Listeners(JsValue);

impl Default for Listeners {
    fn default() -> Self {
        Self(js_listeners())
    }
}

impl Listeners {
    pub(super) fn on(&self, event: JsValue, f: JsValue) {
        js_on(&self.0, &event, &f);
    }

    pub(super) fn off(&self, event: JsValue, f: JsValue) {
        js_off(&self.0, &event, &f);
    }

    /// Calls the listeners of `event` with `value()` (built only if any).
    pub(super) fn emit(&self, event: &str, value: impl FnOnce() -> JsValue) {
        let event = JsValue::from_str(event);
        if js_listening(&self.0, &event) {
            js_emit(&self.0, &event, &value());
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<JsValue, Error>>>>;

/// One `future_to_promise` instantiation for every method (smaller wasm).
pub(super) fn promise(fut: impl Future<Output = Result<JsValue, Error>> + 'static) -> Promise {
    boxed_promise(Box::pin(fut))
}

/// Like `future_to_promise`, with the promise made on the JS side (no
/// executor closure type of js-sys in the wasm).
#[inline(never)]
fn boxed_promise(fut: BoxFuture) -> Promise {
    let d = js_deferred();
    let promise = d.promise();
    executor::spawn(async move {
        match fut.await {
            Ok(v) => d.settle(true, &v),
            Err(e) => d.settle(false, &to_js_error(&e)),
        }
    });
    promise
}

pub(super) fn reject(e: Error) -> Promise {
    Promise::reject(&to_js_error(&e))
}

/// The promise of an [`AckFuture`]: resolves with the ack as `{ref, room, offset, ts}`.
pub(super) fn ack_promise(fut: AckFuture) -> Promise {
    promise(async move { fut.await.map(|a| ack_js(&a)) })
}
