//! Hostile input, bad frames (docs/SECURITY.md has the table): malformed,
//! oversize, binary, deeply nested and invalid UTF-8 frames get their
//! documented error or close code, and two bystanders in the same room keep
//! talking.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::bystanders::*;
use common::raw::Raw;
use common::*;
use confab_server::Config;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------------------
// Bad frames
// ---------------------------------------------------------------------------

#[tokio::test]
async fn malformed_wrong_typed_and_unknown_frames_get_error_envelopes() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "hostile").await;
    let (mut bad, _) = native(&server, "").await;
    join(&mut bad, "hostile").await;
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("", "bad_json", None),
        ("{nope", "bad_json", None),
        ("null", "bad_json", None),
        ("\"type\"", "bad_json", None),
        ("[{\"type\":\"ping\"}]", "bad_json", None),
        ("{\"type\":\"ping\"} trailing", "bad_json", None),
        ("{\"type\":\"ping\",\"type\":\"join\"}", "unknown_type", None),
        ("{}", "unknown_type", None),
        ("{\"type\":7,\"ref\":\"a\"}", "unknown_type", None),
        ("{\"type\":null}", "unknown_type", None),
        ("{\"type\":\"PING\",\"ref\":\"c\"}", "unknown_type", Some("c")),
        ("{\"type\":\"welcome\",\"ref\":\"d\"}", "unknown_type", Some("d")),
        ("{\"type\":\"__proto__\"}", "unknown_type", None),
        ("{\"type\":\"join\",\"ref\":\"e\",\"room\":5}", "bad_request", Some("e")),
        ("{\"type\":\"join\",\"ref\":\"f\",\"room\":\"hostile\",\"since\":\"0\"}", "bad_request", Some("f")),
        ("{\"type\":\"join\",\"ref\":\"g\",\"room\":\"x\",\"since\":{\"epoch\":\"e\",\"offset\":-1}}", "bad_request", Some("g")),
        ("{\"type\":\"publish\",\"ref\":\"h\",\"room\":\"hostile\"}", "bad_request", Some("h")),
        ("{\"type\":\"publish\",\"ref\":{\"x\":1},\"room\":\"hostile\",\"payload\":1}", "bad_request", None),
        ("{\"type\":\"rename\",\"ref\":\"i\",\"name\":[\"x\"]}", "bad_request", Some("i")),
        ("{\"type\":\"direct\",\"ref\":\"j\",\"to\":\"a\"}", "bad_request", Some("j")),
        ("{\"type\":\"publish\",\"ref\":\"k\",\"room\":\"hostile\",\"payload\":NaN}", "bad_json", None),
    ];
    for (frame, code, r) in cases {
        send_text(&mut bad, frame).await;
        let e = recv_error(&mut bad).await;
        assert_eq!(e["code"], *code, "{frame:?}: {e}");
        assert_eq!(e["ref"].as_str(), *r, "{frame:?}: {e}");
    }
    // The attacker is still connected and usable, nothing reached the room.
    send(&mut bad, json!({"type": "ping", "ref": "alive"})).await;
    assert_eq!(recv_type(&mut bad, "pong").await["ref"], "alive");
    let before = by.assert_receiving().await;
    assert!(before.iter().all(|v| v["type"] != "message"), "{before:?}");
}

#[tokio::test]
async fn json_arrays_are_not_envelopes() {
    // serde's derived structs also accept a JSON array (fields by position);
    // the protocol says any non-object is `bad_json`.
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "arrays").await;
    let (mut a, _) = native(&server, "").await;
    for frame in [
        r#"["ping","r1"]"#,
        r#"["join","r2","arrays"]"#,
        r#"["publish","r3","arrays",{"text":"via array"}]"#,
    ] {
        send_text(&mut a, frame).await;
        let reply = recv(&mut a).await;
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some("bad_json")),
            "{frame}: {reply}"
        );
    }
    let before = by.assert_receiving().await;
    assert!(before.iter().all(|v| v["type"] != "message"), "{before:?}");
}

