//! The mock processor's in-memory ledger: payments, operations, idempotency records and counters.
//!
//! Everything here is synchronous and runs under the ledger mutex, so checking an idempotency key
//! and applying its effect is one atomic step: concurrent duplicates cannot double-apply.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use super::rules::{TokenOutcome, token_outcome, validate_amount, validate_currency};
use super::{ApiError, Reply};
use crate::providers::mock::wire::{
    AmountRequest, CreatePaymentRequest, LedgerSummary, OperationKindWire, OperationObject,
    OperationResult, PaymentObject, PaymentState, StatusResponse,
};

/// What was applied under an idempotency key, for `GET /v1/operations/{key}`.
pub(super) struct Applied {
    payment_id: String,
    /// `None` for a payment creation.
    operation: Option<(OperationKindWire, String)>,
}

struct PaymentRecord {
    payment: PaymentObject,
    /// Whether approving on the hosted page should capture at once.
    capture_on_approve: bool,
    /// Where to send the signed event once the customer decides.
    webhook_url: Option<String>,
    /// Where the hosted page sends the customer after approving / declining.
    return_url: Option<String>,
    cancel_url: Option<String>,
}

struct StoredReply {
    fingerprint: String,
    reply: Reply,
}

/// Result of running a mutating request through the idempotency layer.
pub(super) enum Outcome {
    /// Acted on now; the reply is stored for replays.
    Fresh(Reply),
    /// Same key and body as before: the stored reply, no new effect.
    Replayed(Reply),
    /// Refused without acting; the key stays unused.
    Refused(ApiError),
}

#[derive(Default)]
pub(super) struct Ledger {
    payments: HashMap<String, PaymentRecord>,
    operations: HashMap<String, OperationObject>,
    /// Keyed by (endpoint scope, idempotency key).
    replies: HashMap<(String, String), StoredReply>,
    /// Keyed by idempotency key alone; the latest use wins if a key spans scopes.
    applied: HashMap<String, Applied>,
    authorizations: u64,
    captured_total: i64,
    refunded_total: i64,
    requests: u64,
}

impl Ledger {
    /// Replays a stored reply, refuses a reused key, or runs `act` and stores its reply.
    ///
    /// Only requests that were acted on are stored: a refusal (4xx, or `unavailable`) leaves the
    /// key free, because the processor did nothing under it.
    pub(super) fn idempotent<T: Serialize>(
        &mut self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        act: impl FnOnce(&mut Self) -> Result<(T, Applied), ApiError>,
    ) -> Outcome {
        let slot = (scope.to_owned(), key.to_owned());
        if let Some(stored) = self.replies.get(&slot) {
            if stored.fingerprint == fingerprint {
                return Outcome::Replayed(stored.reply.clone());
            }
            return Outcome::Refused(ApiError::unprocessable(
                "idempotency_key_reused",
                "this idempotency key was already used with a different request",
            ));
        }
        match act(self) {
            Err(error) => Outcome::Refused(error),
            Ok((value, applied)) => {
                let reply = Reply::ok(&value);
                self.requests = self.requests.saturating_add(1);
                self.replies.insert(
                    slot,
                    StoredReply {
                        fingerprint: fingerprint.to_owned(),
                        reply: reply.clone(),
                    },
                );
                self.applied.insert(key.to_owned(), applied);
                Outcome::Fresh(reply)
            }
        }
    }

    pub(super) fn create_payment(
        &mut self,
        req: &CreatePaymentRequest,
        public_base: &str,
    ) -> Result<(PaymentObject, Applied), ApiError> {
        validate_amount(req.amount)?;
        validate_currency(&req.currency)?;
        let outcome = token_outcome(&req.token)?;
        let id = format!("mp_{}", Uuid::new_v4().simple());
        let mut payment = PaymentObject {
            id: id.clone(),
            status: PaymentState::Authorized,
            amount: req.amount,
            currency: req.currency.clone(),
            captured: 0,
            refunded: 0,
            reference: req.reference.clone(),
            decline_code: None,
            decline_message: None,
            redirect_url: None,
        };
        match outcome {
            TokenOutcome::Approve => self.authorize(&mut payment, req.capture),
            TokenOutcome::Decline { code, message } => decline(&mut payment, code, message),
            TokenOutcome::Redirect => {
                payment.status = PaymentState::RequiresAction;
                payment.redirect_url = Some(format!("{public_base}/pay/{id}"));
            }
            TokenOutcome::Unavailable => return Err(ApiError::unavailable()),
        }
        self.payments.insert(
            id.clone(),
            PaymentRecord {
                payment: payment.clone(),
                capture_on_approve: req.capture,
                webhook_url: req.webhook_url.clone(),
                return_url: req.return_url.clone(),
                cancel_url: req.cancel_url.clone(),
            },
        );
        let applied = Applied {
            payment_id: id,
            operation: None,
        };
        Ok((payment, applied))
    }

