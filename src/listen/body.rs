//! Body wrappers: one keeps a request counted as in flight until its response is sent, the
//! other gives a request body a deadline for arriving whole.

use super::slots::InFlight;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

/// A response body that holds its connection's [`InFlight`] mark until it is dropped, so a
/// connection still streaming an answer is never taken for idle.
pub(crate) struct Tracked<B> {
    inner: Pin<Box<B>>,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    pub(crate) fn new(inner: B, in_flight: InFlight) -> Self {
        Self {
            inner: Box::pin(inner),
            _in_flight: in_flight,
        }
    }
}

impl<B: Body> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.inner.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request body took longer than the body-read timeout to arrive.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body-read timeout")]
pub(crate) struct BodyTimedOut;

/// A request body that fails once `deadline` passes before its end, however steadily the
/// bytes trickle in (a per-read timeout would let 1 byte every few seconds through).
pub(crate) struct Deadline<B> {
    inner: Pin<Box<B>>,
    deadline: Pin<Box<Sleep>>,
    /// Set when the deadline cut the body short, for the response to say so.
    fired: Arc<AtomicBool>,
}

impl<B> Deadline<B> {
    pub(crate) fn new(inner: B, deadline: Instant, fired: Arc<AtomicBool>) -> Self {
        Self {
            inner: Box::pin(inner),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            fired,
        }
    }
}

impl<B> Body for Deadline<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = self.inner.as_mut().poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.fired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(BodyTimedOut.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
