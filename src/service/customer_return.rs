//! The customer is back from the provider's page: settle what can be settled now, so the shop's
//! return page usually finds the payment final, without ever believing the browser.
//!
//! The provider is asked (or its signed fields checked) through the adapter; its answer goes
//! through the same monotonic settle as every other outcome, so a return racing the webhook or
//! the reconciler changes the payment at most once.
//!
//! The page is public, so what it costs is bounded: lookups are coalesced per payment
//! (`return_lookups`), and only the provider's answer, never the URL the browser came back
//! through, can fail a payment.

use super::PaymentService;
use crate::domain::{
    MerchantId, Operation, OperationKind, Outcome, Payment, PaymentId, ProviderKind, Timestamp,
};
use crate::error::AppError;
use crate::providers::urls::CustomerReturn;
use crate::store::{Write, Written};

impl PaymentService {
    /// The payment as paygate knows it after the customer's return; `NotFound` when the payment
    /// is not this merchant's or not this provider's.
    #[tracing::instrument(name = "customer_return", skip_all, fields(%merchant, %payment_id, provider = %provider, outcome = %back.outcome))]
    pub async fn customer_returned(
        &self,
        merchant: &MerchantId,
        provider: ProviderKind,
        payment_id: PaymentId,
        back: &CustomerReturn,
    ) -> Result<Payment, AppError> {
        let payment = self.store.payment(merchant, payment_id).await?;
        if payment.provider != provider {
            return Err(AppError::NotFound);
        }
        let Some(op) = open_authorize(&payment) else {
            return Ok(payment);
        };
        let adapter = self.provider(merchant, &payment)?;
        // A forged CMI post is dropped here, before it can take the payment's lookup below.
        if !adapter.return_is_genuine(&payment, &op, back) {
            return Ok(payment);
        }
        // A public page: reloads must not become provider calls (see `return_lookups`).
        let Some(_lookup) = self.return_lookups.begin(payment.id, back.outcome).await else {
            // Asked moments ago, perhaps by the request just ahead: what paygate knows now.
            return Ok(self.store.payment(merchant, payment_id).await?);
        };
        // Read again: the request ahead may have settled it while this one waited.
        let payment = self.store.payment(merchant, payment_id).await?;
        let Some(op) = open_authorize(&payment) else {
            return Ok(payment);
        };
        let outcome = match adapter.customer_returned(&payment, &op, back).await {
            Ok(Some(
                outcome @ (Outcome::Succeeded { .. } | Outcome::Declined(_) | Outcome::Failed(_)),
            )) => outcome,
            Ok(Some(Outcome::RequiresAction { .. } | Outcome::Unknown) | None) => {
                return Ok(payment);
            }
            Err(e) => {
                // The shop's page still loads; the webhook or the reconciler settles it later.
                tracing::info!(error = %e, "provider status not available on return");
                return Ok(payment);
            }
        };
        let job = Write::Settle {
            payment_id: payment.id,
            operation: op.id,
            outcome,
            now: Timestamp::now(),
        };
        match self.store.write(job).await? {
            Written::Settled(p) => Ok(*p),
            other => Err(super::unexpected(other)),
        }
    }
}

/// The authorize operation still waiting for the customer, if any: the only thing a return
/// page can settle.
fn open_authorize(payment: &Payment) -> Option<Operation> {
    payment
        .operations
        .iter()
        .find(|o| o.kind == OperationKind::Authorize && o.status.is_open())
        .cloned()
}
