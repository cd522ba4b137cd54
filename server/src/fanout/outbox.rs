//! A connection's bounded outbound queue (frames meant for this connection
//! only: replies, acks, direct messages) and its writer's wake-up signal,
//! which room feeds ([`super::feed`]) use too.
//!
//! A tokio `mpsc` channel keeps at least one 32-slot block per connection
//! (and often a recycled second one) for its whole life, about 1.5–3 KiB
//! per idle connection. This queue is a `VecDeque` behind a mutex that
//! gives its buffer back once a burst (a `joined` reply, a run of presence
//! diffs) has been drained, so an idle connection's queue costs a few dozen
//! bytes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// A drained queue keeps at most this many slots of capacity.
const KEEP_SLOTS: usize = 2;

/// How much a queue (or a room's feed, for its slowest reader) may hold:
/// items and bytes. At least one item is always accepted, whatever its size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Most items.
    pub items: usize,
    /// Most bytes (as [`Weigh::weight`] counts them).
    pub bytes: usize,
}

impl Bounds {
    /// Whether `len` items of `bytes` in all may take one more of `weight`.
    pub(crate) fn admits(&self, len: usize, bytes: usize, weight: usize) -> bool {
        len == 0 || (len < self.items.max(1) && bytes.saturating_add(weight) <= self.bytes)
    }
}

/// What an item costs a bounded queue, in bytes.
pub(crate) trait Weigh {
    /// About how many bytes the item holds.
    fn weight(&self) -> usize;
}

#[derive(Debug)]
struct Queue<T> {
    items: VecDeque<T>,
    /// Sum of the queued items' weights.
    bytes: usize,
}

#[derive(Debug)]
struct Shared<T> {
    queue: Mutex<Queue<T>>,
    ready: Notify,
    closed: AtomicBool,
    bounds: Bounds,
}

/// Why [`Outbox::try_send`] did not queue a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrySendError {
    /// The queue holds its bound of items or bytes.
    Full,
    /// The receiving side is gone.
    Closed,
}

/// The sending side (held by the connection's [`super::conn::ConnHandle`]).
#[derive(Debug)]
pub(crate) struct Outbox<T>(Arc<Shared<T>>);

/// The receiving side (the connection's send loop).
#[derive(Debug)]
pub(crate) struct OutboxRx<T>(Arc<Shared<T>>);

/// A queue within `bounds`.
pub(crate) fn outbox<T>(bounds: Bounds) -> (Outbox<T>, OutboxRx<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            bytes: 0,
        }),
        ready: Notify::new(),
        closed: AtomicBool::new(false),
        bounds,
    });
    (Outbox(shared.clone()), OutboxRx(shared))
}

impl<T> Shared<T> {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Weigh> Outbox<T> {
    /// Queues `msg` without waiting.
    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError> {
        if self.0.closed.load(Ordering::Acquire) {
            return Err(TrySendError::Closed);
        }
        {
            let mut q = self.0.queue();
            let weight = msg.weight();
            if !self.0.bounds.admits(q.items.len(), q.bytes, weight) {
                return Err(TrySendError::Full);
            }
            q.bytes += weight;
            q.items.push_back(msg);
        }
        self.0.ready.notify_one();
        Ok(())
    }
}

impl<T> Outbox<T> {
    /// Wakes the receiver's [`OutboxRx::wait`] (a permit is kept if it is
    /// not waiting yet), e.g. because a room feed has news for it.
    pub(crate) fn wake(&self) {
        self.0.ready.notify_one();
    }
}

impl<T> Drop for Outbox<T> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.ready.notify_one();
    }
}

impl<T> OutboxRx<T> {
    /// Waits for a [`Outbox::try_send`] or [`Outbox::wake`] since the last
    /// wait (returns at once if one came in between), or for the sender to
    /// be dropped.
    pub(crate) async fn wait(&mut self) {
        if !self.is_closed() {
            self.0.ready.notified().await;
        }
    }

    /// Whether the sending side is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::Acquire)
    }

    /// The next item if one is queued.
    #[allow(clippy::result_unit_err)]
    pub(crate) fn try_recv(&mut self) -> Result<T, ()>
    where
        T: Weigh,
    {
        let mut q = self.0.queue();
        let msg = q.items.pop_front().ok_or(())?;
        q.bytes -= msg.weight();
        if q.items.is_empty() && q.items.capacity() > KEEP_SLOTS {
            q.items.shrink_to(KEEP_SLOTS);
        }
        Ok(msg)
    }
}

impl<T> Drop for OutboxRx<T> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        let mut q = self.0.queue();
        q.items.clear();
        q.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weigh for &str {
        fn weight(&self) -> usize {
            self.len()
        }
    }

    fn bounds(items: usize, bytes: usize) -> Bounds {
        Bounds { items, bytes }
    }

    #[tokio::test]
    async fn bounded_queue_wakes_and_reports_a_closed_sender() {
        let (tx, mut rx) = outbox(bounds(1, 100));
        tx.try_send("a").unwrap();
        assert_eq!(tx.try_send("b"), Err(TrySendError::Full));
        rx.wait().await; // the send left a wake-up
        assert_eq!(rx.try_recv(), Ok("a"));
        assert_eq!(rx.try_recv(), Err(()));
        drop(tx);
        rx.wait().await; // returns at once: the sender is gone
        assert!(rx.is_closed());
    }

    #[test]
    fn bytes_bound_the_queue_but_one_item_always_fits() {
        let (tx, mut rx) = outbox(bounds(100, 10));
        tx.try_send("0123456789abcdef").unwrap(); // alone: over, but accepted
        assert_eq!(tx.try_send("x"), Err(TrySendError::Full));
        assert_eq!(rx.try_recv(), Ok("0123456789abcdef"));
        tx.try_send("01234").unwrap();
        tx.try_send("56789").unwrap();
        assert_eq!(tx.try_send("a"), Err(TrySendError::Full), "10 bytes queued");
        assert_eq!(rx.try_recv(), Ok("01234"));
        tx.try_send("abcde").unwrap();
    }

    #[test]
    fn a_dropped_receiver_refuses_sends() {
        let (tx, rx) = outbox::<&str>(bounds(4, 100));
        drop(rx);
        assert_eq!(tx.try_send("a"), Err(TrySendError::Closed));
    }
}
