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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::event::Event;
use super::outbox::Bounds;

/// The side of a connection a feed needs: wake its writer, or close it as
/// a slow consumer. (The connection handle implements it; tests use their
/// own.)
pub(crate) trait FeedReader: Send + Sync {
    /// The feed has news for a writer that had caught up.
    fn wake(&self);
    /// The reader fell a feed's capacity behind and was detached.
    fn slow_consumer(&self);
}

/// An emptied ring keeps at most this many slots of capacity.
const KEEP_SLOTS: usize = 64;

static NEXT_GEN: AtomicU64 = AtomicU64::new(1);

/// One room's ring of events for one kind of reader.
pub(crate) struct Feed<R> {
    inner: Mutex<Inner<R>>,
    bounds: Bounds,
}

struct Slot {
    event: Event,
    /// `event.weight()`, counted in `Inner::bytes`.
    weight: usize,
    /// Readers that have not read this slot yet.
    remaining: u32,
}

struct Reader<R> {
    conn: Arc<R>,
    /// Sequence number of the next event to read.
    cursor: u64,
    /// Tells a stale [`Subscription`] from the reader now in its slot.
    generation: u64,
    /// In `Inner::parked`: woken by the next push.
    parked: bool,
}

struct Inner<R> {
    events: VecDeque<Slot>,
    /// Sum of the stored events' weights.
    bytes: usize,
    /// Sequence number of `events[0]`.
    base: u64,
    readers: Vec<Option<Reader<R>>>,
    free: Vec<usize>,
    live: u32,
    /// Readers that found nothing to read and wait for a wake.
    parked: Vec<usize>,
}

impl<R> Default for Inner<R> {
    fn default() -> Self {
        Self {
            events: VecDeque::new(),
            bytes: 0,
            base: 0,
            readers: Vec::new(),
            free: Vec::new(),
            live: 0,
            parked: Vec::new(),
        }
    }
}

/// A connection's place in a [`Feed`] (its writer reads through it; the
/// hub keeps a clone to detach it).
pub(crate) struct Subscription<R> {
    feed: Arc<Feed<R>>,
    slot: usize,
    generation: u64,
    /// Whether the reader gets presence events (decided once, when it
    /// joins: the room policy's `presence`); the writer skips them if not.
    pub(crate) presence: bool,
}

impl<R> Clone for Subscription<R> {
    fn clone(&self) -> Self {
        Self {
            feed: self.feed.clone(),
            slot: self.slot,
            generation: self.generation,
            presence: self.presence,
        }
    }
}

impl<R> std::fmt::Debug for Subscription<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("slot", &self.slot)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// What [`Subscription::next`] found.
#[derive(Debug)]
pub(crate) enum Next {
    /// The next event.
    Event(Event),
    /// Nothing new; the writer is woken by the next push.
    Empty,
    /// The subscription ended (left, or detached as a slow consumer).
    Detached,
}

impl<R> Inner<R> {
    fn reader(&mut self, sub: &Subscription<R>) -> Option<&mut Reader<R>> {
        self.readers
            .get_mut(sub.slot)?
            .as_mut()
            .filter(|r| r.generation == sub.generation)
    }

    /// Forgets the reader in `slot`: the slots it had not read no longer
    /// wait for it.
    fn remove(&mut self, slot: usize) -> Option<Reader<R>> {
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
            if let Some(slot) = self.events.pop_front() {
                self.bytes -= slot.weight;
            }
            self.base += 1;
        }
        if self.events.is_empty() && self.events.capacity() > KEEP_SLOTS {
            self.events.shrink_to(KEEP_SLOTS);
        }
    }
}

