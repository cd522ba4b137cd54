//! Every envelope survives encode → decode unchanged, and malformed frames
//! are rejected with the right code.

use confab_protocol::*;
use serde_json::value::RawValue;

fn raw(s: &str) -> RawPayload {
    RawValue::from_string(s.to_owned()).expect("valid json")
}

fn alice() -> Member {
    Member::new("g-a1", "Alice")
}

/// A member with everything set: application info and room state.
fn bob() -> Member {
    Member {
        id: "bob".into(),
        name: "Bob".into(),
        info: Some(Json::parse(r#"{"avatar":"https://example.invalid/b.png"}"#).expect("json")),
        state: Some(Json::parse(r#"{"read":42}"#).expect("json")),
    }
}

fn msg(offset: u64) -> Message<RawPayload> {
    Message {
        room: "lobby".into(),
        offset,
        from: alice(),
        ts: 1_763_777_000_000,
        payload: raw(r#"{"text":"hi <b>"}"#),
        cid: (offset % 2 == 0).then(|| format!("c-{offset}")),
    }
}

/// RawValue has no PartialEq; compare through the encoded text.
fn same_text<T: serde::Serialize>(a: &T, b: &T) {
    assert_eq!(encode(a), encode(b));
}

#[test]
fn client_envelopes_round_trip() {
    let all: Vec<ClientMsg<RawPayload>> = vec![
        ClientMsg::Join(Join {
            reference: Some("1".into()),
            room: "lobby".into(),
            since: Some(Position {
                epoch: "e1".into(),
                offset: 41,
            }),
        }),
        ClientMsg::Join(Join {
            reference: None,
            room: "dm:a:b".into(),
            since: None,
        }),
        ClientMsg::Leave(Leave {
            reference: Some("2".into()),
            room: "lobby".into(),
        }),
        ClientMsg::Publish(Publish {
            reference: Some("3".into()),
            room: "lobby".into(),
            payload: raw(r#"{"text":"hi","n":[1,2]}"#),
            cid: Some("k3f9-1".into()),
        }),
        ClientMsg::Publish(Publish {
            reference: None,
            room: "lobby".into(),
            payload: raw("1"),
            cid: None,
        }),
        ClientMsg::Direct(Direct {
            reference: Some("4".into()),
            to: "g-b2".into(),
            payload: raw(r#""psst""#),
            cid: Some("k3f9-2".into()),
        }),
        ClientMsg::Rename(Rename {
            reference: Some("5".into()),
            name: "Alice".into(),
        }),
        ClientMsg::List(List {
            reference: Some("6".into()),
            room: "lobby".into(),
        }),
        ClientMsg::Ping(Ping {
            reference: Some("7".into()),
        }),
        ClientMsg::Refresh(Refresh {
            reference: Some("8".into()),
            token: "eyJhbGciOiJIUzI1NiJ9.e30.sig".into(),
        }),
        ClientMsg::Signal(SignalReq {
            reference: None,
            room: "lobby".into(),
            payload: raw(r#"{"typing":true}"#),
        }),
        ClientMsg::History(HistoryReq {
            reference: Some("9".into()),
            room: "lobby".into(),
            before: Some(120),
            limit: Some(50),
        }),
        ClientMsg::History(HistoryReq {
            reference: None,
            room: "dm:a:b".into(),
            before: None,
            limit: None,
        }),
        ClientMsg::State(SetState {
            reference: Some("10".into()),
            room: "lobby".into(),
            state: Json::parse(r#"{"read": 42}"#).expect("json"),
        }),
    ];
    let mut seen = std::collections::HashSet::new();
    for m in &all {
        let text = encode(m);
        assert!(
            text.contains(&format!("\"type\":\"{}\"", m.kind().as_str())),
            "{text}"
        );
        let back = decode_client(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back.kind(), m.kind());
        assert_eq!(back.reference(), m.reference());
        same_text(&back, m);
        seen.insert(m.kind());
    }
    assert_eq!(
        seen.len(),
        ClientType::ALL.len(),
        "every client type covered"
    );
}

#[test]
fn server_envelopes_round_trip() {
    let all: Vec<ServerMsg<RawPayload>> = vec![
        ServerMsg::Welcome(Welcome {
            version: PROTOCOL_VERSION,
            session_id: "s1".into(),
            user: alice(),
            heartbeat_ms: 25_000,
            limits: Limits {
                max_message_bytes: 65_536,
                max_rooms: 100,
                rate_per_sec: 50,
            },
            guest_token: None,
            expires: Some(1_763_780_000),
        }),
        ServerMsg::Welcome(Welcome {
            version: PROTOCOL_VERSION,
            session_id: "s2".into(),
            user: Member::new("g-0123456789abcdef", "Robert"),
            heartbeat_ms: 25_000,
            limits: Limits {
                max_message_bytes: 65_536,
                max_rooms: 100,
                rate_per_sec: 50,
            },
            guest_token: Some("eyJzdWIiOiJnLTAxMjMifQ.c2ln".into()),
            expires: None,
        }),
        ServerMsg::Joined(Joined {
            reference: Some("1".into()),
            room: "lobby".into(),
            epoch: "e1".into(),
            offset: 43,
            recovered: true,
            members: vec![alice(), bob()],
            history: vec![msg(42), msg(43)],
        }),
        ServerMsg::Message(msg(44)),
        ServerMsg::Ack(Ack {
            reference: Some("3".into()),
            room: Some("lobby".into()),
            offset: Some(44),
            ts: Some(5),
            expires: None,
        }),
        ServerMsg::Ack(Ack {
            reference: Some("8".into()),
            expires: Some(1_763_790_000),
            ..Ack::default()
        }),
        ServerMsg::Ack(Ack {
            reference: Some("5".into()),
            ..Ack::default()
        }),
        ServerMsg::Presence(Presence {
            room: "lobby".into(),
            joins: vec![alice()],
            leaves: vec![],
            updates: vec![bob()],
        }),
        ServerMsg::Members(Members {
            reference: None,
            room: "lobby".into(),
            members: vec![alice()],
        }),
        ServerMsg::Pong(Pong {
            reference: Some("7".into()),
            ts: 9,
        }),
        ServerMsg::Error(ErrorMsg {
            reference: Some("3".into()),
            code: ErrorCode::NotJoined,
            message: "join first".into(),
            room: Some("x".into()),
        }),
        ServerMsg::Signal(Signal {
            room: "lobby".into(),
            from: bob(),
            payload: raw(r#"{"typing":true}"#),
        }),
        ServerMsg::History(HistoryPage {
            reference: Some("9".into()),
            room: "lobby".into(),
            messages: vec![msg(1), msg(2)],
            more: false,
        }),
    ];
    let mut seen = std::collections::HashSet::new();
    for m in &all {
        let text = encode(m);
        let back = decode_server(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back.kind(), m.kind());
        same_text(&back, m);
        seen.insert(m.kind());
    }
    assert_eq!(
        seen.len(),
        ServerType::ALL.len(),
        "every server type covered"
    );
}

#[test]
fn payload_is_kept_verbatim() {
    let text = r#"{"type":"publish","room":"r","payload":{"b":1,  "a":"\u00e9"}}"#;
    let ClientMsg::Publish(p) = decode_client(text).unwrap() else {
        panic!("not publish")
    };
    assert_eq!(p.payload.get(), r#"{"b":1,  "a":"\u00e9"}"#);
}

#[test]
fn malformed_frames_are_rejected_with_codes() {
    let cases: &[(&str, ErrorCode)] = &[
        ("", ErrorCode::BadJson),
        ("not json", ErrorCode::BadJson),
        ("[1,2]", ErrorCode::BadJson),
        ("\"join\"", ErrorCode::BadJson),
        ("{\"type\":\"join\"", ErrorCode::BadJson),
        ("{}", ErrorCode::UnknownType),
        (r#"{"type":5}"#, ErrorCode::UnknownType),
        (r#"{"type":"subscribe","room":"x"}"#, ErrorCode::UnknownType),
        (r#"{"type":"join"}"#, ErrorCode::BadRequest),
        (r#"{"type":"join","room":7}"#, ErrorCode::BadRequest),
        (r#"{"type":"publish","room":"x"}"#, ErrorCode::BadRequest),
        (
            r#"{"type":"join","room":"x","since":{"offset":-1,"epoch":"e"}}"#,
            ErrorCode::BadRequest,
        ),
        (r#"{"type":"rename","name":null}"#, ErrorCode::BadRequest),
    ];
    for (text, code) in cases {
        let err = decode_client(text).expect_err(text);
        assert_eq!(err.code, *code, "{text}: {err}");
    }
}

#[test]
fn error_keeps_ref_when_readable() {
    let err = decode_client(r#"{"type":"publish","ref":"r9","room":"x"}"#).unwrap_err();
    assert_eq!(err.reference.as_deref(), Some("r9"));
    let err = decode_client(r#"{"type":"bogus","ref":"r8"}"#).unwrap_err();
    assert_eq!(err.reference.as_deref(), Some("r8"));
}

#[test]
fn error_codes_serialize_snake_case() {
    for (code, name) in [
        (ErrorCode::BadJson, "bad_json"),
        (ErrorCode::RoomNameInvalid, "room_name_invalid"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::TooManyRooms, "too_many_rooms"),
    ] {
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{name}\""));
        assert_eq!(code.as_str(), name);
    }
    for &code in ErrorCode::ALL {
        assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(
            json,
            format!("\"{}\"", code.as_str()),
            "serde and as_str agree"
        );
    }
}

#[test]
fn room_names() {
    for ok in [
        "lobby",
        "a",
        "room_1",
        "x-y.z",
        "dm:g-1:g-2",
        &"r".repeat(MAX_ROOM_NAME),
    ] {
        assert!(validate_room_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "a/b",
        "../x",
        "a b",
        "é",
        "dm:",
        "dm:a",
        "dm:a:b:c",
        "dm::b",
        "x:y",
        &"r".repeat(MAX_ROOM_NAME + 1),
    ] {
        assert!(validate_room_name(bad).is_err(), "{bad}");
    }
    assert_eq!(dm_room("b", "a"), dm_room("a", "b"));
    assert_eq!(dm_members("dm:a:b"), Some(("a", "b")));
    assert_eq!(dm_members("lobby"), None);
}

#[test]
fn display_names() {
    assert_eq!(normalize_display_name("  Bob "), Some("Bob"));
    assert_eq!(normalize_display_name("   "), None);
    assert_eq!(normalize_display_name("a\u{7}b"), None);
    assert_eq!(
        normalize_display_name(&"x".repeat(MAX_DISPLAY_NAME + 1)),
        None
    );
}

#[test]
fn close_codes_say_whether_to_reconnect() {
    assert!(close::should_reconnect(close::SERVICE_RESTART));
    assert!(close::should_reconnect(close::SLOW_CONSUMER));
    assert!(!close::should_reconnect(close::NORMAL));
    assert!(!close::should_reconnect(close::POLICY));
    assert_eq!(close::INVALID_PAYLOAD, 1007);
    assert!(!close::should_reconnect(close::INVALID_PAYLOAD));
}

#[test]
fn welcome_guest_token_is_optional() {
    // Older servers send no `guest_token`; token users never get one.
    let old = r#"{"type":"welcome","version":1,"session_id":"s","user":{"id":"u","name":"U"},"heartbeat_ms":1,"limits":{"max_message_bytes":1,"max_rooms":1,"rate_per_sec":1}}"#;
    let ServerMsg::Welcome(w) = decode_server(old).unwrap() else {
        panic!("not a welcome")
    };
    assert_eq!(w.guest_token, None);
    let text = serde_json::to_string(&ServerMsg::<RawPayload>::Welcome(w.clone())).unwrap();
    assert!(!text.contains("guest_token"), "{text}");
    let with = Welcome {
        guest_token: Some("t.s".into()),
        ..w
    };
    let text = serde_json::to_string(&ServerMsg::<RawPayload>::Welcome(with)).unwrap();
    assert!(text.contains(r#""guest_token":"t.s""#), "{text}");
}
