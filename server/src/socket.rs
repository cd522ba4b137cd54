//! The per-connection driver shared by every WebSocket endpoint: it starts
//! the connection's writer ([`crate::fanout::writer`]) in a task of its own
//! and runs the receive loop, which enforces limits and heartbeats and hands
//! text frames to a [`Consumer`] (Django Channels' connect / receive /
//! disconnect).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::ws::{Message, Utf8Bytes};
use confab_protocol::close;
use futures_util::{Sink, Stream, StreamExt};
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};

use tungstenite::error::ProtocolError;

use crate::auth::Identity;
use crate::clock::unix_now;
use crate::fanout::writer::{self, CLOSE_SEND_TIMEOUT};
use crate::fanout::{CloseReason, ConnHandle, ConnOutput};
use crate::limits::{ConnPermit, RateDecision, RateLimiter};
use crate::AppState;

/// Everything a consumer may use while handling its connection.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// Server state.
    pub(crate) state: AppState,
    /// This connection's queue and close signal.
    pub(crate) conn: Arc<ConnHandle>,
    /// Who is connected.
    pub(crate) identity: Identity,
}

impl Ctx {
    /// Queues a text frame (a full queue closes the connection with 4001).
    pub(crate) fn send(&self, text: impl Into<Utf8Bytes>) {
        self.conn.send_text(text);
    }

    /// Closes the connection with `code` once queued frames before it are
    /// abandoned.
    pub(crate) fn close(&self, code: u16, reason: &'static str) {
        self.conn.close(code, reason);
    }
}

/// A refused handshake: status and a one-line reason.
pub(crate) type Rejection = (axum::http::StatusCode, String);

/// The behaviour of one endpoint: `admit` answers the handshake; then the
/// driver calls, in order, `connect`, `receive` per text frame (and `tick`
/// if it asks for one), and `disconnect` exactly once.
#[async_trait]
pub(crate) trait Consumer: Send + 'static {
    /// The endpoint's last say before the upgrade, after the connection
    /// limits and the connect hook (e.g. a compat room's join hook): a
    /// refusal is the handshake's answer. Default: admitted.
    async fn admit(&mut self, _state: &AppState) -> Result<(), Rejection> {
        Ok(())
    }
    /// After the upgrade, before any frame is read.
    async fn connect(&mut self, cx: &Ctx);
    /// One text frame within the limits.
    async fn receive(&mut self, cx: &Ctx, text: Utf8Bytes);
    /// When the connection's token expires (seconds since the epoch; it
    /// is then closed with 4003). Default: the handshake's token; an
    /// endpoint that accepts `refresh` returns the newest one.
    fn expires(&self, cx: &Ctx) -> Option<u64> {
        cx.identity.expires
    }
    /// A text frame refused by the rate limiter (default: dropped).
    fn rate_limited(&mut self, _cx: &Ctx, _text: &str) {}
    /// How often [`Consumer::tick`] runs, if at all.
    fn tick_every(&self) -> Option<Duration> {
        None
    }
    /// Periodic work (e.g. dwebsocket's pushes).
    async fn tick(&mut self, _cx: &Ctx) {}
    /// The application removed this connection from `room` (server API).
    /// Default: close the connection with 4004 (an endpoint bound to one
    /// room has nothing else to do).
    async fn evicted(&mut self, cx: &Ctx, _room: &str) {
        cx.close(
            close::DISCONNECTED,
            "removed from the room by the application",
        );
    }
    /// The connection is gone (or going); clean up.
    async fn disconnect(&mut self, cx: &Ctx);
}

/// How the receive loop ended.
enum End {
    /// The peer closed or the transport failed.
    Peer,
    /// The server asked the connection to close (a close frame is due).
    Server,
}

/// Runs one connection to its end: registers it, drives `consumer`, closes
/// with the requested code, unregisters it.
pub(crate) fn run<S, C>(
    socket: S,
    cx: Ctx,
    out: ConnOutput,
    consumer: C,
    permit: ConnPermit,
) -> impl std::future::Future<Output = ()> + Send
where
    S: Stream<Item = Result<Message, axum::Error>>
        + Sink<Message, Error = axum::Error>
        + Send
        + 'static,
    C: Consumer,
{
    // Split before the async body: an async fn keeps its arguments in its
    // future for its whole life, and the unsplit socket is ~370 bytes of
    // every connection's memory.
    let (sink, stream) = socket.split();
    drive(sink, stream, cx, out, consumer, permit)
}

