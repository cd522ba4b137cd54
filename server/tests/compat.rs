//! Seed-compatible endpoints (Django Channels tutorial chat, dice game,
//! dwebsocket) and their bridge to native rooms.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

async fn recv_value(ws: &mut Ws) -> Value {
    recv(ws).await
}

#[tokio::test]
async fn room_chat_broadcasts_to_everyone_including_sender() {
    let server = start(config()).await;
    for prefix in ["/ws/chat/", "/chat/"] {
        let room = format!("{}room_1/", prefix);
        let mut a = connect(&server.ws_url(&room)).await;
        let mut b = connect(&server.ws_url(&room)).await;
        send(&mut a, json!({"message": "hello"})).await;
        assert_eq!(recv_value(&mut a).await, json!({"message": "hello"}));
        assert_eq!(recv_value(&mut b).await, json!({"message": "hello"}));
        // Raw text (not a JSON object with a string message) goes verbatim.
        send_text(&mut b, "just text").await;
        assert_eq!(recv_text(&mut a).await, "just text");
        assert_eq!(recv_text(&mut b).await, "just text");
        send_text(&mut b, r#"{"message": 5}"#).await;
        assert_eq!(recv_text(&mut a).await, r#"{"message": 5}"#);
    }
}

#[tokio::test]
async fn ws_chat_and_chat_paths_share_the_room_and_rooms_are_separate() {
    let server = start(config()).await;
    let mut a = connect(&server.ws_url("/ws/chat/shared/")).await;
    let mut b = connect(&server.ws_url("/chat/shared/")).await;
    let mut other = connect(&server.ws_url("/ws/chat/other/")).await;
    let mut global = connect(&server.ws_url("/ws/chat/")).await;
    send(&mut a, json!({"message": "m1"})).await;
    assert_eq!(recv_value(&mut a).await, json!({"message": "m1"}));
    assert_eq!(recv_value(&mut b).await, json!({"message": "m1"}));
    expect_silence(&mut other, Duration::from_millis(200)).await;
    expect_silence(&mut global, Duration::from_millis(1)).await;
    // The global group.
    let mut global2 = connect(&server.ws_url("/ws/chat/")).await;
    send(&mut global, json!({"message": "everyone"})).await;
    assert_eq!(
        recv_value(&mut global).await,
        json!({"message": "everyone"})
    );
    assert_eq!(
        recv_value(&mut global2).await,
        json!({"message": "everyone"})
    );
    expect_silence(&mut a, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn invalid_compat_rooms_are_404_at_the_handshake() {
    let server = start(config()).await;
    for path in [
        "/ws/chat/bad-name/",
        "/ws/chat/a.b/",
        &format!("/ws/chat/{}/", "x".repeat(101)),
        "/chat/sp%20ace/",
        "/ws/game/no-dash/",
    ] {
        assert_eq!(connect_status(server.ws_url(path)).await, 404, "{path}");
    }
    assert_eq!(
        connect_status(server.ws_url(&format!("/ws/chat/{}/", "x".repeat(100)))).await,
        101
    );
}

#[tokio::test]
async fn compat_and_native_share_the_same_group() {
    let server = start(config()).await;
    let (mut native_ws, _) = native(&server, "?name=N").await;
    join(&mut native_ws, "lobby").await;
    let mut compat = connect(&server.ws_url("/ws/chat/lobby/?name=Seed")).await;
    let p = recv_type(&mut native_ws, "presence").await;
    assert_eq!(p["joins"][0]["name"], "Seed");
    let seed_id = p["joins"][0]["id"].clone();

    // compat → native: payload {"message": m}, from the compat guest.
    send(&mut compat, json!({"message": "from seed"})).await;
    assert_eq!(
        recv_value(&mut compat).await,
        json!({"message": "from seed"})
    );
    let m = recv_type(&mut native_ws, "message").await;
    assert_eq!(m["payload"], json!({"message": "from seed"}));
    assert_eq!(m["from"]["id"], seed_id);

    // raw compat frame → native JSON string payload.
    send_text(&mut compat, "raw words").await;
    assert_eq!(recv_text(&mut compat).await, "raw words");
    let m = recv_type(&mut native_ws, "message").await;
    assert_eq!(m["payload"], json!("raw words"));

    // native → compat: the payload JSON.
    publish(
        &mut native_ws,
        "lobby",
        "p",
        json!({"message": "from native"}),
    )
    .await;
    assert_eq!(
        recv_value(&mut compat).await,
        json!({"message": "from native"})
    );

    // The global group is native room chat-global.
    let mut global = connect(&server.ws_url("/ws/chat/")).await;
    join(&mut native_ws, "chat-global").await;
    publish(
        &mut native_ws,
        "chat-global",
        "g",
        json!({"message": "all"}),
    )
    .await;
    assert_eq!(recv_value(&mut global).await, json!({"message": "all"}));
}

#[tokio::test]
async fn echo_replies_to_the_sender_only() {
    let server = start(config()).await;
    let mut a = connect(&server.ws_url("/ws/echo/")).await;
    let mut b = connect(&server.ws_url("/ws/echo/")).await;
    send(&mut a, json!({"message": "ping", "extra": 1})).await;
    assert_eq!(recv_value(&mut a).await, json!({"message": "ping"}));
    expect_silence(&mut b, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn game_rolls_dice_for_the_room() {
    let server = start(config()).await;
    let mut a = connect(&server.ws_url("/ws/game/g1/")).await;
    let start_msg = recv_value(&mut a).await;
    assert_eq!(start_msg["message"], "game started");
    assert_eq!(start_msg["gameStatus"], 1);
    let mut b = connect(&server.ws_url("/ws/game/g1/")).await;
    // Both see b's game start.
    for ws in [&mut a, &mut b] {
        let v = recv_value(ws).await;
        assert_eq!(v["message"], "game started");
    }
    let mut seen = std::collections::HashSet::new();
    for i in 0..60 {
        send(&mut a, json!({"message": format!("roll {i}")})).await;
        for ws in [&mut a, &mut b] {
            let v = recv_value(ws).await;
            assert_eq!(v["message"], format!("roll {i}"));
            let p = v["position"].as_u64().unwrap();
            assert!((1..=6).contains(&p), "{v}");
            seen.insert(p);
        }
    }
    // 60 rolls of a fair die show (almost surely) every face.
    assert_eq!(seen.len(), 6, "{seen:?}");
    // Games are their own rooms.
    let mut chat = connect(&server.ws_url("/ws/chat/g1/")).await;
    send(&mut a, json!({"message": "x"})).await;
    expect_silence(&mut chat, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn dwebsocket_accept_pushes_every_second_and_http_gets_a_page() {
    let server = start(config()).await;
    let (status, body) = http(server.addr, "GET", "/test_websocket/", &[], "").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<html") || body.contains("<!doctype html>"),
        "{body}"
    );

    let mut ws = connect(&server.ws_url("/test_websocket/")).await;
    let first = recv_value(&mut ws).await;
    assert_eq!(first["server_msg"], "send 1 times!");
    assert!(first.get("client_msg").is_none());
    let time = first["time"].as_str().unwrap();
    assert_eq!(time.len(), 19, "{time}");
    assert_eq!(
        (&time[4..5], &time[7..8], &time[10..11], &time[13..14]),
        (".", ".", " ", ":")
    );
    send_text(&mut ws, "hello server").await;
    let second = recv_value(&mut ws).await;
    assert_eq!(second["server_msg"], "send 2 times!");
    assert_eq!(second["client_msg"], "hello server");
    let third = recv_value(&mut ws).await;
    assert_eq!(third["server_msg"], "send 3 times!");
    assert!(third.get("client_msg").is_none());
}

#[tokio::test]
async fn dwebsocket_require_websocket_rejects_plain_http() {
    let server = start(config()).await;
    let (status, _) = http(server.addr, "GET", "/echo_once/", &[], "").await;
    assert_eq!(status, 400);
    let mut ws = connect(&server.ws_url("/echo_once/")).await;
    send_text(&mut ws, "once").await;
    assert_eq!(recv_text(&mut ws).await, "once");
    assert_eq!(recv_close(&mut ws).await, 1000);
}
