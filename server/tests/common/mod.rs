//! Test helpers: an in-process server on port 0, a WebSocket client with
//! bounded waits, and a tiny HTTP/1.1 client. [`process`] starts real
//! processes (nodes, Redis, nginx), [`raw`] speaks WebSocket frames by
//! hand, [`bystanders`] checks that an attack leaves others unharmed,
//! [`rooms`] is a client in many rooms for the Redis topology tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod bystanders;
pub mod process;
pub mod raw;
pub mod rooms;
pub mod tokens;

use std::net::SocketAddr;
use std::time::Duration;

use confab_server::{app, AppState, Config};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest wait for any expected frame.
pub const WAIT: Duration = Duration::from_secs(5);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server running in this test's runtime.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
}

impl Server {
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }
}

/// Test defaults: fast heartbeats are opt-in; everything else as shipped.
pub fn config() -> Config {
    Config {
        static_dir: "/nonexistent-confab-dist".into(),
        ..Config::default()
    }
}

pub async fn start(config: Config) -> Server {
    serve(AppState::new(config)).await
}

/// Serves `state` on a free loopback port.
pub async fn serve(state: AppState) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(state.clone());
    let header_timeout = state.config.header_read_timeout();
    tokio::spawn(confab_server::serve::serve(
        listener,
        router,
        header_timeout,
        std::future::pending(),
    ));
    Server { addr, state }
}

pub async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
        .expect("connect failed");
    ws
}

/// Handshake that is expected to fail: returns the HTTP status.
pub async fn connect_status(req: impl IntoClientRequest + Unpin) -> u16 {
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("connect timed out")
    {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}

/// Next text frame as JSON (pings/pongs skipped); panics on timeout or close.
pub async fn recv(ws: &mut Ws) -> Value {
    let text = recv_text(ws).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {text:?}: {e}"))
}

pub async fn recv_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("stream ended")
            .expect("websocket error");
        match msg {
            Message::Text(t) => return t.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Next frame whose `type` is `ty`, skipping others (e.g. presence).
pub async fn recv_type(ws: &mut Ws, ty: &str) -> Value {
    loop {
        let v = recv(ws).await;
        if v["type"] == ty {
            return v;
        }
    }
}

/// Asserts nothing but pings arrives within `d`.
pub async fn expect_silence(ws: &mut Ws, d: Duration) {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => panic!("expected silence, got {other:?}"),
        }
    }
}

/// Reads until the close frame; returns its code (panics on timeout).
pub async fn recv_close(ws: &mut Ws) -> u16 {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for close")
        {
            Some(Ok(Message::Close(Some(f)))) => return u16::from(f.code),
            Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("error before close frame: {e}"),
            None => panic!("stream ended without close frame"),
        }
    }
}

pub async fn send(ws: &mut Ws, v: Value) {
    send_text(ws, &v.to_string()).await;
}

pub async fn send_text(ws: &mut Ws, t: &str) {
    tokio::time::timeout(WAIT, ws.send(Message::text(t)))
        .await
        .expect("send timed out")
        .expect("send failed");
}

