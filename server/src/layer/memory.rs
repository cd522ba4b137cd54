//! The embedded in-memory channel layer (one process).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use confab_protocol::{Member, Message, Presence};
use rand::Rng;

use super::{ChannelLayer, Event, EventSink, History, HistoryQuery, Payload, StoredMessage};
use crate::clock::now_ms;
use crate::error::Result;

#[derive(Default)]
struct Room {
    head: u64,
    history: VecDeque<Arc<StoredMessage>>,
    /// user id → (member, connection count)
    present: HashMap<String, (Member, usize)>,
}

impl Room {
    fn members(&self) -> Vec<Member> {
        let mut v: Vec<Member> = self.present.values().map(|(m, _)| m.clone()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
}

/// Rooms, history and presence in this process's memory. The epoch is random
/// per process, so a resume after a restart reports `recovered: false`.
///
/// ```
/// use std::sync::Arc;
/// use confab_server::layer::{EventSink, Event, MemoryLayer};
/// struct Ignore;
/// impl EventSink for Ignore { fn deliver(&self, _: Event) {} }
/// let layer = MemoryLayer::new(100, Arc::new(Ignore));
/// assert!(!layer.epoch().is_empty());
/// ```
pub struct MemoryLayer {
    epoch: String,
    history_size: usize,
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
    /// A layer keeping `history_size` messages per room and delivering to `sink`.
    pub fn new(history_size: usize, sink: Arc<dyn EventSink>) -> Self {
        Self {
            epoch: format!("{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff),
            history_size: history_size.max(1),
            rooms: RwLock::new(HashMap::new()),
            sink,
        }
    }

    /// This process's history epoch.
    pub fn epoch(&self) -> &str {
        &self.epoch
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

    /// Forgets a room without members or history.
    fn drop_if_empty(&self, room: &str) {
        let mut rooms = self.rooms.write().unwrap_or_else(PoisonError::into_inner);
        if rooms.get_mut(room).is_some_and(|r| {
            let r = r.get_mut().unwrap_or_else(PoisonError::into_inner);
            r.present.is_empty() && r.history.is_empty()
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
    async fn publish(
        &self,
        room: &str,
        from: &Member,
        payload: Payload,
    ) -> Result<Arc<StoredMessage>> {
        let stored = self.with_room(room, true, |r| {
            r.head += 1;
            let stored = Arc::new(StoredMessage::new(Message {
                room: room.to_owned(),
                offset: r.head,
                from: from.clone(),
                ts: now_ms(),
                payload,
                cid: None,
            }));
            if r.history.len() >= self.history_size {
                r.history.pop_front();
            }
            r.history.push_back(stored.clone());
            // Delivered under the room's lock so offsets arrive in order.
            self.sink.deliver(Event::Message(stored.clone()));
            stored
        });
        stored.ok_or_else(|| crate::Error::Internal("room vanished".into()))
    }

    async fn history(&self, room: &str, query: HistoryQuery<'_>) -> Result<History> {
        let (head, recovered, messages) = self
            .with_room(room, false, |r| {
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
                (head, false, query.newest(r.history.iter().rev()))
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

    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        let members = self.with_room(room, true, |r| {
            let entry = r
                .present
                .entry(member.id.clone())
                .or_insert_with(|| (member.clone(), 0));
            entry.1 += 1;
            if entry.1 == 1 {
                self.presence(Presence {
                    room: room.to_owned(),
                    joins: vec![member.clone()],
                    ..Presence::default()
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
                        leaves: vec![member],
                        ..Presence::default()
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
                    self.presence(Presence {
                        room: room.to_owned(),
                        updates: vec![member.clone()],
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
