//! [`Socket`]: a reconnecting JSON WebSocket for any server.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::events::{Emitter, Subscription};
use crate::runtime::cell::Borrows;
use crate::runtime::dom::{visible, window, DomListener};
use crate::runtime::executor;
use crate::runtime::timer::{now, Timer};
use crate::state::{ConnectionState, StateMachine};
use crate::transport::backoff::Attempts;
use crate::transport::buffer::{Pushed, SendBuffer};
use crate::transport::inbox::Inbox;
use crate::transport::options::{build_url, set_param, SocketOptions};
use crate::transport::ws::{WsConn, WsEvent};
use crate::{Error, Result};

struct Inner {
    opts: SocketOptions,
    state: StateMachine<ConnectionState>,
    attempts: Attempts,
    conn: Option<WsConn>,
    retry: Option<Timer>,
    /// Fires if the handshake takes longer than `connect_timeout`.
    connect_guard: Option<Timer>,
    env: Vec<DomListener>,
    out: SendBuffer<String>,
    inbox: Inbox<JsValue>,
    url_index: usize,
    generation: u64,
}

struct Shared {
    inner: RefCell<Inner>,
    on_state: Emitter<ConnectionState>,
    on_message: Emitter<JsValue>,
}

/// A reconnecting JSON WebSocket for any server (the native Confab
/// endpoint, the Django-Channels-compatible `/ws/chat/{room}/`, anything
/// speaking JSON text frames).
///
/// - connects at once and reconnects with jittered backoff until
///   [`Socket::close`]; retries immediately when the page comes back
///   online or visible;
/// - [`Socket::send`] while not open queues in a bounded buffer flushed on open;
/// - incoming JSON frames are parsed with `JSON.parse` and handed out as
///   `JsValue`s: [`Socket::on_message`], or the dwebsocket-style
///   [`Socket::has_messages`]/[`Socket::count_messages`]/[`Socket::read`]/
///   [`Socket::wait`], or the [`Socket::messages`] `Stream`.
///
/// `Socket` is a cheap `Clone` handle. Dropping the last handle closes it.
///
/// ```no_run
/// use confab_client::{Socket, SocketOptions};
/// # async fn run() -> confab_client::Result<()> {
/// let sock = Socket::open(SocketOptions::new("ws://127.0.0.1:8000/ws/chat/lobby/"));
/// sock.send(&serde_json_like::Msg { message: "hi".into() })?;
/// while let Some(v) = sock.wait().await {
///     web_sys_log(&v);
/// }
/// # Ok(()) }
/// # mod serde_json_like { #[derive(serde::Serialize)] pub struct Msg { pub message: String } }
/// # fn web_sys_log(_: &wasm_bindgen::JsValue) {}
/// ```
#[derive(Clone)]
pub struct Socket {
    shared: Rc<Shared>,
    _owner: Rc<Owner>,
}

/// Closes the socket when the last user handle goes away.
struct Owner(Weak<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            close(&shared, 1000, "");
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("state", &self.state())
            .finish()
    }
}

impl Socket {
    /// Opens (in the background) and keeps reconnecting until closed.
    pub fn open(opts: SocketOptions) -> Self {
        let inner = Inner {
            out: SendBuffer::new(opts.send_buffer, opts.overflow),
            inbox: Inbox::new(opts.read_buffer),
            opts,
            state: StateMachine::new(ConnectionState::Connecting),
            attempts: Attempts::default(),
            conn: None,
            retry: None,
            connect_guard: None,
            env: Vec::new(),
            url_index: 0,
            generation: 0,
        };
        let shared = Rc::new(Shared {
            inner: RefCell::new(inner),
            on_state: Emitter::default(),
            on_message: Emitter::default(),
        });
        install_env_listeners(&shared);
        connect(&shared);
        Socket {
            _owner: Rc::new(Owner(Rc::downgrade(&shared))),
            shared,
        }
    }

    /// Current connection state.
    pub fn state(&self) -> ConnectionState {
        self.shared.inner.read().state.get().clone()
    }