/// A native client after its `welcome`.
pub async fn native(server: &Server, query: &str) -> (Ws, Value) {
    let mut ws = connect(&server.ws_url(&format!("/ws{query}"))).await;
    let welcome = recv(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (ws, welcome)
}

/// Joins `room` and returns the `joined` reply.
pub async fn join(ws: &mut Ws, room: &str) -> Value {
    send(
        ws,
        json!({"type": "join", "ref": format!("j-{room}"), "room": room}),
    )
    .await;
    let v = recv_type(ws, "joined").await;
    assert_eq!(v["room"], room, "{v}");
    v
}

/// Publishes and returns the ack (skipping the echo and presence).
pub async fn publish(ws: &mut Ws, room: &str, r: &str, payload: Value) -> Value {
    send(
        ws,
        json!({"type": "publish", "ref": r, "room": room, "payload": payload}),
    )
    .await;
    loop {
        let v = recv(ws).await;
        if v["type"] == "ack" && v["ref"] == r {
            return v;
        }
        assert_ne!(v["type"], "error", "publish failed: {v}");
    }
}

/// Asks `addr`'s server API (key `k`) for every room and checks that it
/// lists `rooms` of them, each with `members` members (whichever Redis
/// shard or cluster primary each room lives on).
pub async fn assert_rooms_listed(addr: SocketAddr, rooms: usize, members: u64) {
    let (status, body) = http(
        addr,
        "GET",
        "/api/rooms",
        &[("Authorization", "Bearer k")],
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let listed = listed["rooms"].as_array().unwrap();
    assert_eq!(listed.len(), rooms, "{body}");
    assert!(listed.iter().all(|r| r["members"] == members), "{body}");
}

/// A minimal HTTP/1.1 request; returns (status, body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("http timed out")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    };
    (status, body)
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// Ids of a member list.
pub fn ids(members: &Value) -> Vec<String> {
    let mut v: Vec<String> = members
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {members}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// A native client of the server at `url` after `welcome`; returns the
/// socket and its user.
pub async fn native_at(url: &str) -> (Ws, Value) {
    let mut ws = connect(url).await;
    let welcome = recv(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let user = welcome["user"].clone();
    (ws, user)
}

/// Joins `room` (optionally resuming) and returns the `joined` reply.
pub async fn join_since(ws: &mut Ws, room: &str, since: Option<(&str, u64)>) -> Value {
    let mut msg = json!({"type": "join", "ref": format!("j-{room}"), "room": room});
    if let Some((epoch, offset)) = since {
        msg["since"] = json!({"epoch": epoch, "offset": offset});
    }
    send(ws, msg).await;
    loop {
        let v = recv(ws).await;
        if v["type"] == "joined" && v["room"] == room {
            return v;
        }
        assert_ne!(v["type"], "error", "join failed: {v}");
    }
}

/// Sends a publish and returns the reply (`ack` or `error`) for its ref,
/// collecting `message`s of `room` seen meanwhile into `seen`.
pub async fn publish_collect(
    ws: &mut Ws,
    room: &str,
    r: &str,
    payload: Value,
    seen: &mut Vec<Value>,
) -> Value {
    send(
        ws,
        json!({"type": "publish", "ref": r, "room": room, "payload": payload}),
    )
    .await;
    loop {
        let v = recv(ws).await;
        if (v["type"] == "ack" || v["type"] == "error") && v["ref"] == r {
            return v;
        }
        if v["type"] == "message" && v["room"] == room {
            seen.push(v);
        }
    }
}

/// Next `message` of `room` (skipping presence and others).
pub async fn next_message(ws: &mut Ws, room: &str) -> Value {
    loop {
        let v = recv(ws).await;
        if v["type"] == "message" && v["room"] == room {
            return v;
        }
    }
}

/// Reads presence diffs of `room` until `pred` holds for one; panics after
/// `within`.
pub async fn wait_presence(
    ws: &mut Ws,
    room: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let v = tokio::time::timeout_at(deadline, recv(ws))
            .await
            .unwrap_or_else(|_| panic!("no matching presence diff in {within:?}"));
        if v["type"] == "presence" && v["room"] == room && pred(&v) {
            return v;
        }
    }
}

/// Whether a presence diff's `field` list names `user_id`.
pub fn lists(diff: &Value, field: &str, user_id: &Value) -> bool {
    diff[field]
        .as_array()
        .is_some_and(|l| l.iter().any(|m| m["id"] == *user_id))
}

/// A Prometheus counter's value from `/metrics`.
pub async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (status, body) = http(addr, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{body}"))
}

/// Next `message` of `room` within `within` (no per-frame limit).
pub async fn message_within(ws: &mut Ws, room: &str, within: Duration) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no message of {room} within {within:?}"));
        if let Some(Ok(Message::Text(t))) = frame {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "message" && v["room"] == room {
                return v;
            }
        } else if !matches!(frame, Some(Ok(Message::Ping(_) | Message::Pong(_)))) {
            panic!("connection ended: {frame:?}");
        }
    }
}

/// Polls `/metrics` until `name` is at least `want` (panics after [`WAIT`]).
pub async fn wait_metric_at_least(addr: SocketAddr, name: &str, want: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = metric(addr, name).await;
        if got >= want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stays {got}, want at least {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `/metrics` until `name` equals `want` (panics after [`WAIT`]).
pub async fn wait_metric(addr: SocketAddr, name: &str, want: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = metric(addr, name).await;
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

/// HTTP status of a WebSocket handshake; `None` when the server dropped the
/// connection without an HTTP answer.
pub async fn connect_status_or_reset(url: &str) -> Option<u16> {
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
    {
        Ok(_) => Some(101),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Some(resp.status().as_u16()),
        Err(_) => None,
    }
}
