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

use confab_protocol::{Ack, Member};
use wasm_bindgen::JsValue;

pub(crate) use ack::with_timeout;
pub use ack::AckFuture;
pub(crate) use room::RoomCore;
pub use room::RoomEvent;

use crate::events::{Emitter, Subscription};
use crate::runtime::cell::Borrows;
use crate::runtime::oneshot;
use crate::runtime::timer::{now, Ticker, Timer};
use crate::runtime::vecmap::VecMap;
use crate::state::{ConnectionState, RoomState};
use crate::transport::buffer::OverflowPolicy;
use crate::{Error, Payload, Result, RoomMessage, Socket};
use ack::Request;
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
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) ack_timeout: Duration,
    pub(crate) send_buffer: usize,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) history_limit: usize,
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

    /// Publishes `payload` to `room` (queued until the room is joined).
    pub(crate) fn publish(self: &Rc<Self>, room: &RoomCore, payload: Payload) -> AckFuture {
        match room.state() {
            RoomState::Joined | RoomState::Joining => {}
            _ => return AckFuture::failed(Error::NotJoined),
        }
        let name = room.name.as_str();
        let fields = vec![("room", name.into()), ("payload", payload.into())];
        self.request(Some(name.to_owned()), "publish", fields)
    }

    /// Sends a direct message to user `to`.
    pub(crate) fn direct(self: &Rc<Self>, to: &str, payload: Payload) -> AckFuture {
        let fields = vec![("to", to.into()), ("payload", payload.into())];
        self.request(None, "direct", fields)
    }

    /// Renames this user; once acknowledged, reconnects use the new name.
    pub(crate) fn rename(
        self: &Rc<Self>,
        name: &str,
    ) -> impl Future<Output = Result<Ack>> + 'static {
        let fut = self.request(None, "rename", vec![("name", name.into())]);
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
        let ack = welcomed
            .then(|| self.request(None, "leave", vec![("room", room.name.as_str().into())]));
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

    /// Queues a request (sent at once when possible) and returns its ack future.
    fn request(
        self: &Rc<Self>,
        room: Option<String>,
        kind: &str,
        fields: Vec<(&str, JsValue)>,
    ) -> AckFuture {
        let fut = {
            let mut core = self.core.write();
            if matches!(core.socket.state(), ConnectionState::Closed { .. }) {
                return AckFuture::failed(Error::Closed);
            }
            core.next_ref += 1;
            let id = core.next_ref;
            let Some(frame) = wire::encode(kind, &ref_text(id), &fields) else {
                return AckFuture::failed(Error::Serde(
                    "payload is not JSON-compatible".to_owned(),
                ));
            };
            let (reply, rx) = oneshot::channel();
            let deadline = now() + core.config.ack_timeout.as_millis() as f64;
            match core
                .pending
                .add(id, deadline, room, Request { frame, reply })
            {
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

impl Core {
    fn next_ref(&mut self) -> String {
        self.next_ref += 1;
        ref_text(self.next_ref)
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
        if let Some(text) = wire::encode("join", &reference, &fields) {
            self.socket.send_now(&text);
        }
    }
}
