//! The session core: the Confab protocol state machine that
//! [`crate::Client`] and [`crate::Room`] are thin handles over.
//!
//! One [`Session`] per client owns the [`Socket`], the requests waiting for
//! their reply ([`pending`]), the rooms with their resume cursors ([`room`],
//! [`cursor`]) and the heartbeat ([`heartbeat`]). Commands from the handles
//! come in here; frames and connection changes from the socket come in
//! through [`dispatch`]. Frames are read and written by [`wire`].
//!
//! The handles never reach into this state: they call the methods below,
//! which update it and emit [`ClientEvent`]s / [`RoomEvent`]s.

mod ack;
mod cursor;
mod dispatch;
mod heartbeat;
mod pending;
mod refs;
mod room;
pub(crate) mod wire;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use confab_protocol::Ack;
use wasm_bindgen::JsValue;

pub(crate) use ack::with_timeout;
pub use ack::AckFuture;
pub(crate) use room::RoomCore;
pub use room::RoomEvent;

use crate::events::{Emitter, Subscription};
use crate::runtime::cell::Borrows;
use crate::runtime::executor;
use crate::runtime::oneshot;
use crate::runtime::timer::{now, Ticker, Timer};
use crate::runtime::vecmap::VecMap;
use crate::state::{ConnectionState, RoomState};
use crate::transport::buffer::OverflowPolicy;
use crate::{Error, HistoryPage, Member, Payload, Result, RoomMessage, Socket, TokenProvider};
use ack::{Reply, Request};
use heartbeat::Heartbeat;
use pending::{Added, Pending};
use refs::ref_text;

/// Client-wide events (see [`crate::Client::on_event`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The connection state changed.
    StateChanged(ConnectionState),
    /// The server greeted this connection (first frame after every connect).
    Welcome(Member),
    /// A direct message for this user (or sent by this user from another
    /// connection), live, whether or not its `dm:` room is joined.
    Direct(RoomMessage),
    /// A server error not tied to a request of this client.
    Error(Error),
}

/// The protocol settings of a session (the rest of
/// [`crate::ClientOptions`] configures its socket).
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) ack_timeout: Duration,
    pub(crate) send_buffer: usize,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) history_limit: usize,
    /// The socket's token provider too: asked again before the token of
    /// the live connection expires (`refresh`).
    pub(crate) token_provider: Option<TokenProvider>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("ack_timeout", &self.ack_timeout)
            .field("send_buffer", &self.send_buffer)
            .field("history_limit", &self.history_limit)
            .finish_non_exhaustive()
    }
}

/// The protocol state, behind the session's one `RefCell`.
struct Core {
    socket: Socket,
    config: Config,
    me: Option<Member>,
    session_id: Option<String>,
    guest_token: Option<String>,
    /// A `welcome` arrived on the current connection: requests may be sent.
    welcomed: bool,
    heartbeat: Heartbeat,
    ticker: Option<Ticker>,
    rooms: VecMap<String, Rc<RoomCore>>,
    pending: Pending<Request>,
    /// The timer at the earliest request deadline, and that deadline.
    sweep: Option<(f64, Timer)>,
    /// The `ref` of each join in flight, to route its reply to its room.
    join_refs: VecMap<String, String>,
    /// Highest offset seen per `dm:` room that is not joined, on this
    /// connection (reset by `welcome`: a restarted server may restart
    /// offsets), so [`ClientEvent::Direct`] fires once per `(room, offset)`.
    dm_seen: VecMap<String, u64>,
    next_ref: u64,
    /// This client's prefix of client message ids (random), and the
    /// counter after it: `cid` = prefix + `.` + counter.
    cid_prefix: String,
    next_cid: u64,
    /// Counts `welcome`s: a refresh started on an earlier connection
    /// does not reschedule on this one.
    welcomes: u64,
    /// Fires when the token should be refreshed (token users).
    refresh: Option<Timer>,
}

