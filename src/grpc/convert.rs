//! Conversions at the gRPC edge: requests → validated commands (every bad field reported at
//! once), domain payments → proto messages. Nothing below `grpc/` sees a proto type.

use super::caller_text::refuse_card_data;
use super::proto as pb;
use crate::domain::{
    Address, AuthorizeCommand, CaptureCommand, CaptureMode, Currency, Customer, Failure,
    IdempotencyKey, ListQuery, Money, NextAction, Operation, OperationKind, OperationStatus,
    Payment, PaymentId, PaymentStatus, ProviderKind, RefundCommand, Timestamp, VoidCommand,
};
use crate::error::{AppError, FieldViolations};
use std::collections::BTreeMap;

const MAX_TEXT: usize = 255;
const MAX_DESCRIPTION: usize = 1024;
const MAX_METADATA_ENTRIES: usize = 50;
const MAX_METADATA_KEY: usize = 40;
const MAX_METADATA_VALUE: usize = 500;
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

impl FieldViolations {
    fn key(&mut self, text: &str) -> Option<IdempotencyKey> {
        if text.is_empty() {
            self.add(
                "idempotency_key",
                "IDEMPOTENCY_KEY_REQUIRED",
                "an idempotency key is required",
            );
            return None;
        }
        self.check(
            "idempotency_key",
            "INVALID_FIELD",
            IdempotencyKey::parse(text),
        )
    }

    fn payment_id(&mut self, text: &str) -> Option<PaymentId> {
        self.check("payment_id", "INVALID_FIELD", PaymentId::parse(text))
    }

    /// Money is required where `required`; a present amount must be positive and in a known currency.
    fn money(
        &mut self,
        field: &str,
        m: Option<&pb::Money>,
        required: bool,
    ) -> Option<Option<Money>> {
        let Some(m) = m else {
            if required {
                self.add(field, "INVALID_AMOUNT", "an amount is required");
                return None;
            }
            return Some(None);
        };
        let currency = self.check(
            &format!("{field}.currency"),
            "UNSUPPORTED_CURRENCY",
            Currency::parse(&m.currency),
        )?;
        self.check(
            &format!("{field}.minor_units"),
            "INVALID_AMOUNT",
            Money::new(m.minor_units, currency),
        )
        .map(Some)
    }

    fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        if value.len() > max {
            self.add(field, "INVALID_FIELD", format!("at most {max} bytes"));
        } else if value.chars().any(char::is_control) {
            self.add(field, "INVALID_FIELD", "control characters are not allowed");
        }
        value.to_owned()
    }

    fn url(&mut self, field: &str, value: &str) -> Option<String> {
        if value.is_empty() {
            return None;
        }
        match reqwest::Url::parse(value) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.has_host()
                    && value.len() <= 2048 =>
            {
                Some(value.to_owned())
            }
            _ => {
                self.add(
                    field,
                    "INVALID_FIELD",
                    "must be an absolute http(s) URL of at most 2048 bytes",
                );
                None
            }
        }
    }
}

impl TryFrom<pb::AuthorizeRequest> for AuthorizeCommand {
    type Error = AppError;

    fn try_from(req: pb::AuthorizeRequest) -> Result<Self, AppError> {
        refuse_card_data(&req)?;
        let mut bad = FieldViolations::default();
        let key = bad.key(&req.idempotency_key);
        let provider = bad.check(
            "provider",
            "UNKNOWN_PROVIDER",
            req.provider.parse::<ProviderKind>(),
        );
        let amount = bad.money("amount", req.amount.as_ref(), true).flatten();
        let capture_mode = match pb::CaptureMode::try_from(req.capture_mode) {
            Ok(pb::CaptureMode::Unspecified | pb::CaptureMode::Manual) => Some(CaptureMode::Manual),
            Ok(pb::CaptureMode::Automatic) => Some(CaptureMode::Automatic),
            Err(_) => {
                bad.add("capture_mode", "INVALID_FIELD", "unknown capture mode");
                None
            }
        };
        let merchant_reference = bad.text("merchant_reference", &req.merchant_reference, MAX_TEXT);
        let description = bad.text("description", &req.description, MAX_DESCRIPTION);
        let locale = bad.text("locale", &req.locale, 16);
        let payment_token = bad.text("payment_token", &req.payment_token, 512);
        let return_url = bad.url("return_url", &req.return_url);
        let cancel_url = bad.url("cancel_url", &req.cancel_url);
        let customer = customer(&mut bad, req.customer.unwrap_or_default());
        let metadata = metadata(&mut bad, req.metadata);
        match (key, provider, amount, capture_mode) {
            (Some(key), Some(provider), Some(amount), Some(capture_mode)) if bad.is_empty() => {
                Ok(Self {
                    key,
                    provider,
                    amount,
                    merchant_reference,
                    capture_mode,
                    customer,
                    return_url,
                    cancel_url,
                    description,
                    locale,
                    metadata,
                    payment_token,
                })
            }
            _ => Err(AppError::Invalid(bad)),
        }
    }
}

