//! Calls that were never sent leave nothing anybody can see: no FAILED payment, no operation,
//! no event. The caller's retry with the same key continues the same call, and the caller's
//! view (one payment), the ledger and the event stream agree.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use paygate::providers::mock::wire::{FaultStep, Faults};
use std::time::Duration;
use tokio_stream::StreamExt;

async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| s.provider_calls.max_attempts = 1).await
}

async fn script(app: &TestApp, steps: Vec<FaultStep>) {
    let faults = Faults {
        script: steps,
        ..Faults::default()
    };
    app.mock_api().set_faults(&faults).await.unwrap();
}

async fn event_types(app: &TestApp) -> Vec<String> {
    let mut events = app
        .client()
        .watch_events(pb::WatchEventsRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let mut types = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(500), events.next()).await {
        types.push(e.unwrap().r#type);
    }
    types
}

#[tokio::test]
async fn refusals_then_a_success_leave_one_payment_and_one_event() {
    let app = spawn().await;
    let mut client = app.client();
    script(&app, vec![FaultStep::Refuse; 3]).await;
    for _ in 0..3 {
        let refused = client
            .authorize(authorize_req("order-77", 5_000, "MAD", ""))
            .await;
        assert_error(refused, tonic::Code::Unavailable, "PROVIDER_UNAVAILABLE");
    }
    assert!(
        app.list_all().await.is_empty(),
        "nothing visible after refusals"
    );
    let p = authorized(&mut client, "order-77", 5_000).await;
    let all = app.list_all().await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].id, p.id);
    assert_eq!(all[0].operations.len(), 1);
    assert_eq!(event_types(&app).await, ["payment.authorized"]);
    assert_eq!(app.ledger().await.authorizations, 1);
    // Other parameters under the same key are a reuse, refused or not.
    let other = client
        .authorize(authorize_req("order-77", 6_000, "MAD", ""))
        .await;
    assert_error(
        other,
        tonic::Code::FailedPrecondition,
        "IDEMPOTENCY_KEY_REUSED",
    );
}

#[tokio::test]
async fn a_capture_never_sent_leaves_no_operation_and_its_retry_continues_it() {
    let app = spawn().await;
    let mut client = app.client();
    let p = authorized(&mut client, "order-78", 5_000).await;
    script(&app, vec![FaultStep::Refuse]).await;
    let refused = client
        .capture(capture_req("cap-78", &p.id, mad(2_000)))
        .await;
    assert_error(refused, tonic::Code::Unavailable, "PROVIDER_UNAVAILABLE");
    let now = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.operations.len(), 1, "{now:?}");
    assert_eq!(now.status(), pb::PaymentStatus::Authorized);
    let captured = client
        .capture(capture_req("cap-78", &p.id, mad(2_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(captured.status(), pb::PaymentStatus::PartiallyCaptured);
    assert_eq!(captured.operations.len(), 2);
    assert_eq!(app.ledger().await.captured_total, 2_000);
    assert_eq!(
        event_types(&app).await,
        ["payment.authorized", "payment.captured"]
    );
}
