//! Use cases, one per file: the only layer that talks to both the providers and the store.
//!
//! Every money movement follows the same three steps: persist the operation PENDING (with
//! the idempotency key claimed in the same transaction), call the provider, record the
//! outcome. A crash between steps leaves a PENDING operation for the reconciler, never a
//! charge without a record.
//!
//! The outcome belongs to the operation, not to its last HTTP attempt: the provider stack
//! reports "not sent" only when no attempt could have acted. Only then (or when the provider
//! refused before acting) is the operation taken back and the caller told UNAVAILABLE (or
//! FAILED_PRECONDITION); in every other case the key stays claimed and the caller gets the
//! payment, PENDING until the provider's own word settles it.
//!
//! Each operation has one deadline for everything it sends (`server.provider_timeout_ms`), and
//! its row is leased to the live call until just after that deadline, so the reconciler never
//! asks about an operation whose call may still be running.

mod apply_webhook;
mod authorize;
pub mod cmi_callback;
mod customer_return;
mod idempotency;
mod operations;
mod parked;
mod paypal_events;
mod paypal_external;
mod queries;
mod reconcile;
mod return_lookups;
mod stream_slots;
mod watch_events;

pub use apply_webhook::{WebhookError, WebhookResult};
pub use reconcile::ReconcileOptions;

use crate::domain::{
    MerchantId, Operation, OperationKind, Outcome, Payment, PaymentId, ProviderKind, Timestamp,
};
use crate::error::AppError;
use crate::providers::{AnyProvider, ProviderError, Providers};
use crate::store::{Store, Write, Written};
use crate::telemetry::Metrics;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Kept between an operation's deadline and the end of its lease: time to record the outcome
/// after the last provider answer, so a reconciler never overtakes the live call's write.
const LEASE_MARGIN: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct PaymentService {
    store: Store,
    providers: Arc<Providers>,
    metrics: Arc<Metrics>,
    /// One operation's budget with its provider: every request, retry, wait and part.
    operation_timeout: Duration,
    /// Return pages' provider lookups, coalesced per payment (shared by the clones).
    return_lookups: Arc<return_lookups::ReturnLookups>,
    /// Open `WatchEvents` streams per merchant (`[events] max_streams_per_merchant`).
    streams: stream_slots::StreamSlots,
}

/// Until when an operation is leased to its live call, and the latest moment that call may
/// still run (the lease's end less [`LEASE_MARGIN`]).
#[derive(Debug, Clone, Copy)]
struct CallWindow {
    latest_end: Instant,
    lease_until: Timestamp,
}

impl PaymentService {
    pub fn new(
        store: Store,
        providers: Arc<Providers>,
        metrics: Arc<Metrics>,
        operation_timeout: Duration,
        max_streams_per_merchant: usize,
    ) -> Self {
        Self {
            store,
            providers,
            metrics,
            operation_timeout,
            return_lookups: Arc::new(return_lookups::ReturnLookups::new(
                return_lookups::FRESH_FOR,
            )),
            streams: stream_slots::StreamSlots::new(max_streams_per_merchant),
        }
    }

