//! PayPal events that report an operation paygate did not ask for (specs/paypal.md §7.2): a
//! reversal (chargeback), a refund made in PayPal's dashboard, an authorization PayPal voided
//! itself. They become [`ExternalOperation`]s, which the store applies at once or parks until
//! the payment can take them (see `domain/external.rs`); this file also says how loudly each
//! outcome is logged. Money moved at PayPal in every case, so none is ever dropped quietly.

use super::paypal_events::{event_minor, is_paypal_id, open_of};
use crate::domain::{ExternalOperation, ExternalSource, Money, OperationKind, ParkReason, Payment};
use crate::providers::paypal::{EventKind, PaypalEvent};

/// The operation a refund-shaped event reports, if paygate did not ask for it. A refund id an
/// operation already carries, or a refund of exactly an open refund's amount (most likely that
/// refund's answer), is left to `decide`, which settles paygate's own operation instead.
pub(super) fn external_operation(p: &Payment, event: &PaypalEvent) -> Option<ExternalOperation> {
    let id = event.resource_id.clone().filter(|id| is_paypal_id(id))?;
    let source = match event.kind {
        EventKind::AuthorizationVoided => return external_void(p, event, id),
        EventKind::CaptureReversed => ExternalSource::Reversal,
        EventKind::CaptureRefunded => ExternalSource::Refund,
        EventKind::OrderApproved
        | EventKind::ApprovalReversed
        | EventKind::AuthorizationCreated
        | EventKind::CaptureCompleted
        | EventKind::CapturePending
        | EventKind::CaptureDeclined
        | EventKind::Other => return None,
    };
    let known = p.operations.iter().any(|o| {
        o.kind == OperationKind::Refund
            && o.provider_reference
                .as_deref()
                .is_some_and(|r| r.split(',').any(|part| part == id))
    });
    if known {
        return None;
    }
    let Some(minor) = event_minor(p, event) else {
        tracing::error!(payment_id = %p.id, source = source.as_str(), "PayPal reports money moved without an amount in the payment's currency: recorded only, operator attention needed");
        return None;
    };
    if source == ExternalSource::Refund && open_of(p, OperationKind::Refund, Some(minor)).is_some()
    {
        return None;
    }
    Some(ExternalOperation {
        source,
        amount: Some(Money::new(minor, p.amount.currency()).ok()?),
        provider_reference: id,
    })
}

/// PayPal voided the authorization itself (end of validity) or someone voided it in the
/// dashboard: the payment becomes VOIDED if nothing was captured (a capture in flight parks it;
/// after a capture it is only recorded). A void paygate is waiting for is settled by `decide`.
fn external_void(p: &Payment, event: &PaypalEvent, id: String) -> Option<ExternalOperation> {
    let ours = p
        .operations
        .iter()
        .any(|o| o.kind == OperationKind::Void && o.status.is_open());
    let this_authorization = p.operations.iter().any(|o| {
        o.kind == OperationKind::Authorize && o.provider_reference.as_deref() == Some(id.as_str())
    });
    if ours || !this_authorization || event_minor(p, event) != Some(p.amount.minor()) {
        return None;
    }
    Some(ExternalOperation {
        source: ExternalSource::Void,
        amount: None,
        provider_reference: id,
    })
}

fn minor(op: &ExternalOperation) -> i64 {
    op.amount.map_or(0, Money::minor)
}

/// The operation is in the ledger now. A reversal is always an error: money left the merchant.
pub(super) fn log_applied(p: &Payment, op: &ExternalOperation) {
    let (payment_id, amount, currency) = (p.id, minor(op), p.amount.currency());
    match op.source {
        ExternalSource::Reversal => {
            tracing::error!(%payment_id, amount, %currency, "PayPal reversed a capture (chargeback or reversal): recorded as a refund; operator attention needed");
        }
        ExternalSource::Refund => {
            tracing::warn!(%payment_id, amount, %currency, "a refund made outside paygate: recorded");
        }
        ExternalSource::Void => {
            tracing::warn!(%payment_id, "PayPal voided the authorization on its own (expiry or dashboard): recorded as a void");
        }
    }
}

/// The ledger cannot take the operation yet: it is parked, answered 200, and counted in
/// `paygate_webhook_events_parked`. A reversal, or anything only an operator can resolve, is an
/// error; an event waiting for an open operation of paygate's is a warning.
pub(super) fn log_parked(p: &Payment, op: &ExternalOperation, reason: ParkReason) {
    let (payment_id, amount, currency) = (p.id, minor(op), p.amount.currency());
    let (source, reason_name) = (op.source.as_str(), reason.as_str());
    if reason.needs_operator() {
        tracing::error!(%payment_id, amount, %currency, source, reason = reason_name, "PayPal event does not fit the ledger (more than captured?): parked for an operator");
    } else if op.source == ExternalSource::Reversal {
        tracing::error!(%payment_id, amount, %currency, source, reason = reason_name, "PayPal reversed a capture (chargeback or reversal): parked until the payment's open operation settles; operator attention needed");
    } else {
        tracing::warn!(%payment_id, amount, %currency, source, reason = reason_name, "PayPal event parked until the payment's open operation settles");
    }
}
