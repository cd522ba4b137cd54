//! [`Room`]: one joined room of a [`Client`].

use crate::cell::Borrows;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;

use crate::oneshot;
use confab_protocol::{Joined, Member, Presence};
use serde::Serialize;

use crate::client::{forget_room, publish, send_leave, AckFuture, Client, RoomMessage};
use crate::cursor::{Resume, RoomCursor};
use crate::events::{Emitter, Subscription};
use crate::state::{RoomState, StateMachine};
use crate::{Error, Payload, Result};

/// Events of one room (see [`Room::on_event`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RoomEvent {
    /// A new message (live, or replayed from history on join/resume);
    /// each `(room, offset)` is delivered once, in offset order.
    Message(RoomMessage),
    /// Presence diff: users who arrived, left, or were renamed.
    Presence {
        /// Arrived.
        joins: Vec<Member>,
        /// Left.
        leaves: Vec<Member>,
        /// Renamed.
        updates: Vec<Member>,
    },
    /// Full member list, sent on every (re)join.
    Members(Vec<Member>),
    /// The room's state changed.
    StateChanged(RoomState),
    /// After a reconnect the server could not replay everything missed
    /// (history trimmed, or a restarted server with a new epoch): messages
    /// may be missing before the ones that follow.
    Gap,
    /// The server refused to (re-)join the room; the state is now
    /// [`RoomState::Errored`] and [`Room::error`] returns the same error.
    /// A refusal with `unauthorized` or `room_name_invalid` is final: the
    /// room is not asked for again on reconnect (only by an explicit
    /// [`Client::room`] / [`Client::join`]).
    Error(Error),
}

pub(crate) struct RoomInner {
    pub(crate) state: StateMachine<RoomState>,
    pub(crate) cursor: RoomCursor,
    members: Vec<Member>,
    history: VecDeque<RoomMessage>,
    history_limit: usize,
    waiters: Vec<oneshot::Sender<Result<()>>>,
    error: Option<Error>,
    gaps: u32,
}

pub(crate) struct RoomShared {
    pub(crate) name: String,
    pub(crate) inner: RefCell<RoomInner>,
    events: Emitter<RoomEvent>,
}

impl RoomShared {
    pub(crate) fn new(name: &str, history_limit: usize) -> Self {
        Self {
            name: name.to_owned(),
            inner: RefCell::new(RoomInner {
                state: StateMachine::new(RoomState::Joining),
                cursor: RoomCursor::default(),
                members: Vec::new(),
                history: VecDeque::new(),
                history_limit,
                waiters: Vec::new(),
                error: None,
                gaps: 0,
            }),
            events: Emitter::default(),
        }
    }

    pub(crate) fn state(&self) -> RoomState {
        *self.inner.read().state.get()
    }

    pub(crate) fn set_state(&self, new: RoomState) {
        let changed = self.inner.write().state.set(new);
        if let Some((_, new)) = changed {
            self.events.emit(&RoomEvent::StateChanged(new));
        }
    }

    pub(crate) fn fail_waiters(&self, e: Error) {
        let waiters = std::mem::take(&mut self.inner.write().waiters);
        for w in waiters {
            w.send(Err(e.clone()));
        }
    }

    /// Accepts a message if new; returns whether it was.
    fn accept(&self, m: &RoomMessage) -> bool {
        let mut inner = self.inner.write();
        if !inner.cursor.accept(m.offset) {
            return false;
        }
        if inner.history_limit > 0 {
            if inner.history.len() >= inner.history_limit {
                inner.history.pop_front();
            }
            inner.history.push_back(m.clone());
        }
        true
    }

    /// Delivers a live message; returns whether it was new (and emitted).
    pub(crate) fn on_message(&self, m: RoomMessage) -> bool {
        if matches!(self.state(), RoomState::Leaving | RoomState::Left) {
            return false;
        }
        let fresh = self.accept(&m);
        if fresh {
            self.events.emit(&RoomEvent::Message(m));
        }
        fresh
    }

    /// Errored with a refusal that reconnecting would not change.
    pub(crate) fn refused_for_good(&self) -> bool {
        let inner = self.inner.read();
        *inner.state.get() == RoomState::Errored
            && inner.error.as_ref().is_some_and(Error::is_final_refusal)
    }

    pub(crate) fn on_joined(&self, j: Joined<crate::Payload>) {
        let (resume, waiters) = {
            let mut inner = self.inner.write();
            if matches!(inner.state.get(), RoomState::Leaving | RoomState::Left) {
                return;
            }
            let resume = inner.cursor.joined(&j.epoch, j.recovered);
            if resume == Resume::Gap {
                inner.gaps += 1;
            }
            inner.members = j.members.clone();
            inner.error = None;
            (resume, std::mem::take(&mut inner.waiters))
        };
        self.set_state(RoomState::Joined);
        if resume == Resume::Gap {
            self.events.emit(&RoomEvent::Gap);
        }
        self.events.emit(&RoomEvent::Members(j.members));
        for m in j.history {
            if self.accept(&m) {
                self.events.emit(&RoomEvent::Message(m));
            }
        }
        for w in waiters {
            w.send(Ok(()));
        }
    }

