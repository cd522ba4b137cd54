//! The embedded in-memory channel layer (one process, `--in-memory`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use confab_protocol::{Json, Member, Message, Presence};
use rand::Rng;

use super::{
    ChannelLayer, Event, EventSink, History, HistoryQuery, Page, Payload, PresenceChange,
    Publication, Retention, Stored, StoredMessage,
};
use crate::clock::now_ms;
use crate::error::Result;

#[derive(Default)]
struct Room {
    head: u64,
    history: VecDeque<Arc<StoredMessage>>,
    /// user id → (member, connection count)
    present: HashMap<String, (Member, usize)>,
    /// user id → their state in this room (kept when they leave).
    states: HashMap<String, Json>,
    /// client message id → (offset, ts) of its message.
    cids: HashMap<String, (u64, u64)>,
    /// The ids in `cids`, oldest first, to forget them in order.
    cid_order: VecDeque<String>,
}

impl Room {
    /// A present member as others see them here: with their room state.
    fn with_state(&self, member: &Member) -> Member {
        Member {
            state: self.states.get(&member.id).cloned(),
            ..member.clone()
        }
    }

    fn members(&self) -> Vec<Member> {
        let mut v: Vec<Member> = self
            .present
            .values()
            .map(|(m, _)| self.with_state(m))
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Drops messages past the retention (count, then age) and the client
    /// ids it no longer needs.
    fn trim(&mut self, retention: &Retention, now: u64) {
        while self.history.len() > retention.messages {
            self.history.pop_front();
        }
        let oldest_ts = retention.oldest_ts(now);
        while self.history.front().is_some_and(|m| m.msg.ts < oldest_ts) {
            self.history.pop_front();
        }
        let oldest_kept = self.history.front().map_or(self.head + 1, |m| m.msg.offset);
        while let Some(cid) = self.cid_order.front() {
            let Some(&(offset, ts)) = self.cids.get(cid) else {
                self.cid_order.pop_front();
                continue;
            };
            if !retention.forgets_cid(offset, ts, oldest_kept, now) {
                break;
            }
            self.cids.remove(cid);
            self.cid_order.pop_front();
        }
    }

    /// The kept messages a client may still see at `now` (within the TTL).
    fn visible(
        &self,
        retention: &Retention,
        now: u64,
    ) -> std::collections::vec_deque::Iter<'_, Arc<StoredMessage>> {
        let oldest_ts = retention.oldest_ts(now);
        let skip = self.history.partition_point(|m| m.msg.ts < oldest_ts);
        self.history.range(skip..)
    }
}

/// Rooms, history and presence in this process's memory. The epoch is random
/// per process, so a resume after a restart reports `recovered: false`.
///
/// ```
/// use std::sync::Arc;
/// use confab_server::layer::{EventSink, Event, MemoryLayer, Retention};
/// struct Ignore;
/// impl EventSink for Ignore { fn deliver(&self, _: Event) {} }
/// let layer = MemoryLayer::new(Retention::messages(100), Arc::new(Ignore));
/// assert!(!layer.epoch().is_empty());
/// ```
pub struct MemoryLayer {
    epoch: String,
    retention: Retention,
    /// One lock per room, so a busy room does not hold up the others.
    rooms: RwLock<HashMap<String, Mutex<Room>>>,
    sink: Arc<dyn EventSink>,
}

