//! Webhooks from providers, as paygate receives them: [`VerifiedWebhook`] is the proof that a
//! body passed its provider's signature check, and [`ProviderEvent`] is what it says in
//! paygate's terms.
//!
//! Only code under `providers/` can construct a `VerifiedWebhook`, so the service that applies
//! events cannot be handed unchecked bytes by mistake (STYLE.md §5 point 10).

use crate::domain::{MerchantId, Outcome, ProviderKind};
use bytes::Bytes;

/// A webhook whose signature checked out for this merchant. The body is still unparsed.
#[derive(Debug, Clone)]
pub struct VerifiedWebhook {
    provider: ProviderKind,
    merchant: MerchantId,
    event_id: String,
    body: Bytes,
}

impl VerifiedWebhook {
    /// Called by a provider's verifier, and only after the signature matched.
    pub(in crate::providers) fn new(
        provider: ProviderKind,
        merchant: MerchantId,
        event_id: String,
        body: Bytes,
    ) -> Self {
        Self {
            provider,
            merchant,
            event_id,
            body,
        }
    }

    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    pub fn merchant(&self) -> &MerchantId {
        &self.merchant
    }

    /// The provider's event id, the deduplication key (for the mock: `webhook-id`).
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// The event in paygate's terms. Runs the provider's own decoder over the verified bytes.
    pub fn event(&self) -> Result<ProviderEvent, MalformedWebhook> {
        match self.provider {
            ProviderKind::Mock => crate::providers::mock::events::parse(&self.event_id, &self.body),
            ProviderKind::Cmi | ProviderKind::Paypal => Err(MalformedWebhook(format!(
                "{} webhooks are not supported by this build",
                self.provider
            ))),
        }
    }
}

/// What a verified event says happened to a payment's authorization.
#[derive(Debug, Clone)]
pub struct ProviderEvent {
    /// The processor's id of the payment (paygate's `provider_reference`).
    pub provider_payment_id: String,
    /// The authorize operation's outcome the event reports.
    pub outcome: Outcome,
    /// The amount the processor reports, minor units, checked against the payment.
    pub amount_minor: i64,
    pub currency: String,
    /// `payment.authorized`, ...: for log lines.
    pub kind: &'static str,
}

/// Signed correctly but not an event paygate understands: answered 400.
#[derive(Debug, thiserror::Error)]
#[error("malformed webhook: {0}")]
pub struct MalformedWebhook(pub String);

/// Why a webhook was not accepted as verified.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRejection {
    /// The merchant has no secret for this provider: paygate cannot verify, so it refuses (503:
    /// the provider retries, and the operator fixes the configuration).
    #[error("no webhook secret configured")]
    NotConfigured,
    /// A signature or id header was sent more than once: ambiguous, so refused before verifying.
    #[error("duplicated header {0}")]
    DuplicateHeader(&'static str),
    /// This provider's posts have their own route (CMI: `/webhooks/cmi/{merchant}`).
    #[error("this provider's callbacks have their own route")]
    OtherRoute,
    /// The signature, timestamp or headers did not check out.
    #[error("signature check failed: {0}")]
    Signature(#[from] crate::standard_webhooks::VerifyError),
}
