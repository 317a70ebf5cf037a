//! `POST /webhooks/paypal/{merchant}`: signed by the emulator's test key (certificate served by
//! the emulator, chained to a test root trusted only through test settings). Forgeries are 401
//! and store nothing; verified events are deduplicated and applied via their links.

use crate::emulators::paypal::{Emulator, Fault};
use crate::helpers::*;
use paygate::grpc::proto as pb;
use std::path::Path;

/// One way to spoil a delivery.
type Spoil = Box<dyn Fn(&mut crate::emulators::paypal::Delivery)>;

fn url(app: &TestApp) -> String {
    format!("{}/webhooks/paypal/shop", app.http_base())
}

/// An authorized payment (manual capture) and its PayPal authorization id.
async fn authorized(app: &TestApp, emu: &Emulator, key: &str, minor: i64) -> (pb::Payment, String) {
    let req = pb::AuthorizeRequest {
        idempotency_key: key.into(),
        provider: "paypal".into(),
        amount: Some(money(minor, "EUR")),
        merchant_reference: key.into(),
        ..Default::default()
    };
    let p = app.client().authorize(req).await.unwrap().into_inner();
    let order = p.provider_reference.clone();
    emu.approve(&order);
    // The webhook alone completes the order (no return page).
    let body = emu.event(
        &format!("WH-{key}-approved"),
        "CHECKOUT.ORDER.APPROVED",
        emu.resource(&order),
    );
    assert_eq!(emu.deliver(&url(app), &body, &emu.delivery()).await, 200);
    let p = app
        .client()
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Authorized, "{p:?}");
    let auth = emu.ledger().orders[&order].authorization.clone().unwrap();
    (p, auth)
}

#[tokio::test]
async fn paypal_forged_webhooks_are_rejected_and_store_nothing() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (p, auth) = authorized(&app, &emu, "wh-forged", 2_000).await;
    let fetches = emu.cert_fetches();
    let body = emu.event(
        "WH-FORGED-1",
        "PAYMENT.AUTHORIZATION.VOIDED",
        emu.resource(&auth),
    );
    let spoil: [(&str, Spoil); 5] = [
        ("tampered body", Box::new(|d| d.tamper_body = true)),
        (
            "transmission id",
            Box::new(|d| d.tamper_transmission_id = true),
        ),
        ("SHA1withRSA", Box::new(|d| d.algo = "SHA1withRSA".into())),
        (
            "webhook id",
            Box::new(|d| d.webhook_id = "OTHERWEBHOOKID".into()),
        ),
        (
            "foreign cert host",
            Box::new(|d| d.cert_url = "https://evil.example/v1/notifications/certs/CERT-x".into()),
        ),
    ];
    for (what, change) in spoil {
        let mut d = emu.delivery();
        change(&mut d);
        assert_eq!(emu.deliver(&url(&app), &body, &d).await, 401, "{what}");
    }
    // The foreign host was never fetched; the emulator's certificate was fetched at most once.
    assert!(emu.cert_fetches() <= fetches.max(1));
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"paypal\",result=\"rejected_signature\"}"
        ),
        5.0,
        "{metrics}"
    );
    // Nothing stored: the genuine delivery of the same event is still new.
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let p = app
        .client()
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        p.status(),
        pb::PaymentStatus::Voided,
        "PayPal's own void (end of validity) is applied"
    );
}

#[tokio::test]
async fn paypal_live_vectors_posted_to_a_sandbox_merchant_are_refused_unfetched() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paypal_webhooks");
    let http = reqwest::Client::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() || dir.file_name().unwrap().to_string_lossy().starts_with('_') {
            continue;
        }
        let headers: std::collections::BTreeMap<String, String> =
            serde_json::from_slice(&std::fs::read(dir.join("headers.json")).unwrap()).unwrap();
        let mut req = http
            .post(url(&app))
            .body(std::fs::read(dir.join("body.json")).unwrap());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        // Live certificate URLs are off this sandbox merchant's allow-list: refused before any
        // fetch. (Sandbox-URL vectors would be fetched from PayPal: not in an offline test.)
        let live = std::fs::read_to_string(dir.join("headers.json"))
            .unwrap()
            .contains("https://api.paypal.com/");
        if !live {
            continue;
        }
        checked += 1;
        assert_eq!(
            req.send().await.unwrap().status().as_u16(),
            401,
            "{}",
            dir.display()
        );
    }
    assert_eq!(checked, 6, "vectors 07-12");
    assert_eq!(emu.cert_fetches(), 0);
}

