//! Webhooks to the shop are traces of their own, each attempt linked to the trace of the call
//! that led to the event, and sent with its own `traceparent`.

use super::*;
use crate::helpers::*;
use crate::shop_webhooks::{Mode, Receiver as Shop, delivery, endpoint};

#[tokio::test]
async fn a_delivery_to_the_shop_links_to_the_callers_trace() {
    let (receiver, otlp) = Receiver::start().await;
    let (traces, _lines, _guard) = trace_this_thread(&otlp);
    let shop = Shop::start(Mode::Ok).await;
    let app = TestApp::spawn_with(|s| {
        let merchant = s.merchants[0].id.to_string();
        s.merchants[0].webhook_endpoints = vec![endpoint("we_traced", &merchant, &shop, &[])];
        s.webhooks = delivery(&[0, 1], Duration::from_secs(5));
    })
    .await;
    let mut req = tonic::Request::new(authorize_req("traced-hook", 2_500, "MAD", ""));
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    app.client().authorize(req).await.unwrap();
    let got = shop
        .wait_for(Duration::from_secs(10), "the authorized event", |got| {
            !got.is_empty()
        })
        .await;

    let spans = wait_for(&traces, &receiver, |s| s.name == "webhook_delivery").await;
    let attempt = spans.iter().find(|s| s.name == "webhook_delivery").unwrap();
    assert!(attempt.parent_span_id.is_empty(), "a trace of its own");
    assert_ne!(hex::encode(&attempt.trace_id), TRACE_ID);
    let linked: Vec<String> = attempt
        .links
        .iter()
        .map(|l| hex::encode(&l.trace_id))
        .collect();
    assert_eq!(
        linked,
        vec![TRACE_ID.to_owned()],
        "linked to the caller's trace"
    );
    // The shop gets the attempt's own context, to continue that trace.
    let attempt_trace = hex::encode(&attempt.trace_id);
    assert!(
        got.iter().any(|r| r.traceparent.contains(&attempt_trace)),
        "traceparent {:?} carries the attempt's trace {attempt_trace}",
        got.iter().map(|r| &r.traceparent).collect::<Vec<_>>()
    );
    assert_nothing_secret(&spans);
}
