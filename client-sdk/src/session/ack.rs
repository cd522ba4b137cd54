//! A request waiting for its reply, and the [`AckFuture`] its caller holds.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use confab_protocol::Ack;

use crate::runtime::oneshot;
use crate::runtime::timer::Sleep;
use crate::{Error, Result};

/// A request in [`super::pending::Pending`]: its frame, sent once its room
/// is joined, and where its reply goes.
pub(crate) struct Request {
    pub(crate) frame: String,
    pub(crate) reply: oneshot::Sender<Result<Ack>>,
}

/// Resolves with the server's [`Ack`], or an error ([`Error::AckTimeout`],
/// [`Error::Disconnected`], [`Error::Server`], …). The request is queued
/// when the call is made, not when the future is first polled.
#[must_use = "the result tells whether the server stored the message"]
pub struct AckFuture {
    state: std::result::Result<oneshot::Receiver<Result<Ack>>, Option<Error>>,
}

impl AckFuture {
    /// Waits for the reply sent to `rx`.
    pub(crate) fn waiting(rx: oneshot::Receiver<Result<Ack>>) -> Self {
        Self { state: Ok(rx) }
    }

    /// Fails at once with `e`.
    pub(crate) fn failed(e: Error) -> Self {
        Self {
            state: Err(Some(e)),
        }
    }
}

impl Future for AckFuture {
    type Output = Result<Ack>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Ack>> {
        match &mut self.state {
            Ok(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(Error::Closed))),
            Err(e) => Poll::Ready(Err(e.take().unwrap_or(Error::Closed))),
        }
    }
}

/// Races `fut` against a timer; [`Error::AckTimeout`] when the timer wins.
pub(crate) async fn with_timeout<F: Future<Output = Result<()>>>(
    fut: F,
    timeout: Duration,
) -> Result<()> {
    let mut fut = std::pin::pin!(fut);
    let mut timer = Sleep::new(timeout.as_millis() as u32);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(r) = fut.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        Pin::new(&mut timer)
            .poll(cx)
            .map(|()| Err(Error::AckTimeout))
    })
    .await
}
