//! Bounded offline send buffer.

use std::collections::VecDeque;

/// What a full offline buffer does with one more message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// Refuse the new message: `send`/`publish` fails at once with
    /// [`crate::Error::BufferFull`] (default: the caller learns immediately
    /// and nothing already accepted is thrown away).
    #[default]
    RejectNew,
    /// Drop the oldest queued message to make room; its publish fails with
    /// [`crate::Error::BufferOverflow`].
    DropOldest,
}

/// Outcome of [`SendBuffer::push`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed<T> {
    /// Queued.
    Queued,
    /// Queued, and this older item was evicted ([`OverflowPolicy::DropOldest`]).
    Evicted(T),
    /// Not queued: the buffer is full ([`OverflowPolicy::RejectNew`] or capacity 0).
    Rejected(T),
}

/// A FIFO of at most `capacity` items, flushed in order when the link is back.
#[derive(Debug, Clone)]
pub(crate) struct SendBuffer<T> {
    items: VecDeque<T>,
    capacity: usize,
    policy: OverflowPolicy,
}

impl<T> SendBuffer<T> {
    /// An empty buffer.
    pub(crate) fn new(capacity: usize, policy: OverflowPolicy) -> Self {
        Self {
            items: VecDeque::new(),
            capacity,
            policy,
        }
    }

    /// Queues `item`, applying the overflow policy when full.
    pub(crate) fn push(&mut self, item: T) -> Pushed<T> {
        if self.items.len() < self.capacity {
            self.items.push_back(item);
            return Pushed::Queued;
        }
        if self.policy == OverflowPolicy::DropOldest {
            if let Some(old) = self.items.pop_front() {
                self.items.push_back(item);
                return Pushed::Evicted(old);
            }
        }
        Pushed::Rejected(item)
    }

    /// Number of queued items.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes every queued item, oldest first.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> {
        // `take` + `IntoIter` rather than `drain(..)`: less wasm.
        std::mem::take(&mut self.items).into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_new_keeps_order_and_refuses_when_full() {
        let mut b = SendBuffer::new(2, OverflowPolicy::RejectNew);
        assert_eq!(b.push(1), Pushed::Queued);
        assert_eq!(b.push(2), Pushed::Queued);
        assert_eq!(b.push(3), Pushed::Rejected(3));
        assert_eq!(b.drain().collect::<Vec<_>>(), [1, 2]);
        assert!(b.is_empty());
    }

    #[test]
    fn drop_oldest_evicts_front() {
        let mut b = SendBuffer::new(2, OverflowPolicy::DropOldest);
        for i in 1..=2 {
            assert_eq!(b.push(i), Pushed::Queued);
        }
        assert_eq!(b.push(3), Pushed::Evicted(1));
        assert_eq!(b.push(4), Pushed::Evicted(2));
        assert_eq!(b.len(), 2);
        assert_eq!(b.drain().collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn zero_capacity_rejects_under_both_policies() {
        for p in [OverflowPolicy::RejectNew, OverflowPolicy::DropOldest] {
            let mut b = SendBuffer::new(0, p);
            assert_eq!(b.push(1), Pushed::Rejected(1));
        }
    }

    #[test]
    fn drop_oldest_with_capacity_one() {
        let mut b = SendBuffer::new(1, OverflowPolicy::DropOldest);
        assert_eq!(b.push("a"), Pushed::Queued);
        assert_eq!(b.push("b"), Pushed::Evicted("a"));
        assert_eq!(b.drain().collect::<Vec<_>>(), ["b"]);
    }
}