/// One client's protocol session (see the module docs).
pub(crate) struct Session {
    core: RefCell<Core>,
    events: Emitter<ClientEvent>,
    socket_subs: RefCell<Vec<Subscription>>,
}

impl Session {
    /// Runs the protocol over `socket` (already connecting).
    pub(crate) fn start(socket: Socket, config: Config) -> Rc<Session> {
        let pending = Pending::new(config.send_buffer, config.overflow);
        let session = Rc::new(Session {
            core: RefCell::new(Core {
                socket: socket.clone(),
                config,
                me: None,
                session_id: None,
                guest_token: None,
                welcomed: false,
                heartbeat: Heartbeat::default(),
                ticker: None,
                rooms: VecMap::default(),
                pending,
                sweep: None,
                join_refs: VecMap::default(),
                dm_seen: VecMap::default(),
                next_ref: 0,
                cid_prefix: cid_prefix(),
                next_cid: 0,
                welcomes: 0,
                refresh: None,
            }),
            events: Emitter::default(),
            socket_subs: RefCell::new(Vec::new()),
        });
        let weak = Rc::downgrade(&session);
        let on_state = socket.on_state(move |st| {
            if let Some(s) = weak.upgrade() {
                s.on_socket_state(st);
            }
        });
        let weak = Rc::downgrade(&session);
        let on_msg = socket.on_message(move |v| {
            if let Some(s) = weak.upgrade() {
                s.on_frame(v);
            }
        });
        *session.socket_subs.write() = vec![on_state, on_msg];
        session
    }

    pub(crate) fn socket(&self) -> Socket {
        self.core.read().socket.clone()
    }

    pub(crate) fn me(&self) -> Option<Member> {
        self.core.read().me.clone()
    }

    pub(crate) fn guest_token(&self) -> Option<String> {
        self.core.read().guest_token.clone()
    }

    pub(crate) fn session_id(&self) -> Option<String> {
        self.core.read().session_id.clone()
    }

    pub(crate) fn ack_timeout(&self) -> Duration {
        self.core.read().config.ack_timeout
    }

    /// Requests waiting for their reply (queued or in flight).
    pub(crate) fn pending(&self) -> usize {
        self.core.read().pending.len()
    }

    pub(crate) fn subscribe(&self, f: impl Fn(&ClientEvent) + 'static) -> Subscription {
        self.events.subscribe(f)
    }

    /// Closes the socket for good; the state change then fails what is
    /// outstanding (see [`Session::on_socket_state`]).
    pub(crate) fn close(&self) {
        let socket = self.socket();
        socket.close();
    }

    /// Registers room `name` (joined whenever welcomed); a room refused
    /// before is asked for again.
    pub(crate) fn room(&self, name: &str) -> Result<Rc<RoomCore>> {
        confab_protocol::validate_room_name(name)?;
        let mut core = self.core.write();
        if matches!(core.socket.state(), ConnectionState::Closed { .. }) {
            return Err(Error::Closed);
        }
        if let Some(r) = core.rooms.get(name).cloned() {
            if r.state() == RoomState::Errored {
                // Refused before: ask again.
                if core.welcomed {
                    core.send_join(&r);
                }
                drop(core);
                r.set_state(RoomState::Joining);
            }
            return Ok(r);
        }
        let limit = core.config.history_limit;
        let room = Rc::new(RoomCore::new(name, limit));
        core.rooms.insert(name.to_owned(), room.clone());
        if core.welcomed {
            core.send_join(&room);
        }
        Ok(room)
    }

    /// The rooms registered (joined or being joined).
    pub(crate) fn rooms(&self) -> Vec<Rc<RoomCore>> {
        self.core.read().rooms.values().cloned().collect()
    }

    fn closed(&self) -> bool {
        matches!(self.socket().state(), ConnectionState::Closed { .. })
    }

