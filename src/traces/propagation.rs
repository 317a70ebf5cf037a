//! W3C trace context (`traceparent`, `tracestate`) read from incoming headers and written to
//! outgoing ones. The propagator is used directly, not through OpenTelemetry's global, so
//! nothing here depends on process-wide state; with tracing off both are no-ops.

use http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct Incoming<'a>(&'a HeaderMap);

impl Extractor for Incoming<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct Outgoing<'a>(&'a mut HeaderMap);

impl Injector for Outgoing<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes the caller's trace (a valid `traceparent` in `headers`) the parent of `span`. Call it
/// before the span is first entered; a missing or malformed header leaves `span` a root.
pub fn adopt_parent(span: &tracing::Span, headers: &HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&Incoming(headers));
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: then there is nothing to join.
        let _ = span.set_parent(parent);
    }
}

/// Writes `span`'s trace context into `headers` (`traceparent`, and `tracestate` if any).
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let context = span.context();
    TraceContextPropagator::new().inject_context(&context, &mut Outgoing(headers));
}

/// The current span's `traceparent`, to keep with what it begins (an operation) so that later
/// work on it, in another trace, can link back. `None` when tracing is off or unsampled-out.
pub fn current_traceparent() -> Option<String> {
    let mut headers = HeaderMap::new();
    inject(&tracing::Span::current(), &mut headers);
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Links `span` to the trace a stored `traceparent` names (a reconciler's look at an operation
/// → the call that began it). Call it before the span is first entered: links added to a
/// started span did not reach the exporter here. A malformed or empty value adds nothing.
pub fn link_to(span: &tracing::Span, traceparent: &str) {
    let mut headers = HeaderMap::new();
    let Ok(value) = http::HeaderValue::from_str(traceparent) else {
        return;
    };
    headers.insert("traceparent", value);
    let linked = TraceContextPropagator::new().extract(&Incoming(&headers));
    span.add_link(linked.span().span_context().clone());
}
