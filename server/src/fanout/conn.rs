//! One connection as the delivery core sees it: its bounded outbound queue
//! (frames for it alone, and the feeds it starts reading), its close signal,
//! and what kind of frames it receives.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use axum::extract::ws::{Message, Utf8Bytes};
use confab_protocol::close;
use tokio::sync::Notify;

use super::event::Flavor;
use super::feed::{FeedReader, Subscription};
use super::outbox::{outbox, Bounds, Outbox, OutboxRx, TrySendError, Weigh};
use crate::metrics::Metrics;

/// Connection id, unique in this process.
pub(crate) type ConnId = u64;

/// Why and how a connection is being closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloseReason {
    /// WebSocket close code.
    pub(crate) code: u16,
    /// Short reason text.
    pub(crate) reason: &'static str,
}

/// What a connection's writer is sent through its outbound queue.
#[derive(Debug)]
pub(crate) enum Out {
    /// A frame for this connection only.
    Frame(Message),
    /// Start reading a room's feed (queued after the room's `joined` reply
    /// and any events buffered while joining).
    Attach(Subscription<ConnHandle>),
}

impl Weigh for Out {
    fn weight(&self) -> usize {
        match self {
            Self::Frame(Message::Text(t)) => t.len(),
            Self::Frame(Message::Binary(b)) => b.len(),
            Self::Frame(_) | Self::Attach(_) => 16,
        }
    }
}

/// The hub's handle on one connection: its bounded outbound queue and its
/// close signal.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    /// Process-unique id.
    pub(crate) id: ConnId,
    /// The connection's session id (sent in `welcome`).
    pub(crate) session_id: String,
    /// User id.
    pub(crate) user_id: String,
    /// What it receives.
    pub(crate) flavor: Flavor,
    tx: Outbox<Out>,
    /// Set once when the connection must close (the first request wins).
    close: OnceLock<CloseReason>,
    /// Wakes [`ConnHandle::closing`] when `close` is set, and
    /// [`ConnHandle::attention`] for that or an eviction.
    closing: Notify,
    stalled: AtomicBool,
    /// The hub holds rooms this connection was removed from
    /// ([`super::hub::Hub::take_evictions`]).
    evicted: AtomicBool,
    metrics: Arc<Metrics>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The receiving end of a connection's queue (for its send task, which
/// [`ConnHandle::close`] also wakes).
#[derive(Debug)]
pub(crate) struct ConnOutput {
    /// Outbound frames and feed attachments.
    pub(crate) rx: OutboxRx<Out>,
}

impl ConnHandle {
    /// A new handle with a queue within `bounds`.
    pub(crate) fn new(
        user_id: String,
        flavor: Flavor,
        bounds: Bounds,
        metrics: Arc<Metrics>,
    ) -> (Arc<Self>, ConnOutput) {
        let (tx, rx) = outbox(bounds);
        let id = NEXT_ID.fetch_add(1, Relaxed);
        let handle = Arc::new(Self {
            id,
            session_id: format!("s-{id:x}-{:08x}", rand::random::<u32>()),
            user_id,
            flavor,
            tx,
            close: OnceLock::new(),
            closing: Notify::new(),
            evicted: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            metrics,
        });
        (handle, ConnOutput { rx })
    }

    /// Queues a frame without waiting; a full queue closes the connection
    /// with 4001 (slow consumer). Returns whether it was queued.
    pub(crate) fn send(&self, msg: Message) -> bool {
        self.queue(Out::Frame(msg))
    }

    pub(crate) fn queue(&self, out: Out) -> bool {
        match self.tx.try_send(out) {
            Ok(()) => true,
            Err(TrySendError::Full) => {
                self.metrics.dropped.fetch_add(1, Relaxed);
                self.slow_consumer();
                false
            }
            Err(TrySendError::Closed) => false,
        }
    }

    /// Closes the connection with 4001: it does not read fast enough.
    pub(crate) fn slow_consumer(&self) {
        if self.close(close::SLOW_CONSUMER, "slow consumer") {
            self.metrics.slow_consumers.fetch_add(1, Relaxed);
        }
    }

    /// Counts `frames` written to the socket.
    pub(crate) fn count_out(&self, frames: u64) {
        self.metrics.messages_out.fetch_add(frames, Relaxed);
    }

    /// Queues a text frame.
    pub(crate) fn send_text(&self, text: impl Into<Utf8Bytes>) -> bool {
        self.send(Message::Text(text.into()))
    }

    /// Asks the connection to close with `code`. The first request wins;
    /// returns whether this one did.
    pub(crate) fn close(&self, code: u16, reason: &'static str) -> bool {
        let won = self.close.set(CloseReason { code, reason }).is_ok();
        if won {
            self.closing.notify_waiters();
        }
        won
    }

    /// Resolves once a close has been requested (at once if it already was).
    pub(crate) async fn closing(&self) {
        loop {
            // Created before the check, so a close in between still wakes it.
            let notified = self.closing.notified();
            if self.is_closing() {
                return;
            }
            notified.await;
        }
    }

    /// Resolves once a close was requested or the connection was removed
    /// from a room (at once if either already happened).
    pub(crate) async fn attention(&self) {
        let notified = self.closing.notified();
        if self.is_closing() || self.evicted.load(Relaxed) {
            return;
        }
        notified.await;
    }

    /// The application removed this connection from a room: its receive
    /// loop is told ([`ConnHandle::attention`]).
    pub(crate) fn nudge_evicted(&self) {
        self.evicted.store(true, Relaxed);
        self.closing.notify_waiters();
    }

    /// Whether an eviction waits, clearing the mark.
    pub(crate) fn take_evicted(&self) -> bool {
        self.evicted.swap(false, Relaxed)
    }

    /// The close requested, if any.
    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.close.get().cloned()
    }

    /// Whether a close was requested.
    pub(crate) fn is_closing(&self) -> bool {
        self.close.get().is_some()
    }

    /// Debug: make the connection stop sending and reading (a dead link).
    pub(crate) fn stall(&self) {
        self.stalled.store(true, Relaxed);
    }

    /// Whether [`Self::stall`] was called.
    pub(crate) fn is_stalled(&self) -> bool {
        self.stalled.load(Relaxed)
    }
}

impl FeedReader for ConnHandle {
    fn wake(&self) {
        self.tx.wake();
    }

    fn slow_consumer(&self) {
        ConnHandle::slow_consumer(self);
    }
}