    /// Whether `room` may take requests: [`Error::Closed`] after
    /// `close()`, [`Error::NotJoined`] once left or refused.
    fn usable(&self, room: &RoomCore) -> Result<()> {
        if self.closed() {
            return Err(Error::Closed);
        }
        match room.state() {
            RoomState::Joined | RoomState::Joining => Ok(()),
            _ => Err(Error::NotJoined),
        }
    }

    /// Publishes `payload` to `room` (queued until the room is joined),
    /// with a new client message id: sent again after a reconnect or an
    /// `outcome_unknown` until acknowledged, stored once.
    pub(crate) fn publish(self: &Rc<Self>, room: &RoomCore, payload: Payload) -> AckFuture {
        if let Err(e) = self.usable(room) {
            return AckFuture::failed(e);
        }
        let name = room.name.as_str();
        let cid = self.core.write().next_cid();
        let fields = vec![
            ("room", name.into()),
            ("payload", payload.into()),
            ("cid", cid.as_str().into()),
        ];
        self.request(Some(name.to_owned()), "publish", fields, true)
            .with_cid(cid)
    }

    /// Sends a direct message to user `to` (with a client message id, as
    /// [`Session::publish`]).
    pub(crate) fn direct(self: &Rc<Self>, to: &str, payload: Payload) -> AckFuture {
        let cid = self.core.write().next_cid();
        let fields = vec![
            ("to", to.into()),
            ("payload", payload.into()),
            ("cid", cid.as_str().into()),
        ];
        self.request(None, "direct", fields, true).with_cid(cid)
    }

    /// Sends an ephemeral `signal` to the members of a joined `room`: not
    /// queued (nothing is sent while the room is not joined), no reply.
    pub(crate) fn signal(&self, room: &RoomCore, payload: Payload) -> Result<()> {
        if self.closed() {
            return Err(Error::Closed);
        }
        if room.state() != RoomState::Joined {
            return Err(Error::NotJoined);
        }
        let fields = [
            ("room", room.name.as_str().into()),
            ("payload", payload.into()),
        ];
        let frame = wire::encode("signal", None, &fields).ok_or_else(not_json)?;
        self.core.read().socket.send_now(&frame);
        Ok(())
    }

    /// Older messages of `room` (queued until the room is joined).
    pub(crate) fn history(
        self: &Rc<Self>,
        room: &RoomCore,
        before: Option<u64>,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<HistoryPage>> + 'static {
        let fut = match self.usable(room) {
            Ok(()) => {
                let number = |n: Option<f64>| n.map_or(JsValue::UNDEFINED, JsValue::from_f64);
                let fields = vec![
                    ("room", room.name.as_str().into()),
                    ("before", number(before.map(|b| b as f64))),
                    ("limit", number(limit.map(f64::from))),
                ];
                self.request(Some(room.name.clone()), "history", fields, true)
            }
            Err(e) => AckFuture::failed(e),
        };
        async move {
            match fut.reply().await? {
                Reply::History(page) => Ok(page),
                Reply::Ack(_) => Err(ack::unexpected()),
            }
        }
    }

    /// Sets this user's JSON state in `room` (queued until joined).
    pub(crate) fn set_member_state(self: &Rc<Self>, room: &RoomCore, state: Payload) -> AckFuture {
        if let Err(e) = self.usable(room) {
            return AckFuture::failed(e);
        }
        let fields = vec![("room", room.name.as_str().into()), ("state", state.into())];
        self.request(Some(room.name.clone()), "state", fields, true)
    }

