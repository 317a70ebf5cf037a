//! DESIGN.md §2.2: same key + same parameters replays; other parameters are refused; the key's
//! scope is (merchant, method, key).

use crate::helpers::*;
use paygate::grpc::proto::PaymentStatus;
use tonic::Code;

#[tokio::test]
async fn same_key_and_same_params_replay_the_same_response_without_a_second_provider_call() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let first = client
        .authorize(authorize_req("idem-auth", 10_000, "MAD", ""))
        .await
        .expect("first")
        .into_inner();
    let again = client
        .authorize(authorize_req("idem-auth", 10_000, "MAD", ""))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(again, first, "a replay is the same response");
    let ledger = app.ledger().await;
    assert_eq!(ledger.authorizations, 1);
    let requests_after_auth = ledger.requests;

    let captured = client
        .capture(capture_req("idem-cap", &first.id, mad(4_000)))
        .await
        .expect("capture")
        .into_inner();
    assert_eq!(captured.status(), PaymentStatus::PartiallyCaptured);
    let replay = client
        .capture(capture_req("idem-cap", &first.id, mad(4_000)))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replay.id, captured.id);
    assert_eq!(
        amount_of(replay.captured.as_ref()).0,
        4_000,
        "replayed, not captured twice"
    );
    assert_eq!(
        replay.operations.len(),
        2,
        "no second capture operation: {replay:?}"
    );
    let ledger = app.ledger().await;
    assert_eq!(ledger.captured_total, 4_000, "the processor captured once");
    assert_eq!(
        ledger.requests,
        requests_after_auth + 1,
        "one capture request reached the processor"
    );

    // The Authorize replay is still the first answer, not the payment as it is now.
    let late = client
        .authorize(authorize_req("idem-auth", 10_000, "MAD", ""))
        .await
        .expect("late")
        .into_inner();
    assert_eq!(late, first);

    let stored = client
        .get_payment(get_req(&first.id))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(amount_of(stored.captured.as_ref()).0, 4_000);
    assert_eq!(stored.operations.len(), 2);

    let metrics = app.metrics().await;
    assert!(
        metric_value(
            &metrics,
            "paygate_idempotent_replays_total{method=\"Authorize\"}"
        ) >= 1.0,
        "{metrics}"
    );
    assert!(
        metric_value(
            &metrics,
            "paygate_idempotent_replays_total{method=\"Capture\"}"
        ) >= 1.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn same_key_with_different_params_is_idempotency_key_reused() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let p = client
        .authorize(authorize_req("reuse-auth", 10_000, "MAD", ""))
        .await
        .expect("first")
        .into_inner();
    let err = client
        .authorize(authorize_req("reuse-auth", 10_001, "MAD", ""))
        .await;
    assert_error(err, Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED");
    let err = client
        .authorize(authorize_req("reuse-auth", 10_000, "EUR", ""))
        .await;
    assert_error(err, Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED");
    let mut other_ref = authorize_req("reuse-auth", 10_000, "MAD", "");
    other_ref.merchant_reference = "another-order".into();
    assert_error(
        client.authorize(other_ref).await,
        Code::FailedPrecondition,
        "IDEMPOTENCY_KEY_REUSED",
    );

    client
        .capture(capture_req("reuse-cap", &p.id, mad(1_000)))
        .await
        .expect("capture");
    let err = client
        .capture(capture_req("reuse-cap", &p.id, mad(2_000)))
        .await;
    assert_error(err, Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED");
    let mut final_capture = capture_req("reuse-cap", &p.id, mad(1_000));
    final_capture.final_capture = true;
    assert_error(
        client.capture(final_capture).await,
        Code::FailedPrecondition,
        "IDEMPOTENCY_KEY_REUSED",
    );

    // The same capture key on another payment is a reuse too: the key names one request.
    let other = authorized(&mut client, "reuse-auth-2", 5_000).await;
    let err = client
        .capture(capture_req("reuse-cap", &other.id, mad(1_000)))
        .await;
    assert_error(err, Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED");

    assert_eq!(app.list_all().await.len(), 2, "no extra payment");
    let ledger = app.ledger().await;
    assert_eq!(ledger.authorizations, 2);
    assert_eq!(ledger.captured_total, 1_000);
}

#[tokio::test]
async fn the_same_key_under_two_merchants_does_not_collide() {
    let app = TestApp::spawn_multi_merchant().await;
    let mut client = app.client();
    let a = client
        .authorize(authed(
            authorize_req("shared-key", 10_000, "MAD", ""),
            ATLAS_KEY,
        ))
        .await
        .expect("atlas")
        .into_inner();
    // Different parameters too: under another merchant this is a fresh key, not a reuse.
    let s = client
        .authorize(authed(
            authorize_req("shared-key", 20_000, "MAD", ""),
            SOUK_KEY,
        ))
        .await
        .expect("souk")
        .into_inner();
    assert_ne!(a.id, s.id);
    assert_eq!(amount_of(s.amount.as_ref()).0, 20_000);
    assert_eq!(app.ledger().await.authorizations, 2);
    assert_eq!(list_all(&mut client, Some(ATLAS_KEY)).await.len(), 1);
    assert_eq!(list_all(&mut client, Some(SOUK_KEY)).await.len(), 1);
}

#[tokio::test]
async fn the_same_key_on_different_methods_does_not_collide() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let p = client
        .authorize(authorize_req("one-key", 10_000, "MAD", ""))
        .await
        .expect("authorize")
        .into_inner();
    let p2 = client
        .capture(capture_req("one-key", &p.id, mad(6_000)))
        .await
        .expect("capture")
        .into_inner();
    assert_eq!(p2.status(), PaymentStatus::PartiallyCaptured);
    let p3 = client
        .refund(refund_req("one-key", &p.id, mad(1_000)))
        .await
        .expect("refund")
        .into_inner();
    assert_eq!(p3.status(), PaymentStatus::PartiallyRefunded);

    let other = authorized(&mut client, "other-auth", 3_000).await;
    let v = client
        .void(void_req("one-key", &other.id))
        .await
        .expect("void")
        .into_inner();
    assert_eq!(v.status(), PaymentStatus::Voided);

    let ledger = app.ledger().await;
    assert_eq!(ledger.captured_total, 6_000);
    assert_eq!(ledger.refunded_total, 1_000);
}
