//! [`Client`]: the Confab protocol over a [`Socket`].

use crate::cell::Borrows;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::oneshot;
use confab_protocol::{Ack, ErrorMsg, Joined, Member, Message, Welcome};
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::vecmap::VecMap;
use crate::wire::{self, Frame};

use crate::buffer::OverflowPolicy;
use crate::dom::{now, Ticker, Timer};
use crate::events::{Emitter, Subscription};
use crate::pending::{Added, Pending};
use crate::room::{Room, RoomShared};
use crate::socket::{Socket, SocketOptions};
use crate::state::{ConnectionState, RoomState};
use crate::{Backoff, Error, Payload, Result};

/// A message in a room (or a `dm:` conversation), as delivered by the server.
pub type RoomMessage = Message<Payload>;

/// Options of a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use confab_client::ClientOptions;
/// let opts = ClientOptions::new("ws://127.0.0.1:8000/ws")
///     .name("Alice")
///     .ack_timeout(Duration::from_secs(5))
///     .send_buffer(50);
/// assert_eq!(opts.get_ack_timeout(), Duration::from_secs(5));
/// ```
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub(crate) socket: SocketOptions,
    pub(crate) ack_timeout: Duration,
    pub(crate) send_buffer: usize,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) history_limit: usize,
}

impl ClientOptions {
    /// Options for the native endpoint `url` (e.g. `ws://host/ws`). Defaults:
    /// ack timeout 10 s, offline buffer of 100 requests
    /// ([`OverflowPolicy::RejectNew`]), heartbeat as the server announces,
    /// backoff 250 ms–10 s, 1000 messages of history kept per room.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            socket: SocketOptions::new(url)
                .read_buffer(0)
                .send_buffer(0)
                .guest_only("guest"),
            ack_timeout: Duration::from_secs(10),
            send_buffer: 100,
            overflow: OverflowPolicy::RejectNew,
            heartbeat: None,
            history_limit: 1000,
        }
    }

    /// Several endpoint URLs tried in turn.
    pub fn urls(mut self, urls: Vec<String>) -> Self {
        self.socket = self.socket.urls(urls);
        self
    }

    /// Guest display name for the first connection (sent as `?name=`).
    /// Reconnects use the current name instead: the one the server
    /// confirmed in `welcome` or the last successful [`Client::rename`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.socket = self.socket.set_query("name", Some(&name.into()));
        self
    }

    /// Starts as the guest a saved [`Client::guest_token`] stands for
    /// (sent as `?guest=`), e.g. from `localStorage`, so a reloaded page is
    /// the same person. An invalid or expired token is not an error: the
    /// server then makes a new guest.
    pub fn guest_token(mut self, token: impl Into<String>) -> Self {
        self.socket = self.socket.set_query("guest", Some(&token.into()));
        self
    }

    /// Called before every (re)connect; its token is sent as `?token=`
    /// (and `?guest=` is then left out: a signed-in user is no guest).
    pub fn token_provider<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Option<String>> + 'static,
    {
        self.socket = self.socket.token_provider(f);
        self
    }

    /// How long a publish/direct/rename/join may wait for its reply,
    /// including time spent queued offline (default 10 s).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// The configured ack timeout.
    pub fn get_ack_timeout(&self) -> Duration {
        self.ack_timeout
    }

    /// Requests that may wait offline (default 100).
    pub fn send_buffer(mut self, capacity: usize) -> Self {
        self.send_buffer = capacity;
        self
    }

    /// What a full offline buffer does (default [`OverflowPolicy::RejectNew`]).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = policy;
        self
    }

    /// Reconnect policy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.socket = self.socket.backoff(backoff);
        self
    }

    /// Stop after this many failed connection attempts in a row.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.socket = self.socket.max_attempts(n);
        self
    }

    /// Gives up on a WebSocket handshake after this long (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.socket = self.socket.connect_timeout(timeout);
        self
    }

    /// Ping at least this often (the server's `heartbeat_ms` is used when
    /// it is shorter). A link silent for twice this long is dropped and
    /// reconnected.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = Some(every);
        self
    }

    /// Messages kept per room for [`Room::history`] (default 1000).
    pub fn history_limit(mut self, n: usize) -> Self {
        self.history_limit = n;
        self
    }
}

