//! The mock adapter: paygate's operations translated to the mock processor's HTTP API.

use super::api::{MockApi, MockCallError};
use super::wire::{
    AmountRequest, CreatePaymentRequest, OperationObject, OperationResult, PaymentObject,
    PaymentState,
};
use crate::domain::MerchantId;
use crate::domain::{
    AuthorizeCommand, CaptureMode, Failure, NextAction, Operation, OperationKind, Outcome, Payment,
    ProviderKind,
};
use crate::providers::ProviderError;
use crate::providers::urls::{PublicUrls, ReturnOutcome};
use crate::providers::webhook::{VerifiedWebhook, WebhookRejection};
use crate::standard_webhooks::WebhookSecret;
use bytes::Bytes;
use reqwest::header::HeaderMap;

pub struct MockClient {
    api: MockApi,
    merchant: MerchantId,
    /// paygate's webhook and return-page URLs, sent with every new payment so the processor can
    /// report the customer's decision and send the customer back.
    urls: PublicUrls,
    /// Keys the processor's webhooks must be signed with; empty: every webhook is refused.
    webhook_secrets: Vec<WebhookSecret>,
}

impl MockClient {
    pub fn new(
        api: MockApi,
        merchant: MerchantId,
        urls: PublicUrls,
        webhook_secrets: Vec<WebhookSecret>,
    ) -> Self {
        Self {
            api,
            merchant,
            urls,
            webhook_secrets,
        }
    }

    /// Checks a webhook's signature with this merchant's secrets (fails closed without any).
    pub fn verify_webhook(
        &self,
        merchant: &MerchantId,
        headers: &HeaderMap,
        body: Bytes,
        now_unix: i64,
    ) -> Result<VerifiedWebhook, WebhookRejection> {
        super::events::verify(&self.webhook_secrets, merchant, headers, body, now_unix)
    }

    pub async fn authorize(
        &self,
        p: &Payment,
        op: &Operation,
        cmd: &AuthorizeCommand,
    ) -> Result<Outcome, ProviderError> {
        let req = CreatePaymentRequest {
            amount: op.amount.minor(),
            currency: op.amount.currency().code().to_owned(),
            capture: p.capture_mode == CaptureMode::Automatic,
            token: cmd.payment_token.clone(),
            reference: p.merchant_reference.clone(),
            webhook_url: Some(self.urls.webhook(ProviderKind::Mock, &self.merchant)),
            return_url: Some(self.return_page(p, ReturnOutcome::Ok)),
            cancel_url: Some(self.return_page(p, ReturnOutcome::Fail)),
        };
        match answer(
            op,
            self.api.create_payment(&op.id.provider_key(), &req).await,
        )? {
            Ok(obj) => payment_outcome(op, obj),
            Err(refused) => Ok(refused),
        }
    }

    fn return_page(&self, p: &Payment, outcome: ReturnOutcome) -> String {
        self.urls
            .return_page(ProviderKind::Mock, &self.merchant, p.id, outcome)
    }

    pub async fn capture(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let reply = self
            .api
            .capture(&op.id.provider_key(), provider_id(p)?, &amount(op))
            .await;
        operation_outcome(op, reply)
    }

    pub async fn void(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let reply = self.api.void(&op.id.provider_key(), provider_id(p)?).await;
        operation_outcome(op, reply)
    }

    pub async fn refund(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let reply = self
            .api
            .refund(&op.id.provider_key(), provider_id(p)?, &amount(op))
            .await;
        operation_outcome(op, reply)
    }

    /// Asks the processor what it did under this operation's key. `None`: nothing at all,
    /// so no money moved. Reading is always safe to repeat, unlike the calls it settles.
    pub async fn status(&self, op: &Operation) -> Result<Option<Outcome>, ProviderError> {
        let Some(found) = self
            .api
            .operation_status(&op.id.provider_key())
            .await
            .map_err(classify)?
        else {
            return Ok(None);
        };
        match (op.kind, found.operation) {
            (OperationKind::Authorize, _) => payment_outcome(op, found.payment).map(Some),
            (_, Some(obj)) => operation_outcome(op, Ok(obj)).map(Some),
            (_, None) => Err(unknown("status answer without the operation")),
        }
    }
}

fn amount(op: &Operation) -> AmountRequest {
    AmountRequest {
        amount: op.amount.minor(),
        currency: op.amount.currency().code().to_owned(),
    }
}

