//! Tower layers around the gRPC server.
//!
//! tonic enforces the message size limit while decoding, before any handler runs, and
//! answers `OUT_OF_RANGE` with its own text and no `ErrorInfo`. Every status paygate's own
//! handlers answer carries `ErrorInfo` (e.g. `OUT_OF_RANGE / EVENTS_PRUNED`), so this layer
//! rewrites exactly tonic's detail-less answer into DESIGN.md's
//! `RESOURCE_EXHAUSTED / MESSAGE_TOO_LARGE` and counts it like any other call.

use crate::error::AppError;
use crate::telemetry::Metrics;
use std::sync::Arc;
use tokio::time::Instant;
use tonic::Status;

/// `grpc-status: 11` (OUT_OF_RANGE) in a trailers-only answer, without paygate's details.
fn is_decode_limit(resp: &http::Response<tonic::body::Body>) -> bool {
    let headers = resp.headers();
    headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"11")
        && !headers.contains_key("grpc-status-details-bin")
}

/// Wraps a gRPC router service so oversized messages get the documented error.
#[derive(Clone)]
pub struct MessageLimit<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

#[derive(Clone)]
pub struct MessageLimitLayer {
    metrics: Arc<Metrics>,
}

impl MessageLimitLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for MessageLimitLayer {
    type Service = MessageLimit<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MessageLimit {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

impl<S, B> tower::Service<http::Request<B>> for MessageLimit<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            if !is_decode_limit(&resp) {
                return Ok(resp);
            }
            metrics.grpc_request(&method, "RESOURCE_EXHAUSTED", started.elapsed());
            Ok(Status::from(AppError::MessageTooLarge).into_http())
        })
    }
}