    /// Whether the WebSocket is open right now.
    pub fn is_open(&self) -> bool {
        matches!(self.state(), ConnectionState::Open)
    }

    /// Serializes `value` to JSON and sends it; queued while not open.
    /// Fails with [`Error::Closed`] after `close()`, [`Error::BufferFull`]
    /// when the offline buffer is full.
    pub fn send<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.send_text(crate::payload::to_json_text(value)?)
    }

    /// Sends a JS value as JSON (`JSON.stringify`); queued while not open.
    pub fn send_js(&self, value: &JsValue) -> Result<()> {
        let text = js_sys::JSON::stringify(value).map_err(|e| Error::js(&e))?;
        self.send_text(text.as_string().unwrap_or_default())
    }

    /// Sends a text frame as is; queued while not open.
    pub fn send_text(&self, text: String) -> Result<()> {
        let mut inner = self.shared.inner.write();
        if matches!(inner.state.get(), ConnectionState::Closed { .. }) {
            return Err(Error::Closed);
        }
        if let Some(conn) = &inner.conn {
            if inner.out.is_empty() && conn.send(&text) {
                return Ok(());
            }
        }
        match inner.out.push(text) {
            Pushed::Queued | Pushed::Evicted(_) => Ok(()),
            Pushed::Rejected(_) => Err(Error::BufferFull),
        }
    }

    /// Sends now if open, never buffers (used by the protocol layer, which
    /// has its own queue). Returns whether it was sent.
    pub(crate) fn send_now(&self, text: &str) -> bool {
        let inner = self.shared.inner.read();
        inner.conn.as_ref().is_some_and(|c| c.send(text))
    }

    /// Frames waiting in the offline buffer.
    pub fn buffered(&self) -> usize {
        self.shared.inner.read().out.len()
    }

    /// Whether unread messages are queued.
    pub fn has_messages(&self) -> bool {
        self.shared.inner.read().inbox.len() > 0
    }

    /// Number of unread messages.
    pub fn count_messages(&self) -> usize {
        self.shared.inner.read().inbox.len()
    }

    /// Next unread message, without waiting.
    pub fn read(&self) -> Option<JsValue> {
        self.shared.inner.write().inbox.pop()
    }

    /// Next message; waits for one; `None` once closed for good and drained.
    pub fn wait(&self) -> Next {
        Next {
            shared: self.shared.clone(),
        }
    }

    /// The messages as a `futures` `Stream` (ends when closed for good).
    pub fn messages(&self) -> Messages {
        Messages {
            shared: self.shared.clone(),
        }
    }

    /// Calls `f` with every message as it arrives (independent of the read queue).
    pub fn on_message(&self, f: impl Fn(&JsValue) + 'static) -> Subscription {
        self.shared.on_message.subscribe(f)
    }

    /// Calls `f` on every state change.
    pub fn on_state(&self, f: impl Fn(&ConnectionState) + 'static) -> Subscription {
        self.shared.on_state.subscribe(f)
    }

    /// Drops the current link (if any) and reconnects now, e.g. after a
    /// heartbeat timeout. No-op once closed.
    pub fn reconnect(&self) {
        force_reconnect(&self.shared, "client reconnect");
    }

    /// [`Socket::reconnect`] with the close reason sent to the server (the
    /// protocol layer's "heartbeat timeout").
    pub(crate) fn reconnect_because(&self, reason: &str) {
        force_reconnect(&self.shared, reason);
    }

    /// Closes for good with code 1000: no more reconnects; queued frames are
    /// dropped; `wait()` returns `None` once the read queue is drained.
    pub fn close(&self) {
        close(&self.shared, 1000, "");
    }

    /// Sets (or with `None` removes) query parameter `key` for the next
    /// (re)connects; the current connection is not affected.
    pub fn set_query(&self, key: &str, value: Option<&str>) {
        set_param(&mut self.shared.inner.write().opts.query, key, value);
    }
}

fn set_state(shared: &Rc<Shared>, new: ConnectionState) {
    let changed = shared.inner.write().state.set(new);
    if let Some((_, new)) = changed {
        if matches!(new, ConnectionState::Closed { .. }) {
            wake_all(shared);
        }
        shared.on_state.emit(&new);
    }
}