/// `_permit` is the connection's place in the connection limits, given
/// back when the connection is over. (Held here, not by a wrapping async
/// block: a block that awaits a captured future keeps room for it twice.)
async fn drive<Si, St, C>(
    sink: Si,
    mut stream: St,
    cx: Ctx,
    out: ConnOutput,
    mut consumer: C,
    _permit: ConnPermit,
) where
    Si: Sink<Message, Error = axum::Error> + Send + Unpin + 'static,
    St: Stream<Item = Result<Message, axum::Error>> + Send + Unpin,
    C: Consumer,
{
    let state = cx.state.clone();
    state.metrics.connections.fetch_add(1, Relaxed);
    state.rooms.connect(&cx.conn, &cx.identity.member).await;
    // The send half is a task of its own (axum's chat example): a queued
    // outbound frame wakes only the writer, never the reader, whose every
    // poll costs a read attempt on the socket. Sharing one task made the
    // writer 58% of a fan-out's instructions (bench/results/PROFILE.md).
    let mut send = tokio::spawn(writer::run(sink, out, cx.conn.clone()));

    tracing::debug!(session = %cx.conn.session_id, user = %cx.conn.user_id, "connected");
    consumer.connect(&cx).await;
    let end = tokio::select! {
        _ = &mut send => None,
        end = recv_loop(&mut stream, &cx, &mut consumer) => Some(end),
    };
    consumer.disconnect(&cx).await;
    state.rooms.disconnect(&cx.conn).await;
    let wait = match end {
        None => Duration::ZERO, // the send task already ended
        Some(End::Server) => CLOSE_SEND_TIMEOUT * 2,
        Some(End::Peer) => {
            // Let tungstenite flush its close reply, briefly.
            cx.conn.close(close::NORMAL, "");
            Duration::from_millis(200)
        }
    };
    if !wait.is_zero() && tokio::time::timeout(wait, &mut send).await.is_err() {
        send.abort();
    }
    if matches!(end, Some(End::Server)) && !cx.conn.is_stalled() {
        // Closing handshake: read until the peer's close (or a short
        // timeout) so the socket is not reset under the peer's unread close
        // frame.
        let _ = tokio::time::timeout(CLOSE_SEND_TIMEOUT, async {
            while let Some(Ok(msg)) = stream.next().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    state.metrics.connections.fetch_sub(1, Relaxed);
    tracing::debug!(
        session = %cx.conn.session_id,
        close = ?cx.conn.close_reason(),
        "disconnected"
    );
}

/// The close a read error calls for, when the peer is still there to get it.
fn close_for(err: axum::Error) -> Option<CloseReason> {
    match *err.into_inner().downcast::<tungstenite::Error>().ok()? {
        tungstenite::Error::Capacity(_) => Some(CloseReason {
            code: close::TOO_BIG,
            reason: "message too big",
        }),
        tungstenite::Error::Utf8(_) => Some(CloseReason {
            code: close::INVALID_PAYLOAD,
            reason: "text frame is not valid UTF-8",
        }),
        // Reserved bits or opcodes, an unmasked frame, a fragmented or
        // oversized control frame, a stray or missing continuation: RFC
        // 6455 §7.4.1 says 1002 (tungstenite reports them and sends
        // nothing itself; a 1000 would tell the client all is well).
        tungstenite::Error::Protocol(
            ProtocolError::NonZeroReservedBits
            | ProtocolError::UnmaskedFrameFromClient
            | ProtocolError::FragmentedControlFrame
            | ProtocolError::ControlFrameTooBig
            | ProtocolError::UnknownControlFrameType(_)
            | ProtocolError::UnknownDataFrameType(_)
            | ProtocolError::UnexpectedContinueFrame
            | ProtocolError::ExpectedFragment(_)
            | ProtocolError::InvalidOpcode(_)
            | ProtocolError::InvalidCloseSequence,
        ) => Some(CloseReason {
            code: close::PROTOCOL_ERROR,
            reason: "websocket protocol error",
        }),
        // The peer is gone (a reset, a read after its close): nobody to
        // tell.
        _ => None,
    }
}

async fn maybe_tick(i: &mut Option<Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn recv_loop<St, C>(stream: &mut St, cx: &Ctx, consumer: &mut C) -> End
where
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
    C: Consumer,
{
    let config = &cx.state.config;
    let conn = &cx.conn;
    let hb = config.heartbeat();
    let mut heartbeat = interval_at(Instant::now() + hb, hb);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ticks = consumer.tick_every().map(|every| {
        let mut i = interval_at(Instant::now() + every, every);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    });
    let mut limiter = RateLimiter::new(
        config.rate_per_sec,
        config.rate_burst,
        config.rate_abuse_limit,
    );
    let mut last_seen = Instant::now();
    loop {
        if conn.is_closing() {
            return End::Server;
        }
        if conn.take_evicted() {
            for room in cx.state.rooms.take_evictions(conn) {
                consumer.evicted(cx, &room).await;
            }
            continue;
        }
        tokio::select! {
            frame = stream.next() => {
                let msg = match frame {
                    None => return End::Peer,
                    Some(Err(e)) => {
                        return match close_for(e) {
                            Some(r) => {
                                conn.close(r.code, r.reason);
                                End::Server
                            }
                            None => End::Peer,
                        };
                    }
                    Some(Ok(msg)) => msg,
                };
                last_seen = Instant::now();
                if conn.is_stalled() {
                    continue;
                }
                match msg {
                    Message::Text(text) => match limiter.check() {
                        RateDecision::Allow => consumer.receive(cx, text).await,
                        RateDecision::Limited => consumer.rate_limited(cx, &text),
                        RateDecision::Abuse => cx.close(close::POLICY, "rate limit abuse"),
                    },
                    Message::Binary(_) => cx.close(close::UNSUPPORTED_DATA, "binary frames are not supported"),
                    Message::Close(_) => return End::Peer,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            _ = heartbeat.tick() => {
                if last_seen.elapsed() >= hb * 2 {
                    if conn.is_stalled() {
                        return End::Peer;
                    }
                    cx.close(close::HEARTBEAT_TIMEOUT, "heartbeat timeout");
                } else if consumer.expires(cx).is_some_and(|exp| exp <= unix_now()) {
                    cx.close(close::TOKEN_EXPIRED, "token expired");
                } else {
                    conn.send(Message::Ping(Default::default()));
                }
            }
            _ = maybe_tick(&mut ticks) => consumer.tick(cx).await,
            () = conn.attention() => {}
        }
    }
}
