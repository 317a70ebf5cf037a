//! JSON wire types of the mock card processor, shared by its HTTP server and the gateway's client.
//!
//! Money is always an integer amount in minor units (`i64`) plus an ISO 4217 alphabetic currency
//! code; no floats ever cross this boundary. Enums deliberately have no catch-all variant: a value
//! this side does not know is a decode error, never a silent guess about a payment's state.

use serde::{Deserialize, Serialize};

/// Body of `POST /v1/payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePaymentRequest {
    /// Amount in minor units of `currency`; must be in `1..=999_999_999_999`.
    pub amount: i64,
    /// ISO 4217 alphabetic code, three uppercase ASCII letters.
    pub currency: String,
    /// Capture immediately (a sale) instead of only authorizing (a hold).
    pub capture: bool,
    /// Mock card token; selects the outcome (`mock_ok`, `mock_decline`, ...).
    pub token: String,
    /// The merchant's own reference, echoed back.
    pub reference: String,
    /// Where the processor POSTs signed events about this payment (redirect flow). Absent in
    /// older requests, so it defaults to none: no webhooks are sent then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Where the hosted page sends the customer after approving (redirect flow); none: the
    /// page just says it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// Where the hosted page sends the customer after declining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
}

/// A payment as the processor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentObject {
    /// `mp_` followed by a simple (hyphenless) UUID.
    pub id: String,
    pub status: PaymentState,
    /// Authorized amount in minor units.
    pub amount: i64,
    pub currency: String,
    /// Sum of successful captures, minor units.
    pub captured: i64,
    /// Sum of successful refunds, minor units.
    pub refunded: i64,
    pub reference: String,
    /// Machine-readable reason when `status` is `declined`.
    pub decline_code: Option<String>,
    /// Short human-readable reason when `status` is `declined`.
    pub decline_message: Option<String>,
    /// Where the customer must go when `status` is `requires_action`.
    pub redirect_url: Option<String>,
}

/// Lifecycle of a payment on the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Waiting for the customer to approve or decline on the hosted page.
    RequiresAction,
    /// Funds are held; nothing captured yet.
    Authorized,
    /// At least one capture happened (`captured > 0`).
    Captured,
    /// The card was refused; nothing is held.
    Declined,
    /// The hold was released before any capture.
    Voided,
}

/// Body of captures and refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountRequest {
    /// Minor units; must be in `1..=999_999_999_999`.
    pub amount: i64,
    /// Must equal the payment's currency.
    pub currency: String,
}

/// Kind of a follow-up operation on a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKindWire {
    Capture,
    Void,
    Refund,
}

/// Result of a follow-up operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationResult {
    Succeeded,
    Failed,
}

/// A capture, void or refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationObject {
    /// `op_` followed by a simple (hyphenless) UUID.
    pub id: String,
    pub payment_id: String,
    pub kind: OperationKindWire,
    pub status: OperationResult,
    /// Minor units moved by this operation (for a void: the released amount).
    pub amount: i64,
    pub currency: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
}

/// Every non-2xx answer carries this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine code, e.g. `invalid_state`, `unavailable`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
}

/// `GET /v1/ledger`: counters tests use to assert "exactly one processor charge".
///
/// Totals add minor units across currencies; tests use one currency at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerSummary {
    /// Payments stored, whatever their state.
    pub payments: u64,
    /// Payments that reached `authorized` or `captured`, i.e. card charges or holds.
    pub authorizations: u64,
    /// Sum of all successful captures, minor units.
    pub captured_total: i64,
    /// Sum of all successful refunds, minor units.
    pub refunded_total: i64,
    /// Mutating `/v1` requests the processor acted on; idempotent replays are excluded.
    pub requests: u64,
}

/// Fault settings, read and replaced via `GET`/`PUT /_faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before every mutating `/v1` request is looked at.
    pub latency_ms: u64,
    /// Chance (0..=100) that a mutating request is answered 503 `unavailable` without acting.
    pub error_rate_percent: u8,
    /// Chance (0..=100) that a mutating request is acted on but answered 504 `dropped` after
    /// `timeout_delay_ms`.
    pub drop_rate_percent: u8,
    /// How long `mock_timeout` payments and dropped answers stall.
    pub timeout_delay_ms: u64,
    /// What the next mutating requests meet, one step each, in order, before the rates above
    /// apply again: a scripted outage (tests generate these sequences).
    pub script: Vec<FaultStep>,
}

/// One mutating request's fate, as a real processor's outage can hand it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultStep {
    /// Applied and answered.
    Ok,
    /// Refused before acting: 503 `unavailable`.
    Refuse,
    /// Refused before acting: 429 `rate_limited`.
    RateLimit,
    /// Applied, then the answer is lost: 504 `dropped` after `timeout_delay_ms`.
    Drop,
    /// Applied, then answered only after `timeout_delay_ms` (past a client's timeout).
    Stall,
    /// Applied, then the connection is cut in the middle of the answer.
    Reset,
}

impl Default for Faults {
    /// No faults; stalls last 30 s, far beyond any sane client timeout.
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate_percent: 0,
            drop_rate_percent: 0,
            timeout_delay_ms: 30_000,
            script: Vec::new(),
        }
    }
}

/// `GET /v1/operations/{idempotency_key}`: what was applied under a key, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// The idempotency key asked about.
    pub key: String,
    /// `payment`, `capture`, `void` or `refund`.
    pub kind: String,
    /// The payment as it is now (not as it was when the key was used).
    pub payment: PaymentObject,
    /// The operation applied under the key; `None` for a payment creation.
    pub operation: Option<OperationObject>,
}

/// Body of a webhook the processor sends: signed as these exact bytes (Standard Webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// `evt_` followed by a simple UUID; also sent as the `webhook-id` header, the same on every
    /// retry, so the receiver can deduplicate.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: WebhookEventType,
    /// The payment as it is right after the change.
    pub payment: PaymentObject,
}

/// What happened to the payment. No catch-all: an unknown type is a decode error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookEventType {
    /// The customer approved; funds are held.
    #[serde(rename = "payment.authorized")]
    Authorized,
    /// The customer approved a sale; funds are held and captured.
    #[serde(rename = "payment.captured")]
    Captured,
    /// The customer (or the card) refused.
    #[serde(rename = "payment.declined")]
    Declined,
}
