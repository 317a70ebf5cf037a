//! Webhooks and the redirect flow: the mock processor's signed events complete REQUIRES_ACTION
//! payments; forged, stale, oversized, malformed, replayed and reordered deliveries are handled.

use crate::helpers::*;
use futures::StreamExt as _;
use paygate::config::Secret;
use paygate::domain::Timestamp;
use paygate::grpc::proto as pb;
use paygate::providers::mock::wire::{PaymentObject, PaymentState, WebhookEvent, WebhookEventType};
use paygate::standard_webhooks::{self as webhook, WebhookSecret};
use std::time::Duration;

type Events = tonic::Streaming<pb::PaymentEvent>;

/// A known secret (32 bytes, Base64), configured so tests can sign webhooks themselves.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAA=";

async fn spawn_with_secret() -> TestApp {
    TestApp::spawn_with(|s| {
        for m in &mut s.merchants {
            if let Some(mock) = &mut m.providers.mock {
                mock.webhook_secrets = vec![Secret::new(SECRET.to_owned())];
            }
        }
    })
    .await
}

async fn watch(client: &mut Client) -> Events {
    client
        .watch_events(pb::WatchEventsRequest { after_sequence: 0 })
        .await
        .expect("WatchEvents")
        .into_inner()
}

async fn take(events: &mut Events, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("event did not arrive within 10 s")
            .expect("stream ended")
            .expect("stream error");
        got.push(next.r#type);
    }
    got
}

/// No further event within a short wait.
async fn assert_quiet(events: &mut Events) {
    let more = tokio::time::timeout(Duration::from_millis(500), events.next()).await;
    assert!(more.is_err(), "unexpected event: {more:?}");
}

/// Authorizes with `mock_redirect`; returns the payment and its redirect URL.
async fn redirect_payment(
    client: &mut Client,
    key: &str,
    automatic: bool,
) -> (pb::Payment, String) {
    let mut req = authorize_req(key, 10_000, "MAD", "mock_redirect");
    if automatic {
        req.capture_mode = pb::CaptureMode::Automatic.into();
    }
    let p = client.authorize(req).await.expect("authorize").into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::RequiresAction);
    let url = match p.next_action.as_ref().and_then(|n| n.action.as_ref()) {
        Some(pb::next_action::Action::Redirect(r)) => r.url.clone(),
        other => panic!("expected a redirect, got {other:?}"),
    };
    (p, url)
}

async fn wait_for(client: &mut Client, id: &str, status: pb::PaymentStatus) -> pb::Payment {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let p = client
            .get_payment(get_req(id))
            .await
            .expect("get")
            .into_inner();
        if p.status() == status {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "payment stayed {:?}, expected {status:?}",
            p.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A signed mock webhook for `payment`, as the processor would send it.
#[derive(Clone)]
struct Signed {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

fn event(p: &pb::Payment, kind: WebhookEventType, signed_at: i64) -> Signed {
    let (status, decline_code) = match kind {
        WebhookEventType::Authorized => (PaymentState::Authorized, None),
        WebhookEventType::Captured => (PaymentState::Captured, None),
        WebhookEventType::Declined => (PaymentState::Declined, Some("card_declined".to_owned())),
    };
    let (amount, currency) = amount_of(p.amount.as_ref());
    let event = WebhookEvent {
        id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
        kind,
        payment: PaymentObject {
            id: p.provider_reference.clone(),
            status,
            amount,
            currency,
            captured: 0,
            refunded: 0,
            reference: p.merchant_reference.clone(),
            decline_code,
            decline_message: None,
            redirect_url: None,
        },
    };
    let body = serde_json::to_vec(&event).unwrap();
    sign(event.id, signed_at, body)
}

fn sign(id: String, signed_at: i64, body: Vec<u8>) -> Signed {
    let secrets = [WebhookSecret::parse(SECRET).unwrap()];
    Signed {
        signature: webhook::sign(&secrets, &id, signed_at, &body),
        timestamp: signed_at.to_string(),
        id,
        body,
    }
}

fn now() -> i64 {
    Timestamp::now().seconds()
}

thread_local! {
    /// One client per test (each test owns its thread and runtime): building one per request
    /// costs more than the request itself.
    static HTTP: reqwest::Client = reqwest::Client::new();
}

async fn post(app: &TestApp, path: &str, w: &Signed) -> u16 {
    HTTP.with(reqwest::Client::clone)
        .post(format!("{}{path}", app.http_base()))
        .header("webhook-id", &w.id)
        .header("webhook-timestamp", &w.timestamp)
        .header("webhook-signature", &w.signature)
        .body(w.body.clone())
        .send()
        .await
        .expect("POST webhook")
        .status()
        .as_u16()
}

const ROUTE: &str = "/webhooks/mock/default";

async fn webhook_count(app: &TestApp, result: &str) -> f64 {
    let series = format!("paygate_webhooks_total{{provider=\"mock\",result=\"{result}\"}}");
    metric_value(&app.metrics().await, &series)
}

#[tokio::test]
async fn an_approved_redirect_payment_becomes_authorized_through_the_webhook() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut events = watch(&mut client).await;
    let (p, url) = redirect_payment(&mut client, "wh-approve", false).await;
    let approved = reqwest::Client::new()
        .post(format!("{url}/approve"))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success());

    let done = wait_for(&mut client, &p.id, pb::PaymentStatus::Authorized).await;
    assert!(done.next_action.is_none());
    // A retry of the original Authorize now answers with the settled payment, not the redirect.
    let replay = client
        .authorize(authorize_req("wh-approve", 10_000, "MAD", "mock_redirect"))
        .await
        .expect("replayed authorize")
        .into_inner();
    assert_eq!(replay.id, p.id);
    assert_eq!(replay.status(), pb::PaymentStatus::Authorized);
    assert!(replay.next_action.is_none());
    assert_eq!(
        take(&mut events, 2).await,
        ["payment.requires_action", "payment.authorized"]
    );
    assert_eq!(webhook_count(&app, "applied").await, 1.0);
}

#[tokio::test]
async fn an_approved_redirect_sale_becomes_captured() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let (p, url) = redirect_payment(&mut client, "wh-sale", true).await;
    let approved = reqwest::Client::new()
        .post(format!("{url}/approve"))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success());
    let done = wait_for(&mut client, &p.id, pb::PaymentStatus::Captured).await;
    assert_eq!(amount_of(done.captured.as_ref()).0, 10_000);
}

