//! Two well-behaved clients beside an attacker: every hostile test ends by
//! checking that they still talk ([`Bystanders::assert_receiving`]).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::*;

/// Two well-behaved native clients in one room: `speaker` publishes and
/// `listener` must receive it. [`Bystanders::assert_receiving`] is the check
/// every hostile test ends with.
pub struct Bystanders {
    speaker: Ws,
    listener: Ws,
    room: String,
    seq: u32,
}

impl Bystanders {
    pub async fn join(server: &Server, room: &str) -> Self {
        Self::join_at(
            &server.ws_url("/ws"),
            room,
            "?name=speaker",
            "?name=listener",
        )
        .await
    }

    /// Bystanders on the native endpoint `ws_url` (`ws://…/ws`), each
    /// connecting with its query (a guest name or a `?token=` whose name
    /// is `speaker` for the speaker): for rooms guests may not use, or
    /// two nodes.
    pub async fn join_at(ws_url: &str, room: &str, speaker_q: &str, listener_q: &str) -> Self {
        Self::join_two(
            &format!("{ws_url}{speaker_q}"),
            &format!("{ws_url}{listener_q}"),
            room,
        )
        .await
    }

    /// Bystanders whose speaker and listener connect to these full URLs
    /// (e.g. two nodes).
    pub async fn join_two(speaker_url: &str, listener_url: &str, room: &str) -> Self {
        let (mut speaker, _) = native_at(speaker_url).await;
        join(&mut speaker, room).await;
        let (mut listener, _) = native_at(listener_url).await;
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
    pub async fn assert_receiving(&mut self) -> Vec<Value> {
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
    pub async fn idle(&mut self, d: Duration) -> Vec<Value> {
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
pub async fn recv_error(ws: &mut Ws) -> Value {
    recv_type(ws, "error").await
}

/// Reads until the close frame or the end of the stream; `None` when the
/// connection ended without a close frame (reset or EOF).
pub async fn recv_close_or_end(ws: &mut Ws) -> Option<u16> {
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
