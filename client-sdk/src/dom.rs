//! Owned browser callbacks: each closure/listener/timer lives in a struct
//! whose `Drop` unregisters it (gloo style). Nothing is `forget`-ed.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use gloo_timers::callback::{Interval, Timeout};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

use crate::debug::Tracked;

/// An `addEventListener` registration, removed on drop.
pub(crate) struct DomListener {
    target: EventTarget,
    kind: &'static str,
    closure: Closure<dyn FnMut(Event)>,
    _tracked: Tracked,
}

impl DomListener {
    pub(crate) fn new(
        target: &EventTarget,
        kind: &'static str,
        f: impl FnMut(Event) + 'static,
    ) -> Option<Self> {
        let closure = Closure::<dyn FnMut(Event)>::new(f);
        target
            .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())
            .ok()?;
        Some(Self {
            target: target.clone(),
            kind,
            closure,
            _tracked: Tracked::new(),
        })
    }
}

impl Drop for DomListener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.closure.as_ref().unchecked_ref());
    }
}

/// A one-shot timer, cancelled on drop.
pub(crate) struct Timer {
    _timeout: Timeout,
    _tracked: Tracked,
}

impl Timer {
    pub(crate) fn once(ms: u32, f: impl FnOnce() + 'static) -> Self {
        Self::boxed(ms, Box::new(f))
    }

    /// One `Closure` instantiation for every timer (smaller wasm).
    fn boxed(ms: u32, f: Box<dyn FnOnce()>) -> Self {
        Self {
            _timeout: Timeout::new(ms, f),
            _tracked: Tracked::new(),
        }
    }
}

/// A future that completes after `ms` milliseconds (the timer is cleared
/// when it is dropped first).
pub(crate) struct Sleep {
    fired: Rc<RefCell<(bool, Option<Waker>)>>,
    _timeout: Timeout,
}

impl Sleep {
    pub(crate) fn new(ms: u32) -> Self {
        let fired: Rc<RefCell<(bool, Option<Waker>)>> = Rc::default();
        let f = fired.clone();
        let wake: Box<dyn FnOnce()> = Box::new(move || {
            let waker = {
                let mut f = f.borrow_mut();
                f.0 = true;
                f.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        Self {
            fired,
            _timeout: Timeout::new(ms, wake),
        }
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut f = self.fired.borrow_mut();
        if f.0 {
            return Poll::Ready(());
        }
        f.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A repeating timer, cancelled on drop.
pub(crate) struct Ticker {
    _interval: Interval,
    _tracked: Tracked,
}

impl Ticker {
    pub(crate) fn every(ms: u32, f: impl FnMut() + 'static) -> Self {
        Self {
            _interval: Interval::new(ms, f),
            _tracked: Tracked::new(),
        }
    }
}

/// Milliseconds since the Unix epoch (`Date.now()`).
pub(crate) fn now() -> f64 {
    js_sys::Date::now()
}

/// The page's `window`, if any (not in workers).
pub(crate) fn window() -> Option<web_sys::Window> {
    js_sys::global().dyn_into::<web_sys::Window>().ok()
}