impl std::fmt::Debug for MemoryLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLayer")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl MemoryLayer {
    /// A layer keeping what `retention` says and delivering to `sink`.
    pub fn new(retention: Retention, sink: Arc<dyn EventSink>) -> Self {
        Self {
            epoch: format!("{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff),
            retention,
            rooms: RwLock::new(HashMap::new()),
            sink,
        }
    }

    /// This process's history epoch.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Member states kept elsewhere (the durable store) at start:
    /// `(room, user, state)`.
    pub(crate) fn preload_states(&self, states: Vec<(String, String, Json)>) {
        for (room, user, state) in states {
            self.with_room(&room, true, |r| r.states.insert(user, state));
        }
    }

    /// Runs `f` on the room (creating it when `create`), holding the map's
    /// read lock and the room's own lock: rooms do not hold each other up,
    /// and a room is never removed while in use.
    fn with_room<T>(&self, room: &str, create: bool, f: impl FnOnce(&mut Room) -> T) -> Option<T> {
        {
            let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(r) = rooms.get(room) {
                return Some(f(&mut r.lock().unwrap_or_else(PoisonError::into_inner)));
            }
        }
        if !create {
            return None;
        }
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        let r = rooms.entry(room.to_owned()).or_default();
        Some(f(r.get_mut().unwrap_or_else(PoisonError::into_inner)))
    }

    /// Forgets a room without members, history or member states.
    fn drop_if_empty(&self, room: &str) {
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        if rooms.get_mut(room).is_some_and(|r| {
            let r = r.get_mut().unwrap_or_else(PoisonError::into_inner);
            r.present.is_empty() && r.history.is_empty() && r.states.is_empty()
        }) {
            rooms.remove(room);
        }
    }

    fn presence(&self, diff: Presence) {
        self.sink.deliver(Event::presence(diff));
    }
}

#[async_trait]
impl ChannelLayer for MemoryLayer {
    async fn publish(&self, p: Publication<'_>) -> Result<Stored> {
        let retention = self.retention;
        let stored = self.with_room(p.room, true, |r| {
            let now = now_ms();
            if let Some(&(offset, ts)) = p.cid.and_then(|c| r.cids.get(c)) {
                return Stored {
                    offset,
                    ts,
                    fresh: false,
                };
            }
            r.head += 1;
            let stored = Arc::new(StoredMessage::new(Message {
                room: p.room.to_owned(),
                offset: r.head,
                from: p.from.clone(),
                ts: now,
                payload: p.payload,
                cid: p.cid.map(str::to_owned),
            }));
            if let Some(cid) = p.cid {
                r.cids.insert(cid.to_owned(), (r.head, now));
                r.cid_order.push_back(cid.to_owned());
            }
            r.history.push_back(stored.clone());
            r.trim(&retention, now);
            // Delivered under the room's lock so offsets arrive in order.
            self.sink.deliver(Event::Message(stored));
            Stored {
                offset: r.head,
                ts: now,
                fresh: true,
            }
        });
        stored.ok_or_else(|| crate::Error::Internal("room vanished".into()))
    }

    async fn history(&self, room: &str, query: HistoryQuery<'_>) -> Result<History> {
        let retention = self.retention;
        let (head, recovered, messages) = self
            .with_room(room, false, |r| {
                let now = now_ms();
                r.trim(&retention, now);
                let head = r.head;
                let oldest = r.history.front().map_or(head + 1, |m| m.msg.offset);
                // Exact resume: same epoch, not ahead of us, nothing after it
                // evicted, and the gap within the byte bound.
                if let Some(p) = query.since {
                    if p.epoch == self.epoch && p.offset <= head && p.offset + 1 >= oldest {
                        let skip = r.history.partition_point(|m| m.msg.offset <= p.offset);
                        if query.fits(r.history.range(skip..)) {
                            return (head, true, r.history.range(skip..).cloned().collect());
                        }
                    }
                }
                (head, false, query.newest(r.visible(&retention, now).rev()))
            })
            .unwrap_or_else(|| {
                // An unknown room is empty: resuming from 0 in this epoch is exact.
                let since = query.since;
                let exact = since.is_some_and(|p| p.epoch == self.epoch && p.offset == 0);
                (0, exact, Vec::new())
            });
        Ok(History {
            epoch: self.epoch.clone(),
            head,
            recovered,
            messages,
        })
    }

