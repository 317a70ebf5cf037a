//! PayPal end to end, black-box: paygate on port 0 talking to the PayPal emulator over HTTP.
//! The buyer's approval is driven on the emulator, the buyer's return through paygate's real
//! return page, and every money movement is checked on the emulator's own ledger.

use crate::emulators::paypal::Emulator;
use crate::helpers::*;
use paygate::grpc::proto as pb;
use tonic::Code;

pub(crate) fn paypal_req(key: &str, minor: i64, mode: pb::CaptureMode) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        idempotency_key: key.to_owned(),
        provider: "paypal".to_owned(),
        amount: Some(money(minor, "EUR")),
        merchant_reference: format!("order-{key}"),
        capture_mode: mode.into(),
        ..Default::default()
    }
}

pub(crate) fn eur(minor: i64) -> Option<pb::Money> {
    Some(money(minor, "EUR"))
}

/// Authorize: REQUIRES_ACTION with the emulator's approval page; returns the payment and order id.
pub(crate) async fn requires_action(
    app: &TestApp,
    key: &str,
    minor: i64,
    mode: pb::CaptureMode,
) -> (pb::Payment, String) {
    let p = app
        .client()
        .authorize(paypal_req(key, minor, mode))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::RequiresAction, "{p:?}");
    let url = match p.next_action.as_ref().and_then(|n| n.action.as_ref()) {
        Some(pb::next_action::Action::Redirect(r)) => r.url.clone(),
        other => panic!("expected a redirect, got {other:?}"),
    };
    let order = url.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(
        p.provider_reference, order,
        "the payment carries the PayPal order id"
    );
    (p, order)
}

