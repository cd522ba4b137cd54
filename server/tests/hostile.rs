//! Hostile input and abuse (docs/SECURITY.md has the table): every test
//! checks the documented outcome for the attacker AND that two well-behaved
//! clients in the same room (a [`Bystanders`] pair) keep talking.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use confab_server::auth::{mint, unix_now, Claims};
use confab_server::Config;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Two well-behaved native clients in one room: `speaker` publishes and
/// `listener` must receive it. [`Bystanders::assert_receiving`] is the check
/// every hostile test ends with.
struct Bystanders {
    speaker: Ws,
    listener: Ws,
    room: String,
    seq: u32,
}

impl Bystanders {
    async fn join(server: &Server, room: &str) -> Self {
        let (mut speaker, _) = native(server, "?name=speaker").await;
        join(&mut speaker, room).await;
        let (mut listener, _) = native(server, "?name=listener").await;
        join(&mut listener, room).await;
        let mut b = Self {
            speaker,
            listener,
            room: room.to_owned(),
            seq: 0,
        };
        b.assert_receiving().await;
        b
    }

    /// The speaker publishes a fresh message; the listener receives it with
    /// the acknowledged offset. Returns the listener's frames before it.
    async fn assert_receiving(&mut self) -> Vec<Value> {
        self.seq += 1;
        let tag = format!("still-here-{}", self.seq);
        let ack = publish(&mut self.speaker, &self.room, &tag, json!({ "text": tag })).await;
        let mut before = Vec::new();
        loop {
            // A frame serde_json cannot parse (e.g. nesting deeper than its
            // limit) is kept as a string.
            let t = recv_text(&mut self.listener).await;
            let v = serde_json::from_str(&t).unwrap_or(Value::String(t));
            if v["type"] == "message" && v["payload"]["text"] == tag.as_str() {
                assert_eq!(v["offset"], ack["offset"], "{v}");
                assert_eq!(v["from"]["name"], "speaker", "{v}");
                return before;
            }
            assert_ne!(v["type"], "error", "bystander got an error: {v}");
            before.push(v);
        }
    }

    /// Reads both bystanders for `d` (answering the server's pings and
    /// sending app-level pings), returning the listener's frames.
    async fn idle(&mut self, d: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + d;
        let mut got = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return got,
                _ = tick.tick() => {
                    send(&mut self.speaker, json!({"type": "ping"})).await;
                    send(&mut self.listener, json!({"type": "ping"})).await;
                }
                m = self.speaker.next() => {
                    let m = m.expect("speaker stream ended").expect("speaker error");
                    assert!(!m.is_close(), "speaker closed: {m:?}");
                }
                m = self.listener.next() => {
                    match m.expect("listener stream ended").expect("listener error") {
                        Message::Text(t) => {
                            let v: Value = serde_json::from_str(t.as_str()).unwrap();
                            if v["type"] != "pong" {
                                got.push(v);
                            }
                        }
                        Message::Close(f) => panic!("listener closed: {f:?}"),
                        _ => {}
                    }
                }
            }
        }
    }
}

/// The next error envelope (skipping presence and other room traffic).
async fn recv_error(ws: &mut Ws) -> Value {
    recv_type(ws, "error").await
}

/// Reads until the close frame or the end of the stream; `None` when the
/// connection ended without a close frame (reset or EOF).
async fn recv_close_or_end(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("neither a close frame nor the end of the stream")
        {
            Some(Ok(Message::Close(Some(f)))) => return Some(u16::from(f.code)),
            Some(Ok(Message::Close(None))) => return Some(1005),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// A raw WebSocket connection over TCP (for frames tungstenite will not send).
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Performs the upgrade handshake on `path`; panics unless 101.
    async fn connect(addr: std::net::SocketAddr, path: &str) -> Self {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk))
                .await
                .expect("handshake timed out")
                .unwrap();
            assert!(n > 0, "EOF during handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        buf.drain(..head_end);
        Self { tcp, buf }
    }

    /// A masked client frame (mask key 0, so the payload is sent as is).
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend_from_slice(payload);
        f
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.unwrap();
    }

    async fn send_text(&mut self, text: &str) {
        self.send_raw(&Self::frame(0x1, text.as_bytes())).await;
    }

    /// Next server frame `(opcode, payload)`; `None` at EOF or reset.
    async fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let op = self.buf[0] & 0x0f;
                let (len, hdr) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= hdr + len {
                    let payload = self.buf[hdr..hdr + len].to_vec();
                    self.buf.drain(..hdr + len);
                    return Some((op, payload));
                }
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(WAIT, self.tcp.read(&mut chunk))
                .await
                .expect("raw read timed out")
            {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads frames until a close frame (its code) or EOF (`None`).
    async fn close_code(&mut self) -> Option<u16> {
        while let Some((op, payload)) = self.next_frame().await {
            if op == 0x8 {
                return Some(if payload.len() >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    1005
                });
            }
        }
        None
    }
}