#[tokio::test]
async fn paypal_events_are_deduplicated_and_unknown_types_ignored() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (_, auth) = authorized(&app, &emu, "wh-dup", 1_500).await;
    let body = emu.event(
        "WH-AUTH-CREATED-1",
        "PAYMENT.AUTHORIZATION.CREATED",
        emu.resource(&auth),
    );
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let other = emu.event(
        "WH-DISPUTE-1",
        "CUSTOMER.DISPUTE.CREATED",
        serde_json::json!({"id": "PP-D-1"}),
    );
    assert_eq!(emu.deliver(&url(&app), &other, &emu.delivery()).await, 200);
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"paypal\",result=\"duplicate\"}"
        ),
        1.0,
        "{metrics}"
    );
    assert!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"paypal\",result=\"ignored\"}"
        ) >= 2.0,
        "{metrics}"
    );
    assert_eq!(emu.ledger().authorizations.len(), 1);
}

#[tokio::test]
async fn paypal_capture_and_refund_events_settle_lost_operations_via_links() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (p, _) = authorized(&app, &emu, "wh-links", 5_000).await;
    let mut client = app.client();
    emu.fail_next("capture_authorization", Fault::LoseAnswer);
    let c = client
        .capture(capture_req("wh-links-c", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status(), pb::PaymentStatus::Pending);
    let capture = emu.ledger().captures.keys().next().unwrap().clone();
    let body = emu.event(
        "WH-CAP-1",
        "PAYMENT.CAPTURE.COMPLETED",
        emu.resource(&capture),
    );
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let c = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status(), pb::PaymentStatus::Captured, "{c:?}");

    emu.fail_next("refund_capture", Fault::LoseAnswer);
    let r = client
        .refund(refund_req("wh-links-r", &p.id, Some(money(1_200, "EUR"))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status(), pb::PaymentStatus::Pending);
    let refund = emu.ledger().refunds.keys().next().unwrap().clone();
    // The refund resource names its capture only through the `up` link.
    let body = emu.event(
        "WH-REF-1",
        "PAYMENT.CAPTURE.REFUNDED",
        emu.resource(&refund),
    );
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let r = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status(), pb::PaymentStatus::PartiallyRefunded, "{r:?}");
    assert_eq!(amount_of(r.refunded.as_ref()), (1_200, "EUR".into()));
}

#[tokio::test]
async fn paypal_api_mode_verifies_through_the_postback_with_the_raw_body() {
    let emu = Emulator::spawn().await;
    let mut merchant = paypal_merchant(&emu);
    if let Some(pp) = &mut merchant.providers.paypal {
        pp.webhook_verification = paygate::config::PaypalVerification::Api;
    }
    let app = TestApp::spawn_with(|s| s.merchants = vec![merchant]).await;
    // Key order and spacing PayPal's way, not serde's: a re-serialising verifier would fail.
    let body =
        br#"{"id":"WH-API-1","event_type":"CUSTOMER.DISPUTE.CREATED", "resource":{"z":1,"a":{}}}"#;
    assert_eq!(emu.deliver(&url(&app), body, &emu.delivery()).await, 200);
    let mut d = emu.delivery();
    d.tamper_body = true;
    assert_eq!(emu.deliver(&url(&app), body, &d).await, 401);
    assert_eq!(
        emu.request_ids("verify_webhook_signature").len(),
        0,
        "the postback takes no request id"
    );
    assert_eq!(emu.cert_fetches(), 0, "api mode never fetches certificates");
    emu.fail_next("verify_webhook_signature", Fault::Status(503));
    assert_eq!(
        emu.deliver(&url(&app), body, &emu.delivery()).await,
        503,
        "fail closed, PayPal retries"
    );
}

#[tokio::test]
async fn paypal_simulator_events_need_the_sandbox_opt_in() {
    let emu = Emulator::spawn().await;
    let body = emu.event(
        "WH-SIM-1",
        "CUSTOMER.DISPUTE.CREATED",
        serde_json::json!({"id": "X1"}),
    );
    let mut d = emu.delivery();
    d.webhook_id = "WEBHOOK_ID".into();
    let app = TestApp::spawn_paypal(&emu).await;
    assert_eq!(
        emu.deliver(&url(&app), &body, &d).await,
        401,
        "off by default"
    );
    let mut merchant = paypal_merchant(&emu);
    if let Some(pp) = &mut merchant.providers.paypal {
        pp.accept_simulator_events = true;
    }
    let app = TestApp::spawn_with(|s| s.merchants = vec![merchant]).await;
    assert_eq!(emu.deliver(&url(&app), &body, &d).await, 200);
}

