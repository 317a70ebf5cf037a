//! Reconciler passes are traces of their own, linked to the traces of the calls that began
//! the operations they settle.

use super::*;
use crate::helpers::*;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use paygate::providers::mock::wire::Faults;
use std::time::Duration;

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
    // The look at the operation is linked to the trace of the call that began it.
    let look = spans
        .iter()
        .find(|s| s.name == "reconcile_operation" && s.trace_id == pass.trace_id)
        .expect("a span per operation in the pass's trace");
    assert!(
        !look.parent_span_id.is_empty(),
        "inside the pass, not a root"
    );
    let linked: Vec<String> = look
        .links
        .iter()
        .map(|l| hex::encode(&l.trace_id))
        .collect();
    assert_eq!(
        linked,
        vec![TRACE_ID.to_owned()],
        "linked to the caller's trace"
    );
    assert_nothing_secret(&spans);
}
