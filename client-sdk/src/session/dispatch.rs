//! What comes in from the socket: connection state changes and server
//! frames, each applied to the session's state and its rooms.

use std::rc::Rc;

use confab_protocol::{ErrorCode, ErrorMsg};
use wasm_bindgen::JsValue;

use super::ack::{Reply, Request};
use super::heartbeat::Beat;
use super::refs::parse_ref;
use super::wire::{self, Frame, Joined, Presence, Welcome};
use super::{ClientEvent, Core, RoomCore, Session};
use crate::runtime::cell::Borrows;
use crate::runtime::timer::{now, Ticker};
use crate::state::{ConnectionState, RoomState};
use crate::{Error, RoomMessage};

impl Session {
    /// The socket's state changed: a lost link queues the requests already
    /// sent to go out again after the re-join (publishes carry their `cid`:
    /// stored once) and fails the others (their outcome is unknown), and
    /// sends the joined rooms back to `Joining`; closing for good fails
    /// everything and leaves every room.
    pub(super) fn on_socket_state(self: &Rc<Self>, st: &ConnectionState) {
        let mut room_changes = Vec::new();
        let mut failed = Vec::new();
        {
            let mut core = self.core.write();
            match st {
                ConnectionState::Open => core.heartbeat.received(now()),
                ConnectionState::Connecting => {}
                ConnectionState::Reconnecting { .. } | ConnectionState::Closed { .. } => {
                    core.welcomed = false;
                    core.ticker = None;
                    core.refresh = None;
                    core.join_refs.clear();
                    failed.extend(
                        core.pending
                            .disconnected(|r| r.resend)
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
        self.events.emit(&ClientEvent::StateChanged(st.clone()));
    }

    /// A frame from the server.
    pub(super) fn on_frame(self: &Rc<Self>, v: &JsValue) {
        self.core.write().heartbeat.received(now());
        match wire::decode(v) {
            Some(Frame::Welcome(w)) => self.on_welcome(w),
            Some(Frame::Joined(j)) => self.on_joined(j),
            Some(Frame::Message(m)) => self.on_message(m),
            Some(Frame::Ack(a)) => {
                let reference = a.reference.clone();
                self.reply(reference.as_deref(), Reply::Ack(a));
            }
            Some(Frame::History(reference, page)) => {
                self.reply(reference.as_deref(), Reply::History(page));
            }
            Some(Frame::Signal(s)) => {
                let room = self.core.read().rooms.get(&s.room).cloned();
                if let Some(room) = room {
                    room.on_signal(s.from, s.payload);
                }
            }
            Some(Frame::Presence(p)) => {
                let room = {
                    let mut core = self.core.write();
                    core.note_my_name(&p);
                    core.rooms.get(&p.room).cloned()
                };
                if let Some(room) = room {
                    room.apply_presence(p);
                }
            }
            Some(Frame::Error(e)) => self.on_error(e),
            Some(Frame::Other) | None => {}
        }
    }

    /// Resolves the request `reference` answers.
    fn reply(&self, reference: Option<&str>, reply: Reply) {
        let req = {
            let mut core = self.core.write();
            let id = reference.and_then(parse_ref);
            id.and_then(|id| core.pending.resolve(id))
        };
        if let Some(req) = req {
            req.reply.send(Ok(reply));
        }
    }

    /// Every (re)connect starts with `welcome`: who we are, the heartbeat,
    /// then every room is (re-)joined and queued requests may go out.
    fn on_welcome(self: &Rc<Self>, w: Welcome) {
        let joining = {
            let mut core = self.core.write();
            core.me = Some(w.user.clone());
            core.session_id = Some(w.session_id.clone());
            core.welcomed = true;
            core.welcomes += 1;
            core.dm_seen.clear();
            // Reconnects keep the name and the guest id the server knows us by now.
            core.socket.set_query("name", Some(&w.user.name));
            if let Some(token) = &w.guest_token {
                core.socket.set_query("guest", Some(token));
                core.guest_token = Some(token.clone());
            }
            let wanted = core.config.heartbeat;
            let tick = core.heartbeat.start(w.heartbeat_ms, wanted, now());
            core.ticker = tick.map(|every| {
                let weak = Rc::downgrade(self);
                Ticker::every(every, move || {
                    if let Some(s) = weak.upgrade() {
                        s.heartbeat_tick();
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
                core.send_join(r);
            }
            core.flush();
            rooms
        };
        for r in joining {
            r.set_state(RoomState::Joining);
        }
        self.schedule_refresh(w.expires);
        self.events.emit(&ClientEvent::Welcome(w.user));
    }

    fn heartbeat_tick(&self) {
        let dead = {
            let mut core = self.core.write();
            match core.heartbeat.tick(now()) {
                Beat::Dead => true,
                Beat::Ping => {
                    let reference = core.next_ref();
                    if let Some(text) = wire::encode("ping", Some(&reference), &[]) {
                        core.socket.send_now(&text);
                    }
                    false
                }
                Beat::Wait => false,
            }
        };
        if dead {
            self.socket().reconnect_because("heartbeat timeout");
        }
    }

    fn on_joined(&self, j: Joined) {
        let room = {
            let mut core = self.core.write();
            if let Some(r) = &j.reference {
                core.join_refs.remove(r);
            }
            core.rooms.get(&j.room).cloned()
        };
        let Some(room) = room else { return };
        room.on_joined(j);
        self.core.write().flush();
    }

    fn on_message(&self, m: RoomMessage) {
        let is_dm = confab_protocol::dm_members(&m.room).is_some();
        let room = self.core.read().rooms.get(&m.room).cloned();
        // Each (room, offset) once: a joined room's cursor decides, else the
        // per-connection high-water mark of that DM room.
        let fresh = match room {
            Some(room) if is_dm => room.on_message(m.clone()),
            Some(room) => {
                room.on_message(m);
                return;
            }
            None if is_dm => {
                let mut core = self.core.write();
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
            self.events.emit(&ClientEvent::Direct(m));
        }
    }

    /// An `error` answers a request (by `ref`), a join (by `ref`, or by the
    /// room it names while that room is joining), or nothing: then it is a
    /// [`ClientEvent::Error`]. `outcome_unknown` for a request that may be
    /// sent again (a publish with its `cid`) sends it again.
    fn on_error(&self, e: ErrorMsg) {
        if e.code == ErrorCode::OutcomeUnknown {
            let mut core = self.core.write();
            let id = e.reference.as_deref().and_then(parse_ref);
            if id.is_some_and(|id| core.pending.requeue(id, |r| r.resend)) {
                core.flush();
                return;
            }
        }
        enum Target {
            Req(Request),
            Room(Rc<RoomCore>),
            None,
        }
        let target = {
            let mut core = self.core.write();
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
        /// that join's answer; a final refusal naming a joined room (the
        /// application removed this user: `forbidden`) ends it the same way.
        fn joining_room(core: &Core, e: &ErrorMsg) -> Target {
            let refused = Error::from(e.clone()).is_final_refusal();
            e.room
                .as_deref()
                .and_then(|name| core.rooms.get(name))
                .filter(|r| match r.state() {
                    RoomState::Joining => true,
                    RoomState::Joined => refused,
                    _ => false,
                })
                .map_or(Target::None, |r| Target::Room(r.clone()))
        }
        match target {
            Target::Req(req) => {
                req.reply.send(Err(e.into()));
            }
            Target::Room(room) => {
                let error = Error::from(e);
                // Publishes queued for the refused room cannot be sent.
                let dropped = self.core.write().pending.drop_room(&room.name);
                for req in dropped {
                    req.reply.send(Err(error.clone()));
                }
                room.on_join_error(error);
            }
            Target::None => self.events.emit(&ClientEvent::Error(e.into())),
        }
    }
}

impl Core {
    /// The server renames a user on all of its connections (another tab of
    /// the same guest ran `rename`): keep the name reconnects introduce us with.
    fn note_my_name(&mut self, p: &Presence) {
        let Some(me) = self.me.as_mut() else { return };
        if let Some(u) = p.updates.iter().find(|u| u.id == me.id) {
            me.name.clone_from(&u.name);
            self.socket.set_query("name", Some(&u.name));
        }
    }
}
