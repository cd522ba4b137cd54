//! Listener lists and the [`Subscription`] handle that removes a listener
//! when dropped.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

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
