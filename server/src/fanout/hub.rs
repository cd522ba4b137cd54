//! Node-local fan-out: which local connections are in which room, and which
//! belong to which user (for direct messages). The channel layer feeds it
//! events through [`EventSink`]; it never blocks. Room traffic goes into
//! each room's [`Feed`]s (one for native sockets, one for seed-compatible
//! ones), which members' writers read; frames for one connection go into its
//! bounded outbound queue. A connection whose queue is full, or who falls a
//! queue's length behind a feed, is closed as a slow consumer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use confab_protocol::{close, dm_members, Member};

use super::conn::{CloseReason, ConnHandle, ConnId, Out};
use super::event::{Event, EventSink, Flavor};
use super::feed::{Feed, Subscription};
use super::outbox::Bounds;

struct RoomSubs {
    /// What native sockets read: messages and presence.
    native: Arc<Feed<ConnHandle>>,
    /// What seed-compatible sockets read: messages.
    compat: Arc<Feed<ConnHandle>>,
    live: HashMap<ConnId, (Arc<ConnHandle>, Subscription<ConnHandle>)>,
    /// Joining connections: events buffered until their `joined` reply is
    /// queued, so no live message overtakes it.
    pending: HashMap<ConnId, (Arc<ConnHandle>, Vec<Event>)>,
    /// Members that may not see who is in the room (the room policy's
    /// `presence`): their subscriptions skip presence diffs.
    no_presence: HashSet<ConnId>,
}

impl RoomSubs {
    fn new(bounds: Bounds) -> Self {
        Self {
            native: Feed::new(bounds),
            compat: Feed::new(bounds),
            live: HashMap::new(),
            pending: HashMap::new(),
            no_presence: HashSet::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.live.is_empty() && self.pending.is_empty()
    }

    fn feed(&self, flavor: Flavor) -> &Arc<Feed<ConnHandle>> {
        match flavor {
            Flavor::Native => &self.native,
            Flavor::Compat => &self.compat,
        }
    }

    /// Makes `conn` a live reader of its flavor's feed; its writer is told
    /// through its queue, after whatever was queued before.
    fn attach(&mut self, conn: &Arc<ConnHandle>) {
        let mut sub = self.feed(conn.flavor).attach(conn);
        sub.presence = !self.no_presence.contains(&conn.id);
        conn.queue(Out::Attach(sub.clone()));
        self.live.insert(conn.id, (conn.clone(), sub));
    }

    fn detach(&mut self, id: ConnId) {
        if let Some((conn, sub)) = self.live.remove(&id) {
            self.feed(conn.flavor).detach(&sub);
        }
    }

    fn publish(&self, event: &Event) {
        if let Event::Message(_) = event {
            self.compat.push(event);
        }
        self.native.push(event);
    }
}

/// Local connections by room and by user.
#[derive(Default)]
pub(crate) struct Hub {
    rooms: RwLock<HashMap<String, Arc<Mutex<RoomSubs>>>>,
    users: RwLock<HashMap<String, HashMap<ConnId, Arc<ConnHandle>>>>,
    conns: RwLock<HashMap<ConnId, Arc<ConnHandle>>>,
    /// Display names changed by `rename` while the user has local
    /// connections (forgotten with their last one).
    names: RwLock<HashMap<String, String>>,
    /// Bounds of each room's feeds; `items` also bounds what a joining
    /// connection may hold back.
    bounds: Bounds,
    /// Rooms connections were removed from by the application, until each
    /// connection's receive loop takes them.
    evictions: Mutex<HashMap<ConnId, Vec<String>>>,
    /// Set by the first [`Hub::close_all`]: later connections are closed at
    /// once, and the node is shutting down.
    closing_all: OnceLock<CloseReason>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

fn deliver_to(conn: &ConnHandle, event: &Event) {
    if let Some(text) = event.text_for(conn.flavor) {
        conn.send_text(text);
    }
}

impl Hub {
    /// An empty hub whose room feeds keep at most `bounds` for their
    /// slowest reader; a joining connection may hold back `bounds.items`
    /// events before it is treated as a slow consumer.
    pub(crate) fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            ..Self::default()
        }
    }

