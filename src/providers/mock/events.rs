//! The receiving side of the mock processor's webhooks: verification of the Standard Webhooks
//! headers over the raw body, then decoding the event into paygate's terms.

use super::wire::{WebhookEvent, WebhookEventType};
use crate::domain::{Failure, MerchantId, Outcome, ProviderKind};
use crate::providers::webhook::{
    MalformedWebhook, ProviderEvent, VerifiedWebhook, WebhookRejection,
};
use crate::standard_webhooks::{self as webhook, WebhookSecret};
use bytes::Bytes;
use reqwest::header::HeaderMap;

/// Checks the signature over exactly `body`. Fails closed: no secrets means no verification.
pub(super) fn verify(
    secrets: &[WebhookSecret],
    merchant: &MerchantId,
    headers: &HeaderMap,
    body: Bytes,
    now_unix: i64,
) -> Result<VerifiedWebhook, WebhookRejection> {
    if secrets.is_empty() {
        return Err(WebhookRejection::NotConfigured);
    }
    let id = single(headers, "webhook-id")?;
    let timestamp = single(headers, "webhook-timestamp")?;
    let signature = single(headers, "webhook-signature")?;
    webhook::verify(secrets, id, timestamp, signature, &body, now_unix)?;
    Ok(VerifiedWebhook::new(
        ProviderKind::Mock,
        merchant.clone(),
        id.to_owned(),
        body,
    ))
}

/// The header's value; "" when absent or not text (the verifier rejects it as missing).
/// Two copies are refused: which one was signed would be a guess.
fn single<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, WebhookRejection> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(WebhookRejection::DuplicateHeader(name));
    }
    Ok(first.and_then(|v| v.to_str().ok()).unwrap_or_default())
}

/// Decodes a verified body. The body's `id` must be the signed `webhook-id`: the dedupe key
/// and the content cannot disagree.
pub(crate) fn parse(event_id: &str, body: &[u8]) -> Result<ProviderEvent, MalformedWebhook> {
    let event: WebhookEvent =
        serde_json::from_slice(body).map_err(|e| MalformedWebhook(e.to_string()))?;
    if event.id != event_id {
        return Err(MalformedWebhook(
            "the body's id differs from webhook-id".into(),
        ));
    }
    let payment = event.payment;
    let (outcome, kind) = match event.kind {
        WebhookEventType::Authorized | WebhookEventType::Captured => (
            Outcome::Succeeded {
                provider_reference: Some(payment.id.clone()),
                expires_at: None,
            },
            if event.kind == WebhookEventType::Captured {
                "payment.captured"
            } else {
                "payment.authorized"
            },
        ),
        WebhookEventType::Declined => {
            let code = payment
                .decline_code
                .clone()
                .unwrap_or_else(|| "card_declined".into());
            let message = payment.decline_message.clone().unwrap_or_default();
            (
                Outcome::Declined(Failure {
                    code: code.clone(),
                    message: message.clone(),
                    provider_code: code,
                    provider_message: message,
                }),
                "payment.declined",
            )
        }
    };
    Ok(ProviderEvent {
        provider_payment_id: payment.id,
        outcome,
        amount_minor: payment.amount,
        currency: payment.currency,
        kind,
    })
}
