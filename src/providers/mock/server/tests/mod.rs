//! End-to-end tests: the real mock processor on `127.0.0.1:0`, driven through [`MockApi`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod faults;
mod operations;
mod payments;
mod webhooks;

use std::time::Duration;

use reqwest::Url;
use tokio::net::TcpListener;

use super::{ProcessorState, serve};
use crate::providers::mock::api::{MockApi, MockCallError};
use crate::providers::mock::wire::{AmountRequest, CreatePaymentRequest};

/// A running processor plus clients for it.
struct Harness {
    api: MockApi,
    state: ProcessorState,
    base: Url,
    http: reqwest::Client,
}

fn client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

async fn start() -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = ProcessorState::new();
    tokio::spawn(serve(listener, state.clone(), std::future::pending()));
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let http = client(Duration::from_secs(10));
    Harness {
        api: MockApi::new(base.clone(), http.clone()),
        state,
        base,
        http,
    }
}

fn payment(token: &str, amount: i64, capture: bool) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount,
        currency: "EUR".to_owned(),
        capture,
        token: token.to_owned(),
        reference: "order-1".to_owned(),
        webhook_url: None,
        return_url: None,
        cancel_url: None,
    }
}

fn eur(amount: i64) -> AmountRequest {
    AmountRequest {
        amount,
        currency: "EUR".to_owned(),
    }
}

/// `(status, code)` of a `Rejected` error, `None` for anything else.
fn rejected_code<T>(result: Result<T, MockCallError>) -> Option<(u16, String)> {
    match result {
        Err(MockCallError::Rejected { status, code, .. }) => Some((status, code)),
        _ => None,
    }
}
