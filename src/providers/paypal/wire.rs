//! PayPal's own JSON shapes (Orders v2, Payments v2, OAuth, errors, webhook envelopes). Enums have
//! no `Default` and no catch-all: an unknown status is a decode error, never a guess.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub currency_code: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Intent {
    Authorize,
    Capture,
}

#[derive(Debug, Serialize)]
pub struct CreateOrder {
    pub intent: Intent,
    pub purchase_units: Vec<PurchaseUnitRequest>,
    pub payment_source: PaymentSource,
}

#[derive(Debug, Serialize)]
pub struct PurchaseUnitRequest {
    pub amount: Amount,
    /// paygate's payment id: echoed on authorizations, captures and webhooks.
    pub custom_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PaymentSource {
    pub paypal: PaypalSource,
}

#[derive(Debug, Serialize)]
pub struct PaypalSource {
    pub experience_context: ExperienceContext,
}

#[derive(Debug, Serialize)]
pub struct ExperienceContext {
    pub return_url: String,
    pub cancel_url: String,
    pub shipping_preference: &'static str,
    pub user_action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Created,
    Saved,
    Approved,
    Voided,
    Completed,
    PayerActionRequired,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: OrderStatus,
    #[serde(default)]
    pub purchase_units: Vec<PurchaseUnit>,
    #[serde(default)]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PurchaseUnit {
    pub amount: Option<Amount>,
    pub payments: Option<Payments>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Payments {
    #[serde(default)]
    pub authorizations: Vec<Authorization>,
    #[serde(default)]
    pub captures: Vec<Capture>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizationStatus {
    Created,
    Captured,
    Denied,
    PartiallyCaptured,
    Voided,
    Pending,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Authorization {
    pub id: String,
    pub status: AuthorizationStatus,
    pub amount: Amount,
    pub expiration_time: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaptureStatus {
    Completed,
    Declined,
    PartiallyRefunded,
    Pending,
    Refunded,
    Failed,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Capture {
    pub id: String,
    pub status: CaptureStatus,
    pub amount: Amount,
}

#[derive(Debug, Serialize)]
pub struct CaptureAuthorization {
    pub amount: Amount,
    pub final_capture: bool,
}

#[derive(Debug, Serialize)]
pub struct RefundCapture {
    pub amount: Amount,
    /// paygate's payment id, so refund webhooks can be placed without the capture link.
    pub custom_id: String,
    /// The refund's reason, shown to the buyer (at most 255 characters, §3.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note_to_payer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    Cancelled,
    Failed,
    Pending,
    Completed,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub status: RefundStatus,
    pub amount: Amount,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

/// PayPal's error body (§5.1). Only `name` and `details[].issue` drive behaviour.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub debug_id: String,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub issue: String,
    #[serde(default)]
    pub description: String,
}

impl ErrorBody {
    /// The first detail's issue, else the error's name: what the mapping tables key on.
    pub fn issue(&self) -> &str {
        self.details
            .first()
            .map_or(self.name.as_str(), |d| d.issue.as_str())
    }
    pub fn description(&self) -> &str {
        self.details
            .first()
            .map_or(self.message.as_str(), |d| d.description.as_str())
    }
}

#[derive(Deserialize)]
pub struct TokenReply {
    pub access_token: String,
    pub expires_in: u64,
}

/// The webhook envelope (§7.1); the resource is decoded per event type.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    #[serde(default)]
    pub resource: serde_json::Value,
}

/// The postback's answer (§8.2): anything but SUCCESS is a rejection.
#[derive(Deserialize)]
pub struct VerifyReply {
    pub verification_status: String,
}
