//! Rust values as the plain JS objects of the JS API (`Member`,
//! `ConfabMessage`, `Ack`, `ConnectionStateInfo` in `types.d.ts`).

use confab_protocol::Ack;
use js_sys::Array;
use wasm_bindgen::JsValue;

use crate::session::wire::object;
use crate::{ConnectionState, HistoryPage, Member, Payload, RoomMessage};

/// A JS string, or `undefined`.
pub(super) fn opt_str(s: Option<String>) -> JsValue {
    s.map_or(JsValue::UNDEFINED, |s| JsValue::from_str(&s))
}

/// A connection state as `ConnectionStateInfo`: `{state}` plus the attempt
/// and delay of `reconnecting`, the code and reason of `closed`.
pub(super) fn state_info(st: &ConnectionState) -> JsValue {
    let num = |n: f64| JsValue::from_f64(n);
    match st {
        ConnectionState::Reconnecting { attempt, retry_in } => object(&[
            ("state", st.name().into()),
            ("attempt", num(f64::from(*attempt))),
            ("retryInMs", num(retry_in.as_millis() as f64)),
        ]),
        ConnectionState::Closed { code, reason } => object(&[
            ("state", st.name().into()),
            ("code", num(f64::from(*code))),
            ("reason", reason.as_str().into()),
        ]),
        _ => object(&[("state", st.name().into())]),
    }
}

/// An optional JSON value, or `undefined`.
fn opt_json(p: &Option<Payload>) -> JsValue {
    p.as_ref().map_or(JsValue::UNDEFINED, |p| p.as_js().clone())
}

/// A [`Member`] as `{id, name, info?, state?}`.
pub(super) fn member_js(m: &Member) -> JsValue {
    object(&[
        ("id", m.id.as_str().into()),
        ("name", m.name.as_str().into()),
        ("info", opt_json(&m.info)),
        ("state", opt_json(&m.state)),
    ])
}

/// A member list as an array of members.
pub(super) fn members_js(ms: &[Member]) -> JsValue {
    ms.iter().map(member_js).collect::<Array>().into()
}

/// A message as `{room, offset, from, ts, payload, cid?}`.
pub(super) fn message_js(m: &RoomMessage) -> JsValue {
    object(&[
        ("room", m.room.as_str().into()),
        ("offset", (m.offset as f64).into()),
        ("from", member_js(&m.from)),
        ("ts", (m.ts as f64).into()),
        ("payload", m.payload.as_js().clone()),
        ("cid", opt_str(m.cid.clone())),
    ])
}

/// A history page as `{messages, more}`.
pub(super) fn page_js(p: &HistoryPage) -> JsValue {
    let messages: Array = p.messages.iter().map(message_js).collect();
    object(&[("messages", messages.into()), ("more", p.more.into())])
}

/// An ack as `{ref, room, offset, ts, expires}` (absent fields omitted).
pub(super) fn ack_js(a: &Ack) -> JsValue {
    let opt_num = |n: Option<u64>| n.map_or(JsValue::UNDEFINED, |n| (n as f64).into());
    object(&[
        (
            "ref",
            a.reference
                .as_deref()
                .map_or(JsValue::UNDEFINED, JsValue::from_str),
        ),
        (
            "room",
            a.room
                .as_deref()
                .map_or(JsValue::UNDEFINED, JsValue::from_str),
        ),
        ("offset", opt_num(a.offset)),
        ("ts", opt_num(a.ts)),
        ("expires", opt_num(a.expires)),
    ])
}
