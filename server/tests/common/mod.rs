//! Test helpers: an in-process server on port 0, a WebSocket client with
//! bounded waits, and a tiny HTTP/1.1 client.
#![allow(dead_code, clippy::unwrap_used)]

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

/// A minimal HTTP/1.1 request; returns (status, body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
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
