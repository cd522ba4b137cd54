//! [`Room`]: a handle on one room of a session, and the [`Client`] methods
//! that hand rooms out (`room`, `join`, `rooms`: here rather than in
//! `client.rs`, so that this file depends on the client and not the
//! other way round).

use std::future::Future;
use std::rc::Rc;

use serde::Serialize;

use crate::events::{EventStream, Subscription};
use crate::session::{with_timeout, AckFuture, RoomCore, RoomEvent};
use crate::state::RoomState;
use crate::{Client, Error, HistoryPage, Member, Payload, Result, RoomMessage};

/// A room of a [`Client`]: a cheap `Clone` handle. It stays joined across
/// reconnects (re-joined from the last seen offset) until [`Room::leave`]
/// or [`Client::close`].
#[derive(Clone)]
pub struct Room {
    client: Client,
    core: Rc<RoomCore>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("name", &self.core.name)
            .field("state", &self.state())
            .finish()
    }
}

impl PartialEq for Room {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.core, &other.core)
    }
}

impl Room {
    /// Room name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// Current state.
    pub fn state(&self) -> RoomState {
        self.core.state()
    }

    /// Who is in the room (from the last join, kept current by presence
    /// diffs), each with their `info` and room `state`.
    pub fn members(&self) -> Vec<Member> {
        self.core.members()
    }

    /// Messages seen in this room since it was joined, oldest first,
    /// deduplicated by offset (at most the client's `history_limit`).
    /// Older ones: [`Room::history`].
    pub fn recent(&self) -> Vec<RoomMessage> {
        self.core.recent()
    }

    /// Asks the server for older messages: at most `limit` (default 50,
    /// the server caps it) with offsets below `before` (default: the
    /// newest), oldest first. `more == false` means nothing older is
    /// kept. Queued like a publish while the room is (re-)joining;
    /// [`Error::AckTimeout`] bounds the wait. The messages are not emitted
    /// as [`RoomEvent::Message`]s.
    ///
    /// ```no_run
    /// # async fn f(room: confab_client::Room) -> confab_client::Result<()> {
    /// // The page above the oldest message shown.
    /// let oldest = room.recent().first().map(|m| m.offset);
    /// let page = room.history(oldest, Some(30)).await?;
    /// if !page.more { /* the beginning of what the server keeps */ }
    /// # Ok(()) }
    /// ```
    pub fn history(
        &self,
        before: Option<u64>,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<HistoryPage>> + 'static {
        self.client.session.history(&self.core, before, limit)
    }

    /// Sends an ephemeral signal (any `Serialize` value, e.g.
    /// `{"typing": true}`) to the room's current members: not stored, not
    /// replayed, no offset, no ack. Only while the room is joined (else
    /// [`Error::NotJoined`]; [`Error::Closed`] after `close()`): a signal
    /// is not worth queueing. The server rate-limits signals on their own;
    /// its errors (e.g. `rate_limited`) arrive as
    /// [`crate::ClientEvent::Error`].
    pub fn signal<T: Serialize + ?Sized>(&self, payload: &T) -> Result<()> {
        self.signal_payload(Payload::new(payload)?)
    }

    /// [`Room::signal`] with a ready [`Payload`].
    pub fn signal_payload(&self, payload: Payload) -> Result<()> {
        self.client.session.signal(&self.core, payload)
    }

    /// Sets this user's JSON state in this room (last writer wins; `None`
    /// / `null` clears it), e.g. read receipts `{"read": 42}`. Every member
    /// (this user's other connections too) sees it in
    /// [`Room::members`] and as a [`RoomEvent::Presence`] update.
    /// Resolves with the ack; queued while the room is (re-)joining and
    /// sent again after a reconnect until acknowledged.
    ///
    /// Not [`Room::state`], which is the room's join state.
    pub fn set_member_state<T: Serialize + ?Sized>(&self, state: &T) -> AckFuture {
        match Payload::new(state) {
            Ok(p) => self.set_member_state_payload(p),
            Err(e) => AckFuture::failed(e),
        }
    }

    /// [`Room::set_member_state`] with a ready [`Payload`].
    pub fn set_member_state_payload(&self, state: Payload) -> AckFuture {
        self.client.session.set_member_state(&self.core, state)
    }

