//! Applying a verified PayPal event (specs/paypal.md §7): find the payment through the ids the
//! event names, pick the operation it reports on, then record the event id and settle the
//! operation in one transaction through the same state machine as the API.
//!
//! Events are hints and arrive late, twice or out of order: a duplicate id changes nothing, an
//! event for a settled operation is recorded and ignored, and `CHECKOUT.ORDER.APPROVED` runs the
//! very same idempotent completion as the return page (same `PayPal-Request-Id`). Operations
//! paygate did not ask for (reversals, dashboard refunds) are applied, or parked until the
//! payment can take them: see `paypal_external.rs`.

use super::paypal_external::{external_operation, log_applied, log_parked};
use super::{PaymentService, WebhookError, WebhookResult};
use crate::domain::{
    CaptureMode, Failure, MerchantId, Operation, OperationKind, Outcome, Payment, PaymentId,
    ProviderKind, Timestamp,
};
use crate::error::AppError;
use crate::providers::AnyProvider;
use crate::providers::paypal::{EventKind, PaypalEvent, VerifiedPaypalEvent, convert};
use crate::store::{WebhookWritten, Write, Written};

impl PaymentService {
    #[tracing::instrument(name = "paypal_webhook", skip_all, fields(
        merchant = %verified.webhook().merchant(), event_id = verified.webhook().event_id(),
        event_type = %verified.event().event_type
    ))]
    pub async fn apply_paypal_event(
        &self,
        verified: VerifiedPaypalEvent,
    ) -> Result<WebhookResult, WebhookError> {
        let event = verified.event();
        let merchant = verified.webhook().merchant().clone();
        let Some(payment) = self.find_paypal_payment(&merchant, event).await? else {
            tracing::warn!("PayPal event names no payment paygate knows; recorded");
            return self.record_only(&merchant, event).await;
        };
        let external = external_operation(&payment, event);
        let job = if let Some(operation) = external.clone() {
            Write::ApplyExternalOperation {
                provider: ProviderKind::Paypal,
                event_id: event.id.clone(),
                merchant: merchant.clone(),
                payment_id: payment.id,
                operation,
                now: Timestamp::now(),
            }
        } else {
            let Some(decision) = self.decide(&merchant, &payment, event).await? else {
                return self.record_only(&merchant, event).await;
            };
            Write::ApplyWebhook {
                provider: ProviderKind::Paypal,
                event_id: event.id.clone(),
                merchant: merchant.clone(),
                payment_id: payment.id,
                operation: decision.0,
                outcome: decision.1,
                now: Timestamp::now(),
            }
        };
        match self.store.write(job).await.map_err(AppError::from)? {
            Written::Webhook(WebhookWritten::Applied(p)) => {
                if let Some(op) = &external {
                    log_applied(&p, op);
                }
                tracing::info!(payment_id = %p.id, status = p.status.as_str(), "PayPal event applied");
                Ok(WebhookResult::Applied)
            }
            Written::Webhook(WebhookWritten::Ignored) => Ok(WebhookResult::Ignored),
            Written::Webhook(WebhookWritten::Duplicate) => Ok(WebhookResult::Duplicate),
            Written::Webhook(WebhookWritten::Parked(reason)) => {
                if let Some(op) = &external {
                    log_parked(&payment, op, reason);
                }
                // Now, not at the next reconciliation pass: a parked reversal is news.
                self.refresh_parked_gauge().await;
                Ok(WebhookResult::Parked)
            }
            other => Err(super::unexpected(other).into()),
        }
    }

    async fn record_only(
        &self,
        merchant: &MerchantId,
        event: &PaypalEvent,
    ) -> Result<WebhookResult, WebhookError> {
        let job = Write::RecordWebhook {
            provider: ProviderKind::Paypal,
            event_id: event.id.clone(),
            merchant: merchant.clone(),
            now: Timestamp::now(),
        };
        match self.store.write(job).await.map_err(AppError::from)? {
            Written::Webhook(WebhookWritten::Duplicate) => Ok(WebhookResult::Duplicate),
            Written::Webhook(_) => Ok(WebhookResult::Ignored),
            other => Err(super::unexpected(other).into()),
        }
    }

    /// Resolution order (§7.3): the resource itself, related ids, the `up` link, `custom_id`.
    async fn find_paypal_payment(
        &self,
        merchant: &MerchantId,
        event: &PaypalEvent,
    ) -> Result<Option<Payment>, AppError> {
        let ids = event.resource_id.iter().chain(event.parents.iter());
        for id in ids {
            if !is_paypal_id(id) {
                continue;
            }
            let kind = ProviderKind::Paypal;
            if let Some(p) = self
                .store
                .payment_by_provider_reference(merchant, kind, id)
                .await?
            {
                return Ok(Some(p));
            }
            if let Some(p) = self
                .store
                .payment_by_operation_reference(merchant, kind, id)
                .await?
            {
                return Ok(Some(p));
            }
        }
        if let Some(Ok(id)) = event.custom_id.as_deref().map(PaymentId::parse) {
            match self.store.payment(merchant, id).await {
                Ok(p) if p.provider == ProviderKind::Paypal => return Ok(Some(p)),
                Ok(_) | Err(crate::store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Which operation the event settles, and how; `None`: nothing to change, only record it.
    async fn decide(
        &self,
        merchant: &MerchantId,
        p: &Payment,
        event: &PaypalEvent,
    ) -> Result<Option<(crate::domain::OperationId, Outcome)>, AppError> {
        let open_auth = p
            .operations
            .iter()
            .find(|o| o.kind == OperationKind::Authorize && o.status.is_open());
        let automatic = p.capture_mode == CaptureMode::Automatic;
        let resource = event.resource_id.clone();
        Ok(match event.kind {
            EventKind::OrderApproved => {
                let Some(op) = open_auth else { return Ok(None) };
                let Some(AnyProvider::Paypal(client)) =
                    self.providers.get(merchant, ProviderKind::Paypal)
                else {
                    return Err(AppError::ProviderNotEnabled(ProviderKind::Paypal));
                };
                match client.complete_order(p, op).await {
                    Ok(Some(
                        outcome @ (Outcome::Succeeded { .. }
                        | Outcome::Declined(_)
                        | Outcome::Failed(_)),
                    )) => Some((op.id, outcome)),
                    Ok(_) => None,
                    // Not recorded: answered 5xx so PayPal retries (the reconciler also will).
                    Err(e) => {
                        return Err(AppError::ProviderUnavailable {
                            provider: ProviderKind::Paypal,
                            reason: e.to_string(),
                        });
                    }
                }
            }
            EventKind::ApprovalReversed => open_auth.map(|op| {
                let f = Failure::new("approval_reversed", "PayPal reversed the buyer's approval");
                (op.id, Outcome::Failed(f))
            }),
            EventKind::AuthorizationCreated if !automatic => {
                open_auth.filter(|op| amount_is(op, event)).map(|op| {
                    (
                        op.id,
                        Outcome::Succeeded {
                            provider_reference: resource,
                            expires_at: None,
                        },
                    )
                })
            }
            EventKind::AuthorizationVoided => open_of(p, OperationKind::Void, None).map(|op| {
                (
                    op.id,
                    Outcome::Succeeded {
                        provider_reference: None,
                        expires_at: None,
                    },
                )
            }),
            EventKind::CaptureCompleted if automatic => {
                open_auth.filter(|op| amount_is(op, event)).map(|op| {
                    (
                        op.id,
                        Outcome::Succeeded {
                            provider_reference: resource,
                            expires_at: None,
                        },
                    )
                })
            }
            EventKind::CaptureCompleted => event_minor(p, event)
                .and_then(|m| open_of(p, OperationKind::Capture, Some(m)))
                .map(|op| {
                    (
                        op.id,
                        Outcome::Succeeded {
                            provider_reference: resource,
                            expires_at: None,
                        },
                    )
                }),
            EventKind::CaptureDeclined if automatic => {
                open_auth.filter(|op| amount_is(op, event)).map(|op| {
                    (
                        op.id,
                        Outcome::Declined(Failure::new(
                            "capture_declined",
                            "PayPal declined the payment",
                        )),
                    )
                })
            }
            EventKind::CaptureDeclined => event_minor(p, event)
                .and_then(|m| open_of(p, OperationKind::Capture, Some(m)))
                .map(|op| {
                    (
                        op.id,
                        Outcome::Failed(Failure::new(
                            "capture_declined",
                            "PayPal declined the capture",
                        )),
                    )
                }),
            EventKind::CaptureRefunded => event_minor(p, event)
                .and_then(|m| open_of(p, OperationKind::Refund, Some(m)))
                .map(|op| {
                    (
                        op.id,
                        Outcome::Succeeded {
                            provider_reference: resource,
                            expires_at: None,
                        },
                    )
                }),
            // Reversals become refunds in `external_operation`; here only one already known.
            EventKind::CaptureReversed => None,
            EventKind::CapturePending | EventKind::AuthorizationCreated | EventKind::Other => None,
        })
    }
}

/// PayPal ids are upper-case letters and digits: anything else is never looked up.
pub(super) fn is_paypal_id(id: &str) -> bool {
    (1..=36).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The event's amount in the payment's minor units, if it has one in that currency.
pub(super) fn event_minor(p: &Payment, event: &PaypalEvent) -> Option<i64> {
    let amount = event.amount.as_ref()?;
    convert::from_amount(amount, p.amount.currency())
        .ok()
        .flatten()
}

/// The event reports exactly the operation's amount (a mismatch is never applied).
fn amount_is(op: &Operation, event: &PaypalEvent) -> bool {
    let ok = event
        .amount
        .as_ref()
        .and_then(|a| convert::from_amount(a, op.amount.currency()).ok().flatten())
        == Some(op.amount.minor());
    if !ok {
        tracing::error!(operation = %op.id, "PayPal event reports another amount than the operation's; not applied");
    }
    ok
}

/// The oldest open operation of `kind` (with `minor` as its amount when given).
pub(super) fn open_of(p: &Payment, kind: OperationKind, minor: Option<i64>) -> Option<&Operation> {
    p.operations.iter().find(|o| {
        o.kind == kind && o.status.is_open() && minor.is_none_or(|m| m == o.amount.minor())
    })
}