#[tokio::test]
async fn a_declined_redirect_payment_becomes_declined_with_card_declined() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let (p, url) = redirect_payment(&mut client, "wh-decline", false).await;
    let declined = reqwest::Client::new()
        .post(format!("{url}/decline"))
        .send()
        .await
        .unwrap();
    assert!(declined.status().is_success());
    let done = wait_for(&mut client, &p.id, pb::PaymentStatus::Declined).await;
    assert_eq!(done.failure.expect("failure").code, "card_declined");
}

#[tokio::test]
async fn a_webhook_replayed_100_times_is_applied_once() {
    let app = spawn_with_secret().await;
    let mut client = app.client();
    let mut events = watch(&mut client).await;
    let (p, _) = redirect_payment(&mut client, "wh-replay", false).await;
    let w = event(&p, WebhookEventType::Authorized, now());

    let statuses: Vec<u16> = futures::stream::iter(0..100)
        .map(|_| post(&app, ROUTE, &w))
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    wait_for(&mut client, &p.id, pb::PaymentStatus::Authorized).await;
    assert_eq!(
        take(&mut events, 2).await,
        ["payment.requires_action", "payment.authorized"]
    );
    assert_quiet(&mut events).await;
    assert_eq!(webhook_count(&app, "applied").await, 1.0);
    assert_eq!(webhook_count(&app, "duplicate").await, 99.0);
}

#[tokio::test]
async fn forged_stale_oversized_and_malformed_webhooks_are_refused() {
    let app = spawn_with_secret().await;
    let mut client = app.client();
    let mut events = watch(&mut client).await;
    let (p, _) = redirect_payment(&mut client, "wh-bad", false).await;
    assert_eq!(take(&mut events, 1).await, ["payment.requires_action"]);

    let mut forged = event(&p, WebhookEventType::Authorized, now());
    forged.body.push(b' ');
    assert_eq!(post(&app, ROUTE, &forged).await, 401);

    let stale = event(&p, WebhookEventType::Authorized, now() - 301);
    assert_eq!(post(&app, ROUTE, &stale).await, 401);

    let mut unsigned = event(&p, WebhookEventType::Authorized, now());
    unsigned.signature = String::new();
    assert_eq!(post(&app, ROUTE, &unsigned).await, 401);

    let huge = sign("evt_huge".into(), now(), vec![b' '; 65 * 1024]);
    assert_eq!(post(&app, ROUTE, &huge).await, 413);

    let malformed = sign("evt_bad".into(), now(), b"{not json".to_vec());
    assert_eq!(post(&app, ROUTE, &malformed).await, 400);
    let unknown_type = sign(
        "evt_type".into(),
        now(),
        br#"{"id":"evt_type","type":"payment.exploded","payment":{}}"#.to_vec(),
    );
    assert_eq!(post(&app, ROUTE, &unknown_type).await, 400);

    let same = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same.status(), pb::PaymentStatus::RequiresAction);
    assert_quiet(&mut events).await;
    assert_eq!(webhook_count(&app, "rejected_signature").await, 3.0);
    assert_eq!(webhook_count(&app, "rejected_malformed").await, 2.0);
    assert_eq!(webhook_count(&app, "applied").await, 0.0);
}

