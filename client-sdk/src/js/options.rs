//! The options objects of the JS constructors (`ConfabClientOptions`,
//! `ConfabSocketOptions` in `types.d.ts`), read into the Rust options.

use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::glue::js_settle;
use crate::runtime::callback::callback;
use crate::runtime::oneshot;
use crate::{ClientOptions, OverflowPolicy, SocketOptions, TokenProvider};

#[wasm_bindgen]
extern "C" {
    /// `ConfabClientOptions` (TypeScript type).
    #[wasm_bindgen(typescript_type = "ConfabClientOptions")]
    pub type JsClientOptions;
    /// `ConfabSocketOptions` (TypeScript type).
    #[wasm_bindgen(typescript_type = "ConfabSocketOptions")]
    pub type JsSocketOptions;
    /// `HistoryOptions` (TypeScript type).
    #[wasm_bindgen(typescript_type = "HistoryOptions")]
    pub type JsHistoryOptions;
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

pub(super) fn get_f64(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key).and_then(|v| v.as_f64()).filter(|v| *v >= 0.0)
}

fn get_ms(obj: &JsValue, key: &str) -> Option<Duration> {
    get_f64(obj, key).map(|v| Duration::from_millis(v as u64))
}

fn get_strings(obj: &JsValue, key: &str) -> Option<Vec<String>> {
    let arr = get(obj, key)?.dyn_into::<js_sys::Array>().ok()?;
    Some(arr.iter().filter_map(|v| v.as_string()).collect())
}

fn get_string(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key)?.as_string()
}

/// The options `ConfabClient` and `ConfabSocket` share: `urls`, `overflow`,
/// `connectTimeoutMs`, `backoff`, `tokenProvider`.
fn socket_options(o: &JsValue, opts: &mut SocketOptions) {
    if let Some(urls) = get_strings(o, "urls").filter(|u| !u.is_empty()) {
        opts.set_urls(urls);
    }
    if get_string(o, "overflow").as_deref() == Some("drop-oldest") {
        opts.overflow = OverflowPolicy::DropOldest;
    }
    if let Some(t) = get_ms(o, "connectTimeoutMs") {
        opts.connect_timeout = t;
    }
    if let Some(b) = get(o, "backoff") {
        let d = &mut opts.backoff;
        d.min = get_ms(&b, "minMs").unwrap_or(d.min);
        d.max = get_ms(&b, "maxMs").unwrap_or(d.max);
        d.stable_after = get_ms(&b, "stableAfterMs").unwrap_or(d.stable_after);
        d.max_attempts = get_f64(&b, "maxAttempts").map(|n| n as u32);
    }
    opts.token_provider = get_token_provider(o);
}

fn get_token_provider(obj: &JsValue) -> Option<TokenProvider> {
    let f = get(obj, "tokenProvider")?.dyn_into::<Function>().ok()?;
    Some(Rc::new(move || {
        // The JS side calls `f` and settles its (maybe) promise into `cb`:
        // no `JsFuture` (and its own closure type) in the wasm.
        let (tx, rx) = oneshot::channel();
        let mut tx = Some(tx);
        let cb = callback(Box::new(move |v: JsValue| {
            if let Some(tx) = tx.take() {
                tx.send(v.as_string());
            }
        }));
        js_settle(&f, cb.as_ref());
        Box::pin(async move {
            let token = rx.await.flatten();
            drop(cb);
            token
        })
    }))
}

/// `new ConfabClient(url, options)`.
pub(super) fn client_options(url: String, options: Option<JsClientOptions>) -> ClientOptions {
    let o: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
    let mut opts = ClientOptions::new(url);
    // Fields are set in place (not through the by-value builders) and
    // the shared socket options by one helper: less wasm.
    socket_options(&o, &mut opts.socket);
    // The client queues requests itself (its socket keeps no buffer).
    opts.session.overflow = opts.socket.overflow;
    // The provider also refreshes the token of a live connection.
    opts.session.token_provider = opts.socket.token_provider.clone();
    if let Some(n) = get_f64(&o, "sendBuffer") {
        opts.session.send_buffer = n as usize;
    }
    for (key, param) in [("name", "name"), ("guestToken", "guest")] {
        if let Some(v) = get_string(&o, key) {
            opts.socket.set_query_mut(param, Some(&v));
        }
    }
    opts.session.ack_timeout = get_ms(&o, "ackTimeoutMs").unwrap_or(opts.session.ack_timeout);
    opts.session.heartbeat = get_ms(&o, "heartbeatMs");
    if let Some(n) = get_f64(&o, "historyLimit") {
        opts.session.history_limit = n as usize;
    }
    opts
}

/// `new ConfabSocket(url, options)`.
pub(super) fn socket_options_of(url: String, options: Option<JsSocketOptions>) -> SocketOptions {
    let o: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
    let mut opts = SocketOptions::new(url);
    socket_options(&o, &mut opts);
    if let Some(n) = get_f64(&o, "sendBuffer") {
        opts.send_buffer = n as usize;
    }
    if let Some(p) = get_strings(&o, "protocols") {
        opts.protocols = p;
    }
    if let Some(n) = get_f64(&o, "readBuffer") {
        opts.read_buffer = n as usize;
    }
    if let Some(q) = get(&o, "query") {
        let entries = js_sys::Object::entries(q.unchecked_ref());
        for e in entries.iter() {
            let pair: js_sys::Array = e.unchecked_into();
            if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                opts.query.push((k, v));
            }
        }
    }
    opts
}
