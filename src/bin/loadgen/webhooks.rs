//! Webhook load: signed mock `payment.authorized` events POSTed to paygate's webhook route,
//! one per payment prepared beforehand in `requires_action` (a `mock_redirect` Authorize).
//!
//! Preparing is not measured; each measured iteration is one POST, timed from its due (open
//! loop) or send (closed loop) time to paygate's `200 applied`, i.e. verified, deduplicated and
//! committed with its event. Anything else is an error named after what came back.

use crate::stats::Recorder;
use paygate::grpc::proto;
use paygate::providers::mock::wire::{PaymentObject, PaymentState, WebhookEvent, WebhookEventType};
use paygate::standard_webhooks::{self as webhook, WebhookSecret};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// A payment waiting for the customer, as the processor knows it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub provider_reference: String,
    pub merchant_reference: String,
    pub amount: i64,
    pub currency: String,
}

impl Prepared {
    /// From an Authorize answer; `None` unless it is `REQUIRES_ACTION` with a processor id.
    pub fn from_payment(p: &proto::Payment) -> Option<Self> {
        let amount = p.amount.as_ref()?;
        (p.status == i32::from(proto::PaymentStatus::RequiresAction)
            && !p.provider_reference.is_empty())
        .then(|| Self {
            provider_reference: p.provider_reference.clone(),
            merchant_reference: p.merchant_reference.clone(),
            amount: amount.minor_units,
            currency: amount.currency.clone(),
        })
    }
}

/// Where and how to send; shared by all workers (cloning shares the pool of payments).
#[derive(Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
    url: String,
    secrets: Arc<[WebhookSecret]>,
    pool: Arc<Mutex<Vec<Prepared>>>,
}

impl WebhookSender {
    pub fn new(http_base: &str, merchant: &str, secret: &str) -> anyhow::Result<Self> {
        let secret =
            WebhookSecret::parse(secret).map_err(|e| anyhow::anyhow!("--webhook-secret: {e}"))?;
        paygate::providers::http_client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1024)
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            url: format!(
                "{}/webhooks/mock/{merchant}",
                http_base.trim_end_matches('/')
            ),
            secrets: Arc::from(vec![secret]),
            pool: Arc::default(),
        })
    }

    pub fn add(&self, prepared: Vec<Prepared>) {
        if let Ok(mut pool) = self.pool.lock() {
            pool.extend(prepared);
        }
    }

    fn take(&self) -> Option<Prepared> {
        self.pool.lock().ok()?.pop()
    }

    /// Sends one signed event for a prepared payment and records the outcome.
    pub async fn once(&self, since: Instant, samples: &mut Recorder) {
        let Some(p) = self.take() else {
            samples.error("NO_PREPARED_PAYMENT");
            return;
        };
        match self.post(&p).await {
            Ok(()) => samples.ok(since.elapsed()),
            Err(kind) => samples.error(kind),
        }
    }

    async fn post(&self, p: &Prepared) -> Result<(), &'static str> {
        let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let event = WebhookEvent {
            id: id.clone(),
            kind: WebhookEventType::Authorized,
            payment: PaymentObject {
                id: p.provider_reference.clone(),
                status: PaymentState::Authorized,
                amount: p.amount,
                currency: p.currency.clone(),
                captured: 0,
                refunded: 0,
                reference: p.merchant_reference.clone(),
                decline_code: None,
                decline_message: None,
                redirect_url: None,
            },
        };
        let body = serde_json::to_vec(&event).map_err(|_| "ENCODE")?;
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| "CLOCK")?
            .as_secs();
        let at = i64::try_from(at).map_err(|_| "CLOCK")?;
        let signature = webhook::sign(&self.secrets, &id, at, &body);
        let response = self
            .http
            .post(&self.url)
            .header("webhook-id", &id)
            .header("webhook-timestamp", at.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|_| "HTTP_ERROR")?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|_| "HTTP_ERROR")?;
        match (status, text.as_str()) {
            (200, "applied") => Ok(()),
            (200, "duplicate") => Err("duplicate"),
            (200, _) => Err("ignored"),
            (401, _) => Err("HTTP_401"),
            (400, _) => Err("HTTP_400"),
            (503, _) => Err("HTTP_503"),
            _ => Err("HTTP_OTHER"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn payment(status: proto::PaymentStatus, reference: &str) -> proto::Payment {
        proto::Payment {
            status: i32::from(status),
            provider_reference: reference.to_owned(),
            merchant_reference: "order-7".to_owned(),
            amount: Some(proto::Money {
                currency: "MAD".to_owned(),
                minor_units: 10_000,
            }),
            ..proto::Payment::default()
        }
    }

    #[test]
    fn only_payments_waiting_for_the_customer_are_prepared() {
        let p =
            Prepared::from_payment(&payment(proto::PaymentStatus::RequiresAction, "mp_1")).unwrap();
        assert_eq!(
            (p.provider_reference.as_str(), p.amount, p.currency.as_str()),
            ("mp_1", 10_000, "MAD")
        );
        assert!(
            Prepared::from_payment(&payment(proto::PaymentStatus::Authorized, "mp_2")).is_none()
        );
        assert!(
            Prepared::from_payment(&payment(proto::PaymentStatus::RequiresAction, "")).is_none()
        );
    }

    #[test]
    fn a_bad_secret_is_refused_before_any_load() {
        assert!(WebhookSender::new("http://127.0.0.1:8080", "default", "not-a-secret").is_err());
        let ok = WebhookSender::new(
            "http://127.0.0.1:8080/",
            "bench",
            "whsec_YmVuY2htYXJrLW9ubHktc2VjcmV0LW5vdC1mb3ItdXNlIQ==",
        )
        .unwrap();
        assert_eq!(ok.url, "http://127.0.0.1:8080/webhooks/mock/bench");
        assert!(ok.take().is_none());
    }
}