/// Client-wide events (see [`Client::on_event`]).
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

pub(crate) struct Req {
    frame: String,
    reply: oneshot::Sender<Result<Ack>>,
}

pub(crate) struct Core {
    pub(crate) socket: Socket,
    opts: ClientOptions,
    me: Option<Member>,
    session_id: Option<String>,
    guest_token: Option<String>,
    welcomed: bool,
    heartbeat_ms: f64,
    last_rx: f64,
    last_ping: f64,
    ticker: Option<Ticker>,
    pub(crate) rooms: VecMap<String, Rc<RoomShared>>,
    pending: Pending<Req>,
    sweep: Option<(f64, Timer)>,
    join_refs: VecMap<String, String>,
    /// Highest offset seen per `dm:` room that is not joined, on this
    /// connection (reset by `welcome`: a restarted server may restart
    /// offsets), so [`ClientEvent::Direct`] fires once per `(room, offset)`.
    dm_seen: VecMap<String, u64>,
    next_ref: u64,
}

pub(crate) struct ClientShared {
    pub(crate) core: RefCell<Core>,
    events: Emitter<ClientEvent>,
    socket_subs: RefCell<Vec<Subscription>>,
}

/// Closes the connection when the last `Client`/`Room` handle is dropped.
struct Owner(Weak<ClientShared>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(s) = self.0.upgrade() {
            let socket = s.core.read().socket.clone();
            socket.close();
        }
    }
}

/// A Confab connection: rooms, presence, direct messages, acks, resume.
///
/// `Client` is a cheap `Clone` handle (`Rc` inside, `!Send`). It connects in
/// the background at once and reconnects until [`Client::close`]; after each
/// reconnect every room is re-joined from its last seen `{epoch, offset}`,
/// so missed messages arrive exactly once, in order (or a
/// [`crate::RoomEvent::Gap`] says the server could not recover them).
///
/// ```no_run
/// use confab_client::{Client, ClientOptions, RoomEvent};
/// # async fn run() -> confab_client::Result<()> {
/// let client = Client::connect(ClientOptions::new("ws://127.0.0.1:8000/ws").name("Alice"));
/// let room = client.join("lobby").await?;
/// let _sub = room.on_event(|ev| {
///     if let RoomEvent::Message(m) = ev {
///         let _ = m.payload.to_json();
///     }
/// });
/// #[derive(serde::Serialize)]
/// struct Chat<'a> { message: &'a str }
/// let ack = room.publish(&Chat { message: "hi" }).await?;
/// let _ = ack.offset;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Rc<ClientShared>,
    _owner: Rc<Owner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state())
            .field("me", &self.me())
            .finish()
    }
}

impl Client {
    /// Starts connecting (in the background) and returns at once.
    pub fn connect(mut opts: ClientOptions) -> Client {
        // The socket takes its options (moved, not cloned: less wasm); the
        // client keeps only its own settings.
        let socket_opts = std::mem::replace(&mut opts.socket, SocketOptions::new(String::new()));
        let socket = Socket::open(socket_opts);
        let pending = Pending::new(opts.send_buffer, opts.overflow);
        let shared = Rc::new(ClientShared {
            core: RefCell::new(Core {
                socket: socket.clone(),
                opts,
                me: None,
                session_id: None,
                guest_token: None,
                welcomed: false,
                heartbeat_ms: 0.0,
                last_rx: 0.0,
                last_ping: 0.0,
                ticker: None,
                rooms: VecMap::default(),
                pending,
                sweep: None,
                join_refs: VecMap::default(),
                dm_seen: VecMap::default(),
                next_ref: 0,
            }),
            events: Emitter::default(),
            socket_subs: RefCell::new(Vec::new()),
        });
        let weak = Rc::downgrade(&shared);
        let on_state = socket.on_state(move |st| {
            if let Some(s) = weak.upgrade() {
                on_socket_state(&s, st);
            }
        });
        let weak = Rc::downgrade(&shared);
        let on_msg = socket.on_message(move |v| {
            if let Some(s) = weak.upgrade() {
                on_frame(&s, v);
            }
        });
        *shared.socket_subs.write() = vec![on_state, on_msg];
        Client {
            _owner: Rc::new(Owner(Rc::downgrade(&shared))),
            shared,
        }
    }

