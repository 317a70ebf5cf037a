//! Webhooks to shops, black-box: the real app (or binary) delivers to loopback receivers that
//! record every request, and the tests check the signatures with their own Standard Webhooks
//! code (checked first against `tests/fixtures/standard_webhooks.json`), not paygate's.

mod delivery;
mod faults;
mod kill;
mod replicas;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use paygate::domain::MerchantId;
use paygate::shop_webhooks::endpoint::{DeliverySettings, Endpoint};
use paygate::standard_webhooks::WebhookSecret;
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How a receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Fail,
    /// Never answers (the connection stays open).
    Hang,
}

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    /// W3C trace context, when paygate traces.
    pub traceparent: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap().to_owned()
    }
    pub fn payment_id(&self) -> String {
        self.json()["data"]["payment"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A loopback HTTP server that records every POST and answers as its mode says.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Receiver {
    pub async fn start(mode: Mode) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, mode)
    }

    /// On a given port (a receiver that comes back where it was).
    pub async fn start_at(addr: SocketAddr, mode: Mode) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        Self::serve(listener, mode)
    }

    fn serve(listener: tokio::net::TcpListener, mode: Mode) -> Receiver {
        let r = Receiver {
            addr: listener.local_addr().unwrap(),
            got: Arc::default(),
            mode: Arc::new(Mutex::new(mode)),
        };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let state = state.clone();
                    async move {
                        let h = |n: &str| {
                            headers
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        state.got.lock().unwrap().push(Received {
                            id: h("webhook-id"),
                            timestamp: h("webhook-timestamp"),
                            signature: h("webhook-signature"),
                            traceparent: h("traceparent"),
                            body: body.to_vec(),
                        });
                        let mode = *state.mode.lock().unwrap();
                        match mode {
                            Mode::Ok => axum::http::StatusCode::NO_CONTENT,
                            Mode::Fail => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            Mode::Hang => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                axum::http::StatusCode::OK
                            }
                        }
                    }
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to `within`) until `done` holds for what was received; returns it.
    pub async fn wait_for(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "receiver {}: timed out waiting for {what}; got {} requests",
                    self.addr,
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An endpoint of `merchant` at `receiver`, all events unless `events` says otherwise.
pub fn endpoint(id: &str, merchant: &str, receiver: &Receiver, events: &[&str]) -> Endpoint {
    Endpoint {
        id: id.to_owned(),
        merchant: MerchantId::parse(merchant).unwrap(),
        url: receiver.url().parse().unwrap(),
        secrets: vec![WebhookSecret::parse(SECRET).unwrap()],
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        allow_loopback: true,
        allow_private: false,
        max_concurrent: 4,
    }
}

/// Delivery settings with a short schedule and timeout (seconds).
pub fn delivery(schedule: &[u64], timeout: Duration) -> DeliverySettings {
    DeliverySettings {
        retry_schedule: schedule.iter().map(|s| Duration::from_secs(*s)).collect(),
        timeout,
        lease: Duration::from_secs(30).max(timeout * 3),
        ..DeliverySettings::default()
    }
}

/// The test's own Standard Webhooks check: `v1,` + base64(HMAC-SHA256(key, id.ts.body)),
/// the key being the base64 after `whsec_`. True if any of the signatures matches.
pub fn signature_ok(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let key = B64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let want = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    header.split(' ').any(|s| s == want)
}

pub fn verified(r: &Received) -> bool {
    signature_ok(SECRET, &r.id, &r.timestamp, &r.body, &r.signature)
}

#[test]
fn the_test_verifier_agrees_with_the_public_vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/standard_webhooks.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for v in doc["vectors"].as_array().unwrap() {
        let (Some(secret), Some(id), Some(ts), Some(payload), Some(sig)) = (
            v["secret"].as_str(),
            v["msg_id"].as_str(),
            v["timestamp"].as_i64(),
            v["payload"].as_str(),
            v["expected_signature"].as_str(),
        ) else {
            continue;
        };
        let ts = ts.to_string();
        assert!(
            signature_ok(secret, id, &ts, payload.as_bytes(), sig),
            "vector {}",
            v["id"]
        );
        let tampered = format!("{payload} ");
        assert!(!signature_ok(secret, id, &ts, tampered.as_bytes(), sig));
        checked += 1;
    }
    assert!(checked >= 1, "no vector checked");
}
