//! `ConfabRoom`: the JS face of [`Room`].

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::convert::{member_js, members_js, message_js, page_js};
use super::glue::{ack_promise, promise, reject, to_js_error, Listeners};
use super::options::{get_f64, JsHistoryOptions};
use crate::session::wire::object;
use crate::{Error, Payload, Room, RoomEvent, Subscription};

/// A payload a frame can carry (`undefined`, functions and symbols are
/// not JSON).
fn json_payload(v: JsValue) -> Result<Payload, Error> {
    if v.is_undefined() || v.is_function() || v.is_symbol() {
        return Err(Error::Serde("payload must be JSON-compatible".to_owned()));
    }
    Ok(Payload::from_js(v))
}

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
            RoomEvent::Signal { from, payload } => l.emit("signal", || {
                object(&[
                    ("from", member_js(from)),
                    ("payload", payload.as_js().clone()),
                ])
            }),
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

    /// Messages seen since the room was joined, oldest first, deduplicated.
    #[wasm_bindgen(unchecked_return_type = "ConfabMessage[]")]
    pub fn recent(&self) -> JsValue {
        self.room
            .recent()
            .iter()
            .map(message_js)
            .collect::<js_sys::Array>()
            .into()
    }

    /// Older messages from the server: `{before, limit}`; resolves with
    /// `{messages, more}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<HistoryPage>")]
    pub fn history(&self, options: Option<JsHistoryOptions>) -> Promise {
        let o: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        let before = get_f64(&o, "before").map(|n| n as u64);
        let limit = get_f64(&o, "limit").map(|n| n as u32);
        let fut = self.room.history(before, limit);
        promise(async move { fut.await.map(|page| page_js(&page)) })
    }

    /// Publishes a JSON-compatible value; resolves with the ack.
    #[wasm_bindgen(unchecked_return_type = "Promise<Ack>")]
    pub fn publish(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
    ) -> Promise {
        match json_payload(payload) {
            Ok(p) => ack_promise(self.room.publish_payload(p)),
            Err(e) => reject(e),
        }
    }

    /// Sends an ephemeral signal to the room's members (no ack). Throws a
    /// `ConfabError` (`not_joined`, `closed`, `serde`).
    pub fn signal(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] payload: JsValue,
    ) -> Result<(), JsValue> {
        json_payload(payload)
            .and_then(|p| self.room.signal_payload(p))
            .map_err(|e| to_js_error(&e))
    }

    /// Sets this user's JSON state in the room (`null` clears it);
    /// resolves with the ack.
    #[wasm_bindgen(js_name = setState, unchecked_return_type = "Promise<Ack>")]
    pub fn set_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] state: JsValue,
    ) -> Promise {
        match json_payload(state) {
            Ok(p) => ack_promise(self.room.set_member_state_payload(p)),
            Err(e) => reject(e),
        }
    }

    /// Leaves the room.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn leave(&self) -> Promise {
        let fut = self.room.leave();
        promise(async move { fut.await.map(|()| JsValue::UNDEFINED) })
    }

    /// Adds a listener (`message`, `presence`, `members`, `signal`, `state`, `gap`, `error`).
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
