//! Use cases, one per file: the only layer that talks to both the providers and the store.
//!
//! Every money movement follows the same three steps: persist the operation PENDING (with
//! the idempotency key claimed in the same transaction), call the provider, record the
//! outcome. A crash between steps leaves a PENDING operation for the reconciler, never a
//! charge without a record.

mod apply_webhook;
mod authorize;
pub mod cmi_callback;
mod customer_return;
mod idempotency;
mod operations;
mod paypal_events;
mod queries;
mod reconcile;
mod watch_events;

pub use apply_webhook::{WebhookError, WebhookResult};
pub use reconcile::ReconcileOptions;

use crate::domain::{
    Failure, MerchantId, Operation, OperationKind, Outcome, Payment, PaymentId, ProviderKind,
    Timestamp,
};
use crate::error::AppError;
use crate::providers::{AnyProvider, ProviderError, Providers};
use crate::store::{Store, Write, Written};
use crate::telemetry::Metrics;
use std::sync::Arc;
use tokio::time::Instant;

#[derive(Clone)]
pub struct PaymentService {
    store: Store,
    providers: Arc<Providers>,
    metrics: Arc<Metrics>,
}

impl PaymentService {
    pub fn new(store: Store, providers: Arc<Providers>, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            providers,
            metrics,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The merchant's adapter for `kind`, e.g. to verify a webhook; `None` if not enabled.
    pub fn provider_for(&self, merchant: &MerchantId, kind: ProviderKind) -> Option<&AnyProvider> {
        self.providers.get(merchant, kind)
    }

    fn provider(&self, merchant: &MerchantId, payment: &Payment) -> Result<&AnyProvider, AppError> {
        self.providers
            .get(merchant, payment.provider)
            .ok_or(AppError::ProviderNotEnabled(payment.provider))
    }

    /// Records what the provider said and turns it into the RPC's answer. A decline is a
    /// result; "not sent" releases the idempotency key so the caller can retry with it.
    async fn finish(
        &self,
        provider: &AnyProvider,
        payment_id: PaymentId,
        op: &Operation,
        started: Instant,
        result: Result<Outcome, ProviderError>,
    ) -> Result<Payment, AppError> {
        let mut refused = None;
        let (outcome, label, not_sent) = match result {
            Ok(outcome) => {
                let label = match &outcome {
                    Outcome::Succeeded { .. } | Outcome::RequiresAction { .. } => "succeeded",
                    Outcome::Declined(_) => "declined",
                    Outcome::Failed(_) => "failed",
                    Outcome::Unknown => "unknown",
                };
                (outcome, label, None)
            }
            Err(ProviderError::OutcomeUnknown { reason, .. }) => {
                tracing::warn!(operation = %op.id, %reason, "provider outcome unknown; left for reconciliation");
                (Outcome::Unknown, "unknown", None)
            }
            Err(ProviderError::Refused {
                refusal, failure, ..
            }) => {
                tracing::info!(operation = %op.id, %refusal, "provider refused the operation in its state");
                refused = Some(*refusal);
                (Outcome::Failed(*failure), "failed", None)
            }
            Err(ProviderError::NotSent { reason, .. }) => {
                let failure = Failure::new(
                    "provider_unavailable",
                    "the provider could not be reached; nothing was charged",
                );
                (Outcome::Failed(failure), "failed", Some(reason))
            }
        };
        self.metrics.provider_request(
            provider.kind().as_str(),
            op.kind.as_str(),
            label,
            started.elapsed(),
        );
        // A refusal is not a replayable result either: the key is released like "not sent".
        let release_key = not_sent.is_some() || refused.is_some();
        let job = Write::Settle {
            payment_id,
            operation: op.id,
            outcome,
            release_key,
            now: Timestamp::now(),
        };
        let payment = match self.store.write(job).await? {
            Written::Settled(p) => p,
            other => return Err(unexpected(other)),
        };
        if let Some(refusal) = refused {
            return Err(AppError::Refused(refusal));
        }
        if let Some(reason) = not_sent {
            tracing::warn!(operation = %op.id, %reason, "provider unreachable; nothing was sent");
            return Err(AppError::ProviderUnavailable {
                provider: provider.kind(),
                reason,
            });
        }
        if let Some(refusal) = refused {
            tracing::info!(operation = %op.id, %refusal, "provider refused the operation");
            return Err(AppError::Refused(refusal));
        }
        tracing::debug!(
            payment_id = %payment.id,
            operation = op.kind.as_str(),
            status = payment.status.as_str(),
            "operation settled"
        );
        Ok(*payment)
    }
}

/// The store answered a job with the wrong kind of result: a bug, not a user error.
fn unexpected(written: Written) -> AppError {
    AppError::Internal(format!("unexpected store answer: {written:?}"))
}

fn method_name(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Authorize => "Authorize",
        OperationKind::Capture => "Capture",
        OperationKind::Void => "Void",
        OperationKind::Refund => "Refund",
    }
}