    /// Current connection state.
    pub fn state(&self) -> ConnectionState {
        let socket = self.shared.core.read().socket.clone();
        socket.state()
    }

    /// Who this connection is (from the last `welcome`), `None` before it.
    pub fn me(&self) -> Option<Member> {
        self.shared.core.read().me.clone()
    }

    /// The credential of this guest identity from the latest `welcome`
    /// (`None` before it and for token users). The client sends it as
    /// `?guest=` on every reconnect, so it stays the same guest id; save it
    /// (e.g. in `localStorage`) and pass it to [`ClientOptions::guest_token`]
    /// to be the same guest after a page reload.
    pub fn guest_token(&self) -> Option<String> {
        self.shared.core.read().guest_token.clone()
    }

    /// The server's id of the current connection (from `welcome`).
    pub fn session_id(&self) -> Option<String> {
        self.shared.core.read().session_id.clone()
    }

    /// Calls `f` on every [`ClientEvent`] until the subscription is dropped.
    pub fn on_event(&self, f: impl Fn(&ClientEvent) + 'static) -> Subscription {
        self.shared.events.subscribe(f)
    }

    /// Joins `room` and waits for the server's confirmation (with its
    /// history and member list). Fails with [`Error::AckTimeout`] when not
    /// joined within the ack timeout (e.g. offline), or with the server's
    /// error; the room is then forgotten. Joining a room already joined
    /// returns the same room.
    pub fn join(&self, room: &str) -> impl Future<Output = Result<Room>> + 'static {
        let room = self.room(room);
        let timeout = self.shared.core.read().opts.ack_timeout;
        async move {
            let room = room?;
            match with_timeout(room.joined(), timeout).await {
                Ok(()) => Ok(room),
                Err(e) => {
                    if room.state() != RoomState::Joined {
                        room.forget();
                    }
                    Err(e)
                }
            }
        }
    }

    /// Registers `room` without waiting: it is joined as soon as (and every
    /// time) the connection is up; see [`Room::joined`]. A room the server
    /// refused ([`RoomState::Errored`]) is asked for again.
    pub fn room(&self, name: &str) -> Result<Room> {
        confab_protocol::validate_room_name(name)?;
        let mut core = self.shared.core.write();
        if matches!(core.socket.state(), ConnectionState::Closed { .. }) {
            return Err(Error::Closed);
        }
        if let Some(r) = core.rooms.get(name).cloned() {
            if r.state() == RoomState::Errored {
                // Refused before: ask again.
                if core.welcomed {
                    send_join(&mut core, &r);
                }
                drop(core);
                r.set_state(RoomState::Joining);
            }
            return Ok(Room::new(self.clone(), r));
        }
        let limit = core.opts.history_limit;
        let shared = Rc::new(RoomShared::new(name, limit));
        core.rooms.insert(name.to_owned(), shared.clone());
        if core.welcomed {
            send_join(&mut core, &shared);
        }
        Ok(Room::new(self.clone(), shared))
    }

    /// The rooms currently registered (joined or being joined).
    pub fn rooms(&self) -> Vec<Room> {
        let rooms: Vec<_> = self.shared.core.read().rooms.values().cloned().collect();
        rooms
            .into_iter()
            .map(|r| Room::new(self.clone(), r))
            .collect()
    }

    /// Sends a direct message to user `to`; resolves with its ack (the
    /// message is stored in [`confab_protocol::dm_room`]`(me, to)`).
    pub fn direct<T: Serialize + ?Sized>(&self, to: &str, payload: &T) -> AckFuture {
        match Payload::new(payload) {
            Ok(p) => self.direct_payload(to, p),
            Err(e) => AckFuture::failed(e),
        }
    }

    /// [`Client::direct`] with a ready [`Payload`].
    pub fn direct_payload(&self, to: &str, payload: Payload) -> AckFuture {
        let fields = vec![("to", to.into()), ("payload", payload.into())];
        request(&self.shared, None, "direct", fields)
    }

    /// Changes the display name; every room gets a presence update. Once
    /// acknowledged it is also the name later reconnects introduce this
    /// client with (`?name=`).
    pub fn rename(&self, name: &str) -> impl Future<Output = Result<Ack>> + 'static {
        let fut = request(&self.shared, None, "rename", vec![("name", name.into())]);
        let weak = Rc::downgrade(&self.shared);
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

    /// Closes for good: no reconnect; outstanding requests fail with
    /// [`Error::Closed`]; rooms become [`RoomState::Left`].
    pub fn close(&self) {
        let socket = self.shared.core.read().socket.clone();
        socket.close();
    }

    /// Requests waiting for their ack (queued offline or in flight).
    pub fn pending(&self) -> usize {
        self.shared.core.read().pending.len()
    }

    /// The underlying reconnecting socket.
    pub fn socket(&self) -> Socket {
        self.shared.core.read().socket.clone()
    }
}

