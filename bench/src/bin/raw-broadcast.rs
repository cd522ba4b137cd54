//! `raw-broadcast`: the "no framework" ceiling for the benchmarks. A bare
//! tokio-tungstenite server speaking the seed route `/ws/chat/{room}/`:
//! every text frame a client sends is forwarded, unparsed and unchanged, to
//! every socket in its room (sender included), through one
//! `tokio::sync::broadcast` ring per room; 4 KiB read buffer per connection.
//!
//! ```text
//! raw-broadcast --bind 127.0.0.1:8001
//! ```
//! Prints `listening on ADDR` on stdout once bound (`--bind 127.0.0.1:0`
//! picks a free port).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Baseline WebSocket broadcast server (seed route, no framework).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:8001")]
    bind: SocketAddr,
    /// Messages each room's broadcast ring holds; a reader that falls
    /// further behind skips the overwritten ones.
    #[arg(long, default_value_t = 1024)]
    ring: usize,
    /// Per-connection read buffer in bytes (tungstenite's default is 128 KiB).
    #[arg(long, default_value_t = 4096)]
    read_buffer: usize,
}

type Rooms = Arc<Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>>;

/// The room of a `/ws/chat/{room}/` path.
fn room_of(path: &str) -> Option<String> {
    let room = path.strip_prefix("/ws/chat/")?.strip_suffix('/')?;
    (!room.is_empty() && !room.contains('/')).then(|| room.to_owned())
}

// The handshake callback's error type is fixed by tungstenite's `Callback` trait.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, rooms: Rooms, args: Arc<Args>) {
    let _ = stream.set_nodelay(true);
    let mut room = None;
    let check = |req: &Request, resp: Response| match room_of(req.uri().path()) {
        Some(r) => {
            room = Some(r);
            Ok(resp)
        }
        None => {
            let mut e = ErrorResponse::new(Some("no such route\n".into()));
            *e.status_mut() = StatusCode::NOT_FOUND;
            Err(e)
        }
    };
    let config = WebSocketConfig::default().read_buffer_size(args.read_buffer);
    let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config)).await
    else {
        return;
    };
    let Some(room) = room else { return };
    let (tx, mut rx) = {
        let mut map = rooms.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = map
            .entry(room.clone())
            .or_insert_with(|| broadcast::channel(args.ring).0)
            .clone();
        let rx = tx.subscribe();
        (tx, rx)
    };
    // Reader and writer are separate tasks: a task that polls the socket's
    // read side on every broadcast wake-up pays tungstenite's read-buffer
    // zeroing (4 KiB memset) per message and recipient (measured with
    // callgrind: 58% of all instructions).
    let (mut sink, mut stream) = ws.split();
    let publisher = tx.clone();
    let mut reader = tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            match frame {
                Message::Text(t) => {
                    let _ = publisher.send(t);
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    let writer = async {
        loop {
            match rx.recv().await {
                Ok(t) => {
                    if sink.feed(Message::Text(t)).await.is_err() {
                        return;
                    }
                    // Batch whatever else is already queued into one flush.
                    while let Ok(t) = rx.try_recv() {
                        if sink.feed(Message::Text(t)).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    };
    tokio::select! {
        _ = &mut reader => {}
        () = writer => reader.abort(),
    }
    drop(rx);
    let mut map = rooms.lock().unwrap_or_else(PoisonError::into_inner);
    if tx.receiver_count() == 0 {
        map.remove(&room);
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Arc::new(Args::parse());
    let listener = TcpListener::bind(args.bind).await?;
    println!("listening on {}", listener.local_addr()?);
    let rooms = Rooms::default();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, rooms.clone(), args.clone()));
            }
            // Out of file descriptors and the like: keep serving the others.
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