    pub(super) fn capture(
        &mut self,
        payment_id: &str,
        req: &AmountRequest,
    ) -> Result<(OperationObject, Applied), ApiError> {
        validate_amount(req.amount)?;
        validate_currency(&req.currency)?;
        let payment = self.payment_mut(payment_id)?;
        let capturable = payment.amount.saturating_sub(payment.captured);
        let state_allows = payment.status == PaymentState::Authorized
            || (payment.status == PaymentState::Captured && capturable > 0);
        if !state_allows {
            return Err(invalid_state(
                "only an authorized, not fully captured payment can be captured",
            ));
        }
        check_currency(payment, &req.currency)?;
        if req.amount > capturable {
            return Err(ApiError::conflict(
                "amount_exceeds_capturable",
                "amount exceeds what is left to capture",
            ));
        }
        payment.captured = payment.captured.saturating_add(req.amount);
        payment.status = PaymentState::Captured;
        let currency = payment.currency.clone();
        self.captured_total = self.captured_total.saturating_add(req.amount);
        Ok(self.record_operation(payment_id, OperationKindWire::Capture, req.amount, currency))
    }

    pub(super) fn void(
        &mut self,
        payment_id: &str,
    ) -> Result<(OperationObject, Applied), ApiError> {
        let payment = self.payment_mut(payment_id)?;
        if payment.status != PaymentState::Authorized || payment.captured != 0 {
            return Err(invalid_state(
                "only an authorized, uncaptured payment can be voided",
            ));
        }
        payment.status = PaymentState::Voided;
        let (released, currency) = (payment.amount, payment.currency.clone());
        Ok(self.record_operation(payment_id, OperationKindWire::Void, released, currency))
    }

    pub(super) fn refund(
        &mut self,
        payment_id: &str,
        req: &AmountRequest,
    ) -> Result<(OperationObject, Applied), ApiError> {
        validate_amount(req.amount)?;
        validate_currency(&req.currency)?;
        let payment = self.payment_mut(payment_id)?;
        if payment.captured <= 0 {
            return Err(invalid_state("only a captured payment can be refunded"));
        }
        check_currency(payment, &req.currency)?;
        if payment.refunded.saturating_add(req.amount) > payment.captured {
            return Err(ApiError::conflict(
                "amount_exceeds_refundable",
                "amount exceeds what is left to refund",
            ));
        }
        payment.refunded = payment.refunded.saturating_add(req.amount);
        let currency = payment.currency.clone();
        self.refunded_total = self.refunded_total.saturating_add(req.amount);
        Ok(self.record_operation(payment_id, OperationKindWire::Refund, req.amount, currency))
    }

    /// The customer approved on the hosted page.
    pub(super) fn approve(&mut self, payment_id: &str) -> Result<PaymentObject, ApiError> {
        let record = self.awaiting_action(payment_id)?;
        let capture = record.capture_on_approve;
        let mut payment = record.payment.clone();
        payment.redirect_url = None;
        self.authorize(&mut payment, capture);
        self.store(payment.clone());
        Ok(payment)
    }

    /// The customer declined on the hosted page.
    pub(super) fn decline(&mut self, payment_id: &str) -> Result<PaymentObject, ApiError> {
        let record = self.awaiting_action(payment_id)?;
        let mut payment = record.payment.clone();
        payment.redirect_url = None;
        decline(
            &mut payment,
            "card_declined",
            "The customer declined the payment.",
        );
        self.store(payment.clone());
        Ok(payment)
    }

    /// Where the payment's events go, if its creator asked for them.
    pub(super) fn webhook_url(&self, payment_id: &str) -> Option<String> {
        self.payments
            .get(payment_id)
            .and_then(|record| record.webhook_url.clone())
    }

