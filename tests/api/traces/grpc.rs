//! gRPC calls join the caller's trace down to the processor; a dead collector fails nothing.

use super::*;
use crate::helpers::*;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

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