fn wake_all(shared: &Shared) {
    let wakers = shared.inner.write().inbox.wakers();
    wakers.into_iter().for_each(Waker::wake);
}

fn install_env_listeners(shared: &Rc<Shared>) {
    let Some(win) = window() else { return };
    let mut env = Vec::new();
    let weak = Rc::downgrade(shared);
    env.extend(DomListener::new(&win, "online", move |_| {
        if let Some(s) = weak.upgrade() {
            retry_now(&s);
        }
    }));
    if let Some(doc) = win.document() {
        let weak = Rc::downgrade(shared);
        let d = doc.clone();
        env.extend(DomListener::new(&doc, "visibilitychange", move |_| {
            if visible(&d) {
                if let Some(s) = weak.upgrade() {
                    retry_now(&s);
                }
            }
        }));
    }
    shared.inner.write().env = env;
}

/// The page came back: skip the rest of the backoff delay.
fn retry_now(shared: &Rc<Shared>) {
    let waiting = matches!(
        shared.inner.read().state.get(),
        ConnectionState::Reconnecting { .. }
    );
    if waiting {
        shared.inner.write().retry = None;
        connect(shared);
    }
}

fn connect(shared: &Rc<Shared>) {
    set_state(shared, ConnectionState::Connecting);
    let (generation, provider) = {
        let mut inner = shared.inner.write();
        if matches!(inner.state.get(), ConnectionState::Closed { .. }) {
            return;
        }
        inner.generation += 1;
        (inner.generation, inner.opts.token_provider.clone())
    };
    match provider {
        None => open_ws(shared, generation, None),
        Some(provider) => {
            let weak = Rc::downgrade(shared);
            executor::spawn(async move {
                let token = provider().await;
                if let Some(shared) = weak.upgrade() {
                    open_ws(&shared, generation, token);
                }
            });
        }
    }
}

fn open_ws(shared: &Rc<Shared>, generation: u64, token: Option<String>) {
    let opened = {
        let mut inner = shared.inner.write();
        if inner.generation != generation
            || !matches!(inner.state.get(), ConnectionState::Connecting)
        {
            return; // closed or superseded while the token was fetched
        }
        let idx = inner.url_index % inner.opts.urls.len().max(1);
        let base = inner.opts.urls.get(idx).cloned().unwrap_or_default();
        let url = build_url(&inner.opts, &base, token.as_deref());
        let weak = Rc::downgrade(shared);
        let handler = move |ev: WsEvent| {
            if let Some(s) = weak.upgrade() {
                on_ws_event(&s, ev);
            }
        };
        WsConn::open(&url, &inner.opts.protocols, handler).map(|conn| {
            inner.conn = Some(conn);
            let weak = Rc::downgrade(shared);
            let ms = inner.opts.connect_timeout.as_millis() as u32;
            inner.connect_guard = Some(Timer::once(ms, move || {
                if let Some(s) = weak.upgrade() {
                    s.inner.write().connect_guard = None;
                    if matches!(s.inner.read().state.get(), ConnectionState::Connecting) {
                        force_reconnect(&s, "connect timeout");
                    }
                }
            }));
        })
    };
    if let Err(e) = opened {
        // A URL the browser refuses, or no WebSocket at all, will never
        // work: stop, with the reason.
        set_state(
            shared,
            ConnectionState::Closed {
                code: 1006,
                reason: e.message(),
            },
        );
        teardown(shared);
    }
}

