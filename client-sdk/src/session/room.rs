//! [`RoomCore`]: the state of one room of a session (what a
//! [`crate::Room`] handle points at): its state machine, resume cursor,
//! members, recent messages, join waiters and listeners.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;

use confab_protocol::Position;

use super::cursor::{Resume, RoomCursor};
use super::wire::{Joined, Presence};
use crate::events::{Emitter, EventStream, Subscription};
use crate::runtime::cell::Borrows;
use crate::runtime::oneshot;
use crate::state::{RoomState, StateMachine};
use crate::{Error, Member, Payload, Result, RoomMessage};

/// Events of one room (see [`crate::Room::on_event`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RoomEvent {
    /// A new message (live, or replayed from history on join/resume);
    /// each `(room, offset)` is delivered once, in offset order.
    Message(RoomMessage),
    /// Presence diff: users who arrived, left, or changed (name, `info`,
    /// or their room `state`: each update is the whole member).
    Presence {
        /// Arrived.
        joins: Vec<Member>,
        /// Left.
        leaves: Vec<Member>,
        /// Changed: the member as it is now.
        updates: Vec<Member>,
    },
    /// Full member list, sent on every (re)join.
    Members(Vec<Member>),
    /// An ephemeral signal from a member ([`crate::Room::signal`]): not
    /// stored, not replayed, no offset (e.g. "typing").
    Signal {
        /// Who sent it.
        from: Member,
        /// What they sent.
        payload: Payload,
    },
    /// The room's state changed.
    StateChanged(RoomState),
    /// After a reconnect the server could not replay everything missed
    /// (history trimmed, or a restarted server with a new epoch): messages
    /// may be missing before the ones that follow.
    Gap,
    /// The server refused to (re-)join the room, or removed this user from
    /// it (`forbidden`); the state is now [`RoomState::Errored`] and
    /// [`crate::Room::error`] returns the same error.
    /// A refusal with `unauthorized`, `forbidden`, `hook_denied` or
    /// `room_name_invalid` is final: the room is not asked for again on
    /// reconnect (only by an explicit [`crate::Client::room`] /
    /// [`crate::Client::join`]).
    Error(Error),
}

struct RoomInner {
    state: StateMachine<RoomState>,
    cursor: RoomCursor,
    members: Vec<Member>,
    history: VecDeque<RoomMessage>,
    history_limit: usize,
    waiters: Vec<oneshot::Sender<Result<()>>>,
    error: Option<Error>,
    gaps: u32,
}

pub(crate) struct RoomCore {
    pub(crate) name: String,
    inner: RefCell<RoomInner>,
    events: Emitter<RoomEvent>,
}

impl RoomCore {
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

    pub(crate) fn on_joined(&self, j: Joined) {
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
                    *m = u.clone();
                }
            }
        }
        self.events.emit(&RoomEvent::Presence {
            joins: p.joins,
            leaves: p.leaves,
            updates: p.updates,
        });
    }

    /// A signal from a member, while the room is (being) joined.
    pub(crate) fn on_signal(&self, from: Member, payload: Payload) {
        if matches!(self.state(), RoomState::Joined | RoomState::Joining) {
            self.events.emit(&RoomEvent::Signal { from, payload });
        }
    }

    /// The position to re-join from (`None` before the first `joined`).
    pub(crate) fn since(&self) -> Option<Position> {
        self.inner.read().cursor.since()
    }

    /// Resolves once the room is joined (at once if it is); fails if the
    /// server refuses the join (at once if it already did), the room is
    /// left, or the client closes.
    pub(crate) fn joined(&self) -> impl Future<Output = Result<()>> + 'static {
        let rx = {
            let mut inner = self.inner.write();
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

    pub(crate) fn members(&self) -> Vec<Member> {
        self.inner.read().members.clone()
    }

    pub(crate) fn recent(&self) -> Vec<RoomMessage> {
        self.inner.read().history.iter().cloned().collect()
    }

    pub(crate) fn offset(&self) -> u64 {
        self.inner.read().cursor.offset()
    }

    pub(crate) fn gaps(&self) -> u32 {
        self.inner.read().gaps
    }

    pub(crate) fn error(&self) -> Option<Error> {
        self.inner.read().error.clone()
    }

    pub(crate) fn subscribe(&self, f: impl Fn(&RoomEvent) + 'static) -> Subscription {
        self.events.subscribe(f)
    }

    /// The events as a stream that ends once the room is left.
    pub(crate) fn stream(&self) -> EventStream<RoomEvent> {
        let left = self.state() == RoomState::Left;
        self.events.stream(left, |ev| {
            matches!(ev, RoomEvent::StateChanged(RoomState::Left))
        })
    }
}