    /// Renames this user; once acknowledged, reconnects use the new name.
    pub(crate) fn rename(
        self: &Rc<Self>,
        name: &str,
    ) -> impl Future<Output = Result<Ack>> + 'static {
        let fut = self.request(None, "rename", vec![("name", name.into())], true);
        let weak = Rc::downgrade(self);
        // The server stores the name trimmed (an invalid one is refused,
        // so the ack never comes); JS `trim()` instead of Rust's keeps the
        // Unicode whitespace tables out of the wasm.
        let name = String::from(js_sys::JsString::from(name).trim());
        async move {
            let ack = fut.await?;
            if let Some(s) = weak.upgrade() {
                let mut core = s.core.write();
                core.socket.set_query("name", Some(&name));
                if let Some(me) = &mut core.me {
                    me.name = name;
                }
            }
            Ok(ack)
        }
    }

    /// Leaves `room`: `leave` is sent if connected (best effort), and the
    /// room is forgotten locally at once (see [`Session::forget`]).
    pub(crate) fn leave(self: &Rc<Self>, room: &Rc<RoomCore>) -> Option<AckFuture> {
        room.set_state(RoomState::Leaving);
        let welcomed = self.core.read().welcomed;
        let ack = welcomed.then(|| {
            let fields = vec![("room", room.name.as_str().into())];
            self.request(None, "leave", fields, false)
        });
        self.forget(room);
        ack
    }

    /// Forgets a room locally: no re-join; its queued publishes and its
    /// join waiters fail with [`Error::NotJoined`].
    pub(crate) fn forget(&self, room: &Rc<RoomCore>) {
        let dropped = {
            let mut core = self.core.write();
            if core
                .rooms
                .get(&room.name)
                .is_some_and(|r| Rc::ptr_eq(r, room))
            {
                core.rooms.remove(&room.name);
            }
            core.pending.drop_room(&room.name)
        };
        for req in dropped {
            req.reply.send(Err(Error::NotJoined));
        }
        room.set_state(RoomState::Left);
        room.fail_waiters(Error::NotJoined);
    }

    /// Queues a request (sent at once when possible) and returns its future.
    fn request(
        self: &Rc<Self>,
        room: Option<String>,
        kind: &str,
        fields: Vec<(&str, JsValue)>,
        resend: bool,
    ) -> AckFuture {
        let fut = {
            let mut core = self.core.write();
            if matches!(core.socket.state(), ConnectionState::Closed { .. }) {
                return AckFuture::failed(Error::Closed);
            }
            core.next_ref += 1;
            let id = core.next_ref;
            let Some(frame) = wire::encode(kind, Some(&ref_text(id)), &fields) else {
                return AckFuture::failed(not_json());
            };
            let (reply, rx) = oneshot::channel();
            let deadline = now() + core.config.ack_timeout.as_millis() as f64;
            let request = Request {
                frame,
                reply,
                resend,
            };
            match core.pending.add(id, deadline, room, request) {
                Added::Ok => {}
                Added::Evicted(old) => {
                    old.reply.send(Err(Error::BufferOverflow));
                }
                Added::Rejected(_) => return AckFuture::failed(Error::BufferFull),
            }
            core.flush();
            AckFuture::waiting(rx)
        };
        self.arm_sweep();
        fut
    }

    /// Token users: asks the token provider for a new token at 80% of the
    /// current one's lifetime (`expires`, seconds since the Unix epoch)
    /// and sends it as `refresh`; the reply's `expires` schedules the next.
    /// Without a provider, an expiry or a `welcome` nothing is scheduled
    /// (the server then closes with 4003 at expiry and the reconnect asks
    /// the provider).
    fn schedule_refresh(self: &Rc<Self>, expires: Option<u64>) {
        let mut core = self.core.write();
        core.refresh = None;
        let Some(expires) = expires.filter(|_| core.config.token_provider.is_some()) else {
            return;
        };
        let left = expires as f64 * 1000.0 - now();
        if left <= 0.0 {
            return;
        }
        // At least 1 s apart; setTimeout takes at most 2^31 - 1 ms.
        let delay = (left * 0.8).clamp(1000.0, 2e9) as u32;
        let weak = Rc::downgrade(self);
        let welcome = core.welcomes;
        core.refresh = Some(Timer::once(delay, move || {
            if let Some(s) = weak.upgrade() {
                s.refresh(welcome, expires);
            }
        }));
    }

    fn refresh(self: &Rc<Self>, welcome: u64, expires: u64) {
        let Some(provider) = self.core.read().config.token_provider.clone() else {
            return;
        };
        let weak = Rc::downgrade(self);
        // Still the connection the refresh was scheduled for.
        let current = move || weak.upgrade().filter(|s| s.core.read().welcomes == welcome);
        executor::spawn(async move {
            let token = provider().await;
            let Some(s) = current() else { return };
            let Some(token) = token else {
                // No token now: ask again later (the old one still holds).
                return s.schedule_refresh(Some(expires));
            };
            let ack = s.request(None, "refresh", vec![("token", token.into())], false);
            drop(s);
            let result = ack.await;
            let Some(s) = current() else { return };
            match result {
                Ok(ack) => s.schedule_refresh(ack.expires.or(Some(expires))),
                Err(e) => {
                    s.schedule_refresh(Some(expires));
                    s.events.emit(&ClientEvent::Error(e));
                }
            }
        });
    }

    /// Keeps one timer armed at the earliest request deadline.
    fn arm_sweep(self: &Rc<Self>) {
        let mut core = self.core.write();
        let Some(next) = core.pending.next_deadline() else {
            core.sweep = None;
            return;
        };
        if core.sweep.as_ref().is_some_and(|(at, _)| *at <= next) {
            return;
        }
        let weak = Rc::downgrade(self);
        let delay = (next - now()).max(0.0) as u32 + 1;
        let timer = Timer::once(delay, move || {
            if let Some(s) = weak.upgrade() {
                let expired = {
                    let mut core = s.core.write();
                    core.sweep = None;
                    core.pending.expire(now())
                };
                for req in expired {
                    req.reply.send(Err(Error::AckTimeout));
                }
                s.arm_sweep();
            }
        });
        core.sweep = Some((next, timer));
    }
}