#[tokio::test]
async fn oversize_frames_close_1009_without_reading_them() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "big").await;
    // Native: 2 MiB text frame.
    let (mut a, _) = native(&server, "").await;
    join(&mut a, "big").await;
    let _ = a.send(Message::text("x".repeat(2 << 20))).await;
    assert_eq!(recv_close_or_end(&mut a).await.unwrap_or(1009), 1009);
    // Compat in the same room.
    let mut c = connect(&server.ws_url("/ws/chat/big/")).await;
    let _ = c
        .send(Message::text(
            json!({ "message": "y".repeat(1 << 20) }).to_string(),
        ))
        .await;
    assert_eq!(recv_close_or_end(&mut c).await.unwrap_or(1009), 1009);
    // A frame header announcing 2^62 bytes: refused from the header alone.
    let mut raw = Raw::connect(server.addr, "/ws").await;
    let mut hdr = vec![0x81, 0x80 | 127];
    hdr.extend_from_slice(&(1u64 << 62).to_be_bytes());
    hdr.extend_from_slice(&[0, 0, 0, 0]);
    raw.send_raw(&hdr).await;
    assert_eq!(raw.close_code().await, Some(1009));
    drop(raw);
    // Many fragments adding up to more than the limit: same.
    let mut raw = Raw::connect(server.addr, "/ws").await;
    let chunk = vec![b'z'; 16 * 1024];
    let mut frames = vec![0x01, 0x80 | 126];
    frames.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
    frames.extend_from_slice(&[0, 0, 0, 0]);
    frames.extend_from_slice(&chunk);
    for _ in 0..8 {
        let mut cont = vec![0x00, 0x80 | 126];
        cont.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        cont.extend_from_slice(&[0, 0, 0, 0]);
        cont.extend_from_slice(&chunk);
        frames.extend_from_slice(&cont);
    }
    raw.try_send_raw(&frames).await;
    assert_eq!(raw.close_code().await, Some(1009));
    by.assert_receiving().await;
    drop(raw);
    wait_metric(server.addr, "confab_connections", 2).await;
}

#[tokio::test]
async fn binary_frames_close_1003_on_every_text_endpoint() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "bin").await;
    for path in [
        "/ws",
        "/ws/chat/bin/",
        "/ws/echo/",
        "/ws/game/bin/",
        "/ws/chat/",
    ] {
        let mut ws = connect(&server.ws_url(path)).await;
        ws.send(Message::binary(b"{\"type\":\"ping\"}".to_vec()))
            .await
            .unwrap();
        assert_eq!(recv_close(&mut ws).await, 1003, "{path}");
    }
    by.assert_receiving().await;
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_stack_overflow() {
    // With the default 64 KiB limit, 100k brackets are simply too big.
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "deep").await;
    let (mut a, _) = native(&server, "").await;
    let _ = a.send(Message::text("[".repeat(100_000))).await;
    assert_eq!(recv_close_or_end(&mut a).await.unwrap_or(1009), 1009);
    by.assert_receiving().await;

    // With a 4 MiB limit the parser sees them: serde_json's depth limit (128)
    // turns every shape into an error envelope, never a crash.
    let server = start(Config {
        max_message_bytes: 4 << 20,
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "deep").await;
    let (mut a, _) = native(&server, "").await;
    join(&mut a, "deep").await;
    let open = "[".repeat(100_000);
    let close = "]".repeat(100_000);
    let cases = [
        open.clone(),
        format!("{open}{close}"),
        format!("{{\"type\":\"publish\",\"ref\":\"p\",\"room\":\"deep\",\"payload\":{open}}}"),
        format!("{{\"type\":\"ping\",\"ref\":{open}{close}}}"),
        format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000)),
    ];
    for frame in &cases {
        send_text(&mut a, frame).await;
        let e = recv_error(&mut a).await;
        assert!(
            ["bad_json", "bad_request", "unknown_type"].contains(&e["code"].as_str().unwrap()),
            "{}…: {e}",
            &frame[..60]
        );
    }
    // Deep nesting in an ignored field is skipped without recursion.
    send_text(
        &mut a,
        &format!("{{\"type\":\"ping\",\"ref\":\"x\",\"x\":{open}{close}}}"),
    )
    .await;
    assert_eq!(recv_type(&mut a, "pong").await["ref"], "x");
    // Nesting within the limit (64, docs/PROTOCOL.md) is an ordinary
    // payload, delivered verbatim.
    let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
    send_text(
        &mut a,
        &format!("{{\"type\":\"publish\",\"ref\":\"ok\",\"room\":\"deep\",\"payload\":{ok}}}"),
    )
    .await;
    assert_eq!(recv_type(&mut a, "ack").await["ref"], "ok");
    let before = by.assert_receiving().await;
    let delivered: Vec<_> = before.iter().filter(|v| v["type"] == "message").collect();
    assert_eq!(delivered.len(), 1, "{before:?}");
    assert_eq!(
        delivered[0]["payload"].to_string(),
        ok,
        "payload not verbatim"
    );
}