fn customer(bad: &mut FieldViolations, c: pb::Customer) -> Customer {
    let billing_address = c.billing_address.map(|a| {
        if !a.country.is_empty()
            && (a.country.len() != 2 || !a.country.bytes().all(|b| b.is_ascii_uppercase()))
        {
            bad.add(
                "customer.billing_address.country",
                "INVALID_FIELD",
                "must be an ISO 3166-1 alpha-2 code like MA",
            );
        }
        Address {
            line1: bad.text("customer.billing_address.line1", &a.line1, MAX_TEXT),
            line2: bad.text("customer.billing_address.line2", &a.line2, MAX_TEXT),
            city: bad.text("customer.billing_address.city", &a.city, MAX_TEXT),
            state: bad.text("customer.billing_address.state", &a.state, MAX_TEXT),
            postal_code: bad.text("customer.billing_address.postal_code", &a.postal_code, 32),
            country: a.country,
        }
    });
    if !c.email.is_empty() && !c.email.contains('@') {
        bad.add("customer.email", "INVALID_FIELD", "not an email address");
    }
    Customer {
        name: bad.text("customer.name", &c.name, MAX_TEXT),
        email: bad.text("customer.email", &c.email, MAX_TEXT),
        phone: bad.text("customer.phone", &c.phone, 32),
        billing_address,
    }
}

fn metadata(
    bad: &mut FieldViolations,
    m: std::collections::HashMap<String, String>,
) -> BTreeMap<String, String> {
    if m.len() > MAX_METADATA_ENTRIES {
        bad.add(
            "metadata",
            "INVALID_FIELD",
            format!("at most {MAX_METADATA_ENTRIES} entries"),
        );
    }
    for (k, v) in &m {
        if k.is_empty() || k.len() > MAX_METADATA_KEY || v.len() > MAX_METADATA_VALUE {
            bad.add(
                &format!(
                    "metadata[{}]",
                    k.chars().take(MAX_METADATA_KEY).collect::<String>()
                ),
                "INVALID_FIELD",
                format!(
                    "keys 1-{MAX_METADATA_KEY} bytes, values at most {MAX_METADATA_VALUE} bytes"
                ),
            );
        }
    }
    m.into_iter().collect()
}

impl TryFrom<pb::CaptureRequest> for CaptureCommand {
    type Error = AppError;

    fn try_from(req: pb::CaptureRequest) -> Result<Self, AppError> {
        refuse_card_data(&req)?;
        let mut bad = FieldViolations::default();
        let key = bad.key(&req.idempotency_key);
        let payment_id = bad.payment_id(&req.payment_id);
        let amount = bad.money("amount", req.amount.as_ref(), false);
        match (key, payment_id, amount) {
            (Some(key), Some(payment_id), Some(amount)) => Ok(Self {
                key,
                payment_id,
                amount,
                final_capture: req.final_capture,
            }),
            _ => Err(AppError::Invalid(bad)),
        }
    }
}

impl TryFrom<pb::VoidRequest> for VoidCommand {
    type Error = AppError;

    fn try_from(req: pb::VoidRequest) -> Result<Self, AppError> {
        refuse_card_data(&req)?;
        let mut bad = FieldViolations::default();
        let key = bad.key(&req.idempotency_key);
        let payment_id = bad.payment_id(&req.payment_id);
        match (key, payment_id) {
            (Some(key), Some(payment_id)) => Ok(Self { key, payment_id }),
            _ => Err(AppError::Invalid(bad)),
        }
    }
}

impl TryFrom<pb::RefundRequest> for RefundCommand {
    type Error = AppError;

