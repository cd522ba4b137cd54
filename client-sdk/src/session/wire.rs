//! Reading server frames and writing client frames with `js_sys::Reflect`
//! and the browser's `JSON`, without serde: the field names are those of
//! `confab-protocol` (the contract), and skipping serde's generic decoders
//! and their error formatting keeps the wasm small (see `scripts/size.sh`).

use confab_protocol::{
    Ack, ErrorCode, ErrorMsg, Joined, Limits, Member, Presence, ServerType, Welcome,
};
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};

use crate::{Payload, RoomMessage};

/// A decoded server frame.
pub(crate) enum Frame {
    Welcome(Welcome),
    Joined(Joined<Payload>),
    Message(RoomMessage),
    Ack(Ack),
    Presence(Presence),
    Error(ErrorMsg),
    /// `pong`, `members` and unknown types: nothing to do but note liveness.
    Other,
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn string(v: &JsValue, key: &str) -> Option<String> {
    get(v, key).as_string()
}

fn num(v: &JsValue, key: &str) -> Option<u64> {
    get(v, key).as_f64().filter(|n| *n >= 0.0).map(|n| n as u64)
}

fn member(v: &JsValue) -> Option<Member> {
    Some(Member {
        id: string(v, "id")?,
        name: string(v, "name")?,
    })
}

fn list<T>(v: &JsValue, key: &str, item: impl Fn(&JsValue) -> Option<T>) -> Vec<T> {
    get(v, key)
        .dyn_into::<Array>()
        .map(|a| a.iter().filter_map(|x| item(&x)).collect())
        .unwrap_or_default()
}

fn message(v: &JsValue) -> Option<RoomMessage> {
    Some(RoomMessage {
        room: string(v, "room")?,
        offset: num(v, "offset")?,
        from: member(&get(v, "from"))?,
        ts: num(v, "ts").unwrap_or(0),
        payload: Payload::from_js(get(v, "payload")),
    })
}

/// An unknown code (from a newer server) reads as `internal`.
fn error_code(s: &str) -> ErrorCode {
    ErrorCode::parse(s).unwrap_or(ErrorCode::Internal)
}

/// Decodes a parsed server frame; `None` when a known type lacks fields.
pub(crate) fn decode(v: &JsValue) -> Option<Frame> {
    let Some(kind) = string(v, "type").as_deref().and_then(ServerType::parse) else {
        return Some(Frame::Other);
    };
    let reference = string(v, "ref");
    Some(match kind {
        // `version` and `limits` are not used by the SDK: not read.
        ServerType::Welcome => Frame::Welcome(Welcome {
            version: 0,
            session_id: string(v, "session_id")?,
            user: member(&get(v, "user"))?,
            heartbeat_ms: num(v, "heartbeat_ms").unwrap_or(0),
            limits: Limits {
                max_message_bytes: 0,
                max_rooms: 0,
                rate_per_sec: 0,
            },
            guest_token: string(v, "guest_token"),
        }),
        ServerType::Joined => Frame::Joined(Joined {
            reference,
            room: string(v, "room")?,
            epoch: string(v, "epoch")?,
            offset: num(v, "offset").unwrap_or(0),
            recovered: get(v, "recovered").as_bool().unwrap_or(false),
            members: list(v, "members", member),
            history: list(v, "history", message),
        }),
        ServerType::Message => Frame::Message(message(v)?),
        ServerType::Ack => Frame::Ack(Ack {
            reference,
            room: string(v, "room"),
            offset: num(v, "offset"),
            ts: num(v, "ts"),
        }),
        ServerType::Presence => Frame::Presence(Presence {
            room: string(v, "room")?,
            joins: list(v, "joins", member),
            leaves: list(v, "leaves", member),
            updates: list(v, "updates", member),
        }),
        ServerType::Error => Frame::Error(ErrorMsg {
            reference,
            code: error_code(&string(v, "code").unwrap_or_default()),
            message: string(v, "message").unwrap_or_default(),
            room: string(v, "room"),
        }),
        _ => Frame::Other,
    })
}

/// Builds a plain JS object from `(key, value)` pairs.
pub(crate) fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        if !v.is_undefined() {
            let _ = Reflect::set(&o, &JsValue::from_str(k), v);
        }
    }
    o.into()
}

/// `JSON.stringify` of a client frame `{type, ref, ...fields}`.
pub(crate) fn encode(kind: &str, reference: &str, fields: &[(&str, JsValue)]) -> Option<String> {
    let o = object(&[("type", kind.into()), ("ref", reference.into())]);
    for (k, v) in fields {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    JSON::stringify(&o).ok().map(String::from)
}

/// `{epoch, offset}` for a join's `since`.
pub(crate) fn position(p: Option<confab_protocol::Position>) -> JsValue {
    match p {
        Some(p) => object(&[
            ("epoch", p.epoch.into()),
            ("offset", (p.offset as f64).into()),
        ]),
        None => JsValue::UNDEFINED,
    }
}
