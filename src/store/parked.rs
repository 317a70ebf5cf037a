//! Parked provider events, the part both backends share: what a `parked_events` row holds, how
//! its columns become an [`ExternalOperation`] again, and what is logged when one is parked,
//! re-parked for another reason, or finally taken. The SQL lives in each backend's `external.rs`.

use super::StoreError;
use crate::domain::{
    ExternalOperation, ExternalSource, MerchantId, Money, ParkReason, Payment, ProviderKind,
};

/// One unresolved row of `parked_events`, decoded against its payment.
pub(super) struct Parked {
    /// The payment's merchant: event ids are unique per (merchant, provider).
    pub merchant: MerchantId,
    pub provider: ProviderKind,
    pub event_id: String,
    pub operation: ExternalOperation,
    pub reason: ParkReason,
}

impl Parked {
    /// Rebuilds a row read back; `amount` is in the payment's currency, as it was parked.
    pub fn decode(
        payment: &Payment,
        provider: &str,
        event_id: String,
        source: &str,
        amount: Option<i64>,
        provider_reference: String,
        reason: &str,
    ) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str| StoreError::Internal(format!("corrupt {what} in parked event {event_id}"));
        let amount = amount
            .map(|minor| Money::new(minor, payment.amount.currency()))
            .transpose()
            .map_err(|_| corrupt("amount"))?;
        Ok(Self {
            merchant: payment.merchant.clone(),
            provider: provider.parse().map_err(|_| corrupt("provider"))?,
            operation: ExternalOperation {
                source: ExternalSource::parse(source).ok_or_else(|| corrupt("source"))?,
                amount,
                provider_reference,
            },
            reason: ParkReason::parse(reason).ok_or_else(|| corrupt("reason"))?,
            event_id,
        })
    }
}

/// How a parked event was finally taken (the `resolution` column).
#[derive(Debug, Clone, Copy)]
pub(super) enum Resolution {
    Applied,
    /// An operation of the payment carries the event's reference by now (paygate's own refund
    /// settled and named it): nothing to add.
    AlreadyRecorded,
    /// A void the ledger no longer needs (see `Fit::Moot`).
    Moot,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::AlreadyRecorded => "already_recorded",
            Self::Moot => "moot",
        }
    }
}

fn minor(op: &ExternalOperation) -> i64 {
    op.amount.map_or(0, Money::minor)
}

/// The event is parked, or parked again for a new reason. A reversal is always logged at error,
/// and so is anything an operator must look at; amounts and ids only, never the payload.
pub(super) fn log_parked(payment: &Payment, op: &ExternalOperation, reason: ParkReason) {
    let (payment_id, amount, currency) = (payment.id, minor(op), payment.amount.currency());
    let (source, why) = (op.source.as_str(), reason.as_str());
    if reason.needs_operator() {
        tracing::error!(%payment_id, amount, %currency, source, reason = why, "provider event does not fit the ledger: parked for an operator");
    } else if op.source == ExternalSource::Reversal {
        tracing::error!(%payment_id, amount, %currency, source, reason = why, "the provider reversed captured money (chargeback): parked until the payment's open operation settles");
    } else {
        tracing::warn!(%payment_id, amount, %currency, source, reason = why, "provider event parked until the payment's open operation settles");
    }
}

/// A parked event is taken at last.
pub(super) fn log_resolved(payment: &Payment, parked: &Parked, how: Resolution) {
    let (payment_id, amount, currency) = (
        payment.id,
        minor(&parked.operation),
        payment.amount.currency(),
    );
    let (source, resolution) = (parked.operation.source.as_str(), how.as_str());
    if parked.operation.source == ExternalSource::Reversal {
        tracing::error!(%payment_id, amount, %currency, source, resolution, "parked reversal recorded as a refund; operator attention needed");
    } else {
        tracing::info!(%payment_id, amount, %currency, source, resolution, "parked provider event taken");
    }
}
