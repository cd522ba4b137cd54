//! Protocol adapters: how to connect, join a room, publish a stamped message
//! and recognise deliveries for each server family.

use confab_protocol::{decode_server, encode, ClientMsg, Join, Ping, Publish, ServerMsg};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{Error, Result, Stamp};

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The wire shape a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Django Channels tutorial shape on `/ws/chat/{room}/`: send
    /// `{"message": m}`, the room gets `{"message": m}` (Confab's compat
    /// route, `raw-broadcast`, Django + daphne).
    Seed,
    /// Socket.IO 4 over engine.io v4, websocket transport only, room in the
    /// handshake query; event `chat` with `{"message": m}`.
    Socketio,
    /// Confab's native protocol on `/ws` (welcome, join, publish with ref,
    /// ack, message envelopes).
    Confab,
}

/// What an incoming frame means to the load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// A stamped room message.
    Delivery(Stamp),
    /// A publish was acknowledged (Confab).
    Ack,
    /// Must be answered with this frame (engine.io ping).
    Reply(&'static str),
    /// An error envelope (Confab).
    ErrorReply,
    /// Anything else (presence, pong, ...).
    Other,
}

/// Small client buffers: 10,000 idle clients must not cost the load
/// generator 128 KiB each.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

impl Protocol {
    /// The WebSocket URL of `room` on the server at `base` (`ws://host:port`).
    ///
    /// ```
    /// use confab_bench::Protocol;
    /// assert_eq!(Protocol::Seed.url("ws://127.0.0.1:8000", "r1"), "ws://127.0.0.1:8000/ws/chat/r1/");
    /// assert_eq!(Protocol::Confab.url("ws://127.0.0.1:8000/", "r1"), "ws://127.0.0.1:8000/ws");
    /// ```
    pub fn url(self, base: &str, room: &str) -> String {
        let base = base.trim_end_matches('/');
        match self {
            Self::Seed => format!("{base}/ws/chat/{room}/"),
            Self::Socketio => {
                format!("{base}/socket.io/?EIO=4&transport=websocket&room={room}")
            }
            Self::Confab => format!("{base}/ws"),
        }
    }

    /// The JSON key whose string value carries the stamp in deliveries.
    pub fn stamp_key(self) -> &'static str {
        match self {
            Self::Seed | Self::Socketio => "message",
            Self::Confab => "payload",
        }
    }

    /// The frame publishing `stamp` to `room`; `reference` is Confab's `ref`.
    ///
    /// ```
    /// use confab_bench::{Protocol, Stamp};
    /// let s = Stamp { publisher: 1, seq: 2, sent_us: 3 };
    /// assert_eq!(Protocol::Seed.publish_frame("r", &s, 0), r#"{"message":"1:2:3"}"#);
    /// assert_eq!(Protocol::Socketio.publish_frame("r", &s, 0), r#"42["chat",{"message":"1:2:3"}]"#);
    /// assert_eq!(
    ///     Protocol::Confab.publish_frame("r", &s, 9),
    ///     r#"{"type":"publish","ref":"9","room":"r","payload":"1:2:3"}"#
    /// );
    /// ```
    pub fn publish_frame(self, room: &str, stamp: &Stamp, reference: u64) -> String {
        let m = stamp.encode();
        match self {
            Self::Seed => format!(r#"{{"message":"{m}"}}"#),
            Self::Socketio => format!(r#"42["chat",{{"message":"{m}"}}]"#),
            Self::Confab => encode(&ClientMsg::Publish(Publish {
                reference: Some(reference.to_string()),
                room: room.to_owned(),
                payload: m,
                cid: None,
            })),
        }
    }

    /// The application-level heartbeat to send every so often, if any.
    pub fn heartbeat_frame(self) -> Option<String> {
        match self {
            Self::Confab => Some(encode(&ClientMsg::<()>::Ping(Ping::default()))),
            Self::Seed | Self::Socketio => None,
        }
    }

    /// Classifies a text frame without parsing it fully.
    ///
    /// ```
    /// use confab_bench::{proto::Incoming, Protocol};
    /// assert_eq!(Protocol::Socketio.classify("2"), Incoming::Reply("3"));
    /// assert_eq!(Protocol::Confab.classify(r#"{"type":"ack","ref":"1","offset":3}"#), Incoming::Ack);
    /// ```
    pub fn classify(self, text: &str) -> Incoming {
        if let Some(stamp) = Stamp::find(text, self.stamp_key()) {
            return Incoming::Delivery(stamp);
        }
        match self {
            Self::Socketio if text == "2" => Incoming::Reply("3"),
            Self::Confab if text.contains(r#""type":"ack""#) => Incoming::Ack,
            Self::Confab if text.contains(r#""type":"error""#) => Incoming::ErrorReply,
            _ => Incoming::Other,
        }
    }

    /// Connects to `room` on the server at `base` and completes the
    /// protocol's handshake (engine.io open + namespace connect; Confab
    /// welcome + join). Returns the open socket, ready to publish.
    pub async fn connect(self, base: &str, room: &str) -> Result<Ws> {
        let url = self.url(base, room);
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true).await?;
        match self {
            Self::Seed => {}
            Self::Socketio => {
                expect_frame(&mut ws, |t| t.starts_with('0')).await?;
                ws.send(Message::text("40")).await?;
                expect_frame(&mut ws, |t| t.starts_with("40")).await?;
            }
            Self::Confab => {
                confab_welcome(&mut ws).await?;
                confab_join(&mut ws, room, None).await?;
            }
        }
        Ok(ws)
    }
}

/// Reads text frames until one satisfies `want`; fails on close.
async fn expect_frame(ws: &mut Ws, want: impl Fn(&str) -> bool) -> Result<String> {
    while let Some(frame) = ws.next().await {
        if let Message::Text(t) = frame? {
            if want(t.as_str()) {
                return Ok(t.as_str().to_owned());
            }
        }
    }
    Err(Error::Protocol("closed during handshake".into()))
}

/// Waits for Confab's `welcome` envelope.
pub async fn confab_welcome(ws: &mut Ws) -> Result<confab_protocol::Welcome> {
    let text = expect_frame(ws, |_| true).await?;
    match decode_server(&text) {
        Ok(ServerMsg::Welcome(w)) => Ok(w),
        _ => Err(Error::Protocol(format!("expected welcome, got {text}"))),
    }
}

/// Sends a Confab `join` (with `since` to resume) and waits for `joined`.
/// Frames that arrive before it (messages, presence) are returned too, in
/// order, so a caller that tracks offsets misses nothing.
pub async fn confab_join(
    ws: &mut Ws,
    room: &str,
    since: Option<confab_protocol::Position>,
) -> Result<(
    confab_protocol::Joined<confab_protocol::RawPayload>,
    Vec<String>,
)> {
    let join = ClientMsg::<()>::Join(Join {
        reference: Some("join".into()),
        room: room.to_owned(),
        since,
    });
    ws.send(Message::text(encode(&join))).await?;
    let mut early = Vec::new();
    while let Some(frame) = ws.next().await {
        let Message::Text(t) = frame? else { continue };
        match decode_server(t.as_str()) {
            Ok(ServerMsg::Joined(j)) if j.reference.as_deref() == Some("join") => {
                return Ok((j, early))
            }
            Ok(ServerMsg::Error(e)) if e.reference.as_deref() == Some("join") => {
                return Err(Error::Protocol(format!("join refused: {}", e.message)))
            }
            _ => early.push(t.as_str().to_owned()),
        }
    }
    Err(Error::Protocol("closed before joined".into()))
}
