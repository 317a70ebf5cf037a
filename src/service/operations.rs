//! Capture, void and refund: operations on an existing payment, sharing one flow.

use super::idempotency::{Claim, fingerprint, resolve};
use super::{PaymentService, method_name, unexpected};
use crate::domain::{
    CaptureCommand, IdempotencyKey, MerchantId, Money, OperationKind, Payment, PaymentId,
    RefundCommand, Timestamp, VoidCommand,
};
use crate::error::AppError;
use crate::store::{KeyClaim, Write, Written};
use serde::Serialize;
use tokio::time::Instant;

#[derive(Serialize)]
struct Fingerprint<'a> {
    payment_id: String,
    amount: Option<(i64, &'static str)>,
    final_capture: bool,
    reason: &'a str,
}

/// The parts of a capture, void or refund request that the shared flow needs.
struct Request<'a> {
    kind: OperationKind,
    key: &'a IdempotencyKey,
    payment_id: PaymentId,
    amount: Option<Money>,
    final_capture: bool,
    reason: &'a str,
}

impl PaymentService {
    #[tracing::instrument(name = "capture", skip_all, fields(merchant = %merchant, payment_id = %cmd.payment_id))]
    pub async fn capture(
        &self,
        merchant: &MerchantId,
        cmd: CaptureCommand,
    ) -> Result<Payment, AppError> {
        let req = Request {
            kind: OperationKind::Capture,
            key: &cmd.key,
            payment_id: cmd.payment_id,
            amount: cmd.amount,
            final_capture: cmd.final_capture,
            reason: "",
        };
        self.operate(merchant, req).await
    }

    #[tracing::instrument(name = "void", skip_all, fields(merchant = %merchant, payment_id = %cmd.payment_id))]
    pub async fn void(&self, merchant: &MerchantId, cmd: VoidCommand) -> Result<Payment, AppError> {
        let req = Request {
            kind: OperationKind::Void,
            key: &cmd.key,
            payment_id: cmd.payment_id,
            amount: None,
            final_capture: false,
            reason: "",
        };
        self.operate(merchant, req).await
    }

    #[tracing::instrument(name = "refund", skip_all, fields(merchant = %merchant, payment_id = %cmd.payment_id))]
    pub async fn refund(
        &self,
        merchant: &MerchantId,
        cmd: RefundCommand,
    ) -> Result<Payment, AppError> {
        let req = Request {
            kind: OperationKind::Refund,
            key: &cmd.key,
            payment_id: cmd.payment_id,
            amount: cmd.amount,
            final_capture: false,
            reason: &cmd.reason,
        };
        self.operate(merchant, req).await
    }

    /// Claims the key and reserves the amount in one transaction (the store runs the domain
    /// rules there), then calls the provider once and records what it said.
    async fn operate(&self, merchant: &MerchantId, req: Request<'_>) -> Result<Payment, AppError> {
        let method = method_name(req.kind);
        // Read first only to pick the adapter; the rules are checked again under the write lock.
        let current = self.store.payment(merchant, req.payment_id).await?;
        tracing::Span::current().record("provider", current.provider.as_str());
        let provider = self.provider(merchant, &current)?;
        let claim = KeyClaim {
            merchant: merchant.clone(),
            method,
            key: req.key.clone(),
            fingerprint: fingerprint(&Fingerprint {
                payment_id: req.payment_id.to_string(),
                amount: req.amount.map(|m| (m.minor(), m.currency().code())),
                final_capture: req.final_capture,
                reason: req.reason,
            })?,
        };
        let window = self.call_window();
        let job = Write::BeginOperation {
            claim,
            payment_id: req.payment_id,
            kind: req.kind,
            amount: req.amount,
            final_capture: req.final_capture,
            reason: req.reason.to_owned(),
            trace_parent: crate::traces::current_traceparent(),
            caps: provider.capabilities(),
            now: Timestamp::now(),
            lease_until: window.lease_until,
        };
        let claimed = match self.store.write(job).await? {
            Written::Claimed(c) => c,
            other => return Err(unexpected(other)),
        };
        let (payment, op_id) = match resolve(claimed, method, &self.metrics)? {
            Claim::Run(payment, op) => (payment, op),
            Claim::Replay(payment) => return Ok(payment),
        };
        let op = payment
            .operation(op_id)
            .cloned()
            .ok_or_else(|| AppError::Internal("operation missing from its payment".into()))?;
        let started = Instant::now();
        let call = async {
            match req.kind {
                OperationKind::Capture => provider.capture(&payment, &op).await,
                OperationKind::Void => provider.void(&payment, &op).await,
                OperationKind::Refund => provider.refund(&payment, &op).await,
                OperationKind::Authorize => Err(crate::providers::ProviderError::NotSent {
                    provider: provider.kind(),
                    reason: "authorize is not an operation on a payment".into(),
                }),
            }
        };
        let result = self.within_window(window, provider.kind(), call).await;
        self.finish(provider, payment.id, &op, started, result)
            .await
    }
}
