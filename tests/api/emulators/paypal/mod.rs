//! A PayPal emulator on loopback that speaks PayPal's REST protocol to paygate: OAuth, orders
//! with an approval step the test drives, authorizations, captures, refunds over its own ledger,
//! request-id replay (for the request the id was first used for only), spec error bodies,
//! misbehaviour on demand, and webhooks signed with a fixed test RSA key whose certificate
//! (issued by a committed test root) it serves.

mod approval;
mod ledger;
mod server;

pub use ledger::Ledger;

use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub const CLIENT_ID: &str = "emu-client-id";
pub const CLIENT_SECRET: &str = "emu-client-secret-do-not-log";
pub const WEBHOOK_ID: &str = "8PT597110X687430LKGECATA";
pub const LEAF_PEM: &str = include_str!("../../../fixtures/paypal_test_pki/leaf.pem");
pub const ROOT_PEM: &str = include_str!("../../../fixtures/paypal_test_pki/ca.pem");
pub(super) const LEAF_KEY: &[u8] = include_bytes!("../../../fixtures/paypal_test_pki/leaf.pk8.der");

/// Misbehaviour for the next call of one operation.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer this status without acting.
    Status(u16),
    /// Act, then answer 500: the outcome is lost to the caller.
    LoseAnswer,
    /// 429 with `Retry-After: 0`, without acting.
    RateLimit,
    /// Act after a delay.
    Slow(Duration),
    /// Act at once, answer after a delay: the caller may give up on a request that acted.
    SlowAnswer(Duration),
    /// Behave normally: queued before another fault, it aims that one at a later call.
    Act,
}

pub struct Inner {
    ledger: Mutex<Ledger>,
    faults: Mutex<Vec<(String, Fault)>>,
    base: String,
    pub cert_fetches: AtomicU64,
}

#[derive(Clone)]
pub struct Emulator {
    pub inner: Arc<Inner>,
}

/// How a webhook is sent; every field can be spoiled to test rejection.
pub struct Delivery {
    pub webhook_id: String,
    pub cert_url: String,
    pub algo: String,
    /// Applied to the body after signing.
    pub tamper_body: bool,
    pub tamper_transmission_id: bool,
}

impl Emulator {
    pub async fn spawn() -> Emulator {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let emu = Emulator {
            inner: Arc::new(Inner {
                ledger: Mutex::new(Ledger::default()),
                faults: Mutex::new(Vec::new()),
                base: format!("http://{addr}"),
                cert_fetches: AtomicU64::new(0),
            }),
        };
        let app = server::router(emu.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        emu
    }

    pub fn base(&self) -> String {
        self.inner.base.clone()
    }

    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.inner.ledger.lock().unwrap()
    }

    /// The next call of `op` (e.g. `capture_authorization`) misbehaves as `fault`. Faults for
    /// one `op` queue up: each call takes the oldest (see [`Fault::Act`]).
    pub fn fail_next(&self, op: &str, fault: Fault) {
        self.inner
            .faults
            .lock()
            .unwrap()
            .push((op.to_owned(), fault));
    }

    fn take_fault(&self, op: &str) -> Option<Fault> {
        let mut faults = self.inner.faults.lock().unwrap();
        let i = faults.iter().position(|(o, _)| o == op)?;
        Some(faults.remove(i).1)
    }

    pub fn approve(&self, order_id: &str) {
        assert!(
            self.ledger().approve(order_id),
            "order {order_id} not awaiting approval"
        );
    }

    /// Requests received for `op` (e.g. `get_order`), whatever was answered.
    pub fn calls(&self, op: &str) -> u64 {
        self.ledger().calls.get(op).copied().unwrap_or(0)
    }

    /// Requests received for orders: reads and completions (`*_order` but their creation).
    pub fn order_calls(&self) -> u64 {
        self.ledger()
            .calls
            .iter()
            .filter(|(op, _)| op.ends_with("_order") && op.as_str() != "create_order")
            .map(|(_, n)| n)
            .sum()
    }

    pub fn token_fetches(&self) -> u64 {
        self.ledger().token_fetches
    }

    /// Every PayPal-Request-Id sent for `op`, replays included.
    pub fn request_ids(&self, op: &str) -> Vec<String> {
        self.ledger()
            .request_ids
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, id)| id.clone())
            .collect()
    }

    pub fn cert_url(&self) -> String {
        format!(
            "{}/v1/notifications/certs/CERT-emulator-test",
            self.inner.base
        )
    }

    pub fn delivery(&self) -> Delivery {
        Delivery {
            webhook_id: WEBHOOK_ID.to_owned(),
            cert_url: self.cert_url(),
            algo: "SHA256withRSA".to_owned(),
            tamper_body: false,
            tamper_transmission_id: false,
        }
    }

    /// The resource of an order/authorization/capture/refund, as PayPal's webhooks carry it.
    pub fn resource(&self, id: &str) -> Value {
        let base = self.base();
        let l = self.ledger();
        if let Some(o) = l.orders.get(id) {
            return l.order_json(&base, o);
        }
        if let Some(a) = l.authorizations.get(id) {
            return l.auth_json(&base, a);
        }
        if let Some(c) = l.captures.get(id) {
            return l.capture_json(&base, c);
        }
        let r = l
            .refunds
            .get(id)
            .unwrap_or_else(|| panic!("no PayPal resource {id}"));
        l.refund_json(&base, r)
    }

    /// A compact event body, as PayPal sends them.
    pub fn event(&self, event_id: &str, event_type: &str, resource: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": event_id, "event_version": "1.0", "create_time": "2026-01-01T00:00:00.000Z",
            "resource_type": "capture", "resource_version": "2.0", "event_type": event_type,
            "summary": "emulated", "resource": resource,
        }))
        .unwrap()
    }

    /// Signs `body` as PayPal does and POSTs it to `url`; returns the HTTP status.
    pub async fn deliver(&self, url: &str, body: &[u8], d: &Delivery) -> u16 {
        use base64::Engine as _;
        let transmission_id = uuid::Uuid::new_v4().to_string();
        let time = time::OffsetDateTime::now_utc()
            .format(&time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .unwrap();
        let crc = crc32fast::hash(body);
        let message = format!("{transmission_id}|{time}|{}|{crc}", d.webhook_id);
        let key = ring::signature::RsaKeyPair::from_pkcs8(LEAF_KEY).unwrap();
        let mut sig = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut sig,
        )
        .unwrap();
        let mut body = body.to_vec();
        if d.tamper_body {
            body.push(b' ');
        }
        let sent_id = if d.tamper_transmission_id {
            uuid::Uuid::new_v4().to_string()
        } else {
            transmission_id
        };
        let resp = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("PAYPAL-TRANSMISSION-ID", sent_id)
            .header("PAYPAL-TRANSMISSION-TIME", time)
            .header(
                "PAYPAL-TRANSMISSION-SIG",
                base64::engine::general_purpose::STANDARD.encode(&sig),
            )
            .header("PAYPAL-CERT-URL", &d.cert_url)
            .header("PAYPAL-AUTH-ALGO", &d.algo)
            .header("PAYPAL-AUTH-VERSION", "v2")
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        resp.status().as_u16()
    }

    pub fn cert_fetches(&self) -> u64 {
        self.inner.cert_fetches.load(Ordering::SeqCst)
    }
}
