//! An accepted TCP connection that closes itself when its listener says so: evicted to make
//! room, a handshake that did not arrive in time, or (gRPC) idle too long.
//!
//! These checks live in the byte stream because on the gRPC port tonic drives the connection
//! itself: failing a read is the one way in. A failed read ends the connection at once.

use super::slots::Slot;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// A connection holding its listener slot for as long as it lives.
pub(crate) struct Conn {
    tcp: TcpStream,
    slot: Slot,
    /// Until this many more bytes have been read, `deadline` must not pass.
    handshake: Option<(usize, Pin<Box<Sleep>>)>,
    /// Closed after this long with no request in flight.
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
    /// Set once the connection failed a check, so the reason is counted once.
    closed: bool,
}

impl Conn {
    pub(crate) fn new(tcp: TcpStream, slot: Slot) -> Self {
        Self {
            tcp,
            slot,
            handshake: None,
            idle: None,
            closed: false,
        }
    }

    /// The first `bytes` bytes must arrive within `timeout` (e.g. the HTTP/2 preface).
    pub(crate) fn handshake_within(mut self, bytes: usize, timeout: Duration) -> Self {
        self.handshake = Some((bytes, Box::pin(tokio::time::sleep(timeout))));
        self
    }

    /// Closes the connection once it has had no request in flight for `timeout`.
    pub(crate) fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle = Some((timeout, Box::pin(tokio::time::sleep(timeout))));
        self
    }

    pub(crate) fn slot(&self) -> &Slot {
        &self.slot
    }

    fn close(&mut self, reason: &'static str, kind: io::ErrorKind) -> Poll<io::Result<()>> {
        if !self.closed {
            self.closed = true;
            // An eviction was counted when it was decided.
            if reason != "evicted" {
                self.slot
                    .metrics()
                    .connection_closed(self.slot.listener(), reason);
            }
            tracing::debug!(
                listener = self.slot.listener(),
                reason,
                "closing connection"
            );
        }
        Poll::Ready(Err(io::Error::new(kind, reason)))
    }

    /// Whether a timer says the connection must close now (registering the wakers if not).
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<&'static str> {
        if let Some((_, deadline)) = &mut self.handshake
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Some("handshake_timeout");
        }
        let (timeout, timer) = self.idle.as_mut()?;
        while timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let due = match self.slot.state().idle_since() {
                Some(since) if since + *timeout <= now => return Some("idle_timeout"),
                Some(since) => since + *timeout,
                // Busy: look again a full period later.
                None => now + *timeout,
            };
            timer.as_mut().reset(due);
        }
        None
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.slot.state().register(cx.waker());
        if this.slot.state().is_evicted() {
            return this.close("evicted", io::ErrorKind::ConnectionAborted);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled().len().saturating_sub(before);
                if let Some((left, _)) = &mut this.handshake {
                    *left = left.saturating_sub(read);
                    if *left == 0 || read == 0 {
                        this.handshake = None;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.expired(cx) {
                Some(reason) => this.close(reason, io::ErrorKind::TimedOut),
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.slot.state().is_evicted() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.slot.state().is_evicted() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