    fn try_from(req: pb::RefundRequest) -> Result<Self, AppError> {
        refuse_card_data(&req)?;
        let mut bad = FieldViolations::default();
        let key = bad.key(&req.idempotency_key);
        let payment_id = bad.payment_id(&req.payment_id);
        let amount = bad.money("amount", req.amount.as_ref(), false);
        let reason = bad.text("reason", &req.reason, MAX_DESCRIPTION);
        match (key, payment_id, amount) {
            (Some(key), Some(payment_id), Some(amount)) if bad.is_empty() => Ok(Self {
                key,
                payment_id,
                amount,
                reason,
            }),
            _ => Err(AppError::Invalid(bad)),
        }
    }
}

pub fn payment_id(req: &pb::GetPaymentRequest) -> Result<PaymentId, AppError> {
    refuse_card_data(req)?;
    let mut bad = FieldViolations::default();
    let id = bad.payment_id(&req.payment_id);
    id.ok_or(AppError::Invalid(bad))
}

impl TryFrom<pb::ListPaymentsRequest> for ListQuery {
    type Error = AppError;

    fn try_from(req: pb::ListPaymentsRequest) -> Result<Self, AppError> {
        refuse_card_data(&req)?;
        let mut bad = FieldViolations::default();
        let status = match pb::PaymentStatus::try_from(req.status) {
            Ok(pb::PaymentStatus::Unspecified) => None,
            Ok(s) => Some(status_from_pb(s)),
            Err(_) => {
                bad.add("status", "INVALID_FIELD", "unknown payment status");
                None
            }
        };
        let page_size = match u32::try_from(req.page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) if n <= MAX_PAGE_SIZE => n,
            _ => {
                bad.add(
                    "page_size",
                    "INVALID_FIELD",
                    format!("must be 0-{MAX_PAGE_SIZE}"),
                );
                DEFAULT_PAGE_SIZE
            }
        };
        let after = if req.page_token.is_empty() {
            None
        } else {
            bad.check(
                "page_token",
                "INVALID_FIELD",
                PaymentId::parse(&req.page_token),
            )
        };
        // Bounded like the field it filters on: a 1 MB filter would be scanned against
        // every payment of the merchant.
        let merchant_reference = (!req.merchant_reference.is_empty())
            .then(|| bad.text("merchant_reference", &req.merchant_reference, MAX_TEXT));
        bad.into_result()?;
        Ok(Self {
            merchant_reference,
            status: status.flatten(),
            page_size,
            after,
        })
    }
}

fn status_from_pb(s: pb::PaymentStatus) -> Option<PaymentStatus> {
    Some(match s {
        pb::PaymentStatus::Unspecified => return None,
        pb::PaymentStatus::RequiresAction => PaymentStatus::RequiresAction,
        pb::PaymentStatus::Pending => PaymentStatus::Pending,
        pb::PaymentStatus::Authorized => PaymentStatus::Authorized,
        pb::PaymentStatus::PartiallyCaptured => PaymentStatus::PartiallyCaptured,
        pb::PaymentStatus::Captured => PaymentStatus::Captured,
        pb::PaymentStatus::PartiallyRefunded => PaymentStatus::PartiallyRefunded,
        pb::PaymentStatus::Refunded => PaymentStatus::Refunded,
        pb::PaymentStatus::Voided => PaymentStatus::Voided,
        pb::PaymentStatus::Declined => PaymentStatus::Declined,
        pb::PaymentStatus::Failed => PaymentStatus::Failed,
    })
}

fn status_to_pb(s: PaymentStatus) -> pb::PaymentStatus {
    match s {
        PaymentStatus::RequiresAction => pb::PaymentStatus::RequiresAction,
        PaymentStatus::Pending => pb::PaymentStatus::Pending,
        PaymentStatus::Authorized => pb::PaymentStatus::Authorized,
        PaymentStatus::PartiallyCaptured => pb::PaymentStatus::PartiallyCaptured,
        PaymentStatus::Captured => pb::PaymentStatus::Captured,
        PaymentStatus::PartiallyRefunded => pb::PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded => pb::PaymentStatus::Refunded,
        PaymentStatus::Voided => pb::PaymentStatus::Voided,
        PaymentStatus::Declined => pb::PaymentStatus::Declined,
        PaymentStatus::Failed => pb::PaymentStatus::Failed,
    }
}

