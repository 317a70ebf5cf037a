//! Handlers of the mock processor's `/v1` API: payments, captures, voids, refunds and lookups.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ledger::Outcome;
use super::rules::TOKEN_TIMEOUT;
use super::{ApiError, ProcessorState};
use crate::providers::mock::wire::{AmountRequest, CreatePaymentRequest};

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

/// Host used for redirect URLs when the request carries no usable `Host` header.
const FALLBACK_HOST: &str = "localhost";

/// `POST /v1/payments`
pub(super) async fn create_payment(
    State(state): State<ProcessorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, req, fingerprint) = match prepare::<CreatePaymentRequest>(&headers, &body) {
        Ok(prepared) => prepared,
        Err(error) => return error.into_response(),
    };
    let base = public_base(&headers);
    let outcome = state.with_ledger(|ledger| {
        ledger.idempotent("POST /v1/payments", &key, &fingerprint, |ledger| {
            ledger.create_payment(&req, &base)
        })
    });
    if matches!(outcome, Outcome::Fresh(_)) && req.token == TOKEN_TIMEOUT {
        // Applied and stored already; only the answer is late, as with a processor that
        // charged the card but whose response got stuck.
        let delay = state.faults().timeout_delay_ms;
        tracing::info!(delay_ms = delay, "mock_timeout: stalling the answer");
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    respond("payment", outcome)
}

/// `POST /v1/payments/{id}/captures`
pub(super) async fn capture(
    State(state): State<ProcessorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, req, fingerprint) = match prepare::<AmountRequest>(&headers, &body) {
        Ok(prepared) => prepared,
        Err(error) => return error.into_response(),
    };
    let scope = format!("POST /v1/payments/{id}/captures");
    let outcome = state.with_ledger(|ledger| {
        ledger.idempotent(&scope, &key, &fingerprint, |ledger| {
            ledger.capture(&id, &req)
        })
    });
    respond("capture", outcome)
}

/// `POST /v1/payments/{id}/void` (any body is ignored)
pub(super) async fn void(
    State(state): State<ProcessorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let scope = format!("POST /v1/payments/{id}/void");
    let outcome =
        state.with_ledger(|ledger| ledger.idempotent(&scope, &key, "", |ledger| ledger.void(&id)));
    respond("void", outcome)
}

/// `POST /v1/payments/{id}/refunds`
pub(super) async fn refund(
    State(state): State<ProcessorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, req, fingerprint) = match prepare::<AmountRequest>(&headers, &body) {
        Ok(prepared) => prepared,
        Err(error) => return error.into_response(),
    };
    let scope = format!("POST /v1/payments/{id}/refunds");
    let outcome = state.with_ledger(|ledger| {
        ledger.idempotent(&scope, &key, &fingerprint, |ledger| {
            ledger.refund(&id, &req)
        })
    });
    respond("refund", outcome)
}

/// `GET /v1/payments/{id}`
pub(super) async fn get_payment(
    State(state): State<ProcessorState>,
    Path(id): Path<String>,
) -> Response {
    match state.with_ledger(|ledger| ledger.payment(&id).cloned()) {
        Some(payment) => Json(payment).into_response(),
        None => ApiError::not_found("payment_not_found", "no such payment").into_response(),
    }
}

/// `GET /v1/operations/{key}`: what was applied under an idempotency key (for reconciliation).
pub(super) async fn operation_status(
    State(state): State<ProcessorState>,
    Path(key): Path<String>,
) -> Response {
    match state.with_ledger(|ledger| ledger.status(&key)) {
        Some(status) => Json(status).into_response(),
        None => ApiError::not_found(
            "not_found",
            "nothing was applied under this idempotency key",
        )
        .into_response(),
    }
}

/// `GET /v1/ledger`
pub(super) async fn ledger(State(state): State<ProcessorState>) -> Response {
    Json(state.summary()).into_response()
}

/// Unknown route: still an [`crate::providers::mock::wire::ErrorBody`], so clients can tell the
/// processor refused rather than guess.
pub(super) async fn no_route() -> Response {
    ApiError::not_found("route_not_found", "no such endpoint").into_response()
}

fn respond(what: &'static str, outcome: Outcome) -> Response {
    match outcome {
        Outcome::Fresh(reply) => {
            tracing::debug!(operation = what, "mock processor applied a request");
            reply.into_response()
        }
        Outcome::Replayed(reply) => {
            tracing::debug!(
                operation = what,
                "mock processor replayed an idempotent request"
            );
            reply.into_response()
        }
        Outcome::Refused(error) => {
            tracing::info!(
                operation = what,
                code = error.code,
                "mock processor refused a request"
            );
            error.into_response()
        }
    }
}

/// Extracts the idempotency key and the decoded body, plus the body's canonical form, which is
/// what "same request" means for replays (formatting and field order do not matter).
fn prepare<T: DeserializeOwned + Serialize>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, T, String), ApiError> {
    let key = idempotency_key(headers)?;
    let req: T = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("invalid_request", "the body is not a valid request"))?;
    let fingerprint = serde_json::to_string(&req)
        .map_err(|_| ApiError::bad_request("invalid_request", "the body is not a valid request"))?;
    Ok((key, req, fingerprint))
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .map(|value| value.to_str().map(str::trim))
        .transpose()
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be visible ASCII",
            )
        })?
        .unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::bad_request(
            "idempotency_key_required",
            "the Idempotency-Key header is required",
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key is longer than 255 characters",
        ));
    }
    Ok(key.to_owned())
}

/// `http://{Host}` as the client reached us, so redirect URLs work behind port mappings.
fn public_base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or(FALLBACK_HOST);
    format!("http://{host}")
}
