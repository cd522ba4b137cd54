//! A connection's bounded outbound queue.
//!
//! A tokio `mpsc` channel keeps at least one 32-slot block per connection
//! (and often a recycled second one) for its whole life, about 1.5–3 KiB
//! per idle connection. This queue is a `VecDeque` behind a mutex that
//! gives its buffer back once a burst (a `joined` reply, a run of presence
//! diffs) has been drained, so an idle connection's queue costs a few dozen
//! bytes.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use axum::extract::ws::Message;
//! use confab_server::outbox::{outbox, TrySendError};
//! let (tx, mut rx) = outbox(1);
//! tx.try_send(Message::text("a")).unwrap();
//! assert_eq!(tx.try_send(Message::text("b")), Err(TrySendError::Full));
//! assert_eq!(rx.recv().await, Some(Message::text("a")));
//! drop(tx);
//! assert_eq!(rx.recv().await, None);
//! # });
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::ws::Message;
use tokio::sync::Notify;

/// A drained queue keeps at most this many slots of capacity.
const KEEP_SLOTS: usize = 8;

#[derive(Debug)]
struct Shared {
    queue: Mutex<VecDeque<Message>>,
    ready: Notify,
    closed: AtomicBool,
    capacity: usize,
}

/// Why [`Outbox::try_send`] did not queue a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySendError {
    /// The queue holds `capacity` frames.
    Full,
    /// The receiving side is gone.
    Closed,
}

/// The sending side (held by the connection's [`crate::hub::ConnHandle`]).
#[derive(Debug)]
pub struct Outbox(Arc<Shared>);

/// The receiving side (the connection's send loop).
#[derive(Debug)]
pub struct OutboxRx(Arc<Shared>);

/// A queue of at most `capacity` (≥ 1) frames.
pub fn outbox(capacity: usize) -> (Outbox, OutboxRx) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        ready: Notify::new(),
        closed: AtomicBool::new(false),
        capacity: capacity.max(1),
    });
    (Outbox(shared.clone()), OutboxRx(shared))
}

impl Shared {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Message>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Outbox {
    /// Queues `msg` without waiting.
    pub fn try_send(&self, msg: Message) -> Result<(), TrySendError> {
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
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.ready.notify_one();
    }
}

impl OutboxRx {
    /// The next frame, or `None` once the sender is gone and the queue empty.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            if let Ok(msg) = self.try_recv() {
                return Some(msg);
            }
            if self.0.closed.load(Ordering::Acquire) {
                // A frame queued just before the close is still delivered.
                return self.try_recv().ok();
            }
            self.0.ready.notified().await;
        }
    }

    /// The next frame if one is queued.
    #[allow(clippy::result_unit_err)]
    pub fn try_recv(&mut self) -> Result<Message, ()> {
        let mut q = self.0.queue();
        let msg = q.pop_front().ok_or(())?;
        if q.is_empty() && q.capacity() > KEEP_SLOTS {
            q.shrink_to(KEEP_SLOTS);
        }
        Ok(msg)
    }
}

impl Drop for OutboxRx {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.queue().clear();
    }
}
