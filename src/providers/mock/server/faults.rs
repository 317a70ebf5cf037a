//! Fault injection for mutating `/v1` requests, and the `/_faults` control endpoint.
//!
//! Order per request: sleep `latency_ms`; then either the next scripted step decides (refuse
//! with 503 `unavailable` or 429 before acting; act, then drop, stall or cut the answer), or
//! the rates do: maybe answer 503 `unavailable` without acting; act; maybe drop the answer
//! (sleep `timeout_delay_ms`, then 504 `dropped`) although the effect stays applied. The
//! answers lost after acting are the ones a gateway must reconcile.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;

use super::{ApiError, ProcessorState};
use crate::providers::mock::wire::{FaultStep, Faults};

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
    if let Some(step) = state.next_step() {
        return scripted(step, &faults, request, next).await;
    }
    if roll(faults.error_rate_percent) {
        tracing::info!("fault injection: answering unavailable without acting");
        return ApiError::unavailable().into_response();
    }
    let response = next.run(request).await;
    if roll(faults.drop_rate_percent) {
        return dropped(response, &faults).await;
    }
    response
}

/// One request under a scripted step.
async fn scripted(step: FaultStep, faults: &Faults, request: Request, next: Next) -> Response {
    tracing::info!(?step, "fault injection: scripted step");
    match step {
        FaultStep::Refuse => return ApiError::unavailable().into_response(),
        FaultStep::RateLimit => return ApiError::rate_limited().into_response(),
        FaultStep::Ok | FaultStep::Drop | FaultStep::Stall | FaultStep::Reset => {}
    }
    let response = next.run(request).await;
    match step {
        FaultStep::Drop => dropped(response, faults).await,
        FaultStep::Stall => {
            tokio::time::sleep(Duration::from_millis(faults.timeout_delay_ms)).await;
            response
        }
        FaultStep::Reset => {
            // The status line goes out, then the body fails: the server cuts the connection.
            let (parts, _) = response.into_parts();
            let cut = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other(
                    "connection cut by fault injection",
                ))
            });
            Response::from_parts(parts, axum::body::Body::from_stream(cut))
        }
        FaultStep::Ok | FaultStep::Refuse | FaultStep::RateLimit => response,
    }
}

/// The effect stays applied; the answer is replaced by a late 504 `dropped`.
async fn dropped(response: Response, faults: &Faults) -> Response {
    tracing::info!("fault injection: dropping the answer of an applied request");
    drop(response);
    tokio::time::sleep(Duration::from_millis(faults.timeout_delay_ms)).await;
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "dropped",
        "the answer was dropped; the request may have been applied",
    )
    .into_response()
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
