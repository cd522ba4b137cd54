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
    Some(Member::new(string(v, "id")?, string(v, "name")?))
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
        cid: string(v, "cid"),
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
            expires: num(v, "expires"),
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
            expires: num(v, "expires"),
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

/// Protocol drift: every `ServerMsg` the server can encode (each variant,
/// each optional field set and not set, each error code), encoded by
/// `confab-protocol` itself and decoded here, field by field. A field
/// renamed in `protocol/` fails this test. Runs in the browser (the
/// decoder reads parsed JS objects): `scripts/test.sh browser`.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod tests {
    use confab_protocol::{
        encode, Ack, ErrorCode, ErrorMsg, Joined, Limits, Member, Members, Message, Pong, Presence,
        ServerMsg, ServerType, Welcome,
    };
    use serde_json::{json, Value};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{decode, Frame};
    use crate::Payload;

    fn member(id: &str, name: &str) -> Member {
        Member::new(id, name)
    }

    fn message(room: &str, offset: u64, payload: Value) -> Message<Value> {
        Message {
            room: room.to_owned(),
            offset,
            from: member("g-1", "Ann"),
            ts: 1_763_777_000_000 + offset,
            payload,
            cid: None,
        }
    }

    fn payloads() -> Vec<Value> {
        vec![
            json!({"message": "hi", "n": [1, 2.5, null, true]}),
            json!("text"),
            json!(42),
            json!(null),
            json!([{"a": {"b": "ü ✓"}}]),
        ]
    }

    fn some_or_none<T: Clone>(v: T) -> [Option<T>; 2] {
        [Some(v), None]
    }

    /// Every shape of every server envelope. A new `ServerType` fails here
    /// until it has samples (and `check` knows what the SDK makes of it).
    fn samples(kind: ServerType) -> Vec<ServerMsg<Value>> {
        let mut out = Vec::new();
        match kind {
            ServerType::Welcome => {
                for guest_token in some_or_none("gt.1.abc".to_owned()) {
                    out.push(ServerMsg::Welcome(Welcome {
                        version: 1,
                        session_id: "s-1".to_owned(),
                        user: member("g-1", "Ann"),
                        heartbeat_ms: 25_000,
                        limits: Limits {
                            max_message_bytes: 65_536,
                            max_rooms: 50,
                            rate_per_sec: 20,
                        },
                        guest_token,
                        expires: None,
                    }));
                }
            }
            ServerType::Joined => {
                for reference in some_or_none("7".to_owned()) {
                    for recovered in [true, false] {
                        for (members, history) in [
                            (vec![], vec![]),
                            (
                                vec![member("g-1", "Ann"), member("u-bob", "Bob")],
                                payloads()
                                    .into_iter()
                                    .zip(1..)
                                    .map(|(p, i)| message("lobby", i, p))
                                    .collect(),
                            ),
                        ] {
                            out.push(ServerMsg::Joined(Joined {
                                reference: reference.clone(),
                                room: "lobby".to_owned(),
                                epoch: "e-1".to_owned(),
                                offset: 5,
                                recovered,
                                members,
                                history,
                            }));
                        }
                    }
                }
            }
            ServerType::Message => {
                for (p, i) in payloads().into_iter().zip(1..) {
                    out.push(ServerMsg::Message(message("dm:g-1:u-bob", i, p)));
                }
            }
            ServerType::Ack => {
                for reference in some_or_none("3".to_owned()) {
                    for room in some_or_none("lobby".to_owned()) {
                        for offset in some_or_none(42) {
                            for ts in some_or_none(1_763_777_000_123) {
                                out.push(ServerMsg::Ack(Ack {
                                    reference: reference.clone(),
                                    room: room.clone(),
                                    offset,
                                    ts,
                                    expires: None,
                                }));
                            }
                        }
                    }
                }
            }
            ServerType::Presence => {
                for mask in 0..8 {
                    let list = |bit: u32, id: &str| {
                        if mask & (1 << bit) == 0 {
                            vec![]
                        } else {
                            vec![member(id, "X"), member("u-2", "Y")]
                        }
                    };
                    out.push(ServerMsg::Presence(Presence {
                        room: "lobby".to_owned(),
                        joins: list(0, "g-j"),
                        leaves: list(1, "g-l"),
                        updates: list(2, "g-u"),
                    }));
                }
            }
            ServerType::Members => {
                for reference in some_or_none("9".to_owned()) {
                    out.push(ServerMsg::Members(Members {
                        reference,
                        room: "lobby".to_owned(),
                        members: vec![member("g-1", "Ann")],
                    }));
                }
            }
            ServerType::Pong => {
                for reference in some_or_none("4".to_owned()) {
                    out.push(ServerMsg::Pong(Pong {
                        reference,
                        ts: 1_763_777_000_000,
                    }));
                }
            }
            ServerType::Error => {
                for &code in ErrorCode::ALL {
                    for reference in some_or_none("5".to_owned()) {
                        for room in some_or_none("dm:a:b".to_owned()) {
                            out.push(ServerMsg::Error(ErrorMsg {
                                reference: reference.clone(),
                                code,
                                message: "why".to_owned(),
                                room,
                            }));
                        }
                    }
                }
            }
            other => panic!("no wire test samples for {other:?}: add them"),
        }
        out
    }

    fn payload(v: Value) -> Payload {
        let text = serde_json::to_string(&v).unwrap();
        Payload::from_js(js_sys::JSON::parse(&text).unwrap())
    }

    fn with_payloads(m: Message<Value>) -> Message<Payload> {
        Message {
            room: m.room,
            offset: m.offset,
            from: m.from,
            ts: m.ts,
            payload: payload(m.payload),
            cid: m.cid,
        }
    }

    /// Decodes the server's encoding of `msg` and compares it with `msg`.
    fn check(msg: ServerMsg<Value>) {
        let text = encode(&msg);
        let parsed = js_sys::JSON::parse(&text).unwrap();
        let decoded = decode(&parsed);
        match (msg, decoded) {
            (ServerMsg::Welcome(w), Some(Frame::Welcome(d))) => {
                // `version` and `limits` are not read by the SDK (size).
                let expected = Welcome {
                    version: 0,
                    limits: Limits {
                        max_message_bytes: 0,
                        max_rooms: 0,
                        rate_per_sec: 0,
                    },
                    ..w
                };
                assert_eq!(d, expected, "{text}");
            }
            (ServerMsg::Joined(j), Some(Frame::Joined(d))) => {
                let expected = Joined {
                    reference: j.reference,
                    room: j.room,
                    epoch: j.epoch,
                    offset: j.offset,
                    recovered: j.recovered,
                    members: j.members,
                    history: j.history.into_iter().map(with_payloads).collect(),
                };
                assert_eq!(d, expected, "{text}");
            }
            (ServerMsg::Message(m), Some(Frame::Message(d))) => {
                assert_eq!(d, with_payloads(m), "{text}");
            }
            (ServerMsg::Ack(a), Some(Frame::Ack(d))) => assert_eq!(d, a, "{text}"),
            (ServerMsg::Presence(p), Some(Frame::Presence(d))) => assert_eq!(d, p, "{text}"),
            (ServerMsg::Error(e), Some(Frame::Error(d))) => assert_eq!(d, e, "{text}"),
            // Not used by the SDK: only their arrival counts (liveness).
            (ServerMsg::Members(_) | ServerMsg::Pong(_), Some(Frame::Other)) => {}
            (_, Some(_)) => panic!("{text}: decoded as another frame type"),
            (_, None) => panic!("{text}: not decoded (a field missing or renamed?)"),
        }
    }

    #[wasm_bindgen_test]
    fn every_server_message_decodes_field_by_field() {
        for kind in ServerType::ALL {
            let samples = samples(kind);
            assert!(!samples.is_empty(), "{kind:?}");
            for msg in samples {
                assert_eq!(msg.kind(), kind);
                check(msg);
            }
        }
    }

    #[wasm_bindgen_test]
    fn an_unknown_error_code_reads_as_internal_and_an_unknown_type_as_other() {
        let v =
            js_sys::JSON::parse(r#"{"type":"error","code":"new_in_v9","message":"m"}"#).unwrap();
        match decode(&v) {
            Some(Frame::Error(e)) => assert_eq!(e.code, ErrorCode::Internal),
            _ => panic!("not an error frame"),
        }
        let v = js_sys::JSON::parse(r#"{"type":"hello_from_the_future"}"#).unwrap();
        assert!(matches!(decode(&v), Some(Frame::Other)));
    }
}