impl<R: FeedReader> Feed<R> {
    /// An empty feed; a reader who falls `bounds` behind (in events or
    /// bytes) is a slow consumer.
    pub(crate) fn new(bounds: Bounds) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::default(),
            bounds,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<R>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `conn` as a reader of every event pushed from now on.
    pub(crate) fn attach(self: &Arc<Self>, conn: &Arc<R>) -> Subscription<R> {
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
            presence: true,
        }
    }

    /// Ends `sub` (idempotent; a later [`Subscription::next`] says
    /// [`Next::Detached`]).
    pub(crate) fn detach(&self, sub: &Subscription<R>) {
        let mut inner = self.lock();
        if inner.reader(sub).is_some() {
            inner.remove(sub.slot);
        }
    }

    /// Stores `event` for every current reader and wakes those that had
    /// caught up. With no readers it is dropped at once.
    pub(crate) fn push(&self, event: &Event) {
        let mut inner = self.lock();
        if inner.live == 0 {
            return;
        }
        let weight = event.weight();
        // While the new event would not fit, the readers still at the
        // oldest slot are the ones too far behind.
        while !self.bounds.admits(inner.events.len(), inner.bytes, weight) {
            let base = inner.base;
            let lagging: Vec<usize> = (inner.readers.iter().enumerate())
                .filter(|(_, r)| r.as_ref().is_some_and(|r| r.cursor <= base))
                .map(|(slot, _)| slot)
                .collect();
            if lagging.is_empty() {
                break; // unreachable: the oldest slot waits for someone
            }
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
        inner.bytes += weight;
        inner.events.push_back(Slot {
            event: event.clone(),
            weight,
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
    #[cfg(test)]
    pub(crate) fn retained(&self) -> usize {
        self.lock().events.len()
    }

    /// Current readers.
    #[cfg(test)]
    pub(crate) fn readers(&self) -> usize {
        self.lock().live as usize
    }
}

impl<R: FeedReader> Subscription<R> {
    /// The next event for this reader, if any. [`Next::Empty`] parks the
    /// reader: the next push wakes its connection.
    pub(crate) fn next(&self) -> Next {
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
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    use confab_protocol::Presence;

    use super::*;

    #[derive(Default)]
    struct TestReader {
        wakes: AtomicUsize,
        slow: AtomicBool,
    }

    impl FeedReader for TestReader {
        fn wake(&self) {
            self.wakes.fetch_add(1, Relaxed);
        }
        fn slow_consumer(&self) {
            self.slow.store(true, Relaxed);
        }
    }

    fn items(n: usize) -> Bounds {
        Bounds {
            items: n,
            bytes: usize::MAX,
        }
    }

    fn reader() -> Arc<TestReader> {
        Arc::new(TestReader::default())
    }

    fn event(n: usize) -> Event {
        Event::presence(Presence {
            room: format!("r{n}"),
            ..Presence::default()
        })
    }

    fn room_of(next: Next) -> String {
        match next {
            Next::Event(Event::Presence(p)) => p.diff.room.clone(),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn each_reader_gets_every_event_once_and_slots_are_freed() {
        let feed = Feed::new(items(16));
        let sa = feed.attach(&reader());
        feed.push(&event(1));
        let sb = feed.attach(&reader());
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
        let feed = Feed::new(items(16));
        let a = reader();
        let sa = feed.attach(&a);
        feed.push(&event(1));
        feed.push(&event(2));
        feed.detach(&sa);
        assert_eq!(feed.retained(), 0);
        // The slot is reused by a new subscription of the same reader; the
        // old handle must not read through it.
        let sa2 = feed.attach(&a);
        feed.push(&event(3));
        assert!(matches!(sa.next(), Next::Detached));
        assert_eq!(room_of(sa2.next()), "r3");
    }

    #[test]
    fn a_reader_capacity_behind_is_closed_as_a_slow_consumer() {
        let feed = Feed::new(items(3));
        let (slow, fast) = (reader(), reader());
        let s_slow = feed.attach(&slow);
        let s_fast = feed.attach(&fast);
        for n in 0..5 {
            feed.push(&event(n));
            assert!(matches!(s_fast.next(), Next::Event(_)));
        }
        assert!(matches!(s_slow.next(), Next::Detached));
        assert!(slow.slow.load(Relaxed));
        assert!(!fast.slow.load(Relaxed));
        assert_eq!(feed.readers(), 1);
        assert_eq!(feed.retained(), 0);
    }

    #[test]
    fn a_push_wakes_only_parked_readers_once() {
        let feed = Feed::new(items(4));
        let (parked, busy) = (reader(), reader());
        let sp = feed.attach(&parked);
        let _sb = feed.attach(&busy);
        assert!(matches!(sp.next(), Next::Empty));
        feed.push(&event(7));
        feed.push(&event(8));
        assert_eq!(
            parked.wakes.load(Relaxed),
            1,
            "woken by the first push only"
        );
        assert_eq!(busy.wakes.load(Relaxed), 0, "never parked: never woken");
        assert_eq!(room_of(sp.next()), "r7");
    }

    #[test]
    fn a_reader_a_byte_bound_behind_is_closed_as_a_slow_consumer() {
        let w = event(0).weight();
        let feed = Feed::new(Bounds {
            items: 1000,
            bytes: 3 * w,
        });
        let (slow, fast) = (reader(), reader());
        let s_slow = feed.attach(&slow);
        let s_fast = feed.attach(&fast);
        for n in 0..3 {
            feed.push(&event(n));
            assert!(matches!(s_fast.next(), Next::Event(_)));
        }
        assert!(!slow.slow.load(Relaxed), "3 events of bytes held: within");
        feed.push(&event(3));
        assert!(slow.slow.load(Relaxed), "a 4th would exceed the byte bound");
        assert!(matches!(s_slow.next(), Next::Detached));
        assert_eq!(room_of(s_fast.next()), "r3");
        assert_eq!(feed.retained(), 0);
    }
}
