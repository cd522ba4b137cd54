//! Reading server frames and writing client frames with `js_sys::Reflect`
//! and the browser's `JSON`, without serde: the field names are those of
//! `confab-protocol` (the contract), and skipping serde's generic decoders
//! and their error formatting keeps the wasm small (see `scripts/size.sh`).

use confab_protocol::{Ack, ErrorCode, ErrorMsg, ServerType};
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};

use crate::{HistoryPage, Member, Payload, RoomMessage};

/// `welcome`, without `version` and `limits` (not used by the SDK).
#[derive(Debug, PartialEq)]
pub(crate) struct Welcome {
    pub(crate) session_id: String,
    pub(crate) user: Member,
    pub(crate) heartbeat_ms: u64,
    pub(crate) guest_token: Option<String>,
    /// Token users: the token's expiry, seconds since the Unix epoch.
    pub(crate) expires: Option<u64>,
}

/// `joined`, without `offset` (the history's last offset is what counts).
#[derive(Debug, PartialEq)]
pub(crate) struct Joined {
    pub(crate) reference: Option<String>,
    pub(crate) room: String,
    pub(crate) epoch: String,
    pub(crate) recovered: bool,
    pub(crate) members: Vec<Member>,
    pub(crate) history: Vec<RoomMessage>,
}

/// `presence`: a room's member diff.
#[derive(Debug, PartialEq)]
pub(crate) struct Presence {
    pub(crate) room: String,
    pub(crate) joins: Vec<Member>,
    pub(crate) leaves: Vec<Member>,
    pub(crate) updates: Vec<Member>,
}

/// `signal`: an ephemeral message from a member.
#[derive(Debug, PartialEq)]
pub(crate) struct Signal {
    pub(crate) room: String,
    pub(crate) from: Member,
    pub(crate) payload: Payload,
}

