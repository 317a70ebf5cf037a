//! Races: identical concurrent requests charge once; concurrent refunds never exceed the capture.

use crate::helpers::*;
use paygate::grpc::proto::{OperationKind, OperationStatus, PaymentStatus};
use std::time::Duration;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_identical_authorizes_make_exactly_one_payment_and_one_charge() {
    let app = TestApp::spawn().await;
    // Slow the processor down a little so the duplicates really overlap the first call.
    let faults = paygate::providers::mock::wire::Faults {
        latency_ms: 100,
        ..Default::default()
    };
    app.mock_api()
        .set_faults(&faults)
        .await
        .expect("set faults");

    let mut tasks = Vec::new();
    for _ in 0..32 {
        let mut client = app.client();
        tasks.push(tokio::spawn(async move {
            let mut in_use = 0_u32;
            for _ in 0..200 {
                match client
                    .authorize(authorize_req("same-key", 10_000, "MAD", ""))
                    .await
                {
                    Ok(p) => return (p.into_inner(), in_use),
                    Err(e) => {
                        assert_eq!(
                            e.code(),
                            Code::Aborted,
                            "only ABORTED may be retried: {e:?}"
                        );
                        assert_eq!(reason(&e), "IDEMPOTENCY_KEY_IN_USE", "{e:?}");
                        assert!(
                            retry_delay(&e).is_some(),
                            "ABORTED carries RetryInfo: {e:?}"
                        );
                        in_use += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            panic!("the key stayed in use for 200 retries");
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let (payment, _in_use) = task.await.expect("task");
        assert_eq!(payment.status(), PaymentStatus::Authorized, "{payment:?}");
        ids.insert(payment.id);
    }
    assert_eq!(ids.len(), 1, "every caller got the same payment: {ids:?}");

    let ledger = app.ledger().await;
    assert_eq!(
        ledger.authorizations, 1,
        "exactly one processor charge: {ledger:?}"
    );
    assert_eq!(ledger.payments, 1, "{ledger:?}");
    let listed = app.list_all().await;
    assert_eq!(listed.len(), 1, "exactly one payment stored");
    assert!(ids.contains(&listed[0].id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_partial_refunds_never_exceed_the_captured_amount() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let payment = captured(&mut client, "refund-race", 10_000).await;
    let id = payment.id.clone();

    let mut tasks = Vec::new();
    for i in 0..16 {
        let mut client = app.client();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("refund-race-{i}");
            (
                key.clone(),
                client.refund(refund_req(&key, &id, mad(1_000))).await,
            )
        }));
    }
    let mut succeeded = 0_i64;
    let mut refused = 0;
    for task in tasks {
        let (key, result) = task.await.expect("task");
        match result {
            Ok(p) => {
                let p = p.into_inner();
                let refunds: Vec<_> = p
                    .operations
                    .iter()
                    .filter(|o| o.kind() == OperationKind::Refund)
                    .collect();
                assert!(!refunds.is_empty(), "{key}: {p:?}");
                let own = refunds
                    .iter()
                    .filter(|o| o.status() == OperationStatus::Succeeded)
                    .count();
                assert!(
                    own >= 1,
                    "{key}: an OK refund answer carries a succeeded refund: {p:?}"
                );
                succeeded += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), Code::FailedPrecondition, "{key}: {e:?}");
                assert_eq!(reason(&e), "AMOUNT_EXCEEDS_REFUNDABLE", "{key}: {e:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        succeeded, 10,
        "exactly ten 10.00 refunds fit in 100.00 (refused: {refused})"
    );
    assert_eq!(refused, 6);

    let p = client
        .get_payment(get_req(&id))
        .await
        .expect("GetPayment")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Refunded);
    assert_eq!(amount_of(p.refunded.as_ref()).0, 10_000);
    let refunded: i64 = p
        .operations
        .iter()
        .filter(|o| o.kind() == OperationKind::Refund && o.status() == OperationStatus::Succeeded)
        .map(|o| amount_of(o.amount.as_ref()).0)
        .sum();
    assert_eq!(
        refunded, 10_000,
        "succeeded refund operations add up to the refunded total"
    );
    assert!(succeeded * 1_000 <= 10_000);
    let ledger = app.ledger().await;
    assert_eq!(ledger.refunded_total, 10_000, "{ledger:?}");
    assert_eq!(ledger.captured_total, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_partial_captures_never_exceed_the_authorized_amount() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let payment = authorized(&mut client, "capture-race", 10_000).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let mut client = app.client();
        let id = payment.id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .capture(capture_req(&format!("capture-race-{i}"), &id, mad(1_000)))
                .await
        }));
    }
    let mut succeeded = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => succeeded += 1,
            Err(e) => {
                assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
                assert!(
                    ["AMOUNT_EXCEEDS_CAPTURABLE", "INVALID_STATE"].contains(&reason(&e).as_str()),
                    "{e:?}"
                );
            }
        }
    }
    assert_eq!(succeeded, 10, "exactly ten 10.00 captures fit in 100.00");
    let p = client
        .get_payment(get_req(&payment.id))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Captured);
    assert_eq!(amount_of(p.captured.as_ref()).0, 10_000);
    assert_eq!(app.ledger().await.captured_total, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_void_racing_a_capture_never_both_succeed() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut captured_total = 0;
    for round in 0..8 {
        let payment = authorized(&mut client, &format!("race-{round}"), 5_000).await;
        let (mut c1, mut c2) = (app.client(), app.client());
        let (id1, id2) = (payment.id.clone(), payment.id.clone());
        let capture = tokio::spawn(async move {
            c1.capture(capture_req(&format!("race-cap-{round}"), &id1, None))
                .await
        });
        let void =
            tokio::spawn(
                async move { c2.void(void_req(&format!("race-void-{round}"), &id2)).await },
            );
        let (capture, void) = (capture.await.expect("task"), void.await.expect("task"));
        let final_state = client
            .get_payment(get_req(&payment.id))
            .await
            .expect("get")
            .into_inner();
        match (&capture, &void) {
            (Ok(_), Err(e)) => {
                assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
                assert_eq!(final_state.status(), PaymentStatus::Captured);
                captured_total += 5_000;
            }
            (Err(e), Ok(_)) => {
                assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
                assert_eq!(final_state.status(), PaymentStatus::Voided);
            }
            other => panic!("round {round}: exactly one of capture and void must win: {other:?}"),
        }
    }
    assert_eq!(app.ledger().await.captured_total, captured_total);
}
