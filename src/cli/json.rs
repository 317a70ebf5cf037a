//! JSON views of the gRPC messages and errors, for `paygate call` and the load generator.
//!
//! The shapes are for people and scripts (`jq`), not a second API: amounts appear both as
//! exact minor units and as the decimal string of the currency's exponent, enums as lower-case
//! names (`"authorized"`), timestamps as RFC 3339. Enum names come from exhaustive matches so a
//! new proto value fails to compile here instead of printing a number.

use crate::domain::Currency;
use crate::grpc::proto;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use tonic_types::StatusExt;

/// A payment as printed by `paygate call`.
pub fn payment(p: &proto::Payment) -> Value {
    json!({
        "id": p.id,
        "provider": p.provider,
        "merchant_reference": p.merchant_reference,
        "status": enum_name(p.status, payment_status_name),
        "capture_mode": enum_name(p.capture_mode, capture_mode_name),
        "amount": money(p.amount.as_ref()),
        "captured": money(p.captured.as_ref()),
        "refunded": money(p.refunded.as_ref()),
        "next_action": next_action(p.next_action.as_ref()),
        "failure": failure(p.failure.as_ref()),
        "operations": p.operations.iter().map(operation).collect::<Vec<_>>(),
        "provider_reference": p.provider_reference,
        "metadata": string_map(&p.metadata),
        "created_at": timestamp(p.created_at.as_ref()),
        "updated_at": timestamp(p.updated_at.as_ref()),
        "authorization_expires_at": timestamp(p.authorization_expires_at.as_ref()),
    })
}

/// One `WatchEvents` event, printed as a JSON line.
pub fn event(e: &proto::PaymentEvent) -> Value {
    json!({
        "sequence": e.sequence,
        "type": e.r#type,
        "occurred_at": timestamp(e.occurred_at.as_ref()),
        "payment": e.payment.as_ref().map_or(Value::Null, payment),
    })
}

/// A page of `ListPayments`.
pub fn payment_list(list: &proto::ListPaymentsResponse) -> Value {
    json!({
        "payments": list.payments.iter().map(payment).collect::<Vec<_>>(),
        "next_page_token": list.next_page_token,
    })
}

/// A gRPC error as `{"error": {code, reason, message, field_violations}}`, decoding the
/// `google.rpc.ErrorInfo`, `BadRequest` and `RetryInfo` details paygate attaches (DESIGN §2.1),
/// because the stable `reason` is what scripts should branch on, not the message.
pub fn status_error(status: &tonic::Status) -> Value {
    let details = status.get_error_details();
    let violations: Vec<Value> = details
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| json!({ "field": v.field, "description": v.description }))
                .collect()
        })
        .unwrap_or_default();
    let mut error = Map::new();
    error.insert("code".into(), json!(code_name(status.code())));
    error.insert(
        "reason".into(),
        json!(details.error_info().map(|info| info.reason.as_str())),
    );
    error.insert("message".into(), json!(status.message()));
    error.insert("field_violations".into(), Value::Array(violations));
    let retry_ms = details
        .retry_info()
        .and_then(|retry| retry.retry_delay)
        .and_then(|delay| u64::try_from(delay.as_millis()).ok());
    if let Some(ms) = retry_ms {
        error.insert("retry_delay_ms".into(), json!(ms));
    }
    json!({ "error": error })
}

/// The canonical upper-case name of a gRPC code (`FAILED_PRECONDITION`), as other gRPC tools
/// print it; the server's metric labels use the same function.
pub use crate::grpc::status::code_name;

/// `PAYMENT_STATUS_PARTIALLY_CAPTURED` → `partially_captured`.
pub fn payment_status_name(status: proto::PaymentStatus) -> &'static str {
    use proto::PaymentStatus as S;
    match status {
        S::Unspecified => "unspecified",
        S::RequiresAction => "requires_action",
        S::Pending => "pending",
        S::Authorized => "authorized",
        S::PartiallyCaptured => "partially_captured",
        S::Captured => "captured",
        S::PartiallyRefunded => "partially_refunded",
        S::Refunded => "refunded",
        S::Voided => "voided",
        S::Declined => "declined",
        S::Failed => "failed",
    }
}

fn capture_mode_name(mode: proto::CaptureMode) -> &'static str {
    match mode {
        proto::CaptureMode::Unspecified => "unspecified",
        proto::CaptureMode::Manual => "manual",
        proto::CaptureMode::Automatic => "automatic",
    }
}

