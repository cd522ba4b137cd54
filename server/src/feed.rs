//! A room's broadcast ring: each event is stored once and every subscribed
//! connection's writer pulls it from its own cursor (the design of
//! `tokio::sync::broadcast` and of the benchmark's raw server).
//!
//! A publish costs one push plus a wake for each writer that had caught up
//! and parked; a writer still busy with earlier events picks the new one up
//! in the same batch, so a busy room gets cheaper per delivery, not dearer.
//! Before this, every publish pushed into every member's own queue under
//! the room's lock.
//!
//! Each slot counts the readers still to read it, and a slot every reader
//! has passed is dropped, so a quiet room holds nothing. A reader that
//! falls `capacity` events behind is detached and its connection closed as
//! a slow consumer (4001), as a full outbound queue is.
//!
//! ```
//! use std::sync::Arc;
//! use confab_server::feed::{Feed, Next};
//! use confab_server::hub::{ConnHandle, Flavor};
//! use confab_server::layer::{LayerEvent, PresenceEvent};
//! use confab_server::metrics::Metrics;
//! use confab_protocol::Presence;
//!
//! let (conn, _out) = ConnHandle::new("u1".into(), Flavor::Native, 8, Arc::new(Metrics::default()));
//! let feed = Feed::new(8);
//! let sub = feed.attach(&conn);
//! let diff = Presence { room: "lobby".into(), joins: vec![], leaves: vec![], updates: vec![] };
//! feed.push(&LayerEvent::Presence(Arc::new(PresenceEvent::new(diff))));
//! assert!(matches!(sub.next(), Next::Event(LayerEvent::Presence(_))));
//! assert!(matches!(sub.next(), Next::Empty));
//! feed.detach(&sub);
//! assert!(matches!(sub.next(), Next::Detached));
//! assert_eq!(feed.retained(), 0);
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::hub::ConnHandle;
use crate::layer::LayerEvent;

/// An emptied ring keeps at most this many slots of capacity.
const KEEP_SLOTS: usize = 64;

static NEXT_GEN: AtomicU64 = AtomicU64::new(1);

/// One room's ring of events for one kind of reader.
#[derive(Debug)]
pub struct Feed {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug)]
struct Slot {
    event: LayerEvent,
    /// Readers that have not read this slot yet.
    remaining: u32,
}

#[derive(Debug)]
struct Reader {
    conn: Arc<ConnHandle>,
    /// Sequence number of the next event to read.
    cursor: u64,
    /// Tells a stale [`Subscription`] from the reader now in its slot.
    generation: u64,
    /// In `Inner::parked`: woken by the next push.
    parked: bool,
}

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<Slot>,
    /// Sequence number of `events[0]`.
    base: u64,
    readers: Vec<Option<Reader>>,
    free: Vec<usize>,
    live: u32,
    /// Readers that found nothing to read and wait for a wake.
    parked: Vec<usize>,
}

/// A connection's place in a [`Feed`] (its writer reads through it; the
/// hub keeps a clone to detach it).
#[derive(Debug, Clone)]
pub struct Subscription {
    feed: Arc<Feed>,
    slot: usize,
    generation: u64,
}

/// What [`Subscription::next`] found.
#[derive(Debug)]
pub enum Next {
    /// The next event.
    Event(LayerEvent),
    /// Nothing new; the writer is woken by the next push.
    Empty,
    /// The subscription ended (left, or detached as a slow consumer).
    Detached,
}

impl Inner {
    fn reader(&mut self, sub: &Subscription) -> Option<&mut Reader> {
        self.readers
            .get_mut(sub.slot)?
            .as_mut()
            .filter(|r| r.generation == sub.generation)
    }

    /// Forgets the reader in `slot`: the slots it had not read no longer
    /// wait for it.
    fn remove(&mut self, slot: usize) -> Option<Reader> {
        let reader = self.readers.get_mut(slot)?.take()?;
        let unread = (reader.cursor.saturating_sub(self.base)) as usize;
        for s in self.events.iter_mut().skip(unread) {
            s.remaining -= 1;
        }
        self.free.push(slot);
        self.live -= 1;
        self.trim();
        Some(reader)
    }

    /// Drops the slots every reader has passed.
    fn trim(&mut self) {
        while self.events.front().is_some_and(|s| s.remaining == 0) {
            self.events.pop_front();
            self.base += 1;
        }
        if self.events.is_empty() && self.events.capacity() > KEEP_SLOTS {
            self.events.shrink_to(KEEP_SLOTS);
        }
    }
}

impl Feed {
    /// An empty feed; a reader `capacity` events behind is a slow consumer.
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::default(),
            capacity: capacity.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `conn` as a reader of every event pushed from now on.
    pub fn attach(self: &Arc<Self>, conn: &Arc<ConnHandle>) -> Subscription {
        let mut inner = self.lock();
        let generation = NEXT_GEN.fetch_add(1, Relaxed);
        let reader = Reader {
            conn: conn.clone(),
            cursor: inner.base + inner.events.len() as u64,
            generation,
            parked: false,
        };
        let slot = match inner.free.pop() {
            Some(slot) => {
                inner.readers[slot] = Some(reader);
                slot
            }
            None => {
                inner.readers.push(Some(reader));
                inner.readers.len() - 1
            }
        };
        inner.live += 1;
        Subscription {
            feed: self.clone(),
            slot,
            generation,
        }
    }

    /// Ends `sub` (idempotent; a later [`Subscription::next`] says
    /// [`Next::Detached`]).
    pub fn detach(&self, sub: &Subscription) {
        let mut inner = self.lock();
        if inner.reader(sub).is_some() {
            inner.remove(sub.slot);
        }
    }

