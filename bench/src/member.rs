//! One simulated client: a task that owns its socket, records every stamped
//! delivery and, when it is a publisher, publishes bursts at a given rate.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::proto::{Incoming, Ws};
use crate::stats::RecvStats;
use crate::{now_us, Protocol, Stamp};

/// Ask a publisher to publish `rate` messages per second for `duration`.
#[derive(Debug)]
pub struct Burst {
    /// Messages per second from this publisher.
    pub rate: f64,
    /// How long to publish.
    pub duration: Duration,
    /// Delay before this publisher's first message. The coordinator gives
    /// publisher k of P the offset k / (P × rate), so the room receives one
    /// message every 1 / (P × rate) s instead of P at the same instant (P
    /// simultaneous messages into a room of N are a burst of P × N writes
    /// that a slower server spends its whole interval on, and every one of
    /// them waits behind it).
    pub offset: Duration,
    /// Gets the burst's sequence range when the last message was sent.
    pub done: oneshot::Sender<BurstReport>,
}

/// Which sequence numbers a burst used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstReport {
    /// First sequence number sent.
    pub first_seq: u64,
    /// One past the last sequence number sent.
    pub end_seq: u64,
    /// Time from the burst command (not the first message, which waits
    /// for the offset) to the last message.
    pub elapsed: Duration,
}

/// Shared view of a member's [`RecvStats`].
pub type SharedStats = Arc<Mutex<RecvStats>>;

/// Locks a member's stats (a poisoned lock still holds valid counters).
pub fn lock(stats: &SharedStats) -> MutexGuard<'_, RecvStats> {
    stats.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connected client and what it should do.
#[derive(Debug)]
pub struct Member {
    /// The open, joined socket.
    pub ws: Ws,
    /// Its protocol.
    pub proto: Protocol,
    /// Room name (for Confab publish envelopes).
    pub room: String,
    /// Publisher id, when this member publishes.
    pub publisher: Option<u32>,
    /// Where deliveries are recorded.
    pub stats: SharedStats,
    /// Burst commands (publishers only).
    pub bursts: Option<mpsc::Receiver<Burst>>,
}

struct Active {
    /// When the command arrived (the report's `elapsed` counts from here).
    received: Instant,
    /// When the first message is due (`received` + offset).
    start: Instant,
    rate: f64,
    total: u64,
    first_seq: u64,
    sent: u64,
    done: oneshot::Sender<BurstReport>,
}

impl Active {
    fn report(self, seq: u64) {
        let _ = self.done.send(BurstReport {
            first_seq: self.first_seq,
            end_seq: seq,
            elapsed: self.received.elapsed(),
        });
    }
}

async fn next_burst(rx: &mut Option<mpsc::Receiver<Burst>>) -> Option<Burst> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Member {
    /// Runs until the server closes the socket (or the task is aborted).
    pub async fn run(mut self) {
        let mut seq = 0u64;
        let mut refs = 0u64;
        let mut burst: Option<Active> = None;
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        let heartbeat = self.proto.heartbeat_frame();
        let mut hb = tokio::time::interval(Duration::from_secs(10));
        hb.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let why: String = loop {
            tokio::select! {
                frame = self.ws.next() => match frame {
                    Some(Ok(Message::Text(t))) => match self.proto.classify(t.as_str()) {
                        Incoming::Delivery(s) => lock(&self.stats).record(s, now_us()),
                        Incoming::Ack => lock(&self.stats).acks += 1,
                        Incoming::ErrorReply => lock(&self.stats).errors += 1,
                        Incoming::Reply(r) => {
                            if let Err(e) = self.ws.send(Message::text(r)).await {
                                break e.to_string();
                            }
                        }
                        Incoming::Other => {}
                    },
                    Some(Ok(Message::Close(f))) => break format!("closed by server: {f:?}"),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break e.to_string(),
                    None => break "connection ended".into(),
                },
                cmd = next_burst(&mut self.bursts) => match cmd {
                    Some(b) => {
                        if let Some(old) = burst.take() {
                            old.report(seq);
                        }
                        let total = (b.rate * b.duration.as_secs_f64()).round() as u64;
                        let received = Instant::now();
                        let start = received + b.offset;
                        burst = Some(Active { received, start, rate: b.rate, total, first_seq: seq, sent: 0, done: b.done });
                        sleep.as_mut().reset(start.into());
                    }
                    None => self.bursts = None,
                },
                () = &mut sleep, if burst.is_some() => {
                    let Some(b) = burst.as_mut() else { continue };
                    // `elapsed` saturates to 0 if the timer fired early.
                    let due = ((b.start.elapsed().as_secs_f64() * b.rate) as u64 + 1).min(b.total);
                    let mut failed = None;
                    let publisher = self.publisher.unwrap_or(0);
                    while b.sent < due {
                        let stamp = Stamp { publisher, seq, sent_us: now_us() };
                        refs += 1;
                        let frame = self.proto.publish_frame(&self.room, &stamp, refs);
                        if let Err(e) = self.ws.feed(Message::text(frame)).await {
                            failed = Some(e);
                            break;
                        }
                        seq += 1;
                        b.sent += 1;
                    }
                    if let Err(e) = self.ws.flush().await {
                        failed.get_or_insert(e);
                    }
                    if let Some(e) = failed {
                        break e.to_string();
                    }
                    if b.sent >= b.total {
                        if let Some(b) = burst.take() {
                            b.report(seq);
                        }
                    } else {
                        let next = b.start + Duration::from_secs_f64(b.sent as f64 / b.rate);
                        sleep.as_mut().reset(next.into());
                    }
                },
                _ = hb.tick(), if heartbeat.is_some() => {
                    if let Some(h) = &heartbeat {
                        if let Err(e) = self.ws.send(Message::text(h.as_str())).await {
                            break e.to_string();
                        }
                    }
                },
            }
        };
        if let Some(b) = burst.take() {
            b.report(seq);
        }
        lock(&self.stats).closed = Some(why);
    }
}
