//! Follow-up operation tests: captures, voids and refunds with their limits.

use super::{eur, payment, rejected_code, start};
use crate::providers::mock::wire::{
    AmountRequest, OperationKindWire, OperationResult, PaymentState,
};

#[tokio::test]
async fn partial_and_multiple_captures() {
    let h = start().await;
    let p = h
        .api
        .create_payment("c", &payment("mock_ok", 1000, false))
        .await
        .unwrap();
    let op = h.api.capture("c1", &p.id, &eur(300)).await.unwrap();
    assert!(op.id.starts_with("op_"));
    assert_eq!(
        (op.kind, op.status),
        (OperationKindWire::Capture, OperationResult::Succeeded)
    );
    assert_eq!((op.amount, op.payment_id.as_str()), (300, p.id.as_str()));
    assert_eq!(
        h.api.get_payment(&p.id).await.unwrap().status,
        PaymentState::Captured
    );

    let too_much = h.api.capture("c2", &p.id, &eur(701)).await;
    assert_eq!(
        rejected_code(too_much),
        Some((409, "amount_exceeds_capturable".to_owned()))
    );
    let usd = AmountRequest {
        amount: 100,
        currency: "USD".to_owned(),
    };
    let mismatch = h.api.capture("c2", &p.id, &usd).await;
    assert_eq!(
        rejected_code(mismatch),
        Some((409, "currency_mismatch".to_owned()))
    );

    h.api.capture("c2", &p.id, &eur(700)).await.unwrap();
    let after = h.api.get_payment(&p.id).await.unwrap();
    assert_eq!(
        (after.status, after.captured),
        (PaymentState::Captured, 1000)
    );
    let full = h.api.capture("c3", &p.id, &eur(1)).await;
    assert_eq!(rejected_code(full), Some((409, "invalid_state".to_owned())));

    let missing = h.api.capture("c4", "mp_missing", &eur(1)).await;
    assert_eq!(
        rejected_code(missing),
        Some((404, "payment_not_found".to_owned()))
    );
    let declined = h
        .api
        .create_payment("d", &payment("mock_decline", 100, false))
        .await
        .unwrap();
    let on_declined = h.api.capture("c5", &declined.id, &eur(1)).await;
    assert_eq!(
        rejected_code(on_declined),
        Some((409, "invalid_state".to_owned()))
    );
    assert_eq!(h.api.ledger().await.unwrap().captured_total, 1000);
}

#[tokio::test]
async fn void_releases_an_uncaptured_authorization() {
    let h = start().await;
    let p = h
        .api
        .create_payment("v", &payment("mock_ok", 1000, false))
        .await
        .unwrap();
    let op = h.api.void("v1", &p.id).await.unwrap();
    assert_eq!((op.kind, op.amount), (OperationKindWire::Void, 1000));
    assert_eq!(
        h.api.get_payment(&p.id).await.unwrap().status,
        PaymentState::Voided
    );
    let capture = h.api.capture("c", &p.id, &eur(1)).await;
    assert_eq!(
        rejected_code(capture),
        Some((409, "invalid_state".to_owned()))
    );
    let twice = h.api.void("v2", &p.id).await;
    assert_eq!(
        rejected_code(twice),
        Some((409, "invalid_state".to_owned()))
    );

    let captured = h
        .api
        .create_payment("w", &payment("mock_ok", 1000, true))
        .await
        .unwrap();
    let after_capture = h.api.void("v3", &captured.id).await;
    assert_eq!(
        rejected_code(after_capture),
        Some((409, "invalid_state".to_owned()))
    );
}

#[tokio::test]
async fn refunds_are_limited_to_the_captured_amount() {
    let h = start().await;
    let p = h
        .api
        .create_payment("p", &payment("mock_ok", 1000, false))
        .await
        .unwrap();
    let early = h.api.refund("r0", &p.id, &eur(1)).await;
    assert_eq!(
        rejected_code(early),
        Some((409, "invalid_state".to_owned()))
    );
    h.api.capture("c", &p.id, &eur(600)).await.unwrap();

    let op = h.api.refund("r1", &p.id, &eur(400)).await.unwrap();
    assert_eq!((op.kind, op.amount), (OperationKindWire::Refund, 400));
    let over = h.api.refund("r2", &p.id, &eur(201)).await;
    assert_eq!(
        rejected_code(over),
        Some((409, "amount_exceeds_refundable".to_owned()))
    );
    let usd = AmountRequest {
        amount: 1,
        currency: "USD".to_owned(),
    };
    let mismatch = h.api.refund("r2", &p.id, &usd).await;
    assert_eq!(
        rejected_code(mismatch),
        Some((409, "currency_mismatch".to_owned()))
    );
    h.api.refund("r2", &p.id, &eur(200)).await.unwrap();
    let after = h.api.get_payment(&p.id).await.unwrap();
    assert_eq!((after.captured, after.refunded), (600, 600));
    let summary = h.api.ledger().await.unwrap();
    assert_eq!((summary.captured_total, summary.refunded_total), (600, 600));
}
