//! The socket's read queue: messages not read yet (`read`, `wait`, the
//! `Stream`), bounded, with the wakers of the readers waiting for one.
//! Pure (no browser): generic over the message type.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

/// At most `capacity` unread messages (the oldest are dropped beyond it;
/// 0 keeps none) and the readers waiting.
pub(crate) struct Inbox<T> {
    items: VecDeque<T>,
    capacity: usize,
    waiting: Vec<Waker>,
}

impl<T> Inbox<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity,
            waiting: Vec::new(),
        }
    }

    /// Queues `item` (dropping the oldest when full); returns the readers
    /// to wake, for the caller to wake once its borrows are released.
    pub(crate) fn push(&mut self, item: T) -> Vec<Waker> {
        if self.capacity == 0 {
            return Vec::new();
        }
        if self.items.len() >= self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
        self.wakers()
    }

    /// The oldest unread message.
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The next message; `None` when there is none and none will come
    /// (`closed`); else the reader waits.
    pub(crate) fn poll(&mut self, closed: bool, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(v) = self.items.pop_front() {
            return Poll::Ready(Some(v));
        }
        if closed {
            return Poll::Ready(None);
        }
        self.waiting.push(cx.waker().clone());
        Poll::Pending
    }

    /// Takes the waiting readers (a message came, or the socket closed).
    pub(crate) fn wakers(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn bounded_oldest_dropped_and_readers_woken() {
        let mut inbox = Inbox::new(2);
        assert_eq!(inbox.poll(false, &mut cx()), Poll::Pending);
        assert_eq!(inbox.push(1).len(), 1, "the waiting reader is woken");
        assert_eq!(inbox.push(2).len(), 0);
        let _ = inbox.push(3);
        assert_eq!(inbox.len(), 2);
        assert_eq!(inbox.pop(), Some(2));
        assert_eq!(inbox.poll(true, &mut cx()), Poll::Ready(Some(3)));
        assert_eq!(inbox.poll(true, &mut cx()), Poll::Ready(None));
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let mut inbox = Inbox::new(0);
        assert_eq!(inbox.poll(false, &mut cx()), Poll::Pending);
        assert!(inbox.push(1).is_empty());
        assert_eq!(inbox.len(), 0);
        assert_eq!(inbox.wakers().len(), 1);
    }
}