fn money(currency: Currency, minor: i64) -> pb::Money {
    pb::Money {
        currency: currency.code().to_owned(),
        minor_units: minor,
    }
}

pub fn timestamp(t: Timestamp) -> pbjson_types::Timestamp {
    pbjson_types::Timestamp {
        seconds: t.seconds(),
        nanos: t.subsec_nanos(),
    }
}

fn failure(f: Failure) -> pb::Failure {
    pb::Failure {
        code: f.code,
        message: f.message,
        provider_code: f.provider_code,
        provider_message: f.provider_message,
    }
}

impl From<Operation> for pb::Operation {
    fn from(op: Operation) -> Self {
        let kind = match op.kind {
            OperationKind::Authorize => pb::OperationKind::Authorize,
            OperationKind::Capture => pb::OperationKind::Capture,
            OperationKind::Void => pb::OperationKind::Void,
            OperationKind::Refund => pb::OperationKind::Refund,
        };
        // A decline is a failed operation on the wire; the payment's status says "declined".
        let status = match op.status {
            OperationStatus::Pending => pb::OperationStatus::Pending,
            OperationStatus::Succeeded => pb::OperationStatus::Succeeded,
            OperationStatus::Declined | OperationStatus::Failed => pb::OperationStatus::Failed,
            OperationStatus::Unknown => pb::OperationStatus::Unknown,
        };
        Self {
            id: op.id.to_string(),
            kind: kind.into(),
            status: status.into(),
            amount: Some(money(op.amount.currency(), op.amount.minor())),
            provider_reference: op.provider_reference.unwrap_or_default(),
            failure: op.failure.map(failure),
            created_at: Some(timestamp(op.created_at)),
            updated_at: Some(timestamp(op.updated_at)),
        }
    }
}

impl From<Payment> for pb::Payment {
    fn from(p: Payment) -> Self {
        let currency = p.amount.currency();
        let capture_mode = match p.capture_mode {
            CaptureMode::Manual => pb::CaptureMode::Manual,
            CaptureMode::Automatic => pb::CaptureMode::Automatic,
        };
        let next_action = p.next_action.map(|a| pb::NextAction {
            action: Some(match a {
                NextAction::Redirect { url } => {
                    pb::next_action::Action::Redirect(pb::RedirectUrl { url })
                }
                NextAction::FormPost { url, fields } => {
                    pb::next_action::Action::FormPost(pb::FormPost {
                        url,
                        fields: fields.into_iter().collect(),
                    })
                }
            }),
        });
        Self {
            id: p.id.to_string(),
            provider: p.provider.as_str().to_owned(),
            merchant_reference: p.merchant_reference,
            status: status_to_pb(p.status).into(),
            capture_mode: capture_mode.into(),
            amount: Some(money(currency, p.amount.minor())),
            captured: Some(money(currency, p.captured)),
            refunded: Some(money(currency, p.refunded)),
            next_action,
            failure: p.failure.map(failure),
            operations: p.operations.into_iter().map(Into::into).collect(),
            provider_reference: p.provider_reference.unwrap_or_default(),
            metadata: p.metadata.into_iter().collect(),
            created_at: Some(timestamp(p.created_at)),
            updated_at: Some(timestamp(p.updated_at)),
            authorization_expires_at: p.authorization_expires_at.map(timestamp),
        }
    }
}

/// `after_sequence` as the store counts it; values past i64 cannot exist in the log.
pub fn sequence(req: &pb::WatchEventsRequest) -> Result<i64, AppError> {
    refuse_card_data(req)?;
    i64::try_from(req.after_sequence).map_err(|_| {
        let mut bad = FieldViolations::default();
        bad.add(
            "after_sequence",
            "INVALID_FIELD",
            "larger than any sequence number",
        );
        AppError::Invalid(bad)
    })
}

pub fn event(e: crate::store::StoredEvent) -> pb::PaymentEvent {
    pb::PaymentEvent {
        // Sequences start at 1 and only grow, so the conversion cannot fail in practice.
        sequence: u64::try_from(e.sequence).unwrap_or_default(),
        r#type: e.kind,
        payment: Some(e.payment.into()),
        occurred_at: Some(timestamp(e.occurred_at)),
    }
}
