//! The page: `window`, its visibility, and event listeners removed on drop
//! (gloo-events style).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::EventTarget;

use crate::debug::Tracked;
use crate::runtime::callback::{callback, Callback};

#[wasm_bindgen]
extern "C" {
    // `document.visibilityState` as a string: web-sys's `VisibilityState`
    // enum brings a conversion with an `unreachable!` panic path.
    type PageDocument;
    #[wasm_bindgen(method, getter, js_name = visibilityState)]
    fn visibility_state(this: &PageDocument) -> String;
}

/// Whether the page is visible (`document.visibilityState == "visible"`).
pub(crate) fn visible(doc: &web_sys::Document) -> bool {
    doc.unchecked_ref::<PageDocument>().visibility_state() == "visible"
}

/// The page's `window`, if any (not in workers).
pub(crate) fn window() -> Option<web_sys::Window> {
    js_sys::global().dyn_into::<web_sys::Window>().ok()
}

/// An `addEventListener` registration, removed on drop.
pub(crate) struct DomListener {
    target: EventTarget,
    kind: &'static str,
    closure: Callback,
    _tracked: Tracked,
}

impl DomListener {
    pub(crate) fn new(
        target: &EventTarget,
        kind: &'static str,
        f: impl FnMut(JsValue) + 'static,
    ) -> Option<Self> {
        let closure = callback(Box::new(f));
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