    /// Stores `event` for every current reader and wakes those that had
    /// caught up. With no readers it is dropped at once.
    pub fn push(&self, event: &LayerEvent) {
        let mut inner = self.lock();
        if inner.live == 0 {
            return;
        }
        if inner.events.len() >= self.capacity {
            // The readers still at the oldest slot are `capacity` behind.
            let base = inner.base;
            let lagging: Vec<usize> = (inner.readers.iter().enumerate())
                .filter(|(_, r)| r.as_ref().is_some_and(|r| r.cursor <= base))
                .map(|(slot, _)| slot)
                .collect();
            for slot in lagging {
                if let Some(r) = inner.remove(slot) {
                    r.conn.slow_consumer();
                }
            }
            if inner.live == 0 {
                return;
            }
        }
        let remaining = inner.live;
        inner.events.push_back(Slot {
            event: event.clone(),
            remaining,
        });
        let Inner {
            parked, readers, ..
        } = &mut *inner;
        for slot in parked.drain(..) {
            if let Some(r) = readers.get_mut(slot).and_then(Option::as_mut) {
                if r.parked {
                    r.parked = false;
                    r.conn.wake();
                }
            }
        }
    }

    /// Events stored and not yet read by every reader.
    pub fn retained(&self) -> usize {
        self.lock().events.len()
    }

    /// Current readers.
    pub fn readers(&self) -> usize {
        self.lock().live as usize
    }
}

impl Subscription {
    /// The next event for this reader, if any. [`Next::Empty`] parks the
    /// reader: the next push wakes its connection.
    pub fn next(&self) -> Next {
        let mut guard = self.feed.lock();
        let Inner {
            events,
            base,
            readers,
            parked,
            ..
        } = &mut *guard;
        let Some(reader) = (readers.get_mut(self.slot))
            .and_then(Option::as_mut)
            .filter(|r| r.generation == self.generation)
        else {
            return Next::Detached;
        };
        let index = (reader.cursor - *base) as usize;
        let Some(slot) = events.get_mut(index) else {
            if !reader.parked {
                reader.parked = true;
                parked.push(self.slot);
            }
            return Next::Empty;
        };
        reader.cursor += 1;
        slot.remaining -= 1;
        let event = slot.event.clone();
        if index == 0 && slot.remaining == 0 {
            guard.trim();
        }
        Next::Event(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Flavor;
    use crate::layer::PresenceEvent;
    use crate::metrics::Metrics;
    use confab_protocol::Presence;

    fn conn() -> (Arc<ConnHandle>, crate::hub::ConnOutput) {
        ConnHandle::new("u".into(), Flavor::Native, 4, Arc::new(Metrics::default()))
    }

    fn event(n: usize) -> LayerEvent {
        let diff = Presence {
            room: format!("r{n}"),
            joins: vec![],
            leaves: vec![],
            updates: vec![],
        };
        LayerEvent::Presence(Arc::new(PresenceEvent::new(diff)))
    }

    fn room_of(next: Next) -> String {
        match next {
            Next::Event(LayerEvent::Presence(p)) => p.diff.room.clone(),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn each_reader_gets_every_event_once_and_slots_are_freed() {
        let feed = Feed::new(16);
        let (a, _oa) = conn();
        let (b, _ob) = conn();
        let sa = feed.attach(&a);
        feed.push(&event(1));
        let sb = feed.attach(&b);
        feed.push(&event(2));
        assert_eq!(room_of(sa.next()), "r1");
        assert_eq!(room_of(sa.next()), "r2");
        assert!(matches!(sa.next(), Next::Empty));
        assert_eq!(feed.retained(), 1, "b has not read r2 yet");
        assert_eq!(room_of(sb.next()), "r2");
        assert!(matches!(sb.next(), Next::Empty));
        assert_eq!(feed.retained(), 0);
    }

    #[test]
    fn detach_releases_unread_slots_and_stale_subscriptions_stay_detached() {
        let feed = Feed::new(16);
        let (a, _oa) = conn();
        let sa = feed.attach(&a);
        feed.push(&event(1));
        feed.push(&event(2));
        feed.detach(&sa);
        assert_eq!(feed.retained(), 0);
        // The slot is reused by a new subscription of the same connection;
        // the old handle must not read through it.
        let sa2 = feed.attach(&a);
        feed.push(&event(3));
        assert!(matches!(sa.next(), Next::Detached));
        assert_eq!(room_of(sa2.next()), "r3");
    }

    #[test]
    fn a_reader_capacity_behind_is_closed_as_a_slow_consumer() {
        let feed = Feed::new(3);
        let (slow, _os) = conn();
        let (fast, _of) = conn();
        let s_slow = feed.attach(&slow);
        let s_fast = feed.attach(&fast);
        for n in 0..5 {
            feed.push(&event(n));
            assert!(matches!(s_fast.next(), Next::Event(_)));
        }
        assert!(matches!(s_slow.next(), Next::Detached));
        assert_eq!(
            slow.close_reason().map(|r| r.code),
            Some(confab_protocol::close::SLOW_CONSUMER)
        );
        assert!(fast.close_reason().is_none());
        assert_eq!(feed.readers(), 1);
        assert_eq!(feed.retained(), 0);
    }

    #[tokio::test]
    async fn a_push_wakes_a_parked_reader() {
        let feed = Feed::new(4);
        let (a, mut out) = conn();
        let sa = feed.attach(&a);
        assert!(matches!(sa.next(), Next::Empty));
        feed.push(&event(7));
        tokio::time::timeout(std::time::Duration::from_secs(1), out.rx.wait())
            .await
            .expect("woken");
        assert_eq!(room_of(sa.next()), "r7");
    }
}