/// The buyer's browser comes back to paygate's return page (`ok` or `cancel`).
pub(crate) async fn buyer_returns(app: &TestApp, payment: &str, order: &str, outcome: &str) {
    let url = format!(
        "{}/return/paypal/shop/{payment}/{outcome}?token={order}&PayerID=EMUPAYER",
        app.http_base()
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status = browser.get(url).send().await.unwrap().status().as_u16();
    assert!(status < 500, "return page answered {status}");
}

pub(crate) async fn get(app: &TestApp, id: &str) -> pb::Payment {
    app.client()
        .get_payment(get_req(id))
        .await
        .unwrap()
        .into_inner()
}

pub(crate) async fn authorized_payment(
    app: &TestApp,
    emu: &Emulator,
    key: &str,
    minor: i64,
) -> pb::Payment {
    let (p, order) = requires_action(app, key, minor, pb::CaptureMode::Manual).await;
    emu.approve(&order);
    buyer_returns(app, &p.id, &order, "ok").await;
    let p = get(app, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Authorized, "{p:?}");
    assert_eq!(
        p.provider_reference, order,
        "the payment keeps the order id"
    );
    let auth = &p.operations[0];
    assert!(
        auth.provider_reference.starts_with("AUTH"),
        "the operation keeps the authorization id: {auth:?}"
    );
    p
}

#[tokio::test]
async fn paypal_approve_authorize_capture_twice_then_refund_partially_and_fully() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let mut client = app.client();
    let p = authorized_payment(&app, &emu, "pp-full", 10_000).await;
    assert_eq!(emu.ledger().authorizations.len(), 1);
    // The authorization's `expiration_time` (the emulator's: 2099-01-01T00:00:00Z) is shown.
    let expires = p
        .authorization_expires_at
        .expect("authorization expiry shown");
    assert_eq!((expires.seconds, expires.nanos), (4_070_908_800, 0));

    let p1 = client
        .capture(capture_req("pp-full-c1", &p.id, eur(3_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p1.status(), pb::PaymentStatus::PartiallyCaptured, "{p1:?}");
    let p2 = client
        .capture(capture_req("pp-full-c2", &p.id, eur(7_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p2.status(), pb::PaymentStatus::Captured, "{p2:?}");
    assert_eq!(amount_of(p2.captured.as_ref()), (10_000, "EUR".into()));

    let r1 = client
        .refund(refund_req("pp-full-r1", &p.id, eur(2_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r1.status(), pb::PaymentStatus::PartiallyRefunded, "{r1:?}");
    // The rest (8000) spreads over both captures, newest first.
    let r2 = client
        .refund(refund_req("pp-full-r2", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r2.status(), pb::PaymentStatus::Refunded, "{r2:?}");
    assert_eq!(amount_of(r2.refunded.as_ref()), (10_000, "EUR".into()));

    let ledger = emu.ledger();
    assert_eq!(ledger.captures.len(), 2);
    assert!(
        ledger.captures.values().all(|c| c.refunded == c.cents),
        "every capture fully refunded"
    );
    assert_eq!(
        ledger.refunds.values().map(|r| r.cents).sum::<i64>(),
        10_000
    );
    assert_eq!(
        ledger.refunds.len(),
        3,
        "2000 from the newest, then 5000 + 3000"
    );
}

#[tokio::test]
async fn paypal_approve_then_void() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let p = authorized_payment(&app, &emu, "pp-void", 4_200).await;
    let v = app
        .client()
        .void(void_req("pp-void-v", &p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status(), pb::PaymentStatus::Voided, "{v:?}");
    assert!(
        emu.ledger()
            .authorizations
            .values()
            .all(|a| a.status == "VOIDED")
    );
    // PayPal now refuses captures; paygate refuses before asking.
    let again = app
        .client()
        .capture(capture_req("pp-void-c", &p.id, None))
        .await;
    assert_error(again, Code::FailedPrecondition, "INVALID_STATE");
}

#[tokio::test]
async fn paypal_cancel_return_changes_nothing_until_paypal_voids_the_order() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (p, order) = requires_action(&app, "pp-cancel", 1_000, pb::CaptureMode::Manual).await;
    // Anyone can open the cancel URL, and a buyer who cancelled may still go back and approve.
    buyer_returns(&app, &p.id, &order, "cancel").await;
    let after_cancel = get(&app, &p.id).await;
    assert_eq!(
        after_cancel.status(),
        pb::PaymentStatus::RequiresAction,
        "{after_cancel:?}"
    );
    assert!(after_cancel.failure.is_none(), "{after_cancel:?}");
    assert_eq!(emu.calls("get_order"), 1, "the order was read at PayPal");
    // PayPal's own word ends it: the order expired unapproved (VOIDED). A return made after the
    // last lookup's freshness (5 s) reads it again.
    assert!(emu.ledger().expire(&order));
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    buyer_returns(&app, &p.id, &order, "cancel").await;
    let p = get(&app, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Failed, "{p:?}");
    assert_eq!(p.failure.unwrap().code, "order_expired");
    assert!(emu.ledger().authorizations.is_empty());
}

#[tokio::test]
async fn paypal_automatic_capture_lands_captured_in_one_step() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (p, order) = requires_action(&app, "pp-auto", 2_550, pb::CaptureMode::Automatic).await;
    assert_eq!(emu.ledger().orders[&order].intent, "CAPTURE");
    emu.approve(&order);
    buyer_returns(&app, &p.id, &order, "ok").await;
    let p = get(&app, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Captured, "{p:?}");
    assert_eq!(emu.ledger().captures.len(), 1);
    let r = app
        .client()
        .refund(refund_req("pp-auto-r", &p.id, eur(550)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status(), pb::PaymentStatus::PartiallyRefunded, "{r:?}");
}

#[tokio::test]
async fn paypal_rejects_currencies_it_cannot_take_before_sending_anything() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let mut req = paypal_req("pp-mad", 10_000, pb::CaptureMode::Manual);
    req.amount = Some(money(10_000, "MAD"));
    assert_error(
        app.client().authorize(req).await,
        Code::InvalidArgument,
        "UNSUPPORTED_CURRENCY",
    );
    let mut huf = paypal_req("pp-huf", 10_050, pb::CaptureMode::Manual);
    huf.amount = Some(money(10_050, "HUF"));
    assert_error(
        app.client().authorize(huf).await,
        Code::InvalidArgument,
        "INVALID_AMOUNT",
    );
    assert!(emu.ledger().orders.is_empty());
    assert_eq!(emu.token_fetches(), 0);
}

#[tokio::test]
async fn paypal_refusal_on_a_voided_authorization_is_failed_precondition() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let p = authorized_payment(&app, &emu, "pp-expired", 5_000).await;
    // PayPal voided it on its own (end of validity); paygate does not know yet.
    let auth = emu.ledger().authorizations.keys().next().unwrap().clone();
    let base = emu.base();
    emu.ledger().void(&base, &auth);
    let err = app
        .client()
        .capture(capture_req("pp-expired-c", &p.id, None))
        .await;
    let status = assert_error(err, Code::FailedPrecondition, "INVALID_STATE");
    assert!(status.message().contains("voided"), "{status:?}");
    assert!(emu.ledger().captures.is_empty());
}

#[tokio::test]
async fn paypal_return_page_and_webhook_race_to_one_authorization() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (p, order) = requires_action(&app, "pp-race", 7_700, pb::CaptureMode::Manual).await;
    emu.approve(&order);
    let url = format!("{}/webhooks/paypal/shop", app.http_base());
    let body = emu.event("WH-RACE-1", "CHECKOUT.ORDER.APPROVED", emu.resource(&order));
    let delivery = emu.delivery();
    let (status, ()) = tokio::join!(
        emu.deliver(&url, &body, &delivery),
        buyer_returns(&app, &p.id, &order, "ok")
    );
    assert_eq!(status, 200);
    let p = get(&app, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Authorized, "{p:?}");
    assert_eq!(
        emu.ledger().authorizations.len(),
        1,
        "exactly one authorization at PayPal"
    );
    let ids = emu.request_ids("authorize_order");
    assert!(
        !ids.is_empty() && ids.iter().all(|id| id == &ids[0]),
        "same PayPal-Request-Id: {ids:?}"
    );
}

#[tokio::test]
async fn paypal_hundred_concurrent_calls_share_one_oauth_token() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let mut client = app.client();
        tasks.push(tokio::spawn(async move {
            let req = paypal_req(&format!("pp-many-{i}"), 100 + i, pb::CaptureMode::Manual);
            client.authorize(req).await.unwrap().into_inner().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), pb::PaymentStatus::RequiresAction);
    }
    assert_eq!(emu.ledger().orders.len(), 100);
    assert_eq!(
        emu.token_fetches(),
        1,
        "one OAuth fetch for 100 concurrent calls"
    );
}

#[tokio::test]
async fn paypal_return_page_without_approval_changes_nothing() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (p, order) =
        requires_action(&app, "pp-forged-return", 1_234, pb::CaptureMode::Manual).await;
    // A browser that claims success without approving at PayPal.
    buyer_returns(&app, &p.id, &order, "ok").await;
    let p = get(&app, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::RequiresAction, "{p:?}");
    assert!(emu.ledger().authorizations.is_empty());
    // Approving later still completes it, once, on a return after the first lookup's
    // freshness (5 s: reloads within it are answered from paygate's state).
    emu.approve(&order);
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    buyer_returns(&app, &p.id, &order, "ok").await;
    assert_eq!(
        get(&app, &p.id).await.status(),
        pb::PaymentStatus::Authorized
    );
    assert_eq!(emu.ledger().authorizations.len(), 1);
}
