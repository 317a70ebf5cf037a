//! Applying a verified provider webhook: find the payment it names, then record the event id
//! and settle the authorization in one transaction, through the same state machine as the API.
//!
//! Late, duplicated and reordered deliveries are normal: a duplicate id changes nothing, and an
//! event that would move a settled payment (a decline after an approval) is recorded and ignored.

use super::PaymentService;
use crate::domain::{OperationKind, Timestamp};
use crate::error::AppError;
use crate::providers::webhook::{MalformedWebhook, VerifiedWebhook};
use crate::store::{WebhookWritten, Write, Written};

/// What happened to a verified webhook; each is answered 2xx and counted under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    Applied,
    Duplicate,
    /// Nothing to change: an unknown payment, a settled one, or a mismatching amount.
    Ignored,
    /// Money the provider moved that the ledger cannot take yet (a reversal while a refund is
    /// open, or while the payment is PENDING): kept until it can, never forgotten.
    Parked,
}

impl WebhookResult {
    /// The `result` label of `paygate_webhooks_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Parked => "parked",
        }
    }
}

/// Why a verified webhook was not applied.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Signed, but not an event paygate understands: 400, so the sender's bug is visible.
    #[error(transparent)]
    Malformed(#[from] MalformedWebhook),
    /// paygate could not record it (database down): 503, so the provider retries.
    #[error(transparent)]
    App(#[from] AppError),
}

impl PaymentService {
    /// Takes only a [`VerifiedWebhook`]: no unchecked body can reach the ledger.
    #[tracing::instrument(name = "webhook", skip_all, fields(
        provider = %verified.provider(), merchant = %verified.merchant(), event_id = verified.event_id()
    ))]
    pub async fn apply_webhook(
        &self,
        verified: VerifiedWebhook,
    ) -> Result<WebhookResult, WebhookError> {
        let event = verified.event()?;
        let merchant = verified.merchant();
        let Some(payment) = self
            .store
            .payment_by_provider_reference(
                merchant,
                verified.provider(),
                &event.provider_payment_id,
            )
            .await
            .map_err(AppError::from)?
        else {
            // Answered 2xx so the provider stops retrying something paygate cannot place.
            tracing::warn!(
                kind = event.kind,
                "webhook names a payment paygate does not know; ignored"
            );
            return Ok(WebhookResult::Ignored);
        };
        if event.amount_minor != payment.amount.minor()
            || event.currency != payment.amount.currency().code()
        {
            tracing::error!(payment_id = %payment.id, kind = event.kind, "webhook reports another amount or currency than the payment's; not applied");
            return Ok(WebhookResult::Ignored);
        }
        let Some(op) = payment
            .operations
            .iter()
            .find(|o| o.kind == OperationKind::Authorize)
        else {
            return Err(
                AppError::Internal("payment without its authorize operation".into()).into(),
            );
        };
        let job = Write::ApplyWebhook {
            provider: verified.provider(),
            event_id: verified.event_id().to_owned(),
            merchant: merchant.clone(),
            payment_id: payment.id,
            operation: op.id,
            outcome: event.outcome,
            now: Timestamp::now(),
        };
        let result = match self.store.write(job).await.map_err(AppError::from)? {
            Written::Webhook(WebhookWritten::Applied(p)) => {
                tracing::info!(payment_id = %p.id, kind = event.kind, status = p.status.as_str(), "webhook applied");
                WebhookResult::Applied
            }
            Written::Webhook(WebhookWritten::Ignored) => {
                tracing::info!(payment_id = %payment.id, kind = event.kind, "webhook recorded; the payment had already settled");
                WebhookResult::Ignored
            }
            Written::Webhook(WebhookWritten::Duplicate) => WebhookResult::Duplicate,
            other => return Err(super::unexpected(other).into()),
        };
        Ok(result)
    }
}
