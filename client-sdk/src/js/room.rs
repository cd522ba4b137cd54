//! `ConfabRoom`: the JS face of [`Room`].

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::convert::{members_js, message_js};
use super::glue::{ack_promise, promise, reject, to_js_error, Listeners};
use crate::session::wire::object;
use crate::{Error, Payload, Room, RoomEvent, Subscription};

/// A joined room (see the Rust [`Room`]).
#[wasm_bindgen(js_name = ConfabRoom)]
pub struct JsRoom {
    room: Room,
    listeners: Rc<Listeners>,
    _sub: Subscription,
}

impl JsRoom {
    pub(super) fn new(room: Room) -> Self {
        let listeners = Rc::new(Listeners::default());
        let l = listeners.clone();
        let sub = room.on_event(move |ev| match ev {
            RoomEvent::Message(m) => l.emit("message", || message_js(m)),
            RoomEvent::Presence {
                joins,
                leaves,
                updates,
            } => l.emit("presence", || {
                object(&[
                    ("joins", members_js(joins)),
                    ("leaves", members_js(leaves)),
                    ("updates", members_js(updates)),
                ])
            }),
            RoomEvent::Members(m) => l.emit("members", || members_js(m)),
            RoomEvent::StateChanged(s) => l.emit("state", || JsValue::from_str(s.name())),
            RoomEvent::Gap => l.emit("gap", || JsValue::UNDEFINED),
            RoomEvent::Error(e) => l.emit("error", || to_js_error(e)),
        });
        Self {
            room,
            listeners,
            _sub: sub,
        }
    }
}

#[wasm_bindgen(js_class = ConfabRoom)]
impl JsRoom {
    /// Room name.
    #[wasm_bindgen(getter, unchecked_return_type = "string")]
    pub fn name(&self) -> JsValue {
        JsValue::from_str(self.room.name())
    }

    /// `"joining" | "joined" | "leaving" | "left" | "errored"`.
    #[wasm_bindgen(getter, unchecked_return_type = "RoomStateName")]
    pub fn state(&self) -> JsValue {
        JsValue::from_str(self.room.state().name())
    }

    /// Last seen offset.
    #[wasm_bindgen(getter)]
    pub fn offset(&self) -> f64 {
        self.room.offset() as f64
    }

    /// How many resumes could not be recovered (`gap` events).
    #[wasm_bindgen(getter)]
    pub fn gaps(&self) -> u32 {
        self.room.gaps()
    }

    /// Who is in the room.
    #[wasm_bindgen(unchecked_return_type = "Member[]")]
    pub fn members(&self) -> JsValue {
        members_js(&self.room.members())
    }

    /// Messages seen, oldest first, deduplicated.
    #[wasm_bindgen(unchecked_return_type = "ConfabMessage[]")]
    pub fn history(&self) -> JsValue {
        self.room
            .history()
            .iter()
            .map(message_js)
            .collect::<js_sys::Array>()
            .into()
    }

    /// Publishes a JSON-compatible value; resolves with the ack.
    #[wasm_bindgen(unchecked_return_type = "Promise<Ack>")]
    pub fn publish(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
    ) -> Promise {
        if payload.is_undefined() || payload.is_function() || payload.is_symbol() {
            return reject(Error::Serde("payload must be JSON-compatible".to_owned()));
        }
        ack_promise(self.room.publish_payload(Payload::from_js(payload)))
    }

    /// Leaves the room.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn leave(&self) -> Promise {
        let fut = self.room.leave();
        promise(async move { fut.await.map(|()| JsValue::UNDEFINED) })
    }

    /// Adds a listener (`message`, `presence`, `members`, `state`, `gap`, `error`).
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: JsValue, listener: JsValue) {
        self.listeners.on(event, listener);
    }

    /// Removes a listener.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: JsValue, listener: JsValue) {
        self.listeners.off(event, listener);
    }
}
