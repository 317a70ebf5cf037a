//! PayPal events that the ledger cannot take yet (a reversal or a dashboard refund while a refund
//! of the payment is open, or while the payment is PENDING) are parked, answered 200, and applied
//! once the operation in the way settles: never acknowledged and forgotten. paygate's refunded
//! total ends equal to the emulator's, whatever the order of events.

use crate::emulators::paypal::{Emulator, Fault};
use crate::helpers::*;
use crate::paypal::{authorized_payment, eur, get};
use paygate::grpc::proto as pb;
use std::time::Duration;

const PARKED: &str = "paygate_webhook_events_parked";

fn url(app: &TestApp) -> String {
    format!("{}/webhooks/paypal/shop", app.http_base())
}

/// paygate on the emulator with a 1 s provider timeout (the reconciler looks after ~4 s), on
/// SQLite or, with `postgres`, on a fresh PostgreSQL database (`None` when not configured).
async fn quick_reconcile(emu: &Emulator, postgres: bool) -> Option<TestApp> {
    let merchant = paypal_merchant(emu);
    let change = |s: &mut paygate::config::Settings| {
        s.merchants = vec![merchant];
        s.server.provider_timeout = Duration::from_secs(1);
    };
    if postgres {
        TestApp::spawn_postgres_with(change).await
    } else {
        Some(TestApp::spawn_with(change).await)
    }
}