    async fn page(
        &self,
        room: &str,
        before: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page> {
        let retention = self.retention;
        let query = HistoryQuery {
            since: None,
            limit,
            max_bytes,
        };
        let page = self.with_room(room, false, |r| {
            let visible: Vec<&Arc<StoredMessage>> = r.visible(&retention, now_ms()).collect();
            let end = before.map_or(visible.len(), |b| {
                visible.partition_point(|m| m.msg.offset < b)
            });
            let messages = query.newest(visible[..end].iter().rev().copied());
            let more = messages.first().is_some_and(|first| {
                visible
                    .first()
                    .is_some_and(|o| o.msg.offset < first.msg.offset)
            });
            Page { messages, more }
        });
        Ok(page.unwrap_or_default())
    }

    async fn signal(&self, room: &str, from: &Member, payload: Payload) -> Result<()> {
        self.sink
            .deliver(Event::signal(room.to_owned(), from.clone(), payload));
        Ok(())
    }

    async fn set_state(&self, room: &str, user_id: &str, state: Option<Json>) -> Result<()> {
        self.with_room(room, true, |r| {
            let changed = match &state {
                Some(s) => r.states.insert(user_id.to_owned(), s.clone()).as_ref() != Some(s),
                None => r.states.remove(user_id).is_some(),
            };
            if let (true, Some((member, _))) = (changed, r.present.get(user_id)) {
                let member = r.with_state(member);
                self.presence(Presence {
                    room: room.to_owned(),
                    updates: vec![member],
                    ..Presence::default()
                });
            }
        });
        Ok(())
    }

    async fn rooms(&self) -> Result<Vec<(String, usize)>> {
        let rooms = self.rooms.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(String, usize)> = rooms
            .iter()
            .map(|(name, r)| {
                (
                    name.clone(),
                    r.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .present
                        .len(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        out.sort();
        Ok(out)
    }

    async fn disconnect_user(&self, user_id: &str) -> Result<()> {
        self.sink.disconnect_user(user_id);
        Ok(())
    }

    async fn remove_member(&self, room: &str, user_id: &str) -> Result<()> {
        self.sink.remove_member(room, user_id);
        Ok(())
    }

    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        let members = self.with_room(room, true, |r| {
            let entry = r
                .present
                .entry(member.id.clone())
                .or_insert_with(|| (member.clone(), 0));
            entry.1 += 1;
            if entry.1 == 1 {
                let joined = r.with_state(member);
                self.presence(Presence {
                    room: room.to_owned(),
                    joins: vec![joined],
                    ..Presence::default()
                });
                self.sink.presence_changed(PresenceChange::Joined {
                    room: room.to_owned(),
                    member: member.clone(),
                    first: r.present.len() == 1,
                });
            }
            r.members()
        });
        Ok(members.unwrap_or_default())
    }

    async fn presence_leave(&self, room: &str, user_id: &str) -> Result<()> {
        let gone = self.with_room(room, false, |r| {
            let last = r.present.get_mut(user_id).is_some_and(|entry| {
                entry.1 = entry.1.saturating_sub(1);
                entry.1 == 0
            });
            if last {
                if let Some((member, _)) = r.present.remove(user_id) {
                    self.presence(Presence {
                        room: room.to_owned(),
                        leaves: vec![member.clone()],
                        ..Presence::default()
                    });
                    self.sink.presence_changed(PresenceChange::Left {
                        room: room.to_owned(),
                        member,
                        last: r.present.is_empty(),
                    });
                }
            }
            last
        });
        if gone == Some(true) {
            self.drop_if_empty(room);
        }
        Ok(())
    }

    async fn presence_update(&self, room: &str, member: &Member) -> Result<()> {
        self.with_room(room, false, |r| {
            if let Some(entry) = r.present.get_mut(&member.id) {
                if entry.0 != *member {
                    entry.0 = member.clone();
                    let updated = r.with_state(member);
                    self.presence(Presence {
                        room: room.to_owned(),
                        updates: vec![updated],
                        ..Presence::default()
                    });
                }
            }
        });
        Ok(())
    }

    async fn members(&self, room: &str) -> Result<Vec<Member>> {
        Ok(self
            .with_room(room, false, |r| r.members())
            .unwrap_or_default())
    }

    async fn subscribe(&self, _room: &str) -> Result<()> {
        Ok(())
    }

    async fn unsubscribe(&self, _room: &str) -> Result<()> {
        Ok(())
    }
}
