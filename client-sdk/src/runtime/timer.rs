//! Timers owned by structs that clear them on drop (gloo-timers style),
//! a [`Sleep`] future, and the clock.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;

use crate::debug::Tracked;
use crate::runtime::callback::{callback, Callback};
use crate::runtime::cell::Borrows;

#[wasm_bindgen]
extern "C" {
    // Globals of both windows and workers (what gloo-timers binds too).
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &JsValue, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = setInterval)]
    fn set_interval(handler: &JsValue, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearInterval)]
    fn clear_interval(id: &JsValue);
}

/// Milliseconds since the Unix epoch (`Date.now()`).
pub(crate) fn now() -> f64 {
    js_sys::Date::now()
}

/// A `setTimeout`/`setInterval` with its closure, cleared on drop.
struct RawTimer {
    id: JsValue,
    repeat: bool,
    _closure: Callback,
}

impl RawTimer {
    fn new(ms: u32, repeat: bool, f: Box<dyn FnMut(JsValue)>) -> Self {
        let closure = callback(f);
        let start = if repeat { set_interval } else { set_timeout };
        Self {
            id: start(closure.as_ref(), ms),
            repeat,
            _closure: closure,
        }
    }

    fn once(ms: u32, f: impl FnOnce() + 'static) -> Self {
        let mut f = Some(f);
        Self::new(
            ms,
            false,
            Box::new(move |_| {
                if let Some(f) = f.take() {
                    f();
                }
            }),
        )
    }
}

impl Drop for RawTimer {
    fn drop(&mut self) {
        if self.repeat {
            clear_interval(&self.id);
        } else {
            clear_timeout(&self.id);
        }
    }
}

/// A one-shot timer, cancelled on drop.
pub(crate) struct Timer {
    _timer: RawTimer,
    _tracked: Tracked,
}

impl Timer {
    pub(crate) fn once(ms: u32, f: impl FnOnce() + 'static) -> Self {
        Self {
            _timer: RawTimer::once(ms, f),
            _tracked: Tracked::new(),
        }
    }
}

/// A repeating timer, cancelled on drop.
pub(crate) struct Ticker {
    _timer: RawTimer,
    _tracked: Tracked,
}

impl Ticker {
    pub(crate) fn every(ms: u32, mut f: impl FnMut() + 'static) -> Self {
        Self {
            _timer: RawTimer::new(ms, true, Box::new(move |_| f())),
            _tracked: Tracked::new(),
        }
    }
}

/// A future that completes after `ms` milliseconds (the timer is cleared
/// when it is dropped first).
pub(crate) struct Sleep {
    fired: Rc<RefCell<(bool, Option<Waker>)>>,
    _timer: RawTimer,
}

impl Sleep {
    pub(crate) fn new(ms: u32) -> Self {
        let fired: Rc<RefCell<(bool, Option<Waker>)>> = Rc::default();
        let f = fired.clone();
        let timer = RawTimer::once(ms, move || {
            let waker = {
                let mut f = f.write();
                f.0 = true;
                f.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        Self {
            fired,
            _timer: timer,
        }
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut f = self.fired.write();
        if f.0 {
            return Poll::Ready(());
        }
        f.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}
