//! Limits and close codes: 1009, 1003, rate limit + 1008, slow consumer
//! 4001 without slowing others, heartbeat 4000, debug stall, shutdown 1012.

mod common;

use std::time::{Duration, Instant};

use common::*;
use confab_server::Config;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn oversize_frame_closes_with_1009() {
    let server = start(Config {
        max_message_bytes: 1024,
        ..config()
    })
    .await;
    let (mut ws, welcome) = native(&server, "").await;
    assert_eq!(welcome["limits"]["max_message_bytes"], 1024);
    // Just under the limit is fine.
    let ok = json!({"type": "ping", "ref": "x".repeat(900)}).to_string();
    assert!(ok.len() <= 1024);
    send_text(&mut ws, &ok).await;
    assert_eq!(recv(&mut ws).await["type"], "pong");
    send_text(&mut ws, &"x".repeat(2000)).await;
    assert_eq!(recv_close(&mut ws).await, 1009);

    // Compat endpoints too.
    let mut c = connect(&server.ws_url("/ws/chat/big/")).await;
    send_text(&mut c, &json!({"message": "y".repeat(5000)}).to_string()).await;
    assert_eq!(recv_close(&mut c).await, 1009);
}

#[tokio::test]
async fn binary_frame_closes_with_1003() {
    let server = start(config()).await;
    let (mut ws, _) = native(&server, "").await;
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(recv_close(&mut ws).await, 1003);
}

#[tokio::test]
async fn rate_limit_errors_then_closes_1008_on_abuse() {
    let server = start(Config {
        rate_per_sec: 1,
        rate_burst: 5,
        rate_abuse_limit: 10,
        ..config()
    })
    .await;
    let (mut ws, _) = native(&server, "").await;
    for i in 0..5 {
        send(&mut ws, json!({"type": "ping", "ref": format!("ok{i}")})).await;
        assert_eq!(recv(&mut ws).await["type"], "pong");
    }
    send(&mut ws, json!({"type": "ping", "ref": "limited"})).await;
    let e = recv(&mut ws).await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("rate_limited"), Some("limited"))
    );
    // Keep flooding: after 10 rejected frames in a row, 1008.
    for i in 0..12 {
        if ws
            .send(Message::text(json!({"type": "ping", "ref": i}).to_string()))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(recv_close(&mut ws).await, 1008);
}

#[tokio::test]
async fn slow_consumer_is_closed_4001_without_slowing_the_room() {
    let server = start(Config {
        outbound_queue: 16,
        api_key: Some("k".into()),
        ..config()
    })
    .await;
    let (mut fast, _) = native(&server, "").await;
    join(&mut fast, "flood").await;
    // The slow client joins and then never reads.
    let (mut slow, _) = native(&server, "").await;
    join(&mut slow, "flood").await;
    let _ = recv(&mut fast).await; // presence join of `slow`

    // 300 × 32 KiB = ~9.6 MB: far more than socket buffers + 16 frames.
    let body = json!({"blob": "z".repeat(32 * 1024 - 20)}).to_string();
    let started = Instant::now();
    let mut fast_got = 0u64;
    for i in 1..=300u64 {
        let (status, resp) = http(
            server.addr,
            "POST",
            "/api/rooms/flood/messages",
            &[
                ("Authorization", "Bearer k"),
                ("Content-Type", "application/json"),
            ],
            &body,
        )
        .await;
        assert_eq!(status, 201, "{resp}");
        // The fast client keeps up and receives each one promptly.
        loop {
            let v = recv(&mut fast).await;
            if v["type"] == "message" {
                assert_eq!(v["offset"], i);
                fast_got = i;
                break;
            }
        }
    }
    assert_eq!(fast_got, 300);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "room was slowed: {:?}",
        started.elapsed()
    );
    let (_, metrics) = http(server.addr, "GET", "/metrics", &[], "").await;
    assert!(
        metrics.contains("confab_slow_consumers_total 1"),
        "{metrics}"
    );
    // The slow client, once it reads, finds its backlog then close 4001.
    let mut frames = 0;
    let code = loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut slow)).await {
            Ok(Some(Ok(Message::Close(Some(f))))) => break Some(u16::from(f.code)),
            Ok(Some(Ok(_))) => frames += 1,
            Ok(Some(Err(_)) | None) => break None,
            Err(_) => panic!("slow client neither closed nor received"),
        }
    };
    eprintln!("slow client: {frames} frames before close {code:?}");
    assert!(
        frames < 300,
        "slow client got everything ({frames}): not disconnected"
    );
    // The close frame is best effort behind a full socket; when it arrives it is 4001.
    if let Some(code) = code {
        assert_eq!(code, 4001);
    }
}

