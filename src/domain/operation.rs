//! Operations: one authorize, capture, void or refund attempt on a payment, and its outcome.

use super::ids::OperationId;
use super::money::Money;
use super::refund_parts::RefundPart;
use super::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Authorize,
    Capture,
    Void,
    Refund,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Capture => "capture",
            Self::Void => "void",
            Self::Refund => "refund",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Authorize, Self::Capture, Self::Void, Self::Refund]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// Where an operation stands. `Declined` is shown as FAILED on the wire; it is kept apart here
/// because it decides between a DECLINED and a FAILED payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    /// Persisted; the provider has not answered yet (or the customer has not acted yet).
    Pending,
    Succeeded,
    Declined,
    Failed,
    /// Sent, but the outcome is unknown; the reconciler settles it.
    Unknown,
}

impl OperationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Succeeded,
            Self::Declined,
            Self::Failed,
            Self::Unknown,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
    /// Still holds its amount against the payment (a capture or refund in flight).
    pub fn is_open(self) -> bool {
        match self {
            Self::Pending | Self::Unknown => true,
            Self::Succeeded | Self::Declined | Self::Failed => false,
        }
    }
}

/// Why a payment or an operation failed: paygate's normalized code, plus the provider's own words.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub provider_code: String,
    pub provider_message: String,
}

impl Failure {
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_owned(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub id: OperationId,
    pub kind: OperationKind,
    pub status: OperationStatus,
    pub amount: Money,
    /// Closes capturing after this capture (set on captures only).
    pub final_capture: bool,
    /// The provider's id for this operation (capture id, refund id...), once known.
    pub provider_reference: Option<String>,
    pub failure: Option<Failure>,
    /// A refund's split over the captures, decided when it began (providers that refund
    /// captures, i.e. PayPal): part n goes to the same capture, for the same amount, under the
    /// same request id every time it is sent. Empty for other operations and providers, and in
    /// documents written before parts existed (see `Payment::refund_parts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<RefundPart>,
    /// Why the merchant refunds (`RefundRequest.reason`), sent to providers that take a note
    /// (PayPal's `note_to_payer`). Refunds only; absent in older documents.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The W3C `traceparent` of the call that began this operation, when traces are on: the
    /// reconciler's look at it and the webhooks it leads to are traces of their own, linked to
    /// that one. An id, never a secret; absent in older documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Operation {
    pub fn new(kind: OperationKind, amount: Money, final_capture: bool, now: Timestamp) -> Self {
        Self {
            id: OperationId::new(),
            kind,
            status: OperationStatus::Pending,
            amount,
            final_capture,
            provider_reference: None,
            failure: None,
            parts: Vec::new(),
            reason: String::new(),
            trace_parent: None,
            created_at: now,
            updated_at: now,
        }
    }
}