    /// A room's subscriptions, if it has any here.
    fn room(&self, room: &str) -> Option<Arc<Mutex<RoomSubs>>> {
        self.rooms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room)
            .cloned()
    }

    /// Registers a connection (for user delivery, shutdown and debug).
    pub(crate) fn register(&self, conn: &Arc<ConnHandle>) {
        if let Some(r) = self.closing_all.get() {
            conn.close(r.code, r.reason);
        }
        self.conns
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(conn.id, conn.clone());
        self.users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(conn.user_id.clone())
            .or_default()
            .insert(conn.id, conn.clone());
    }

    /// Forgets a connection (call after leaving its rooms).
    pub(crate) fn unregister(&self, conn: &ConnHandle) {
        self.conns
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&conn.id);
        let mut users = self.users.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = users.get_mut(&conn.user_id) {
            set.remove(&conn.id);
            if set.is_empty() {
                users.remove(&conn.user_id);
                self.names
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&conn.user_id);
            }
        }
    }

    /// Records `user_id`'s new display name for all of their local
    /// connections (see [`Hub::user_name`]).
    pub(crate) fn rename_user(&self, user_id: &str, name: &str) {
        if !self.user_online(user_id) {
            return;
        }
        self.names
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user_id.to_owned(), name.to_owned());
    }

    /// The display name `user_id` renamed themselves to, while any of their
    /// connections is open here.
    pub(crate) fn user_name(&self, user_id: &str) -> Option<String> {
        self.names
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user_id)
            .cloned()
    }

    /// Rooms where any local connection of `user_id` is subscribed (live or
    /// joining), sorted.
    pub(crate) fn rooms_of_user(&self, user_id: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .rooms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, subs)| {
                let s = subs.lock().unwrap_or_else(PoisonError::into_inner);
                s.live.values().any(|(c, _)| c.user_id == user_id)
                    || s.pending.values().any(|(c, _)| c.user_id == user_id)
            })
            .map(|(room, _)| room.clone())
            .collect();
        out.sort();
        out
    }

    /// Adds `conn` to `room`. With `pending`, events are buffered until
    /// [`Hub::activate`]. Without `presence`, the room's presence diffs are
    /// not delivered to it. Returns true when it is the room's first local
    /// subscriber (the layer should be told to subscribe).
    pub(crate) fn add(
        &self,
        room: &str,
        conn: &Arc<ConnHandle>,
        pending: bool,
        presence: bool,
    ) -> bool {
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        let mut first = false;
        let bounds = self.bounds;
        let subs = rooms.entry(room.to_owned()).or_insert_with(|| {
            first = true;
            Arc::new(Mutex::new(RoomSubs::new(bounds)))
        });
        let mut subs = subs.lock().unwrap_or_else(PoisonError::into_inner);
        subs.detach(conn.id);
        if presence {
            subs.no_presence.remove(&conn.id);
        } else {
            subs.no_presence.insert(conn.id);
        }
        if pending {
            subs.pending.insert(conn.id, (conn.clone(), Vec::new()));
        } else {
            subs.pending.remove(&conn.id);
            subs.attach(conn);
        }
        first
    }

    /// Drops the presence diffs buffered so far for a pending join (the
    /// member list of its `joined` reply already reflects them).
    pub(crate) fn clear_pending_presence(&self, room: &str, conn: &ConnHandle) {
        if let Some(subs) = self.room(room) {
            let mut subs = subs.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, buf)) = subs.pending.get_mut(&conn.id) {
                buf.retain(|e| !matches!(e, Event::Presence(_)));
            }
        }
    }

    /// Ends a pending join: queues the buffered events (messages only when
    /// newer than `head`, the offset the `joined` reply's history ends at)
    /// and makes the subscription live.
    pub(crate) fn activate(&self, room: &str, conn: &Arc<ConnHandle>, head: u64) {
        let Some(subs) = self.room(room) else { return };
        let mut subs = subs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((c, buffered)) = subs.pending.remove(&conn.id) {
            let presence = !subs.no_presence.contains(&conn.id);
            for ev in &buffered {
                match ev {
                    Event::Message(m) if m.msg.offset <= head => {}
                    Event::Presence(_) if !presence => {}
                    _ => deliver_to(&c, ev),
                }
            }
            subs.attach(&c);
        }
    }

    /// Removes `conn` from `room`. Returns true when the room has no local
    /// subscribers left (the layer may unsubscribe).
    pub(crate) fn remove(&self, room: &str, conn: &ConnHandle) -> bool {
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        let Some(subs) = rooms.get(room) else {
            return false;
        };
        let empty = {
            let mut s = subs.lock().unwrap_or_else(PoisonError::into_inner);
            s.detach(conn.id);
            s.pending.remove(&conn.id);
            s.no_presence.remove(&conn.id);
            s.is_empty()
        };
        if empty {
            rooms.remove(room);
        }
        empty
    }

    /// Rooms with local subscribers.
    pub(crate) fn room_count(&self) -> usize {
        self.rooms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether any local connection belongs to `user_id`.
    pub(crate) fn user_online(&self, user_id: &str) -> bool {
        self.users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(user_id)
    }

    /// All local connections.
    pub(crate) fn connections(&self) -> Vec<Arc<ConnHandle>> {
        self.conns
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// A local connection by session id.
    pub(crate) fn by_session(&self, session_id: &str) -> Option<Arc<ConnHandle>> {
        self.conns
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .find(|c| c.session_id == session_id)
            .cloned()
    }

    /// The rooms `conn` was removed from since it last asked.
    pub(crate) fn take_evictions(&self, conn: &ConnHandle) -> Vec<String> {
        (self
            .evictions
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
        .remove(&conn.id)
        .unwrap_or_default()
    }

    /// Local connections of `user_id`.
    fn user_connections(&self, user_id: &str) -> Vec<Arc<ConnHandle>> {
        (self.users.read().unwrap_or_else(PoisonError::into_inner))
            .get(user_id)
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether [`Hub::close_all`] was called (the node is shutting down).
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.closing_all.get().is_some()
    }

    /// Asks every connection to close with `code`.
    pub(crate) fn close_all(&self, code: u16, reason: &'static str) {
        let _ = self.closing_all.set(CloseReason { code, reason });
        for c in self.connections() {
            c.close(code, reason);
        }
    }

    fn deliver_room(&self, room: &str, event: &Event) {
        let Some(subs) = self.room(room) else { return };
        let mut subs = subs.lock().unwrap_or_else(PoisonError::into_inner);
        subs.publish(event);
        let limit = self.bounds.items.max(1);
        for (conn, buf) in subs.pending.values_mut() {
            if buf.len() >= limit {
                conn.slow_consumer();
            } else {
                buf.push(event.clone());
            }
        }
    }

    fn deliver_dm(&self, room: &str, a: &str, b: &str, event: &Event) {
        // Connections that joined the DM room get it through the room (in
        // order with their `joined` reply); the users' other connections
        // get it directly.
        let joined: Vec<ConnId> = self
            .rooms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room)
            .map(|s| {
                let s = s.lock().unwrap_or_else(PoisonError::into_inner);
                s.live.keys().chain(s.pending.keys()).copied().collect()
            })
            .unwrap_or_default();
        self.deliver_room(room, event);
        let users = self.users.read().unwrap_or_else(PoisonError::into_inner);
        let mut ids = vec![a];
        if b != a {
            ids.push(b);
        }
        for user in ids {
            for conn in users.get(user).into_iter().flat_map(HashMap::values) {
                if conn.flavor == Flavor::Native && !joined.contains(&conn.id) {
                    deliver_to(conn, event);
                }
            }
        }
    }
}

impl EventSink for Hub {
    fn deliver(&self, event: Event) {
        match &event {
            // Once every local connection is closing, the presence diffs of
            // their leaves would only queue ahead of their close frames (a
            // restart with 5,000 sockets made tens of thousands).
            Event::Presence(_) if self.is_shutting_down() => {}
            Event::Presence(p) => self.deliver_room(&p.diff.room, &event),
            Event::Message(_) | Event::Signal(_) => match dm_members(event.room()) {
                Some((a, b)) => self.deliver_dm(event.room(), a, b, &event),
                None => self.deliver_room(event.room(), &event),
            },
        }
    }

    fn renamed(&self, member: &Member) -> Vec<String> {
        if self.user_name(&member.id).as_deref() == Some(member.name.as_str()) {
            return Vec::new();
        }
        self.rename_user(&member.id, &member.name);
        self.rooms_of_user(&member.id)
    }

    fn disconnect_user(&self, user_id: &str) {
        for c in self.user_connections(user_id) {
            c.close(close::DISCONNECTED, "disconnected by the application");
        }
    }

    fn remove_member(&self, room: &str, user_id: &str) {
        let Some(subs) = self.room(room) else { return };
        let inside: Vec<Arc<ConnHandle>> = {
            let s = subs.lock().unwrap_or_else(PoisonError::into_inner);
            let live = s.live.values().map(|(c, _)| c);
            let pending = s.pending.values().map(|(c, _)| c);
            live.chain(pending)
                .filter(|c| c.user_id == user_id)
                .cloned()
                .collect()
        };
        let mut evictions = self
            .evictions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for c in inside {
            evictions.entry(c.id).or_default().push(room.to_owned());
            c.nudge_evicted();
        }
    }

    fn history_lost(&self) {
        for c in self.connections() {
            if c.flavor == Flavor::Native {
                c.close(close::SERVICE_RESTART, "history lost; rejoin");
            }
        }
    }
}
