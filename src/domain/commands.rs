//! Validated inputs of the use cases, shared by `service/` and `providers/`.
//!
//! Transports build these (gRPC in `grpc/convert.rs`, the CLI through gRPC); once one exists,
//! every field in it is valid.

use super::ids::{IdempotencyKey, MerchantId, PaymentId};
use super::money::Money;
use super::operation::{Operation, OperationKind};
use super::payment::{CaptureMode, Payment, PaymentStatus};
use super::provider::ProviderKind;
use super::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub billing_address: Option<Address>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeCommand {
    pub key: IdempotencyKey,
    pub provider: ProviderKind,
    pub amount: Money,
    pub merchant_reference: String,
    pub capture_mode: CaptureMode,
    pub customer: Customer,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    pub description: String,
    pub locale: String,
    pub metadata: BTreeMap<String, String>,
    /// Provider-specific; never stored (it may be a one-time card token).
    pub payment_token: String,
}

impl AuthorizeCommand {
    /// The payment this command creates, with its authorize operation pending.
    pub fn open_payment(&self, merchant: &MerchantId, now: Timestamp) -> Payment {
        let auth = Operation::new(OperationKind::Authorize, self.amount, false, now);
        Payment {
            id: PaymentId::new(),
            merchant: merchant.clone(),
            provider: self.provider,
            merchant_reference: self.merchant_reference.clone(),
            status: PaymentStatus::Pending,
            capture_mode: self.capture_mode,
            amount: self.amount,
            captured: 0,
            refunded: 0,
            next_action: None,
            failure: None,
            provider_reference: None,
            metadata: self.metadata.clone(),
            return_url: self.return_url.clone(),
            cancel_url: self.cancel_url.clone(),
            authorization_expires_at: None,
            operations: vec![auth],
            earlier_failed_attempts: 0,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureCommand {
    pub key: IdempotencyKey,
    pub payment_id: PaymentId,
    /// `None` captures everything still capturable.
    pub amount: Option<Money>,
    pub final_capture: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidCommand {
    pub key: IdempotencyKey,
    pub payment_id: PaymentId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundCommand {
    pub key: IdempotencyKey,
    pub payment_id: PaymentId,
    /// `None` refunds everything still refundable.
    pub amount: Option<Money>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    pub merchant_reference: Option<String>,
    pub status: Option<PaymentStatus>,
    pub page_size: u32,
    /// Resume strictly after this payment (the last one of the previous page).
    pub after: Option<PaymentId>,
}
