//! Why an operation may not start: the refusals of the payment rules (and of a provider that
//! refuses because of the payment's state on its side). Each maps to a FAILED_PRECONDITION reason.

use super::operation::OperationKind;

/// Why an operation may not start. Each maps to a FAILED_PRECONDITION reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a {status} payment cannot be {}", verb(*.op))]
    InvalidState {
        status: &'static str,
        op: OperationKind,
    },
    #[error("amount {requested} exceeds the capturable amount {available}")]
    ExceedsCapturable {
        requested: String,
        available: String,
    },
    #[error("amount {requested} exceeds the refundable amount {available}")]
    ExceedsRefundable {
        requested: String,
        available: String,
    },
    #[error("currency {requested} does not match the payment's currency {payment}")]
    CurrencyMismatch {
        requested: &'static str,
        payment: &'static str,
    },
    #[error("{provider} does not support {what}")]
    NotSupported {
        provider: &'static str,
        what: &'static str,
    },
    /// The provider refused because of the payment's state on its side (CMI's CORE-2008 /
    /// 2508 / 2509: already settled, not settled yet...). `reason` is the DESIGN.md §2.1 code
    /// (`INVALID_STATE`, `OPERATION_NOT_SUPPORTED`); `message` says what to do instead.
    #[error("{message}")]
    ByProvider {
        reason: &'static str,
        message: String,
    },
}

fn verb(op: OperationKind) -> &'static str {
    match op {
        OperationKind::Authorize => "authorized",
        OperationKind::Capture => "captured",
        OperationKind::Void => "voided",
        OperationKind::Refund => "refunded",
    }
}