#[tokio::test]
async fn paypal_dashboard_refunds_and_reversals_are_recorded_as_refunds_via_the_up_link() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (p, _) = authorized(&app, &emu, "wh-ext", 9_000).await;
    let mut client = app.client();
    let c = client
        .capture(capture_req("wh-ext-c", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.status(), pb::PaymentStatus::Captured);
    let capture = emu.ledger().captures.keys().next().unwrap().clone();

    // The merchant refunds 10.00 in PayPal's dashboard: paygate learns it from the webhook.
    let base = emu.base();
    let (status, refund) = emu.ledger().refund(
        &base,
        &capture,
        &serde_json::json!({"amount": {"currency_code": "EUR", "value": "10.00"}}),
    );
    assert_eq!(status, 201);
    let body = emu.event("WH-EXT-REF", "PAYMENT.CAPTURE.REFUNDED", refund);
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    assert_eq!(
        emu.deliver(&url(&app), &body, &emu.delivery()).await,
        200,
        "duplicate"
    );
    let r = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status(), pb::PaymentStatus::PartiallyRefunded, "{r:?}");
    assert_eq!(amount_of(r.refunded.as_ref()), (1_000, "EUR".into()));

    // A chargeback reverses 20.00: recorded as a refund (and logged for an operator).
    let reversal = serde_json::json!({
        "id": "9RV12345AB6789012", "status": "COMPLETED", "note_to_payer": "Payment reversed",
        "amount": {"currency_code": "EUR", "value": "20.00"},
        "links": [{"href": format!("{base}/v2/payments/captures/{capture}"), "rel": "up", "method": "GET"}]
    });
    let body = emu.event("WH-EXT-REV", "PAYMENT.CAPTURE.REVERSED", reversal);
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let r = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        amount_of(r.refunded.as_ref()),
        (3_000, "EUR".into()),
        "{r:?}"
    );
    let refunds: Vec<_> = r
        .operations
        .iter()
        .filter(|o| o.kind() == pb::OperationKind::Refund)
        .collect();
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[1].provider_reference, "9RV12345AB6789012");

    // More than is left to refund is never applied.
    let too_much = serde_json::json!({
        "id": "9RV99999AB6789012", "status": "COMPLETED",
        "amount": {"currency_code": "EUR", "value": "999.00"},
        "links": [{"href": format!("{base}/v2/payments/captures/{capture}"), "rel": "up", "method": "GET"}]
    });
    let body = emu.event("WH-EXT-REV2", "PAYMENT.CAPTURE.REVERSED", too_much);
    assert_eq!(emu.deliver(&url(&app), &body, &emu.delivery()).await, 200);
    let r = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(amount_of(r.refunded.as_ref()), (3_000, "EUR".into()));
}

#[tokio::test]
async fn paypal_out_of_order_events_settle_once_and_late_ones_are_ignored() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let req = pb::AuthorizeRequest {
        idempotency_key: "wh-ooo".into(),
        provider: "paypal".into(),
        amount: Some(money(4_400, "EUR")),
        capture_mode: pb::CaptureMode::Automatic.into(),
        ..Default::default()
    };
    let p = app.client().authorize(req).await.unwrap().into_inner();
    let order = p.provider_reference.clone();
    emu.approve(&order);
    // PayPal completed the order itself; the capture event overtakes the approval event.
    let base = emu.base();
    assert_eq!(emu.ledger().capture_order(&base, &order).0, 201);
    let capture = emu.ledger().orders[&order].capture.clone().unwrap();
    let completed = emu.event(
        "WH-OOO-CAP",
        "PAYMENT.CAPTURE.COMPLETED",
        emu.resource(&capture),
    );
    assert_eq!(
        emu.deliver(&url(&app), &completed, &emu.delivery()).await,
        200
    );
    let p = app
        .client()
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Captured, "{p:?}");
    let approved = emu.event(
        "WH-OOO-APP",
        "CHECKOUT.ORDER.APPROVED",
        emu.resource(&order),
    );
    assert_eq!(
        emu.deliver(&url(&app), &approved, &emu.delivery()).await,
        200
    );
    assert_eq!(
        emu.ledger().captures.len(),
        1,
        "the late approval captures nothing more"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"paypal\",result=\"applied\"}"
        ),
        1.0,
        "{metrics}"
    );
}