#[tokio::test]
async fn silent_connection_closes_4000_and_server_pings() {
    let server = start(Config {
        heartbeat_ms: 200,
        ..config()
    })
    .await;
    let mut ws = connect(&server.ws_url("/ws")).await;
    // The server pings; tungstenite answers automatically only while we
    // read, so reading keeps us alive: check we got a ping within 2 beats.
    let start = Instant::now();
    let mut saw_ping = false;
    while start.elapsed() < Duration::from_millis(450) {
        if let Ok(Some(Ok(Message::Ping(_)))) = tokio::time::timeout(
            Duration::from_millis(50),
            futures_util::StreamExt::next(&mut ws),
        )
        .await
        {
            saw_ping = true;
        }
    }
    assert!(saw_ping, "no server ping");
    // Now stay silent: stop reading (so no pongs go out) for > 2 beats.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(recv_close(&mut ws).await, 4000);
}

#[tokio::test]
async fn debug_stall_makes_the_server_stop_answering() {
    let server = start(Config {
        debug_endpoints: true,
        ..config()
    })
    .await;
    let (mut ws, welcome) = native(&server, "").await;
    let sid = welcome["session_id"].as_str().unwrap();
    let (status, _) = http(server.addr, "POST", &format!("/debug/stall/{sid}"), &[], "").await;
    assert_eq!(status, 200);
    send(&mut ws, json!({"type": "ping", "ref": "1"})).await;
    expect_silence(&mut ws, Duration::from_millis(500)).await;
    let (status, _) = http(server.addr, "POST", "/debug/stall/nope", &[], "").await;
    assert_eq!(status, 404);
    // Off by default.
    let plain = start(config()).await;
    let (status, _) = http(plain.addr, "POST", "/debug/stall", &[], "").await;
    assert_ne!(status, 200);
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_1012() {
    let server = start(config()).await;
    let (mut a, _) = native(&server, "").await;
    let mut b = connect(&server.ws_url("/ws/chat/lobby/")).await;
    let left = tokio::time::timeout(
        WAIT,
        confab_server::shutdown::close_all(&server.state, Duration::from_secs(3)),
    );
    let (left, ca, cb) = tokio::join!(left, recv_close(&mut a), recv_close(&mut b));
    assert_eq!((ca, cb), (1012, 1012));
    assert_eq!(left.unwrap(), 0);
}

#[tokio::test]
async fn shutdown_sends_no_presence_diffs_ahead_of_the_close_frames() {
    let server = start(config()).await;
    let mut members = Vec::new();
    for _ in 0..20 {
        let (mut ws, _) = native(&server, "").await;
        join(&mut ws, "bye").await;
        members.push(ws);
    }
    // Read everything queued so far (the presence diffs of later joiners):
    // a pong answers after them.
    for ws in &mut members {
        send(ws, json!({"type": "ping"})).await;
        while recv(ws).await["type"] != "pong" {}
    }
    let closing = confab_server::shutdown::close_all(&server.state, Duration::from_secs(3));
    let reads = members.iter_mut().map(|ws| async move {
        let mut presence = 0;
        loop {
            match tokio::time::timeout(WAIT, futures_util::StreamExt::next(ws))
                .await
                .expect("timed out waiting for close")
            {
                Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), presence),
                Some(Ok(Message::Text(t))) if t.contains("\"presence\"") => presence += 1,
                Some(Ok(_)) => {}
                other => panic!("no close frame: {other:?}"),
            }
        }
    });
    let (left, closes) = tokio::join!(closing, futures_util::future::join_all(reads));
    assert_eq!(left, 0);
    for (code, presence) in closes {
        assert_eq!(
            (code, presence),
            (1012, 0),
            "a member's frames before its close"
        );
    }
}

#[tokio::test]
async fn invalid_utf8_text_frame_closes_with_1007() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start(config()).await;
    // Hand-made handshake and frame: clients cannot send invalid UTF-8 text
    // through tungstenite's API.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let payload = [0xffu8, 0xfe, 0x41];
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();
    // Read everything the server sends until it closes; find the close frame.
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, async {
        let mut chunk = [0u8; 4096];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            // Close frame: 0x88, len, code (big endian).
            if buf.windows(2).any(|w| w[0] == 0x88 && w[1] >= 2) {
                break;
            }
        }
    })
    .await;
    let at = buf
        .windows(2)
        .position(|w| w[0] == 0x88 && w[1] >= 2)
        .expect("no close frame");
    let code = u16::from_be_bytes([buf[at + 2], buf[at + 3]]);
    assert_eq!(code, 1007);
}
