//! Payments: the state machine and the money invariants.
//!
//! The status is derived from the operations and totals (see [`Payment::derive_status`]) rather
//! than set by hand, so it cannot drift from the ledger. The store runs [`Payment::begin`] and
//! [`Payment::settle`] inside one transaction with the row locked, which makes each check and
//! its write atomic; SQL CHECK constraints on the totals are the last line of defence.

use super::ids::{MerchantId, OperationId, PaymentId};
use super::money::Money;
use super::operation::{Failure, Operation, OperationKind, OperationStatus};
use super::provider::ProviderKind;
pub use super::refusal::Refusal;
use super::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    RequiresAction,
    Pending,
    Authorized,
    PartiallyCaptured,
    Captured,
    PartiallyRefunded,
    Refunded,
    Voided,
    Declined,
    Failed,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 10] = [
        Self::RequiresAction,
        Self::Pending,
        Self::Authorized,
        Self::PartiallyCaptured,
        Self::Captured,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Voided,
        Self::Declined,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresAction => "requires_action",
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::PartiallyCaptured => "partially_captured",
            Self::Captured => "captured",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
            Self::Voided => "voided",
            Self::Declined => "declined",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Which API operations a payment in this status accepts (void only before any capture).
    pub fn allows(self, op: OperationKind) -> bool {
        use {OperationKind as Op, PaymentStatus as S};
        match self {
            S::Authorized => matches!(op, Op::Capture | Op::Void),
            S::PartiallyCaptured => matches!(op, Op::Capture | Op::Refund),
            S::Captured | S::PartiallyRefunded => op == Op::Refund,
            S::RequiresAction | S::Pending | S::Refunded | S::Voided | S::Declined | S::Failed => {
                false
            }
        }
    }

    /// Every event type [`PaymentStatus::event_type`] can announce, once each: the list a
    /// webhook endpoint's `events` filter is checked against. A test keeps it equal to the
    /// mapping below, so a new status with a new type cannot be missing here.
    pub const EVENT_TYPES: [&'static str; 8] = [
        "payment.requires_action",
        "payment.pending",
        "payment.authorized",
        "payment.captured",
        "payment.refunded",
        "payment.voided",
        "payment.declined",
        "payment.failed",
    ];

    /// The `WatchEvents` type announced when a payment reaches this status.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::RequiresAction => "payment.requires_action",
            Self::Pending => "payment.pending",
            Self::Authorized => "payment.authorized",
            Self::PartiallyCaptured | Self::Captured => "payment.captured",
            Self::PartiallyRefunded | Self::Refunded => "payment.refunded",
            Self::Voided => "payment.voided",
            Self::Declined => "payment.declined",
            Self::Failed => "payment.failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    Manual,
    Automatic,
}

impl CaptureMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Automatic => "automatic",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Manual, Self::Automatic]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

/// Where the shop must send its customer to finish a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextAction {
    Redirect {
        url: String,
    },
    FormPost {
        url: String,
        fields: BTreeMap<String, String>,
    },
}

/// What the provider said about one operation, in paygate's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        provider_reference: Option<String>,
        /// Until when the provider holds an authorization (PayPal's `expiration_time`);
        /// recorded on the payment so the shop knows when to capture by.
        expires_at: Option<Timestamp>,
    },
    /// The customer must act on the provider's page first (authorize only).
    RequiresAction {
        next_action: NextAction,
        provider_reference: Option<String>,
    },
    Declined(Failure),
    Failed(Failure),
    /// Sent, no usable answer: reconcile later.
    Unknown,
}

/// The failure code of a checkout the customer did not finish within its provider's expiry
/// (`[checkout]`); the one failure a later success from the provider may replace.
pub const CHECKOUT_EXPIRED: &str = "checkout_expired";

