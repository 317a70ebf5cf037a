//! Query strings of the JSON API's GETs → request values. Parameter names are the proto's
//! (snake_case; lowerCamelCase is read too); an unknown parameter or a bad value is refused
//! with a violation naming it, as an unknown body field is.

use crate::error::{AppError, FieldViolations};
use crate::grpc::proto as pb;

/// `merchant_reference`, `status`, `page_size`, `page_token` → `ListPaymentsRequest`.
pub fn list_request(query: Option<&str>) -> Result<pb::ListPaymentsRequest, AppError> {
    let mut req = pb::ListPaymentsRequest::default();
    let mut bad = FieldViolations::default();
    for (name, value) in pairs(query) {
        match name.as_str() {
            "merchant_reference" => req.merchant_reference = value,
            "page_token" => req.page_token = value,
            "page_size" => match value.parse::<i32>() {
                Ok(n) => req.page_size = n,
                Err(_) => bad.add("page_size", "INVALID_FIELD", "must be an integer"),
            },
            "status" => match status(&value) {
                Some(s) => req.status = s.into(),
                None => bad.add(
                    "status",
                    "INVALID_FIELD",
                    format!("unknown payment status {value:?}"),
                ),
            },
            other => unknown(&mut bad, other),
        }
    }
    bad.into_result().map(|()| req)
}

/// `after_sequence` (default 0) and `limit` (default 100, at most 500) of an events page.
pub fn events_request(query: Option<&str>) -> Result<(u64, u32), AppError> {
    let (mut after, mut limit) = (0_u64, DEFAULT_EVENTS);
    let mut bad = FieldViolations::default();
    for (name, value) in pairs(query) {
        match name.as_str() {
            "after_sequence" => match value.parse() {
                Ok(n) => after = n,
                Err(_) => bad.add("after_sequence", "INVALID_FIELD", "must be an integer ≥ 0"),
            },
            "limit" => match value.parse() {
                Ok(n) if (1..=MAX_EVENTS).contains(&n) => limit = n,
                _ => bad.add(
                    "limit",
                    "INVALID_FIELD",
                    format!("must be an integer from 1 to {MAX_EVENTS}"),
                ),
            },
            other => unknown(&mut bad, other),
        }
    }
    bad.into_result().map(|()| (after, limit))
}

const DEFAULT_EVENTS: u32 = 100;
const MAX_EVENTS: u32 = 500;

/// A payment status by its proto name (`PAYMENT_STATUS_AUTHORIZED`) or short name
/// (`authorized`, `AUTHORIZED`).
fn status(value: &str) -> Option<pb::PaymentStatus> {
    let upper = value.to_ascii_uppercase();
    pb::PaymentStatus::from_str_name(&upper)
        .or_else(|| pb::PaymentStatus::from_str_name(&format!("PAYMENT_STATUS_{upper}")))
}

fn unknown(bad: &mut FieldViolations, name: &str) {
    bad.add(name, "INVALID_FIELD", "unknown query parameter");
}

/// Decoded pairs with names in snake_case.
fn pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).map(|(k, v)| {
        let mut name = String::with_capacity(k.len() + 4);
        for c in k.chars() {
            if c.is_ascii_uppercase() {
                name.push('_');
                name.push(c.to_ascii_lowercase());
            } else {
                name.push(c);
            }
        }
        (name, v.into_owned())
    })
}
