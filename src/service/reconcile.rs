//! The reconciler: settles operations whose outcome paygate does not know, by asking the
//! provider what it did under the operation's key.
//!
//! Two kinds of operation end up here: UNKNOWN ones (sent, no usable answer) and PENDING ones
//! left behind by a crash between "persisted" and "provider answered". A live call leases its
//! operation until just after its deadline (see `service/mod.rs`), and the reconciler only
//! claims operations whose lease has ended, so it never races the RPC that is still waiting
//! for the same answer. It never guesses: what the provider cannot confirm is retried with
//! backoff and, past its budget, flagged for an operator. A definitive refusal by the provider
//! (e.g. an expired authorization for a re-sent capture) is an answer: the operation fails
//! with the provider's code.
//!
//! Open checkouts (an authorization waiting for the customer on the provider's page) are not
//! unknown outcomes: they are counted apart (`paygate_checkouts_open`) and have an expiry per
//! provider (`[checkout]`). Past it, one last status check decides: a definitive answer
//! settles as usual; still waiting, the payment is FAILED with `checkout_expired`. If the
//! provider cannot be asked, nothing is decided: the check is repeated.

use super::PaymentService;
use crate::config::CheckoutSettings;
use crate::domain::payment::CHECKOUT_EXPIRED;
use crate::domain::{
    Failure, Operation, OperationKind, Outcome, Payment, PaymentStatus, Timestamp,
};
use crate::error::AppError;
use crate::providers::ProviderError;
use crate::store::{DueOperation, Write};
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// Work per pass: bounded so a backlog cannot monopolise the provider or the writer.
const BATCH: u32 = 64;
/// Backoff between attempts on one operation: 1 s doubling up to 5 minutes.
const FIRST_RETRY_SECS: i64 = 1;
const MAX_RETRY_SECS: i64 = 300;
/// How long a claimed batch is hidden from other reconcilers. A pass never starts an operation
/// whose budget would outlast the lease: the rest of the batch is left for the next pass.
const LEASE_SECS: i64 = 120;
/// After this many attempts the operation is flagged (log + metric); it keeps being retried.
const ATTEMPT_BUDGET: i64 = 20;

/// The failure code of an operation the provider never received.
const NOT_PROCESSED: &str = "not_processed";

#[derive(Debug, Clone, Copy)]
pub struct ReconcileOptions {
    /// Only operations untouched this long are looked at (longer than any live provider call).
    pub settle_after: Duration,
    /// How long each provider's checkout page may keep a payment REQUIRES_ACTION.
    pub checkouts: CheckoutSettings,
}

/// What one look at a due operation came to.
enum Looked {
    Settled,
    /// Nothing final yet; an open checkout must be looked at again by its expiry.
    NotYet {
        checkout_expires: Option<Timestamp>,
    },
}

impl PaymentService {
    /// One pass over due operations; returns how many were settled.
    pub async fn reconcile_once(&self, opts: ReconcileOptions) -> Result<usize, AppError> {
        let now = Timestamp::now();
        let settle_after = i64::try_from(opts.settle_after.as_micros()).unwrap_or(i64::MAX);
        let settled_before = Timestamp::from_micros(now.micros().saturating_sub(settle_after));
        // Claimed, not just read: with several replicas on one database, each due operation
        // goes to one reconciler, which holds it for LEASE_SECS (settling or deferring it ends
        // the lease early; a replica that dies mid-pass only delays its batch).
        let lease_until = now.plus_seconds(LEASE_SECS);
        let lease_ends = Instant::now() + Duration::from_secs(LEASE_SECS.unsigned_abs());
        let due = self
            .store
            .claim_due_operations(settled_before, now, lease_until, BATCH)
            .await?;
        // A pass with work is a trace of its own (a root span: not a child of whatever called
        // it), so each pass's provider calls read as one story; an idle pass records nothing.
        let settled = if due.is_empty() {
            0
        } else {
            let span = tracing::info_span!(
                parent: None,
                "reconcile_pass",
                operations = due.len(),
                settled = tracing::field::Empty,
            );
            let settled = self
                .settle_due(due, &opts, lease_ends)
                .instrument(span.clone())
                .await?;
            span.record("settled", settled);
            settled
        };
        let open = self.store.count_open(settled_before).await?;
        self.metrics.set_unresolved(open.unresolved);
        self.metrics.set_checkouts_open(open.checkouts);
        self.refresh_parked_gauge().await;
        Ok(settled)
    }

    /// Works through a pass's claimed operations until done or the lease runs short.
    async fn settle_due(
        &self,
        due: Vec<DueOperation>,
        opts: &ReconcileOptions,
        lease_ends: Instant,
    ) -> Result<usize, AppError> {
        let mut settled = 0;
        for item in due {
            // Each item gets a whole operation budget; one that could outlive the lease is
            // left to a later pass (its lease ends), never worked on by two reconcilers.
            if Instant::now() + self.operation_timeout + super::LEASE_MARGIN > lease_ends {
                tracing::info!(
                    "reconciliation pass stops at its lease; the rest waits for the next pass"
                );
                break;
            }
            let window = self.call_window();
            let now = Timestamp::now();
            match self.reconcile_one(&item, opts, window, now).await {
                Ok(Looked::Settled) => settled += 1,
                Ok(Looked::NotYet { checkout_expires }) => {
                    self.defer(&item, now, checkout_expires).await?;
                }
                Err(e) => {
                    tracing::warn!(operation = %item.operation, error = %e, "reconciliation attempt failed");
                    self.defer(&item, now, None).await?;
                }
            }
        }
        Ok(settled)
    }