/// Resolves with the server's [`Ack`], or an error ([`Error::AckTimeout`],
/// [`Error::Disconnected`], [`Error::Server`], …). The request is queued
/// when the call is made, not when the future is first polled.
#[must_use = "the result tells whether the server stored the message"]
pub struct AckFuture {
    state: std::result::Result<oneshot::Receiver<Result<Ack>>, Option<Error>>,
}

impl AckFuture {
    fn failed(e: Error) -> Self {
        Self {
            state: Err(Some(e)),
        }
    }
}

pub(crate) fn failed_ack(e: Error) -> AckFuture {
    AckFuture::failed(e)
}

impl Future for AckFuture {
    type Output = Result<Ack>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Ack>> {
        match &mut self.state {
            Ok(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(Error::Closed))),
            Err(e) => Poll::Ready(Err(e.take().unwrap_or(Error::Closed))),
        }
    }
}

/// Races `fut` against a timer; [`Error::AckTimeout`] when the timer wins.
pub(crate) async fn with_timeout<F: Future<Output = Result<()>>>(
    fut: F,
    timeout: Duration,
) -> Result<()> {
    let mut fut = std::pin::pin!(fut);
    let mut timer = crate::dom::Sleep::new(timeout.as_millis() as u32);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(r) = fut.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        Pin::new(&mut timer)
            .poll(cx)
            .map(|()| Err(Error::AckTimeout))
    })
    .await
}

fn next_ref(core: &mut Core) -> String {
    core.next_ref += 1;
    ref_text(core.next_ref)
}

