//! Requests waiting for their reply, by `ref`, each with a deadline.
//!
//! A request is first *queued* (offline, or its room not re-joined yet) and
//! then *sent*. Queued requests count against the offline buffer capacity.
//! When the link drops, sent-but-unanswered requests that may be sent again
//! (a publish carries its `cid`, so the server stores it once) are queued
//! again and go out after the re-join; the others fail with
//! [`crate::Error::Disconnected`]. Queued ones wait for the next connection.

use crate::runtime::vecmap::VecMap;
use crate::transport::buffer::OverflowPolicy;

/// One outstanding request.
#[derive(Debug)]
struct Entry<T> {
    /// Time (ms) after which it fails with [`crate::Error::AckTimeout`].
    deadline: f64,
    /// Room it must wait for (a publish waits until its room is joined).
    room: Option<String>,
    /// Sent on the current connection.
    sent: bool,
    /// The caller's data (frame + reply channel).
    item: T,
}

/// Outcome of [`Pending::add`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Added<T> {
    /// Accepted.
    Ok,
    /// Accepted; the oldest queued request was evicted.
    Evicted(T),
    /// Refused (buffer full).
    Rejected(T),
}

/// Outstanding requests, in the order they were added (refs increase).
#[derive(Debug)]
pub(crate) struct Pending<T> {
    entries: VecMap<u64, Entry<T>>,
    capacity: usize,
    policy: OverflowPolicy,
}

impl<T> Pending<T> {
    /// Empty; at most `capacity` queued (unsent) requests.
    pub(crate) fn new(capacity: usize, policy: OverflowPolicy) -> Self {
        Self {
            entries: VecMap::default(),
            capacity,
            policy,
        }
    }

    fn queued(&self) -> usize {
        self.entries.values().filter(|e| !e.sent).count()
    }

    /// Adds request `reference`, queued until [`Pending::take_sendable`].
    pub(crate) fn add(
        &mut self,
        reference: u64,
        deadline: f64,
        room: Option<String>,
        item: T,
    ) -> Added<T> {
        let mut evicted = None;
        if self.queued() >= self.capacity {
            let oldest = self.entries.iter().find(|(_, e)| !e.sent).map(|(r, _)| *r);
            match (self.policy, oldest) {
                (OverflowPolicy::DropOldest, Some(r)) => {
                    evicted = self.entries.remove(&r).map(|e| e.item);
                }
                _ => return Added::Rejected(item),
            }
        }
        self.entries.insert(
            reference,
            Entry {
                deadline,
                room,
                sent: false,
                item,
            },
        );
        match evicted {
            Some(e) => Added::Evicted(e),
            None => Added::Ok,
        }
    }

    /// Marks every queued request whose room passes `ready` as sent and
    /// returns them in order, for the caller to put on the wire.
    pub(crate) fn take_sendable(&mut self, ready: impl Fn(Option<&str>) -> bool) -> Vec<(u64, &T)> {
        self.entries
            .iter_mut()
            .filter(|(_, e)| !e.sent && ready(e.room.as_deref()))
            .map(|(r, e)| {
                e.sent = true;
                (*r, &e.item)
            })
            .collect()
    }

    /// The reply for `reference` arrived: removes and returns it.
    pub(crate) fn resolve(&mut self, reference: u64) -> Option<T> {
        self.entries.remove(&reference).map(|e| e.item)
    }

    /// Removes and returns the requests whose deadline is at or before `now`.
    pub(crate) fn expire(&mut self, now: f64) -> Vec<T> {
        self.remove_where(|e| e.deadline <= now)
    }

    /// The link dropped: the requests already sent for which `resend`
    /// holds are queued again; the other sent ones are removed and returned.
    pub(crate) fn disconnected(&mut self, resend: impl Fn(&T) -> bool) -> Vec<T> {
        let lost = self.remove_where(|e| e.sent && !resend(&e.item));
        for (_, e) in self.entries.iter_mut() {
            e.sent = false;
        }
        lost
    }

    /// Queues request `reference` again (to be sent by the next
    /// [`Pending::take_sendable`]) if it is outstanding and `resend` holds
    /// for it; returns whether it was.
    pub(crate) fn requeue(&mut self, reference: u64, resend: impl Fn(&T) -> bool) -> bool {
        match self.entries.iter_mut().find(|(r, _)| **r == reference) {
            Some((_, e)) if resend(&e.item) => {
                e.sent = false;
                true
            }
            _ => false,
        }
    }

    /// Removes and returns queued requests waiting for `room`.
    pub(crate) fn drop_room(&mut self, room: &str) -> Vec<T> {
        self.remove_where(|e| e.room.as_deref() == Some(room))
    }

