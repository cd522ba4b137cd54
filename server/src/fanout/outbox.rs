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

#[derive(Debug)]
struct Shared<T> {
    queue: Mutex<VecDeque<T>>,
    ready: Notify,
    closed: AtomicBool,
    capacity: usize,
}

/// Why [`Outbox::try_send`] did not queue a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrySendError {
    /// The queue holds `capacity` frames.
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

/// A queue of at most `capacity` (≥ 1) items.
pub(crate) fn outbox<T>(capacity: usize) -> (Outbox<T>, OutboxRx<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        ready: Notify::new(),
        closed: AtomicBool::new(false),
        capacity: capacity.max(1),
    });
    (Outbox(shared.clone()), OutboxRx(shared))
}

impl<T> Shared<T> {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Outbox<T> {
    /// Queues `msg` without waiting.
    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError> {
        if self.0.closed.load(Ordering::Acquire) {
            return Err(TrySendError::Closed);
        }
        {
            let mut q = self.0.queue();
            if q.len() >= self.0.capacity {
                return Err(TrySendError::Full);
            }
            q.push_back(msg);
        }
        self.0.ready.notify_one();
        Ok(())
    }

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
    pub(crate) fn try_recv(&mut self) -> Result<T, ()> {
        let mut q = self.0.queue();
        let msg = q.pop_front().ok_or(())?;
        if q.is_empty() && q.capacity() > KEEP_SLOTS {
            q.shrink_to(KEEP_SLOTS);
        }
        Ok(msg)
    }
}

impl<T> Drop for OutboxRx<T> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.queue().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_queue_wakes_and_reports_a_closed_sender() {
        let (tx, mut rx) = outbox(1);
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
    fn a_dropped_receiver_refuses_sends() {
        let (tx, rx) = outbox::<u8>(4);
        drop(rx);
        assert_eq!(tx.try_send(1), Err(TrySendError::Closed));
    }
}
