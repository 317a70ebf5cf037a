//! Fault injection for mutating `/v1` requests, and the `/_faults` control endpoint.
//!
//! Order per request: sleep `latency_ms`; maybe answer 503 `unavailable` without acting; act;
//! maybe drop the answer (sleep `timeout_delay_ms`, then 504 `dropped`) although the effect
//! stays applied. That last case is the one a gateway must reconcile.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;

use super::{ApiError, ProcessorState};
use crate::providers::mock::wire::Faults;

/// Middleware: applies the current [`Faults`] to `POST /v1/*`; everything else passes through.
pub(super) async fn inject(
    State(state): State<ProcessorState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let faults = state.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if roll(faults.error_rate_percent) {
        tracing::info!("fault injection: answering unavailable without acting");
        return ApiError::unavailable().into_response();
    }
    let response = next.run(request).await;
    if roll(faults.drop_rate_percent) {
        tracing::info!("fault injection: dropping the answer of an applied request");
        drop(response);
        tokio::time::sleep(Duration::from_millis(faults.timeout_delay_ms)).await;
        return ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "dropped",
            "the answer was dropped; the request may have been applied",
        )
        .into_response();
    }
    response
}

/// True with probability `percent`/100. Synchronous so the thread-local RNG never lives across
/// an `.await`.
fn roll(percent: u8) -> bool {
    percent > 0 && rand::rng().random_range(0..100u8) < percent
}

/// `GET /_faults`
pub(super) async fn get_faults(State(state): State<ProcessorState>) -> Json<Faults> {
    Json(state.faults())
}

/// `PUT /_faults`: replaces all settings; missing fields take their defaults.
pub(super) async fn put_faults(State(state): State<ProcessorState>, body: Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(_) => {
            return ApiError::bad_request(
                "invalid_faults",
                "the body is not a valid Faults object",
            )
            .into_response();
        }
    };
    if faults.error_rate_percent > 100 || faults.drop_rate_percent > 100 {
        return ApiError::bad_request("invalid_faults", "percentages must be at most 100")
            .into_response();
    }
    tracing::info!(?faults, "fault settings replaced");
    state.set_faults(faults.clone());
    Json(faults).into_response()
}
