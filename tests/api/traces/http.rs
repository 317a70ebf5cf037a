//! Webhooks and callbacks on the HTTP port: joined to the sender's trace, or traces of their own.

use super::*;
use crate::helpers::*;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

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

/// CMI's callback carries no trace context: it is a trace of its own, with the use case under
/// the request's span, and none of the card fields CMI posts (PAN, HASH) in any attribute.
#[tokio::test]
async fn a_cmi_callback_is_a_trace_of_its_own() {
    use crate::cmi::{cmi_req, pay};
    use crate::emulators::cmi::{CARD_3DS_OK, CmiEmulator};
    let (receiver, endpoint) = Receiver::start().await;
    let (traces, _lines, _guard) = trace_this_thread(&endpoint);
    let emu = CmiEmulator::spawn().await;
    let app = TestApp::spawn_with_cmi(&emu, |_| {}).await;
    let mut client = app.client();
    let mut req = tonic::Request::new(cmi_req("traced-cmi", 15_000, false));
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    let p = client.authorize(req).await.unwrap().into_inner();
    let form = match p.next_action.as_ref().and_then(|n| n.action.clone()) {
        Some(paygate::grpc::proto::next_action::Action::FormPost(f)) => f,
        other => panic!("expected a form_post, got {other:?}"),
    };
    pay(&emu, &form, CARD_3DS_OK).await;

    let name = "POST /webhooks/cmi/{merchant}";
    let spans = wait_for(&traces, &receiver, |s| s.name == name).await;
    let request = spans.iter().find(|s| s.name == name).unwrap();
    assert!(
        request.parent_span_id.is_empty(),
        "a callback is a root span"
    );
    assert_ne!(
        hex::encode(&request.trace_id),
        TRACE_ID,
        "not the shop's trace"
    );
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(
        attr(request, "http.response.status_code").as_deref(),
        Some("200")
    );
    let use_case = spans
        .iter()
        .find(|s| s.name == "cmi_callback" && s.trace_id == request.trace_id)
        .expect("the cmi_callback span in the callback's trace");
    assert_eq!(use_case.parent_span_id, request.span_id);
    assert_eq!(attr(use_case, "payment_id").as_deref(), Some(p.id.as_str()));
    assert_nothing_secret(&spans);
}

/// The JSON API joins the caller's trace like gRPC does: `traceparent` on the HTTP request
/// parents the call's span, and the provider call hangs in the same trace.
#[tokio::test]
async fn a_json_api_call_joins_the_callers_trace() {
    let (receiver, endpoint) = Receiver::start().await;
    let (traces, _lines, _guard) = trace_this_thread(&endpoint);
    let app = TestApp::spawn().await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/payments", app.grpc_addr()))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .header("idempotency-key", "traced-json-1")
        .json(&serde_json::json!({
            "provider": "mock",
            "amount": {"currency": "MAD", "minorUnits": "2500"},
            "merchantReference": "order-traced-json",
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    let name = "POST /v1/payments";
    let spans = wait_for(&traces, &receiver, |s| s.name == name).await;
    let span = spans.iter().find(|s| s.name == name).unwrap();
    assert_eq!(hex::encode(&span.trace_id), TRACE_ID);
    assert_eq!(hex::encode(&span.parent_span_id), CALLER_SPAN);
    assert_eq!(
        attr(span, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(
        spans
            .iter()
            .any(|s| hex::encode(&s.trace_id) == TRACE_ID && s.kind == SpanKind::Client as i32),
        "the provider call is in the caller's trace"
    );
    assert_nothing_secret(&spans);
}
