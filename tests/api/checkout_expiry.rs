//! Abandoned checkouts: a payment left REQUIRES_ACTION on the provider's page is an open
//! checkout (`paygate_checkouts_open`), not an unresolved operation; past its provider's
//! expiry one last status check settles it, FAILED with `checkout_expired`, and a success the
//! provider reports after that still counts.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use std::time::Duration;
use tokio::time::Instant;

async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| {
        s.server.provider_timeout = Duration::from_millis(300);
        s.checkout.mock = Duration::from_secs(2);
    })
    .await
}

async fn redirect(client: &mut Client, key: &str) -> (pb::Payment, String) {
    let p = client
        .authorize(authorize_req(key, 10_000, "MAD", "mock_redirect"))
        .await
        .expect("authorize")
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::RequiresAction, "{p:?}");
    let url = match p.next_action.as_ref().and_then(|n| n.action.as_ref()) {
        Some(pb::next_action::Action::Redirect(r)) => r.url.clone(),
        other => panic!("expected a redirect, got {other:?}"),
    };
    (p, url)
}

async fn wait_for(client: &mut Client, id: &str, status: pb::PaymentStatus) -> pb::Payment {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let p = client.get_payment(get_req(id)).await.unwrap().into_inner();
        if p.status() == status {
            return p;
        }
        assert!(Instant::now() < deadline, "stayed {:?}: {p:?}", p.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn gauges(app: &TestApp) -> (f64, f64) {
    let text = app.metrics().await;
    (
        metric_value(&text, "paygate_checkouts_open"),
        metric_value(&text, "paygate_operations_unresolved"),
    )
}

#[tokio::test]
async fn an_abandoned_checkout_is_counted_apart_and_expires_after_a_last_check() {
    let app = spawn().await;
    let mut client = app.client();
    let (p, _) = redirect(&mut client, "abandoned-cart").await;
    // The reconciler sees it as an open checkout, never as an unresolved operation.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (open, unresolved) = gauges(&app).await;
        assert_eq!(
            unresolved, 0.0,
            "an open checkout is not an unknown outcome"
        );
        if open == 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "paygate_checkouts_open never showed it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = wait_for(&mut client, &p.id, pb::PaymentStatus::Failed).await;
    assert_eq!(failed.failure.as_ref().unwrap().code, "checkout_expired");
    assert!(failed.next_action.is_none(), "{failed:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while gauges(&app).await != (0.0, 0.0) {
        assert!(
            Instant::now() < deadline,
            "gauges stayed {:?}",
            gauges(&app).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.ledger().await.authorizations, 0, "nothing was charged");
}

#[tokio::test]
async fn a_payment_the_customer_finishes_after_the_expiry_still_counts() {
    let app = spawn().await;
    let mut client = app.client();
    let (p, url) = redirect(&mut client, "late-customer").await;
    wait_for(&mut client, &p.id, pb::PaymentStatus::Failed).await;
    // The customer approves on the still-open page: the processor charges and says so.
    let approved = reqwest::Client::new()
        .post(format!("{url}/approve"))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success(), "{approved:?}");
    let authorized = wait_for(&mut client, &p.id, pb::PaymentStatus::Authorized).await;
    assert!(authorized.failure.is_none(), "{authorized:?}");
    assert_eq!(app.ledger().await.authorizations, 1);
}