fn operation_kind_name(kind: proto::OperationKind) -> &'static str {
    use proto::OperationKind as K;
    match kind {
        K::Unspecified => "unspecified",
        K::Authorize => "authorize",
        K::Capture => "capture",
        K::Void => "void",
        K::Refund => "refund",
    }
}

fn operation_status_name(status: proto::OperationStatus) -> &'static str {
    use proto::OperationStatus as S;
    match status {
        S::Unspecified => "unspecified",
        S::Pending => "pending",
        S::Succeeded => "succeeded",
        S::Failed => "failed",
        S::Unknown => "unknown",
    }
}

/// A wire enum value by name; a number this build does not know (a newer server) is shown
/// as `unknown(N)` rather than guessed at.
fn enum_name<E: TryFrom<i32>>(value: i32, name: fn(E) -> &'static str) -> Value {
    match E::try_from(value) {
        Ok(known) => json!(name(known)),
        Err(_) => json!(format!("unknown({value})")),
    }
}

fn operation(op: &proto::Operation) -> Value {
    json!({
        "id": op.id,
        "kind": enum_name(op.kind, operation_kind_name),
        "status": enum_name(op.status, operation_status_name),
        "amount": money(op.amount.as_ref()),
        "provider_reference": op.provider_reference,
        "failure": failure(op.failure.as_ref()),
        "created_at": timestamp(op.created_at.as_ref()),
        "updated_at": timestamp(op.updated_at.as_ref()),
    })
}

/// Minor units exactly as sent, plus the decimal form when the currency is one we know.
/// Zero is legitimate here (nothing captured yet), so this does not go through `Money::new`.
fn money(m: Option<&proto::Money>) -> Value {
    let Some(m) = m else {
        return Value::Null;
    };
    let decimal = Currency::parse(&m.currency)
        .ok()
        .and_then(|currency| Decimal::try_new(m.minor_units, currency.exponent()).ok())
        .map(|d| d.to_string());
    json!({ "currency": m.currency, "minor_units": m.minor_units, "decimal": decimal })
}

fn next_action(action: Option<&proto::NextAction>) -> Value {
    use proto::next_action::Action;
    match action.and_then(|a| a.action.as_ref()) {
        None => Value::Null,
        Some(Action::Redirect(redirect)) => json!({ "type": "redirect", "url": redirect.url }),
        Some(Action::FormPost(form)) => json!({
            "type": "form_post",
            "url": form.url,
            "fields": string_map(&form.fields),
        }),
    }
}

fn failure(f: Option<&proto::Failure>) -> Value {
    f.map_or(Value::Null, |f| {
        json!({
            "code": f.code,
            "message": f.message,
            "provider_code": f.provider_code,
            "provider_message": f.provider_message,
        })
    })
}

