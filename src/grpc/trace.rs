//! The span of each gRPC call, as a child of the caller's trace when the request carries a W3C
//! `traceparent` (and `tracestate`) in its metadata.
//!
//! Outermost of the gRPC layers, so the span covers everything paygate does for the call; the
//! handler's own span (`authorize`, `capture`...) and each provider call nest under it. Its name
//! follows OpenTelemetry's RPC convention (`paygate.v1.PaymentGateway/Authorize`); its
//! attributes name the call and its status code, never the message.

use futures::future::BoxFuture;
use tracing::Instrument;
use tracing::field::Empty;

#[derive(Clone, Copy, Default)]
pub struct GrpcTraceLayer;

impl<S> tower::Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcTrace { inner }
    }
}

#[derive(Clone)]
pub struct GrpcTrace<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for GrpcTrace<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // `/paygate.v1.PaymentGateway/Authorize`
        let path = req.uri().path().trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        let span = tracing::info_span!(
            "grpc",
            otel.name = %path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = Empty,
        );
        crate::traces::adopt_parent(&span, req.headers());
        let fut = span.in_scope(|| self.inner.call(req));
        let record = span.clone();
        Box::pin(
            async move {
                let resp = fut.await?;
                // An error answer is trailers-only: its status is in the headers. Without one
                // the call succeeded (a unary answer's OK comes in the trailers; a stream that
                // fails later is not seen here).
                let code = resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                record.record("rpc.grpc.status_code", code);
                Ok(resp)
            }
            .instrument(span),
        )
    }
}
