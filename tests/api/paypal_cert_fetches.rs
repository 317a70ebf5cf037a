//! PayPal signing-certificate fetches under a flood: deliveries naming allow-listed but unknown
//! certificate URLs cost at most the per-minute fetch budget, later ones are answered 503 (so
//! PayPal redelivers) and counted, and genuine deliveries with the known certificate go on.

use crate::emulators::paypal::Emulator;
use crate::helpers::*;
use paygate::grpc::proto as pb;

#[tokio::test]
async fn a_flood_of_new_certificate_urls_is_throttled_and_real_deliveries_still_apply() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let url = format!("{}/webhooks/paypal/shop", app.http_base());
    // An approved order: its genuine delivery fetched the certificate (1 of the 10 a minute)
    // and, once the signature verified, cached it.
    let req = pb::AuthorizeRequest {
        idempotency_key: "flood-1".into(),
        provider: "paypal".into(),
        amount: Some(money(2_000, "EUR")),
        merchant_reference: "flood-1".into(),
        ..Default::default()
    };
    let p = app.client().authorize(req).await.unwrap().into_inner();
    let order = p.provider_reference.clone();
    emu.approve(&order);
    let approved = emu.event(
        "WH-flood-1",
        "CHECKOUT.ORDER.APPROVED",
        emu.resource(&order),
    );
    assert_eq!(emu.deliver(&url, &approved, &emu.delivery()).await, 200);
    let fetched_before = emu.cert_fetches();
    assert_eq!(fetched_before, 1);

    // Forged deliveries, each naming another allow-listed certificate URL.
    let mut statuses = Vec::new();
    for i in 0..30 {
        let mut d = emu.delivery();
        d.cert_url = format!("{}/v1/notifications/certs/CERT-bogus-{i}", emu.base());
        d.tamper_body = true;
        statuses.push(emu.deliver(&url, b"{}", &d).await);
    }
    let rejected = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!((rejected, throttled), (9, 21), "{statuses:?}");
    assert_eq!(
        emu.cert_fetches() - fetched_before,
        9,
        "at most 10 a minute"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"paypal\",result=\"throttled\"}"
        ),
        21.0,
        "{metrics}"
    );

    // A genuine delivery signed with the cached certificate is not held up.
    let auth = emu.ledger().orders[&order].authorization.clone().unwrap();
    let voided = emu.event(
        "WH-flood-void",
        "PAYMENT.AUTHORIZATION.VOIDED",
        emu.resource(&auth),
    );
    assert_eq!(emu.deliver(&url, &voided, &emu.delivery()).await, 200);
    let p = app
        .client()
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Voided);
    // One naming a certificate not cached yet waits for the next minute: retryable, not lost.
    let mut d = emu.delivery();
    d.cert_url = format!("{}/v1/notifications/certs/CERT-rotated", emu.base());
    assert_eq!(emu.deliver(&url, &voided, &d).await, 503);
}
