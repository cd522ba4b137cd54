//! A single-threaded one-shot channel (`Rc`, no atomics): the reply slot of
//! a request or a room join. Smaller in wasm than `futures-channel`'s
//! thread-safe one, which the SDK (`!Send` throughout) does not need.

use crate::runtime::cell::Borrows;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// The sender is gone (sent or dropped).
    done: bool,
}

type Shared<T> = Rc<RefCell<Slot<T>>>;

/// Sends the one value; dropping it unsent makes the receiver resolve to `None`.
pub(crate) struct Sender<T>(Shared<T>);

/// Resolves to the sent value, or `None` when the sender was dropped unsent.
pub(crate) struct Receiver<T>(Shared<T>);

pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Rc::new(RefCell::new(Slot {
        value: None,
        waker: None,
        done: false,
    }));
    (Sender(slot.clone()), Receiver(slot))
}

impl<T> Sender<T> {
    /// Delivers `value` (dropped if the receiver is gone).
    pub(crate) fn send(self, value: T) {
        self.0.write().value = Some(value);
        // Drop wakes the receiver.
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.0.write();
            slot.done = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = self.0.write();
        if let Some(v) = slot.value.take() {
            return Poll::Ready(Some(v));
        }
        if slot.done {
            return Poll::Ready(None);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn poll<T>(rx: &mut Receiver<T>, flag: &Arc<Flag>) -> Poll<Option<T>> {
        let waker = Waker::from(flag.clone());
        Pin::new(rx).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn send_wakes_and_delivers() {
        let flag = Arc::new(Flag(Default::default()));
        let (tx, mut rx) = channel();
        assert!(poll(&mut rx, &flag).is_pending());
        tx.send(7);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(poll(&mut rx, &flag), Poll::Ready(Some(7)));
    }

    #[test]
    fn dropped_sender_resolves_none() {
        let flag = Arc::new(Flag(Default::default()));
        let (tx, mut rx) = channel::<u8>();
        assert!(poll(&mut rx, &flag).is_pending());
        drop(tx);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(poll(&mut rx, &flag), Poll::Ready(None));
    }

    #[test]
    fn send_to_dropped_receiver_is_fine() {
        let (tx, rx) = channel();
        drop(rx);
        tx.send(String::from("x"));
    }
}
