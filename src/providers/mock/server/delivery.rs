//! Webhook delivery: once the customer decides on the hosted page, the processor tells the
//! payment's creator with a Standard Webhooks-signed POST, retried with backoff like a real
//! processor (the same event id every time, so the receiver can deduplicate).

use std::time::Duration;

use uuid::Uuid;

use super::ProcessorState;
use crate::domain::Timestamp;
use crate::providers::mock::wire::{PaymentObject, WebhookEvent, WebhookEventType};
use crate::standard_webhooks as webhook;

/// Attempts per event; a receiver that is down for longer loses the event (the reconciler
/// still settles the payment through `GET /v1/operations/{key}`).
const ATTEMPTS: u32 = 5;
/// Wait before the second attempt; doubles after each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Per-attempt limit, well under the 15 s a Standard Webhooks receiver may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `kind` about `payment` to `url` from a spawned task; the hosted page answers at once.
pub(super) fn spawn(
    state: &ProcessorState,
    url: String,
    kind: WebhookEventType,
    payment: PaymentObject,
) {
    if state.inner.webhook_secrets.is_empty() {
        tracing::warn!(payment_id = %payment.id, "no webhook signing secret configured; event not sent");
        return;
    }
    let event = WebhookEvent {
        id: format!("evt_{}", Uuid::new_v4().simple()),
        kind,
        payment,
    };
    // Serialised once: the signature covers exactly these bytes, on every retry.
    let body = match serde_json::to_vec(&event) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot encode a webhook event");
            return;
        }
    };
    let state = state.clone();
    tokio::spawn(async move { deliver(&state, &url, &event.id, body).await });
}

async fn deliver(state: &ProcessorState, url: &str, event_id: &str, body: Vec<u8>) {
    let client = match reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook HTTP client");
            return;
        }
    };
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        // Signed per attempt: a late retry carries a fresh timestamp, inside the receiver's window.
        let timestamp = Timestamp::now().seconds();
        let signature = webhook::sign(&state.inner.webhook_secrets, event_id, timestamp, &body);
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(reply) if reply.status().is_success() => {
                tracing::info!(event_id, attempt, "webhook delivered");
                return;
            }
            Ok(reply) => {
                tracing::warn!(
                    event_id,
                    attempt,
                    status = reply.status().as_u16(),
                    "webhook refused"
                )
            }
            Err(error) => tracing::warn!(event_id, attempt, %error, "webhook not delivered"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    tracing::error!(event_id, "webhook given up after {ATTEMPTS} attempts");
}
