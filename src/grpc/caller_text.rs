//! Which strings of each request the card-number check reads: all of them.
//!
//! Every conversion in `convert.rs` starts with [`refuse_card_data`], so a request carrying a
//! card number is refused (`CARD_DATA_NOT_ALLOWED`, the fields named) before it is validated
//! further, stored or sent anywhere. Each impl destructures its message without `..`: a field
//! added to the proto does not compile until someone decides here whether it is caller text.

use super::proto as pb;
use crate::domain::CardDataScan;
use crate::error::AppError;

/// A request whose caller-supplied strings can be read, each under its API field name.
pub trait CallerText {
    fn scan(&self, scan: &mut CardDataScan);
}

/// `INVALID_ARGUMENT` / `CARD_DATA_NOT_ALLOWED` if any string of `req` holds a card number.
pub fn refuse_card_data(req: &impl CallerText) -> Result<(), AppError> {
    let mut scan = CardDataScan::default();
    req.scan(&mut scan);
    scan.finish().map_err(AppError::from)
}

impl CallerText for pb::AuthorizeRequest {
    fn scan(&self, scan: &mut CardDataScan) {
        let Self {
            idempotency_key,
            provider,
            amount,
            merchant_reference,
            capture_mode: _,
            customer,
            return_url,
            cancel_url,
            description,
            locale,
            metadata,
            payment_token,
        } = self;
        scan.text("idempotency_key", idempotency_key);
        scan.text("provider", provider);
        money(scan, "amount", amount.as_ref());
        scan.text("merchant_reference", merchant_reference);
        if let Some(c) = customer {
            customer_text(scan, c);
        }
        scan.text("return_url", return_url);
        scan.text("cancel_url", cancel_url);
        scan.text("description", description);
        scan.text("locale", locale);
        scan.map(
            "metadata",
            metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        scan.text("payment_token", payment_token);
    }
}

fn money(scan: &mut CardDataScan, field: &str, m: Option<&pb::Money>) {
    if let Some(pb::Money {
        currency,
        minor_units: _,
    }) = m
    {
        scan.text(&format!("{field}.currency"), currency);
    }
}

fn customer_text(scan: &mut CardDataScan, c: &pb::Customer) {
    let pb::Customer {
        name,
        email,
        phone,
        billing_address,
    } = c;
    scan.text("customer.name", name);
    scan.text("customer.email", email);
    scan.text("customer.phone", phone);
    if let Some(pb::Address {
        line1,
        line2,
        city,
        state,
        postal_code,
        country,
    }) = billing_address
    {
        scan.text("customer.billing_address.line1", line1);
        scan.text("customer.billing_address.line2", line2);
        scan.text("customer.billing_address.city", city);
        scan.text("customer.billing_address.state", state);
        scan.text("customer.billing_address.postal_code", postal_code);
        scan.text("customer.billing_address.country", country);
    }
}

impl CallerText for pb::CaptureRequest {
    fn scan(&self, scan: &mut CardDataScan) {
        let Self {
            idempotency_key,
            payment_id,
            amount,
            final_capture: _,
        } = self;
        scan.text("idempotency_key", idempotency_key);
        scan.text("payment_id", payment_id);
        money(scan, "amount", amount.as_ref());
    }
}

impl CallerText for pb::VoidRequest {
    fn scan(&self, scan: &mut CardDataScan) {
        let Self {
            idempotency_key,
            payment_id,
        } = self;
        scan.text("idempotency_key", idempotency_key);
        scan.text("payment_id", payment_id);
    }
}

impl CallerText for pb::RefundRequest {
    fn scan(&self, scan: &mut CardDataScan) {
        let Self {
            idempotency_key,
            payment_id,
            amount,
            reason,
        } = self;
        scan.text("idempotency_key", idempotency_key);
        scan.text("payment_id", payment_id);
        money(scan, "amount", amount.as_ref());
        scan.text("reason", reason);
    }
}

impl CallerText for pb::GetPaymentRequest {
    fn scan(&self, scan: &mut CardDataScan) {
        let Self { payment_id } = self;
        scan.text("payment_id", payment_id);
    }
}

impl CallerText for pb::ListPaymentsRequest {
    fn scan(&self, scan: &mut CardDataScan) {
        let Self {
            merchant_reference,
            status: _,
            page_size: _,
            page_token,
        } = self;
        scan.text("merchant_reference", merchant_reference);
        scan.text("page_token", page_token);
    }
}

impl CallerText for pb::WatchEventsRequest {
    fn scan(&self, _scan: &mut CardDataScan) {
        let Self { after_sequence: _ } = self;
    }
}

#[cfg(test)]
#[path = "caller_text_tests.rs"]
mod tests;
