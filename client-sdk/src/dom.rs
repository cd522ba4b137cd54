//! Owned browser callbacks: each closure/listener/timer lives in a struct
//! whose `Drop` unregisters it (gloo style). Nothing is `forget`-ed.

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
        Self {
            _timeout: Timeout::new(ms, f),
            _tracked: Tracked::new(),
        }
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
