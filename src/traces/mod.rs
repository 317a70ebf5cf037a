//! Traces over OTLP: the OpenTelemetry tracer behind the `tracing` spans paygate already opens,
//! W3C trace context in and out, and trace ids on log lines.
//!
//! Off unless `[telemetry] otlp_endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) names a collector.
//! Spans leave through a batch processor: a request only appends to a bounded queue, and a
//! background thread exports. A dead or slow collector therefore never blocks or slows a
//! request; when the queue is full, new spans are dropped. `export` counts spans ended,
//! exported and lost in failed exports, so the drops show as the difference.

mod export;
mod log_ids;
mod propagation;

pub use export::{SpanCounters, span_counters};
pub use log_ids::{TraceIdsLayer, WithTraceIds};
pub use propagation::{adopt_parent, current_traceparent, inject, link_to};

use crate::config::TelemetrySettings;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use std::time::Duration;
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

/// Spans waiting for export at most; beyond, new spans are dropped rather than kept in memory.
const MAX_QUEUE: usize = 4096;
/// One export attempt's limit: the batch thread, not a request, waits this long at most.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running exporter. Keep it for the life of the process and call [`Traces::shutdown`] at
/// the end so the last batch is sent. Clones share the exporter.
///
/// `flush` and `shutdown` block until the export thread is done, and that thread's gRPC
/// connection is driven by the Tokio runtime: call them from `spawn_blocking`, never on a
/// runtime thread (on a current-thread runtime that would wait forever).
#[derive(Clone)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Builds the exporter if an endpoint is configured. Must run inside a Tokio runtime: the
    /// tonic channel spawns its connection there.
    pub fn start(settings: &TelemetrySettings) -> anyhow::Result<Option<Traces>> {
        let Some(endpoint) = &settings.otlp_endpoint else {
            return Ok(None);
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the OTLP exporter for {endpoint}: {e}"))?;
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(MAX_QUEUE)
            .build();
        let processor = BatchSpanProcessor::builder(export::CountingExporter::new(exporter))
            .with_batch_config(batch)
            .build();
        let processor = export::CountingProcessor::new(processor);
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sampling_ratio,
        )));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(sampler)
            .with_resource(resource())
            .build();
        Ok(Some(Traces { provider }))
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans for this exporter.
    pub fn layer<S>(
        &self,
    ) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("paygate"))
    }

    /// Sends what is queued now (tests read the collector right after).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::debug!(error = %e, "trace flush failed");
        }
    }

    /// Sends the last batch and stops the export thread.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::debug!(error = %e, "trace exporter shutdown failed");
        }
    }
}

/// `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` as the SDK reads them, with `paygate`
/// instead of the SDK's `unknown_service` when neither names the service.
fn resource() -> Resource {
    let version = KeyValue::new("service.version", env!("CARGO_PKG_VERSION"));
    let detected = Resource::builder().with_attribute(version.clone()).build();
    let unnamed = detected
        .get(&Key::new("service.name"))
        .is_none_or(|name| name.as_str().starts_with("unknown_service"));
    if unnamed {
        Resource::builder()
            .with_service_name("paygate")
            .with_attribute(version)
            .build()
    } else {
        detected
    }
}
