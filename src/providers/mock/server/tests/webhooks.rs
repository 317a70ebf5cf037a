//! Webhook delivery: the hosted page's decision reaches `webhook_url` signed, and a refused
//! delivery is retried with the same event id and the same bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use reqwest::Url;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::{ProcessorState, client, payment, serve};
use crate::domain::Timestamp;
use crate::providers::mock::api::MockApi;
use crate::providers::mock::wire::{CreatePaymentRequest, WebhookEvent, WebhookEventType};
use crate::standard_webhooks::{self as webhook, WebhookSecret};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAA=";

/// A receiver that refuses the first `refuse` deliveries with 500 and reports every one.
async fn receiver(refuse: usize) -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let seen = seen.clone();
            async move {
                let _ = tx.send((headers, body));
                if seen.fetch_add(1, Ordering::SeqCst) < refuse {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

async fn processor() -> (MockApi, reqwest::Client) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let secrets = vec![WebhookSecret::parse(SECRET).unwrap()];
    let state = ProcessorState::with_webhook_secrets(secrets);
    tokio::spawn(serve(listener, state, std::future::pending()));
    let http = client(Duration::from_secs(10));
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    (MockApi::new(base, http.clone()), http)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).unwrap().to_str().unwrap()
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) -> (HeaderMap, Bytes) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no delivery within 10 s")
        .unwrap()
}

#[tokio::test]
async fn an_approval_is_delivered_signed_and_retried_with_the_same_id() {
    let (url, mut rx) = receiver(1).await;
    let (api, http) = processor().await;
    let req = CreatePaymentRequest {
        webhook_url: Some(url),
        return_url: None,
        cancel_url: None,
        ..payment("mock_redirect", 900, true)
    };
    let p = api.create_payment("w1", &req).await.unwrap();
    let redirect = p.redirect_url.clone().unwrap();
    let approve = http
        .post(format!("{redirect}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(approve.status().as_u16(), 200);

    let (first_headers, first_body) = next(&mut rx).await;
    let (second_headers, second_body) = next(&mut rx).await;
    let id = header(&first_headers, "webhook-id");
    assert_eq!(id, header(&second_headers, "webhook-id"));
    assert_eq!(first_body, second_body);
    let secrets = [WebhookSecret::parse(SECRET).unwrap()];
    webhook::verify(
        &secrets,
        id,
        header(&second_headers, "webhook-timestamp"),
        header(&second_headers, "webhook-signature"),
        &second_body,
        Timestamp::now().seconds(),
    )
    .unwrap();
    let event: WebhookEvent = serde_json::from_slice(&second_body).unwrap();
    assert_eq!(event.id, id);
    assert_eq!(event.kind, WebhookEventType::Captured);
    assert_eq!(event.payment.id, p.id);
    // Delivered: no third attempt.
    let third = tokio::time::timeout(Duration::from_millis(600), rx.recv()).await;
    assert!(third.is_err());
}

#[tokio::test]
async fn a_decline_is_delivered_with_its_code() {
    let (url, mut rx) = receiver(0).await;
    let (api, http) = processor().await;
    let req = CreatePaymentRequest {
        webhook_url: Some(url),
        return_url: None,
        cancel_url: None,
        ..payment("mock_redirect", 900, false)
    };
    let p = api.create_payment("w2", &req).await.unwrap();
    let redirect = p.redirect_url.clone().unwrap();
    let decline = http
        .post(format!("{redirect}/decline"))
        .send()
        .await
        .unwrap();
    assert_eq!(decline.status().as_u16(), 200);
    let (_, body) = next(&mut rx).await;
    let event: WebhookEvent = serde_json::from_slice(&body).unwrap();
    assert_eq!(event.kind, WebhookEventType::Declined);
    assert_eq!(event.payment.decline_code.as_deref(), Some("card_declined"));
}
