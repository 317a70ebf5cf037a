//! Counts spans on their way out, so a lossy export shows on `/metrics`:
//! `paygate_trace_spans_ended_total` (sampled spans handed to the batch queue),
//! `paygate_trace_spans_exported_total` (accepted by the collector) and
//! `paygate_trace_spans_export_failed_total` (in an export that failed). The SDK keeps its
//! queue-full drop count private; ended − exported − failed is that count (plus the few
//! spans still queued).
//!
//! The counters are process-wide because the tracer is: `main` installs one global subscriber
//! before the app (and its metrics registry) exists, and every `Metrics` registers them.

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use prometheus_client::metrics::counter::Counter;
use std::sync::LazyLock;
use std::time::Duration;

/// The three counters, in the order of the module doc.
pub struct SpanCounters {
    pub ended: Counter,
    pub exported: Counter,
    pub export_failed: Counter,
}

static COUNTERS: LazyLock<SpanCounters> = LazyLock::new(|| SpanCounters {
    ended: Counter::default(),
    exported: Counter::default(),
    export_failed: Counter::default(),
});

/// The process's span counters (clones share their values).
pub fn span_counters() -> SpanCounters {
    SpanCounters {
        ended: COUNTERS.ended.clone(),
        exported: COUNTERS.exported.clone(),
        export_failed: COUNTERS.export_failed.clone(),
    }
}

/// Counts the spans a processor (the batch one) is handed.
#[derive(Debug)]
pub(super) struct CountingProcessor<P> {
    inner: P,
}

impl<P> CountingProcessor<P> {
    pub(super) fn new(inner: P) -> Self {
        Self { inner }
    }
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        COUNTERS.ended.inc();
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP exporter, counting what it delivers and what it fails to.
#[derive(Debug)]
pub(super) struct CountingExporter<E> {
    inner: E,
}

impl<E> CountingExporter<E> {
    pub(super) fn new(inner: E) -> Self {
        Self { inner }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => COUNTERS.exported.inc_by(spans),
            Err(_) => COUNTERS.export_failed.inc_by(spans),
        };
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