    /// Last seen offset in the current epoch (0 = none).
    pub fn offset(&self) -> u64 {
        self.core.offset()
    }

    /// How many times a resume could not be recovered ([`RoomEvent::Gap`]).
    pub fn gaps(&self) -> u32 {
        self.core.gaps()
    }

    /// The server's error when the room is [`RoomState::Errored`].
    pub fn error(&self) -> Option<Error> {
        self.core.error()
    }

    /// Calls `f` on every [`RoomEvent`] until the subscription is dropped.
    pub fn on_event(&self, f: impl Fn(&RoomEvent) + 'static) -> Subscription {
        self.core.subscribe(f)
    }

    /// The room's events from now on as a `futures` `Stream` (the same
    /// events as [`Room::on_event`]); it ends after
    /// `RoomEvent::StateChanged(RoomState::Left)` (at once if the room is
    /// already left). Events wait in the stream until read.
    ///
    /// ```no_run
    /// # async fn f(room: confab_client::Room) {
    /// use confab_client::RoomEvent;
    /// use futures_util::StreamExt; // or any `Stream` combinators
    /// let mut events = room.events();
    /// while let Some(ev) = events.next().await {
    ///     if let RoomEvent::Message(m) = ev { let _ = m.payload.to_json(); }
    /// }
    /// # }
    /// ```
    pub fn events(&self) -> EventStream<RoomEvent> {
        self.core.stream()
    }

    /// Publishes a payload (any `Serialize` value, sent as JSON). Resolves
    /// with the [`confab_protocol::Ack`] (offset, ts) once the server stored
    /// it. While offline or re-joining it is queued (bounded) and sent after
    /// the re-join. Every publish carries a client message id
    /// ([`AckFuture::cid`]): when the link drops before the ack, or the
    /// server answers `outcome_unknown`, it is sent again with the same id
    /// and the server answers with the first ack, so it is stored once and
    /// resolves once, with that one offset. It fails with
    /// [`Error::AckTimeout`] when no ack came within the ack timeout
    /// (counted from the call), with [`Error::Closed`] after `close()`.
    pub fn publish<T: Serialize + ?Sized>(&self, payload: &T) -> AckFuture {
        match Payload::new(payload) {
            Ok(p) => self.publish_payload(p),
            Err(e) => AckFuture::failed(e),
        }
    }

    /// [`Room::publish`] with a ready [`Payload`].
    pub fn publish_payload(&self, payload: Payload) -> AckFuture {
        self.client.session.publish(&self.core, payload)
    }

    /// Resolves once the room is joined (at once if it is); fails if the
    /// server refuses the join (at once if it already did), the room is
    /// left, or the client closes.
    pub fn joined(&self) -> impl Future<Output = Result<()>> + 'static {
        self.core.joined()
    }

    /// Leaves the room: no more events, no re-join; queued publishes fail
    /// with [`Error::NotJoined`]. Resolves when the server confirmed (or at
    /// once when offline).
    pub fn leave(&self) -> impl Future<Output = Result<()>> + 'static {
        let ack = self.client.session.leave(&self.core);
        async move {
            if let Some(ack) = ack {
                ack.await?;
            }
            Ok(())
        }
    }

    /// The client this room belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Client {
    /// Joins `room` and waits for the server's confirmation (with its
    /// history and member list). Fails with [`Error::AckTimeout`] when not
    /// joined within the ack timeout (e.g. offline), or with the server's
    /// error; the room is then forgotten. Joining a room already joined
    /// returns the same room.
    pub fn join(&self, room: &str) -> impl Future<Output = Result<Room>> + 'static {
        let room = self.room(room);
        let timeout = self.session.ack_timeout();
        async move {
            let room = room?;
            match with_timeout(room.joined(), timeout).await {
                Ok(()) => Ok(room),
                Err(e) => {
                    if room.state() != RoomState::Joined {
                        room.client.session.forget(&room.core);
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
        let core = self.session.room(name)?;
        Ok(Room {
            client: self.clone(),
            core,
        })
    }

    /// The rooms currently registered (joined or being joined).
    pub fn rooms(&self) -> Vec<Room> {
        self.session
            .rooms()
            .into_iter()
            .map(|core| Room {
                client: self.clone(),
                core,
            })
            .collect()
    }
}
