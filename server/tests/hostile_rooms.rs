//! Hostile input, rooms and floods (docs/SECURITY.md): hostile room names,
//! thousands of joins, publish floods, half-open and slowloris connections;
//! each ends by checking that two bystanders keep talking.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::bystanders::*;
use common::raw::Raw;
use common::*;
use confab_server::Config;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

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
    assert!(metric(server.addr, "confab_rooms").await <= 100);
    by.assert_receiving().await;
    // Leaving frees the slots.
    drop(a);
    by.idle(Duration::from_millis(300)).await;
    assert_eq!(metric(server.addr, "confab_rooms").await, 1);
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
    // The bucket holds 100 frames and the join took one: at least 99 are
    // acked even when the flood arrives before any refill (50/s).
    assert!(acked.len() >= 99, "the burst is accepted: {}", acked.len());
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
    assert_eq!(metric(server.addr, "confab_connections").await, 3);
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
    while metric(server.addr, "confab_connections").await != 2 {
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
