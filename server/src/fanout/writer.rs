//! A connection's writer: its own task, which feeds the socket from the
//! connection's outbound queue and the feeds of the rooms it reads, in
//! batches, and sends the close frame when a close is requested.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use confab_protocol::close;
use futures_util::{Sink, SinkExt};

use super::conn::{ConnHandle, ConnOutput, Out};
use super::event::Event;
use super::feed::{Next, Subscription};
use super::outbox::OutboxRx;

/// How long a close frame may take to go out before the socket is dropped.
pub(crate) const CLOSE_SEND_TIMEOUT: Duration = Duration::from_secs(2);

/// Frames a writer feeds to the socket before it flushes: one turn's worth
/// on a busy room. It also bounds tungstenite's write buffer, which keeps
/// the capacity of the largest batch for the connection's whole life (1,024
/// measured the same ceiling as 64 in the fan-out ladder).
const BATCH: usize = 64;

/// Frames a closing writer still sends before its close frame.
const CLOSE_DRAIN: usize = 4096;

/// What a connection's writer reads: its own queue and the feeds of the
/// rooms it is in.
struct Outgoing {
    rx: OutboxRx<Out>,
    feeds: Vec<Subscription<ConnHandle>>,
}

impl Outgoing {
    /// Feeds up to `budget` items to `sink` without flushing. Returns the
    /// items taken (0: nothing to do) and the frames fed.
    async fn pump<S>(
        &mut self,
        sink: &mut S,
        conn: &ConnHandle,
        budget: usize,
    ) -> Result<(usize, u64), axum::Error>
    where
        S: Sink<Message, Error = axum::Error> + Unpin,
    {
        // A stalled (debug) connection reads and drops everything.
        let stalled = conn.is_stalled();
        let (mut taken, mut frames) = (0, 0);
        // Room events first, so a publisher's own message still goes out
        // before its ack (the ack is queued after the publish returns).
        let mut i = 0;
        while i < self.feeds.len() && taken < budget {
            match self.feeds[i].next() {
                Next::Event(event) => {
                    taken += 1;
                    // A member the policy does not let see the room's
                    // members skips its presence diffs (decided at join).
                    let hidden = !self.feeds[i].presence && matches!(event, Event::Presence(_));
                    if let (false, false, Some(text)) =
                        (stalled, hidden, event.text_for(conn.flavor))
                    {
                        sink.feed(Message::Text(text)).await?;
                        frames += 1;
                    }
                }
                Next::Empty => i += 1,
                Next::Detached => {
                    self.feeds.swap_remove(i);
                }
            }
        }
        while taken < budget {
            let Ok(out) = self.rx.try_recv() else { break };
            taken += 1;
            match out {
                Out::Frame(msg) if !stalled => {
                    sink.feed(msg).await?;
                    frames += 1;
                }
                Out::Frame(_) => {}
                Out::Attach(sub) => {
                    // Read the new feed before any later queued frame.
                    self.feeds.push(sub);
                    break;
                }
            }
        }
        Ok((taken, frames))
    }
}

/// Runs the writer of `conn` until its queue is closed or a close was
/// requested (then drains what was queued, except for a slow consumer, and
/// sends the close frame).
pub(crate) async fn run<S>(mut sink: S, out: ConnOutput, conn: Arc<ConnHandle>)
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    let mut outgoing = Outgoing {
        rx: out.rx,
        feeds: Vec::new(),
    };
    let forward = async {
        loop {
            let (taken, frames) = outgoing.pump(&mut sink, &conn, BATCH).await?;
            if frames > 0 {
                sink.flush().await?;
                conn.count_out(frames);
            }
            if taken == 0 {
                if outgoing.rx.is_closed() {
                    return Ok::<(), axum::Error>(());
                }
                outgoing.rx.wait().await;
            }
        }
    };
    // A close request wins even over a write stuck on a peer that does
    // not read.
    let reason = tokio::select! {
        biased;
        () = conn.closing() => conn.close_reason(),
        _ = forward => None,
    };
    if let Some(r) = reason {
        if conn.is_stalled() {
            return;
        }
        let frame = CloseFrame {
            code: r.code,
            reason: Utf8Bytes::from_static(r.reason),
        };
        // Frames queued before the close still go out, except for a slow
        // consumer, whose backlog is the problem.
        let drain = r.code != close::SLOW_CONSUMER;
        let _ = tokio::time::timeout(CLOSE_SEND_TIMEOUT, async {
            // `pump` stops at each feed attachment; go on until the queue
            // and the feeds are empty.
            let mut left = if drain { CLOSE_DRAIN } else { 0 };
            while left > 0 {
                let (taken, frames) = outgoing.pump(&mut sink, &conn, left).await?;
                conn.count_out(frames);
                if taken == 0 {
                    break;
                }
                left = left.saturating_sub(taken);
            }
            sink.send(Message::Close(Some(frame))).await
        })
        .await;
    }
}
