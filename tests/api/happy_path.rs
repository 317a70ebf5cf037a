//! The lifecycle of a payment through the mock processor, end to end.

use crate::helpers::*;
use paygate::grpc::proto::{CaptureMode, OperationKind, OperationStatus, PaymentStatus};

#[tokio::test]
async fn authorize_capture_twice_then_refund_twice_ends_refunded_with_five_succeeded_operations() {
    let app = TestApp::spawn().await;
    let mut client = app.client();

    let mut req = authorize_req("happy-auth", 10_000, "MAD", "mock_ok");
    req.merchant_reference = "order-1001".into();
    req.metadata.insert("cart".into(), "42".into());
    let payment = client.authorize(req).await.expect("Authorize").into_inner();
    assert_eq!(payment.status(), PaymentStatus::Authorized);
    assert_eq!(payment.provider, "mock");
    assert_eq!(payment.merchant_reference, "order-1001");
    assert_eq!(payment.metadata.get("cart").map(String::as_str), Some("42"));
    assert_eq!(payment.capture_mode(), CaptureMode::Manual);
    assert_eq!(amount_of(payment.amount.as_ref()), (10_000, "MAD".into()));
    assert_eq!(amount_of(payment.captured.as_ref()).0, 0);
    assert_eq!(amount_of(payment.refunded.as_ref()).0, 0);
    assert!(
        !payment.provider_reference.is_empty(),
        "mock payment id expected"
    );
    assert!(payment.failure.is_none());
    assert!(payment.next_action.is_none());
    assert!(payment.created_at.is_some() && payment.updated_at.is_some());
    uuid::Uuid::parse_str(&payment.id).expect("payment id is a UUID");
    let id = payment.id.clone();

    let p = client
        .capture(capture_req("happy-cap-1", &id, mad(4_000)))
        .await
        .expect("Capture 40")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::PartiallyCaptured);
    assert_eq!(amount_of(p.captured.as_ref()), (4_000, "MAD".into()));

    let p = client
        .capture(capture_req("happy-cap-2", &id, mad(6_000)))
        .await
        .expect("Capture 60")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Captured);
    assert_eq!(amount_of(p.captured.as_ref()), (10_000, "MAD".into()));

    let p = client
        .refund(refund_req("happy-ref-1", &id, mad(2_500)))
        .await
        .expect("Refund 25")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::PartiallyRefunded);
    assert_eq!(amount_of(p.refunded.as_ref()), (2_500, "MAD".into()));

    // No amount: refund everything still refundable.
    let p = client
        .refund(refund_req("happy-ref-2", &id, None))
        .await
        .expect("Refund rest")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Refunded);
    assert_eq!(amount_of(p.captured.as_ref()).0, 10_000);
    assert_eq!(amount_of(p.refunded.as_ref()), (10_000, "MAD".into()));

    let kinds: Vec<_> = p
        .operations
        .iter()
        .map(|o| (o.kind(), o.status(), amount_of(o.amount.as_ref()).0))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (OperationKind::Authorize, OperationStatus::Succeeded, 10_000),
            (OperationKind::Capture, OperationStatus::Succeeded, 4_000),
            (OperationKind::Capture, OperationStatus::Succeeded, 6_000),
            (OperationKind::Refund, OperationStatus::Succeeded, 2_500),
            (OperationKind::Refund, OperationStatus::Succeeded, 7_500),
        ],
        "operations, oldest first"
    );
    let created: Vec<_> = p
        .operations
        .iter()
        .map(|o| o.created_at.expect("created_at"))
        .collect();
    for pair in created.windows(2) {
        assert!(
            (pair[0].seconds, pair[0].nanos) <= (pair[1].seconds, pair[1].nanos),
            "oldest first: {created:?}"
        );
    }
    let ids: std::collections::HashSet<_> = p.operations.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids.len(), 5, "operation ids are distinct");

    // GetPayment answers the same payment.
    let got = client
        .get_payment(get_req(&id))
        .await
        .expect("GetPayment")
        .into_inner();
    assert_eq!(got, p);

    let ledger = app.ledger().await;
    assert_eq!(ledger.authorizations, 1);
    assert_eq!(ledger.captured_total, 10_000);
    assert_eq!(ledger.refunded_total, 10_000);
}

#[tokio::test]
async fn authorize_then_void_ends_voided_and_nothing_is_captured() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let payment = authorized(&mut client, "void-auth", 5_000).await;
    let p = client
        .void(void_req("void-1", &payment.id))
        .await
        .expect("Void")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Voided);
    assert_eq!(amount_of(p.captured.as_ref()).0, 0);
    let ops: Vec<_> = p
        .operations
        .iter()
        .map(|o| (o.kind(), o.status()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (OperationKind::Authorize, OperationStatus::Succeeded),
            (OperationKind::Void, OperationStatus::Succeeded),
        ]
    );
    let ledger = app.ledger().await;
    assert_eq!(ledger.captured_total, 0);
}

