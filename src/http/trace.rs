//! The span of each provider-facing request (webhooks, callbacks, return pages) and of each JSON
//! API call (`json::router` uses it too), as a child of
//! the sender's trace when it sends a W3C `traceparent`. Health and metrics requests get none:
//! a scrape every few seconds would bury the traces worth reading.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

/// Attributes are the route's pattern (`/webhooks/cmi/{merchant}`), never the path or body.
pub(crate) async fn trace(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched
        .as_ref()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().clone();
    let span = tracing::info_span!(
        "http",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = Empty,
    );
    crate::traces::adopt_parent(&span, req.headers());
    let response = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}