/// A decoded server frame (the SDK's own structs where a frame carries
/// members or payloads: their JSON stays JS values).
pub(crate) enum Frame {
    Welcome(Welcome),
    Joined(Joined),
    Message(RoomMessage),
    Ack(Ack),
    Presence(Presence),
    Signal(Signal),
    /// A `history` reply: its `ref` and the page.
    History(Option<String>, HistoryPage),
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

/// Application JSON (`info`, `state`): absent and `null` read as `None`.
fn json(v: &JsValue, key: &str) -> Option<Payload> {
    let value = get(v, key);
    (!value.is_undefined() && !value.is_null()).then(|| Payload::from_js(value))
}

fn member(v: &JsValue) -> Option<Member> {
    Some(Member {
        id: string(v, "id")?,
        name: string(v, "name")?,
        info: json(v, "info"),
        state: json(v, "state"),
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
        ServerType::Welcome => Frame::Welcome(Welcome {
            session_id: string(v, "session_id")?,
            user: member(&get(v, "user"))?,
            heartbeat_ms: num(v, "heartbeat_ms").unwrap_or(0),
            guest_token: string(v, "guest_token"),
            expires: num(v, "expires"),
        }),
        ServerType::Joined => Frame::Joined(Joined {
            reference,
            room: string(v, "room")?,
            epoch: string(v, "epoch")?,
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
        ServerType::Signal => Frame::Signal(Signal {
            room: string(v, "room")?,
            from: member(&get(v, "from"))?,
            payload: Payload::from_js(get(v, "payload")),
        }),
        ServerType::History => Frame::History(
            reference,
            HistoryPage {
                messages: list(v, "messages", message),
                more: get(v, "more").as_bool().unwrap_or(false),
            },
        ),
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

/// `JSON.stringify` of a client frame `{type, ref, ...fields}` (no `ref`
/// when `None`; fields whose value is `undefined` are left out).
pub(crate) fn encode(
    kind: &str,
    reference: Option<&str>,
    fields: &[(&str, JsValue)],
) -> Option<String> {
    let reference = reference.map_or(JsValue::UNDEFINED, JsValue::from_str);
    let o = object(&[("type", kind.into()), ("ref", reference)]);
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
        encode, Ack, ErrorCode, ErrorMsg, HistoryPage, Joined, Json, Limits, Member, Members,
        Message, Pong, Presence, ServerMsg, ServerType, Signal, Welcome,
    };
    use serde_json::{json, Value};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{decode, Frame};
    use crate::Payload;

    fn member(id: &str, name: &str) -> Member {
        Member::new(id, name)
    }

    /// A member with application `info` and room `state` (verbatim JSON).
    fn rich(id: &str, name: &str) -> Member {
        Member {
            info: Some(
                Json::parse(r#"{"avatar":"https://example.invalid/a.png","n":[1,2]}"#).unwrap(),
            ),
            state: Some(Json::parse(r#"{"read":41}"#).unwrap()),
            ..member(id, name)
        }
    }

    fn members() -> Vec<Vec<Member>> {
        vec![
            vec![],
            vec![member("g-1", "Ann"), rich("u-bob", "Bob")],
            vec![Member {
                state: Some(Json::parse("7").unwrap()),
                ..member("u-c", "C")
            }],
        ]
    }

    fn message(room: &str, offset: u64, payload: Value, cid: Option<&str>) -> Message<Value> {
        Message {
            room: room.to_owned(),
            offset,
            from: if offset % 2 == 0 {
                rich("u-bob", "Bob")
            } else {
                member("g-1", "Ann")
            },
            ts: 1_763_777_000_000 + offset,
            payload,
            cid: cid.map(str::to_owned),
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

    fn messages(room: &str) -> Vec<Message<Value>> {
        payloads()
            .into_iter()
            .zip(1..)
            .map(|(p, i)| message(room, i, p, (i % 2 == 1).then_some("k3x9.7")))
            .collect()
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
                    for expires in some_or_none(1_763_780_000) {
                        for user in [member("g-1", "Ann"), rich("alice", "Alice")] {
                            out.push(ServerMsg::Welcome(Welcome {
                                version: 1,
                                session_id: "s-1".to_owned(),
                                user,
                                heartbeat_ms: 25_000,
                                limits: Limits {
                                    max_message_bytes: 65_536,
                                    max_rooms: 50,
                                    rate_per_sec: 20,
                                },
                                guest_token: guest_token.clone(),
                                expires,
                            }));
                        }
                    }
                }
            }
            ServerType::Joined => {
                for reference in some_or_none("7".to_owned()) {
                    for recovered in [true, false] {
                        for (members, history) in
                            members()
                                .into_iter()
                                .zip([vec![], messages("lobby"), vec![]])
                        {
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
                for m in messages("dm:g-1:u-bob") {
                    out.push(ServerMsg::Message(m));
                }
            }
            ServerType::Ack => {
                for reference in some_or_none("3".to_owned()) {
                    for room in some_or_none("lobby".to_owned()) {
                        for offset in some_or_none(42) {
                            for ts in some_or_none(1_763_777_000_123) {
                                for expires in some_or_none(1_763_780_000) {
                                    out.push(ServerMsg::Ack(Ack {
                                        reference: reference.clone(),
                                        room: room.clone(),
                                        offset,
                                        ts,
                                        expires,
                                    }));
                                }
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
                            vec![member(id, "X"), rich("u-2", "Y")]
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
                        members: vec![rich("g-1", "Ann")],
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
            ServerType::Signal => {
                for (payload, from) in payloads().into_iter().zip([
                    member("g-1", "Ann"),
                    rich("u-bob", "Bob"),
                    member("g-1", "Ann"),
                    rich("u-bob", "Bob"),
                    member("g-1", "Ann"),
                ]) {
                    out.push(ServerMsg::Signal(Signal {
                        room: "lobby".to_owned(),
                        from,
                        payload,
                    }));
                }
            }
            ServerType::History => {
                for reference in some_or_none("11".to_owned()) {
                    for more in [true, false] {
                        for messages in [vec![], messages("lobby")] {
                            out.push(ServerMsg::History(HistoryPage {
                                reference: reference.clone(),
                                room: "lobby".to_owned(),
                                messages,
                                more,
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

    fn json(j: Option<Json>) -> Option<Payload> {
        j.map(|j| Payload::from_js(js_sys::JSON::parse(j.text()).unwrap()))
    }

    /// The SDK's member for the wire's (info and state as JS values).
    fn sdk_member(m: Member) -> crate::Member {
        crate::Member {
            id: m.id,
            name: m.name,
            info: json(m.info),
            state: json(m.state),
        }
    }

    fn sdk_members(ms: Vec<Member>) -> Vec<crate::Member> {
        ms.into_iter().map(sdk_member).collect()
    }

    fn sdk_message(m: Message<Value>) -> crate::RoomMessage {
        crate::RoomMessage {
            room: m.room,
            offset: m.offset,
            from: sdk_member(m.from),
            ts: m.ts,
            payload: payload(m.payload),
            cid: m.cid,
        }
    }

    fn sdk_messages(ms: Vec<Message<Value>>) -> Vec<crate::RoomMessage> {
        ms.into_iter().map(sdk_message).collect()
    }

    /// Decodes the server's encoding of `msg` and compares it with `msg`.
    fn check(msg: ServerMsg<Value>) {
        let text = encode(&msg);
        let parsed = js_sys::JSON::parse(&text).unwrap();
        let decoded = decode(&parsed);
        match (msg, decoded) {
            (ServerMsg::Welcome(w), Some(Frame::Welcome(d))) => {
                // `version` and `limits` are not read by the SDK (size).
                let expected = super::Welcome {
                    session_id: w.session_id,
                    user: sdk_member(w.user),
                    heartbeat_ms: w.heartbeat_ms,
                    guest_token: w.guest_token,
                    expires: w.expires,
                };
                assert_eq!(d, expected, "{text}");
            }
            (ServerMsg::Joined(j), Some(Frame::Joined(d))) => {
                // `offset` is not read: the history's last offset counts.
                let expected = super::Joined {
                    reference: j.reference,
                    room: j.room,
                    epoch: j.epoch,
                    recovered: j.recovered,
                    members: sdk_members(j.members),
                    history: sdk_messages(j.history),
                };
                assert_eq!(d, expected, "{text}");
            }
            (ServerMsg::Message(m), Some(Frame::Message(d))) => {
                assert_eq!(d, sdk_message(m), "{text}");
            }
            (ServerMsg::Ack(a), Some(Frame::Ack(d))) => assert_eq!(d, a, "{text}"),
            (ServerMsg::Presence(p), Some(Frame::Presence(d))) => {
                let expected = super::Presence {
                    room: p.room,
                    joins: sdk_members(p.joins),
                    leaves: sdk_members(p.leaves),
                    updates: sdk_members(p.updates),
                };
                assert_eq!(d, expected, "{text}");
            }
            (ServerMsg::Signal(s), Some(Frame::Signal(d))) => {
                let expected = super::Signal {
                    room: s.room,
                    from: sdk_member(s.from),
                    payload: payload(s.payload),
                };
                assert_eq!(d, expected, "{text}");
            }
            (ServerMsg::History(h), Some(Frame::History(reference, d))) => {
                assert_eq!(reference, h.reference, "{text}");
                let expected = crate::HistoryPage {
                    messages: sdk_messages(h.messages),
                    more: h.more,
                };
                assert_eq!(d, expected, "{text}");
            }
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
    fn member_state_null_reads_as_none() {
        let v = js_sys::JSON::parse(
            r#"{"type":"presence","room":"r","updates":[{"id":"a","name":"A","state":null}]}"#,
        )
        .unwrap();
        match decode(&v) {
            Some(Frame::Presence(p)) => assert_eq!(p.updates, vec![crate::Member::new("a", "A")]),
            _ => panic!("not a presence frame"),
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