    /// Asks the provider and applies a final answer.
    #[tracing::instrument(name = "reconcile", skip_all, fields(merchant = %item.merchant, payment_id = %item.payment_id, operation = %item.operation))]
    async fn reconcile_one(
        &self,
        item: &DueOperation,
        opts: &ReconcileOptions,
        window: super::CallWindow,
        now: Timestamp,
    ) -> Result<Looked, AppError> {
        let payment = self.store.payment(&item.merchant, item.payment_id).await?;
        let Some(op) = payment.operation(item.operation).cloned() else {
            return Err(AppError::Internal(
                "due operation missing from its payment".into(),
            ));
        };
        // One span per operation looked at, inside the pass's trace, linked to the trace of the
        // call that began the operation (the link is set before the span first starts).
        let span = tracing::info_span!(
            "reconcile_operation",
            payment_id = %item.payment_id,
            operation_id = %item.operation,
        );
        if let Some(traceparent) = &op.trace_parent {
            crate::traces::link_to(&span, traceparent);
        }
        self.look(item, opts, window, now, payment, op)
            .instrument(span)
            .await
    }

    /// Asks the provider about one operation and settles or defers it by its answer.
    async fn look(
        &self,
        item: &DueOperation,
        opts: &ReconcileOptions,
        window: super::CallWindow,
        now: Timestamp,
        payment: Payment,
        op: Operation,
    ) -> Result<Looked, AppError> {
        let provider = self.provider(&item.merchant, &payment)?;
        let checkout_expires = (op.kind == OperationKind::Authorize
            && payment.status == PaymentStatus::RequiresAction)
            .then(|| {
                let expiry = opts.checkouts.expiry(payment.provider);
                let micros = i64::try_from(expiry.as_micros()).unwrap_or(i64::MAX);
                Timestamp::from_micros(op.created_at.micros().saturating_add(micros))
            });
        let asked = self
            .within_window(window, provider.kind(), async {
                provider.status(&payment, &op).await.map(|found| {
                    found.unwrap_or_else(|| {
                        Outcome::Failed(Failure::new(
                            NOT_PROCESSED,
                            "the provider never received this operation; nothing was charged",
                        ))
                    })
                })
            })
            .await;
        let outcome = match asked {
            // `Failed(not_processed)`: the provider has no trace of the key long after any
            // request could have arrived: it never acted, so no money moved.
            Ok(
                outcome @ (Outcome::Succeeded { .. } | Outcome::Declined(_) | Outcome::Failed(_)),
            ) => outcome,
            Ok(Outcome::RequiresAction { .. } | Outcome::Unknown) => match checkout_expires {
                // The last check found the customer still on the page (or gone): expired.
                Some(at) if now >= at => {
                    tracing::info!("checkout expired without the customer finishing it");
                    Outcome::Failed(Failure::new(
                        CHECKOUT_EXPIRED,
                        "the customer did not finish the checkout in time",
                    ))
                }
                _ => return Ok(Looked::NotYet { checkout_expires }),
            },
            // The provider refused a re-sent request because of the payment's state on its
            // side (an expired authorization): it certainly did not act, and never will.
            Err(ProviderError::Refused {
                refusal, failure, ..
            }) => {
                tracing::info!(%refusal, "provider refused the re-sent operation: settled as failed");
                Outcome::Failed(*failure)
            }
            // Not even past a checkout's expiry: who knows whether the customer paid.
            Err(e) => {
                tracing::info!(error = %e, "provider status not available yet");
                return Ok(Looked::NotYet { checkout_expires });
            }
        };
        let job = Write::Settle {
            payment_id: payment.id,
            operation: op.id,
            outcome,
            now,
        };
        self.store.write(job).await?;
        tracing::info!(kind = op.kind.as_str(), "operation reconciled");
        Ok(Looked::Settled)
    }

    /// Schedules the next look: exponential backoff, but never past an open checkout's expiry
    /// (its last check is due then). Only an unknown outcome past its budget needs an operator.
    async fn defer(
        &self,
        item: &DueOperation,
        now: Timestamp,
        checkout_expires: Option<Timestamp>,
    ) -> Result<(), AppError> {
        let attempts = item.attempts.saturating_add(1);
        if attempts == ATTEMPT_BUDGET && checkout_expires.is_none() {
            tracing::error!(
                operation = %item.operation,
                payment_id = %item.payment_id,
                merchant = %item.merchant,
                attempts,
                "operation still unresolved past its reconciliation budget: operator attention needed"
            );
        }
        let exp = u32::try_from(attempts.min(16)).unwrap_or(16);
        let base = FIRST_RETRY_SECS
            .saturating_mul(2_i64.saturating_pow(exp))
            .min(MAX_RETRY_SECS);
        // Jitter spreads retries of operations that failed together (a provider outage).
        let jitter = rand::random_range(0..=base.max(1) * 250_000);
        let mut next = now.plus_seconds(base).micros().saturating_add(jitter);
        if let Some(at) = checkout_expires
            && at.micros() > now.micros()
        {
            next = next.min(at.micros());
        }
        let job = Write::Defer {
            operation: item.operation,
            attempts,
            next_attempt_at: Timestamp::from_micros(next),
        };
        self.store.write(job).await?;
        Ok(())
    }
}