    /// The lease of an operation about to be persisted: one operation budget plus
    /// [`LEASE_MARGIN`] from now. Taken before the write, so the lease covers the whole call.
    fn call_window(&self) -> CallWindow {
        let lease = self.operation_timeout + LEASE_MARGIN;
        let lease_micros = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX);
        CallWindow {
            latest_end: Instant::now() + self.operation_timeout,
            lease_until: Timestamp::from_micros(
                Timestamp::now().micros().saturating_add(lease_micros),
            ),
        }
    }

    /// Runs one operation's provider exchange: it gets one operation budget from now (or the
    /// caller's deadline, if sooner), never past its lease. Every HTTP call inside sees the
    /// deadline, and a call still running at its end is cut, its outcome unknown (it may have
    /// been sent).
    async fn within_window<F>(
        &self,
        window: CallWindow,
        provider: ProviderKind,
        call: F,
    ) -> Result<Outcome, ProviderError>
    where
        F: Future<Output = Result<Outcome, ProviderError>>,
    {
        let mut ends = (Instant::now() + self.operation_timeout).min(window.latest_end);
        if let Some(left) = crate::deadline::remaining() {
            ends = ends.min(Instant::now() + left);
        }
        let bounded = crate::deadline::within(Some(ends), call);
        match tokio::time::timeout_at(ends, bounded).await {
            Ok(result) => result,
            Err(_) => Err(ProviderError::OutcomeUnknown {
                provider,
                reason: "the operation's deadline passed while it was with the provider".into(),
            }),
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
    /// result. An operation the provider certainly never acted on (not sent, or refused
    /// before acting) is taken back ([`Write::Abandon`]): the caller gets an error and nothing
    /// is left to see, and a retry with the same key continues under the same ids.
    async fn finish(
        &self,
        provider: &AnyProvider,
        payment_id: PaymentId,
        op: &Operation,
        started: Instant,
        result: Result<Outcome, ProviderError>,
    ) -> Result<Payment, AppError> {
        let (outcome, label) = match result {
            Ok(outcome) => {
                let label = match &outcome {
                    Outcome::Succeeded { .. } | Outcome::RequiresAction { .. } => "succeeded",
                    Outcome::Declined(_) => "declined",
                    Outcome::Failed(_) => "failed",
                    Outcome::Unknown => "unknown",
                };
                (outcome, label)
            }
            Err(ProviderError::OutcomeUnknown { reason, .. }) => {
                tracing::warn!(operation = %op.id, %reason, "provider outcome unknown; left for reconciliation");
                (Outcome::Unknown, "unknown")
            }
            Err(ProviderError::Refused { refusal, .. }) => {
                self.record_request(provider, op, "refused", started);
                tracing::info!(operation = %op.id, %refusal, "provider refused the operation in its state; nothing was done");
                self.abandon(payment_id, op).await?;
                return Err(AppError::Refused(*refusal));
            }
            Err(ProviderError::NotSent { reason, .. }) => {
                self.record_request(provider, op, "not_sent", started);
                tracing::warn!(operation = %op.id, %reason, "provider unreachable; no attempt could have acted");
                self.abandon(payment_id, op).await?;
                return Err(AppError::ProviderUnavailable {
                    provider: provider.kind(),
                    reason,
                });
            }
        };
        self.record_request(provider, op, label, started);
        let job = Write::Settle {
            payment_id,
            operation: op.id,
            outcome,
            now: Timestamp::now(),
        };
        let payment = match self.store.write(job).await? {
            Written::Settled(p) => p,
            other => return Err(unexpected(other)),
        };
        tracing::debug!(
            payment_id = %payment.id,
            operation = op.kind.as_str(),
            status = payment.status.as_str(),
            "operation settled"
        );
        Ok(*payment)
    }
}

impl PaymentService {
    fn record_request(
        &self,
        provider: &AnyProvider,
        op: &Operation,
        outcome: &'static str,
        started: Instant,
    ) {
        self.metrics.provider_request(
            provider.kind().as_str(),
            op.kind.as_str(),
            outcome,
            started.elapsed(),
        );
    }

    /// Takes back an operation the provider never acted on. If something settled it in the
    /// meantime (it cannot have been this call), that settlement stands.
    async fn abandon(&self, payment_id: PaymentId, op: &Operation) -> Result<(), AppError> {
        let job = Write::Abandon {
            payment_id,
            operation: op.id,
            now: Timestamp::now(),
        };
        match self.store.write(job).await? {
            Written::Abandoned(crate::domain::Abandoned::NotOpen) => {
                tracing::warn!(operation = %op.id, "an operation not sent was settled meanwhile; kept as settled");
                Ok(())
            }
            Written::Abandoned(_) => Ok(()),
            other => Err(unexpected(other)),
        }
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
