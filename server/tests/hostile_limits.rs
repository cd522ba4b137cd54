//! Hostile input, resource exhaustion (docs/SECURITY.md): request bodies
//! that never arrive or trickle in, connection floods from one address (and
//! through a proxy), joins that make the server build huge replies for a
//! client that never reads. Each ends by checking that two bystanders keep
//! talking.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use common::bystanders::*;
use common::*;
use confab_server::Config;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Sends `head` (request line and headers) and `body_bytes` one byte each
/// `gap`, then reads the answer: `(status, seconds until it came)`; status
/// 0 when the server closed without answering.
async fn trickle(addr: std::net::SocketAddr, head: &str, body: &[u8], gap: Duration) -> (u16, f64) {
    let t0 = Instant::now();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let body = body.to_vec();
    let writer = tokio::spawn(async move {
        for b in body {
            tokio::time::sleep(gap).await;
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
        }
        // Then nothing more, ever (the socket stays open).
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut out)).await;
    writer.abort();
    assert!(read.is_ok(), "the server held the request for 20 s");
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, t0.elapsed().as_secs_f64())
}

fn api_request(auth: &str, length: u64) -> String {
    format!(
        "POST /api/rooms/slow/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
}

#[tokio::test]
async fn slow_or_absent_request_bodies_are_cut_off_and_the_key_comes_first() {
    let server = start(Config {
        api_key: Some("k".into()),
        body_read_timeout_secs: 2,
        ..config()
    })
    .await;
    let mut by = Bystanders::join(&server, "slow").await;
    // No key: refused before the body is read, at once.
    let (status, took) = trickle(server.addr, &api_request("", 1000), b"", Duration::ZERO).await;
    assert_eq!(status, 401);
    assert!(took < 1.0, "{took}");
    // A wrong key: the same.
    let wrong = api_request("Authorization: Bearer nope\r\n", 1000);
    assert_eq!(
        trickle(server.addr, &wrong, b"", Duration::ZERO).await.0,
        401
    );
    // A Content-Length over the limit: 413 from the header alone.
    let huge = api_request("Authorization: Bearer k\r\n", 1 << 40);
    let (status, took) = trickle(server.addr, &huge, b"", Duration::ZERO).await;
    assert_eq!(status, 413);
    assert!(took < 1.0, "{took}");
    // With the key: headers then nothing, or a body one byte every 500 ms
    // (each byte within any per-read timeout): 408 after the 2 s deadline.
    let good = api_request("Authorization: Bearer k\r\n", 20);
    let (status, took) = trickle(server.addr, &good, b"", Duration::ZERO).await;
    assert_eq!(status, 408);
    assert!((1.5..6.0).contains(&took), "{took}");
    let (status, took) = trickle(
        server.addr,
        &good,
        br#"{"text":"0123456789"}"#,
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(status, 408);
    assert!((1.5..6.0).contains(&took), "{took}");
    // Nothing of it was published.
    let frames = by.assert_receiving().await;
    assert!(frames.iter().all(|f| f["type"] != "message"), "{frames:?}");
}

async fn ws_with(server: &Server, forwarded_for: Option<&str>) -> Result<Ws, u16> {
    let mut req = server.ws_url("/ws").into_client_request().unwrap();
    if let Some(ip) = forwarded_for {
        req.headers_mut()
            .insert("X-Forwarded-For", ip.parse().unwrap());
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake timed out")
    {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn connections_per_address_and_in_all_are_capped() {
    let server = start(Config {
        max_connections_per_ip: 5,
        max_connections: 8,
        ..config()
    })
    .await;
    // Two bystanders from 127.0.0.1, then three more: five.
    let mut by = Bystanders::join(&server, "cap").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(ws_with(&server, None).await.expect("within the limit"));
    }
    assert_eq!(ws_with(&server, None).await.err(), Some(429));
    // Without --trusted-proxies, X-Forwarded-For is the client's word: ignored.
    assert_eq!(ws_with(&server, Some("10.9.9.9")).await.err(), Some(429));
    assert_eq!(
        metric(server.addr, "confab_refused_connections_total").await,
        2
    );
    // A closed one frees its place.
    drop(open.pop());
    let deadline = Instant::now() + WAIT;
    let again = loop {
        match ws_with(&server, None).await {
            Ok(ws) => break ws,
            Err(429) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(s) => panic!("still refused: {s}"),
        }
    };
    open.push(again);
    by.assert_receiving().await;
    drop(open);
}

#[tokio::test]
async fn the_server_wide_cap_is_503_and_forwarded_for_counts_behind_a_trusted_proxy() {
    let server = start(Config {
        max_connections_per_ip: 2,
        max_connections: 6,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..config()
    })
    .await;
    // The bystanders come through "the proxy" as two different clients.
    let mut open = vec![];
    for client in ["10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2"] {
        open.push(ws_with(&server, Some(client)).await.expect(client));
    }
    assert_eq!(ws_with(&server, Some("10.0.0.1")).await.err(), Some(429));
    // A client's own X-Forwarded-For entries before the proxy's are not believed:
    // the proxy appends the address it saw, which is what counts.
    assert_eq!(
        ws_with(&server, Some("10.0.0.3, 10.0.0.2")).await.err(),
        Some(429)
    );
    open.push(ws_with(&server, Some("10.0.0.3")).await.unwrap());
    open.push(ws_with(&server, Some("10.0.0.4")).await.unwrap());
    // Six open: the server-wide cap.
    assert_eq!(ws_with(&server, Some("10.0.0.5")).await.err(), Some(503));
    // The open ones are unharmed.
    let (mut a, mut b) = (open.remove(0), open.remove(1));
    let _ = recv_type(&mut a, "welcome").await;
    let _ = recv_type(&mut b, "welcome").await;
    join(&mut a, "cap").await;
    join(&mut b, "cap").await;
    publish(&mut a, "cap", "p", json!({"text": "still here"})).await;
    loop {
        let m = recv(&mut b).await;
        if m["type"] == "message" {
            assert_eq!(m["payload"]["text"], "still here");
            break;
        }
    }
}

/// Fills `room` with `n` messages of `size` bytes of text (raising the
/// rate limit is the caller's job).
async fn fill(server: &Server, room: &str, n: usize, size: usize) -> Ws {
    let (mut ws, _) = native(server, "?name=filler").await;
    join(&mut ws, room).await;
    let text = "x".repeat(size);
    for i in 0..n {
        publish(&mut ws, room, &format!("f{i}"), json!({ "text": text })).await;
    }
    ws
}

fn big_history() -> Config {
    Config {
        rate_per_sec: 10_000,
        rate_burst: 10_000,
        ..config()
    }
}

#[tokio::test]
async fn a_join_reply_is_bounded_in_bytes_and_an_oversized_resume_is_not_recovered() {
    let server = start(Config {
        join_history_bytes: 100 * 1024,
        ..big_history()
    })
    .await;
    let _filler = fill(&server, "big", 40, 16 * 1024).await;
    let (mut ws, _) = native(&server, "").await;
    // A fresh join: the newest messages that fit in 100 KiB.
    let fresh = join(&mut ws, "big").await;
    let history = fresh["history"].as_array().unwrap();
    assert!((1..=6).contains(&history.len()), "{}", history.len());
    assert_eq!(history.last().unwrap()["offset"], 40);
    // A resume from offset 0 would need 640 KiB: not recovered, same bound.
    let epoch = fresh["epoch"].as_str().unwrap();
    send(
        &mut ws,
        json!({"type": "join", "ref": "again", "room": "big", "since": {"epoch": epoch, "offset": 0}}),
    )
    .await;
    let resumed = recv_type(&mut ws, "joined").await;
    assert_eq!(resumed["recovered"], false, "{}", resumed["offset"]);
    assert_eq!(resumed["history"].as_array().unwrap().len(), history.len());
    // A resume from 36: four messages, 64 KiB: recovered.
    send(
        &mut ws,
        json!({"type": "join", "ref": "near", "room": "big", "since": {"epoch": epoch, "offset": 36}}),
    )
    .await;
    let near = recv_type(&mut ws, "joined").await;
    assert_eq!(near["recovered"], true);
    assert_eq!(near["history"].as_array().unwrap().len(), 4);
}

/// Join amplification: a client that asks, again and again, for a room's
/// whole history and never reads. Each reply is bounded in bytes, and the
/// connection's queue is bounded in bytes: it is cut off with 4001 after
/// about `--outbound-bytes` queued, not after `--outbound-queue` frames.
#[tokio::test]
async fn joins_piling_up_big_replies_for_a_client_that_never_reads_are_cut_off_4001() {
    let server = start(Config {
        outbound_bytes: 1024 * 1024,
        ..big_history()
    })
    .await;
    let mut by = Bystanders::join(&server, "amp").await;
    let _filler = fill(&server, "amp", 150, 16 * 1024).await;
    let (mut attacker, _) = native(&server, "?name=attacker").await;
    let first = join(&mut attacker, "amp").await;
    let since = json!({"epoch": first["epoch"], "offset": 0});
    // Forty joins of the whole 2.4 MB history, without reading a byte.
    for i in 0..40 {
        send(
            &mut attacker,
            json!({"type": "join", "ref": format!("j{i}"), "room": "amp", "since": since}),
        )
        .await;
    }
    // Let the server queue what it will, then read what it sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut replies = 0;
    let code = loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut attacker))
            .await
            .expect("neither a close nor the end")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                replies += usize::from(t.as_str().contains(r#""type":"joined""#));
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => {
                break f.map(|f| u16::from(f.code));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("{e}"),
            None => break None,
        }
    };
    assert_eq!(code, Some(4001), "after {replies} joined replies");
    assert!(replies < 40, "{replies}");
    assert!(metric(server.addr, "confab_slow_consumers_total").await >= 1);
    by.assert_receiving().await;
}
