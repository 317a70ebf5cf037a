//! What a shop receives: every event type, signed, with the payment as the API shows it; the
//! `events` filter; one delivery per endpoint.

use super::*;
use crate::helpers::*;
use std::collections::{HashMap, HashSet};

async fn api_payment(app: &TestApp, id: &str) -> serde_json::Value {
    let url = format!("http://{}/v1/payments/{id}", app.grpc_addr());
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_type_reaches_the_shop_signed_with_the_payment_as_the_api_shows_it() {
    let rx = Receiver::start(Mode::Ok).await;
    let app = TestApp::spawn_with(|s| {
        let merchant = s.merchants[0].id.to_string();
        s.merchants[0].webhook_endpoints = vec![endpoint("we_all", &merchant, &rx, &[])];
        s.webhooks = delivery(&[0, 1, 1], Duration::from_secs(5));
    })
    .await;
    let mut client = app.client();
    // authorized, captured, refunded
    let paid = captured(&mut client, "wh-paid", 5_000).await;
    client
        .refund(refund_req("wh-refund", &paid.id, None))
        .await
        .unwrap();
    // authorized, voided
    let voided = authorized(&mut client, "wh-void", 2_000).await;
    client
        .void(void_req("wh-void-2", &voided.id))
        .await
        .unwrap();
    // declined; requires_action (the mock's redirect)
    let declined = client
        .authorize(authorize_req("wh-decline", 1_000, "MAD", "mock_decline"))
        .await
        .unwrap()
        .into_inner();
    let redirected = client
        .authorize(authorize_req("wh-redirect", 1_000, "MAD", "mock_redirect"))
        .await
        .unwrap()
        .into_inner();
    // failed: a token the processor rejects (what `paygate trigger payment.failed` sends).
    let failed = client
        .authorize(authorize_req(
            "wh-failed",
            1_000,
            "MAD",
            "mock_trigger_failed",
        ))
        .await
        .unwrap()
        .into_inner();

    let want: HashSet<&str> = [
        "payment.authorized",
        "payment.captured",
        "payment.refunded",
        "payment.voided",
        "payment.declined",
        "payment.requires_action",
        "payment.failed",
    ]
    .into();
    let got = rx
        .wait_for(Duration::from_secs(20), "every event type", |got| {
            let kinds: HashSet<String> = got.iter().map(Received::kind).collect();
            want.iter().all(|k| kinds.contains(*k)) && got.len() >= 8
        })
        .await;
    // Nothing else: the eight events, each once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = if rx.got().len() > got.len() {
        rx.got()
    } else {
        got
    };
    assert_eq!(
        got.len(),
        8,
        "{:?}",
        got.iter().map(Received::kind).collect::<Vec<_>>()
    );
    let mut last: HashMap<String, (i64, serde_json::Value)> = HashMap::new();
    for r in &got {
        assert!(verified(r), "signature of {}", r.id);
        let doc = r.json();
        let sequence = doc["sequence"].as_i64().unwrap();
        assert_eq!(r.id, format!("msg_we_all_{sequence}"), "stable webhook-id");
        let at = doc["occurred_at"].as_str().unwrap();
        assert!(at.ends_with('Z') || at.ends_with("+00:00"), "{at}");
        let entry = last
            .entry(r.payment_id())
            .or_insert((sequence, doc["data"]["payment"].clone()));
        if sequence >= entry.0 {
            *entry = (sequence, doc["data"]["payment"].clone());
        }
    }
    for id in [
        &paid.id,
        &voided.id,
        &declined.id,
        &redirected.id,
        &failed.id,
    ] {
        let (_, in_webhook) = &last[id.as_str()];
        assert_eq!(
            in_webhook,
            &api_payment(&app, id).await,
            "the last webhook's payment is GET /v1/payments/{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_endpoint_gets_its_own_delivery_of_the_events_it_asked_for() {
    let only_captures = Receiver::start(Mode::Ok).await;
    let everything = Receiver::start(Mode::Ok).await;
    let app = TestApp::spawn_with(|s| {
        let m = s.merchants[0].id.to_string();
        s.merchants[0].webhook_endpoints = vec![
            endpoint("we_captures", &m, &only_captures, &["payment.captured"]),
            endpoint("we_everything", &m, &everything, &[]),
        ];
        s.webhooks = delivery(&[0, 1], Duration::from_secs(5));
    })
    .await;
    let mut client = app.client();
    let p = captured(&mut client, "wh-two", 3_000).await;
    let all = everything
        .wait_for(Duration::from_secs(20), "two events", |g| g.len() >= 2)
        .await;
    let caps = only_captures
        .wait_for(Duration::from_secs(20), "the capture", |g| !g.is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(only_captures.got().len(), 1, "the filter holds");
    assert_eq!(caps[0].kind(), "payment.captured");
    assert_eq!(caps[0].payment_id(), p.id);
    let kinds: Vec<String> = all.iter().map(Received::kind).collect();
    assert!(
        kinds.contains(&"payment.authorized".to_owned())
            && kinds.contains(&"payment.captured".to_owned())
    );
    let capture_for_all = all.iter().find(|r| r.kind() == "payment.captured").unwrap();
    assert_eq!(capture_for_all.body, caps[0].body, "same event, same body");
    assert_ne!(capture_for_all.id, caps[0].id, "a webhook-id per endpoint");
    assert!(verified(&caps[0]) && verified(capture_for_all));
}