#[tokio::test]
async fn invalid_utf8_text_frame_closes_only_that_connection() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "utf8").await;
    for path in ["/ws", "/ws/chat/utf8/"] {
        let mut raw = Raw::connect(server.addr, path).await;
        if path == "/ws" {
            let (op, welcome) = raw.next_frame().await.unwrap();
            assert_eq!(op, 0x1);
            assert!(String::from_utf8_lossy(&welcome).contains("welcome"));
            raw.send_text(r#"{"type":"join","room":"utf8"}"#).await;
        }
        // Overlong encoding, lone surrogate, truncated sequence.
        let mut payload = br#"{"type":"publish","room":"utf8","payload":""#.to_vec();
        payload.extend_from_slice(&[0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xe2, 0x82]);
        payload.extend_from_slice(b"\"}");
        raw.send_raw(&Raw::frame(0x1, &payload)).await;
        // RFC 6455 §8.1: invalid UTF-8 in a text frame fails the
        // connection with 1007 (tungstenite validates before the consumer).
        assert_eq!(raw.close_code().await, Some(1007), "{path}");
    }
    let before = by.assert_receiving().await;
    assert!(before.iter().all(|v| v["type"] != "message"), "{before:?}");
}

#[tokio::test]
async fn payload_nesting_deeper_than_receivers_can_parse_is_bad_request() {
    let server = start(Config {
        max_message_bytes: 4 << 20,
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "deep").await;
    let (mut a, _) = native(&server, "").await;
    join(&mut a, "deep").await;
    let payload = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    send_text(
        &mut a,
        &format!("{{\"type\":\"publish\",\"ref\":\"p\",\"room\":\"deep\",\"payload\":{payload}}}"),
    )
    .await;
    // Today the echo of the stored message arrives instead of an error.
    let reply = recv_text(&mut a).await;
    assert!(
        reply.starts_with(r#"{"type":"error""#) && reply.contains("bad_request"),
        "{}",
        &reply[..reply.len().min(200)]
    );
    let before = by.assert_receiving().await;
    assert!(
        before
            .iter()
            .all(|v| v["type"] != "message" && !v.is_string()),
        "{before:?}"
    );
}

#[tokio::test]
async fn websocket_protocol_violations_close_1002() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "proto").await;
    let text = |fin: bool, rsv: u8, op: u8| u8::from(fin) << 7 | rsv << 4 | op;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "RSV1 set",
            Raw::frame_with(text(true, 0b100, 1), true, b"{}"),
        ),
        (
            "RSV3 set",
            Raw::frame_with(text(true, 0b001, 1), true, b"{}"),
        ),
        (
            "unmasked client frame",
            Raw::frame_with(text(true, 0, 1), false, b"{}"),
        ),
        (
            "ping over 125 bytes",
            Raw::frame_with(text(true, 0, 9), true, &[b'x'; 126]),
        ),
        (
            "fragmented ping",
            Raw::frame_with(text(false, 0, 9), true, b"p"),
        ),
        (
            "reserved data opcode 3",
            Raw::frame_with(text(true, 0, 3), true, b"x"),
        ),
        (
            "reserved control opcode 0xB",
            Raw::frame_with(text(true, 0, 0xb), true, b""),
        ),
        (
            "stray continuation",
            Raw::frame_with(text(true, 0, 0), true, b"x"),
        ),
        ("new text frame inside a fragmented one", {
            let mut f = Raw::frame_with(text(false, 0, 1), true, b"{\"a\":");
            f.extend(Raw::frame_with(text(true, 0, 1), true, b"{}"));
            f
        }),
    ];
    for path in ["/ws", "/ws/chat/proto/"] {
        for (what, bytes) in &cases {
            let mut raw = Raw::connect(server.addr, path).await;
            raw.try_send_raw(bytes).await;
            assert_eq!(raw.close_code().await, Some(1002), "{what} on {path}");
        }
    }
    by.assert_receiving().await;
    wait_metric(server.addr, "confab_connections", 2).await;
}