#[tokio::test]
async fn automatic_capture_mode_lands_directly_in_captured() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut req = authorize_req("auto-1", 12_345, "MAD", "");
    req.capture_mode = CaptureMode::Automatic.into();
    let p = client.authorize(req).await.expect("Authorize").into_inner();
    assert_eq!(p.status(), PaymentStatus::Captured);
    assert_eq!(p.capture_mode(), CaptureMode::Automatic);
    assert_eq!(amount_of(p.captured.as_ref()), (12_345, "MAD".into()));
    assert_eq!(app.ledger().await.captured_total, 12_345);
    // Refundable straight away.
    let p = client
        .refund(refund_req("auto-ref", &p.id, mad(345)))
        .await
        .expect("Refund")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::PartiallyRefunded);
}

#[tokio::test]
async fn capture_without_amount_captures_everything_remaining() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let payment = authorized(&mut client, "rest-auth", 10_000).await;
    let p = client
        .capture(capture_req("rest-cap-1", &payment.id, mad(3_000)))
        .await
        .expect("Capture 30")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::PartiallyCaptured);
    let p = client
        .capture(capture_req("rest-cap-2", &payment.id, None))
        .await
        .expect("Capture rest")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Captured);
    assert_eq!(amount_of(p.captured.as_ref()).0, 10_000);
    assert_eq!(
        amount_of(p.operations.last().and_then(|o| o.amount.as_ref())).0,
        7_000
    );
    assert_eq!(app.ledger().await.captured_total, 10_000);
}

#[tokio::test]
async fn final_capture_on_a_partial_capture_closes_capturing() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let payment = authorized(&mut client, "final-auth", 10_000).await;
    let mut req = capture_req("final-cap-1", &payment.id, mad(4_000));
    req.final_capture = true;
    let p = client
        .capture(req)
        .await
        .expect("final Capture")
        .into_inner();
    assert_eq!(amount_of(p.captured.as_ref()).0, 4_000);
    assert_ne!(
        p.status(),
        PaymentStatus::PartiallyCaptured,
        "a final capture leaves nothing capturable"
    );

    let err = client
        .capture(capture_req("final-cap-2", &payment.id, mad(1_000)))
        .await
        .expect_err("closed");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(
        ["INVALID_STATE", "AMOUNT_EXCEEDS_CAPTURABLE"].contains(&reason(&err).as_str()),
        "reason {}",
        reason(&err)
    );
    assert_eq!(app.ledger().await.captured_total, 4_000);
    // The captured part stays refundable.
    let p = client
        .refund(refund_req("final-ref", &payment.id, None))
        .await
        .expect("Refund")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Refunded);
    assert_eq!(amount_of(p.refunded.as_ref()).0, 4_000);
}

#[tokio::test]
async fn currencies_with_zero_and_three_decimals_work_in_minor_units() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for (currency, minor) in [("JPY", 1_500), ("KWD", 12_345), ("EUR", 999)] {
        let p = client
            .authorize(authorize_req(
                &format!("cur-{currency}"),
                minor,
                currency,
                "",
            ))
            .await
            .expect("authorize")
            .into_inner();
        assert_eq!(p.status(), PaymentStatus::Authorized, "{currency}");
        assert_eq!(amount_of(p.amount.as_ref()), (minor, currency.to_owned()));
        let p = client
            .capture(capture_req(
                &format!("cap-{currency}"),
                &p.id,
                Some(money(minor, currency)),
            ))
            .await
            .expect("capture")
            .into_inner();
        assert_eq!(p.status(), PaymentStatus::Captured, "{currency}");
        assert_eq!(amount_of(p.captured.as_ref()), (minor, currency.to_owned()));
    }
    assert_eq!(app.ledger().await.captured_total, 1_500 + 12_345 + 999);
}

#[tokio::test]
async fn a_redirect_token_requires_action_with_a_redirect_url() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut req = authorize_req("redirect-1", 10_000, "MAD", "mock_redirect");
    req.return_url = "https://shop.example.ma/return".into();
    let p = client.authorize(req).await.expect("authorize").into_inner();
    assert_eq!(p.status(), PaymentStatus::RequiresAction, "{p:?}");
    let action = p
        .next_action
        .as_ref()
        .and_then(|a| a.action.as_ref())
        .expect("next_action set");
    let paygate::grpc::proto::next_action::Action::Redirect(redirect) = action else {
        panic!("expected a redirect: {action:?}");
    };
    reqwest::Url::parse(&redirect.url).expect("an absolute URL");
    // Nothing can be captured before the customer acts.
    let status = client
        .capture(capture_req("redirect-cap", &p.id, None))
        .await
        .expect_err("not authorized yet");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
}