    pub(crate) fn on_join_error(&self, e: Error) {
        self.inner.write().error = Some(e.clone());
        self.set_state(RoomState::Errored);
        self.events.emit(&RoomEvent::Error(e.clone()));
        self.fail_waiters(e);
    }

    pub(crate) fn apply_presence(&self, p: Presence) {
        {
            let mut inner = self.inner.write();
            let members = &mut inner.members;
            members.retain(|m| !p.leaves.iter().any(|l| l.id == m.id));
            for j in &p.joins {
                if !members.iter().any(|m| m.id == j.id) {
                    members.push(j.clone());
                }
            }
            for u in &p.updates {
                if let Some(m) = members.iter_mut().find(|m| m.id == u.id) {
                    m.name.clone_from(&u.name);
                }
            }
        }
        self.events.emit(&RoomEvent::Presence {
            joins: p.joins,
            leaves: p.leaves,
            updates: p.updates,
        });
    }
}

/// A room of a [`Client`]: a cheap `Clone` handle. It stays joined across
/// reconnects (re-joined from the last seen offset) until [`Room::leave`]
/// or [`Client::close`].
#[derive(Clone)]
pub struct Room {
    client: Client,
    shared: Rc<RoomShared>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .finish()
    }
}

impl PartialEq for Room {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Room {
    pub(crate) fn new(client: Client, shared: Rc<RoomShared>) -> Self {
        Self { client, shared }
    }

    /// Room name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Current state.
    pub fn state(&self) -> RoomState {
        self.shared.state()
    }

    /// Who is in the room (from the last join, kept current by presence diffs).
    pub fn members(&self) -> Vec<Member> {
        self.shared.inner.read().members.clone()
    }

    /// Messages seen in this room, oldest first, deduplicated by offset
    /// (at most the client's `history_limit`).
    pub fn history(&self) -> Vec<RoomMessage> {
        self.shared.inner.read().history.iter().cloned().collect()
    }

    /// Last seen offset in the current epoch (0 = none).
    pub fn offset(&self) -> u64 {
        self.shared.inner.read().cursor.offset()
    }

    /// How many times a resume could not be recovered ([`RoomEvent::Gap`]).
    pub fn gaps(&self) -> u32 {
        self.shared.inner.read().gaps
    }

    /// The server's error when the room is [`RoomState::Errored`].
    pub fn error(&self) -> Option<Error> {
        self.shared.inner.read().error.clone()
    }

    /// Calls `f` on every [`RoomEvent`] until the subscription is dropped.
    pub fn on_event(&self, f: impl Fn(&RoomEvent) + 'static) -> Subscription {
        self.shared.events.subscribe(f)
    }

    /// Publishes a payload (any `Serialize` value, sent as JSON). Resolves
    /// with the [`confab_protocol::Ack`] (offset, ts) once the server stored
    /// it. While offline or re-joining it is queued (bounded) and sent after
    /// the re-join; it fails with [`Error::AckTimeout`] when no ack came
    /// within the ack timeout, and with [`Error::Disconnected`] when the link
    /// dropped after it was sent (never re-sent, so never duplicated).
    pub fn publish<T: Serialize + ?Sized>(&self, payload: &T) -> AckFuture {
        match Payload::new(payload) {
            Ok(p) => self.publish_payload(p),
            Err(e) => publish_error(e),
        }
    }

    /// [`Room::publish`] with a ready [`Payload`].
    pub fn publish_payload(&self, payload: Payload) -> AckFuture {
        publish(&self.client.shared, &self.shared, payload)
    }

    /// Resolves once the room is joined (at once if it is); fails if the
    /// server refuses the join (at once if it already did), the room is
    /// left, or the client closes.
    pub fn joined(&self) -> impl Future<Output = Result<()>> + 'static {
        let rx = {
            let mut inner = self.shared.inner.write();
            match inner.state.get() {
                RoomState::Joined => None,
                RoomState::Left | RoomState::Leaving => Some(Err(Error::NotJoined)),
                RoomState::Errored => Some(Err(inner.error.clone().unwrap_or(Error::NotJoined))),
                _ => {
                    let (tx, rx) = oneshot::channel();
                    inner.waiters.push(tx);
                    Some(Ok(rx))
                }
            }
        };
        async move {
            match rx {
                None => Ok(()),
                Some(Err(e)) => Err(e),
                Some(Ok(rx)) => rx.await.unwrap_or(Err(Error::Closed)),
            }
        }
    }

    /// Leaves the room: no more events, no re-join; queued publishes fail
    /// with [`Error::NotJoined`]. Resolves when the server confirmed (or at
    /// once when offline).
    pub fn leave(&self) -> impl Future<Output = Result<()>> + 'static {
        self.shared.set_state(RoomState::Leaving);
        let ack = send_leave(&self.client.shared, &self.shared.name);
        self.forget();
        async move {
            if let Some(ack) = ack {
                ack.await?;
            }
            Ok(())
        }
    }

    pub(crate) fn forget(&self) {
        forget_room(&self.client.shared, &self.shared);
        self.shared.fail_waiters(Error::NotJoined);
    }

    /// The client this room belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn publish_error(e: Error) -> AckFuture {
    crate::client::failed_ack(e)
}
