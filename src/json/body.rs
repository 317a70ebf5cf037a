//! Request bodies and headers of the JSON API → the proto request messages: the body read
//! within `server.max_message_bytes`, decoded by the proto3 JSON mapping (pbjson; unknown
//! fields refused), and the `Idempotency-Key` header and path id merged in. Every fault names
//! the field, using the proto's field names as gRPC's violations do.

use super::problem::Problem;
use crate::error::{AppError, FieldViolations};
use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

/// The body's bytes, or 413 when it is larger than `limit` (nothing else is read or done).
pub async fn read(body: Body, limit: usize) -> Result<Bytes, Problem> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Problem::too_large()),
        Err(_) => Err(AppError::Invalid(one("body", "the request body could not be read")).into()),
    }
}

/// Decodes a proto message from its JSON; an empty body is the empty message (`{}`).
pub fn decode<T: DeserializeOwned + Default>(raw: &[u8]) -> Result<T, AppError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let message = e.inner().to_string();
        // Broken JSON has no field to name: the body as a whole is at fault.
        let mut field = if e.inner().is_syntax() || e.inner().is_eof() {
            String::new()
        } else {
            proto_path(&e.path().to_string())
        };
        // An unknown field may be reported at its parent: name the field itself.
        if let Some(name) = unknown_field(&message)
            && field.rsplit('.').next() != Some(name.as_str())
        {
            field = join(&field, &name);
        }
        AppError::Invalid(one(&or_body(field), &without_position(&message)))
    })?;
    de.end()
        .map_err(|e| AppError::Invalid(one("body", &without_position(&e.to_string()))))?;
    Ok(value)
}

/// The field named by serde's "unknown field `x`, expected ..." message, in snake_case.
fn unknown_field(message: &str) -> Option<String> {
    message
        .strip_prefix("unknown field `")?
        .split('`')
        .next()
        .map(snake)
}

/// serde_json's message without " at line 1 column 9" (the field says where).
fn without_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message.get(..at).unwrap_or(message).to_owned(),
        None => message.to_owned(),
    }
}

fn or_body(field: String) -> String {
    if field.is_empty() {
        "body".to_owned()
    } else {
        field
    }
}

/// Puts the header's (or path's) value into the body's `field`, refusing a body value that
/// disagrees: the two must name the same thing.
pub fn merge(
    slot: &mut String,
    field: &str,
    outer: Option<&str>,
    what: &str,
) -> Result<(), AppError> {
    let Some(outer) = outer else {
        return Ok(());
    };
    if !slot.is_empty() && slot != outer {
        return Err(AppError::Invalid(one(
            field,
            &format!("differs from the {what}; send one, or the same value in both"),
        )));
    }
    outer.clone_into(slot);
    Ok(())
}

/// The `Idempotency-Key` header, which must be text when present.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, AppError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            AppError::Invalid(one(
                "idempotency_key",
                "the Idempotency-Key header must be printable ASCII",
            ))
        }),
    }
}

pub fn one(field: &str, description: &str) -> FieldViolations {
    let mut v = FieldViolations::default();
    v.add(field, "INVALID_FIELD", description);
    v
}

/// `amount.minorUnits` → `amount.minor_units`; map keys and indexes are kept as written.
fn proto_path(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.split('.').map(snake).collect::<Vec<_>>().join(".")
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// lowerCamelCase → snake_case (already snake names pass through).
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::grpc::proto as pb;

    fn field_of(raw: &str) -> String {
        match decode::<pb::AuthorizeRequest>(raw.as_bytes()) {
            Err(AppError::Invalid(v)) => v.violations()[0].field.clone(),
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn faults_name_the_proto_field() {
        assert_eq!(
            field_of(r#"{"amount":{"minorUnits":"x"}}"#),
            "amount.minor_units"
        );
        assert_eq!(
            field_of(r#"{"amount":{"minor_units":true}}"#),
            "amount.minor_units"
        );
        assert_eq!(field_of(r#"{"nope":1}"#), "nope");
        assert_eq!(
            field_of(r#"{"customer":{"billingAddress":{"zip":"1"}}}"#),
            "customer.billing_address.zip"
        );
        assert_eq!(field_of(r#"{"captureMode":"SOMETIMES"}"#), "capture_mode");
        assert_eq!(field_of(r#"{"provider":"mock""#), "body");
        assert_eq!(field_of(r#"{} {}"#), "body");
    }

    #[test]
    fn both_name_styles_are_read() {
        let a: pb::AuthorizeRequest =
            decode(br#"{"merchantReference":"a","idempotency_key":"k"}"#).unwrap();
        assert_eq!(
            (a.merchant_reference.as_str(), a.idempotency_key.as_str()),
            ("a", "k")
        );
    }
}