    /// Where the customer goes after approving (`approved`) or declining, if the creator said.
    pub(super) fn customer_return(&self, payment_id: &str, approved: bool) -> Option<String> {
        let record = self.payments.get(payment_id)?;
        if approved {
            record.return_url.clone()
        } else {
            record.cancel_url.clone()
        }
    }

    pub(super) fn payment(&self, payment_id: &str) -> Option<&PaymentObject> {
        self.payments.get(payment_id).map(|record| &record.payment)
    }

    /// What was applied under `key`, with the payment as it is now.
    pub(super) fn status(&self, key: &str) -> Option<StatusResponse> {
        let applied = self.applied.get(key)?;
        let payment = self.payment(&applied.payment_id)?.clone();
        let (kind, operation) = match &applied.operation {
            None => ("payment", None),
            Some((kind, id)) => {
                let name = match kind {
                    OperationKindWire::Capture => "capture",
                    OperationKindWire::Void => "void",
                    OperationKindWire::Refund => "refund",
                };
                (name, Some(self.operations.get(id)?.clone()))
            }
        };
        Some(StatusResponse {
            key: key.to_owned(),
            kind: kind.to_owned(),
            payment,
            operation,
        })
    }

    pub(super) fn summary(&self) -> LedgerSummary {
        LedgerSummary {
            payments: u64::try_from(self.payments.len()).unwrap_or(u64::MAX),
            authorizations: self.authorizations,
            captured_total: self.captured_total,
            refunded_total: self.refunded_total,
            requests: self.requests,
        }
    }

    /// Marks a payment authorized (and captured in full if asked): one card charge or hold.
    fn authorize(&mut self, payment: &mut PaymentObject, capture: bool) {
        self.authorizations = self.authorizations.saturating_add(1);
        if capture {
            payment.status = PaymentState::Captured;
            payment.captured = payment.amount;
            self.captured_total = self.captured_total.saturating_add(payment.amount);
        } else {
            payment.status = PaymentState::Authorized;
        }
    }

    fn payment_mut(&mut self, payment_id: &str) -> Result<&mut PaymentObject, ApiError> {
        self.payments
            .get_mut(payment_id)
            .map(|record| &mut record.payment)
            .ok_or_else(payment_not_found)
    }

    fn awaiting_action(&self, payment_id: &str) -> Result<&PaymentRecord, ApiError> {
        let record = self
            .payments
            .get(payment_id)
            .ok_or_else(payment_not_found)?;
        if record.payment.status != PaymentState::RequiresAction {
            return Err(invalid_state("the payment is not awaiting customer action"));
        }
        Ok(record)
    }

    fn store(&mut self, payment: PaymentObject) {
        if let Some(record) = self.payments.get_mut(&payment.id) {
            record.payment = payment;
        }
    }

    /// Stores a succeeded operation on `payment_id` (the caller just changed that payment).
    fn record_operation(
        &mut self,
        payment_id: &str,
        kind: OperationKindWire,
        amount: i64,
        currency: String,
    ) -> (OperationObject, Applied) {
        let operation = OperationObject {
            id: format!("op_{}", Uuid::now_v7().simple()),
            payment_id: payment_id.to_owned(),
            kind,
            status: OperationResult::Succeeded,
            amount,
            currency,
            failure_code: None,
            failure_message: None,
        };
        self.operations
            .insert(operation.id.clone(), operation.clone());
        let applied = Applied {
            payment_id: payment_id.to_owned(),
            operation: Some((kind, operation.id.clone())),
        };
        (operation, applied)
    }
}

fn decline(payment: &mut PaymentObject, code: &str, message: &str) {
    payment.status = PaymentState::Declined;
    payment.decline_code = Some(code.to_owned());
    payment.decline_message = Some(message.to_owned());
}

fn check_currency(payment: &PaymentObject, currency: &str) -> Result<(), ApiError> {
    if payment.currency == currency {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "currency_mismatch",
            "currency differs from the payment's currency",
        ))
    }
}

fn payment_not_found() -> ApiError {
    ApiError::not_found("payment_not_found", "no such payment")
}

fn invalid_state(message: &str) -> ApiError {
    ApiError::conflict("invalid_state", message)
}
