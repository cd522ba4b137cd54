//! JavaScript / TypeScript API (`wasm-bindgen`): `ConfabClient`,
//! `ConfabRoom`, `ConfabSocket`, `liveHandles()`.

use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Promise, Reflect};
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::socket::TokenProvider;
use crate::{dom, executor, oneshot, wire};
use crate::{
    Client, ClientEvent, ClientOptions, ConnectionState, Error, OverflowPolicy, Payload, Room,
    RoomEvent, Socket, SocketOptions, Subscription,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A user: stable id and display name. */
export interface Member { id: string; name: string }
/** The server's confirmation of a publish / direct / rename / leave. */
export interface Ack { ref?: string; room?: string; offset?: number; ts?: number }
/** A room message (`payload` is whatever the publisher sent). */
export interface ConfabMessage<P = unknown> { room: string; offset: number; from: Member; ts: number; payload: P }
export type ConnectionStateName = "connecting" | "open" | "reconnecting" | "closed";
/** Connection state with its details. */
export interface ConnectionStateInfo {
  state: ConnectionStateName;
  /** reconnecting: attempt number (1-based). */ attempt?: number;
  /** reconnecting: delay before that attempt. */ retryInMs?: number;
  /** closed: WebSocket close code. */ code?: number;
  /** closed: close reason. */ reason?: string;
}
export type RoomStateName = "joining" | "joined" | "leaving" | "left" | "errored";
export interface PresenceDiff { joins: Member[]; leaves: Member[]; updates: Member[] }
/** SDK codes, plus the server's error codes (`not_joined`, `rate_limited`, ...). */
export type ConfabErrorCode =
  | "ack_timeout" | "disconnected" | "closed" | "buffer_full" | "buffer_overflow" | "not_joined"
  | "room_name_invalid" | "serde" | "invalid_url" | "js" | "bad_json" | "unknown_type" | "bad_request"
  | "name_invalid" | "too_large" | "rate_limited" | "unauthorized" | "too_many_rooms" | "unknown_user"
  | "unavailable" | "internal";
/** Every promise the SDK rejects rejects with one of these. */
export interface ConfabError extends Error {
  code: ConfabErrorCode;
  /** The room a server error concerns (e.g. a refused join), when it names one. */
  room?: string;
}
export interface BackoffOptions {
  /** Smallest reconnect delay (default 250). */ minMs?: number;
  /** Largest reconnect delay (default 10000). */ maxMs?: number;
  /** A connection open this long resets the attempt counter (default 5000). */ stableAfterMs?: number;
  /** Give up after this many failed attempts in a row (default: never). */ maxAttempts?: number;
}
/** Returns the token for the next (re)connect, sent as `?token=`. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;
export interface ConfabClientOptions {
  /** Guest display name for the first connection (reconnects use the current one). */ name?: string;
  /** A saved `client.guestToken`: start as that guest (same id after a page reload). */ guestToken?: string;
  /** Several endpoint URLs tried in turn (replaces the constructor's). */ urls?: string[];
  tokenProvider?: TokenProvider;
  /** Reply timeout for publish/direct/rename/join, including time queued offline (default 10000). */ ackTimeoutMs?: number;
  /** Requests that may wait while offline (default 100). */ sendBuffer?: number;
  /** Full buffer: refuse the new request (default) or drop the oldest. */ overflow?: "reject-new" | "drop-oldest";
  /** Ping at least this often (the server's interval is used when shorter). */ heartbeatMs?: number;
  /** Give up on a WebSocket handshake after this long and retry (default 10000). */ connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Messages kept per room for `room.history()` (default 1000). */ historyLimit?: number;
}
export interface ConfabSocketOptions {
  urls?: string[];
  protocols?: string[];
  tokenProvider?: TokenProvider;
  /** Extra query parameters added to the URL. */ query?: Record<string, string>;
  /** Frames kept while offline (default 100). */ sendBuffer?: number;
  overflow?: "reject-new" | "drop-oldest";
  /** Unread messages kept for read()/wait()/iteration (default 10000; 0 = off). */ readBuffer?: number;
  /** Give up on a WebSocket handshake after this long and retry (default 10000). */ connectTimeoutMs?: number;
  backoff?: BackoffOptions;
}
export interface ClientEvents { state: ConnectionStateInfo; welcome: Member; direct: ConfabMessage; error: ConfabError }
/** `error`: the server refused to (re-)join the room (state `errored`; `unauthorized` and `room_name_invalid` are not retried on reconnect). */
export interface RoomEvents { message: ConfabMessage; presence: PresenceDiff; members: Member[]; state: RoomStateName; gap: undefined; error: ConfabError }
export interface SocketEvents { message: unknown; state: ConnectionStateInfo }
export interface ConfabClient {
  /** Adds a listener. */
  on<K extends keyof ClientEvents>(event: K, listener: (e: ClientEvents[K]) => void): void;
  /** Removes a listener added with `on`. */
  off<K extends keyof ClientEvents>(event: K, listener: (e: ClientEvents[K]) => void): void;
}
export interface ConfabRoom {
  on<K extends keyof RoomEvents>(event: K, listener: (e: RoomEvents[K]) => void): void;
  off<K extends keyof RoomEvents>(event: K, listener: (e: RoomEvents[K]) => void): void;
}
export interface ConfabSocket {
  on<K extends keyof SocketEvents>(event: K, listener: (e: SocketEvents[K]) => void): void;
  off<K extends keyof SocketEvents>(event: K, listener: (e: SocketEvents[K]) => void): void;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `ConfabClientOptions` (TypeScript type).
    #[wasm_bindgen(typescript_type = "ConfabClientOptions")]
    pub type JsClientOptions;
    /// `ConfabSocketOptions` (TypeScript type).
    #[wasm_bindgen(typescript_type = "ConfabSocketOptions")]
    pub type JsSocketOptions;
}