/// What [`Payment::abandon`] left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    /// The operation is gone; the payment stays, changed.
    Operation,
    /// It was the payment's authorization: nothing of the payment remains to keep.
    WholePayment,
    /// The operation was not open (something settled it meanwhile): nothing changed.
    NotOpen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub merchant: MerchantId,
    pub provider: ProviderKind,
    pub merchant_reference: String,
    pub status: PaymentStatus,
    pub capture_mode: CaptureMode,
    pub amount: Money,
    /// Total captured so far, in the payment's minor units.
    pub captured: i64,
    /// Total refunded so far.
    pub refunded: i64,
    pub next_action: Option<NextAction>,
    pub failure: Option<Failure>,
    pub provider_reference: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    /// Until when the provider holds the authorized funds, where it says (PayPal); a capture
    /// after it is refused. Absent in documents written before it existed.
    #[serde(default)]
    pub authorization_expires_at: Option<Timestamp>,
    /// History, oldest first: every operation, except failed or declined captures, voids and
    /// refunds beyond the last [`KEPT_FAILED_ATTEMPTS`] (see `earlier_failed_attempts`).
    pub operations: Vec<Operation>,
    /// Failed or declined captures, voids and refunds dropped from `operations`, oldest first.
    /// Their rows stay in the operations table; absent (0) in documents written before.
    #[serde(default, skip_serializing_if = "history::is_zero")]
    pub earlier_failed_attempts: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Payment {
    fn sum_open(&self, kind: OperationKind) -> i64 {
        self.operations
            .iter()
            .filter(|o| o.kind == kind && o.status.is_open())
            .map(|o| o.amount.minor())
            .sum()
    }

    fn has(&self, kind: OperationKind, status: OperationStatus) -> bool {
        self.operations
            .iter()
            .any(|o| o.kind == kind && o.status == status)
    }

    fn capture_closed(&self) -> bool {
        self.operations.iter().any(|o| {
            o.kind == OperationKind::Capture
                && o.status == OperationStatus::Succeeded
                && o.final_capture
        })
    }

    /// Still capturable, net of captures in flight.
    pub fn capturable(&self) -> i64 {
        if self.capture_closed() {
            return 0;
        }
        self.amount.minor() - self.captured - self.sum_open(OperationKind::Capture)
    }

    /// Still refundable, net of refunds in flight.
    pub fn refundable(&self) -> i64 {
        self.captured - self.refunded - self.sum_open(OperationKind::Refund)
    }

    pub fn operation(&self, id: OperationId) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }

    /// Applies an outcome to one of this payment's operations and re-derives the status.
    ///
    /// Returns whether anything changed. Outcomes for an operation that is already settled
    /// (a late or duplicated answer) change nothing: state never moves backwards.
    pub fn settle(&mut self, op_id: OperationId, outcome: Outcome, now: Timestamp) -> bool {
        let automatic = self.capture_mode == CaptureMode::Automatic;
        let amount = self.amount.minor();
        let Some(op) = self.operations.iter_mut().find(|o| o.id == op_id) else {
            return false;
        };
        let waiting_for_customer =
            op.kind == OperationKind::Authorize && self.next_action.is_some();
        // `checkout_expired` is paygate's own timer, not the provider's word: a success the
        // provider reports later (the customer paid at the last moment) still counts.
        let late_success = op.kind == OperationKind::Authorize
            && op.status == OperationStatus::Failed
            && op
                .failure
                .as_ref()
                .is_some_and(|f| f.code == CHECKOUT_EXPIRED)
            && matches!(outcome, Outcome::Succeeded { .. });
        let settled = !op.status.is_open() && !late_success;
        if settled || (matches!(outcome, Outcome::Unknown) && op.status == OperationStatus::Unknown)
        {
            return false;
        }
        if matches!(outcome, Outcome::RequiresAction { .. })
            && (op.kind != OperationKind::Authorize || waiting_for_customer)
        {
            return false;
        }
        op.updated_at = now;
        let kind = op.kind;
        let op_amount = op.amount.minor();
        match outcome {
            Outcome::Succeeded {
                provider_reference,
                expires_at,
            } => {
                op.status = OperationStatus::Succeeded;
                op.failure = None;
                if let Some(r) = &provider_reference {
                    op.provider_reference = Some(r.clone());
                }
                match kind {
                    OperationKind::Authorize => {
                        self.next_action = None;
                        // The payment keeps the first id the provider gave it (PayPal: the
                        // order id); the operation keeps its own (PayPal: the authorization).
                        if self.provider_reference.is_none() {
                            self.provider_reference = provider_reference;
                        }
                        if expires_at.is_some() {
                            self.authorization_expires_at = expires_at;
                        }
                        if automatic {
                            self.captured = amount;
                        }
                    }
                    OperationKind::Capture => self.captured += op_amount,
                    OperationKind::Refund => self.refunded += op_amount,
                    OperationKind::Void => {}
                }
                self.failure = None;
            }
            Outcome::RequiresAction {
                next_action,
                provider_reference,
            } => {
                self.next_action = Some(next_action);
                if provider_reference.is_some() {
                    op.provider_reference.clone_from(&provider_reference);
                    self.provider_reference = provider_reference;
                }
            }
            Outcome::Declined(failure) => {
                op.status = OperationStatus::Declined;
                op.failure = Some(failure.clone());
                self.failure = Some(failure);
                if kind == OperationKind::Authorize {
                    self.next_action = None;
                }
            }
            Outcome::Failed(failure) => {
                op.status = OperationStatus::Failed;
                op.failure = Some(failure.clone());
                self.failure = Some(failure);
                if kind == OperationKind::Authorize {
                    self.next_action = None;
                }
            }
            Outcome::Unknown => op.status = OperationStatus::Unknown,
        }
        self.status = self.derive_status();
        self.updated_at = now;
        if kind != OperationKind::Authorize {
            self.forget_old_failed_attempts(op_id);
        }
        true
    }

    /// Takes back an operation the provider certainly never acted on (never sent, or refused
    /// before acting), as if it had never begun: its reserved amount is free again and the
    /// status is what the other operations say. Only an open operation can be abandoned; the
    /// answer says what is left. A payment whose authorization is abandoned has nothing left
    /// (the store deletes it: the caller never got its id).
    pub fn abandon(&mut self, op_id: OperationId, now: Timestamp) -> Abandoned {
        let Some(at) = self
            .operations
            .iter()
            .position(|o| o.id == op_id && o.status == OperationStatus::Pending)
        else {
            return Abandoned::NotOpen;
        };
        if self.operations.get(at).map(|o| o.kind) == Some(OperationKind::Authorize) {
            return Abandoned::WholePayment;
        }
        self.operations.remove(at);
        self.status = self.derive_status();
        self.updated_at = now;
        Abandoned::Operation
    }

    /// Settles a successful authorization whose capture the provider was asked to make on its
    /// own (CMI's `ACTION=POSTAUTH` reply): the payment is AUTHORIZED, with a full, final
    /// capture operation PENDING that the reconciler confirms from the provider's status. Nothing
    /// is counted as captured before the provider says so. Returns the capture operation's id;
    /// `None` (nothing changed) if the authorization was not open.
    pub fn authorize_with_pending_capture(
        &mut self,
        op_id: OperationId,
        provider_reference: Option<String>,
        now: Timestamp,
    ) -> Option<OperationId> {
        let op = self.operations.iter_mut().find(|o| o.id == op_id)?;
        if op.kind != OperationKind::Authorize || !op.status.is_open() {
            return None;
        }
        op.status = OperationStatus::Succeeded;
        op.failure = None;
        op.updated_at = now;
        if provider_reference.is_some() {
            op.provider_reference.clone_from(&provider_reference);
            self.provider_reference = provider_reference;
        }
        self.next_action = None;
        self.failure = None;
        let capture = Operation::new(OperationKind::Capture, self.amount, true, now);
        let capture_id = capture.id;
        self.operations.push(capture);
        self.status = self.derive_status();
        self.updated_at = now;
        Some(capture_id)
    }

    /// Reopens a declined (or failed) authorization so that a later success can settle it.
    ///
    /// The one exception to "DECLINED is terminal" (DESIGN.md §4): on CMI's hosted page the
    /// customer may retry after a refusal under the same `oid`, so one or more failed callbacks
    /// can precede a valid success, and the success wins. Only the authorize operation of a
    /// payment that has nothing else is reopened. Returns whether it was.
    pub fn reopen_declined_authorization(&mut self, op_id: OperationId, now: Timestamp) -> bool {
        if self.operations.len() != 1 {
            return false;
        }
        let Some(op) = self.operations.iter_mut().find(|o| o.id == op_id) else {
            return false;
        };
        if op.kind != OperationKind::Authorize
            || !matches!(
                op.status,
                OperationStatus::Declined | OperationStatus::Failed
            )
        {
            return false;
        }
        op.status = OperationStatus::Pending;
        op.failure = None;
        op.updated_at = now;
        self.failure = None;
        self.status = self.derive_status();
        true
    }

    /// The status the operations and totals imply. Every case is named: adding a status or an
    /// operation status fails to compile here until someone decides what it means.
    pub fn derive_status(&self) -> PaymentStatus {
        if self
            .operations
            .iter()
            .any(|o| o.status == OperationStatus::Unknown)
        {
            return PaymentStatus::Pending;
        }
        let auth = self
            .operations
            .iter()
            .find(|o| o.kind == OperationKind::Authorize);
        match auth.map(|o| o.status) {
            None => PaymentStatus::Pending,
            Some(OperationStatus::Pending | OperationStatus::Unknown) => {
                if self.next_action.is_some() {
                    PaymentStatus::RequiresAction
                } else {
                    PaymentStatus::Pending
                }
            }
            Some(OperationStatus::Declined) => PaymentStatus::Declined,
            Some(OperationStatus::Failed) => PaymentStatus::Failed,
            Some(OperationStatus::Succeeded) => {
                if self.has(OperationKind::Void, OperationStatus::Succeeded) {
                    PaymentStatus::Voided
                } else if self.refunded > 0 {
                    if self.refunded >= self.captured {
                        PaymentStatus::Refunded
                    } else {
                        PaymentStatus::PartiallyRefunded
                    }
                } else if self.captured > 0 {
                    if self.captured >= self.amount.minor() || self.capture_closed() {
                        PaymentStatus::Captured
                    } else {
                        PaymentStatus::PartiallyCaptured
                    }
                } else {
                    PaymentStatus::Authorized
                }
            }
        }
    }

    fn fmt_minor(&self, minor: i64) -> String {
        Money::new(minor, self.amount.currency()).map_or_else(
            |_| format!("0 {}", self.amount.currency()),
            |m| m.to_string(),
        )
    }
}

#[path = "payment_begin.rs"]
mod begin;

#[path = "payment_history.rs"]
mod history;
pub use history::KEPT_FAILED_ATTEMPTS;

#[cfg(test)]
#[path = "payment_tests.rs"]
mod tests;