    /// Removes everything (close).
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.remove_where(|_| true)
    }

    /// Earliest deadline, to schedule the next expiry check.
    pub(crate) fn next_deadline(&self) -> Option<f64> {
        self.entries.values().map(|e| e.deadline).reduce(f64::min)
    }

    /// Number of outstanding requests (queued + sent).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn remove_where(&mut self, pred: impl Fn(&Entry<T>) -> bool) -> Vec<T> {
        self.entries
            .remove_where(|_, e| pred(e))
            .into_iter()
            .map(|e| e.item)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn add_send_resolve() {
        let mut p = Pending::new(10, OverflowPolicy::RejectNew);
        assert_eq!(p.add(1, 10_000.0, None, "ping"), Added::Ok);
        assert_eq!(p.take_sendable(|_| true), vec![(1, &"ping")]);
        assert_eq!(p.resolve(1), Some("ping"));
    }

    #[test]
    fn queued_until_room_ready_then_sent_in_order() {
        let mut p = Pending::new(10, OverflowPolicy::RejectNew);
        assert_eq!(p.add(1, 100.0, room("a"), "a1"), Added::Ok);
        assert_eq!(p.add(2, 100.0, room("b"), "b1"), Added::Ok);
        assert_eq!(p.add(3, 100.0, room("a"), "a2"), Added::Ok);
        assert_eq!(p.take_sendable(|_| false), vec![]);
        let sent: Vec<_> = p
            .take_sendable(|r| r == Some("a"))
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(sent, [1, 3]);
        // Already sent ones are not sent twice.
        let sent: Vec<_> = p
            .take_sendable(|_| true)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(sent, [2]);
        assert_eq!(p.resolve(3), Some("a2"));
        assert_eq!(p.resolve(3), None);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn timeouts_and_disconnect() {
        let mut p = Pending::new(10, OverflowPolicy::RejectNew);
        let _ = p.add(1, 50.0, None, 1);
        let _ = p.add(2, 150.0, None, 2);
        let _ = p.add(3, 120.0, room("x"), 3);
        assert_eq!(p.next_deadline(), Some(50.0));
        let _ = p.take_sendable(|r| r.is_none());
        assert_eq!(p.expire(49.0), Vec::<i32>::new());
        assert_eq!(p.expire(50.0), [1]);
        // 2 was sent, 3 still queued: only 2 fails on a disconnect.
        assert_eq!(p.disconnected(|_| false), [2]);
        assert_eq!(p.expire(1000.0), [3]);
        assert_eq!(p.len(), 0);
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn capacity_counts_queued_only() {
        let mut p = Pending::new(1, OverflowPolicy::RejectNew);
        assert_eq!(p.add(1, 0.0, None, 1), Added::Ok);
        assert_eq!(p.add(2, 0.0, None, 2), Added::Rejected(2));
        let _ = p.take_sendable(|_| true);
        assert_eq!(p.add(3, 0.0, None, 3), Added::Ok);

        let mut p = Pending::new(1, OverflowPolicy::DropOldest);
        let _ = p.add(1, 0.0, None, 1);
        assert_eq!(p.add(2, 0.0, None, 2), Added::Evicted(1));
        assert_eq!(p.drain(), [2]);
    }

    #[test]
    fn resendable_requests_are_queued_again_after_a_disconnect() {
        let mut p = Pending::new(10, OverflowPolicy::RejectNew);
        let _ = p.add(1, 100.0, room("a"), "publish");
        let _ = p.add(2, 100.0, None, "leave");
        let _ = p.add(3, 100.0, room("a"), "queued");
        let sent: Vec<_> = p
            .take_sendable(|r| r.is_none())
            .iter()
            .map(|(r, _)| *r)
            .collect();
        assert_eq!(sent, [2]);
        let sent: Vec<_> = p.take_sendable(|_| true).iter().map(|(r, _)| *r).collect();
        assert_eq!(sent, [1, 3]);
        // The leave fails; the publishes wait for the next connection, in order.
        assert_eq!(p.disconnected(|item| *item != "leave"), ["leave"]);
        assert_eq!(p.take_sendable(|_| false), vec![]);
        let sent: Vec<_> = p.take_sendable(|_| true).iter().map(|(r, _)| *r).collect();
        assert_eq!(sent, [1, 3]);
        // outcome_unknown: sent again once, still outstanding, deadline kept.
        assert!(p.requeue(3, |_| true));
        assert!(!p.requeue(2, |_| true), "no longer outstanding");
        assert!(!p.requeue(1, |_| false), "not resendable");
        let sent: Vec<_> = p.take_sendable(|_| true).iter().map(|(r, _)| *r).collect();
        assert_eq!(sent, [3]);
        assert_eq!(p.expire(100.0), ["publish", "queued"]);
    }

    #[test]
    fn drop_room() {
        let mut p = Pending::new(5, OverflowPolicy::RejectNew);
        let _ = p.add(1, 0.0, room("a"), 1);
        let _ = p.add(2, 0.0, room("b"), 2);
        assert_eq!(p.drop_room("a"), [1]);
        assert_eq!(p.len(), 1);
    }
}