/// Number of closures/listeners/timers the SDK holds (0 when every client
/// and socket is closed): for leak tests.
#[wasm_bindgen(js_name = liveHandles)]
pub fn live_handles() -> u32 {
    crate::debug::live_handles() as u32
}

/// A JS `Error` with `code` set to [`Error::code`] (and `room` when the
/// server named one).
pub fn to_js_error(e: &Error) -> JsValue {
    js_error(&e.message(), e.code(), e.room())
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn get_f64(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key).and_then(|v| v.as_f64()).filter(|v| *v >= 0.0)
}

fn get_ms(obj: &JsValue, key: &str) -> Option<Duration> {
    get_f64(obj, key).map(|v| Duration::from_millis(v as u64))
}

fn get_strings(obj: &JsValue, key: &str) -> Option<Vec<String>> {
    let arr = get(obj, key)?.dyn_into::<js_sys::Array>().ok()?;
    Some(arr.iter().filter_map(|v| v.as_string()).collect())
}

/// A JS string, or `undefined`.
fn opt_str(s: Option<String>) -> JsValue {
    s.map_or(JsValue::UNDEFINED, |s| JsValue::from_str(&s))
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
        let cb = dom::callback(Box::new(move |v: JsValue| {
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

fn state_info(st: &ConnectionState) -> JsValue {
    let num = |n: f64| JsValue::from_f64(n);
    match st {
        ConnectionState::Reconnecting { attempt, retry_in } => wire::object(&[
            ("state", st.name().into()),
            ("attempt", num(f64::from(*attempt))),
            ("retryInMs", num(retry_in.as_millis() as f64)),
        ]),
        ConnectionState::Closed { code, reason } => wire::object(&[
            ("state", st.name().into()),
            ("code", num(f64::from(*code))),
            ("reason", reason.as_str().into()),
        ]),
        _ => wire::object(&[("state", st.name().into())]),
    }
}

/// The SDK's JavaScript helpers (one snippet module):
/// - listeners by event name, kept on the JS side (a `Map` of arrays,
///   copied on write so a listener may add/remove listeners while called);
///   a throwing listener is reported with `console.error` and neither stops
///   the others nor unwinds into the SDK;
/// - `Error` objects with `code` (and `room`);
/// - the async iterator of `ConfabSocket.messages()`;
/// - a promise with its `settle(ok, value)` for [`promise`];
/// - calling a token provider and settling its result (a value or a
///   promise; a throw or a rejection gives `undefined`) into a callback.
#[wasm_bindgen(inline_js = "export function listeners() { return new Map(); }
export function on(l, e, f) { l.set(e, [...(l.get(e) ?? []), f]); }
export function off(l, e, f) { const a = l.get(e); if (a) l.set(e, a.filter((g) => g !== f)); }
export function listening(l, e) { return !!l.get(e)?.length; }
export function emit(l, e, v) {
  for (const f of l.get(e) ?? []) { try { f(v); } catch (err) { console.error(err); } }
}
export function jsError(message, code, room) {
  const e = new Error(message);
  e.code = code;
  if (room !== undefined) e.room = room;
  return e;
}
export function deferred() {
  let settle;
  const promise = new Promise((resolve, reject) => { settle = (ok, v) => (ok ? resolve : reject)(v); });
  return { promise, settle };
}
export function settle(f, cb) {
  let v;
  try { v = f(); } catch { cb(undefined); return; }
  Promise.resolve(v).then(cb, () => cb(undefined));
}
export function asyncIterable(sock) {
  return { [Symbol.asyncIterator]() { return { next: async () => {
    const value = await sock.wait();
    return value === undefined ? { done: true, value: undefined } : { done: false, value };
  } }; } };
}")]
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
    fn js_settle(f: &Function, cb: &JsValue);
    #[wasm_bindgen(js_name = asyncIterable)]
    fn async_iterable(sock: JsSocket) -> JsValue;
}

struct Listeners(JsValue);

impl Default for Listeners {
    fn default() -> Self {
        Self(js_listeners())
    }
}

impl Listeners {
    fn on(&self, event: JsValue, f: JsValue) {
        js_on(&self.0, &event, &f);
    }

    fn off(&self, event: JsValue, f: JsValue) {
        js_off(&self.0, &event, &f);
    }

    /// Calls the listeners of `event` with `value()` (built only if any).
    fn emit(&self, event: &str, value: impl FnOnce() -> JsValue) {
        let event = JsValue::from_str(event);
        if js_listening(&self.0, &event) {
            js_emit(&self.0, &event, &value());
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<JsValue, Error>>>>;

/// One `future_to_promise` instantiation for every method (smaller wasm).
fn promise(fut: impl Future<Output = Result<JsValue, Error>> + 'static) -> Promise {
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

fn reject(e: Error) -> Promise {
    Promise::reject(&to_js_error(&e))
}

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
    /// Connects (in the background) to the native endpoint `url`.
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, options: Option<JsClientOptions>) -> JsClient {
        let o: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        let mut opts = ClientOptions::new(url);
        // Fields are set in place (not through the by-value builders) and
        // the shared socket options by one helper: less wasm.
        socket_options(&o, &mut opts.socket);
        // The client queues requests itself (its socket keeps no buffer).
        opts.overflow = opts.socket.overflow;
        if let Some(n) = get_f64(&o, "sendBuffer") {
            opts.send_buffer = n as usize;
        }
        for (key, param) in [("name", "name"), ("guestToken", "guest")] {
            if let Some(v) = get_string(&o, key) {
                opts.socket.set_query_mut(param, Some(&v));
            }
        }
        opts.ack_timeout = get_ms(&o, "ackTimeoutMs").unwrap_or(opts.ack_timeout);
        opts.heartbeat = get_ms(&o, "heartbeatMs");
        if let Some(n) = get_f64(&o, "historyLimit") {
            opts.history_limit = n as usize;
        }
        let client = Client::connect(opts);
        let listeners = Rc::new(Listeners::default());
        let l = listeners.clone();
        let sub = client.on_event(move |ev| match ev {
            ClientEvent::StateChanged(st) => l.emit("state", || state_info(st)),
            ClientEvent::Welcome(m) => l.emit("welcome", || wire::member_js(m)),
            ClientEvent::Direct(m) => l.emit("direct", || wire::message_js(m)),
            ClientEvent::Error(e) => l.emit("error", || to_js_error(e)),
        });
        JsClient {
            client,
            listeners,
            _sub: sub,
        }
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
            .map_or(JsValue::UNDEFINED, |m| wire::member_js(&m))
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
    #[wasm_bindgen(unchecked_return_type = "Promise<Ack>")]
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
        promise(async move { fut.await.map(|a| wire::ack_js(&a)) })
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

fn ack_promise(fut: crate::AckFuture) -> Promise {
    promise(async move { fut.await.map(|a| wire::ack_js(&a)) })
}

/// A joined room (see the Rust [`Room`]).
#[wasm_bindgen(js_name = ConfabRoom)]
pub struct JsRoom {
    room: Room,
    listeners: Rc<Listeners>,
    _sub: Subscription,
}

impl JsRoom {
    fn new(room: Room) -> Self {
        let listeners = Rc::new(Listeners::default());
        let l = listeners.clone();
        let sub = room.on_event(move |ev| match ev {
            RoomEvent::Message(m) => l.emit("message", || wire::message_js(m)),
            RoomEvent::Presence {
                joins,
                leaves,
                updates,
            } => l.emit("presence", || {
                wire::object(&[
                    ("joins", wire::members_js(joins)),
                    ("leaves", wire::members_js(leaves)),
                    ("updates", wire::members_js(updates)),
                ])
            }),
            RoomEvent::Members(m) => l.emit("members", || wire::members_js(m)),
            RoomEvent::StateChanged(s) => l.emit("state", || JsValue::from_str(s.name())),
            RoomEvent::Gap => l.emit("gap", || JsValue::UNDEFINED),
            RoomEvent::Error(e) => l.emit("error", || to_js_error(e)),
        });
        Self {
            room,
            listeners,
            _sub: sub,
        }
    }
}

#[wasm_bindgen(js_class = ConfabRoom)]
impl JsRoom {
    /// Room name.
    #[wasm_bindgen(getter, unchecked_return_type = "string")]
    pub fn name(&self) -> JsValue {
        JsValue::from_str(self.room.name())
    }

    /// `"joining" | "joined" | "leaving" | "left" | "errored"`.
    #[wasm_bindgen(getter, unchecked_return_type = "RoomStateName")]
    pub fn state(&self) -> JsValue {
        JsValue::from_str(self.room.state().name())
    }

    /// Last seen offset.
    #[wasm_bindgen(getter)]
    pub fn offset(&self) -> f64 {
        self.room.offset() as f64
    }

    /// How many resumes could not be recovered (`gap` events).
    #[wasm_bindgen(getter)]
    pub fn gaps(&self) -> u32 {
        self.room.gaps()
    }

    /// Who is in the room.
    #[wasm_bindgen(unchecked_return_type = "Member[]")]
    pub fn members(&self) -> JsValue {
        wire::members_js(&self.room.members())
    }

    /// Messages seen, oldest first, deduplicated.
    #[wasm_bindgen(unchecked_return_type = "ConfabMessage[]")]
    pub fn history(&self) -> JsValue {
        self.room
            .history()
            .iter()
            .map(wire::message_js)
            .collect::<js_sys::Array>()
            .into()
    }

    /// Publishes a JSON-compatible value; resolves with the ack.
    #[wasm_bindgen(unchecked_return_type = "Promise<Ack>")]
    pub fn publish(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
    ) -> Promise {
        if payload.is_undefined() || payload.is_function() || payload.is_symbol() {
            return reject(Error::Serde("payload must be JSON-compatible".to_owned()));
        }
        ack_promise(self.room.publish_payload(Payload::from_js(payload)))
    }

    /// Leaves the room.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn leave(&self) -> Promise {
        let fut = self.room.leave();
        promise(async move { fut.await.map(|()| JsValue::UNDEFINED) })
    }

    /// Adds a listener (`message`, `presence`, `members`, `state`, `gap`, `error`).
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
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, options: Option<JsSocketOptions>) -> JsSocket {
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
        let socket = Socket::open(opts);
        let listeners = Rc::new(Listeners::default());
        let l = listeners.clone();
        let s1 = socket.on_message(move |v| l.emit("message", || v.clone()));
        let l = listeners.clone();
        let s2 = socket.on_state(move |st| l.emit("state", || state_info(st)));
        JsSocket {
            socket,
            listeners,
            _subs: vec![s1, s2],
        }
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