#[tokio::test]
async fn a_decline_after_an_authorization_changes_nothing() {
    let app = spawn_with_secret().await;
    let mut client = app.client();
    let (p, _) = redirect_payment(&mut client, "wh-order", false).await;
    let authorized = event(&p, WebhookEventType::Authorized, now());
    assert_eq!(post(&app, ROUTE, &authorized).await, 200);
    let declined = event(&p, WebhookEventType::Declined, now());
    assert_eq!(post(&app, ROUTE, &declined).await, 200);

    let after = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.status(), pb::PaymentStatus::Authorized);
    assert!(after.failure.is_none());
    assert_eq!(webhook_count(&app, "ignored").await, 1.0);
}

#[tokio::test]
async fn unknown_routes_and_unknown_payments() {
    let app = spawn_with_secret().await;
    let mut client = app.client();
    let (mut p, _) = redirect_payment(&mut client, "wh-routes", false).await;
    let w = event(&p, WebhookEventType::Authorized, now());
    assert_eq!(post(&app, "/webhooks/mock/nobody", &w).await, 404);
    assert_eq!(post(&app, "/webhooks/cmi/default", &w).await, 404);
    assert_eq!(post(&app, "/webhooks/stripe/default", &w).await, 404);

    p.provider_reference = "mp_unknown".into();
    let stray = event(&p, WebhookEventType::Authorized, now());
    assert_eq!(post(&app, ROUTE, &stray).await, 200);
    assert_eq!(webhook_count(&app, "ignored").await, 1.0);
}

#[tokio::test]
async fn an_external_processor_without_a_secret_gets_503() {
    let app = TestApp::spawn_with(|s| {
        for m in &mut s.merchants {
            if let Some(mock) = &mut m.providers.mock {
                mock.base_url = Some(reqwest::Url::parse("http://127.0.0.1:9/").unwrap());
            }
        }
    })
    .await;
    let w = sign("evt_x".into(), now(), b"{}".to_vec());
    assert_eq!(post(&app, ROUTE, &w).await, 503);
}

#[tokio::test]
async fn out_of_order_events_end_in_the_final_state() {
    let app = spawn_with_secret().await;
    let mut client = app.client();
    let mut events = watch(&mut client).await;
    let (p, _) = redirect_payment(&mut client, "wh-reorder", true).await;
    // The processor's "captured" overtakes its earlier "authorized" and a stray "declined".
    let captured = event(&p, WebhookEventType::Captured, now());
    let authorized = event(&p, WebhookEventType::Authorized, now() - 5);
    let declined = event(&p, WebhookEventType::Declined, now() - 10);
    for w in [&captured, &authorized, &declined] {
        assert_eq!(post(&app, ROUTE, w).await, 200);
    }
    let after = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.status(), pb::PaymentStatus::Captured);
    assert_eq!(amount_of(after.captured.as_ref()).0, 10_000);
    assert_eq!(
        take(&mut events, 2).await,
        ["payment.requires_action", "payment.captured"]
    );
    assert_quiet(&mut events).await;
    assert_eq!(webhook_count(&app, "applied").await, 1.0);
    assert_eq!(webhook_count(&app, "ignored").await, 2.0);
}

#[tokio::test]
async fn during_a_secret_rotation_both_secrets_are_accepted_and_no_other() {
    const OLD: &str = "whsec_b2xkLXNlY3JldC1iZWluZy1yb3RhdGVkLW91dC0xMjM0NTY=";
    const STRANGER: &str = "whsec_c29tZWJvZHktZWxzZXMtc2VjcmV0LTAwMDAwMDAwMDAwMA==";
    let app = TestApp::spawn_with(|s| {
        for m in &mut s.merchants {
            if let Some(mock) = &mut m.providers.mock {
                mock.webhook_secrets =
                    vec![Secret::new(SECRET.to_owned()), Secret::new(OLD.to_owned())];
            }
        }
    })
    .await;
    let mut client = app.client();
    let signed_with = |secret: &str, w: &Signed| Signed {
        signature: webhook::sign(
            &[WebhookSecret::parse(secret).unwrap()],
            &w.id,
            w.timestamp.parse().unwrap(),
            &w.body,
        ),
        ..w.clone()
    };
    let (p, _) = redirect_payment(&mut client, "wh-rotate", false).await;
    let w = event(&p, WebhookEventType::Authorized, now());
    assert_eq!(post(&app, ROUTE, &signed_with(STRANGER, &w)).await, 401);
    assert_eq!(post(&app, ROUTE, &signed_with(OLD, &w)).await, 200);
    wait_for(&mut client, &p.id, pb::PaymentStatus::Authorized).await;
    let (q, _) = redirect_payment(&mut client, "wh-rotate-2", false).await;
    let w = event(&q, WebhookEventType::Authorized, now());
    assert_eq!(post(&app, ROUTE, &signed_with(SECRET, &w)).await, 200);
    assert_eq!(webhook_count(&app, "rejected_signature").await, 1.0);
}
