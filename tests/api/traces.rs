//! Traces over OTLP, checked at a real OTLP/gRPC receiver on loopback: the caller's
//! `traceparent` parents paygate's RPC span, each provider HTTP call is a child span whose
//! context reaches the processor, webhooks join the sender's trace, reconciler passes are
//! traces of their own, log lines carry the ids, and no attribute holds secrets or payloads.
//!
//! The subscriber is this test thread's (`set_default`), built from the production pieces:
//! `Traces::layer`, `TraceIdsLayer` and `json_logs`. `#[tokio::test]` runs the app on this
//! thread, so its spans land here.

use crate::helpers::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use paygate::config::TelemetrySettings;
use paygate::providers::mock::wire::Faults;
use paygate::traces::{TraceIdsLayer, Traces};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_stream::wrappers::TcpListenerStream;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP trace receiver that keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

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
    async fn start() -> (Receiver, String) {
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

    fn spans(&self) -> Vec<Span> {
        self.0.lock().unwrap().clone()
    }
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

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
    fn json(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// Starts exporting to `endpoint` and captures this thread's spans and JSON logs.
fn trace_this_thread(endpoint: &str) -> (Traces, Lines, tracing::subscriber::DefaultGuard) {
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
async fn wait_for(
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

fn attr(span: &Span, key: &str) -> Option<String> {
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
fn assert_nothing_secret(spans: &[Span]) {
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

#[tokio::test]
async fn an_authorize_joins_the_callers_trace_down_to_the_processor() {
    let (receiver, endpoint) = Receiver::start().await;
    let (traces, lines, _guard) = trace_this_thread(&endpoint);
    let app = TestApp::spawn().await;

    let mut req = tonic::Request::new(authorize_req("traced-1", 2_500, "MAD", ""));
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    req.metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    req.metadata_mut()
        .insert("tracestate", "shop=checkout".parse().unwrap());
    let payment = app.client().authorize(req).await.unwrap().into_inner();
    assert_eq!(
        payment.status(),
        paygate::grpc::proto::PaymentStatus::Authorized
    );

    let trace_id = hex::decode(TRACE_ID).unwrap();
    let rpc_name = "paygate.v1.PaymentGateway/Authorize";
    let spans = wait_for(&traces, &receiver, |s| s.name == rpc_name).await;
    let rpc = spans.iter().find(|s| s.name == rpc_name).unwrap();
    assert_eq!(
        rpc.trace_id, trace_id,
        "the RPC span is in the caller's trace"
    );
    assert_eq!(
        hex::encode(&rpc.parent_span_id),
        CALLER_SPAN,
        "and its parent is the caller's span"
    );
    assert_eq!(rpc.kind, SpanKind::Server as i32);
    assert_eq!(attr(rpc, "rpc.method").as_deref(), Some("Authorize"));
    assert_eq!(attr(rpc, "rpc.grpc.status_code").as_deref(), Some("0"));

    // Every span of the call: the RPC, the use case, one per provider HTTP attempt.
    let in_trace: Vec<&Span> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let calls: Vec<&Span> = in_trace
        .iter()
        .copied()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .collect();
    assert!(!calls.is_empty(), "no provider call span in {in_trace:?}");
    let call = calls[0];
    assert_eq!(attr(call, "provider").as_deref(), Some("mock"));
    assert_eq!(attr(call, "operation").as_deref(), Some("create_payment"));
    assert_eq!(attr(call, "attempt").as_deref(), Some("1"));
    assert_eq!(attr(call, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(
        attr(call, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attr(call, "outcome").as_deref(), Some("answered"));
    // The call hangs under the RPC span (through the use case's span).
    let mut parent = call.parent_span_id.clone();
    let mut hops = 0;
    while parent != rpc.span_id {
        let up = in_trace
            .iter()
            .find(|s| s.span_id == parent)
            .unwrap_or_else(|| panic!("broken parent chain from {:?}", call.name));
        parent = up.parent_span_id.clone();
        hops += 1;
        assert!(hops < 10, "no path from the provider call to the RPC span");
    }

    // The processor saw this trace, with the provider call's span as its parent.
    let seen: Vec<String> = reqwest::get(app.mock_api_url().join("_traceparents").unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = format!("00-{TRACE_ID}-{}-01", hex::encode(&call.span_id));
    assert!(
        seen.contains(&expected),
        "processor saw {seen:?}, wanted {expected}"
    );

    // Log lines written inside the call carry its ids.
    let logged: Vec<serde_json::Value> = lines
        .json()
        .into_iter()
        .filter(|l| l["trace_id"] == TRACE_ID)
        .collect();
    assert!(
        !logged.is_empty(),
        "no log line with the trace id: {:?}",
        lines.json()
    );
    // Each line names the span it was logged in, one of this trace's.
    let span_ids: Vec<String> = in_trace.iter().map(|s| hex::encode(&s.span_id)).collect();
    for line in &logged {
        let id = line["span_id"].as_str().unwrap_or_default();
        assert!(
            span_ids.iter().any(|s| s == id),
            "{line} names no span of the trace"
        );
    }

    // The export counters saw them: every span the receiver holds was counted as exported.
    let metrics = app.metrics().await;
    let exported = metric_value(&metrics, "paygate_trace_spans_exported_total");
    let ended = metric_value(&metrics, "paygate_trace_spans_ended_total");
    assert!(
        exported >= spans.len() as f64,
        "{exported} exported, {} received",
        spans.len()
    );
    assert!(ended >= exported, "{ended} ended, {exported} exported");

    // The log lines are also span events; they are checked too, so there must be some.
    assert!(spans.iter().any(|s| !s.events.is_empty()), "no span events");
    assert_nothing_secret(&spans);
}

#[tokio::test]
async fn a_webhook_joins_the_senders_trace() {
    let (receiver, endpoint) = Receiver::start().await;
    let (traces, _lines, _guard) = trace_this_thread(&endpoint);
    let app = TestApp::spawn().await;
    let status = reqwest::Client::new()
        .post(format!("{}/webhooks/mock/default", app.http_base()))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert!(
        status.is_client_error(),
        "an unsigned webhook is refused, got {status}"
    );
    let name = "POST /webhooks/{provider}/{merchant}";
    let spans = wait_for(&traces, &receiver, |s| s.name == name).await;
    let span = spans.iter().find(|s| s.name == name).unwrap();
    assert_eq!(hex::encode(&span.trace_id), TRACE_ID);
    assert_eq!(hex::encode(&span.parent_span_id), CALLER_SPAN);
    assert_eq!(
        attr(span, "http.response.status_code"),
        Some(status.as_u16().to_string())
    );
    assert_nothing_secret(&spans);
}

#[tokio::test]
async fn a_reconciler_pass_is_a_trace_of_its_own() {
    let (receiver, endpoint) = Receiver::start().await;
    let (traces, _lines, _guard) = trace_this_thread(&endpoint);
    let app = TestApp::spawn_with(|s| s.server.provider_timeout = Duration::from_millis(300)).await;
    let faults = Faults {
        timeout_delay_ms: 1_500,
        ..Default::default()
    };
    app.mock_api().set_faults(&faults).await.unwrap();
    let mut req = tonic::Request::new(authorize_req(
        "traced-unknown",
        2_500,
        "MAD",
        "mock_timeout",
    ));
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    app.client().authorize(req).await.unwrap();

    // The pass that settles the unknown authorization, once it is due.
    let spans = wait_for(&traces, &receiver, |s| {
        s.name == "reconcile_pass" && attr(s, "settled").as_deref() == Some("1")
    })
    .await;
    let pass = spans
        .iter()
        .find(|s| s.name == "reconcile_pass" && attr(s, "settled").as_deref() == Some("1"))
        .unwrap();
    assert!(pass.parent_span_id.is_empty(), "a pass is a root span");
    assert_ne!(
        hex::encode(&pass.trace_id),
        TRACE_ID,
        "not the caller's trace"
    );
    let lookups: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == pass.trace_id && s.kind == SpanKind::Client as i32)
        .collect();
    assert!(
        !lookups.is_empty(),
        "the pass's provider lookup is in its trace"
    );
    assert_nothing_secret(&spans);
}

#[tokio::test]
async fn a_dead_collector_fails_no_request_and_is_counted() {
    // A port nothing listens on: every export is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (traces, _lines, _guard) = trace_this_thread(&endpoint);
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for i in 0..5 {
        authorized(&mut client, &format!("dead-collector-{i}"), 1_000).await;
    }
    let t = traces.clone();
    tokio::task::spawn_blocking(move || t.flush())
        .await
        .unwrap();
    let metrics = app.metrics().await;
    let failed = metric_value(&metrics, "paygate_trace_spans_export_failed_total");
    let exported = metric_value(&metrics, "paygate_trace_spans_exported_total");
    let ended = metric_value(&metrics, "paygate_trace_spans_ended_total");
    // Five calls, each with at least its RPC, use-case and provider-call spans.
    assert!(ended >= 15.0, "{ended} spans ended");
    assert_eq!(exported, 0.0);
    assert!(
        failed >= 15.0,
        "{failed} spans counted as failed, {ended} ended"
    );
}