fn provider_id(p: &Payment) -> Result<&str, ProviderError> {
    p.provider_reference
        .as_deref()
        .ok_or_else(|| ProviderError::NotSent {
            provider: ProviderKind::Mock,
            reason: "the payment has no processor id".into(),
        })
}

/// Maps a call error by what it says about money: refused → the operation failed (a result);
/// not sent → UNAVAILABLE; anything else → unknown, for the reconciler.
fn classify(err: MockCallError) -> ProviderError {
    match err {
        MockCallError::NotSent { reason } => ProviderError::NotSent {
            provider: ProviderKind::Mock,
            reason,
        },
        MockCallError::Rejected {
            status: 503, code, ..
        } => ProviderError::NotSent {
            provider: ProviderKind::Mock,
            reason: code,
        },
        MockCallError::Rejected { status, code, .. } => ProviderError::OutcomeUnknown {
            provider: ProviderKind::Mock,
            reason: format!("{status} {code}"),
        },
        MockCallError::Unknown { reason } => ProviderError::OutcomeUnknown {
            provider: ProviderKind::Mock,
            reason,
        },
    }
}

/// Splits a call's result three ways: an answer, a refusal (a 4xx: the processor did nothing,
/// so the operation simply failed, as a result), or a transport error to classify.
fn answer<T>(
    op: &Operation,
    reply: Result<T, MockCallError>,
) -> Result<Result<T, Outcome>, ProviderError> {
    match reply {
        Ok(obj) => Ok(Ok(obj)),
        Err(MockCallError::Rejected {
            status,
            code,
            message,
        }) if (400..500).contains(&status) => Ok(Err(Outcome::Failed(Failure {
            code: "provider_rejected".into(),
            message: format!("the processor refused the {}", op.kind.as_str()),
            provider_code: code,
            provider_message: message,
        }))),
        Err(e) => Err(classify(e)),
    }
}

fn operation_outcome(
    op: &Operation,
    reply: Result<OperationObject, MockCallError>,
) -> Result<Outcome, ProviderError> {
    let obj = match answer(op, reply)? {
        Ok(obj) => obj,
        Err(refused) => return Ok(refused),
    };
    check_amount(op, obj.amount, &obj.currency)?;
    Ok(match obj.status {
        OperationResult::Succeeded => Outcome::Succeeded {
            provider_reference: Some(obj.id),
            expires_at: None,
        },
        OperationResult::Failed => Outcome::Failed(Failure {
            code: obj
                .failure_code
                .clone()
                .unwrap_or_else(|| "processing_error".into()),
            message: obj.failure_message.clone().unwrap_or_default(),
            provider_code: obj.failure_code.unwrap_or_default(),
            provider_message: obj.failure_message.unwrap_or_default(),
        }),
    })
}

fn payment_outcome(op: &Operation, obj: PaymentObject) -> Result<Outcome, ProviderError> {
    check_amount(op, obj.amount, &obj.currency)?;
    let reference = Some(obj.id.clone());
    Ok(match obj.status {
        PaymentState::Authorized | PaymentState::Captured => Outcome::Succeeded {
            provider_reference: reference,
            expires_at: None,
        },
        PaymentState::RequiresAction => match obj.redirect_url {
            Some(url) => Outcome::RequiresAction {
                next_action: NextAction::Redirect { url },
                provider_reference: reference,
            },
            None => return Err(unknown("requires_action without a redirect_url")),
        },
        PaymentState::Declined => {
            let code = obj.decline_code.unwrap_or_else(|| "card_declined".into());
            let message = obj.decline_message.unwrap_or_default();
            Outcome::Declined(Failure {
                code: code.clone(),
                message: message.clone(),
                provider_code: code,
                provider_message: message,
            })
        }
        // A new payment cannot already be voided: the processor is confused, so do not guess.
        PaymentState::Voided => return Err(unknown("a new payment came back voided")),
    })
}

/// Every amount the processor reports must be the one we asked for (DESIGN.md §3).
fn check_amount(op: &Operation, amount: i64, currency: &str) -> Result<(), ProviderError> {
    if amount != op.amount.minor() || currency != op.amount.currency().code() {
        tracing::error!(operation = %op.id, "mock processor answered a different amount or currency");
        return Err(unknown(
            "amount or currency mismatch in the processor's answer",
        ));
    }
    Ok(())
}

fn unknown(reason: &str) -> ProviderError {
    ProviderError::OutcomeUnknown {
        provider: ProviderKind::Mock,
        reason: reason.to_owned(),
    }
}
