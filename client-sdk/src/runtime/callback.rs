//! The one closure type the SDK hands to the browser.
//!
//! Timers, DOM listeners, WebSocket handlers, the executor's microtask and
//! the token provider's callback are all [`Callback`]s (`FnMut(JsValue)`):
//! one wasm-bindgen shim for all of them keeps the wasm small.

use wasm_bindgen::prelude::*;

/// The one closure type passed to the browser.
pub(crate) type Callback = Closure<dyn FnMut(JsValue)>;

/// Wraps `f` as a [`Callback`].
pub(crate) fn callback(f: Box<dyn FnMut(JsValue)>) -> Callback {
    Closure::wrap(f)
}
