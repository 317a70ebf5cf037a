//! Traces over OTLP, checked at a real OTLP/gRPC receiver on loopback: the caller's
//! `traceparent` parents paygate's RPC span, each provider HTTP call is a child span whose
//! context reaches the processor, webhooks join the sender's trace, reconciler passes are
//! traces of their own, log lines carry the ids, and no attribute holds secrets or payloads.
//!
//! The subscriber is this test thread's (`set_default`), built from the production pieces:
//! `Traces::layer`, `TraceIdsLayer` and `json_logs`. `#[tokio::test]` runs the app on this
//! thread, so its spans land here.

mod grpc;
mod http;
mod reconcile;
mod shop_webhooks;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use paygate::config::TelemetrySettings;
use paygate::traces::{TraceIdsLayer, Traces};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_stream::wrappers::TcpListenerStream;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

pub(super) const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(super) const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP trace receiver that keeps every span it is sent.
#[derive(Clone, Default)]
pub(super) struct Receiver(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.0.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    pub(super) async fn start() -> (Receiver, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = Receiver::default();
        let service = TraceServiceServer::new(receiver.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        (receiver, format!("http://{addr}"))
    }

    pub(super) fn spans(&self) -> Vec<Span> {
        self.0.lock().unwrap().clone()
    }
}

#[derive(Clone, Default)]
pub(super) struct Lines(Arc<Mutex<Vec<u8>>>);

impl io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

impl Lines {
    pub(super) fn json(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// Starts exporting to `endpoint` and captures this thread's spans and JSON logs.
pub(super) fn trace_this_thread(
    endpoint: &str,
) -> (Traces, Lines, tracing::subscriber::DefaultGuard) {
    let settings = TelemetrySettings {
        otlp_endpoint: Some(endpoint.to_owned()),
        sampling_ratio: 1.0,
    };
    let traces = Traces::start(&settings)
        .unwrap()
        .expect("an endpoint is set");
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry()
        // DEBUG: a successful Authorize logs nothing at INFO; its SQL statements are logged at DEBUG.
        .with(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with(traces.layer())
        .with(TraceIdsLayer::default())
        .with(paygate::telemetry::json_logs(lines.clone()));
    let guard = tracing::subscriber::set_default(subscriber);
    (traces, lines, guard)
}

/// Waits until the receiver holds a span `wanted` accepts, flushing the exporter meanwhile.
pub(super) async fn wait_for(
    traces: &Traces,
    receiver: &Receiver,
    wanted: impl Fn(&Span) -> bool,
) -> Vec<Span> {
    for _ in 0..100 {
        let t = traces.clone();
        tokio::task::spawn_blocking(move || t.flush())
            .await
            .unwrap();
        let spans = receiver.spans();
        if spans.iter().any(&wanted) {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<String> = receiver.spans().iter().map(|s| s.name.clone()).collect();
    panic!("the wanted span never reached the receiver; got {names:?}");
}

pub(super) fn attr(span: &Span, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?;
    match value.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// No attribute value may hold a bearer key, a webhook secret, a card-number-like digit run,
/// or a payload (JSON, or a long attribute). Span events (the log lines inside a span) are
/// checked the same way, except for length: a log message may be long.
/// Route patterns (`/webhooks/{provider}`) are fine.
pub(super) fn assert_nothing_secret(spans: &[Span]) {
    for span in spans {
        let events = span.events.iter().flat_map(|e| e.attributes.iter());
        let all = span.attributes.iter().map(|kv| (kv, true));
        for (kv, is_attribute) in all.chain(events.map(|kv| (kv, false))) {
            let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
                continue;
            };
            let text = match value {
                Value::StringValue(s) => s.clone(),
                other => format!("{other:?}"),
            };
            let digits = text
                .split(|c: char| !c.is_ascii_digit())
                .map(str::len)
                .max()
                .unwrap_or(0);
            let lower = text.to_ascii_lowercase();
            assert!(
                digits < 13
                    && !lower.contains("bearer")
                    && !lower.contains("whsec")
                    && !text.contains("{\"")
                    && !text.contains("\":")
                    && (!is_attribute || text.len() < 200),
                "span {:?} {} {} = {text}",
                span.name,
                if is_attribute {
                    "attribute"
                } else {
                    "event field"
                },
                kv.key
            );
        }
    }
}
