//! How PayPal's answers become paygate outcomes: error classes, amount checks, and the status
//! of orders and authorizations read back (shared by the adapter's calls and its status reads).

use super::client::{CallError, Reply, decode};
use super::convert::{self, Refused};
use super::wire::{Authorization, AuthorizationStatus, CaptureStatus, Order, OrderStatus};
use crate::domain::{
    CaptureMode, Failure, Money, NextAction, Operation, OperationKind, OperationStatus, Outcome,
    Payment, ProviderKind,
};
use crate::providers::ProviderError;

pub(super) fn unknown(reason: impl Into<String>) -> ProviderError {
    ProviderError::OutcomeUnknown {
        provider: ProviderKind::Paypal,
        reason: reason.into(),
    }
}

pub(super) fn not_sent(reason: impl Into<String>) -> ProviderError {
    ProviderError::NotSent {
        provider: ProviderKind::Paypal,
        reason: reason.into(),
    }
}

/// What a PayPal exchange gave, before it is an outcome: a decoded body or a classified refusal.
pub(super) enum Answer<T> {
    Body(T),
    Refused(Refused),
}

pub(super) fn classify<T: serde::de::DeserializeOwned>(
    result: Result<Reply, CallError>,
    kind: OperationKind,
) -> Result<Answer<T>, ProviderError> {
    match result {
        Ok(reply) => decode(&reply).map(Answer::Body).map_err(|e| match e {
            CallError::Unknown(r) | CallError::NotSent(r) => unknown(r),
            CallError::Refused { .. } => unknown("unexpected refusal"),
        }),
        Err(CallError::NotSent(r)) => Err(not_sent(r)),
        Err(CallError::Unknown(r)) => Err(unknown(r)),
        Err(CallError::Refused { status, body }) => {
            Ok(Answer::Refused(convert::refusal(status, &body, kind)))
        }
    }
}

/// A refusal as the RPC's answer: results stay results, state conflicts become
/// FAILED_PRECONDITION, "busy" stays unknown for the reconciler.
pub(super) fn refused_outcome(refused: Refused) -> Result<Outcome, ProviderError> {
    match refused {
        Refused::Declined(f) => Ok(Outcome::Declined(f)),
        Refused::Failed(f) => Ok(Outcome::Failed(f)),
        Refused::Precondition(refusal, failure) => Err(ProviderError::Refused {
            provider: ProviderKind::Paypal,
            refusal: Box::new(refusal),
            failure: Box::new(failure),
        }),
        Refused::Retry => Err(unknown("PayPal is still processing an earlier request")),
        Refused::RequiresAction | Refused::Reconcile => {
            Err(unknown("PayPal answered out of sequence"))
        }
    }
}

/// The operation's amount must be exactly what PayPal reports (DESIGN.md §3).
pub(super) fn check_amount(
    op: &Operation,
    amount: &super::wire::Amount,
) -> Result<(), ProviderError> {
    match convert::from_amount(amount, op.amount.currency()) {
        Ok(Some(minor)) if minor == op.amount.minor() => Ok(()),
        _ => {
            tracing::error!(operation = %op.id, "PayPal answered another amount or currency than the operation's");
            Err(unknown("amount or currency mismatch in PayPal's answer"))
        }
    }
}

pub(super) fn paypal_amount(m: Money) -> Result<super::wire::Amount, ProviderError> {
    convert::to_amount(m).map_err(|e| not_sent(e.to_string()))
}

/// The authorize operation's outcome from an order's payments.
pub(super) fn outcome_of_order(
    p: &Payment,
    op: &Operation,
    order: &Order,
) -> Result<Outcome, ProviderError> {
    let payments = order
        .purchase_units
        .first()
        .and_then(|u| u.payments.clone())
        .unwrap_or_default();
    match p.capture_mode {
        CaptureMode::Manual => match payments.authorizations.first() {
            Some(auth) => from_authorization(op, auth),
            None => from_order_status(order),
        },
        CaptureMode::Automatic => match payments.captures.first() {
            Some(capture) => {
                check_amount(op, &capture.amount)?;
                Ok(match capture.status {
                    CaptureStatus::Completed
                    | CaptureStatus::PartiallyRefunded
                    | CaptureStatus::Refunded => Outcome::Succeeded {
                        provider_reference: Some(capture.id.clone()),
                        expires_at: None,
                    },
                    CaptureStatus::Pending => Outcome::Unknown,
                    CaptureStatus::Declined | CaptureStatus::Failed => Outcome::Declined(
                        Failure::new("capture_declined", "PayPal declined the payment"),
                    ),
                })
            }
            None => from_order_status(order),
        },
    }
}

pub(super) fn from_authorization(
    op: &Operation,
    auth: &Authorization,
) -> Result<Outcome, ProviderError> {
    check_amount(op, &auth.amount)?;
    Ok(match auth.status {
        AuthorizationStatus::Created
        | AuthorizationStatus::Captured
        | AuthorizationStatus::PartiallyCaptured => Outcome::Succeeded {
            provider_reference: Some(auth.id.clone()),
            expires_at: auth.expiration_time.as_deref().and_then(convert::timestamp),
        },
        AuthorizationStatus::Pending => Outcome::Unknown,
        AuthorizationStatus::Denied => Outcome::Declined(Failure::new(
            "authorization_denied",
            "PayPal denied the authorization",
        )),
        AuthorizationStatus::Voided => Outcome::Failed(Failure::new(
            "authorization_voided",
            "the authorization was voided",
        )),
    })
}

pub(super) fn check_amount_of_auth(
    p: &Payment,
    op: &Operation,
    auth: &Authorization,
) -> Result<(), ProviderError> {
    match convert::from_amount(&auth.amount, p.amount.currency()) {
        Ok(Some(minor)) if minor == p.amount.minor() => Ok(()),
        _ => {
            tracing::error!(operation = %op.id, "PayPal's authorization has another amount than the payment");
            Err(unknown("authorization amount mismatch"))
        }
    }
}

pub(super) fn from_order_status(order: &Order) -> Result<Outcome, ProviderError> {
    match order.status {
        OrderStatus::Created | OrderStatus::Saved | OrderStatus::PayerActionRequired => {
            match convert::approval_link(&order.links) {
                Some(url) => Ok(Outcome::RequiresAction {
                    next_action: NextAction::Redirect { url },
                    provider_reference: Some(order.id.clone()),
                }),
                None => Ok(Outcome::Unknown),
            }
        }
        OrderStatus::Voided => Ok(Outcome::Failed(Failure::new(
            "order_expired",
            "the PayPal order was voided or expired",
        ))),
        OrderStatus::Approved | OrderStatus::Completed => Ok(Outcome::Unknown),
    }
}

pub(super) fn order_id(p: &Payment) -> Result<&str, ProviderError> {
    p.provider_reference
        .as_deref()
        .ok_or_else(|| not_sent("the payment has no PayPal order yet"))
}

/// The authorization id, kept on the succeeded authorize operation (manual capture).
pub(super) fn authorization_id(p: &Payment) -> Result<&str, ProviderError> {
    p.operations
        .iter()
        .find(|o| o.kind == OperationKind::Authorize && o.status == OperationStatus::Succeeded)
        .and_then(|o| o.provider_reference.as_deref())
        .ok_or_else(|| not_sent("the payment has no PayPal authorization"))
}
