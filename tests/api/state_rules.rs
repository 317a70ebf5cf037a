//! DESIGN.md §4: what a payment's state forbids is FAILED_PRECONDITION with a precise reason,
//! and a refused operation moves no money and changes nothing.

use crate::helpers::*;
use paygate::grpc::proto::PaymentStatus;
use tonic::Code;

#[tokio::test]
async fn capture_or_refund_in_another_currency_is_currency_mismatch() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let p = authorized(&mut client, "cur-mismatch", 10_000).await;
    let err = client
        .capture(capture_req("cm-cap", &p.id, Some(money(1_000, "EUR"))))
        .await;
    assert_error(err, Code::FailedPrecondition, "CURRENCY_MISMATCH");

    let p = client
        .capture(capture_req("cm-cap-ok", &p.id, None))
        .await
        .expect("capture")
        .into_inner();
    let err = client
        .refund(refund_req("cm-ref", &p.id, Some(money(1_000, "USD"))))
        .await;
    assert_error(err, Code::FailedPrecondition, "CURRENCY_MISMATCH");

    let after = client
        .get_payment(get_req(&p.id))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(after, p, "a refused operation changes nothing");
    assert_eq!(
        amount_of(after.amount.as_ref()).1,
        "MAD",
        "the currency never changes"
    );
    assert_eq!(app.ledger().await.refunded_total, 0);
}

#[tokio::test]
async fn operations_the_state_forbids_are_invalid_state() {
    let app = TestApp::spawn().await;
    let mut client = app.client();

    // Capture after void.
    let voided = authorized(&mut client, "st-void", 10_000).await;
    client
        .void(void_req("st-void-1", &voided.id))
        .await
        .expect("void");
    let err = client
        .capture(capture_req("st-cap-after-void", &voided.id, None))
        .await;
    assert_error(err, Code::FailedPrecondition, "INVALID_STATE");
    let err = client
        .refund(refund_req("st-ref-after-void", &voided.id, None))
        .await;
    assert_eq!(
        err.expect_err("refund after void").code(),
        Code::FailedPrecondition
    );
    let err = client.void(void_req("st-void-2", &voided.id)).await;
    assert_error(err, Code::FailedPrecondition, "INVALID_STATE");

    // Void after (partial) capture.
    let captured = authorized(&mut client, "st-cap", 10_000).await;
    client
        .capture(capture_req("st-cap-1", &captured.id, mad(1_000)))
        .await
        .expect("capture");
    let err = client
        .void(void_req("st-void-after-cap", &captured.id))
        .await;
    assert_error(err, Code::FailedPrecondition, "INVALID_STATE");

    // Refund before any capture.
    let fresh = authorized(&mut client, "st-fresh", 10_000).await;
    let err = client
        .refund(refund_req("st-ref-before-cap", &fresh.id, mad(100)))
        .await;
    let status = err.expect_err("refund before capture");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        ["INVALID_STATE", "AMOUNT_EXCEEDS_REFUNDABLE"].contains(&reason(&status).as_str()),
        "reason {}",
        reason(&status)
    );

    let ledger = app.ledger().await;
    assert_eq!(ledger.captured_total, 1_000);
    assert_eq!(ledger.refunded_total, 0);
    let still = client
        .get_payment(get_req(&fresh.id))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(still.status(), PaymentStatus::Authorized);
    assert_eq!(
        still.operations.len(),
        1,
        "no refused operation is recorded as a money movement"
    );
}

#[tokio::test]
async fn amounts_beyond_what_is_left_are_refused() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let p = authorized(&mut client, "beyond", 10_000).await;
    let err = client
        .capture(capture_req("beyond-cap", &p.id, mad(10_001)))
        .await;
    assert_error(err, Code::FailedPrecondition, "AMOUNT_EXCEEDS_CAPTURABLE");
    let err = client
        .capture(capture_req("beyond-cap-max", &p.id, mad(i64::MAX)))
        .await;
    assert_error(err, Code::FailedPrecondition, "AMOUNT_EXCEEDS_CAPTURABLE");
    client
        .capture(capture_req("beyond-cap-ok", &p.id, mad(6_000)))
        .await
        .expect("capture 60");
    let err = client
        .capture(capture_req("beyond-cap-2", &p.id, mad(4_001)))
        .await;
    assert_error(err, Code::FailedPrecondition, "AMOUNT_EXCEEDS_CAPTURABLE");

    let err = client
        .refund(refund_req("beyond-ref", &p.id, mad(6_001)))
        .await;
    assert_error(err, Code::FailedPrecondition, "AMOUNT_EXCEEDS_REFUNDABLE");
    let err = client
        .refund(refund_req("beyond-ref-max", &p.id, mad(i64::MAX)))
        .await;
    assert_error(err, Code::FailedPrecondition, "AMOUNT_EXCEEDS_REFUNDABLE");
    client
        .refund(refund_req("beyond-ref-ok", &p.id, mad(3_000)))
        .await
        .expect("refund 30");
    let err = client
        .refund(refund_req("beyond-ref-2", &p.id, mad(3_001)))
        .await;
    assert_error(err, Code::FailedPrecondition, "AMOUNT_EXCEEDS_REFUNDABLE");
    client
        .refund(refund_req("beyond-ref-ok-2", &p.id, mad(3_000)))
        .await
        .expect("refund the other 30");
    // Fully refunded: nothing more, whatever the reason given.
    let status = client
        .refund(refund_req("beyond-ref-3", &p.id, mad(1)))
        .await
        .expect_err("nothing left");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    let ledger = app.ledger().await;
    assert_eq!(ledger.captured_total, 6_000);
    assert_eq!(ledger.refunded_total, 6_000);
    let after = client
        .get_payment(get_req(&p.id))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(amount_of(after.captured.as_ref()).0, 6_000);
    assert_eq!(amount_of(after.refunded.as_ref()).0, 6_000);
    assert_eq!(after.status(), PaymentStatus::Refunded);
}

#[tokio::test]
async fn unknown_and_foreign_payment_ids_are_the_same_not_found() {
    let app = TestApp::spawn_multi_merchant().await;
    let mut client = app.client();
    let theirs = client
        .authorize(authed(
            authorize_req("nf-atlas", 10_000, "MAD", ""),
            ATLAS_KEY,
        ))
        .await
        .expect("atlas authorize")
        .into_inner();
    let unknown = uuid::Uuid::now_v7().to_string();

    let mut messages = Vec::new();
    for id in [unknown.as_str(), theirs.id.as_str()] {
        let status = assert_error(
            client.get_payment(authed(get_req(id), SOUK_KEY)).await,
            Code::NotFound,
            "PAYMENT_NOT_FOUND",
        );
        messages.push(status.message().to_owned());
        let err = client
            .capture(authed(capture_req("nf-cap", id, None), SOUK_KEY))
            .await;
        assert_error(err, Code::NotFound, "PAYMENT_NOT_FOUND");
        let err = client.void(authed(void_req("nf-void", id), SOUK_KEY)).await;
        assert_error(err, Code::NotFound, "PAYMENT_NOT_FOUND");
        let err = client
            .refund(authed(refund_req("nf-ref", id, None), SOUK_KEY))
            .await;
        assert_error(err, Code::NotFound, "PAYMENT_NOT_FOUND");
    }
    assert_eq!(
        messages[0], messages[1],
        "a foreign payment is indistinguishable from a missing one"
    );
}
