//! The gRPC port's connections for tonic: accepted by our loop (cap, back-off), with a
//! deadline for the HTTP/2 handshake and an idle timeout, and a layer that tells each
//! connection when it is serving a call.
//!
//! tonic drives each connection itself, so the deadlines live in the byte stream ([`Conn`]);
//! tonic hands our [`ConnInfo`] to every request of that connection, which is how the layer
//! finds the connection to mark busy.

use super::accept::Acceptor;
use super::body::Tracked;
use super::io::Conn;
use super::slots::ConnState;
use super::{ConnectionLimits, Slots};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpListener;

/// The client preface (24 bytes) and the header of the SETTINGS frame that must follow it (9):
/// a connection that has not sent this much within the handshake timeout is closed.
const HANDSHAKE_BYTES: usize = 24 + 9;

/// The accepted connections of `listener`, for `serve_with_incoming_shutdown`.
pub(crate) fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
    slots: Slots,
) -> impl futures::Stream<Item = std::io::Result<Conn>> + Send + 'static {
    futures::stream::unfold(
        Acceptor::new(listener, slots),
        move |mut acceptor| async move {
            let conn = acceptor
                .next()
                .await
                .handshake_within(HANDSHAKE_BYTES, limits.grpc_handshake_timeout)
                .idle_timeout(limits.grpc_idle_timeout);
            Some((Ok(conn), acceptor))
        },
    )
}

/// What tonic puts in each request's extensions for our connections.
#[derive(Clone)]
pub(crate) struct ConnInfo {
    state: Arc<ConnState>,
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        ConnInfo {
            state: self.slot().state().clone(),
        }
    }
}

/// Marks the connection busy from a call's start until its response stream ends, so the
/// idle timeout and eviction only ever take connections with no call in flight.
#[derive(Clone, Copy, Default)]
pub(crate) struct InFlightLayer;

impl<S> tower::Layer<S> for InFlightLayer {
    type Service = InFlightService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        InFlightService { inner }
    }
}

#[derive(Clone)]
pub(crate) struct InFlightService<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for InFlightService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let in_flight = req
            .extensions()
            .get::<ConnInfo>()
            .map(|info| info.state.begin());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let response = fut.await?;
            Ok(match in_flight {
                Some(mark) => response.map(|body| tonic::body::Body::new(Tracked::new(body, mark))),
                None => response,
            })
        })
    }
}