/// The decimal text of a request id (by hand: no `core::fmt` in the wasm).
fn ref_text(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(char::from(b'0' + (n % 10) as u8));
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

/// A request id from a reply's `ref` (`None` unless it is all digits).
fn parse_ref(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.bytes().try_fold(0u64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}

/// Queues a request (sent at once when possible) and returns its ack future.
pub(crate) fn request(
    shared: &Rc<ClientShared>,
    room: Option<String>,
    kind: &str,
    fields: Vec<(&str, JsValue)>,
) -> AckFuture {
    let fut = {
        let mut core = shared.core.write();
        if matches!(core.socket.state(), ConnectionState::Closed { .. }) {
            return AckFuture::failed(Error::Closed);
        }
        core.next_ref += 1;
        let id = core.next_ref;
        let Some(frame) = wire::encode(kind, &ref_text(id), &fields) else {
            return AckFuture::failed(Error::Serde("payload is not JSON-compatible".to_owned()));
        };
        let (reply, rx) = oneshot::channel();
        let deadline = now() + core.opts.ack_timeout.as_millis() as f64;
        match core.pending.add(id, deadline, room, Req { frame, reply }) {
            Added::Ok => {}
            Added::Evicted(old) => {
                old.reply.send(Err(Error::BufferOverflow));
            }
            Added::Rejected(_) => return AckFuture::failed(Error::BufferFull),
        }
        flush(&mut core);
        AckFuture { state: Ok(rx) }
    };
    arm_sweep(shared);
    fut
}

/// Sends the queued requests whose room is joined (all of them need the
/// `welcome` first).
pub(crate) fn flush(core: &mut Core) {
    if !core.welcomed {
        return;
    }
    let Core {
        pending,
        rooms,
        socket,
        ..
    } = core;
    for (_, req) in pending.take_sendable(|room| match room {
        None => true,
        Some(r) => rooms
            .get(r)
            .is_some_and(|rs| rs.state() == RoomState::Joined),
    }) {
        socket.send_now(&req.frame);
    }
}

/// Keeps one timer armed at the earliest request deadline.
fn arm_sweep(shared: &Rc<ClientShared>) {
    let mut core = shared.core.write();
    let Some(next) = core.pending.next_deadline() else {
        core.sweep = None;
        return;
    };
    if core.sweep.as_ref().is_some_and(|(at, _)| *at <= next) {
        return;
    }
    let weak = Rc::downgrade(shared);
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
            arm_sweep(&s);
        }
    });
    core.sweep = Some((next, timer));
}

pub(crate) fn send_join(core: &mut Core, room: &Rc<RoomShared>) {
    let reference = next_ref(core);
    core.join_refs.insert(reference.clone(), room.name.clone());
    let since = wire::position(room.inner.read().cursor.since());
    let fields = [("room", room.name.as_str().into()), ("since", since)];
    if let Some(text) = wire::encode("join", &reference, &fields) {
        core.socket.send_now(&text);
    }
}

/// Sends `leave` if connected (best effort; the room is already forgotten
/// locally and will not be re-joined).
pub(crate) fn send_leave(shared: &Rc<ClientShared>, room: &str) -> Option<AckFuture> {
    let welcomed = shared.core.read().welcomed;
    welcomed.then(|| request(shared, None, "leave", vec![("room", room.into())]))
}

