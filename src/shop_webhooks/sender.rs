//! Sends one signed webhook to one endpoint and reports what happened, whatever happened.
//!
//! Every outcome is an [`Attempt`]: a 2xx is delivered; any other status, a timeout, a reset
//! or a refused address is a failed attempt for the dispatcher to retry. The answer's body is
//! read up to `max_response_bytes` and dropped; nothing of the payload or the secret is logged.

use super::endpoint::{DeliverySettings, Endpoint};
use crate::standard_webhooks;
use std::time::{Duration, Instant};

/// The outcome of one attempt, as the delivery log records it.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The endpoint's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why there was no acceptable answer (timeout, connection refused, refused address, ...):
    /// a short text for the operator; never the payload, a secret or the answer's body.
    pub error: Option<String>,
    pub latency: Duration,
}

impl Attempt {
    /// A 2xx: the shop has the event.
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The HTTP client for webhooks to shops; cheap to clone.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    max_response_bytes: usize,
}

impl Sender {
    pub fn new(settings: &DeliverySettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("paygate-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            max_response_bytes: settings.max_response_bytes,
        })
    }

    /// POSTs `body` to the endpoint, signed with each of its secrets at the current time.
    pub async fn send(&self, endpoint: &Endpoint, webhook_id: &str, body: &[u8]) -> Attempt {
        let started = Instant::now();
        let timestamp = crate::domain::Timestamp::now().seconds();
        let signature = standard_webhooks::sign(&endpoint.secrets, webhook_id, timestamp, body);
        let sent = self
            .client
            .post(endpoint.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await;
        let (status, error) = match sent {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let mut read = 0usize;
                // Drain at most the limit, so a huge answer costs nothing more.
                while read < self.max_response_bytes {
                    match response.chunk().await {
                        Ok(Some(chunk)) => read += chunk.len(),
                        _ => break,
                    }
                }
                (Some(status), None)
            }
            Err(e) => (None, Some(short_error(e))),
        };
        Attempt {
            status,
            error,
            latency: started.elapsed(),
        }
    }
}

/// The kind of failure, without the URL (it may carry a token in its path or query).
fn short_error(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_redirect() {
        "redirect"
    } else {
        "request"
    };
    let text = e.without_url().to_string();
    format!("{kind}: {text}")
}
