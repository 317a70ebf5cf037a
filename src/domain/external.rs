//! Operations the provider made without paygate asking (a chargeback or reversal, a refund made
//! in the provider's dashboard, an authorization voided at the end of its validity), and whether
//! the ledger can take one now, later, or only with an operator's help.
//!
//! The money has already moved at the provider, so a refusal by the ledger rules never ends the
//! matter. A refusal that exists only because an operation of the payment is still open (its
//! amount is reserved, or its outcome is unknown) is temporary: the store keeps the event
//! (parks it) and asks again in the transaction of every later change of the payment. A refusal
//! with nothing open that could lift it is a data problem: the event stays parked, flagged for
//! an operator. Either way the event is counted, never acknowledged as applied and forgotten.

use super::money::Money;
use super::operation::{Operation, OperationKind};
use super::payment::{Payment, PaymentStatus};
use super::provider::Capabilities;
use super::timestamp::Timestamp;

/// Where an external operation comes from; it decides the operation kind, whether it could be
/// paygate's own refund reported under an id paygate does not know yet, and how loudly it is
/// logged (a reversal always at error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalSource {
    /// The provider took captured money back (chargeback, reversal): a refund-like operation.
    Reversal,
    /// A refund no operation of paygate's carries: made in the provider's dashboard, or (while
    /// a refund of paygate's is open) possibly a part of that refund.
    Refund,
    /// The provider voided the authorization itself (expiry, dashboard).
    Void,
}

impl ExternalSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reversal => "reversal",
            Self::Refund => "refund",
            Self::Void => "void",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Reversal, Self::Refund, Self::Void]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    pub fn kind(self) -> OperationKind {
        match self {
            Self::Reversal | Self::Refund => OperationKind::Refund,
            Self::Void => OperationKind::Void,
        }
    }
}

/// An operation the provider reports as done, with its own id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalOperation {
    pub source: ExternalSource,
    /// In the payment's currency; `None` for a void (the whole authorization).
    pub amount: Option<Money>,
    /// The provider's id of what it did (PayPal: the refund id of a refund or reversal).
    pub provider_reference: String,
}

/// Why an external operation waits. Stored with a parked event, so the names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkReason {
    /// A refund of the payment is open: its amount is held, or the event may be its result.
    RefundOpen,
    /// Another operation of the payment is open (the payment is PENDING, or waits for the
    /// customer, or a capture or void is in flight).
    OperationOpen,
    /// More than was captured, net of refunds, with no capture in flight: a data problem.
    ExceedsCaptured,
    /// Refused with nothing open that could change it (e.g. a refund of a voided payment).
    Refused,
}

impl ParkReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefundOpen => "refund_open",
            Self::OperationOpen => "operation_open",
            Self::ExceedsCaptured => "exceeds_captured",
            Self::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::RefundOpen,
            Self::OperationOpen,
            Self::ExceedsCaptured,
            Self::Refused,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }

    /// Nothing paygate is waiting for can lift this refusal: an operator must look. It is
    /// still tried again on every change of the payment (a later capture may make room).
    pub fn needs_operator(self) -> bool {
        match self {
            Self::RefundOpen | Self::OperationOpen => false,
            Self::ExceedsCaptured | Self::Refused => true,
        }
    }
}

/// What the ledger can do with an external operation right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// Apply it: this operation, settled as succeeded under the provider's reference.
    Apply(Box<Operation>),
    /// An operation of the payment already carries this reference: nothing to add.
    AlreadyRecorded,
    /// A void the ledger cannot take with nothing open (the payment was captured meanwhile):
    /// releasing the rest of an authorization moves no money, so it is only recorded.
    Moot,
    /// Not now: keep it and ask again when the payment changes.
    Park(ParkReason),
}

/// External operations are checked against the ledger only. Capabilities say what paygate may
/// ask a provider for; the provider has already done this one.
const AS_DONE_BY_THE_PROVIDER: Capabilities = Capabilities {
    partial_capture: true,
    multiple_captures: true,
    void: true,
    partial_refund: true,
    multiple_refunds: true,
    max_minor: i64::MAX,
    // Nothing is sent for a refund the provider already made: no split to decide. Later
    // splits count it as drawn newest capture first.
    refunds_per_capture: false,
};

impl Payment {
    /// Whether `ext` fits the ledger now, under the same rules as the API's operations (never
    /// more than captured, void only before any capture), and if not, why.
    pub fn fit_external(&self, ext: &ExternalOperation, now: Timestamp) -> Fit {
        let kind = ext.source.kind();
        let reference = ext.provider_reference.as_str();
        let known = self.operations.iter().any(|o| {
            o.kind == kind
                && o.provider_reference
                    .as_deref()
                    .is_some_and(|r| r.split(',').any(|part| part == reference))
        });
        if known {
            return Fit::AlreadyRecorded;
        }
        let open = |k: Option<OperationKind>| {
            self.operations
                .iter()
                .any(|o| o.status.is_open() && k.is_none_or(|k| o.kind == k))
        };
        // A refund paygate cannot attribute may be its own open refund, reported part by part
        // under ids it learns only when that refund settles: applying it now could count the
        // same money twice. A reversal is never paygate's own, so it is tried at once.
        if ext.source == ExternalSource::Refund && open(Some(OperationKind::Refund)) {
            return Fit::Park(ParkReason::RefundOpen);
        }
        if let Ok(op) = self.begin(kind, ext.amount, false, "", AS_DONE_BY_THE_PROVIDER, now) {
            return Fit::Apply(Box::new(op));
        }
        let want = ext.amount.map_or(0, Money::minor);
        // No capture can ever raise `captured` above the amount: this never fits.
        if kind == OperationKind::Refund && want > self.amount.minor() - self.refunded {
            return Fit::Park(ParkReason::ExceedsCaptured);
        }
        if kind == OperationKind::Refund && open(Some(OperationKind::Refund)) {
            return Fit::Park(ParkReason::RefundOpen);
        }
        let waiting = matches!(
            self.status,
            PaymentStatus::Pending | PaymentStatus::RequiresAction
        );
        if waiting || open(None) {
            return Fit::Park(ParkReason::OperationOpen);
        }
        match kind {
            OperationKind::Void => Fit::Moot,
            OperationKind::Refund if want > self.captured - self.refunded => {
                Fit::Park(ParkReason::ExceedsCaptured)
            }
            OperationKind::Refund | OperationKind::Authorize | OperationKind::Capture => {
                Fit::Park(ParkReason::Refused)
            }
        }
    }
}

#[cfg(test)]
#[path = "external_tests.rs"]
mod tests;