/// Forgets a room locally: no re-join; its queued publishes fail.
pub(crate) fn forget_room(shared: &Rc<ClientShared>, room: &Rc<RoomShared>) {
    let dropped = {
        let mut core = shared.core.write();
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
}

fn on_socket_state(shared: &Rc<ClientShared>, st: &ConnectionState) {
    let mut room_changes = Vec::new();
    let mut failed = Vec::new();
    {
        let mut core = shared.core.write();
        match st {
            ConnectionState::Open => core.last_rx = now(),
            ConnectionState::Connecting => {}
            ConnectionState::Reconnecting { .. } | ConnectionState::Closed { .. } => {
                core.welcomed = false;
                core.ticker = None;
                core.join_refs.clear();
                failed.extend(
                    core.pending
                        .disconnected()
                        .into_iter()
                        .map(|r| (r, Error::Disconnected)),
                );
                let closed = matches!(st, ConnectionState::Closed { .. });
                if closed {
                    failed.extend(core.pending.drain().into_iter().map(|r| (r, Error::Closed)));
                    core.sweep = None;
                    room_changes.extend(
                        std::mem::take(&mut core.rooms)
                            .into_values()
                            .map(|r| (r, RoomState::Left)),
                    );
                } else {
                    room_changes.extend(
                        core.rooms
                            .values()
                            .filter(|r| r.state() == RoomState::Joined)
                            .map(|r| (r.clone(), RoomState::Joining)),
                    );
                }
            }
        }
    }
    for (req, e) in failed {
        req.reply.send(Err(e));
    }
    for (room, state) in room_changes {
        room.set_state(state);
        if state == RoomState::Left {
            room.fail_waiters(Error::Closed);
        }
    }
    shared.events.emit(&ClientEvent::StateChanged(st.clone()));
}

fn on_frame(shared: &Rc<ClientShared>, v: &JsValue) {
    shared.core.write().last_rx = now();
    match wire::decode(v) {
        Some(Frame::Welcome(w)) => on_welcome(shared, w),
        Some(Frame::Joined(j)) => on_joined(shared, j),
        Some(Frame::Message(m)) => on_message(shared, m),
        Some(Frame::Ack(a)) => {
            let req = {
                let mut core = shared.core.write();
                let id = a.reference.as_deref().and_then(parse_ref);
                id.and_then(|id| core.pending.resolve(id))
            };
            if let Some(req) = req {
                req.reply.send(Ok(a));
            }
        }
        Some(Frame::Presence(p)) => {
            let room = {
                let mut core = shared.core.write();
                note_my_name(&mut core, &p);
                core.rooms.get(&p.room).cloned()
            };
            if let Some(room) = room {
                room.apply_presence(p);
            }
        }
        Some(Frame::Error(e)) => on_error(shared, e),
        Some(Frame::Other) | None => {}
    }
}

fn on_welcome(shared: &Rc<ClientShared>, w: Welcome) {
    let joining = {
        let mut core = shared.core.write();
        core.me = Some(w.user.clone());
        core.session_id = Some(w.session_id.clone());
        core.welcomed = true;
        core.dm_seen.clear();
        // Reconnects keep the name and the guest id the server knows us by now.
        core.socket.set_query("name", Some(&w.user.name));
        if let Some(token) = &w.guest_token {
            core.socket.set_query("guest", Some(token));
            core.guest_token = Some(token.clone());
        }
        let server = w.heartbeat_ms as f64;
        let wanted = core.opts.heartbeat.map_or(server, |d| d.as_millis() as f64);
        let hb = if server > 0.0 {
            wanted.min(server)
        } else {
            wanted
        };
        core.heartbeat_ms = hb;
        core.last_ping = now();
        core.ticker = (hb > 0.0).then(|| {
            let weak = Rc::downgrade(shared);
            Ticker::every(((hb / 4.0) as u32).max(20), move || {
                if let Some(s) = weak.upgrade() {
                    heartbeat_tick(&s);
                }
            })
        });
        // Rooms refused for good (unauthorized, invalid name) stay Errored.
        let rooms: Vec<_> = core
            .rooms
            .values()
            .filter(|r| !r.refused_for_good())
            .cloned()
            .collect();
        for r in &rooms {
            send_join(&mut core, r);
        }
        flush(&mut core);
        rooms
    };
    for r in joining {
        r.set_state(RoomState::Joining);
    }
    shared.events.emit(&ClientEvent::Welcome(w.user));
}

/// The server renames a user on all of its connections (another tab of the
/// same guest ran `rename`): keep the name reconnects introduce us with.
fn note_my_name(core: &mut Core, p: &confab_protocol::Presence) {
    let Some(me) = core.me.as_mut() else { return };
    if let Some(u) = p.updates.iter().find(|u| u.id == me.id) {
        me.name.clone_from(&u.name);
        core.socket.set_query("name", Some(&u.name));
    }
}

fn heartbeat_tick(shared: &Rc<ClientShared>) {
    let t = now();
    let dead = {
        let mut core = shared.core.write();
        let hb = core.heartbeat_ms;
        if t - core.last_rx > 2.0 * hb {
            true
        } else {
            if t - core.last_ping >= hb {
                core.last_ping = t;
                let reference = next_ref(&mut core);
                if let Some(text) = wire::encode("ping", &reference, &[]) {
                    core.socket.send_now(&text);
                }
            }
            false
        }
    };
    if dead {
        let socket = shared.core.read().socket.clone();
        crate::socket::force_reconnect(socket.shared(), "heartbeat timeout");
    }
}

fn on_joined(shared: &Rc<ClientShared>, j: Joined<Payload>) {
    let room = {
        let mut core = shared.core.write();
        if let Some(r) = &j.reference {
            core.join_refs.remove(r);
        }
        core.rooms.get(&j.room).cloned()
    };
    let Some(room) = room else { return };
    room.on_joined(j);
    flush(&mut shared.core.write());
}

fn on_message(shared: &Rc<ClientShared>, m: RoomMessage) {
    let is_dm = confab_protocol::dm_members(&m.room).is_some();
    let room = shared.core.read().rooms.get(&m.room).cloned();
    // Each (room, offset) once: a joined room's cursor decides, else the
    // per-connection high-water mark of that DM room.
    let fresh = match room {
        Some(room) if is_dm => room.on_message(m.clone()),
        Some(room) => {
            room.on_message(m);
            return;
        }
        None if is_dm => {
            let mut core = shared.core.write();
            let last = core.dm_seen.get(&m.room).copied().unwrap_or(0);
            let fresh = m.offset > last;
            if fresh {
                core.dm_seen.insert(m.room.clone(), m.offset);
            }
            fresh
        }
        None => false,
    };
    if is_dm && fresh {
        shared.events.emit(&ClientEvent::Direct(m));
    }
}

fn on_error(shared: &Rc<ClientShared>, e: ErrorMsg) {
    enum Target {
        Req(Req),
        Room(Rc<RoomShared>),
        None,
    }
    let target = {
        let mut core = shared.core.write();
        match &e.reference {
            Some(r) => match parse_ref(r).and_then(|id| core.pending.resolve(id)) {
                Some(req) => Target::Req(req),
                None => match core
                    .join_refs
                    .remove(r)
                    .and_then(|room| core.rooms.get(&room).cloned())
                {
                    Some(room) => Target::Room(room),
                    None => joining_room(&core, &e),
                },
            },
            None => joining_room(&core, &e),
        }
    };
    /// A reply without a usable `ref` that names a room being joined is
    /// that join's answer.
    fn joining_room(core: &Core, e: &ErrorMsg) -> Target {
        e.room
            .as_deref()
            .and_then(|name| core.rooms.get(name))
            .filter(|r| r.state() == RoomState::Joining)
            .map_or(Target::None, |r| Target::Room(r.clone()))
    }
    match target {
        Target::Req(req) => {
            req.reply.send(Err(e.into()));
        }
        Target::Room(room) => {
            let error = Error::from(e);
            // Publishes queued for the refused room cannot be sent.
            let dropped = shared.core.write().pending.drop_room(&room.name);
            for req in dropped {
                req.reply.send(Err(error.clone()));
            }
            room.on_join_error(error);
        }
        Target::None => shared.events.emit(&ClientEvent::Error(e.into())),
    }
}

/// Publishes `payload` to `room` (queued until the room is joined).
pub(crate) fn publish(
    shared: &Rc<ClientShared>,
    room: &Rc<RoomShared>,
    payload: Payload,
) -> AckFuture {
    match room.state() {
        RoomState::Joined | RoomState::Joining => {}
        _ => return AckFuture::failed(Error::NotJoined),
    }
    let name = room.name.as_str();
    let fields = vec![("room", name.into()), ("payload", payload.into())];
    request(shared, Some(name.to_owned()), "publish", fields)
}

#[cfg(test)]
mod tests {
    use super::{parse_ref, ref_text};

    #[test]
    fn request_ids_round_trip_as_decimal_text() {
        for n in [0, 1, 9, 10, 99, 1234567890, u64::MAX / 10] {
            assert_eq!(ref_text(n), n.to_string());
            assert_eq!(parse_ref(&n.to_string()), Some(n));
        }
        for bad in ["", "x1", "1x", "-1", "1.5", "12345678901234567890"] {
            assert_eq!(parse_ref(bad), None, "{bad}");
        }
    }
}
