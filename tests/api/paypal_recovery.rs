//! PayPal when things go wrong: lost answers, timeouts, 5xx, 429 and refused tokens. Every
//! money movement is repeated with the same PayPal-Request-Id and happens once at PayPal.

use crate::emulators::paypal::{Emulator, Fault};
use crate::helpers::*;
use crate::paypal::{authorized_payment, get, paypal_req};
use paygate::grpc::proto as pb;
use std::time::Duration;

#[tokio::test]
async fn paypal_capture_with_a_lost_answer_is_reconciled_with_the_same_request_id() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal_timeout(&emu, Duration::from_secs(1)).await;
    let p = authorized_payment(&app, &emu, "pp-lost", 6_000).await;
    emu.fail_next("capture_authorization", Fault::LoseAnswer);
    let pending = app
        .client()
        .capture(capture_req("pp-lost-c", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pending.status(), pb::PaymentStatus::Pending, "{pending:?}");
    let mut settled = pending;
    for _ in 0..100 {
        settled = get(&app, &p.id).await;
        if settled.status() != pb::PaymentStatus::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(settled.status(), pb::PaymentStatus::Captured, "{settled:?}");
    assert_eq!(emu.ledger().captures.len(), 1, "one capture at PayPal");
    let ids = emu.request_ids("capture_authorization");
    assert!(
        ids.len() >= 2 && ids.iter().all(|id| id == &ids[0]),
        "{ids:?}"
    );
}

#[tokio::test]
async fn paypal_rate_limit_is_retried_and_expired_tokens_are_refreshed_once() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let p = authorized_payment(&app, &emu, "pp-429", 3_000).await;
    emu.fail_next("capture_authorization", Fault::RateLimit);
    emu.ledger().tokens.clear(); // every token paygate holds is now refused (401)
    let c = app
        .client()
        .capture(capture_req("pp-429-c", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status(), pb::PaymentStatus::Captured, "{c:?}");
    assert_eq!(emu.token_fetches(), 2, "one refresh after the 401");
    assert_eq!(emu.ledger().captures.len(), 1);
}

/// paygate on the emulator with a 1 s provider timeout, so the reconciler looks after 2 s.
pub(crate) async fn quick_reconcile(emu: &Emulator) -> TestApp {
    let merchant = paypal_merchant(emu);
    TestApp::spawn_with(|s| {
        s.merchants = vec![merchant];
        s.server.provider_timeout = Duration::from_secs(1);
    })
    .await
}

pub(crate) async fn settled(app: &TestApp, id: &str) -> pb::Payment {
    for _ in 0..100 {
        let p = get(app, id).await;
        if p.status() != pb::PaymentStatus::Pending {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("payment {id} still pending");
}

#[tokio::test]
async fn paypal_order_creation_answered_5xx_without_acting_fails_cleanly() {
    let emu = Emulator::spawn().await;
    let app = quick_reconcile(&emu).await;
    emu.fail_next("create_order", Fault::Status(503));
    let p = app
        .client()
        .authorize(paypal_req("pp-503", 1_000, pb::CaptureMode::Manual))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        p.status(),
        pb::PaymentStatus::Pending,
        "a POST 5xx is an unknown outcome: {p:?}"
    );
    let p = settled(&app, &p.id).await;
    assert_eq!(
        p.status(),
        pb::PaymentStatus::Failed,
        "no order id: the buyer never got a link: {p:?}"
    );
    assert!(emu.ledger().orders.is_empty());
}

#[tokio::test]
async fn paypal_slow_capture_times_out_and_is_captured_once() {
    let emu = Emulator::spawn().await;
    let app = quick_reconcile(&emu).await;
    let p = authorized_payment(&app, &emu, "pp-slow", 8_000).await;
    emu.fail_next("capture_authorization", Fault::Slow(Duration::from_secs(3)));
    let c = app
        .client()
        .capture(capture_req("pp-slow-c", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status(), pb::PaymentStatus::Pending, "{c:?}");
    let c = settled(&app, &p.id).await;
    assert_eq!(c.status(), pb::PaymentStatus::Captured, "{c:?}");
    tokio::time::sleep(Duration::from_secs(2)).await; // let the slow request finish at the emulator
    assert_eq!(
        emu.ledger().captures.len(),
        1,
        "the late request replays, it does not capture again"
    );
}

/// A definitive refusal of a re-sent request is an answer: the capture whose first answer was
/// lost, re-sent after the authorization was voided at PayPal, fails with PayPal's code, and
/// the payment leaves PENDING instead of blocking every later operation forever.
#[tokio::test]
async fn paypal_a_resent_capture_refused_for_good_settles_failed_not_pending_forever() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal_timeout(&emu, Duration::from_millis(500)).await;
    let p = authorized_payment(&app, &emu, "pp-expired", 6_000).await;
    emu.fail_next("capture_authorization", Fault::Status(503));
    let pending = app
        .client()
        .capture(capture_req("pp-expired-c", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pending.status(), pb::PaymentStatus::Pending, "{pending:?}");
    // The authorization ends at PayPal (its validity ran out) before the reconciler re-sends.
    for auth in emu.ledger().authorizations.values_mut() {
        auth.status = "VOIDED";
    }
    let mut settled = pending;
    for _ in 0..100 {
        settled = get(&app, &p.id).await;
        if settled.status() != pb::PaymentStatus::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(settled.status(), pb::PaymentStatus::Pending, "{settled:?}");
    let capture = settled.operations.last().unwrap();
    assert_eq!(capture.kind(), pb::OperationKind::Capture);
    assert_eq!(capture.status(), pb::OperationStatus::Failed, "{capture:?}");
    assert_eq!(
        capture.failure.as_ref().unwrap().provider_code,
        "AUTHORIZATION_VOIDED"
    );
    assert!(
        emu.ledger().captures.is_empty(),
        "nothing captured at PayPal"
    );
}
