//! A bound on a call's metadata (its HTTP/2 headers), enforced per call.
//!
//! HTTP/2 has its own bound, `SETTINGS_MAX_HEADER_LIST_SIZE`, but the h2 crate enforces it per
//! connection: a header block over it that spans CONTINUATION frames ends the whole
//! connection (GOAWAY), every other call on it included. So h2's bound is set well above
//! ([`H2_MAX_HEADER_LIST`]) and this layer refuses the one call whose metadata is over
//! [`MAX_METADATA_BYTES`], with `RESOURCE_EXHAUSTED / METADATA_TOO_LARGE`; the connection
//! keeps serving. Only blocks beyond h2's bound (abuse, not a mistake) still cost the connection.

use crate::error::AppError;
use crate::telemetry::Metrics;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;
use tonic::Status;

/// Metadata a call may carry, counted as HTTP/2 does (name + value + 32 per entry). gRPC's
/// C core refuses above 16 KiB by default too.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// What h2 accepts on the connection before it gives up on it: 16 times the per-call bound.
pub const H2_MAX_HEADER_LIST: u32 = 256 * 1024;

/// The HTTP/2 size of `headers` (RFC 9113 §6.5.2).
fn header_list_size(headers: &http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

#[derive(Clone)]
pub struct MetadataLimitLayer {
    metrics: Arc<Metrics>,
}

impl MetadataLimitLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for MetadataLimitLayer {
    type Service = MetadataLimit<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetadataLimit {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct MetadataLimit<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B> tower::Service<http::Request<B>> for MetadataLimit<S>
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
        // Pseudo-headers (:path, :authority...) are not in the map; they are small.
        if header_list_size(req.headers()) <= MAX_METADATA_BYTES {
            return Box::pin(self.inner.call(req));
        }
        let started = Instant::now();
        let method = req.uri().path().rsplit('/').next().unwrap_or_default();
        self.metrics
            .grpc_request(method, "RESOURCE_EXHAUSTED", started.elapsed());
        let status = Status::from(AppError::MetadataTooLarge {
            limit: MAX_METADATA_BYTES,
        });
        Box::pin(async move { Ok(status.into_http()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_names_values_and_the_per_entry_overhead() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-a", http::HeaderValue::from_static("12345"));
        assert_eq!(header_list_size(&headers), 3 + 5 + 32);
    }
}