/// The error of a frame `JSON.stringify` refused.
fn not_json() -> Error {
    Error::Serde("payload is not JSON-compatible".to_owned())
}

/// A random prefix for this client's message ids: two `Math.random()`s in
/// base 36 (about 100 bits), so two clients (or two loads of one page)
/// do not pick the same ids.
fn cid_prefix() -> String {
    let part = || {
        js_sys::Number::from(js_sys::Math::random())
            .to_string_with_radix(36)
            .map(|s| String::from(s.slice(2, 12)))
            .unwrap_or_default()
    };
    let mut prefix = part();
    prefix.push_str(&part());
    prefix
}

impl Core {
    fn next_ref(&mut self) -> String {
        self.next_ref += 1;
        ref_text(self.next_ref)
    }

    fn next_cid(&mut self) -> String {
        self.next_cid += 1;
        let mut cid = self.cid_prefix.clone();
        cid.push('.');
        cid.push_str(&ref_text(self.next_cid));
        cid
    }

    /// Sends the queued requests whose room is joined (all of them need
    /// the `welcome` first).
    fn flush(&mut self) {
        if !self.welcomed {
            return;
        }
        let Core {
            pending,
            rooms,
            socket,
            ..
        } = self;
        for (_, req) in pending.take_sendable(|room| match room {
            None => true,
            Some(r) => rooms
                .get(r)
                .is_some_and(|rs| rs.state() == RoomState::Joined),
        }) {
            socket.send_now(&req.frame);
        }
    }

    /// Sends `join` for `room`, from its last seen position.
    fn send_join(&mut self, room: &RoomCore) {
        let reference = self.next_ref();
        self.join_refs.insert(reference.clone(), room.name.clone());
        let since = wire::position(room.since());
        let fields = [("room", room.name.as_str().into()), ("since", since)];
        if let Some(text) = wire::encode("join", Some(&reference), &fields) {
            self.socket.send_now(&text);
        }
    }
}
