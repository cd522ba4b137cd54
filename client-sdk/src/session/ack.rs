//! A request waiting for its reply, and the futures its caller holds
//! ([`AckFuture`], and the page of [`crate::Room::history`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use confab_protocol::Ack;

use crate::runtime::oneshot;
use crate::runtime::timer::Sleep;
use crate::{Error, HistoryPage, Result};

/// What answers a request: an `ack`, or a `history` page.
#[derive(Debug)]
pub(crate) enum Reply {
    Ack(Ack),
    History(HistoryPage),
}

/// A request in [`super::pending::Pending`]: its frame, sent once its room
/// is joined, and where its reply goes.
pub(crate) struct Request {
    pub(crate) frame: String,
    pub(crate) reply: oneshot::Sender<Result<Reply>>,
    /// Sent again (the same frame) when the link drops before the reply,
    /// or the server answers `outcome_unknown`: a publish/direct with its
    /// `cid` (the server answers a repeated cid with the first ack), or a
    /// request that is the same when repeated (rename, state, history).
    pub(crate) resend: bool,
}

/// Resolves with the server's [`Ack`], or an error ([`Error::AckTimeout`],
/// [`Error::Server`], [`Error::Closed`], …). The request is queued when
/// the call is made, not when the future is first polled.
#[must_use = "the result tells whether the server stored the message"]
pub struct AckFuture {
    state: std::result::Result<oneshot::Receiver<Result<Reply>>, Option<Error>>,
    cid: Option<String>,
}

impl AckFuture {
    /// Waits for the reply sent to `rx`.
    pub(crate) fn waiting(rx: oneshot::Receiver<Result<Reply>>) -> Self {
        Self {
            state: Ok(rx),
            cid: None,
        }
    }

    /// Fails at once with `e`.
    pub(crate) fn failed(e: Error) -> Self {
        Self {
            state: Err(Some(e)),
            cid: None,
        }
    }

    pub(crate) fn with_cid(mut self, cid: String) -> Self {
        self.cid = Some(cid);
        self
    }

    /// The client message id of this publish / direct message: the
    /// `cid` of the [`crate::RoomMessage`] it becomes, so the sender
    /// recognises its own message when it arrives (even before the ack).
    /// `None` for other requests and for a call that failed at once.
    pub fn cid(&self) -> Option<&str> {
        self.cid.as_deref()
    }

    /// The reply, whatever its kind.
    pub(crate) fn reply(self) -> impl Future<Output = Result<Reply>> {
        let mut state = self.state;
        std::future::poll_fn(move |cx| poll_reply(&mut state, cx))
    }
}

fn poll_reply(
    state: &mut std::result::Result<oneshot::Receiver<Result<Reply>>, Option<Error>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Reply>> {
    match state {
        Ok(rx) => Pin::new(rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed))),
        Err(e) => Poll::Ready(Err(e.take().unwrap_or(Error::Closed))),
    }
}

/// A reply of the wrong kind (an `ack` for a `history` request, …).
pub(crate) fn unexpected() -> Error {
    Error::Serde("unexpected reply type".to_owned())
}

impl Future for AckFuture {
    type Output = Result<Ack>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Ack>> {
        poll_reply(&mut self.state, cx).map(|r| match r? {
            Reply::Ack(a) => Ok(a),
            Reply::History(_) => Err(unexpected()),
        })
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