fn on_ws_event(shared: &Rc<Shared>, ev: WsEvent) {
    match ev {
        WsEvent::Open => {
            {
                let mut inner = shared.inner.write();
                inner.attempts.opened(now());
                inner.connect_guard = None;
                let Inner { conn, out, .. } = &mut *inner;
                if let Some(conn) = conn {
                    // Flush the offline buffer in order; keep what fails.
                    let mut rest = Vec::new();
                    for text in out.drain() {
                        if !rest.is_empty() || !conn.send(&text) {
                            rest.push(text);
                        }
                    }
                    for t in rest {
                        let _ = out.push(t);
                    }
                }
            }
            set_state(shared, ConnectionState::Open);
        }
        WsEvent::Message(value) => {
            let readers = shared.inner.write().inbox.push(value.clone());
            readers.into_iter().for_each(Waker::wake);
            shared.on_message.emit(&value);
        }
        WsEvent::Close { code, reason } => {
            let (conn, guard) = {
                let mut inner = shared.inner.write();
                (inner.conn.take(), inner.connect_guard.take())
            };
            drop((conn, guard));
            link_lost(shared, code, reason);
        }
    }
}

/// The link is gone (closed by the server, failed to open, or dropped by
/// us): reconnect with backoff, or stop for good.
fn link_lost(shared: &Rc<Shared>, code: u16, reason: String) {
    if !confab_protocol::close::should_reconnect(code) {
        set_state(shared, ConnectionState::Closed { code, reason });
        teardown(shared);
        return;
    }
    let (attempt, exhausted, delay) = {
        let mut inner = shared.inner.write();
        let backoff = inner.opts.backoff;
        let attempt = inner.attempts.closed(now(), &backoff);
        inner.url_index += 1;
        let exhausted = inner.attempts.exhausted(&backoff);
        (
            attempt,
            exhausted,
            backoff.delay(attempt, js_sys::Math::random()),
        )
    };
    if exhausted {
        set_state(
            shared,
            ConnectionState::Closed {
                code,
                reason: "max attempts".to_owned(),
            },
        );
        teardown(shared);
        return;
    }
    let weak = Rc::downgrade(shared);
    let timer = Timer::once(delay.as_millis() as u32, move || {
        if let Some(s) = weak.upgrade() {
            s.inner.write().retry = None;
            connect(&s);
        }
    });
    shared.inner.write().retry = Some(timer);
    set_state(
        shared,
        ConnectionState::Reconnecting {
            attempt,
            retry_in: delay,
        },
    );
}

fn force_reconnect(shared: &Rc<Shared>, reason: &str) {
    let conn = {
        let inner = &mut *shared.inner.write();
        if matches!(inner.state.get(), ConnectionState::Closed { .. }) {
            return;
        }
        inner.retry = None;
        inner.connect_guard = None;
        inner.conn.take()
    };
    match conn {
        Some(c) => {
            c.close(4000, reason);
            link_lost(shared, 1006, reason.to_owned());
        }
        None => connect(shared),
    }
}

fn close(shared: &Rc<Shared>, code: u16, reason: &str) {
    let conn = shared.inner.write().conn.take();
    if let Some(c) = conn {
        c.close(code, reason);
    }
    set_state(
        shared,
        ConnectionState::Closed {
            code,
            reason: reason.to_owned(),
        },
    );
    teardown(shared);
}

/// Releases every callback the socket owns (closed for good).
fn teardown(shared: &Rc<Shared>) {
    let (conn, retry, env) = {
        let mut inner = shared.inner.write();
        inner.out.drain().for_each(drop);
        (
            inner.conn.take(),
            (inner.retry.take(), inner.connect_guard.take()),
            std::mem::take(&mut inner.env),
        )
    };
    drop((conn, retry, env));
    wake_all(shared);
}

/// Future of [`Socket::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct Next {
    shared: Rc<Shared>,
}

fn poll_next(shared: &Shared, cx: &mut Context<'_>) -> Poll<Option<JsValue>> {
    let inner = &mut *shared.inner.write();
    let closed = matches!(inner.state.get(), ConnectionState::Closed { .. });
    inner.inbox.poll(closed, cx)
}

impl Future for Next {
    type Output = Option<JsValue>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        poll_next(&self.shared, cx)
    }
}

/// `Stream` of [`Socket::messages`].
#[must_use = "streams do nothing unless polled"]
pub struct Messages {
    shared: Rc<Shared>,
}

impl futures_core::Stream for Messages {
    type Item = JsValue;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<JsValue>> {
        poll_next(&self.shared, cx)
    }
}