/// Waits until the reconciler has settled every open operation of the payment.
async fn settled(app: &TestApp, id: &str) -> pb::Payment {
    for _ in 0..100 {
        let p = get(app, id).await;
        if p.status() != pb::PaymentStatus::Pending {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("payment {id} still pending");
}

/// The parked gauge once it reads `want` (it is refreshed by each reconciliation pass).
async fn parked_gauge_reaches(app: &TestApp, want: f64) {
    let mut seen = f64::NAN;
    for _ in 0..50 {
        seen = metric_value(&app.metrics().await, PARKED);
        if seen == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{PARKED} is {seen}, expected {want}");
}

/// An authorized payment of `minor` EUR, captured in full; returns it and the capture id.
async fn captured_payment(
    app: &TestApp,
    emu: &Emulator,
    key: &str,
    minor: i64,
) -> (pb::Payment, String) {
    let p = authorized_payment(app, emu, key, minor).await;
    let c = app
        .client()
        .capture(capture_req(&format!("{key}-c"), &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status(), pb::PaymentStatus::Captured, "{c:?}");
    let capture = emu.ledger().captures.keys().next().unwrap().clone();
    (c, capture)
}

fn refunded(p: &pb::Payment) -> i64 {
    p.refunded.as_ref().map_or(0, |m| m.minor_units)
}

async fn reversal_while_a_refund_is_open_waits_for_it(postgres: bool) {
    let emu = Emulator::spawn().await;
    let Some(app) = quick_reconcile(&emu, postgres).await else {
        return;
    };
    let (p, capture) = captured_payment(&app, &emu, "park-ref", 10_000).await;
    // paygate's refund of 30.00 never reaches PayPal's books (5xx without acting), twice: the
    // live call and the reconciler's first attempt. Its outcome is unknown meanwhile, and its
    // amount is held against the payment.
    emu.fail_next("refund_capture", Fault::Status(500));
    emu.fail_next("refund_capture", Fault::Status(500));
    let r = app
        .client()
        .refund(refund_req("park-ref-r", &p.id, eur(3_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status(), pb::PaymentStatus::Pending, "{r:?}");

    // Then the buyer's bank charges the whole 100.00 back.
    let base = emu.base();
    let reversal = emu.ledger().reverse(&base, &capture, 10_000);
    let body = emu.event("WH-PARK-REV", "PAYMENT.CAPTURE.REVERSED", reversal);
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let now = get(&app, &p.id).await;
    assert_eq!(
        refunded(&now),
        0,
        "100.00 cannot fit beside the open 30.00: {now:?}"
    );
    parked_gauge_reaches(&app, 1.0).await;

    // The reconciler re-sends the refund: PayPal refuses it (the capture is fully reversed),
    // the refund fails, and the parked reversal is applied in the same transaction.
    let done = settled(&app, &p.id).await;
    assert_eq!(done.status(), pb::PaymentStatus::Refunded, "{done:?}");
    assert_eq!(refunded(&done), emu.ledger().refunded_total(), "{done:?}");
    assert_eq!(refunded(&done), 10_000);
    let reversed = done
        .operations
        .iter()
        .find(|o| {
            o.kind() == pb::OperationKind::Refund && o.status() == pb::OperationStatus::Succeeded
        })
        .expect("the reversal is a succeeded refund operation");
    assert_eq!(amount_of(reversed.amount.as_ref()), (10_000, "EUR".into()));
    parked_gauge_reaches(&app, 0.0).await;
}

#[tokio::test]
async fn paypal_reversal_while_a_refund_is_open_is_applied_once_the_refund_settles() {
    reversal_while_a_refund_is_open_waits_for_it(false).await;
}

#[tokio::test]
async fn paypal_reversal_while_a_refund_is_open_is_applied_once_the_refund_settles_on_postgres() {
    reversal_while_a_refund_is_open_waits_for_it(true).await;
}

/// A payment captured 40.00 then 60.00, whose second capture's answer is lost: PENDING.
async fn pending_after_two_captures(
    app: &TestApp,
    emu: &Emulator,
    key: &str,
) -> (pb::Payment, String) {
    let p = authorized_payment(app, emu, key, 10_000).await;
    let mut client = app.client();
    let c = client
        .capture(capture_req(&format!("{key}-c1"), &p.id, eur(4_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status(), pb::PaymentStatus::PartiallyCaptured, "{c:?}");
    let first = emu.ledger().captures.keys().next().unwrap().clone();
    emu.fail_next("capture_authorization", Fault::LoseAnswer);
    let c = client
        .capture(capture_req(&format!("{key}-c2"), &p.id, eur(6_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status(), pb::PaymentStatus::Pending, "{c:?}");
    (c, first)
}

#[tokio::test]
async fn paypal_reversal_while_the_payment_is_pending_is_applied_once_it_settles() {
    let emu = Emulator::spawn().await;
    let app = quick_reconcile(&emu, false).await.unwrap();
    let (p, first) = pending_after_two_captures(&app, &emu, "park-pend").await;
    let base = emu.base();
    let reversal = emu.ledger().reverse(&base, &first, 4_000);
    let body = emu.event("WH-PEND-REV", "PAYMENT.CAPTURE.REVERSED", reversal);
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let now = get(&app, &p.id).await;
    assert_eq!(now.status(), pb::PaymentStatus::Pending, "{now:?}");
    assert_eq!(
        refunded(&now),
        0,
        "nothing is refunded while the payment is PENDING"
    );
    parked_gauge_reaches(&app, 1.0).await;

    let done = settled(&app, &p.id).await;
    assert_eq!(
        done.status(),
        pb::PaymentStatus::PartiallyRefunded,
        "{done:?}"
    );
    assert_eq!(amount_of(done.captured.as_ref()), (10_000, "EUR".into()));
    assert_eq!(refunded(&done), emu.ledger().refunded_total(), "{done:?}");
    assert_eq!(refunded(&done), 4_000);
    parked_gauge_reaches(&app, 0.0).await;
}

#[tokio::test]
async fn paypal_parked_dashboard_refund_delivered_again_is_applied_once() {
    let emu = Emulator::spawn().await;
    let app = quick_reconcile(&emu, false).await.unwrap();
    let (p, first) = pending_after_two_captures(&app, &emu, "park-dup").await;
    // The merchant refunds 25.00 of the first capture in PayPal's dashboard meanwhile.
    let base = emu.base();
    let (status, refund) = emu.ledger().refund(
        &base,
        &first,
        &serde_json::json!({"amount": {"currency_code": "EUR", "value": "25.00"}}),
    );
    assert_eq!(status, 201);
    let body = emu.event("WH-DUP-REF", "PAYMENT.CAPTURE.REFUNDED", refund);
    for _ in 0..3 {
        assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    }
    parked_gauge_reaches(&app, 1.0).await;
    let done = settled(&app, &p.id).await;
    // PayPal retries deliveries it had no 2xx for, and resends on request: still once.
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let done = {
        let again = get(&app, &p.id).await;
        assert_eq!(again.refunded, done.refunded, "{again:?}");
        again
    };
    assert_eq!(
        done.status(),
        pb::PaymentStatus::PartiallyRefunded,
        "{done:?}"
    );
    assert_eq!(refunded(&done), 2_500);
    assert_eq!(refunded(&done), emu.ledger().refunded_total());
    let refunds = done
        .operations
        .iter()
        .filter(|o| o.kind() == pb::OperationKind::Refund)
        .count();
    assert_eq!(refunds, 1, "{done:?}");
    parked_gauge_reaches(&app, 0.0).await;
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"paypal\",result=\"duplicate\"}"
        ),
        3.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn paypal_reversal_beyond_anything_captured_stays_parked_for_an_operator() {
    let emu = Emulator::spawn().await;
    let app = quick_reconcile(&emu, false).await.unwrap();
    let (p, capture) = captured_payment(&app, &emu, "park-never", 5_000).await;
    let base = emu.base();
    // More than the payment ever was: a data problem, never applied, never dropped.
    let reversal = serde_json::json!({
        "id": "9RV77777AB6789012", "status": "COMPLETED", "note_to_payer": "Payment reversed",
        "amount": {"currency_code": "EUR", "value": "999.00"},
        "links": [{"href": format!("{base}/v2/payments/captures/{capture}"), "rel": "up", "method": "GET"}]
    });
    let body = emu.event("WH-NEVER-REV", "PAYMENT.CAPTURE.REVERSED", reversal);
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let now = get(&app, &p.id).await;
    assert_eq!(now.status(), pb::PaymentStatus::Captured, "{now:?}");
    assert_eq!(refunded(&now), 0);
    parked_gauge_reaches(&app, 1.0).await;
    tokio::time::sleep(Duration::from_secs(1)).await; // reconciliation passes change nothing
    parked_gauge_reaches(&app, 1.0).await;
}