async fn metric(server: &Server, name: &str) -> u64 {
    let (_, body) = http(server.addr, "GET", "/metrics", &[], "").await;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{body}"))
}

/// Polls `/metrics` until `name` equals `want` (panics after [`WAIT`]).
async fn wait_metric(server: &Server, name: &str, want: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = metric(server, name).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stays {got}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
    let _ = raw.tcp.write_all(&frames).await;
    assert_eq!(raw.close_code().await, Some(1009));
    by.assert_receiving().await;
    drop(raw);
    wait_metric(&server, "confab_connections", 2).await;
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

// ---------------------------------------------------------------------------
// Rooms and floods
// ---------------------------------------------------------------------------

#[tokio::test]
async fn hostile_room_names_are_refused() {
    let server = start(Config {
        api_key: Some("k".into()),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "names").await;
    let (mut a, _) = native(&server, "").await;
    let long = "r".repeat(60_000);
    for room in [
        "a/b",
        "../../etc/passwd",
        "..\\..\\windows",
        "names/../names",
        "%2e%2e",
        "lobby\u{0}",
        "lobby\n",
        "ロビー",
        "lobby\u{202e}",
        " names",
        "a b",
        "<script>",
        "dm:x:y:z",
        "dm::",
        "dm:a/b:c",
        &long,
    ] {
        for ty in ["join", "list", "publish"] {
            send(
                &mut a,
                json!({"type": ty, "ref": ty, "room": room, "payload": 1}),
            )
            .await;
            let e = recv_error(&mut a).await;
            assert_eq!(
                (e["code"].as_str(), e["ref"].as_str()),
                (Some("room_name_invalid"), Some(ty)),
                "{ty} {:?}: {e}",
                &room[..room.len().min(20)]
            );
        }
    }
    // A 1 MB name is a frame over the limit.
    let _ = a
        .send(Message::text(
            json!({"type": "join", "room": "r".repeat(1 << 20)}).to_string(),
        ))
        .await;
    assert_eq!(recv_close_or_end(&mut a).await.unwrap_or(1009), 1009);

    // Compat handshakes: 404 (or a 4xx for a path hyper refuses to read).
    for path in [
        "/ws/chat/a%2Fb/".to_owned(),
        "/ws/chat/..%2F..%2Fetc/".to_owned(),
        "/ws/chat/%E3%83%AD/".to_owned(),
        "/ws/chat/names%00/".to_owned(),
        "/ws/game/a%5Cb/".to_owned(),
        format!("/ws/chat/{}/", "r".repeat(1 << 20)),
    ] {
        let status = connect_status_or_reset(&server.ws_url(&path)).await;
        assert!(
            status.is_none_or(|s| (400..500).contains(&s)),
            "{}: {status:?}",
            &path[..path.len().min(40)]
        );
    }
    // HTTP API: 400.
    for room in ["a%2Fb", "..%2F..", "%E3%83%AD", "a%20b"] {
        let (status, body) = http(
            server.addr,
            "POST",
            &format!("/api/rooms/{room}/messages"),
            &[("Authorization", "Bearer k")],
            "1",
        )
        .await;
        assert_eq!(status, 400, "{room}: {body}");
        assert!(body.contains("room_name_invalid"), "{body}");
    }
    let before = by.assert_receiving().await;
    assert!(before.iter().all(|v| v["type"] != "message"), "{before:?}");
}

/// HTTP status of a WebSocket handshake; `None` when the server dropped the
/// connection without an HTTP answer.
async fn connect_status_or_reset(url: &str) -> Option<u16> {
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
    {
        Ok(_) => Some(101),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Some(resp.status().as_u16()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn joining_thousands_of_rooms_stops_at_max_rooms() {
    let server = start(Config {
        rate_per_sec: 1_000_000,
        rate_burst: 1_000_000,
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "many").await;
    let (mut a, _) = native(&server, "").await;
    join(&mut a, "many").await;
    // Pipelined in windows of 200 (more unread replies than the outbound
    // queue holds would be a slow consumer, 4001, by design).
    let n = 3000;
    let (mut joined, mut refused) = (0, 0);
    for window in (0..n).collect::<Vec<_>>().chunks(200) {
        for i in window {
            let frame = json!({"type": "join", "ref": i.to_string(), "room": format!("room{i}")});
            a.feed(Message::text(frame.to_string())).await.unwrap();
        }
        a.flush().await.unwrap();
        let mut replies = 0;
        while replies < window.len() {
            let v = recv(&mut a).await;
            match (v["type"].as_str(), v["code"].as_str()) {
                (Some("joined"), _) => joined += 1,
                (Some("error"), Some("too_many_rooms")) => refused += 1,
                (Some("presence" | "message"), _) => continue,
                _ => panic!("unexpected {v}"),
            }
            replies += 1;
        }
    }
    assert_eq!((joined, refused), (99, n - 99), "max_rooms is 100");
    assert!(metric(&server, "confab_rooms").await <= 100);
    by.assert_receiving().await;
    // Leaving frees the slots.
    drop(a);
    by.idle(Duration::from_millis(300)).await;
    assert_eq!(metric(&server, "confab_rooms").await, 1);
}

#[tokio::test]
async fn publish_flood_is_rate_limited_then_closed_1008_and_acked_messages_arrive() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "flood").await;
    let (mut a, _) = native(&server, "").await;
    join(&mut a, "flood").await;
    for i in 0..2000 {
        let frame =
            json!({"type": "publish", "ref": i.to_string(), "room": "flood", "payload": {"n": i}});
        if a.feed(Message::text(frame.to_string())).await.is_err() {
            break;
        }
    }
    let _ = a.flush().await;
    let (mut acked, mut limited) = (Vec::new(), 0);
    let code = loop {
        match tokio::time::timeout(WAIT, a.next())
            .await
            .expect("no close")
        {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                match (v["type"].as_str(), v["code"].as_str()) {
                    (Some("ack"), _) => acked.push(v["offset"].as_u64().unwrap()),
                    (Some("error"), Some("rate_limited")) => limited += 1,
                    _ => {}
                }
            }
            Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break None,
        }
    };
    // The close frame follows the queued replies; on a loaded machine the
    // server may give up the closing handshake (2 s) while we are still
    // reading, and the reset then discards the unread tail (close included).
    assert!(
        matches!(code, Some(1008) | None),
        "closed with {code:?}, not 1008"
    );
    assert!(acked.len() >= 100, "the burst is accepted: {}", acked.len());
    assert!(acked.len() < 400, "not rate limited: {}", acked.len());
    assert!(limited >= 100, "{limited} rate_limited errors");
    // Every acknowledged message reached the bystander, in order.
    let before = by.assert_receiving().await;
    let got: Vec<u64> = before
        .iter()
        .filter(|v| v["type"] == "message")
        .map(|v| v["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(got, acked);
}

#[tokio::test]
async fn half_open_client_is_dropped_by_heartbeat_and_leaves_presence() {
    let server = start(Config {
        heartbeat_ms: 300,
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "ghosts").await;
    // A client that joins and then vanishes without FIN: it neither reads
    // (no pongs) nor writes; its socket stays open.
    let mut ghost = Raw::connect(server.addr, "/ws?name=ghost").await;
    let (_, welcome) = ghost.next_frame().await.unwrap();
    let welcome: Value = serde_json::from_slice(&welcome).unwrap();
    let ghost_id = welcome["user"]["id"].as_str().unwrap().to_owned();
    ghost
        .send_text(r#"{"type":"join","ref":"g","room":"ghosts"}"#)
        .await;
    let seen = by.idle(Duration::from_millis(400)).await;
    assert!(
        seen.iter()
            .any(|v| v["type"] == "presence" && v["joins"][0]["id"] == ghost_id.as_str()),
        "{seen:?}"
    );
    assert_eq!(metric(&server, "confab_connections").await, 3);
    // 2 × heartbeat of silence, one more tick, the close handshake timeout.
    let seen = by.idle(Duration::from_millis(1500)).await;
    assert!(
        seen.iter()
            .any(|v| v["type"] == "presence" && v["leaves"][0]["id"] == ghost_id.as_str()),
        "ghost never left: {seen:?}"
    );
    by.assert_receiving().await;
    // The socket itself is released after the close handshake's timeout.
    let deadline = tokio::time::Instant::now() + WAIT;
    while metric(&server, "confab_connections").await != 2 {
        assert!(tokio::time::Instant::now() < deadline, "ghost socket kept");
        by.idle(Duration::from_millis(200)).await;
    }
    by.assert_receiving().await;
    drop(ghost);
}

#[tokio::test]
async fn slowloris_connections_are_dropped() {
    let server = start(Config {
        header_read_timeout_secs: 1,
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "slow").await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // --header-read-timeout-secs 1: both are dropped (or answered 408)
    // after about a second; 10 s is the bound of this test.
    let mut buf = [0u8; 64];
    for (what, s) in [("silent", &mut silent), ("partial headers", &mut partial)] {
        let r = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await;
        assert!(
            matches!(r, Ok(Ok(0) | Err(_)))
                || matches!(r, Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 408")),
            "{what}: still open after 10 s"
        );
    }
    by.idle(Duration::from_millis(100)).await;
    by.assert_receiving().await;
}

// ---------------------------------------------------------------------------
// Credentials and origins
// ---------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body.as_bytes());
    b64(&m.finalize().into_bytes())
}

#[tokio::test]
async fn forged_tampered_and_malformed_tokens_are_401() {
    let server = start(Config {
        token_secret: vec!["current-secret".into(), "previous-secret".into()],
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "tokens").await;
    let later = unix_now() + 600;
    let good = mint(
        "current-secret",
        &Claims {
            sub: "mallory".into(),
            name: None,
            exp: later,
        },
    );
    let (body, sig) = good.split_once('.').unwrap();
    let admin_body = b64(format!(r#"{{"sub":"admin","exp":{later}}}"#).as_bytes());
    let jwt_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let hs_header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let forged = |claims: &str| {
        let b = b64(claims.as_bytes());
        format!("{b}.{}", sign("current-secret", &b))
    };
    let bad: Vec<(&str, String)> = vec![
        (
            "signed with another secret",
            mint(
                "attacker-secret",
                &Claims {
                    sub: "mallory".into(),
                    name: None,
                    exp: later,
                },
            ),
        ),
        (
            "payload swapped, old signature",
            format!("{admin_body}.{sig}"),
        ),
        ("alg none, JWT style", format!("{jwt_header}.{admin_body}.")),
        ("alg none, two parts", format!("{admin_body}.")),
        (
            "JWT HS256 with the right secret",
            format!(
                "{hs_header}.{admin_body}.{}",
                sign("current-secret", &format!("{hs_header}.{admin_body}"))
            ),
        ),
        (
            "signature truncated",
            format!("{body}.{}", &sig[..sig.len() - 2]),
        ),
        ("signature padded", format!("{body}.{sig}==")),
        (
            "signature standard base64",
            format!("{body}.{}", sig.replace('-', "+").replace('_', "/") + "+"),
        ),
        ("extra part", format!("{good}.x")),
        ("empty", String::new()),
        ("dot", ".".into()),
        ("body only", format!("{body}.")),
        ("sig only", format!(".{sig}")),
        ("two dots", "..".into()),
        ("huge", format!("{}.{sig}", "A".repeat(60_000))),
        (
            "expired now",
            forged(&format!(r#"{{"sub":"x","exp":{}}}"#, unix_now())),
        ),
        ("exp as string", forged(r#"{"sub":"x","exp":"9999999999"}"#)),
        ("exp negative", forged(r#"{"sub":"x","exp":-1}"#)),
        ("exp float", forged(r#"{"sub":"x","exp":9.9e9}"#)),
        ("no exp", forged(r#"{"sub":"x"}"#)),
        (
            "sub too long",
            forged(&format!(r#"{{"sub":"{}","exp":{later}}}"#, "x".repeat(41))),
        ),
        (
            "sub with colon",
            forged(&format!(r#"{{"sub":"a:b","exp":{later}}}"#)),
        ),
        (
            "name with control",
            forged(&format!(r#"{{"sub":"x","name":"a\u0007","exp":{later}}}"#)),
        ),
        ("claims not JSON", {
            let b = b64(b"not json");
            format!("{b}.{}", sign("current-secret", &b))
        }),
    ];
    for (what, token) in &bad {
        let url = server.ws_url(&format!("/ws?token={token}"));
        assert_eq!(connect_status(url.as_str()).await, 401, "query: {what}");
        // (`Authorization: Bearer` with nothing after it is no credential:
        // such a client is a guest, like one without the header.)
        let mut req = server.ws_url("/ws").into_client_request().unwrap();
        if let (false, Ok(v)) = (token.is_empty(), format!("Bearer {token}").parse()) {
            req.headers_mut().insert("Authorization", v);
            assert_eq!(connect_status(req).await, 401, "header: {what}");
        }
    }
    // A bad header token is not rescued by a good query token.
    let mut req = server
        .ws_url(&format!("/ws?token={good}"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", "Bearer forged.token".parse().unwrap());
    assert_eq!(connect_status(req).await, 401);
    // A token of 1 MB: refused before any HMAC work (431/414/400 or reset).
    let huge = format!("/ws?token={}", "A".repeat(1 << 20));
    let status = connect_status_or_reset(&server.ws_url(&huge)).await;
    assert!(status.is_none_or(|s| (400..500).contains(&s)), "{status:?}");
    // The genuine token still works, and the room never noticed.
    let (_, w) = native(&server, &format!("?token={good}")).await;
    assert_eq!(w["user"]["id"], "mallory");
    by.assert_receiving().await;
}

#[tokio::test]
async fn token_expiring_while_connected_closes_4003_and_leaves_the_room() {
    let server = start(Config {
        heartbeat_ms: 300,
        token_secret: vec!["s".into()],
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "expiry").await;
    let t = mint(
        "s",
        &Claims {
            sub: "brief".into(),
            name: None,
            exp: unix_now() + 1,
        },
    );
    let (mut a, _) = native(&server, &format!("?token={t}")).await;
    join(&mut a, "expiry").await;
    // Reading answers the server's pings: only the expiry can close it.
    let (seen, code) = tokio::join!(
        by.idle(Duration::from_millis(2500)),
        recv_close_or_end(&mut a)
    );
    assert_eq!(code, Some(4003));
    assert!(
        seen.iter()
            .any(|v| v["type"] == "presence" && v["leaves"][0]["id"] == "brief"),
        "{seen:?}"
    );
    by.assert_receiving().await;
}

#[tokio::test]
async fn forged_guest_tokens_never_adopt_a_chosen_guest_id() {
    use confab_server::auth::{GuestKey, GUEST_TOKEN_TTL_SECS};
    let server = start(Config {
        token_secret: vec!["s".into()],
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "guests").await;
    let (_, w) = native(&server, "").await;
    let victim = w["user"]["id"].as_str().unwrap().to_owned();
    let real = w["guest_token"].as_str().unwrap().to_owned();
    // Positive control: the genuine token keeps the id.
    let (_, w) = native(&server, &format!("?guest={real}")).await;
    assert_eq!(w["user"]["id"], victim.as_str());
    let now = unix_now();
    let (body, sig) = real.split_once('.').unwrap();
    let other_body = b64(format!(
        r#"{{"sub":"g-0123456789abcdef","exp":{},"kind":"guest"}}"#,
        now + 600
    )
    .as_bytes());
    let forged: Vec<(&str, String)> = vec![
        ("another key", GuestKey::new("not-s").mint(&victim, now)),
        ("raw secret as key", {
            let b = b64(
                format!(r#"{{"sub":"{victim}","exp":{},"kind":"guest"}}"#, now + 600).as_bytes(),
            );
            format!("{b}.{}", sign("s", &b))
        }),
        (
            "user token for the id",
            mint(
                "s",
                &Claims {
                    sub: victim.clone(),
                    name: None,
                    exp: now + 600,
                },
            ),
        ),
        ("other id, old signature", format!("{other_body}.{sig}")),
        ("signature cut", format!("{body}.{}", &sig[..10])),
        (
            "expired",
            GuestKey::new("s").mint(&victim, now - GUEST_TOKEN_TTL_SECS - 10),
        ),
        ("garbage", "x.y".into()),
        ("empty", String::new()),
    ];
    for (what, t) in &forged {
        // Never an error (a browser cannot see the status): a new guest.
        let (_, w) = native(&server, &format!("?guest={t}")).await;
        let id = w["user"]["id"].as_str().unwrap();
        assert!(
            id != victim && id != "g-0123456789abcdef",
            "{what}: adopted {id}"
        );
    }
    // A guest token is not a user token.
    assert_eq!(
        connect_status(server.ws_url(&format!("/ws?token={real}")).as_str()).await,
        401
    );
    by.assert_receiving().await;
}

#[tokio::test]
async fn an_empty_rotation_secret_does_not_let_anyone_sign() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }
    // A trailing comma (`CONFAB_TOKEN_SECRET=current,` after removing the
    // old key) must not make the empty string a signing key.
    let cli = Cli::parse_from(["confab-server", "--token-secret", "current,"]);
    let server = start(Config {
        token_secret: cli.config.token_secret.clone(),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "rotation").await;
    let forged = mint(
        "",
        &Claims {
            sub: "admin".into(),
            name: None,
            exp: unix_now() + 600,
        },
    );
    assert_eq!(
        connect_status(server.ws_url(&format!("/ws?token={forged}")).as_str()).await,
        401,
        "secrets {:?} accept a token signed with the empty key",
        cli.config.token_secret
    );
    by.assert_receiving().await;
}

#[tokio::test]
async fn foreign_and_lookalike_origins_are_403() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "origin").await;
    let own = server.addr.to_string();
    let host = server.addr.ip().to_string();
    for origin in [
        "http://evil.example".to_owned(),
        format!("http://{own}.evil.example"),
        format!("http://evil.example/{own}"),
        format!("http://{own}@evil.example"),
        format!("http://evil.example#{own}"),
        format!("http://{host}:1"),
        format!("http://{host}"),
        "null".to_owned(),
        "file://".to_owned(),
        String::new(),
        "http://".to_owned(),
    ] {
        for path in ["/ws", "/ws/chat/origin/", "/ws/echo/", "/test_websocket/"] {
            let mut req = server.ws_url(path).into_client_request().unwrap();
            req.headers_mut().insert("Origin", origin.parse().unwrap());
            assert_eq!(connect_status(req).await, 403, "{origin:?} on {path}");
        }
    }
    // Same origin, any case: allowed.
    let mut req = server.ws_url("/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("Origin", format!("HTTP://{own}").parse().unwrap());
    assert_eq!(connect_status(req).await, 101);
    by.assert_receiving().await;
}

#[tokio::test]
async fn publish_api_without_or_with_a_wrong_key_is_401_and_stores_nothing() {
    let server = start(Config {
        api_key: Some("the-api-key".into()),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "api").await;
    let path = "/api/rooms/api/messages";
    for headers in [
        vec![],
        vec![("Authorization", "")],
        vec![("Authorization", "Bearer")],
        vec![("Authorization", "Bearer ")],
        vec![("Authorization", "Bearer the-api-ke")],
        vec![("Authorization", "Bearer the-api-key2")],
        vec![("Authorization", "Bearer THE-API-KEY")],
        vec![("Authorization", "Basic dGhlLWFwaS1rZXk6")],
        vec![("Authorization", "the-api-key")],
        vec![("X-Api-Key", "the-api-key")],
    ] {
        let (status, body) = http(server.addr, "POST", path, &headers, r#"{"pwned":1}"#).await;
        assert_eq!(status, 401, "{headers:?}: {body}");
    }
    let (status, _) = http(
        server.addr,
        "POST",
        &format!("{path}?key=the-api-key"),
        &[],
        "1",
    )
    .await;
    assert_eq!(status, 401);
    // Wrong methods are not a way in either.
    for method in ["GET", "PUT", "DELETE"] {
        let (status, _) = http(server.addr, method, path, &[], "1").await;
        assert!(
            status == 405 || status == 404 || status == 401,
            "{method}: {status}"
        );
    }
    let before = by.assert_receiving().await;
    assert!(before.iter().all(|v| v["type"] != "message"), "{before:?}");
    // The room's offsets show nothing was stored in between.
    let (status, body) = http(
        server.addr,
        "POST",
        path,
        &[("Authorization", "Bearer the-api-key")],
        "1",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["offset"], 3, "two bystander messages, then this one");
}

#[tokio::test]
async fn static_file_traversal_leaks_nothing() {
    let root = std::env::temp_dir().join(format!("confab-hostile-static-{}", std::process::id()));
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(dist.join("index.html"), "<h1>index</h1>").unwrap();
    std::fs::write(root.join("secret.txt"), "TOP-SECRET").unwrap();
    let server = start(Config {
        static_dir: dist.clone(),
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "static").await;
    let secret_abs = root.join("secret.txt").display().to_string();
    for path in [
        "/..\\secret.txt".to_owned(),
        "/assets\\..\\..\\secret.txt".to_owned(),
        "/%5c..%5csecret.txt".to_owned(),
        "/assets/..%5c..%5csecret.txt".to_owned(),
        "/%252e%252e/secret.txt".to_owned(),
        "/%2e%2e%2f%2e%2e%2fsecret.txt".to_owned(),
        "/.%2e/secret.txt".to_owned(),
        "/%c0%ae%c0%ae/secret.txt".to_owned(),
        "/..;/secret.txt".to_owned(),
        "/assets/%00/../../secret.txt".to_owned(),
        "//secret.txt".to_owned(),
        format!("/{}", secret_abs.trim_start_matches('/')),
        format!("/%2f{}", secret_abs.trim_start_matches('/')),
        format!("//{}", secret_abs.trim_start_matches('/')),
        "/../../../../../../etc/passwd".to_owned(),
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_owned(),
    ] {
        let (status, body) = http(server.addr, "GET", &path, &[], "").await;
        assert!(
            !body.contains("TOP-SECRET") && !body.contains("root:"),
            "{path} leaked ({status})"
        );
        assert!(
            status == 200 && body == "<h1>index</h1>" || (400..500).contains(&status),
            "{path}: {status} {body}"
        );
    }
    // Absolute-form request target.
    let (status, body) = http(
        server.addr,
        "GET",
        &format!("http://{}/../secret.txt", server.addr),
        &[],
        "",
    )
    .await;
    assert!(
        !body.contains("TOP-SECRET"),
        "absolute form leaked ({status})"
    );
    let _ = std::fs::remove_dir_all(&root);
    by.assert_receiving().await;
}

// ---------------------------------------------------------------------------
// Markup in content
// ---------------------------------------------------------------------------

#[tokio::test]
async fn html_and_script_in_messages_and_names_arrive_verbatim_as_json_strings() {
    let server = start(config()).await;
    let mut by = Bystanders::join(&server, "xss").await;
    let evil_name = "<img src=x onerror=alert(1)>";
    let (mut a, welcome) = native(&server, "?name=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E").await;
    assert_eq!(welcome["user"]["name"], evil_name);
    join(&mut a, "xss").await;
    let payload = json!({
        "message": "</script><script>alert(document.cookie)</script>",
        "html": "<b onmouseover=\"x()\">'\"&amp;</b>",
        "sep": "\u{2028}\u{2029}\u{0}",
    });
    let ack = publish(&mut a, "xss", "x1", payload.clone()).await;
    let renamed = "\"><svg/onload=alert(2)>";
    send(
        &mut a,
        json!({"type": "rename", "ref": "r", "name": renamed}),
    )
    .await;
    assert_eq!(recv_type(&mut a, "ack").await["ref"], "r");
    let before = by.assert_receiving().await;
    let msg = before
        .iter()
        .find(|v| v["type"] == "message")
        .expect("message");
    assert_eq!(msg["payload"], payload);
    assert_eq!(msg["offset"], ack["offset"]);
    assert_eq!(msg["from"]["name"], evil_name);
    assert!(before
        .iter()
        .any(|v| v["type"] == "presence" && v["joins"][0]["name"] == evil_name));
    assert!(before
        .iter()
        .any(|v| v["type"] == "presence" && v["updates"][0]["name"] == renamed));
    // A compat client of the room gets the payload as JSON text, escaped.
    let mut c = connect(&server.ws_url("/ws/chat/xss/")).await;
    publish(&mut a, "xss", "x2", payload.clone()).await;
    let text = recv_text(&mut c).await;
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), payload);
    // Pages and plain-text errors do not reflect input.
    let (_, page) = http(
        server.addr,
        "GET",
        "/test_websocket/?x=%3Cscript%3Ealert(3)%3C/script%3E",
        &[],
        "",
    )
    .await;
    assert!(!page.contains("alert(3)"), "{page}");
    let (status, body) = http(server.addr, "GET", "/ws/chat/%3Cscript%3E/", &[], "").await;
    assert!(!body.contains("<script>"), "{status} {body}");
    by.assert_receiving().await;
}
