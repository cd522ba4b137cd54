//! Listener lists, the [`Subscription`] handle that removes a listener
//! when dropped, and [`EventStream`]: a listener as a `Stream`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use crate::runtime::cell::Borrows;

type Listener<E> = Rc<dyn Fn(&E)>;
type List<E> = RefCell<Vec<(u64, Listener<E>)>>;

/// A list of callbacks for events of type `E`.
pub(crate) struct Emitter<E> {
    list: Rc<List<E>>,
    next: Cell<u64>,
}

impl<E> Default for Emitter<E> {
    fn default() -> Self {
        Self {
            list: Rc::default(),
            next: Cell::new(0),
        }
    }
}

impl<E: 'static> Emitter<E> {
    pub(crate) fn subscribe(&self, f: impl Fn(&E) + 'static) -> Subscription {
        let id = self.next.get();
        self.next.set(id + 1);
        self.list.write().push((id, Rc::new(f)));
        let weak: Weak<List<E>> = Rc::downgrade(&self.list);
        Subscription {
            cancel: Some(Box::new(move || {
                if let Some(list) = weak.upgrade() {
                    list.write().retain(|(i, _)| *i != id);
                }
            })),
        }
    }

    /// Calls every listener; listeners may subscribe/unsubscribe/emit
    /// while being called (the list is snapshotted first).
    pub(crate) fn emit(&self, event: &E) {
        let snapshot: Vec<Listener<E>> = self.list.read().iter().map(|(_, f)| f.clone()).collect();
        for f in snapshot {
            f(event);
        }
    }

    /// The events from now on as a `Stream`, ending after the first event
    /// for which `last` holds (at once if `ended`).
    pub(crate) fn stream(&self, ended: bool, last: fn(&E) -> bool) -> EventStream<E>
    where
        E: Clone,
    {
        let queue = Rc::new(RefCell::new(Queue {
            events: VecDeque::new(),
            waker: None,
            ended,
        }));
        let q = queue.clone();
        let sub = self.subscribe(move |event| {
            let waker = {
                let mut q = q.write();
                if q.ended {
                    return;
                }
                q.events.push_back(event.clone());
                q.ended = last(event);
                q.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        EventStream { queue, _sub: sub }
    }
}

struct Queue<E> {
    events: VecDeque<E>,
    waker: Option<Waker>,
    /// No more events will be queued.
    ended: bool,
}

/// A `futures` `Stream` of events (e.g. [`crate::Room::events`]). Events
/// are queued until read (unbounded: read them, or drop the stream).
#[must_use = "streams do nothing unless polled"]
pub struct EventStream<E> {
    queue: Rc<RefCell<Queue<E>>>,
    _sub: Subscription,
}

impl<E> std::fmt::Debug for EventStream<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl<E> futures_core::Stream for EventStream<E> {
    type Item = E;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<E>> {
        let mut q = self.queue.write();
        if let Some(event) = q.events.pop_front() {
            return Poll::Ready(Some(event));
        }
        if q.ended {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Keeps an event listener registered; dropping it unsubscribes.
///
/// ```no_run
/// # fn f(client: confab_client::Client) {
/// let sub = client.on_event(|ev| { let _ = ev; });
/// drop(sub); // no more events
/// # }
/// ```
#[must_use = "the listener is removed when the Subscription is dropped"]
pub struct Subscription {
    cancel: Option<Box<dyn FnOnce()>>,
}

impl Subscription {
    /// Keeps the listener for as long as its emitter lives (use sparingly:
    /// the listener is then only removed with the client/room itself).
    pub fn detach(mut self) {
        self.cancel = None;
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_emit_unsubscribe() {
        let e: Emitter<u32> = Emitter::default();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s2 = seen.clone();
        let sub = e.subscribe(move |v| s2.write().push(*v));
        e.emit(&1);
        drop(sub);
        e.emit(&2);
        assert_eq!(*seen.read(), [1]);
    }

    fn poll<E>(s: &mut EventStream<E>) -> Poll<Option<E>> {
        use futures_core::Stream;
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(s).poll_next(&mut cx)
    }

    #[test]
    fn stream_queues_events_and_ends_after_the_last_one() {
        let e: Emitter<u32> = Emitter::default();
        let mut s = e.stream(false, |v| *v == 0);
        assert_eq!(poll(&mut s), Poll::Pending);
        e.emit(&1);
        e.emit(&2);
        e.emit(&0);
        e.emit(&3);
        assert_eq!(poll(&mut s), Poll::Ready(Some(1)));
        assert_eq!(poll(&mut s), Poll::Ready(Some(2)));
        assert_eq!(poll(&mut s), Poll::Ready(Some(0)));
        assert_eq!(poll(&mut s), Poll::Ready(None));
        let mut ended = e.stream(true, |_| false);
        e.emit(&4);
        assert_eq!(poll(&mut ended), Poll::Ready(None));
        drop(s);
        drop(ended);
        assert!(e.list.read().is_empty(), "a dropped stream unsubscribes");
    }

    #[test]
    fn listener_may_unsubscribe_itself_while_emitting() {
        let e: Rc<Emitter<u32>> = Rc::new(Emitter::default());
        let slot: Rc<RefCell<Option<Subscription>>> = Rc::default();
        let s = slot.clone();
        let count = Rc::new(Cell::new(0));
        let c = count.clone();
        *slot.write() = Some(e.subscribe(move |_| {
            c.set(c.get() + 1);
            s.write().take();
        }));
        e.emit(&1);
        e.emit(&2);
        assert_eq!(count.get(), 1);
    }
}
