//! The embedded in-memory channel layer (one process).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use confab_protocol::{Member, Message, Position, Presence};
use rand::Rng;

use super::{ChannelLayer, EventSink, History, LayerEvent, Payload, PresenceEvent, StoredMessage};
use crate::error::{Error, Result};

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
/// use confab_server::layer::{EventSink, LayerEvent, MemoryLayer};
/// struct Ignore;
/// impl EventSink for Ignore { fn deliver(&self, _: LayerEvent) {} }
/// let layer = MemoryLayer::new(100, Arc::new(Ignore));
/// assert!(!layer.epoch().is_empty());
/// ```
pub struct MemoryLayer {
    epoch: String,
    history_size: usize,
    rooms: Mutex<HashMap<String, Room>>,
    sink: Arc<dyn EventSink>,
}

impl std::fmt::Debug for MemoryLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLayer")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl MemoryLayer {
    /// A layer keeping `history_size` messages per room and delivering to `sink`.
    pub fn new(history_size: usize, sink: Arc<dyn EventSink>) -> Self {
        Self {
            epoch: format!("{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff),
            history_size: history_size.max(1),
            rooms: Mutex::new(HashMap::new()),
            sink,
        }
    }

    /// This process's history epoch.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    fn rooms(&self) -> Result<MutexGuard<'_, HashMap<String, Room>>> {
        self.rooms
            .lock()
            .map_err(|_| Error::Internal("memory layer lock poisoned".into()))
    }

    fn drop_if_empty(rooms: &mut HashMap<String, Room>, room: &str) {
        // Keep rooms with history (for resume); forget empty ones.
        if rooms
            .get(room)
            .is_some_and(|r| r.present.is_empty() && r.history.is_empty())
        {
            rooms.remove(room);
        }
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
        let mut rooms = self.rooms()?;
        let r = rooms.entry(room.to_owned()).or_default();
        r.head += 1;
        let stored = Arc::new(StoredMessage::new(Message {
            room: room.to_owned(),
            offset: r.head,
            from: from.clone(),
            ts: now_ms(),
            payload,
        }));
        if r.history.len() >= self.history_size {
            r.history.pop_front();
        }
        r.history.push_back(stored.clone());
        // Delivered under the lock so every node sees offsets in order.
        self.sink.deliver(LayerEvent::Message(stored.clone()));
        Ok(stored)
    }

    async fn history(&self, room: &str, since: Option<&Position>, limit: usize) -> Result<History> {
        let rooms = self.rooms()?;
        let (head, history) = rooms
            .get(room)
            .map_or((0, None), |r| (r.head, Some(&r.history)));
        let all = || history.into_iter().flatten();
        let oldest = history
            .and_then(|h| h.front())
            .map_or(head + 1, |m| m.msg.offset);
        let (recovered, messages) = match since {
            // Exact resume: same epoch, not ahead of us, and nothing after
            // it has been evicted.
            Some(p) if p.epoch == self.epoch && p.offset <= head && p.offset + 1 >= oldest => (
                true,
                all().filter(|m| m.msg.offset > p.offset).cloned().collect(),
            ),
            _ => {
                let n = history.map_or(0, VecDeque::len);
                (
                    false,
                    all().skip(n.saturating_sub(limit)).cloned().collect(),
                )
            }
        };
        Ok(History {
            epoch: self.epoch.clone(),
            head,
            recovered,
            messages,
        })
    }

    async fn presence_join(&self, room: &str, member: &Member) -> Result<Vec<Member>> {
        let mut rooms = self.rooms()?;
        let r = rooms.entry(room.to_owned()).or_default();
        let entry = r
            .present
            .entry(member.id.clone())
            .or_insert_with(|| (member.clone(), 0));
        entry.1 += 1;
        if entry.1 == 1 {
            self.sink
                .deliver(LayerEvent::Presence(Arc::new(PresenceEvent::new(
                    Presence {
                        room: room.to_owned(),
                        joins: vec![member.clone()],
                        ..Presence::default()
                    },
                ))));
        }
        Ok(r.members())
    }

    async fn presence_leave(&self, room: &str, user_id: &str) -> Result<()> {
        let mut rooms = self.rooms()?;
        let Some(r) = rooms.get_mut(room) else {
            return Ok(());
        };
        let gone = match r.present.get_mut(user_id) {
            Some(entry) => {
                entry.1 = entry.1.saturating_sub(1);
                entry.1 == 0
            }
            None => false,
        };
        if gone {
            if let Some((member, _)) = r.present.remove(user_id) {
                self.sink
                    .deliver(LayerEvent::Presence(Arc::new(PresenceEvent::new(
                        Presence {
                            room: room.to_owned(),
                            leaves: vec![member],
                            ..Presence::default()
                        },
                    ))));
            }
            Self::drop_if_empty(&mut rooms, room);
        }
        Ok(())
    }

    async fn presence_update(&self, room: &str, member: &Member) -> Result<()> {
        let mut rooms = self.rooms()?;
        let Some(entry) = rooms
            .get_mut(room)
            .and_then(|r| r.present.get_mut(&member.id))
        else {
            return Ok(());
        };
        if entry.0 != *member {
            entry.0 = member.clone();
            self.sink
                .deliver(LayerEvent::Presence(Arc::new(PresenceEvent::new(
                    Presence {
                        room: room.to_owned(),
                        updates: vec![member.clone()],
                        ..Presence::default()
                    },
                ))));
        }
        Ok(())
    }

    async fn members(&self, room: &str) -> Result<Vec<Member>> {
        Ok(self
            .rooms()?
            .get(room)
            .map(Room::members)
            .unwrap_or_default())
    }

    async fn subscribe(&self, _room: &str) -> Result<()> {
        Ok(())
    }

    async fn unsubscribe(&self, _room: &str) -> Result<()> {
        Ok(())
    }
}