/// A JSON object; `serde_json::Map` keeps keys sorted, so the output is stable across runs.
fn string_map(map: &HashMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// RFC 3339 in UTC; an out-of-range value is shown raw rather than dropped.
fn timestamp(t: Option<&pbjson_types::Timestamp>) -> Value {
    let Some(t) = t else {
        return Value::Null;
    };
    let nanos = i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or_else(
            || json!({ "seconds": t.seconds, "nanos": t.nanos }),
            Value::String,
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, FieldViolation};

    fn mad(minor: i64) -> Option<proto::Money> {
        Some(proto::Money {
            currency: "MAD".into(),
            minor_units: minor,
        })
    }

    fn sample_payment() -> proto::Payment {
        proto::Payment {
            id: "0190c0de-0000-7000-8000-000000000001".into(),
            provider: "mock".into(),
            merchant_reference: "order-42".into(),
            status: i32::from(proto::PaymentStatus::PartiallyCaptured),
            capture_mode: i32::from(proto::CaptureMode::Manual),
            amount: mad(10050),
            captured: mad(5000),
            refunded: mad(0),
            next_action: None,
            failure: None,
            operations: vec![proto::Operation {
                id: "op-1".into(),
                kind: i32::from(proto::OperationKind::Capture),
                status: i32::from(proto::OperationStatus::Succeeded),
                amount: mad(5000),
                provider_reference: "mock_cap_1".into(),
                failure: Some(proto::Failure {
                    code: "card_declined".into(),
                    message: "declined".into(),
                    provider_code: "05".into(),
                    provider_message: "Do not honour".into(),
                }),
                created_at: Some(pbjson_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                updated_at: None,
            }],
            provider_reference: "mock_pay_1".into(),
            metadata: HashMap::from([("cart".into(), "17".into())]),
            created_at: Some(pbjson_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 500_000_000,
            }),
            updated_at: None,
            authorization_expires_at: None,
        }
    }

    #[test]
    fn payment_shows_amounts_both_ways_and_enums_by_name() {
        let v = payment(&sample_payment());
        assert_eq!(
            v["amount"],
            json!({ "currency": "MAD", "minor_units": 10050, "decimal": "100.50" })
        );
        assert_eq!(v["refunded"]["decimal"], "0.00");
        assert_eq!(v["status"], "partially_captured");
        assert_eq!(v["capture_mode"], "manual");
        assert_eq!(v["operations"][0]["kind"], "capture");
        assert_eq!(v["operations"][0]["status"], "succeeded");
        assert_eq!(v["operations"][0]["failure"]["provider_code"], "05");
        assert_eq!(v["operations"][0]["created_at"], "2023-11-14T22:13:20Z");
        assert_eq!(v["created_at"], "2023-11-14T22:13:20.5Z");
        assert_eq!(v["updated_at"], Value::Null);
        assert_eq!(v["metadata"], json!({ "cart": "17" }));
        assert_eq!(v["next_action"], Value::Null);
    }

    #[test]
    fn decimals_follow_the_currency_exponent() {
        let jpy = proto::Money {
            currency: "JPY".into(),
            minor_units: 1500,
        };
        let kwd = proto::Money {
            currency: "KWD".into(),
            minor_units: 1,
        };
        let odd = proto::Money {
            currency: "ZZZ".into(),
            minor_units: 7,
        };
        assert_eq!(money(Some(&jpy))["decimal"], "1500");
        assert_eq!(money(Some(&kwd))["decimal"], "0.001");
        assert_eq!(
            money(Some(&odd)),
            json!({ "currency": "ZZZ", "minor_units": 7, "decimal": null })
        );
        assert_eq!(money(None), Value::Null);
    }

    #[test]
    fn unknown_enum_values_are_visible() {
        let mut p = sample_payment();
        p.status = 99;
        assert_eq!(payment(&p)["status"], "unknown(99)");
    }

    #[test]
    fn next_action_is_tagged_by_type() {
        let mut p = sample_payment();
        p.next_action = Some(proto::NextAction {
            action: Some(proto::next_action::Action::FormPost(proto::FormPost {
                url: "https://cmi.example/pay".into(),
                fields: HashMap::from([("oid".into(), "abc".into())]),
            })),
        });
        assert_eq!(
            payment(&p)["next_action"],
            json!({ "type": "form_post", "url": "https://cmi.example/pay", "fields": { "oid": "abc" } })
        );
        p.next_action = Some(proto::NextAction {
            action: Some(proto::next_action::Action::Redirect(proto::RedirectUrl {
                url: "https://paypal.example/approve".into(),
            })),
        });
        assert_eq!(payment(&p)["next_action"]["type"], "redirect");
    }

    #[test]
    fn event_wraps_the_payment() {
        let e = proto::PaymentEvent {
            sequence: 7,
            r#type: "payment.captured".into(),
            payment: Some(sample_payment()),
            occurred_at: Some(pbjson_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
        };
        let v = event(&e);
        assert_eq!(v["sequence"], 7);
        assert_eq!(v["type"], "payment.captured");
        assert_eq!(v["occurred_at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["payment"]["id"], "0190c0de-0000-7000-8000-000000000001");
    }

    #[test]
    fn errors_decode_reason_and_field_violations() {
        let mut details = ErrorDetails::with_error_info("INVALID_FIELD", "paygate", HashMap::new());
        details.set_bad_request(vec![FieldViolation::new(
            "amount",
            "must be greater than zero",
        )]);
        details.set_retry_info(Some(std::time::Duration::from_millis(250)));
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "invalid request",
            details,
        );
        assert_eq!(
            status_error(&status),
            json!({ "error": {
                "code": "INVALID_ARGUMENT",
                "reason": "INVALID_FIELD",
                "message": "invalid request",
                "field_violations": [{ "field": "amount", "description": "must be greater than zero" }],
                "retry_delay_ms": 250,
            }})
        );
    }

    #[test]
    fn errors_without_details_still_have_a_code() {
        let v = status_error(&tonic::Status::unavailable("tcp connect error"));
        assert_eq!(v["error"]["code"], "UNAVAILABLE");
        assert_eq!(v["error"]["reason"], Value::Null);
        assert_eq!(v["error"]["field_violations"], json!([]));
    }
}
