//! Counts the spans a failed export lost, for `paygate_trace_spans_export_failed_total`.
//!
//! The counter is process-wide because the tracer is: `main` installs one global subscriber
//! before the app (and its metrics registry) exists, and every `Metrics` registers this counter.

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use prometheus_client::metrics::counter::Counter;
use std::sync::LazyLock;
use std::time::Duration;

static EXPORT_FAILED: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Spans handed to the collector in an export that failed (collector down, refused, timed out).
pub fn spans_export_failed() -> Counter {
    EXPORT_FAILED.clone()
}

/// The OTLP exporter, counting what it fails to deliver.
#[derive(Debug)]
pub(super) struct Counting<E> {
    inner: E,
}

impl<E> Counting<E> {
    pub(super) fn new(inner: E) -> Self {
        Self { inner }
    }
}

impl<E: SpanExporter> SpanExporter for Counting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let result = self.inner.export(batch).await;
        if result.is_err() {
            EXPORT_FAILED.inc_by(spans);
        }
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
